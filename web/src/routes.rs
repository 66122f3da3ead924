//! Every page and form post of the admin app, and who may use each. `configure` registers the
//! form posts from [`FORMS`] (each with its [`Who`], which the form guard reads), the page
//! guards read their `Who` from the constants [`PAGES`] lists (a unit test checks [`PAGES`]
//! against the router's own route list), and the route-walking test (`e2e/tests/api/
//! admin_walk.rs`) walks both tables as every role.

use actix_web::{Route, guard, web};
use openclaw_core::accounts::Identity;
use openclaw_core::permissions::{Action, allowed};

use crate::forms;
use crate::pages;

/// Who may see a page or post a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone, signed in or not (signing in, signing up, accepting an invitation).
    Public,
    /// Anyone signed in, tenant member or staff.
    AnyUser,
    /// A member of a tenant, whatever the role (staff have no tenant).
    Member,
    /// A member of a tenant whose role allows the action.
    Tenant(Action),
    /// Anyone signed in gets through the door; the service itself refuses a role without the
    /// action, with its sentence back on the form (the test message).
    Service(Action),
    /// Platform staff whose role allows the action.
    Platform(Action),
}

impl Who {
    /// Whether the signed-in `identity` may use the page or form (`Service`: whether the
    /// service will do what was asked, not just let it through the door).
    pub fn admits(self, identity: &Identity) -> bool {
        match self {
            Who::Public | Who::AnyUser => true,
            Who::Member => identity.tenant_id.is_some(),
            Who::Tenant(action) | Who::Service(action) => {
                identity.tenant_id.is_some() && allowed(identity.role, action)
            }
            Who::Platform(action) => identity.tenant_id.is_none() && allowed(identity.role, action),
        }
    }

    /// Whether the door asks for a session at all.
    pub fn needs_session(self) -> bool {
        self != Who::Public
    }

    /// Whether the door itself refuses someone signed in whom [`Who::admits`] does not admit
    /// (`Service` leaves that to the service).
    pub fn door_refuses(self, identity: &Identity) -> bool {
        match self {
            Who::Service(_) => false,
            who => !who.admits(identity),
        }
    }
}

/// A page (GET), its path in actix's `{param}` form.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub path: &'static str,
    pub who: Who,
}

/// Every page the router serves, with the `Who` its guard asks.
pub const PAGES: &[Page] = &[
    Page {
        path: "/",
        who: pages::dashboard::WHO,
    },
    Page {
        path: "/dashboard",
        who: pages::dashboard::WHO,
    },
    Page {
        path: "/sign-in",
        who: Who::Public,
    },
    Page {
        path: "/sign-up",
        who: Who::Public,
    },
    Page {
        path: "/accept-invite",
        who: Who::Public,
    },
    Page {
        path: "/api-keys",
        who: pages::api_keys::WHO,
    },
    Page {
        path: "/webhooks",
        who: pages::webhooks::WHO,
    },
    Page {
        path: "/webhooks/{id}",
        who: pages::webhooks::WHO,
    },
    Page {
        path: "/opt-outs",
        who: pages::opt_outs::WHO,
    },
    Page {
        path: "/inbound",
        who: pages::opt_outs::WHO,
    },
    Page {
        path: "/members",
        who: pages::members::WHO,
    },
    Page {
        path: "/audit-log",
        who: pages::audit_log::WHO,
    },
    Page {
        path: "/admin/tenants",
        who: pages::admin_tenants::WHO,
    },
    Page {
        path: "/admin/spend",
        who: pages::admin_spend::WHO,
    },
    Page {
        path: "/admin/billing",
        who: pages::admin_billing::WHO,
    },
    Page {
        path: "/settings",
        who: pages::settings::WHO,
    },
    Page {
        path: "/spend",
        who: pages::spend::WHO,
    },
    Page {
        path: "/providers",
        who: pages::providers::WHO,
    },
    Page {
        path: "/providers/new",
        who: pages::providers::NEW_WHO,
    },
    Page {
        path: "/providers/{id}",
        who: pages::providers::WHO,
    },
    Page {
        path: "/admin/providers",
        who: pages::providers::PLATFORM_WHO,
    },
    Page {
        path: "/admin/providers/new",
        who: pages::providers::PLATFORM_NEW_WHO,
    },
    Page {
        path: "/admin/providers/{id}",
        who: pages::providers::PLATFORM_WHO,
    },
    Page {
        path: "/messages",
        who: pages::messages::WHO,
    },
    Page {
        path: "/messages/new",
        who: pages::send::WHO,
    },
    Page {
        path: "/messages/{id}",
        who: pages::message::WHO,
    },
];

/// A form post, its path in actix's `{param}` form.
#[derive(Clone, Copy)]
pub struct Form {
    pub path: &'static str,
    pub who: Who,
    /// Whether the form is posted as `multipart/form-data` (a file upload) rather than
    /// URL-encoded.
    pub multipart: bool,
    handler: fn() -> Route,
}

const fn form(path: &'static str, who: Who, handler: fn() -> Route) -> Form {
    Form {
        path,
        who,
        multipart: false,
        handler,
    }
}

/// Every form post, with who may post it; the form guard takes the `Who` from here.
pub const FORMS: &[Form] = &[
    form("/sign-up", Who::Public, || {
        web::post().to(forms::auth::sign_up)
    }),
    form("/sign-in", Who::Public, || {
        web::post().to(forms::auth::sign_in)
    }),
    form("/accept-invite", Who::Public, || {
        web::post().to(forms::members::accept_invite)
    }),
    form("/messages/test", Who::Service(Action::SendMessages), || {
        web::post().to(forms::messages::send_test)
    }),
    form("/api-keys", Who::Tenant(Action::ManageApiKeys), || {
        web::post().to(forms::keys::create)
    }),
    form(
        "/api-keys/{id}/revoke",
        Who::Tenant(Action::ManageApiKeys),
        || web::post().to(forms::keys::revoke),
    ),
    form(
        "/api-keys/{id}/rotate",
        Who::Tenant(Action::ManageApiKeys),
        || web::post().to(forms::keys::rotate),
    ),
    form("/webhooks", Who::Tenant(Action::ManageWebhooks), || {
        web::post().to(forms::webhooks::create)
    }),
    form(
        "/webhooks/callback-secret",
        Who::Tenant(Action::ManageWebhooks),
        || web::post().to(forms::webhooks::callback_secret),
    ),
    form(
        "/webhooks/{id}/delete",
        Who::Tenant(Action::ManageWebhooks),
        || web::post().to(forms::webhooks::delete),
    ),
    form(
        "/webhooks/{id}/rotate",
        Who::Tenant(Action::ManageWebhooks),
        || web::post().to(forms::webhooks::rotate),
    ),
    form(
        "/webhooks/{id}/deliveries/{delivery_id}/replay",
        Who::Tenant(Action::ManageWebhooks),
        || web::post().to(forms::webhooks::replay),
    ),
    form("/opt-outs", Who::Tenant(Action::ManageOptOuts), || {
        web::post().to(forms::opt_outs::add)
    }),
    form(
        "/opt-outs/{number}/remove",
        Who::Tenant(Action::ManageOptOuts),
        || web::post().to(forms::opt_outs::remove),
    ),
    Form {
        path: "/opt-outs/import",
        who: Who::Tenant(Action::ManageOptOuts),
        multipart: true,
        handler: || web::post().to(forms::opt_outs::import),
    },
    form("/providers", Who::Tenant(Action::ManageProviders), || {
        web::post().to(forms::providers::create)
    }),
    form(
        "/providers/{id}",
        Who::Tenant(Action::ManageProviders),
        || web::post().to(forms::providers::update),
    ),
    Form {
        path: "/providers/{id}/prices",
        who: Who::Tenant(Action::ManageProviders),
        multipart: true,
        handler: || web::post().to(forms::providers::upload_prices),
    },
    form(
        "/providers/{id}/delete",
        Who::Tenant(Action::ManageProviders),
        || web::post().to(forms::providers::delete),
    ),
    form(
        "/admin/providers",
        Who::Platform(Action::ManagePlatformProviders),
        || web::post().to(forms::providers::create_platform),
    ),
    form(
        "/admin/providers/{id}",
        Who::Platform(Action::ManagePlatformProviders),
        || web::post().to(forms::providers::update_platform),
    ),
    Form {
        path: "/admin/providers/{id}/cost-prices",
        who: Who::Platform(Action::ManagePlatformProviders),
        multipart: true,
        handler: || web::post().to(forms::providers::upload_platform_cost_prices),
    },
    Form {
        path: "/admin/providers/{id}/sell-prices",
        who: Who::Platform(Action::ManagePlatformProviders),
        multipart: true,
        handler: || web::post().to(forms::providers::upload_platform_sell_prices),
    },
    form(
        "/admin/providers/{id}/delete",
        Who::Platform(Action::ManagePlatformProviders),
        || web::post().to(forms::providers::delete_platform),
    ),
    form("/settings", Who::Tenant(Action::ManageSettings), || {
        web::post().to(forms::settings::save)
    }),
    form("/spend/budget", Who::Tenant(Action::ManageBudget), || {
        web::post().to(forms::budget::save)
    }),
    form(
        "/spend/budget/remove",
        Who::Tenant(Action::ManageBudget),
        || web::post().to(forms::budget::remove),
    ),
    form(
        "/admin/billing/settings",
        Who::Platform(Action::ManageBilling),
        || web::post().to(forms::billing::save_settings),
    ),
    form(
        "/admin/billing/tenant-fee",
        Who::Platform(Action::ManageBilling),
        || web::post().to(forms::billing::save_tenant_fee),
    ),
    form(
        "/admin/billing/tenant-currency",
        Who::Platform(Action::ManageBilling),
        || web::post().to(forms::billing::save_tenant_currency),
    ),
    form(
        "/admin/billing/rates",
        Who::Platform(Action::ManageBilling),
        || web::post().to(forms::billing::save_rates),
    ),
    form(
        "/admin/billing/close",
        Who::Platform(Action::CloseBillingPeriod),
        || web::post().to(forms::billing::close_period),
    ),
    form("/settings/password", Who::AnyUser, || {
        web::post().to(forms::auth::change_password)
    }),
    form("/members", Who::Tenant(Action::ManageMembers), || {
        web::post().to(forms::members::invite)
    }),
    form(
        "/members/{id}/role",
        Who::Tenant(Action::ManageMembers),
        || web::post().to(forms::members::change_role),
    ),
    form(
        "/members/{id}/remove",
        Who::Tenant(Action::ManageMembers),
        || web::post().to(forms::members::remove),
    ),
    // Anyone may sign out, signed in or not; it always ends on the sign-in page.
    form("/sign-out", Who::Public, || {
        web::post().to(forms::auth::sign_out)
    }),
];

/// Registers every form post of [`FORMS`], each carrying its `Who` for the form guard.
pub fn register_forms(cfg: &mut web::ServiceConfig) {
    for form in FORMS {
        // The POST guard on the resource lets a GET of the same path fall through to the
        // page.
        cfg.service(
            web::resource(form.path)
                .guard(guard::Post())
                .app_data(form.who)
                .route((form.handler)()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_the_router_serves_is_listed_once() {
        let served: std::collections::BTreeSet<String> =
            leptos_actix::generate_route_list(crate::App)
                .iter()
                .map(|r| r.path().to_owned())
                .collect();
        let listed: std::collections::BTreeSet<String> =
            PAGES.iter().map(|p| p.path.to_owned()).collect();
        assert_eq!(PAGES.len(), listed.len(), "a page is listed twice");
        assert_eq!(served, listed, "PAGES and the router disagree");
    }

    #[test]
    fn every_form_is_listed_once() {
        let listed: std::collections::BTreeSet<&str> = FORMS.iter().map(|f| f.path).collect();
        assert_eq!(FORMS.len(), listed.len(), "a form is listed twice");
    }
}
