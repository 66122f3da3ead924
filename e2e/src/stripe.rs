//! A fake Stripe for tests: the slice of Stripe's API that OpenClaw's billing uses, answering
//! like Stripe over HTTP (form-encoded requests with the bracket syntax, JSON answers,
//! Stripe's error shape) with complete objects, so async-stripe's typed responses parse. The
//! shapes follow Stripe's published OpenAPI fixtures (stripe/openapi `fixtures3.json`), with
//! the values a real `send_invoice` flow has, checked against async-stripe 1.0.0-rc.10's
//! deserializers by the tests below.
//!
//! Wire surface (`Authorization: Bearer sk_test_…`, or HTTP Basic with the key as user, required;
//! else 401, and live keys are refused too):
//! - `POST /v1/customers`, `GET /v1/customers/{id}`
//! - `POST /v1/invoiceitems` (customer, currency in lower case, amount, description, metadata,
//!   invoice, period) → a pending item unless `invoice` names a draft; `GET /v1/invoiceitems`
//!   (`customer`, `pending`, `invoice`, `limit`, `starting_after`), `GET /v1/invoiceitems/{id}`
//! - `POST /v1/invoices` (customer, currency, collection_method, days_until_due, due_date,
//!   description, metadata, auto_advance, pending_invoice_items_behavior): a draft that takes
//!   the customer's pending items of its currency only with `include` (Stripe's default is
//!   `exclude`); `GET /v1/invoices/{id}`, `GET /v1/invoices` (`customer`, `status`, `limit`,
//!   `starting_after`)
//! - `POST /v1/invoices/{id}/finalize` → open, with number, hosted_invoice_url and due_date
//!   (`invoice.finalized`; a zero total is paid at once, `invoice.paid`, as at Stripe);
//!   `POST /v1/invoices/{id}/pay` → paid (`invoice.paid`; a draft is finalized first);
//!   `POST /v1/invoices/{id}/void` → void (`invoice.voided`)
//! - Parameters a route does not know are refused (`parameter_unknown`), as Stripe does.
//! - `Idempotency-Key` on a POST: the same key with the same method, path and parameters
//!   (compared as a set, so metadata order does not matter) replays the stored status and body
//!   byte for byte with `Idempotent-Replayed: true`, creating nothing; the same key with other
//!   parameters is a 400 `idempotency_error`. Keys are scoped per API key. Successful answers
//!   are stored; refusals are not (they are all validation errors, which Stripe does not store).
//!
//! Control surface (JSON, no auth):
//! - `PUT /_fake/config {"webhook_url", "webhook_secret"}`: where events are POSTed, signed
//!   `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`; `GET` shows it.
//! - `POST /_fake/fail {"method", "path_prefix", "status", "times", "apply", "delay_ms"}`: the next `times`
//!   matching calls answer `status` (api_error body, `Stripe-Should-Retry: true`). `apply:
//!   false`: nothing is applied or stored; `apply: true`: the call is applied and its real
//!   answer stored under its idempotency key, but this answer is the failure (a lost response).
//!   `delay_ms`: the answer comes only after that long (a slow Stripe: a test stops the caller
//!   while Stripe has done the call).
//! - `POST /_fake/invoices/{id}/pay`, `POST /_fake/invoices/{id}/payment_failed`: the customer
//!   paying an open invoice / a card declining (`invoice.paid` / `invoice.payment_failed`).
//! - `GET /_fake/pay/{id}`: the hosted invoice page (a small HTML page with a pay button).
//! - `GET /_fake/events` (every event, in order, with its deliveries), `POST
//!   /_fake/events/{id}/resend` (the same body again, freshly signed), `GET /_fake/requests`,
//!   `GET /_fake/stats`, `POST /_fake/reset` (everything, configuration and failures included).
//!
//! Events are delivered one at a time, in order, by one task; each answer (or transport error)
//! is recorded on the event. There are no automatic retries: resend exists.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

/// The API version events are rendered in when no request named one (async-stripe
/// 1.0.0-rc.10 sends this one as `Stripe-Version`).
const DEFAULT_API_VERSION: &str = "2026-09-30.endive";

/// Lines embedded in an invoice's `lines` (Stripe embeds the first 10).
const EMBEDDED_LINES: usize = 10;

// ---- state ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookConfig {
    pub webhook_url: String,
    pub webhook_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRule {
    pub method: String,
    pub path_prefix: String,
    pub status: u16,
    #[serde(default = "one")]
    pub times: u32,
    #[serde(default)]
    pub apply: bool,
    /// Answer only after this long (the call applied or not, as `apply` says): a slow
    /// Stripe, so a test can stop the caller while Stripe has done the call.
    #[serde(default)]
    pub delay_ms: u64,
}

fn one() -> u32 {
    1
}

/// One `/v1` request the fake answered.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub params: BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
    pub replayed: bool,
    /// Answered by a `/_fake/fail` rule.
    pub injected: bool,
    pub status: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub at: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
struct EventRecord {
    id: String,
    type_: String,
    created: i64,
    /// The JSON posted, kept so a resend is byte-identical.
    body: String,
    deliveries: Vec<Delivery>,
}

/// The stored answer of an idempotent request.
#[derive(Debug, Clone)]
struct Stored {
    fingerprint: (String, String, Vec<(String, String)>),
    status: u16,
    body: String,
}

#[derive(Debug, Clone)]
struct InvoiceRec {
    obj: Value,
    days_until_due: Option<u32>,
}

#[derive(Default)]
struct State {
    webhook: Option<WebhookConfig>,
    fails: Vec<FailRule>,
    customers: Vec<Value>,
    items: Vec<Value>,
    invoices: Vec<InvoiceRec>,
    finalized: u64,
    /// (API key, Idempotency-Key) → stored answer.
    idempotency: HashMap<(String, String), Stored>,
    events: Vec<EventRecord>,
    requests: Vec<RequestRecord>,
    /// The last `Stripe-Version` a client sent: events are rendered in it.
    api_version: Option<String>,
    /// Event ids made since the lock was taken, to hand to the delivery task.
    outbox: Vec<String>,
}

#[derive(Clone)]
struct Fake {
    state: Arc<Mutex<State>>,
    base_url: String,
    deliver: mpsc::UnboundedSender<String>,
}

impl Fake {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands the events made under `st` to the delivery task.
    fn flush(&self, mut st: MutexGuard<'_, State>) {
        let ids: Vec<String> = st.outbox.drain(..).collect();
        drop(st);
        for id in ids {
            let _ = self.deliver.send(id);
        }
    }
}

/// A running fake Stripe.
pub struct FakeStripe {
    base_url: String,
    handle: ServerHandle,
    delivery: tokio::task::JoinHandle<()>,
}

impl FakeStripe {
    /// `http://127.0.0.1:PORT` (no trailing slash); the client's `api_base`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.delivery.abort();
    }
}

/// Starts the fake on `addr` (port 0 for any) and returns once it listens.
pub async fn spawn(addr: &str) -> anyhow::Result<FakeStripe> {
    let listener = std::net::TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let base_url = format!("http://{bound}");
    let (tx, rx) = mpsc::unbounded_channel();
    let fake = Fake {
        state: Arc::new(Mutex::new(State::default())),
        base_url: base_url.clone(),
        deliver: tx,
    };
    let delivery = tokio::spawn(deliver_events(fake.clone(), rx));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(fake.clone()))
            .app_data(web::PayloadConfig::default().limit(1 << 20))
            .route("/v1/{tail:.*}", web::route().to(api))
            .route("/_fake/config", web::put().to(set_config))
            .route("/_fake/config", web::get().to(get_config))
            .route("/_fake/fail", web::post().to(add_fail))
            .route("/_fake/invoices/{id}/pay", web::post().to(customer_pays))
            .route(
                "/_fake/invoices/{id}/payment_failed",
                web::post().to(payment_fails),
            )
            .route("/_fake/pay/{id}", web::get().to(hosted_page))
            .route("/_fake/events", web::get().to(list_events))
            .route("/_fake/events/{id}/resend", web::post().to(resend_event))
            .route("/_fake/requests", web::get().to(list_requests))
            .route("/_fake/stats", web::get().to(stats))
            .route("/_fake/reset", web::post().to(reset))
    })
    .workers(1)
    .listen(listener)?
    .shutdown_timeout(1)
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(FakeStripe {
        base_url,
        handle,
        delivery,
    })
}

// ---- helpers --------------------------------------------------------------------------------

/// `prefix_` + "1" + 23 alphanumerics, as Stripe's ids look.
fn new_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let tail: String = (0..23)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect();
    format!("{prefix}_1{tail}")
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// Joins objects written in parts (one `json!` of a whole invoice exceeds the macro
/// recursion limit).
fn object(parts: Vec<Value>) -> Value {
    let mut all = Map::new();
    for part in parts {
        if let Value::Object(part) = part {
            all.extend(part);
        }
    }
    Value::Object(all)
}

/// A refusal in Stripe's error shape.
#[derive(Debug)]
struct ApiError {
    status: u16,
    type_: &'static str,
    code: Option<&'static str>,
    message: String,
    param: Option<String>,
}

impl ApiError {
    fn invalid(message: impl Into<String>, param: Option<&str>) -> ApiError {
        ApiError {
            status: 400,
            type_: "invalid_request_error",
            code: None,
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    fn code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    fn missing(kind: &str, id: &str, param: &str) -> ApiError {
        ApiError {
            status: 404,
            ..ApiError::invalid(format!("No such {kind}: '{id}'"), Some(param))
        }
        .code("resource_missing")
    }

    fn body(&self) -> String {
        let body = json!({"error": {
            "code": self.code,
            "doc_url": self.code.map(|c| format!("https://stripe.com/docs/error-codes/{}", c.replace('_', "-"))),
            "message": self.message,
            "param": self.param,
            "type": self.type_,
        }});
        serde_json::to_string_pretty(&body).unwrap_or_default()
    }
}

/// The answer to one `/v1` request before headers.
struct Answer {
    status: u16,
    body: String,
    replayed: bool,
    injected: bool,
    /// How long to wait before answering (an injected slow answer).
    delay_ms: u64,
}

impl Answer {
    fn of(result: Result<Value, ApiError>) -> Answer {
        match result {
            Ok(v) => Answer {
                status: 200,
                body: serde_json::to_string_pretty(&v).unwrap_or_default(),
                replayed: false,
                injected: false,
                delay_ms: 0,
            },
            Err(e) => Answer::error(&e),
        }
    }

    fn error(e: &ApiError) -> Answer {
        Answer {
            status: e.status,
            body: e.body(),
            replayed: false,
            injected: false,
            delay_ms: 0,
        }
    }

    fn injected(status: u16) -> Answer {
        let e = if status == 429 {
            ApiError {
                status,
                type_: "invalid_request_error",
                code: Some("rate_limit"),
                message: "Too many requests hit the API too quickly (injected by fake-stripe)."
                    .into(),
                param: None,
            }
        } else {
            ApiError {
                status,
                type_: "api_error",
                code: None,
                message: "An unknown error occurred (injected by fake-stripe).".into(),
                param: None,
            }
        };
        Answer {
            injected: true,
            ..Answer::error(&e)
        }
    }
}

/// Form or query parameters, in Stripe's bracket syntax (`metadata[tenant]=…`).
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses a parameter whose top-level name is not in `known`, as Stripe does.
    fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        for (k, _) in &self.0 {
            let top = k.split('[').next().unwrap_or(k);
            if top != "expand" && !known.contains(&top) {
                return Err(ApiError::invalid(
                    format!(
                        "Received unknown parameter: {k} (or one that fake-stripe does not model)"
                    ),
                    Some(k),
                )
                .code("parameter_unknown"));
            }
        }
        Ok(())
    }

    fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
            ApiError::invalid(format!("Missing required param: {key}."), Some(key))
                .code("parameter_missing")
        })
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::invalid(format!("Invalid integer: {v}"), Some(key))
                        .code("parameter_invalid_integer")
                })
            })
            .transpose()
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::invalid(
                    format!("Invalid boolean: {v}"),
                    Some(key),
                )),
            })
            .transpose()
    }

    /// `metadata[k]=v` pairs (an empty value unsets a key, as at Stripe).
    fn metadata(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in &self.0 {
            if let Some(inner) = k
                .strip_prefix("metadata[")
                .and_then(|r| r.strip_suffix(']'))
            {
                if v.is_empty() {
                    m.remove(inner);
                } else {
                    m.insert(inner.to_owned(), json!(v));
                }
            }
        }
        m
    }

    /// Stripe wants three lower-case letters.
    fn currency(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_lowercase()) => {
                Ok(Some(c.to_owned()))
            }
            Some(c) => Err(ApiError::invalid(
                format!("Invalid currency: {c}. Stripe takes ISO codes in lower case."),
                Some(key),
            )),
        }
    }

    /// Sorted, for comparing two requests' parameters as sets.
    fn fingerprint(&self) -> Vec<(String, String)> {
        let mut v = self.0.clone();
        v.sort();
        v
    }
}

/// The test secret key of `Authorization: Bearer sk_test_…`, or of HTTP Basic with the key as
/// the user name (`curl -u sk_test_…:`), as Stripe takes both.
fn bearer(req: &HttpRequest) -> Option<String> {
    use base64::Engine;
    let value = req.headers().get("Authorization")?.to_str().ok()?;
    let key = match (value.strip_prefix("Bearer "), value.strip_prefix("Basic ")) {
        (Some(key), _) => key.trim().to_owned(),
        (None, Some(basic)) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            text.split(':').next()?.to_owned()
        }
        (None, None) => return None,
    };
    key.starts_with("sk_test_").then_some(key)
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn json_response(status: u16) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    b.content_type("application/json");
    b.insert_header(("Request-Id", new_id("req")));
    b
}

// ---- /v1 ------------------------------------------------------------------------------------

async fn api(fake: web::Data<Fake>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let method = req.method().as_str().to_owned();
    let path = req.path().to_owned();
    let raw: &[u8] = if method == "GET" || method == "DELETE" {
        req.query_string().as_bytes()
    } else {
        &body
    };
    let idempotency_key = header(&req, "Idempotency-Key").filter(|k| !k.is_empty());
    let parsed = serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw);
    let recorded: BTreeMap<String, String> =
        parsed.clone().unwrap_or_default().into_iter().collect();
    let params = parsed.map(Params);

    // The lock is let go before any (injected) wait.
    let answer = {
        let mut st = fake.lock();
        if let Some(v) = header(&req, "Stripe-Version") {
            st.api_version = Some(v);
        }
        let answer = match (bearer(&req), params) {
            (None, _) => Answer::error(&ApiError {
                status: 401,
                type_: "invalid_request_error",
                code: None,
                message: "You did not provide a test API key (Authorization: Bearer sk_test_…)."
                    .into(),
                param: None,
            }),
            (_, Err(e)) => Answer::error(&ApiError::invalid(
                format!("Invalid request body: {e}"),
                None,
            )),
            (Some(api_key), Ok(params)) => answer(
                &mut st,
                &fake,
                &api_key,
                &method,
                &path,
                &params,
                &idempotency_key,
            ),
        };
        let seq = st.requests.len() as u64 + 1;
        st.requests.push(RequestRecord {
            seq,
            method,
            path,
            params: recorded,
            idempotency_key: idempotency_key.clone(),
            replayed: answer.replayed,
            injected: answer.injected,
            status: answer.status,
        });
        fake.flush(st);
        answer
    };
    if answer.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(answer.delay_ms)).await;
    }

    let mut response = json_response(answer.status);
    if let Some(key) = &idempotency_key {
        response.insert_header(("Idempotency-Key", key.as_str()));
    }
    if answer.replayed && !answer.injected {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    if answer.injected {
        response.insert_header(("Stripe-Should-Retry", "true"));
    }
    response.body(answer.body)
}

/// Failure rules, then idempotency, then the route.
fn answer(
    st: &mut State,
    fake: &Fake,
    api_key: &str,
    method: &str,
    path: &str,
    params: &Params,
    key: &Option<String>,
) -> Answer {
    let rule = st
        .fails
        .iter()
        .position(|r| r.method.eq_ignore_ascii_case(method) && path.starts_with(&r.path_prefix));
    let injected = rule.map(|i| {
        let r = &mut st.fails[i];
        r.times = r.times.saturating_sub(1);
        let taken = r.clone();
        if r.times == 0 {
            st.fails.remove(i);
        }
        taken
    });
    if let Some(rule) = &injected
        && !rule.apply
    {
        return Answer {
            delay_ms: rule.delay_ms,
            ..Answer::injected(rule.status)
        };
    }
    let fingerprint = (method.to_owned(), path.to_owned(), params.fingerprint());
    let scoped = key
        .as_ref()
        .filter(|_| method == "POST")
        .map(|k| (api_key.to_owned(), k.clone()));
    let real = match scoped.as_ref().and_then(|s| st.idempotency.get(s)) {
        Some(stored) if stored.fingerprint == fingerprint => Answer {
            status: stored.status,
            body: stored.body.clone(),
            replayed: true,
            injected: false,
            delay_ms: 0,
        },
        Some(_) => Answer::error(&ApiError {
            status: 400,
            type_: "idempotency_error",
            code: None,
            message: format!(
                "Keys for idempotent requests can only be used with the same parameters they \
                 were first used with. Try using a key other than '{}' if you meant to execute \
                 a different request.",
                key.as_deref().unwrap_or_default()
            ),
            param: None,
        }),
        None => {
            let real = Answer::of(route(st, fake, method, path, params, key.as_deref()));
            if let Some(scoped) = scoped
                && real.status == 200
            {
                st.idempotency.insert(
                    scoped,
                    Stored {
                        fingerprint,
                        status: real.status,
                        body: real.body.clone(),
                    },
                );
            }
            real
        }
    };
    match injected {
        Some(rule) => Answer {
            replayed: real.replayed,
            delay_ms: rule.delay_ms,
            ..Answer::injected(rule.status)
        },
        None => real,
    }
}

fn route(
    st: &mut State,
    fake: &Fake,
    method: &str,
    path: &str,
    p: &Params,
    key: Option<&str>,
) -> Result<Value, ApiError> {
    let tail = path.strip_prefix("/v1/").unwrap_or_default();
    let segments: Vec<&str> = tail.split('/').collect();
    let by = Cause::Api {
        idempotency_key: key.map(str::to_owned),
    };
    match (method, segments.as_slice()) {
        ("POST", ["customers"]) => create_customer(st, p),
        ("GET", ["customers", id]) => {
            p.only(&[])?;
            find(&st.customers, id)
                .cloned()
                .ok_or_else(|| ApiError::missing("customer", id, "id"))
        }
        ("POST", ["invoiceitems"]) => create_item(st, p),
        ("GET", ["invoiceitems"]) => list_items(st, p),
        ("GET", ["invoiceitems", id]) => {
            p.only(&[])?;
            find(&st.items, id)
                .cloned()
                .ok_or_else(|| ApiError::missing("invoiceitem", id, "id"))
        }
        ("POST", ["invoices"]) => create_invoice(st, p),
        ("GET", ["invoices"]) => list_invoices(st, p),
        ("GET", ["invoices", id]) => {
            p.only(&[])?;
            invoice(st, id).map(|i| i.obj.clone())
        }
        ("POST", ["invoices", id, "finalize"]) => {
            p.only(&["auto_advance"])?;
            let auto_advance = p.boolean("auto_advance")?;
            finalize(st, fake, id, auto_advance, &by)
        }
        ("POST", ["invoices", id, "pay"]) => {
            p.only(&[
                "paid_out_of_band",
                "payment_method",
                "source",
                "off_session",
            ])?;
            let draft = invoice(st, id)?.obj["status"] == "draft";
            if draft {
                finalize(st, fake, id, None, &by)?;
            }
            pay(st, fake, id, &by)
        }
        ("POST", ["invoices", id, "void"]) => {
            p.only(&[])?;
            void(st, fake, id, &by)
        }
        _ => Err(ApiError {
            status: 404,
            ..ApiError::invalid(
                format!(
                    "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs \
                     (fake-stripe serves customers, invoiceitems and invoices)."
                ),
                None,
            )
        }),
    }
}

fn find<'a>(list: &'a [Value], id: &str) -> Option<&'a Value> {
    list.iter().find(|v| v["id"] == id)
}

fn invoice<'a>(st: &'a mut State, id: &str) -> Result<&'a mut InvoiceRec, ApiError> {
    st.invoices
        .iter_mut()
        .find(|i| i.obj["id"] == id)
        .ok_or_else(|| ApiError::missing("invoice", id, "id"))
}

fn create_customer(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&["name", "email", "description", "phone", "metadata"])?;
    let id = new_id("cus");
    let prefix: String = (0..8)
        .map(|_| char::from(b"0123456789ABCDEF"[rand::random_range(0..16)]))
        .collect();
    let customer = object(vec![
        json!({
            "id": id, "object": "customer", "address": null, "balance": 0,
            "created": now(), "currency": null, "default_source": null, "delinquent": false,
            "description": p.get("description"), "discount": null, "email": p.get("email"),
            "invoice_prefix": prefix,
        }),
        json!({
            "invoice_settings": {"custom_fields": null, "default_payment_method": null,
                                 "footer": null, "rendering_options": null},
            "livemode": false, "metadata": p.metadata(), "name": p.get("name"),
            "next_invoice_sequence": 1, "phone": p.get("phone"), "preferred_locales": [],
            "shipping": null, "tax_exempt": "none", "test_clock": null,
        }),
    ]);
    st.customers.push(customer.clone());
    Ok(customer)
}

fn create_item(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "customer",
        "currency",
        "amount",
        "description",
        "metadata",
        "invoice",
        "period",
        "discountable",
    ])?;
    let customer = p.required("customer")?;
    if find(&st.customers, customer).is_none() {
        return Err(ApiError::missing("customer", customer, "customer"));
    }
    let currency = p.currency("currency")?.ok_or_else(|| {
        ApiError::invalid("Missing required param: currency.", Some("currency"))
            .code("parameter_missing")
    })?;
    let Some(amount) = p.int("amount")? else {
        return Err(ApiError::invalid(
            "Missing required param: amount (fake-stripe models amount-based items only).",
            Some("amount"),
        )
        .code("parameter_missing"));
    };
    let t = now();
    let start = p.int("period[start]")?.unwrap_or(t);
    let end = p.int("period[end]")?.unwrap_or(start);
    let target = match p.get("invoice") {
        Some(inv) => {
            let rec = invoice(st, inv).map_err(|_| ApiError::missing("invoice", inv, "invoice"))?;
            if rec.obj["status"] != "draft" {
                return Err(ApiError::invalid(
                    format!("Invoice {inv} is not a draft: items can only be added to drafts."),
                    Some("invoice"),
                ));
            }
            if rec.obj["customer"] != customer || rec.obj["currency"] != currency.as_str() {
                return Err(ApiError::invalid(
                    format!("Invoice {inv} is for another customer or currency."),
                    Some("invoice"),
                ));
            }
            Some(inv.to_owned())
        }
        None => None,
    };
    let item = object(vec![
        json!({
            "id": new_id("ii"), "object": "invoiceitem", "amount": amount,
            "currency": currency, "customer": customer, "customer_account": null, "date": t,
            "description": p.get("description"),
            "discountable": p.boolean("discountable")?.unwrap_or(amount >= 0),
            "discounts": [], "invoice": target, "livemode": false, "metadata": p.metadata(),
        }),
        json!({
            "net_amount": amount, "parent": null, "period": {"end": end, "start": start},
            "pricing": {"type": "price_details",
                        "price_details": {"price": new_id("price"), "product": new_id("prod")},
                        "unit_amount_decimal": amount.to_string()},
            "proration": false,
            "proration_details": {"credited_items": null, "discount_amounts": []},
            "quantity": 1, "quantity_decimal": "1", "tax_rates": [], "test_clock": null,
        }),
    ]);
    st.items.push(item.clone());
    if let Some(inv) = target {
        relink(st, &inv);
    }
    Ok(item)
}

/// Newest first, as Stripe lists; `limit` (1–100, default 10) and `starting_after`.
fn page(all: Vec<Value>, p: &Params, url: &str) -> Result<Value, ApiError> {
    let limit = p.int("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "Invalid limit: must be between 1 and 100",
            Some("limit"),
        ));
    }
    let mut rest: Vec<Value> = all.into_iter().rev().collect();
    if let Some(after) = p.get("starting_after") {
        let at = rest
            .iter()
            .position(|v| v["id"] == after)
            .ok_or_else(|| ApiError::missing("object", after, "starting_after"))?;
        rest.drain(..=at);
    }
    let has_more = rest.len() > limit as usize;
    rest.truncate(limit as usize);
    Ok(json!({"object": "list", "data": rest, "has_more": has_more, "url": url}))
}

fn list_items(st: &State, p: &Params) -> Result<Value, ApiError> {
    p.only(&["customer", "pending", "invoice", "limit", "starting_after"])?;
    let pending = p.boolean("pending")?;
    let all: Vec<Value> = st
        .items
        .iter()
        .filter(|i| p.get("customer").is_none_or(|c| i["customer"] == c))
        .filter(|i| p.get("invoice").is_none_or(|v| i["invoice"] == v))
        .filter(|i| pending.is_none_or(|want| i["invoice"].is_null() == want))
        .cloned()
        .collect();
    page(all, p, "/v1/invoiceitems")
}

fn list_invoices(st: &State, p: &Params) -> Result<Value, ApiError> {
    p.only(&["customer", "status", "limit", "starting_after"])?;
    let all: Vec<Value> = st
        .invoices
        .iter()
        .map(|i| &i.obj)
        .filter(|i| p.get("customer").is_none_or(|c| i["customer"] == c))
        .filter(|i| p.get("status").is_none_or(|s| i["status"] == s))
        .cloned()
        .collect();
    page(all, p, "/v1/invoices")
}

fn create_invoice(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "customer",
        "currency",
        "collection_method",
        "days_until_due",
        "due_date",
        "description",
        "metadata",
        "auto_advance",
        "pending_invoice_items_behavior",
    ])?;
    let customer_id = p.required("customer")?;
    let customer = find(&st.customers, customer_id)
        .cloned()
        .ok_or_else(|| ApiError::missing("customer", customer_id, "customer"))?;
    let currency = p
        .currency("currency")?
        .or_else(|| customer["currency"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "usd".to_owned());
    let collection = p.get("collection_method").unwrap_or("charge_automatically");
    let days = p.int("days_until_due")?;
    let due_date = p.int("due_date")?;
    match collection {
        "send_invoice" if days.is_none() && due_date.is_none() => {
            return Err(ApiError::invalid(
                "Missing required param: days_until_due.",
                Some("days_until_due"),
            )
            .code("parameter_missing"));
        }
        "send_invoice" => {}
        "charge_automatically" if days.is_some() || due_date.is_some() => {
            return Err(ApiError::invalid(
                "Invalid parameter: days_until_due and due_date can only be set when \
                 collection_method is send_invoice.",
                Some("days_until_due"),
            ));
        }
        "charge_automatically" => {}
        other => {
            return Err(ApiError::invalid(
                format!(
                    "Invalid collection_method: must be one of charge_automatically or send_invoice (got {other})"
                ),
                Some("collection_method"),
            ));
        }
    }
    let days_until_due = match days {
        Some(d) if (0..=36_500).contains(&d) => Some(d as u32),
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid days_until_due",
                Some("days_until_due"),
            ));
        }
        None => None,
    };
    let include = match p.get("pending_invoice_items_behavior") {
        None | Some("exclude") => false,
        Some("include") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                format!(
                    "Invalid pending_invoice_items_behavior: must be one of exclude or include (got {other})"
                ),
                Some("pending_invoice_items_behavior"),
            ));
        }
    };
    let id = new_id("in");
    let t = now();
    let obj = object(vec![
        json!({
            "id": id, "object": "invoice", "account_country": "US",
            "account_name": "fake-stripe", "account_tax_ids": null, "amount_due": 0,
            "amount_overpaid": 0, "amount_paid": 0, "amount_remaining": 0,
            "amount_shipping": 0, "application": null, "attempt_count": 0, "attempted": false,
            "auto_advance": p.boolean("auto_advance")?.unwrap_or(false),
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null,
                              "provider": null, "status": null},
            "automatically_finalizes_at": null, "billing_reason": "manual",
            "collection_method": collection, "confirmation_secret": null, "created": t,
            "currency": currency, "custom_fields": null,
        }),
        json!({
            "customer": customer_id, "customer_account": null,
            "customer_address": customer["address"], "customer_email": customer["email"],
            "customer_name": customer["name"], "customer_phone": customer["phone"],
            "customer_shipping": null, "customer_tax_exempt": "none", "customer_tax_ids": [],
            "default_payment_method": null, "default_source": null, "default_tax_rates": [],
            "description": p.get("description"), "discounts": [], "due_date": due_date,
            "effective_at": null, "ending_balance": null, "footer": null,
            "from_invoice": null, "hosted_invoice_url": null, "invoice_pdf": null,
            "issuer": {"type": "self"}, "last_finalization_error": null,
            "latest_revision": null,
        }),
        json!({
            "lines": {"object": "list", "data": [], "has_more": false,
                      "url": format!("/v1/invoices/{id}/lines")},
            "livemode": false, "metadata": p.metadata(), "next_payment_attempt": null,
            "number": null, "on_behalf_of": null, "parent": null,
            "payment_settings": {"default_mandate": null, "payment_method_options": null,
                                 "payment_method_types": null},
            "period_end": t, "period_start": t, "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0, "receipt_number": null, "rendering": null,
            "shipping_cost": null, "shipping_details": null, "starting_balance": 0,
        }),
        json!({
            "statement_descriptor": null, "status": "draft", "status_details": null,
            "status_transitions": {"finalized_at": null, "marked_uncollectible_at": null,
                                   "paid_at": null, "voided_at": null},
            "subscription": null, "subtotal": 0, "subtotal_excluding_tax": 0,
            "test_clock": null, "threshold_reason": null, "total": 0,
            "total_discount_amounts": [], "total_excluding_tax": 0,
            "total_pretax_credit_amounts": [], "total_taxes": [],
            "webhooks_delivered_at": null,
        }),
    ]);
    st.invoices.push(InvoiceRec {
        obj,
        days_until_due,
    });
    if include {
        for item in st.items.iter_mut() {
            if item["customer"] == customer_id
                && item["currency"] == currency.as_str()
                && item["invoice"].is_null()
            {
                item["invoice"] = json!(id);
            }
        }
    }
    relink(st, &id);
    invoice(st, &id).map(|i| i.obj.clone())
}

/// Rebuilds an invoice's lines and amounts from the items attached to it.
fn relink(st: &mut State, invoice_id: &str) {
    let lines: Vec<Value> = st
        .items
        .iter()
        .filter(|i| i["invoice"] == invoice_id)
        .map(|i| {
            json!({
                "id": format!("il_{}", i["id"].as_str().unwrap_or_default().trim_start_matches("ii_")),
                "object": "line_item", "amount": i["amount"], "currency": i["currency"],
                "description": i["description"], "discount_amounts": [],
                "discountable": i["discountable"], "discounts": [], "invoice": invoice_id,
                "livemode": false, "metadata": i["metadata"],
                "parent": {"type": "invoice_item_details",
                           "invoice_item_details": {"invoice_item": i["id"], "proration": false,
                                                    "proration_details": {"credited_items": null},
                                                    "subscription": null},
                           "subscription_item_details": null},
                "period": i["period"], "pretax_credit_amounts": [], "pricing": i["pricing"],
                "quantity": 1, "quantity_decimal": "1", "subscription": null,
                "subtotal": i["amount"], "taxes": [],
            })
        })
        .collect();
    let total: i64 = lines.iter().filter_map(|l| l["amount"].as_i64()).sum();
    let Some(rec) = st.invoices.iter_mut().find(|i| i.obj["id"] == invoice_id) else {
        return;
    };
    let inv = &mut rec.obj;
    let paid = inv["amount_paid"].as_i64().unwrap_or(0);
    let has_more = lines.len() > EMBEDDED_LINES;
    inv["lines"]["data"] = Value::Array(lines.into_iter().take(EMBEDDED_LINES).collect());
    inv["lines"]["has_more"] = json!(has_more);
    for field in [
        "subtotal",
        "subtotal_excluding_tax",
        "total",
        "total_excluding_tax",
        "amount_due",
    ] {
        inv[field] = json!(total);
    }
    inv["amount_remaining"] = json!((total - paid).max(0));
}

/// What caused an event: an API request (with its idempotency key) or the fake's control
/// surface (the customer, the card network).
enum Cause {
    Api { idempotency_key: Option<String> },
    Outside,
}

fn emit(st: &mut State, type_: &str, invoice: &Value, by: &Cause) {
    let id = new_id("evt");
    let created = now();
    let request = match by {
        Cause::Api { idempotency_key } => {
            json!({"id": new_id("req"), "idempotency_key": idempotency_key})
        }
        Cause::Outside => json!({"id": null, "idempotency_key": null}),
    };
    let event = json!({
        "id": id, "object": "event",
        "api_version": st.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION),
        "created": created, "data": {"object": invoice}, "livemode": false,
        "pending_webhooks": i64::from(st.webhook.is_some()), "request": request,
        "type": type_,
    });
    st.events.push(EventRecord {
        id: id.clone(),
        type_: type_.to_owned(),
        created,
        body: serde_json::to_string_pretty(&event).unwrap_or_default(),
        deliveries: Vec::new(),
    });
    if st.webhook.is_some() {
        st.outbox.push(id);
    }
}

fn finalize(
    st: &mut State,
    fake: &Fake,
    id: &str,
    auto_advance: Option<bool>,
    by: &Cause,
) -> Result<Value, ApiError> {
    let t = now();
    let rec = invoice(st, id)?;
    if rec.obj["status"] != "draft" {
        return Err(ApiError::invalid(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            None,
        )
        .code("invoice_not_editable"));
    }
    let customer_id = rec.obj["customer"].as_str().unwrap_or_default().to_owned();
    let days = rec.days_until_due;
    let customer = st
        .customers
        .iter_mut()
        .find(|c| c["id"] == customer_id.as_str())
        .ok_or_else(|| ApiError::missing("customer", &customer_id, "customer"))?;
    let seq = customer["next_invoice_sequence"].as_i64().unwrap_or(1);
    customer["next_invoice_sequence"] = json!(seq + 1);
    let number = format!(
        "{}-{seq:04}",
        customer["invoice_prefix"].as_str().unwrap_or("FAKE")
    );
    st.finalized += 1;
    let rec = invoice(st, id)?;
    let inv = &mut rec.obj;
    inv["status"] = json!("open");
    inv["number"] = json!(number);
    inv["hosted_invoice_url"] = json!(format!("{}/_fake/pay/{id}", fake.base_url));
    inv["effective_at"] = json!(t);
    inv["status_transitions"]["finalized_at"] = json!(t);
    if let Some(a) = auto_advance {
        inv["auto_advance"] = json!(a);
    }
    if let Some(days) = days {
        inv["due_date"] = json!(t + i64::from(days) * 86_400);
    }
    let zero = inv["amount_due"].as_i64() == Some(0);
    let snapshot = inv.clone();
    emit(st, "invoice.finalized", &snapshot, by);
    if zero {
        // As at Stripe: an invoice with nothing due is paid when it is finalized.
        return pay(st, fake, id, by);
    }
    Ok(snapshot)
}

fn pay(st: &mut State, _fake: &Fake, id: &str, by: &Cause) -> Result<Value, ApiError> {
    let t = now();
    let rec = invoice(st, id)?;
    let inv = &mut rec.obj;
    match inv["status"].as_str() {
        Some("open") | Some("uncollectible") => {}
        Some("paid") => {
            return Err(
                ApiError::invalid("Invoice is already paid", None).code("invoice_already_paid")
            );
        }
        Some(other) => {
            return Err(ApiError::invalid(
                format!("You can only pay an open invoice; this one is {other}."),
                None,
            ));
        }
        None => return Err(ApiError::invalid("Invoice has no status", None)),
    }
    let due = inv["amount_due"].as_i64().unwrap_or(0);
    inv["status"] = json!("paid");
    inv["amount_paid"] = json!(due);
    inv["amount_remaining"] = json!(0);
    inv["attempted"] = json!(true);
    if due > 0 {
        inv["attempt_count"] = json!(inv["attempt_count"].as_i64().unwrap_or(0) + 1);
    }
    inv["next_payment_attempt"] = Value::Null;
    inv["status_transitions"]["paid_at"] = json!(t);
    let snapshot = inv.clone();
    emit(st, "invoice.paid", &snapshot, by);
    Ok(snapshot)
}

fn void(st: &mut State, _fake: &Fake, id: &str, by: &Cause) -> Result<Value, ApiError> {
    let t = now();
    let rec = invoice(st, id)?;
    let inv = &mut rec.obj;
    match inv["status"].as_str() {
        Some("open") | Some("uncollectible") => {}
        other => {
            return Err(ApiError::invalid(
                format!(
                    "You can only void open or uncollectible invoices; this one is {}.",
                    other.unwrap_or("without status")
                ),
                None,
            ));
        }
    }
    inv["status"] = json!("void");
    inv["status_transitions"]["voided_at"] = json!(t);
    let snapshot = inv.clone();
    emit(st, "invoice.voided", &snapshot, by);
    Ok(snapshot)
}

// ---- control --------------------------------------------------------------------------------

fn control_answer(result: Result<Value, ApiError>) -> HttpResponse {
    let a = Answer::of(result);
    json_response(a.status).body(a.body)
}

async fn set_config(fake: web::Data<Fake>, body: web::Json<WebhookConfig>) -> HttpResponse {
    fake.lock().webhook = Some(body.into_inner());
    HttpResponse::NoContent().finish()
}

async fn get_config(fake: web::Data<Fake>) -> HttpResponse {
    HttpResponse::Ok().json(&fake.lock().webhook)
}

async fn add_fail(fake: web::Data<Fake>, body: web::Json<FailRule>) -> HttpResponse {
    let rule = body.into_inner();
    if rule.times > 0 {
        fake.lock().fails.push(rule);
    }
    HttpResponse::NoContent().finish()
}

async fn customer_pays(fake: web::Data<Fake>, id: web::Path<String>) -> HttpResponse {
    let mut st = fake.lock();
    let result = match invoice(&mut st, &id).map(|i| i.obj["status"] == "open") {
        Ok(true) => pay(&mut st, &fake, &id, &Cause::Outside),
        Ok(false) => Err(ApiError::invalid(
            "Only an open invoice can be paid by the customer.",
            None,
        )),
        Err(e) => Err(e),
    };
    fake.flush(st);
    control_answer(result)
}

async fn payment_fails(fake: web::Data<Fake>, id: web::Path<String>) -> HttpResponse {
    let mut st = fake.lock();
    let result = invoice(&mut st, &id).and_then(|rec| {
        let inv = &mut rec.obj;
        if inv["status"] != "open" {
            return Err(ApiError::invalid(
                "Only an open invoice has payments to fail.",
                None,
            ));
        }
        inv["attempted"] = json!(true);
        inv["attempt_count"] = json!(inv["attempt_count"].as_i64().unwrap_or(0) + 1);
        Ok(inv.clone())
    });
    if let Ok(snapshot) = &result {
        emit(&mut st, "invoice.payment_failed", snapshot, &Cause::Outside);
    }
    fake.flush(st);
    control_answer(result)
}

async fn hosted_page(fake: web::Data<Fake>, id: web::Path<String>) -> HttpResponse {
    let mut st = fake.lock();
    let Ok(rec) = invoice(&mut st, &id) else {
        return HttpResponse::NotFound().body("no such invoice");
    };
    let inv = &rec.obj;
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let html = format!(
        "<!doctype html><title>Invoice {number}</title><h1>Invoice {number}</h1>\
         <p>Status: {status}</p><p>Amount due: {due} {currency} (minor units)</p>\
         <form method=post action=\"/_fake/invoices/{id}/pay\"><button>Pay</button></form>",
        number = escape(inv["number"].as_str().unwrap_or("(draft)")),
        status = escape(inv["status"].as_str().unwrap_or_default()),
        due = inv["amount_due"],
        currency = escape(&inv["currency"].as_str().unwrap_or_default().to_uppercase()),
        id = escape(&id),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

async fn list_events(fake: web::Data<Fake>) -> HttpResponse {
    let st = fake.lock();
    let list: Vec<Value> = st
        .events
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "type": e.type_, "created": e.created,
                "deliveries": e.deliveries,
                "event": serde_json::from_str::<Value>(&e.body).unwrap_or(Value::Null),
            })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

async fn resend_event(fake: web::Data<Fake>, id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    let mut st = fake.lock();
    if !st.events.iter().any(|e| e.id == id) {
        drop(st);
        return control_answer(Err(ApiError::missing("event", &id, "id")));
    }
    if st.webhook.is_none() {
        drop(st);
        return control_answer(Err(ApiError::invalid(
            "No webhook_url configured (PUT /_fake/config).",
            None,
        )));
    }
    st.outbox.push(id);
    fake.flush(st);
    HttpResponse::Accepted().finish()
}

async fn list_requests(fake: web::Data<Fake>) -> HttpResponse {
    HttpResponse::Ok().json(&fake.lock().requests)
}

async fn stats(fake: web::Data<Fake>) -> HttpResponse {
    let st = fake.lock();
    HttpResponse::Ok().json(json!({
        "customers": st.customers.len(),
        "invoice_items": st.items.len(),
        "invoices": st.invoices.len(),
        "finalized": st.finalized,
        "events": st.events.len(),
        "requests": st.requests.len(),
        "replayed": st.requests.iter().filter(|r| r.replayed).count(),
    }))
}

async fn reset(fake: web::Data<Fake>) -> HttpResponse {
    *fake.lock() = State::default();
    HttpResponse::NoContent().finish()
}

// ---- event delivery -------------------------------------------------------------------------

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, Stripe's webhook signature.
pub fn stripe_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Posts each event, one at a time and in order, and records the answer on it.
async fn deliver_events(fake: Fake, mut rx: mpsc::UnboundedReceiver<String>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    while let Some(id) = rx.recv().await {
        let target = {
            let st = fake.lock();
            match (&st.webhook, st.events.iter().find(|e| e.id == id)) {
                (Some(w), Some(e)) => Some((w.clone(), e.body.clone())),
                _ => None,
            }
        };
        let Some((webhook, body)) = target else {
            continue;
        };
        let t = now();
        let answer = http
            .post(&webhook.webhook_url)
            .header("Content-Type", "application/json; charset=utf-8")
            .header(
                "User-Agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            )
            .header(
                "Stripe-Signature",
                stripe_signature(&webhook.webhook_secret, t, &body),
            )
            .body(body)
            .send()
            .await;
        let delivery = match answer {
            Ok(r) => Delivery {
                at: t,
                status: Some(r.status().as_u16()),
                error: None,
            },
            Err(e) => Delivery {
                at: t,
                status: None,
                error: Some(e.to_string()),
            },
        };
        let mut st = fake.lock();
        if let Some(e) = st.events.iter_mut().find(|e| e.id == id) {
            e.deliveries.push(delivery);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The fake driven through OpenClaw's own client (`openclaw_core::billing::stripe`) and,
    //! for the calls that client does not make, through async-stripe directly: every answer
    //! here went through async-stripe's typed deserializers.

    use super::*;
    use openclaw_core::billing::stripe::{
        EventKind, InvoiceStatus, NewInvoiceItem, Stripe, StripeConfig, StripeError, WebhookError,
        verify_event,
    };
    use secrecy::SecretString;
    use stripe_billing::invoice::CreateInvoice;
    use stripe_billing::invoice_item::ListInvoiceItem;
    use stripe_core::customer::RetrieveCustomer;

    const SECRET: &str = "whsec_fake_0123456789abcdef";

    struct Setup {
        fake: FakeStripe,
        stripe: Stripe,
        http: reqwest::Client,
    }

    impl Setup {
        async fn new() -> Setup {
            let fake = spawn("127.0.0.1:0").await.expect("the fake listens");
            let stripe = Stripe::new(&StripeConfig {
                secret_key: SecretString::from("sk_test_openclaw"),
                api_base: fake.base_url(),
            })
            .expect("client");
            Setup {
                fake,
                stripe,
                http: reqwest::Client::new(),
            }
        }

        fn raw_client(&self) -> stripe::Client {
            stripe::ClientBuilder::new("sk_test_openclaw")
                .url(format!("{}/", self.fake.base_url()))
                .build()
                .expect("client")
        }

        async fn get(&self, path: &str) -> Value {
            self.http
                .get(format!("{}{path}", self.fake.base_url()))
                .send()
                .await
                .expect("fake answers")
                .json()
                .await
                .expect("json")
        }

        async fn post(&self, path: &str, body: Value) -> reqwest::Response {
            self.http
                .post(format!("{}{path}", self.fake.base_url()))
                .json(&body)
                .send()
                .await
                .expect("fake answers")
        }

        async fn stats(&self) -> (u64, u64, u64, u64) {
            let s = self.get("/_fake/stats").await;
            let n = |k: &str| s[k].as_u64().expect(k);
            (
                n("customers"),
                n("invoice_items"),
                n("invoices"),
                n("finalized"),
            )
        }

        async fn customer(&self, key: &str) -> String {
            self.stripe
                .create_customer(
                    key,
                    "Acme SMS",
                    Some("billing@acme.test"),
                    &[("tenant", "t1")],
                )
                .await
                .expect("customer created")
        }

        async fn item(&self, key: &str, customer: &str, currency: &str, amount: i64) -> String {
            self.stripe
                .create_invoice_item(
                    key,
                    &NewInvoiceItem {
                        customer,
                        currency,
                        amount_minor: amount,
                        description: "SMS traffic",
                        metadata: &[("tenant", "t1"), ("period", "2025-03")],
                    },
                )
                .await
                .expect("item created")
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invoices_pick_up_pending_items_and_replays_create_nothing() {
        let s = Setup::new().await;
        let cus = s.customer("cus-1").await;
        assert!(cus.starts_with("cus_"), "{cus}");
        let a = s.item("ii-1", &cus, "USD", 1234).await;
        let b = s.item("ii-2", &cus, "USD", 766).await;
        let eur = s.item("ii-3", &cus, "EUR", 999).await;
        assert!(a.starts_with("ii_") && a != b && b != eur);

        let draft = s
            .stripe
            .create_invoice("in-1", &cus, "USD", 14, "SMS, March", &[("tenant", "t1")])
            .await
            .expect("invoice created");
        assert_eq!(draft.status, InvoiceStatus::Draft);
        assert_eq!(draft.currency, "USD");
        assert_eq!((draft.total_minor, draft.amount_due_minor), (2000, 2000));
        assert_eq!(draft.customer, cus);
        assert_eq!(draft.number, None);
        assert_eq!(draft.hosted_invoice_url, None);
        assert_eq!(draft.metadata.get("tenant").map(String::as_str), Some("t1"));

        // The invoice's lines are the two USD items; the EUR one is still pending.
        let raw = s.get("/_fake/events").await;
        assert_eq!(
            raw.as_array().map(Vec::len),
            Some(0),
            "drafts emit nothing here"
        );
        let pending = ListInvoiceItem::new()
            .customer(cus.as_str())
            .pending(true)
            .send(&s.raw_client())
            .await
            .expect("the item list parses");
        let ids: Vec<&str> = pending.data.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, [eur.as_str()]);
        let on_invoice = ListInvoiceItem::new()
            .invoice(draft.id.as_str())
            .send(&s.raw_client())
            .await
            .expect("the item list parses");
        let mut ids: Vec<&str> = on_invoice.data.iter().map(|i| i.id.as_str()).collect();
        ids.sort();
        let mut want = [a.as_str(), b.as_str()];
        want.sort();
        assert_eq!(ids, want);
        let retrieved = RetrieveCustomer::new(cus.as_str())
            .send(&s.raw_client())
            .await
            .expect("the customer parses");
        let stripe_core::customer::RetrieveCustomerReturned::Customer(customer) = retrieved else {
            panic!("a deleted customer came back");
        };
        assert_eq!(customer.email.as_deref(), Some("billing@acme.test"));

        let before = chrono::Utc::now();
        let open = s
            .stripe
            .finalize_invoice("fin-1", &draft.id)
            .await
            .expect("finalized");
        assert_eq!(open.id, draft.id);
        assert_eq!(open.status, InvoiceStatus::Open);
        assert_eq!(open.total_minor, 2000);
        let url = open.hosted_invoice_url.clone().expect("a hosted URL");
        assert_eq!(url, format!("{}/_fake/pay/{}", s.fake.base_url(), draft.id));
        assert!(open.number.as_deref().is_some_and(|n| n.ends_with("-0001")));
        let due = open.due_date.expect("a due date");
        let days = (due - before).num_hours();
        assert!((14 * 24 - 1..=14 * 24 + 1).contains(&days), "{days} h");
        assert_eq!(s.stripe.retrieve_invoice(&draft.id).await.unwrap(), open);
        let page = s.http.get(&url).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("2000 USD"), "{page}");

        assert_eq!(s.stats().await, (1, 3, 1, 1));
        // Replays: the same key and parameters give the same objects and create nothing,
        // even where metadata comes in another order.
        assert_eq!(s.customer("cus-1").await, cus);
        assert_eq!(s.item("ii-1", &cus, "USD", 1234).await, a);
        assert_eq!(s.item("ii-2", &cus, "USD", 766).await, b);
        let again = s
            .stripe
            .create_invoice("in-1", &cus, "USD", 14, "SMS, March", &[("tenant", "t1")])
            .await
            .unwrap();
        assert_eq!(again, draft, "the replay is the draft as first answered");
        assert_eq!(
            s.stripe.finalize_invoice("fin-1", &draft.id).await.unwrap(),
            open
        );
        let meta = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")];
        let first = s
            .stripe
            .create_customer("cus-m", "M", None, &meta)
            .await
            .unwrap();
        for _ in 0..5 {
            let again = s
                .stripe
                .create_customer("cus-m", "M", None, &meta)
                .await
                .unwrap();
            assert_eq!(again, first);
        }
        assert_eq!(s.stats().await, (2, 3, 1, 1));
        let requests = s.get("/_fake/requests").await;
        let replayed = requests
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["replayed"] == true)
            .count();
        assert_eq!(replayed, 10);

        // The same key with other parameters is refused, and creates nothing.
        match s
            .stripe
            .create_customer("cus-1", "Someone else", None, &[])
            .await
        {
            Err(StripeError::Refused {
                status: 400,
                message,
            }) => {
                assert!(message.contains("same parameters"), "{message}")
            }
            other => panic!("expected an idempotency refusal, got {other:?}"),
        }
        let other_item = NewInvoiceItem {
            customer: &cus,
            currency: "USD",
            amount_minor: 1,
            description: "SMS traffic",
            metadata: &[],
        };
        assert!(matches!(
            s.stripe.create_invoice_item("ii-1", &other_item).await,
            Err(StripeError::Refused { status: 400, .. })
        ));
        // A second finalization under a new key is a real refusal.
        assert!(matches!(
            s.stripe.finalize_invoice("fin-2", &draft.id).await,
            Err(StripeError::Refused { status: 400, .. })
        ));
        assert!(matches!(
            s.stripe.retrieve_invoice("in_nope").await,
            Err(StripeError::Refused { status: 404, .. })
        ));
        assert_eq!(s.stats().await, (2, 3, 1, 1));
        s.fake.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_unavailable_and_the_same_key_recovers() {
        let s = Setup::new().await;
        let cus = s.customer("cus-1").await;

        // apply: false — nothing happened; the retry with the same key does it once.
        let rule = json!({"method": "POST", "path_prefix": "/v1/invoiceitems", "status": 500,
                          "times": 1, "apply": false});
        assert_eq!(s.post("/_fake/fail", rule).await.status(), 204);
        let item = NewInvoiceItem {
            customer: &cus,
            currency: "USD",
            amount_minor: 500,
            description: "SMS traffic",
            metadata: &[],
        };
        match s.stripe.create_invoice_item("ii-1", &item).await {
            Err(StripeError::Unavailable(m)) => assert!(m.contains("500"), "{m}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert_eq!(s.stats().await.1, 0);
        let id = s.stripe.create_invoice_item("ii-1", &item).await.unwrap();
        assert_eq!(s.stats().await.1, 1);
        assert_eq!(
            s.stripe.create_invoice_item("ii-1", &item).await.unwrap(),
            id
        );
        assert_eq!(s.stats().await.1, 1);

        // apply: true — the invoice was made but the answer lost; the retry replays it.
        let rule = json!({"method": "POST", "path_prefix": "/v1/invoices", "status": 500,
                          "times": 1, "apply": true});
        assert_eq!(s.post("/_fake/fail", rule).await.status(), 204);
        let create = || {
            s.stripe
                .create_invoice("in-1", &cus, "USD", 30, "March", &[])
        };
        assert!(matches!(create().await, Err(StripeError::Unavailable(_))));
        assert_eq!(s.stats().await.2, 1, "the lost call was applied");
        let invoice = create().await.expect("the retry replays the invoice");
        assert_eq!(invoice.total_minor, 500);
        assert_eq!(s.stats().await.2, 1, "and made no second one");
        let listed = stripe_billing::invoice::ListInvoice::new()
            .customer(cus.as_str())
            .send(&s.raw_client())
            .await
            .expect("the invoice list parses");
        let ids: Vec<String> = listed
            .data
            .iter()
            .filter_map(|i| i.id.as_ref().map(|id| id.to_string()))
            .collect();
        assert_eq!(ids.as_slice(), std::slice::from_ref(&invoice.id));
        let requests = s.get("/_fake/requests").await;
        let invoice_posts: Vec<&Value> = requests
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["path"] == "/v1/invoices" && r["method"] == "POST")
            .collect();
        assert_eq!(invoice_posts.len(), 2);
        assert_eq!(invoice_posts[0]["status"], 500);
        assert_eq!(invoice_posts[0]["injected"], true);
        assert_eq!(invoice_posts[1]["status"], 200);
        assert_eq!(invoice_posts[1]["replayed"], true);
        assert_eq!(invoice_posts[1]["idempotency_key"], "in-1");
        assert_eq!(
            invoice_posts[1]["params"]["pending_invoice_items_behavior"],
            "include"
        );
        assert_eq!(
            invoice_posts[1]["params"]["collection_method"],
            "send_invoice"
        );
        assert_eq!(invoice_posts[1]["params"]["currency"], "usd");

        // A lost finalization: applied once, replayed once.
        let rule = json!({"method": "POST", "path_prefix": "/v1/invoices/", "status": 503,
                          "times": 1, "apply": true});
        s.post("/_fake/fail", rule).await;
        assert!(matches!(
            s.stripe.finalize_invoice("fin-1", &invoice.id).await,
            Err(StripeError::Unavailable(_))
        ));
        let open = s
            .stripe
            .finalize_invoice("fin-1", &invoice.id)
            .await
            .unwrap();
        assert_eq!(open.status, InvoiceStatus::Open);
        assert_eq!(s.stats().await, (1, 1, 1, 1));

        // Rate limits are Unavailable too; an injected 402 is a refusal.
        let rule = json!({"method": "POST", "path_prefix": "/v1/customers", "status": 429});
        s.post("/_fake/fail", rule).await;
        assert!(matches!(
            s.stripe.create_customer("cus-2", "B", None, &[]).await,
            Err(StripeError::Unavailable(_))
        ));
        let rule = json!({"method": "POST", "path_prefix": "/v1/customers", "status": 402});
        s.post("/_fake/fail", rule).await;
        assert!(matches!(
            s.stripe.create_customer("cus-2", "B", None, &[]).await,
            Err(StripeError::Refused { status: 402, .. })
        ));
        s.stripe
            .create_customer("cus-2", "B", None, &[])
            .await
            .unwrap();
        assert_eq!(s.stats().await.0, 2);

        // Nobody listening: Unavailable.
        s.fake.stop().await;
        assert!(matches!(
            s.stripe.retrieve_invoice(&invoice.id).await,
            Err(StripeError::Unavailable(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stripes_default_excludes_pending_items() {
        let s = Setup::new().await;
        let cus = s.customer("cus-1").await;
        let item = s.item("ii-1", &cus, "USD", 700).await;
        // CreateInvoice as async-stripe sends it without the behaviour: Stripe's `exclude`.
        let empty = CreateInvoice::new()
            .customer(cus.as_str())
            .currency(stripe_types_currency("usd"))
            .collection_method(stripe_billing::InvoiceCollectionMethod::SendInvoice)
            .days_until_due(7u32)
            .send(&s.raw_client())
            .await
            .expect("the invoice parses");
        assert_eq!(empty.total, 0);
        assert!(empty.lines.data.is_empty());
        let pending = ListInvoiceItem::new()
            .customer(cus.as_str())
            .pending(true)
            .send(&s.raw_client())
            .await
            .unwrap();
        assert_eq!(pending.data.len(), 1);
        assert_eq!(pending.data[0].id.as_str(), item);
        // OpenClaw's client includes them.
        let full = s
            .stripe
            .create_invoice("in-1", &cus, "USD", 7, "March", &[])
            .await
            .unwrap();
        assert_eq!(full.total_minor, 700);
        // An empty invoice is paid as it is finalized, as at Stripe.
        let empty_id = empty.id.expect("an id").to_string();
        let paid = s.stripe.finalize_invoice("fin-0", &empty_id).await.unwrap();
        assert_eq!(paid.status, InvoiceStatus::Paid);
        s.fake.stop().await;
    }

    fn stripe_types_currency(code: &str) -> stripe_types::Currency {
        code.parse().unwrap_or_default()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_are_checked_like_stripe_checks_them() {
        let s = Setup::new().await;
        let base = s.fake.base_url();
        let unauth = s
            .http
            .get(format!("{base}/v1/invoices"))
            .send()
            .await
            .unwrap();
        assert_eq!(unauth.status(), 401);
        let body: Value = unauth.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        let live = Stripe::new(&StripeConfig {
            secret_key: SecretString::from("sk_live_nope"),
            api_base: base.clone(),
        })
        .unwrap();
        assert!(matches!(
            live.create_customer("k", "A", None, &[]).await,
            Err(StripeError::Refused { status: 401, .. })
        ));
        let basic = s
            .http
            .get(format!("{base}/v1/invoices"))
            .basic_auth("sk_test_x", None::<&str>)
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), 200, "curl -u sk_test_…: works as at Stripe");
        let cus = s.customer("cus-1").await;
        let post = |form: Vec<(&'static str, String)>| {
            s.http
                .post(format!("{base}/v1/invoiceitems"))
                .bearer_auth("sk_test_x")
                .form(&form)
                .send()
        };
        let upper = post(vec![
            ("customer", cus.clone()),
            ("currency", "USD".into()),
            ("amount", "5".into()),
        ])
        .await
        .unwrap();
        assert_eq!(upper.status(), 400);
        let body: Value = upper.json().await.unwrap();
        assert_eq!(body["error"]["param"], "currency");
        let unknown = post(vec![
            ("customer", cus.clone()),
            ("currency", "usd".into()),
            ("amount", "5".into()),
            ("colour", "red".into()),
        ])
        .await
        .unwrap();
        let body: Value = unknown.json().await.unwrap();
        assert_eq!(body["error"]["code"], "parameter_unknown");
        let missing = post(vec![
            ("customer", "cus_missing".into()),
            ("currency", "usd".into()),
            ("amount", "5".into()),
        ])
        .await
        .unwrap();
        assert_eq!(missing.status(), 404);
        // The bracket syntax, percent-encoded or not.
        let ok = s
            .http
            .post(format!("{base}/v1/invoiceitems"))
            .bearer_auth("sk_test_x")
            .header("Idempotency-Key", "raw-1")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "customer={cus}&currency=usd&amount=5&metadata%5Btenant%5D=t9&metadata[period]=p"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().get("Idempotent-Replayed").is_none());
        let first = ok.bytes().await.unwrap();
        let item: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(item["metadata"], json!({"tenant": "t9", "period": "p"}));
        assert!(item["invoice"].is_null());
        let replay = s
            .http
            .post(format!("{base}/v1/invoiceitems"))
            .bearer_auth("sk_test_x")
            .header("Idempotency-Key", "raw-1")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "metadata[period]=p&customer={cus}&metadata%5Btenant%5D=t9&amount=5&currency=usd"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(
            replay
                .headers()
                .get("Idempotent-Replayed")
                .and_then(|v| v.to_str().ok()),
            Some("true")
        );
        assert_eq!(replay.bytes().await.unwrap(), first, "byte for byte");
        // Keys are per API key: another account's same key is a new request.
        let other = s
            .http
            .post(format!("{base}/v1/invoiceitems"))
            .bearer_auth("sk_test_y")
            .header("Idempotency-Key", "raw-1")
            .form(&[
                ("customer", cus.as_str()),
                ("currency", "usd"),
                ("amount", "6"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
        let unknown_route = s
            .http
            .get(format!("{base}/v1/charges"))
            .bearer_auth("sk_test_x")
            .send()
            .await
            .unwrap();
        assert_eq!(unknown_route.status(), 404);
        s.fake.stop().await;
    }

    /// A webhook endpoint: hands each (body, Stripe-Signature) it receives to the test.
    async fn receiver() -> (
        String,
        mpsc::UnboundedReceiver<(String, String)>,
        ServerHandle,
    ) {
        let (tx, rx) = mpsc::unbounded_channel::<(String, String)>();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/stripe", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            let tx = tx.clone();
            App::new().route(
                "/hooks/stripe",
                web::post().to(move |req: HttpRequest, body: String| {
                    let tx = tx.clone();
                    async move {
                        let sig = header(&req, "Stripe-Signature").unwrap_or_default();
                        let _ = tx.send((body, sig));
                        HttpResponse::Ok().finish()
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .shutdown_timeout(1)
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        (url, rx, handle)
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<(String, String)>) -> (String, String) {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("the receiver runs")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_are_signed_and_parse_with_verify_event() {
        let s = Setup::new().await;
        let (url, mut rx, hooks) = receiver().await;
        let config = json!({"webhook_url": url, "webhook_secret": SECRET});
        let put = s
            .http
            .put(format!("{}/_fake/config", s.fake.base_url()))
            .json(&config)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 204);

        let cus = s.customer("cus-1").await;
        s.item("ii-1", &cus, "EUR", 4200).await;
        let draft = s
            .stripe
            .create_invoice("in-1", &cus, "EUR", 14, "March", &[("tenant", "t1")])
            .await
            .unwrap();
        s.stripe.finalize_invoice("fin-1", &draft.id).await.unwrap();
        let (body, sig) = next(&mut rx).await;
        let finalized = verify_event(&body, &sig, SECRET).expect("signed by the fake");
        assert_eq!(finalized.kind, EventKind::InvoiceFinalized);
        let inv = finalized.invoice.expect("the invoice");
        assert_eq!(
            (inv.id.as_str(), inv.status),
            (draft.id.as_str(), InvoiceStatus::Open)
        );
        let raw: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(raw["request"]["idempotency_key"], "fin-1");
        assert_eq!(raw["pending_webhooks"], 1);

        // The customer pays on the hosted page.
        let paid = s
            .post(&format!("/_fake/invoices/{}/pay", draft.id), json!({}))
            .await;
        assert_eq!(paid.status(), 200);
        let (body, sig) = next(&mut rx).await;
        let event = verify_event(&body, &sig, SECRET).expect("signed by the fake");
        assert_eq!(event.kind, EventKind::InvoicePaid);
        let inv = event.invoice.clone().expect("the invoice");
        assert_eq!(inv.id, draft.id);
        assert_eq!(inv.status, InvoiceStatus::Paid);
        assert_eq!((inv.currency.as_str(), inv.total_minor), ("EUR", 4200));
        assert_eq!(inv.metadata.get("tenant").map(String::as_str), Some("t1"));
        assert!(matches!(
            verify_event(&body, &sig, "whsec_wrong"),
            Err(WebhookError::BadSignature)
        ));
        assert_eq!(
            s.stripe.retrieve_invoice(&draft.id).await.unwrap().status,
            InvoiceStatus::Paid
        );

        // A resend is the same body, freshly signed.
        let resend = s
            .post(&format!("/_fake/events/{}/resend", event.id), json!({}))
            .await;
        assert_eq!(resend.status(), 202);
        let (again, sig2) = next(&mut rx).await;
        assert_eq!(again, body);
        assert_eq!(verify_event(&again, &sig2, SECRET).unwrap(), event);

        // A declined card on a second invoice, then a void.
        s.item("ii-2", &cus, "EUR", 100).await;
        let second = s
            .stripe
            .create_invoice("in-2", &cus, "EUR", 14, "April", &[])
            .await
            .unwrap();
        s.stripe
            .finalize_invoice("fin-2", &second.id)
            .await
            .unwrap();
        next(&mut rx).await;
        s.post(
            &format!("/_fake/invoices/{}/payment_failed", second.id),
            json!({}),
        )
        .await;
        let (body, sig) = next(&mut rx).await;
        let failed = verify_event(&body, &sig, SECRET).unwrap();
        assert_eq!(failed.kind, EventKind::InvoicePaymentFailed);
        assert_eq!(failed.invoice.map(|i| i.status), Some(InvoiceStatus::Open));
        let voided = stripe_billing::invoice::VoidInvoiceInvoice::new(second.id.as_str())
            .send(&s.raw_client())
            .await
            .expect("the voided invoice parses");
        assert_eq!(voided.status, Some(stripe_billing::InvoiceStatus::Void));
        let (body, sig) = next(&mut rx).await;
        assert_eq!(
            verify_event(&body, &sig, SECRET).unwrap().kind,
            EventKind::InvoiceVoided
        );

        // Every event, in order, with its deliveries answered 200.
        let events = s.get("/_fake/events").await;
        let types: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "invoice.finalized",
                "invoice.paid",
                "invoice.finalized",
                "invoice.payment_failed",
                "invoice.voided"
            ]
        );
        let paid_deliveries = &events[1]["deliveries"];
        assert_eq!(paid_deliveries.as_array().map(Vec::len), Some(2));
        assert_eq!(paid_deliveries[0]["status"], 200);
        hooks.stop(true).await;
        s.fake.stop().await;
    }
}
