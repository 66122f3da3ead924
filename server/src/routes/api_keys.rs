//! Tenant API keys: created (the secret shown once), listed, revoked, rotated.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use openclaw_core::audit::{self, action};
use openclaw_core::changes::{self, Change};
use openclaw_core::db::api_keys::{self, ApiKey, DEFAULT_SCOPES, SCOPES};
use openclaw_core::domain::ApiKeyId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{JsonBody, Page, sane_date};
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
    pub mode: String,
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
    pub mode: String,
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
    body: JsonBody<CreateKeyRequest>,
) -> ApiResult<HttpResponse> {
    let tenant_id = user.require(Action::ManageApiKeys)?;
    let req = body.value;
    let name = api_keys::validate_name(&req.name).map_err(|m| ApiError::invalid("name", m))?;
    let name = name.as_str();
    let mode = req.mode.as_deref().unwrap_or("live");
    if !matches!(mode, "live" | "test") {
        return Err(ApiError::invalid(
            "mode",
            "`mode` must be `live` or `test`.",
        ));
    }
    let scopes: Vec<String> = match req.scopes {
        None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
        Some(scopes) => {
            if scopes.is_empty() {
                return Err(ApiError::invalid(
                    "scopes",
                    "Give a key at least one scope.",
                ));
            }
            if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
                return Err(ApiError::invalid(
                    "scopes",
                    format!("`{bad}` is not a scope; use {}.", SCOPES.join(", ")),
                ));
            }
            let mut scopes = scopes;
            scopes.sort();
            scopes.dedup();
            scopes
        }
    };
    let expires_at = req
        .expires_at
        .map(|t| sane_date("expires_at", t))
        .transpose()?;
    if expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(ApiError::invalid(
            "expires_at",
            "`expires_at` must be in the future.",
        ));
    }
    let minted = state
        .scoped(tenant_id, async |c| {
            let minted = api_keys::create(c, tenant_id, name, mode, &scopes, expires_at).await?;
            audit::record(
                c,
                &user.actor(),
                Some(tenant_id),
                action::API_KEY_CREATED,
                Some(ApiKeyId::from_uuid(minted.key.id).to_string()),
                json!({"name": name, "prefix": minted.key.prefix, "mode": mode, "scopes": scopes}),
            )
            .await?;
            Ok(minted)
        })
        .await?;
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
        .map_err(|_| ApiError::not_found("API key"))
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
    let tenant_id = user.require(Action::ManageApiKeys)?;
    let id = parse_id(&id)?;
    state
        .scoped(tenant_id, async |c| {
            match api_keys::revoke(c, tenant_id, id, Utc::now()).await? {
                None => return Err(ApiError::not_found("API key")),
                // Revoked before: nothing changes, and DELETE stays idempotent.
                Some(false) => return Ok(()),
                Some(true) => {}
            }
            audit::record(
                c,
                &user.actor(),
                Some(tenant_id),
                action::API_KEY_REVOKED,
                Some(ApiKeyId::from_uuid(id).to_string()),
                json!({}),
            )
            .await?;
            changes::announce(c, Change::ApiKeys).await?;
            Ok(())
        })
        .await?;
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
    let tenant_id = user.require(Action::ManageApiKeys)?;
    let id = parse_id(&id)?;
    let body = super::read_body(&mut payload, 64 * 1024).await?;
    let req: RotateRequest = if body.is_empty() {
        RotateRequest::default()
    } else {
        super::parse_json(&body)?.value
    };
    let grace = req.grace_seconds.unwrap_or(0);
    if !(0..=604_800).contains(&grace) {
        return Err(ApiError::invalid(
            "grace_seconds",
            "`grace_seconds` must be between 0 and 604800 (7 days).",
        ));
    }
    let minted = state
        .scoped(tenant_id, async |c| {
            let minted = api_keys::rotate(c, tenant_id, id, chrono::Duration::seconds(grace))
                .await?
                .ok_or_else(|| ApiError::not_found("API key"))?;
            audit::record(
                c,
                &user.actor(),
                Some(tenant_id),
                action::API_KEY_ROTATED,
                Some(ApiKeyId::from_uuid(id).to_string()),
                json!({"new_key": ApiKeyId::from_uuid(minted.key.id).to_string(),
                       "new_prefix": minted.key.prefix, "grace_seconds": grace}),
            )
            .await?;
            changes::announce(c, Change::ApiKeys).await?;
            Ok(minted)
        })
        .await?;
    state.changed(Change::ApiKeys).await;
    Ok(HttpResponse::Created().json(created(minted)))
}
