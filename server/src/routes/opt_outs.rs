//! Opt-outs (listed, added one by one or from a CSV list, removed, exported as CSV) and the
//! inbound messages received on the tenant's providers. Thin doors onto
//! `openclaw_core::opt_outs` and `openclaw_core::inbound`, which the admin app calls too.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use openclaw_core::db::opt_outs::{Inbound, InboundFilter, OptOut};
use openclaw_core::domain::{InboundId, Keyword, OptOutSource, ProviderId};
use openclaw_core::opt_outs::{self as service, OptOutError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{Page, PageParams};
use crate::auth::{Action, User};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppContext;

/// Largest CSV list accepted (100,000 numbers fit).
const MAX_CSV_BYTES: usize = 4 * 1024 * 1024;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(add)
        .service(remove)
        .service(inbound);
}

impl From<OptOutError> for ApiError {
    fn from(e: OptOutError) -> ApiError {
        match e {
            OptOutError::Invalid { field, message } => ApiError::invalid(field, message),
            OptOutError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            OptOutError::Forbidden | OptOutError::ForbiddenToRead => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            OptOutError::Internal(e) => ApiError::internal(e),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OptOutView {
    /// E.164.
    #[schema(example = "+4915112345678")]
    pub number: String,
    pub source: OptOutSource,
    pub created_at: DateTime<Utc>,
}

impl From<OptOut> for OptOutView {
    fn from(o: OptOut) -> OptOutView {
        OptOutView {
            number: o.number,
            source: o.source,
            created_at: o.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddOptOutRequest {
    /// With its country code; normalised to E.164.
    #[schema(example = "+49 151 12345678")]
    pub number: String,
}

/// What a CSV import came to.
#[derive(Serialize, ToSchema)]
pub struct ImportedView {
    /// Numbers put on the list.
    pub added: usize,
    /// Numbers on it already, or repeated in the list.
    pub unchanged: usize,
}

/// A 200 of `POST /v1/opt-outs`: the opt-out that was there (JSON), or an import's outcome
/// (CSV). Only for the document; each door answers its own type.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum OptOutOrImported {
    OptOut(OptOutView),
    Imported(ImportedView),
}

/// The tenant's opt-outs, newest first; or all of them as CSV (`number,source,created_at`)
/// with `Accept: text/csv`.
#[utoipa::path(
    operation_id = "list_opt_outs",
    tag = "opt-outs",
    params(PageParams),
    responses(
        (status = 200, content(
            (Page<OptOutView> = "application/json"),
            (String = "text/csv", example = "number,source,created_at\n+4915112345678,inbound,2026-12-05T10:00:00Z\n")
        )),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: platform staff have no tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/opt-outs")]
pub async fn list(
    state: web::Data<AppContext>,
    user: User,
    req: HttpRequest,
    page: web::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ReadMessages)?;
    if super::wants_csv(&req) {
        let csv = service::export(&state.pool, &manager).await?;
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"openclaw-opt-outs.csv\"",
            ))
            .body(csv));
    }
    let limit = page.limit()?;
    let before = page.cursor_uuid()?;
    let rows = service::list(&state.pool, &manager, before, limit + 1).await?;
    Ok(HttpResponse::Ok().json(Page::of(rows, limit, |o| o.id, OptOutView::from)))
}

/// Opt a number out: JSON `{number}` → 201 (200 when it was on the list already), or a CSV
/// list (`Content-Type: text/csv`, a `number` column or one number per line) → 200 with what
/// it came to. Sends to it then answer 422 `recipient_opted_out`.
#[utoipa::path(
    operation_id = "add_opt_outs",
    tag = "opt-outs",
    request_body(content(
        (AddOptOutRequest = "application/json"),
        (String = "text/csv", example = "number\n+4915112345678\n+14155552671\n")
    )),
    responses(
        (status = 201, description = "Added", body = OptOutView),
        (status = 200, description = "On the list already (JSON), or what a CSV import came to", body = OptOutOrImported),
        (status = 400, description = "`invalid_json`, or `invalid_field` (`number`: not a phone number with its country code; for CSV the line at fault is named and nothing is added)", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: owners, admins and developers change opt-outs", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json` or `text/csv`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/opt-outs")]
pub async fn add(
    state: web::Data<AppContext>,
    user: User,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageOptOuts)?;
    let body = super::read_body(&mut payload, MAX_CSV_BYTES).await?;
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    if content_type.starts_with("text/csv") {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::invalid("number", "The CSV list is not UTF-8 text."))?;
        let imported = service::import(&state.pool, &manager, text).await?;
        return Ok(HttpResponse::Ok().json(ImportedView {
            added: imported.added,
            unchanged: imported.unchanged,
        }));
    }
    if !content_type.starts_with("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send an opt-out as application/json, or a list as text/csv.",
        ));
    }
    let req: AddOptOutRequest = super::parse_json(&body)?.value;
    let added = service::add(&state.pool, &manager, &req.number).await?;
    let view = OptOutView::from(added.opt_out);
    Ok(if added.created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Opt a number back in.
#[utoipa::path(
    operation_id = "delete_opt_out",
    tag = "opt-outs",
    params(("number" = String, Path, description = "E.164, `+` as `%2B` or left out (`4915112345678`)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_field`: `number` is not a phone number", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`", body = ErrorBody),
        (status = 403, description = "`forbidden`: owners, admins and developers change opt-outs", body = ErrorBody),
        (status = 404, description = "`not_found`: the number has not opted out", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/v1/opt-outs/{number}")]
pub async fn remove(
    state: web::Data<AppContext>,
    user: User,
    number: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageOptOuts)?;
    service::remove(&state.pool, &manager, &number).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct InboundView {
    pub id: InboundId,
    /// Who sent it (E.164, or an alphanumeric sender as the provider gave it).
    pub from: String,
    /// The tenant's number it was sent to.
    pub to: String,
    pub body: String,
    /// The provider it came in on.
    pub provider_id: ProviderId,
    /// The provider's own id for it.
    pub provider_message_id: String,
    /// What its keyword did: `opt_out` (STOP, …), `opt_in` (START, …), `help`; null: none.
    pub keyword: Option<Keyword>,
    pub received_at: DateTime<Utc>,
}

impl From<Inbound> for InboundView {
    fn from(m: Inbound) -> InboundView {
        InboundView {
            id: m.id.into(),
            from: m.sender,
            to: m.recipient,
            body: m.body,
            provider_id: m.provider_id.into(),
            provider_message_id: m.provider_message_id,
            keyword: m.keyword,
            received_at: m.received_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InboundQuery {
    /// Only those sent to this number of yours (with its country code).
    pub to: Option<String>,
    /// Only those from this number (with its country code).
    pub from: Option<String>,
    /// Only those received at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// Messages received on the tenant's providers, newest first.
#[utoipa::path(
    operation_id = "list_inbound",
    tag = "inbound",
    params(InboundQuery),
    responses(
        (status = 200, body = Page<InboundView>),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `to`, `from`, `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: platform staff have no tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/inbound")]
pub async fn inbound(
    state: web::Data<AppContext>,
    user: User,
    query: web::Query<InboundQuery>,
) -> ApiResult<web::Json<Page<InboundView>>> {
    let manager = user.manager(Action::ReadMessages)?;
    let q = query.into_inner();
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let before = page.cursor_uuid()?;
    let filter = InboundFilter {
        to: q.to.map(|n| service::parse_number(&n, "to")).transpose()?,
        from: q
            .from
            .map(|n| service::parse_number(&n, "from"))
            .transpose()?,
        since: q.since,
    };
    let rows =
        openclaw_core::inbound::list(&state.pool, &manager, &filter, before, limit + 1).await?;
    Ok(web::Json(Page::of(
        rows,
        limit,
        |m| m.id,
        InboundView::from,
    )))
}
