//! The operator's exchange rates: a tenant is billed in one currency, and a price its provider
//! list gives in another converts at the rate the operator sets from that currency into the
//! tenant's. The one implementation behind `GET|PUT /v1/admin/exchange-rates` and the admin
//! app's billing page: it asks the permission matrix (`ReadBilling`, `ManageBilling`),
//! validates the whole list naming the entry at fault, and writes, audits (with what changed)
//! and announces the change in one transaction.
//!
//! A change applies to what is sent from then on (every process forgets its route tables, which
//! hold the converted prices); what was charged keeps its rate, stored with the message's cost
//! and on its ledger entry. A rate that some tenant's prices need cannot be removed: those
//! prices could no longer be charged (a price with no rate is refused at upload too,
//! [`crate::prices`]).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::settings::{BillingError, invalid, require};
use crate::audit::{self, action};
use crate::changes::{self, Change};
use crate::db::PgPool;
use crate::db::billing::{self as store, ExchangeRateRow};
use crate::domain::{Money, Rate};
use crate::permissions::Action;
use crate::routing::Rates;
use crate::staff::Staff;

/// At most this many rates.
pub const MAX_RATES: usize = 500;

/// A rate as typed: `1 from = rate to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateInput {
    pub from: String,
    pub to: String,
    pub rate: String,
}

/// A rate as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRate {
    pub from: String,
    pub to: String,
    pub rate: Rate,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

impl From<ExchangeRateRow> for ExchangeRate {
    fn from(r: ExchangeRateRow) -> Self {
        ExchangeRate {
            from: r.from_currency,
            to: r.to_currency,
            // The column's CHECK keeps it in range.
            rate: Rate::from_e9(r.rate_e9)
                .unwrap_or_else(|| panic!("exchange_rates.rate_e9 {} out of range", r.rate_e9)),
            updated_at: r.updated_at,
            updated_by: r.updated_by,
        }
    }
}

/// Where an entry came from: `rates[2]` of a JSON list, or line 3 of a form's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Json,
    Lines,
}

impl Source {
    fn at(self, i: usize) -> String {
        match self {
            Source::Json => format!("rates[{i}]"),
            Source::Lines => format!("Line {}", i + 1),
        }
    }

    fn field(self, i: usize, f: &str) -> String {
        match self {
            Source::Json => format!("rates[{i}].{f}"),
            Source::Lines => "rates".into(),
        }
    }
}

/// Checks the whole list: currencies, rates, no pair twice or to itself.
fn validate(input: &[RateInput], src: Source) -> Result<Vec<(String, String, Rate)>, BillingError> {
    if input.len() > MAX_RATES {
        return Err(invalid("rates", format!("At most {MAX_RATES} rates.")));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(input.len());
    for (i, r) in input.iter().enumerate() {
        let (at, field) = (src.at(i), |f: &str| src.field(i, f));
        let from = Money::parse_currency(r.from.trim())
            .map_err(|e| invalid(field("from"), format!("{at}: {e}")))?;
        let to = Money::parse_currency(r.to.trim())
            .map_err(|e| invalid(field("to"), format!("{at}: {e}")))?;
        if from == to {
            return Err(invalid(
                field("to"),
                format!("{at}: a rate converts between two currencies, not {from} to itself."),
            ));
        }
        let rate =
            Rate::parse(r.rate.trim()).map_err(|m| invalid(field("rate"), format!("{at}: {m}")))?;
        if !seen.insert((from.clone(), to.clone())) {
            return Err(invalid(
                "rates",
                format!("{at}: the rate from {from} to {to} is listed twice."),
            ));
        }
        out.push((from, to, rate));
    }
    Ok(out)
}

/// The admin app's text: one rate per line, `from,to,rate` (`EUR,USD,1.0845`); blank lines
/// are not rates.
pub fn from_lines(text: &str) -> Result<Vec<RateInput>, BillingError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split(',').map(str::trim).collect();
        let [from, to, rate] = parts[..] else {
            return Err(invalid(
                "rates",
                format!(
                    "Line {}: write a rate as from,to,rate, like EUR,USD,1.0845.",
                    i + 1
                ),
            ));
        };
        out.push(RateInput {
            from: from.into(),
            to: to.into(),
            rate: rate.into(),
        });
    }
    Ok(out)
}

/// The rates as [`from_lines`] reads them.
pub fn to_lines(rates: &[ExchangeRate]) -> String {
    rates
        .iter()
        .map(|r| format!("{},{},{}\n", r.from, r.to, r.rate))
        .collect()
}

/// Every rate (platform admins and billing staff).
pub async fn list(pool: &PgPool, staff: &Staff) -> Result<Vec<ExchangeRate>, BillingError> {
    require(staff, Action::ReadBilling)?;
    let mut conn = pool.get().await?;
    Ok(store::exchange_rates(&mut conn)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The rates as routing converts with them.
pub(crate) async fn load(c: &mut diesel_async::AsyncPgConnection) -> diesel::QueryResult<Rates> {
    Ok(store::exchange_rates(c)
        .await?
        .into_iter()
        .map(ExchangeRate::from)
        .map(|r| ((r.from, r.to), r.rate))
        .collect())
}

/// The currencies with a rate into `to`: what a tenant billed in `to` may price in besides.
pub(crate) async fn convertible_into(
    c: &mut diesel_async::AsyncPgConnection,
    to: &str,
) -> diesel::QueryResult<Vec<String>> {
    Ok(store::exchange_rates(c)
        .await?
        .into_iter()
        .filter(|r| r.to_currency == to)
        .map(|r| r.from_currency)
        .collect())
}

/// Replaces the whole list (platform admins), audited with what was added, changed and
/// removed, and announced to every process. Removing a rate that tenants' prices or the
/// platform fee are in is refused, naming the pair (and how many prices need it).
pub async fn put(
    pool: &PgPool,
    staff: &Staff,
    input: &[RateInput],
) -> Result<Vec<ExchangeRate>, BillingError> {
    require(staff, Action::ManageBilling)?;
    replace(pool, staff, input, Source::Json).await
}

/// [`put`] from the admin app's text ([`from_lines`]): mistakes name the line. The role is
/// asked before the text is read.
pub async fn put_lines(
    pool: &PgPool,
    staff: &Staff,
    text: &str,
) -> Result<Vec<ExchangeRate>, BillingError> {
    require(staff, Action::ManageBilling)?;
    replace(pool, staff, &from_lines(text)?, Source::Lines).await
}

/// The write both doors share, once the caller may manage billing.
async fn replace(
    pool: &PgPool,
    staff: &Staff,
    input: &[RateInput],
    src: Source,
) -> Result<Vec<ExchangeRate>, BillingError> {
    let rates = validate(input, src)?;
    let mut conn = pool.get().await?;
    use diesel_async::AsyncConnection;
    conn.transaction(async |c| {
        let before: BTreeMap<(String, String), i64> = store::exchange_rates(c)
            .await?
            .into_iter()
            .map(|r| ((r.from_currency, r.to_currency), r.rate_e9))
            .collect();
        let after: BTreeMap<(String, String), i64> = rates
            .iter()
            .map(|(f, t, r)| ((f.clone(), t.clone()), r.e9()))
            .collect();
        let shown = |e9: i64| Rate::from_e9(e9).map(|r| r.to_string());
        let mut changed = Vec::new();
        for ((from, to), old) in &before {
            match after.get(&(from.clone(), to.clone())) {
                Some(new) if new == old => {}
                Some(new) => changed.push(json!({
                    "from": from, "to": to, "was": shown(*old), "rate": shown(*new),
                })),
                None => {
                    if store::fee_needs_rate(c, from, to).await? {
                        return Err(invalid(
                            "rates",
                            format!(
                                "The platform fee is in {from} and some tenants are billed in \
                                 {to}: keep the rate from {from} to {to} while the fee is in \
                                 {from}."
                            ),
                        ));
                    }
                    let needed = store::prices_in(c, from, to).await?;
                    if needed > 0 {
                        return Err(invalid(
                            "rates",
                            format!(
                                "{needed} price{} of tenants billed in {to} {} in {from}: keep \
                                 the rate from {from} to {to} until they are priced in {to}.",
                                if needed == 1 { "" } else { "s" },
                                if needed == 1 { "is" } else { "are" },
                            ),
                        ));
                    }
                    changed.push(json!({"from": from, "to": to, "was": shown(*old), "rate": null}));
                }
            }
        }
        for ((from, to), new) in &after {
            if !before.contains_key(&(from.clone(), to.clone())) {
                changed.push(json!({"from": from, "to": to, "was": null, "rate": shown(*new)}));
            }
        }
        let rows: Vec<(String, String, i64)> = rates
            .iter()
            .map(|(f, t, r)| (f.clone(), t.clone(), r.e9()))
            .collect();
        let stored = store::replace_exchange_rates(c, &rows, staff.actor.id).await?;
        if !changed.is_empty() {
            audit::record(
                c,
                &staff.actor,
                None,
                action::EXCHANGE_RATES_CHANGED,
                None,
                json!({"changes": changed}),
            )
            .await?;
            changes::announce(c, Change::Billing).await?;
        }
        Ok(stored.into_iter().map(Into::into).collect())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(from: &str, to: &str, rate: &str) -> RateInput {
        RateInput {
            from: from.into(),
            to: to.into(),
            rate: rate.into(),
        }
    }

    fn field(input: &[RateInput]) -> String {
        match validate(input, Source::Json) {
            Err(BillingError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_list_is_checked_as_a_whole_naming_the_entry() {
        let ok = validate(
            &[rate("eur", "USD", "1.0845"), rate("USD", "EUR", "0.9221")],
            Source::Json,
        )
        .unwrap();
        assert_eq!(ok[0].0, "EUR");
        assert_eq!(ok[0].2, Rate::parse("1.0845").unwrap());
        assert_eq!(
            field(&[rate("EUR", "USD", "1"), rate("EURO", "USD", "1")]),
            "rates[1].from"
        );
        assert_eq!(field(&[rate("EUR", "US", "1")]), "rates[0].to");
        assert_eq!(field(&[rate("EUR", "EUR", "1")]), "rates[0].to");
        assert_eq!(field(&[rate("EUR", "USD", "0")]), "rates[0].rate");
        assert_eq!(field(&[rate("EUR", "USD", "1.1e2")]), "rates[0].rate");
        assert_eq!(
            field(&[rate("EUR", "USD", "1"), rate("eur", "usd", "2")]),
            "rates"
        );
        let many: Vec<RateInput> = (0..=MAX_RATES).map(|_| rate("EUR", "USD", "1")).collect();
        assert_eq!(field(&many), "rates");
    }

    #[test]
    fn the_admin_apps_lines_read_back_and_name_the_line() {
        let read = from_lines("EUR, USD, 1.0845\n\n gbp,usd,1.27 \n").unwrap();
        assert_eq!(
            read,
            vec![rate("EUR", "USD", "1.0845"), rate("gbp", "usd", "1.27")]
        );
        match from_lines("EUR,USD,1\nEUR USD 2\n") {
            Err(BillingError::Invalid { field, message }) => {
                assert_eq!(field, "rates");
                assert!(message.starts_with("Line 2:"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match validate(
            &[rate("EUR", "USD", "1"), rate("EUR", "USD", "-1")],
            Source::Lines,
        ) {
            Err(BillingError::Invalid { field, message }) => {
                assert_eq!(field, "rates");
                assert!(message.starts_with("Line 2:"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let stored = ExchangeRate {
            from: "EUR".into(),
            to: "USD".into(),
            rate: Rate::parse("1.0845").unwrap(),
            updated_at: Utc::now(),
            updated_by: None,
        };
        assert_eq!(to_lines(&[stored]), "EUR,USD,1.0845\n");
    }
}
