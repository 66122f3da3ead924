//! Budget alerts (see the migration `budget_alerts`): which thresholds the month's spend has
//! reached and not yet raised, raising them with their mail jobs, and reading them.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::budget_alerts;
use crate::domain::{JobKind, Period};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = budget_alerts)]
pub struct Alert {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The first day of the month it belongs to.
    pub period: NaiveDate,
    /// The percentage of the limit reached.
    pub threshold: i32,
    pub monthly_limit_micros: i64,
    pub spent_micros: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// A threshold some tenant's spend has reached this period with no alert raised for it yet.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Due {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub tenant_id: Uuid,
    #[diesel(sql_type = Integer)]
    pub threshold: i32,
    #[diesel(sql_type = BigInt)]
    pub monthly_limit_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub spent_micros: i64,
    #[diesel(sql_type = Text)]
    pub currency: String,
}

/// Every tenant's thresholds reached in `period` and not yet raised (read only; the sums come
/// from `spend_daily`, the ledger's rollup, in the budget's currency). A limit of zero is
/// reached by the first spend.
pub async fn due(conn: &mut AsyncPgConnection, period: Period) -> QueryResult<Vec<Due>> {
    diesel::sql_query(
        "SELECT b.tenant_id, t.threshold, b.monthly_limit_micros, s.spent AS spent_micros,
                b.currency
         FROM budgets b
         CROSS JOIN LATERAL (
             SELECT COALESCE(sum(d.cost_micros + d.fee_micros), 0)::int8 AS spent FROM spend_daily d
             WHERE d.tenant_id = b.tenant_id AND d.day BETWEEN $1 AND $2
               AND d.currency = b.currency) s
         CROSS JOIN LATERAL unnest(b.alert_thresholds) AS t(threshold)
         WHERE s.spent > 0
           AND s.spent::numeric * 100 >= b.monthly_limit_micros::numeric * t.threshold
           AND NOT EXISTS (SELECT 1 FROM budget_alerts a
                           WHERE a.tenant_id = b.tenant_id AND a.period = $1
                             AND a.threshold = t.threshold)
         ORDER BY b.tenant_id, t.threshold",
    )
    .bind::<Date, _>(period.first_day())
    .bind::<Date, _>(period.last_day())
    .load(conn)
    .await
}

/// Raises these alerts of one tenant's period, each with its mail job, in the caller's
/// transaction; one raised already (by another worker) is skipped. Returns those raised.
pub async fn raise(
    conn: &mut AsyncPgConnection,
    period: Period,
    due: &[Due],
) -> QueryResult<Vec<Alert>> {
    let mut raised = Vec::with_capacity(due.len());
    for d in due {
        let alert = diesel::insert_into(budget_alerts::table)
            .values((
                budget_alerts::id.eq(Uuid::now_v7()),
                budget_alerts::tenant_id.eq(d.tenant_id),
                budget_alerts::period.eq(period.first_day()),
                budget_alerts::threshold.eq(d.threshold),
                budget_alerts::monthly_limit_micros.eq(d.monthly_limit_micros),
                budget_alerts::spent_micros.eq(d.spent_micros),
                budget_alerts::currency.eq(&d.currency),
            ))
            .on_conflict_do_nothing()
            .returning(Alert::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        if let Some(alert) = alert {
            super::jobs::enqueue(conn, JobKind::BudgetAlertMail, alert.id).await?;
            raised.push(alert);
        }
    }
    Ok(raised)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Alert>> {
    budget_alerts::table
        .find(id)
        .select(Alert::as_select())
        .first(conn)
        .await
        .optional()
}

/// The tenant's alerts, newest first, older than `before` when given.
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Alert>> {
    let mut query = budget_alerts::table
        .filter(budget_alerts::tenant_id.eq(tenant))
        .select(Alert::as_select())
        .order(budget_alerts::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(budget_alerts::id.lt(before));
    }
    query.load(conn).await
}

/// The tenant's newest alert of `period`, if any (the admin app's banner).
pub async fn latest(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    period: Period,
) -> QueryResult<Option<Alert>> {
    budget_alerts::table
        .filter(budget_alerts::tenant_id.eq(tenant))
        .filter(budget_alerts::period.eq(period.first_day()))
        .select(Alert::as_select())
        .order(budget_alerts::threshold.desc())
        .first(conn)
        .await
        .optional()
}
