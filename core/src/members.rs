//! A tenant's people: invite by email with a role, accept with a password, change role,
//! remove. The one implementation behind the API and the admin app. The rules:
//! - only tenant roles can be given (never a platform role);
//! - only an owner may make someone an owner, or change or remove an owner;
//! - a tenant always keeps at least one active owner;
//! - a changed or removed member's sessions end at once (their tokens carried the old role).

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::json;
use uuid::Uuid;

use crate::accounts::{self, AccountError, Tokens};
use crate::audit::{self, Actor, action};
use crate::crypto;
use crate::db::{self, PgPool, sessions, users};
use crate::domain::{MemberStatus, Role};
use crate::jwt::JwtKeys;

/// Invitations expire after a week.
pub const INVITE_TTL_DAYS: i64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("An account with this email already exists.")]
    EmailTaken,
    #[error("No such member.")]
    NotFound,
    #[error("A tenant must keep at least one owner; make someone else owner first.")]
    LastOwner,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("This invitation is not valid: it was used already, has expired or never existed.")]
    InvalidInvite,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for MemberError {
    fn from(e: diesel::result::Error) -> Self {
        MemberError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for MemberError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        MemberError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

impl From<AccountError> for MemberError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid { field, message } => MemberError::Invalid { field, message },
            AccountError::EmailTaken => MemberError::EmailTaken,
            other => MemberError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// Who is acting: their id, role and the audit actor.
#[derive(Debug, Clone)]
pub struct Manager {
    pub tenant: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    pub actor: Actor,
}

/// A tenant role named by a person; platform roles are refused.
pub fn parse_tenant_role(role: &str) -> Result<Role, MemberError> {
    match Role::parse(role.trim()) {
        Some(r) if !r.is_platform() => Ok(r),
        _ => Err(MemberError::Invalid {
            field: "role",
            message: "The role must be one of owner, admin, developer, billing, viewer.".into(),
        }),
    }
}

/// The permission matrix first: a role that may not manage members learns nothing else (not
/// even whether its input was valid).
fn may_manage(manager: &Manager) -> Result<(), MemberError> {
    if crate::permissions::allowed(manager.role, crate::permissions::Action::ManageMembers) {
        Ok(())
    } else {
        Err(MemberError::Forbidden(
            "Your role cannot manage members; ask an owner or admin.",
        ))
    }
}

fn owner_only(manager: &Manager) -> Result<(), MemberError> {
    if manager.role == Role::Owner {
        Ok(())
    } else {
        Err(MemberError::Forbidden(
            "Only an owner can give, change or take away the owner role.",
        ))
    }
}

/// An invited member and the token that accepts the invitation (shown once).
pub struct Invitation {
    pub member: users::User,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn list(pool: &PgPool, tenant: Uuid) -> Result<Vec<users::User>, MemberError> {
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        Ok(users::list_members(c, tenant).await?)
    })
    .await
}

/// Where invitations are mailed, when mail is configured.
pub struct Mail<'a> {
    pub mailer: std::sync::Arc<crate::mail::Mailer>,
    /// `OPENCLAW_PUBLIC_URL`: the link points at its `/accept-invite`.
    pub public_url: &'a str,
}

impl<'a> Mail<'a> {
    /// Some when a mailer is configured.
    pub fn of(
        mailer: &Option<std::sync::Arc<crate::mail::Mailer>>,
        public_url: &'a str,
    ) -> Option<Mail<'a>> {
        mailer.clone().map(|mailer| Mail { mailer, public_url })
    }
}

/// Invites `email` with `role`. With `mail`, the invitation also goes out by mail once
/// committed (in the background: a mail server that is slow or down never fails the invite;
/// the token is in the answer either way, and a failure is logged without it).
pub async fn invite(
    pool: &PgPool,
    manager: &Manager,
    email: &str,
    role: &str,
    mail: Option<Mail<'_>>,
) -> Result<Invitation, MemberError> {
    may_manage(manager)?;
    let email = accounts::validate_email(email)?;
    let role = parse_tenant_role(role)?;
    if role == Role::Owner {
        owner_only(manager)?;
    }
    let token = format!("oci_{}", crypto::random_token(32));
    let token_hash = crypto::hash_token(&token);
    let expires_at = Utc::now() + chrono::Duration::days(INVITE_TTL_DAYS);
    let mut conn = pool.get().await?;
    // Emails are unique across OpenClaw (one sign-in per address); the unique index is the
    // final word, this only gives the common case a clear answer.
    if users::find_by_email(&mut conn, &email).await?.is_some() {
        return Err(MemberError::EmailTaken);
    }
    let inserted = db::scoped(&mut conn, manager.tenant, async |c| {
        let tenant_name = crate::db::tenants::find(c, manager.tenant).await?.name;
        let inviter = users::find(c, manager.user_id).await?.email;
        let member = users::insert(
            c,
            &users::NewUser {
                id: Uuid::now_v7(),
                tenant_id: Some(manager.tenant),
                email: &email,
                password_hash: None,
                role,
                status: MemberStatus::Invited,
                invite_token_hash: Some(&token_hash),
                invite_expires_at: Some(expires_at),
                invited_by: Some(manager.user_id),
            },
        )
        .await?;
        audit::record(
            c,
            &manager.actor,
            Some(manager.tenant),
            action::MEMBER_INVITED,
            Some(member_target(&member)),
            json!({"email": member.email, "role": role.as_str()}),
        )
        .await?;
        diesel::QueryResult::Ok((member, tenant_name, inviter))
    })
    .await;
    let (member, tenant_name, inviter) = match inserted {
        Ok(m) => m,
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => return Err(MemberError::EmailTaken),
        Err(e) => return Err(e.into()),
    };
    if let Some(mail) = mail {
        let link = format!(
            "{}/accept-invite?token={token}",
            mail.public_url.trim_end_matches('/')
        );
        let (to, role) = (member.email.clone(), member.role);
        let member_id = member.id;
        tokio::spawn(async move {
            let sent = mail
                .mailer
                .send_invite(&crate::mail::Invite {
                    to: &to,
                    tenant_name: &tenant_name,
                    invited_by: &inviter,
                    role: role.as_str(),
                    link: &link,
                    expires_at,
                })
                .await;
            match sent {
                Ok(()) => tracing::info!(%member_id, "invitation mailed"),
                Err(e) => {
                    tracing::warn!(%member_id, error = format!("{e:#}"), "could not mail an invitation")
                }
            }
        });
    }
    Ok(Invitation {
        member,
        token,
        expires_at,
    })
}

fn member_target(member: &users::User) -> String {
    crate::domain::UserId::from(member.id).to_string()
}

/// Fails unless the change leaves the tenant with an active owner.
async fn keep_an_owner(
    c: &mut AsyncPgConnection,
    tenant: Uuid,
    member: &users::User,
    new_role: Option<Role>,
) -> Result<(), MemberError> {
    let was_owner = member.role == Role::Owner && member.status == MemberStatus::Active;
    let stays_owner = new_role == Some(Role::Owner);
    if was_owner && !stays_owner {
        let owners = users::lock_active_owners(c, tenant).await?;
        if owners.iter().all(|id| *id == member.id) {
            return Err(MemberError::LastOwner);
        }
    }
    Ok(())
}

pub async fn change_role(
    pool: &PgPool,
    manager: &Manager,
    member_id: Uuid,
    role: &str,
) -> Result<users::User, MemberError> {
    may_manage(manager)?;
    let role = parse_tenant_role(role)?;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, manager.tenant, async |c| {
        let member = users::find_member(c, manager.tenant, member_id)
            .await?
            .ok_or(MemberError::NotFound)?;
        if role == Role::Owner || member.role == Role::Owner {
            owner_only(manager)?;
        }
        if member.role == role {
            return Ok(member);
        }
        keep_an_owner(c, manager.tenant, &member, Some(role)).await?;
        let updated = users::set_role(c, manager.tenant, member_id, role).await?;
        sessions::revoke_user(c, member_id).await?;
        audit::record(
            c,
            &manager.actor,
            Some(manager.tenant),
            action::MEMBER_ROLE_CHANGED,
            Some(member_target(&member)),
            json!({"email": member.email, "from": member.role, "to": role.as_str()}),
        )
        .await?;
        Ok(updated)
    })
    .await
}

pub async fn remove(pool: &PgPool, manager: &Manager, member_id: Uuid) -> Result<(), MemberError> {
    may_manage(manager)?;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, manager.tenant, async |c| {
        let member = users::find_member(c, manager.tenant, member_id)
            .await?
            .ok_or(MemberError::NotFound)?;
        if member.role == Role::Owner {
            owner_only(manager)?;
        }
        keep_an_owner(c, manager.tenant, &member, None).await?;
        sessions::revoke_user(c, member_id).await?;
        users::delete_member(c, manager.tenant, member_id).await?;
        audit::record(
            c,
            &manager.actor,
            Some(manager.tenant),
            action::MEMBER_REMOVED,
            Some(member_target(&member)),
            json!({"email": member.email, "role": member.role}),
        )
        .await?;
        Ok(())
    })
    .await
}

/// Accepts an invitation: sets the password, activates the member and signs them in.
pub async fn accept_invite(
    pool: &PgPool,
    jwt: &JwtKeys,
    token: &str,
    password: &str,
    client: &audit::Client,
) -> Result<(users::User, Tokens), MemberError> {
    let token = token.trim();
    if !token.starts_with("oci_") || token.len() > 128 {
        return Err(MemberError::InvalidInvite);
    }
    let mut conn = pool.get().await?;
    // Check the password against the invited address before spending a hash on it.
    let hash = crypto::hash_token(token);
    let password_hash = {
        let pending = users::find_by_invite(&mut conn, &hash)
            .await?
            .ok_or(MemberError::InvalidInvite)?;
        accounts::validate_password(password, &pending.email)?;
        accounts::hash_password(password.to_owned()).await?
    };
    let member = users::accept_invite(&mut conn, &hash, &password_hash)
        .await?
        .ok_or(MemberError::InvalidInvite)?;
    audit::record(
        &mut conn,
        &client.person(member.id, false),
        member.tenant_id,
        action::MEMBER_JOINED,
        Some(member_target(&member)),
        json!({"email": member.email, "role": member.role}),
    )
    .await?;
    let tokens = accounts::start_session(jwt, &mut conn, &member).await?;
    Ok((member, tokens))
}
