//! People signing up, in and out: the one implementation behind both the API's JSON endpoints
//! and the admin app's forms.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Client, action};
use crate::crypto;
use crate::db::{PgPool, sessions, tenants, throttle, users};
use crate::domain::{MemberStatus, Role};
use crate::jwt::{ACCESS_TTL_SECS, JwtKeys};

/// Refresh tokens live 30 days (each use rotates them).
pub const REFRESH_TTL_DAYS: i64 = 30;
pub const MIN_PASSWORD_LEN: usize = 12;

/// What went wrong, in terms a person can act on; `field` names the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("An account with this email already exists.")]
    EmailTaken,
    #[error("The email or password is not right.")]
    BadCredentials,
    #[error("This refresh token was already used; the session has been ended. Sign in again.")]
    RefreshReused,
    #[error("The session is not valid any more; sign in again.")]
    SessionInvalid,
    #[error("Too many failed sign-ins; try again in {retry_after} seconds.")]
    Throttled { retry_after: u64 },
    #[error("Too many sign-ups from your address; try again in {retry_after} seconds.")]
    SignUpsThrottled { retry_after: u64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> Self {
        AccountError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AccountError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AccountError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> AccountError {
    AccountError::Invalid {
        field,
        message: message.into(),
    }
}

/// A plausible address: one `@`, something before it, a dotted domain after it; no spaces
/// and no control characters (NUL among them, which Postgres cannot store).
pub fn validate_email(email: &str) -> Result<String, AccountError> {
    let email = email.trim();
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(email.to_owned())
    } else {
        Err(invalid("email", "That is not an email address."))
    }
}

/// At least 12 characters, not the email address, and not in the list of common passwords
/// shipped with the `passwords` crate (100,000 entries from public breach corpora).
pub fn validate_password(password: &str, email: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(invalid(
            "password",
            format!("The password must be at least {MIN_PASSWORD_LEN} characters long."),
        ));
    }
    if password.len() > 1024 {
        return Err(invalid("password", "The password is too long."));
    }
    let lower = password.to_lowercase();
    if passwords::analyzer::is_common_password(password)
        || passwords::analyzer::is_common_password(&lower)
    {
        return Err(invalid(
            "password",
            "This password is on the list of commonly used passwords; choose another.",
        ));
    }
    let email = email.trim().to_lowercase();
    if !email.is_empty() && (lower == email || email.split('@').next() == Some(lower.as_str())) {
        return Err(invalid(
            "password",
            "The password must not be your email address.",
        ));
    }
    if password.chars().all(|c| password.starts_with(c)) {
        return Err(invalid(
            "password",
            "The password must not be one character repeated.",
        ));
    }
    Ok(())
}

/// A company name: 1–100 characters on one line (no control characters).
pub fn validate_tenant_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(
            "tenant_name",
            "The company name must be 1 to 100 characters.",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(
            "tenant_name",
            "The company name must not contain control characters.",
        ));
    }
    Ok(name.to_owned())
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Starts a new session (a refresh token family), or continues `family_id`.
async fn issue(
    jwt: &JwtKeys,
    conn: &mut AsyncPgConnection,
    user: &users::User,
    family_id: Uuid,
) -> Result<Tokens, AccountError> {
    let refresh_token = format!("ocr_{}", crypto::random_token(32));
    sessions::insert(
        conn,
        user.id,
        family_id,
        &crypto::hash_token(&refresh_token),
        Utc::now() + chrono::Duration::days(REFRESH_TTL_DAYS),
    )
    .await?;
    Ok(Tokens {
        access_token: jwt.issue(user.id, user.tenant_id, user.role.as_str(), family_id),
        refresh_token,
        expires_in: ACCESS_TTL_SECS,
    })
}

/// Starts a new session (a new refresh token family) for `user`.
pub async fn start_session(
    jwt: &JwtKeys,
    conn: &mut AsyncPgConnection,
    user: &users::User,
) -> Result<Tokens, AccountError> {
    issue(jwt, conn, user, Uuid::now_v7()).await
}

pub async fn hash_password(password: String) -> Result<String, AccountError> {
    crypto::hash_password(password)
        .await
        .map_err(|e| AccountError::Internal(e.context("hashing a password")))
}

/// Verifies against a PHC string, or against a dummy hash for `None` (see
/// [`crypto::verify_password`]).
pub async fn verify_password(password: String, phc: Option<String>) -> Result<bool, AccountError> {
    crypto::verify_password(password, phc)
        .await
        .map_err(|e| AccountError::Internal(e.context("verifying a password")))
}

/// Sign-ups allowed per client address in [`SIGN_UP_WINDOW_SECS`] before delays start; each
/// further one doubles the delay from 1 s up to 15 minutes. Sign-up needs no account, and each
/// costs a password hash, so it is throttled before the hash.
pub const FREE_SIGN_UPS_PER_CLIENT: i32 = 10;
const SIGN_UP_WINDOW_SECS: i32 = 60 * 60;

async fn throttle_sign_up(
    conn: &mut AsyncPgConnection,
    client: &Client,
) -> Result<(), AccountError> {
    let Some(ip) = &client.ip else {
        return Ok(());
    };
    let key = vec![format!("signup:ip:{ip}")];
    let blocked = match throttle::blocked_until(conn, &key).await? {
        Some(until) => Some(until),
        None => {
            throttle::record_failure(
                conn,
                &key,
                FREE_SIGN_UPS_PER_CLIENT,
                1,
                THROTTLE_MAX_SECS,
                SIGN_UP_WINDOW_SECS,
            )
            .await?
        }
    };
    match blocked {
        Some(until) => Err(AccountError::SignUpsThrottled {
            retry_after: (until - Utc::now()).num_seconds().max(1) as u64,
        }),
        None => Ok(()),
    }
}

/// Creates a tenant and its first user, the owner, and signs them in.
pub async fn sign_up(
    pool: &PgPool,
    jwt: &JwtKeys,
    tenant_name: &str,
    email: &str,
    password: &str,
    client: &Client,
) -> Result<(tenants::Tenant, users::User, Tokens), AccountError> {
    let tenant_name = validate_tenant_name(tenant_name)?;
    let email = validate_email(email)?;
    validate_password(password, &email)?;
    let mut conn = pool.get().await?;
    throttle_sign_up(&mut conn, client).await?;
    if users::find_by_email(&mut conn, &email).await?.is_some() {
        return Err(AccountError::EmailTaken);
    }
    let password_hash = hash_password(password.to_owned()).await?;
    let (tenant_id, user_id) = (Uuid::now_v7(), Uuid::now_v7());
    let created = conn
        .transaction(async |c| {
            let tenant = tenants::insert(c, tenant_id, &tenant_name).await?;
            let user = users::insert(
                c,
                &users::NewUser {
                    id: user_id,
                    tenant_id: Some(tenant_id),
                    email: &email,
                    password_hash: Some(&password_hash),
                    role: Role::Owner,
                    status: MemberStatus::Active,
                    invite_token_hash: None,
                    invite_expires_at: None,
                    invited_by: None,
                },
            )
            .await?;
            audit::record(
                c,
                &client.person(user_id, false),
                Some(tenant_id),
                action::SIGNED_UP,
                Some(crate::domain::TenantId::from(tenant_id).to_string()),
                json!({"email": email, "tenant_name": tenant_name}),
            )
            .await?;
            diesel::QueryResult::Ok((tenant, user))
        })
        .await;
    let (tenant, user) = match created {
        Ok(pair) => pair,
        // Two sign-ups raced for the same address.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => return Err(AccountError::EmailTaken),
        Err(e) => return Err(e.into()),
    };
    let tokens = issue(jwt, &mut conn, &user, Uuid::now_v7()).await?;
    tracing::info!(tenant_id = %tenant.id, user_id = %user.id, "tenant signed up");
    Ok((tenant, user, tokens))
}

/// Failed sign-ins allowed per email (per client address) before delays start; each further
/// failure doubles the delay from 1 s up to 15 minutes. Counts reset after 15 quiet minutes.
pub const FREE_FAILURES_PER_EMAIL: i32 = 5;
pub const FREE_FAILURES_PER_CLIENT: i32 = 20;
const THROTTLE_MAX_SECS: i32 = 15 * 60;
const THROTTLE_WINDOW_SECS: i32 = 15 * 60;

fn throttle_keys(email: &str, client: &Client) -> (String, Option<String>) {
    (
        format!("email:{}", email.trim().to_lowercase()),
        client.ip.as_ref().map(|ip| format!("ip:{ip}")),
    )
}

fn retry_after(until: chrono::DateTime<Utc>) -> AccountError {
    let secs = (until - Utc::now()).num_seconds().max(1) as u64;
    AccountError::Throttled { retry_after: secs }
}

/// Checks email and password and starts a session. Unknown emails (and invited members with
/// no password yet) are verified against a dummy hash, so the answer and its timing are the
/// same either way. Repeated failures per email and per client address are throttled with a
/// growing delay, before the password is even looked at.
pub async fn sign_in(
    pool: &PgPool,
    jwt: &JwtKeys,
    email: &str,
    password: &str,
    client: &Client,
) -> Result<(users::User, Tokens), AccountError> {
    // No account has such an address (sign-up and invitations refuse them), and Postgres
    // could not even look for one with a NUL in it.
    if email.chars().any(char::is_control) {
        return Err(invalid("email", "That is not an email address."));
    }
    let mut conn = pool.get().await?;
    let (email_key, client_key) = throttle_keys(email, client);
    let keys: Vec<String> = std::iter::once(email_key.clone())
        .chain(client_key.clone())
        .collect();
    if let Some(until) = throttle::blocked_until(&mut conn, &keys).await? {
        return Err(retry_after(until));
    }
    let user = users::find_by_email(&mut conn, email.trim()).await?;
    let phc = user.as_ref().and_then(|u| u.password_hash.clone());
    let password = password.to_owned();
    let ok = verify_password(password, phc).await?;
    let user = match user {
        Some(user) if ok && user.status == MemberStatus::Active => user,
        other => {
            let mut blocked = throttle::record_failure(
                &mut conn,
                std::slice::from_ref(&email_key),
                FREE_FAILURES_PER_EMAIL,
                1,
                THROTTLE_MAX_SECS,
                THROTTLE_WINDOW_SECS,
            )
            .await?;
            if let Some(key) = &client_key {
                let by_client = throttle::record_failure(
                    &mut conn,
                    std::slice::from_ref(key),
                    FREE_FAILURES_PER_CLIENT,
                    1,
                    THROTTLE_MAX_SECS,
                    THROTTLE_WINDOW_SECS,
                )
                .await?;
                blocked = blocked.max(by_client);
            }
            let actor = match &other {
                Some(u) => client.person(u.id, u.tenant_id.is_none()),
                None => client.anonymous(email.trim()),
            };
            audit::record(
                &mut conn,
                &actor,
                other.as_ref().and_then(|u| u.tenant_id),
                action::SIGN_IN_FAILED,
                None,
                json!({"email": email.trim(), "throttled": blocked.is_some()}),
            )
            .await?;
            return Err(AccountError::BadCredentials);
        }
    };
    throttle::clear(&mut conn, &email_key).await?;
    audit::record(
        &mut conn,
        &client.person(user.id, user.tenant_id.is_none()),
        user.tenant_id,
        action::SIGNED_IN,
        None,
        json!({}),
    )
    .await?;
    let tokens = issue(jwt, &mut conn, &user, Uuid::now_v7()).await?;
    Ok((user, tokens))
}

/// Changes a password after checking the current one, ends every session of the person
/// (other browsers and scripts must sign in again) and starts a fresh one for the caller.
pub async fn change_password(
    pool: &PgPool,
    jwt: &JwtKeys,
    user_id: Uuid,
    current: &str,
    new: &str,
    client: &Client,
) -> Result<Tokens, AccountError> {
    let mut conn = pool.get().await?;
    let user = users::find(&mut conn, user_id).await?;
    let phc = user.password_hash.clone();
    let current = current.to_owned();
    let ok = verify_password(current, phc).await?;
    if !ok {
        return Err(invalid(
            "current_password",
            "The current password is not right.",
        ));
    }
    validate_password(new, &user.email)?;
    let hash = hash_password(new.to_owned()).await?;
    let user = conn
        .transaction(async |c| {
            users::set_password(c, user.id, &hash).await?;
            sessions::revoke_user(c, user.id).await?;
            audit::record(
                c,
                &client.person(user.id, user.tenant_id.is_none()),
                user.tenant_id,
                action::PASSWORD_CHANGED,
                None,
                json!({}),
            )
            .await?;
            diesel::QueryResult::Ok(user)
        })
        .await?;
    issue(jwt, &mut conn, &user, Uuid::now_v7()).await
}

/// Creates a platform staff account (no tenant). Operators run this from the command line.
pub async fn create_staff(
    pool: &PgPool,
    email: &str,
    role: Role,
    password: &str,
) -> Result<users::User, AccountError> {
    if !role.is_platform() {
        return Err(invalid(
            "role",
            "Staff roles are platform_admin and billing_staff.",
        ));
    }
    let email = validate_email(email)?;
    validate_password(password, &email)?;
    let hash = hash_password(password.to_owned()).await?;
    let mut conn = pool.get().await?;
    let created = conn
        .transaction(async |c| {
            let user = users::insert(
                c,
                &users::NewUser {
                    id: Uuid::now_v7(),
                    tenant_id: None,
                    email: &email,
                    password_hash: Some(&hash),
                    role,
                    status: MemberStatus::Active,
                    invite_token_hash: None,
                    invite_expires_at: None,
                    invited_by: None,
                },
            )
            .await?;
            audit::record(
                c,
                &audit::Actor {
                    label: Some("operator (command line)".into()),
                    ..Default::default()
                },
                None,
                action::STAFF_CREATED,
                Some(crate::domain::UserId::from(user.id).to_string()),
                json!({"email": email, "role": role.as_str()}),
            )
            .await?;
            diesel::QueryResult::Ok(user)
        })
        .await;
    match created {
        Ok(user) => Ok(user),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Err(AccountError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// Trades a refresh token for a new pair in the same session. A refresh token works once;
/// presenting a used one again ends its whole session.
pub async fn refresh(
    pool: &PgPool,
    jwt: &JwtKeys,
    refresh_token: &str,
) -> Result<Tokens, AccountError> {
    let mut conn = pool.get().await?;
    let hash = crypto::hash_token(refresh_token.trim());
    match sessions::redeem(&mut conn, &hash).await? {
        sessions::Redeemed::Fresh(token) => {
            let user = users::find(&mut conn, token.user_id).await?;
            issue(jwt, &mut conn, &user, token.family_id).await
        }
        sessions::Redeemed::Reused => {
            tracing::warn!("a used refresh token was presented again; its session is revoked");
            Err(AccountError::RefreshReused)
        }
        sessions::Redeemed::Invalid => Err(AccountError::SessionInvalid),
    }
}

/// Ends a session: its access and refresh tokens stop working at once.
pub async fn sign_out(
    pool: &PgPool,
    identity: &Identity,
    client: &Client,
) -> Result<(), AccountError> {
    let mut conn = pool.get().await?;
    sessions::revoke_family(&mut conn, identity.session_id).await?;
    audit::record(
        &mut conn,
        &client.person(identity.user_id, identity.role.is_platform()),
        identity.tenant_id,
        action::SIGNED_OUT,
        None,
        json!({}),
    )
    .await?;
    Ok(())
}

/// Who an access token belongs to, once its signature, expiry and session are checked.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub role: Role,
    pub session_id: Uuid,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("The access token has expired; refresh it.")]
    Expired,
    #[error("The access token is not valid.")]
    Invalid,
    #[error("This session has ended; sign in again.")]
    Ended,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Checks an access token: signature and expiry, then that its session is still signed in.
pub async fn authenticate(
    pool: &PgPool,
    jwt: &JwtKeys,
    token: &str,
) -> Result<Identity, AuthError> {
    let claims = jwt.verify(token).map_err(|e| match e {
        crate::jwt::JwtError::Expired => AuthError::Expired,
        crate::jwt::JwtError::Invalid => AuthError::Invalid,
    })?;
    let role = Role::parse(&claims.role).ok_or(AuthError::Invalid)?;
    let active = async {
        let mut conn = pool.get().await?;
        anyhow::Ok(sessions::is_active(&mut conn, claims.sid).await?)
    }
    .await?;
    if !active {
        return Err(AuthError::Ended);
    }
    if let Some(tenant) = claims.tid {
        crate::trace::record_tenant(tenant);
    }
    Ok(Identity {
        user_id: claims.sub,
        tenant_id: claims.tid,
        role,
        session_id: claims.sid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: AccountError) -> &'static str {
        match e {
            AccountError::Invalid { field, .. } => field,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn emails_and_company_names_with_control_characters_are_refused() {
        assert_eq!(validate_email(" a@b.test ").unwrap(), "a@b.test");
        assert_eq!(field_of(validate_email("a\0@b.test").unwrap_err()), "email");
        assert_eq!(
            field_of(validate_email("a@b.te\u{7}st").unwrap_err()),
            "email"
        );
        assert_eq!(validate_tenant_name(" Acme ").unwrap(), "Acme");
        assert_eq!(
            field_of(validate_tenant_name("Ac\0me").unwrap_err()),
            "tenant_name"
        );
        assert_eq!(
            field_of(validate_tenant_name("Ac\nme").unwrap_err()),
            "tenant_name"
        );
    }
}
