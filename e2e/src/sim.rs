//! The provider simulator: Twilio's Messages API and Vonage's SMS API as their specs
//! (`shared/specs/`) describe them, with switchable behaviour and a record of what arrived.
//!
//! Wire surface:
//! - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form, HTTP Basic auth) → 201 with
//!   the Message resource, or Twilio's error JSON `{code, message, more_info, status}`;
//!   `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`. Status callbacks are posted
//!   form-encoded to `StatusCallback`, signed with `X-Twilio-Signature`.
//! - `POST /sms/json` (form) → always HTTP 200 with `{"message-count", "messages": [...]}`,
//!   `status` "0" or an error status with `error-text`. Delivery receipts are posted as JSON
//!   to `callback` (the spec's `delivery-receipt` callback).
//!
//! Control surface (JSON):
//! - `PUT /_sim/behaviour`, `PUT /_sim/accounts/{account}/behaviour` (account = Twilio
//!   AccountSid or Vonage api_key): `{"mode": "accept"|"slow"|"error_5xx"|"throttle"|"refuse"|
//!   "timeout", "delay_ms": 0, "receipt": "delivered"|"undelivered"|"failed"|"none",
//!   "receipt_delay_ms": 200, "fail_first": null|N, "receipt_copies": 1,
//!   "receipts_reversed": false}`. With `fail_first: N` only the first N requests get the
//!   mode; later ones are accepted. A message's receipts (Twilio: `sent`, then the final one;
//!   Vonage: `buffered`, then the final one; in that order, once each, by default) can be posted `receipt_copies` times each, and
//!   the last first (`receipts_reversed`), as gateways do when callbacks race or are retried.
//! - `GET /_sim/behaviour`, `POST /_sim/reset`.
//!   `late_answer` takes the message (its receipts follow) but answers only after `delay_ms`:
//!   a gateway whose answer is lost to a timeout although it sent the message.
//! - `GET /_sim/received?account=&to=` → what arrived; `GET /_sim/stats` → counts,
//!   `duplicates` (accepted requests whose account, recipient and body were accepted before)
//!   and `max_in_flight` (per account, the most requests it was answering at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha1::Sha1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Accept,
    Slow,
    #[serde(rename = "error_5xx")]
    Error5xx,
    Throttle,
    Refuse,
    Timeout,
    LateAnswer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Delivered,
    Undelivered,
    Failed,
    #[default]
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub receipt: ReceiptKind,
    #[serde(default = "default_receipt_delay")]
    pub receipt_delay_ms: u64,
    #[serde(default)]
    pub fail_first: Option<u64>,
    /// A Vonage account that signs its webhooks: its signature secret and method (`md5hash`,
    /// the default, or `sha256`); its delivery receipts then carry `timestamp`, `nonce` and
    /// `sig`.
    #[serde(default)]
    pub signature_secret: Option<String>,
    #[serde(default)]
    pub signature_method: Option<String>,
    /// How many times each receipt is posted (1: once).
    #[serde(default = "one")]
    pub receipt_copies: u32,
    /// Whether a message's final receipt is posted before the step before it.
    #[serde(default)]
    pub receipts_reversed: bool,
}

fn one() -> u32 {
    1
}

impl Behaviour {
    /// A message's receipts in the order and number they are posted: `steps` in order (or
    /// the last first), each `receipt_copies` times.
    fn receipt_order<T: Copy>(&self, steps: [T; 2]) -> Vec<T> {
        let steps = if self.receipts_reversed {
            [steps[1], steps[0]]
        } else {
            steps
        };
        steps
            .into_iter()
            .flat_map(|s| std::iter::repeat_n(s, self.receipt_copies.max(1) as usize))
            .collect()
    }
}

fn default_receipt_delay() -> u64 {
    200
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            mode: Mode::Accept,
            delay_ms: 0,
            receipt: ReceiptKind::None,
            receipt_delay_ms: default_receipt_delay(),
            fail_first: None,
            signature_secret: None,
            signature_method: None,
            receipt_copies: 1,
            receipts_reversed: false,
        }
    }
}

/// One request the simulator received.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub seq: u64,
    pub provider: &'static str,
    pub account: String,
    pub to: String,
    pub from: Option<String>,
    pub body: String,
    pub client_ref: Option<String>,
    pub status_callback: Option<String>,
    /// `accepted`, `refused`, `error`, `throttled` or `timeout`.
    pub answered: &'static str,
    pub message_id: Option<String>,
    pub received_at: String,
}

#[derive(Default)]
struct State {
    default: Behaviour,
    accounts: HashMap<String, Behaviour>,
    /// Requests seen per account (for `fail_first`).
    seen: HashMap<String, u64>,
    received: Vec<Received>,
    /// (account, to, body) → accepted count.
    accepted: HashMap<(String, String, String), u64>,
    /// Twilio messages by sid: (resource, status).
    twilio: HashMap<String, Value>,
    /// Requests being answered now, and the most at once, per account.
    in_flight: HashMap<String, u64>,
    max_in_flight: HashMap<String, u64>,
}

/// Counts a request as in flight for its account until dropped (answered or abandoned).
struct InFlight {
    sim: Sim,
    account: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut st = self.sim.lock();
        if let Some(n) = st.in_flight.get_mut(&self.account) {
            *n = n.saturating_sub(1);
        }
    }
}

#[derive(Clone)]
struct Sim {
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
    /// Receipts being posted at once: a gateway calls back over a few connections, not one
    /// per message.
    callbacks: Arc<tokio::sync::Semaphore>,
}

/// Receipts the simulator posts at once.
const CALLBACKS_AT_ONCE: usize = 256;

impl Sim {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The behaviour this request gets, counting it against `fail_first`.
    fn behaviour_for(&self, account: &str) -> Behaviour {
        let mut st = self.lock();
        let b = st
            .accounts
            .get(account)
            .cloned()
            .unwrap_or_else(|| st.default.clone());
        let n = st.seen.entry(account.to_owned()).or_default();
        *n += 1;
        match b.fail_first {
            Some(limit) if *n > limit => Behaviour {
                mode: Mode::Accept,
                delay_ms: 0,
                ..b
            },
            _ => b,
        }
    }

    fn enter(&self, account: &str) -> InFlight {
        let mut st = self.lock();
        let n = st.in_flight.entry(account.to_owned()).or_default();
        *n += 1;
        let now = *n;
        let max = st.max_in_flight.entry(account.to_owned()).or_default();
        *max = (*max).max(now);
        InFlight {
            sim: self.clone(),
            account: account.to_owned(),
        }
    }

    fn record(&self, mut r: Received) {
        let mut st = self.lock();
        r.seq = st.received.len() as u64 + 1;
        if r.answered == "accepted" {
            *st.accepted
                .entry((r.account.clone(), r.to.clone(), r.body.clone()))
                .or_default() += 1;
        }
        st.received.push(r);
    }
}

/// A running simulator.
pub struct SimHandle {
    base_url: String,
    handle: ServerHandle,
}

impl SimHandle {
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Starts the simulator on `addr` (port 0 for any) and returns once it listens.
pub async fn spawn(addr: &str) -> anyhow::Result<SimHandle> {
    let sim = Sim {
        state: Arc::new(Mutex::new(State::default())),
        http: reqwest::Client::new(),
        callbacks: Arc::new(tokio::sync::Semaphore::new(CALLBACKS_AT_ONCE)),
    };
    let listener = std::net::TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(sim.clone()))
            .app_data(web::FormConfig::default().limit(1 << 20))
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                web::post().to(twilio_create),
            )
            .route(
                "/2010-04-01/Accounts/{sid}/Messages/{msid}.json",
                web::get().to(twilio_fetch),
            )
            .route("/sms/json", web::post().to(vonage_send))
            .route("/_sim/behaviour", web::put().to(set_default))
            .route("/_sim/behaviour", web::get().to(get_behaviour))
            .route(
                "/_sim/accounts/{account}/behaviour",
                web::put().to(set_account),
            )
            .route("/_sim/received", web::get().to(received))
            .route("/_sim/stats", web::get().to(stats))
            .route("/_sim/reset", web::post().to(reset))
            .route("/_sim/inbound", web::post().to(inbound))
    })
    .listen(listener)?
    .shutdown_timeout(1)
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(SimHandle {
        base_url: format!("http://{bound}"),
        handle,
    })
}

// ---- Twilio --------------------------------------------------------------------------------

fn twilio_error(status: u16, code: u32, message: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST)).json(
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        }),
    )
}

fn basic_auth(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get("Authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

fn rfc2822_now() -> String {
    Utc::now().format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

fn form_get<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

async fn twilio_create(
    sim: web::Data<Sim>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let sid = path.into_inner();
    match basic_auth(&req) {
        Some((user, pass)) if user == sid && !pass.is_empty() => {}
        _ => return twilio_error(401, 20003, "Authenticate"),
    }
    let _in_flight = sim.enter(&sid);
    let form = form.into_inner();
    let Some(to) = form_get(&form, "To").map(str::to_owned) else {
        return twilio_error(400, 21604, "A 'To' phone number is required.");
    };
    let body = form_get(&form, "Body").map(str::to_owned);
    if body.is_none()
        && form_get(&form, "MediaUrl").is_none()
        && form_get(&form, "ContentSid").is_none()
    {
        return twilio_error(400, 21602, "Message body is required.");
    }
    let from = form_get(&form, "From").map(str::to_owned);
    if from.is_none() && form_get(&form, "MessagingServiceSid").is_none() {
        return twilio_error(
            400,
            21603,
            "A 'From' phone number or a 'MessagingServiceSid' is required.",
        );
    }
    let callback = form_get(&form, "StatusCallback").map(str::to_owned);
    let body = body.unwrap_or_default();
    let behaviour = sim.behaviour_for(&sid);
    let mut record = Received {
        seq: 0,
        provider: "twilio",
        account: sid.clone(),
        to: to.clone(),
        from: from.clone(),
        body: body.clone(),
        client_ref: None,
        status_callback: callback.clone(),
        answered: "accepted",
        message_id: None,
        received_at: Utc::now().to_rfc3339(),
    };
    let answer = match behaviour.mode {
        Mode::Accept | Mode::Slow | Mode::LateAnswer => None,
        Mode::Error5xx => Some(("error", twilio_error(500, 20500, "Internal Server Error"))),
        Mode::Throttle => Some(("throttled", twilio_error(429, 20429, "Too Many Requests"))),
        Mode::Refuse => Some((
            "refused",
            twilio_error(
                400,
                21211,
                &format!("The 'To' number {to} is not a valid phone number."),
            ),
        )),
        Mode::Timeout => {
            record.answered = "timeout";
            sim.record(record);
            tokio::time::sleep(Duration::from_secs(60)).await;
            return twilio_error(504, 20504, "Gateway Timeout");
        }
    };
    if behaviour.mode == Mode::Slow && behaviour.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(behaviour.delay_ms)).await;
    }
    if let Some((answered, response)) = answer {
        record.answered = answered;
        sim.record(record);
        return response;
    }
    let msid = format!("SM{}", random_hex(32));
    let now = rfc2822_now();
    let segments = if body.chars().count() <= 160 {
        1
    } else {
        body.chars().count().div_ceil(153)
    };
    let resource = json!({
        "account_sid": sid,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": form_get(&form, "MessagingServiceSid"),
        "num_media": "0",
        "num_segments": segments.to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": msid,
        "status": "queued",
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{sid}/Messages/{msid}/Media.json")},
        "to": to,
        "uri": format!("/2010-04-01/Accounts/{sid}/Messages/{msid}.json"),
    });
    sim.lock().twilio.insert(msid.clone(), resource.clone());
    record.message_id = Some(msid.clone());
    sim.record(record);
    if let (Some(url), Some((_, token))) = (callback, basic_auth(&req))
        && behaviour.receipt != ReceiptKind::None
    {
        let sim = sim.get_ref().clone();
        let (from, to) = (
            from.unwrap_or_default(),
            resource["to"].as_str().unwrap_or_default().to_owned(),
        );
        let order = behaviour.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(behaviour.receipt_delay_ms)).await;
            let Ok(_slot) = sim.callbacks.acquire().await else {
                return;
            };
            let final_status = match behaviour.receipt {
                ReceiptKind::Delivered => "delivered",
                ReceiptKind::Undelivered => "undelivered",
                _ => "failed",
            };
            for status in order.receipt_order(["sent", final_status]) {
                let mut params: Vec<(String, String)> = vec![
                    ("AccountSid".into(), sid.clone()),
                    ("ApiVersion".into(), "2010-04-01".into()),
                    ("From".into(), from.clone()),
                    ("MessageSid".into(), msid.clone()),
                    ("MessageStatus".into(), status.into()),
                    ("SmsSid".into(), msid.clone()),
                    ("SmsStatus".into(), status.into()),
                    ("To".into(), to.clone()),
                ];
                if status == "undelivered" || status == "failed" {
                    params.push(("ErrorCode".into(), "30003".into()));
                }
                if let Some(m) = sim.lock().twilio.get_mut(&msid) {
                    m["status"] = json!(status);
                }
                let signature = twilio_signature(&token, &url, &params);
                let _ = sim
                    .http
                    .post(&url)
                    .header("X-Twilio-Signature", signature)
                    .form(&params)
                    .send()
                    .await;
            }
        });
    }
    if behaviour.mode == Mode::LateAnswer {
        tokio::time::sleep(Duration::from_millis(behaviour.delay_ms)).await;
    }
    HttpResponse::Created().json(resource)
}

/// base64(HMAC-SHA1(auth token, URL + each POST parameter's name and value, sorted by name)).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn twilio_fetch(
    sim: web::Data<Sim>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (sid, msid) = path.into_inner();
    match basic_auth(&req) {
        Some((user, pass)) if user == sid && !pass.is_empty() => {}
        _ => return twilio_error(401, 20003, "Authenticate"),
    }
    match sim.lock().twilio.get(&msid) {
        Some(m) if m["account_sid"] == sid => HttpResponse::Ok().json(m),
        _ => twilio_error(
            404,
            20404,
            &format!(
                "The requested resource /2010-04-01/Accounts/{sid}/Messages/{msid}.json was not found"
            ),
        ),
    }
}

// ---- Vonage --------------------------------------------------------------------------------

/// Vonage's webhook signature ("Signing messages"), written here apart from the relay's so the
/// relay's check is tested against an implementation that is not its own: the parameters but
/// `sig`, sorted, as `&name=value` (`&` and `=` in values made `_`), then MD5 of that and the
/// secret (`md5hash`) or HMAC-SHA256 keyed with the secret (`sha256`); upper-case hex, as
/// Vonage sends it.
pub fn vonage_signature(params: &Value, method: &str, secret: &str) -> String {
    let mut pairs: Vec<(&String, String)> = params
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(k, _)| *k != "sig")
        .map(|(k, v)| {
            (
                k,
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    pairs.sort();
    let text: String = pairs
        .iter()
        .map(|(k, v)| format!("&{k}={}", v.replace(['&', '='], "_")))
        .collect();
    let hash = match method {
        "sha256" => {
            use hmac::Mac;
            let mut mac =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
            mac.update(text.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        _ => {
            use md5::Digest;
            hex::encode(md5::Md5::digest(format!("{text}{secret}").as_bytes()))
        }
    };
    hash.to_uppercase()
}

fn vonage_error(status: &str, text: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "message-count": "1",
        "messages": [{"status": status, "error-text": text}],
    }))
}

async fn vonage_send(sim: web::Data<Sim>, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let form = form.into_inner();
    let (Some(key), Some(to), Some(from)) = (
        form_get(&form, "api_key"),
        form_get(&form, "to"),
        form_get(&form, "from"),
    ) else {
        return vonage_error("2", "Missing api_key, from or to param");
    };
    let Some(secret) = form_get(&form, "api_secret") else {
        return vonage_error("2", "Missing api_secret param");
    };
    if key.len() != 8 || !(6..=32).contains(&secret.len()) {
        return vonage_error("4", "Bad Credentials");
    }
    if !(7..=15).contains(&to.len()) || !to.bytes().all(|b| b.is_ascii_digit()) {
        return vonage_error("3", "Invalid to param");
    }
    let text = form_get(&form, "text").unwrap_or_default().to_owned();
    let client_ref = form_get(&form, "client-ref").map(str::to_owned);
    let callback = form_get(&form, "callback").map(str::to_owned);
    let behaviour = sim.behaviour_for(key);
    let _in_flight = sim.enter(key);
    let mut record = Received {
        seq: 0,
        provider: "vonage",
        account: key.to_owned(),
        to: to.to_owned(),
        from: Some(from.to_owned()),
        body: text.clone(),
        client_ref: client_ref.clone(),
        status_callback: callback.clone(),
        answered: "accepted",
        message_id: None,
        received_at: Utc::now().to_rfc3339(),
    };
    if behaviour.mode == Mode::Slow && behaviour.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(behaviour.delay_ms)).await;
    }
    let refusal = match behaviour.mode {
        Mode::Accept | Mode::Slow | Mode::LateAnswer => None,
        Mode::Error5xx => Some(("error", "5", "Internal Error")),
        Mode::Throttle => Some((
            "throttled",
            "1",
            "Throughput Rate Exceeded - please wait [ 1000 ] and retry",
        )),
        Mode::Refuse => Some(("refused", "6", "Invalid Message")),
        Mode::Timeout => {
            record.answered = "timeout";
            sim.record(record);
            tokio::time::sleep(Duration::from_secs(60)).await;
            return vonage_error("5", "Internal Error");
        }
    };
    if let Some((answered, status, text)) = refusal {
        record.answered = answered;
        sim.record(record);
        return vonage_error(status, text);
    }
    let unicode = form_get(&form, "type") == Some("unicode");
    let units = if unicode {
        text.encode_utf16().count()
    } else {
        text.chars().count()
    };
    let (single, part) = if unicode { (70, 67) } else { (160, 153) };
    let parts = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    let ids: Vec<String> = (0..parts).map(|_| random_hex(16).to_uppercase()).collect();
    record.message_id = Some(ids[0].clone());
    sim.record(record);
    let messages: Vec<Value> = ids
        .iter()
        .map(|id| {
            let mut m = json!({
                "to": to,
                "message-id": id,
                "status": "0",
                "remaining-balance": "10.00000000",
                "message-price": "0.03330000",
                "network": "12345",
            });
            if let Some(r) = &client_ref {
                m["client-ref"] = json!(r);
            }
            m
        })
        .collect();
    if let Some(url) = callback
        && behaviour.receipt != ReceiptKind::None
    {
        let (sim, key, to, from, id) = (
            sim.get_ref().clone(),
            key.to_owned(),
            to.to_owned(),
            from.to_owned(),
            ids[0].clone(),
        );
        let order = behaviour.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(behaviour.receipt_delay_ms)).await;
            let Ok(_slot) = sim.callbacks.acquire().await else {
                return;
            };
            let last = match behaviour.receipt {
                ReceiptKind::Delivered => ("delivered", "0"),
                ReceiptKind::Undelivered => ("expired", "1"),
                _ => ("failed", "6"),
            };
            for (status, err) in order.receipt_order([("buffered", "0"), last]) {
                let now = Utc::now();
                let mut dlr = json!({
                    "msisdn": to,
                    "to": from,
                    "network-code": "12345",
                    "messageId": id,
                    "price": "0.03330000",
                    "status": status,
                    "scts": now.format("%y%m%d%H%M").to_string(),
                    "err-code": err,
                    "api-key": key,
                    "message-timestamp": now.format("%Y-%m-%d %H:%M:%S").to_string(),
                });
                if let Some(r) = &client_ref {
                    dlr["client-ref"] = json!(r);
                }
                if let Some(secret) = &behaviour.signature_secret {
                    dlr["timestamp"] = json!(now.timestamp().to_string());
                    dlr["nonce"] = json!(uuid::Uuid::new_v4().to_string());
                    let method = behaviour.signature_method.as_deref().unwrap_or("md5hash");
                    dlr["sig"] = json!(vonage_signature(&dlr, method, secret));
                }
                let _ = sim.http.post(&url).json(&dlr).send().await;
            }
        });
    }
    if behaviour.mode == Mode::LateAnswer {
        tokio::time::sleep(Duration::from_millis(behaviour.delay_ms)).await;
    }
    HttpResponse::Ok().json(json!({
        "message-count": parts.to_string(),
        "messages": messages,
    }))
}

// ---- inbound -------------------------------------------------------------------------------

/// An inbound message for the simulator to post to a webhook, as the provider would when
/// someone texts one of an account's numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundOrder {
    /// `twilio` or `vonage`.
    pub provider: String,
    /// The webhook, as configured at the provider.
    pub url: String,
    /// Twilio's account SID, or Vonage's API key.
    pub account: String,
    /// Twilio's auth token (it signs every request); for Vonage, the signature secret of an
    /// account that signs its webhooks (None: unsigned).
    pub secret: Option<String>,
    /// Vonage's signature method (`md5hash` by default, or `sha256`).
    #[serde(default)]
    pub method: Option<String>,
    /// Who sends it (E.164) and the account's number it is sent to.
    pub from: String,
    pub to: String,
    pub text: String,
    /// The provider's id for it (made up when None); the same id twice is a resend.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Vonage: post JSON (default) or a form.
    #[serde(default)]
    pub form: bool,
}

/// Posts an inbound message in the provider's wire format, signed as it signs them; answers
/// `{status, body, message_id}` of the webhook's answer.
async fn inbound(sim: web::Data<Sim>, order: web::Json<InboundOrder>) -> HttpResponse {
    let o = order.into_inner();
    let request = match o.provider.as_str() {
        "twilio" => {
            let sid = o
                .message_id
                .clone()
                .unwrap_or_else(|| format!("SM{}", random_hex(32)));
            let params: Vec<(String, String)> = vec![
                ("AccountSid".into(), o.account.clone()),
                ("ApiVersion".into(), "2010-04-01".into()),
                ("Body".into(), o.text.clone()),
                ("From".into(), o.from.clone()),
                ("MessageSid".into(), sid.clone()),
                ("NumMedia".into(), "0".into()),
                ("NumSegments".into(), "1".into()),
                ("SmsMessageSid".into(), sid.clone()),
                ("SmsSid".into(), sid.clone()),
                ("SmsStatus".into(), "received".into()),
                ("To".into(), o.to.clone()),
            ];
            let mut req = sim.http.post(&o.url).form(&params);
            if let Some(token) = &o.secret {
                req = req.header(
                    "X-Twilio-Signature",
                    twilio_signature(token, &o.url, &params),
                );
            }
            (req, sid)
        }
        "vonage" => {
            let id = o
                .message_id
                .clone()
                .unwrap_or_else(|| random_hex(16).to_uppercase());
            let now = Utc::now();
            let keyword = o
                .text
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_uppercase();
            let mut params = json!({
                "api-key": o.account,
                "msisdn": o.from.trim_start_matches('+'),
                "to": o.to.trim_start_matches('+'),
                "messageId": id,
                "text": o.text,
                "type": "text",
                "keyword": keyword,
                "message-timestamp": now.format("%Y-%m-%d %H:%M:%S").to_string(),
            });
            if let Some(secret) = &o.secret {
                params["timestamp"] = json!(now.timestamp().to_string());
                params["nonce"] = json!(uuid::Uuid::new_v4().to_string());
                let method = o.method.as_deref().unwrap_or("md5hash");
                params["sig"] = json!(vonage_signature(&params, method, secret));
            }
            let req = if o.form {
                let pairs: Vec<(String, String)> = params
                    .as_object()
                    .expect("an object")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect();
                sim.http.post(&o.url).form(&pairs)
            } else {
                sim.http.post(&o.url).json(&params)
            };
            (req, id)
        }
        other => {
            return HttpResponse::BadRequest()
                .json(json!({"error": format!("no provider {other:?}")}));
        }
    };
    let (req, message_id) = request;
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            HttpResponse::Ok()
                .json(json!({"status": status, "body": body, "message_id": message_id}))
        }
        Err(e) => HttpResponse::BadGateway().json(json!({"error": e.to_string()})),
    }
}

// ---- control ---------------------------------------------------------------------------------

async fn set_default(sim: web::Data<Sim>, body: web::Json<Behaviour>) -> HttpResponse {
    let mut st = sim.lock();
    st.default = body.into_inner();
    st.seen.clear();
    HttpResponse::NoContent().finish()
}

async fn set_account(
    sim: web::Data<Sim>,
    account: web::Path<String>,
    body: web::Json<Behaviour>,
) -> HttpResponse {
    let account = account.into_inner();
    let mut st = sim.lock();
    st.seen.remove(&account);
    st.accounts.insert(account, body.into_inner());
    HttpResponse::NoContent().finish()
}

async fn get_behaviour(sim: web::Data<Sim>) -> HttpResponse {
    let st = sim.lock();
    HttpResponse::Ok().json(json!({"default": st.default, "accounts": st.accounts}))
}

#[derive(Deserialize)]
struct ReceivedQuery {
    account: Option<String>,
    to: Option<String>,
}

async fn received(sim: web::Data<Sim>, q: web::Query<ReceivedQuery>) -> HttpResponse {
    let st = sim.lock();
    let list: Vec<&Received> = st
        .received
        .iter()
        .filter(|r| q.account.as_ref().is_none_or(|a| &r.account == a))
        .filter(|r| q.to.as_ref().is_none_or(|t| &r.to == t))
        .collect();
    HttpResponse::Ok().json(list)
}

async fn stats(sim: web::Data<Sim>) -> HttpResponse {
    let st = sim.lock();
    let mut by: HashMap<String, u64> = HashMap::new();
    for r in &st.received {
        *by.entry(format!("{}/{}/{}", r.provider, r.account, r.answered))
            .or_default() += 1;
    }
    let duplicates: u64 = st.accepted.values().map(|n| n.saturating_sub(1)).sum();
    HttpResponse::Ok().json(json!({
        "total": st.received.len(),
        "accepted": st.accepted.values().sum::<u64>(),
        "duplicates": duplicates,
        "by": by,
        "max_in_flight": st.max_in_flight,
    }))
}

async fn reset(sim: web::Data<Sim>) -> HttpResponse {
    *sim.lock() = State::default();
    HttpResponse::NoContent().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_come_in_order_once_each_unless_told_otherwise() {
        let mut b = Behaviour::default();
        assert_eq!(
            b.receipt_order(["sent", "delivered"]),
            ["sent", "delivered"]
        );
        b.receipts_reversed = true;
        b.receipt_copies = 3;
        assert_eq!(
            b.receipt_order(["sent", "delivered"]),
            [
                "delivered",
                "delivered",
                "delivered",
                "sent",
                "sent",
                "sent"
            ]
        );
        let parsed: Behaviour =
            serde_json::from_value(json!({"receipt_copies": 2, "receipts_reversed": true}))
                .unwrap();
        assert_eq!(parsed.receipt_order([1, 2]), [2, 2, 1, 1]);
        let plain: Behaviour = serde_json::from_value(json!({})).unwrap();
        assert_eq!(plain.receipt_order([1, 2]), [1, 2]);
    }
}
