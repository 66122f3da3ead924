//! Where providers post delivery receipts. The URL carries our message id, so a receipt finds
//! its message even when it overtakes the worker's own record of the send.

use uuid::Uuid;

use crate::domain::{MessageId, ProviderId};

/// `{public_url}/hooks/providers/{prv_…}/status?message_id={msg_…}`.
pub fn status_callback_url(public_url: &str, provider_id: Uuid, message_id: Uuid) -> String {
    format!(
        "{}/hooks/providers/{}/status?message_id={}",
        public_url.trim_end_matches('/'),
        ProviderId::from(provider_id),
        MessageId::from(message_id)
    )
}

/// What a callback needs of the provider it names: its tenant, kind and credentials (opened).
/// Cached by the server (`AppContext::hook_providers`): every message brings a few callbacks.
pub struct HookProvider {
    /// None: a platform provider, whose receipts are for any tenant's messages.
    pub tenant_id: Option<Uuid>,
    pub kind: crate::providers::ProviderKind,
    pub credentials: crate::providers::Credentials,
}

/// The provider a callback names, deleted ones included (their receipts still count), or None.
pub async fn load_provider(
    conn: &mut diesel_async::AsyncPgConnection,
    master_key: &crate::crypto::Keyring,
    id: Uuid,
) -> anyhow::Result<Option<HookProvider>> {
    use crate::providers::Credentials;
    let Some(p) = crate::db::providers::find_any_tenant(conn, id).await? else {
        return Ok(None);
    };
    let kind = p.kind;
    let credentials =
        Credentials::open(master_key, kind, &p.credentials_key_id, &p.credentials_enc)?;
    Ok(Some(HookProvider {
        tenant_id: p.tenant_id,
        kind,
        credentials,
    }))
}
