//! The browser session: the same access JWT and refresh token the API hands out, kept in
//! HttpOnly, SameSite=Lax cookies. An expired access token is renewed from the refresh token
//! on the next page load, exactly as an API client would.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use base64::Engine;
use openclaw_core::accounts::{self, AuthError, Identity, Tokens};
use openclaw_core::db::PgPool;
use openclaw_core::jwt::JwtKeys;
use serde::{Deserialize, Serialize};

pub const ACCESS_COOKIE: &str = "oc_session";
pub const REFRESH_COOKIE: &str = "oc_refresh";
pub const FLASH_COOKIE: &str = "oc_flash";

/// What the admin app needs from the server, registered as `web::Data<WebContext>`.
pub struct WebContext {
    pub pool: PgPool,
    pub settings: Arc<openclaw_core::config::Settings>,
    pub jwt: Arc<JwtKeys>,
    /// `https://…` public URL: cookies get `Secure`.
    pub secure_cookies: bool,
    /// `scheme://host[:port]` that form posts must come from (CSRF defence with SameSite).
    pub origin: String,
    /// The group commit, shared with the API: a test message sent from the app is accepted
    /// exactly like one sent through `POST /v1/messages`.
    pub ingest: openclaw_core::ingest::Ingest,
    /// Mails invitations when `OPENCLAW_SMTP_URL` is set.
    pub mailer: Option<Arc<openclaw_core::mail::Mailer>>,
    /// Called after a key is created, revoked or rotated, so the API's key cache forgets it.
    pub keys_changed: Arc<dyn Fn() + Send + Sync>,
    /// Called after a tenant's providers or prices change, so the API's routing cache forgets
    /// them.
    pub routes_changed: Arc<dyn Fn(uuid::Uuid) + Send + Sync>,
}

/// The client address and user agent of a request, for the audit log and sign-in
/// throttling. The address is the TCP peer, or, behind a proxy listed in
/// `OPENCLAW_TRUSTED_PROXIES`, the client that proxy names in `X-Forwarded-For`.
pub fn client_of(req: &HttpRequest) -> openclaw_core::audit::Client {
    let trusted = req
        .app_data::<actix_web::web::Data<WebContext>>()
        .map(|ctx| ctx.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    openclaw_core::audit::Client::new(
        openclaw_core::audit::client_ip(req.peer_addr().map(|a| a.ip()), forwarded, trusted)
            .map(|ip| ip.to_string()),
        req.headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    )
}

impl WebContext {
    /// Runs `f` in a transaction scoped to `tenant` (row-level security refuses other
    /// tenants' rows; see `openclaw_core::db::scoped`).
    pub async fn scoped<R>(
        &self,
        tenant: uuid::Uuid,
        f: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let mut conn = self.pool.get().await?;
        openclaw_core::db::scoped(&mut conn, tenant, f).await
    }
}

fn cookie(
    name: &'static str,
    value: String,
    max_age: CookieDuration,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(max_age)
        .finish()
}

/// The cookies that carry a session.
pub fn session_cookies(ctx: &WebContext, tokens: &Tokens) -> [Cookie<'static>; 2] {
    [
        cookie(
            ACCESS_COOKIE,
            tokens.access_token.clone(),
            CookieDuration::days(accounts::REFRESH_TTL_DAYS),
            ctx.secure_cookies,
        ),
        cookie(
            REFRESH_COOKIE,
            tokens.refresh_token.clone(),
            CookieDuration::days(accounts::REFRESH_TTL_DAYS),
            ctx.secure_cookies,
        ),
    ]
}

/// Cookies that remove the session.
pub fn cleared_cookies(ctx: &WebContext) -> [Cookie<'static>; 2] {
    [
        cookie(
            ACCESS_COOKIE,
            String::new(),
            CookieDuration::ZERO,
            ctx.secure_cookies,
        ),
        cookie(
            REFRESH_COOKIE,
            String::new(),
            CookieDuration::ZERO,
            ctx.secure_cookies,
        ),
    ]
}

/// The session cookies of a request (read before any await: the request is not `Send`).
pub struct SessionCookies {
    access: Option<String>,
    refresh: Option<String>,
}

impl SessionCookies {
    pub fn of(req: &HttpRequest) -> SessionCookies {
        SessionCookies {
            access: req.cookie(ACCESS_COOKIE).map(|c| c.value().to_owned()),
            refresh: req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()),
        }
    }
}

/// The signed-in person, and fresh cookies to set if the access token had to be renewed.
pub async fn current(
    ctx: &WebContext,
    cookies: SessionCookies,
) -> Option<(Identity, Option<Tokens>)> {
    let access = cookies.access.filter(|a| !a.is_empty())?;
    match accounts::authenticate(&ctx.pool, &ctx.jwt, &access).await {
        Ok(identity) => Some((identity, None)),
        Err(AuthError::Expired) => {
            let refresh = cookies.refresh.filter(|r| !r.is_empty())?;
            let tokens = accounts::refresh(&ctx.pool, &ctx.jwt, &refresh)
                .await
                .ok()?;
            let identity = accounts::authenticate(&ctx.pool, &ctx.jwt, &tokens.access_token)
                .await
                .ok()?;
            Some((identity, Some(tokens)))
        }
        Err(AuthError::Internal(e)) => {
            tracing::error!(
                error = format!("{e:#}"),
                "checking a browser session failed"
            );
            None
        }
        Err(_) => None,
    }
}

/// A form's outcome carried across the redirect after a failed post (Post/Redirect/Get):
/// which form, the message for the field at fault, and what was typed (never a password).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Flash {
    pub form: String,
    pub field: Option<String>,
    pub message: String,
    #[serde(default)]
    pub values: Vec<(String, String)>,
}

impl Flash {
    pub fn value(&self, name: &str) -> String {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub fn error_for(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }

    pub fn to_cookie(&self, ctx: &WebContext) -> Cookie<'static> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        cookie(
            FLASH_COOKIE,
            value,
            CookieDuration::minutes(5),
            ctx.secure_cookies,
        )
    }

    pub fn from_request(req: &HttpRequest) -> Option<Flash> {
        let raw = req.cookie(FLASH_COOKIE)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.value())
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn cleared(ctx: &WebContext) -> Cookie<'static> {
        cookie(
            FLASH_COOKIE,
            String::new(),
            CookieDuration::ZERO,
            ctx.secure_cookies,
        )
    }
}
