//! openclaw-web: the admin app, server-rendered with Leptos through leptos_actix and mounted
//! by openclaw-server at `/` beside the `/v1` API. Pages work without JavaScript.

pub mod components;
pub mod forms;
pub mod pages;
pub mod routes;
pub mod session;

use actix_web::{HttpResponse, web};
use leptos::prelude::*;
use leptos_actix::LeptosRoutes;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use pages::accept_invite::AcceptInvite;
use pages::admin_billing::AdminBilling;
use pages::admin_spend::AdminSpend;
use pages::admin_tenants::AdminTenants;
use pages::api_keys::ApiKeys;
use pages::audit_log::AuditLog;
use pages::dashboard::Dashboard;
use pages::members::MembersPage;
use pages::message::MessageDetail;
use pages::messages::Messages;
use pages::not_found::NotFound;
use pages::opt_outs::{InboundMessages, OptOuts};
use pages::providers::{
    NewPlatformProvider, NewProvider, PlatformProviderDetail, PlatformProviders, ProviderDetail,
    Providers,
};
use pages::send::SendTest;
use pages::settings::Settings;
use pages::sign_in::SignIn;
use pages::sign_up::SignUp;
use pages::spend::Spend;
use pages::webhooks::{WebhookDetail, Webhooks};

const STYLESHEET: &str = include_str!("../assets/app.css");
const SCRIPT: &str = include_str!("../assets/app.js");

/// The HTML document around every page.
pub fn shell() -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="stylesheet" href="/assets/app.css" />
                <script src="/assets/app.js" defer></script>
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="OpenClaw" />
        <Router>
            // Async: the whole page is rendered before anything is sent, so pages need no
            // JavaScript and can still redirect or set cookies.
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Dashboard ssr=SsrMode::Async />
                <Route path=path!("/dashboard") view=Dashboard ssr=SsrMode::Async />
                <Route path=path!("/sign-in") view=SignIn ssr=SsrMode::Async />
                <Route path=path!("/sign-up") view=SignUp ssr=SsrMode::Async />
                <Route path=path!("/api-keys") view=ApiKeys ssr=SsrMode::Async />
                <Route path=path!("/members") view=MembersPage ssr=SsrMode::Async />
                <Route path=path!("/webhooks") view=Webhooks ssr=SsrMode::Async />
                <Route path=path!("/opt-outs") view=OptOuts ssr=SsrMode::Async />
                <Route path=path!("/inbound") view=InboundMessages ssr=SsrMode::Async />
                <Route path=path!("/webhooks/:id") view=WebhookDetail ssr=SsrMode::Async />
                <Route path=path!("/accept-invite") view=AcceptInvite ssr=SsrMode::Async />
                <Route path=path!("/audit-log") view=AuditLog ssr=SsrMode::Async />
                <Route path=path!("/admin/tenants") view=AdminTenants ssr=SsrMode::Async />
                <Route path=path!("/admin/spend") view=AdminSpend ssr=SsrMode::Async />
                <Route path=path!("/admin/billing") view=AdminBilling ssr=SsrMode::Async />
                <Route path=path!("/admin/providers") view=PlatformProviders ssr=SsrMode::Async />
                <Route path=path!("/admin/providers/new") view=NewPlatformProvider ssr=SsrMode::Async />
                <Route path=path!("/admin/providers/:id") view=PlatformProviderDetail ssr=SsrMode::Async />
                <Route path=path!("/settings") view=Settings ssr=SsrMode::Async />
                <Route path=path!("/spend") view=Spend ssr=SsrMode::Async />
                <Route path=path!("/providers") view=Providers ssr=SsrMode::Async />
                <Route path=path!("/providers/new") view=NewProvider ssr=SsrMode::Async />
                <Route path=path!("/providers/:id") view=ProviderDetail ssr=SsrMode::Async />
                <Route path=path!("/messages") view=Messages ssr=SsrMode::Async />
                <Route path=path!("/messages/new") view=SendTest ssr=SsrMode::Async />
                <Route path=path!("/messages/:id") view=MessageDetail ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(SCRIPT)
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(STYLESHEET)
}

/// Security headers for every response: a strict Content-Security-Policy (only our own
/// stylesheet and script, no framing), no MIME sniffing, no referrer beyond our origin, and
/// HSTS when the public URL is https.
pub fn security_headers(https: bool) -> actix_web::middleware::DefaultHeaders {
    let mut headers = actix_web::middleware::DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"));
    if https {
        headers = headers.add((
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        ));
    }
    headers
}

/// Registers the pages, their form posts (`routes::FORMS`) and the stylesheet. The server provides a
/// `web::Data<AppContext>` (`openclaw_core::context`), the context its API shares.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let page_routes = leptos_actix::generate_route_list(App);
    cfg.route("/assets/app.css", web::get().to(stylesheet))
        .route("/assets/app.js", web::get().to(script))
        .route(
            "/admin/spend-report.csv",
            web::get().to(pages::admin_spend::download),
        )
        .route("/opt-outs.csv", web::get().to(pages::opt_outs::download));
    routes::register_forms(cfg);
    cfg.leptos_routes(page_routes, shell);
}
