//! A tenant's monthly budget: a limit in its billing currency, the percentages of it at which
//! alerts are raised, and whether the limit is a hard cap. The one implementation behind
//! `GET|PUT|DELETE /v1/budget` and the admin app's spend page: it asks the permission matrix
//! (`ManageBudget`: owners, admins and billing members), validates naming the field at fault,
//! and writes and audits the change in one transaction scoped to the tenant.
//!
//! Whether the budget is a hard cap is kept with the tenant's route table (announced as
//! [`Change::Routes`]): the accept path reads it there and gives each live message a hold of
//! its worst-case cost, which the group commit checks with [`admit`].
//!
//! The period is the calendar month in UTC; what was spent in it is the sum of the spend
//! ledger ([`crate::db::ledger`]).

use chrono::Utc;
use serde_json::json;

use crate::audit::{self, action};
use crate::changes::{self, Change};
pub use crate::db::alerts::Alert;
use crate::db::budgets::{self, Budget};
use crate::db::messages::{Inserted, NewMessage};
use crate::db::{self, PgPool, ledger, tenants};
use crate::domain::{Money, Period};
use crate::members::Manager;
use crate::permissions::{self, Action};

/// At most this many alert thresholds.
pub const MAX_THRESHOLDS: usize = 10;
/// A threshold is a whole percentage of the limit, 1–1000 (past 100: overspend alerts).
pub const MAX_THRESHOLD: u32 = 1_000;
/// The largest limit: a billion units of the currency.
pub const MAX_LIMIT_MICROS: i64 = 1_000_000_000 * 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("Your role cannot see or change the budget; ask an owner, admin or billing member.")]
    Forbidden,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for BudgetError {
    fn from(e: diesel::result::Error) -> Self {
        BudgetError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for BudgetError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        BudgetError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

/// A budget as a person typed it: the limit as a decimal amount and a currency code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetInput {
    pub amount: String,
    pub currency: String,
    pub alert_thresholds: Vec<u32>,
    pub hard_cap: bool,
}

/// A [`BudgetInput`] that passed validation (the currency still to be compared with the
/// tenant's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidBudget {
    pub limit: Money,
    /// Ascending, distinct.
    pub alert_thresholds: Vec<i32>,
    pub hard_cap: bool,
}

impl BudgetInput {
    /// Checks every field; the first mistake found is named.
    pub fn validate(self) -> Result<ValidBudget, BudgetError> {
        let invalid = |message: String| BudgetError::Invalid {
            field: "monthly_limit",
            message,
        };
        let micros = Money::parse_amount(self.amount.trim()).map_err(|e| invalid(e.to_string()))?;
        if micros > MAX_LIMIT_MICROS {
            return Err(invalid(
                "The monthly limit can be at most 1000000000.".into(),
            ));
        }
        let currency =
            Money::parse_currency(self.currency.trim()).map_err(|e| invalid(e.to_string()))?;
        let thresholds = |message: &str| BudgetError::Invalid {
            field: "alert_thresholds",
            message: message.into(),
        };
        if self.alert_thresholds.len() > MAX_THRESHOLDS {
            return Err(thresholds("Give at most 10 alert thresholds."));
        }
        if self
            .alert_thresholds
            .iter()
            .any(|&t| t == 0 || t > MAX_THRESHOLD)
        {
            return Err(thresholds(
                "Each alert threshold is a whole percentage of the limit, from 1 to 1000.",
            ));
        }
        let mut sorted: Vec<i32> = self.alert_thresholds.iter().map(|&t| t as i32).collect();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.alert_thresholds.len() {
            return Err(thresholds("Give each alert threshold once."));
        }
        Ok(ValidBudget {
            limit: Money::new(micros, currency),
            alert_thresholds: sorted,
            hard_cap: self.hard_cap,
        })
    }
}

/// The budget (if one is set) and what was spent against it this month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub budget: Option<Budget>,
    pub period: Period,
    /// Spent this period, in the tenant's billing currency.
    pub spent: Money,
}

impl Standing {
    /// What is left of the limit (never below zero); None without a budget.
    pub fn remaining(&self) -> Option<Money> {
        self.budget.as_ref().map(|b| {
            Money::new(
                (b.monthly_limit_micros - self.spent.micros).max(0),
                b.currency.clone(),
            )
        })
    }
}

fn may_manage(manager: &Manager) -> Result<(), BudgetError> {
    if permissions::allowed(manager.role, Action::ManageBudget) {
        Ok(())
    } else {
        Err(BudgetError::Forbidden)
    }
}

/// The tenant's budget and this month's spend, read in a transaction already scoped to the
/// tenant (for pages that checked who may see it).
pub async fn standing_of(
    c: &mut diesel_async::AsyncPgConnection,
    tenant: uuid::Uuid,
) -> Result<Standing, BudgetError> {
    let budget = budgets::find(c, tenant).await?;
    standing(c, tenant, budget).await
}

async fn standing(
    c: &mut diesel_async::AsyncPgConnection,
    tenant: uuid::Uuid,
    budget: Option<Budget>,
) -> Result<Standing, BudgetError> {
    let currency = tenants::find(c, tenant).await?.currency;
    let period = Period::of(Utc::now().date_naive());
    let spent = ledger::spent(c, tenant, period, &currency).await?;
    Ok(Standing {
        budget,
        period,
        spent: Money::new(spent, currency),
    })
}

/// The tenant's budget and this month's spend.
pub async fn get(pool: &PgPool, manager: &Manager) -> Result<Standing, BudgetError> {
    may_manage(manager)?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| standing_of(c, tenant).await).await
}

/// Sets the budget (replacing any), audited with what it sets; the limit must be in the
/// tenant's billing currency.
pub async fn put(
    pool: &PgPool,
    manager: &Manager,
    input: BudgetInput,
) -> Result<Standing, BudgetError> {
    may_manage(manager)?;
    let valid = input.validate()?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        let currency = tenants::find(c, tenant).await?.currency;
        if valid.limit.currency != currency {
            return Err(BudgetError::Invalid {
                field: "monthly_limit",
                message: format!("The budget is kept in the billing currency, {currency}."),
            });
        }
        let budget = budgets::put(
            c,
            tenant,
            valid.limit.micros,
            &currency,
            &valid.alert_thresholds,
            valid.hard_cap,
        )
        .await?;
        audit::record(
            c,
            &manager.actor,
            Some(tenant),
            action::BUDGET_CHANGED,
            None,
            json!({
                "monthly_limit": Money::new(budget.monthly_limit_micros, budget.currency.clone()),
                "alert_thresholds": budget.alert_thresholds,
                "hard_cap": budget.hard_cap,
            }),
        )
        .await?;
        // Whether sends hold their cost is kept with the tenant's routes.
        changes::announce(c, Change::Routes { tenant }).await?;
        standing(c, tenant, Some(budget)).await
    })
    .await
}

/// Removes the budget (no limit, no alerts); audited when there was one. Whether there was.
pub async fn remove(pool: &PgPool, manager: &Manager) -> Result<bool, BudgetError> {
    may_manage(manager)?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        let removed = budgets::delete(c, tenant).await?;
        if removed {
            audit::record(
                c,
                &manager.actor,
                Some(tenant),
                action::BUDGET_REMOVED,
                None,
                json!({}),
            )
            .await?;
            changes::announce(c, Change::Routes { tenant }).await?;
        }
        Ok(removed)
    })
    .await
}

/// The tenant's budget alerts, newest first (older than alert `before` when given).
pub async fn alerts(
    pool: &PgPool,
    manager: &Manager,
    before: Option<uuid::Uuid>,
    limit: i64,
) -> Result<Vec<Alert>, BudgetError> {
    may_manage(manager)?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        Ok(db::alerts::list(c, tenant, before, limit).await?)
    })
    .await
}

/// What a refused send is told (`budget_exceeded`, 402): the month's hard cap, and what is left.
pub fn over_budget_sentence(remaining: &Money) -> String {
    format!(
        "This message could take the month past its budget, a hard cap; {remaining} remains. \
         Raise the monthly limit or wait for next month."
    )
}

/// The check of hard-capped budgets inside a transaction, for the commits that store rows with
/// more in the same transaction (a batch and its idempotent answer) and for a group commit
/// whose one-statement insert ([`crate::db::messages::insert_capped`]) Postgres refused: locks
/// the budget rows of the tenants whose rows ask for a hold (in tenant order, so concurrent commits cannot
/// deadlock), reads what each month has left after the lock (the ledger's spend, from its
/// daily sums, and the holds of messages on their way, so a commit that held the lock before
/// is seen), and admits rows in order while their hold fits. Per row: None to insert it (with its hold, or without one if
/// the tenant's budget is no longer a hard cap), or [`Inserted::OverBudget`] with what is left.
pub async fn admit(
    c: &mut diesel_async::AsyncPgConnection,
    rows: &mut [NewMessage],
) -> diesel::QueryResult<Vec<Option<Inserted>>> {
    use diesel::sql_types::{Array, BigInt, Date, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Room {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        tenant_id: uuid::Uuid,
        #[diesel(sql_type = Text)]
        currency: String,
        #[diesel(sql_type = BigInt)]
        room: i64,
    }
    let mut tenants: Vec<uuid::Uuid> = rows
        .iter()
        .filter(|r| r.hold_micros.is_some())
        .map(|r| r.tenant_id)
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    if tenants.is_empty() {
        return Ok(rows.iter().map(|_| None).collect());
    }
    let period = Period::of(Utc::now().date_naive());
    // The same function as the one-statement commit's: it locks the budgets, then reads in a
    // statement of its own (a new snapshot: it sees every hold and release committed before
    // the lock was ours) what each month has left, from a few rows per tenant whatever the
    // number of messages on their way.
    let rooms: Vec<Room> =
        diesel::sql_query("SELECT tenant_id, currency, room FROM budget_room($1, $2, $3)")
            .bind::<Array<diesel::sql_types::Uuid>, _>(&tenants)
            .bind::<Date, _>(period.first_day())
            .bind::<Date, _>(period.last_day())
            .load(c)
            .await?;
    let mut left: std::collections::HashMap<uuid::Uuid, (i64, String)> = rooms
        .into_iter()
        .map(|r| (r.tenant_id, (r.room, r.currency)))
        .collect();
    Ok(rows
        .iter_mut()
        .map(|row| {
            let hold = row.hold_micros?;
            let Some((room, currency)) = left.get_mut(&row.tenant_id) else {
                // No longer a hard cap: nothing to hold.
                row.hold_micros = None;
                return None;
            };
            if hold <= *room {
                *room -= hold;
                None
            } else {
                Some(Inserted::OverBudget {
                    remaining_micros: (*room).max(0),
                    currency: currency.clone(),
                })
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(amount: &str, thresholds: &[u32]) -> BudgetInput {
        BudgetInput {
            amount: amount.into(),
            currency: "usd".into(),
            alert_thresholds: thresholds.to_vec(),
            hard_cap: true,
        }
    }

    fn field_of(input: BudgetInput) -> &'static str {
        match input.validate() {
            Err(BudgetError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_budget_is_checked_field_by_field() {
        let valid = input(" 100.50 ", &[100, 50, 80]).validate().unwrap();
        assert_eq!(valid.limit, Money::new(100_500_000, "USD"));
        assert_eq!(valid.alert_thresholds, [50, 80, 100]);
        assert!(valid.hard_cap);
        assert_eq!(input("0", &[]).validate().unwrap().limit.micros, 0);
        assert_eq!(
            input("1000000000", &[1, 1000])
                .validate()
                .unwrap()
                .limit
                .micros,
            MAX_LIMIT_MICROS
        );
        for amount in [
            "",
            "-1",
            "1e3",
            "0.0000001",
            "1000000000.000001",
            "abc",
            "1,5",
        ] {
            assert_eq!(
                field_of(input(amount, &[50])),
                "monthly_limit",
                "{amount:?}"
            );
        }
        let mut bad_currency = input("10", &[]);
        bad_currency.currency = "dollars".into();
        assert_eq!(field_of(bad_currency), "monthly_limit");
        for thresholds in [
            vec![0],
            vec![1001],
            vec![50, 50],
            (1..=11).collect::<Vec<u32>>(),
        ] {
            assert_eq!(
                field_of(input("10", &thresholds)),
                "alert_thresholds",
                "{thresholds:?}"
            );
        }
    }

    #[test]
    fn what_remains_never_goes_below_zero() {
        let budget = |limit| Budget {
            tenant_id: uuid::Uuid::nil(),
            monthly_limit_micros: limit,
            currency: "USD".into(),
            alert_thresholds: vec![],
            hard_cap: false,
            updated_at: Utc::now(),
        };
        let period = Period::parse("2026-12").unwrap();
        let standing = |b| Standing {
            budget: b,
            period,
            spent: Money::new(70, "USD"),
        };
        assert_eq!(
            standing(Some(budget(100))).remaining(),
            Some(Money::new(30, "USD"))
        );
        assert_eq!(
            standing(Some(budget(50))).remaining(),
            Some(Money::new(0, "USD"))
        );
        assert_eq!(standing(None).remaining(), None);
    }
}
