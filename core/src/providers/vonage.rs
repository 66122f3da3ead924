//! Vonage's SMS API, as in `shared/specs/vonage_sms.yml`: `POST {base}/sms/json`,
//! form-encoded, `api_key` and `api_secret` in the body. The answer is HTTP 200 even for
//! refusals: `messages[0].status` "0" is success, anything else an error from the spec's
//! table. Delivery receipts are posted as JSON to the request's `callback` URL.

use serde::Deserialize;

use super::{DeliveryError, OutboundSms, Receipt, ReceiptStatus, SendOutcome};
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

/// An inbound SMS as Vonage posts it (`msisdn`, `to`, `messageId`, `text`; the number without
/// its `+`); None when those are missing. Parts of a concatenated message come one by one and
/// are kept so.
pub fn parse_inbound(params: &[(String, String)]) -> Option<crate::inbound::InboundSms> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    Some(crate::inbound::InboundSms {
        provider_message_id: get("messageId")?.to_owned(),
        from: get("msisdn")?.to_owned(),
        to: get("to")?.to_owned(),
        body: get("text").unwrap_or_default().to_owned(),
    })
}

/// Reads a delivery receipt (`messageId`, `status`, `err-code`, …), from JSON flattened to
/// pairs or from query/form parameters.
pub fn parse_dlr(params: &[(String, String)]) -> Option<Receipt> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let id = get("messageId")?;
    let reported = get("status")?;
    let status = STATUSES.iter().find(|(s, _)| *s == reported)?.1;
    let provider_code = get("err-code")
        .filter(|c| !c.is_empty() && *c != "0")
        .map(str::to_owned);
    let mapped = status_error(reported).or_else(|| {
        provider_code
            .as_deref()
            .and_then(|c| ERRORS.iter().find(|(code, _)| *code == c))
            .map(|(_, e)| *e)
    });
    Some(Receipt {
        provider_message_id: id.to_owned(),
        status,
        error: DeliveryError::of(status, mapped),
        provider_code,
        client_ref: get("client-ref").map(str::to_owned),
    })
}

/// Vonage's DLR statuses.
pub const STATUSES: &[(&str, ReceiptStatus)] = &[
    ("accepted", ReceiptStatus::Sent),
    ("buffered", ReceiptStatus::Sent),
    ("delivered", ReceiptStatus::Delivered),
    ("expired", ReceiptStatus::Undelivered),
    ("rejected", ReceiptStatus::Undelivered),
    ("failed", ReceiptStatus::Failed),
];

/// The error a DLR status names by itself (`expired`), before its `err-code`.
pub fn status_error(status: &str) -> Option<DeliveryError> {
    (status == "expired").then_some(DeliveryError::Expired)
}

/// Vonage's DLR error codes (`err-code`, "Delivery Receipt error codes").
pub const ERRORS: &[(&str, DeliveryError)] = &[
    ("1", DeliveryError::Unknown),
    ("2", DeliveryError::Unreachable),
    ("3", DeliveryError::UnknownNumber),
    ("4", DeliveryError::Blocked),
    ("5", DeliveryError::Rejected),
    ("6", DeliveryError::Filtered),
    ("7", DeliveryError::Unreachable),
    ("8", DeliveryError::Unreachable),
    ("9", DeliveryError::UnknownNumber),
    ("10", DeliveryError::Rejected),
    ("11", DeliveryError::Rejected),
    ("12", DeliveryError::Unreachable),
    ("13", DeliveryError::Blocked),
    ("14", DeliveryError::Blocked),
    ("15", DeliveryError::Rejected),
    ("99", DeliveryError::Unknown),
];

/// How an account signs its webhooks (the Vonage dashboard's "signature method").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMethod {
    /// MD5 of the parameter string with the secret appended (Vonage's default).
    Md5Hash,
    /// HMAC of the parameter string, keyed with the secret.
    HmacMd5,
    HmacSha1,
    HmacSha256,
    HmacSha512,
}

impl SignatureMethod {
    pub const ALL: [SignatureMethod; 5] = [
        SignatureMethod::Md5Hash,
        SignatureMethod::HmacMd5,
        SignatureMethod::HmacSha1,
        SignatureMethod::HmacSha256,
        SignatureMethod::HmacSha512,
    ];

    /// The dashboard's names: `md5hash`, `md5`, `sha1`, `sha256`, `sha512`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::Md5Hash => "md5hash",
            SignatureMethod::HmacMd5 => "md5",
            SignatureMethod::HmacSha1 => "sha1",
            SignatureMethod::HmacSha256 => "sha256",
            SignatureMethod::HmacSha512 => "sha512",
        }
    }

    pub fn parse(s: &str) -> Option<SignatureMethod> {
        SignatureMethod::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A signing account's method and signature secret.
#[derive(Clone)]
pub struct Signing {
    pub method: SignatureMethod,
    pub secret: secrecy::SecretString,
}

/// The signature of a webhook's parameters as Vonage makes it ("Signing messages"): every
/// parameter but `sig`, sorted by name, as `&name=value` with `&` and `=` in values replaced by
/// `_`; then MD5 of that string and the secret (`md5hash`), or its HMAC keyed with the secret.
/// Lower-case hex.
pub fn signature(params: &[(String, String)], method: SignatureMethod, secret: &str) -> String {
    use hmac_d11::{KeyInit, Mac};
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::new();
    for (k, v) in sorted {
        text.push('&');
        text.push_str(k);
        text.push('=');
        text.push_str(&v.replace(['&', '='], "_"));
    }
    fn hmac_hex<M: Mac + KeyInit>(secret: &str, text: &str) -> String {
        let mut mac =
            <M as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
    match method {
        SignatureMethod::Md5Hash => {
            use md5::Digest;
            hex::encode(md5::Md5::digest(format!("{text}{secret}").as_bytes()))
        }
        SignatureMethod::HmacMd5 => hmac_hex::<hmac_d11::Hmac<md5::Md5>>(secret, &text),
        SignatureMethod::HmacSha1 => hmac_hex::<hmac_d11::Hmac<sha1_d11::Sha1>>(secret, &text),
        SignatureMethod::HmacSha256 => hmac_hex::<hmac_d11::Hmac<sha2_d11::Sha256>>(secret, &text),
        SignatureMethod::HmacSha512 => hmac_hex::<hmac_d11::Hmac<sha2_d11::Sha512>>(secret, &text),
    }
}

/// Whether a signed webhook's `sig` is the one its parameters make (any case), and its
/// `timestamp` within five minutes of `now`.
pub fn verify_signature(params: &[(String, String)], signing: &Signing, now: i64) -> bool {
    use secrecy::ExposeSecret;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(sig), Some(ts)) = (
        get("sig"),
        get("timestamp").and_then(|t| t.parse::<i64>().ok()),
    ) else {
        return false;
    };
    if (now - ts).abs() > 300 {
        return false;
    }
    let expected = signature(params, signing.method, signing.secret.expose_secret());
    // Constant time: a forger learns nothing from how long the comparison took.
    expected.len() == sig.len()
        && expected
            .bytes()
            .zip(sig.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b.to_ascii_lowercase()))
            == 0
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
    fn webhook_signatures_are_vonages_for_every_method() {
        // Made with Python's hashlib/hmac from the steps of Vonage's "Signing messages".
        let params = pairs(&[
            ("messageId", "0A0000001234567B"),
            ("status", "delivered"),
            ("err-code", "0"),
            ("client-ref", "msg_x&y=z"),
            ("timestamp", "1700000000"),
            ("nonce", "n-1"),
        ]);
        let secret = "sig-secret-1";
        for (method, want) in [
            ("md5hash", "d4766d80d5e8b395260811a3040bd4df"),
            ("md5", "7ec6af65b064d050ca4a1fb1cef024e9"),
            ("sha1", "48847f4b4aae39faadffad57476ab4404d4a3dd8"),
            (
                "sha256",
                "63c5fc8635be887bf71f9ffe0b2ceb30f5913ace4df5ff250acfd535b8209362",
            ),
            (
                "sha512",
                "4ea3a32e2f50cb780cef4a606f6318d06f299eca6a49c36017cdd6b064a15191604d29c74157e31da7b5cb1cd59c7ea628d523c50ff936d181b8a835f3f008ca",
            ),
        ] {
            let m = SignatureMethod::parse(method).unwrap();
            assert_eq!(m.as_str(), method);
            assert_eq!(signature(&params, m, secret), want, "{method}");
            let signing = Signing {
                method: m,
                secret: secret.to_owned().into(),
            };
            // Vonage sends upper case; either case verifies, within five minutes only.
            let mut signed = params.clone();
            signed.push(("sig".into(), want.to_uppercase()));
            assert!(
                verify_signature(&signed, &signing, 1_700_000_100),
                "{method}"
            );
            assert!(
                !verify_signature(&signed, &signing, 1_700_000_400),
                "{method}: stale"
            );
            let mut forged = signed.clone();
            forged[1].1 = "failed".into();
            assert!(
                !verify_signature(&forged, &signing, 1_700_000_100),
                "{method}: forged"
            );
            assert!(
                !verify_signature(&params, &signing, 1_700_000_100),
                "{method}: unsigned"
            );
        }
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
