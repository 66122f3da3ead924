//! Vonage's SMS API, as in `shared/specs/vonage_sms.yml`: `POST {base}/sms/json`,
//! form-encoded, `api_key` and `api_secret` in the body. The answer is HTTP 200 even for
//! refusals: `messages[0].status` "0" is success, anything else an error from the spec's
//! table. Delivery receipts are posted as JSON to the request's `callback` URL.

use serde::Deserialize;

use super::{OutboundSms, Receipt, ReceiptStatus, SendOutcome};
use crate::domain::{Encoding, SegmentInfo};

pub const DEFAULT_BASE_URL: &str = "https://rest.nexmo.com";

/// Vonage requires a sender; this one is used when neither the message nor the provider has.
pub const FALLBACK_FROM: &str = "OpenClaw";

/// The send request; `client-ref` carries our message id, and comes back in the receipt.
pub fn request(
    http: &reqwest::Client,
    base: &str,
    api_key: &str,
    api_secret: &str,
    sms: &OutboundSms<'_>,
) -> reqwest::RequestBuilder {
    let url = format!("{base}/sms/json");
    // Vonage wants E.164 digits without the '+'.
    let to = sms.to.trim_start_matches('+');
    let from = sms
        .from
        .map(|f| f.trim_start_matches('+'))
        .unwrap_or(FALLBACK_FROM);
    let kind = match SegmentInfo::of(sms.body).encoding {
        Encoding::Gsm7 => "text",
        Encoding::Ucs2 => "unicode",
    };
    let mut form: Vec<(&str, &str)> = vec![
        ("api_key", api_key),
        ("api_secret", api_secret),
        ("from", from),
        ("to", to),
        ("text", sms.body),
        ("type", kind),
        ("client-ref", sms.client_ref),
    ];
    match sms.status_callback {
        Some(callback) => {
            form.push(("callback", callback));
            form.push(("status-report-req", "true"));
        }
        None => form.push(("status-report-req", "false")),
    }
    http.post(url).form(&form)
}

#[derive(Deserialize)]
struct Response {
    messages: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    status: Option<String>,
    #[serde(rename = "message-id")]
    message_id: Option<String>,
    #[serde(rename = "error-text")]
    error_text: Option<String>,
}

/// Statuses worth retrying: 1 throttled, 5 internal error, 10 too many binds.
const TRANSIENT: [&str; 3] = ["1", "5", "10"];

/// Classifies Vonage's answer (see the spec's `x-errors`).
pub fn classify(status: u16, body: &str) -> SendOutcome {
    if status == 429 || status >= 500 {
        return SendOutcome::Transient {
            code: Some(status.to_string()),
            message: format!("Vonage answered HTTP {status}"),
        };
    }
    if status != 200 {
        return SendOutcome::Permanent {
            code: Some(status.to_string()),
            message: format!("Vonage answered HTTP {status}"),
        };
    }
    let Some(first) = serde_json::from_str::<Response>(body)
        .ok()
        .and_then(|r| r.messages.into_iter().next())
    else {
        return SendOutcome::Transient {
            code: Some("bad_response".into()),
            message: "Vonage answered without a message status".into(),
        };
    };
    let code = first.status.unwrap_or_default();
    let text = first
        .error_text
        .unwrap_or_else(|| format!("Vonage status {code}"));
    match (code.as_str(), first.message_id) {
        ("0", Some(id)) => SendOutcome::Accepted {
            provider_message_id: id,
        },
        ("0", None) => SendOutcome::Transient {
            code: Some("bad_response".into()),
            message: "Vonage accepted without a message id".into(),
        },
        (c, _) if TRANSIENT.contains(&c) => SendOutcome::Transient {
            code: Some(code),
            message: text,
        },
        _ => SendOutcome::Permanent {
            code: Some(code),
            message: text,
        },
    }
}

/// Reads a delivery receipt (`messageId`, `status`, `err-code`, …), from JSON flattened to
/// pairs or from query/form parameters.
pub fn parse_dlr(params: &[(String, String)]) -> Option<Receipt> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let id = get("messageId")?;
    let status = match get("status")? {
        "delivered" => ReceiptStatus::Delivered,
        "accepted" | "buffered" => ReceiptStatus::Sent,
        "expired" | "rejected" => ReceiptStatus::Undelivered,
        "failed" => ReceiptStatus::Failed,
        _ => return None,
    };
    Some(Receipt {
        provider_message_id: id.to_owned(),
        status,
        provider_code: get("err-code")
            .filter(|c| !c.is_empty() && *c != "0")
            .map(str::to_owned),
        client_ref: get("client-ref").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::AttemptOutcome;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn status_zero_is_accepted() {
        let ok = r#"{"message-count": "1", "messages": [{"to": "447700900000", "message-id": "0A0000000123ABCD1", "status": "0", "remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "12345"}]}"#;
        assert_eq!(
            classify(200, ok),
            SendOutcome::Accepted {
                provider_message_id: "0A0000000123ABCD1".into()
            }
        );
    }

    #[test]
    fn error_statuses_follow_the_spec_table() {
        let err = |s: &str| {
            format!(
                r#"{{"message-count": "1", "messages": [{{"status": "{s}", "error-text": "text {s}"}}]}}"#
            )
        };
        assert_eq!(
            classify(200, &err("1")).kind(),
            AttemptOutcome::Transient,
            "throttled"
        );
        assert_eq!(
            classify(200, &err("5")).kind(),
            AttemptOutcome::Transient,
            "internal error"
        );
        for s in ["2", "3", "4", "6", "7", "8", "9", "12"] {
            assert_eq!(
                classify(200, &err(s)).kind(),
                AttemptOutcome::Permanent,
                "{s}"
            );
        }
        assert_eq!(
            classify(200, &err("4")),
            SendOutcome::Permanent {
                code: Some("4".into()),
                message: "text 4".into()
            }
        );
        assert_eq!(classify(502, "").kind(), AttemptOutcome::Transient);
        assert_eq!(classify(200, "not json").kind(), AttemptOutcome::Transient);
        assert_eq!(classify(401, "").kind(), AttemptOutcome::Permanent);
    }

    #[test]
    fn delivery_receipts() {
        let r = parse_dlr(&pairs(&[
            ("messageId", "0A1"),
            ("status", "delivered"),
            ("err-code", "0"),
        ]))
        .unwrap();
        assert_eq!(
            (r.status, r.provider_code),
            (ReceiptStatus::Delivered, None)
        );
        let r = parse_dlr(&pairs(&[
            ("messageId", "0A1"),
            ("status", "failed"),
            ("err-code", "6"),
        ]))
        .unwrap();
        assert_eq!(
            (r.status, r.provider_code.as_deref()),
            (ReceiptStatus::Failed, Some("6"))
        );
        assert_eq!(
            parse_dlr(&pairs(&[("messageId", "0A1"), ("status", "expired")]))
                .unwrap()
                .status,
            ReceiptStatus::Undelivered
        );
        assert!(parse_dlr(&pairs(&[("messageId", "0A1"), ("status", "unknown")])).is_none());
        assert!(parse_dlr(&pairs(&[("status", "delivered")])).is_none());
    }
}
