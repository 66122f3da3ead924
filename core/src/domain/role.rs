//! Who may do what. Tenant roles belong to a membership; platform roles to OpenClaw's staff.

use serde::{Deserialize, Serialize};

super::text_enum! {
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Role {
        Owner = "owner",
        Admin = "admin",
        Developer = "developer",
        Billing = "billing",
        Viewer = "viewer",
        PlatformAdmin = "platform_admin",
        BillingStaff = "billing_staff",
    }
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

    pub fn is_platform(self) -> bool {
        matches!(self, Role::PlatformAdmin | Role::BillingStaff)
    }
}

super::text_enum! {
    /// Whether a member has signed in yet: invited members have no password until they accept.
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum MemberStatus {
        Active = "active",
        Invited = "invited",
    }
}
