//! What a message is for: it prices it (a price list may differ per type), routes it, and
//! says whether a tenant's opt-outs may be set aside for it.

use serde::{Deserialize, Serialize};

super::text_enum! {
    #[derive(Default, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum MessageType {
        /// What a person's own action calls for: a receipt, a reminder, an alert.
        #[default]
        Transactional = "transactional",
        /// A one-time code the person asked for.
        Otp = "otp",
        /// Promotion; it always respects opt-outs.
        Marketing = "marketing",
    }
}

impl MessageType {
    /// Whether a tenant may send it to numbers that opted out (their setting says if it does).
    pub fn may_skip_opt_outs(self) -> bool {
        self != MessageType::Marketing
    }
}
