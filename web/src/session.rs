//! The browser session: the same access JWT and refresh token the API hands out, kept in
//! HttpOnly, SameSite=Lax cookies. An expired access token is renewed from the refresh token
//! on the next page load, exactly as an API client would.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use base64::Engine;
use openclaw_core::accounts::{self, AuthError, Identity, Tokens};
use serde::{Deserialize, Serialize};

pub const ACCESS_COOKIE: &str = "oc_session";
pub const REFRESH_COOKIE: &str = "oc_refresh";
pub const FLASH_COOKIE: &str = "oc_flash";

/// The application context the server registers (`web::Data<AppContext>`), shared with the
/// API's handlers.
pub use openclaw_core::context::AppContext;
/// Who sent a request (client address and user agent), as the API reads it.
pub use openclaw_core::request::client_of;

/// Tenant-scoped transactions for pages and forms, whose steps fail with `anyhow::Error`.
pub trait Scoped {
    /// Runs `f` in a transaction scoped to `tenant` (row-level security refuses other
    /// tenants' rows; see `openclaw_core::db::scoped`).
    fn scoped<R>(
        &self,
        tenant: uuid::Uuid,
        f: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> anyhow::Result<R>,
    ) -> impl Future<Output = anyhow::Result<R>>;
}

impl Scoped for AppContext {
    async fn scoped<R>(
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
pub fn session_cookies(ctx: &AppContext, tokens: &Tokens) -> [Cookie<'static>; 2] {
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
pub fn cleared_cookies(ctx: &AppContext) -> [Cookie<'static>; 2] {
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
    ctx: &AppContext,
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

    /// Every value kept under `name` (a group of checkboxes).
    pub fn values(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn error_for(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }

    pub fn to_cookie(&self, ctx: &AppContext) -> Cookie<'static> {
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

    pub fn cleared(ctx: &AppContext) -> Cookie<'static> {
        cookie(
            FLASH_COOKIE,
            String::new(),
            CookieDuration::ZERO,
            ctx.secure_cookies,
        )
    }
}
