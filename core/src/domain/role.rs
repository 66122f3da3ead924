//! Who may do what. Tenant roles belong to a membership; platform roles to OpenClaw's staff.

use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Developer,
    Billing,
    Viewer,
    PlatformAdmin,
    BillingStaff,
}

impl Role {
    /// The roles inside a tenant, most powerful first.
    pub const TENANT: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Developer,
        Role::Billing,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Billing => "billing",
            Role::Viewer => "viewer",
            Role::PlatformAdmin => "platform_admin",
            Role::BillingStaff => "billing_staff",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "developer" => Role::Developer,
            "billing" => Role::Billing,
            "viewer" => Role::Viewer,
            "platform_admin" => Role::PlatformAdmin,
            "billing_staff" => Role::BillingStaff,
            _ => return None,
        })
    }

    pub fn is_platform(self) -> bool {
        matches!(self, Role::PlatformAdmin | Role::BillingStaff)
    }
}

super::text_column!(Role);

/// Whether a member has signed in yet: invited members have no password until they accept.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Active,
    Invited,
}

impl MemberStatus {
    pub const ALL: [MemberStatus; 2] = [MemberStatus::Active, MemberStatus::Invited];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Invited => "invited",
        }
    }

    pub fn parse(s: &str) -> Option<MemberStatus> {
        MemberStatus::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

super::text_column!(MemberStatus);

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
