//! The accept path's group commit and outbox publisher.
//!
//! Handlers hand validated rows to [`Ingest::submit`] and wait. A committer task gathers
//! whatever rows are waiting, inserts them in one statement and one transaction (a few run
//! at once), and only then answers the waiting handlers — so a 202 always follows a commit.
//! Each message is committed with its outbox row. Committed ids go on to the publisher, which
//! keeps many publisher confirms in flight and deletes the outbox rows of confirmed messages
//! in batches. Anything the broker never confirmed (it was down, the process died, a nack) is
//! published by the worker's relay from the outbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::budgets;
use crate::db::messages::{self, Due, Inserted, NewMessage};
use crate::db::{PgPool, idempotency};
use crate::domain::Status;
use crate::queue::{self, Entry, Envelope, Topology};
use crate::trace::{self, RequestId};
use anyhow::Context;
use diesel_async::AsyncConnection;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Rows per INSERT: 22 bound columns each, well under Postgres' 65,535 parameters.
const MAX_ROWS_PER_COMMIT: usize = 1_000;
/// Commits in flight at once. Few: while one commits, the next requests gather into a bigger
/// batch, so the commit rate (and the WAL flushes) stays low as the request rate climbs.
const CONCURRENT_COMMITS: usize = 1;
/// Batches of publishes whose confirms are awaited at once.
const CONFIRM_BATCHES_IN_FLIGHT: usize = 16;

type Reply = oneshot::Sender<anyhow::Result<Committed>>;

struct Job {
    rows: Vec<NewMessage>,
    keep: Option<Keep>,
    /// The request that sent the rows, carried into the queue envelope.
    request_id: Option<RequestId>,
    reply: Reply,
}

/// A committed message for the publisher, with the request that sent it.
type Publish = (Uuid, Option<RequestId>);

enum Committed {
    Rows(Vec<Inserted>),
    Kept(Kept),
}

/// An answer to store under the tenant's idempotency key in the transaction that stores the
/// rows (a batch sent with `Idempotency-Key`), built from what became of each row.
pub struct Keep {
    pub tenant_id: Uuid,
    pub key: String,
    pub request_hash: Vec<u8>,
    pub respond: Respond,
}

/// Builds a kept answer from what became of each row, in order.
pub type Respond = Box<dyn FnOnce(&[Inserted]) -> serde_json::Value + Send>;

/// What a request with a [`Keep`] came to.
#[derive(Debug)]
pub enum Kept {
    /// Its rows were committed with this answer.
    Answered(serde_json::Value),
    /// The key was taken by an earlier request (committed first): nothing was stored.
    Earlier(idempotency::Stored),
}

#[derive(Clone)]
pub struct Ingest {
    jobs: mpsc::Sender<Job>,
    broker_up: Arc<AtomicBool>,
}

/// The background tasks; awaited at shutdown so nothing accepted is left uncommitted.
pub struct IngestTasks {
    committer: JoinHandle<()>,
    publisher: JoinHandle<()>,
}

impl IngestTasks {
    /// Waits for the committer to drain (once every `Ingest` handle is dropped) and for the
    /// publisher to finish the confirms it has in flight.
    pub async fn join(self) {
        let _ = self.committer.await;
        let _ = self.publisher.await;
    }
}

impl Ingest {
    pub fn start(pool: PgPool, amqp_url: String, topology: Topology) -> (Ingest, IngestTasks) {
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>(16_384);
        let (publish_tx, publish_rx) = mpsc::channel::<Publish>(200_000);
        let broker_up = Arc::new(AtomicBool::new(false));
        let committer = tokio::spawn(commit_loop(pool.clone(), jobs_rx, publish_tx));
        let publisher = tokio::spawn(publish_loop(
            pool,
            amqp_url,
            topology,
            publish_rx,
            broker_up.clone(),
        ));
        (
            Ingest {
                jobs: jobs_tx,
                broker_up,
            },
            IngestTasks {
                committer,
                publisher,
            },
        )
    }

    /// Commits the rows (in one transaction) and says, per row, whether it was created or
    /// an earlier message with the same idempotency key exists. The request being served
    /// ([`trace::current`]) goes with the rows into the queue.
    pub async fn submit(&self, rows: Vec<NewMessage>) -> anyhow::Result<Vec<Inserted>> {
        match self.job(rows, None).await? {
            Committed::Rows(rows) => Ok(rows),
            Committed::Kept(_) => anyhow::bail!("the ingest answered a plain job with a kept one"),
        }
    }

    /// Commits the rows together with the answer `keep` builds, stored under its idempotency
    /// key; or, when an earlier request took that key, stores nothing and returns that one.
    pub async fn submit_keeping(&self, rows: Vec<NewMessage>, keep: Keep) -> anyhow::Result<Kept> {
        match self.job(rows, Some(keep)).await? {
            Committed::Kept(kept) => Ok(kept),
            Committed::Rows(_) => anyhow::bail!("the ingest answered a kept job with rows"),
        }
    }

    async fn job(&self, rows: Vec<NewMessage>, keep: Option<Keep>) -> anyhow::Result<Committed> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                rows,
                keep,
                request_id: trace::current(),
                reply,
            })
            .await
            .map_err(|_| anyhow::anyhow!("the ingest committer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the ingest committer dropped the request"))?
    }

    pub fn broker_up(&self) -> bool {
        AtomicBool::load(&self.broker_up, Ordering::Relaxed)
    }
}

async fn commit_loop(pool: PgPool, mut jobs: mpsc::Receiver<Job>, publish: mpsc::Sender<Publish>) {
    let permits = Arc::new(Semaphore::new(CONCURRENT_COMMITS));
    let mut waiting: Vec<Job> = Vec::new();
    let mut running = tokio::task::JoinSet::new();
    loop {
        if waiting.is_empty() && jobs.recv_many(&mut waiting, 512).await == 0 {
            break; // every sender is gone: shutting down
        }
        // Wait for a commit slot first, then take everything that arrived meanwhile: a request
        // that comes in while a commit runs goes into the very next one (forming the batch
        // before the slot was free left it for the one after, two commits away).
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        while waiting.len() < 4 * MAX_ROWS_PER_COMMIT {
            match jobs.try_recv() {
                Ok(job) => waiting.push(job),
                Err(_) => break,
            }
        }
        // Take jobs up to the row budget (a single job over it goes alone).
        let mut rows = 0;
        let mut take = 0;
        for job in &waiting {
            if take > 0 && rows + job.rows.len() > MAX_ROWS_PER_COMMIT {
                break;
            }
            rows += job.rows.len();
            take += 1;
        }
        let batch: Vec<Job> = waiting.drain(..take).collect();
        let pool = pool.clone();
        let publish = publish.clone();
        running.spawn(async move {
            commit(&pool, batch, &publish).await;
            drop(permit);
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

async fn commit(pool: &PgPool, batch: Vec<Job>, publish: &mpsc::Sender<Publish>) {
    let (plain, kept): (Vec<Job>, Vec<Job>) = batch.into_iter().partition(|j| j.keep.is_none());
    if !plain.is_empty() {
        commit_plain(pool, plain, publish).await;
    }
    for job in kept {
        commit_kept(pool, job, publish).await;
    }
}

/// The group commit proper: every job's rows in one statement.
async fn commit_plain(pool: &PgPool, batch: Vec<Job>, publish: &mpsc::Sender<Publish>) {
    let count = batch.iter().map(|j| j.rows.len()).sum();
    let mut rows = Vec::with_capacity(count);
    let mut request_ids = Vec::with_capacity(count);
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        replies.push((job.reply, job.rows.len()));
        request_ids.extend(std::iter::repeat_n(job.request_id, job.rows.len()));
        rows.extend(job.rows);
    }
    let result = async {
        let mut conn = pool.get().await.context("getting a database connection")?;
        if rows.iter().all(|r| r.hold_micros.is_none()) {
            return insert_isolating(&mut conn, &rows, false)
                .await
                .context("inserting accepted messages");
        }
        if rows.iter().all(|r| r.hold_micros.is_some()) {
            return insert_capped(&mut conn, &rows)
                .await
                .context("inserting messages held against budgets");
        }
        // Rows held against hard-capped budgets go in a transaction of their own, which waits
        // for those tenants' budget locks; the other tenants' rows never wait for it.
        let held: Vec<bool> = rows.iter().map(|r| r.hold_micros.is_some()).collect();
        let (held_rows, free_rows): (Vec<NewMessage>, Vec<NewMessage>) =
            rows.iter().cloned().partition(|r| r.hold_micros.is_some());
        let free_done = if free_rows.is_empty() {
            Vec::new()
        } else {
            insert_isolating(&mut conn, &free_rows, false)
                .await
                .context("inserting accepted messages")?
        };
        let held_done = if held_rows.is_empty() {
            Vec::new()
        } else {
            insert_capped(&mut conn, &held_rows)
                .await
                .context("inserting messages held against budgets")?
        };
        anyhow::Ok(interleave(&held, held_done, free_done))
    }
    .await;
    match result {
        Ok(outcomes) => {
            announce(&rows, &outcomes, &request_ids, publish);
            let mut outcomes = outcomes.into_iter();
            for (reply, n) in replies {
                let _ = reply.send(Ok(Committed::Rows(outcomes.by_ref().take(n).collect())));
            }
        }
        Err(e) => {
            let message = format!("{e:#}");
            for (reply, _) in replies {
                let _ = reply.send(Err(anyhow::anyhow!("{message}")));
            }
        }
    }
}

/// A job whose answer is stored under an idempotency key: its own transaction, which takes
/// the key first (waiting out a concurrent request with the same key), then stores the rows
/// and the answer. An earlier request's answer is returned as it is, and nothing is stored.
async fn commit_kept(pool: &PgPool, job: Job, publish: &mpsc::Sender<Publish>) {
    let Job {
        rows,
        keep,
        request_id,
        reply,
    } = job;
    let Some(keep) = keep else {
        let _ = reply.send(Err(anyhow::anyhow!("a kept job without a key")));
        return;
    };
    let result = async {
        let mut conn = pool.get().await.context("getting a database connection")?;
        let (kept, outcomes) = conn
            .transaction(async |c| {
                if !idempotency::reserve(c, keep.tenant_id, &keep.key, &keep.request_hash).await? {
                    let earlier = idempotency::find(c, keep.tenant_id, &keep.key)
                        .await?
                        .ok_or(diesel::result::Error::NotFound)?;
                    return Ok((Kept::Earlier(earlier), Vec::new()));
                }
                let outcomes = insert_held(c, &rows).await?;
                let response = (keep.respond)(&outcomes);
                idempotency::answer(c, keep.tenant_id, &keep.key, &response).await?;
                diesel::QueryResult::Ok((Kept::Answered(response), outcomes))
            })
            .await
            .context("storing a batch and its answer")?;
        anyhow::Ok((kept, outcomes))
    }
    .await;
    match result {
        Ok((kept, outcomes)) => {
            let request_ids = vec![request_id; rows.len()];
            announce(&rows, &outcomes, &request_ids, publish);
            let _ = reply.send(Ok(Committed::Kept(kept)));
        }
        Err(e) => {
            let _ = reply.send(Err(e));
        }
    }
}

/// Hands the committed, due messages to the publisher, each with its request's id.
fn announce(
    rows: &[NewMessage],
    outcomes: &[Inserted],
    request_ids: &[Option<RequestId>],
    publish: &mpsc::Sender<Publish>,
) {
    for ((row, outcome), request_id) in rows.iter().zip(outcomes).zip(request_ids) {
        if matches!(outcome, Inserted::Created) && row.status == Status::Queued {
            // A full channel only delays the publish until the relay's next scan.
            let _ = publish.try_send((row.id, request_id.clone()));
        }
    }
}

/// Inserts rows that ask for a hold against hard-capped budgets in one statement
/// ([`messages::insert_capped`]); should Postgres refuse one of them, again in a transaction
/// that isolates the refused row ([`insert_held`]).
async fn insert_capped(
    conn: &mut diesel_async::AsyncPgConnection,
    rows: &[NewMessage],
) -> diesel::QueryResult<Vec<Inserted>> {
    let period = crate::domain::Period::of(chrono::Utc::now().date_naive());
    match messages::insert_capped(conn, rows, period).await {
        Err(e) if refused_rows(&e) => conn.transaction(async |c| insert_held(c, rows).await).await,
        done => done,
    }
}

/// Inserts rows inside a transaction, first checking the ones that ask for a hold against
/// their tenants' hard-capped budgets ([`budgets::admit`]): a row that does not fit is answered
/// [`Inserted::OverBudget`] and not stored.
async fn insert_held(
    c: &mut diesel_async::AsyncPgConnection,
    rows: &[NewMessage],
) -> diesel::QueryResult<Vec<Inserted>> {
    if rows.iter().all(|r| r.hold_micros.is_none()) {
        return insert_isolating(c, rows, true).await;
    }
    let mut rows = rows.to_vec();
    let verdicts = budgets::admit(c, &mut rows).await?;
    let admitted: Vec<NewMessage> = rows
        .into_iter()
        .zip(&verdicts)
        .filter(|(_, v)| v.is_none())
        .map(|(r, _)| r)
        .collect();
    let inserted = insert_isolating(c, &admitted, true).await?;
    let refused: Vec<bool> = verdicts.iter().map(Option::is_some).collect();
    Ok(interleave(
        &refused,
        verdicts.into_iter().flatten().collect(),
        inserted,
    ))
}

/// Puts the outcomes of rows split in two back in the rows' order: row `i` went to the first
/// part if `first[i]`, else to the second.
fn interleave(first: &[bool], a: Vec<Inserted>, b: Vec<Inserted>) -> Vec<Inserted> {
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    first
        .iter()
        .map(|&in_a| {
            if in_a { a.next() } else { b.next() }.unwrap_or_else(|| Inserted::Refused {
                reason: "no outcome".into(),
            })
        })
        .collect()
}

/// Whether Postgres refused the rows themselves (a value it cannot store, a constraint), as
/// opposed to the connection or the server failing, which says nothing about any one row.
fn refused_rows(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as K, Error};
    matches!(
        e,
        Error::DatabaseError(
            K::Unknown
                | K::UniqueViolation
                | K::ForeignKeyViolation
                | K::NotNullViolation
                | K::CheckViolation
                | K::RestrictViolation
                | K::ExclusionViolation,
            _
        ) | Error::SerializationError(_)
    )
}

/// Inserts the rows in one statement; if Postgres refuses a row, splits the rows in halves
/// until the refused ones stand alone, so one bad row (one tenant's request, or one entry of a
/// batch) fails by itself and every other row in the group commit is stored. Inside a
/// transaction (`savepoints`), each try runs in a savepoint so a refusal does not abort it.
fn insert_isolating<'a>(
    conn: &'a mut diesel_async::AsyncPgConnection,
    rows: &'a [NewMessage],
    savepoints: bool,
) -> futures::future::BoxFuture<'a, diesel::QueryResult<Vec<Inserted>>> {
    Box::pin(async move {
        let tried = if savepoints {
            conn.transaction(async |c| messages::insert_batch(c, rows).await)
                .await
        } else {
            messages::insert_batch(conn, rows).await
        };
        match tried {
            Ok(outcomes) => Ok(outcomes),
            Err(e) if refused_rows(&e) && rows.len() == 1 => {
                tracing::warn!(
                    error = %e,
                    tenant_id = %rows[0].tenant_id,
                    "the database refused an accepted message; validation let it through"
                );
                Ok(vec![Inserted::Refused {
                    reason: e.to_string(),
                }])
            }
            Err(e) if refused_rows(&e) => {
                let (left, right) = rows.split_at(rows.len() / 2);
                let mut outcomes = insert_isolating(conn, left, savepoints).await?;
                outcomes.extend(insert_isolating(conn, right, savepoints).await?);
                Ok(outcomes)
            }
            Err(e) => Err(e),
        }
    })
}

async fn publish_loop(
    pool: PgPool,
    amqp_url: String,
    topology: Topology,
    mut ids: mpsc::Receiver<Publish>,
    broker_up: Arc<AtomicBool>,
) {
    let permits = Arc::new(Semaphore::new(CONFIRM_BATCHES_IN_FLIGHT));
    let mut confirms = tokio::task::JoinSet::new();
    let (acked_tx, acked_rx) = mpsc::unbounded_channel::<Vec<Uuid>>();
    let clearer = tokio::spawn(clear_outbox(pool.clone(), acked_rx));
    let send_queue = topology.send_queue();
    let mut backoff = Duration::from_millis(200);
    let mut batch: Vec<Publish> = Vec::with_capacity(1024);
    'connect: loop {
        let connected = async {
            let conn = queue::connect(&amqp_url, "openclaw-server").await?;
            let channel = queue::confirm_channel(&conn).await?;
            topology.declare(&channel).await?;
            anyhow::Ok((conn, channel))
        }
        .await;
        let (conn, channel) = match connected {
            Ok(pair) => pair,
            Err(e) => {
                broker_up.store(false, Ordering::Relaxed);
                tracing::warn!(
                    error = format!("{e:#}"),
                    "RabbitMQ unavailable; the relay will publish what is accepted meanwhile"
                );
                // Drop what arrives meanwhile: it is committed, and the relay publishes it.
                let deadline = tokio::time::sleep(backoff);
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        _ = &mut deadline => break,
                        got = ids.recv() => if got.is_none() { break 'connect },
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue 'connect;
            }
        };
        broker_up.store(true, Ordering::Relaxed);
        backoff = Duration::from_millis(200);
        tracing::info!("publishing to RabbitMQ with confirms");
        loop {
            batch.clear();
            if ids.recv_many(&mut batch, 1024).await == 0 {
                break 'connect;
            }
            // Whatever has been committed meanwhile goes out together, a few envelopes at most.
            let mut pending = Vec::new();
            let mut failed = false;
            for chunk in batch.chunks(queue::MAX_ENVELOPE) {
                let envelope = Envelope {
                    messages: chunk
                        .iter()
                        .map(|(id, request_id)| Entry::new(*id, 0, request_id.clone()))
                        .collect(),
                };
                match queue::publish(&channel, &send_queue, &envelope).await {
                    Ok(confirm) => {
                        let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
                        pending.push((ids, confirm));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "publish failed; reconnecting");
                        failed = true;
                        break;
                    }
                }
            }
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let acked_tx = acked_tx.clone();
            confirms.spawn(async move {
                let mut acked = Vec::new();
                for (ids, confirm) in pending {
                    if queue::confirmed(confirm.await) {
                        acked.extend(ids);
                    }
                }
                let _ = acked_tx.send(acked);
                drop(permit);
            });
            while confirms.try_join_next().is_some() {}
            if failed {
                broker_up.store(false, Ordering::Relaxed);
                let _ = conn.close(0, "reconnecting".into()).await;
                continue 'connect;
            }
        }
    }
    while confirms.join_next().await.is_some() {}
    drop(acked_tx);
    let _ = clearer.await;
}

/// Clears the outbox rows of confirmed messages, in one statement every few milliseconds
/// rather than one per confirm.
async fn clear_outbox(pool: PgPool, mut acked: mpsc::UnboundedReceiver<Vec<Uuid>>) {
    let mut batch: Vec<Vec<Uuid>> = Vec::new();
    loop {
        if acked.recv_many(&mut batch, 256).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Ok(more) = acked.try_recv() {
            batch.push(more);
        }
        let done: Vec<Due> = batch
            .drain(..)
            .flatten()
            .map(|id| Due { id, round: 0 })
            .collect();
        let result = async {
            let mut conn = pool.get().await?;
            anyhow::Ok(messages::published(&mut conn, &done).await?)
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(
                error = format!("{e:#}"),
                "could not clear the outbox; the relay will publish those messages again"
            );
        }
    }
}
