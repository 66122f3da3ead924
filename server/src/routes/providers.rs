//! The tenant's SMS gateway accounts and their price lists.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use openclaw_core::audit::{self, action};
use openclaw_core::changes::{self, Change};
use openclaw_core::db::{providers, tenants};
use openclaw_core::domain::ProviderId;
use openclaw_core::prices::{self, PriceEntry, PriceError};
use openclaw_core::providers::{self as providers_core, Credentials, ProviderKind};
use openclaw_core::routing::Price;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{JsonBody, MAX_BODY_BYTES, Page};
use crate::auth::{Action, User};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::{AppContext, Scoped};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(put_prices)
        .service(get_prices);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProviderRequest {
    /// 1–100 characters, no control characters.
    #[schema(example = "Twilio EU", min_length = 1, max_length = 100)]
    pub name: String,
    pub kind: ProviderKind,
    /// twilio: `{account_sid, auth_token}`; vonage: `{api_key, api_secret}`; sandbox: `{}`
    /// (the default).
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<serde_json::Value>,
    /// Overrides the provider's public API root (regional endpoints, tests).
    pub base_url: Option<String>,
    /// Phone numbers or alphanumeric ids (1–11 characters); at most 100.
    #[schema(max_items = 100)]
    pub sender_ids: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 100_000)]
    pub max_rate_per_sec: Option<i32>,
    /// Calls one worker process makes to this provider at once (1–1000, default 32).
    #[schema(minimum = 1, maximum = 1000)]
    pub max_concurrency: Option<i32>,
    pub enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProviderRequest {
    /// 1–100 characters, no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Replaces all credentials.
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<serde_json::Value>,
    /// `null` goes back to the provider's public API.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub base_url: Option<Option<String>>,
    /// Phone numbers or alphanumeric ids (1–11 characters); at most 100.
    #[schema(max_items = 100)]
    pub sender_ids: Option<Vec<String>>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 100_000)]
    pub max_rate_per_sec: Option<Option<i32>>,
    /// Calls one worker process makes to this provider at once (1–1000).
    #[schema(minimum = 1, maximum = 1000)]
    pub max_concurrency: Option<i32>,
    pub enabled: Option<bool>,
}

/// Tells an absent field (None) from an explicit `null` (Some(None)).
fn double_option<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
pub struct ProviderView {
    pub id: ProviderId,
    pub name: String,
    pub kind: String,
    /// Masked: never more than the last characters of a secret.
    #[schema(value_type = Object, example = json!({"account_sid": "AC12…cdef", "auth_token": "••••cdef"}))]
    pub credentials: serde_json::Value,
    pub base_url: Option<String>,
    pub sender_ids: Vec<String>,
    pub max_rate_per_sec: Option<i32>,
    pub max_concurrency: i32,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<providers::Provider> for ProviderView {
    fn from(p: providers::Provider) -> ProviderView {
        ProviderView {
            id: p.id.into(),
            name: p.name,
            kind: p.kind,
            credentials: p.credentials_mask,
            base_url: p.base_url,
            sender_ids: p.sender_ids,
            max_rate_per_sec: p.max_rate_per_sec,
            max_concurrency: p.max_concurrency,
            enabled: p.enabled,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

fn validate_name(name: &str) -> Result<String, ApiError> {
    providers_core::validate_name(name).map_err(|m| ApiError::invalid("name", m))
}

fn validate_base_url(url: &str) -> Result<String, ApiError> {
    providers_core::validate_base_url(url).map_err(|m| ApiError::invalid("base_url", m))
}

fn validate_senders(senders: &[String]) -> Result<Vec<String>, ApiError> {
    providers_core::validate_senders(senders).map_err(|(i, m)| match i {
        Some(i) => ApiError::invalid(&format!("sender_ids[{i}]"), m),
        None => ApiError::invalid("sender_ids", m),
    })
}

fn validate_concurrency(n: i32) -> Result<i32, ApiError> {
    providers_core::validate_concurrency(n).map_err(|m| ApiError::invalid("max_concurrency", m))
}

fn validate_rate(rate: i32) -> Result<i32, ApiError> {
    if (1..=100_000).contains(&rate) {
        Ok(rate)
    } else {
        Err(ApiError::invalid(
            "max_rate_per_sec",
            "`max_rate_per_sec` must be between 1 and 100000.",
        ))
    }
}

fn credentials(
    kind: ProviderKind,
    value: Option<&serde_json::Value>,
) -> Result<Credentials, ApiError> {
    let empty = serde_json::json!({});
    Credentials::from_json(kind, value.unwrap_or(&empty))
        .map_err(|e| ApiError::invalid(&e.field, e.message))
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    ProviderId::parse(id)
        .map(ProviderId::uuid)
        .map_err(|_| ApiError::not_found("provider"))
}

/// Add an SMS gateway account.
#[utoipa::path(
    operation_id = "create_provider",
    tag = "providers",
    request_body = CreateProviderRequest,
    responses(
        (status = 201, body = ProviderView, links(("get" = (operation_id = "get_provider", parameters(("id" = "$response.body#/id")))), ("update" = (operation_id = "update_provider", parameters(("id" = "$response.body#/id")))), ("remove" = (operation_id = "remove_provider", parameters(("id" = "$response.body#/id")))), ("prices" = (operation_id = "get_provider_prices", parameters(("id" = "$response.body#/id")))), ("set_prices" = (operation_id = "put_provider_prices", parameters(("id" = "$response.body#/id")))), ("status_hook" = (operation_id = "provider_status", parameters(("provider_id" = "$response.body#/id")))))),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/providers")]
pub async fn create(
    state: web::Data<AppContext>,
    user: User,
    body: JsonBody<CreateProviderRequest>,
) -> ApiResult<HttpResponse> {
    let tenant_id = user.require(Action::ManageProviders)?;
    let req = body.value;
    let name = validate_name(&req.name)?;
    let creds = credentials(req.kind, req.credentials.as_ref())?;
    let base_url = req.base_url.as_deref().map(validate_base_url).transpose()?;
    let sender_ids = validate_senders(req.sender_ids.as_deref().unwrap_or(&[]))?;
    let max_rate_per_sec = req.max_rate_per_sec.map(validate_rate).transpose()?;
    let max_concurrency = req.max_concurrency.map(validate_concurrency).transpose()?;
    let sealed = creds.seal(&state.settings.master_key);
    let new = providers::NewProvider {
        id: Uuid::now_v7(),
        tenant_id,
        name,
        kind: req.kind.as_str().to_owned(),
        credentials_enc: sealed.ciphertext,
        credentials_key_id: sealed.key_id,
        credentials_mask: sealed.mask,
        base_url,
        sender_ids,
        max_rate_per_sec,
        max_concurrency,
        enabled: req.enabled.unwrap_or(true),
    };
    let row = state
        .scoped(tenant_id, async |c| {
            let row = providers::insert(c, &new).await?;
            audit::record(
                c,
                &user.actor(),
                Some(tenant_id),
                action::PROVIDER_CREATED,
                Some(ProviderId::from_uuid(row.id).to_string()),
                json!({"name": row.name, "kind": row.kind, "enabled": row.enabled}),
            )
            .await?;
            changes::announce(c, Change::Routes { tenant: tenant_id }).await?;
            Ok(row)
        })
        .await?;
    state.changed(Change::Routes { tenant: tenant_id }).await;
    Ok(HttpResponse::Created().json(ProviderView::from(row)))
}

/// The tenant's providers.
#[utoipa::path(
    operation_id = "list_providers",
    tag = "providers",
    responses(
        (status = 200, body = Page<ProviderView>),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/providers")]
pub async fn list(
    state: web::Data<AppContext>,
    user: User,
) -> ApiResult<web::Json<Page<ProviderView>>> {
    let tenant_id = user.require(Action::ReadProviders)?;
    let rows = state
        .scoped(
            tenant_id,
            async |c| Ok(providers::list(c, tenant_id).await?),
        )
        .await?;
    Ok(web::Json(Page {
        data: rows.into_iter().map(ProviderView::from).collect(),
        next_cursor: None,
    }))
}

/// One provider.
#[utoipa::path(
    operation_id = "get_provider",
    tag = "providers",
    params(("id" = String, Path, description = "`prv_…`")),
    responses(
        (status = 200, body = ProviderView),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/providers/{id}")]
pub async fn get_one(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<web::Json<ProviderView>> {
    let tenant_id = user.require(Action::ReadProviders)?;
    let id = parse_id(&id)?;
    let row = state
        .scoped(tenant_id, async |c| {
            Ok(providers::find(c, tenant_id, id).await?)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("provider"))?;
    Ok(web::Json(row.into()))
}

/// Change a provider; absent fields stay as they are.
#[utoipa::path(
    operation_id = "update_provider",
    tag = "providers",
    params(("id" = String, Path, description = "`prv_…`")),
    request_body = UpdateProviderRequest,
    responses(
        (status = 200, body = ProviderView),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/v1/providers/{id}")]
pub async fn update(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
    body: JsonBody<UpdateProviderRequest>,
) -> ApiResult<web::Json<ProviderView>> {
    let tenant_id = user.require(Action::ManageProviders)?;
    let id = parse_id(&id)?;
    let req = body.value;
    let row = state
        .scoped(tenant_id, async |c| {
            let current = providers::find(c, tenant_id, id)
                .await?
                .ok_or_else(|| ApiError::not_found("provider"))?;
            let mut changes = providers::ProviderChanges {
                name: req.name.as_deref().map(validate_name).transpose()?,
                base_url: req
                    .base_url
                    .map(|b| b.as_deref().map(validate_base_url).transpose())
                    .transpose()?,
                sender_ids: req
                    .sender_ids
                    .as_deref()
                    .map(validate_senders)
                    .transpose()?,
                max_rate_per_sec: req
                    .max_rate_per_sec
                    .map(|r| r.map(validate_rate).transpose())
                    .transpose()?,
                max_concurrency: req.max_concurrency.map(validate_concurrency).transpose()?,
                enabled: req.enabled,
                ..Default::default()
            };
            if let Some(value) = &req.credentials {
                let kind = ProviderKind::parse(&current.kind).ok_or_else(|| {
                    anyhow::anyhow!("stored provider kind {} is unknown", current.kind)
                })?;
                let sealed = credentials(kind, Some(value))?.seal(&state.settings.master_key);
                changes.credentials_enc = Some(sealed.ciphertext);
                changes.credentials_key_id = Some(sealed.key_id);
                changes.credentials_mask = Some(sealed.mask);
            }
            let mut changed: Vec<&str> = Vec::new();
            for (name, present) in [
                ("name", changes.name.is_some()),
                ("base_url", changes.base_url.is_some()),
                ("sender_ids", changes.sender_ids.is_some()),
                ("max_rate_per_sec", changes.max_rate_per_sec.is_some()),
                ("max_concurrency", changes.max_concurrency.is_some()),
                ("enabled", changes.enabled.is_some()),
                ("credentials", changes.credentials_enc.is_some()),
            ] {
                if present {
                    changed.push(name);
                }
            }
            let enabled = changes.enabled;
            let row = providers::update(c, tenant_id, id, changes)
                .await?
                .ok_or_else(|| ApiError::not_found("provider"))?;
            audit::record(
                c,
                &user.actor(),
                Some(tenant_id),
                action::PROVIDER_UPDATED,
                Some(ProviderId::from_uuid(id).to_string()),
                json!({"changed": changed, "enabled": enabled}),
            )
            .await?;
            changes::announce(c, Change::Routes { tenant: tenant_id }).await?;
            Ok(row)
        })
        .await?;
    state.changed(Change::Routes { tenant: tenant_id }).await;
    Ok(web::Json(row.into()))
}

/// Remove a provider. Past messages keep their record of it.
#[utoipa::path(
    operation_id = "remove_provider",
    tag = "providers",
    params(("id" = String, Path, description = "`prv_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/v1/providers/{id}")]
pub async fn remove(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant_id = user.require(Action::ManageProviders)?;
    let id = parse_id(&id)?;
    state
        .scoped(tenant_id, async |c| {
            if !providers::delete(c, tenant_id, id).await? {
                return Err(ApiError::not_found("provider"));
            }
            audit::record(
                c,
                &user.actor(),
                Some(tenant_id),
                action::PROVIDER_DELETED,
                Some(ProviderId::from_uuid(id).to_string()),
                json!({}),
            )
            .await?;
            changes::announce(c, Change::Routes { tenant: tenant_id }).await?;
            Ok(())
        })
        .await?;
    state.changed(Change::Routes { tenant: tenant_id }).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceList {
    pub prices: Vec<PriceEntry>,
}

impl From<PriceError> for ApiError {
    fn from(e: PriceError) -> ApiError {
        if e.csv {
            ApiError::bad_request("invalid_csv", e.message)
        } else {
            ApiError::invalid(&e.field, e.message)
        }
    }
}

/// Replace the provider's price list: JSON `{prices: [...]}` or `text/csv` with the header
/// `country,message_type,price,currency`.
#[utoipa::path(
    operation_id = "put_provider_prices",
    tag = "providers",
    params(("id" = String, Path, description = "`prv_…`")),
    request_body(content(
        (PriceList = "application/json"),
        (String = "text/csv", example = "country,message_type,price,currency\nDE,,0.0720,USD\n*,otp,0.0500,USD")
    )),
    responses(
        (status = 200, body = PriceList),
        (status = 400, description = "`invalid_json`, `invalid_csv`, or `invalid_field` naming the entry at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json` or `text/csv`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[put("/v1/providers/{id}/prices")]
pub async fn put_prices(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<web::Json<PriceList>> {
    let tenant_id = user.require(Action::ManageProviders)?;
    let id = parse_id(&id)?;
    let body = super::read_body(&mut payload, MAX_BODY_BYTES).await?;
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    let prices = state
        .scoped(tenant_id, async |c| {
            let currency = tenants::find(c, tenant_id).await?.currency;
            let prices = if content_type.starts_with("text/csv") {
                prices::from_csv(&body, &currency)?
            } else if content_type.starts_with("application/json") {
                let parsed: PriceList = super::parse_json(&body)?.value;
                prices::from_entries(&parsed.prices, &currency)?
            } else {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send prices as application/json or text/csv.",
                ));
            };
            if providers::find(c, tenant_id, id).await?.is_none() {
                return Err(ApiError::not_found("provider"));
            }
            providers::replace_prices(c, tenant_id, id, &prices).await?;
            audit::record(
                c,
                &user.actor(),
                Some(tenant_id),
                action::PRICES_CHANGED,
                Some(ProviderId::from_uuid(id).to_string()),
                json!({"entries": prices.len()}),
            )
            .await?;
            changes::announce(c, Change::Routes { tenant: tenant_id }).await?;
            Ok(prices)
        })
        .await?;
    state.changed(Change::Routes { tenant: tenant_id }).await;
    Ok(web::Json(price_list(prices)))
}

fn price_list(prices: Vec<Price>) -> PriceList {
    PriceList {
        prices: prices::to_entries(prices),
    }
}

/// The provider's price list.
#[utoipa::path(
    operation_id = "get_provider_prices",
    tag = "providers",
    params(("id" = String, Path, description = "`prv_…`")),
    responses(
        (status = 200, body = PriceList),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/providers/{id}/prices")]
pub async fn get_prices(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<web::Json<PriceList>> {
    let tenant_id = user.require(Action::ReadProviders)?;
    let id = parse_id(&id)?;
    let prices = state
        .scoped(tenant_id, async |c| {
            if providers::find(c, tenant_id, id).await?.is_none() {
                return Err(ApiError::not_found("provider"));
            }
            Ok(providers::prices(c, tenant_id, id).await?)
        })
        .await?;
    Ok(web::Json(price_list(prices)))
}
