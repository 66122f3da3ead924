//! The jobs table: work that runs later and may fail, written in the transaction of the change
//! that causes it (see the migration `budget_alerts`). The relay publishes due jobs; the jobs
//! consumer locks a job's row while it runs it, and deletes it (done) or moves it on (failed)
//! in that same transaction.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::jobs;
use crate::domain::JobKind;

/// After this many failed attempts a job is parked (`due_at` = infinity) for an operator.
pub const MAX_ATTEMPTS: i32 = 12;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: Uuid,
    pub kind: JobKind,
    pub subject: Uuid,
    pub attempts: i32,
}

/// Queues a job, due now; a job of this kind for this subject already queued is kept as is.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    kind: JobKind,
    subject: Uuid,
) -> QueryResult<()> {
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(Uuid::now_v7()),
            jobs::kind.eq(kind),
            jobs::subject.eq(subject),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

/// Takes up to `limit` due jobs for the relay to publish, leasing each for `lease` so it is
/// not published again while its queue message is on its way (a job whose message is lost is
/// due again when the lease ends).
pub async fn take_due(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<Uuid>> {
    use diesel::sql_types::{BigInt, Interval};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "UPDATE jobs SET due_at = now() + $2
         WHERE id IN (SELECT id FROM jobs WHERE due_at <= now()
                      ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Interval, _>(interval(lease))
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The job, locked for the caller's transaction; None when it is done already or another
/// consumer is running it (its lock is held).
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Job>> {
    jobs::table
        .filter(jobs::id.eq(id))
        .select(Job::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .await
        .optional()
}

/// The job is done.
pub async fn done(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::delete(jobs::table.filter(jobs::id.eq(id)))
        .execute(conn)
        .await
        .map(drop)
}

/// How long a job waits after its `attempts`-th failure: 10 s, doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(9);
    Duration::from_secs(10 * 2u64.pow(doublings)).min(Duration::from_secs(3600))
}

/// The job failed: counted, its error kept, due again after [`backoff`] — or parked after
/// [`MAX_ATTEMPTS`]. Returns whether it was parked.
pub async fn failed(conn: &mut AsyncPgConnection, job: &Job, error: &str) -> QueryResult<bool> {
    use diesel::sql_types::{Bool, Integer, Interval, Text};
    let attempts = job.attempts + 1;
    let parked = attempts >= MAX_ATTEMPTS;
    diesel::sql_query(
        "UPDATE jobs SET attempts = $2, last_error = $3,
             due_at = CASE WHEN $4 THEN 'infinity'::timestamptz ELSE now() + $5 END
         WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(job.id)
    .bind::<Integer, _>(attempts)
    .bind::<Text, _>(error)
    .bind::<Bool, _>(parked)
    .bind::<Interval, _>(interval(backoff(attempts)))
    .execute(conn)
    .await?;
    Ok(parked)
}

pub(crate) fn interval(d: Duration) -> diesel::pg::data_types::PgInterval {
    diesel::pg::data_types::PgInterval::from_microseconds(
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(5), Duration::from_secs(160));
        assert_eq!(backoff(10), Duration::from_secs(3600));
        assert_eq!(backoff(MAX_ATTEMPTS), Duration::from_secs(3600));
        assert_eq!(backoff(0), Duration::from_secs(10));
    }
}
