//! Secrets: provider credentials encrypted at rest (AES-256-GCM), API keys and refresh tokens
//! stored as SHA-256, passwords as argon2id.

use std::sync::LazyLock;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::Argon2;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
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

/// The working memory of one argon2 computation (~19 MiB with the default parameters),
/// allocated once per hashing thread and reused: allocated per hash, glibc's aligned
/// allocations fragmented the heap and each hash left about its size behind.
pub struct HashMemory(Vec<argon2::Block>);

impl HashMemory {
    pub fn new() -> HashMemory {
        HashMemory(vec![
            argon2::Block::new();
            argon2::Params::default().block_count()
        ])
    }

    /// At least `blocks` blocks (a stored hash made with other parameters may need more).
    fn blocks(&mut self, blocks: usize) -> &mut [argon2::Block] {
        if self.0.len() < blocks {
            self.0.resize(blocks, argon2::Block::new());
        }
        &mut self.0[..blocks]
    }
}

impl Default for HashMemory {
    fn default() -> Self {
        HashMemory::new()
    }
}

/// argon2id PHC string with the crate's default parameters and a random 16-byte salt,
/// computed in `memory`. CPU-heavy: call it from the hashing threads ([`hash_password`]).
pub fn hash_password_in(memory: &mut HashMemory, password: &str) -> String {
    let argon2 = Argon2::default();
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .expect("the operating system's random number generator works");
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    let blocks = argon2.params().block_count();
    argon2
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory.blocks(blocks))
        .expect("argon2 hashing with default parameters cannot fail");
    PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).expect("default parameters encode"),
        salt: Some(Salt::new(&salt).expect("a 16-byte salt is valid")),
        hash: Some(Output::new(&out).expect("a 32-byte output is valid")),
    }
    .to_string()
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_password_in(
        &mut HashMemory::new(),
        "a password nobody has, to spend the same time",
    )
});

/// Verifies against a PHC string, computed in `memory`; with `None` (no such user) it verifies
/// against a fixed dummy hash so the answer takes as long as for a wrong password, then returns
/// false.
pub fn verify_password_in(memory: &mut HashMemory, password: &str, phc: Option<&str>) -> bool {
    let target = phc.unwrap_or(DUMMY_HASH.as_str());
    let matches = (|| {
        let hash = PasswordHash::new(target).ok()?;
        let algorithm = argon2::Algorithm::try_from(hash.algorithm.as_str()).ok()?;
        let version = match hash.version {
            Some(v) => argon2::Version::try_from(v).ok()?,
            None => argon2::Version::default(),
        };
        let params = argon2::Params::try_from(&hash).ok()?;
        let (salt, expected) = (hash.salt?, hash.hash?);
        let blocks = params.block_count();
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt.as_ref(),
                &mut out,
                memory.blocks(blocks),
            )
            .ok()?;
        // `Output` compares in constant time.
        Some(Output::new(&out).ok()? == expected)
    })();
    matches.unwrap_or(false) && phc.is_some()
}

type HashJob = Box<dyn FnOnce(&mut HashMemory) + Send>;

/// Argon2 runs on threads of its own, one per core, process-wide, each with its
/// [`HashMemory`]: unbounded (the blocking pool's hundreds of threads), a burst of sign-ups took
/// the server into gigabytes. A fixed few threads bound the work at once and the memory.
static HASHERS: LazyLock<std::sync::mpsc::Sender<HashJob>> = LazyLock::new(|| {
    let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
    for i in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                let mut memory = HashMemory::new();
                loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(&mut memory),
                        Err(_) => return,
                    }
                }
            })
            .expect("starting a password hashing thread");
    }
    jobs
});

/// Runs argon2 work on the hashing threads and waits for it.
async fn on_hashers<T: Send + 'static>(
    work: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    HASHERS
        .send(Box::new(move |memory| {
            let _ = done.send(work(memory));
        }))
        .map_err(|_| anyhow::anyhow!("the password hashing threads have stopped"))?;
    result
        .await
        .map_err(|_| anyhow::anyhow!("a password hashing thread failed"))
}

/// [`hash_password_in`] on the hashing threads.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    on_hashers(move |memory| hash_password_in(memory, &password)).await
}

/// [`verify_password_in`] on the hashing threads.
pub async fn verify_password(password: String, phc: Option<String>) -> anyhow::Result<bool> {
    on_hashers(move |memory| verify_password_in(memory, &password, phc.as_deref())).await
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
        let memory = &mut HashMemory::new();
        let phc = hash_password_in(memory, "correct horse battery");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password_in(
            memory,
            "correct horse battery",
            Some(&phc)
        ));
        assert!(!verify_password_in(memory, "wrong", Some(&phc)));
        assert!(!verify_password_in(
            memory,
            "a password nobody has, to spend the same time",
            None
        ));
        assert!(!verify_password_in(memory, "x", Some("not a phc string")));
    }

    /// The reused-memory path makes and checks the same PHC strings as the argon2 crate's own.
    #[test]
    fn hashes_agree_with_the_argon2_crates_own_hasher() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let memory = &mut HashMemory::new();
        let ours = hash_password_in(memory, "correct horse battery");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(verify_password_in(
            memory,
            "correct horse battery",
            Some(&theirs)
        ));
        // A hash made with other parameters (more memory) still verifies.
        let bigger = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(32 * 1024, 2, 1, None).unwrap(),
        )
        .hash_password(b"pw")
        .unwrap()
        .to_string();
        assert!(verify_password_in(memory, "pw", Some(&bigger)));
        assert!(!verify_password_in(memory, "pW", Some(&bigger)));
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
