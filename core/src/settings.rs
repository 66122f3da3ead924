//! A tenant's settings: its name, the default sender ids (used when neither a message nor
//! its provider names a sender) and the message types sent to opted-out numbers all the same. The one implementation behind `GET|PATCH /v1/settings` and
//! the admin app's settings form: it asks the permission matrix (`ManageSettings`), validates
//! naming the field at fault, and writes, audits and announces the change in one transaction
//! scoped to the tenant. The announcement is [`Change::Routes`]: the worker keeps the default
//! sender with the tenant's routes.

use serde_json::json;

use crate::audit::{self, action};
use crate::changes::{self, Change};
use crate::db::tenants::{self, Tenant};
use crate::db::{self, PgPool};
use crate::domain::MessageType;
use crate::members::Manager;
use crate::permissions::{self, Action};

/// At most this many default sender ids.
pub const MAX_SENDERS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("Your role cannot change the settings; ask an owner or admin.")]
    Forbidden,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for SettingsError {
    fn from(e: diesel::result::Error) -> Self {
        SettingsError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for SettingsError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        SettingsError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

/// A change of settings; a field left None stays as it is.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    /// The company name: 1–100 characters on one line.
    pub name: Option<String>,
    /// Phone numbers (normalised to E.164) or 1–11 letters and digits; at most
    /// [`MAX_SENDERS`]. Empty: none.
    pub default_sender_ids: Option<Vec<String>>,
    /// Message types sent to numbers that opted out all the same: `transactional`, `otp` (never
    /// `marketing`). Empty: none (the default).
    pub opt_out_exempt_types: Option<Vec<String>>,
}

/// A [`SettingsChange`] that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidChange {
    pub name: Option<String>,
    pub default_sender_ids: Option<Vec<String>>,
    /// Distinct, in [`MessageType::ALL`] order.
    pub opt_out_exempt_types: Option<Vec<MessageType>>,
}

/// The message types a tenant may exempt from its opt-outs, as typed: each
/// `transactional` or `otp`.
fn validate_exempt_types(types: &[String]) -> Result<Vec<MessageType>, SettingsError> {
    let invalid = |message: String| SettingsError::Invalid {
        field: "opt_out_exempt_types",
        message,
    };
    let mut chosen = Vec::new();
    for raw in types {
        match MessageType::parse(raw) {
            Some(t) if t.may_skip_opt_outs() => chosen.push(t),
            Some(t) => {
                return Err(invalid(format!(
                    "`{t}` messages always respect opt-outs; only transactional and otp may be exempted."
                )));
            }
            None => {
                return Err(invalid(format!(
                    "`{}` is not a message type that may be exempted: transactional or otp.",
                    raw.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    Ok(MessageType::ALL
        .into_iter()
        .filter(|t| chosen.contains(t))
        .collect())
}

impl SettingsChange {
    /// Checks every field given; the first mistake found is named.
    pub fn validate(self) -> Result<ValidChange, SettingsError> {
        let name = self
            .name
            .map(|name| {
                crate::accounts::validate_tenant_name(&name).map_err(|e| SettingsError::Invalid {
                    field: "name",
                    message: e.to_string(),
                })
            })
            .transpose()?;
        let default_sender_ids = self
            .default_sender_ids
            .map(|senders| {
                crate::providers::validate_senders(&senders).map_err(|(_, message)| {
                    SettingsError::Invalid {
                        field: "default_sender_ids",
                        message,
                    }
                })
            })
            .transpose()?;
        let opt_out_exempt_types = self
            .opt_out_exempt_types
            .map(|types| validate_exempt_types(&types))
            .transpose()?;
        Ok(ValidChange {
            name,
            default_sender_ids,
            opt_out_exempt_types,
        })
    }
}

fn may_manage(manager: &Manager) -> Result<(), SettingsError> {
    if permissions::allowed(manager.role, Action::ManageSettings) {
        Ok(())
    } else {
        Err(SettingsError::Forbidden)
    }
}

/// The tenant's settings, for those who may change them.
pub async fn get(pool: &PgPool, manager: &Manager) -> Result<Tenant, SettingsError> {
    may_manage(manager)?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        Ok(tenants::find(c, tenant).await?)
    })
    .await
}

/// Changes the settings and returns them as stored. Every save is audited with the settings
/// it leaves (name, default sender ids, opt-out exemptions), whichever fields it named. The
/// exemptions need no announcement: the group commit reads them in the statement that stores
/// the messages.
pub async fn update(
    pool: &PgPool,
    manager: &Manager,
    change: SettingsChange,
) -> Result<Tenant, SettingsError> {
    may_manage(manager)?;
    let change = change.validate()?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        let current = tenants::find(c, tenant).await?;
        let name = change.name.unwrap_or(current.name);
        let senders = change
            .default_sender_ids
            .unwrap_or(current.default_sender_ids);
        let exempt = change
            .opt_out_exempt_types
            .unwrap_or(current.opt_out_exempt_types);
        let updated = tenants::update_settings(c, tenant, &name, &senders, &exempt).await?;
        audit::record(
            c,
            &manager.actor,
            Some(tenant),
            action::SETTINGS_CHANGED,
            None,
            json!({
                "name": updated.name,
                "default_sender_ids": updated.default_sender_ids,
                "opt_out_exempt_types": updated.opt_out_exempt_types,
            }),
        )
        .await?;
        changes::announce(c, Change::Routes { tenant }).await?;
        Ok(updated)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(change: SettingsChange) -> &'static str {
        match change.validate() {
            Err(SettingsError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_change_is_checked_field_by_field() {
        let valid = SettingsChange {
            name: Some(" Acme ".into()),
            default_sender_ids: Some(vec!["Acme".into(), "+1 415 555 0100".into()]),
            opt_out_exempt_types: Some(vec!["otp".into(), "transactional".into(), "otp".into()]),
        }
        .validate()
        .unwrap();
        assert_eq!(
            valid.opt_out_exempt_types.unwrap(),
            [MessageType::Transactional, MessageType::Otp]
        );
        assert_eq!(valid.name.as_deref(), Some("Acme"));
        assert_eq!(valid.default_sender_ids.unwrap(), ["Acme", "+14155550100"]);
        assert_eq!(SettingsChange::default().validate().unwrap().name, None);
        for name in ["", "   ", "Ac\0me", &"A".repeat(101)] {
            let change = SettingsChange {
                name: Some(name.into()),
                ..Default::default()
            };
            assert_eq!(field_of(change), "name", "{name:?}");
        }
        for senders in [
            vec!["not a valid sender!".to_owned()],
            (0..=MAX_SENDERS).map(|i| format!("Acme{i}")).collect(),
        ] {
            let change = SettingsChange {
                default_sender_ids: Some(senders),
                ..Default::default()
            };
            assert_eq!(field_of(change), "default_sender_ids");
        }
        for types in [
            vec!["marketing"],
            vec!["otp", "promo"],
            vec![""],
            vec![" otp"],
        ] {
            let change = SettingsChange {
                opt_out_exempt_types: Some(types.iter().map(|t| t.to_string()).collect()),
                ..Default::default()
            };
            assert_eq!(field_of(change), "opt_out_exempt_types", "{types:?}");
        }
    }
}
