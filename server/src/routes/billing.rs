//! Billing: the operator's settings and tenants' fees, closing periods, invoices (staff's and a
//! tenant's own) and Stripe's events. Thin doors: the rules, transactions and audit records
//! are `openclaw_core::billing`, which the admin app's pages call too.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use openclaw_core::billing::invoices::{self, Applied, WithLines};
use openclaw_core::billing::settings::{
    self, BillingError, OverrideInput, SettingsInput, TenantBilling, Version,
};
use openclaw_core::changes::Change;
use openclaw_core::db::billing::BillingPeriod;
use openclaw_core::domain::{
    CloseStep, InvoiceId, InvoiceLineKind, InvoiceStatus, Markup, Money, Period, TenantId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{JsonBody, Page, PageParams, cursor_for};
use crate::auth::{Action, User};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(get_settings)
        .service(put_settings)
        .service(get_tenant_billing)
        .service(put_tenant_billing)
        .service(put_tenant_currency)
        .service(close_period)
        .service(list_periods)
        .service(staff_invoices)
        .service(tenant_invoices)
        .service(stripe_hook);
}

impl From<BillingError> for ApiError {
    fn from(e: BillingError) -> ApiError {
        match e {
            BillingError::Invalid { field, message } => ApiError::invalid(&field, message),
            BillingError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            BillingError::NotFound => ApiError::not_found("tenant"),
            BillingError::Conflict { code, message, .. } => ApiError::conflict(code, message),
            BillingError::NoRate { field, message } => {
                ApiError::unprocessable("no_exchange_rate", message).with_field(field)
            }
            BillingError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// A day as `YYYY-MM-DD`, or a 400 naming `field`.
fn day(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .filter(|d| openclaw_core::domain::SANE_YEARS.contains(&chrono::Datelike::year(d)))
                .ok_or_else(|| ApiError::invalid(field, format!("`{field}` is a day, YYYY-MM-DD.")))
        })
        .transpose()
}

fn period_of(value: &str) -> Result<Period, ApiError> {
    Period::parse(value)
        .ok_or_else(|| ApiError::invalid("period", "`period` is a calendar month, `YYYY-MM`."))
}

/// One version of the billing settings.
#[derive(Serialize, ToSchema)]
pub struct SettingsVersionView {
    /// The day (UTC) it takes effect.
    #[schema(example = "2026-12-01")]
    pub effective_from: NaiveDate,
    /// OpenClaw's fee per segment of a message sent through a tenant's own provider.
    pub platform_fee: Money,
    /// The default markup on platform providers' cost, a percentage with two decimals.
    #[schema(example = "12.50")]
    pub default_markup_percent: String,
    /// Days an invoice may stay unpaid after it is finalized before the tenant is past due.
    #[schema(example = 14)]
    pub grace_period_days: i32,
}

impl From<Version> for SettingsVersionView {
    fn from(v: Version) -> Self {
        SettingsVersionView {
            effective_from: v.effective_from,
            platform_fee: v.platform_fee,
            default_markup_percent: v.default_markup.to_string(),
            grace_period_days: v.grace_period_days,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BillingSettingsView {
    /// In force today; null until the operator sets any (no fee, no markup, a grace period of
    /// 14 days).
    pub current: Option<SettingsVersionView>,
    /// Versions taking effect after today, soonest first.
    pub scheduled: Vec<SettingsVersionView>,
}

impl From<settings::Settings> for BillingSettingsView {
    fn from(s: settings::Settings) -> Self {
        BillingSettingsView {
            current: s.current.map(Into::into),
            scheduled: s.scheduled.into_iter().map(Into::into).collect(),
        }
    }
}

/// An amount as sent: a decimal string and a currency code, checked by the service so that a
/// mistake is named by its field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountInput {
    /// Decimal string, up to 6 fractional digits.
    #[schema(example = "0.001000")]
    pub amount: String,
    /// ISO 4217.
    #[schema(pattern = r"^[A-Za-z]{3}$", example = "USD")]
    pub currency: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBillingSettings {
    /// Per segment; in the currency every tenant is billed in.
    pub platform_fee: AmountInput,
    /// 0–1000, at most two decimals. Default 0.
    #[schema(example = "12.5")]
    pub default_markup_percent: Option<String>,
    /// 1–365. Default 14.
    #[schema(example = 14, minimum = 1, maximum = 365)]
    pub grace_period_days: Option<i64>,
    /// `YYYY-MM-DD`, today (the default) or later, at most a year ahead; never retroactive.
    #[schema(example = "2027-01-01")]
    pub effective_from: Option<String>,
}

/// The billing settings in force and those scheduled (platform admins and billing staff).
#[utoipa::path(
    operation_id = "get_billing_settings",
    tag = "billing",
    responses(
        (status = 200, body = BillingSettingsView),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff whose role allows this", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/billing/settings")]
pub async fn get_settings(
    state: web::Data<AppContext>,
    user: User,
) -> ApiResult<web::Json<BillingSettingsView>> {
    let staff = user.staff(Action::ReadBilling)?;
    Ok(web::Json(settings::get(&state.pool, &staff).await?.into()))
}

/// Set the platform fee, the default markup and the grace period from a day on (platform
/// admins). Audited; what was charged before that day stays as it was.
#[utoipa::path(
    operation_id = "put_billing_settings",
    tag = "billing",
    request_body = PutBillingSettings,
    responses(
        (status = 200, body = BillingSettingsView),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform admins", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
        (status = 422, description = "`no_exchange_rate`: some tenants are billed in a currency the fee's has no exchange rate into; `field` is `platform_fee`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[put("/v1/admin/billing/settings")]
pub async fn put_settings(
    state: web::Data<AppContext>,
    user: User,
    body: JsonBody<PutBillingSettings>,
) -> ApiResult<web::Json<BillingSettingsView>> {
    let staff = user.staff(Action::ManageBilling)?;
    let req = body.value;
    let input = SettingsInput {
        platform_fee_amount: req.platform_fee.amount,
        platform_fee_currency: req.platform_fee.currency,
        default_markup_percent: req.default_markup_percent.unwrap_or_else(|| "0".into()),
        grace_period_days: req
            .grace_period_days
            .unwrap_or(i64::from(settings::DEFAULT_GRACE_DAYS)),
        effective_from: day("effective_from", req.effective_from.as_deref())?,
    };
    let view = settings::put(&state.pool, &staff, input).await?;
    state.changed(Change::Billing).await;
    Ok(web::Json(view.into()))
}

/// A tenant's own platform fee and markup from a day on.
#[derive(Serialize, ToSchema)]
pub struct FeeOverrideView {
    #[schema(example = "2026-12-05")]
    pub effective_from: NaiveDate,
    /// Per segment; null: the platform's fee again from that day.
    pub platform_fee: Option<Money>,
    /// Its markup on platform providers' cost, a percentage with two decimals; null: the
    /// default markup in force again from that day.
    #[schema(example = "15.00")]
    pub markup_percent: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TenantBillingView {
    pub tenant_id: TenantId,
    /// The tenant's billing currency.
    pub currency: String,
    /// The fee per segment its messages are charged today.
    pub platform_fee_today: Money,
    /// The markup on platform providers' cost it is charged today (where a sell list names no
    /// price), a percentage with two decimals.
    #[schema(example = "12.50")]
    pub markup_percent_today: String,
    /// Its own fees and markups, oldest first.
    pub overrides: Vec<FeeOverrideView>,
}

impl From<TenantBilling> for TenantBillingView {
    fn from(t: TenantBilling) -> Self {
        TenantBillingView {
            tenant_id: t.tenant_id.into(),
            platform_fee_today: t.fee_today,
            markup_percent_today: t.markup_today.to_string(),
            overrides: t
                .overrides
                .into_iter()
                .map(|o| FeeOverrideView {
                    effective_from: o.effective_from,
                    platform_fee: o
                        .platform_fee_micros
                        .map(|m| Money::new(m, t.currency.clone())),
                    markup_percent: o.markup_bps.map(|b| Markup(b).to_string()),
                })
                .collect(),
            currency: t.currency,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTenantBilling {
    /// The tenant's own fee per segment, a decimal string in its billing currency; null: the
    /// platform's fee again.
    #[schema(example = "0.000500")]
    pub platform_fee: Option<String>,
    /// The tenant's own markup on platform providers' cost prices (where their sell list
    /// names no price), a percentage like `12.5` (0 to 1000); null: the default markup.
    #[schema(example = "15")]
    pub markup_percent: Option<String>,
    /// `YYYY-MM-DD`, today (the default) or later.
    pub effective_from: Option<String>,
}

fn tenant_param(id: &str) -> Result<uuid::Uuid, ApiError> {
    TenantId::parse(id)
        .map(|t| t.uuid())
        .map_err(|_| ApiError::not_found("tenant"))
}

/// A tenant's platform fee today and its own fees (platform admins and billing staff).
#[utoipa::path(
    operation_id = "get_tenant_billing",
    tag = "billing",
    params(("id" = String, Path, description = "The tenant, `ten_…`", pattern = r"^ten_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses(
        (status = 200, body = TenantBillingView),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff whose role allows this", body = ErrorBody),
        (status = 404, description = "`not_found`: no such tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/tenants/{id}/billing")]
pub async fn get_tenant_billing(
    state: web::Data<AppContext>,
    user: User,
    path: web::Path<String>,
) -> ApiResult<web::Json<TenantBillingView>> {
    let staff = user.staff(Action::ReadBilling)?;
    let tenant = tenant_param(&path)?;
    Ok(web::Json(
        settings::get_tenant(&state.pool, &staff, tenant)
            .await?
            .into(),
    ))
}

/// Set a tenant's own platform fee and markup (a contract price) from a day on (platform
/// admins). Audited; never retroactive.
#[utoipa::path(
    operation_id = "put_tenant_billing",
    tag = "billing",
    params(("id" = String, Path, description = "The tenant, `ten_…`", pattern = r"^ten_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = PutTenantBilling,
    responses(
        (status = 200, body = TenantBillingView),
        (status = 400, description = "`invalid_json`, or `invalid_field`: `platform_fee`, `markup_percent` or `effective_from`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform admins", body = ErrorBody),
        (status = 404, description = "`not_found`: no such tenant", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[put("/v1/admin/tenants/{id}/billing")]
pub async fn put_tenant_billing(
    state: web::Data<AppContext>,
    user: User,
    path: web::Path<String>,
    body: JsonBody<PutTenantBilling>,
) -> ApiResult<web::Json<TenantBillingView>> {
    let staff = user.staff(Action::ManageBilling)?;
    let tenant = tenant_param(&path)?;
    let req = body.value;
    let input = OverrideInput {
        amount: req.platform_fee,
        markup_percent: req.markup_percent,
        effective_from: day("effective_from", req.effective_from.as_deref())?,
    };
    let view = settings::put_tenant(&state.pool, &staff, tenant, input).await?;
    state.changed(Change::Routes { tenant }).await;
    Ok(web::Json(view.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTenantCurrency {
    /// The tenant's billing currency, an ISO 4217 code.
    #[schema(pattern = r"^[A-Za-z]{3}$", example = "EUR")]
    pub currency: String,
}

/// Set a tenant's billing currency (platform admins), before it is billed anything: its
/// prices, its platform providers' and the platform fee convert into it at the operator's
/// exchange rates. Audited.
#[utoipa::path(
    operation_id = "put_tenant_currency",
    tag = "billing",
    params(("id" = String, Path, description = "The tenant, `ten_…`", pattern = r"^ten_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = PutTenantCurrency,
    responses(
        (status = 200, body = TenantBillingView),
        (status = 400, description = "`invalid_json`, or `invalid_field`: `currency`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform admins", body = ErrorBody),
        (status = 404, description = "`not_found`: no such tenant", body = ErrorBody),
        (status = 409, description = "`currency_in_use`: the tenant has sent live messages, has invoices, or has a budget in its current currency", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
        (status = 422, description = "`no_exchange_rate`: a price the tenant may be charged (its own, a platform provider's, the platform fee) has no exchange rate into the currency; `field` is `currency`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[put("/v1/admin/tenants/{id}/currency")]
pub async fn put_tenant_currency(
    state: web::Data<AppContext>,
    user: User,
    path: web::Path<String>,
    body: JsonBody<PutTenantCurrency>,
) -> ApiResult<web::Json<TenantBillingView>> {
    let staff = user.staff(Action::ManageBilling)?;
    let tenant = tenant_param(&path)?;
    let view = settings::set_currency(&state.pool, &staff, tenant, &body.value.currency).await?;
    state.changed(Change::Routes { tenant }).await;
    Ok(web::Json(view.into()))
}

/// A billing period asked to be closed.
#[derive(Serialize, ToSchema)]
pub struct BillingPeriodView {
    #[schema(example = "2026-11")]
    pub period: String,
    /// `closing` until its invoices are opened, then `closed`.
    #[schema(example = "closing")]
    pub status: String,
    pub requested_at: DateTime<Utc>,
    /// When the ledger was frozen into invoices.
    pub opened_at: Option<DateTime<Utc>>,
    /// How many invoices it made.
    pub invoices: Option<i32>,
}

impl From<BillingPeriod> for BillingPeriodView {
    fn from(p: BillingPeriod) -> Self {
        BillingPeriodView {
            period: Period::of(p.period).to_string(),
            status: if p.opened_at.is_some() {
                "closed"
            } else {
                "closing"
            }
            .into(),
            requested_at: p.requested_at,
            opened_at: p.opened_at,
            invoices: p.invoices,
        }
    }
}

/// Close a billing period (platform admins and billing staff): queued, answered 202; the worker
/// freezes the period's ledger into an invoice per tenant and creates each in Stripe. A second
/// request for a period returns the first. Audited.
#[utoipa::path(
    operation_id = "close_billing_period",
    tag = "billing",
    params(("period" = String, Path, description = "The calendar month (UTC), `YYYY-MM`", pattern = r"^[2-9][0-9]{3}-(0[1-9]|1[0-2])$")),
    responses(
        (status = 202, body = BillingPeriodView),
        (status = 400, description = "`invalid_field`: `period`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff whose role allows this", body = ErrorBody),
        (status = 409, description = "`period_not_over`: the month has not ended yet", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/admin/billing/periods/{period}/close")]
pub async fn close_period(
    state: web::Data<AppContext>,
    user: User,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = user.staff(Action::CloseBillingPeriod)?;
    let period = period_of(&path)?;
    let row = invoices::request_close(&state.pool, &staff, period).await?;
    Ok(HttpResponse::Accepted().json(BillingPeriodView::from(row)))
}

#[derive(Serialize, ToSchema)]
pub struct BillingPeriodList {
    /// Newest first.
    pub data: Vec<BillingPeriodView>,
}

/// The periods closed or being closed, newest first (platform admins and billing staff).
#[utoipa::path(
    operation_id = "list_billing_periods",
    tag = "billing",
    responses(
        (status = 200, body = BillingPeriodList),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff whose role allows this", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/billing/periods")]
pub async fn list_periods(
    state: web::Data<AppContext>,
    user: User,
) -> ApiResult<web::Json<BillingPeriodList>> {
    let staff = user.staff(Action::ReadBilling)?;
    let rows = invoices::periods(&state.pool, &staff).await?;
    Ok(web::Json(BillingPeriodList {
        data: rows.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceLineView {
    pub kind: InvoiceLineKind,
    #[schema(example = "OpenClaw platform fee, 2026-11: 1200 segments at 0.001000 USD")]
    pub description: String,
    /// Segments billed.
    pub quantity: i64,
    pub unit_price: Money,
    pub amount: Money,
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: InvoiceId,
    pub tenant_id: TenantId,
    #[schema(example = "2026-11")]
    pub period: String,
    pub status: InvoiceStatus,
    /// The sum of the lines, frozen from the spend ledger when the period closed.
    pub total: Money,
    pub lines: Vec<InvoiceLineView>,
    /// Stripe's invoice number, once finalized.
    pub number: Option<String>,
    /// Where the tenant pays it (Stripe's hosted invoice page).
    pub hosted_invoice_url: Option<String>,
    pub finalized_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Unpaid from this moment on, the tenant's sends answer 402 `payment_required`.
    pub past_due_at: Option<DateTime<Utc>>,
    pub payment_failed_at: Option<DateTime<Utc>>,
}

impl From<WithLines> for InvoiceView {
    fn from(w: WithLines) -> Self {
        let i = w.invoice;
        let currency = i.currency.clone();
        InvoiceView {
            id: i.id.into(),
            tenant_id: i.tenant_id.into(),
            period: Period::of(i.period).to_string(),
            status: i.status,
            total: Money::new(i.total_micros, i.currency),
            lines: w
                .lines
                .into_iter()
                .map(|l| InvoiceLineView {
                    kind: l.kind,
                    description: l.description,
                    quantity: l.quantity,
                    unit_price: Money::new(l.unit_micros, currency.clone()),
                    amount: Money::new(l.amount_micros, currency.clone()),
                })
                .collect(),
            number: i.number,
            hosted_invoice_url: i.hosted_invoice_url,
            finalized_at: i.finalized_at,
            paid_at: i.paid_at,
            past_due_at: i.past_due_at,
            payment_failed_at: i.payment_failed_at,
        }
    }
}

/// An invoice as staff see it: the tenant's view, and where its close stands.
#[derive(Serialize, ToSchema)]
pub struct StaffInvoiceView {
    #[serde(flatten)]
    pub invoice: InvoiceView,
    /// The next step of its close: `customer`, `items`, `invoice`, `finalize`, or `done`.
    #[schema(value_type = String, example = "done")]
    pub close_step: CloseStepName,
    /// Why the close's last step failed (it is tried again), if it did.
    pub close_error: Option<String>,
    pub stripe_invoice_id: Option<String>,
}

/// A [`CloseStep`] on the wire.
pub struct CloseStepName(CloseStep);

impl Serialize for CloseStepName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceParams {
    /// The calendar month (UTC), `YYYY-MM`; default last month.
    #[param(example = "2026-11", pattern = r"^[2-9][0-9]{3}-(0[1-9]|1[0-2])$")]
    pub period: Option<String>,
    /// Only this tenant, `ten_…`.
    #[param(pattern = r"^ten_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub tenant: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// A period's invoices, by tenant (platform admins and billing staff).
#[utoipa::path(
    operation_id = "list_staff_invoices",
    tag = "billing",
    params(InvoiceParams),
    responses(
        (status = 200, body = Page<StaffInvoiceView>),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `period`, `tenant`, `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff whose role allows this", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/invoices")]
pub async fn staff_invoices(
    state: web::Data<AppContext>,
    user: User,
    params: web::Query<InvoiceParams>,
) -> ApiResult<web::Json<Page<StaffInvoiceView>>> {
    let staff = user.staff(Action::ReadBilling)?;
    let params = params.into_inner();
    let period = match params.period.as_deref() {
        Some(p) => period_of(p)?,
        None => Period::of(Period::of(Utc::now().date_naive()).first_day() - chrono::Days::new(1)),
    };
    let tenant = params
        .tenant
        .as_deref()
        .map(|t| TenantId::parse(t).map(|t| t.uuid()))
        .transpose()
        .map_err(|e| ApiError::invalid("tenant", e.to_string()))?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let limit = page.limit()?;
    let after = page.cursor_uuid()?;
    let rows =
        invoices::period_invoices(&state.pool, &staff, period, tenant, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let mut rows = rows;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more
        .then(|| rows.last().map(|w| cursor_for(w.invoice.tenant_id)))
        .flatten();
    Ok(web::Json(Page {
        data: rows
            .into_iter()
            .map(|w| StaffInvoiceView {
                close_step: CloseStepName(w.invoice.step),
                close_error: w.invoice.last_error.clone(),
                stripe_invoice_id: w.invoice.stripe_invoice_id.clone(),
                invoice: w.into(),
            })
            .collect(),
        next_cursor,
    }))
}

/// The tenant's invoices, newest first (owners, admins and billing members).
#[utoipa::path(
    operation_id = "list_invoices",
    tag = "spend",
    params(PageParams),
    responses(
        (status = 200, body = Page<InvoiceView>),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/invoices")]
pub async fn tenant_invoices(
    state: web::Data<AppContext>,
    user: User,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<InvoiceView>>> {
    let manager = user.manager(Action::ReadInvoices)?;
    let limit = page.limit()?;
    let before = page.cursor_uuid()?;
    let rows = invoices::tenant_invoices(&state.pool, &manager, before, limit + 1).await?;
    Ok(web::Json(Page::of(
        rows,
        limit,
        |w| w.invoice.id,
        InvoiceView::from,
    )))
}

#[derive(Serialize, ToSchema)]
pub struct StripeHookAnswer {
    /// `applied`, `repeated` (this event id was applied before) or `ignored` (not about an
    /// invoice of ours, or a type OpenClaw does not act on).
    #[schema(example = "applied")]
    pub result: String,
}

/// Stripe's events (`invoice.finalized`, `invoice.paid`, `invoice.payment_failed`,
/// `invoice.voided`), signed with `Stripe-Signature` (`OPENCLAW_STRIPE_WEBHOOK_SECRET`, 300 s
/// tolerance). Each event id is applied once; an invoice's status never moves back.
#[utoipa::path(
    operation_id = "stripe_events",
    tag = "hooks",
    request_body(content = Object, description = "A Stripe event, as Stripe posts it"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix>,v1=<hex HMAC-SHA256>`")),
    responses(
        (status = 200, body = StripeHookAnswer),
        (status = 400, description = "`invalid_signature`: a missing or bad signature, or a timestamp more than 300 s off; `invalid_event`: not a Stripe event", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`unavailable`: this server has no Stripe webhook secret", body = ErrorBody),
    )
)]
#[post("/hooks/stripe")]
pub async fn stripe_hook(
    state: web::Data<AppContext>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<web::Json<StripeHookAnswer>> {
    use secrecy::ExposeSecret;
    let body = super::read_body(&mut payload, 1024 * 1024).await?;
    let Some(secret) = state.settings.stripe_webhook_secret.as_ref() else {
        return Err(ApiError::unavailable(
            "Stripe events are not taken: OPENCLAW_STRIPE_WEBHOOK_SECRET is not set.",
        ));
    };
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_event", "The body is not UTF-8."))?;
    let event =
        openclaw_core::billing::stripe::verify_event(text, signature, secret.expose_secret())
            .map_err(|e| ApiError::bad_request("invalid_signature", e.to_string()))?;
    let applied = invoices::apply_event(&state.pool, &event).await?;
    tracing::info!(event = %event.id, result = ?applied, "Stripe event");
    Ok(web::Json(StripeHookAnswer {
        result: match applied {
            Applied::Applied => "applied",
            Applied::Repeated => "repeated",
            Applied::Ignored => "ignored",
        }
        .into(),
    }))
}
