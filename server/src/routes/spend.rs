//! Spend reports from the daily rollup.

use actix_web::{get, web};
use chrono::{Datelike, NaiveDate, Utc};
use openclaw_core::db::spend::{self, GroupBy};
use openclaw_core::db::tenants;
use openclaw_core::domain::Money;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::sane_date;
use crate::auth::{Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::{AppContext, Scoped};

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(report);
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpendQuery {
    /// First UTC day (YYYY-MM-DD, years 2000–9999), default: the first of this month. At most
    /// 366 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last UTC day, inclusive, default: today.
    pub to: Option<NaiveDate>,
    /// `day` (default), `provider`, `country` or `message_type`.
    #[param(schema_with = super::schemas::spend_group_by)]
    pub group_by: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SpendLine {
    /// The day, provider id, country or message type.
    pub key: String,
    pub messages: i64,
    pub segments: i64,
    /// What the messages cost at the providers' prices.
    pub cost: Money,
    /// OpenClaw's platform fees on them.
    pub platform_fees: Money,
}

#[derive(Serialize, ToSchema)]
pub struct SpendReport {
    pub data: Vec<SpendLine>,
    /// Everything spent in the billing currency: the messages' cost and the platform fees (the
    /// sum of the spend ledger's entries; what a budget counts).
    pub total: Money,
}

/// What the tenant spent on sent messages (live mode only), grouped: their cost and the
/// platform fees on them.
#[utoipa::path(
    tag = "spend",
    params(SpendQuery),
    responses(
        (status = 200, body = SpendReport),
        (status = 400, description = "`invalid_query`, or `invalid_field` naming the parameter", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `token_expired` or `invalid_api_key`", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role or the API key's scopes do not allow this", body = ErrorBody),
        (status = 429, description = "`rate_limited`: this API key is over its requests per second", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[get("/v1/spend")]
pub async fn report(
    state: web::Data<AppContext>,
    caller: Caller,
    query: web::Query<SpendQuery>,
) -> ApiResult<web::Json<SpendReport>> {
    let tenant_id = caller.require(Action::ReadSpend)?;
    let today = Utc::now().date_naive();
    let from = match query.from {
        Some(from) => sane_date("from", from)?,
        None => today.with_day(1).unwrap_or(today),
    };
    let to = match query.to {
        Some(to) => sane_date("to", to)?,
        None => today,
    };
    if from > to {
        return Err(ApiError::invalid("from", "`from` must not be after `to`."));
    }
    if (to - from).num_days() > 366 {
        return Err(ApiError::invalid(
            "from",
            "Ask for at most 366 days at a time.",
        ));
    }
    let group_by = match query.group_by.as_deref() {
        None => GroupBy::Day,
        Some(g) => GroupBy::parse(g).ok_or_else(|| {
            ApiError::invalid(
                "group_by",
                "`group_by` must be day, provider, country or message_type.",
            )
        })?,
    };
    let (currency, rows) = state
        .scoped(tenant_id, async |c| {
            let currency = tenants::find(c, tenant_id).await?.currency;
            let rows = spend::report(c, tenant_id, from, to, group_by).await?;
            Ok((currency, rows))
        })
        .await?;
    let total = rows
        .iter()
        .filter(|r| r.currency == currency)
        .map(|r| r.cost_micros + r.fee_micros)
        .sum();
    let data = rows
        .into_iter()
        .map(|r| SpendLine {
            key: match group_by {
                GroupBy::Provider => uuid::Uuid::parse_str(&r.key)
                    .map(|u| openclaw_core::domain::ProviderId::from(u).to_string())
                    .unwrap_or(r.key),
                _ => r.key,
            },
            messages: r.messages,
            segments: r.segments,
            cost: Money::new(r.cost_micros, r.currency.clone()),
            platform_fees: Money::new(r.fee_micros, r.currency),
        })
        .collect();
    Ok(web::Json(SpendReport {
        data,
        total: Money::new(total, currency),
    }))
}
