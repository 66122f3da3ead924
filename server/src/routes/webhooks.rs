//! Webhook endpoints (created with their secret shown once, listed, deleted, rotated), their
//! deliveries (listed, replayed) and the callback secret. A thin door onto
//! `openclaw_core::webhooks`, which the admin app's webhooks page calls too.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use openclaw_core::db::webhooks::{self as store, Delivery, Endpoint, ListedDelivery};
use openclaw_core::domain::{DeliveryId, DeliveryState, EventId, EventKind, WebhookId};
use openclaw_core::webhooks::{self as service, NewWebhook, UrlPolicy, WebhookError, WithSecret};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{JsonBody, Page, PageParams};
use crate::auth::{Action, User};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::{AppContext, Scoped};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(callback_secret)
        .service(show)
        .service(remove)
        .service(rotate_secret)
        .service(deliveries)
        .service(replay);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `https://…` (plain `http` only where the operator allows it), at most 2048 characters;
    /// it must resolve to a public address when events are posted.
    #[schema(example = "https://example.com/openclaw/events", max_length = 2048)]
    pub url: String,
    /// The events to post here; at least one.
    #[schema(min_items = 1)]
    pub events: Vec<EventKind>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<EventKind>,
    /// False once it failed every delivery for 3 days (`disabled_reason` says so).
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed; null while it answers.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret it had before its last rotation still signs too.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// Signs every delivery (`OpenClaw-Signature`). Shown this once.
    #[schema(example = "whsec_3mS0aQ9vV1xY7bC2dE4fG6hJ8kL0nP2r")]
    pub secret: String,
}

impl From<Endpoint> for WebhookView {
    fn from(e: Endpoint) -> WebhookView {
        let now = Utc::now();
        WebhookView {
            id: e.id.into(),
            url: e.url,
            events: e.events,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_until.filter(|t| *t > now),
            created_at: e.created_at,
        }
    }
}

fn with_secret(w: WithSecret) -> WebhookWithSecret {
    WebhookWithSecret {
        webhook: w.endpoint.into(),
        secret: w.secret,
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> ApiError {
        match e {
            WebhookError::Invalid { field, message } => ApiError::invalid(field, message),
            WebhookError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            WebhookError::Forbidden => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            WebhookError::Internal(e) => ApiError::internal(e),
        }
    }
}

fn webhook_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    WebhookId::parse(id)
        .map(WebhookId::uuid)
        .map_err(|_| WebhookError::NotFound("webhook endpoint").into())
}

/// Add a webhook endpoint; the answer holds its signing secret, this once.
#[utoipa::path(
    operation_id = "create_webhook",
    tag = "webhooks",
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, body = WebhookWithSecret, links(("delete" = (operation_id = "delete_webhook", parameters(("id" = "$response.body#/id")))), ("deliveries" = (operation_id = "list_webhook_deliveries", parameters(("id" = "$response.body#/id")))))),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault (`url`: not https, not public, too long; `events`: none or unknown; `url` also when the tenant has 16 endpoints already)", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (owners, admins and developers manage webhooks)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/webhooks")]
pub async fn create(
    state: web::Data<AppContext>,
    user: User,
    body: JsonBody<CreateWebhookRequest>,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageWebhooks)?;
    let req = body.value;
    let new = NewWebhook {
        url: req.url,
        events: req.events.iter().map(|e| e.as_str().to_owned()).collect(),
    };
    let created = service::create(
        &state.pool,
        &state.settings.master_key,
        UrlPolicy::from_settings(&state.settings),
        &manager,
        new,
    )
    .await?;
    Ok(HttpResponse::Created().json(with_secret(created)))
}

/// The tenant's webhook endpoints (never their secrets).
#[utoipa::path(
    operation_id = "list_webhooks",
    tag = "webhooks",
    responses(
        (status = 200, body = Page<WebhookView>),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/webhooks")]
pub async fn list(
    state: web::Data<AppContext>,
    user: User,
) -> ApiResult<web::Json<Page<WebhookView>>> {
    let tenant = user.require(Action::ReadWebhooks)?;
    let endpoints = state
        .scoped(
            tenant,
            async |c| Ok(store::list_endpoints(c, tenant).await?),
        )
        .await?;
    Ok(web::Json(Page {
        data: endpoints.into_iter().map(WebhookView::from).collect(),
        next_cursor: None,
    }))
}

/// One webhook endpoint.
#[utoipa::path(
    operation_id = "get_webhook",
    tag = "webhooks",
    params(("id" = String, Path, description = "`wh_…`")),
    responses(
        (status = 200, body = WebhookView),
        (status = 401, description = "`unauthenticated` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/webhooks/{id}")]
pub async fn show(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<web::Json<WebhookView>> {
    let tenant = user.require(Action::ReadWebhooks)?;
    let id = webhook_id(&id)?;
    let found = state
        .scoped(tenant, async |c| {
            Ok(store::find_endpoint(c, tenant, id).await?)
        })
        .await?
        .ok_or_else(|| ApiError::from(WebhookError::NotFound("webhook endpoint")))?;
    Ok(web::Json(found.into()))
}

/// Delete a webhook endpoint; its deliveries not made yet are dropped.
#[utoipa::path(
    operation_id = "delete_webhook",
    tag = "webhooks",
    params(("id" = String, Path, description = "`wh_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthenticated` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/v1/webhooks/{id}")]
pub async fn remove(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageWebhooks)?;
    let id = webhook_id(&id)?;
    service::delete(&state.pool, &manager, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Give an endpoint a new signing secret (in the answer, this once); the old one keeps
/// signing alongside it for 24 hours.
#[utoipa::path(
    operation_id = "rotate_webhook_secret",
    tag = "webhooks",
    params(("id" = String, Path, description = "`wh_…`")),
    responses(
        (status = 200, body = WebhookWithSecret),
        (status = 401, description = "`unauthenticated` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/webhooks/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<web::Json<WebhookWithSecret>> {
    let manager = user.manager(Action::ManageWebhooks)?;
    let id = webhook_id(&id)?;
    let rotated =
        service::rotate_secret(&state.pool, &state.settings.master_key, &manager, id).await?;
    Ok(web::Json(with_secret(rotated)))
}

#[derive(Serialize, ToSchema)]
pub struct CallbackSecret {
    /// Signs the events posted to messages' own `callback_url` (`OpenClaw-Signature`). Shown
    /// this once; the one it replaces keeps signing alongside it for 24 hours.
    #[schema(example = "whsec_3mS0aQ9vV1xY7bC2dE4fG6hJ8kL0nP2r")]
    pub secret: String,
}

/// Make the tenant's callback secret, or replace it. Until there is one, events posted to a
/// message's `callback_url` go unsigned.
#[utoipa::path(
    operation_id = "create_callback_secret",
    tag = "webhooks",
    responses(
        (status = 201, body = CallbackSecret),
        (status = 401, description = "`unauthenticated` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/webhooks/callback-secret")]
pub async fn callback_secret(state: web::Data<AppContext>, user: User) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageWebhooks)?;
    let secret =
        service::callback_secret(&state.pool, &state.settings.master_key, &manager).await?;
    Ok(HttpResponse::Created().json(CallbackSecret { secret }))
}

#[derive(Serialize, ToSchema)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The endpoint's answer; null when none came (timeout, refused address, …).
    pub status: Option<i32>,
    pub latency_ms: Option<i32>,
    /// Why it did not succeed; null for a 2xx.
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub event_type: EventKind,
    pub status: DeliveryState,
    /// Requests made so far.
    pub attempts: i32,
    /// The last answer's status code.
    pub last_response_code: Option<i32>,
    pub last_latency_ms: Option<i32>,
    pub last_error: Option<String>,
    /// When it is attempted next, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<Attempt>,
}

fn delivery_view(d: Delivery, kind: EventKind) -> DeliveryView {
    let attempt_log = serde_json::from_value::<Vec<serde_json::Value>>(d.log)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| {
            Some(Attempt {
                at: serde_json::from_value(a.get("at")?.clone()).ok()?,
                status: a
                    .get("status")
                    .and_then(|v| v.as_i64())
                    .and_then(|v| i32::try_from(v).ok()),
                latency_ms: a
                    .get("latency_ms")
                    .and_then(|v| v.as_i64())
                    .and_then(|v| i32::try_from(v).ok()),
                error: a.get("error").and_then(|v| v.as_str()).map(str::to_owned),
            })
        })
        .collect();
    DeliveryView {
        id: d.id.into(),
        event_id: d.event_id.into(),
        event_type: kind,
        status: d.state,
        attempts: d.attempts,
        last_response_code: d.last_status,
        last_latency_ms: d.last_latency_ms,
        last_error: d.last_error,
        next_attempt_at: (d.state == DeliveryState::Pending).then_some(d.due_at),
        created_at: d.created_at,
        finished_at: d.finished_at,
        attempt_log,
    }
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(("id" = String, Path, description = "`wh_…`"), PageParams),
    responses(
        (status = 200, body = Page<DeliveryView>),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/webhooks/{id}/deliveries")]
pub async fn deliveries(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<DeliveryView>>> {
    let tenant = user.require(Action::ReadWebhooks)?;
    let id = webhook_id(&id)?;
    let limit = page.limit()?;
    let before = page.cursor_uuid()?;
    let rows = state
        .scoped(tenant, async |c| {
            if store::find_endpoint(c, tenant, id).await?.is_none() {
                return Err(WebhookError::NotFound("webhook endpoint").into());
            }
            Ok(store::deliveries(c, tenant, id, before, limit + 1).await?)
        })
        .await?;
    Ok(web::Json(Page::of(
        rows,
        limit,
        |r: &ListedDelivery| r.delivery.id,
        |r| delivery_view(r.delivery, r.kind),
    )))
}

/// Send a delivery again, now (whatever became of it: a replay of a delivered event carries
/// the same event id, so receivers that dedupe ignore it).
#[utoipa::path(
    operation_id = "replay_webhook_delivery",
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "`wh_…`"),
        ("delivery_id" = String, Path, description = "`whd_…`"),
    ),
    responses(
        (status = 202, body = DeliveryView),
        (status = 401, description = "`unauthenticated` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/webhooks/{id}/deliveries/{delivery_id}/replay")]
pub async fn replay(
    state: web::Data<AppContext>,
    user: User,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageWebhooks)?;
    let (id, delivery) = path.into_inner();
    let id = webhook_id(&id)?;
    let delivery = DeliveryId::parse(&delivery)
        .map_err(|_| ApiError::from(WebhookError::NotFound("webhook delivery")))?
        .uuid();
    let replayed = service::replay(&state.pool, &manager, id, delivery).await?;
    Ok(HttpResponse::Accepted().json(delivery_view(replayed.delivery, replayed.kind)))
}
