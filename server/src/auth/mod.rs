//! Who is calling: a person with a JWT access token, or a tenant app with an API key.
//! Handlers take [`Caller`] (either), [`User`] (people only) and call `require` first.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Utc;
use futures::future::LocalBoxFuture;
use openclaw_core::accounts;
use openclaw_core::audit::{Actor, ActorKind, Client};
use openclaw_core::context::CallerKey;
use openclaw_core::db::api_keys;
use openclaw_core::domain::Role;
use openclaw_core::members::Manager;
use uuid::Uuid;

pub use openclaw_core::permissions::{self, Action};
pub use openclaw_core::request::client_of;

use crate::error::ApiError;
use crate::state::AppContext;

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct User {
    pub user_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub role: Role,
    pub session_id: Uuid,
    /// Where the request came from, for the audit log and sign-in throttling.
    pub client: Client,
}

#[derive(Debug, Clone)]
pub enum Caller {
    User(User),
    Key(Arc<CallerKey>),
}

impl User {
    /// The tenant a member acts for; staff have none.
    pub fn tenant(&self) -> Result<Uuid, ApiError> {
        self.tenant_id.ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Platform staff accounts do not belong to a tenant.",
            )
        })
    }

    pub fn require(&self, action: Action) -> Result<Uuid, ApiError> {
        debug_assert!(
            !action.is_platform(),
            "platform actions go through require_platform"
        );
        let tenant = self.tenant()?;
        if permissions::allowed(self.role, action) {
            Ok(tenant)
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// The member acting through a core service that asks the permission matrix itself: the
    /// door refuses staff (no tenant) and roles without `action` first, and the service
    /// refuses them again.
    pub fn manager(&self, action: Action) -> Result<Manager, ApiError> {
        Ok(Manager {
            tenant: self.require(action)?,
            user_id: self.user_id,
            role: self.role,
            actor: self.actor(),
        })
    }

    /// For platform staff routes: the role must allow `action` (tenant members never do).
    pub fn require_platform(&self, action: Action) -> Result<(), ApiError> {
        if permissions::allowed(self.role, action) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// Platform staff acting through a core service that asks the permission matrix itself:
    /// the door refuses roles without `action` first, and the service refuses them again.
    pub fn staff(&self, action: Action) -> Result<openclaw_core::staff::Staff, ApiError> {
        self.require_platform(action)?;
        Ok(openclaw_core::staff::Staff {
            role: self.role,
            actor: self.actor(),
        })
    }

    /// This person, as the audit log names them.
    pub fn actor(&self) -> Actor {
        self.client.person(self.user_id, self.role.is_platform())
    }

    pub fn identity(&self) -> accounts::Identity {
        accounts::Identity {
            user_id: self.user_id,
            tenant_id: self.tenant_id,
            role: self.role,
            session_id: self.session_id,
        }
    }
}

impl Caller {
    /// Checks the role (people) or the scope (keys) and returns the tenant acted for.
    pub fn require(&self, action: Action) -> Result<Uuid, ApiError> {
        match self {
            Caller::User(user) => user.require(action),
            Caller::Key(key) => match permissions::scope_for(action) {
                Some(scope) if key.scopes.iter().any(|s| s == scope) => Ok(key.tenant_id),
                _ => Err(ApiError::forbidden()),
            },
        }
    }

    pub fn test_mode(&self) -> bool {
        matches!(self, Caller::Key(k) if k.test_mode)
    }

    /// The audit log's name for this caller: a person, or a key by its id.
    pub fn actor(&self) -> Actor {
        match self {
            Caller::User(user) => user.actor(),
            Caller::Key(key) => Actor {
                id: Some(key.key_id),
                label: Some(openclaw_core::domain::ApiKeyId::from_uuid(key.key_id).to_string()),
                kind: ActorKind::ApiKey,
                ip: None,
                user_agent: None,
            },
        }
    }

    pub fn api_key_id(&self) -> Option<Uuid> {
        match self {
            Caller::Key(k) => Some(k.key_id),
            Caller::User(_) => None,
        }
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("Send `Authorization: Bearer <token or key>`."))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthenticated("The Authorization header is not readable."))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthenticated("Send `Authorization: Bearer <token or key>`."))?;
    Ok(token.to_owned())
}

fn state(req: &HttpRequest) -> web::Data<AppContext> {
    req.app_data::<web::Data<AppContext>>()
        .expect("AppContext is registered by startup")
        .clone()
}

async fn user_from_token(
    state: &AppContext,
    token: &str,
    client: Client,
) -> Result<User, ApiError> {
    match accounts::authenticate(&state.pool, &state.jwt, token).await {
        Ok(id) => Ok(User {
            user_id: id.user_id,
            tenant_id: id.tenant_id,
            role: id.role,
            session_id: id.session_id,
            client,
        }),
        Err(accounts::AuthError::Expired) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "The access token has expired; refresh it.",
        )),
        Err(accounts::AuthError::Internal(e)) => Err(ApiError::internal(e)),
        Err(e) => Err(ApiError::unauthenticated(e.to_string())),
    }
}

fn invalid_key() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        "The API key is not valid (unknown, revoked or expired).",
    )
}

async fn key_from_secret(state: &AppContext, secret: &str) -> Result<Arc<CallerKey>, ApiError> {
    if api_keys::mode_of(secret).is_none() || secret.len() > 128 {
        return Err(invalid_key());
    }
    let found = state.api_key(secret).await?;
    match found {
        Some(key) if key.is_usable(Utc::now()) => {
            openclaw_core::trace::record_tenant(key.tenant_id);
            if let Err(not_until) = state.key_limiter.check_key(&key.key_id) {
                use governor::clock::{Clock, DefaultClock};
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "This API key is over its limit of {} requests per second; retry after \
                         the Retry-After seconds.",
                        state.settings.api_key_rate
                    ),
                );
                err.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
                return Err(err);
            }
            state.key_usage.record(key.key_id);
            Ok(key)
        }
        _ => Err(invalid_key()),
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req);
        let token = bearer(req);
        // Only people are audited by address: the send path (API keys) skips the lookup.
        let client = match &token {
            Ok(t) if t.starts_with("oc_") => Client::default(),
            _ => client_of(req),
        };
        Box::pin(async move {
            let token = token?;
            if token.starts_with("oc_") {
                key_from_secret(&state, &token).await.map(Caller::Key)
            } else {
                user_from_token(&state, &token, client)
                    .await
                    .map(Caller::User)
            }
        })
    }
}

impl FromRequest for User {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req);
        let token = bearer(req);
        let client = client_of(req);
        Box::pin(async move {
            let token = token?;
            if token.starts_with("oc_") {
                return Err(ApiError::unauthenticated(
                    "This endpoint takes a user access token, not an API key.",
                ));
            }
            user_from_token(&state, &token, client).await
        })
    }
}
