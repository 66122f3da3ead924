//! Pages. Each renders on the server; the ones behind sign-in check the session cookie first
//! and redirect to the sign-in page without one.

pub mod accept_invite;
pub mod admin_billing;
pub mod admin_spend;
pub mod admin_tenants;
pub mod api_keys;
pub mod audit_log;
pub mod dashboard;
pub mod members;
pub mod message;
pub mod messages;
pub mod not_found;
pub mod opt_outs;
pub mod providers;
pub mod send;
pub mod settings;
pub mod sign_in;
pub mod sign_up;
pub mod spend;
pub mod webhooks;

use actix_web::HttpMessage;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web;
use leptos::prelude::*;
use openclaw_core::accounts::Identity;

use crate::session::{self, AppContext, Flash};

/// The request being rendered and where to put response headers.
pub(crate) fn request() -> Option<(leptos_actix::Request, leptos_actix::ResponseOptions)> {
    Some((use_context()?, use_context()?))
}

fn set_cookie(res: &leptos_actix::ResponseOptions, cookie: actix_web::cookie::Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        res.append_header(header::SET_COOKIE, value);
    }
}

/// Sends the browser elsewhere (the page must render with `SsrMode::Async`, so nothing has
/// been sent yet).
pub(crate) fn redirect(res: &leptos_actix::ResponseOptions, to: &str) {
    res.insert_header(header::LOCATION, HeaderValue::from_str(to).expect("a path"));
    res.set_status(StatusCode::SEE_OTHER);
}

/// The form outcome carried over a redirect, consumed as it is read.
pub(crate) fn take_flash(form: &str) -> Flash {
    let Some((req, res)) = request() else {
        return Flash::default();
    };
    let Some(flash) = Flash::from_request(&req) else {
        return Flash::default();
    };
    if let Some(ctx) = req.app_data::<web::Data<AppContext>>() {
        set_cookie(&res, Flash::cleared(ctx));
    }
    if flash.form == form {
        flash
    } else {
        Flash::default()
    }
}

/// The signed-in person with the app's context, or a redirect to the sign-in page.
pub(crate) async fn signed_in() -> Option<(web::Data<AppContext>, Identity)> {
    let (req, res) = request()?;
    let Some(ctx) = req.app_data::<web::Data<AppContext>>().cloned() else {
        tracing::error!("the admin app is mounted without its AppContext");
        redirect(&res, "/sign-in");
        return None;
    };
    let cookies = session::SessionCookies::of(&req);
    drop(req);
    match session::current(&ctx, cookies).await {
        Some((identity, refreshed)) => {
            // The layout's navigation shows only what this role may use.
            if let Some((req, _)) = request() {
                req.extensions_mut().insert(NavRole(identity.role));
            }
            if let Some(tokens) = refreshed {
                for c in session::session_cookies(&ctx, &tokens) {
                    set_cookie(&res, c);
                }
            }
            Some((ctx, identity))
        }
        None => {
            redirect(&res, "/sign-in");
            None
        }
    }
}

/// The signed-in staff member as the services take them, with this request's client address
/// and user agent for the audit log.
pub(crate) fn staff_of(identity: &Identity) -> openclaw_core::staff::Staff {
    let actor = request()
        .map(|(req, _)| session::client_of(&req))
        .unwrap_or_default()
        .person(identity.user_id, true);
    openclaw_core::staff::Staff {
        role: identity.role,
        actor,
    }
}

/// The unpaid invoice that has the tenant's live sends refused now, if one has (read from the
/// tenant's cached terms, as the accept path reads them).
pub(crate) async fn overdue_of(
    ctx: &AppContext,
    tenant: uuid::Uuid,
) -> anyhow::Result<Option<openclaw_core::billing::terms::Overdue>> {
    Ok(ctx
        .routes
        .get(tenant)
        .await?
        .billing
        .past_due(chrono::Utc::now())
        .cloned())
}

/// The signed-in person's role, left on the request for the layout.
#[derive(Clone, Copy)]
pub(crate) struct NavRole(pub openclaw_core::domain::Role);

/// The role of whoever is signed in on this request, once a page has checked the session.
pub(crate) fn nav_role() -> Option<openclaw_core::domain::Role> {
    let (req, _) = request()?;
    req.extensions().get::<NavRole>().map(|r| r.0)
}

/// Marks the response 404 (the page says what is missing).
pub(crate) fn not_found_status() {
    if let Some((_, res)) = request() {
        res.set_status(StatusCode::NOT_FOUND);
    }
}

/// The signed-in person's role (or staff account) does not allow this page.
#[derive(Debug, thiserror::Error)]
#[error("this role does not allow the page")]
pub(crate) struct NotAllowed;

/// A friendly page for our own failures; the cause chain goes to the log, not to the person.
/// A page the role may not see answers 403 with a sentence saying so.
pub(crate) fn failed(e: anyhow::Error, what: &'static str) -> AnyView {
    if e.is::<NotAllowed>() {
        if let Some((_, res)) = request() {
            res.set_status(StatusCode::FORBIDDEN);
        }
        return view! {
            <crate::components::layout::Layout signed_in=true>
                <section class="card">
                    <h1>"Not available to your role"</h1>
                    <p>"Your role does not include " {what} ". Ask an owner or admin of your account if you need it."</p>
                </section>
            </crate::components::layout::Layout>
        }
        .into_any();
    }
    tracing::error!(error = format!("{e:#}"), what, "page failed");
    if let Some((_, res)) = request() {
        res.set_status(StatusCode::INTERNAL_SERVER_ERROR);
    }
    view! {
        <crate::components::layout::Layout signed_in=true>
            <section class="card">
                <h1>"Something went wrong"</h1>
                <p>"We could not load " {what} "; it has been logged. Please try again in a moment."</p>
            </section>
        </crate::components::layout::Layout>
    }
    .into_any()
}
