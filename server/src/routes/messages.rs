//! Sending and reading messages. The accept path validates, prices and hands the row to the
//! group commit ([`crate::ingest`]); the 202 is sent only once the row is committed.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use openclaw_core::accept::{self, Origin, SendError, SendRequest, now};
use openclaw_core::db::idempotency;
use openclaw_core::db::messages::{
    self as store, AttemptOutcome, Inserted, ListFilter, Message, NewMessage,
};
use openclaw_core::domain::{Encoding, KeyMode, Money, PhoneNumber, ProviderId, Status};
use openclaw_core::ingest::{Keep, Kept};
use openclaw_core::trace;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{JsonBody, Page, PageParams, sane_date};
use crate::auth::{Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::{AppContext, Scoped};

pub const MAX_BATCH: usize = 1_000;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(send)
        .service(send_batch)
        .service(list)
        .service(get_one)
        .service(cancel);
}

#[derive(Serialize, ToSchema)]
pub struct AcceptedMessage {
    pub id: openclaw_core::domain::MessageId,
    #[schema(example = "queued")]
    pub status: Status,
    pub to: String,
    pub from: Option<String>,
    #[schema(example = "DE")]
    pub country: String,
    pub message_type: String,
    #[schema(example = "GSM-7")]
    pub encoding: Encoding,
    pub segments: i32,
    pub estimated_cost: Money,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageError {
    pub code: String,
    pub message: String,
    pub provider_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    pub provider_id: ProviderId,
    pub round: i32,
    pub started_at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    pub provider_code: Option<String>,
    pub error_message: Option<String>,
    pub latency_ms: i32,
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// The status the message moved to; or `outcome_unknown`: whether the provider took it
    /// became unknown (a timeout, a worker stopped mid-call), and it waits for the provider's
    /// receipt (see the message's `error`); or `receipt_overdue`: the message is still `sent`
    /// and its provider's receipt has not come within the provider's
    /// `receipt_timeout_seconds` (a late one still moves it on).
    #[schema(example = "sent", schema_with = super::schemas::message_event)]
    pub status: String,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: openclaw_core::domain::MessageId,
    pub status: Status,
    pub to: String,
    pub from: Option<String>,
    pub body: String,
    pub country: String,
    pub message_type: String,
    pub encoding: Encoding,
    pub segments: i32,
    /// `live` or `test`.
    pub mode: KeyMode,
    pub estimated_cost: Money,
    /// What the message cost once sent (zero for test mode).
    pub cost: Option<Money>,
    pub provider_id: Option<ProviderId>,
    pub error: Option<MessageError>,
    pub client_ref: Option<String>,
    pub callback_url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<AttemptView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
}

fn accepted(m: &Message) -> AcceptedMessage {
    AcceptedMessage {
        id: m.id.into(),
        status: m.initial_status(),
        to: m.recipient.clone(),
        from: m.sender.clone(),
        country: m.country.clone(),
        message_type: m.message_type.clone(),
        encoding: m.encoding,
        segments: m.segments,
        estimated_cost: Money::new(m.estimated_cost_micros, m.currency.clone()),
        created_at: m.created_at,
    }
}

fn accepted_new(m: &NewMessage) -> AcceptedMessage {
    AcceptedMessage {
        id: m.id.into(),
        status: m.status,
        to: m.recipient.clone(),
        from: m.sender.clone(),
        country: m.country.clone(),
        message_type: m.message_type.clone(),
        encoding: m.encoding,
        segments: m.segments,
        estimated_cost: Money::new(m.estimated_cost_micros, m.currency.clone()),
        created_at: m.created_at,
    }
}

fn view(m: Message) -> MessageView {
    let error = m.error_code.clone().map(|code| MessageError {
        code,
        message: m.error_message.clone().unwrap_or_default(),
        provider_code: m.error_provider_code.clone(),
    });
    MessageView {
        id: m.id.into(),
        status: m.status,
        to: m.recipient,
        from: m.sender,
        body: m.body,
        country: m.country,
        message_type: m.message_type,
        encoding: m.encoding,
        segments: m.segments,
        mode: m.mode,
        estimated_cost: Money::new(m.estimated_cost_micros, m.currency.clone()),
        cost: m.cost_micros.map(|c| Money::new(c, m.currency.clone())),
        provider_id: m.provider_id.map(ProviderId::from),
        error,
        client_ref: m.client_ref,
        callback_url: m.callback_url,
        metadata: m.metadata,
        scheduled_at: m.scheduled_at,
        expires_at: m.expires_at,
        created_at: m.created_at,
        attempts: None,
        events: None,
    }
}

/// JSON with object keys sorted at every level, so the fingerprint of a request does not
/// depend on how the client ordered its fields.
fn fingerprint(value: &serde_json::Value) -> Vec<u8> {
    fn canonical(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&map[k], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(value, &mut text);
    Sha256::digest(text.as_bytes()).to_vec()
}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> ApiError {
        let base = match e.kind {
            accept::Kind::Invalid => ApiError::bad_request(e.code, e.message),
            accept::Kind::Unroutable => ApiError::unprocessable(e.code, e.message),
            accept::Kind::PaymentRequired => ApiError::new(
                actix_web::http::StatusCode::PAYMENT_REQUIRED,
                e.code,
                e.message,
            ),
        };
        match e.field {
            Some(field) => base.with_field(field),
            None => base,
        }
    }
}

/// Validates and prices a request for the caller's tenant.
async fn prepare(
    state: &AppContext,
    caller: &Caller,
    tenant_id: Uuid,
    req: SendRequest,
    now: DateTime<Utc>,
) -> Result<NewMessage, ApiError> {
    let table = state.routes.get(tenant_id).await?;
    let origin = Origin {
        tenant_id,
        api_key_id: caller.api_key_id(),
        test_mode: caller.test_mode(),
        hard_cap: table.hard_cap,
        callback_urls: openclaw_core::webhooks::UrlPolicy::from_settings(&state.settings),
    };
    Ok(accept::prepare(
        req,
        origin,
        &table.providers,
        &table.billing,
        now,
    )?)
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "`Idempotency-Key` must be 1 to 255 printable characters.",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// Send one SMS.
#[utoipa::path(
    tag = "messages",
    request_body = SendRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely: the same key and body return the first answer")),
    responses(
        (status = 202, body = AcceptedMessage, links(("get" = (operation_id = "get_message", parameters(("id" = "$response.body#/id")))), ("cancel" = (operation_id = "cancel_message", parameters(("id" = "$response.body#/id")))))),
        (status = 400, description = "`invalid_json`, `invalid_phone_number`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `token_expired` or `invalid_api_key`", body = ErrorBody),
        (status = 402, description = "`budget_exceeded`: the tenant's budget is a hard cap and this message's worst-case cost does not fit what the month has left (the message says how much); `payment_required`: an invoice of the tenant is unpaid past its grace period (the message names it and links it)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role or the API key's scopes do not allow this", body = ErrorBody),
        (status = 409, description = "`idempotency_conflict`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
        (status = 422, description = "`no_route`: no enabled provider is priced for the destination; `recipient_opted_out`: the number opted out of the tenant's messages (nothing is stored or charged)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: this API key is over its requests per second", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/v1/messages")]
pub async fn send(
    state: web::Data<AppContext>,
    caller: Caller,
    req: HttpRequest,
    body: JsonBody<SendRequest>,
) -> ApiResult<HttpResponse> {
    let tenant_id = caller.require(Action::SendMessages)?;
    let key = idempotency_key(&req)?;
    let hash = key.as_ref().map(|_| {
        fingerprint(&serde_json::from_slice(&body.bytes).unwrap_or(serde_json::Value::Null))
    });
    let mut row = prepare(&state, &caller, tenant_id, body.value, now()).await?;
    row.idempotency_key = key;
    row.request_hash = hash.clone();
    let response = accepted_new(&row);
    trace::record_message(row.id);
    let outcome = state.ingest.submit(vec![row]).await?;
    match outcome.into_iter().next() {
        Some(Inserted::Created) => {
            tracing::debug!("message accepted");
            Ok(HttpResponse::Accepted().json(response))
        }
        Some(Inserted::Existing(first)) if first.request_hash == hash => {
            Ok(HttpResponse::Accepted()
                .insert_header(("Idempotent-Replayed", "true"))
                .json(accepted(&first)))
        }
        Some(Inserted::Existing(_)) => Err(idempotency_conflict()),
        Some(Inserted::Refused { .. }) => Err(refused()),
        Some(Inserted::OverBudget {
            remaining_micros,
            currency,
        }) => Err(over_budget(remaining_micros, currency)),
        Some(Inserted::OptedOut) => Err(opted_out()),
        None => Err(anyhow::anyhow!("the ingest returned no outcome").into()),
    }
}

fn idempotency_conflict() -> ApiError {
    ApiError::conflict(
        "idempotency_conflict",
        "This Idempotency-Key was already used with a different request.",
    )
    .with_field("Idempotency-Key")
}

/// A message that passed validation but that the database would not store (the cause is
/// logged); only this message fails, never the others committed with it.
/// 402 `budget_exceeded`: the tenant's hard-capped budget has no room for the message's
/// worst-case cost; the sentence says what is left.
fn over_budget(remaining_micros: i64, currency: String) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYMENT_REQUIRED,
        "budget_exceeded",
        openclaw_core::budgets::over_budget_sentence(&Money::new(remaining_micros, currency)),
    )
}

fn opted_out() -> ApiError {
    accept::opted_out().into()
}

fn refused() -> ApiError {
    ApiError::bad_request(
        "invalid_request",
        "This message contains a value that cannot be stored; nothing was sent.",
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 messages, each shaped like a single send (`SendRequest`). Each entry is
    /// checked on its own: one that is not a valid send gets its error in the answer, in its
    /// place, and the others go ahead.
    #[schema(value_type = Vec<Value>, min_items = 1, max_items = 1000)]
    pub messages: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchEntry {
    Accepted(AcceptedMessage),
    Error { error: crate::error::ErrorDetail },
}

#[derive(Serialize, ToSchema)]
pub struct BatchResponse {
    /// One entry per message, in order: the accepted message or its error.
    pub data: Vec<BatchEntry>,
}

/// Send up to 1,000 SMS at once; one bad entry does not sink the rest.
#[utoipa::path(
    tag = "messages",
    request_body = BatchRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat a batch safely: the same key and body return the first answer; another body gets 409")),
    responses(
        (status = 202, body = BatchResponse),
        (status = 400, description = "`invalid_json`, or `invalid_field`: not 1 to 1000 messages, or a bad `Idempotency-Key` (each entry's own errors are in its answer)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `token_expired` or `invalid_api_key`", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role or the API key's scopes do not allow this", body = ErrorBody),
        (status = 409, description = "`idempotency_conflict`: the key was used with another request", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: this API key is over its requests per second", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/v1/messages/batch")]
pub async fn send_batch(
    state: web::Data<AppContext>,
    caller: Caller,
    req: HttpRequest,
    // Each entry is checked on its own, a NUL included, and answered in its place.
    body: JsonBody<BatchRequest, false>,
) -> ApiResult<HttpResponse> {
    let tenant_id = caller.require(Action::SendMessages)?;
    let key = idempotency_key(&req)?;
    let hash = fingerprint(&serde_json::from_slice(&body.bytes).unwrap_or(serde_json::Value::Null));
    if let Some(key) = &key
        && let Some(earlier) = earlier_batch(&state, tenant_id, key).await?
    {
        return replay_batch(earlier, &hash);
    }
    let entries = body.value.messages;
    if entries.is_empty() || entries.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "messages",
            format!("Send 1 to {MAX_BATCH} messages per batch."),
        ));
    }
    let now = now();
    let mut results: Vec<Result<NewMessage, ApiError>> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let parsed = serde_json::from_value::<SendRequest>(entry).map_err(|e| {
            ApiError::invalid(&format!("messages[{i}]"), format!("messages[{i}]: {e}."))
        });
        let prepared = match parsed {
            Ok(req) => prepare(&state, &caller, tenant_id, req, now).await,
            Err(e) => Err(e),
        };
        results.push(prepared.map_err(|e| in_entry(i, e)));
    }
    let rows: Vec<NewMessage> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    // What became of each row, in order, turned into the answer's entries.
    let respond = move |outcomes: &[Inserted]| -> BatchResponse {
        let mut outcomes = outcomes.iter();
        let data = results
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(row) => match outcomes.next() {
                    Some(Inserted::Refused { .. }) | None => BatchEntry::Error {
                        error: in_entry(i, refused()).body().error,
                    },
                    Some(Inserted::OverBudget {
                        remaining_micros,
                        currency,
                    }) => BatchEntry::Error {
                        error: in_entry(i, over_budget(*remaining_micros, currency.clone()))
                            .body()
                            .error,
                    },
                    Some(Inserted::OptedOut) => BatchEntry::Error {
                        error: in_entry(i, opted_out()).body().error,
                    },
                    Some(_) => BatchEntry::Accepted(accepted_new(&row)),
                },
                Err(e) => BatchEntry::Error {
                    error: e.body().error,
                },
            })
            .collect();
        BatchResponse { data }
    };
    let Some(key) = key else {
        let outcomes = if rows.is_empty() {
            Vec::new()
        } else {
            state.ingest.submit(rows).await?
        };
        let response = respond(&outcomes);
        if tracing::enabled!(tracing::Level::DEBUG) {
            for entry in &response.data {
                if let BatchEntry::Accepted(m) = entry {
                    tracing::debug!(message_id = %m.id, "message accepted");
                }
            }
        }
        return Ok(HttpResponse::Accepted().json(response));
    };
    let keep = Keep {
        tenant_id,
        key,
        request_hash: hash.clone(),
        respond: Box::new(move |outcomes| {
            serde_json::to_value(respond(outcomes)).unwrap_or(serde_json::Value::Null)
        }),
    };
    match state.ingest.submit_keeping(rows, keep).await? {
        Kept::Answered(response) => {
            if tracing::enabled!(tracing::Level::DEBUG) {
                let data = response["data"].as_array().into_iter().flatten();
                for id in data.filter_map(|e| e["id"].as_str()) {
                    tracing::debug!(message_id = id, "message accepted");
                }
            }
            Ok(HttpResponse::Accepted().json(response))
        }
        Kept::Earlier(earlier) => replay_batch(earlier, &hash),
    }
}

/// An error of entry `i`, its field named inside the batch (`messages[3].to`).
fn in_entry(i: usize, mut e: ApiError) -> ApiError {
    e.field = Some(match e.field.take() {
        Some(f) if !f.starts_with("messages[") => format!("messages[{i}].{f}"),
        Some(f) => f,
        None => format!("messages[{i}]"),
    });
    e
}

/// The batch sent earlier under this key, if any. A key used by a single send is refused.
async fn earlier_batch(
    state: &AppContext,
    tenant_id: Uuid,
    key: &str,
) -> ApiResult<Option<idempotency::Stored>> {
    state
        .scoped(tenant_id, async |c| {
            if store::find_by_idempotency_key(c, tenant_id, key)
                .await?
                .is_some()
            {
                return Err(idempotency_conflict());
            }
            Ok(idempotency::find(c, tenant_id, key).await?)
        })
        .await
}

fn replay_batch(earlier: idempotency::Stored, hash: &[u8]) -> ApiResult<HttpResponse> {
    if earlier.request_hash != hash {
        return Err(idempotency_conflict());
    }
    Ok(HttpResponse::Accepted()
        .insert_header(("Idempotent-Replayed", "true"))
        .json(earlier.response))
}

/// The message a path names (recorded in the request's span).
fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    let id = openclaw_core::domain::MessageId::parse(id)
        .map(|m| m.uuid())
        .map_err(|_| ApiError::not_found("message"))?;
    trace::record_message(id);
    Ok(id)
}

/// One message with its attempts and status events.
#[utoipa::path(
    operation_id = "get_message",
    tag = "messages",
    params(("id" = String, Path, description = "`msg_…`")),
    responses(
        (status = 200, body = MessageView),
        (status = 401, description = "`unauthenticated`, `token_expired` or `invalid_api_key`", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role or the API key's scopes do not allow this", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: this API key is over its requests per second", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[get("/v1/messages/{id}")]
pub async fn get_one(
    state: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<MessageView>> {
    let tenant_id = caller.require(Action::ReadMessages)?;
    let id = parse_id(&id)?;
    let (message, attempts) = state
        .scoped(tenant_id, async |c| {
            let message = store::find(c, tenant_id, id)
                .await?
                .ok_or_else(|| ApiError::not_found("message"))?;
            let attempts = store::attempts(c, tenant_id, id).await?;
            Ok((message, attempts))
        })
        .await?;
    let events = message.events();
    let mut v = view(message);
    v.attempts = Some(
        attempts
            .into_iter()
            .map(|a| AttemptView {
                provider_id: a.provider_id.into(),
                round: a.round,
                started_at: a.started_at,
                outcome: a.outcome,
                provider_code: a.provider_code,
                error_message: a.error_message,
                latency_ms: a.latency_ms,
            })
            .collect(),
    );
    v.events = Some(
        events
            .into_iter()
            .map(|e| EventView {
                status: e.status,
                at: e.at,
            })
            .collect(),
    );
    Ok(web::Json(v))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(schema_with = super::schemas::message_status)]
    pub status: Option<String>,
    /// The recipient, in any format `to` accepts.
    pub to: Option<String>,
    /// Created at or after (years 2000–9999).
    pub since: Option<DateTime<Utc>>,
    /// Created before (years 2000–9999).
    pub until: Option<DateTime<Utc>>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// Messages, newest first.
#[utoipa::path(
    operation_id = "list_messages",
    tag = "messages",
    params(ListQuery),
    responses(
        (status = 200, body = Page<MessageView>),
        (status = 400, description = "`invalid_query`, `invalid_phone_number` (`to`), or `invalid_field` naming the parameter", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `token_expired` or `invalid_api_key`", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role or the API key's scopes do not allow this", body = ErrorBody),
        (status = 429, description = "`rate_limited`: this API key is over its requests per second", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[get("/v1/messages")]
pub async fn list(
    state: web::Data<AppContext>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult<web::Json<Page<MessageView>>> {
    let tenant_id = caller.require(Action::ReadMessages)?;
    let q = query.into_inner();
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                let names: Vec<&str> = Status::ALL.map(Status::as_str).to_vec();
                ApiError::invalid(
                    "status",
                    format!("`status` must be one of {}.", names.join(", ")),
                )
            })
        })
        .transpose()?;
    let recipient = q
        .to
        .as_deref()
        .map(|t| {
            PhoneNumber::parse(t)
                .map(|p| p.e164().to_owned())
                .map_err(|e| {
                    ApiError::bad_request("invalid_phone_number", e.to_string()).with_field("to")
                })
        })
        .transpose()?;
    let filter = ListFilter {
        status,
        recipient,
        since: q.since.map(|t| sane_date("since", t)).transpose()?,
        until: q.until.map(|t| sane_date("until", t)).transpose()?,
        before: page.cursor_uuid()?,
    };
    let rows = state
        .scoped(tenant_id, async |c| {
            Ok(store::list(c, tenant_id, &filter, limit + 1).await?)
        })
        .await?;
    Ok(web::Json(Page::of(rows, limit, |m| m.id, view)))
}

/// Cancel a message that is still scheduled or queued.
#[utoipa::path(
    operation_id = "cancel_message",
    tag = "messages",
    params(("id" = String, Path, description = "`msg_…`")),
    responses(
        (status = 200, body = MessageView),
        (status = 401, description = "`unauthenticated`, `token_expired` or `invalid_api_key`", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role or the API key's scopes do not allow this", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_cancelable`: the message is no longer scheduled or queued", body = ErrorBody),
        (status = 429, description = "`rate_limited`: this API key is over its requests per second", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/v1/messages/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppContext>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<MessageView>> {
    let tenant_id = caller.require(Action::SendMessages)?;
    let id = parse_id(&id)?;
    let canceled = state
        .scoped(tenant_id, async |c| {
            Ok(store::cancel(c, tenant_id, id).await?)
        })
        .await?;
    match canceled {
        None => Err(ApiError::not_found("message")),
        Some(Ok(m)) => Ok(web::Json(view(m))),
        Some(Err(m)) => Err(ApiError::conflict(
            "not_cancelable",
            format!(
                "The message is {}; only scheduled or queued messages can be canceled.",
                m.status
            ),
        )),
    }
}
