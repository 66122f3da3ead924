//! Secrets: provider credentials encrypted at rest (AES-256-GCM), API keys and refresh tokens
//! stored as SHA-256, passwords as argon2id.

use std::sync::LazyLock;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{0}")]
    BadKey(String),
    #[error("the ciphertext cannot be decrypted with this key (wrong key, or tampered with)")]
    Decrypt,
}

/// `OPENCLAW_MASTER_KEY`: the AES-256-GCM key for provider credentials. Debug never shows it.
pub struct MasterKey {
    cipher: Aes256Gcm,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

const NONCE_LEN: usize = 12;

impl MasterKey {
    /// base64 (standard alphabet) of exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<Self, CryptoError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| CryptoError::BadKey("is not valid base64".into()))?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey(format!(
                "must be 32 bytes (base64 of 32 random bytes), not {}",
                bytes.len()
            )));
        }
        let id = hex::encode(&Sha256::digest(&bytes)[..4]);
        let cipher = Aes256Gcm::new_from_slice(&bytes)
            .map_err(|_| CryptoError::BadKey("is not a valid AES-256 key".into()))?;
        Ok(MasterKey { cipher, id })
    }

    /// Short stable id of the key (stored beside each ciphertext, for rotation).
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// 12-byte random nonce || ciphertext+tag.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        blob
    }

    pub fn decrypt(&self, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if blob.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        self.cipher
            .decrypt(&Nonce::from(nonce), ciphertext)
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// The master keys: the current one encrypts, older ones (`OPENCLAW_OLD_MASTER_KEYS`) still
/// decrypt what they encrypted until `openclaw-server master-key rotate` has re-encrypted it.
#[derive(Debug)]
pub struct Keyring {
    current: MasterKey,
    old: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, old: Vec<MasterKey>) -> Keyring {
        Keyring { current, old }
    }

    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// The key with this id, current or old.
    pub fn get(&self, key_id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.key_id() == key_id)
    }

    /// Decrypts a blob made under the key `key_id`.
    pub fn decrypt(&self, key_id: &str, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.get(key_id)
            .ok_or_else(|| {
                CryptoError::BadKey(format!(
                    "no master key with id {key_id} is configured (set it in OPENCLAW_OLD_MASTER_KEYS)"
                ))
            })?
            .decrypt(blob)
    }
}

/// SHA-256 of a token (API key, refresh token), as stored in Postgres.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A random token of `chars` base62 characters (about 5.95 bits each) from the OS RNG.
/// Bytes are drawn with rejection sampling, so every character is equally likely.
pub fn random_token(chars: usize) -> String {
    let mut out = String::with_capacity(chars);
    let mut buf = [0u8; 64];
    while out.len() < chars {
        rand::rngs::OsRng
            .try_fill_bytes(&mut buf)
            .expect("the OS random number generator is available");
        for b in buf {
            // 248 = 4 × 62: bytes at or above it would bias the first characters.
            if b < 248 && out.len() < chars {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    out
}

/// argon2id PHC string with the crate's default parameters. CPU-heavy: call it from
/// `spawn_blocking`.
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("a password nobody has, to spend the same time"));

/// Verifies against a PHC string; with `None` (no such user) it verifies against a fixed dummy
/// hash so the answer takes as long as for a wrong password, then returns false.
pub fn verify_password(password: &str, phc: Option<&str>) -> bool {
    let target = phc.unwrap_or(DUMMY_HASH.as_str());
    let ok = PasswordHash::new(target)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    ok && phc.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn encrypts_and_decrypts_and_detects_tampering() {
        let key = MasterKey::from_base64(KEY).unwrap();
        let blob = key.encrypt(b"auth-token");
        assert_ne!(&blob[NONCE_LEN..], b"auth-token");
        assert_eq!(key.decrypt(&blob).unwrap(), b"auth-token");
        assert_ne!(key.encrypt(b"auth-token"), blob, "a fresh nonce every time");
        let mut tampered = blob.clone();
        tampered[NONCE_LEN + 1] ^= 1;
        assert!(key.decrypt(&tampered).is_err());
        assert!(key.decrypt(&blob[..10]).is_err());
        let other =
            MasterKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
                .unwrap();
        assert!(other.decrypt(&blob).is_err());
        assert_ne!(other.key_id(), key.key_id());
        assert_eq!(key.key_id().len(), 8);
        assert!(!format!("{key:?}").contains(KEY));
    }

    #[test]
    fn key_errors_are_clear() {
        assert!(
            MasterKey::from_base64("not base64!")
                .unwrap_err()
                .to_string()
                .contains("base64")
        );
        assert!(
            MasterKey::from_base64("c2hvcnQ=")
                .unwrap_err()
                .to_string()
                .contains("32 bytes")
        );
    }

    #[test]
    fn tokens_are_random_base62() {
        let a = random_token(32);
        let b = random_token(32);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(hash_token("x").len(), 32);
        assert_eq!(hash_token("x"), hash_token("x"));
    }

    #[test]
    fn passwords_verify() {
        let phc = hash_password("correct horse battery");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&phc)));
        assert!(!verify_password("wrong", Some(&phc)));
        assert!(!verify_password(
            "a password nobody has, to spend the same time",
            None
        ));
        assert!(!verify_password("x", Some("not a phc string")));
    }

    #[test]
    fn a_keyring_decrypts_by_key_id_and_encrypts_with_the_current_key() {
        let old = MasterKey::from_base64(KEY).unwrap();
        let blob = old.encrypt(b"secret");
        let old_id = old.key_id().to_owned();
        let new =
            MasterKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
                .unwrap();
        let new_id = new.key_id().to_owned();
        let ring = Keyring::new(new, vec![old]);
        assert_eq!(ring.decrypt(&old_id, &blob).unwrap(), b"secret");
        assert_eq!(ring.current().key_id(), new_id);
        let only_new = Keyring::new(
            MasterKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
                .unwrap(),
            Vec::new(),
        );
        let err = only_new.decrypt(&old_id, &blob).unwrap_err();
        assert!(
            err.to_string().contains("OPENCLAW_OLD_MASTER_KEYS"),
            "{err}"
        );
    }
}
