//! SMS gateway adapters. Each speaks its provider's real wire format over HTTP and classifies
//! what came back, so the worker only ever sees [`SendOutcome`]. The tenant's provider
//! accounts (add, change, remove, prices) are [`service`].

pub mod sandbox;
pub mod service;
pub mod twilio;
pub mod vonage;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

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
    pub fn kind(&self) -> &'static str {
        match self {
            SendOutcome::Accepted { .. } => "accepted",
            SendOutcome::Transient { .. } => "transient",
            SendOutcome::Permanent { .. } => "permanent",
            SendOutcome::Unknown { .. } => "unknown",
        }
    }
}

/// A delivery receipt, translated from a provider's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub provider_message_id: String,
    pub status: ReceiptStatus,
    pub provider_code: Option<String>,
    /// Our message id as the provider echoes it back (Vonage's `client-ref`), if it does.
    pub client_ref: Option<String>,
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

/// The gateways OpenClaw speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Twilio,
    Vonage,
    /// Simulated inside OpenClaw: for demos and test-mode keys.
    Sandbox,
}

impl ProviderKind {
    /// Every kind, in the order people are offered them.
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::Twilio,
        ProviderKind::Vonage,
        ProviderKind::Sandbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Twilio => "twilio",
            ProviderKind::Vonage => "vonage",
            ProviderKind::Sandbox => "sandbox",
        }
    }

    pub fn parse(s: &str) -> Option<ProviderKind> {
        match s {
            "twilio" => Some(ProviderKind::Twilio),
            "vonage" => Some(ProviderKind::Vonage),
            "sandbox" => Some(ProviderKind::Sandbox),
            _ => None,
        }
    }

    /// The provider's public API root, which `base_url` overrides.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Twilio => Some(twilio::DEFAULT_BASE_URL),
            ProviderKind::Vonage => Some(vonage::DEFAULT_BASE_URL),
            ProviderKind::Sandbox => None,
        }
    }
}

/// A provider account's credentials. Debug never shows a secret.
#[derive(Clone)]
pub enum Credentials {
    Twilio {
        account_sid: String,
        auth_token: SecretString,
    },
    Vonage {
        api_key: String,
        api_secret: SecretString,
    },
    Sandbox,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({})", self.masked())
    }
}

/// A credentials field that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CredentialsError {
    /// e.g. `credentials.auth_token`.
    pub field: String,
    pub message: String,
}

fn cred_error(field: &str, message: impl Into<String>) -> CredentialsError {
    CredentialsError {
        field: format!("credentials.{field}"),
        message: message.into(),
    }
}

/// The last four characters of a secret at most, the rest as dots; short secrets fully hidden.
fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        "••••".into()
    } else {
        format!(
            "••••{}",
            chars[chars.len() - 4..].iter().collect::<String>()
        )
    }
}

/// An identifier (not a secret) shortened to its first and last four characters.
fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        id.to_owned()
    } else {
        format!(
            "{}…{}",
            chars[..4].iter().collect::<String>(),
            chars[chars.len() - 4..].iter().collect::<String>()
        )
    }
}

impl Credentials {
    /// Validates what a tenant typed in for a provider of `kind`.
    pub fn from_json(
        kind: ProviderKind,
        value: &serde_json::Value,
    ) -> Result<Credentials, CredentialsError> {
        let empty = serde_json::Map::new();
        let obj = match value {
            serde_json::Value::Object(o) => o,
            serde_json::Value::Null => &empty,
            _ => {
                return Err(CredentialsError {
                    field: "credentials".into(),
                    message: "`credentials` must be an object.".into(),
                });
            }
        };
        let allowed: &[&str] = match kind {
            ProviderKind::Twilio => &["account_sid", "auth_token"],
            ProviderKind::Vonage => &["api_key", "api_secret"],
            ProviderKind::Sandbox => &[],
        };
        if let Some(unknown) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(cred_error(
                unknown,
                format!(
                    "A {} provider takes no `{unknown}` credential.",
                    kind.as_str()
                ),
            ));
        }
        let text = |field: &str| -> Result<String, CredentialsError> {
            match obj.get(field) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    Ok(s.trim().to_owned())
                }
                Some(_) => Err(cred_error(
                    field,
                    format!("`{field}` must be a non-empty string."),
                )),
                None => Err(cred_error(
                    field,
                    format!("`{field}` is required for a {} provider.", kind.as_str()),
                )),
            }
        };
        match kind {
            ProviderKind::Twilio => {
                let account_sid = text("account_sid")?;
                let sid_ok = account_sid.len() == 34
                    && account_sid.starts_with("AC")
                    && account_sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
                if !sid_ok {
                    return Err(cred_error(
                        "account_sid",
                        "A Twilio Account SID is `AC` followed by 32 hexadecimal characters.",
                    ));
                }
                let auth_token = text("auth_token")?;
                if !(16..=128).contains(&auth_token.len())
                    || !auth_token.bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err(cred_error(
                        "auth_token",
                        "The auth token should be 16 to 128 printable characters.",
                    ));
                }
                Ok(Credentials::Twilio {
                    account_sid,
                    auth_token: SecretString::from(auth_token),
                })
            }
            ProviderKind::Vonage => {
                let api_key = text("api_key")?;
                if api_key.len() > 64 || !api_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(cred_error(
                        "api_key",
                        "A Vonage API key is letters and digits (usually 8).",
                    ));
                }
                let api_secret = text("api_secret")?;
                if api_secret.len() > 128 || !api_secret.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(cred_error(
                        "api_secret",
                        "The API secret should be up to 128 printable characters.",
                    ));
                }
                Ok(Credentials::Vonage {
                    api_key,
                    api_secret: SecretString::from(api_secret),
                })
            }
            ProviderKind::Sandbox => Ok(Credentials::Sandbox),
        }
    }

    /// With the secrets: what is encrypted at rest, never what is shown.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Credentials::Twilio {
                account_sid,
                auth_token,
            } => serde_json::json!({
                "account_sid": account_sid,
                "auth_token": auth_token.expose_secret(),
            }),
            Credentials::Vonage {
                api_key,
                api_secret,
            } => serde_json::json!({
                "api_key": api_key,
                "api_secret": api_secret.expose_secret(),
            }),
            Credentials::Sandbox => serde_json::json!({}),
        }
    }

    /// What reads may show: identifiers shortened, secrets reduced to their last characters.
    pub fn masked(&self) -> serde_json::Value {
        match self {
            Credentials::Twilio {
                account_sid,
                auth_token,
            } => serde_json::json!({
                "account_sid": mask_id(account_sid),
                "auth_token": mask_secret(auth_token.expose_secret()),
            }),
            Credentials::Vonage {
                api_key,
                api_secret,
            } => serde_json::json!({
                "api_key": mask_id(api_key),
                "api_secret": mask_secret(api_secret.expose_secret()),
            }),
            Credentials::Sandbox => serde_json::json!({}),
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

/// A provider's name: 1–100 characters on one line (no control characters).
pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("The name must be 1 to 100 characters.".into());
    }
    if name.chars().any(char::is_control) {
        return Err("The name must not contain control characters.".into());
    }
    Ok(name.to_owned())
}

/// An http:// or https:// API root, without a trailing slash.
pub fn validate_base_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(url.to_owned())
    } else {
        Err("The base URL must be an http:// or https:// URL.".into())
    }
}

/// Calls one worker process may make to a provider at once: 1–1000.
pub fn validate_concurrency(n: i32) -> Result<i32, String> {
    if (1..=1000).contains(&n) {
        Ok(n)
    } else {
        Err("`max_concurrency` must be between 1 and 1000.".into())
    }
}

/// Messages per second a provider may be sent: 1–100000.
pub fn validate_rate(rate: i32) -> Result<i32, String> {
    if (1..=100_000).contains(&rate) {
        Ok(rate)
    } else {
        Err("`max_rate_per_sec` must be between 1 and 100000.".into())
    }
}

/// Sender ids (phone numbers or alphanumeric ids): the index of a bad one with its reason.
pub fn validate_senders(senders: &[String]) -> Result<Vec<String>, (Option<usize>, String)> {
    if senders.len() > 100 {
        return Err((None, "At most 100 sender ids.".into()));
    }
    senders
        .iter()
        .enumerate()
        .map(|(i, s)| crate::accept::validate_sender(s).map_err(|m| (Some(i), m)))
        .collect()
}

/// Credentials as stored: ciphertext, the id of the key that made it, and the masked copy.
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub key_id: String,
    pub mask: serde_json::Value,
}

impl Credentials {
    /// Encrypts for storage under the current master key.
    pub fn seal(&self, keys: &crate::crypto::Keyring) -> Sealed {
        let key = keys.current();
        let plaintext = serde_json::to_vec(&self.to_json()).expect("credentials always serialize");
        Sealed {
            ciphertext: key.encrypt(&plaintext),
            key_id: key.key_id().to_owned(),
            mask: self.masked(),
        }
    }

    /// Decrypts stored credentials of a provider of `kind`, sealed under key `key_id`.
    pub fn open(
        keys: &crate::crypto::Keyring,
        kind: ProviderKind,
        key_id: &str,
        ciphertext: &[u8],
    ) -> anyhow::Result<Credentials> {
        let plaintext = keys.decrypt(key_id, ciphertext)?;
        let json: serde_json::Value = serde_json::from_slice(&plaintext)?;
        Credentials::from_json(kind, &json).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// What `openclaw-server master-key rotate` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Re-encrypted under the current key.
    pub resealed: usize,
    /// Changed by someone else meanwhile (so already under the current key).
    pub raced: usize,
}

/// Re-encrypts every provider's credentials that are sealed under an old key with the current
/// one. The ciphertext is re-encrypted as is (decrypted bytes, never parsed or logged). Fails
/// without changing anything further if a row's key is not in the keyring.
pub async fn rotate_master_key(
    pool: &crate::db::PgPool,
    keys: &crate::crypto::Keyring,
) -> anyhow::Result<Rotation> {
    use anyhow::Context;
    let mut conn = pool.get().await?;
    let current = keys.current().key_id().to_owned();
    let mut done = Rotation::default();
    loop {
        let batch = crate::db::providers::sealed_under_other_keys(&mut conn, &current, 500).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        for (id, key_id, blob) in batch {
            let plaintext = keys
                .decrypt(&key_id, &blob)
                .with_context(|| format!("provider {}", crate::domain::ProviderId::from(id)))?;
            let sealed = keys.current().encrypt(&plaintext);
            if crate::db::providers::reseal(&mut conn, id, &key_id, &sealed, &current).await? {
                done.resealed += 1;
            } else {
                done.raced += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn twilio_credentials_are_validated_and_masked() {
        let c = Credentials::from_json(
            ProviderKind::Twilio,
            &json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "f00dfeedf00dfeedf00dfeedf00d1234"}),
        )
        .unwrap();
        assert_eq!(
            c.masked(),
            json!({"account_sid": "AC01…cdef", "auth_token": "••••1234"})
        );
        assert_eq!(
            c.to_json()["auth_token"],
            "f00dfeedf00dfeedf00dfeedf00d1234"
        );
        assert!(!format!("{c:?}").contains("f00dfeed"));

        let err = Credentials::from_json(
            ProviderKind::Twilio,
            &json!({"account_sid": "AC0123456789abcdef0123456789abcdef"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "credentials.auth_token");
        let err = Credentials::from_json(
            ProviderKind::Twilio,
            &json!({"account_sid": "XX1", "auth_token": "f00dfeedf00dfeedf00dfeedf00d1234"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "credentials.account_sid");
        let err = Credentials::from_json(ProviderKind::Twilio, &json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "f00dfeedf00dfeedf00dfeedf00d1234", "x": 1})).unwrap_err();
        assert_eq!(err.field, "credentials.x");
        assert!(Credentials::from_json(ProviderKind::Twilio, &json!("text")).is_err());
    }

    #[test]
    fn vonage_and_sandbox_credentials() {
        let c = Credentials::from_json(
            ProviderKind::Vonage,
            &json!({"api_key": "abcd1234", "api_secret": "abcdef0123456789"}),
        )
        .unwrap();
        assert_eq!(
            c.masked(),
            json!({"api_key": "abcd1234", "api_secret": "••••6789"})
        );
        let err = Credentials::from_json(
            ProviderKind::Vonage,
            &json!({"api_key": "abcd1234", "api_secret": ""}),
        )
        .unwrap_err();
        assert_eq!(err.field, "credentials.api_secret");
        assert!(matches!(
            Credentials::from_json(ProviderKind::Sandbox, &json!({})),
            Ok(Credentials::Sandbox)
        ));
        assert!(matches!(
            Credentials::from_json(ProviderKind::Sandbox, &serde_json::Value::Null),
            Ok(Credentials::Sandbox)
        ));
        assert!(Credentials::from_json(ProviderKind::Sandbox, &json!({"token": "x"})).is_err());
    }

    #[test]
    fn short_secrets_are_fully_masked() {
        assert_eq!(mask_secret("abcdef"), "••••");
    }

    #[test]
    fn a_name_is_one_line_of_1_to_100_characters() {
        assert_eq!(validate_name("  Twilio EU ").unwrap(), "Twilio EU");
        assert!(validate_name(" ").is_err());
        assert!(validate_name(&"x".repeat(101)).is_err());
        assert!(validate_name("Twilio\0EU").is_err());
        assert!(validate_name("Twilio\nEU").is_err());
    }
}
