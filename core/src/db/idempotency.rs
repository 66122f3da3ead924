//! Answers stored under a tenant's `Idempotency-Key` (batches; single sends keep the key on
//! the message row). The record is reserved, filled and committed in the transaction that
//! stores the request's messages, so it exists exactly when they do.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::idempotent_requests;

/// A request made before under the same key, and the answer it got.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotent_requests)]
pub struct Stored {
    pub request_hash: Vec<u8>,
    pub response: serde_json::Value,
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    key: &str,
) -> QueryResult<Option<Stored>> {
    idempotent_requests::table
        .find((tenant_id, key))
        .select(Stored::as_select())
        .first(conn)
        .await
        .optional()
}

/// Takes the key for this request (in the caller's transaction). False when another request
/// holds it; a concurrent one still in flight is waited for by Postgres.
pub async fn reserve(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    key: &str,
    request_hash: &[u8],
) -> QueryResult<bool> {
    let n = diesel::insert_into(idempotent_requests::table)
        .values((
            idempotent_requests::tenant_id.eq(tenant_id),
            idempotent_requests::key.eq(key),
            idempotent_requests::request_hash.eq(request_hash),
            idempotent_requests::response.eq(serde_json::Value::Null),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Records the answer of a request whose key [`reserve`] took.
pub async fn answer(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    key: &str,
    response: &serde_json::Value,
) -> QueryResult<usize> {
    diesel::update(idempotent_requests::table.find((tenant_id, key)))
        .set(idempotent_requests::response.eq(response))
        .execute(conn)
        .await
}
