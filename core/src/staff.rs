//! What platform staff read across tenants; every read is itself audited.

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::audit::{self, Actor, action};
use crate::db::tenants;

/// Up to `limit` tenants after `after`, oldest first, recorded in the platform audit log.
pub async fn list_tenants(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    after: Option<Uuid>,
    limit: i64,
) -> diesel::QueryResult<Vec<tenants::Summary>> {
    let rows = tenants::summaries(conn, after, limit).await?;
    audit::record(
        conn,
        actor,
        None,
        action::STAFF_LISTED_TENANTS,
        None,
        serde_json::json!({"count": rows.len()}),
    )
    .await?;
    Ok(rows)
}
