//! A tenant's webhook receiver, for tests and the benchmark: an HTTP server that checks every
//! delivery's `OpenClaw-Signature` (with its own HMAC code, not the relay's) against the
//! secrets it was given, keeps what arrived, and answers as told: at once, after a delay, with
//! an error status for the next few, or not at all (stalled).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How the receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// 200 at once.
    Ok,
    /// 200 after this long.
    Slow(Duration),
    /// This status for the next `n` deliveries, then 200.
    Fail { status: u16, n: usize },
    /// No answer for a minute (past any timeout).
    Stall,
}

/// One request that reached the receiver.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// The body parsed (`{id, type, created_at, data}`); Null if it was not JSON.
    pub event: Value,
    /// The `t=` of the signature header, if there was one.
    pub t: Option<i64>,
    /// Which of the receiver's secrets (by index) one of the `v1=` signatures matched.
    pub matched: Vec<usize>,
    /// Whether the header was there at all.
    pub signed: bool,
    /// The status the receiver answered (0: it stalled).
    pub answered: u16,
    pub at: Instant,
}

impl Received {
    /// Signed with one of the receiver's secrets, within five minutes of now.
    pub fn verified(&self) -> bool {
        let fresh = self
            .t
            .is_some_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= 300);
        fresh && !self.matched.is_empty()
    }

    pub fn event_id(&self) -> &str {
        self.event["id"].as_str().unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.event["type"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    secrets: Vec<String>,
    mode: Option<Mode>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    base_url: String,
    state: Arc<Mutex<State>>,
}

/// `hex(HMAC-SHA256(secret, "<t>.<body>"))`, written here again so the relay's signing is
/// checked by code that is not its own.
pub fn expected_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `t` and every `v1` of a signature header.
fn parse_header(value: &str) -> (Option<i64>, Vec<String>) {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse().ok(),
            Some(("v1", v)) => v1.push(v.to_owned()),
            _ => {}
        }
    }
    (t, v1)
}

async fn receive(req: HttpRequest, body: web::Bytes, rx: web::Data<Receiver>) -> HttpResponse {
    let header = req
        .headers()
        .get("OpenClaw-Signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (t, sigs) = header.as_deref().map(parse_header).unwrap_or_default();
    let (mode, matched) = {
        let mut state = rx.state.lock().expect("not poisoned");
        let matched: Vec<usize> = match t {
            Some(t) => state
                .secrets
                .iter()
                .enumerate()
                .filter(|(_, s)| sigs.contains(&expected_signature(s, t, &body)))
                .map(|(i, _)| i)
                .collect(),
            None => Vec::new(),
        };
        let mode = state.mode.clone().unwrap_or(Mode::Ok);
        if let Some(Mode::Fail { status, n }) = &mut state.mode {
            *n = n.saturating_sub(1);
            if *n == 0 {
                let _ = status;
                state.mode = Some(Mode::Ok);
            }
        }
        (mode, matched)
    };
    let answered = match &mode {
        Mode::Ok | Mode::Slow(_) => 200,
        Mode::Fail { status, .. } => *status,
        Mode::Stall => 0,
    };
    rx.state
        .lock()
        .expect("not poisoned")
        .received
        .push(Received {
            path: req.path().to_owned(),
            event: serde_json::from_slice(&body).unwrap_or(Value::Null),
            t,
            matched,
            signed: header.is_some(),
            answered,
            at: Instant::now(),
        });
    match mode {
        Mode::Ok => HttpResponse::Ok().body("ok"),
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            HttpResponse::Ok().body("ok")
        }
        Mode::Fail { status, .. } => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a status"))
                .body("failing on purpose")
        }
        Mode::Stall => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            HttpResponse::Ok().body("too late")
        }
    }
}

impl Receiver {
    /// Starts a receiver on a free port of 127.0.0.1.
    pub async fn spawn() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base_url = format!("http://{}", listener.local_addr().expect("bound"));
        let rx = Receiver {
            base_url,
            state: Arc::default(),
        };
        let data = web::Data::new(rx.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::default().limit(1 << 20))
                .default_service(web::post().to(receive))
        })
        .workers(2)
        .max_connections(100_000)
        .listen(listener)
        .expect("the receiver listens")
        .disable_signals()
        .run();
        tokio::spawn(server);
        rx
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The secrets a signature may be made with (index 0 first).
    pub fn set_secrets(&self, secrets: &[&str]) {
        self.state.lock().expect("not poisoned").secrets =
            secrets.iter().map(|s| (*s).to_owned()).collect();
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().expect("not poisoned").mode = Some(mode);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("not poisoned").received.clone()
    }

    /// Waits until `pred` holds for what arrived, or panics after `timeout` saying `what`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let until = Instant::now() + timeout;
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            if Instant::now() > until {
                panic!(
                    "the webhook receiver never saw {what} within {timeout:?}; it got {} requests: {:#?}",
                    got.len(),
                    got.iter()
                        .map(|r| (
                            r.path.clone(),
                            r.kind().to_owned(),
                            r.answered,
                            r.event["data"]["status"].clone()
                        ))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_with_several_signatures() {
        let (t, v1) = parse_header("t=12,v1=ab,v1=cd");
        assert_eq!(t, Some(12));
        assert_eq!(v1, vec!["ab", "cd"]);
        assert_eq!(parse_header("nonsense"), (None, vec![]));
    }
}
