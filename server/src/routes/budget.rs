//! The tenant's monthly budget. A thin door: the rules, the transaction and the audit record
//! are `openclaw_core::budgets`, which the admin app's spend page calls too.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, put, web};
use openclaw_core::budgets::{self, BudgetError, BudgetInput, Standing};
use openclaw_core::changes::Change;
use openclaw_core::domain::Money;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{JsonBody, Page, PageParams};
use crate::auth::{Action, User};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(read)
        .service(set)
        .service(remove)
        .service(list_alerts);
}

#[derive(Serialize, ToSchema)]
pub struct BudgetView {
    /// The limit per calendar month (UTC), in the billing currency; null: no budget is set.
    pub monthly_limit: Option<Money>,
    /// Percentages of the limit at which an alert is raised, ascending.
    #[schema(example = json!([50, 80, 100]))]
    pub alert_thresholds: Vec<i32>,
    /// Whether a send that does not fit the limit is refused (402 `budget_exceeded`).
    pub hard_cap: bool,
    /// This month, `YYYY-MM`.
    #[schema(example = "2026-12")]
    pub period: String,
    /// Spent this month (live messages a provider took), in the billing currency.
    pub spent: Money,
    /// What is left of the limit this month (never below zero); null without a budget.
    pub remaining: Option<Money>,
}

impl From<Standing> for BudgetView {
    fn from(s: Standing) -> Self {
        let remaining = s.remaining();
        BudgetView {
            monthly_limit: s
                .budget
                .as_ref()
                .map(|b| Money::new(b.monthly_limit_micros, b.currency.clone())),
            alert_thresholds: s
                .budget
                .as_ref()
                .map(|b| b.alert_thresholds.clone())
                .unwrap_or_default(),
            hard_cap: s.budget.as_ref().is_some_and(|b| b.hard_cap),
            period: s.period.to_string(),
            spent: s.spent,
            remaining,
        }
    }
}

/// A limit as sent: a decimal amount and a currency code, checked by the service so that a
/// mistake is named `monthly_limit`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitInput {
    /// Decimal string, up to 6 fractional digits.
    #[schema(example = "250.00")]
    pub amount: String,
    /// ISO 4217; must be the tenant's billing currency.
    #[schema(pattern = r"^[A-Za-z]{3}$", example = "USD")]
    pub currency: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBudgetRequest {
    pub monthly_limit: LimitInput,
    /// Whole percentages of the limit, 1–1000, each once, at most 10. Default: none.
    #[schema(example = json!([50, 80, 100]), max_items = 10)]
    #[serde(default)]
    pub alert_thresholds: Vec<u32>,
    /// Refuse sends that do not fit the limit. Default false.
    #[serde(default)]
    pub hard_cap: bool,
}

impl From<BudgetError> for ApiError {
    fn from(e: BudgetError) -> ApiError {
        match e {
            BudgetError::Invalid { field, message } => ApiError::invalid(field, message),
            BudgetError::Forbidden => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            BudgetError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// The budget and this month's spend against it (owners, admins and billing members).
#[utoipa::path(
    operation_id = "get_budget",
    tag = "spend",
    responses(
        (status = 200, body = BudgetView),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/budget")]
pub async fn read(state: web::Data<AppContext>, user: User) -> ApiResult<web::Json<BudgetView>> {
    let manager = user.manager(Action::ManageBudget)?;
    Ok(web::Json(budgets::get(&state.pool, &manager).await?.into()))
}

/// Set the monthly budget, replacing any (owners, admins and billing members). Audited.
#[utoipa::path(
    operation_id = "put_budget",
    tag = "spend",
    request_body = PutBudgetRequest,
    responses(
        (status = 200, body = BudgetView),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault (`monthly_limit` in another currency than the billing currency, too)", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[put("/v1/budget")]
pub async fn set(
    state: web::Data<AppContext>,
    user: User,
    body: JsonBody<PutBudgetRequest>,
) -> ApiResult<web::Json<BudgetView>> {
    let manager = user.manager(Action::ManageBudget)?;
    let req = body.value;
    let input = BudgetInput {
        amount: req.monthly_limit.amount,
        currency: req.monthly_limit.currency,
        alert_thresholds: req.alert_thresholds,
        hard_cap: req.hard_cap,
    };
    Ok(web::Json(
        budgets::put(&state.pool, &manager, input).await?.into(),
    ))
}

/// Remove the budget: no limit, no alerts (owners, admins and billing members). Audited.
#[utoipa::path(
    operation_id = "delete_budget",
    tag = "spend",
    responses(
        (status = 204, description = "The budget is gone (or there was none)"),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/v1/budget")]
pub async fn remove(state: web::Data<AppContext>, user: User) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageBudget)?;
    if budgets::remove(&state.pool, &manager).await? {
        state
            .changed(Change::Routes {
                tenant: manager.tenant,
            })
            .await;
    }
    Ok(HttpResponse::NoContent().finish())
}

pub use openclaw_core::alerts::AlertView;

/// Budget alerts raised, newest first (owners, admins and billing members): one per threshold
/// per month, also mailed to the tenant's owners and billing members.
#[utoipa::path(
    operation_id = "list_alerts",
    tag = "spend",
    params(PageParams),
    responses(
        (status = 200, body = Page<AlertView>),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/alerts")]
pub async fn list_alerts(
    state: web::Data<AppContext>,
    user: User,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<AlertView>>> {
    let manager = user.manager(Action::ManageBudget)?;
    let limit = page.limit()?;
    let before = page.cursor_uuid()?;
    let rows = budgets::alerts(&state.pool, &manager, before, limit + 1).await?;
    Ok(web::Json(Page::of(rows, limit, |a| a.id, AlertView::from)))
}
