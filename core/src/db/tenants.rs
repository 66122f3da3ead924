//! Tenants: one company using OpenClaw.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::tenants;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    /// Used when neither the message nor its provider names a sender.
    pub default_sender_ids: Vec<String>,
}

pub async fn insert(conn: &mut AsyncPgConnection, id: Uuid, name: &str) -> QueryResult<Tenant> {
    diesel::insert_into(tenants::table)
        .values((tenants::id.eq(id), tenants::name.eq(name)))
        .returning(Tenant::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Tenant> {
    tenants::table
        .find(id)
        .select(Tenant::as_select())
        .get_result(conn)
        .await
}

/// Changes the name and default sender ids.
pub async fn update_settings(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: &str,
    default_sender_ids: &[String],
) -> QueryResult<Tenant> {
    diesel::update(tenants::table.find(id))
        .set((
            tenants::name.eq(name),
            tenants::default_sender_ids.eq(default_sender_ids),
        ))
        .returning(Tenant::as_returning())
        .get_result(conn)
        .await
}
