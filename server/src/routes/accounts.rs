//! Sign up, sign in, refresh, sign out, and who am I.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use openclaw_core::accounts::{self, AccountError, Tokens};
use openclaw_core::db::{tenants, users};
use openclaw_core::domain::{Role, TenantId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::JsonBody;
use crate::auth::{User, client_of};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(signup)
        .service(login)
        .service(refresh)
        .service(logout)
        .service(me)
        .service(change_password);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// 1–100 characters, no control characters.
    #[schema(example = "Acme Ltd", min_length = 1, max_length = 100)]
    pub tenant_name: String,
    #[schema(example = "ops@acme.test", format = Email, max_length = 254)]
    pub email: String,
    /// At least 12 characters, not a common password and not the email address.
    #[schema(min_length = 12)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TenantView {
    pub id: TenantId,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    pub tenant: TenantView,
    pub user: UserView,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    pub expires_in: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ops@acme.test", format = Email)]
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub tenant: Option<TenantView>,
    pub role: Role,
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> ApiError {
        match e {
            AccountError::Invalid { field, message } => ApiError::invalid(field, message),
            AccountError::EmailTaken => {
                ApiError::conflict("email_taken", e.to_string()).with_field("email")
            }
            AccountError::BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                e.to_string(),
            ),
            AccountError::RefreshReused => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                e.to_string(),
            ),
            AccountError::SessionInvalid => ApiError::unauthenticated(e.to_string()),
            AccountError::Throttled { retry_after }
            | AccountError::SignUpsThrottled { retry_after } => {
                let mut err =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string());
                err.retry_after = Some(retry_after);
                err
            }
            AccountError::Internal(e) => ApiError::internal(e),
        }
    }
}

fn pair(tokens: Tokens) -> TokenPair {
    TokenPair {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        token_type: "Bearer",
        expires_in: tokens.expires_in,
    }
}

/// Create a tenant and its first user (the owner).
#[utoipa::path(
    tag = "accounts",
    request_body = SignupRequest,
    responses(
        (status = 201, body = SignupResponse),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field: not an email address, a weak password, a name too long", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ups from this address", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/v1/auth/signup")]
pub async fn signup(
    state: web::Data<AppContext>,
    http: HttpRequest,
    body: JsonBody<SignupRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.value;
    let (tenant, user, tokens) = accounts::sign_up(
        &state.pool,
        &state.jwt,
        &req.tenant_name,
        &req.email,
        &req.password,
        &client_of(&http),
    )
    .await?;
    Ok(HttpResponse::Created().json(SignupResponse {
        tenant: TenantView {
            id: tenant.id.into(),
            name: tenant.name,
        },
        user: UserView {
            id: user.id.into(),
            email: user.email,
            role: Role::Owner,
        },
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_in: tokens.expires_in,
    }))
}

/// Sign in with email and password. Unknown email and wrong password get the same answer;
/// repeated failures per email and per client address are refused with 429 and a growing
/// `Retry-After`.
#[utoipa::path(
    tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many failed sign-ins for this email or client address", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/v1/auth/login")]
pub async fn login(
    state: web::Data<AppContext>,
    http: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let req = body.value;
    let (_, tokens) = accounts::sign_in(
        &state.pool,
        &state.jwt,
        &req.email,
        &req.password,
        &client_of(&http),
    )
    .await?;
    Ok(web::Json(pair(tokens)))
}

/// Trade a refresh token for a new pair. A refresh token works once; presenting a used one
/// again ends its whole session.
#[utoipa::path(
    tag = "accounts",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, description = "`invalid_json`, or `invalid_field` naming the field at fault", body = ErrorBody),
        (status = 401, description = "`unauthenticated` (unknown or expired refresh token) or `refresh_token_reused` (its session is now ended)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    )
)]
#[post("/v1/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppContext>,
    body: JsonBody<RefreshRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let tokens = accounts::refresh(&state.pool, &state.jwt, &body.value.refresh_token).await?;
    Ok(web::Json(pair(tokens)))
}

/// End the current session (its access and refresh tokens stop working at once).
#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/auth/logout")]
pub async fn logout(state: web::Data<AppContext>, user: User) -> ApiResult<HttpResponse> {
    accounts::sign_out(&state.pool, &user.identity(), &user.client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user, their tenant and role.
#[utoipa::path(
    tag = "accounts",
    responses(
        (status = 200, body = MeResponse),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me")]
pub async fn me(state: web::Data<AppContext>, user: User) -> ApiResult<web::Json<MeResponse>> {
    let mut conn = state.pool.get().await?;
    let row = users::find(&mut conn, user.user_id).await?;
    let tenant = match row.tenant_id {
        Some(id) => {
            let t = tenants::find(&mut conn, id).await?;
            Some(TenantView {
                id: t.id.into(),
                name: t.name,
            })
        }
        None => None,
    };
    Ok(web::Json(MeResponse {
        user: UserView {
            id: row.id.into(),
            email: row.email,
            role: user.role,
        },
        tenant,
        role: user.role,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// At least 12 characters, not a common password.
    #[schema(min_length = 12)]
    pub new_password: String,
}

/// Change your password. Every session of yours ends (other browsers and scripts must sign
/// in again); the answer carries a fresh token pair for this one.
#[utoipa::path(
    tag = "accounts",
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, description = "`invalid_json`, or `invalid_field`: the current password is not right (`current_password`) or the new one is weak (`new_password`)", body = ErrorBody),
        (status = 401, description = "`unauthenticated` or `token_expired`: no valid user access token (API keys are refused here)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/v1/me/password")]
pub async fn change_password(
    state: web::Data<AppContext>,
    user: User,
    body: JsonBody<ChangePasswordRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let req = body.value;
    let tokens = accounts::change_password(
        &state.pool,
        &state.jwt,
        user.user_id,
        &req.current_password,
        &req.new_password,
        &user.client,
    )
    .await?;
    Ok(web::Json(pair(tokens)))
}
