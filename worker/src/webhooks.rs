//! The webhook consumer: attempts the deliveries the relay (or a retry queue) hands it.
//!
//! A queue message is an envelope of (delivery, fence) pairs. They are claimed in one
//! statement (a pair whose fence moved on — a copy, or a delivery claimed since — claims
//! nothing), posted concurrently, and their outcomes recorded in one statement; the queue
//! message is acked after that commits. A failed attempt is due again after the retry
//! schedule's next step: it is published to that step's delay queue (with a jittered
//! expiration) and, should that message be lost, the relay publishes it when its row falls
//! due a lease later. A worker that dies mid-attempt leaves its claims to run out; the relay
//! then publishes them again (the event may reach the endpoint twice; receivers dedupe by id).
//!
//! One endpoint never holds up the others: at most [`PER_ENDPOINT`] requests to one endpoint
//! (or one callback host) are under way at once, and a delivery that finds no room within
//! [`ROOM_WAIT`] is put off a few seconds without counting as an attempt.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use openclaw_core::db::webhooks::{self as store, Claimed, Due, Outcome};
use openclaw_core::domain::{DeliveryState, WebhookId};
use openclaw_core::queue::{self, WebhookEnvelope};
use openclaw_core::webhooks::deliver;
use rand::Rng;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::startup::Shared;

/// Unacked envelopes the broker may push to us.
const PREFETCH: u16 = 16;
/// Requests under way at once, all endpoints together.
const IN_FLIGHT: usize = 1_024;
/// Requests under way at once to one endpoint.
pub const PER_ENDPOINT: usize = 128;
/// How long a delivery waits for room at its endpoint before it is put off.
const ROOM_WAIT: Duration = Duration::from_millis(500);
/// How long a claim lasts: longer than an envelope's attempts (which run at once, each within
/// the timeout) and their recording.
pub fn lease(shared: &Shared) -> Duration {
    shared.settings.webhook_timeout * 2 + Duration::from_secs(5)
}
/// How long a delivery that found its endpoint busy waits (and up to half as long again, at
/// random). Each put-off costs a write and a publish, so a backlog at a slow endpoint is put
/// off in long steps rather than churned through Postgres every second or two.
const PUT_OFF: Duration = Duration::from_secs(10);
/// Most deliveries in one retry queue message (each message has its own jitter).
const RETRY_CHUNK: usize = 50;

/// Room per endpoint, shared by every envelope this worker handles.
#[derive(Default)]
pub struct EndpointRoom {
    rooms: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl EndpointRoom {
    /// Room for one request to `key`'s endpoint, waiting at most [`ROOM_WAIT`].
    async fn enter(&self, key: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let room = {
            let mut rooms = self.rooms.lock().expect("not poisoned");
            // Forget endpoints nobody is posting to, so the map does not grow without end.
            if rooms.len() > 10_000 {
                rooms.retain(|_, s| s.available_permits() < PER_ENDPOINT);
            }
            rooms
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(PER_ENDPOINT)))
                .clone()
        };
        match room.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => tokio::time::timeout(ROOM_WAIT, room.acquire_owned())
                .await
                .ok()
                .and_then(Result::ok),
        }
    }
}

pub async fn run(
    shared: Arc<Shared>,
    conn: &lapin::Connection,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (channel, mut consumer) =
        queue::consume(conn, &shared.topology.webhooks_queue(), PREFETCH).await?;
    let publish = queue::confirm_channel(conn).await?;
    let publish = Arc::new(publish);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut running = tokio::task::JoinSet::new();
    let failure = loop {
        let next = tokio::select! {
            _ = stop.cancelled() => break None,
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                running.spawn(handle(
                    shared.clone(),
                    publish.clone(),
                    in_flight.clone(),
                    delivery,
                ));
            }
            Some(Err(e)) => break Some(anyhow::Error::new(e).context("receiving webhooks")),
            None => break Some(anyhow::anyhow!("the broker closed the webhooks consumer")),
        }
        while running.try_join_next().is_some() {}
    };
    // Attempts under way finish and are recorded before the session ends.
    while running.join_next().await.is_some() {}
    let _ = channel.close(200, "worker stopping".into()).await;
    let _ = publish.close(200, "worker stopping".into()).await;
    failure.map_or(Ok(()), Err)
}

async fn handle(
    shared: Arc<Shared>,
    publish: Arc<lapin::Channel>,
    in_flight: Arc<Semaphore>,
    delivery: Delivery,
) {
    let Some(envelope) = WebhookEnvelope::from_bytes(&delivery.data) else {
        tracing::warn!("a webhooks-queue message that is not an envelope was dropped");
        let _ = delivery.ack(BasicAckOptions::default()).await;
        return;
    };
    match attempt_envelope(&shared, &publish, &in_flight, &envelope).await {
        Ok(()) => {
            if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                tracing::debug!(error = %e, "ack not delivered; the broker will redeliver");
            }
        }
        // Not acked: a copy comes back and claims nothing (the fences moved on); the relay
        // publishes the deliveries again when their claims run out.
        Err(e) => tracing::warn!(
            error = format!("{e:#}"),
            "could not attempt or record webhook deliveries; they will be attempted again"
        ),
    }
}

/// What an attempt needs once claimed: where, what, signed with what.
struct Ready {
    claimed: Claimed,
    body: Vec<u8>,
    secrets: Vec<String>,
    url: String,
}

/// A claimed delivery ready to post, or (Err) its failure, recorded at once without a request
/// (its endpoint is disabled, …).
fn prepare(shared: &Shared, c: Claimed) -> Result<Box<Ready>, Outcome> {
    let Some(url) = c.url.clone() else {
        return Err(failed(&c, "The endpoint is disabled.".into()));
    };
    let body = match deliver::body_of(&c) {
        Ok(b) => b,
        Err(e) => {
            return Err(failed(
                &c,
                format!("The event could not be rendered: {e:#}"),
            ));
        }
    };
    let keys = &shared.settings.master_key;
    let open = |key_id: &Option<String>, enc: &Option<Vec<u8>>| -> Option<String> {
        let (key_id, enc) = (key_id.as_ref()?, enc.as_ref()?);
        match keys.decrypt(key_id, enc) {
            Ok(bytes) => String::from_utf8(bytes).ok(),
            Err(e) => {
                tracing::error!(error = %e, "a webhook secret could not be opened");
                None
            }
        }
    };
    let mut secrets: Vec<String> = Vec::with_capacity(2);
    secrets.extend(open(&c.secret_key_id, &c.secret_enc));
    secrets.extend(open(&c.previous_key_id, &c.previous_enc));
    if c.endpoint_id.is_some() && secrets.is_empty() {
        return Err(failed(
            &c,
            "The endpoint's secret could not be opened.".into(),
        ));
    }
    Ok(Box::new(Ready {
        claimed: c,
        body,
        secrets,
        url,
    }))
}

/// The key one endpoint's room is kept under: its id, or a callback URL's host and port.
fn room_key(r: &Ready) -> String {
    match r.claimed.endpoint_id {
        Some(id) => WebhookId::from(id).to_string(),
        None => url::Url::parse(&r.url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .unwrap_or_else(|| r.url.clone()),
    }
}

async fn attempt_envelope(
    shared: &Arc<Shared>,
    publish: &lapin::Channel,
    in_flight: &Arc<Semaphore>,
    envelope: &WebhookEnvelope,
) -> anyhow::Result<()> {
    let due: Vec<Due> = envelope
        .deliveries
        .iter()
        .map(|(id, fence)| Due {
            id: *id,
            fence: *fence,
        })
        .collect();
    let claimed = {
        let mut conn = shared.pool.get().await?;
        store::claim(&mut conn, &due, lease(shared)).await?
    };
    if claimed.is_empty() {
        return Ok(());
    }
    let mut attempts = tokio::task::JoinSet::new();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for c in claimed {
        match prepare(shared, c) {
            Err(failure) => outcomes.push(failure),
            Ok(r) => {
                let in_flight = in_flight.clone();
                let shared = shared.clone();
                attempts.spawn(async move {
                    let Some(_room) = shared.webhook_rooms.enter(&room_key(&r)).await else {
                        return Err(put_off(&r.claimed));
                    };
                    let _slot = in_flight.acquire_owned().await;
                    let secrets: Vec<&str> = r.secrets.iter().map(String::as_str).collect();
                    let attempt = shared.webhooks.post(&r.url, r.body, &secrets).await;
                    Ok((r.claimed, attempt))
                });
            }
        }
    }
    let mut finished = Vec::new();
    while let Some(joined) = attempts.join_next().await {
        match joined? {
            Ok(done) => finished.push(done),
            Err(put_off) => outcomes.push(put_off),
        }
    }
    // Failures that will be retried, by step, in chunks that share one jitter (one retry
    // queue message each).
    let schedule = &shared.webhook_schedule;
    let now = Utc::now();
    let mut by_step: BTreeMap<Duration, Vec<(Claimed, deliver::Attempt)>> = BTreeMap::new();
    for (c, attempt) in finished {
        if attempt.succeeded() {
            outcomes.push(settled(&c, &attempt, DeliveryState::Succeeded, now));
        } else {
            by_step
                .entry(schedule.step(c.attempts + 1))
                .or_default()
                .push((c, attempt));
        }
    }
    let mut retries: Vec<Retry> = Vec::new();
    for (step, failures) in by_step {
        for chunk in failures.chunks(RETRY_CHUNK) {
            let jitter: f64 = rand::rng().random();
            let mut retry = Retry {
                step,
                wait: step,
                deliveries: Vec::new(),
            };
            for (c, attempt) in chunk {
                match schedule.next(c.attempts + 1, c.created_at, now, jitter) {
                    Some(wait) => {
                        let mut o = settled(c, attempt, DeliveryState::Pending, now);
                        // The relay's fallback, should the retry queue's message be lost.
                        o.next_at = now
                            + chrono::Duration::from_std(wait + lease(shared))
                                .unwrap_or_else(|_| chrono::Duration::days(1));
                        outcomes.push(o);
                        retry.wait = retry.wait.min(wait);
                        retry.deliveries.push((c.id, c.fence));
                    }
                    None => outcomes.push(settled(c, attempt, DeliveryState::Failed, now)),
                }
            }
            if !retry.deliveries.is_empty() {
                retries.push(retry);
            }
        }
    }
    let disabled = {
        let mut conn = shared.pool.get().await?;
        store::record(&mut conn, &outcomes, shared.webhook_schedule.give_up_after).await?
    };
    for id in &disabled {
        tracing::warn!(webhook = %WebhookId::from(*id), "a webhook endpoint failed every delivery for too long and is disabled");
    }
    publish_retries(shared, publish, retries).await;
    Ok(())
}

/// Deliveries to retry after one step of the schedule, in one queue message that expires
/// after `wait` (the step less its jitter).
struct Retry {
    step: Duration,
    wait: Duration,
    deliveries: Vec<(Uuid, i32)>,
}

/// Publishes the retries to their steps' delay queues; one not confirmed is published by the
/// relay when its row falls due.
async fn publish_retries(shared: &Shared, publish: &lapin::Channel, retries: Vec<Retry>) {
    for retry in retries {
        let queue = shared.topology.webhook_retry_queue(retry.step);
        let envelope = WebhookEnvelope {
            deliveries: retry.deliveries,
        };
        match queue::publish_webhooks(publish, &queue, &envelope, Some(retry.wait)).await {
            Ok(confirm) => {
                if !queue::confirmed(confirm.await) {
                    tracing::debug!(
                        queue,
                        "a webhook retry was not confirmed; the relay will publish it"
                    );
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "a webhook retry was not published; the relay will")
            }
        }
    }
}

fn settled(
    c: &Claimed,
    attempt: &deliver::Attempt,
    state: DeliveryState,
    now: chrono::DateTime<Utc>,
) -> Outcome {
    Outcome {
        id: c.id,
        fence: c.fence,
        state,
        next_at: now,
        status: attempt.status.map(i32::from),
        latency_ms: Some(i32::try_from(attempt.latency_ms).unwrap_or(i32::MAX)),
        error: attempt.error.clone(),
        attempted: true,
        at: now,
    }
}

fn failed(c: &Claimed, why: String) -> Outcome {
    let now = Utc::now();
    Outcome {
        id: c.id,
        fence: c.fence,
        state: DeliveryState::Failed,
        next_at: now,
        status: None,
        latency_ms: None,
        error: Some(why),
        attempted: false,
        at: now,
    }
}

fn put_off(c: &Claimed) -> Outcome {
    let now = Utc::now();
    let jitter = rand::rng().random_range(0..5_000);
    Outcome {
        id: c.id,
        fence: c.fence,
        state: DeliveryState::Pending,
        next_at: now
            + chrono::Duration::from_std(PUT_OFF).unwrap_or_default()
            + chrono::Duration::milliseconds(jitter),
        status: None,
        latency_ms: None,
        error: None,
        attempted: false,
        at: now,
    }
}
