//! The tenant's SMS gateway accounts and their price lists.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use openclaw_core::changes::Change;
use openclaw_core::db::providers;
use openclaw_core::db::providers::Owner;
use openclaw_core::domain::ProviderId;
use openclaw_core::prices::{self, PriceEntry, PriceError};
use openclaw_core::providers::service::{
    self as service, Acting, PriceInput, ProviderError, ProviderInput, ProviderPatch,
};
use openclaw_core::providers::{PriceList as List, ProviderKind};
use openclaw_core::routing::Price;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{JsonBody, MAX_BODY_BYTES, Page};
use crate::auth::{Action, User};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppContext;

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
    // A string checked by the service (`core::providers::service`), so an unknown kind gets
    // the same sentence here and in the admin app; documented as the enum.
    #[schema(value_type = ProviderKind)]
    pub kind: String,
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
    /// How long this provider's receipts may take (1–604800 seconds, default 86400): a message
    /// still `sent` that long after the provider took it gets a `receipt_overdue` event.
    #[schema(minimum = 1, maximum = 604_800)]
    pub receipt_timeout_seconds: Option<i32>,
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
    /// How long this provider's receipts may take (1–604800 seconds, default 86400): a message
    /// still `sent` that long after the provider took it gets a `receipt_overdue` event.
    #[schema(minimum = 1, maximum = 604_800)]
    pub receipt_timeout_seconds: Option<i32>,
    pub enabled: Option<bool>,
}

impl From<CreateProviderRequest> for ProviderInput {
    fn from(req: CreateProviderRequest) -> ProviderInput {
        ProviderInput {
            name: req.name,
            kind: req.kind,
            credentials: req.credentials.unwrap_or(serde_json::Value::Null),
            base_url: req.base_url,
            sender_ids: req.sender_ids.unwrap_or_default(),
            max_rate_per_sec: req.max_rate_per_sec,
            max_concurrency: req.max_concurrency,
            receipt_timeout_seconds: req.receipt_timeout_seconds,
            enabled: req.enabled.unwrap_or(true),
        }
    }
}

impl From<UpdateProviderRequest> for ProviderPatch {
    fn from(req: UpdateProviderRequest) -> ProviderPatch {
        ProviderPatch {
            name: req.name,
            credentials: req.credentials,
            base_url: req.base_url,
            sender_ids: req.sender_ids,
            max_rate_per_sec: req.max_rate_per_sec,
            max_concurrency: req.max_concurrency,
            receipt_timeout_seconds: req.receipt_timeout_seconds,
            enabled: req.enabled,
        }
    }
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
    pub kind: ProviderKind,
    /// Masked: never more than the last characters of a secret.
    #[schema(value_type = Object, example = json!({"account_sid": "AC12…cdef", "auth_token": "••••cdef"}))]
    pub credentials: serde_json::Value,
    pub base_url: Option<String>,
    pub sender_ids: Vec<String>,
    pub max_rate_per_sec: Option<i32>,
    pub max_concurrency: i32,
    /// How long its receipts may take before a message still `sent` is marked
    /// `receipt_overdue`.
    pub receipt_timeout_seconds: i32,
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
            receipt_timeout_seconds: p.receipt_timeout_seconds,
            enabled: p.enabled,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> ApiError {
        match e {
            ProviderError::Invalid { field, message } => ApiError::invalid(&field, message),
            ProviderError::Prices(e) => e.into(),
            ProviderError::NotFound => ApiError::not_found("provider"),
            ProviderError::Forbidden(_) => ApiError::forbidden(),
            ProviderError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// Waits until every process has forgotten what it cached of the tenant's routes (and its
/// providers' callbacks); the service announced the change with its transaction.
async fn evict(state: &AppContext, tenant: Uuid) {
    state.changed(Change::Routes { tenant }).await;
}

pub(super) fn parse_id(id: &str) -> Result<Uuid, ApiError> {
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
    let manager = user.manager(Action::ManageProviders)?;
    let row = service::create(
        &state.pool,
        &state.settings.master_key,
        Acting::Member(&manager),
        body.value.into(),
    )
    .await?;
    evict(&state, manager.tenant).await;
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
    let rows = service::list(&state.pool, Owner::Tenant(tenant_id)).await?;
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
    Ok(web::Json(
        service::find(&state.pool, Owner::Tenant(tenant_id), id)
            .await?
            .into(),
    ))
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
    let manager = user.manager(Action::ManageProviders)?;
    let id = parse_id(&id)?;
    let row = service::update(
        &state.pool,
        &state.settings.master_key,
        Acting::Member(&manager),
        id,
        body.value.into(),
    )
    .await?;
    evict(&state, manager.tenant).await;
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
    let manager = user.manager(Action::ManageProviders)?;
    let id = parse_id(&id)?;
    service::delete(&state.pool, Acting::Member(&manager), id).await?;
    evict(&state, manager.tenant).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceList {
    pub prices: Vec<PriceEntry>,
}

impl From<PriceError> for ApiError {
    fn from(e: PriceError) -> ApiError {
        if e.no_rate {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_exchange_rate",
                e.message,
            )
            .with_field(&e.field)
        } else if e.csv {
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
        (status = 422, description = "`no_exchange_rate`: a price is in a currency the operator has no exchange rate for into the tenant's; `field` names the entry (`prices[3].currency`, or `currency` for CSV)", body = ErrorBody),
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
    let manager = user.manager(Action::ManageProviders)?;
    let id = parse_id(&id)?;
    let prices = replace_prices(
        &state,
        Acting::Member(&manager),
        id,
        List::Cost,
        &req,
        &mut payload,
    )
    .await?;
    evict(&state, manager.tenant).await;
    Ok(web::Json(price_list(prices)))
}

/// Reads a price list as it came (JSON `{prices}` or `text/csv`) and hands it to the service.
pub(super) async fn replace_prices(
    state: &AppContext,
    who: Acting<'_>,
    id: Uuid,
    which: List,
    req: &HttpRequest,
    payload: &mut web::Payload,
) -> ApiResult<Vec<Price>> {
    let body = super::read_body(payload, MAX_BODY_BYTES).await?;
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    let parsed: PriceList;
    let input = if content_type.starts_with("text/csv") {
        PriceInput::Csv(&body)
    } else if content_type.starts_with("application/json") {
        parsed = super::parse_json(&body)?.value;
        PriceInput::Entries(&parsed.prices)
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send prices as application/json or text/csv.",
        ));
    };
    Ok(service::replace_prices(&state.pool, who, id, which, input).await?)
}

pub(super) fn price_list(prices: Vec<Price>) -> PriceList {
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
    let prices = service::prices(&state.pool, Owner::Tenant(tenant_id), id, List::Cost).await?;
    Ok(web::Json(price_list(prices)))
}
