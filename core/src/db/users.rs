//! People who sign in: tenant members (active or invited) and, with no tenant, platform staff.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::users;

use crate::domain::{MemberStatus, Role};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub email: String,
    /// None until an invited member accepts.
    pub password_hash: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub status: MemberStatus,
    pub invite_expires_at: Option<DateTime<Utc>>,
    pub invited_by: Option<Uuid>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub email: &'a str,
    pub password_hash: Option<&'a str>,
    pub role: Role,
    pub status: MemberStatus,
    pub invite_token_hash: Option<&'a [u8]>,
    pub invite_expires_at: Option<DateTime<Utc>>,
    pub invited_by: Option<Uuid>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Case-insensitive, as the unique index is.
pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<User> {
    users::table
        .find(id)
        .select(User::as_select())
        .get_result(conn)
        .await
}

/// A member of `tenant`; another tenant's member is simply not found.
pub async fn find_member(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    id: Uuid,
) -> QueryResult<Option<User>> {
    users::table
        .filter(users::tenant_id.eq(tenant).and(users::id.eq(id)))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// The tenant's members, oldest first.
pub async fn list_members(conn: &mut AsyncPgConnection, tenant: Uuid) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::tenant_id.eq(tenant))
        .order(users::id.asc())
        .select(User::as_select())
        .load(conn)
        .await
}

/// Active owners of the tenant, locked for the rest of the transaction so two concurrent
/// demotions cannot both see "another owner is left".
pub async fn lock_active_owners(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
) -> QueryResult<Vec<Uuid>> {
    users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::role.eq(Role::Owner))
        .filter(users::status.eq(MemberStatus::Active))
        .select(users::id)
        .for_update()
        .load(conn)
        .await
}

pub async fn set_role(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    id: Uuid,
    role: Role,
) -> QueryResult<User> {
    diesel::update(users::table.filter(users::tenant_id.eq(tenant).and(users::id.eq(id))))
        .set(users::role.eq(role))
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete_member(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    id: Uuid,
) -> QueryResult<usize> {
    diesel::delete(users::table.filter(users::tenant_id.eq(tenant).and(users::id.eq(id))))
        .execute(conn)
        .await
}

/// Takes an unexpired invitation by its token hash and activates the member with a password.
/// The token works once.
pub async fn accept_invite(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    password_hash: &str,
) -> QueryResult<Option<User>> {
    diesel::update(
        users::table
            .filter(users::invite_token_hash.eq(token_hash))
            .filter(users::status.eq(MemberStatus::Invited))
            .filter(users::invite_expires_at.gt(diesel::dsl::now)),
    )
    .set((
        users::status.eq(MemberStatus::Active),
        users::password_hash.eq(password_hash),
        users::invite_token_hash.eq(None::<Vec<u8>>),
        users::invite_expires_at.eq(None::<DateTime<Utc>>),
    ))
    .returning(User::as_returning())
    .get_result(conn)
    .await
    .optional()
}

pub async fn set_password(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    password_hash: &str,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(password_hash))
        .execute(conn)
        .await
}

/// Platform staff: people with no tenant.
pub async fn list_staff(conn: &mut AsyncPgConnection) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::tenant_id.is_null())
        .order(users::id.asc())
        .select(User::as_select())
        .load(conn)
        .await
}

/// The pending member an unexpired invitation token belongs to.
pub async fn find_by_invite(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> QueryResult<Option<User>> {
    users::table
        .filter(users::invite_token_hash.eq(token_hash))
        .filter(users::status.eq(MemberStatus::Invited))
        .filter(users::invite_expires_at.gt(diesel::dsl::now))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}
