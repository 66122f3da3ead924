//! The relay: Postgres is the source of truth, and this task makes the broker agree with it.
//! Its webhook pump publishes due webhook deliveries as often as there are some (every 50 ms
//! while busy), each endpoint only as much as it has room for. Every second it publishes what
//! the outbox says is past due — messages the API committed but the broker never confirmed, scheduled messages whose time came, retries whose delayed queue
//! message was never confirmed — and clears each outbox row once the broker confirms. It also
//! publishes the jobs that are due (see [`crate::jobs`]) and, every [`SWEEP_EVERY`], raises
//! the budget alerts that are due ([`openclaw_core::alerts::sweep`]) and marks the sends whose
//! receipt is overdue ([`mark_receipts_overdue`]).

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::db::{jobs, messages, webhooks};
use openclaw_core::queue::{self, Entry, Envelope};
use tokio_util::sync::CancellationToken;

use crate::startup::Shared;

const SCAN_LIMIT: i64 = 2_000;
/// How often budget alerts are looked for.
pub const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// How long a published job waits for its consumer before the relay publishes it again.
pub const JOB_LEASE: Duration = Duration::from_secs(120);

pub async fn run(
    shared: Arc<Shared>,
    conn: &lapin::Connection,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let channel = queue::confirm_channel(conn).await?;
    let (pumped, relayed) = tokio::join!(
        pump_webhooks(&shared, &channel, &stop),
        relay(&shared, &channel, &stop)
    );
    let _ = channel.close(200, "worker stopping".into()).await;
    pumped.and(relayed)
}

/// How long the webhook pump waits after a pass that published something: endpoints that keep
/// up get their next deliveries as soon as they have room, not a second later.
const PUMP_BUSY: Duration = Duration::from_millis(50);
/// How long it waits after a pass that found nothing to publish.
const PUMP_IDLE: Duration = Duration::from_millis(500);

/// Publishes due webhook deliveries until `stop`, as often as there are some.
async fn pump_webhooks(
    shared: &Shared,
    channel: &lapin::Channel,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let wait = match publish_webhooks(shared, channel).await {
            Ok(0) => PUMP_IDLE,
            Ok(_) => PUMP_BUSY,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "publishing webhook deliveries failed"
                );
                if !channel.status().connected() {
                    return Err(e);
                }
                PUMP_IDLE
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The outbox relay, the jobs and the sweeps, every second until `stop`.
async fn relay(
    shared: &Shared,
    channel: &lapin::Channel,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sweep: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
            last_sweep = Some(tokio::time::Instant::now());
            if let Err(e) = openclaw_core::alerts::sweep(&shared.pool).await {
                tracing::warn!(error = format!("{e:#}"), "budget alert sweep failed");
            }
            if let Err(e) = mark_receipts_overdue(shared).await {
                tracing::warn!(error = format!("{e:#}"), "receipt overdue sweep failed");
            }
        }
        if let Err(e) = publish_jobs(shared, channel)
            .await
            .and(relay_once(shared, channel).await)
        {
            tracing::warn!(error = format!("{e:#}"), "relay pass failed");
            if !channel.status().connected() {
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Receipt watches taken a statement at a time.
const WATCHES_PER_STATEMENT: i64 = 100;

/// Marks `receipt_overdue` the sends whose receipt did not come in their provider's timeout,
/// a statement of [`WATCHES_PER_STATEMENT`] watches at a time until fewer are due (at most
/// 50 statements a sweep, so the relay's other work is not held up; the rest wait for the
/// next sweep).
pub async fn mark_receipts_overdue(shared: &Shared) -> anyhow::Result<usize> {
    let mut conn = shared.pool.get().await?;
    let mut marked = 0;
    for _ in 0..50 {
        let (watches, n) =
            messages::mark_receipts_overdue(&mut conn, WATCHES_PER_STATEMENT).await?;
        marked += n;
        if (watches as i64) < WATCHES_PER_STATEMENT {
            break;
        }
    }
    if marked > 0 {
        tracing::info!(marked, "sends whose receipt is overdue were marked");
    }
    Ok(marked)
}

/// Publishes everything due; returns how many were published. Also fails the messages whose
/// outcome stayed unknown past their window (no receipt came).
pub async fn relay_once(shared: &Shared, channel: &lapin::Channel) -> anyhow::Result<usize> {
    let due = {
        let mut conn = shared.pool.get().await?;
        let expired = messages::expire_doubts(&mut conn, SCAN_LIMIT).await?;
        if expired > 0 {
            tracing::warn!(
                expired,
                "no receipt came for sends whose outcome was unknown; they are failed"
            );
        }
        messages::take_due(&mut conn, SCAN_LIMIT).await?
    };
    if due.is_empty() {
        return Ok(0);
    }
    let send_queue = shared.topology.send_queue();
    let mut pending = Vec::new();
    for chunk in due.chunks(queue::MAX_ENVELOPE) {
        let envelope = Envelope {
            // The outbox keeps no request ids: these go out without one (the message id
            // still ties the worker's lines to the server's).
            messages: chunk
                .iter()
                .map(|d| Entry::new(d.id, d.round, None))
                .collect(),
        };
        if let Ok(c) = queue::publish(channel, &send_queue, &envelope).await {
            pending.push((chunk, c));
        }
    }
    // What is not confirmed stays in the outbox and is due again when its lease ends.
    let mut confirmed = Vec::with_capacity(due.len());
    for (chunk, c) in pending {
        if queue::confirmed(c.await) {
            confirmed.extend_from_slice(chunk);
        }
    }
    let mut conn = shared.pool.get().await?;
    messages::published(&mut conn, &confirmed).await?;
    tracing::info!(
        published = confirmed.len(),
        due = due.len(),
        "relay published from the outbox"
    );
    Ok(confirmed.len())
}

/// Publishes the webhook deliveries that are due (new events, retries whose delay-queue
/// message was lost, claims that ran out) to the webhooks queue; returns how many the broker
/// confirmed. One not confirmed is published again when its lease ends.
pub async fn publish_webhooks(shared: &Shared, channel: &lapin::Channel) -> anyhow::Result<usize> {
    // A full scan means more are due: every status change of a busy second may be an event.
    let mut published = 0;
    for _ in 0..WEBHOOK_SCANS {
        let (due, confirmed) = publish_webhooks_once(shared, channel).await?;
        published += confirmed;
        if due < WEBHOOK_SCAN as usize {
            break;
        }
    }
    Ok(published)
}

/// Most scans of due webhook deliveries per pump pass.
const WEBHOOK_SCANS: usize = 10;
/// Most deliveries one scan takes.
const WEBHOOK_SCAN: i64 = 2_000;

/// What one scan takes: up to [`WEBHOOK_SCAN`] deliveries, each leased for a claim's lease, and
/// from each endpoint no more than it has room for below 1,000 under way (about what one that
/// answers at once finishes between two pump passes at a few thousand events a second; a 2 s
/// endpoint, at 128 requests at once per worker, puts the rest off, so its backlog costs about
/// 1,000 put-offs per put-off period).
fn webhook_flow(shared: &Shared) -> webhooks::Flow {
    webhooks::Flow {
        limit: WEBHOOK_SCAN,
        lease: crate::webhooks::lease(shared),
        per_endpoint: 1_000,
    }
}

/// One scan: how many were due, and how many of those the broker confirmed.
async fn publish_webhooks_once(
    shared: &Shared,
    channel: &lapin::Channel,
) -> anyhow::Result<(usize, usize)> {
    let due = {
        let mut conn = shared.pool.get().await?;
        webhooks::take_due(&mut conn, webhook_flow(shared)).await?
    };
    if due.is_empty() {
        return Ok((0, 0));
    }
    let queue = shared.topology.webhooks_queue();
    let mut pending = Vec::new();
    for chunk in due.chunks(queue::MAX_ENVELOPE) {
        let envelope = queue::WebhookEnvelope {
            deliveries: chunk.iter().map(|d| (d.id, d.fence)).collect(),
        };
        if let Ok(c) = queue::publish_webhooks(channel, &queue, &envelope, None).await {
            pending.push((chunk.len(), c));
        }
    }
    let mut confirmed = 0;
    for (n, c) in pending {
        if queue::confirmed(c.await) {
            confirmed += n;
        }
    }
    tracing::debug!(
        published = confirmed,
        due = due.len(),
        "relay published webhook deliveries"
    );
    Ok((due.len(), confirmed))
}

/// Publishes the jobs that are due to the jobs queue; returns how many the broker confirmed.
/// A job not confirmed is published again when its lease ends.
pub async fn publish_jobs(shared: &Shared, channel: &lapin::Channel) -> anyhow::Result<usize> {
    let due = {
        let mut conn = shared.pool.get().await?;
        jobs::take_due(&mut conn, SCAN_LIMIT, JOB_LEASE).await?
    };
    let queue = shared.topology.jobs_queue();
    let mut pending = Vec::with_capacity(due.len());
    for id in &due {
        if let Ok(c) = queue::publish_job(channel, &queue, *id).await {
            pending.push(c);
        }
    }
    let mut confirmed = 0;
    for c in pending {
        confirmed += usize::from(queue::confirmed(c.await));
    }
    if !due.is_empty() {
        tracing::info!(
            published = confirmed,
            due = due.len(),
            "relay published jobs"
        );
    }
    Ok(confirmed)
}
