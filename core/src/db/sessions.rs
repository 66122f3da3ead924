//! Refresh tokens: opaque, stored as SHA-256, rotated on every use. A family is the chain of
//! rotations that began with one sign-in; presenting a used token again revokes the family.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::refresh_tokens;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    family_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::now_v7()),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Redeemed {
    /// Valid and now used: issue a new pair in the same family.
    Fresh(RefreshToken),
    /// Already used (a replay): the whole family has just been revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

/// Marks the token used and says what to do, in one transaction.
pub async fn redeem(conn: &mut AsyncPgConnection, token_hash: &[u8]) -> QueryResult<Redeemed> {
    let hash = token_hash.to_vec();
    conn.transaction(async move |c| {
        let Some(token) = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select(RefreshToken::as_select())
            .for_update()
            .first(c)
            .await
            .optional()?
        else {
            return Ok(Redeemed::Invalid);
        };
        if token.revoked_at.is_some() || token.expires_at <= Utc::now() {
            return Ok(Redeemed::Invalid);
        }
        if token.used_at.is_some() {
            revoke_family(c, token.family_id).await?;
            return Ok(Redeemed::Reused);
        }
        diesel::update(refresh_tokens::table.find(token.id))
            .set(refresh_tokens::used_at.eq(Utc::now()))
            .execute(c)
            .await?;
        Ok(Redeemed::Fresh(token))
    })
    .await
}

pub async fn revoke_family(conn: &mut AsyncPgConnection, family_id: Uuid) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await
}

/// Revokes the family the given token belongs to (logout with a refresh token).
pub async fn revoke_by_token(conn: &mut AsyncPgConnection, token_hash: &[u8]) -> QueryResult<()> {
    let family: Option<Uuid> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(refresh_tokens::family_id)
        .first(conn)
        .await
        .optional()?;
    if let Some(family) = family {
        revoke_family(conn, family).await?;
    }
    Ok(())
}

/// Revokes every session of a user (logout without a refresh token, password change).
pub async fn revoke_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await
}

/// Whether a session (a refresh token family) is still signed in.
pub async fn is_active(conn: &mut AsyncPgConnection, family_id: Uuid) -> QueryResult<bool> {
    let revoked: i64 = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::revoked_at.is_not_null())
        .count()
        .get_result(conn)
        .await?;
    let any: i64 = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .count()
        .get_result(conn)
        .await?;
    Ok(any > 0 && revoked == 0)
}
