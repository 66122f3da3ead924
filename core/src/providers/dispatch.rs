//! One send through one provider account: the adapters' common shapes and the classified
//! outcome the worker sees.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::*;

/// What a send looks like to an adapter. `to` is E.164 (`+4915112345678`).
#[derive(Debug, Clone)]
pub struct OutboundSms<'a> {
    pub to: &'a str,
    pub from: Option<&'a str>,
    pub body: &'a str,
    /// Our message id (`msg_…`), passed where the provider has a client reference field.
    pub client_ref: &'a str,
    /// Where the provider should post delivery receipts, if we have a public URL.
    pub status_callback: Option<&'a str>,
}

/// The classified result of one attempt at one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The provider took the message; receipts will refer to `provider_message_id`.
    Accepted { provider_message_id: String },
    /// Worth trying again later or elsewhere: 5xx, 429, timeouts, connection errors, Vonage 1/5.
    Transient {
        code: Option<String>,
        message: String,
    },
    /// The provider will never take this message as it is: bad number, bad credentials, …
    Permanent {
        code: Option<String>,
        message: String,
    },
    /// The request may have reached the provider but no answer came (a timeout, a connection
    /// lost mid-call): the provider may have taken it. Never sent again blindly; the
    /// provider's receipt, which carries our message id, settles it.
    Unknown {
        code: Option<String>,
        message: String,
    },
}

impl SendOutcome {
    pub fn kind(&self) -> AttemptOutcome {
        match self {
            SendOutcome::Accepted { .. } => AttemptOutcome::Accepted,
            SendOutcome::Transient { .. } => AttemptOutcome::Transient,
            SendOutcome::Permanent { .. } => AttemptOutcome::Permanent,
            SendOutcome::Unknown { .. } => AttemptOutcome::Unknown,
        }
    }
}

crate::domain::text_enum! {
    /// How one attempt at one provider ended, as recorded with the attempt ([`SendOutcome`]
    /// without its details).
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum AttemptOutcome {
        Accepted = "accepted",
        Transient = "transient",
        Permanent = "permanent",
        Unknown = "unknown",
    }
}

/// A delivery receipt, translated from a provider's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub provider_message_id: String,
    pub status: ReceiptStatus,
    pub provider_code: Option<String>,
    /// Why it was not delivered, in OpenClaw's words (set for `undelivered` and `failed`).
    pub error: Option<DeliveryError>,
    /// Our message id as the provider echoes it back (Vonage's `client-ref`), if it does.
    pub client_ref: Option<String>,
}

crate::domain::text_enum! {
    /// Why a message a provider took was not delivered: one vocabulary for every provider,
    /// each adapter mapping its own codes onto it (the table in the README).
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum DeliveryError {
        /// The handset is off or out of reach; it may work later.
        Unreachable = "unreachable",
        /// The number does not exist or is no longer in service.
        UnknownNumber = "unknown_number",
        /// A landline, or a carrier that does not take SMS.
        Landline = "landline",
        /// Blocked by the recipient, the carrier or a rule for this number.
        Blocked = "blocked",
        /// Filtered as spam by the carrier.
        Filtered = "filtered",
        /// Not delivered before it expired.
        Expired = "expired",
        /// Refused by the provider or carrier for the account or the message.
        Rejected = "rejected",
        /// The provider gave no reason we know.
        Unknown = "undelivered_unknown",
    }
}

impl DeliveryError {
    /// The sentence a message's error carries.
    pub fn sentence(self) -> &'static str {
        match self {
            DeliveryError::Unreachable => "The handset could not be reached.",
            DeliveryError::UnknownNumber => "The number does not exist or is out of service.",
            DeliveryError::Landline => "The number is a landline or cannot take SMS.",
            DeliveryError::Blocked => "The recipient or their carrier blocks this message.",
            DeliveryError::Filtered => "The carrier filtered the message as spam.",
            DeliveryError::Expired => "The message expired before it could be delivered.",
            DeliveryError::Rejected => "The provider or carrier rejected the message.",
            DeliveryError::Unknown => "The provider reported it undelivered, without a reason.",
        }
    }

    /// The error of a receipt with `status`: `mapped` (the adapter's reading of its code), or
    /// [`DeliveryError::Unknown`] when not delivered for a reason it does not name.
    pub fn of(status: ReceiptStatus, mapped: Option<DeliveryError>) -> Option<DeliveryError> {
        match status {
            ReceiptStatus::Sent | ReceiptStatus::Delivered => None,
            ReceiptStatus::Undelivered | ReceiptStatus::Failed => {
                Some(mapped.unwrap_or(DeliveryError::Unknown))
            }
        }
    }
}

/// The vocabulary as the README shows it (a test keeps the two the same): each provider's
/// statuses and error codes, and what OpenClaw makes of them.
pub fn vocabulary_markdown() -> String {
    let mut out = String::from(
        "| provider | their status or code | OpenClaw status | OpenClaw error |\n|---|---|---|---|\n",
    );
    // (provider, its statuses, the field its error codes come in, the error a status names)
    type StatusRows = (
        &'static str,
        &'static [(&'static str, ReceiptStatus)],
        &'static str,
        fn(&str) -> Option<DeliveryError>,
    );
    let statuses: [StatusRows; 2] = [
        (
            "Twilio `MessageStatus`",
            twilio::STATUSES,
            "`ErrorCode`",
            |_| None,
        ),
        (
            "Vonage DLR `status`",
            vonage::STATUSES,
            "`err-code`",
            vonage::status_error,
        ),
    ];
    for (provider, table, code_field, own) in statuses {
        for (code, s) in table {
            let error = match (DeliveryError::of(*s, None), own(code)) {
                (None, _) => String::new(),
                (Some(_), Some(e)) => format!("`{e}`"),
                (Some(_), None) => format!(
                    "by its {code_field} (below); else `{}`",
                    DeliveryError::Unknown
                ),
            };
            out.push_str(&format!(
                "| {provider} | `{code}` | `{}` | {error} |\n",
                s.status()
            ));
        }
    }
    for (provider, table) in [
        ("Twilio `ErrorCode`", twilio::ERRORS),
        ("Vonage DLR `err-code`", vonage::ERRORS),
    ] {
        for (code, e) in table {
            out.push_str(&format!(
                "| {provider} | `{code}` | `undelivered` | `{e}` |\n"
            ));
        }
    }
    let (_, sandbox) = sandbox::receipt_for(sandbox::UNREACHABLE_NUMBER);
    out.push_str(&format!(
        "| sandbox | to `{}` | `{}` | `{}` |\n",
        sandbox::UNREACHABLE_NUMBER,
        sandbox.status.status(),
        sandbox.error.map(|e| e.as_str()).unwrap_or_default(),
    ));
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// The provider handed it on; not a final state.
    Sent,
    Delivered,
    Undelivered,
    Failed,
}

impl ReceiptStatus {
    /// The message status a receipt reports: a provider's `failed` after taking the message
    /// means it was not delivered.
    pub fn status(self) -> crate::domain::Status {
        use crate::domain::Status;
        match self {
            ReceiptStatus::Sent => Status::Sent,
            ReceiptStatus::Delivered => Status::Delivered,
            ReceiptStatus::Undelivered | ReceiptStatus::Failed => Status::Undelivered,
        }
    }
}

/// One provider account, ready to send.
pub struct ProviderClient<'a> {
    pub kind: ProviderKind,
    pub base_url: Option<&'a str>,
    pub credentials: &'a Credentials,
    /// How long the call may take before its outcome counts as unknown.
    pub timeout: Duration,
}

impl ProviderClient<'_> {
    pub async fn send(&self, http: &reqwest::Client, sms: &OutboundSms<'_>) -> SendOutcome {
        let base = self
            .base_url
            .or(self.kind.default_base_url())
            .unwrap_or_default()
            .trim_end_matches('/');
        match (self.kind, self.credentials) {
            (
                ProviderKind::Twilio,
                Credentials::Twilio {
                    account_sid,
                    auth_token,
                },
            ) => {
                let request =
                    twilio::request(http, base, account_sid, auth_token.expose_secret(), sms);
                call(request, self.timeout, twilio::classify).await
            }
            (
                ProviderKind::Vonage,
                Credentials::Vonage {
                    api_key,
                    api_secret,
                    ..
                },
            ) => {
                let request = vonage::request(http, base, api_key, api_secret.expose_secret(), sms);
                call(request, self.timeout, vonage::classify).await
            }
            (ProviderKind::Sandbox, _) => sandbox::send(sms).await,
            _ => SendOutcome::Permanent {
                code: Some("credentials_mismatch".into()),
                message: "The stored credentials do not belong to this kind of provider.".into(),
            },
        }
    }
}

/// Sends a prepared request and classifies transport failures; `classify` handles answers.
/// Only a request that surely never reached the provider (no connection) is a transient
/// failure; one that may have reached it and got no answer has an unknown outcome.
pub(crate) async fn call(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    classify: fn(u16, &str) -> SendOutcome,
) -> SendOutcome {
    match request.timeout(timeout).send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            match res.text().await {
                Ok(body) => classify(status, &body),
                // Refusals and errors are refusals and errors, body or not; a success whose
                // body (the provider's message id) was lost may well have been taken.
                Err(_) if !(200..300).contains(&status) => classify(status, ""),
                Err(e) => SendOutcome::Unknown {
                    code: Some(
                        if e.is_timeout() {
                            "timeout"
                        } else {
                            "read_error"
                        }
                        .into(),
                    ),
                    message: format!(
                        "the provider answered HTTP {status} but its body was lost: {e}"
                    ),
                },
            }
        }
        Err(e) if e.is_connect() => SendOutcome::Transient {
            code: Some("connect".into()),
            message: "could not connect to the provider".into(),
        },
        Err(e) if e.is_timeout() => SendOutcome::Unknown {
            code: Some("timeout".into()),
            message: format!(
                "the provider did not answer within {} ms",
                timeout.as_millis()
            ),
        },
        Err(e) => SendOutcome::Unknown {
            code: Some("transport".into()),
            message: format!("the call to the provider broke off: {e}"),
        },
    }
}

#[cfg(test)]
mod vocabulary_tests {
    #[test]
    fn the_readme_shows_the_vocabulary() {
        let readme = include_str!("../../../README.md");
        let table = super::vocabulary_markdown();
        assert!(
            readme.contains(&table),
            "README.md's receipt vocabulary is out of date; paste this:\n{table}"
        );
    }
}
