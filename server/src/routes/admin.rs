//! Platform staff: read across tenants, nothing more. Every call is itself audited.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use openclaw_core::domain::TenantId;
use openclaw_core::staff;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{Page, PageParams, cursor_for};
use crate::auth::{Action, User};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list_tenants).service(platform_audit_log);
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
    let mut rows = staff::list_tenants(&mut conn, &user.actor(), after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| cursor_for(rows.last().expect("limit ≥ 1").id));
    Ok(web::Json(Page {
        data: rows
            .into_iter()
            .map(|t| TenantSummary {
                id: t.id.into(),
                name: t.name,
                currency: t.currency,
                created_at: t.created_at,
                members: t.members,
                messages_this_month: t.messages_this_month,
            })
            .collect(),
        next_cursor,
    }))
}
