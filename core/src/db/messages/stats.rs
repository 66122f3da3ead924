//! Figures for the dashboard: counts by status and day, and how each provider has done.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::*;
use crate::db::schema::messages;

/// How many of the tenant's messages, created since `since`, are in each status.
pub async fn status_counts(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    since: DateTime<Utc>,
) -> QueryResult<Vec<(Status, i64)>> {
    messages::table
        .filter(messages::tenant_id.eq(tenant_id))
        .filter(messages::created_at.ge(since))
        .group_by(messages::status)
        .select((messages::status, diesel::dsl::count_star()))
        .load(conn)
        .await
}

/// Messages created per UTC day since `since`, oldest first.
pub async fn daily_counts(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    since: DateTime<Utc>,
) -> QueryResult<Vec<(chrono::NaiveDate, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Date)]
        day: chrono::NaiveDate,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
         FROM messages WHERE tenant_id = $1 AND created_at >= $2
         GROUP BY 1 ORDER BY 1",
    )
    .bind::<diesel::sql_types::Uuid, _>(tenant_id)
    .bind::<Timestamptz, _>(since)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.day, r.n)).collect())
}

/// How a provider has done for a tenant since some time: calls, share accepted, latency.
#[derive(Debug, Clone, QueryableByName)]
pub struct ProviderStats {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub provider_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub attempts: i64,
    #[diesel(sql_type = BigInt)]
    pub accepted: i64,
    #[diesel(sql_type = Integer)]
    pub p50_ms: i32,
    #[diesel(sql_type = Integer)]
    pub p95_ms: i32,
}

pub async fn provider_stats(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    since: DateTime<Utc>,
) -> QueryResult<Vec<ProviderStats>> {
    diesel::sql_query(
        "SELECT provider_id, count(*) AS attempts,
                count(*) FILTER (WHERE outcome = $3) AS accepted,
                (percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms))::int4 AS p50_ms,
                (percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::int4 AS p95_ms
         FROM message_attempts WHERE tenant_id = $1 AND started_at >= $2
         GROUP BY provider_id ORDER BY provider_id",
    )
    .bind::<diesel::sql_types::Uuid, _>(tenant_id)
    .bind::<Timestamptz, _>(since)
    .bind::<diesel::sql_types::Text, _>(AttemptOutcome::Accepted)
    .load(conn)
    .await
}
