//! What a tenant's sends are billed and whether it may send: its platform fee per segment and
//! the markup on platform providers' cost on each day (the operator's settings, or the
//! tenant's own override), and whether an unpaid
//! invoice has made it past due. Kept with the tenant's route table, so the accept path reads
//! it from memory; forgotten when the settings change ([`crate::changes::Change::Billing`]) or
//! the tenant's invoices do ([`crate::changes::Change::Routes`]).

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::db::billing::{self, FeeOverride, SettingsVersion};
use crate::domain::{Markup, Money, Period};
use crate::routing::{Fx, Rates};

/// A fee per segment in the tenant's currency, with what it was converted from when the
/// operator's fee is in another currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fee {
    pub micros: i64,
    pub fx: Option<Fx>,
}

/// The platform fee per segment, day by day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeeSchedule {
    /// The operator's versions (from, fee in the tenant's currency, the default markup), oldest
    /// first.
    platform: Vec<(NaiveDate, Fee, Markup)>,
    /// The tenant's overrides (from, fee, markup), oldest first (None: the platform's again);
    /// a tenant's own fee is in its own currency.
    overrides: Vec<(NaiveDate, Option<i64>, Option<Markup>)>,
}

impl FeeSchedule {
    /// The schedule of a tenant billed in `currency`: the operator's fee in another currency
    /// converts at the operator's rate into it, rounded half to even, as prices do. A fee with
    /// no rate is not charged, and said so in the log (the settings, the rates and the tenant's
    /// currency all refuse a change that would leave one).
    pub fn new(
        versions: &[SettingsVersion],
        overrides: &[FeeOverride],
        currency: &str,
        rates: &Rates,
    ) -> FeeSchedule {
        FeeSchedule {
            platform: versions
                .iter()
                .map(|v| {
                    (
                        v.effective_from,
                        convert(v.platform_fee_micros, &v.currency, currency, rates),
                        Markup(v.markup_bps),
                    )
                })
                .collect(),
            overrides: overrides
                .iter()
                .map(|o| {
                    (
                        o.effective_from,
                        o.platform_fee_micros,
                        o.markup_bps.map(Markup),
                    )
                })
                .collect(),
        }
    }

    /// The fee per segment on `day`, in micro-units of the tenant's currency.
    pub fn per_segment(&self, day: NaiveDate) -> i64 {
        self.fee(day).micros
    }

    /// The fee per segment on `day`, in the tenant's currency, with its conversion.
    pub fn fee(&self, day: NaiveDate) -> Fee {
        let Some((_, platform, _)) = self.platform.iter().rev().find(|(d, ..)| *d <= day) else {
            return Fee::default();
        };
        match self.own(day) {
            Some((_, Some(own), _)) => Fee {
                micros: *own,
                fx: None,
            },
            _ => platform.clone(),
        }
    }

    /// The markup on platform providers' cost prices on `day`, where their sell list names no
    /// price: the tenant's own, else the operator's default.
    pub fn markup(&self, day: NaiveDate) -> Markup {
        if let Some((_, _, Some(own))) = self.own(day) {
            return *own;
        }
        self.platform
            .iter()
            .rev()
            .find(|(d, ..)| *d <= day)
            .map_or(Markup(0), |v| v.2)
    }

    /// The tenant's override in force on `day`.
    fn own(&self, day: NaiveDate) -> Option<&(NaiveDate, Option<i64>, Option<Markup>)> {
        self.overrides.iter().rev().find(|(d, ..)| *d <= day)
    }
}

/// The operator's fee per segment `micros` of `from` in the tenant's currency `to`.
fn convert(micros: i64, from: &str, to: &str, rates: &Rates) -> Fee {
    if from == to || micros == 0 {
        return Fee { micros, fx: None };
    }
    let converted = rates
        .get(&(from.to_owned(), to.to_owned()))
        .and_then(|r| r.convert(micros).map(|m| (*r, m)));
    match converted {
        Some((rate, m)) => Fee {
            micros: m,
            fx: Some(Fx {
                currency: from.to_owned(),
                micros,
                rate,
            }),
        },
        None => {
            tracing::warn!(
                from,
                to,
                "no exchange rate for the platform fee; it is not charged"
            );
            Fee::default()
        }
    }
}

/// The unpaid invoice that makes (or will make) a tenant past due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// From this moment on, sends answer 402 `payment_required`.
    pub at: DateTime<Utc>,
    pub period: Period,
    pub total: Money,
    pub hosted_invoice_url: Option<String>,
}

impl Overdue {
    /// What a refused send, the admin app's banner and the API say.
    pub fn sentence(&self) -> String {
        let pay = match &self.hosted_invoice_url {
            Some(url) => format!(" Pay it at {url} to send again."),
            None => " Pay it to send again.".into(),
        };
        format!(
            "Your invoice for {} ({}) is past due.{pay}",
            self.period, self.total
        )
    }
}

/// A tenant's billing terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms {
    pub fees: FeeSchedule,
    pub overdue: Option<Overdue>,
}

impl Terms {
    /// The fee per segment for a message accepted at `now`, with its conversion.
    pub fn fee(&self, now: DateTime<Utc>) -> Fee {
        self.fees.fee(now.date_naive())
    }

    /// The markup on platform providers' cost prices for a message sent at `now`.
    pub fn markup(&self, now: DateTime<Utc>) -> Markup {
        self.fees.markup(now.date_naive())
    }

    /// The invoice that makes the tenant past due at `now`, if one does.
    pub fn past_due(&self, now: DateTime<Utc>) -> Option<&Overdue> {
        self.overdue.as_ref().filter(|o| o.at <= now)
    }
}

/// Reads the tenant's terms (its fee converted at `rates` into its `currency`).
pub async fn load(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    currency: &str,
    rates: &Rates,
) -> diesel::QueryResult<Terms> {
    let versions = billing::settings_versions(conn).await?;
    let overrides = billing::fee_overrides(conn, tenant).await?;
    let overdue = billing::first_overdue(conn, tenant).await?.and_then(|i| {
        Some(Overdue {
            at: i.past_due_at?,
            period: Period::of(i.period),
            total: Money::new(i.total_micros, i.currency),
            hosted_invoice_url: i.hosted_invoice_url,
        })
    });
    Ok(Terms {
        fees: FeeSchedule::new(&versions, &overrides, currency, rates),
        overdue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Rate;

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap()
    }

    fn version(from: &str, fee: i64, currency: &str) -> SettingsVersion {
        SettingsVersion {
            effective_from: day(from),
            platform_fee_micros: fee,
            currency: currency.into(),
            markup_bps: 0,
            grace_days: 14,
            created_at: Utc::now(),
            created_by: None,
        }
    }

    fn own(from: &str, fee: Option<i64>) -> FeeOverride {
        own_terms(from, fee, None)
    }

    fn own_terms(from: &str, fee: Option<i64>, markup: Option<i32>) -> FeeOverride {
        FeeOverride {
            tenant_id: Uuid::nil(),
            effective_from: day(from),
            platform_fee_micros: fee,
            markup_bps: markup,
            created_at: Utc::now(),
            created_by: None,
        }
    }

    #[test]
    fn the_fee_of_a_day_is_the_latest_version_in_force() {
        let versions = [
            version("2026-11-01", 1_000, "USD"),
            version("2026-12-10", 2_000, "USD"),
        ];
        let fees = FeeSchedule::new(&versions, &[], "USD", &Rates::new());
        assert_eq!(fees.per_segment(day("2026-10-31")), 0);
        assert_eq!(fees.per_segment(day("2026-11-01")), 1_000);
        assert_eq!(fees.per_segment(day("2026-12-09")), 1_000);
        assert_eq!(fees.per_segment(day("2026-12-10")), 2_000);
        // A contract price from the 5th to the 20th, then the platform's fee again.
        let overrides = [own("2026-12-05", Some(500)), own("2026-12-20", None)];
        let fees = FeeSchedule::new(&versions, &overrides, "USD", &Rates::new());
        assert_eq!(fees.per_segment(day("2026-12-04")), 1_000);
        assert_eq!(fees.per_segment(day("2026-12-12")), 500);
        assert_eq!(fees.per_segment(day("2026-12-20")), 2_000);
        // A fee in another currency than the tenant's: none without a rate, converted at it
        // (rounded half to even) with what it was converted from; a tenant's own fee is in its
        // own currency.
        assert_eq!(
            FeeSchedule::new(&versions, &[], "EUR", &Rates::new()).fee(day("2026-12-12")),
            Fee::default()
        );
        let rate = Rate::from_e9(912_345_678).unwrap();
        let rates = Rates::from([(("USD".to_owned(), "EUR".to_owned()), rate)]);
        let fees = FeeSchedule::new(&versions, &overrides, "EUR", &rates);
        assert_eq!(
            fees.fee(day("2026-12-04")),
            Fee {
                micros: 912,
                fx: Some(Fx {
                    currency: "USD".into(),
                    micros: 1_000,
                    rate
                })
            }
        );
        assert_eq!(
            fees.fee(day("2026-12-12")),
            Fee {
                micros: 500,
                fx: None
            }
        );
        assert_eq!(fees.per_segment(day("2026-12-20")), 1_825);
    }

    #[test]
    fn a_tenants_own_markup_replaces_the_default_while_in_force() {
        let mut v = version("2026-11-01", 1_000, "USD");
        v.markup_bps = 5_000;
        let versions = [v];
        // 15 % from the 5th, with the platform's fee; from the 20th the default again but
        // its own fee.
        let overrides = [
            own_terms("2026-12-05", None, Some(1_500)),
            own_terms("2026-12-20", Some(700), None),
        ];
        let fees = FeeSchedule::new(&versions, &overrides, "USD", &Rates::new());
        assert_eq!(fees.markup(day("2026-12-04")), Markup(5_000));
        assert_eq!(fees.markup(day("2026-12-05")), Markup(1_500));
        assert_eq!(fees.per_segment(day("2026-12-05")), 1_000);
        assert_eq!(fees.markup(day("2026-12-20")), Markup(5_000));
        assert_eq!(fees.per_segment(day("2026-12-20")), 700);
        // Another tenant's schedule keeps the default.
        let others = FeeSchedule::new(&versions, &[], "USD", &Rates::new());
        assert_eq!(others.markup(day("2026-12-12")), Markup(5_000));
        // Before any settings, a tenant's own markup still applies.
        let alone = FeeSchedule::new(&[], &overrides, "USD", &Rates::new());
        assert_eq!(alone.markup(day("2026-12-12")), Markup(1_500));
        assert_eq!(alone.markup(day("2026-12-01")), Markup(0));
    }
}
