//! Platform staff: read across tenants, nothing more. Every call is itself audited.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use openclaw_core::domain::{Money, Period, ProviderId, TenantId};
use openclaw_core::staff::{self, ReportRequest, StaffError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{Page, PageParams, cursor_for};
use crate::auth::{Action, User};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list_tenants)
        .service(platform_audit_log)
        .service(spend_report);
}

/// The platform's own audit log, newest first (platform admins only): staff accounts created,
/// staff reads, sign-in failures for addresses that belong to no one.
#[utoipa::path(
    tag = "staff",
    params(PageParams),
    responses(
        (status = 200, body = Page<super::audit::AuditEvent>),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff whose role allows this", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/audit-log")]
pub async fn platform_audit_log(
    state: web::Data<AppContext>,
    user: User,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<super::audit::AuditEvent>>> {
    user.require_platform(Action::ReadPlatformAudit)?;
    let limit = page.limit()?;
    let before = page.cursor_uuid()?;
    let mut conn = state.pool.get().await?;
    let rows = openclaw_core::db::audit::list(&mut conn, None, before, limit + 1).await?;
    Ok(web::Json(super::audit::page_of(rows, limit)))
}

#[derive(Serialize, ToSchema)]
pub struct TenantSummary {
    pub id: TenantId,
    pub name: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    /// Active members and pending invitations.
    pub members: i64,
    /// Messages sent since the start of this month (UTC), from the spend rollup.
    pub messages_this_month: i64,
}

/// Every tenant, oldest first (platform staff only).
#[utoipa::path(
    tag = "staff",
    params(PageParams),
    responses(
        (status = 200, body = Page<TenantSummary>),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff whose role allows this", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/tenants")]
pub async fn list_tenants(
    state: web::Data<AppContext>,
    user: User,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<TenantSummary>>> {
    user.require_platform(Action::ListTenants)?;
    let limit = page.limit()?;
    let after = page.cursor_uuid()?;
    let mut conn = state.pool.get().await?;
    let rows = staff::list_tenants(&mut conn, &user.actor(), after, limit + 1).await?;
    Ok(web::Json(Page::of(
        rows,
        limit,
        |t| t.id,
        |t| TenantSummary {
            id: t.id.into(),
            name: t.name,
            currency: t.currency,
            created_at: t.created_at,
            members: t.members,
            messages_this_month: t.messages_this_month,
        },
    )))
}

impl From<StaffError> for ApiError {
    fn from(e: StaffError) -> ApiError {
        match e {
            StaffError::Forbidden => ApiError::forbidden(),
            StaffError::Internal(e) => ApiError::internal(e),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpendReportParams {
    /// The calendar month (UTC), `YYYY-MM`; default this month.
    #[param(example = "2026-12", pattern = r"^[2-9][0-9]{3}-(0[1-9]|1[0-2])$")]
    pub period: Option<String>,
    /// Only this tenant, `ten_…`.
    #[param(pattern = r"^ten_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub tenant: Option<String>,
    /// Only what was sent through this provider, `prv_…`.
    #[param(pattern = r"^prv_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub provider: Option<String>,
    /// Tenants per page, 1–200, default 50 (JSON only; the CSV holds every tenant).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// One tenant's spend in one currency over the period.
#[derive(Serialize, ToSchema)]
pub struct TenantSpendLine {
    pub tenant_id: TenantId,
    pub tenant_name: String,
    /// Live messages a provider took.
    pub messages: i64,
    pub segments: i64,
    /// What they cost, from the spend ledger: on its own providers and at platform
    /// providers' sell prices.
    pub spend: Money,
    /// Of `spend`, what went through the tenant's own providers (its gateways bill it).
    pub own_provider_spend: Money,
    /// Of `spend`, what went through platform providers, at their sell price (billed by
    /// OpenClaw).
    pub platform_revenue: Money,
    /// What those platform-provider messages cost the operator.
    pub platform_cost: Money,
    /// `platform_revenue` − `platform_cost` (may be negative).
    pub platform_margin: Money,
    /// OpenClaw's platform fees on them.
    pub platform_fees: Money,
    /// The period's invoice, once the period is closed (on the line of its currency).
    pub invoice: Option<InvoiceSummary>,
}

/// A tenant's invoice for the period, as the spend report shows it.
#[derive(Serialize, ToSchema)]
pub struct InvoiceSummary {
    pub id: openclaw_core::domain::InvoiceId,
    pub total: Money,
    pub status: openclaw_core::domain::InvoiceStatus,
}

/// The whole report's sums in one currency (every page, not just this one).
#[derive(Serialize, ToSchema)]
pub struct SpendTotal {
    pub messages: i64,
    pub segments: i64,
    /// What they cost, from the spend ledger: on its own providers and at platform
    /// providers' sell prices.
    pub spend: Money,
    /// Of `spend`, what went through the tenant's own providers (its gateways bill it).
    pub own_provider_spend: Money,
    /// Of `spend`, what went through platform providers, at their sell price (billed by
    /// OpenClaw).
    pub platform_revenue: Money,
    /// What those platform-provider messages cost the operator.
    pub platform_cost: Money,
    /// `platform_revenue` − `platform_cost` (may be negative).
    pub platform_margin: Money,
    pub platform_fees: Money,
    /// What the period's invoices in this currency total.
    pub invoiced: Money,
}

#[derive(Serialize, ToSchema)]
pub struct SpendReportView {
    #[schema(example = "2026-12")]
    pub period: String,
    /// Tenants with spend in the period, by tenant id, a line per currency.
    pub data: Vec<TenantSpendLine>,
    /// Per currency.
    pub totals: Vec<SpendTotal>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// Every tenant's spend in a month (platform admins and billing staff), from the spend ledger;
/// JSON pages, or the whole report as CSV (RFC 4180, decimal strings, a totals row per
/// currency) with `Accept: text/csv`. Each read is recorded in the platform audit log.
#[utoipa::path(
    operation_id = "get_spend_report",
    tag = "staff",
    params(SpendReportParams),
    responses(
        (status = 200, content(
            (SpendReportView = "application/json"),
            (String = "text/csv", example = "period,tenant_id,tenant_name,currency,messages,segments,spend,platform_fees,invoice_total,invoice_status\r\n2026-11,ten_01JD2X4N9X4S0M6ZQ4C3W5Y8RT,Acme,USD,2,2,0.024600,0.002000,0.002000,open\r\n2026-11,TOTAL,,USD,2,2,0.024600,0.002000,0.002000,\r\n")
        )),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `period`, `tenant`, `provider`, `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff whose role allows this", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/spend-report")]
pub async fn spend_report(
    state: web::Data<AppContext>,
    user: User,
    req: HttpRequest,
    params: web::Query<SpendReportParams>,
) -> ApiResult<HttpResponse> {
    // Who may ask comes before what they asked.
    let staff = user.staff(Action::ReadSpendReport)?;
    let params = params.into_inner();
    let csv = super::wants_csv(&req);
    let period = match params.period.as_deref() {
        None => Period::of(Utc::now().date_naive()),
        Some(p) => Period::parse(p).ok_or_else(|| {
            ApiError::invalid("period", "`period` is a calendar month, `YYYY-MM`.")
        })?,
    };
    let tenant = params
        .tenant
        .as_deref()
        .map(|t| TenantId::parse(t).map(|t| t.uuid()))
        .transpose()
        .map_err(|e| ApiError::invalid("tenant", e.to_string()))?;
    let provider = params
        .provider
        .as_deref()
        .map(|p| ProviderId::parse(p).map(|p| p.uuid()))
        .transpose()
        .map_err(|e| ApiError::invalid("provider", e.to_string()))?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let (limit, after) = if csv {
        (None, None)
    } else {
        (Some(page.limit()?), page.cursor_uuid()?)
    };
    let report = staff::spend_report(
        &state.pool,
        &staff,
        ReportRequest {
            period,
            tenant,
            provider,
            after,
            limit,
        },
    )
    .await?;
    if csv {
        let body = report.to_csv().map_err(ApiError::internal)?;
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                actix_web::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"openclaw-spend-{period}.csv\""),
            ))
            .body(body));
    }
    let next_cursor = report
        .more
        .then(|| report.lines.last().map(|l| cursor_for(l.tenant_id)))
        .flatten();
    let view = SpendReportView {
        period: period.to_string(),
        data: report
            .lines
            .into_iter()
            .map(|l| TenantSpendLine {
                invoice: report
                    .invoices
                    .get(&l.tenant_id)
                    .filter(|i| i.currency == l.currency)
                    .map(|i| InvoiceSummary {
                        id: i.id.into(),
                        total: Money::new(i.total_micros, i.currency.clone()),
                        status: i.status,
                    }),
                tenant_id: l.tenant_id.into(),
                tenant_name: l.tenant_name.clone(),
                messages: l.messages,
                segments: l.segments,
                spend: Money::new(l.cost_micros, l.currency.clone()),
                own_provider_spend: Money::new(l.own_providers_micros(), l.currency.clone()),
                platform_revenue: Money::new(l.platform_revenue_micros, l.currency.clone()),
                platform_cost: Money::new(l.platform_cost_micros, l.currency.clone()),
                platform_margin: Money::new(l.platform_margin_micros(), l.currency.clone()),
                platform_fees: Money::new(l.fee_micros, l.currency),
            })
            .collect(),
        totals: report
            .totals
            .into_iter()
            .map(|t| SpendTotal {
                invoiced: Money::new(
                    report
                        .invoices
                        .values()
                        .filter(|i| i.currency == t.currency)
                        .map(|i| i.total_micros)
                        .sum(),
                    t.currency.clone(),
                ),
                messages: t.messages,
                segments: t.segments,
                spend: Money::new(t.cost_micros, t.currency.clone()),
                own_provider_spend: Money::new(t.own_providers_micros(), t.currency.clone()),
                platform_revenue: Money::new(t.platform_revenue_micros, t.currency.clone()),
                platform_cost: Money::new(t.platform_cost_micros, t.currency.clone()),
                platform_margin: Money::new(t.platform_margin_micros(), t.currency.clone()),
                platform_fees: Money::new(t.fee_micros, t.currency),
            })
            .collect(),
        next_cursor,
    };
    Ok(HttpResponse::build(StatusCode::OK).json(view))
}
