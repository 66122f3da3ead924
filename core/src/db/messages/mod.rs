//! Messages, their attempts and status events: the send path's state machine.
//!
//! Every statement on the hot path binds whole columns as arrays (`unnest`), so it is one
//! prepared statement whatever the batch size, and every status change appends its event to
//! the row's `events` in the same UPDATE.
//!
//! `status` only moves forward ([`Status::may_become`]); every transition is a conditional
//! UPDATE whose condition is generated from that rule ([`Status::sql_may_become`]), so a
//! redelivered queue message or a late receipt can never undo or repeat a step. The statements
//! are built once, when first used.
//! `round` numbers the retry rounds: a queue message carries the round it was published for,
//! and a worker only acts on it while the row is still in that round and unclaimed.
//!
//! The rooms: [`rows`] (the row types, reads, cancel), [`insert`] (the group commit's insert and
//! the outbox relay), [`claim`] (the worker's claim and finish, doubts and orphans),
//! [`receipts`] (delivery receipts and settling doubts) and [`stats`] (dashboard figures).

pub use crate::domain::Status;
use crate::domain::{KeyMode, LedgerKind};
pub use crate::providers::AttemptOutcome;
pub use crate::routing::{Charge, Fx};

/// What many charges carry besides their amount, as the statements bind them (`fx_currency`,
/// `fx_micros`, `fx_rate` and `platform_cost` arrays): the conversion, NULL where a charge was
/// in the tenant's currency, and a platform provider's cost, NULL for the tenant's own; NULL
/// all through where there is no charge.
#[derive(Default)]
struct FxArrays {
    currency: Vec<Option<String>>,
    micros: Vec<Option<i64>>,
    rate: Vec<Option<i64>>,
    platform_cost: Vec<Option<i64>>,
}

impl FxArrays {
    fn push(&mut self, charge: Option<&Charge>) {
        let fx = charge.and_then(|c| c.fx.as_ref());
        self.currency.push(fx.map(|f| f.currency.clone()));
        self.micros.push(fx.map(|f| f.micros));
        self.rate.push(fx.map(|f| f.rate.e9()));
        self.platform_cost
            .push(charge.and_then(|c| c.platform_cost_micros));
    }
}

/// What a message's stored cost carries (its conversion, its platform cost), named as
/// [`spend_rollup`] reads it.
const FX_COLUMNS: &str = "m.cost_source_currency AS fx_currency, m.cost_source_micros AS fx_micros,
     m.cost_rate_e9 AS fx_rate, m.platform_cost_micros AS platform_cost";

/// What a message's platform fee was converted from (NULL when it was in the tenant's
/// currency), named as [`spend_rollup`] reads it.
const FEE_FX_COLUMNS: &str = "m.fee_source_currency AS fee_fx_currency,
     m.fee_source_micros AS fee_fx_micros, m.fee_rate_e9 AS fee_fx_rate";

/// A status as an SQL literal (`'sent'`), for statements generated from [`Status`].
fn lit(status: Status) -> String {
    format!("'{}'", status.as_str())
}

/// SQL appending a status event to `events` of `target` (`status`: an SQL text expression),
/// stamped now.
fn append_event(target: &str, status: &str) -> String {
    format!(
        "{target}.events || jsonb_build_array(jsonb_build_object('status', {status}, 'at', now()))"
    )
}

/// The event a message still `sent` gets once its provider's `receipt_timeout_seconds` have
/// passed with no receipt ([`mark_receipts_overdue`]); it stays `sent`.
pub const RECEIPT_OVERDUE: &str = "receipt_overdue";

/// SQL of a CTE `watch`: the rows of `from` (each a message a provider took, with its `id`)
/// that match `filter` wait for their receipt — one `receipt_watches` row per receipt timeout
/// of the providers in column `provider`, due when that timeout has passed. One row, not one
/// per message, and no index on `messages` touched.
fn watch_receipts(from: &str, provider: &str, filter: &str) -> String {
    format!(
        "watch AS (
             INSERT INTO receipt_watches (due_at, message_ids)
             SELECT now() + make_interval(secs => p.receipt_timeout_seconds), array_agg(f.id)
             FROM {from} AS f JOIN providers AS p ON p.id = f.{provider}
             WHERE {filter}
             GROUP BY p.receipt_timeout_seconds)"
    )
}

/// SQL of two CTEs, `ledger` and `spend`: the rows of `from` (each a message a provider took,
/// with its id, `attempt` (the round it was taken in), tenant_id, mode, country, message_type,
/// currency, segments, fee_micros and [`FEE_FX_COLUMNS`]) that match `filter` become spend
/// ledger entries — the message's own, the provider in column `provider` and the cost in column
/// `cost` (converted from `fx_micros` of `fx_currency` at `fx_rate` when its price was in
/// another currency), and its platform fee's where it has one (with the fee's conversion);
/// through a platform provider the message's entry also
/// records the operator's cost, column `platform_cost` — and the entries written are added to
/// the daily rollup.
/// An entry is unique per (message, attempt, kind), so a replayed statement charges nothing
/// twice, and only entries actually written reach the rollup. Test-mode messages cost nothing
/// and write nothing. Rollup rows are locked in key order, so concurrent writers cannot
/// deadlock on them.
fn spend_rollup(from: &str, provider: &str, cost: &str, filter: &str) -> String {
    format!(
        "ledger AS (
             INSERT INTO ledger_entries (tenant_id, message_id, attempt, kind, day, provider_id,
                 country, message_type, segments, amount_micros, currency, source_currency,
                 source_micros, rate_e9, platform_cost_micros)
             SELECT f.tenant_id, f.id, f.attempt, k.kind, (now() AT TIME ZONE 'UTC')::date,
                 f.{provider}, f.country, f.message_type, f.segments, k.amount, f.currency,
                 k.fx_currency, k.fx_micros, k.fx_rate, k.platform_cost
             FROM {from} AS f
             CROSS JOIN LATERAL (VALUES
                 ('{message}', COALESCE(f.{cost}, 0), f.fx_currency, f.fx_micros, f.fx_rate,
                  f.platform_cost),
                 ('{fee}', f.fee_micros, f.fee_fx_currency, f.fee_fx_micros, f.fee_fx_rate,
                  NULL))
               AS k(kind, amount, fx_currency, fx_micros, fx_rate, platform_cost)
             WHERE f.mode = '{live}' AND ({filter}) AND (k.kind = '{message}' OR k.amount > 0)
             ON CONFLICT (message_id, attempt, kind) DO NOTHING
             RETURNING tenant_id, day, provider_id, country, message_type, currency, kind,
                 segments, amount_micros, platform_cost_micros),
         spend AS (
             INSERT INTO spend_daily (tenant_id, day, provider_id, country, message_type, currency,
                 messages, segments, cost_micros, fee_micros, platform_cost_micros)
             SELECT tenant_id, day, provider_id, country, message_type, currency,
                 count(*) FILTER (WHERE kind = '{message}'),
                 COALESCE(sum(segments) FILTER (WHERE kind = '{message}'), 0)::int8,
                 COALESCE(sum(amount_micros) FILTER (WHERE kind = '{message}'), 0)::int8,
                 COALESCE(sum(amount_micros) FILTER (WHERE kind = '{fee}'), 0)::int8,
                 COALESCE(sum(platform_cost_micros), 0)::int8
             FROM ledger
             GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
             ON CONFLICT (tenant_id, day, provider_id, country, message_type, currency) DO UPDATE SET
                 messages = spend_daily.messages + excluded.messages,
                 segments = spend_daily.segments + excluded.segments,
                 cost_micros = spend_daily.cost_micros + excluded.cost_micros,
                 fee_micros = spend_daily.fee_micros + excluded.fee_micros,
                 platform_cost_micros = spend_daily.platform_cost_micros
                     + excluded.platform_cost_micros)",
        message = LedgerKind::Message.as_str(),
        fee = LedgerKind::PlatformFee.as_str(),
        live = KeyMode::Live.as_str()
    )
}

fn interval(d: chrono::Duration) -> diesel::pg::data_types::PgInterval {
    diesel::pg::data_types::PgInterval::from_microseconds(d.num_microseconds().unwrap_or(i64::MAX))
}

mod claim;
mod insert;
mod receipts;
mod rows;
mod stats;

pub use claim::*;
pub use insert::*;
pub use receipts::*;
pub use rows::*;
pub use stats::*;
