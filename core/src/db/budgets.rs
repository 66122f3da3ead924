//! Tenants' monthly budgets (one row per tenant that set one).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::budgets;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = budgets)]
pub struct Budget {
    pub tenant_id: Uuid,
    pub monthly_limit_micros: i64,
    pub currency: String,
    /// Percentages of the limit, ascending.
    pub alert_thresholds: Vec<i32>,
    pub hard_cap: bool,
    pub updated_at: DateTime<Utc>,
}

pub async fn find(conn: &mut AsyncPgConnection, tenant: Uuid) -> QueryResult<Option<Budget>> {
    budgets::table
        .filter(budgets::tenant_id.eq(tenant))
        .select(Budget::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whether the tenant's budget is a hard cap (none: no).
pub async fn is_hard_cap(conn: &mut AsyncPgConnection, tenant: Uuid) -> QueryResult<bool> {
    Ok(find(conn, tenant).await?.is_some_and(|b| b.hard_cap))
}

/// Sets the tenant's budget, replacing the one it had.
pub async fn put(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    monthly_limit_micros: i64,
    currency: &str,
    alert_thresholds: &[i32],
    hard_cap: bool,
) -> QueryResult<Budget> {
    let values = (
        budgets::tenant_id.eq(tenant),
        budgets::monthly_limit_micros.eq(monthly_limit_micros),
        budgets::currency.eq(currency),
        budgets::alert_thresholds.eq(alert_thresholds),
        budgets::hard_cap.eq(hard_cap),
        budgets::updated_at.eq(diesel::dsl::now),
    );
    diesel::insert_into(budgets::table)
        .values(values)
        .on_conflict(budgets::tenant_id)
        .do_update()
        .set(values)
        .returning(Budget::as_returning())
        .get_result(conn)
        .await
}

/// Removes the tenant's budget; whether it had one.
pub async fn delete(conn: &mut AsyncPgConnection, tenant: Uuid) -> QueryResult<bool> {
    diesel::delete(budgets::table.filter(budgets::tenant_id.eq(tenant)))
        .execute(conn)
        .await
        .map(|n| n > 0)
}
