//! The tenant's audit log: who did what, when and from where, newest first.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use openclaw_core::db::{self, audit};
use openclaw_core::domain::AuditEventId;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{Page, PageParams};
use crate::auth::{Action, User};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list);
}

#[derive(Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: AuditEventId,
    /// e.g. `auth.signed_in`, `member.invited`, `api_key.revoked`, `provider.prices_changed`.
    #[schema(example = "api_key.created")]
    pub action: String,
    /// Email of a person, id of an API key.
    pub actor: String,
    /// `user`, `staff`, `api_key` or `anonymous`.
    pub actor_kind: String,
    /// The id of what was acted on, when there is one.
    pub target: Option<String>,
    /// What changed (never a secret).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// The client address the request came from.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<audit::Entry> for AuditEvent {
    fn from(e: audit::Entry) -> Self {
        AuditEvent {
            id: AuditEventId::from_uuid(e.id),
            action: e.action,
            actor: e.actor,
            actor_kind: e.actor_kind,
            target: e.target,
            details: e.details,
            ip: e.ip,
            user_agent: e.user_agent,
            created_at: e.created_at,
        }
    }
}

/// The tenant's audit log, newest first.
#[utoipa::path(
    operation_id = "list_audit_log",
    tag = "members",
    params(PageParams),
    responses(
        (status = 200, body = Page<AuditEvent>),
        (status = 400, description = "`invalid_query`, or `invalid_field`: `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/audit-log")]
pub async fn list(
    state: web::Data<AppContext>,
    user: User,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<AuditEvent>>> {
    let tenant = user.require(Action::ReadAuditLog)?;
    let limit = page.limit()?;
    let before = page.cursor_uuid()?;
    let mut conn = state.pool.get().await?;
    let rows = db::scoped(&mut conn, tenant, async |c| {
        audit::list(c, Some(tenant), before, limit + 1).await
    })
    .await?;
    Ok(web::Json(page_of(rows, limit)))
}

/// One page of newest-first entries fetched with one extra row to tell if more follow.
pub fn page_of(rows: Vec<audit::Entry>, limit: i64) -> Page<AuditEvent> {
    Page::of(rows, limit, |e| e.id, AuditEvent::from)
}
