//! What an HTTP request says about who sent it, and the request id and span every request
//! gets, for the API and the admin app alike (behind the `actix` feature: the worker has no
//! HTTP requests).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tracing::Instrument;
use tracing::field::Empty;

use crate::audit::{Client, client_ip};
use crate::context::AppContext;
use crate::trace::{self, RequestId};

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

/// Middleware giving every request an id and a span: the caller's `X-Request-Id` when it is
/// sane ([`RequestId::parse`]), else a new one; kept in the request's extensions, made the
/// task's [`trace::current`] id, echoed as `X-Request-Id` on every response (errors, 404s,
/// pages and hooks included), and carried by the `request` span, which also holds the method,
/// the route pattern, the status and, once known, the tenant, message and provider ids.
pub async fn request_ids(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(trace::HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(id.clone());
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        // Evaluated only when the span is enabled (not at `RUST_LOG=warn`).
        route = %req.match_pattern().unwrap_or_else(|| "-".into()),
        request_id = %id,
        tenant_id = Empty,
        message_id = Empty,
        provider_id = Empty,
        status = Empty,
    );
    let echo = |headers: &mut actix_web::http::header::HeaderMap| {
        if let Ok(value) = HeaderValue::from_str(id.as_str()) {
            headers.insert(HeaderName::from_static(trace::HEADER), value);
        }
    };
    match trace::scope(id.clone(), next.call(req).instrument(span.clone())).await {
        Ok(mut res) => {
            span.record("status", res.status().as_u16());
            echo(res.headers_mut());
            Ok(res)
        }
        // An error no handler turned into a response (a middleware's): answered as it would
        // be, with the id.
        Err(e) => {
            let mut res = e.error_response();
            span.record("status", res.status().as_u16());
            echo(res.headers_mut());
            Err(actix_web::error::InternalError::from_response(e, res).into())
        }
    }
}

/// The request's id (set by [`request_ids`]); a new one if that middleware is not in place.
impl FromRequest for RequestId {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<RequestId, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req.extensions().get::<RequestId>().cloned();
        std::future::ready(Ok(id.unwrap_or_else(RequestId::generate)))
    }
}
