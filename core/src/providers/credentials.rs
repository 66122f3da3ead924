//! A provider account's credentials: validated per kind, masked for display, sealed at rest
//! under the master key, and re-sealed when that key rotates.

use secrecy::{ExposeSecret, SecretString};

use super::*;

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
        /// Set when the account signs its webhooks: every receipt must then carry a valid
        /// `sig`.
        signature: Option<vonage::Signing>,
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
            ProviderKind::Vonage => &[
                "api_key",
                "api_secret",
                "signature_secret",
                "signature_method",
            ],
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
                let signature = match (obj.get("signature_secret"), obj.get("signature_method")) {
                    (None, None) => None,
                    (None, Some(_)) => {
                        return Err(cred_error(
                            "signature_secret",
                            "`signature_secret` is required with `signature_method`.",
                        ));
                    }
                    (Some(_), method) => {
                        let secret = text("signature_secret")?;
                        if secret.len() > 128 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
                            return Err(cred_error(
                                "signature_secret",
                                "The signature secret should be up to 128 printable characters.",
                            ));
                        }
                        let method = match method {
                            None => vonage::SignatureMethod::Md5Hash,
                            Some(_) => {
                                let name = text("signature_method")?;
                                vonage::SignatureMethod::parse(&name).ok_or_else(|| {
                                    cred_error(
                                        "signature_method",
                                        "`signature_method` is one of md5hash, md5, sha1, sha256 \
                                         and sha512, as set in the Vonage dashboard.",
                                    )
                                })?
                            }
                        };
                        Some(vonage::Signing {
                            method,
                            secret: SecretString::from(secret),
                        })
                    }
                };
                Ok(Credentials::Vonage {
                    api_key,
                    api_secret: SecretString::from(api_secret),
                    signature,
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
                signature,
            } => {
                let mut json = serde_json::json!({
                    "api_key": api_key,
                    "api_secret": api_secret.expose_secret(),
                });
                if let Some(s) = signature {
                    json["signature_secret"] = s.secret.expose_secret().into();
                    json["signature_method"] = s.method.as_str().into();
                }
                json
            }
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
                signature,
            } => {
                let mut json = serde_json::json!({
                    "api_key": mask_id(api_key),
                    "api_secret": mask_secret(api_secret.expose_secret()),
                });
                if let Some(s) = signature {
                    json["signature_secret"] = mask_secret(s.secret.expose_secret()).into();
                    json["signature_method"] = s.method.as_str().into();
                }
                json
            }
            Credentials::Sandbox => serde_json::json!({}),
        }
    }
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
    fn a_vonage_account_that_signs_its_webhooks_keeps_its_secret_and_method() {
        let c = Credentials::from_json(
            ProviderKind::Vonage,
            &json!({"api_key": "abcd1234", "api_secret": "abcdef0123456789",
                    "signature_secret": "sig-secret-0123456789", "signature_method": "SHA256"}),
        )
        .unwrap();
        assert_eq!(
            c.masked(),
            json!({"api_key": "abcd1234", "api_secret": "••••6789",
                   "signature_secret": "••••6789", "signature_method": "sha256"})
        );
        // Sealed and opened again, it is the same.
        let back = Credentials::from_json(ProviderKind::Vonage, &c.to_json()).unwrap();
        assert_eq!(back.to_json(), c.to_json());
        assert!(!format!("{c:?}").contains("sig-secret"));
        // The method defaults to md5hash; a method needs a secret; only Vonage's methods.
        let md5 = Credentials::from_json(
            ProviderKind::Vonage,
            &json!({"api_key": "abcd1234", "api_secret": "abcdef0123456789",
                    "signature_secret": "sig-secret-0123456789"}),
        )
        .unwrap();
        assert_eq!(md5.masked()["signature_method"], "md5hash");
        for (bad, field) in [
            (
                json!({"signature_method": "sha256"}),
                "credentials.signature_secret",
            ),
            (
                json!({"signature_secret": "s", "signature_method": "crc32"}),
                "credentials.signature_method",
            ),
        ] {
            let mut body = json!({"api_key": "abcd1234", "api_secret": "abcdef0123456789"});
            for (k, v) in bad.as_object().unwrap() {
                body[k] = v.clone();
            }
            let err = Credentials::from_json(ProviderKind::Vonage, &body).unwrap_err();
            assert_eq!(err.field, field, "{body}");
        }
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
}
