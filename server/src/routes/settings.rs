//! The tenant's settings: its name, default sender ids and opt-out exemptions. A thin door:
//! the rules, the transaction and the audit record are `openclaw_core::settings`, which the
//! admin app's settings form calls too.

use actix_web::http::StatusCode;
use actix_web::{get, patch, web};
use chrono::{DateTime, Utc};
use openclaw_core::db::tenants::Tenant;
use openclaw_core::domain::{MessageType, TenantId};
use openclaw_core::settings::{self, SettingsChange, SettingsError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::JsonBody;
use crate::auth::{Action, User};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(read).service(update);
}

#[derive(Serialize, ToSchema)]
pub struct SettingsView {
    pub id: TenantId,
    /// The company name.
    #[schema(example = "Acme Ltd")]
    pub name: String,
    /// Used when neither a message nor its provider names a sender.
    #[schema(example = json!(["Acme", "+14155550100"]))]
    pub default_sender_ids: Vec<String>,
    /// Message types sent to numbers that opted out all the same (`transactional`, `otp`;
    /// never `marketing`). Empty, the default: every message respects the opt-outs.
    #[schema(example = json!(["otp"]))]
    pub opt_out_exempt_types: Vec<MessageType>,
    /// What the tenant is billed in (ISO 4217).
    #[schema(example = "USD")]
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

impl From<Tenant> for SettingsView {
    fn from(t: Tenant) -> Self {
        SettingsView {
            id: t.id.into(),
            name: t.name,
            default_sender_ids: t.default_sender_ids,
            opt_out_exempt_types: t.opt_out_exempt_types,
            currency: t.currency,
            created_at: t.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettingsRequest {
    /// The company name: 1–100 characters, no control characters. Left out: unchanged.
    #[schema(example = "Acme Ltd", min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Phone numbers with their country code (stored as E.164) or 1–11 letters and digits;
    /// `[]` removes them all. Left out: unchanged.
    #[schema(example = json!(["Acme", "+14155550100"]), max_items = 100)]
    pub default_sender_ids: Option<Vec<String>>,
    /// Message types to send to numbers that opted out all the same: `transactional`,
    /// `otp`; `[]` (the default) exempts none. `marketing` is refused. Left out: unchanged.
    #[schema(schema_with = super::schemas::opt_out_exempt_types, example = json!(["otp"]))]
    pub opt_out_exempt_types: Option<Vec<String>>,
}

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> ApiError {
        match e {
            SettingsError::Invalid { field, message } => ApiError::invalid(field, message),
            SettingsError::Forbidden => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            SettingsError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// The tenant's settings (owners and admins).
#[utoipa::path(
    operation_id = "get_settings",
    tag = "settings",
    responses(
        (status = 200, body = SettingsView),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/settings")]
pub async fn read(state: web::Data<AppContext>, user: User) -> ApiResult<web::Json<SettingsView>> {
    let manager = user.manager(Action::ManageSettings)?;
    let tenant = settings::get(&state.pool, &manager).await?;
    Ok(web::Json(tenant.into()))
}

/// Change the tenant's name, default sender ids or opt-out exemptions (owners and admins);
/// fields left out stay as they are. Audited with the settings it leaves.
#[utoipa::path(
    operation_id = "update_settings",
    tag = "settings",
    request_body = UpdateSettingsRequest,
    responses(
        (status = 200, body = SettingsView),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/v1/settings")]
pub async fn update(
    state: web::Data<AppContext>,
    user: User,
    // A NUL in the name is answered by the service, as any other control character is (and
    // as the admin app's form answers it).
    body: JsonBody<UpdateSettingsRequest, false>,
) -> ApiResult<web::Json<SettingsView>> {
    let manager = user.manager(Action::ManageSettings)?;
    let req = body.value;
    let change = SettingsChange {
        name: req.name,
        default_sender_ids: req.default_sender_ids,
        opt_out_exempt_types: req.opt_out_exempt_types,
    };
    let tenant = settings::update(&state.pool, &manager, change).await?;
    // The default sender is part of the tenant's route table.
    state
        .changed(openclaw_core::changes::Change::Routes {
            tenant: manager.tenant,
        })
        .await;
    Ok(web::Json(tenant.into()))
}
