//! The API's group-commit insert, and the outbox relay that publishes what the broker never
//! confirmed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use uuid::Uuid;

use crate::domain::{Encoding, KeyMode};

use super::*;
use crate::db::schema::messages;

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub api_key_id: Option<Uuid>,
    pub mode: KeyMode,
    pub recipient: String,
    pub sender: Option<String>,
    pub country: String,
    pub message_type: String,
    pub body: String,
    pub encoding: Encoding,
    pub segments: i32,
    pub estimated_cost_micros: i64,
    pub currency: String,
    pub status: Status,
    pub callback_url: Option<String>,
    pub client_ref: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    /// What to hold against the tenant's hard-capped budget until the message is sent (its
    /// worst-case cost); None when the tenant has no hard cap (or the message is free). Set by
    /// the accept path; the group commit checks it against what the month has left
    /// ([`crate::budgets::admit`]).
    pub hold_micros: Option<i64>,
    /// The platform fee (per segment × segments, in `currency`), fixed at acceptance; charged
    /// with the message when a provider takes it. Zero for test-mode messages.
    pub fee_micros: i64,
    /// What the fee was converted from, when the operator's fee is in another currency.
    pub fee_fx: Option<Fx>,
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
    /// The tenant's budget is a hard cap and this message's worst-case cost does not fit what
    /// the month has left (`remaining`, in micro-units of `currency`); nothing was stored.
    OverBudget {
        remaining_micros: i64,
        currency: String,
    },
    /// The recipient opted out of the tenant's messages; nothing was stored.
    OptedOut,
}

/// How long the API's own publisher has to get a confirm before the relay publishes instead.
pub const PUBLISH_GRACE: chrono::Duration = chrono::Duration::seconds(10);
/// How long the relay waits for a confirm of its own before trying again.
const RELAY_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// Binds the 28 row columns every insert statement of this module takes as arrays ($1–$22,
/// $24–$28; $23 is the publish grace).
macro_rules! bind_rows {
    ($query:expr, $rows:expr) => {{
        use diesel::sql_types::{Bytea, Jsonb, Uuid as SqlUuid};
        fn col<T, F: Fn(&NewMessage) -> T>(rows: &[NewMessage], f: F) -> Vec<T> {
            rows.iter().map(f).collect()
        }
        let rows: &[NewMessage] = $rows;
        $query
            .bind::<Array<SqlUuid>, _>(col(rows, |r| r.id))
            .bind::<Array<SqlUuid>, _>(col(rows, |r| r.tenant_id))
            .bind::<Array<Nullable<SqlUuid>>, _>(col(rows, |r| r.api_key_id))
            .bind::<Array<Text>, _>(col(rows, |r| r.mode))
            .bind::<Array<Text>, _>(col(rows, |r| r.recipient.clone()))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.sender.clone()))
            .bind::<Array<Text>, _>(col(rows, |r| r.country.clone()))
            .bind::<Array<Text>, _>(col(rows, |r| r.message_type.clone()))
            .bind::<Array<Text>, _>(col(rows, |r| r.body.clone()))
            .bind::<Array<Text>, _>(col(rows, |r| r.encoding))
            .bind::<Array<Integer>, _>(col(rows, |r| r.segments))
            .bind::<Array<BigInt>, _>(col(rows, |r| r.estimated_cost_micros))
            .bind::<Array<Text>, _>(col(rows, |r| r.currency.clone()))
            .bind::<Array<Text>, _>(col(rows, |r| r.status))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.callback_url.clone()))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.client_ref.clone()))
            .bind::<Array<Nullable<Jsonb>>, _>(col(rows, |r| r.metadata.clone()))
            .bind::<Array<Nullable<Timestamptz>>, _>(col(rows, |r| r.scheduled_at))
            .bind::<Array<Nullable<Timestamptz>>, _>(col(rows, |r| r.expires_at))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.idempotency_key.clone()))
            .bind::<Array<Nullable<Bytea>>, _>(col(rows, |r| r.request_hash.clone()))
            .bind::<Array<Timestamptz>, _>(col(rows, |r| r.created_at))
            .bind::<diesel::sql_types::Interval, _>(interval(PUBLISH_GRACE))
            .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| r.hold_micros))
            .bind::<Array<BigInt>, _>(col(rows, |r| r.fee_micros))
            .bind::<Array<Nullable<Text>>, _>(col(rows, |r| {
                r.fee_fx.as_ref().map(|f| f.currency.clone())
            }))
            .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| r.fee_fx.as_ref().map(|f| f.micros)))
            .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| {
                r.fee_fx.as_ref().map(|f| f.rate.e9())
            }))
    }};
}

/// The rows of a group commit as a relation `input`, bound as arrays ([`bind_rows!`]), with
/// their position (`idx`).
const INPUT: &str = "input AS (
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int4[],
         $12::int8[], $13::text[], $14::text[], $15::text[], $16::text[], $17::jsonb[],
         $18::timestamptz[], $19::timestamptz[], $20::text[], $21::bytea[],
         $22::timestamptz[], $24::int8[], $25::int8[], $26::text[], $27::int8[],
         $28::int8[]) WITH ORDINALITY
       AS i(id, tenant_id, api_key_id, mode, recipient, sender, country, message_type,
            body, encoding, segments, estimated_cost_micros, currency, status,
            callback_url, client_ref, metadata, scheduled_at, expires_at,
            idempotency_key, request_hash, created_at, hold, fee, fee_fx_currency,
            fee_fx_micros, fee_fx_rate, idx))";

/// The columns a new message is stored with, and what they are taken from: `i` is a row of
/// [`INPUT`]; `{held}` and `{hold}` say whether and what it holds.
fn insert_messages(from: &str, held: &str, hold: &str) -> String {
    format!(
        "INSERT INTO messages (id, tenant_id, api_key_id, mode, recipient, sender, country,
             message_type, body, encoding, segments, estimated_cost_micros, currency, status,
             callback_url, client_ref, metadata, scheduled_at, expires_at, idempotency_key,
             request_hash, created_at, held, hold_micros, fee_micros, fee_source_currency,
             fee_source_micros, fee_rate_e9)
         SELECT i.id, i.tenant_id, i.api_key_id, i.mode, i.recipient, i.sender, i.country,
             i.message_type, i.body, i.encoding, i.segments, i.estimated_cost_micros,
             i.currency, i.status, i.callback_url, i.client_ref, i.metadata, i.scheduled_at,
             i.expires_at, i.idempotency_key, i.request_hash, i.created_at, {held}, {hold},
             i.fee, i.fee_fx_currency, i.fee_fx_micros, i.fee_fx_rate
         FROM {from}
         ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL
         DO NOTHING
         RETURNING id, tenant_id, scheduled_at, created_at, hold_micros"
    )
}

/// The outbox rows of the messages `created` stored (a CTE).
const OUTBOX: &str = "outbox AS (
     INSERT INTO message_outbox (message_id, round, due_at)
     SELECT id, 0, COALESCE(scheduled_at, created_at + $23) FROM created)";

/// Leaves out the rows whose recipient opted out of their tenant's messages (a condition on
/// `i`, a row of [`INPUT`]) unless the tenant sends the row's message type to opted-out
/// numbers all the same (`tenants.opt_out_exempt_types`): one index probe a row, a second
/// only for a row to an opted-out number, in the statement that stores them.
const NOT_OPTED_OUT: &str = "(NOT EXISTS (SELECT 1 FROM opt_outs o
                                  WHERE o.tenant_id = i.tenant_id AND o.number = i.recipient)
                              OR EXISTS (SELECT 1 FROM tenants t WHERE t.id = i.tenant_id
                                  AND i.message_type = ANY (t.opt_out_exempt_types)))";

/// What became of a row the insert did not store (and did not refuse for the budget): the
/// message its idempotency key names, which the tenant stored already; else its recipient
/// opted out (the only other reason a row is left out).
async fn existing(conn: &mut AsyncPgConnection, row: &NewMessage) -> QueryResult<Inserted> {
    if row.idempotency_key.is_none() {
        return Ok(Inserted::OptedOut);
    }
    let existing = messages::table
        .filter(messages::tenant_id.eq(row.tenant_id))
        .filter(messages::idempotency_key.eq(&row.idempotency_key))
        .select(Message::as_select())
        .get_result(conn)
        .await
        .optional()?;
    Ok(match existing {
        Some(m) => Inserted::Existing(Box::new(m)),
        None => Inserted::OptedOut,
    })
}

/// Inserts many messages in one statement and one transaction (the API's group commit), each
/// with its outbox row. A row whose `(tenant_id, idempotency_key)` exists already is not
/// inserted; the existing message is returned instead so the caller can replay or refuse.
pub async fn insert_batch(
    conn: &mut AsyncPgConnection,
    rows: &[NewMessage],
) -> QueryResult<Vec<Inserted>> {
    #[derive(QueryableByName)]
    struct Created {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    // One statement: the messages and their outbox rows commit together, in one round trip.
    static INSERT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH {INPUT},
             created AS ({insert}),
             holds AS (
                 INSERT INTO budget_held AS b (tenant_id, micros)
                 SELECT tenant_id, sum(hold_micros)::int8 FROM created
                 WHERE hold_micros > 0 GROUP BY tenant_id
                 ON CONFLICT (tenant_id) DO UPDATE SET micros = b.micros + EXCLUDED.micros),
             {OUTBOX}
             SELECT id FROM created",
            insert = insert_messages(
                &format!("input AS i WHERE {NOT_OPTED_OUT}"),
                "i.hold IS NOT NULL",
                "COALESCE(i.hold, 0)"
            ),
        )
    });
    let created: Vec<Created> = bind_rows!(diesel::sql_query(INSERT.as_str()), rows)
        .load(conn)
        .await?;
    let created: std::collections::HashSet<Uuid> = created.into_iter().map(|r| r.id).collect();
    if created.len() == rows.len() {
        return Ok(rows.iter().map(|_| Inserted::Created).collect());
    }
    // Rows whose idempotency key was taken are missing (they exist, committed already), and
    // rows to opted-out numbers.
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if created.contains(&row.id) {
            out.push(Inserted::Created);
        } else {
            out.push(existing(conn, row).await?);
        }
    }
    Ok(out)
}

/// Inserts rows that ask for a hold against their tenants' hard-capped budgets in one
/// statement, its own transaction: `budget_room` locks those budgets and reads what each
/// month has left after the lock (see the migration `budget_release_counters`); rows are
/// admitted in order while their holds fit (a row that does not fit is answered
/// [`Inserted::OverBudget`] with what is left, and so are the tenant's rows after it in this
/// commit); the admitted are stored with their outbox rows, and the tenant's held total grows
/// by what they hold. A row of a tenant whose budget is no longer a hard cap is stored without
/// a hold.
pub async fn insert_capped(
    conn: &mut AsyncPgConnection,
    rows: &[NewMessage],
    period: crate::domain::Period,
) -> QueryResult<Vec<Inserted>> {
    use diesel::sql_types::Date;
    /// A stored row's id, or a tenant's room (one of the two is set).
    #[derive(QueryableByName)]
    struct Answer {
        #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
        id: Option<Uuid>,
        #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
        tenant_id: Option<Uuid>,
        #[diesel(sql_type = Nullable<BigInt>)]
        room: Option<i64>,
        #[diesel(sql_type = Nullable<Text>)]
        currency: Option<String>,
    }
    // The input is read once, straight into the insert (a CTE read twice is copied first: the
    // wide rows twice over). Each row comes with its tenant's running hold up to and including
    // it (`upto`, $31, summed here), and is admitted while that fits its tenant's room; which
    // rows did not fit the server works out from the rooms the statement returns.
    static INSERT: LazyLock<String> = LazyLock::new(|| {
        let input = INPUT
            .replace("$28::int8[]) WITH", "$28::int8[], $31::int8[]) WITH")
            .replace("fee_fx_rate, idx))", "fee_fx_rate, upto, idx))");
        assert!(input.contains("upto, idx"), "INPUT changed shape");
        format!(
            "WITH room AS (SELECT * FROM budget_room($32, $29, $30)),
             {input},
             created AS ({insert}),
             added AS (
                 SELECT tenant_id, sum(hold_micros)::int8 AS micros FROM created
                 GROUP BY tenant_id),
             holds AS (
                 INSERT INTO budget_held AS b (tenant_id, micros)
                 SELECT tenant_id, micros FROM added WHERE micros > 0
                 ON CONFLICT (tenant_id) DO UPDATE SET micros = b.micros + EXCLUDED.micros),
             {OUTBOX}
             SELECT id, NULL::uuid AS tenant_id, NULL::int8 AS room, NULL::text AS currency
             FROM created
             UNION ALL
             SELECT NULL, tenant_id, room, currency FROM room",
            insert = insert_messages(
                &format!(
                    "input AS i LEFT JOIN room r ON r.tenant_id = i.tenant_id
                     WHERE (r.tenant_id IS NULL OR i.upto <= r.room) AND {NOT_OPTED_OUT}"
                ),
                "r.tenant_id IS NOT NULL",
                "CASE WHEN r.tenant_id IS NULL THEN 0 ELSE i.hold END"
            ),
        )
    });
    let mut so_far: HashMap<Uuid, i64> = HashMap::new();
    let upto: Vec<i64> = rows
        .iter()
        .map(|r| {
            let sum = so_far.entry(r.tenant_id).or_insert(0);
            *sum = sum.saturating_add(r.hold_micros.unwrap_or(0));
            *sum
        })
        .collect();
    let mut tenants: Vec<Uuid> = so_far.into_keys().collect();
    tenants.sort_unstable();
    let answers: Vec<Answer> = bind_rows!(diesel::sql_query(INSERT.as_str()), rows)
        .bind::<Date, _>(period.first_day())
        .bind::<Date, _>(period.last_day())
        .bind::<Array<BigInt>, _>(&upto)
        .bind::<Array<diesel::sql_types::Uuid>, _>(&tenants)
        .load(conn)
        .await?;
    let mut created = HashSet::new();
    // Per hard-capped tenant: its room, the last running hold that fitted, its currency.
    let mut rooms: HashMap<Uuid, (i64, i64, String)> = HashMap::new();
    for a in answers {
        match (a.id, a.tenant_id, a.room) {
            (Some(id), ..) => {
                created.insert(id);
            }
            (None, Some(tenant), Some(room)) => {
                rooms.insert(tenant, (room, 0, a.currency.unwrap_or_default()));
            }
            _ => {}
        }
    }
    for (row, upto) in rows.iter().zip(&upto) {
        if let Some((room, used, _)) = rooms.get_mut(&row.tenant_id)
            && *upto <= *room
        {
            *used = *upto;
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for (row, upto) in rows.iter().zip(&upto) {
        match rooms.get(&row.tenant_id) {
            Some((room, used, currency)) if upto > room => out.push(Inserted::OverBudget {
                remaining_micros: (room - used).max(0),
                currency: currency.clone(),
            }),
            _ if created.contains(&row.id) => out.push(Inserted::Created),
            // Admitted but not stored: its idempotency key names a message stored before, or
            // its recipient opted out.
            _ => out.push(existing(conn, row).await?),
        }
    }
    Ok(out)
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
            static RELEASE: LazyLock<String> = LazyLock::new(|| {
                format!(
                    "UPDATE messages AS m SET status = $2, events = {}
                     WHERE id = ANY($1) AND {}",
                    append_event("m", "$2::text"),
                    Status::sql_may_become("m.status", "$2::text")
                )
            });
            diesel::sql_query(RELEASE.as_str())
                .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
                .bind::<Text, _>(Status::Queued)
                .execute(c)
                .await?;
        }
        Ok(due)
    })
    .await
}

// ---- the worker ----------------------------------------------------------------------------
