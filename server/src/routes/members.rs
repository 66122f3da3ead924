//! A tenant's people: list, invite, change role, remove; and accepting an invitation.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use openclaw_core::db::users;
use openclaw_core::domain::{MemberStatus, Role, UserId};
use openclaw_core::members::{self, MemberError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::accounts::TokenPair;
use super::{JsonBody, Page};
use crate::auth::{Action, User, client_of};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(invite)
        .service(update)
        .service(remove)
        .service(accept_invite);
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    /// `active`, or `invited` until the invitation is accepted.
    #[schema(example = "active")]
    pub status: MemberStatus,
    pub created_at: DateTime<Utc>,
    /// While invited: when the invitation stops working.
    pub invite_expires_at: Option<DateTime<Utc>>,
}

impl From<users::User> for MemberView {
    fn from(u: users::User) -> Self {
        MemberView {
            id: u.id.into(),
            email: u.email,
            role: u.role,
            status: u.status,
            created_at: u.created_at,
            invite_expires_at: u.invite_expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct InvitedMember {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    #[schema(example = "invited")]
    pub status: MemberStatus,
    /// Accepts the invitation at `POST /v1/auth/accept-invite`. Shown this once.
    pub invite_token: String,
    pub invite_expires_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    #[schema(example = "dev@acme.test", format = Email)]
    pub email: String,
    /// `owner`, `admin`, `developer`, `billing` or `viewer`.
    #[schema(example = "developer", schema_with = super::schemas::tenant_role)]
    pub role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    #[schema(example = "admin", schema_with = super::schemas::tenant_role)]
    pub role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInviteRequest {
    pub invite_token: String,
    /// At least 12 characters, not a common password.
    #[schema(min_length = 12)]
    pub password: String,
}

impl From<MemberError> for ApiError {
    fn from(e: MemberError) -> ApiError {
        match e {
            MemberError::Invalid { field, message } => ApiError::invalid(field, message),
            MemberError::EmailTaken => {
                ApiError::conflict("email_taken", e.to_string()).with_field("email")
            }
            MemberError::NotFound => ApiError::not_found("member"),
            MemberError::LastOwner => ApiError::conflict("last_owner", e.to_string()),
            MemberError::Forbidden(message) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
            }
            MemberError::InvalidInvite => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_invite_token",
                e.to_string(),
            )
            .with_field("invite_token"),
            MemberError::Internal(e) => ApiError::internal(e),
        }
    }
}

fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    UserId::parse(id)
        .map(UserId::uuid)
        .map_err(|_| ApiError::not_found("member"))
}

/// The tenant's members, active and invited.
#[utoipa::path(
    operation_id = "list_members",
    tag = "members",
    responses(
        (status = 200, body = Page<MemberView>),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (platform staff have no tenant)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/members")]
pub async fn list(
    state: web::Data<AppContext>,
    user: User,
) -> ApiResult<web::Json<Page<MemberView>>> {
    let tenant = user.require(Action::ReadMembers)?;
    let rows = members::list(&state.pool, tenant).await?;
    Ok(web::Json(Page {
        data: rows.into_iter().map(MemberView::from).collect(),
        next_cursor: None,
    }))
}

/// Invite someone by email with a role. The answer carries the invitation token (shown once);
/// they accept it with a password of their own.
#[utoipa::path(
    operation_id = "invite_member",
    tag = "members",
    request_body = InviteRequest,
    responses(
        (status = 201, body = InvitedMember, links(("update" = (operation_id = "update_member", parameters(("id" = "$response.body#/id")))), ("remove" = (operation_id = "remove_member", parameters(("id" = "$response.body#/id")))))),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (only an owner invites an owner)", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/members")]
pub async fn invite(
    state: web::Data<AppContext>,
    user: User,
    body: JsonBody<InviteRequest>,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageMembers)?;
    let req = body.value;
    let inv = members::invite(
        &state.pool,
        &manager,
        &req.email,
        &req.role,
        state.invite_mail(),
    )
    .await?;
    Ok(HttpResponse::Created().json(InvitedMember {
        id: inv.member.id.into(),
        email: inv.member.email,
        role: inv.member.role,
        status: inv.member.status,
        invite_token: inv.token,
        invite_expires_at: inv.expires_at,
    }))
}

/// Change a member's role. Their sessions end (they sign in again with the new role). Only an
/// owner may give or take away `owner`; the last owner cannot be demoted.
#[utoipa::path(
    operation_id = "update_member",
    tag = "members",
    params(("id" = String, Path, description = "`usr_…`")),
    request_body = UpdateMemberRequest,
    responses(
        (status = 200, body = MemberView),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (only an owner gives or takes away `owner`)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`last_owner`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/v1/members/{id}")]
pub async fn update(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
    body: JsonBody<UpdateMemberRequest>,
) -> ApiResult<web::Json<MemberView>> {
    let manager = user.manager(Action::ManageMembers)?;
    let id = parse_id(&id)?;
    let member = members::change_role(&state.pool, &manager, id, &body.value.role).await?;
    Ok(web::Json(member.into()))
}

/// Remove a member (or withdraw an invitation). The last owner cannot be removed.
#[utoipa::path(
    operation_id = "remove_member",
    tag = "members",
    params(("id" = String, Path, description = "`usr_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role does not allow this (only an owner removes an owner)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`last_owner`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/v1/members/{id}")]
pub async fn remove(
    state: web::Data<AppContext>,
    user: User,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let manager = user.manager(Action::ManageMembers)?;
    let id = parse_id(&id)?;
    members::remove(&state.pool, &manager, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accept an invitation with a password: the member becomes active and is signed in.
#[utoipa::path(
    tag = "members",
    request_body = AcceptInviteRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, description = "`invalid_json`, `invalid_invite_token`, or `invalid_field` for a weak password", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    )
)]
#[post("/v1/auth/accept-invite")]
pub async fn accept_invite(
    state: web::Data<AppContext>,
    http: HttpRequest,
    body: JsonBody<AcceptInviteRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let req = body.value;
    let (_, tokens) = members::accept_invite(
        &state.pool,
        &state.jwt,
        &req.invite_token,
        &req.password,
        &client_of(&http),
    )
    .await?;
    Ok(web::Json(TokenPair {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        token_type: "Bearer",
        expires_in: tokens.expires_in,
    }))
}
