//! The spend ledger: one row per priced event (see the migration `spend_ledger`). Rows are
//! written only by the statements that change a message's status ([`super::messages`]); this
//! module reads them and checks the rollup derived from them.

use chrono::NaiveDate;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Date, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::domain::Period;

/// Messages, segments and micro-units of one currency: what the messages cost, the platform
/// fees on them, and what those sent through platform providers cost the operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    pub messages: i64,
    pub segments: i64,
    pub micros: i64,
    pub fee_micros: i64,
    pub platform_cost_micros: i64,
}

impl Sums {
    /// Everything charged: the messages' cost and their fees.
    pub fn charged(&self) -> i64 {
        self.micros + self.fee_micros
    }
}

/// One rollup key where the ledger and `spend_daily` disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub tenant_id: Uuid,
    pub day: NaiveDate,
    pub provider_id: Uuid,
    pub country: String,
    pub message_type: String,
    pub currency: String,
    pub ledger: Sums,
    pub rollup: Sums,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tenant {} day {} provider {} {} {} {}: ledger {} messages, {} segments, {} micros, \
             {} fee micros, {} platform cost micros; rollup {} messages, {} segments, {} micros, \
             {} fee micros, {} platform cost micros",
            self.tenant_id,
            self.day,
            self.provider_id,
            self.country,
            self.message_type,
            self.currency,
            self.ledger.messages,
            self.ledger.segments,
            self.ledger.micros,
            self.ledger.fee_micros,
            self.ledger.platform_cost_micros,
            self.rollup.messages,
            self.rollup.segments,
            self.rollup.micros,
            self.rollup.fee_micros,
            self.rollup.platform_cost_micros,
        )
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    provider_id: Uuid,
    #[diesel(sql_type = Text)]
    country: String,
    #[diesel(sql_type = Text)]
    message_type: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    l_messages: i64,
    #[diesel(sql_type = BigInt)]
    l_segments: i64,
    #[diesel(sql_type = BigInt)]
    l_micros: i64,
    #[diesel(sql_type = BigInt)]
    l_fee: i64,
    #[diesel(sql_type = BigInt)]
    l_platform_cost: i64,
    #[diesel(sql_type = BigInt)]
    r_messages: i64,
    #[diesel(sql_type = BigInt)]
    r_segments: i64,
    #[diesel(sql_type = BigInt)]
    r_micros: i64,
    #[diesel(sql_type = BigInt)]
    r_fee: i64,
    #[diesel(sql_type = BigInt)]
    r_platform_cost: i64,
}

/// SQL sums of ledger rows by kind: a message's own entry counts it, its segments and cost;
/// its platform fee entry counts only as fee; a platform provider's cost is on the message's.
const LEDGER_SUMS: &str = "count(*) FILTER (WHERE kind = 'message')::int8 AS messages,
    COALESCE(sum(segments) FILTER (WHERE kind = 'message'), 0)::int8 AS segments,
    COALESCE(sum(amount_micros) FILTER (WHERE kind = 'message'), 0)::int8 AS micros,
    COALESCE(sum(amount_micros) FILTER (WHERE kind = 'platform_fee'), 0)::int8 AS fee,
    COALESCE(sum(platform_cost_micros), 0)::int8 AS platform_cost";

/// Every rollup key of `period` (all tenants, or one) where the sum of the ledger differs from
/// `spend_daily`: a key present on one side only is a mismatch against zeros.
pub async fn reconcile(
    conn: &mut AsyncPgConnection,
    period: Period,
    tenant: Option<Uuid>,
) -> diesel::QueryResult<Vec<Mismatch>> {
    let rows: Vec<Row> = diesel::sql_query(format!(
        "WITH l AS (
             SELECT tenant_id, day, provider_id, country, message_type, currency, {LEDGER_SUMS}
             FROM ledger_entries
             WHERE day BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR tenant_id = $3)
             GROUP BY 1, 2, 3, 4, 5, 6),
         r AS (
             SELECT tenant_id, day, provider_id, country, message_type, currency, messages,
                    segments, cost_micros AS micros, fee_micros AS fee,
                    platform_cost_micros AS platform_cost
             FROM spend_daily
             WHERE day BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR tenant_id = $3))
         SELECT COALESCE(l.tenant_id, r.tenant_id) AS tenant_id, COALESCE(l.day, r.day) AS day,
                COALESCE(l.provider_id, r.provider_id) AS provider_id,
                COALESCE(l.country, r.country) AS country,
                COALESCE(l.message_type, r.message_type) AS message_type,
                COALESCE(l.currency, r.currency) AS currency,
                COALESCE(l.messages, 0) AS l_messages, COALESCE(l.segments, 0) AS l_segments,
                COALESCE(l.micros, 0) AS l_micros, COALESCE(l.fee, 0) AS l_fee,
                COALESCE(l.platform_cost, 0) AS l_platform_cost,
                COALESCE(r.messages, 0) AS r_messages, COALESCE(r.segments, 0) AS r_segments,
                COALESCE(r.micros, 0) AS r_micros, COALESCE(r.fee, 0) AS r_fee,
                COALESCE(r.platform_cost, 0) AS r_platform_cost
         FROM l FULL JOIN r USING (tenant_id, day, provider_id, country, message_type, currency)
         WHERE (l.messages, l.segments, l.micros, l.fee, l.platform_cost) IS DISTINCT FROM
               (r.messages, r.segments, r.micros, r.fee, r.platform_cost)
         ORDER BY 1, 2, 3, 4, 5, 6",
    ))
    .bind::<Date, _>(period.first_day())
    .bind::<Date, _>(period.last_day())
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(tenant)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Mismatch {
            tenant_id: r.tenant_id,
            day: r.day,
            provider_id: r.provider_id,
            country: r.country,
            message_type: r.message_type,
            currency: r.currency,
            ledger: Sums {
                messages: r.l_messages,
                segments: r.l_segments,
                micros: r.l_micros,
                fee_micros: r.l_fee,
                platform_cost_micros: r.l_platform_cost,
            },
            rollup: Sums {
                messages: r.r_messages,
                segments: r.r_segments,
                micros: r.r_micros,
                fee_micros: r.r_fee,
                platform_cost_micros: r.r_platform_cost,
            },
        })
        .collect())
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    messages: i64,
    #[diesel(sql_type = BigInt)]
    segments: i64,
    #[diesel(sql_type = BigInt)]
    micros: i64,
    #[diesel(sql_type = BigInt)]
    fee: i64,
    #[diesel(sql_type = BigInt)]
    platform_cost: i64,
}

/// The ledger's totals of `period` per currency (all tenants, or one), ordered by currency.
pub async fn totals(
    conn: &mut AsyncPgConnection,
    period: Period,
    tenant: Option<Uuid>,
) -> diesel::QueryResult<Vec<(String, Sums)>> {
    let rows: Vec<Total> = diesel::sql_query(format!(
        "SELECT currency, {LEDGER_SUMS}
         FROM ledger_entries
         WHERE day BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR tenant_id = $3)
         GROUP BY currency ORDER BY currency",
    ))
    .bind::<Date, _>(period.first_day())
    .bind::<Date, _>(period.last_day())
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(tenant)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|t| {
            (
                t.currency,
                Sums {
                    messages: t.messages,
                    segments: t.segments,
                    micros: t.micros,
                    fee_micros: t.fee,
                    platform_cost_micros: t.platform_cost,
                },
            )
        })
        .collect())
}

/// What one tenant spent in `period` in `currency`, in micro-units (the messages' cost and
/// their platform fees): the sum of its daily rollups, which are the ledger's sums (an index
/// range, however many messages the month had).
pub async fn spent(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    period: Period,
    currency: &str,
) -> diesel::QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Spent {
        #[diesel(sql_type = BigInt)]
        micros: i64,
    }
    let row: Spent = diesel::sql_query(SPENT_SQL)
        .bind::<diesel::sql_types::Uuid, _>(tenant)
        .bind::<Date, _>(period.first_day())
        .bind::<Date, _>(period.last_day())
        .bind::<Text, _>(currency)
        .get_result(conn)
        .await?;
    Ok(row.micros)
}

/// A tenant's spend between two days in one currency, from the rollups (`$1` tenant, `$2`–`$3`
/// days, `$4` currency).
const SPENT_SQL: &str = "SELECT COALESCE(sum(cost_micros + fee_micros), 0)::int8 AS micros
     FROM spend_daily
     WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 AND currency = $4";
