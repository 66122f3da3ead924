//! Provider accounts: add, change (credentials and `enabled` included), remove, and replace
//! their price lists (JSON rows or CSV) — a tenant's own (`/v1/providers`, by its members) and
//! the platform's (`/v1/admin/providers`, by platform admins: a cost and a sell price list,
//! offered to every tenant). The one implementation behind the API
//! (`server/src/routes/providers.rs`, `platform_providers.rs`) and the admin app's provider
//! forms (`web/src/forms/providers.rs`),
//! on the model of [`crate::members`]: each operation takes the acting member and what they
//! typed, asks the permission matrix, validates (the first mistake is returned, naming the
//! field as the API names it, with one sentence per mistake), writes in a transaction scoped
//! to the tenant (row-level security; the platform's in a plain one) with its audit record,
//! and announces the change ([`crate::changes`]) so every process forgets the cached routes it
//! touches (the tenant's, or every tenant's for the platform's).
//!
//! It lives here, beside the adapters, because `core::providers` is where the feature is
//! looked for ("how is a provider added" → `core::providers::service`); the wire formats stay
//! in `twilio.rs`, `vonage.rs` and `sandbox.rs`.

use diesel_async::AsyncPgConnection;
use serde_json::json;
use uuid::Uuid;

use super::{Credentials, PriceList, ProviderKind};
use crate::audit::{self, Actor, action};
use crate::changes::{self, Change};
use crate::crypto::Keyring;
use crate::db::providers::Owner;
use crate::db::{self, PgPool, providers, tenants};
use crate::domain::{ProviderId, Role};
use crate::members::Manager;
use crate::permissions::{self, Action};
use crate::prices::{self, PriceCurrencies, PriceEntry, PriceError};
use crate::routing::{Price, RouteProvider};
use crate::staff::Staff;

/// What `max_concurrency` is when none is given (the column's default).
pub const DEFAULT_MAX_CONCURRENCY: i32 = 32;
/// What `receipt_timeout_seconds` is when none is given (the column's default): a day.
pub const DEFAULT_RECEIPT_TIMEOUT_SECONDS: i32 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A field the API names as `name`, `credentials.auth_token`, `sender_ids[2]`, …
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// A price list that does not parse (JSON rows name the entry; CSV the line).
    #[error(transparent)]
    Prices(#[from] PriceError),
    #[error("No such provider.")]
    NotFound,
    #[error("Your role does not allow you to {}.", .0.name())]
    Forbidden(Action),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ProviderError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> ProviderError {
        ProviderError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<diesel::result::Error> for ProviderError {
    fn from(e: diesel::result::Error) -> Self {
        ProviderError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ProviderError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        ProviderError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

/// A new provider as it was typed. No `Debug`: `credentials` holds secrets.
pub struct ProviderInput {
    pub name: String,
    /// `twilio`, `vonage` or `sandbox`.
    pub kind: String,
    /// The kind's credentials object (`{}` or null for the sandbox).
    pub credentials: serde_json::Value,
    pub base_url: Option<String>,
    pub sender_ids: Vec<String>,
    pub max_rate_per_sec: Option<i32>,
    /// None: [`DEFAULT_MAX_CONCURRENCY`].
    pub max_concurrency: Option<i32>,
    /// None: [`DEFAULT_RECEIPT_TIMEOUT_SECONDS`].
    pub receipt_timeout_seconds: Option<i32>,
    pub enabled: bool,
}

/// A change to a provider; `None` leaves a field as it is, `Some(None)` clears a nullable
/// one. No `Debug`: `credentials` holds secrets.
#[derive(Default)]
pub struct ProviderPatch {
    pub name: Option<String>,
    /// Replaces all credentials.
    pub credentials: Option<serde_json::Value>,
    pub base_url: Option<Option<String>>,
    pub sender_ids: Option<Vec<String>>,
    pub max_rate_per_sec: Option<Option<i32>>,
    pub max_concurrency: Option<i32>,
    pub receipt_timeout_seconds: Option<i32>,
    pub enabled: Option<bool>,
}

/// A price list as it came: JSON rows, or CSV with the header
/// `country,message_type,price,currency`.
pub enum PriceInput<'a> {
    Entries(&'a [PriceEntry]),
    Csv(&'a [u8]),
}

/// Who acts, on whose providers: a tenant member on the tenant's own, or platform staff on the
/// platform's.
#[derive(Clone, Copy)]
pub enum Acting<'a> {
    Member(&'a Manager),
    Staff(&'a Staff),
}

impl Acting<'_> {
    pub fn owner(self) -> Owner {
        match self {
            Acting::Member(m) => Owner::Tenant(m.tenant),
            Acting::Staff(_) => Owner::Platform,
        }
    }

    fn tenant(self) -> Option<Uuid> {
        self.owner().tenant()
    }

    fn actor(&self) -> &Actor {
        match self {
            Acting::Member(m) => &m.actor,
            Acting::Staff(s) => &s.actor,
        }
    }

    fn role(self) -> Role {
        match self {
            Acting::Member(m) => m.role,
            Acting::Staff(s) => s.role,
        }
    }

    /// What changing these providers asks of the matrix.
    pub fn manage_action(self) -> Action {
        match self {
            Acting::Member(_) => Action::ManageProviders,
            Acting::Staff(_) => Action::ManagePlatformProviders,
        }
    }

    fn require_manage(self) -> Result<(), ProviderError> {
        let action = self.manage_action();
        if permissions::allowed(self.role(), action) {
            Ok(())
        } else {
            Err(ProviderError::Forbidden(action))
        }
    }

    /// What every process must forget when these providers change.
    pub fn change(self) -> Change {
        match self {
            Acting::Member(m) => Change::Routes { tenant: m.tenant },
            Acting::Staff(_) => Change::Platform,
        }
    }
}

/// Runs `f` in a transaction for `owner`: scoped to the tenant (row-level security), or a plain
/// one for the platform's providers.
async fn in_transaction<R>(
    pool: &PgPool,
    owner: Owner,
    f: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, ProviderError>,
) -> Result<R, ProviderError> {
    let mut conn = pool.get().await?;
    match owner {
        Owner::Tenant(t) => db::scoped(&mut conn, t, f).await,
        Owner::Platform => db::unscoped(&mut conn, f).await,
    }
}

/// `twilio`, `vonage` or `sandbox`.
pub fn parse_kind(kind: &str) -> Result<ProviderKind, ProviderError> {
    ProviderKind::parse(kind.trim()).ok_or_else(|| {
        let kinds: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
        ProviderError::invalid(
            "kind",
            format!("The kind must be one of {}.", kinds.join(", ")),
        )
    })
}

fn name(name: &str) -> Result<String, ProviderError> {
    super::validate_name(name).map_err(|m| ProviderError::invalid("name", m))
}

fn base_url(url: &str) -> Result<String, ProviderError> {
    super::validate_base_url(url).map_err(|m| ProviderError::invalid("base_url", m))
}

fn sender_ids(senders: &[String]) -> Result<Vec<String>, ProviderError> {
    super::validate_senders(senders).map_err(|(i, m)| match i {
        Some(i) => ProviderError::invalid(format!("sender_ids[{i}]"), m),
        None => ProviderError::invalid("sender_ids", m),
    })
}

fn rate(rate: i32) -> Result<i32, ProviderError> {
    super::validate_rate(rate).map_err(|m| ProviderError::invalid("max_rate_per_sec", m))
}

fn concurrency(n: i32) -> Result<i32, ProviderError> {
    super::validate_concurrency(n).map_err(|m| ProviderError::invalid("max_concurrency", m))
}

fn receipt_timeout(seconds: i32) -> Result<i32, ProviderError> {
    super::validate_receipt_timeout(seconds)
        .map_err(|m| ProviderError::invalid("receipt_timeout_seconds", m))
}

fn credentials(
    kind: ProviderKind,
    value: &serde_json::Value,
) -> Result<Credentials, ProviderError> {
    Credentials::from_json(kind, value).map_err(|e| ProviderError::invalid(e.field, e.message))
}

/// A whole number typed into a form for `field` (`max_rate_per_sec`, `max_concurrency` or
/// `receipt_timeout_seconds`):
/// empty is None; anything that is not a number in range gets the same sentence the API gives
/// a number out of range.
pub fn number_from_text(field: &str, text: &str) -> Result<Option<i32>, ProviderError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let check = |n: i32| match field {
        "max_rate_per_sec" => rate(n),
        "receipt_timeout_seconds" => receipt_timeout(n),
        _ => concurrency(n),
    };
    // Not a number, or not an i32: as out of range as 0 is.
    check(text.parse::<i32>().unwrap_or(0)).map(Some)
}

fn target(id: Uuid) -> Option<String> {
    Some(ProviderId::from_uuid(id).to_string())
}

/// `owner`'s providers (deleted ones are gone).
pub async fn list(pool: &PgPool, owner: Owner) -> Result<Vec<providers::Provider>, ProviderError> {
    in_transaction(pool, owner, async |c| Ok(providers::list(c, owner).await?)).await
}

pub async fn find(
    pool: &PgPool,
    owner: Owner,
    id: Uuid,
) -> Result<providers::Provider, ProviderError> {
    in_transaction(pool, owner, async |c| {
        providers::find(c, owner, id)
            .await?
            .ok_or(ProviderError::NotFound)
    })
    .await
}

/// A provider with its price lists: `cost` (a tenant's provider has only this one) and, for a
/// platform provider, `sell`; each ordered by country and message type.
pub struct Priced {
    pub provider: providers::Provider,
    pub cost: Vec<Price>,
    pub sell: Vec<Price>,
}

/// `owner`'s providers with their price lists.
pub async fn list_priced(pool: &PgPool, owner: Owner) -> Result<Vec<Priced>, ProviderError> {
    let rows = in_transaction(pool, owner, async |c| {
        Ok(providers::routing_table(c, owner).await?)
    })
    .await?;
    let sorted = |mut prices: Vec<Price>| {
        prices.sort_by(|a, b| (&a.country, &a.message_type).cmp(&(&b.country, &b.message_type)));
        prices
    };
    Ok(rows
        .into_iter()
        .map(|p| match p.route.platform {
            Some(platform) => Priced {
                provider: p.row,
                cost: sorted(platform.costs),
                sell: sorted(p.route.prices),
            },
            None => Priced {
                provider: p.row,
                cost: sorted(p.route.prices),
                sell: Vec::new(),
            },
        })
        .collect())
}

/// One of a provider's price lists (a tenant's provider has only [`PriceList::Cost`]).
pub async fn prices(
    pool: &PgPool,
    owner: Owner,
    id: Uuid,
    list: PriceList,
) -> Result<Vec<Price>, ProviderError> {
    in_transaction(pool, owner, async |c| {
        if providers::find(c, owner, id).await?.is_none() {
            return Err(ProviderError::NotFound);
        }
        Ok(providers::prices(c, owner, id, list).await?)
    })
    .await
}

/// Adds a provider account; its credentials are sealed under the current master key.
pub async fn create(
    pool: &PgPool,
    keys: &Keyring,
    who: Acting<'_>,
    input: ProviderInput,
) -> Result<providers::Provider, ProviderError> {
    who.require_manage()?;
    let kind = parse_kind(&input.kind)?;
    let name = name(&input.name)?;
    let sealed = credentials(kind, &input.credentials)?.seal(keys);
    let base_url = input.base_url.as_deref().map(base_url).transpose()?;
    let sender_ids = sender_ids(&input.sender_ids)?;
    let max_rate_per_sec = input.max_rate_per_sec.map(rate).transpose()?;
    let max_concurrency = input.max_concurrency.map(concurrency).transpose()?;
    let receipt_timeout_seconds = input
        .receipt_timeout_seconds
        .map(receipt_timeout)
        .transpose()?;
    let new = providers::NewProvider {
        id: Uuid::now_v7(),
        tenant_id: who.tenant(),
        name,
        kind,
        credentials_enc: sealed.ciphertext,
        credentials_key_id: sealed.key_id,
        credentials_mask: sealed.mask,
        base_url,
        sender_ids,
        max_rate_per_sec,
        max_concurrency,
        receipt_timeout_seconds,
        enabled: input.enabled,
    };
    in_transaction(pool, who.owner(), async |c| {
        let row = providers::insert(c, &new).await?;
        audit::record(
            c,
            who.actor(),
            who.tenant(),
            action::PROVIDER_CREATED,
            target(row.id),
            json!({"name": row.name, "kind": row.kind, "enabled": row.enabled}),
        )
        .await?;
        changes::announce(c, who.change()).await?;
        Ok(row)
    })
    .await
}

/// The fields of `patch` that differ from `current`, validated, as the storage change and the
/// names the audit record lists (in this order: name, base_url, sender_ids, max_rate_per_sec,
/// max_concurrency, receipt_timeout_seconds, enabled, credentials). New credentials always count as a change.
fn changes_to(
    current: &providers::Provider,
    patch: ProviderPatch,
    keys: &Keyring,
) -> Result<(providers::ProviderChanges, Vec<&'static str>), ProviderError> {
    let kind = current.kind;
    let name = patch.name.as_deref().map(name).transpose()?;
    let base_url = patch
        .base_url
        .map(|b| b.as_deref().map(base_url).transpose())
        .transpose()?;
    let sender_ids = patch.sender_ids.as_deref().map(sender_ids).transpose()?;
    let max_rate_per_sec = patch
        .max_rate_per_sec
        .map(|r| r.map(rate).transpose())
        .transpose()?;
    let max_concurrency = patch.max_concurrency.map(concurrency).transpose()?;
    let receipt_timeout_seconds = patch
        .receipt_timeout_seconds
        .map(receipt_timeout)
        .transpose()?;
    let sealed = patch
        .credentials
        .as_ref()
        .map(|value| credentials(kind, value).map(|c| c.seal(keys)))
        .transpose()?;

    fn differs<T: PartialEq>(new: Option<T>, old: &T) -> Option<T> {
        new.filter(|v| v != old)
    }
    let mut changes = providers::ProviderChanges {
        name: differs(name, &current.name),
        base_url: differs(base_url, &current.base_url),
        sender_ids: differs(sender_ids, &current.sender_ids),
        max_rate_per_sec: differs(max_rate_per_sec, &current.max_rate_per_sec),
        max_concurrency: differs(max_concurrency, &current.max_concurrency),
        receipt_timeout_seconds: differs(receipt_timeout_seconds, &current.receipt_timeout_seconds),
        enabled: differs(patch.enabled, &current.enabled),
        ..Default::default()
    };
    if let Some(sealed) = sealed {
        changes.credentials_enc = Some(sealed.ciphertext);
        changes.credentials_key_id = Some(sealed.key_id);
        changes.credentials_mask = Some(sealed.mask);
    }
    let changed = [
        ("name", changes.name.is_some()),
        ("base_url", changes.base_url.is_some()),
        ("sender_ids", changes.sender_ids.is_some()),
        ("max_rate_per_sec", changes.max_rate_per_sec.is_some()),
        ("max_concurrency", changes.max_concurrency.is_some()),
        (
            "receipt_timeout_seconds",
            changes.receipt_timeout_seconds.is_some(),
        ),
        ("enabled", changes.enabled.is_some()),
        ("credentials", changes.credentials_enc.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, changed)| changed.then_some(field))
    .collect();
    Ok((changes, changed))
}

/// Changes a provider. Only what differs from the stored values is written and audited (with
/// the list of changed fields); a change that changes nothing writes nothing.
pub async fn update(
    pool: &PgPool,
    keys: &Keyring,
    who: Acting<'_>,
    id: Uuid,
    patch: ProviderPatch,
) -> Result<providers::Provider, ProviderError> {
    who.require_manage()?;
    in_transaction(pool, who.owner(), async |c| {
        let current = providers::find(c, who.owner(), id)
            .await?
            .ok_or(ProviderError::NotFound)?;
        let (changes, changed) = changes_to(&current, patch, keys)?;
        if changed.is_empty() {
            return Ok(current);
        }
        let row = providers::update(c, who.owner(), id, changes)
            .await?
            .ok_or(ProviderError::NotFound)?;
        audit::record(
            c,
            who.actor(),
            who.tenant(),
            action::PROVIDER_UPDATED,
            target(id),
            json!({"changed": changed, "enabled": row.enabled}),
        )
        .await?;
        changes::announce(c, who.change()).await?;
        Ok(row)
    })
    .await
}

/// Removes a provider (past messages keep their record of it).
pub async fn delete(pool: &PgPool, who: Acting<'_>, id: Uuid) -> Result<(), ProviderError> {
    who.require_manage()?;
    in_transaction(pool, who.owner(), async |c| {
        if !providers::delete(c, who.owner(), id).await? {
            return Err(ProviderError::NotFound);
        }
        audit::record(
            c,
            who.actor(),
            who.tenant(),
            action::PROVIDER_DELETED,
            target(id),
            json!({}),
        )
        .await?;
        changes::announce(c, who.change()).await?;
        Ok(())
    })
    .await
}

/// Replaces one of a provider's whole price lists; returns it as stored (countries
/// upper-cased, `*` for any message type). A list that does not parse changes nothing. A
/// tenant's provider has only the [`PriceList::Cost`] list (what its gateway charges the
/// tenant); a platform provider has both.
pub async fn replace_prices(
    pool: &PgPool,
    who: Acting<'_>,
    id: Uuid,
    list: PriceList,
    input: PriceInput<'_>,
) -> Result<Vec<Price>, ProviderError> {
    who.require_manage()?;
    if list == PriceList::Sell && who.owner() != Owner::Platform {
        return Err(ProviderError::NotFound);
    }
    in_transaction(pool, who.owner(), async |c| {
        // The currencies the prices are charged in: the tenant's, or for the platform's every
        // tenant's (and the operator's fee's).
        let billed_in = match who.owner() {
            Owner::Tenant(t) => vec![tenants::find(c, t).await?.currency],
            Owner::Platform => crate::billing::settings::billing_currencies(c).await?,
        };
        let currencies = PriceCurrencies {
            rated: crate::billing::rates::load(c).await?.into_keys().collect(),
            billed_in,
        };
        let prices = match input {
            PriceInput::Entries(entries) => prices::from_entries(entries, &currencies)?,
            // Blank lines or spaces around a pasted list are not rows.
            PriceInput::Csv(body) => prices::from_csv(body.trim_ascii(), &currencies)?,
        };
        if providers::find(c, who.owner(), id).await?.is_none() {
            return Err(ProviderError::NotFound);
        }
        providers::replace_prices(c, who.owner(), id, list, &prices).await?;
        audit::record(
            c,
            who.actor(),
            who.tenant(),
            action::PRICES_CHANGED,
            target(id),
            json!({"entries": prices.len(), "list": list}),
        )
        .await?;
        changes::announce(c, who.change()).await?;
        Ok(prices)
    })
    .await
}

/// The name the sandbox gets when a test message provisions it.
pub const SANDBOX_NAME: &str = "Sandbox";

/// Provisions the built-in sandbox for the tenant, priced at zero everywhere, unless it has
/// an enabled sandbox provider already; returns the tenant's routes as they then are and
/// whether one was added. Runs in the caller's transaction scoped to the tenant; a
/// transaction-level advisory lock makes two test messages at once add one sandbox, not two.
///
/// This is a step of the test send ([`crate::test_send`]), whose permission (sending
/// messages) covers it, as it always has: a developer's first test message adds the sandbox.
pub(crate) async fn provision_sandbox(
    c: &mut AsyncPgConnection,
    keys: &Keyring,
    manager: &Manager,
) -> Result<(Vec<RouteProvider>, bool), ProviderError> {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(hashtextextended('openclaw.sandbox.' || $1, 0))",
    )
    .bind::<diesel::sql_types::Text, _>(manager.tenant.to_string())
    .execute(c)
    .await?;
    let mut routes: Vec<RouteProvider> = providers::routing_table(c, Owner::Tenant(manager.tenant))
        .await?
        .into_iter()
        .map(|p| p.route)
        .collect();
    if routes.iter().any(|r| r.is_sandbox && r.enabled) {
        return Ok((routes, false));
    }
    let currency = tenants::find(c, manager.tenant).await?.currency;
    let sealed = Credentials::Sandbox.seal(keys);
    let row = providers::insert(
        c,
        &providers::NewProvider {
            id: Uuid::now_v7(),
            tenant_id: Some(manager.tenant),
            name: SANDBOX_NAME.into(),
            kind: ProviderKind::Sandbox,
            credentials_enc: sealed.ciphertext,
            credentials_key_id: sealed.key_id,
            credentials_mask: sealed.mask,
            base_url: None,
            sender_ids: Vec::new(),
            max_rate_per_sec: None,
            max_concurrency: None,
            receipt_timeout_seconds: None,
            enabled: true,
        },
    )
    .await?;
    let prices = vec![Price {
        country: "*".into(),
        message_type: "*".into(),
        price_micros: 0,
        currency,
        fx: None,
    }];
    let owner = Owner::Tenant(manager.tenant);
    providers::replace_prices(c, owner, row.id, PriceList::Cost, &prices).await?;
    audit::record(
        c,
        &manager.actor,
        Some(manager.tenant),
        action::PROVIDER_CREATED,
        target(row.id),
        json!({"name": row.name, "kind": row.kind, "enabled": row.enabled, "for": "test message"}),
    )
    .await?;
    changes::announce(
        c,
        Change::Routes {
            tenant: manager.tenant,
        },
    )
    .await?;
    tracing::info!(tenant_id = %manager.tenant, provider_id = %row.id, "added the sandbox provider for a test message");
    routes.push(RouteProvider {
        id: row.id,
        name: row.name,
        is_sandbox: true,
        enabled: true,
        prices,
        platform: None,
    });
    Ok((routes, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_and_message(e: ProviderError) -> (String, String) {
        match e {
            ProviderError::Invalid { field, message } => (field, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kinds_are_named_and_anything_else_is_refused_naming_kind() {
        assert_eq!(parse_kind(" twilio ").unwrap(), ProviderKind::Twilio);
        for kind in ProviderKind::ALL {
            assert_eq!(parse_kind(kind.as_str()).unwrap(), kind);
        }
        for bad in ["pigeon", "", "Twilio"] {
            assert_eq!(
                field_and_message(parse_kind(bad).unwrap_err()),
                (
                    "kind".into(),
                    "The kind must be one of twilio, vonage, sandbox.".into()
                )
            );
        }
    }

    #[test]
    fn numbers_typed_into_a_form_get_the_sentence_of_a_number_out_of_range() {
        assert_eq!(
            number_from_text("max_rate_per_sec", " 50 ").unwrap(),
            Some(50)
        );
        assert_eq!(number_from_text("max_concurrency", "").unwrap(), None);
        let out_of_range = field_and_message(rate(0).unwrap_err());
        for text in ["0", "100001", "fast", "1.5", "99999999999"] {
            assert_eq!(
                field_and_message(number_from_text("max_rate_per_sec", text).unwrap_err()),
                out_of_range,
                "{text}"
            );
        }
        let out_of_range = field_and_message(concurrency(1001).unwrap_err());
        assert_eq!(out_of_range.0, "max_concurrency");
        assert_eq!(
            field_and_message(number_from_text("max_concurrency", "-1").unwrap_err()),
            out_of_range
        );
    }

    #[test]
    fn sender_ids_are_named_by_position() {
        let e = sender_ids(&["Acme".into(), "not a sender!".into()]).unwrap_err();
        assert_eq!(field_and_message(e).0, "sender_ids[1]");
        let e = sender_ids(&vec!["Acme".to_owned(); 101]).unwrap_err();
        assert_eq!(field_and_message(e).0, "sender_ids");
    }
}
