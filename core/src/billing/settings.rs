//! The operator's billing settings — the platform fee per segment, the default markup on
//! platform providers, the grace period of invoices — and tenants' own terms (a contract
//! price: their own fee, their own markup) and billing currency. The one implementation behind
//! `GET|PUT /v1/admin/billing/settings`, `GET|PUT /v1/admin/tenants/{id}/billing`,
//! `PUT /v1/admin/tenants/{id}/currency` and the admin app's billing page: it asks the
//! permission matrix (`ReadBilling`, `ManageBilling`), validates naming the field at fault,
//! and writes, audits and announces the change in one transaction.
//!
//! Every change takes effect from a day, today or later, and is never retroactive: a message
//! keeps the fee of the moment it was accepted, and a version in force is only ever replaced
//! from today on (replacing today's own version changes what the rest of today is charged).

use chrono::{Duration, NaiveDate, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, action};
use crate::changes::{self, Change};
use crate::db::billing::{self as store, FeeOverride, SettingsVersion};
use crate::db::{PgPool, tenants};
use crate::domain::{Markup, Money, TenantId};
use crate::permissions::{self, Action};
use crate::staff::Staff;

/// The grace period before the operator sets one.
pub const DEFAULT_GRACE_DAYS: i32 = 14;
/// The largest fee per segment: 1,000 units of the currency.
pub const MAX_FEE_MICROS: i64 = 1_000_000_000;
/// How far ahead a change may be scheduled.
pub const MAX_DAYS_AHEAD: i64 = 366;

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("No such tenant.")]
    NotFound,
    /// The request is well formed but cannot be done now (a period not over yet, a currency
    /// already billed in); `field` is the one at fault.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        field: &'static str,
        message: String,
    },
    /// Well formed, but an amount would be in a currency with no exchange rate into the one it
    /// must be charged in (the API's 422 `no_exchange_rate`).
    #[error("{message}")]
    NoRate { field: String, message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for BillingError {
    fn from(e: diesel::result::Error) -> Self {
        BillingError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for BillingError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        BillingError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> BillingError {
    BillingError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

pub(crate) fn require(staff: &Staff, action: Action) -> Result<(), BillingError> {
    if permissions::allowed(staff.role, action) {
        Ok(())
    } else {
        Err(BillingError::Forbidden(match action {
            Action::ManageBilling => "Only platform admins can change the billing settings.",
            Action::CloseBillingPeriod => {
                "Only platform admins and billing staff can close a billing period."
            }
            _ => "Only platform admins and billing staff can see billing.",
        }))
    }
}

/// The settings as typed: decimal strings, checked here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsInput {
    pub platform_fee_amount: String,
    pub platform_fee_currency: String,
    pub default_markup_percent: String,
    pub grace_period_days: i64,
    /// None: today.
    pub effective_from: Option<NaiveDate>,
}

/// One version of the settings as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub effective_from: NaiveDate,
    /// Per segment.
    pub platform_fee: Money,
    pub default_markup: Markup,
    pub grace_period_days: i32,
}

impl From<&SettingsVersion> for Version {
    fn from(v: &SettingsVersion) -> Self {
        Version {
            effective_from: v.effective_from,
            platform_fee: Money::new(v.platform_fee_micros, v.currency.clone()),
            default_markup: Markup(v.markup_bps),
            grace_period_days: v.grace_days,
        }
    }
}

/// The settings in force today and the versions scheduled after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// None until the operator sets any: no fee, no markup, the default grace period.
    pub current: Option<Version>,
    pub scheduled: Vec<Version>,
}

impl Settings {
    fn of(versions: &[SettingsVersion], today: NaiveDate) -> Settings {
        Settings {
            current: versions
                .iter()
                .rev()
                .find(|v| v.effective_from <= today)
                .map(Version::from),
            scheduled: versions
                .iter()
                .filter(|v| v.effective_from > today)
                .map(Version::from)
                .collect(),
        }
    }

    /// The grace period in force.
    pub fn grace_days(&self) -> i32 {
        self.current
            .as_ref()
            .map_or(DEFAULT_GRACE_DAYS, |v| v.grace_period_days)
    }
}

fn effective_from(day: Option<NaiveDate>, today: NaiveDate) -> Result<NaiveDate, BillingError> {
    let day = day.unwrap_or(today);
    if day < today {
        return Err(invalid(
            "effective_from",
            "A change takes effect today or later; what was charged before stays as it was.",
        ));
    }
    if day > today + Duration::days(MAX_DAYS_AHEAD) {
        return Err(invalid(
            "effective_from",
            "A change can be scheduled at most a year ahead.",
        ));
    }
    Ok(day)
}

fn fee(amount: &str, field: &'static str) -> Result<i64, BillingError> {
    let micros = Money::parse_amount(amount.trim()).map_err(|e| invalid(field, e.to_string()))?;
    if micros > MAX_FEE_MICROS {
        return Err(invalid(
            field,
            "The platform fee can be at most 1000 per segment.",
        ));
    }
    Ok(micros)
}

impl SettingsInput {
    fn validate(
        &self,
        today: NaiveDate,
        by: Option<Uuid>,
    ) -> Result<SettingsVersion, BillingError> {
        let platform_fee_micros = fee(&self.platform_fee_amount, "platform_fee")?;
        let currency = Money::parse_currency(self.platform_fee_currency.trim())
            .map_err(|e| invalid("platform_fee", e.to_string()))?;
        let markup = Markup::parse(self.default_markup_percent.trim())
            .map_err(|m| invalid("default_markup_percent", m))?;
        if !(1..=365).contains(&self.grace_period_days) {
            return Err(invalid(
                "grace_period_days",
                "The grace period is 1 to 365 days.",
            ));
        }
        Ok(SettingsVersion {
            effective_from: effective_from(self.effective_from, today)?,
            platform_fee_micros,
            currency,
            markup_bps: markup.bps(),
            grace_days: self.grace_period_days as i32,
            created_at: Utc::now(),
            created_by: by,
        })
    }
}

/// The grace period in force today (the default until the operator sets one).
pub(crate) async fn grace_days(
    c: &mut diesel_async::AsyncPgConnection,
) -> diesel::QueryResult<i32> {
    let versions = store::settings_versions(c).await?;
    Ok(Settings::of(&versions, Utc::now().date_naive()).grace_days())
}

/// The currencies tenants are billed in, as the platform's prices are checked against: every
/// tenant's, and that of the settings in force (USD until any are set), distinct and sorted.
pub(crate) async fn billing_currencies(
    c: &mut diesel_async::AsyncPgConnection,
) -> diesel::QueryResult<Vec<String>> {
    let versions = store::settings_versions(c).await?;
    let fee = Settings::of(&versions, Utc::now().date_naive())
        .current
        .map_or_else(|| "USD".to_owned(), |v| v.platform_fee.currency);
    let mut all = store::other_currencies(c, &fee).await?;
    all.push(fee);
    all.sort();
    Ok(all)
}

/// The settings in force and those scheduled (platform admins and billing staff).
pub async fn get(pool: &PgPool, staff: &Staff) -> Result<Settings, BillingError> {
    require(staff, Action::ReadBilling)?;
    let mut conn = pool.get().await?;
    let versions = store::settings_versions(&mut conn).await?;
    Ok(Settings::of(&versions, Utc::now().date_naive()))
}

/// Stores a version of the settings from its day on (platform admins), audited, and announces
/// it to every process (each tenant's fee is kept with its routes).
pub async fn put(
    pool: &PgPool,
    staff: &Staff,
    input: SettingsInput,
) -> Result<Settings, BillingError> {
    require(staff, Action::ManageBilling)?;
    let today = Utc::now().date_naive();
    let version = input.validate(today, staff.actor.id)?;
    let mut conn = pool.get().await?;
    use diesel_async::AsyncConnection;
    conn.transaction(async |c| {
        if version.platform_fee_micros > 0 {
            let rates = super::rates::load(c).await?;
            let unrated: Vec<String> = store::other_currencies(c, &version.currency)
                .await?
                .into_iter()
                .filter(|to| !rates.contains_key(&(version.currency.clone(), to.clone())))
                .collect();
            if !unrated.is_empty() {
                return Err(BillingError::NoRate {
                    field: "platform_fee".into(),
                    message: format!(
                        "Some tenants are billed in {}, and there is no exchange rate from {} \
                         into it: set the rate first, or the fee in their currency.",
                        unrated.join(", "),
                        version.currency
                    ),
                });
            }
        }
        let stored = store::put_settings(c, &version).await?;
        audit::record(
            c,
            &staff.actor,
            None,
            action::BILLING_SETTINGS_CHANGED,
            None,
            json!({
                "effective_from": stored.effective_from.to_string(),
                "platform_fee": Money::new(stored.platform_fee_micros, stored.currency.clone()),
                "default_markup_percent": Markup(stored.markup_bps).to_string(),
                "grace_period_days": stored.grace_days,
            }),
        )
        .await?;
        changes::announce(c, Change::Billing).await?;
        let versions = store::settings_versions(c).await?;
        Ok(Settings::of(&versions, today))
    })
    .await
}

/// A tenant's own terms from a day on, as typed: `amount` None: the platform's fee again;
/// `markup_percent` None: the default markup in force again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideInput {
    pub amount: Option<String>,
    pub markup_percent: Option<String>,
    pub effective_from: Option<NaiveDate>,
}

/// A tenant's billing as staff see it: its currency, the fee per segment and the markup on
/// platform providers in force today, and its overrides (past and scheduled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantBilling {
    pub tenant_id: Uuid,
    pub currency: String,
    pub fee_today: Money,
    pub markup_today: Markup,
    pub overrides: Vec<FeeOverride>,
}

/// One tenant's own terms from a day on, for the billing page's list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantTerms {
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub effective_from: NaiveDate,
    /// None: the platform's fee.
    pub platform_fee: Option<Money>,
    /// None: the default markup.
    pub markup: Option<Markup>,
}

/// Every tenant's own terms, past and scheduled, by tenant name then day (platform admins and
/// billing staff).
pub async fn list_tenant_terms(
    pool: &PgPool,
    staff: &Staff,
) -> Result<Vec<TenantTerms>, BillingError> {
    require(staff, Action::ReadBilling)?;
    let mut conn = pool.get().await?;
    let rows = store::all_overrides(&mut conn).await?;
    Ok(rows
        .into_iter()
        .map(|(tenant_name, currency, o)| TenantTerms {
            tenant_id: o.tenant_id,
            tenant_name,
            effective_from: o.effective_from,
            platform_fee: o.platform_fee_micros.map(|m| Money::new(m, currency)),
            markup: o.markup_bps.map(Markup),
        })
        .collect())
}

async fn tenant_billing(
    c: &mut diesel_async::AsyncPgConnection,
    tenant: Uuid,
) -> Result<TenantBilling, BillingError> {
    let currency = match tenants::find(c, tenant).await {
        Ok(t) => t.currency,
        Err(diesel::NotFound) => return Err(BillingError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let rates = super::rates::load(c).await?;
    let terms = super::terms::load(c, tenant, &currency, &rates).await?;
    let overrides = store::fee_overrides(c, tenant).await?;
    let today = Utc::now().date_naive();
    Ok(TenantBilling {
        tenant_id: tenant,
        fee_today: Money::new(terms.fees.per_segment(today), currency.clone()),
        markup_today: terms.fees.markup(today),
        currency,
        overrides,
    })
}

/// A tenant's fees (platform admins and billing staff).
pub async fn get_tenant(
    pool: &PgPool,
    staff: &Staff,
    tenant: Uuid,
) -> Result<TenantBilling, BillingError> {
    require(staff, Action::ReadBilling)?;
    let mut conn = pool.get().await?;
    tenant_billing(&mut conn, tenant).await
}

/// Sets a tenant's own fee and markup from a day on (platform admins), audited and announced.
pub async fn put_tenant(
    pool: &PgPool,
    staff: &Staff,
    tenant: Uuid,
    input: OverrideInput,
) -> Result<TenantBilling, BillingError> {
    require(staff, Action::ManageBilling)?;
    let today = Utc::now().date_naive();
    let platform_fee_micros = input
        .amount
        .as_deref()
        .map(|a| fee(a, "platform_fee"))
        .transpose()?;
    let markup = input
        .markup_percent
        .as_deref()
        .map(|m| Markup::parse(m.trim()).map_err(|e| invalid("markup_percent", e)))
        .transpose()?;
    let day = effective_from(input.effective_from, today)?;
    let mut conn = pool.get().await?;
    use diesel_async::AsyncConnection;
    conn.transaction(async |c| {
        let currency = tenant_billing(c, tenant).await?.currency;
        store::put_override(
            c,
            &FeeOverride {
                tenant_id: tenant,
                effective_from: day,
                platform_fee_micros,
                markup_bps: markup.map(Markup::bps),
                created_at: Utc::now(),
                created_by: staff.actor.id,
            },
        )
        .await?;
        audit::record(
            c,
            &staff.actor,
            None,
            action::TENANT_FEE_CHANGED,
            Some(TenantId::from(tenant).to_string()),
            json!({
                "effective_from": day.to_string(),
                "platform_fee": platform_fee_micros.map(|m| Money::new(m, currency.clone())),
                "markup_percent": markup.map(|m| m.to_string()),
            }),
        )
        .await?;
        changes::announce(c, Change::Routes { tenant }).await?;
        tenant_billing(c, tenant).await
    })
    .await
}

/// Sets a tenant's billing currency (platform admins), audited and announced. Only while
/// nothing of the tenant is priced in the old one yet: no live message, no invoice, no budget
/// in it (409 `currency_in_use`); and only into a currency every price the tenant may be
/// charged (its own, its platform providers', the operator's fee) converts into (422
/// `no_exchange_rate`). Setting the currency it has already changes nothing.
pub async fn set_currency(
    pool: &PgPool,
    staff: &Staff,
    tenant: Uuid,
    currency: &str,
) -> Result<TenantBilling, BillingError> {
    require(staff, Action::ManageBilling)?;
    let currency =
        Money::parse_currency(currency.trim()).map_err(|e| invalid("currency", e.to_string()))?;
    let mut conn = pool.get().await?;
    use diesel_async::AsyncConnection;
    conn.transaction(async |c| {
        let Some(now) = store::lock_currency(c, tenant).await? else {
            return Err(BillingError::NotFound);
        };
        if now.currency == currency {
            return tenant_billing(c, tenant).await;
        }
        let in_use = |why: String| BillingError::Conflict {
            code: "currency_in_use",
            field: "currency",
            message: why,
        };
        if now.messages || now.invoices {
            return Err(in_use(format!(
                "This tenant has been billed in {} (it has sent live messages or has invoices): \
                 its currency can no longer change.",
                now.currency
            )));
        }
        if let Some(budget) = now.budget.filter(|b| *b != currency) {
            return Err(in_use(format!(
                "Its budget is in {budget}: the tenant removes it, then sets it again in \
                 {currency} once the currency has changed."
            )));
        }
        let rated = super::rates::convertible_into(c, &currency).await?;
        let unrated: Vec<String> = now
            .priced_in
            .into_iter()
            .filter(|p| *p != currency && !rated.contains(p))
            .collect();
        if !unrated.is_empty() {
            return Err(BillingError::NoRate {
                field: "currency".into(),
                message: format!(
                    "Prices this tenant may be charged (its own, platform providers' or the \
                     platform fee) are in {}, with no exchange rate into {currency}: set the \
                     rate first.",
                    unrated.join(", "),
                ),
            });
        }
        store::set_currency(c, tenant, &currency).await?;
        audit::record(
            c,
            &staff.actor,
            None,
            action::TENANT_CURRENCY_CHANGED,
            Some(TenantId::from(tenant).to_string()),
            json!({"from": now.currency, "to": currency}),
        )
        .await?;
        changes::announce(c, Change::Routes { tenant }).await?;
        tenant_billing(c, tenant).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SettingsInput {
        SettingsInput {
            platform_fee_amount: "0.001".into(),
            platform_fee_currency: "usd".into(),
            default_markup_percent: "12.5".into(),
            grace_period_days: 14,
            effective_from: None,
        }
    }

    #[test]
    fn each_mistake_names_its_field() {
        let today: NaiveDate = "2026-12-03".parse().unwrap();
        let ok = input().validate(today, None).unwrap();
        assert_eq!(
            (ok.platform_fee_micros, ok.currency.as_str(), ok.markup_bps),
            (1_000, "USD", 1_250)
        );
        assert_eq!(ok.effective_from, today);
        let field = |i: SettingsInput| match i.validate(today, None) {
            Err(BillingError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut i = input();
        i.platform_fee_amount = "0.0000001".into();
        assert_eq!(field(i), "platform_fee");
        let mut i = input();
        i.platform_fee_amount = "1000.000001".into();
        assert_eq!(field(i), "platform_fee");
        let mut i = input();
        i.platform_fee_currency = "dollars".into();
        assert_eq!(field(i), "platform_fee");
        let mut i = input();
        i.default_markup_percent = "12.345".into();
        assert_eq!(field(i), "default_markup_percent");
        let mut i = input();
        i.grace_period_days = 0;
        assert_eq!(field(i), "grace_period_days");
        let mut i = input();
        i.effective_from = Some("2026-12-02".parse().unwrap());
        assert_eq!(field(i), "effective_from");
        let mut i = input();
        i.effective_from = Some("2028-01-01".parse().unwrap());
        assert_eq!(field(i), "effective_from");
    }

    #[test]
    fn what_is_in_force_and_what_is_scheduled() {
        let v = |d: &str, fee| SettingsVersion {
            effective_from: d.parse().unwrap(),
            platform_fee_micros: fee,
            currency: "USD".into(),
            markup_bps: 0,
            grace_days: 7,
            created_at: Utc::now(),
            created_by: None,
        };
        let versions = [v("2026-11-01", 1), v("2026-12-01", 2), v("2027-01-01", 3)];
        let s = Settings::of(&versions, "2026-12-03".parse().unwrap());
        assert_eq!(s.current.unwrap().platform_fee.micros, 2);
        assert_eq!(s.scheduled.len(), 1);
        assert_eq!(
            Settings::of(&[], "2026-12-03".parse().unwrap()).grace_days(),
            DEFAULT_GRACE_DAYS
        );
    }
}
