//! The operator's exchange rates. Thin doors onto `openclaw_core::billing::rates`, which the
//! admin app's billing page calls too.

use actix_web::{get, put, web};
use chrono::{DateTime, Utc};
use openclaw_core::billing::rates::{self, ExchangeRate, RateInput};
use openclaw_core::changes::Change;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::JsonBody;
use crate::auth::{Action, User};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list).service(replace);
}

/// One rate: one unit of `from` is `rate` units of `to`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRateEntry {
    /// ISO 4217: the currency prices are given in.
    #[schema(pattern = r"^[A-Za-z]{3}$", example = "EUR")]
    pub from: String,
    /// ISO 4217: the currency tenants are billed in.
    #[schema(pattern = r"^[A-Za-z]{3}$", example = "USD")]
    pub to: String,
    /// A decimal string above 0, at most 9 fractional digits.
    #[schema(example = "1.0845")]
    pub rate: String,
}

/// A rate as stored.
#[derive(Serialize, ToSchema)]
pub struct ExchangeRateView {
    #[schema(example = "EUR")]
    pub from: String,
    #[schema(example = "USD")]
    pub to: String,
    #[schema(example = "1.0845")]
    pub rate: String,
    /// When the rate was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<ExchangeRate> for ExchangeRateView {
    fn from(r: ExchangeRate) -> Self {
        ExchangeRateView {
            from: r.from,
            to: r.to,
            rate: r.rate.to_string(),
            updated_at: r.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExchangeRates {
    /// By currency pair.
    pub data: Vec<ExchangeRateView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutExchangeRates {
    /// The whole list, at most 500; a pair left out is removed.
    pub rates: Vec<ExchangeRateEntry>,
}

fn view(rates: Vec<ExchangeRate>) -> ExchangeRates {
    ExchangeRates {
        data: rates.into_iter().map(Into::into).collect(),
    }
}

/// The exchange rates prices in other currencies convert at (platform admins and billing
/// staff).
#[utoipa::path(
    operation_id = "get_exchange_rates",
    tag = "billing",
    responses(
        (status = 200, body = ExchangeRates),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff whose role allows this", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/exchange-rates")]
pub async fn list(state: web::Data<AppContext>, user: User) -> ApiResult<web::Json<ExchangeRates>> {
    let staff = user.staff(Action::ReadBilling)?;
    Ok(web::Json(view(rates::list(&state.pool, &staff).await?)))
}

/// Replace the exchange rates (platform admins). A price in a currency other than its
/// tenant's converts at the rate from that currency into the tenant's, for what is sent from
/// now on; what was charged keeps the rate it was charged at. Audited.
#[utoipa::path(
    operation_id = "put_exchange_rates",
    tag = "billing",
    request_body = PutExchangeRates,
    responses(
        (status = 200, body = ExchangeRates),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the entry at fault (`rates[2].rate`), or `rates` for a rate that tenants' prices or the platform fee still need", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform admins", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[put("/v1/admin/exchange-rates")]
pub async fn replace(
    state: web::Data<AppContext>,
    user: User,
    body: JsonBody<PutExchangeRates>,
) -> ApiResult<web::Json<ExchangeRates>> {
    let staff = user.staff(Action::ManageBilling)?;
    let input: Vec<RateInput> = body
        .value
        .rates
        .into_iter()
        .map(|r| RateInput {
            from: r.from,
            to: r.to,
            rate: r.rate,
        })
        .collect();
    let stored = rates::put(&state.pool, &staff, &input).await?;
    state.changed(Change::Billing).await;
    Ok(web::Json(view(stored)))
}
