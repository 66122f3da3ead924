//! The RabbitMQ side of the send path: queue names, the envelope, declaring the topology and
//! publishing with confirms.
//!
//! Topology (every name starts with the configured prefix, `openclaw` by default):
//! - `{p}.send`: durable quorum queue the worker consumes. A queue message is an envelope of
//!   up to [`MAX_ENVELOPE`] (message, round) pairs: the API publishes one per group commit, so
//!   the broker handles a few hundred small messages a second instead of thousands.
//! - `{p}.retry.{ms}ms`: one durable quorum queue per backoff step; messages wait there for
//!   the step's TTL and are then dead-lettered back to `{p}.send`.
//! - `{p}.lease.{s}s`: where a worker parks a delivery whose message another worker has
//!   claimed; it comes back after the claim lease, to end the round if that worker is gone.
//! - `{p}.dead`: durable quorum queue where messages whose retries ran out are parked for
//!   operators (their status in Postgres is already `failed`).
//! - `{p}.jobs`: durable quorum queue of jobs (work that runs later and may fail, kept in the
//!   `jobs` table); a queue message is a job's id, published by the worker's relay.
//! - `{p}.webhooks`: durable quorum queue of webhook deliveries to attempt (rows of
//!   `webhook_deliveries`); a queue message is up to [`MAX_ENVELOPE`] (delivery, fence) pairs.
//! - `{p}.webhooks.retry.{ms}ms`: one per step of the webhook retry schedule; a delivery that
//!   failed waits there (each queue message with its own, jittered, expiration at most the
//!   step) and is then dead-lettered back to `{p}.webhooks`.
//!
//! The default exchange routes by queue name, so no exchanges are declared. Publishing is
//! `mandatory`, so a message no queue would take comes back instead of vanishing.

use std::time::Duration;

use anyhow::Context;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use lapin::{Confirmation, PublisherConfirm};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::trace::RequestId;

/// The default backoff between retry rounds.
pub const DEFAULT_RETRY_DELAYS_MS: [u64; 5] = [1_000, 5_000, 25_000, 120_000, 600_000];

/// Queue names and the retry schedule, derived from the prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    pub prefix: String,
    /// Delay before retry round 1, 2, …; after the last one a message fails.
    pub retry_delays: Vec<Duration>,
    /// How long a claim may last before its worker is taken to be gone.
    pub claim_lease: Duration,
    /// The steps of the webhook retry schedule, one delay queue each.
    pub webhook_delays: Vec<Duration>,
}

impl Topology {
    pub fn new(prefix: &str, retry_delays: Vec<Duration>, claim_lease: Duration) -> Topology {
        Topology {
            prefix: prefix.to_owned(),
            retry_delays,
            claim_lease,
            webhook_delays: crate::webhooks::deliver::DEFAULT_RETRY_DELAYS_MS
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
        }
    }

    pub fn from_settings(settings: &crate::config::Settings) -> Topology {
        let mut t = Topology::new(
            &settings.amqp_prefix,
            settings.retry_delays.clone(),
            settings.claim_lease,
        );
        t.webhook_delays = settings.webhook_retry_delays.clone();
        t
    }

    pub fn webhooks_queue(&self) -> String {
        format!("{}.webhooks", self.prefix)
    }

    pub fn webhook_retry_queue(&self, step: Duration) -> String {
        format!("{}.webhooks.retry.{}ms", self.prefix, step.as_millis())
    }

    pub fn lease_queue(&self) -> String {
        format!("{}.lease.{}s", self.prefix, self.claim_lease.as_secs())
    }

    pub fn send_queue(&self) -> String {
        format!("{}.send", self.prefix)
    }

    pub fn jobs_queue(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub fn retry_queue(&self, delay: Duration) -> String {
        format!("{}.retry.{}ms", self.prefix, delay.as_millis())
    }

    /// The delay before `round` (1-based), or None when retries are exhausted.
    pub fn delay_before(&self, round: i32) -> Option<Duration> {
        let idx = usize::try_from(round).ok()?.checked_sub(1)?;
        self.retry_delays.get(idx).copied()
    }

    /// Every queue name, for tests that clean up after themselves.
    pub fn all_queues(&self) -> Vec<String> {
        let mut names = vec![
            self.send_queue(),
            self.dead_queue(),
            self.lease_queue(),
            self.jobs_queue(),
            self.webhooks_queue(),
        ];
        names.extend(self.retry_delays.iter().map(|d| self.retry_queue(*d)));
        let mut steps = self.webhook_delays.clone();
        steps.sort();
        steps.dedup();
        names.extend(steps.iter().map(|d| self.webhook_retry_queue(*d)));
        names
    }

    /// Declares every queue (idempotent; both binaries do it at start).
    pub async fn declare(&self, channel: &Channel) -> anyhow::Result<()> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let quorum = |extra: &[(&str, AMQPValue)]| {
            let mut args = FieldTable::default();
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
            for (k, v) in extra {
                args.insert((*k).into(), v.clone());
            }
            args
        };
        for name in [
            self.send_queue(),
            self.dead_queue(),
            self.jobs_queue(),
            self.webhooks_queue(),
        ] {
            channel
                .queue_declare(name.as_str().into(), durable, quorum(&[]))
                .await
                .with_context(|| format!("declaring queue {name}"))?;
        }
        let delayed = self
            .retry_delays
            .iter()
            .map(|d| (self.retry_queue(*d), *d, self.send_queue()))
            .chain([(self.lease_queue(), self.claim_lease, self.send_queue())])
            .chain(
                self.webhook_delays
                    .iter()
                    .map(|d| (self.webhook_retry_queue(*d), *d, self.webhooks_queue())),
            );
        for (name, delay, back_to) in delayed {
            let ttl = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            // Expired messages go back to the send queue. Dead-lettering is at-most-once (the
            // at-least-once strategy crashes this broker's 3.10 quorum queues); whatever it
            // could drop has an outbox row, and the relay publishes it when due.
            let args = quorum(&[
                ("x-message-ttl", AMQPValue::LongLongInt(ttl)),
                ("x-dead-letter-exchange", AMQPValue::LongString("".into())),
                (
                    "x-dead-letter-routing-key",
                    AMQPValue::LongString(back_to.into()),
                ),
            ]);
            channel
                .queue_declare(name.as_str().into(), durable, args)
                .await
                .with_context(|| format!("declaring queue {name}"))?;
        }
        Ok(())
    }
}

/// Most (message, round) pairs in one queue message.
pub const MAX_ENVELOPE: usize = 500;

/// What a queue message says: send these messages, each in its retry round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "m")]
    pub messages: Vec<Entry>,
}

/// One (message, round) pair of an envelope, with the id of the HTTP request that sent the
/// message when it is known (see [`crate::trace`]). On the wire `[id, round]` or
/// `[id, round, request_id]`, so envelopes from before request ids still decode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "WireEntry")]
pub struct Entry {
    pub id: Uuid,
    pub round: i32,
    pub request_id: Option<RequestId>,
}

impl Entry {
    pub fn new(id: Uuid, round: i32, request_id: Option<RequestId>) -> Entry {
        Entry {
            id,
            round,
            request_id,
        }
    }
}

#[derive(Deserialize)]
struct WireEntry(Uuid, i32, #[serde(default)] Option<String>);

impl From<WireEntry> for Entry {
    fn from(WireEntry(id, round, request_id): WireEntry) -> Entry {
        // An id that is not one we would make or keep is dropped, not the entry.
        let request_id = request_id.as_deref().and_then(RequestId::parse);
        Entry::new(id, round, request_id)
    }
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2 + usize::from(self.request_id.is_some()))?;
        t.serialize_element(&self.id)?;
        t.serialize_element(&self.round)?;
        if let Some(r) = &self.request_id {
            t.serialize_element(r.as_str())?;
        }
        t.end()
    }
}

impl Envelope {
    pub fn one(id: Uuid, round: i32) -> Envelope {
        Envelope {
            messages: vec![Entry::new(id, round, None)],
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes")
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Envelope> {
        serde_json::from_slice(bytes).ok()
    }
}

pub async fn connect(url: &str, name: &str) -> anyhow::Result<Connection> {
    let props = ConnectionProperties::default()
        .with_connection_name(name.into())
        .with_client_property("product".into(), "OpenClaw".into());
    Connection::connect(url, props)
        .await
        .context("connecting to RabbitMQ")
}

/// Consumes `queue` on a channel of its own that the broker pushes at most `prefetch`
/// unacked deliveries to; the channel is the caller's to close when it stops.
pub async fn consume(
    conn: &Connection,
    queue: &str,
    prefetch: u16,
) -> anyhow::Result<(Channel, lapin::Consumer)> {
    use lapin::options::{BasicConsumeOptions, BasicQosOptions};
    let channel = conn.create_channel().await.context("opening a channel")?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .context("setting the prefetch")?;
    let consumer = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("consuming {queue}"))?;
    Ok((channel, consumer))
}

/// A channel in confirm mode.
pub async fn confirm_channel(conn: &Connection) -> anyhow::Result<Channel> {
    let channel = conn.create_channel().await.context("opening a channel")?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .context("enabling publisher confirms")?;
    Ok(channel)
}

/// Publishes one persistent envelope to `queue` and returns the pending confirm; awaiting it
/// with [`confirmed`] says whether the broker took it. Many may be in flight at once.
pub async fn publish(
    channel: &Channel,
    queue: &str,
    envelope: &Envelope,
) -> lapin::Result<PublisherConfirm> {
    publish_json(channel, queue, &envelope.to_bytes()).await
}

/// What a jobs-queue message says: run this job (its row in `jobs` says what it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job: Uuid,
}

impl JobMessage {
    pub fn from_bytes(bytes: &[u8]) -> Option<JobMessage> {
        serde_json::from_slice(bytes).ok()
    }
}

/// What a webhooks-queue message says: attempt these deliveries, each claimed at its fence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEnvelope {
    #[serde(rename = "d")]
    pub deliveries: Vec<(Uuid, i32)>,
}

impl WebhookEnvelope {
    pub fn from_bytes(bytes: &[u8]) -> Option<WebhookEnvelope> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Publishes deliveries to attempt to `queue` (the webhooks queue, or a retry step's queue
/// with the message's own `expiration`, at most the step's).
pub async fn publish_webhooks(
    channel: &Channel,
    queue: &str,
    envelope: &WebhookEnvelope,
    expiration: Option<Duration>,
) -> lapin::Result<PublisherConfirm> {
    let body = serde_json::to_vec(envelope).expect("an envelope always serializes");
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    if let Some(e) = expiration {
        props = props.with_expiration(e.as_millis().max(1).to_string().into());
    }
    channel
        .basic_publish(
            ShortString::from(""),
            ShortString::from(queue),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &body,
            props,
        )
        .await
}

/// Publishes a job's id to the jobs queue, like [`publish`].
pub async fn publish_job(
    channel: &Channel,
    queue: &str,
    job: Uuid,
) -> lapin::Result<PublisherConfirm> {
    let body = serde_json::to_vec(&JobMessage { job }).expect("a job message always serializes");
    publish_json(channel, queue, &body).await
}

async fn publish_json(
    channel: &Channel,
    queue: &str,
    body: &[u8],
) -> lapin::Result<PublisherConfirm> {
    channel
        .basic_publish(
            ShortString::from(""),
            ShortString::from(queue),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body,
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into()),
        )
        .await
}

/// Whether a confirm means the broker stored the message in a queue.
pub fn confirmed(result: lapin::Result<Confirmation>) -> bool {
    matches!(result, Ok(Confirmation::Ack(None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_schedule_is_one_based_and_ends() {
        let t = Topology::new(
            "t",
            vec![Duration::from_millis(100), Duration::from_millis(300)],
            Duration::from_secs(30),
        );
        assert_eq!(t.delay_before(0), None);
        assert_eq!(t.delay_before(1), Some(Duration::from_millis(100)));
        assert_eq!(t.delay_before(2), Some(Duration::from_millis(300)));
        assert_eq!(t.delay_before(3), None);
        assert_eq!(t.retry_queue(Duration::from_millis(300)), "t.retry.300ms");
        assert_eq!(t.lease_queue(), "t.lease.30s");
        assert_eq!(t.jobs_queue(), "t.jobs");
        assert_eq!(t.all_queues().len(), 7 + t.webhook_delays.len());
        assert_eq!(t.webhooks_queue(), "t.webhooks");
    }

    #[test]
    fn envelope_round_trips() {
        let e = Envelope {
            messages: vec![
                Entry::new(Uuid::now_v7(), 2, None),
                Entry::new(Uuid::now_v7(), 0, RequestId::parse("req-1")),
            ],
        };
        assert_eq!(Envelope::from_bytes(&e.to_bytes()), Some(e));
        assert_eq!(Envelope::from_bytes(b"nonsense"), None);
        assert_eq!(Envelope::one(Uuid::nil(), 1).messages.len(), 1);
    }

    #[test]
    fn envelopes_carry_request_ids_and_old_ones_still_decode() {
        let id = Uuid::nil();
        let with = Envelope {
            messages: vec![Entry::new(id, 0, RequestId::parse("abc"))],
        };
        assert_eq!(
            String::from_utf8(with.to_bytes()).unwrap(),
            format!(r#"{{"m":[["{id}",0,"abc"]]}}"#)
        );
        // Written before request ids, or by a relay that has none: two elements.
        assert_eq!(
            String::from_utf8(Envelope::one(id, 3).to_bytes()).unwrap(),
            format!(r#"{{"m":[["{id}",3]]}}"#)
        );
        let old = Envelope::from_bytes(format!(r#"{{"m":[["{id}",1]]}}"#).as_bytes()).unwrap();
        assert_eq!(old.messages, vec![Entry::new(id, 1, None)]);
        // A request id we would not keep is dropped, the entry is not.
        let odd = Envelope::from_bytes(format!(r#"{{"m":[["{id}",1,"a b"]]}}"#).as_bytes());
        assert_eq!(odd.unwrap().messages, vec![Entry::new(id, 1, None)]);
    }
}
