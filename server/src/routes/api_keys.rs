//! Tenant API keys: created (the secret shown once), listed, revoked, rotated. A thin door:
//! the rules, the transaction and the audit record are `openclaw_core::api_keys`, which the
//! admin app's API keys page calls too.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use openclaw_core::api_keys::{self as service, KeyError};
use openclaw_core::changes::Change;
use openclaw_core::db::api_keys::{self, ApiKey};
use openclaw_core::domain::{ApiKeyId, KeyMode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{JsonBody, Page};
use crate::auth::{Action, User};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::{AppContext, Scoped};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(revoke)
        .service(rotate);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// 1–100 characters, no control characters.
    #[schema(example = "production backend", min_length = 1, max_length = 100)]
    pub name: String,
    /// `live` (default) or `test` (routes only to sandbox providers, never billed).
    #[schema(example = "live", schema_with = super::schemas::key_mode)]
    pub mode: Option<String>,
    /// Default: `messages:send`, `messages:read`.
    #[schema(schema_with = super::schemas::key_scopes)]
    pub scopes: Option<Vec<String>>,
    /// In the future (and before the year 10000).
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, to recognise it by.
    #[schema(example = "oc_live_Ab12Cd34")]
    pub prefix: String,
    pub mode: KeyMode,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set while a rotated key is in its grace period.
    pub revokes_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The secret. Shown this once; only its hash is stored.
    pub key: String,
    pub prefix: String,
    pub mode: KeyMode,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> KeyView {
        KeyView {
            id: k.id.into(),
            name: k.name,
            prefix: k.prefix,
            mode: k.mode,
            scopes: k.scopes,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revokes_at: k.revoked_at,
        }
    }
}

fn created(minted: api_keys::Minted) -> CreatedKey {
    let k = minted.key;
    CreatedKey {
        id: k.id.into(),
        name: k.name,
        key: minted.secret,
        prefix: k.prefix,
        mode: k.mode,
        scopes: k.scopes,
        created_at: k.created_at,
        expires_at: k.expires_at,
    }
}

/// Create an API key.
#[utoipa::path(
    operation_id = "create_api_key",
    tag = "api keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, body = CreatedKey, links(("rotate" = (operation_id = "rotate_api_key", parameters(("id" = "$response.body#/id")))), ("revoke" = (operation_id = "revoke_api_key", parameters(("id" = "$response.body#/id")))))),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/api-keys")]
pub async fn create(
    state: web::Data<AppContext>,
    user: User,
    // A NUL in the name is answered by the service, as any other control character is (and
    // as the admin app's form answers it).
    body: JsonBody<CreateKeyRequest, false>,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageApiKeys)?;
    let req = body.value;
    let new = service::NewKey {
        name: req.name,
        mode: req.mode,
        scopes: req.scopes,
        expires_at: req.expires_at,
    };
    let minted = service::create(&state.pool, &manager, new).await?;
    Ok(HttpResponse::Created().json(created(minted)))
}

/// List the tenant's API keys (never the secrets).
#[utoipa::path(
    operation_id = "list_api_keys",
    tag = "api keys",
    responses(
        (status = 200, body = Page<KeyView>),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/api-keys")]
pub async fn list(state: web::Data<AppContext>, user: User) -> ApiResult<web::Json<Page<KeyView>>> {
    let tenant_id = user.require(Action::ReadApiKeys)?;
    let keys = state
        .scoped(tenant_id, async |c| Ok(api_keys::list(c, tenant_id).await?))
        .await?;
    Ok(web::Json(Page {
        data: keys.into_iter().map(KeyView::from).collect(),
        next_cursor: None,
    }))
}

fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    ApiKeyId::parse(id)
        .map(ApiKeyId::uuid)
        .map_err(|_| KeyError::NotFound.into())
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> ApiError {
        match e {
            KeyError::Invalid { field, message } => ApiError::invalid(field, message),
            KeyError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            KeyError::Forbidden => ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
            KeyError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// Revoke a key; it is refused from this moment.
#[utoipa::path(
    operation_id = "revoke_api_key",
    tag = "api keys",
    params(("id" = String, Path, description = "`key_…`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/v1/api-keys/{id}")]
pub async fn revoke(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageApiKeys)?;
    let id = parse_id(&id)?;
    // Revoked before: nothing changes, and DELETE stays idempotent.
    service::revoke(&state.pool, &manager, id).await?;
    state.changed(Change::ApiKeys).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old key keeps working (0–604800 seconds, default 0).
    #[schema(minimum = 0, maximum = 604_800)]
    pub grace_seconds: Option<i64>,
}

/// Replace a key with a new one; the old one works until the grace period ends.
#[utoipa::path(
    operation_id = "rotate_api_key",
    tag = "api keys",
    params(("id" = String, Path, description = "`key_…`")),
    request_body = RotateRequest,
    responses(
        (status = 201, body = CreatedKey),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/api-keys/{id}/rotate")]
pub async fn rotate(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageApiKeys)?;
    let id = parse_id(&id)?;
    let body = super::read_body(&mut payload, 64 * 1024).await?;
    let req: RotateRequest = if body.is_empty() {
        RotateRequest::default()
    } else {
        super::parse_json(&body)?.value
    };
    let minted = service::rotate(&state.pool, &manager, id, req.grace_seconds).await?;
    state.changed(Change::ApiKeys).await;
    Ok(HttpResponse::Created().json(created(minted)))
}
