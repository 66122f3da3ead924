//! What an HTTP request says about who sent it, for the API and the admin app alike (behind
//! the `actix` feature: the worker has no HTTP requests).

use actix_web::HttpRequest;

use crate::audit::{Client, client_ip};
use crate::context::AppContext;

/// The client address and user agent of a request, for the audit log and throttling. The
/// address is the TCP peer, or, behind a proxy listed in `OPENCLAW_TRUSTED_PROXIES`, the
/// client that proxy names in `X-Forwarded-For`.
pub fn client_of(req: &HttpRequest) -> Client {
    let trusted = req
        .app_data::<actix_web::web::Data<AppContext>>()
        .map(|ctx| ctx.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    Client::new(
        client_ip(
            req.peer_addr().map(|a| a.ip()),
            header("x-forwarded-for"),
            trusted,
        )
        .map(|ip| ip.to_string()),
        header(actix_web::http::header::USER_AGENT.as_str()),
    )
}
