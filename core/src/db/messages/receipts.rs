//! Delivery receipts: applied in groups, and settling messages whose outcome was in doubt.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::sync::LazyLock;

use uuid::Uuid;

use super::*;
use crate::db::schema::messages;

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
    pub status: Status,
    pub provider_code: Option<String>,
    /// Why it was not delivered, in OpenClaw's vocabulary (becomes the message's error).
    pub error: Option<crate::providers::DeliveryError>,
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
    struct Outcome {
        #[diesel(sql_type = Integer)]
        idx: i32,
        /// Unchanged because its send's outcome is unknown (else: changed).
        #[diesel(sql_type = diesel::sql_types::Bool)]
        doubted: bool,
    }
    if receipts.is_empty() {
        return Ok(Vec::new());
    }
    fn col<T>(receipts: &[ReceiptUpdate], f: impl Fn(&ReceiptUpdate) -> T) -> Vec<T> {
        receipts.iter().map(f).collect()
    }
    // The status only moves forward: a `delivered` that overtook the worker's `sent` wins, a
    // late `sent` after `delivered` changes nothing. The same statement names the receipts for
    // messages whose send outcome is unknown (they wait for exactly such a receipt): found
    // through the small partial index on `doubt_until`, in the snapshot the UPDATE started
    // from (which never touches them), instead of a second look at every unchanged receipt's
    // message.
    static APPLY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH r AS (
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[],
                     $6::text[], $7::int4[], $8::text[], $9::text[])
                   AS r(tenant_id, id, status, code, provider_id, provider_message_id, idx,
                        error_code, error_message)),
             upd AS (
                 UPDATE messages AS m SET status = r.status,
                     error_provider_code = COALESCE(r.code, m.error_provider_code),
                     error_code = COALESCE(r.error_code, m.error_code),
                     error_message = COALESCE(r.error_message, m.error_message),
                     provider_id = COALESCE(m.provider_id, r.provider_id),
                     provider_message_id = COALESCE(m.provider_message_id, r.provider_message_id),
                     events = {event}
                 FROM r
                 WHERE m.tenant_id = r.tenant_id AND m.id = r.id AND m.doubt_until IS NULL
                   AND {moves}
                 RETURNING r.idx)
             SELECT idx, false AS doubted FROM upd
             UNION ALL
             SELECT r.idx, true AS doubted FROM r
               JOIN messages AS m ON m.tenant_id = r.tenant_id AND m.id = r.id
             WHERE m.doubt_until IS NOT NULL AND m.status = {sending}",
            event = append_event("m", "r.status"),
            moves = Status::sql_may_become("m.status", "r.status"),
            sending = lit(Status::Sending),
        )
    });
    let outcomes: Vec<Outcome> = diesel::sql_query(APPLY.as_str())
        .bind::<Array<diesel::sql_types::Uuid>, _>(col(receipts, |r| r.tenant_id))
        .bind::<Array<diesel::sql_types::Uuid>, _>(col(receipts, |r| r.message_id))
        .bind::<Array<Text>, _>(col(receipts, |r| r.status))
        .bind::<Array<Nullable<Text>>, _>(col(receipts, |r| r.provider_code.clone()))
        .bind::<Array<Nullable<diesel::sql_types::Uuid>>, _>(col(receipts, |r| {
            r.from.as_ref().map(|(p, _)| *p)
        }))
        .bind::<Array<Nullable<Text>>, _>(col(receipts, |r| {
            r.from.as_ref().map(|(_, id)| id.clone())
        }))
        .bind::<Array<Integer>, _>((0..receipts.len() as i32).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(col(receipts, |r| r.error.map(|e| e.as_str())))
        .bind::<Array<Nullable<Text>>, _>(col(receipts, |r| r.error.map(|e| e.sentence())))
        .load(conn)
        .await?;
    let mut out: Vec<ReceiptApplied> = receipts.iter().map(|_| ReceiptApplied::Unchanged).collect();
    let mut doubted = Vec::new();
    for o in &outcomes {
        if o.doubted {
            doubted.push(receipts[o.idx as usize].message_id);
        } else {
            out[o.idx as usize] = ReceiptApplied::Changed;
        }
    }
    // Rare: the messages in doubt, whole, for the caller to settle.
    if !doubted.is_empty() {
        let doubted: Vec<Message> = messages::table
            .filter(messages::id.eq_any(&doubted))
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
    pub cost: Charge,
}

/// Settles a message in doubt from its provider's receipt: it was taken, so it is `sent` (or
/// further), with its provider, cost and spend, as if the worker had seen the answer. Only a
/// message still in doubt changes, so a repeated receipt settles nothing twice.
pub async fn settle_in_doubt(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    message_id: Uuid,
    new_status: Status,
    provider_code: Option<&str>,
    settlement: &Settlement,
) -> QueryResult<bool> {
    if !new_status.is_taken() {
        return Ok(false);
    }
    #[derive(QueryableByName)]
    struct Settled {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        #[allow(dead_code)]
        id: Uuid,
    }
    static SETTLE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH upd AS (
                 UPDATE messages AS m SET status = $3, doubt_until = NULL,
                     provider_id = $5, provider_message_id = $6, cost_micros = $7,
                     cost_source_currency = $8, cost_source_micros = $9, cost_rate_e9 = $10,
                     platform_cost_micros = $11,
                     error_code = NULL, error_message = NULL, error_provider_code = $4,
                     events = {event}
                 WHERE tenant_id = $1 AND id = $2 AND doubt_until IS NOT NULL AND {moves}
                 RETURNING m.id, m.round AS attempt, m.tenant_id, m.mode, m.country,
                           m.message_type, m.currency, m.segments, m.fee_micros, m.provider_id,
                           m.cost_micros, {fx}, {fee_fx}, m.status),
             {spend},
             {watch}
             SELECT id FROM upd",
            event = append_event("m", "$3::text"),
            moves = Status::sql_may_become("m.status", "$3::text"),
            spend = spend_rollup("upd", "provider_id", "cost_micros", "true"),
            watch = watch_receipts(
                "upd",
                "provider_id",
                &format!("f.status = {}", lit(Status::Sent))
            ),
            fx = FX_COLUMNS,
            fee_fx = FEE_FX_COLUMNS,
        )
    });
    let settled: Vec<Settled> = diesel::sql_query(SETTLE.as_str())
        .bind::<diesel::sql_types::Uuid, _>(tenant_id)
        .bind::<diesel::sql_types::Uuid, _>(message_id)
        .bind::<Text, _>(new_status)
        .bind::<Nullable<Text>, _>(provider_code)
        .bind::<diesel::sql_types::Uuid, _>(settlement.provider_id)
        .bind::<Text, _>(&settlement.provider_message_id)
        .bind::<BigInt, _>(settlement.cost.micros)
        .bind::<Nullable<Text>, _>(settlement.cost.fx.as_ref().map(|f| &f.currency))
        .bind::<Nullable<BigInt>, _>(settlement.cost.fx.as_ref().map(|f| f.micros))
        .bind::<Nullable<BigInt>, _>(settlement.cost.fx.as_ref().map(|f| f.rate.e9()))
        .bind::<Nullable<BigInt>, _>(settlement.cost.platform_cost_micros)
        .load(conn)
        .await?;
    Ok(!settled.is_empty())
}

/// Gives the messages of up to `limit` receipt watches that fell due a `receipt_overdue` event
/// where they are still `sent` (no final receipt came in their provider's timeout; they stay
/// `sent`), and ends those watches. Returns how many watches it ended and how many messages
/// it marked. Workers at once take different watches.
pub async fn mark_receipts_overdue(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> QueryResult<(usize, usize)> {
    #[derive(QueryableByName)]
    struct Marked {
        #[diesel(sql_type = BigInt)]
        watches: i64,
        #[diesel(sql_type = BigInt)]
        marked: i64,
    }
    static MARK: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH due AS (
                 DELETE FROM receipt_watches WHERE id IN (
                     SELECT id FROM receipt_watches WHERE due_at <= now()
                     ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                 RETURNING message_ids),
             marked AS (
                 UPDATE messages AS m SET events = {event}
                 FROM (SELECT DISTINCT unnest(message_ids) AS id FROM due) AS d
                 WHERE m.id = d.id AND m.status = {sent}
                 RETURNING m.id)
             SELECT (SELECT count(*) FROM due) AS watches,
                    (SELECT count(*) FROM marked) AS marked",
            event = append_event("m", &format!("'{RECEIPT_OVERDUE}'")),
            sent = lit(Status::Sent),
        )
    });
    let m: Marked = diesel::sql_query(MARK.as_str())
        .bind::<BigInt, _>(limit)
        .get_result(conn)
        .await?;
    Ok((m.watches as usize, m.marked as usize))
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

/// The tenant of message `id`, for a receipt from platform provider `provider_id` (which
/// carries every tenant's messages): None unless the message is unknown to any provider yet or
/// went through that one.
pub async fn tenant_of(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    provider_id: Uuid,
) -> QueryResult<Option<Uuid>> {
    messages::table
        .filter(messages::id.eq(id))
        .filter(
            messages::provider_id
                .is_null()
                .or(messages::provider_id.eq(provider_id)),
        )
        .select(messages::tenant_id)
        .first(conn)
        .await
        .optional()
}
