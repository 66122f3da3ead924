use leptos::prelude::*;

/// The frame of every page: header with the product name and navigation, then the page.
/// Signed-in pages get the app's navigation and a sign-out button (a form post: it works
/// without JavaScript).
#[component]
pub fn Layout(#[prop(optional)] signed_in: bool, children: Children) -> impl IntoView {
    use openclaw_core::permissions::{Action, allowed};
    let nav = if signed_in {
        // Links follow the permission matrix: a role sees only the pages it may use.
        let role = crate::pages::nav_role();
        let may = |action| role.is_some_and(|r| allowed(r, action));
        let staff = role.is_some_and(|r| r.is_platform());
        let links: Vec<(&'static str, &'static str)> = [
            (!staff, "/dashboard", "Dashboard"),
            (may(Action::ReadMessages), "/messages", "Messages"),
            (
                may(Action::SendMessages),
                "/messages/new",
                "Send a test message",
            ),
            (may(Action::ReadSpend), "/spend", "Spend"),
            (may(Action::ReadProviders), "/providers", "Providers"),
            (may(Action::ReadApiKeys), "/api-keys", "API keys"),
            (may(Action::ReadWebhooks), "/webhooks", "Webhooks"),
            (may(Action::ReadMessages), "/inbound", "Inbound"),
            (may(Action::ReadMessages), "/opt-outs", "Opt-outs"),
            (may(Action::ReadMembers), "/members", "Members"),
            (may(Action::ReadAuditLog), "/audit-log", "Audit log"),
            (!staff && role.is_some(), "/settings", "Settings"),
            (may(Action::ListTenants), "/admin/tenants", "Tenants"),
            (may(Action::ReadSpendReport), "/admin/spend", "Spend report"),
            (may(Action::ReadBilling), "/admin/billing", "Billing"),
            (
                may(Action::ReadPlatformProviders),
                "/admin/providers",
                "Platform providers",
            ),
        ]
        .into_iter()
        .filter(|(show, _, _)| *show)
        .map(|(_, href, text)| (href, text))
        .collect();
        view! {
            <nav aria-label="Main">
                {links.into_iter().map(|(href, text)| view! { <a href=href>{text}</a> }).collect_view()}
                <a href="/openapi.json">"API reference"</a>
                <form method="post" action="/sign-out" class="inline">
                    <button type="submit" class="link">"Sign out"</button>
                </form>
            </nav>
        }
        .into_any()
    } else {
        view! {
            <nav aria-label="Main">
                <a href="/sign-in">"Sign in"</a>
                <a href="/sign-up">"Create an account"</a>
                <a href="/openapi.json">"API reference"</a>
            </nav>
        }
        .into_any()
    };
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="top">
            <a class="brand" href="/">"OpenClaw"</a>
            {nav}
        </header>
        <main id="main">{children()}</main>
        <footer class="foot">"OpenClaw — one API for every SMS provider."</footer>
    }
}

/// A labelled input with its error, if any, right below it.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] value: String,
    #[prop(optional_no_strip)] error: Option<String>,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    let invalid = error.is_some();
    view! {
        <label for=name>{label}</label>
        <input
            id=name
            name=name
            type=kind
            autocomplete=autocomplete
            value=value
            required
            aria-invalid=if invalid { "true" } else { "false" }
            aria-describedby=invalid.then(|| error_id.clone())
        />
        {error.map(|e| view! { <p class="field-error" id=error_id>{e}</p> })}
    }
}
