//! The message and attempt rows, the tenant's reads, and cancelling.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::sync::LazyLock;

use uuid::Uuid;

use crate::domain::{Encoding, KeyMode};

use super::*;
use crate::db::schema::{message_attempts, message_outbox, messages};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = messages)]
pub struct Message {
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
    /// What the message costs through `provider` at its current price in `routes` (a
    /// platform provider's sell price, `markup` on its cost where its sell list has none):
    /// nothing in test mode; the estimate made at accept time if that provider has no price for
    /// it any more. For sends recorded from a receipt rather than the worker's own answer.
    pub fn cost_through(
        &self,
        routes: &[crate::routing::RouteProvider],
        provider: Uuid,
        markup: crate::domain::Markup,
    ) -> crate::routing::Charge {
        use crate::routing::Charge;
        if self.mode.is_test() {
            return Charge::default();
        }
        let price = routes
            .iter()
            .find(|r| r.id == provider)
            .and_then(|r| crate::routing::price_of(r, &self.country, &self.message_type, markup));
        match price {
            Some((p, cost)) => Charge {
                platform_cost_micros: cost.map(|c| c.saturating_mul(i64::from(self.segments))),
                ..Charge::of(p.price_micros, p.fx.as_ref(), self.segments)
            },
            None => Charge {
                micros: self.estimated_cost_micros,
                fx: None,
                platform_cost_micros: None,
            },
        }
    }

    /// The status the message was accepted with (what the 202 said).
    pub fn initial_status(&self) -> Status {
        match self.scheduled_at {
            Some(at) if at > self.created_at => Status::Scheduled,
            _ => Status::Queued,
        }
    }
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
    pub outcome: AttemptOutcome,
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
            status: self.initial_status().as_str().to_owned(),
            at: self.created_at,
        }];
        all.extend(serde_json::from_value::<Vec<Event>>(self.events.clone()).unwrap_or_default());
        all
    }
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<Status>,
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
        q = q.filter(messages::status.eq(*s));
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
        static CANCEL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "UPDATE messages AS m SET status = $3, events = {}
                 WHERE tenant_id = $1 AND id = $2 AND {} RETURNING *",
                append_event("m", "$3::text"),
                Status::sql_may_become("m.status", "$3::text")
            )
        });
        let updated: Option<Message> = diesel::sql_query(CANCEL.as_str())
            .bind::<diesel::sql_types::Uuid, _>(tenant_id)
            .bind::<diesel::sql_types::Uuid, _>(id)
            .bind::<Text, _>(Status::Canceled)
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
