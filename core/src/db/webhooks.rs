//! Webhook storage: endpoints, the callback secret, events and their deliveries (see the
//! migration `webhooks`). The deliveries are the outbox of events: written by the trigger on
//! `messages` in the statement that changes a status, published by the relay
//! ([`take_due`]), claimed by the webhook consumer ([`claim`]) and settled ([`record`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Interval, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{webhook_callback_secrets, webhook_deliveries, webhook_endpoints};
use crate::domain::{DeliveryState, EventKind};

/// An endpoint as listed (never its secret).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    pub events: Vec<EventKind>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub previous_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A secret as stored: encrypted with the master key `key_id`.
#[derive(Debug, Clone)]
pub struct SealedSecret {
    pub key_id: String,
    pub enc: Vec<u8>,
}

pub async fn create_endpoint(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    url: &str,
    events: &[EventKind],
    secret: &SealedSecret,
) -> QueryResult<Endpoint> {
    diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(Uuid::now_v7()),
            webhook_endpoints::tenant_id.eq(tenant),
            webhook_endpoints::url.eq(url),
            webhook_endpoints::events.eq(events),
            webhook_endpoints::secret_key_id.eq(&secret.key_id),
            webhook_endpoints::secret_enc.eq(&secret.enc),
        ))
        .returning(Endpoint::as_returning())
        .get_result(conn)
        .await
}

/// Holds, until the transaction ends, the tenant's lock on the number of its endpoints (a
/// transaction-level advisory lock): a creation counts them under it.
pub async fn lock_endpoints(conn: &mut AsyncPgConnection, tenant: Uuid) -> QueryResult<()> {
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(hashtextextended('openclaw.webhook_endpoints.' || $1, 0))",
    )
    .bind::<Text, _>(tenant.to_string())
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn list_endpoints(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
) -> QueryResult<Vec<Endpoint>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant))
        .order(webhook_endpoints::id)
        .select(Endpoint::as_select())
        .load(conn)
        .await
}

pub async fn find_endpoint(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    id: Uuid,
) -> QueryResult<Option<Endpoint>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant))
        .filter(webhook_endpoints::id.eq(id))
        .select(Endpoint::as_select())
        .first(conn)
        .await
        .optional()
}

/// Deletes an endpoint and, with it, its deliveries; None when there was none.
pub async fn delete_endpoint(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    id: Uuid,
) -> QueryResult<Option<Endpoint>> {
    diesel::delete(
        webhook_endpoints::table
            .filter(webhook_endpoints::tenant_id.eq(tenant))
            .filter(webhook_endpoints::id.eq(id)),
    )
    .returning(Endpoint::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// A new secret for an endpoint; the one it replaces keeps signing until `until`.
pub async fn rotate_endpoint_secret(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    id: Uuid,
    secret: &SealedSecret,
    until: DateTime<Utc>,
) -> QueryResult<Option<Endpoint>> {
    diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::tenant_id.eq(tenant))
            .filter(webhook_endpoints::id.eq(id)),
    )
    .set((
        webhook_endpoints::previous_key_id.eq(webhook_endpoints::secret_key_id.nullable()),
        webhook_endpoints::previous_enc.eq(webhook_endpoints::secret_enc.nullable()),
        webhook_endpoints::previous_until.eq(until),
        webhook_endpoints::secret_key_id.eq(&secret.key_id),
        webhook_endpoints::secret_enc.eq(&secret.enc),
    ))
    .returning(Endpoint::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Makes the tenant's callback secret, or replaces it (the one replaced keeps signing until
/// `until`). Returns whether there was one before.
pub async fn put_callback_secret(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    secret: &SealedSecret,
    until: DateTime<Utc>,
) -> QueryResult<bool> {
    use diesel::upsert::excluded;
    let before: Option<String> = webhook_callback_secrets::table
        .filter(webhook_callback_secrets::tenant_id.eq(tenant))
        .select(webhook_callback_secrets::secret_key_id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    diesel::insert_into(webhook_callback_secrets::table)
        .values((
            webhook_callback_secrets::tenant_id.eq(tenant),
            webhook_callback_secrets::secret_key_id.eq(&secret.key_id),
            webhook_callback_secrets::secret_enc.eq(&secret.enc),
        ))
        .on_conflict(webhook_callback_secrets::tenant_id)
        .do_update()
        .set((
            webhook_callback_secrets::previous_key_id
                .eq(webhook_callback_secrets::secret_key_id.nullable()),
            webhook_callback_secrets::previous_enc
                .eq(webhook_callback_secrets::secret_enc.nullable()),
            webhook_callback_secrets::previous_until.eq(until),
            webhook_callback_secrets::secret_key_id
                .eq(excluded(webhook_callback_secrets::secret_key_id)),
            webhook_callback_secrets::secret_enc.eq(excluded(webhook_callback_secrets::secret_enc)),
        ))
        .execute(conn)
        .await?;
    Ok(before.is_some())
}

/// When the tenant's callback secret was made, if it has one.
pub async fn callback_secret_made(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
) -> QueryResult<Option<DateTime<Utc>>> {
    webhook_callback_secrets::table
        .filter(webhook_callback_secrets::tenant_id.eq(tenant))
        .select(webhook_callback_secrets::created_at)
        .first(conn)
        .await
        .optional()
}

/// One delivery as listed: where it stands and how its attempts went.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Option<Uuid>,
    pub url: Option<String>,
    pub state: DeliveryState,
    pub attempts: i32,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_latency_ms: Option<i32>,
    pub last_error: Option<String>,
    /// `[{at, status, latency_ms, error}]`, oldest first.
    pub log: serde_json::Value,
}

/// A delivery with its event's kind.
#[derive(Debug, Clone)]
pub struct ListedDelivery {
    pub delivery: Delivery,
    pub kind: EventKind,
}

/// An endpoint's deliveries, newest first, from before `before` (a delivery id) when given.
pub async fn deliveries(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    endpoint: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<ListedDelivery>> {
    use super::schema::webhook_events;
    let mut q = webhook_deliveries::table
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::tenant_id.eq(tenant))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select((Delivery::as_select(), webhook_events::kind))
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(webhook_deliveries::id.lt(before));
    }
    let rows: Vec<(Delivery, EventKind)> = q.load(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(delivery, kind)| ListedDelivery { delivery, kind })
        .collect())
}

/// A delivery of one of a message's `message.status` events: the status the event announced
/// and where it went (an endpoint's URL, or the message's own `callback_url`).
#[derive(Debug, Clone)]
pub struct MessageDelivery {
    pub delivery: Delivery,
    /// The status the event announced (`sent`, `delivered`, …).
    pub status: String,
    pub url: String,
}

/// The deliveries of message `message`'s status events, oldest first (a message has a few
/// events and each a delivery per endpoint: no page needed).
pub async fn message_deliveries(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    message: Uuid,
) -> QueryResult<Vec<MessageDelivery>> {
    use super::schema::{webhook_endpoints, webhook_events};
    let rows: Vec<(Delivery, serde_json::Value, Option<String>)> = webhook_deliveries::table
        .inner_join(webhook_events::table)
        .left_join(webhook_endpoints::table)
        .filter(webhook_events::tenant_id.eq(tenant))
        .filter(webhook_events::subject_id.eq(message))
        .filter(webhook_events::kind.eq(EventKind::MessageStatus))
        .order(webhook_deliveries::id)
        .select((
            Delivery::as_select(),
            webhook_events::data,
            webhook_endpoints::url.nullable(),
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(delivery, data, endpoint_url)| MessageDelivery {
            status: data["status"].as_str().unwrap_or_default().to_owned(),
            url: endpoint_url
                .or_else(|| delivery.url.clone())
                .unwrap_or_default(),
            delivery,
        })
        .collect())
}

/// Sends a delivery again, now: pending, due at once (a finished one starts over; its attempts
/// stay counted). None when the endpoint has no such delivery.
pub async fn replay(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    endpoint: Uuid,
    id: Uuid,
) -> QueryResult<Option<ListedDelivery>> {
    use super::schema::webhook_events;
    let Some(delivery) = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::tenant_id.eq(tenant))
            .filter(webhook_deliveries::endpoint_id.eq(endpoint))
            .filter(webhook_deliveries::id.eq(id)),
    )
    .set((
        webhook_deliveries::state.eq(DeliveryState::Pending),
        webhook_deliveries::due_at.eq(diesel::dsl::now),
        webhook_deliveries::finished_at.eq(None::<DateTime<Utc>>),
        webhook_deliveries::created_at.eq(diesel::dsl::now),
    ))
    .returning(Delivery::as_returning())
    .get_result(conn)
    .await
    .optional()?
    else {
        return Ok(None);
    };
    let kind = webhook_events::table
        .filter(webhook_events::id.eq(delivery.event_id))
        .select(webhook_events::kind)
        .first(conn)
        .await?;
    Ok(Some(ListedDelivery { delivery, kind }))
}

/// Records an event of `kind` for the tenant, with a delivery to each of its enabled endpoints
/// listening for it, in the caller's transaction (nothing when none listens). `data` is the
/// event's public `data`. (`message.status` events are written by the trigger on `messages`.)
pub async fn emit(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    kind: EventKind,
    subject: Option<Uuid>,
    data: &serde_json::Value,
) -> QueryResult<usize> {
    emit_many(conn, tenant, kind, &[(subject, data.clone())]).await
}

/// [`emit`] for many events of one kind at once (an import's opt-outs), each with its subject
/// and data: one statement.
pub async fn emit_many(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    kind: EventKind,
    events: &[(Option<Uuid>, serde_json::Value)],
) -> QueryResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let subjects: Vec<Option<Uuid>> = events.iter().map(|(s, _)| *s).collect();
    let data: Vec<&serde_json::Value> = events.iter().map(|(_, d)| d).collect();
    diesel::sql_query(
        "WITH listening AS (
             SELECT e.id FROM webhook_endpoints e
             WHERE e.tenant_id = $2 AND e.enabled AND $3 = ANY (e.events)),
         ev AS (
             INSERT INTO webhook_events (id, tenant_id, kind, subject_id, data)
             SELECT i.id, $2, $3, i.subject, i.data
             FROM unnest($1::uuid[], $4::uuid[], $5::jsonb[]) AS i(id, subject, data)
             WHERE EXISTS (SELECT 1 FROM listening)
             RETURNING id)
         INSERT INTO webhook_deliveries (id, tenant_id, event_id, endpoint_id)
         SELECT uuid_v7(), $2, ev.id, l.id FROM ev, listening l",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<diesel::sql_types::Uuid, _>(tenant)
    .bind::<Text, _>(kind)
    .bind::<diesel::sql_types::Array<Nullable<diesel::sql_types::Uuid>>, _>(subjects)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Jsonb>, _>(data)
    .execute(conn)
    .await
}

/// A delivery to publish: its id and the fence the claim must find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub id: Uuid,
    pub fence: i32,
}

/// How the relay feeds endpoints ([`take_due`]).
#[derive(Debug, Clone, Copy)]
pub struct Flow {
    /// Most deliveries taken in one scan, endpoints' and callback URLs' each.
    pub limit: i64,
    /// How long a taken delivery is leased (one whose queue message is lost is due again when
    /// the lease ends).
    pub lease: Duration,
    /// An endpoint with this many deliveries under way (leased, claimed or put off, due again
    /// within a lease) gets no more until some finish; one with fewer gets up to the
    /// difference.
    pub per_endpoint: i64,
}

/// Takes deliveries that are due, for the relay to publish, leasing each for `flow.lease`,
/// ordered by endpoint (so an envelope mostly holds one endpoint's deliveries).
///
/// An endpoint's share is bounded by what it has under way: a slow or dead endpoint soon has
/// `flow.per_endpoint` deliveries under way and gets nothing more, so its backlog waits in
/// Postgres untouched (no lease, no publish, no put-off) instead of cycling through the broker,
/// while the endpoints that keep up get everything due. The endpoints with due deliveries are
/// found by skipping through the `(endpoint_id, due_at)` index, one probe each. Deliveries to
/// messages' own callback URLs are taken in due order (the worker bounds them per host).
pub async fn take_due(conn: &mut AsyncPgConnection, flow: Flow) -> QueryResult<Vec<Due>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
        #[diesel(sql_type = Integer)]
        fence: i32,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "WITH RECURSIVE eps(endpoint_id) AS (
             (SELECT endpoint_id FROM webhook_deliveries
               WHERE state = 'pending' AND endpoint_id IS NOT NULL AND due_at <= now()
               ORDER BY endpoint_id LIMIT 1)
             UNION ALL
             SELECT (SELECT d.endpoint_id FROM webhook_deliveries AS d
                      WHERE d.state = 'pending' AND d.endpoint_id > eps.endpoint_id
                        AND d.due_at <= now()
                      ORDER BY d.endpoint_id LIMIT 1)
               FROM eps WHERE eps.endpoint_id IS NOT NULL),
         open AS (
             SELECT eps.endpoint_id,
                    $3 - (SELECT count(*) FROM (
                              SELECT 1 FROM webhook_deliveries AS f
                               WHERE f.state = 'pending' AND f.endpoint_id = eps.endpoint_id
                                 AND f.due_at > now() AND f.due_at <= now() + $2
                               LIMIT $3) AS busy) AS room
               FROM eps WHERE eps.endpoint_id IS NOT NULL),
         picked AS (
             SELECT p.id FROM open CROSS JOIN LATERAL (
                 SELECT d.id FROM webhook_deliveries AS d
                  WHERE d.state = 'pending' AND d.endpoint_id = open.endpoint_id
                    AND d.due_at <= now()
                  ORDER BY d.due_at LIMIT open.room
                  FOR UPDATE SKIP LOCKED) AS p
              WHERE open.room > 0
              LIMIT $1),
         callbacks AS (
             SELECT id FROM webhook_deliveries
              WHERE state = 'pending' AND endpoint_id IS NULL AND due_at <= now()
              ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED),
         upd AS (
             UPDATE webhook_deliveries SET due_at = now() + $2
              WHERE id IN (SELECT id FROM picked UNION ALL SELECT id FROM callbacks)
              RETURNING id, fence, endpoint_id)
         SELECT id, fence FROM upd ORDER BY endpoint_id",
    )
    .bind::<diesel::sql_types::BigInt, _>(flow.limit)
    .bind::<Interval, _>(super::jobs::interval(flow.lease))
    .bind::<diesel::sql_types::BigInt, _>(flow.per_endpoint)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Due {
            id: r.id,
            fence: r.fence,
        })
        .collect())
}

/// A delivery claimed for one attempt, with all it needs: the event, where to post it, and
/// the secrets to sign it with.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub tenant_id: Uuid,
    /// The fence this claim holds: its outcome is recorded against it.
    #[diesel(sql_type = Integer)]
    pub fence: i32,
    /// Attempts made before this one.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub endpoint_id: Option<Uuid>,
    /// None: the endpoint is disabled.
    #[diesel(sql_type = Nullable<Text>)]
    pub url: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub event_id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: EventKind,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub subject_id: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    pub data: serde_json::Value,
    #[diesel(sql_type = Timestamptz)]
    pub event_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    pub secret_key_id: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Bytea>)]
    pub secret_enc: Option<Vec<u8>>,
    /// The secret before the last rotation, while it still signs.
    #[diesel(sql_type = Nullable<Text>)]
    pub previous_key_id: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Bytea>)]
    pub previous_enc: Option<Vec<u8>>,
}

/// Claims the deliveries named (each at the fence its queue message carries) for an attempt,
/// leasing them for `lease`. A copy of a queue message whose delivery was claimed already
/// (its fence moved on) or finished claims nothing.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    due: &[Due],
    lease: Duration,
) -> QueryResult<Vec<Claimed>> {
    if due.is_empty() {
        return Ok(Vec::new());
    }
    diesel::sql_query(
        "WITH claimed AS (
             UPDATE webhook_deliveries AS d SET fence = d.fence + 1, due_at = now() + $3
             FROM unnest($1::uuid[], $2::int4[]) AS x(id, fence)
             WHERE d.id = x.id AND d.fence = x.fence AND d.state = 'pending'
             RETURNING d.id, d.tenant_id, d.fence, d.attempts, d.created_at, d.endpoint_id,
                       d.url, d.event_id)
         SELECT c.id, c.tenant_id, c.fence, c.attempts, c.created_at, c.endpoint_id,
                CASE WHEN c.endpoint_id IS NULL THEN c.url
                     WHEN e.enabled THEN e.url END AS url,
                c.event_id, ev.kind, ev.subject_id, ev.data, ev.created_at AS event_at,
                COALESCE(e.secret_key_id, s.secret_key_id) AS secret_key_id,
                COALESCE(e.secret_enc, s.secret_enc) AS secret_enc,
                CASE WHEN COALESCE(e.previous_until, s.previous_until) > now()
                     THEN COALESCE(e.previous_key_id, s.previous_key_id) END AS previous_key_id,
                CASE WHEN COALESCE(e.previous_until, s.previous_until) > now()
                     THEN COALESCE(e.previous_enc, s.previous_enc) END AS previous_enc
         FROM claimed c
         JOIN webhook_events ev ON ev.id = c.event_id
         LEFT JOIN webhook_endpoints e ON e.id = c.endpoint_id
         LEFT JOIN webhook_callback_secrets s ON c.endpoint_id IS NULL AND s.tenant_id = c.tenant_id",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(due.iter().map(|d| d.id).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(due.iter().map(|d| d.fence).collect::<Vec<_>>())
    .bind::<Interval, _>(super::jobs::interval(lease))
    .load(conn)
    .await
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: Uuid,
    /// The fence of the claim that made the attempt.
    pub fence: i32,
    /// Succeeded, failed for good, or pending again (due at `next_at`).
    pub state: DeliveryState,
    pub next_at: DateTime<Utc>,
    /// None: no request was made (refused before it, e.g. a private address) or no answer came.
    pub status: Option<i32>,
    pub latency_ms: Option<i32>,
    pub error: Option<String>,
    /// False: not an attempt, just put off (its endpoint had too many requests under way).
    pub attempted: bool,
    pub at: DateTime<Utc>,
}

/// Records outcomes in one statement (each only if its claim still holds), then keeps the
/// endpoints' `failing_since` (cleared by a success, set by the first failure after one) and
/// disables those failing for longer than `disable_after`, which it returns, queueing the job
/// that mails their owners. One transaction; endpoint rows are locked in id order, so
/// concurrent calls cannot deadlock on them.
pub async fn record(
    conn: &mut AsyncPgConnection,
    outcomes: &[Outcome],
    disable_after: Duration,
) -> QueryResult<Vec<Uuid>> {
    use diesel_async::AsyncConnection;
    #[derive(QueryableByName)]
    struct Settled {
        #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
        endpoint_id: Option<Uuid>,
        #[diesel(sql_type = Text)]
        state: DeliveryState,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        attempted: bool,
    }
    #[derive(QueryableByName)]
    struct Disabled {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }
    fn col<T>(o: &[Outcome], f: impl Fn(&Outcome) -> T) -> Vec<T> {
        o.iter().map(f).collect()
    }
    conn.transaction(async |c| {
        let settled: Vec<Settled> = diesel::sql_query(
            "UPDATE webhook_deliveries AS d SET
                 state = x.state, due_at = x.next_at,
                 finished_at = CASE WHEN x.state = 'pending' THEN NULL ELSE x.at END,
                 attempts = d.attempts + x.attempted::int4,
                 last_status = CASE WHEN x.attempted THEN x.status ELSE d.last_status END,
                 last_latency_ms = CASE WHEN x.attempted THEN x.latency_ms
                                        ELSE d.last_latency_ms END,
                 last_error = CASE WHEN x.attempted OR x.error IS NOT NULL THEN x.error
                                   ELSE d.last_error END,
                 log = CASE WHEN x.attempted THEN d.log || jsonb_build_array(jsonb_build_object(
                           'at', x.at, 'status', x.status, 'latency_ms', x.latency_ms,
                           'error', x.error)) ELSE d.log END
             FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::timestamptz[], $5::int4[],
                         $6::int4[], $7::text[], $8::bool[], $9::timestamptz[])
               AS x(id, fence, state, next_at, status, latency_ms, error, attempted, at)
             WHERE d.id = x.id AND d.fence = x.fence
             RETURNING d.endpoint_id, x.state, x.attempted",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(col(outcomes, |o| o.id))
        .bind::<Array<Integer>, _>(col(outcomes, |o| o.fence))
        .bind::<Array<Text>, _>(col(outcomes, |o| o.state))
        .bind::<Array<Timestamptz>, _>(col(outcomes, |o| o.next_at))
        .bind::<Array<Nullable<Integer>>, _>(col(outcomes, |o| o.status))
        .bind::<Array<Nullable<Integer>>, _>(col(outcomes, |o| o.latency_ms))
        .bind::<Array<Nullable<Text>>, _>(col(outcomes, |o| o.error.clone()))
        .bind::<Array<diesel::sql_types::Bool>, _>(col(outcomes, |o| o.attempted))
        .bind::<Array<Timestamptz>, _>(col(outcomes, |o| o.at))
        .load(c)
        .await?;
        // Per endpoint: did any attempt of this batch succeed?
        let mut seen: std::collections::BTreeMap<Uuid, bool> = Default::default();
        for s in settled.iter().filter(|s| s.attempted) {
            if let Some(e) = s.endpoint_id {
                *seen.entry(e).or_default() |= s.state == DeliveryState::Succeeded;
            }
        }
        if seen.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, oks): (Vec<Uuid>, Vec<bool>) = seen.into_iter().unzip();
        let disabled: Vec<Disabled> = diesel::sql_query(
            "WITH s AS (SELECT * FROM unnest($1::uuid[], $2::bool[]) AS s(id, ok)),
                  locked AS (
                      SELECT e.id, s.ok, e.enabled, e.failing_since
                      FROM webhook_endpoints e JOIN s ON s.id = e.id
                      WHERE s.ok AND e.failing_since IS NOT NULL
                         OR NOT s.ok AND (e.failing_since IS NULL
                                          OR e.enabled AND e.failing_since <= now() - $3)
                      ORDER BY e.id FOR UPDATE OF e),
                  upd AS (
                      UPDATE webhook_endpoints AS e SET
                          failing_since = CASE WHEN l.ok THEN NULL
                                               ELSE COALESCE(l.failing_since, now()) END,
                          enabled = e.enabled AND NOT l.disabling,
                          disabled_reason = CASE WHEN l.disabling
                              THEN 'Every delivery failed for ' || $4 || '.'
                              ELSE e.disabled_reason END
                      FROM (SELECT *, COALESCE(NOT ok AND enabled AND failing_since <= now() - $3,
                                               false) AS disabling FROM locked) l
                      WHERE e.id = l.id
                      RETURNING e.id, l.disabling)
             SELECT id FROM upd WHERE disabling",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
        .bind::<Array<diesel::sql_types::Bool>, _>(oks)
        .bind::<Interval, _>(super::jobs::interval(disable_after))
        .bind::<Text, _>(crate::webhooks::describe(disable_after))
        .load(c)
        .await?;
        for d in &disabled {
            super::jobs::enqueue(c, crate::domain::JobKind::WebhookDisabledMail, d.id).await?;
        }
        Ok(disabled.into_iter().map(|d| d.id).collect())
    })
    .await
}
