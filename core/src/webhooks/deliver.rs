//! Delivering an event: its body, its signature, the one HTTP attempt (address checked after
//! DNS resolution, 10 s timeout, no redirects) and when to try again.
//!
//! Every delivery is `POST {url}` with body `{id, type, created_at, data}` and the header
//! `OpenClaw-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`; while a
//! replaced secret still signs, a second `v1=` carries its signature.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::db::webhooks::Claimed;
use crate::domain::{EventId, EventKind, MessageId, Money, ProviderId};

/// The header a delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "OpenClaw-Signature";

/// `hex(HMAC-SHA256(secret, "<t>.<body>"))`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The signature header's value: `t=…,v1=…` with one `v1` per secret.
pub fn signature(secrets: &[&str], t: i64, body: &[u8]) -> String {
    let mut out = format!("t={t}");
    for s in secrets {
        out.push_str(",v1=");
        out.push_str(&sign(s, t, body));
    }
    out
}

/// An address events may be posted to: not loopback, private, link-local (which holds the
/// cloud metadata address 169.254.169.254), shared, documentation, multicast, reserved or
/// unspecified. An IPv6 address that carries an IPv4 one (mapped, NAT64) is judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            // 64:ff9b::/96, the well-known NAT64 prefix.
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = seg[6].to_be_bytes();
                let [c, d] = seg[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                // 2001:db8::/32, documentation.
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                // ::/96, the deprecated IPv4-compatible addresses.
                || (seg[..6] == [0; 6]))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 0.0.0.0/8 "this network", 100.64.0.0/10 shared (carrier NAT), 192.0.0.0/24
        // protocol assignments, 198.18.0.0/15 benchmarking, 240.0.0.0/4 reserved.
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

/// The URL's host when it is an IP address (those are never resolved, so they are checked
/// on their own).
pub fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// When to try again after a failed attempt: the `attempts`-th delay of the schedule (its last
/// one repeating), less up to a fifth at random so retries of many deliveries spread out; or
/// None when that would be past `give_up_after` since the delivery was made.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub delays: Vec<Duration>,
    pub give_up_after: Duration,
}

/// 10 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then every 8 h: 3 days hold 12 retries.
pub const DEFAULT_RETRY_DELAYS_MS: [u64; 9] = [
    10_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000,
];

impl Schedule {
    pub fn from_settings(s: &crate::config::Settings) -> Schedule {
        Schedule {
            delays: s.webhook_retry_delays.clone(),
            give_up_after: s.webhook_give_up_after,
        }
    }

    /// The step (queue) of the retry after the `attempts`-th attempt.
    pub fn step(&self, attempts: i32) -> Duration {
        let i = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
        self.delays[i.min(self.delays.len() - 1)]
    }

    /// `jitter` in [0, 1): 0 waits the whole step, values near 1 a fifth less.
    pub fn next(
        &self,
        attempts: i32,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Option<Duration> {
        let step = self.step(attempts);
        let wait = step.mul_f64(1.0 - 0.2 * jitter.clamp(0.0, 1.0));
        let deadline = created_at + chrono::Duration::from_std(self.give_up_after).ok()?;
        let then = now + chrono::Duration::from_std(wait).ok()?;
        (then <= deadline).then_some(wait)
    }
}

/// The body of a delivery: `{id, type, created_at, data}`.
#[derive(Debug, Serialize)]
pub struct Body {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub created_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// `data` of a `message.status` event as the trigger `message_status_events` stores it.
#[derive(Debug, Deserialize)]
struct StoredStatus {
    status: String,
    previous_status: String,
    to: String,
    from: Option<String>,
    mode: String,
    message_type: String,
    client_ref: Option<String>,
    metadata: Option<serde_json::Value>,
    segments: i32,
    provider_id: Option<Uuid>,
    cost_micros: Option<i64>,
    currency: String,
    error_code: Option<String>,
    error_message: Option<String>,
    provider_code: Option<String>,
    at: DateTime<Utc>,
}

/// `data` of a `message.status` event, as posted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageStatusData {
    /// `msg_…`
    #[schema(value_type = String)]
    pub message_id: MessageId,
    pub status: crate::domain::Status,
    pub previous_status: crate::domain::Status,
    pub to: String,
    pub from: Option<String>,
    pub mode: crate::domain::KeyMode,
    pub message_type: String,
    pub client_ref: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub segments: i32,
    /// `prv_…`, once a provider took it.
    #[schema(value_type = Option<String>)]
    pub provider_id: Option<ProviderId>,
    /// What it cost, once sent.
    #[schema(value_type = Option<Object>)]
    pub cost: Option<Money>,
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
    /// When the status changed.
    pub at: DateTime<Utc>,
}

/// The public `data` of an event from what was stored when it happened.
pub fn render_data(
    kind: EventKind,
    subject: Option<Uuid>,
    stored: &serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    match kind {
        EventKind::MessageStatus => {
            let s: StoredStatus = serde_json::from_value(stored.clone())?;
            let status = |s: &str| {
                crate::domain::Status::parse(s)
                    .ok_or_else(|| anyhow::anyhow!("stored status {s:?} is not a status"))
            };
            let error = s.error_code.as_ref().map(|code| {
                serde_json::json!({"code": code, "message": s.error_message,
                                   "provider_code": s.provider_code})
            });
            let data = MessageStatusData {
                message_id: MessageId::from(subject.ok_or_else(|| {
                    anyhow::anyhow!("a message.status event without its message")
                })?),
                status: status(&s.status)?,
                previous_status: status(&s.previous_status)?,
                to: s.to,
                from: s.from,
                mode: crate::domain::KeyMode::parse(&s.mode).unwrap_or_default(),
                message_type: s.message_type,
                client_ref: s.client_ref,
                metadata: s.metadata,
                segments: s.segments,
                provider_id: s.provider_id.map(ProviderId::from),
                cost: s.cost_micros.map(|c| Money::new(c, s.currency)),
                error,
                at: s.at,
            };
            Ok(serde_json::to_value(data)?)
        }
        // Written by their own code, already in their public shape.
        _ => Ok(stored.clone()),
    }
}

/// The bytes posted for a claimed delivery.
pub fn body_of(d: &Claimed) -> anyhow::Result<Vec<u8>> {
    let body = Body {
        id: EventId::from(d.event_id),
        kind: d.kind,
        created_at: d.event_at,
        data: render_data(d.kind, d.subject_id, &d.data)?,
    };
    Ok(serde_json::to_vec(&body)?)
}

/// Why an address was refused (found in a request error's sources).
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves only to addresses that are not public ({addrs}); events are not posted there"
)]
pub struct Refused {
    host: String,
    addrs: String,
}

/// Resolves names as the system does, then drops every address that is not public (unless
/// the operator allows private ones), so a name that points inside the network is refused at
/// the moment of the request, whatever it pointed to when the URL was saved.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                let addrs = all
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(Refused { host, addrs }) as Box<_>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The answer's status, when one came.
    pub status: Option<u16>,
    pub latency_ms: u32,
    /// Why it did not succeed (None: a 2xx came).
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    fn refused(why: String) -> Attempt {
        Attempt {
            status: None,
            latency_ms: 0,
            error: Some(why),
        }
    }
}

/// The HTTP client deliveries go through.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    policy: super::UrlPolicy,
}

impl Client {
    pub fn new(policy: super::UrlPolicy, timeout: Duration) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: policy.allow_private,
            }))
            .pool_max_idle_per_host(64)
            .user_agent(concat!("OpenClaw-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client { http, policy })
    }

    /// Posts `body` to `url`, signed with `secrets` (none: unsigned). The URL is checked again
    /// first (the operator's policy may have changed since it was saved); a refused one makes
    /// no request.
    pub async fn post(&self, url: &str, body: Vec<u8>, secrets: &[&str]) -> Attempt {
        let url = match super::check_url(url, self.policy) {
            Ok(url) => url,
            Err(e) => return Attempt::refused(format!("Not posted: {e}")),
        };
        let t = Utc::now().timestamp();
        let mut req = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if !secrets.is_empty() {
            req = req.header(SIGNATURE_HEADER, signature(secrets, t, &body));
        }
        let started = Instant::now();
        let result = req.body(body).send().await;
        let latency_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        match result {
            Ok(res) => {
                let status = res.status();
                // The answer's body is not read: nothing in it matters, and a huge one must
                // not be waited for.
                drop(res);
                Attempt {
                    status: Some(status.as_u16()),
                    latency_ms,
                    error: (!status.is_success()).then(|| {
                        if status.is_redirection() {
                            format!("The endpoint answered {status}; redirects are not followed.")
                        } else {
                            format!("The endpoint answered {status}.")
                        }
                    }),
                }
            }
            Err(e) => Attempt {
                status: None,
                latency_ms,
                error: Some(describe_error(&e)),
            },
        }
    }
}

fn describe_error(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return format!("Not posted: {refused}.");
        }
        source = s.source();
    }
    if e.is_timeout() {
        "No answer within the timeout.".into()
    } else if e.is_connect() {
        format!("Could not connect: {}", root_cause(e))
    } else {
        format!("The request failed: {}", root_cause(e))
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_time_dot_body() {
        // Python: hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            sign("whsec_test", 1_700_000_000, b"{}"),
            "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        let h = signature(&["a", "b"], 5, b"x");
        assert_eq!(
            h,
            format!("t=5,v1={},v1={}", sign("a", 5, b"x"), sign("b", 5, b"x"))
        );
        assert_eq!(sign("a", 5, b"x").len(), 64);
        assert_ne!(sign("a", 5, b"x"), sign("a", 6, b"x"));
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn retries_grow_spread_and_stop_after_the_window() {
        let s = Schedule {
            delays: vec![Duration::from_secs(10), Duration::from_secs(60)],
            give_up_after: Duration::from_secs(300),
        };
        let t0 = Utc::now();
        assert_eq!(s.next(1, t0, t0, 0.0), Some(Duration::from_secs(10)));
        assert_eq!(s.next(1, t0, t0, 0.5), Some(Duration::from_secs(9)));
        assert_eq!(s.next(2, t0, t0, 0.0), Some(Duration::from_secs(60)));
        // The last step repeats.
        assert_eq!(s.next(7, t0, t0, 0.0), Some(Duration::from_secs(60)));
        // Past the window: given up.
        let late = t0 + chrono::Duration::seconds(250);
        assert_eq!(s.next(3, t0, late, 0.0), None);
        assert_eq!(s.step(0), Duration::from_secs(10));
    }

    #[test]
    fn status_events_render_typed_ids_and_money() {
        let msg = Uuid::now_v7();
        let prv = Uuid::now_v7();
        let stored = serde_json::json!({
            "status": "delivered", "previous_status": "sent", "to": "+14155550100",
            "from": null, "mode": "live", "message_type": "transactional", "client_ref": "r1",
            "metadata": {"a": 1}, "segments": 1, "provider_id": prv, "cost_micros": 7900,
            "currency": "USD", "error_code": null, "error_message": null,
            "provider_code": null, "at": "2026-12-04T10:00:00Z"});
        let data = render_data(EventKind::MessageStatus, Some(msg), &stored).unwrap();
        assert_eq!(data["message_id"], MessageId::from(msg).to_string());
        assert_eq!(data["provider_id"], ProviderId::from(prv).to_string());
        assert_eq!(data["status"], "delivered");
        assert_eq!(data["cost"]["currency"], "USD");
        assert!(data["error"].is_null());
    }
}
