//! Messages, their attempts and status events: the send path's state machine.
//!
//! Every statement on the hot path binds whole columns as arrays (`unnest`), so it is one
//! prepared statement whatever the batch size, and every status change appends its event to
//! the row's `events` in the same UPDATE.
//!
//! `status` only moves forward ([`status::rank`]); every transition is a conditional UPDATE,
//! so a redelivered queue message or a late receipt can never undo or repeat a step.
//! `round` numbers the retry rounds: a queue message carries the round it was published for,
//! and a worker only acts on it while the row is still in that round and unclaimed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{message_attempts, message_outbox, messages};

/// The status lifecycle (API.md): `queued` → `sending` → `sent` → `delivered` | `undelivered`;
/// or `failed`, `canceled`, `expired`. `scheduled` precedes `queued` for future sends.
pub mod status {
    pub const SCHEDULED: &str = "scheduled";
    pub const QUEUED: &str = "queued";
    pub const SENDING: &str = "sending";
    pub const SENT: &str = "sent";
    pub const DELIVERED: &str = "delivered";
    pub const UNDELIVERED: &str = "undelivered";
    pub const FAILED: &str = "failed";
    pub const CANCELED: &str = "canceled";
    pub const EXPIRED: &str = "expired";

    pub const ALL: [&str; 9] = [
        SCHEDULED,
        QUEUED,
        SENDING,
        SENT,
        DELIVERED,
        UNDELIVERED,
        FAILED,
        CANCELED,
        EXPIRED,
    ];

    /// How far along a status is; a transition must raise the rank.
    pub fn rank(status: &str) -> u8 {
        match status {
            SCHEDULED => 0,
            QUEUED => 1,
            SENDING => 2,
            SENT => 3,
            _ => 4,
        }
    }

    pub fn is_final(status: &str) -> bool {
        rank(status) == 4
    }
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub api_key_id: Option<Uuid>,
    pub mode: String,
    pub recipient: String,
    pub sender: Option<String>,
    pub country: String,
    pub message_type: String,
    pub body: String,
    pub encoding: String,
    pub segments: i32,
    pub estimated_cost_micros: i64,
    pub currency: String,
    pub status: String,
    pub round: i32,
    pub claimed_at: Option<DateTime<Utc>>,
    pub provider_id: Option<Uuid>,
    pub provider_message_id: Option<String>,
    pub cost_micros: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub error_provider_code: Option<String>,
    pub callback_url: Option<String>,
    pub client_ref: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    pub events: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// Set while the outcome of a send is unknown: waiting for the provider's receipt.
    pub doubt_until: Option<DateTime<Utc>>,
}

impl Message {
    /// What the message costs through `provider` at its current price in `routes`: nothing in
    /// test mode; the estimate made at accept time if that provider has no price for it any
    /// more. For sends recorded from a receipt rather than the worker's own answer.
    pub fn cost_through(&self, routes: &[crate::routing::RouteProvider], provider: Uuid) -> i64 {
        if self.mode == "test" {
            return 0;
        }
        let price = routes
            .iter()
            .find(|r| r.id == provider)
            .and_then(|r| crate::routing::price_for(&r.prices, &self.country, &self.message_type));
        match price {
            Some(p) => p.price_micros.saturating_mul(i64::from(self.segments)),
            None => self.estimated_cost_micros,
        }
    }

    /// The status the message was accepted with (what the 202 said).
    pub fn initial_status(&self) -> &'static str {
        match self.scheduled_at {
            Some(at) if at > self.created_at => status::SCHEDULED,
            _ => status::QUEUED,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub api_key_id: Option<Uuid>,
    pub mode: String,
    pub recipient: String,
    pub sender: Option<String>,
    pub country: String,
    pub message_type: String,
    pub body: String,
    pub encoding: String,
    pub segments: i32,
    pub estimated_cost_micros: i64,
    pub currency: String,
    pub status: String,
    pub callback_url: Option<String>,
    pub client_ref: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
}

/// What became of one row of [`insert_batch`].
#[derive(Debug)]
pub enum Inserted {
    Created,
    /// The tenant already used this idempotency key: here is that message.
    Existing(Box<Message>),
    /// The database refused this row (a value validation let through); nothing was stored.
    /// Only the group commit ([`crate::ingest`]) says this: it fails the row alone.
    Refused {
        reason: String,
    },
}

/// SQL appending a status event to `events` (the status in `$status_sql`, stamped now).
macro_rules! append_event {
    ($target:literal, $status:literal) => {
        concat!(
            $target,
            ".events || jsonb_build_array(jsonb_build_object('status', ",
            $status,
            ", 'at', now()))"
        )
    };
}

/// SQL of a CTE `spend` adding the rows of `$from` (each a sent message, with its tenant_id,
/// mode, country, message_type, currency and segments) that match `$filter` to the daily
/// spend rollup, the provider in column `$provider` and the cost in column `$cost`. Rows are
/// locked in key order, so concurrent writers cannot deadlock on them.
macro_rules! spend_rollup {
    ($from:literal, $provider:literal, $cost:literal, $filter:literal) => {
        concat!(
            "spend AS (
             INSERT INTO spend_daily (tenant_id, day, provider_id, country, message_type, currency,
                 messages, segments, cost_micros)
             SELECT tenant_id, (now() AT TIME ZONE 'UTC')::date, ",
            $provider,
            ", country, message_type, currency, count(*), sum(segments)::int8, sum(",
            $cost,
            ")::int8 FROM ",
            $from,
            " WHERE mode = 'live' AND ",
            $filter,
            "
             GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
             ON CONFLICT (tenant_id, day, provider_id, country, message_type, currency) DO UPDATE SET
                 messages = spend_daily.messages + excluded.messages,
                 segments = spend_daily.segments + excluded.segments,
                 cost_micros = spend_daily.cost_micros + excluded.cost_micros)"
        )
    };
}

/// How long the API's own publisher has to get a confirm before the relay publishes instead.
pub const PUBLISH_GRACE: chrono::Duration = chrono::Duration::seconds(10);
/// How long the relay waits for a confirm of its own before trying again.
const RELAY_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// Inserts many messages in one statement and one transaction (the API's group commit), each
/// with its outbox row. A row whose `(tenant_id, idempotency_key)` exists already is not
/// inserted; the existing message is returned instead so the caller can replay or refuse.
pub async fn insert_batch(
    conn: &mut AsyncPgConnection,
    rows: &[NewMessage],
) -> QueryResult<Vec<Inserted>> {
    use diesel::sql_types::{Bytea, Jsonb, Uuid as SqlUuid};
    #[derive(QueryableByName)]
    struct Created {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    fn col<T, F: Fn(&NewMessage) -> T>(rows: &[NewMessage], f: F) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    // One statement: the messages and their outbox rows commit together, in one round trip.
    let created: Vec<Created> = diesel::sql_query(
        "WITH input AS (
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                 $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int4[],
                 $12::int8[], $13::text[], $14::text[], $15::text[], $16::text[], $17::jsonb[],
                 $18::timestamptz[], $19::timestamptz[], $20::text[], $21::bytea[],
                 $22::timestamptz[])),
         created AS (
             INSERT INTO messages (id, tenant_id, api_key_id, mode, recipient, sender, country,
                 message_type, body, encoding, segments, estimated_cost_micros, currency, status,
                 callback_url, client_ref, metadata, scheduled_at, expires_at, idempotency_key,
                 request_hash, created_at)
             SELECT * FROM input
             ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL
             DO NOTHING
             RETURNING id, scheduled_at, created_at),
         outbox AS (
             INSERT INTO message_outbox (message_id, round, due_at)
             SELECT id, 0, COALESCE(scheduled_at, created_at + $23) FROM created)
         SELECT id FROM created",
    )
    .bind::<Array<SqlUuid>, _>(col(rows, |r| r.id))
    .bind::<Array<SqlUuid>, _>(col(rows, |r| r.tenant_id))
    .bind::<Array<Nullable<SqlUuid>>, _>(col(rows, |r| r.api_key_id))
    .bind::<Array<Text>, _>(col(rows, |r| r.mode.clone()))
    .bind::<Array<Text>, _>(col(rows, |r| r.recipient.clone()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.sender.clone()))
    .bind::<Array<Text>, _>(col(rows, |r| r.country.clone()))
    .bind::<Array<Text>, _>(col(rows, |r| r.message_type.clone()))
    .bind::<Array<Text>, _>(col(rows, |r| r.body.clone()))
    .bind::<Array<Text>, _>(col(rows, |r| r.encoding.clone()))
    .bind::<Array<Integer>, _>(col(rows, |r| r.segments))
    .bind::<Array<BigInt>, _>(col(rows, |r| r.estimated_cost_micros))
    .bind::<Array<Text>, _>(col(rows, |r| r.currency.clone()))
    .bind::<Array<Text>, _>(col(rows, |r| r.status.clone()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.callback_url.clone()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.client_ref.clone()))
    .bind::<Array<Nullable<Jsonb>>, _>(col(rows, |r| r.metadata.clone()))
    .bind::<Array<Nullable<Timestamptz>>, _>(col(rows, |r| r.scheduled_at))
    .bind::<Array<Nullable<Timestamptz>>, _>(col(rows, |r| r.expires_at))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.idempotency_key.clone()))
    .bind::<Array<Nullable<Bytea>>, _>(col(rows, |r| r.request_hash.clone()))
    .bind::<Array<Timestamptz>, _>(col(rows, |r| r.created_at))
    .bind::<diesel::sql_types::Interval, _>(interval(PUBLISH_GRACE))
    .load(conn)
    .await?;
    let created: std::collections::HashSet<Uuid> = created.into_iter().map(|r| r.id).collect();
    if created.len() == rows.len() {
        return Ok(rows.iter().map(|_| Inserted::Created).collect());
    }
    // Only rows whose idempotency key was taken are missing; they exist (committed) already.
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if created.contains(&row.id) {
            out.push(Inserted::Created);
            continue;
        }
        let existing = messages::table
            .filter(messages::tenant_id.eq(row.tenant_id))
            .filter(messages::idempotency_key.eq(&row.idempotency_key))
            .select(Message::as_select())
            .get_result(conn)
            .await?;
        out.push(Inserted::Existing(Box::new(existing)));
    }
    Ok(out)
}

fn interval(d: chrono::Duration) -> diesel::pg::data_types::PgInterval {
    diesel::pg::data_types::PgInterval::from_microseconds(d.num_microseconds().unwrap_or(i64::MAX))
}

/// The broker confirmed queue messages for these (message, round) pairs: their outbox rows
/// are done. This commit need not wait for the disk: if a crash undid it, the relay would
/// publish those messages once more, and their claims make the copies harmless.
pub async fn published(conn: &mut AsyncPgConnection, done: &[Due]) -> QueryResult<usize> {
    if done.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = done.iter().map(|d| d.id).collect();
    let rounds: Vec<i32> = done.iter().map(|d| d.round).collect();
    conn.transaction(async |c| {
        diesel::sql_query("SET LOCAL synchronous_commit = off")
            .execute(c)
            .await?;
        delete_outbox(c, ids, rounds).await
    })
    .await
}

async fn delete_outbox(
    conn: &mut AsyncPgConnection,
    ids: Vec<Uuid>,
    rounds: Vec<i32>,
) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM message_outbox
         WHERE message_id = ANY($1)
           AND (message_id, round) IN (SELECT * FROM unnest($1::uuid[], $2::int4[]))",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<Array<Integer>, _>(rounds)
    .execute(conn)
    .await
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<Message>> {
    messages::table
        .filter(messages::tenant_id.eq(tenant_id))
        .filter(messages::id.eq(id))
        .select(Message::as_select())
        .first(conn)
        .await
        .optional()
}

/// The message a single send stored under this idempotency key.
pub async fn find_by_idempotency_key(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    key: &str,
) -> QueryResult<Option<Uuid>> {
    messages::table
        .filter(messages::tenant_id.eq(tenant_id))
        .filter(messages::idempotency_key.eq(key))
        .select(messages::id)
        .first(conn)
        .await
        .optional()
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = message_attempts)]
pub struct Attempt {
    pub provider_id: Uuid,
    pub round: i32,
    pub started_at: DateTime<Utc>,
    pub outcome: String,
    pub provider_code: Option<String>,
    pub provider_message_id: Option<String>,
    pub error_message: Option<String>,
    pub latency_ms: i32,
}

pub async fn attempts(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    message_id: Uuid,
) -> QueryResult<Vec<Attempt>> {
    message_attempts::table
        .filter(message_attempts::tenant_id.eq(tenant_id))
        .filter(message_attempts::message_id.eq(message_id))
        .order(message_attempts::id)
        .select(Attempt::as_select())
        .load(conn)
        .await
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Event {
    pub status: String,
    pub at: DateTime<Utc>,
}

impl Message {
    /// The status events, starting with the one the message was accepted with.
    pub fn events(&self) -> Vec<Event> {
        let mut all = vec![Event {
            status: self.initial_status().to_owned(),
            at: self.created_at,
        }];
        all.extend(serde_json::from_value::<Vec<Event>>(self.events.clone()).unwrap_or_default());
        all
    }
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<String>,
    pub recipient: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only messages with an id below this one (ids are time-ordered: newest first).
    pub before: Option<Uuid>,
}

/// Newest first; fetches `limit` rows.
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    filter: &ListFilter,
    limit: i64,
) -> QueryResult<Vec<Message>> {
    let mut q = messages::table
        .filter(messages::tenant_id.eq(tenant_id))
        .select(Message::as_select())
        .order(messages::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(s) = &filter.status {
        q = q.filter(messages::status.eq(s.clone()));
    }
    if let Some(r) = &filter.recipient {
        q = q.filter(messages::recipient.eq(r.clone()));
    }
    if let Some(t) = filter.since {
        q = q.filter(messages::created_at.ge(t));
    }
    if let Some(t) = filter.until {
        q = q.filter(messages::created_at.lt(t));
    }
    if let Some(b) = filter.before {
        q = q.filter(messages::id.lt(b));
    }
    q.load(conn).await
}

/// Cancels a message that has not started sending. `Ok(None)`: no such message;
/// `Err`-free `Some(false)`: it exists but is past the point of cancelling.
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<Result<Message, Message>>> {
    conn.transaction(async |c| {
        let updated: Option<Message> = diesel::sql_query(concat!(
            "UPDATE messages AS m SET status = 'canceled', events = ",
            append_event!("m", "'canceled'"),
            " WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'scheduled') RETURNING *"
        ))
        .bind::<diesel::sql_types::Uuid, _>(tenant_id)
        .bind::<diesel::sql_types::Uuid, _>(id)
        .get_result(c)
        .await
        .optional()?;
        match updated {
            Some(m) => {
                diesel::delete(message_outbox::table.find(m.id))
                    .execute(c)
                    .await?;
                Ok(Some(Ok(m)))
            }
            None => Ok(find(c, tenant_id, id).await?.map(Err)),
        }
    })
    .await
}

// ---- the relay (outbox) --------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct Due {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = Integer)]
    pub round: i32,
}

/// Takes up to `limit` outbox rows past due for the relay to publish: accepted messages the
/// broker never confirmed, scheduled messages whose time came (now `queued`), and retries
/// whose delayed queue message was never confirmed. Each row is leased for a minute (SKIP
/// LOCKED keeps concurrent relays apart); [`published`] removes it once the broker confirms.
pub async fn take_due(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<Due>> {
    conn.transaction(async |c| {
        let due: Vec<Due> = diesel::sql_query(
            "UPDATE message_outbox SET due_at = now() + $2
             WHERE message_id IN (
                 SELECT message_id FROM message_outbox WHERE due_at <= now()
                 ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING message_id AS id, round",
        )
        .bind::<BigInt, _>(limit)
        .bind::<diesel::sql_types::Interval, _>(interval(RELAY_LEASE))
        .load(c)
        .await?;
        if !due.is_empty() {
            let ids: Vec<Uuid> = due.iter().map(|d| d.id).collect();
            diesel::sql_query(concat!(
                "UPDATE messages AS m SET status = 'queued', events = ",
                append_event!("m", "'queued'"),
                " WHERE id = ANY($1) AND status = 'scheduled'"
            ))
            .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
            .execute(c)
            .await?;
        }
        Ok(due)
    })
    .await
}

// ---- the worker ----------------------------------------------------------------------------

/// Claims the given (message, round) pairs for sending: each row still in that round, not
/// claimed, and `queued` (first round) or `sending` (a retry round) becomes `sending` and
/// claimed now. Returns the claimed messages; anything else is stale or already handled.
pub async fn claim(conn: &mut AsyncPgConnection, due: &[Due]) -> QueryResult<Vec<Message>> {
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = due.iter().map(|d| d.id).collect();
    let rounds: Vec<i32> = due.iter().map(|d| d.round).collect();
    // Claiming a round also settles its outbox row (the queue message evidently arrived).
    diesel::sql_query(
        "WITH claimed AS (
             UPDATE messages AS m SET status = 'sending', claimed_at = now(),
                 events = CASE WHEN m.status = 'queued'
                          THEN m.events || jsonb_build_array(jsonb_build_object('status', 'sending', 'at', now()))
                          ELSE m.events END
             FROM unnest($1::uuid[], $2::int4[]) AS d(id, round)
             WHERE m.id = d.id AND m.round = d.round AND m.claimed_at IS NULL
               AND m.status IN ('queued', 'sending') AND m.doubt_until IS NULL
             RETURNING m.*),
         settled AS (
             DELETE FROM message_outbox AS o USING claimed AS c
             WHERE o.message_id = c.id AND o.round = c.round)
         SELECT * FROM claimed",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<Array<Integer>, _>(rounds)
    .load(conn)
    .await
}

/// A claimed round that was never finished.
#[derive(Debug, Clone, QueryableByName)]
pub struct Orphan {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub tenant_id: Uuid,
    #[diesel(sql_type = Integer)]
    pub round: i32,
}

/// One provider call, to be recorded.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub provider_id: Uuid,
    pub started_at: DateTime<Utc>,
    /// `accepted`, `transient`, `permanent` or `unknown`.
    pub outcome: &'static str,
    pub provider_code: Option<String>,
    pub provider_message_id: Option<String>,
    pub error_message: Option<String>,
    pub latency_ms: i32,
}

/// How a claimed round ended.
#[derive(Debug, Clone)]
pub enum Resolution {
    Sent {
        provider_id: Uuid,
        provider_message_id: String,
        cost_micros: i64,
    },
    /// Try again in round `round + 1` at `at`.
    Retry {
        at: DateTime<Utc>,
    },
    Failed {
        code: String,
        message: String,
        provider_code: Option<String>,
    },
    Expired,
    /// The provider may have taken it (the call timed out or broke off): never sent again;
    /// it waits for the provider's receipt ([`settle_in_doubt`]). `cost_micros` is what it
    /// costs if a receipt turns out to have overtaken this result.
    InDoubt {
        provider_id: Uuid,
        cost_micros: i64,
        message: String,
        provider_code: Option<String>,
    },
}

/// The error code of a message whose send outcome is unknown.
pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";
/// What [`finish_rounds`] passes for a round in doubt (a marker, not a status).
const IN_DOUBT: &str = "in_doubt";

#[derive(Debug, Clone)]
pub struct RoundResult {
    pub message: Message,
    pub attempts: Vec<NewAttempt>,
    pub resolution: Resolution,
}

/// Commits the results of many claimed rounds in one transaction: statuses, attempts,
/// events and the spend rollup. A row is only touched while still claimed in its round, so a
/// result can never be applied twice. A round in doubt waits `outcome_window` for a receipt.
/// Returns the ids whose result was applied.
pub async fn finish_rounds(
    conn: &mut AsyncPgConnection,
    results: &[RoundResult],
    outcome_window: std::time::Duration,
) -> QueryResult<Vec<Uuid>> {
    if results.is_empty() {
        return Ok(Vec::new());
    }
    // One column array per field, for the UPDATE … FROM unnest(…) below.
    let n = results.len();
    let mut ids = Vec::with_capacity(n);
    let mut rounds = Vec::with_capacity(n);
    let mut statuses: Vec<String> = Vec::with_capacity(n);
    let mut next_rounds = Vec::with_capacity(n);
    let mut provider_ids: Vec<Option<Uuid>> = Vec::with_capacity(n);
    let mut provider_msg_ids: Vec<Option<String>> = Vec::with_capacity(n);
    let mut costs: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut error_codes: Vec<Option<String>> = Vec::with_capacity(n);
    let mut error_messages: Vec<Option<String>> = Vec::with_capacity(n);
    let mut error_provider_codes: Vec<Option<String>> = Vec::with_capacity(n);
    for r in results {
        let m = &r.message;
        ids.push(m.id);
        rounds.push(m.round);
        let mut next_round = m.round;
        let (mut pid, mut pmid, mut cost) = (None, None, None);
        let (mut ec, mut em, mut epc) = (None, None, None);
        let st = match &r.resolution {
            Resolution::Sent {
                provider_id,
                provider_message_id,
                cost_micros,
            } => {
                (pid, pmid, cost) = (
                    Some(*provider_id),
                    Some(provider_message_id.clone()),
                    Some(*cost_micros),
                );
                status::SENT
            }
            Resolution::Retry { .. } => {
                next_round += 1;
                status::SENDING
            }
            Resolution::Failed {
                code,
                message,
                provider_code,
            } => {
                (ec, em, epc) = (
                    Some(code.clone()),
                    Some(message.clone()),
                    provider_code.clone(),
                );
                status::FAILED
            }
            Resolution::Expired => {
                ec = Some("validity_expired".to_owned());
                em =
                    Some("The message's validity period ended before it could be sent.".to_owned());
                status::EXPIRED
            }
            Resolution::InDoubt {
                provider_id,
                cost_micros,
                message,
                provider_code,
            } => {
                (pid, cost) = (Some(*provider_id), Some(*cost_micros));
                (ec, em, epc) = (
                    Some(OUTCOME_UNKNOWN.to_owned()),
                    Some(message.clone()),
                    provider_code.clone(),
                );
                IN_DOUBT
            }
        };
        statuses.push(st.to_owned());
        next_rounds.push(next_round);
        provider_ids.push(pid);
        provider_msg_ids.push(pmid);
        costs.push(cost);
        error_codes.push(ec);
        error_messages.push(em);
        error_provider_codes.push(epc);
    }

    // The attempts, one row per provider call.
    let all: Vec<(&RoundResult, &NewAttempt)> = results
        .iter()
        .flat_map(|r| r.attempts.iter().map(move |a| (r, a)))
        .collect();
    fn acol<T>(
        all: &[(&RoundResult, &NewAttempt)],
        f: impl Fn(&RoundResult, &NewAttempt) -> T,
    ) -> Vec<T> {
        all.iter().map(|(r, a)| f(r, a)).collect()
    }
    // Retries get an outbox row: if the delayed queue message is never confirmed, the relay
    // publishes the next round itself a little after it is due.
    let retries: Vec<(Uuid, i32, DateTime<Utc>)> = results
        .iter()
        .filter_map(|r| match r.resolution {
            Resolution::Retry { at } => {
                Some((r.message.id, r.message.round + 1, at + PUBLISH_GRACE))
            }
            _ => None,
        })
        .collect();

    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    // One statement, so one round trip and one commit: the outcome (a receipt may have overtaken
    // the worker, sending → delivered: the status then stays, but provider, id and cost are
    // recorded all the same; the new status's event is appended only when the status changes),
    // the attempts, the retries' outbox rows and the spend rollup (rows locked in key order, so
    // concurrent workers cannot deadlock on them). Only rows still claimed in their round change.
    let applied: Vec<Applied> = diesel::sql_query(concat!(
        "WITH v AS (
             SELECT * FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::int4[], $5::uuid[],
                 $6::text[], $7::int8[], $8::text[], $9::text[], $10::text[])
               AS v(id, round, status, next_round, provider_id, provider_message_id, cost,
                    error_code, error_message, error_provider_code)),
         upd AS (
             UPDATE messages AS m SET
                 status = CASE WHEN m.status = 'sending' AND v.status <> 'in_doubt'
                          THEN v.status ELSE m.status END,
                 events = CASE WHEN m.status = 'sending' AND v.status <> 'sending'
                          THEN m.events || jsonb_build_array(jsonb_build_object('status',
                                 CASE WHEN v.status = 'in_doubt' THEN 'outcome_unknown'
                                 ELSE v.status END, 'at', now()))
                          ELSE m.events END,
                 round = v.next_round,
                 claimed_at = NULL,
                 doubt_until = CASE WHEN v.status = 'in_doubt' AND m.status = 'sending'
                               THEN now() + $24 END,
                 provider_id = COALESCE(v.provider_id, m.provider_id),
                 provider_message_id = COALESCE(v.provider_message_id, m.provider_message_id),
                 cost_micros = CASE WHEN v.status = 'in_doubt' AND m.status = 'sending'
                               THEN m.cost_micros ELSE COALESCE(v.cost, m.cost_micros) END,
                 error_code = CASE WHEN v.status = 'in_doubt' AND m.status <> 'sending'
                              THEN NULL ELSE v.error_code END,
                 error_message = CASE WHEN v.status = 'in_doubt' AND m.status <> 'sending'
                                 THEN NULL ELSE v.error_message END,
                 error_provider_code = CASE WHEN v.status = 'in_doubt' AND m.status <> 'sending'
                                       THEN NULL ELSE v.error_provider_code END
             FROM v
             WHERE m.id = v.id AND m.round = v.round AND m.claimed_at IS NOT NULL
             RETURNING m.id, m.tenant_id, m.mode, m.country, m.message_type, m.currency,
                       m.segments, v.provider_id AS via, v.cost,
                       -- In doubt, but a receipt overtook this result: it was sent.
                       CASE WHEN v.status = 'in_doubt' AND m.doubt_until IS NULL THEN 'sent'
                       ELSE v.status END AS outcome),
         attempts AS (
             INSERT INTO message_attempts (message_id, tenant_id, provider_id, round, started_at,
                 outcome, provider_code, provider_message_id, error_message, latency_ms)
             SELECT a.* FROM unnest($11::uuid[], $12::uuid[], $13::uuid[], $14::int4[],
                 $15::timestamptz[], $16::text[], $17::text[], $18::text[], $19::text[],
                 $20::int4[])
               AS a(message_id, tenant_id, provider_id, round, started_at, outcome,
                    provider_code, provider_message_id, error_message, latency_ms)
             WHERE a.message_id IN (SELECT id FROM upd)),
         settled AS (
             DELETE FROM message_outbox AS o USING v
             WHERE o.message_id = v.id AND o.round = v.round AND v.next_round = v.round
               AND o.message_id IN (SELECT id FROM upd)),
         retries AS (
             INSERT INTO message_outbox (message_id, round, due_at)
             SELECT r.* FROM unnest($21::uuid[], $22::int4[], $23::timestamptz[]) AS r(id, round, due)
             WHERE r.id IN (SELECT id FROM upd)
             ON CONFLICT (message_id) DO UPDATE SET round = excluded.round, due_at = excluded.due_at),
         ",
        spend_rollup!("upd", "via", "cost", "outcome = 'sent'"),
        "
         SELECT id FROM upd"
    ))
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Array<Integer>, _>(&rounds)
    .bind::<Array<Text>, _>(&statuses)
    .bind::<Array<Integer>, _>(&next_rounds)
    .bind::<Array<Nullable<diesel::sql_types::Uuid>>, _>(&provider_ids)
    .bind::<Array<Nullable<Text>>, _>(&provider_msg_ids)
    .bind::<Array<Nullable<BigInt>>, _>(&costs)
    .bind::<Array<Nullable<Text>>, _>(&error_codes)
    .bind::<Array<Nullable<Text>>, _>(&error_messages)
    .bind::<Array<Nullable<Text>>, _>(&error_provider_codes)
    .bind::<Array<diesel::sql_types::Uuid>, _>(acol(&all, |r, _| r.message.id))
    .bind::<Array<diesel::sql_types::Uuid>, _>(acol(&all, |r, _| r.message.tenant_id))
    .bind::<Array<diesel::sql_types::Uuid>, _>(acol(&all, |_, a| a.provider_id))
    .bind::<Array<Integer>, _>(acol(&all, |r, _| r.message.round))
    .bind::<Array<Timestamptz>, _>(acol(&all, |_, a| a.started_at))
    .bind::<Array<Text>, _>(acol(&all, |_, a| a.outcome.to_owned()))
    .bind::<Array<Nullable<Text>>, _>(acol(&all, |_, a| a.provider_code.clone()))
    .bind::<Array<Nullable<Text>>, _>(acol(&all, |_, a| a.provider_message_id.clone()))
    .bind::<Array<Nullable<Text>>, _>(acol(&all, |_, a| a.error_message.clone()))
    .bind::<Array<Integer>, _>(acol(&all, |_, a| a.latency_ms))
    .bind::<Array<diesel::sql_types::Uuid>, _>(retries.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(retries.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(retries.iter().map(|r| r.2).collect::<Vec<_>>())
    .bind::<diesel::sql_types::Interval, _>(interval(
        chrono::Duration::from_std(outcome_window).unwrap_or(chrono::Duration::MAX),
    ))
    .load(conn)
    .await?;
    Ok(applied.into_iter().map(|a| a.id).collect())
}

/// Puts rounds whose worker vanished mid-call in doubt: nobody knows whether the provider
/// took the message, so it is never sent again (that could send it twice); it stays `sending`
/// with `outcome_unknown` until the provider's receipt settles it ([`settle_in_doubt`]) or
/// `outcome_window` passes ([`expire_doubts`]). Only rows still claimed in that round change.
pub async fn doubt_orphans(
    conn: &mut AsyncPgConnection,
    orphans: &[Orphan],
    outcome_window: std::time::Duration,
) -> QueryResult<usize> {
    if orphans.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = orphans.iter().map(|o| o.id).collect();
    let rounds: Vec<i32> = orphans.iter().map(|o| o.round).collect();
    diesel::sql_query(concat!(
        "WITH doubted AS (UPDATE messages AS m SET claimed_at = NULL,
             doubt_until = now() + $3,
             error_code = 'outcome_unknown',
             error_message = 'The worker stopped while a provider was being called; the \
                              message is not sent again, and waits for the provider''s receipt.',
             events = ",
        append_event!("m", "'outcome_unknown'"),
        " FROM unnest($1::uuid[], $2::int4[]) AS d(id, round)
         WHERE m.id = d.id AND m.round = d.round AND m.status = 'sending'
           AND m.claimed_at IS NOT NULL
         RETURNING m.id, m.round)
         DELETE FROM message_outbox AS o USING doubted AS d
         WHERE o.message_id = d.id AND o.round = d.round"
    ))
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Array<Integer>, _>(&rounds)
    .bind::<diesel::sql_types::Interval, _>(interval(
        chrono::Duration::from_std(outcome_window).unwrap_or(chrono::Duration::MAX),
    ))
    .execute(conn)
    .await
}

/// Fails up to `limit` messages whose outcome stayed unknown past their window: no receipt
/// came, so the provider most likely never took them. Returns how many.
pub async fn expire_doubts(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<usize> {
    diesel::sql_query(concat!(
        "UPDATE messages AS m SET status = 'failed', doubt_until = NULL,
             error_code = 'outcome_unknown',
             error_message = 'Whether the provider took the message is unknown, and no \
                              receipt came for it; it was not sent again.',
             events = ",
        append_event!("m", "'failed'"),
        " WHERE m.id IN (SELECT id FROM messages WHERE doubt_until < now() LIMIT $1 FOR UPDATE
                         SKIP LOCKED)
           AND m.status = 'sending'"
    ))
    .bind::<BigInt, _>(limit)
    .execute(conn)
    .await
}

/// What a receipt did.
#[derive(Debug, Clone)]
pub enum ReceiptApplied {
    Changed,
    /// Unknown for this tenant, or nothing to change (a late or repeated receipt).
    Unchanged,
    /// The message's send outcome is unknown: the receipt says the provider took it, and
    /// [`settle_in_doubt`] records that (the caller prices it).
    InDoubt(Box<Message>),
}

/// A delivery receipt to apply: the status it reports and, when it came from a provider's
/// callback, that provider and its id for the message (recorded if the worker has not recorded
/// them yet: a worker that dies mid-call never will).
#[derive(Debug, Clone)]
pub struct ReceiptUpdate {
    pub tenant_id: Uuid,
    pub message_id: Uuid,
    /// `sent`, `delivered` or `undelivered`.
    pub status: &'static str,
    pub provider_code: Option<String>,
    pub from: Option<(Uuid, String)>,
}

/// Applies many receipts in one statement; no message may appear twice (the caller splits).
/// The status only moves forward: a `delivered` that arrives before the worker recorded `sent`
/// wins, and a late `sent` after `delivered` changes nothing. Returns, per receipt, what it did.
pub async fn apply_receipts(
    conn: &mut AsyncPgConnection,
    receipts: &[ReceiptUpdate],
) -> QueryResult<Vec<ReceiptApplied>> {
    #[derive(QueryableByName)]
    struct Changed {
        #[diesel(sql_type = Integer)]
        idx: i32,
    }
    if receipts.is_empty() {
        return Ok(Vec::new());
    }
    fn col<T>(receipts: &[ReceiptUpdate], f: impl Fn(&ReceiptUpdate) -> T) -> Vec<T> {
        receipts.iter().map(f).collect()
    }
    let changed: Vec<Changed> = diesel::sql_query(
        "WITH r AS (
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[],
                 $6::text[], $7::int4[])
               AS r(tenant_id, id, status, code, provider_id, provider_message_id, idx))
         UPDATE messages AS m SET status = r.status,
             error_provider_code = COALESCE(r.code, m.error_provider_code),
             provider_id = COALESCE(m.provider_id, r.provider_id),
             provider_message_id = COALESCE(m.provider_message_id, r.provider_message_id),
             events = m.events || jsonb_build_array(jsonb_build_object('status', r.status, 'at', now()))
         FROM r
         WHERE m.tenant_id = r.tenant_id AND m.id = r.id AND m.doubt_until IS NULL
           AND ((r.status = 'sent' AND m.status = 'sending')
             OR (r.status IN ('delivered', 'undelivered') AND m.status IN ('sending', 'sent')))
         RETURNING r.idx",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(col(receipts, |r| r.tenant_id))
    .bind::<Array<diesel::sql_types::Uuid>, _>(col(receipts, |r| r.message_id))
    .bind::<Array<Text>, _>(col(receipts, |r| r.status))
    .bind::<Array<Nullable<Text>>, _>(col(receipts, |r| r.provider_code.clone()))
    .bind::<Array<Nullable<diesel::sql_types::Uuid>>, _>(col(receipts, |r| {
        r.from.as_ref().map(|(p, _)| *p)
    }))
    .bind::<Array<Nullable<Text>>, _>(col(receipts, |r| r.from.as_ref().map(|(_, id)| id.clone())))
    .bind::<Array<Integer>, _>((0..receipts.len() as i32).collect::<Vec<_>>())
    .load(conn)
    .await?;
    let mut out: Vec<ReceiptApplied> = receipts.iter().map(|_| ReceiptApplied::Unchanged).collect();
    for c in &changed {
        out[c.idx as usize] = ReceiptApplied::Changed;
    }
    // Those that changed nothing: a message whose send outcome is unknown waits for exactly
    // this receipt (rare; the rest are late or repeated receipts).
    let unchanged: Vec<Uuid> = receipts
        .iter()
        .zip(&out)
        .filter(|(_, o)| matches!(o, ReceiptApplied::Unchanged))
        .map(|(r, _)| r.message_id)
        .collect();
    if !unchanged.is_empty() {
        let doubted: Vec<Message> = messages::table
            .filter(messages::id.eq_any(&unchanged))
            .filter(messages::doubt_until.is_not_null())
            .filter(messages::status.eq(status::SENDING))
            .select(Message::as_select())
            .load(conn)
            .await?;
        for m in doubted {
            for (r, o) in receipts.iter().zip(out.iter_mut()) {
                if r.message_id == m.id && r.tenant_id == m.tenant_id {
                    *o = ReceiptApplied::InDoubt(Box::new(m.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// What a receipt tells of a message in doubt: which provider took it, under which id, and
/// what that costs.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub provider_id: Uuid,
    pub provider_message_id: String,
    pub cost_micros: i64,
}

/// Settles a message in doubt from its provider's receipt: it was taken, so it is `sent` (or
/// further), with its provider, cost and spend, as if the worker had seen the answer. Only a
/// message still in doubt changes, so a repeated receipt settles nothing twice.
pub async fn settle_in_doubt(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    message_id: Uuid,
    new_status: &str,
    provider_code: Option<&str>,
    settlement: &Settlement,
) -> QueryResult<bool> {
    if !matches!(
        new_status,
        status::SENT | status::DELIVERED | status::UNDELIVERED
    ) {
        return Ok(false);
    }
    #[derive(QueryableByName)]
    struct Settled {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        #[allow(dead_code)]
        id: Uuid,
    }
    let settled: Vec<Settled> = diesel::sql_query(concat!(
        "WITH upd AS (
             UPDATE messages AS m SET status = $3, doubt_until = NULL,
                 provider_id = $5, provider_message_id = $6, cost_micros = $7,
                 error_code = NULL, error_message = NULL, error_provider_code = $4,
                 events = m.events || jsonb_build_array(jsonb_build_object('status', $3::text, 'at', now()))
             WHERE tenant_id = $1 AND id = $2 AND status = 'sending' AND doubt_until IS NOT NULL
             RETURNING m.id, m.tenant_id, m.mode, m.country, m.message_type, m.currency,
                       m.segments, m.provider_id, m.cost_micros),
         ",
        spend_rollup!("upd", "provider_id", "cost_micros", "true"),
        "
         SELECT id FROM upd"
    ))
    .bind::<diesel::sql_types::Uuid, _>(tenant_id)
    .bind::<diesel::sql_types::Uuid, _>(message_id)
    .bind::<Text, _>(new_status)
    .bind::<Nullable<Text>, _>(provider_code)
    .bind::<diesel::sql_types::Uuid, _>(settlement.provider_id)
    .bind::<Text, _>(&settlement.provider_message_id)
    .bind::<BigInt, _>(settlement.cost_micros)
    .load(conn)
    .await?;
    Ok(!settled.is_empty())
}

/// Finds the message a provider's own id refers to (receipts that carry no reference of ours).
pub async fn find_by_provider_message_id(
    conn: &mut AsyncPgConnection,
    provider_id: Uuid,
    provider_message_id: &str,
) -> QueryResult<Option<(Uuid, Uuid)>> {
    messages::table
        .filter(messages::provider_id.eq(provider_id))
        .filter(messages::provider_message_id.eq(provider_message_id))
        .select((messages::id, messages::tenant_id))
        .first(conn)
        .await
        .optional()
}

/// Of `due` (deliveries [`claim`] did not take), those still claimed in the same round, with
/// whether the claim is older than `stale_before` (its worker is then taken to be gone). A
/// claimed message may be past `sending` already: a receipt overtook its worker.
pub async fn claimed_elsewhere(
    conn: &mut AsyncPgConnection,
    due: &[Due],
    stale_before: DateTime<Utc>,
) -> QueryResult<Vec<(Message, bool)>> {
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = due.iter().map(|d| d.id).collect();
    let rounds: Vec<i32> = due.iter().map(|d| d.round).collect();
    let rows: Vec<Message> = diesel::sql_query(
        "SELECT m.* FROM messages m JOIN unnest($1::uuid[], $2::int4[]) AS d(id, round)
           ON m.id = d.id AND m.round = d.round
         WHERE m.claimed_at IS NOT NULL",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<Array<Integer>, _>(rounds)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|m| {
            let stale = m.claimed_at.is_some_and(|at| at < stale_before);
            (m, stale)
        })
        .collect())
}

/// Ends the rounds of claims whose worker vanished after its provider took the message (a
/// receipt came, naming the provider): records the cost `costs` gives and the spend, as the
/// worker would have. Only rows still claimed in that round, past `sending` and unpriced change.
pub async fn settle_orphans(
    conn: &mut AsyncPgConnection,
    orphans: &[(Orphan, i64)],
) -> QueryResult<usize> {
    if orphans.is_empty() {
        return Ok(0);
    }
    diesel::sql_query(concat!(
        "WITH upd AS (
             UPDATE messages AS m SET claimed_at = NULL, cost_micros = v.cost
             FROM unnest($1::uuid[], $2::int4[], $3::int8[]) AS v(id, round, cost)
             WHERE m.id = v.id AND m.round = v.round AND m.claimed_at IS NOT NULL
               AND m.status IN ('sent', 'delivered', 'undelivered') AND m.cost_micros IS NULL
               AND m.provider_id IS NOT NULL
             RETURNING m.id, m.round, m.tenant_id, m.mode, m.country, m.message_type,
                       m.currency, m.segments, m.provider_id, m.cost_micros),
         settled AS (
             DELETE FROM message_outbox AS o USING upd
             WHERE o.message_id = upd.id AND o.round = upd.round),
         ",
        spend_rollup!("upd", "provider_id", "cost_micros", "true"),
        "
         SELECT id FROM upd"
    ))
    .bind::<Array<diesel::sql_types::Uuid>, _>(
        orphans.iter().map(|(o, _)| o.id).collect::<Vec<_>>(),
    )
    .bind::<Array<Integer>, _>(orphans.iter().map(|(o, _)| o.round).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(orphans.iter().map(|(_, c)| *c).collect::<Vec<_>>())
    .execute(conn)
    .await
}

/// Backs up the lease checks a worker parks in the lease queue: if the broker drops one, the
/// relay publishes the check from the outbox a little after the lease has run out.
pub async fn await_lease(
    conn: &mut AsyncPgConnection,
    held: &[Orphan],
    lease: chrono::Duration,
) -> QueryResult<usize> {
    if held.is_empty() {
        return Ok(0);
    }
    diesel::sql_query(
        "INSERT INTO message_outbox (message_id, round, due_at)
         SELECT id, round, now() + $3 FROM unnest($1::uuid[], $2::int4[]) AS h(id, round)
         ON CONFLICT (message_id) DO UPDATE SET round = excluded.round, due_at = excluded.due_at",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(held.iter().map(|o| o.id).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(held.iter().map(|o| o.round).collect::<Vec<_>>())
    .bind::<diesel::sql_types::Interval, _>(interval(lease + PUBLISH_GRACE))
    .execute(conn)
    .await
}

/// Providers that refused a message permanently in an earlier round (not worth asking again).
pub async fn refused_by(
    conn: &mut AsyncPgConnection,
    message_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, Uuid)>> {
    message_attempts::table
        .filter(message_attempts::message_id.eq_any(message_ids))
        .filter(message_attempts::outcome.eq("permanent"))
        .select((message_attempts::message_id, message_attempts::provider_id))
        .load(conn)
        .await
}

/// How many of the tenant's messages, created since `since`, are in each status.
pub async fn status_counts(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    since: DateTime<Utc>,
) -> QueryResult<Vec<(String, i64)>> {
    messages::table
        .filter(messages::tenant_id.eq(tenant_id))
        .filter(messages::created_at.ge(since))
        .group_by(messages::status)
        .select((messages::status, diesel::dsl::count_star()))
        .load(conn)
        .await
}

/// Messages created per UTC day since `since`, oldest first.
pub async fn daily_counts(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    since: DateTime<Utc>,
) -> QueryResult<Vec<(chrono::NaiveDate, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Date)]
        day: chrono::NaiveDate,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
         FROM messages WHERE tenant_id = $1 AND created_at >= $2
         GROUP BY 1 ORDER BY 1",
    )
    .bind::<diesel::sql_types::Uuid, _>(tenant_id)
    .bind::<Timestamptz, _>(since)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.day, r.n)).collect())
}

/// How a provider has done for a tenant since some time: calls, share accepted, latency.
#[derive(Debug, Clone, QueryableByName)]
pub struct ProviderStats {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub provider_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub attempts: i64,
    #[diesel(sql_type = BigInt)]
    pub accepted: i64,
    #[diesel(sql_type = Integer)]
    pub p50_ms: i32,
    #[diesel(sql_type = Integer)]
    pub p95_ms: i32,
}

pub async fn provider_stats(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    since: DateTime<Utc>,
) -> QueryResult<Vec<ProviderStats>> {
    diesel::sql_query(
        "SELECT provider_id, count(*) AS attempts,
                count(*) FILTER (WHERE outcome = 'accepted') AS accepted,
                (percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms))::int4 AS p50_ms,
                (percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::int4 AS p95_ms
         FROM message_attempts WHERE tenant_id = $1 AND started_at >= $2
         GROUP BY provider_id ORDER BY provider_id",
    )
    .bind::<diesel::sql_types::Uuid, _>(tenant_id)
    .bind::<Timestamptz, _>(since)
    .load(conn)
    .await
}
