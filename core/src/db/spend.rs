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

#[derive(Debug, Clone, QueryableByName)]
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
                sum(segments)::int8 AS segments, sum(cost_micros)::int8 AS cost_micros
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
