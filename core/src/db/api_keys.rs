//! Tenant API keys: `oc_live_…` / `oc_test_…` plus 32 random base62 characters. Only the
//! SHA-256 of a key is stored; the key itself is shown once, when it is created.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::api_keys;
use crate::crypto;
use crate::domain::KeyMode;

/// `messages:send`, `messages:read`, `reports:read`.
pub const SCOPES: [&str; 3] = ["messages:send", "messages:read", "reports:read"];
pub const DEFAULT_SCOPES: [&str; 2] = ["messages:send", "messages:read"];

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub mode: KeyMode,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none_or(|t| t > now) && self.expires_at.is_none_or(|t| t > now)
    }
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// A freshly minted key: the secret to show once and the row that stores its hash.
pub struct Minted {
    pub secret: String,
    pub key: ApiKey,
}

/// A key's name: 1–100 characters on one line (no control characters), trimmed. The API and
/// the admin app's form both ask this.
pub fn validate_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("The name must be 1 to 100 characters.");
    }
    if name.chars().any(char::is_control) {
        return Err("The name must not contain control characters.");
    }
    Ok(name.to_owned())
}

/// The mode prefix of a key, or None if it is not shaped like one of ours.
pub fn mode_of(secret: &str) -> Option<KeyMode> {
    KeyMode::ALL
        .into_iter()
        .find(|m| secret.starts_with(&format!("oc_{}_", m.as_str())))
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    name: &str,
    mode: KeyMode,
    scopes: &[String],
    expires_at: Option<DateTime<Utc>>,
) -> QueryResult<Minted> {
    let secret = format!("oc_{mode}_{}", crypto::random_token(24));
    let prefix: String = secret.chars().take(16).collect();
    let key = diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(Uuid::now_v7()),
            api_keys::tenant_id.eq(tenant_id),
            api_keys::name.eq(name),
            api_keys::prefix.eq(&prefix),
            api_keys::key_hash.eq(crypto::hash_token(&secret)),
            api_keys::mode.eq(mode),
            api_keys::scopes.eq(scopes),
            api_keys::expires_at.eq(expires_at),
        ))
        .returning(ApiKey::as_returning())
        .get_result(conn)
        .await?;
    Ok(Minted { secret, key })
}

pub async fn find_by_secret(
    conn: &mut AsyncPgConnection,
    secret: &str,
) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(crypto::hash_token(secret)))
        .select(ApiKey::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn list(conn: &mut AsyncPgConnection, tenant_id: Uuid) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::tenant_id.eq(tenant_id))
        // Rotated keys stay listed until their grace period ends.
        .filter(
            api_keys::revoked_at
                .is_null()
                .or(api_keys::revoked_at.gt(diesel::dsl::now)),
        )
        .order(api_keys::id.desc())
        .select(ApiKey::as_select())
        .load(conn)
        .await
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::tenant_id.eq(tenant_id))
        .filter(api_keys::id.eq(id))
        .select(ApiKey::as_select())
        .first(conn)
        .await
        .optional()
}

/// Revokes at `at` (now, or later for a rotation's grace period). Returns false when the key
/// does not exist for this tenant or its revocation has already taken effect.
/// Revokes a key at `at`. `None`: the tenant has no such key; `Some(false)`: it was revoked
/// already (revoking is idempotent); `Some(true)`: revoked now. A key still in the grace period
/// of a rotation is listed and works, so it can be revoked sooner.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<Option<bool>> {
    let n = diesel::update(
        api_keys::table
            .filter(api_keys::tenant_id.eq(tenant_id))
            .filter(api_keys::id.eq(id))
            .filter(
                api_keys::revoked_at
                    .is_null()
                    .or(api_keys::revoked_at.gt(diesel::dsl::now)),
            ),
    )
    .set(api_keys::revoked_at.eq(at))
    .execute(conn)
    .await?;
    if n == 1 {
        return Ok(Some(true));
    }
    let exists = diesel::select(diesel::dsl::exists(
        api_keys::table
            .filter(api_keys::tenant_id.eq(tenant_id))
            .filter(api_keys::id.eq(id)),
    ))
    .get_result::<bool>(conn)
    .await?;
    Ok(exists.then_some(false))
}

pub async fn touch(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<usize> {
    diesel::update(api_keys::table.filter(api_keys::id.eq_any(ids)))
        .set(api_keys::last_used_at.eq(Utc::now()))
        .execute(conn)
        .await
}

/// Replaces a usable key with a new one of the same name, mode, scopes and expiry, in one
/// transaction; the old key keeps working for `grace` (zero: revoked now). None when the key
/// does not exist for this tenant or is no longer usable.
pub async fn rotate(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    id: Uuid,
    grace: chrono::Duration,
) -> QueryResult<Option<Minted>> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |c| {
        let Some(old) = find(c, tenant_id, id)
            .await?
            .filter(|k| k.is_usable(Utc::now()))
        else {
            return Ok(None);
        };
        let minted = create(
            c,
            tenant_id,
            &old.name,
            old.mode,
            &old.scopes,
            old.expires_at,
        )
        .await?;
        revoke(c, tenant_id, id, Utc::now() + grace).await?;
        Ok(Some(minted))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_line_of_1_to_100_characters() {
        assert_eq!(validate_name(" backend ").unwrap(), "backend");
        assert!(validate_name("").is_err());
        assert!(validate_name(&"k".repeat(101)).is_err());
        assert!(validate_name("back\0end").is_err());
        assert!(validate_name("back\tend").is_err());
    }
}
