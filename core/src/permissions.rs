//! The permission matrix, written once as data: which role may do which action. Every API
//! handler and every admin-app page asks [`allowed`] (through `Caller::require`,
//! `User::require` or the web's `require`) before doing anything.

use crate::domain::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    SendMessages,
    ReadMessages,
    ReadSpend,
    ReadApiKeys,
    ManageApiKeys,
    ReadProviders,
    ManageProviders,
    /// Tenant name and default sender ids.
    ManageSettings,
    ManageBudget,
    /// The tenant's invoices.
    ReadInvoices,
    ReadMembers,
    /// Invite, change roles, remove. Only owners may grant or take away `owner`.
    ManageMembers,
    ReadAuditLog,
    /// The tenant's webhook endpoints and their deliveries.
    ReadWebhooks,
    /// Add, remove and rotate webhook endpoints, replay deliveries, and make the callback
    /// secret.
    ManageWebhooks,
    /// Add and remove opt-outs (one by one or from a CSV list). Reading them, and the inbound
    /// messages, is `ReadMessages`.
    ManageOptOuts,
    /// Platform staff: the list of tenants.
    ListTenants,
    /// Platform staff: the platform's own audit log (staff actions, sign-in failures of
    /// unknown addresses, staff accounts created).
    ReadPlatformAudit,
    /// Platform staff: every tenant's spend per period (JSON or CSV).
    ReadSpendReport,
    /// Platform staff: the billing settings, tenants' fees, periods and invoices.
    ReadBilling,
    /// Platform admins: the platform fee, the default markup, the grace period, and tenants'
    /// own fees.
    ManageBilling,
    /// Platform staff: close a period into invoices.
    CloseBillingPeriod,
    /// Platform staff: the platform's providers and their cost and sell prices.
    ReadPlatformProviders,
    /// Platform admins: add, change and remove the platform's providers and their prices.
    ManagePlatformProviders,
}

use Action::*;
use Role::*;

/// Role × action. Tenant roles act inside their tenant only; platform roles act on no
/// tenant's data beyond what is listed here.
pub const MATRIX: &[(Role, &[Action])] = &[
    (
        Owner,
        &[
            SendMessages,
            ReadMessages,
            ReadSpend,
            ReadApiKeys,
            ManageApiKeys,
            ReadProviders,
            ManageProviders,
            ManageSettings,
            ManageBudget,
            ReadInvoices,
            ReadMembers,
            ManageMembers,
            ReadAuditLog,
            ReadWebhooks,
            ManageWebhooks,
            ManageOptOuts,
        ],
    ),
    (
        Admin,
        &[
            SendMessages,
            ReadMessages,
            ReadSpend,
            ReadApiKeys,
            ManageApiKeys,
            ReadProviders,
            ManageProviders,
            ManageSettings,
            ManageBudget,
            ReadInvoices,
            ReadMembers,
            ManageMembers,
            ReadAuditLog,
            ReadWebhooks,
            ManageWebhooks,
            ManageOptOuts,
        ],
    ),
    (
        Developer,
        &[
            SendMessages,
            ReadMessages,
            ReadApiKeys,
            ManageApiKeys,
            ReadProviders,
            ReadMembers,
            ReadWebhooks,
            ManageWebhooks,
            ManageOptOuts,
        ],
    ),
    (
        Billing,
        &[
            ReadMessages,
            ReadSpend,
            ManageBudget,
            ReadInvoices,
            ReadProviders,
            ReadMembers,
            ReadWebhooks,
        ],
    ),
    (
        Viewer,
        &[ReadMessages, ReadProviders, ReadMembers, ReadWebhooks],
    ),
    (
        PlatformAdmin,
        &[
            ListTenants,
            ReadPlatformAudit,
            ReadSpendReport,
            ReadBilling,
            ManageBilling,
            CloseBillingPeriod,
            ReadPlatformProviders,
            ManagePlatformProviders,
        ],
    ),
    (
        BillingStaff,
        &[
            ListTenants,
            ReadSpendReport,
            ReadBilling,
            CloseBillingPeriod,
            ReadPlatformProviders,
        ],
    ),
];

pub fn allowed(role: Role, action: Action) -> bool {
    MATRIX
        .iter()
        .any(|(r, actions)| *r == role && actions.contains(&action))
}

impl Action {
    /// Every action, for documentation and exhaustive tests.
    pub const ALL: &[Action] = &[
        SendMessages,
        ReadMessages,
        ReadSpend,
        ReadApiKeys,
        ManageApiKeys,
        ReadProviders,
        ManageProviders,
        ManageSettings,
        ManageBudget,
        ReadInvoices,
        ReadMembers,
        ManageMembers,
        ReadAuditLog,
        ReadWebhooks,
        ManageWebhooks,
        ManageOptOuts,
        ListTenants,
        ReadPlatformAudit,
        ReadSpendReport,
        ReadBilling,
        ManageBilling,
        CloseBillingPeriod,
        ReadPlatformProviders,
        ManagePlatformProviders,
    ];

    /// Actions on the platform as a whole rather than inside one tenant.
    pub fn is_platform(self) -> bool {
        matches!(
            self,
            ListTenants
                | ReadPlatformAudit
                | ReadSpendReport
                | ReadBilling
                | ManageBilling
                | CloseBillingPeriod
                | ReadPlatformProviders
                | ManagePlatformProviders
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            SendMessages => "send messages",
            ReadMessages => "read messages",
            ReadSpend => "read spend",
            ReadApiKeys => "read API keys",
            ManageApiKeys => "manage API keys",
            ReadProviders => "read providers",
            ManageProviders => "manage providers",
            ManageSettings => "manage settings",
            ManageBudget => "see and set the budget",
            ReadInvoices => "read invoices",
            ReadMembers => "read members",
            ManageMembers => "manage members",
            ReadWebhooks => "read webhooks",
            ManageWebhooks => "manage webhooks",
            ManageOptOuts => "add and remove opt-outs",
            ReadAuditLog => "read the audit log",
            ListTenants => "list tenants",
            ReadPlatformAudit => "read the platform audit log",
            ReadSpendReport => "read the spend report",
            ReadBilling => "read billing settings and invoices",
            ManageBilling => "set the platform fee, markup, grace period and exchange rates",
            CloseBillingPeriod => "close a billing period",
            ReadPlatformProviders => "read platform providers and their prices",
            ManagePlatformProviders => "manage platform providers and their prices",
        }
    }
}

/// The matrix as the Markdown table the README shows (a test keeps the two the same).
pub fn markdown_table() -> String {
    let roles = [
        Owner,
        Admin,
        Developer,
        Billing,
        Viewer,
        PlatformAdmin,
        BillingStaff,
    ];
    let mut out = String::from("| action |");
    for role in roles {
        out.push_str(&format!(" `{role}` |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(roles.len()));
    out.push('\n');
    for action in Action::ALL {
        out.push_str(&format!("| {} |", action.name()));
        for role in roles {
            out.push_str(if allowed(role, *action) {
                " ✓ |"
            } else {
                " |"
            });
        }
        out.push('\n');
    }
    out
}

/// API key scopes map onto the few actions a key can take.
pub fn scope_for(action: Action) -> Option<&'static str> {
    match action {
        SendMessages => Some("messages:send"),
        ReadMessages => Some("messages:read"),
        ReadSpend => Some("reports:read"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_do_everything_viewers_only_read() {
        assert!(allowed(Owner, ManageProviders));
        assert!(allowed(Viewer, ReadMessages));
        assert!(!allowed(Viewer, SendMessages));
        assert!(!allowed(Billing, ManageApiKeys));
        assert!(!allowed(Developer, ManageProviders));
        assert!(!allowed(PlatformAdmin, ReadMessages));
    }

    #[test]
    fn tenant_roles_never_get_platform_actions_and_staff_no_tenant_ones() {
        for (role, actions) in MATRIX {
            for action in *actions {
                assert_eq!(
                    role.is_platform(),
                    action.is_platform(),
                    "{role} must not {}",
                    action.name()
                );
            }
        }
    }

    #[test]
    fn every_action_is_listed_once_and_owners_have_every_tenant_action() {
        for action in Action::ALL {
            assert_eq!(Action::ALL.iter().filter(|a| *a == action).count(), 1);
            assert_eq!(allowed(Owner, *action), !action.is_platform());
        }
    }

    #[test]
    fn the_readme_shows_this_matrix() {
        let readme = include_str!("../../README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's permission table is out of date; paste this:\n{table}"
        );
    }

    #[test]
    fn keys_reach_only_message_and_report_actions() {
        assert_eq!(scope_for(SendMessages), Some("messages:send"));
        assert_eq!(scope_for(ManageProviders), None);
    }
}
