//! Failed sign-ins counted per key (an email or a client address), for growing delays.
//! Kept in Postgres so every server process sees the same counts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::login_throttle;

/// The latest `blocked_until` among `keys` still in the future.
pub async fn blocked_until(
    conn: &mut AsyncPgConnection,
    keys: &[String],
) -> QueryResult<Option<DateTime<Utc>>> {
    login_throttle::table
        .filter(login_throttle::key.eq_any(keys))
        .filter(login_throttle::blocked_until.gt(diesel::dsl::now))
        .select(diesel::dsl::max(login_throttle::blocked_until))
        .get_result::<Option<DateTime<Utc>>>(conn)
        .await
}

#[derive(QueryableByName)]
struct Blocked {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    blocked_until: Option<DateTime<Utc>>,
}

/// Counts a failure against each key. Counts older than `window_secs` start over. Once a key
/// has `free` failures, each further one blocks it for `base_secs · 2^(n - free - 1)`, capped
/// at `max_secs`. Returns the latest block now in force.
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    keys: &[String],
    free: i32,
    base_secs: i32,
    max_secs: i32,
    window_secs: i32,
) -> QueryResult<Option<DateTime<Utc>>> {
    // `t.*` in DO UPDATE is the row before this failure; the new count is spelled out twice.
    let rows: Vec<Blocked> = diesel::sql_query(
        "INSERT INTO login_throttle AS t (key, failures, last_failure_at) \
         SELECT k, 1, now() FROM unnest($1::text[]) AS k \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN t.last_failure_at < now() - make_interval(secs => $5) \
                           THEN 1 ELSE t.failures + 1 END, \
           last_failure_at = now(), \
           blocked_until = CASE \
             WHEN t.last_failure_at >= now() - make_interval(secs => $5) AND t.failures + 1 > $2 \
             THEN now() + make_interval(secs => LEAST($4::float8, \
                    $3 * power(2, LEAST(t.failures - $2, 30)))) \
             ELSE NULL END \
         RETURNING t.blocked_until",
    )
    .bind::<Array<Text>, _>(keys)
    .bind::<Integer, _>(free)
    .bind::<Integer, _>(base_secs)
    .bind::<Integer, _>(max_secs)
    .bind::<Integer, _>(window_secs)
    .load(conn)
    .await?;
    Ok(rows.into_iter().filter_map(|r| r.blocked_until).max())
}

/// Forgets the failures of `key` (after a successful sign-in).
pub async fn clear(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<usize> {
    diesel::delete(login_throttle::table.find(key))
        .execute(conn)
        .await
}
