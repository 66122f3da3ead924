//! Delivery receipts, applied in groups. Every message gets a few (Twilio: `sent`, then
//! `delivered`), so applied one statement and one commit each they cost Postgres more than the
//! send itself. Callers hand a receipt to [`Receipts::apply`] and wait; a committer applies
//! whatever receipts are waiting in one statement (a message's second receipt in the next one,
//! so they apply in order) and answers them. The answer follows the commit, so a provider is
//! only told 2xx once its receipt is stored.

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::db::PgPool;
use crate::db::messages::{self, ReceiptApplied, ReceiptUpdate};

/// Most receipts per statement.
const MAX_PER_STATEMENT: usize = 1_000;
/// How long the committer lets receipts gather after the first one arrives. Each statement
/// is a durable commit (a WAL flush); without the wait, the faster the statement the smaller
/// the groups, and under load the flushes, not the statement, become the cost (measured: 3.4×
/// the commits for the same receipts once the statement got faster, and the whole send path
/// slowed with them). A few milliseconds more before a provider hears 2xx costs nobody.
const GATHER: std::time::Duration = std::time::Duration::from_millis(5);

type Job = (
    ReceiptUpdate,
    oneshot::Sender<anyhow::Result<ReceiptApplied>>,
);

#[derive(Clone)]
pub struct Receipts {
    jobs: mpsc::Sender<Job>,
}

impl Receipts {
    /// Starts the committer; it stops once every `Receipts` handle is dropped.
    pub fn start(pool: PgPool) -> (Receipts, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel::<Job>(16_384);
        (Receipts { jobs }, tokio::spawn(commit_loop(pool, queue)))
    }

    /// Applies one receipt (together with whatever others are waiting) and says what it did.
    pub async fn apply(&self, receipt: ReceiptUpdate) -> anyhow::Result<ReceiptApplied> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((receipt, reply))
            .await
            .map_err(|_| anyhow::anyhow!("the receipt committer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the receipt committer dropped the receipt"))?
    }
}

async fn commit_loop(pool: PgPool, mut queue: mpsc::Receiver<Job>) {
    let mut waiting: Vec<Job> = Vec::new();
    while queue.recv_many(&mut waiting, MAX_PER_STATEMENT).await > 0 {
        let until = tokio::time::Instant::now() + GATHER;
        while waiting.len() < MAX_PER_STATEMENT {
            let room = MAX_PER_STATEMENT - waiting.len();
            match tokio::time::timeout_at(until, queue.recv_many(&mut waiting, room)).await {
                Ok(n) if n > 0 => continue,
                // Time is up, or every handle is gone: apply what is here.
                _ => break,
            }
        }
        while !waiting.is_empty() {
            // One receipt per message per statement: a second one waits for the next.
            let mut seen = std::collections::HashSet::new();
            let (now, later): (Vec<Job>, Vec<Job>) = waiting
                .drain(..)
                .partition(|(r, _)| seen.insert(r.message_id));
            waiting = later;
            let receipts: Vec<ReceiptUpdate> = now.iter().map(|(r, _)| r.clone()).collect();
            let result = async {
                let mut conn = pool.get().await.context("getting a database connection")?;
                messages::apply_receipts(&mut conn, &receipts)
                    .await
                    .context("applying receipts")
            }
            .await;
            match result {
                Ok(outcomes) => {
                    for ((_, reply), outcome) in now.into_iter().zip(outcomes) {
                        let _ = reply.send(Ok(outcome));
                    }
                }
                Err(e) => {
                    let message = format!("{e:#}");
                    for (_, reply) in now {
                        let _ = reply.send(Err(anyhow::anyhow!("{message}")));
                    }
                }
            }
        }
    }
}
