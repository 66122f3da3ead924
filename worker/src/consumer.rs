//! The consumer: queue deliveries in, committed outcomes and acks out.
//!
//! A delivery is an envelope of (message, round) pairs. Its pairs are claimed a few at a time,
//! only as fast as sends finish: the process holds at most `OPENCLAW_WORKER_IN_FLIGHT` messages
//! claimed and not yet committed, because whatever a worker holds when it dies is in doubt.
//! Each claimed message is routed and sent on its own task (at most a provider's
//! `max_concurrency` calls to it at once), and its outcome goes to the committer, which commits
//! outcomes in groups as they arrive (one transaction each), then publishes retries and acks
//! each delivery whose every pair is settled. A redelivered pair finds its row already claimed
//! or in a later round and is acked without sending: Postgres, not the broker, decides whether
//! a message is sent.
//!
//! A broker error or a stop ends the intake only: every provider call under way is finished
//! and its outcome committed before the session ends (then the worker reconnects). Pairs not
//! yet claimed stay in their unacked delivery, which the broker hands out again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use lapin::{Channel, Consumer};
use openclaw_core::db::messages::{self, Due, Resolution, RoundResult};
use openclaw_core::domain::{MessageId, ProviderId, TenantId};
use openclaw_core::providers::ProviderKind;
use openclaw_core::queue::{self, Entry, Envelope};
use openclaw_core::routing::RouteTable;
use openclaw_core::trace::RequestId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::send::{self, SendContext};
use crate::startup::Shared;

/// Unacked queue messages (envelopes of up to 500 sends) the broker may push to us.
pub const PREFETCH: u16 = 64;
/// Most pairs claimed in one statement.
const CLAIM_CHUNK: usize = 64;
/// Most outcomes committed in one transaction.
const COMMIT_CHUNK: usize = 512;

/// A delivery and how many of its pairs are not settled yet; acked when none are left.
struct Tracker {
    delivery: Delivery,
    left: AtomicUsize,
    /// The requests that sent its messages, as the envelope says.
    request_ids: HashMap<Uuid, RequestId>,
}

impl Tracker {
    fn request_id(&self, message: Uuid) -> Option<RequestId> {
        self.request_ids.get(&message).cloned()
    }

    /// `n` more of its pairs are settled in Postgres.
    async fn settled(&self, n: usize) {
        if n > 0 && self.left.fetch_sub(n, Ordering::AcqRel) == n {
            // A delivery of a channel that has gone is handed out again, and found settled.
            if let Err(e) = self.delivery.ack(BasicAckOptions::default()).await {
                tracing::debug!(error = %e, "ack not delivered; the broker will redeliver");
            }
        }
    }
}

/// A finished round on its way to the committer, with the claim it held.
struct Done {
    result: RoundResult,
    /// Sent through the built-in sandbox, which then simulates the receipt.
    by_sandbox: bool,
    claim: OwnedSemaphorePermit,
    tracker: Arc<Tracker>,
}

pub async fn run(
    shared: Arc<Shared>,
    conn: &lapin::Connection,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (channel, mut consumer): (_, Consumer) =
        queue::consume(conn, &shared.topology.send_queue(), PREFETCH).await?;
    let publish = queue::confirm_channel(conn).await?;
    tracing::info!(queue = shared.topology.send_queue(), "consuming");

    let (done_tx, done_rx) = mpsc::unbounded_channel::<Done>();
    let committer = tokio::spawn(commit_loop(shared.clone(), publish.clone(), done_rx));
    let mut tasks = tokio::task::JoinSet::new();
    let failure = loop {
        let next = tokio::select! {
            _ = stop.cancelled() => break None,
            next = consumer.next() => next,
        };
        let delivery = match next {
            Some(Ok(d)) => d,
            Some(Err(e)) => break Some(anyhow::Error::new(e).context("receiving a delivery")),
            None => break Some(anyhow::anyhow!("the broker closed the consumer")),
        };
        let Some(entries) = entries_of(&delivery) else {
            Tracker {
                delivery,
                left: AtomicUsize::new(1),
                request_ids: HashMap::new(),
            }
            .settled(1)
            .await;
            continue;
        };
        let span = tracing::info_span!(
            "delivery",
            tag = delivery.delivery_tag,
            messages = entries.len()
        );
        let dues: Vec<Due> = entries
            .iter()
            .map(|e| Due {
                id: e.id,
                round: e.round,
            })
            .collect();
        let request_ids = entries
            .into_iter()
            .filter_map(|e| Some((e.id, e.request_id?)))
            .collect();
        let tracker = Arc::new(Tracker {
            delivery,
            left: AtomicUsize::new(dues.len()),
            request_ids,
        });
        async {
            let mut rest = dues.as_slice();
            while !rest.is_empty() {
                let Some(claims) = take_claims(&shared.in_flight, rest.len(), &stop).await else {
                    break;
                };
                let (chunk, after) = rest.split_at(claims.num_permits());
                rest = after;
                let Some(claimed) = claim(&shared, chunk, &stop).await else {
                    break;
                };
                dispatch(
                    &shared, &publish, &tracker, chunk, claimed, claims, &done_tx, &mut tasks,
                )
                .await;
            }
        }
        .instrument(span)
        .await;
        while tasks.try_join_next().is_some() {}
    };
    // Finish what was taken: every call under way ends and its outcome is committed.
    while tasks.join_next().await.is_some() {}
    drop(done_tx);
    let _ = committer.await;
    let _ = channel.close(200, "worker stopping".into()).await;
    let _ = publish.close(200, "worker stopping".into()).await;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The pairs a delivery carries; None for an unreadable one (dropped with a warning).
fn entries_of(d: &Delivery) -> Option<Vec<Entry>> {
    match Envelope::from_bytes(&d.data) {
        Some(e) if !e.messages.is_empty() => Some(e.messages),
        Some(_) => None,
        None => {
            tracing::warn!(payload = ?String::from_utf8_lossy(&d.data), "unreadable queue message dropped");
            None
        }
    }
}

/// Waits for room to claim at least one more message, then takes what else is free, up to
/// `want` (and [`CLAIM_CHUNK`]). None when stopping.
async fn take_claims(
    in_flight: &Arc<Semaphore>,
    want: usize,
    stop: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    let mut claims = tokio::select! {
        _ = stop.cancelled() => return None,
        p = in_flight.clone().acquire_owned() => p.ok()?,
    };
    let want = want.min(CLAIM_CHUNK);
    while claims.num_permits() < want {
        match in_flight.clone().try_acquire_owned() {
            Ok(p) => claims.merge(p),
            Err(_) => break,
        }
    }
    Some(claims)
}

/// Claims the pairs, waiting out a database outage (nothing is claimed until it answers).
/// None when stopping first: the pairs stay in their delivery for the broker to hand out again.
async fn claim(
    shared: &Shared,
    chunk: &[Due],
    stop: &CancellationToken,
) -> Option<Vec<messages::Message>> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let claimed = async {
            let mut conn = shared.pool.get().await?;
            anyhow::Ok(messages::claim(&mut conn, chunk).await?)
        }
        .await;
        match claimed {
            Ok(claimed) => return Some(claimed),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "claiming failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return None,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Starts a send for each claimed message, and settles the pairs that were not claimable.
#[allow(clippy::too_many_arguments)]
async fn dispatch(
    shared: &Arc<Shared>,
    publish: &Channel,
    tracker: &Arc<Tracker>,
    chunk: &[Due],
    claimed: Vec<messages::Message>,
    mut claims: OwnedSemaphorePermit,
    done: &mpsc::UnboundedSender<Done>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    let taken: HashSet<(Uuid, i32)> = claimed.iter().map(|m| (m.id, m.round)).collect();
    let missed: Vec<Due> = chunk
        .iter()
        .filter(|d| !taken.contains(&(d.id, d.round)))
        .copied()
        .collect();
    if !claimed.is_empty() {
        // The messages are claimed: from here on, database trouble is waited out.
        let (refused, routes) = persist("reading routes", || load_routes(shared, &claimed)).await;
        for message in claimed {
            let Some(claim) = claims.split(1) else {
                tracing::error!("more messages claimed than room was taken for");
                break;
            };
            let table = routes[&message.tenant_id].clone();
            let refused_before = refused.get(&message.id).cloned().unwrap_or_default();
            let (shared, tracker, done) = (shared.clone(), tracker.clone(), done.clone());
            let request_id = tracker.request_id(message.id);
            let span = tracing::info_span!(
                "send",
                message_id = %MessageId::from(message.id),
                tenant_id = %TenantId::from(message.tenant_id),
                round = message.round,
                request_id = request_id.as_ref().map(tracing::field::display),
            );
            tasks.spawn(
                async move {
                    let ctx = SendContext {
                        http: &shared.http,
                        topology: &shared.topology,
                        public_url: &shared.settings.public_url,
                        timeout: shared.settings.provider_timeout,
                        limits: &shared.limits,
                    };
                    let result = send::send_round(&ctx, &table, message, &refused_before).await;
                    log_outcome(&result);
                    let by_sandbox = match &result.resolution {
                        Resolution::Sent { provider_id, .. } => table
                            .gateways
                            .get(provider_id)
                            .is_some_and(|g| g.kind == ProviderKind::Sandbox),
                        _ => false,
                    };
                    let _ = done.send(Done {
                        result,
                        by_sandbox,
                        claim,
                        tracker,
                    });
                }
                .instrument(span),
            );
        }
    }
    // Room taken for pairs that were not claimable goes back now.
    drop(claims);
    if !missed.is_empty() {
        let (shared, publish, tracker) = (shared.clone(), publish.clone(), tracker.clone());
        tasks.spawn(async move {
            // Tried while the channel lives: without it the lease check cannot be parked, and
            // the unacked delivery comes back to be checked again.
            let mut backoff = Duration::from_millis(100);
            loop {
                match held_elsewhere(&shared, &publish, &missed, |id| tracker.request_id(id)).await
                {
                    Ok(()) => {
                        tracker.settled(missed.len()).await;
                        return;
                    }
                    Err(e) if !publish.status().connected() => {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            "claims held elsewhere not checked; the delivery comes back"
                        );
                        return;
                    }
                    Err(e) => {
                        tracing::error!(
                            error = format!("{e:#}"),
                            "checking claims held elsewhere failed; retrying"
                        );
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        });
    }
}

/// Commits finished rounds in groups as they arrive, then publishes their retries, frees their
/// claims and acks the deliveries they complete. Runs until every sender is gone.
async fn commit_loop(
    shared: Arc<Shared>,
    publish: Channel,
    mut done: mpsc::UnboundedReceiver<Done>,
) {
    let mut batch: Vec<Done> = Vec::with_capacity(COMMIT_CHUNK);
    while done.recv_many(&mut batch, COMMIT_CHUNK).await > 0 {
        let mut results = Vec::with_capacity(batch.len());
        let mut sandbox = HashSet::new();
        let mut held = Vec::with_capacity(batch.len());
        let mut request_ids = HashMap::new();
        for d in batch.drain(..) {
            if d.by_sandbox {
                sandbox.insert(d.result.message.id);
            }
            if let Some(r) = d.tracker.request_id(d.result.message.id) {
                request_ids.insert(d.result.message.id, r);
            }
            results.push(d.result);
            held.push((d.claim, d.tracker));
        }
        // The outcome must be committed before anything is acked; wait out a database outage
        // rather than leave rounds claimed.
        let applied: HashSet<Uuid> = persist("committing outcomes", || async {
            let mut conn = shared.pool.get().await?;
            anyhow::Ok(
                messages::finish_rounds(&mut conn, &results, shared.settings.outcome_window)
                    .await?,
            )
        })
        .await
        .into_iter()
        .collect();
        park(
            &shared,
            &publish,
            &results,
            &applied,
            &sandbox,
            &request_ids,
        )
        .await;
        for (claim, tracker) in held {
            drop(claim);
            tracker.settled(1).await;
        }
    }
}

/// Retries go to their backoff step's delay queue, exhausted ones to the dead-letter queue,
/// one envelope per queue, each with its request's id; sandbox sends get their simulated
/// receipt.
async fn park(
    shared: &Shared,
    publish: &Channel,
    results: &[RoundResult],
    applied: &HashSet<Uuid>,
    sandbox: &HashSet<Uuid>,
    request_ids: &HashMap<Uuid, RequestId>,
) {
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
            Resolution::Sent { .. } if sandbox.contains(&m.id) => {
                send::sandbox_receipt(shared.receipts.clone(), m);
            }
            _ => {}
        }
    }
    // A retry's outbox row stays until its round is claimed: the broker drops a dead-lettered
    // message if it crashes at the wrong moment, and the relay then publishes it when due.
    let dead_queue = shared.topology.dead_queue();
    for (queue_name, dues) in parked {
        let envelope = Envelope {
            messages: dues
                .iter()
                .map(|d| Entry::new(d.id, d.round, request_ids.get(&d.id).cloned()))
                .collect(),
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
}

/// Pairs that were not claimable. Most are stale (a later round, already final, or in doubt)
/// and need nothing. One still claimed in the same round is a redelivery after its worker lost
/// the channel or died: park it in the lease queue so it comes back when the claim has run out,
/// and if the claim is that old already, put the round in doubt — nobody knows whether the
/// provider took the message, so it is never sent again; its receipt settles it
/// (see `messages::doubt_orphans`).
async fn held_elsewhere(
    shared: &Shared,
    publish: &Channel,
    missed: &[Due],
    request_id: impl Fn(Uuid) -> Option<RequestId>,
) -> anyhow::Result<()> {
    let lease = chrono::Duration::from_std(shared.topology.claim_lease).unwrap_or_default();
    let held = {
        let mut conn = shared.pool.get().await?;
        messages::claimed_elsewhere(&mut conn, missed, chrono::Utc::now() - lease).await?
    };
    let orphan = |m: &messages::Message| messages::Orphan {
        id: m.id,
        tenant_id: m.tenant_id,
        round: m.round,
    };
    let (stale, live): (Vec<_>, Vec<_>) = held.into_iter().partition(|(_, stale)| *stale);
    let (unknown, taken): (Vec<_>, Vec<_>) = stale
        .into_iter()
        .map(|(m, _)| m)
        .partition(|m| m.status == messages::Status::Sending);
    if !unknown.is_empty() {
        let orphans: Vec<messages::Orphan> = unknown.iter().map(orphan).collect();
        let mut conn = shared.pool.get().await?;
        let doubted =
            messages::doubt_orphans(&mut conn, &orphans, shared.settings.outcome_window).await?;
        tracing::warn!(
            doubted,
            "rounds whose worker stopped mid-send wait for their receipts (outcome unknown)"
        );
    }
    if !taken.is_empty() {
        // A receipt came (naming the provider) but the worker never recorded the send.
        let mut priced = Vec::with_capacity(taken.len());
        for m in &taken {
            let routes = shared.routes.get(m.tenant_id).await?;
            let Some(provider) = m.provider_id else {
                continue;
            };
            priced.push((
                orphan(m),
                m.cost_through(
                    &routes.providers,
                    provider,
                    routes.billing.markup(chrono::Utc::now()),
                ),
            ));
        }
        let mut conn = shared.pool.get().await?;
        let settled = messages::settle_orphans(&mut conn, &priced).await?;
        tracing::warn!(
            settled,
            "recorded sends whose worker stopped after the provider took them"
        );
    }
    if !live.is_empty() {
        let held: Vec<messages::Orphan> = live.iter().map(|(m, _)| orphan(m)).collect();
        let mut conn = shared.pool.get().await?;
        messages::await_lease(&mut conn, &held, lease).await?;
        drop(conn);
        let envelope = Envelope {
            messages: held
                .iter()
                .map(|o| Entry::new(o.id, o.round, request_id(o.id)))
                .collect(),
        };
        let confirm = queue::publish(publish, &shared.topology.lease_queue(), &envelope).await?;
        anyhow::ensure!(
            queue::confirmed(confirm.await),
            "the broker did not confirm a lease check"
        );
    }
    Ok(())
}

/// One line per round's outcome, in the round's `send` span (message, tenant, round and
/// request ids), naming the provider that took or may have taken the message.
fn log_outcome(result: &RoundResult) {
    let tried = result.attempts.len();
    match &result.resolution {
        Resolution::Sent { provider_id, .. } => tracing::info!(
            provider_id = %ProviderId::from(*provider_id),
            tried,
            "sent"
        ),
        Resolution::InDoubt { provider_id, .. } => tracing::warn!(
            provider_id = %ProviderId::from(*provider_id),
            tried,
            "outcome unknown; waiting for the provider's receipt"
        ),
        Resolution::Retry { at } => tracing::info!(
            %at,
            tried,
            "every provider failed for now; retrying"
        ),
        Resolution::Failed { code, .. } => tracing::info!(code, tried, "failed"),
        Resolution::Expired => tracing::info!("expired before it could be sent"),
    }
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
type Routes = HashMap<Uuid, Arc<RouteTable>>;

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
        routes.insert(tenant, shared.routes.get(tenant).await?);
    }
    Ok((refused, routes))
}
