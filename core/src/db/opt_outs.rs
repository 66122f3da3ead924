//! Storage of opt-outs and inbound messages. Every function runs in the caller's transaction,
//! scoped to the tenant ([`crate::db::scoped`]).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{inbound_messages, opt_outs};
use crate::domain::{Keyword, OptOutSource};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = opt_outs)]
pub struct OptOut {
    pub id: Uuid,
    pub number: String,
    pub source: OptOutSource,
    pub created_at: DateTime<Utc>,
}

/// A page of the tenant's opt-outs, newest first, after the one with id `before`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<OptOut>> {
    let mut q = opt_outs::table
        .filter(opt_outs::tenant_id.eq(tenant))
        .select(OptOut::as_select())
        .order(opt_outs::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(opt_outs::id.lt(before));
    }
    q.load(conn).await
}

/// Adds the numbers that are not on the list yet; returns those it added.
pub async fn add(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    numbers: &[String],
    source: OptOutSource,
) -> QueryResult<Vec<OptOut>> {
    let rows: Vec<_> = numbers
        .iter()
        .map(|n| {
            (
                opt_outs::tenant_id.eq(tenant),
                opt_outs::number.eq(n),
                opt_outs::id.eq(Uuid::now_v7()),
                opt_outs::source.eq(source),
            )
        })
        .collect();
    let mut added = Vec::with_capacity(rows.len());
    // 4 parameters a row: well under Postgres' 65,535 per statement.
    for chunk in rows.chunks(10_000) {
        let mut more: Vec<OptOut> = diesel::insert_into(opt_outs::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .returning(OptOut::as_returning())
            .get_results(conn)
            .await?;
        added.append(&mut more);
    }
    Ok(added)
}

/// Takes a number off the list; returns it as it was, or None if it was not on it.
pub async fn remove(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    number: &str,
) -> QueryResult<Option<OptOut>> {
    diesel::delete(
        opt_outs::table
            .filter(opt_outs::tenant_id.eq(tenant))
            .filter(opt_outs::number.eq(number)),
    )
    .returning(OptOut::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Every opt-out of the tenant, oldest first (for the CSV export).
pub async fn all(conn: &mut AsyncPgConnection, tenant: Uuid) -> QueryResult<Vec<OptOut>> {
    opt_outs::table
        .filter(opt_outs::tenant_id.eq(tenant))
        .select(OptOut::as_select())
        .order(opt_outs::id.asc())
        .load(conn)
        .await
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = inbound_messages)]
pub struct Inbound {
    pub id: Uuid,
    pub provider_id: Uuid,
    pub provider_message_id: String,
    pub sender: String,
    pub recipient: String,
    pub body: String,
    pub keyword: Option<Keyword>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = inbound_messages)]
pub struct NewInbound {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub provider_id: Uuid,
    pub provider_message_id: String,
    pub sender: String,
    pub recipient: String,
    pub body: String,
    pub keyword: Option<Keyword>,
}

/// Stores an inbound message; None when this provider's message id was stored before (the
/// provider resent it).
pub async fn insert_inbound(
    conn: &mut AsyncPgConnection,
    new: &NewInbound,
) -> QueryResult<Option<Inbound>> {
    diesel::insert_into(inbound_messages::table)
        .values(new)
        .on_conflict_do_nothing()
        .returning(Inbound::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Which inbound messages to list.
#[derive(Debug, Clone, Default)]
pub struct InboundFilter {
    /// The tenant's number they were sent to (E.164).
    pub to: Option<String>,
    /// Who sent them (E.164).
    pub from: Option<String>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
}

/// A page of the tenant's inbound messages, newest first, after the one with id `before`.
pub async fn list_inbound(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    filter: &InboundFilter,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Inbound>> {
    let mut q = inbound_messages::table
        .filter(inbound_messages::tenant_id.eq(tenant))
        .select(Inbound::as_select())
        .order(inbound_messages::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(inbound_messages::id.lt(before));
    }
    if let Some(to) = &filter.to {
        q = q.filter(inbound_messages::recipient.eq(to.clone()));
    }
    if let Some(from) = &filter.from {
        q = q.filter(inbound_messages::sender.eq(from.clone()));
    }
    if let Some(since) = filter.since {
        q = q.filter(inbound_messages::received_at.ge(since));
    }
    q.load(conn).await
}

/// The tenant's opt-out of `number`, if it has one.
pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    number: &str,
) -> QueryResult<Option<OptOut>> {
    opt_outs::table
        .filter(opt_outs::tenant_id.eq(tenant))
        .filter(opt_outs::number.eq(number))
        .select(OptOut::as_select())
        .first(conn)
        .await
        .optional()
}
