//! People signing up, in and out: the one implementation behind both the API's JSON endpoints
//! and the admin app's forms.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use crate::crypto;
use crate::db::{PgPool, sessions, tenants, users};
use crate::domain::Role;
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

/// A plausible address: one `@`, something before it, a dotted domain after it.
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
        && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(email.to_owned())
    } else {
        Err(invalid("email", "That is not an email address."))
    }
}

pub fn validate_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(invalid(
            "password",
            format!("The password must be at least {MIN_PASSWORD_LEN} characters long."),
        ));
    }
    if password.len() > 1024 {
        return Err(invalid("password", "The password is too long."));
    }
    Ok(())
}

pub fn validate_tenant_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(
            "tenant_name",
            "The company name must be 1 to 100 characters.",
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
        access_token: jwt.issue(user.id, user.tenant_id, &user.role, family_id),
        refresh_token,
        expires_in: ACCESS_TTL_SECS,
    })
}

async fn hash_password(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || crypto::hash_password(&password))
        .await
        .map_err(|e| AccountError::Internal(anyhow::Error::new(e).context("hashing a password")))
}

/// Creates a tenant and its first user, the owner, and signs them in.
pub async fn sign_up(
    pool: &PgPool,
    jwt: &JwtKeys,
    tenant_name: &str,
    email: &str,
    password: &str,
) -> Result<(tenants::Tenant, users::User, Tokens), AccountError> {
    let tenant_name = validate_tenant_name(tenant_name)?;
    let email = validate_email(email)?;
    validate_password(password)?;
    let password_hash = hash_password(password.to_owned()).await?;
    let mut conn = pool.get().await?;
    if users::find_by_email(&mut conn, &email).await?.is_some() {
        return Err(AccountError::EmailTaken);
    }
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
                    password_hash: &password_hash,
                    role: Role::Owner.as_str(),
                },
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

/// Checks email and password and starts a session. Unknown emails are verified against a
/// dummy hash, so the answer takes as long either way.
pub async fn sign_in(
    pool: &PgPool,
    jwt: &JwtKeys,
    email: &str,
    password: &str,
) -> Result<(users::User, Tokens), AccountError> {
    let mut conn = pool.get().await?;
    let user = users::find_by_email(&mut conn, email.trim()).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_owned();
    let ok =
        tokio::task::spawn_blocking(move || crypto::verify_password(&password, phc.as_deref()))
            .await
            .map_err(|e| {
                AccountError::Internal(anyhow::Error::new(e).context("verifying a password"))
            })?;
    let user = match user {
        Some(user) if ok => user,
        _ => return Err(AccountError::BadCredentials),
    };
    let tokens = issue(jwt, &mut conn, &user, Uuid::now_v7()).await?;
    Ok((user, tokens))
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
pub async fn sign_out(pool: &PgPool, session_id: Uuid) -> Result<(), AccountError> {
    let mut conn = pool.get().await?;
    sessions::revoke_family(&mut conn, session_id).await?;
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
    Ok(Identity {
        user_id: claims.sub,
        tenant_id: claims.tid,
        role,
        session_id: claims.sid,
    })
}
