//! The consumer: queue deliveries in, committed outcomes and acks out.
//!
//! Deliveries are taken in batches. A batch is claimed in one UPDATE (only rows still in the
//! delivery's round and unclaimed), sent concurrently, and its outcomes are committed in one
//! transaction; only then are retries published (with confirms) and the deliveries acked.
//! A redelivered message finds its row already claimed or in a later round and is acked
//! without sending: Postgres, not the broker, decides whether a message is sent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use openclaw_core::db::messages::{self, Due, Resolution, RoundResult};
use openclaw_core::providers::ProviderKind;
use openclaw_core::queue::{self, Envelope};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::send::{self, SendContext};
use crate::startup::Shared;

/// Unacked queue messages (envelopes of up to 500 sends) the broker may push to us.
pub const PREFETCH: u16 = 64;
/// Sends per batch (a batch takes whole envelopes, so it may hold a few more).
const BATCH: usize = 500;
/// Batches being worked on at once.
const BATCHES_IN_FLIGHT: usize = 4;
/// Provider calls in flight at once per batch.
const SENDS_PER_BATCH: usize = 500;

pub async fn run(
    shared: Arc<Shared>,
    conn: &lapin::Connection,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let channel = conn.create_channel().await.context("opening a channel")?;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .context("setting the prefetch")?;
    let publish = queue::confirm_channel(conn).await?;
    let mut consumer: Consumer = channel
        .basic_consume(
            shared.topology.send_queue().as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .context("consuming the send queue")?;
    tracing::info!(queue = shared.topology.send_queue(), "consuming");

    let permits = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    let mut running = tokio::task::JoinSet::new();
    let mut failure: Option<anyhow::Error> = None;
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => break,
            next = consumer.next() => next,
        };
        let Some(first) = first else {
            failure = Some(anyhow::anyhow!("the broker closed the consumer"));
            break;
        };
        let first = first.context("receiving a delivery")?;
        let mut sends = envelope_len(&first);
        let mut batch = vec![first];
        // Take what is already here, waiting a moment for more under load.
        let gather = tokio::time::sleep(Duration::from_millis(2));
        tokio::pin!(gather);
        while sends < BATCH {
            tokio::select! {
                biased;
                next = consumer.next() => match next {
                    Some(Ok(d)) => {
                        sends += envelope_len(&d);
                        batch.push(d);
                    }
                    Some(Err(e)) => { failure = Some(e.into()); break; }
                    None => break,
                },
                _ = &mut gather => break,
            }
        }
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let shared = shared.clone();
        let publish = publish.clone();
        running.spawn(async move {
            if let Err(e) = process(&shared, &publish, batch).await {
                tracing::error!(
                    error = format!("{e:#}"),
                    "batch failed; its deliveries go back to the queue"
                );
            }
            drop(permit);
        });
        while let Some(done) = running.try_join_next() {
            let _ = done;
        }
        if failure.is_some() {
            break;
        }
    }
    // Finish what was taken: commit, publish retries, ack. Unstarted prefetched deliveries
    // return to the queue when the channel closes.
    while running.join_next().await.is_some() {}
    let _ = channel.close(200, "worker stopping".into()).await;
    let _ = publish.close(200, "worker stopping".into()).await;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// How many sends a delivery carries (a rough count is enough for batching).
fn envelope_len(d: &Delivery) -> usize {
    // Each pair is at least `["<36-char uuid>",0]`.
    (d.data.len() / 42).max(1)
}

async fn process(shared: &Shared, publish: &Channel, batch: Vec<Delivery>) -> anyhow::Result<()> {
    let mut due = Vec::with_capacity(batch.len());
    for d in &batch {
        match Envelope::from_bytes(&d.data) {
            Some(e) => due.extend(e.messages.into_iter().map(|(id, round)| Due { id, round })),
            None => {
                tracing::warn!(payload = ?String::from_utf8_lossy(&d.data), "unreadable queue message dropped")
            }
        }
    }
    let claimed = async {
        let mut conn = shared.pool.get().await?;
        anyhow::Ok(messages::claim(&mut conn, &due).await?)
    }
    .await;
    let claimed = match claimed {
        Ok(claimed) => claimed,
        Err(e) => {
            // Nothing was claimed: give the deliveries back for another try.
            for d in batch {
                let _ = d
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await;
            }
            return Err(e.context("claiming a batch"));
        }
    };
    let taken: HashSet<(Uuid, i32)> = claimed.iter().map(|m| (m.id, m.round)).collect();
    let missed: Vec<Due> = due
        .into_iter()
        .filter(|d| !taken.contains(&(d.id, d.round)))
        .collect();
    if !claimed.is_empty() {
        send_claimed(shared, publish, claimed).await?;
    }
    if !missed.is_empty() {
        persist("checking claims held elsewhere", || {
            held_elsewhere(shared, publish, &missed)
        })
        .await;
    }
    // Everything in the batch is settled in Postgres (or was stale): ack.
    for d in batch {
        d.ack(BasicAckOptions::default())
            .await
            .context("acking a delivery")?;
    }
    Ok(())
}

/// Deliveries whose message was not claimable. Most are stale (a later round, or already
/// final) and need nothing. One still claimed in the same round is a redelivery after its
/// worker lost the channel or died: park it in the lease queue so it comes back when the claim
/// has run out, and if the claim is that old already, end the round — nobody knows whether the
/// provider took the message, so it is never sent again (see `messages::fail_orphans`).
async fn held_elsewhere(shared: &Shared, publish: &Channel, missed: &[Due]) -> anyhow::Result<()> {
    let lease = chrono::Duration::from_std(shared.topology.claim_lease).unwrap_or_default();
    let held = {
        let mut conn = shared.pool.get().await?;
        messages::claimed_elsewhere(&mut conn, missed, chrono::Utc::now() - lease).await?
    };
    let (stale, live): (Vec<_>, Vec<_>) = held.into_iter().partition(|(_, stale)| *stale);
    if !stale.is_empty() {
        let orphans: Vec<messages::Orphan> = stale.into_iter().map(|(o, _)| o).collect();
        let mut conn = shared.pool.get().await?;
        let failed = messages::fail_orphans(&mut conn, &orphans).await?;
        tracing::warn!(
            failed,
            "ended rounds whose worker stopped mid-send (outcome unknown)"
        );
    }
    if !live.is_empty() {
        let held: Vec<messages::Orphan> = live.iter().map(|(o, _)| o.clone()).collect();
        let mut conn = shared.pool.get().await?;
        messages::await_lease(&mut conn, &held, lease).await?;
        drop(conn);
        let envelope = Envelope {
            messages: live.iter().map(|(o, _)| (o.id, o.round)).collect(),
        };
        let confirm = queue::publish(publish, &shared.topology.lease_queue(), &envelope).await?;
        anyhow::ensure!(
            queue::confirmed(confirm.await),
            "the broker did not confirm a lease check"
        );
    }
    Ok(())
}

/// Retries `op` with backoff until it succeeds.
async fn persist<T, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        match op().await {
            Ok(value) => return value,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "{what} failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

type Refusals = HashMap<Uuid, Vec<Uuid>>;
type Routes = HashMap<Uuid, Arc<send::TenantRoutes>>;

/// Providers that refused retried messages before, and the routes of every tenant involved.
async fn load_routes(
    shared: &Shared,
    claimed: &[messages::Message],
) -> anyhow::Result<(Refusals, Routes)> {
    let retried: Vec<Uuid> = claimed
        .iter()
        .filter(|m| m.round > 0)
        .map(|m| m.id)
        .collect();
    let mut refused: Refusals = HashMap::new();
    if !retried.is_empty() {
        let mut conn = shared.pool.get().await?;
        for (message_id, provider_id) in messages::refused_by(&mut conn, &retried).await? {
            refused.entry(message_id).or_default().push(provider_id);
        }
    }
    let tenants: HashSet<Uuid> = claimed.iter().map(|m| m.tenant_id).collect();
    let mut routes = HashMap::new();
    for tenant in tenants {
        routes.insert(
            tenant,
            shared
                .routes
                .get(&shared.pool, &shared.settings, tenant)
                .await?,
        );
    }
    Ok((refused, routes))
}

async fn send_claimed(
    shared: &Shared,
    publish: &Channel,
    claimed: Vec<messages::Message>,
) -> anyhow::Result<()> {
    // The batch is claimed: from here on, database trouble is waited out, never a reason to
    // drop the batch (its rounds would stay claimed until the lease ran out).
    let (refused, routes) = persist("reading routes", || load_routes(shared, &claimed)).await;
    let ctx = SendContext {
        http: &shared.http,
        topology: &shared.topology,
        public_url: &shared.settings.public_url,
    };
    let none: Vec<Uuid> = Vec::new();
    let results: Vec<RoundResult> = futures::stream::iter(claimed)
        .map(|m| {
            let table = routes[&m.tenant_id].clone();
            let refused_before = refused.get(&m.id).unwrap_or(&none);
            let ctx = &ctx;
            async move { send::send_round(ctx, &table, m, refused_before).await }
        })
        .buffer_unordered(SENDS_PER_BATCH)
        .collect()
        .await;

    // The outcome must be committed before anything is acked; keep trying through a
    // database outage rather than leave rounds claimed.
    let mut backoff = Duration::from_millis(100);
    let applied: HashSet<Uuid> = loop {
        let attempt = async {
            let mut conn = shared.pool.get().await?;
            anyhow::Ok(messages::finish_rounds(&mut conn, &results).await?)
        }
        .await;
        match attempt {
            Ok(ids) => break ids.into_iter().collect(),
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    "could not commit outcomes; retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    };

    // Retries go to their backoff step's delay queue, exhausted ones to the dead-letter queue,
    // grouped into one envelope per queue.
    let mut parked: HashMap<String, Vec<Due>> = HashMap::new();
    for r in results.iter().filter(|r| applied.contains(&r.message.id)) {
        let m = &r.message;
        match &r.resolution {
            Resolution::Retry { .. } => {
                let delay = shared
                    .topology
                    .delay_before(m.round + 1)
                    .expect("a retry is only planned when a delay exists");
                parked
                    .entry(shared.topology.retry_queue(delay))
                    .or_default()
                    .push(Due {
                        id: m.id,
                        round: m.round + 1,
                    });
            }
            Resolution::Failed { code, .. } if code == "retries_exhausted" => {
                parked
                    .entry(shared.topology.dead_queue())
                    .or_default()
                    .push(Due {
                        id: m.id,
                        round: m.round,
                    });
            }
            Resolution::Sent { provider_id, .. } => {
                let is_sandbox = routes[&m.tenant_id]
                    .gateways
                    .get(provider_id)
                    .is_some_and(|g| g.kind == ProviderKind::Sandbox);
                if is_sandbox {
                    send::sandbox_receipt(shared.pool.clone(), m);
                }
            }
            _ => {}
        }
    }
    // A retry's outbox row stays until its round is claimed: the broker drops a dead-lettered
    // message if it crashes at the wrong moment, and the relay then publishes it when due.
    let dead_queue = shared.topology.dead_queue();
    for (queue_name, dues) in parked {
        let envelope = Envelope {
            messages: dues.iter().map(|d| (d.id, d.round)).collect(),
        };
        let confirmed = match queue::publish(publish, &queue_name, &envelope).await {
            Ok(c) => queue::confirmed(c.await),
            Err(_) => false,
        };
        if !confirmed && queue_name == dead_queue {
            tracing::warn!(
                count = dues.len(),
                "the broker did not confirm messages parked in the dead-letter queue"
            );
        } else if !confirmed {
            tracing::warn!(
                count = dues.len(),
                "the broker did not confirm retries; the relay will publish them when due"
            );
        }
    }
    Ok(())
}
