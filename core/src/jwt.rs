//! Short-lived access tokens (HS256 JWTs). The session they belong to (`sid`, a refresh
//! token family) is checked on every request, so logging out takes effect at once.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Access tokens live 15 minutes.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The tenant (absent for platform staff).
    pub tid: Option<Uuid>,
    pub role: String,
    /// The session: the refresh token family this token was issued with.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

pub enum JwtError {
    Expired,
    Invalid,
}

impl JwtKeys {
    pub fn new(secret: &secrecy::SecretString) -> JwtKeys {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        JwtKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        }
    }

    pub fn issue(&self, sub: Uuid, tid: Option<Uuid>, role: &str, sid: Uuid) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub,
            tid,
            role: role.to_owned(),
            sid,
            iat: now,
            exp: now + ACCESS_TTL_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid,
            })
    }
}
