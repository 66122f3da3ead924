//! The worker's side: claiming rounds, committing their results, and ending the rounds of
//! workers that vanished (in doubt, or settled from a receipt).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::sync::LazyLock;

use uuid::Uuid;

use super::*;
use crate::db::schema::message_attempts;

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
    // A retry round claims a message that is `sending` already: its status stays.
    static CLAIM: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH claimed AS (
                 UPDATE messages AS m SET status = $3, claimed_at = now(),
                     events = CASE WHEN {moves} THEN {event} ELSE m.events END
                 FROM unnest($1::uuid[], $2::int4[]) AS d(id, round)
                 WHERE m.id = d.id AND m.round = d.round AND m.claimed_at IS NULL
                   AND (m.status = $3 OR {moves}) AND m.doubt_until IS NULL
                 RETURNING m.*),
             settled AS (
                 DELETE FROM message_outbox AS o USING claimed AS c
                 WHERE o.message_id = c.id AND o.round = c.round)
             SELECT * FROM claimed",
            moves = Status::sql_may_become("m.status", "$3::text"),
            event = append_event("m", "$3::text"),
        )
    });
    diesel::sql_query(CLAIM.as_str())
        .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
        .bind::<Array<Integer>, _>(rounds)
        .bind::<Text, _>(Status::Sending)
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
    pub outcome: AttemptOutcome,
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
        cost: Charge,
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
    /// it waits for the provider's receipt ([`settle_in_doubt`]). `cost` is what it costs if
    /// a receipt turns out to have overtaken this result.
    InDoubt {
        provider_id: Uuid,
        cost: Charge,
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
    let mut statuses: Vec<&str> = Vec::with_capacity(n);
    let mut next_rounds = Vec::with_capacity(n);
    let mut provider_ids: Vec<Option<Uuid>> = Vec::with_capacity(n);
    let mut provider_msg_ids: Vec<Option<String>> = Vec::with_capacity(n);
    let mut costs: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut fx = FxArrays::default();
    let mut error_codes: Vec<Option<String>> = Vec::with_capacity(n);
    let mut error_messages: Vec<Option<String>> = Vec::with_capacity(n);
    let mut error_provider_codes: Vec<Option<String>> = Vec::with_capacity(n);
    for r in results {
        let m = &r.message;
        ids.push(m.id);
        rounds.push(m.round);
        let mut next_round = m.round;
        let (mut pid, mut pmid, mut cost) = (None, None, None::<&Charge>);
        let (mut ec, mut em, mut epc) = (None, None, None);
        let st = match &r.resolution {
            Resolution::Sent {
                provider_id,
                provider_message_id,
                cost: charge,
            } => {
                (pid, pmid, cost) = (
                    Some(*provider_id),
                    Some(provider_message_id.clone()),
                    Some(charge),
                );
                Status::Sent.as_str()
            }
            Resolution::Retry { .. } => {
                next_round += 1;
                Status::Sending.as_str()
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
                Status::Failed.as_str()
            }
            Resolution::Expired => {
                ec = Some("validity_expired".to_owned());
                em =
                    Some("The message's validity period ended before it could be sent.".to_owned());
                Status::Expired.as_str()
            }
            Resolution::InDoubt {
                provider_id,
                cost: charge,
                message,
                provider_code,
            } => {
                (pid, cost) = (Some(*provider_id), Some(charge));
                (ec, em, epc) = (
                    Some(OUTCOME_UNKNOWN.to_owned()),
                    Some(message.clone()),
                    provider_code.clone(),
                );
                IN_DOUBT
            }
        };
        statuses.push(st);
        next_rounds.push(next_round);
        provider_ids.push(pid);
        provider_msg_ids.push(pmid);
        costs.push(cost.map(|c| c.micros));
        fx.push(cost);
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
    static FINISH: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH v AS (
                 SELECT * FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::int4[], $5::uuid[],
                     $6::text[], $7::int8[], $8::text[], $9::text[], $10::text[], $25::text[],
                     $26::int8[], $27::int8[], $28::int8[])
                   AS v(id, round, status, next_round, provider_id, provider_message_id, cost,
                        error_code, error_message, error_provider_code, fx_currency, fx_micros,
                        fx_rate, platform_cost)),
             upd AS (
                 UPDATE messages AS m SET
                     status = CASE WHEN {moves} THEN v.status ELSE m.status END,
                     events = CASE WHEN {moves} THEN {event}
                              WHEN {doubt} THEN {doubt_event}
                              ELSE m.events END,
                     round = v.next_round,
                     claimed_at = NULL,
                     doubt_until = CASE WHEN {doubt} THEN now() + $24 END,
                     provider_id = COALESCE(v.provider_id, m.provider_id),
                     provider_message_id = COALESCE(v.provider_message_id, m.provider_message_id),
                     cost_micros = CASE WHEN {doubt} THEN m.cost_micros
                                   ELSE COALESCE(v.cost, m.cost_micros) END,
                     cost_source_currency = CASE WHEN {doubt} OR v.cost IS NULL
                                            THEN m.cost_source_currency ELSE v.fx_currency END,
                     cost_source_micros = CASE WHEN {doubt} OR v.cost IS NULL
                                          THEN m.cost_source_micros ELSE v.fx_micros END,
                     cost_rate_e9 = CASE WHEN {doubt} OR v.cost IS NULL
                                    THEN m.cost_rate_e9 ELSE v.fx_rate END,
                     platform_cost_micros = CASE WHEN {doubt} OR v.cost IS NULL
                                            THEN m.platform_cost_micros ELSE v.platform_cost END,
                     error_code = CASE WHEN {overtaken} THEN NULL ELSE v.error_code END,
                     error_message = CASE WHEN {overtaken} THEN NULL ELSE v.error_message END,
                     error_provider_code = CASE WHEN {overtaken} THEN NULL
                                           ELSE v.error_provider_code END
                 FROM v
                 WHERE m.id = v.id AND m.round = v.round AND m.claimed_at IS NOT NULL
                 RETURNING m.id, v.round AS attempt, m.tenant_id, m.mode, m.country,
                           m.message_type, m.currency, m.segments, m.fee_micros, {fee_fx},
                           v.provider_id AS via, v.cost, v.fx_currency, v.fx_micros,
                           v.fx_rate, v.platform_cost,
                           -- In doubt, but a receipt overtook this result: it was sent.
                           CASE WHEN v.status = '{in_doubt}' AND m.doubt_until IS NULL THEN {sent}
                           ELSE v.status END AS outcome),
             attempts AS (
                 INSERT INTO message_attempts (message_id, tenant_id, provider_id, round,
                     started_at, outcome, provider_code, provider_message_id, error_message,
                     latency_ms)
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
                 SELECT r.* FROM unnest($21::uuid[], $22::int4[], $23::timestamptz[])
                   AS r(id, round, due)
                 WHERE r.id IN (SELECT id FROM upd)
                 ON CONFLICT (message_id) DO UPDATE SET round = excluded.round,
                     due_at = excluded.due_at),
             {spend},
             {watch}
             SELECT id FROM upd",
            // The worker's result moves the status only where the rule allows: a receipt that
            // overtook it (sending → delivered) keeps its status, and a retry stays `sending`.
            moves = Status::sql_may_become("m.status", "v.status"),
            event = append_event("m", "v.status"),
            // A round in doubt leaves the status `sending` and records that nobody knows.
            doubt = format!(
                "(v.status = '{IN_DOUBT}' AND m.status = {})",
                lit(Status::Sending)
            ),
            doubt_event = append_event("m", &format!("'{OUTCOME_UNKNOWN}'")),
            overtaken = format!(
                "(v.status = '{IN_DOUBT}' AND m.status <> {})",
                lit(Status::Sending)
            ),
            in_doubt = IN_DOUBT,
            sent = lit(Status::Sent),
            fee_fx = FEE_FX_COLUMNS,
            spend = spend_rollup(
                "upd",
                "via",
                "cost",
                &format!("outcome = {}", lit(Status::Sent))
            ),
            // The sends (a receipt that overtook one is seen to when the watch falls due).
            watch = watch_receipts("upd", "via", &format!("f.outcome = {}", lit(Status::Sent))),
        )
    });
    let applied: Vec<Applied> = diesel::sql_query(FINISH.as_str())
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
        .bind::<Array<Text>, _>(acol(&all, |_, a| a.outcome))
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
        .bind::<Array<Nullable<Text>>, _>(&fx.currency)
        .bind::<Array<Nullable<BigInt>>, _>(&fx.micros)
        .bind::<Array<Nullable<BigInt>>, _>(&fx.rate)
        .bind::<Array<Nullable<BigInt>>, _>(&fx.platform_cost)
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
    static DOUBT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH doubted AS (UPDATE messages AS m SET claimed_at = NULL,
                 doubt_until = now() + $3,
                 error_code = '{OUTCOME_UNKNOWN}',
                 error_message = 'The worker stopped while a provider was being called; the \
                                  message is not sent again, and waits for the provider''s receipt.',
                 events = {event}
             FROM unnest($1::uuid[], $2::int4[]) AS d(id, round)
             WHERE m.id = d.id AND m.round = d.round AND m.status = {sending}
               AND m.claimed_at IS NOT NULL
             RETURNING m.id, m.round)
             DELETE FROM message_outbox AS o USING doubted AS d
             WHERE o.message_id = d.id AND o.round = d.round",
            event = append_event("m", &format!("'{OUTCOME_UNKNOWN}'")),
            sending = lit(Status::Sending),
        )
    });
    diesel::sql_query(DOUBT.as_str())
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
    static EXPIRE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE messages AS m SET status = $2, doubt_until = NULL,
                 error_code = '{OUTCOME_UNKNOWN}',
                 error_message = 'Whether the provider took the message is unknown, and no \
                                  receipt came for it; it was not sent again.',
                 events = {event}
             WHERE m.id IN (SELECT id FROM messages WHERE doubt_until < now() LIMIT $1
                            FOR UPDATE SKIP LOCKED)
               AND {moves}",
            event = append_event("m", "$2::text"),
            moves = Status::sql_may_become("m.status", "$2::text"),
        )
    });
    diesel::sql_query(EXPIRE.as_str())
        .bind::<BigInt, _>(limit)
        .bind::<Text, _>(Status::Failed)
        .execute(conn)
        .await
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
    orphans: &[(Orphan, Charge)],
) -> QueryResult<usize> {
    if orphans.is_empty() {
        return Ok(0);
    }
    static SETTLE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH upd AS (
                 UPDATE messages AS m SET claimed_at = NULL, cost_micros = v.cost,
                     cost_source_currency = v.fx_currency, cost_source_micros = v.fx_micros,
                     cost_rate_e9 = v.fx_rate, platform_cost_micros = v.platform_cost
                 FROM unnest($1::uuid[], $2::int4[], $3::int8[], $4::text[], $5::int8[],
                             $6::int8[], $7::int8[])
                   AS v(id, round, cost, fx_currency, fx_micros, fx_rate, platform_cost)
                 WHERE m.id = v.id AND m.round = v.round AND m.claimed_at IS NOT NULL
                   AND {taken} AND m.cost_micros IS NULL AND m.provider_id IS NOT NULL
                 RETURNING m.id, m.round, m.round AS attempt, m.tenant_id, m.mode, m.country,
                           m.message_type, m.currency, m.segments, m.fee_micros, m.provider_id,
                           m.cost_micros, {fx}, {fee_fx}, m.status),
             settled AS (
                 DELETE FROM message_outbox AS o USING upd
                 WHERE o.message_id = upd.id AND o.round = upd.round),
             {spend},
             {watch}
             SELECT id FROM upd",
            taken = Status::sql_in("m.status", &Status::TAKEN),
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
    let mut fx = FxArrays::default();
    for (_, charge) in orphans {
        fx.push(Some(charge));
    }
    diesel::sql_query(SETTLE.as_str())
        .bind::<Array<diesel::sql_types::Uuid>, _>(
            orphans.iter().map(|(o, _)| o.id).collect::<Vec<_>>(),
        )
        .bind::<Array<Integer>, _>(orphans.iter().map(|(o, _)| o.round).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(orphans.iter().map(|(_, c)| c.micros).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(&fx.currency)
        .bind::<Array<Nullable<BigInt>>, _>(&fx.micros)
        .bind::<Array<Nullable<BigInt>>, _>(&fx.rate)
        .bind::<Array<Nullable<BigInt>>, _>(&fx.platform_cost)
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
        .filter(message_attempts::outcome.eq(AttemptOutcome::Permanent))
        .select((message_attempts::message_id, message_attempts::provider_id))
        .load(conn)
        .await
}
