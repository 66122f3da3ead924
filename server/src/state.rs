//! What every handler shares.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_core::config::Settings;
use openclaw_core::db::{self, PgPool, providers};
use openclaw_core::routing::RouteProvider;
use uuid::Uuid;

use crate::auth::Key;
use crate::cache::TtlCache;
use crate::error::ApiError;
use openclaw_core::ingest::Ingest;
use openclaw_core::jwt::JwtKeys;

/// How long another process's change to a key or a price list may take to be seen here.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub jwt: Arc<JwtKeys>,
    /// API key hash → the key (or None: no such key).
    pub keys: Arc<TtlCache<Vec<u8>, Option<Arc<Key>>>>,
    /// Tenant → its providers and prices, for the estimate and `no_route`.
    pub routes: Arc<TtlCache<Uuid, Vec<RouteProvider>>>,
    pub key_usage: Arc<KeyUsage>,
    /// Requests per API key (a token bucket per key, `OPENCLAW_API_KEY_RATE`).
    pub key_limiter: Arc<governor::DefaultKeyedRateLimiter<Uuid>>,
    /// Mails invitations when `OPENCLAW_SMTP_URL` is set.
    pub mailer: Option<Arc<openclaw_core::mail::Mailer>>,
    pub ingest: Ingest,
    /// Delivery receipts, applied in groups.
    pub receipts: openclaw_core::receipts::Receipts,
    /// Provider → what its callbacks are checked and applied with (or None: no such provider).
    pub hook_providers: Arc<TtlCache<Uuid, Option<crate::routes::hooks::HookProvider>>>,
}

impl AppState {
    /// Where invitations are mailed, if anywhere.
    pub fn invite_mail(&self) -> Option<openclaw_core::members::Mail<'_>> {
        openclaw_core::members::Mail::of(&self.mailer, &self.settings.public_url)
    }

    /// Runs `f` on a pooled connection in a transaction scoped to `tenant` (row-level
    /// security refuses other tenants' rows; see `openclaw_core::db::scoped`).
    pub async fn scoped<R>(
        &self,
        tenant: Uuid,
        f: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut conn = self.pool.get().await?;
        openclaw_core::db::scoped(&mut conn, tenant, f).await
    }

    pub async fn routing_table(
        &self,
        tenant_id: Uuid,
    ) -> Result<Arc<Vec<RouteProvider>>, ApiError> {
        if let Some(table) = self.routes.get(&tenant_id) {
            return Ok(table);
        }
        let mut conn = self.pool.get().await?;
        let table = providers::routing_table(&mut conn, tenant_id).await?;
        Ok(self
            .routes
            .put(tenant_id, table.into_iter().map(|p| p.route).collect()))
    }
}

/// Which keys were used since the last flush; `last_used_at` is written in the background
/// (at most every few seconds per key) instead of once per request.
#[derive(Default)]
pub struct KeyUsage {
    used: Mutex<HashSet<Uuid>>,
}

impl KeyUsage {
    pub fn record(&self, key_id: Uuid) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.insert(key_id);
    }

    pub async fn flush(&self, pool: &PgPool) -> anyhow::Result<()> {
        let ids: Vec<Uuid> = {
            let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
            used.drain().collect()
        };
        if !ids.is_empty() {
            let mut conn = pool.get().await?;
            db::api_keys::touch(&mut conn, &ids).await?;
        }
        Ok(())
    }
}
