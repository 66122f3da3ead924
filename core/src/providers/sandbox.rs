//! The sandbox: an SMS gateway simulated inside OpenClaw, for demos, the admin app's test
//! message and test-mode keys. No account, no network. It accepts after a few milliseconds and
//! reports delivery about a second later, except for these recipients:
//!
//! | number | behaviour |
//! |---|---|
//! | `+15005550001` | refused permanently: invalid number |
//! | `+15005550002` | accepted, then `undelivered`: unreachable |
//! | `+15005550003` | times out: a transient failure, retried |

use std::time::Duration;

use super::{DeliveryError, OutboundSms, Receipt, ReceiptStatus, SendOutcome};

/// Refused permanently (`sandbox_invalid_number`).
pub const INVALID_NUMBER: &str = "+15005550001";
/// Accepted, then reported `undelivered`.
pub const UNREACHABLE_NUMBER: &str = "+15005550002";
/// Times out every time (a transient failure).
pub const TIMEOUT_NUMBER: &str = "+15005550003";

/// How long the sandbox takes to answer.
pub const LATENCY: Duration = Duration::from_millis(10);
/// How long before the sandbox reports delivery.
pub const RECEIPT_DELAY: Duration = Duration::from_millis(800);

pub async fn send(sms: &OutboundSms<'_>) -> SendOutcome {
    tokio::time::sleep(LATENCY).await;
    match sms.to {
        INVALID_NUMBER => SendOutcome::Permanent {
            code: Some("sandbox_invalid_number".into()),
            message: "The sandbox refuses this number as invalid.".into(),
        },
        TIMEOUT_NUMBER => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            SendOutcome::Transient {
                code: Some("timeout".into()),
                message: "The sandbox did not answer in time.".into(),
            }
        }
        _ => SendOutcome::Accepted {
            provider_message_id: format!("sbx_{}", crate::crypto::random_token(24)),
        },
    }
}

/// When and what the sandbox reports on an accepted message (in the vocabulary every
/// provider's receipts are translated into).
pub fn receipt_for(to: &str) -> (Duration, Receipt) {
    let (status, mapped) = match to {
        UNREACHABLE_NUMBER => (ReceiptStatus::Undelivered, Some(DeliveryError::Unreachable)),
        _ => (ReceiptStatus::Delivered, None),
    };
    let receipt = Receipt {
        provider_message_id: String::new(),
        status,
        provider_code: None,
        error: DeliveryError::of(status, mapped),
        client_ref: None,
    };
    (RECEIPT_DELAY, receipt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::AttemptOutcome;

    fn sms(to: &str) -> OutboundSms<'_> {
        OutboundSms {
            to,
            from: None,
            body: "hi",
            client_ref: "msg_x",
            status_callback: None,
        }
    }

    #[tokio::test]
    async fn magic_numbers_behave_as_documented() {
        assert!(
            matches!(send(&sms("+14155552671")).await, SendOutcome::Accepted { provider_message_id } if provider_message_id.starts_with("sbx_"))
        );
        assert_eq!(
            send(&sms(INVALID_NUMBER)).await.kind(),
            AttemptOutcome::Permanent
        );
        assert_eq!(
            send(&sms(TIMEOUT_NUMBER)).await.kind(),
            AttemptOutcome::Transient
        );
        assert_eq!(
            send(&sms(UNREACHABLE_NUMBER)).await.kind(),
            AttemptOutcome::Accepted
        );
        let (_, unreachable) = receipt_for(UNREACHABLE_NUMBER);
        assert_eq!(unreachable.status, ReceiptStatus::Undelivered);
        assert_eq!(unreachable.error, Some(DeliveryError::Unreachable));
        assert_eq!(
            receipt_for("+14155552671").1.status,
            ReceiptStatus::Delivered
        );
    }
}
