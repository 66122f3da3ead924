//! A tenant's API keys: create (the secret shown once), revoke, rotate. The one implementation
//! behind `POST /v1/api-keys`, `DELETE /v1/api-keys/{id}`, `POST /v1/api-keys/{id}/rotate` and
//! the admin app's API keys page, so both answer the same mistake with the same sentence and
//! audit the same change with the same details. Each change:
//! - asks the permission matrix (`ManageApiKeys`) for the acting member's role;
//! - validates its input, naming the field at fault;
//! - writes, records the audit event and announces [`Change::ApiKeys`] in one transaction
//!   scoped to the tenant (row-level security), so every process forgets the keys it cached
//!   once, and only once, the change is committed.
//!
//! Storage is `db::api_keys`; only the SHA-256 of a key is stored, and the audit log names a
//! key by its id and prefix, never its secret.

use chrono::{DateTime, Datelike, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, action};
use crate::changes::{self, Change};
use crate::db::api_keys::{self as store, DEFAULT_SCOPES, Minted, SCOPES};
use crate::db::{self, PgPool};
use crate::domain::{ApiKeyId, KeyMode};
use crate::members::Manager;
use crate::permissions::{self, Action};

/// The longest grace period a rotated key may keep working for (7 days).
pub const MAX_GRACE_SECONDS: i64 = 604_800;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Absent, another tenant's, or (to rotate) no longer usable.
    #[error("No such API key.")]
    NotFound,
    #[error("Your role cannot manage API keys; ask an owner, admin or developer.")]
    Forbidden,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for KeyError {
    fn from(e: diesel::result::Error) -> Self {
        KeyError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for KeyError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        KeyError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> KeyError {
    KeyError::Invalid {
        field,
        message: message.into(),
    }
}

/// A key as asked for; everything but the name is optional.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// 1–100 characters on one line.
    pub name: String,
    /// `live` (when None) or `test`.
    pub mode: Option<String>,
    /// When None: `messages:send`, `messages:read`.
    pub scopes: Option<Vec<String>>,
    /// In the future, before the year 10000.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A [`NewKey`] that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidKey {
    pub name: String,
    pub mode: KeyMode,
    /// Sorted, without repeats.
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewKey {
    /// Checks every field as of `now`; the first mistake found is named.
    pub fn validate(self, now: DateTime<Utc>) -> Result<ValidKey, KeyError> {
        let name = store::validate_name(&self.name).map_err(|m| invalid("name", m))?;
        let mode = match self.mode.as_deref() {
            None => KeyMode::Live,
            Some(m) => KeyMode::parse(m)
                .ok_or_else(|| invalid("mode", "`mode` must be `live` or `test`."))?,
        };
        let scopes = match self.scopes {
            None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            Some(scopes) if scopes.is_empty() => {
                return Err(invalid("scopes", "Give a key at least one scope."));
            }
            Some(mut scopes) => {
                if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
                    return Err(invalid(
                        "scopes",
                        format!("`{bad}` is not a scope; use {}.", SCOPES.join(", ")),
                    ));
                }
                scopes.sort();
                scopes.dedup();
                scopes
            }
        };
        if let Some(at) = self.expires_at {
            if !crate::domain::SANE_YEARS.contains(&at.year()) {
                return Err(invalid(
                    "expires_at",
                    format!(
                        "`expires_at` must be a date between the years {} and {}.",
                        crate::domain::SANE_YEARS.start(),
                        crate::domain::SANE_YEARS.end()
                    ),
                ));
            }
            if at <= now {
                return Err(invalid("expires_at", "`expires_at` must be in the future."));
            }
        }
        Ok(ValidKey {
            name,
            mode,
            scopes,
            expires_at: self.expires_at,
        })
    }
}

/// How long a rotated key keeps working: 0 (the default) to [`MAX_GRACE_SECONDS`].
pub fn validate_grace(grace_seconds: Option<i64>) -> Result<i64, KeyError> {
    match grace_seconds.unwrap_or(0) {
        grace @ 0..=MAX_GRACE_SECONDS => Ok(grace),
        _ => Err(invalid(
            "grace_seconds",
            "`grace_seconds` must be between 0 and 604800 (7 days).",
        )),
    }
}

fn may_manage(manager: &Manager) -> Result<(), KeyError> {
    if permissions::allowed(manager.role, Action::ManageApiKeys) {
        Ok(())
    } else {
        Err(KeyError::Forbidden)
    }
}

fn target(id: Uuid) -> Option<String> {
    Some(ApiKeyId::from(id).to_string())
}

/// Creates a key; the secret is in the answer, this once.
pub async fn create(pool: &PgPool, manager: &Manager, new: NewKey) -> Result<Minted, KeyError> {
    may_manage(manager)?;
    let key = new.validate(Utc::now())?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        let minted =
            store::create(c, tenant, &key.name, key.mode, &key.scopes, key.expires_at).await?;
        audit::record(
            c,
            &manager.actor,
            Some(tenant),
            action::API_KEY_CREATED,
            target(minted.key.id),
            json!({"name": key.name, "prefix": minted.key.prefix, "mode": key.mode,
                   "scopes": key.scopes}),
        )
        .await?;
        changes::announce(c, Change::ApiKeys).await?;
        Ok(minted)
    })
    .await
}

/// What revoking did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Refused from now on.
    Now,
    /// It was revoked before: nothing changed and nothing is audited (revoking is idempotent).
    Already,
}

/// Revokes a key at once (a rotated key still in its grace period too).
pub async fn revoke(pool: &PgPool, manager: &Manager, id: Uuid) -> Result<Revoked, KeyError> {
    may_manage(manager)?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        match store::revoke(c, tenant, id, Utc::now()).await? {
            None => Err(KeyError::NotFound),
            Some(false) => Ok(Revoked::Already),
            Some(true) => {
                audit::record(
                    c,
                    &manager.actor,
                    Some(tenant),
                    action::API_KEY_REVOKED,
                    target(id),
                    json!({}),
                )
                .await?;
                changes::announce(c, Change::ApiKeys).await?;
                Ok(Revoked::Now)
            }
        }
    })
    .await
}

/// Replaces a usable key with a new one of the same name, mode, scopes and expiry; the old
/// one keeps working for `grace_seconds` (default 0: refused at once). The new secret is in
/// the answer, this once.
pub async fn rotate(
    pool: &PgPool,
    manager: &Manager,
    id: Uuid,
    grace_seconds: Option<i64>,
) -> Result<Minted, KeyError> {
    may_manage(manager)?;
    let grace = validate_grace(grace_seconds)?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        let minted = store::rotate(c, tenant, id, chrono::Duration::seconds(grace))
            .await?
            .ok_or(KeyError::NotFound)?;
        audit::record(
            c,
            &manager.actor,
            Some(tenant),
            action::API_KEY_ROTATED,
            target(id),
            json!({"new_key": ApiKeyId::from(minted.key.id).to_string(),
                   "new_prefix": minted.key.prefix, "grace_seconds": grace}),
        )
        .await?;
        changes::announce(c, Change::ApiKeys).await?;
        Ok(minted)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<ValidKey, KeyError>) -> &'static str {
        match result {
            Err(KeyError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_new_key_is_checked_field_by_field() {
        let now = Utc::now();
        let key = |name: &str| NewKey {
            name: name.into(),
            ..Default::default()
        };
        let valid = key(" backend ").validate(now).unwrap();
        assert_eq!(valid.name, "backend");
        assert_eq!(valid.mode, KeyMode::Live);
        assert_eq!(valid.scopes, ["messages:send", "messages:read"]);
        assert_eq!(field_of(key("").validate(now)), "name");
        assert_eq!(field_of(key("a\0b").validate(now)), "name");
        let with = |f: fn(&mut NewKey)| {
            let mut k = key("backend");
            f(&mut k);
            k.validate(now)
        };
        assert_eq!(
            with(|k| k.mode = Some("test".into())).unwrap().mode,
            KeyMode::Test
        );
        assert_eq!(field_of(with(|k| k.mode = Some("staging".into()))), "mode");
        assert_eq!(field_of(with(|k| k.scopes = Some(vec![]))), "scopes");
        assert_eq!(
            field_of(with(|k| k.scopes = Some(vec!["messages:fly".into()]))),
            "scopes"
        );
        assert_eq!(
            with(|k| {
                k.scopes = Some(vec![
                    "reports:read".into(),
                    "messages:read".into(),
                    "reports:read".into(),
                ])
            })
            .unwrap()
            .scopes,
            ["messages:read", "reports:read"]
        );
        assert_eq!(
            field_of(with(
                |k| k.expires_at = Some(Utc::now() - chrono::Duration::hours(1))
            )),
            "expires_at"
        );
        assert_eq!(
            field_of(with(|k| {
                k.expires_at = "+20000-01-01T00:00:00Z".parse().ok();
                assert!(k.expires_at.is_some());
            })),
            "expires_at"
        );
        assert!(
            with(|k| k.expires_at = Some(Utc::now() + chrono::Duration::days(1)))
                .unwrap()
                .expires_at
                .is_some()
        );
    }

    #[test]
    fn a_grace_period_is_zero_to_seven_days() {
        assert_eq!(validate_grace(None).unwrap(), 0);
        assert_eq!(validate_grace(Some(MAX_GRACE_SECONDS)).unwrap(), 604_800);
        for bad in [-1, MAX_GRACE_SECONDS + 1] {
            assert!(matches!(
                validate_grace(Some(bad)),
                Err(KeyError::Invalid {
                    field: "grace_seconds",
                    ..
                })
            ));
        }
    }
}
