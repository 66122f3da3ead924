//! The audit log's rows. What goes in them is decided by [`crate::audit`].

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::audit_log;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct Entry {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub actor_kind: String,
    pub action: String,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, entry: &Entry) -> QueryResult<usize> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
        .await
}

/// Newest first; `before` is the last id of the previous page (ids are time-ordered).
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: Option<Uuid>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    let mut query = audit_log::table.into_boxed();
    query = match tenant {
        Some(t) => query.filter(audit_log::tenant_id.eq(t)),
        None => query.filter(audit_log::tenant_id.is_null()),
    };
    if let Some(before) = before {
        query = query.filter(audit_log::id.lt(before));
    }
    query
        .order(audit_log::id.desc())
        .limit(limit)
        .select(Entry::as_select())
        .load(conn)
        .await
}
