//! Messages people send to a tenant's numbers. The provider's adapter reads its wire format
//! into an [`InboundSms`]; [`receive`] stores it (once, however often the provider resends
//! it), applies its keyword to the tenant's opt-outs (STOP and the like opt the sender out,
//! START and the like back in, HELP changes nothing) and raises `message.inbound` (and
//! `opt_out.changed` when the list changed), all in one transaction scoped to the tenant.

use serde_json::json;
use uuid::Uuid;

use crate::db::opt_outs::{self as store, Inbound, InboundFilter, NewInbound};
use crate::db::{self, PgPool};
use crate::domain::{EventKind, InboundId, Keyword, OptOutSource, PhoneNumber, ProviderId};
use crate::members::Manager;
use crate::opt_outs::OptOutError;
use crate::permissions::{self, Action};

/// Longest inbound body kept, in characters (longer ones are cut).
pub const MAX_BODY_CHARS: usize = 1_600;

/// An inbound message as a provider reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    pub provider_message_id: String,
    pub from: String,
    pub to: String,
    pub body: String,
}

/// Digits alone are an international number without its `+` (as Vonage writes them, and as
/// a URL path may): given it back; anything else is left as it is.
pub fn with_plus(raw: &str) -> std::borrow::Cow<'_, str> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.chars().all(|c| c.is_ascii_digit()) {
        format!("+{raw}").into()
    } else {
        raw.into()
    }
}

/// A number as a provider writes it: E.164 when it is one (Vonage leaves out the `+`), else as
/// it came (an alphanumeric sender).
pub fn normalise(raw: &str) -> String {
    let raw = raw.trim();
    PhoneNumber::parse(&with_plus(raw))
        .map(|p| p.e164().to_owned())
        .unwrap_or_else(|_| raw.chars().take(64).collect())
}

/// What became of a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Stored {
        inbound: Box<Inbound>,
        /// The opt-out list changed (the keyword added or removed the sender).
        opt_out_changed: bool,
    },
    /// The provider sent this one before; nothing changed.
    Duplicate,
}

/// The public `data` of a `message.inbound` event (the shape `GET /v1/inbound` lists).
pub fn event_data(m: &Inbound) -> serde_json::Value {
    json!({
        "id": InboundId::from(m.id),
        "from": m.sender,
        "to": m.recipient,
        "body": m.body,
        "provider_id": ProviderId::from(m.provider_id),
        "provider_message_id": m.provider_message_id,
        "keyword": m.keyword,
        "received_at": m.received_at,
    })
}

/// Stores a message that came in on `provider` (the tenant's) and acts on its keyword.
pub async fn receive(
    pool: &PgPool,
    tenant: Uuid,
    provider: Uuid,
    sms: InboundSms,
) -> anyhow::Result<Received> {
    let body: String = sms.body.chars().take(MAX_BODY_CHARS).collect();
    let keyword = Keyword::of(&body);
    let new = NewInbound {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        provider_id: provider,
        provider_message_id: sms.provider_message_id,
        sender: normalise(&sms.from),
        recipient: normalise(&sms.to),
        body,
        keyword,
    };
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        let Some(inbound) = store::insert_inbound(c, &new).await? else {
            return Ok(Received::Duplicate);
        };
        let sender = &inbound.sender;
        let opt_out_changed = match keyword {
            Some(Keyword::OptOut) => !crate::opt_outs::add_in(
                c,
                tenant,
                std::slice::from_ref(sender),
                OptOutSource::Inbound,
            )
            .await?
            .is_empty(),
            Some(Keyword::OptIn) => {
                crate::opt_outs::remove_in(c, tenant, sender, OptOutSource::Inbound)
                    .await?
                    .is_some()
            }
            Some(Keyword::Help) | None => false,
        };
        let data = event_data(&inbound);
        crate::db::webhooks::emit(
            c,
            tenant,
            EventKind::MessageInbound,
            Some(inbound.id),
            &data,
        )
        .await?;
        Ok::<_, anyhow::Error>(Received::Stored {
            inbound: Box::new(inbound),
            opt_out_changed,
        })
    })
    .await
}

/// A page of the tenant's inbound messages, newest first.
pub async fn list(
    pool: &PgPool,
    manager: &Manager,
    filter: &InboundFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Inbound>, OptOutError> {
    if !permissions::allowed(manager.role, Action::ReadMessages) {
        return Err(OptOutError::ForbiddenToRead);
    }
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        Ok(store::list_inbound(c, tenant, filter, before, limit).await?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_as_providers_write_them() {
        assert_eq!(normalise("447911123456"), "+447911123456");
        assert_eq!(normalise("+1 415 555 2671"), "+14155552671");
        assert_eq!(normalise("Acme"), "Acme");
    }
}
