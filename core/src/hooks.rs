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
