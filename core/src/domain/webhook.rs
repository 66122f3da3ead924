//! What webhooks tell tenants of, and where a delivery stands.

use serde::{Deserialize, Serialize};

super::text_enum! {
    /// The kinds of event an endpoint may listen for.
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    pub enum EventKind {
        /// A message moved to a new status (`sent`, `delivered`, `failed`, …; not `sending`).
        #[serde(rename = "message.status")]
        MessageStatus = "message.status",
        /// A message came in to one of the tenant's numbers.
        #[serde(rename = "message.inbound")]
        MessageInbound = "message.inbound",
        /// A threshold of the monthly budget was reached.
        #[serde(rename = "budget.alert")]
        BudgetAlert = "budget.alert",
        /// A number opted out, or back in.
        #[serde(rename = "opt_out.changed")]
        OptOutChanged = "opt_out.changed",
    }
}

super::text_enum! {
    /// Where one delivery of an event stands.
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum DeliveryState {
        /// Waiting for its next attempt (or being attempted).
        Pending = "pending",
        /// The endpoint answered 2xx.
        Succeeded = "succeeded",
        /// Given up on: retried until the window closed, or the endpoint is gone or disabled.
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(EventKind::parse("message.sent"), None);
    }
}
