//! Tenants: one company using OpenClaw.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::tenants;
use crate::domain::MessageType;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    /// Used when neither the message nor its provider names a sender.
    pub default_sender_ids: Vec<String>,
    /// Sent to numbers that opted out all the same (never marketing).
    pub opt_out_exempt_types: Vec<MessageType>,
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
    opt_out_exempt_types: &[MessageType],
) -> QueryResult<Tenant> {
    diesel::update(tenants::table.find(id))
        .set((
            tenants::name.eq(name),
            tenants::default_sender_ids.eq(default_sender_ids),
            tenants::opt_out_exempt_types.eq(opt_out_exempt_types),
        ))
        .returning(Tenant::as_returning())
        .get_result(conn)
        .await
}

/// A tenant as platform staff see it in the list.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Summary {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub members: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub messages_this_month: i64,
}

/// Tenants oldest first after `after`, with member and this month's message counts (from the
/// spend rollup, not a scan of `messages`).
pub async fn summaries(
    conn: &mut AsyncPgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Summary>> {
    use diesel::sql_types::{BigInt, Nullable, Uuid as SqlUuid};
    diesel::sql_query(
        "SELECT t.id, t.name, t.currency, t.created_at, \
           (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS members, \
           COALESCE((SELECT sum(s.messages) FROM spend_daily s \
                     WHERE s.tenant_id = t.id \
                       AND s.day >= date_trunc('month', now() AT TIME ZONE 'UTC')::date), 0)::bigint \
             AS messages_this_month \
         FROM tenants t \
         WHERE $1::uuid IS NULL OR t.id > $1 \
         ORDER BY t.id \
         LIMIT $2",
    )
    .bind::<Nullable<SqlUuid>, _>(after)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}
