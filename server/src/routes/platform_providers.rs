//! The platform's SMS gateway accounts: the operator's, offered to every tenant's routing at
//! their sell price. The tenant provider shape plus a cost and a sell price list; thin doors
//! onto `openclaw_core::providers::service`, the same service as the tenant's own providers and
//! the admin app's platform provider forms. Platform admins change them; billing staff read.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use openclaw_core::changes::Change;
use openclaw_core::db::providers::Owner;
use openclaw_core::prices::{self, PriceEntry};
use openclaw_core::providers::PriceList as List;
use openclaw_core::providers::service::{self as service, Acting, Priced};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::providers::{
    CreateProviderRequest, PriceList, ProviderView, UpdateProviderRequest, parse_id, price_list,
    replace_prices,
};
use super::{JsonBody, Page};
use crate::auth::{Action, User};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(put_cost_prices)
        .service(get_cost_prices)
        .service(put_sell_prices)
        .service(get_sell_prices);
}

/// A platform provider: the tenant provider shape, plus what its gateway charges the operator
/// (`cost_prices`) and what tenants are billed (`sell_prices`; where it names no price for a
/// destination, the cost plus the operator's default markup).
#[derive(Serialize, ToSchema)]
pub struct PlatformProviderView {
    #[serde(flatten)]
    pub provider: ProviderView,
    pub cost_prices: Vec<PriceEntry>,
    pub sell_prices: Vec<PriceEntry>,
}

impl From<Priced> for PlatformProviderView {
    fn from(p: Priced) -> Self {
        PlatformProviderView {
            provider: p.provider.into(),
            cost_prices: prices::to_entries(p.cost),
            sell_prices: prices::to_entries(p.sell),
        }
    }
}

async fn priced(state: &AppContext, id: uuid::Uuid) -> ApiResult<PlatformProviderView> {
    let pool = &state.pool;
    let provider = service::find(pool, Owner::Platform, id).await?;
    Ok(Priced {
        provider,
        cost: service::prices(pool, Owner::Platform, id, List::Cost).await?,
        sell: service::prices(pool, Owner::Platform, id, List::Sell).await?,
    }
    .into())
}

/// Waits until every process has forgotten the route tables (every tenant routes over the
/// platform's providers); the service announced the change with its transaction.
async fn evict(state: &AppContext) {
    state.changed(Change::Platform).await;
}

/// Add a platform provider (platform admins). It has no prices until its cost list is set.
#[utoipa::path(
    operation_id = "create_platform_provider",
    tag = "platform providers",
    request_body = CreateProviderRequest,
    responses(
        (status = 201, body = PlatformProviderView, links(("get" = (operation_id = "get_platform_provider", parameters(("id" = "$response.body#/id")))), ("update" = (operation_id = "update_platform_provider", parameters(("id" = "$response.body#/id")))), ("remove" = (operation_id = "remove_platform_provider", parameters(("id" = "$response.body#/id")))), ("cost_prices" = (operation_id = "put_platform_cost_prices", parameters(("id" = "$response.body#/id")))), ("sell_prices" = (operation_id = "put_platform_sell_prices", parameters(("id" = "$response.body#/id")))))),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform admins", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/admin/providers")]
pub async fn create(
    state: web::Data<AppContext>,
    user: User,
    body: JsonBody<CreateProviderRequest>,
) -> ApiResult<HttpResponse> {
    let staff = user.staff(Action::ManagePlatformProviders)?;
    let row = service::create(
        &state.pool,
        &state.settings.master_key,
        Acting::Staff(&staff),
        body.value.into(),
    )
    .await?;
    evict(&state).await;
    Ok(
        HttpResponse::Created().json(PlatformProviderView::from(Priced {
            provider: row,
            cost: Vec::new(),
            sell: Vec::new(),
        })),
    )
}

/// The platform's providers with their price lists (platform admins and billing staff).
#[utoipa::path(
    operation_id = "list_platform_providers",
    tag = "platform providers",
    responses(
        (status = 200, body = Page<PlatformProviderView>),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/providers")]
pub async fn list(
    state: web::Data<AppContext>,
    user: User,
) -> ApiResult<web::Json<Page<PlatformProviderView>>> {
    user.staff(Action::ReadPlatformProviders)?;
    let rows = service::list_priced(&state.pool, Owner::Platform).await?;
    Ok(web::Json(Page {
        data: rows.into_iter().map(PlatformProviderView::from).collect(),
        next_cursor: None,
    }))
}

/// One platform provider with its price lists.
#[utoipa::path(
    operation_id = "get_platform_provider",
    tag = "platform providers",
    params(("id" = String, Path, description = "`prv_…`")),
    responses(
        (status = 200, body = PlatformProviderView),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/providers/{id}")]
pub async fn get_one(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<web::Json<PlatformProviderView>> {
    user.staff(Action::ReadPlatformProviders)?;
    let id = parse_id(&id)?;
    Ok(web::Json(priced(&state, id).await?))
}

/// Change a platform provider; absent fields stay as they are (platform admins).
#[utoipa::path(
    operation_id = "update_platform_provider",
    tag = "platform providers",
    params(("id" = String, Path, description = "`prv_…`")),
    request_body = UpdateProviderRequest,
    responses(
        (status = 200, body = PlatformProviderView),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform admins", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/v1/admin/providers/{id}")]
pub async fn update(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
    body: JsonBody<UpdateProviderRequest>,
) -> ApiResult<web::Json<PlatformProviderView>> {
    let staff = user.staff(Action::ManagePlatformProviders)?;
    let id = parse_id(&id)?;
    service::update(
        &state.pool,
        &state.settings.master_key,
        Acting::Staff(&staff),
        id,
        body.value.into(),
    )
    .await?;
    evict(&state).await;
    Ok(web::Json(priced(&state, id).await?))
}

/// Remove a platform provider (platform admins). Past messages keep their record of it.
#[utoipa::path(
    operation_id = "remove_platform_provider",
    tag = "platform providers",
    params(("id" = String, Path, description = "`prv_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform admins", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/v1/admin/providers/{id}")]
pub async fn remove(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = user.staff(Action::ManagePlatformProviders)?;
    let id = parse_id(&id)?;
    service::delete(&state.pool, Acting::Staff(&staff), id).await?;
    evict(&state).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn put_list(
    state: &AppContext,
    user: &User,
    id: &str,
    which: List,
    req: &HttpRequest,
    payload: &mut web::Payload,
) -> ApiResult<web::Json<PriceList>> {
    let staff = user.staff(Action::ManagePlatformProviders)?;
    let id = parse_id(id)?;
    let prices = replace_prices(state, Acting::Staff(&staff), id, which, req, payload).await?;
    evict(state).await;
    Ok(web::Json(price_list(prices)))
}

async fn get_list(
    state: &AppContext,
    user: &User,
    id: &str,
    which: List,
) -> ApiResult<web::Json<PriceList>> {
    user.staff(Action::ReadPlatformProviders)?;
    let id = parse_id(id)?;
    let prices = service::prices(&state.pool, Owner::Platform, id, which).await?;
    Ok(web::Json(price_list(prices)))
}

/// Replace what the provider's gateway charges the operator: JSON `{prices: [...]}` or
/// `text/csv` with the header `country,message_type,price,currency` (platform admins). A
/// destination with no cost price is not routed to this provider.
#[utoipa::path(
    operation_id = "put_platform_cost_prices",
    tag = "platform providers",
    params(("id" = String, Path, description = "`prv_…`")),
    request_body(content(
        (PriceList = "application/json"),
        (String = "text/csv", example = "country,message_type,price,currency\nDE,,0.0600,USD\n*,,0.0400,USD")
    )),
    responses(
        (status = 200, body = PriceList),
        (status = 400, description = "`invalid_json`, `invalid_csv`, or `invalid_field` naming the entry at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform admins", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json` or `text/csv`", body = ErrorBody),
        (status = 422, description = "`no_exchange_rate`: a price is in a currency the operator has no exchange rate for into the currency tenants are billed in; `field` names the entry", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[put("/v1/admin/providers/{id}/cost-prices")]
pub async fn put_cost_prices(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<web::Json<PriceList>> {
    put_list(&state, &user, &id, List::Cost, &req, &mut payload).await
}

/// What the provider's gateway charges the operator.
#[utoipa::path(
    operation_id = "get_platform_cost_prices",
    tag = "platform providers",
    params(("id" = String, Path, description = "`prv_…`")),
    responses(
        (status = 200, body = PriceList),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/providers/{id}/cost-prices")]
pub async fn get_cost_prices(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<web::Json<PriceList>> {
    get_list(&state, &user, &id, List::Cost).await
}

/// Replace what tenants are billed for the provider's messages, as the cost list is given
/// (platform admins). Where it names no price for a destination, tenants are billed the cost
/// plus the operator's default markup.
#[utoipa::path(
    operation_id = "put_platform_sell_prices",
    tag = "platform providers",
    params(("id" = String, Path, description = "`prv_…`")),
    request_body(content(
        (PriceList = "application/json"),
        (String = "text/csv", example = "country,message_type,price,currency\nDE,,0.0750,USD")
    )),
    responses(
        (status = 200, body = PriceList),
        (status = 400, description = "`invalid_json`, `invalid_csv`, or `invalid_field` naming the entry at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform admins", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json` or `text/csv`", body = ErrorBody),
        (status = 422, description = "`no_exchange_rate`: a price is in a currency the operator has no exchange rate for into the currency tenants are billed in; `field` names the entry", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[put("/v1/admin/providers/{id}/sell-prices")]
pub async fn put_sell_prices(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<web::Json<PriceList>> {
    put_list(&state, &user, &id, List::Sell, &req, &mut payload).await
}

/// What tenants are billed for the provider's messages, where the list names a price.
#[utoipa::path(
    operation_id = "get_platform_sell_prices",
    tag = "platform providers",
    params(("id" = String, Path, description = "`prv_…`")),
    responses(
        (status = 200, body = PriceList),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: only platform staff", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/admin/providers/{id}/sell-prices")]
pub async fn get_sell_prices(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<web::Json<PriceList>> {
    get_list(&state, &user, &id, List::Sell).await
}
