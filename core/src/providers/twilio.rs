//! Twilio's Messages API (2010-04-01), as in `shared/specs/twilio_messages_v2010.json`:
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP Basic
//! auth with the Account SID and auth token; 201 with the Message resource. Errors carry
//! Twilio's JSON `{code, message, more_info, status}`. Delivery receipts come back to the
//! `StatusCallback` URL, signed with `X-Twilio-Signature`.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use super::{DeliveryError, OutboundSms, Receipt, ReceiptStatus, SendOutcome};

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The create-message request: `To`, `Body`, `From` and the `StatusCallback` that carries our
/// message id, so a receipt finds its message even when our call's answer was lost.
pub fn request(
    http: &reqwest::Client,
    base: &str,
    account_sid: &str,
    auth_token: &str,
    sms: &OutboundSms<'_>,
) -> reqwest::RequestBuilder {
    let url = format!("{base}/2010-04-01/Accounts/{account_sid}/Messages.json");
    let mut form: Vec<(&str, &str)> = vec![("To", sms.to), ("Body", sms.body)];
    if let Some(from) = sms.from {
        form.push(("From", from));
    }
    if let Some(callback) = sms.status_callback {
        form.push(("StatusCallback", callback));
    }
    http.post(url)
        .basic_auth(account_sid, Some(auth_token))
        .form(&form)
}

#[derive(Deserialize)]
struct MessageResource {
    sid: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// Classifies Twilio's answer. A 2xx with a `sid` is accepted even if the resource's own
/// `status` already says `failed`: the send request was taken, and the outcome arrives as a
/// status callback like any other. 429 and 5xx are worth retrying; other 4xx are refusals.
pub fn classify(status: u16, body: &str) -> SendOutcome {
    if (200..300).contains(&status) {
        return match serde_json::from_str::<MessageResource>(body)
            .ok()
            .and_then(|m| m.sid)
        {
            Some(sid) => SendOutcome::Accepted {
                provider_message_id: sid,
            },
            None => SendOutcome::Transient {
                code: Some("bad_response".into()),
                message: format!("Twilio answered {status} without a message sid"),
            },
        };
    }
    let err = serde_json::from_str::<ErrorBody>(body).ok();
    let code = err.as_ref().and_then(|e| e.code.as_ref()).map(|c| match c {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let message = err
        .and_then(|e| e.message)
        .unwrap_or_else(|| format!("Twilio answered HTTP {status}"));
    if status == 429 || status >= 500 {
        SendOutcome::Transient {
            code: code.or(Some(status.to_string())),
            message,
        }
    } else {
        SendOutcome::Permanent {
            code: code.or(Some(status.to_string())),
            message,
        }
    }
}

/// An incoming message as Twilio posts it to a number's webhook (`MessageSid`, `From`, `To`,
/// `Body`); None when those are missing.
pub fn parse_inbound(params: &[(String, String)]) -> Option<crate::inbound::InboundSms> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    Some(crate::inbound::InboundSms {
        provider_message_id: get("MessageSid").or(get("SmsSid"))?.to_owned(),
        from: get("From")?.to_owned(),
        to: get("To")?.to_owned(),
        body: get("Body").unwrap_or_default().to_owned(),
    })
}

/// Reads a StatusCallback (form fields `MessageSid`, `MessageStatus`, `ErrorCode`, …).
pub fn parse_status_callback(params: &[(String, String)]) -> Option<Receipt> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let sid = get("MessageSid").or(get("SmsSid"))?;
    let reported = get("MessageStatus").or(get("SmsStatus"))?;
    let status = STATUSES.iter().find(|(s, _)| *s == reported)?.1;
    let provider_code = get("ErrorCode")
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let mapped = provider_code
        .as_deref()
        .and_then(|c| ERRORS.iter().find(|(code, _)| *code == c))
        .map(|(_, e)| *e);
    Some(Receipt {
        provider_message_id: sid.to_owned(),
        status,
        error: DeliveryError::of(status, mapped),
        provider_code,
        // Our id travels in the StatusCallback URL's query instead.
        client_ref: None,
    })
}

/// Twilio's message statuses, as a status callback reports them.
pub const STATUSES: &[(&str, ReceiptStatus)] = &[
    ("queued", ReceiptStatus::Sent),
    ("accepted", ReceiptStatus::Sent),
    ("scheduled", ReceiptStatus::Sent),
    ("sending", ReceiptStatus::Sent),
    ("sent", ReceiptStatus::Sent),
    ("delivered", ReceiptStatus::Delivered),
    ("read", ReceiptStatus::Delivered),
    ("undelivered", ReceiptStatus::Undelivered),
    ("failed", ReceiptStatus::Failed),
    ("canceled", ReceiptStatus::Failed),
];

/// Twilio's delivery error codes (`ErrorCode`, the 300xx of its error dictionary).
pub const ERRORS: &[(&str, DeliveryError)] = &[
    ("30001", DeliveryError::Rejected),
    ("30002", DeliveryError::Rejected),
    ("30003", DeliveryError::Unreachable),
    ("30004", DeliveryError::Blocked),
    ("30005", DeliveryError::UnknownNumber),
    ("30006", DeliveryError::Landline),
    ("30007", DeliveryError::Filtered),
    ("30008", DeliveryError::Unknown),
    ("30010", DeliveryError::Rejected),
];

/// `X-Twilio-Signature`: base64 of HMAC-SHA1 over the full URL followed by every POST
/// parameter's name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(auth_token, url, params).finalize().into_bytes())
}

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    mac
}

/// Checks a callback's signature in constant time.
pub fn verify_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    given: &str,
) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given.trim()) else {
        return false;
    };
    mac(auth_token, url, params).verify_slice(&given).is_ok()
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
    fn a_created_message_is_accepted() {
        let body = r#"{"account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "api_version": "2010-04-01", "body": "Hello! 👍", "status": "queued", "sid": "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "to": "+14155552345"}"#;
        assert_eq!(
            classify(201, body),
            SendOutcome::Accepted {
                provider_message_id: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into()
            }
        );
        assert_eq!(classify(201, "{}").kind(), AttemptOutcome::Transient);
    }

    #[test]
    fn errors_are_classified_by_status() {
        let invalid = r#"{"code": 21211, "message": "The 'To' number +1 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        assert_eq!(
            classify(400, invalid),
            SendOutcome::Permanent {
                code: Some("21211".into()),
                message: "The 'To' number +1 is not a valid phone number.".into()
            }
        );
        assert_eq!(
            classify(
                401,
                r#"{"code": 20003, "message": "Authenticate", "status": 401}"#
            )
            .kind(),
            AttemptOutcome::Permanent
        );
        let throttled = classify(
            429,
            r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#,
        );
        assert_eq!(throttled.kind(), AttemptOutcome::Transient);
        assert_eq!(
            classify(503, "<html>Service Unavailable</html>").kind(),
            AttemptOutcome::Transient
        );
        assert_eq!(
            classify(500, ""),
            SendOutcome::Transient {
                code: Some("500".into()),
                message: "Twilio answered HTTP 500".into()
            }
        );
    }

    #[test]
    fn status_callbacks_become_receipts() {
        let r = parse_status_callback(&pairs(&[
            ("MessageSid", "SM1"),
            ("MessageStatus", "delivered"),
        ]))
        .unwrap();
        assert_eq!(
            (r.provider_message_id.as_str(), r.status),
            ("SM1", ReceiptStatus::Delivered)
        );
        let r = parse_status_callback(&pairs(&[
            ("MessageSid", "SM1"),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
        ]))
        .unwrap();
        assert_eq!(r.status, ReceiptStatus::Undelivered);
        assert_eq!(r.provider_code.as_deref(), Some("30003"));
        assert_eq!(
            parse_status_callback(&pairs(&[("MessageSid", "SM1"), ("MessageStatus", "sent")]))
                .unwrap()
                .status,
            ReceiptStatus::Sent
        );
        assert!(parse_status_callback(&pairs(&[("MessageStatus", "delivered")])).is_none());
        assert!(
            parse_status_callback(&pairs(&[
                ("MessageSid", "SM1"),
                ("MessageStatus", "receiving")
            ]))
            .is_none()
        );
    }

    #[test]
    fn signatures_match_twilios_documented_example() {
        // The example from Twilio's "Webhooks security" documentation.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]);
        let sig = signature("12345", url, &params);
        assert_eq!(sig, "GvWf1cFY/Q7PnoempGyD5oXAezc=");
        assert!(verify_signature("12345", url, &params, &sig));
        assert!(!verify_signature("12346", url, &params, &sig));
        assert!(!verify_signature("12345", url, &params, "not base64"));
    }
}
