//! The application context: what the API's handlers and the admin app's pages and forms share.
//! The server builds one and registers it once (`web::Data<AppContext>`) for both.
//!
//! It lives here, in core, because both the server and the admin app (`openclaw-web`) take it
//! and neither may depend on the other for it: the server only mounts the admin app.
//!
//! Its caches are kept fresh across processes: every write that changes what they hold
//! announces it in its transaction ([`crate::changes::announce`]), every process listens
//! ([`AppContext::listen_for_changes`]) and evicts, and after its commit the writer calls
//! [`AppContext::changed`]: it evicts in this process at once and answers only when every
//! listening process has heard, so no request after the write's answer sees the old state.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cache::{TTL, TtlCache};
use crate::changes::{Barriers, Change};
use crate::config::Settings;
use crate::db::{self, PgPool, api_keys};
use crate::hooks::HookProvider;
use crate::ingest::Ingest;
use crate::jwt::JwtKeys;
use crate::mail::Mailer;
use crate::receipts::Receipts;
use crate::routing::RouteTables;

/// A tenant API key, as the accept path knows it (cached by the hash of its secret).
#[derive(Debug, Clone)]
pub struct CallerKey {
    pub key_id: Uuid,
    pub tenant_id: Uuid,
    pub test_mode: bool,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl CallerKey {
    /// Neither revoked (a rotated key's grace may still run) nor expired at `now`.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none_or(|t| t > now) && self.expires_at.is_none_or(|t| t > now)
    }
}

/// API key hash → the key (or None: no such key).
pub type KeyCache = TtlCache<Vec<u8>, Option<Arc<CallerKey>>>;
/// Provider → what its callbacks are checked and applied with (or None: no such provider).
pub type HookProviderCache = TtlCache<Uuid, Option<HookProvider>>;

pub struct AppContext {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub jwt: Arc<JwtKeys>,
    /// Mails invitations when `OPENCLAW_SMTP_URL` is set.
    pub mailer: Option<Arc<Mailer>>,
    /// The group commit: a message sent from the admin app is accepted exactly like one sent
    /// through `POST /v1/messages`.
    pub ingest: Ingest,
    /// Delivery receipts, applied in groups.
    pub receipts: Receipts,
    /// `scheme://host[:port]` of `OPENCLAW_PUBLIC_URL`: what the admin app's form posts must
    /// come from (CSRF defence with SameSite cookies).
    pub origin: String,
    /// The public URL is `https://…`: cookies get `Secure`.
    pub secure_cookies: bool,
    /// The API keys of the accept path; see [`AppContext::api_key`].
    pub keys: Arc<KeyCache>,
    /// Tenants' route tables, for the estimate, `no_route` and a receipt's settled price.
    pub routes: Arc<RouteTables>,
    /// Providers named by delivery receipts.
    pub hook_providers: Arc<HookProviderCache>,
    /// Which keys were used since `last_used_at` was last written.
    pub key_usage: Arc<KeyUsage>,
    /// Requests per API key (a token bucket per key, `OPENCLAW_API_KEY_RATE`).
    pub key_limiter: Arc<governor::DefaultKeyedRateLimiter<Uuid>>,
    /// Where writes wait until every process has heard their change.
    pub barriers: Arc<Barriers>,
}

impl AppContext {
    /// The context over `pool` and `ingest`; starts the receipt committer. Fails only on a
    /// malformed `OPENCLAW_SMTP_URL` or `OPENCLAW_MAIL_FROM`.
    pub fn new(settings: Settings, pool: PgPool, ingest: Ingest) -> anyhow::Result<AppContext> {
        let mailer = match settings.smtp_url() {
            Some(url) => Some(Arc::new(Mailer::new(url, &settings.mail_from)?)),
            None => None,
        };
        let settings = Arc::new(settings);
        Ok(AppContext {
            jwt: Arc::new(JwtKeys::new(&settings.jwt_secret)),
            mailer,
            ingest,
            receipts: Receipts::start(pool.clone()).0,
            origin: origin_of(&settings.public_url),
            secure_cookies: settings.public_url.starts_with("https://"),
            keys: Arc::new(TtlCache::new(TTL)),
            routes: Arc::new(RouteTables::new(pool.clone(), settings.clone())),
            hook_providers: Arc::new(TtlCache::new(TTL)),
            key_usage: Arc::new(KeyUsage::default()),
            key_limiter: Arc::new(governor::RateLimiter::keyed(governor::Quota::per_second(
                settings.api_key_rate,
            ))),
            barriers: Arc::default(),
            pool,
            settings,
        })
    }

    /// Where invitations are mailed, if anywhere.
    pub fn invite_mail(&self) -> Option<crate::members::Mail<'_>> {
        crate::members::Mail::of(&self.mailer, &self.settings.public_url)
    }

    /// The key whose secret this is (None: no such key), revoked and expired ones included:
    /// [`CallerKey::is_usable`] says whether it may be used now. A hash-map read once cached.
    pub async fn api_key(&self, secret: &str) -> anyhow::Result<Option<Arc<CallerKey>>> {
        let hash = crate::crypto::hash_token(secret);
        let found = self
            .keys
            .get_or_load(&hash, async || {
                let mut conn = self.pool.get().await?;
                let found = api_keys::find_by_secret(&mut conn, secret).await?;
                anyhow::Ok(found.map(|k| {
                    Arc::new(CallerKey {
                        key_id: k.id,
                        tenant_id: k.tenant_id,
                        test_mode: k.mode.is_test(),
                        scopes: k.scopes,
                        expires_at: k.expires_at,
                        revoked_at: k.revoked_at,
                    })
                }))
            })
            .await?;
        Ok(found.as_ref().clone())
    }

    /// The provider a delivery receipt names (None: no such provider). Cached.
    pub async fn hook_provider(&self, id: Uuid) -> anyhow::Result<Arc<Option<HookProvider>>> {
        self.hook_providers
            .get_or_load(&id, async || {
                let mut conn = self.pool.get().await?;
                crate::hooks::load_provider(&mut conn, &self.settings.master_key, id).await
            })
            .await
    }

    /// This process's caches, for a task that must not keep the whole context alive.
    pub fn caches(&self) -> Caches {
        Caches {
            keys: self.keys.clone(),
            routes: self.routes.clone(),
            hook_providers: self.hook_providers.clone(),
        }
    }

    /// Called by a write after the transaction that announced `change` committed: forgets
    /// what it touched in this process at once, then waits (at most
    /// [`changes::BARRIER_TIMEOUT`](crate::changes::BARRIER_TIMEOUT)) until every listening
    /// process has heard it, so whoever gets the write's answer finds the change everywhere.
    /// Never fails: the write is done; a process that did not answer in time is logged.
    pub async fn changed(&self, change: Change) {
        self.caches().forget(change);
        let heard = async {
            let mut conn = self.pool.get().await?;
            anyhow::Ok(self.barriers.everyone_heard(&mut conn).await?)
        }
        .await;
        if let Err(e) = heard {
            tracing::warn!(
                error = format!("{e:#}"),
                "could not wait for every process to hear a change"
            );
        }
    }

    /// Listens for the changes every process announces, and forgets what they touch, until
    /// `stop`. After any gap in listening (and when it starts) it forgets everything.
    pub fn listen_for_changes(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let caches = self.caches();
        tokio::spawn(self.barriers.clone().listen(
            self.settings.database_url().to_owned(),
            move |change| caches.forget(change),
            stop,
        ))
    }
}

/// The context's caches (shared with it).
#[derive(Clone)]
pub struct Caches {
    pub keys: Arc<KeyCache>,
    pub routes: Arc<RouteTables>,
    pub hook_providers: Arc<HookProviderCache>,
}

impl Caches {
    /// Forgets what `change` touched.
    pub fn forget(&self, change: Change) {
        match change {
            Change::ApiKeys => self.keys.clear(),
            Change::Billing => self.routes.forget(change),
            Change::Routes { tenant } => {
                self.routes.forget(change);
                // A provider's receipts are checked with its credentials (and priced by its
                // tenant's table): forget the tenant's providers, and the unknown ones.
                self.hook_providers
                    .retain(|_, found| found.as_ref().is_some_and(|p| p.tenant_id != Some(tenant)));
            }
            Change::Platform => {
                self.routes.forget(change);
                self.hook_providers
                    .retain(|_, found| found.as_ref().is_some_and(|p| p.tenant_id.is_some()));
            }
            Change::All => {
                self.keys.clear();
                self.routes.forget(change);
                self.hook_providers.clear();
            }
        }
    }
}

/// `scheme://host[:port]` of a URL: what browsers send as `Origin` from our pages.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn the_origin_is_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://relay.example.com/base/"),
            "https://relay.example.com"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
