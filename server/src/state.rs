//! What every handler shares: the one application context (`openclaw_core::context`), which
//! the admin app takes too.

pub use openclaw_core::context::AppContext;

use crate::error::ApiError;

/// Tenant-scoped transactions whose steps fail with the API's error.
pub trait Scoped {
    /// Runs `f` on a pooled connection in a transaction scoped to `tenant` (row-level
    /// security refuses other tenants' rows; see `openclaw_core::db::scoped`).
    fn scoped<R>(
        &self,
        tenant: uuid::Uuid,
        f: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<R, ApiError>,
    ) -> impl Future<Output = Result<R, ApiError>>;
}

impl Scoped for AppContext {
    async fn scoped<R>(
        &self,
        tenant: uuid::Uuid,
        f: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut conn = self.pool.get().await?;
        openclaw_core::db::scoped(&mut conn, tenant, f).await
    }
}
