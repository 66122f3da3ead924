//! The permission matrix, written once as data: which role may do which action. Every
//! handler asks [`allowed`] (through `Caller::require`) before doing anything.

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
}

use Action::*;
use Role::*;

/// Role × action. Platform staff are not tenant members and appear nowhere here.
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
        ],
    ),
    (Billing, &[ReadMessages, ReadSpend, ReadProviders]),
    (Viewer, &[ReadMessages, ReadProviders]),
];

pub fn allowed(role: Role, action: Action) -> bool {
    MATRIX
        .iter()
        .any(|(r, actions)| *r == role && actions.contains(&action))
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
    fn keys_reach_only_message_and_report_actions() {
        assert_eq!(scope_for(SendMessages), Some("messages:send"));
        assert_eq!(scope_for(ManageProviders), None);
    }
}
