//! The per-tenant daily spend rollup, written by the worker as messages are sent.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Day,
    Provider,
    Country,
    MessageType,
}

/// SQL sums over spend rows `d` joined to their providers `p`: the platform providers' share
/// of the spend (revenue) and its cost to the operator.
const PLATFORM_SUMS: &str =
    "COALESCE(sum(d.cost_micros) FILTER (WHERE p.tenant_id IS NULL), 0)::int8
         AS platform_revenue_micros,
     COALESCE(sum(d.platform_cost_micros), 0)::int8 AS platform_cost_micros";

impl TenantSpend {
    /// Spent through the tenant's own providers (billed to it by its gateways).
    pub fn own_providers_micros(&self) -> i64 {
        self.cost_micros - self.platform_revenue_micros
    }

    pub fn platform_margin_micros(&self) -> i64 {
        self.platform_revenue_micros - self.platform_cost_micros
    }
}

impl CurrencyTotal {
    pub fn own_providers_micros(&self) -> i64 {
        self.cost_micros - self.platform_revenue_micros
    }

    pub fn platform_margin_micros(&self) -> i64 {
        self.platform_revenue_micros - self.platform_cost_micros
    }
}

impl GroupBy {
    /// Every name `parse` takes.
    pub const NAMES: [&'static str; 4] = ["day", "provider", "country", "message_type"];

    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "day" => GroupBy::Day,
            "provider" => GroupBy::Provider,
            "country" => GroupBy::Country,
            "message_type" => GroupBy::MessageType,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            GroupBy::Day => "to_char(day, 'YYYY-MM-DD')",
            GroupBy::Provider => "provider_id::text",
            GroupBy::Country => "country",
            GroupBy::MessageType => "message_type",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct SpendRow {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub messages: i64,
    #[diesel(sql_type = BigInt)]
    pub segments: i64,
    #[diesel(sql_type = BigInt)]
    pub cost_micros: i64,
    /// Platform fees on those messages.
    #[diesel(sql_type = BigInt)]
    pub fee_micros: i64,
}

/// Spend of one tenant between two UTC days (inclusive), grouped, ordered by key.
pub async fn report(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
) -> QueryResult<Vec<SpendRow>> {
    // The column expression comes from a closed enum, never from input.
    let sql = format!(
        "SELECT {col} AS key, currency, sum(messages)::int8 AS messages,
                sum(segments)::int8 AS segments, sum(cost_micros)::int8 AS cost_micros,
                sum(fee_micros)::int8 AS fee_micros
         FROM spend_daily
         WHERE tenant_id = $1 AND day BETWEEN $2 AND $3
         GROUP BY 1, 2 ORDER BY 1, 2",
        col = group_by.column()
    );
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Uuid, _>(tenant_id)
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .load(conn)
        .await
}

/// One tenant's spend in one currency over a period, for platform staff.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TenantSpend {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub tenant_id: Uuid,
    #[diesel(sql_type = Text)]
    pub tenant_name: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub messages: i64,
    #[diesel(sql_type = BigInt)]
    pub segments: i64,
    #[diesel(sql_type = BigInt)]
    pub cost_micros: i64,
    /// Platform fees on those messages.
    #[diesel(sql_type = BigInt)]
    pub fee_micros: i64,
    /// Of `cost_micros`, what was sent through platform providers (their sell price: the
    /// platform's revenue) …
    #[diesel(sql_type = BigInt)]
    pub platform_revenue_micros: i64,
    /// … and what those messages cost the operator.
    #[diesel(sql_type = BigInt)]
    pub platform_cost_micros: i64,
}

/// Messages, segments and spend in one currency.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct CurrencyTotal {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub messages: i64,
    #[diesel(sql_type = BigInt)]
    pub segments: i64,
    #[diesel(sql_type = BigInt)]
    pub cost_micros: i64,
    /// Platform fees on those messages.
    #[diesel(sql_type = BigInt)]
    pub fee_micros: i64,
    /// Of `cost_micros`, what was sent through platform providers (their sell price: the
    /// platform's revenue) …
    #[diesel(sql_type = BigInt)]
    pub platform_revenue_micros: i64,
    /// … and what those messages cost the operator.
    #[diesel(sql_type = BigInt)]
    pub platform_cost_micros: i64,
}

/// What a cross-tenant spend report covers: the days, and optionally one tenant or provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tenant: Option<Uuid>,
    pub provider: Option<Uuid>,
}

/// The spend of up to `limit` tenants (those with any in scope) after tenant `after`, in
/// tenant id order, a line per currency each.
pub async fn by_tenant(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<TenantSpend>> {
    diesel::sql_query(format!(
        "WITH scoped AS (
             SELECT d.* FROM spend_daily d
             WHERE d.day BETWEEN $1 AND $2
               AND ($3::uuid IS NULL OR d.tenant_id = $3)
               AND ($4::uuid IS NULL OR d.provider_id = $4)),
         page AS (
             SELECT DISTINCT tenant_id FROM scoped
             WHERE $5::uuid IS NULL OR tenant_id > $5
             ORDER BY tenant_id LIMIT $6)
         SELECT d.tenant_id, t.name AS tenant_name, d.currency,
                sum(d.messages)::int8 AS messages, sum(d.segments)::int8 AS segments,
                sum(d.cost_micros)::int8 AS cost_micros,
                sum(d.fee_micros)::int8 AS fee_micros, {PLATFORM_SUMS}
         FROM scoped d JOIN page USING (tenant_id) JOIN tenants t ON t.id = d.tenant_id
         JOIN providers p ON p.id = d.provider_id
         GROUP BY d.tenant_id, t.name, d.currency
         ORDER BY d.tenant_id, d.currency",
    ))
    .bind::<Date, _>(scope.from)
    .bind::<Date, _>(scope.to)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(scope.tenant)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(scope.provider)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(after)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// The whole scope's totals, per currency.
pub async fn totals(conn: &mut AsyncPgConnection, scope: Scope) -> QueryResult<Vec<CurrencyTotal>> {
    diesel::sql_query(format!(
        "SELECT d.currency, sum(d.messages)::int8 AS messages,
                sum(d.segments)::int8 AS segments, sum(d.cost_micros)::int8 AS cost_micros,
                sum(d.fee_micros)::int8 AS fee_micros, {PLATFORM_SUMS}
         FROM spend_daily d JOIN providers p ON p.id = d.provider_id
         WHERE d.day BETWEEN $1 AND $2
           AND ($3::uuid IS NULL OR d.tenant_id = $3)
           AND ($4::uuid IS NULL OR d.provider_id = $4)
         GROUP BY d.currency ORDER BY d.currency",
    ))
    .bind::<Date, _>(scope.from)
    .bind::<Date, _>(scope.to)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(scope.tenant)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(scope.provider)
    .load(conn)
    .await
}

/// One day of a cross-tenant report, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DayTotal {
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub messages: i64,
    #[diesel(sql_type = BigInt)]
    pub cost_micros: i64,
    /// Platform fees on those messages.
    #[diesel(sql_type = BigInt)]
    pub fee_micros: i64,
}

/// The scope's spend per day and currency, by day.
pub async fn by_day(conn: &mut AsyncPgConnection, scope: Scope) -> QueryResult<Vec<DayTotal>> {
    diesel::sql_query(
        "SELECT day, currency, sum(messages)::int8 AS messages,
                sum(cost_micros)::int8 AS cost_micros,
                sum(fee_micros)::int8 AS fee_micros
         FROM spend_daily
         WHERE day BETWEEN $1 AND $2
           AND ($3::uuid IS NULL OR tenant_id = $3)
           AND ($4::uuid IS NULL OR provider_id = $4)
         GROUP BY day, currency ORDER BY day, currency",
    )
    .bind::<Date, _>(scope.from)
    .bind::<Date, _>(scope.to)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(scope.tenant)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(scope.provider)
    .load(conn)
    .await
}
