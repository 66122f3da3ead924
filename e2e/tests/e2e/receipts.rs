//! Receipts as providers really send them: out of order, repeated, forged, for messages we do
//! not know, late, and some never. Both wire formats (Twilio's signed form callbacks, Vonage's
//! JSON DLRs), posted to the built server the way the providers post them.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use openclaw_e2e::app::Owner;
use openclaw_e2e::procs::{Relay, Simulator};
use openclaw_e2e::receiver::{Received, Receiver};
use openclaw_e2e::sim::twilio_signature;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use crate::support::*;

/// Messages per provider.
const EACH: usize = 12;

/// One receipt callback as a provider would post it.
enum Callback {
    Twilio {
        url: String,
        params: Vec<(String, String)>,
        signature: String,
    },
    Vonage {
        url: String,
        dlr: Value,
    },
}

impl Callback {
    fn twilio(url: &str, sid: &str, status: &str, error_code: Option<&str>) -> Callback {
        let mut params: Vec<(String, String)> = vec![
            ("AccountSid".into(), TWILIO_SID.into()),
            ("ApiVersion".into(), "2010-04-01".into()),
            ("MessageSid".into(), sid.into()),
            ("MessageStatus".into(), status.into()),
            ("SmsSid".into(), sid.into()),
            ("SmsStatus".into(), status.into()),
            ("To".into(), "+14155552671".into()),
        ];
        if let Some(code) = error_code {
            params.push(("ErrorCode".into(), code.into()));
        }
        Callback::Twilio {
            signature: twilio_signature(TWILIO_TOKEN, url, &params),
            url: url.to_owned(),
            params,
        }
    }

    fn vonage(url: &str, id: &str, client_ref: &str, status: &str, err: &str) -> Callback {
        Callback::Vonage {
            url: url.to_owned(),
            dlr: json!({
                "msisdn": "14155552671", "to": "14155550100", "network-code": "12345",
                "messageId": id, "price": "0.03330000", "status": status,
                "scts": "2612080102", "err-code": err, "api-key": VONAGE_KEY,
                "message-timestamp": "2026-12-08 01:02:03", "client-ref": client_ref,
            }),
        }
    }

    async fn post(&self, http: &reqwest::Client) -> u16 {
        let req = match self {
            Callback::Twilio {
                url,
                params,
                signature,
            } => http
                .post(url)
                .header("X-Twilio-Signature", signature)
                .form(params),
            Callback::Vonage { url, dlr } => http.post(url).json(dlr),
        };
        req.send()
            .await
            .expect("server reachable")
            .status()
            .as_u16()
    }
}

/// A relay with a simulator, a tenant with a Twilio and a Vonage provider at it (Twilio the
/// cheaper), a live key, and an endpoint for `message.status` at a receiver.
struct World {
    sim: Simulator,
    relay: Relay,
    rx: Receiver,
    owner: Owner,
    key: String,
    twilio: String,
    vonage: String,
}

impl World {
    async fn start() -> World {
        let sim = Simulator::start();
        let relay = Relay::start(&[
            ("OPENCLAW_ALLOW_HTTP_WEBHOOKS", "1"),
            ("OPENCLAW_ALLOW_PRIVATE_WEBHOOKS", "1"),
        ])
        .await;
        let rx = Receiver::spawn().await;
        let owner = relay.signup().await;
        let (twilio, vonage) = two_providers(&relay, &sim, &owner).await;
        let key = relay.api_key(&owner, "live").await;
        listen_for_status(&relay, &owner, &rx).await;
        World {
            sim,
            relay,
            rx,
            owner,
            key,
            twilio,
            vonage,
        }
    }
}

/// The statuses of a message's events, as the API lists them.
fn statuses(message: &Value) -> Vec<&str> {
    message["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect()
}

/// How many signed `message.status` events arrived per (message, status); each must be
/// signed with the endpoint's secret.
fn per_message_and_status(got: &[Received]) -> HashMap<(String, String), usize> {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for r in got {
        assert!(r.verified(), "signed with the endpoint's secret");
        let data = &r.event["data"];
        *seen
            .entry((
                data["message_id"].as_str().unwrap().to_owned(),
                data["status"].as_str().unwrap().to_owned(),
            ))
            .or_default() += 1;
    }
    seen
}

/// `url` with its `message_id` query value replaced by `id`.
fn for_message(url: &str, id: &str) -> String {
    let (base, _) = url
        .split_once("message_id=")
        .expect("our id in the callback URL");
    format!("{base}message_id={id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuffled_and_repeated_receipts_in_both_wire_formats_move_each_message_forward_once() {
    let World {
        sim,
        relay,
        rx,
        owner: _,
        key,
        twilio,
        vonage,
    } = World::start().await;

    // Twilio takes the first messages; then it refuses, and Vonage takes the rest. Neither
    // sends receipts of its own: the test posts them.
    behave(&sim, TWILIO_SID, json!({"mode": "accept"})).await;
    behave(&sim, VONAGE_KEY, json!({"mode": "accept"})).await;
    let mut ids = Vec::new();
    for i in 0..2 * EACH {
        if i == EACH {
            behave(&sim, TWILIO_SID, json!({"mode": "refuse"})).await;
        }
        let id = send(&relay, &key, "+14155552671", &format!("receipts {i}")).await;
        let taken = relay.wait_for_status(&key, &id, &["sent"], LONG).await;
        let expected = if i < EACH { &twilio } else { &vonage };
        assert_eq!(&taken["provider_id"], expected, "{taken:#}");
        ids.push(id);
    }

    // Every message's receipts: the steps on the way, and the final word (even ones
    // delivered, odd ones not), each posted twice; all of them shuffled together.
    let mut want: HashMap<String, &str> = HashMap::new();
    let mut callbacks = Vec::new();
    let mut forged = Vec::new();
    for r in received(&sim, TWILIO_SID).await {
        if r["answered"] != "accepted" {
            continue;
        }
        let url = r["status_callback"].as_str().unwrap();
        let sid = r["message_id"].as_str().unwrap();
        let ours = url.split("message_id=").nth(1).unwrap().to_owned();
        let delivered = ids.iter().position(|i| *i == ours).unwrap() % 2 == 0;
        want.insert(
            ours,
            if delivered {
                "delivered"
            } else {
                "undelivered"
            },
        );
        for _ in 0..2 {
            callbacks.push(Callback::twilio(url, sid, "sending", None));
            callbacks.push(Callback::twilio(url, sid, "sent", None));
            callbacks.push(if delivered {
                Callback::twilio(url, sid, "delivered", None)
            } else {
                Callback::twilio(url, sid, "undelivered", Some("30003"))
            });
        }
        // Signed with another account's token: refused, whatever it says.
        let mut fake = Callback::twilio(url, sid, "failed", Some("30007"));
        if let Callback::Twilio {
            signature, params, ..
        } = &mut fake
        {
            *signature = twilio_signature("not-the-auth-token", url, params);
        }
        forged.push(fake);
    }
    for r in received(&sim, VONAGE_KEY).await {
        if r["answered"] != "accepted" {
            continue;
        }
        let url = r["status_callback"].as_str().unwrap();
        let id = r["message_id"].as_str().unwrap();
        let ours = r["client_ref"].as_str().unwrap().to_owned();
        let delivered = ids.iter().position(|i| *i == ours).unwrap() % 2 == 0;
        want.insert(
            ours.clone(),
            if delivered {
                "delivered"
            } else {
                "undelivered"
            },
        );
        for _ in 0..2 {
            callbacks.push(Callback::vonage(url, id, &ours, "accepted", "0"));
            callbacks.push(Callback::vonage(url, id, &ours, "buffered", "0"));
            callbacks.push(if delivered {
                Callback::vonage(url, id, &ours, "delivered", "0")
            } else {
                Callback::vonage(url, id, &ours, "failed", "2")
            });
        }
    }
    assert_eq!(want.len(), 2 * EACH, "every message has its receipts");
    callbacks.shuffle(&mut rand::rngs::StdRng::seed_from_u64(20261208));

    // Forgeries first: each refused, nothing changed.
    let http = reqwest::Client::new();
    for f in &forged {
        assert_eq!(f.post(&http).await, 401);
    }
    // Receipts for messages nobody knows are acknowledged (the provider stops retrying).
    let some_twilio_url = received(&sim, TWILIO_SID).await[0]["status_callback"]
        .as_str()
        .unwrap()
        .to_owned();
    let stranger = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let unknown = [
        Callback::twilio(
            &for_message(&some_twilio_url, &stranger),
            "SMunknown",
            "delivered",
            None,
        ),
        Callback::vonage(
            &relay.url(&format!("/hooks/providers/{vonage}/status")),
            "0A0000000123ABCD",
            &stranger,
            "delivered",
            "0",
        ),
    ];
    for u in &unknown {
        let status = u.post(&http).await;
        assert!((200..300).contains(&status), "unknown message: {status}");
    }

    // The shuffled stream, eight at once.
    let answers: Vec<u16> = futures::stream::iter(callbacks.iter().map(|c| c.post(&http)))
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(
        answers.iter().all(|s| (200..300).contains(s)),
        "every receipt acknowledged: {answers:?}"
    );

    for (id, status) in &want {
        let m = relay.wait_for_status(&key, id, &[status], LONG).await;
        // Each status once, in order: no step back, no second event.
        let events = statuses(&m);
        assert_eq!(events, ["queued", "sending", "sent", *status], "{m:#}");
        if *status == "undelivered" {
            // Twilio's 30003 and Vonage's err-code 2 are the same thing in OpenClaw's words.
            assert_eq!(m["error"]["code"], "unreachable", "{m:#}");
        } else {
            assert!(m["error"].is_null(), "{m:#}");
        }
    }

    // One signed `message.status` event per status change: `sent`, then the final one.
    let got = rx
        .wait_until("every status change", LONG, |got| got.len() >= 4 * EACH)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = if rx.received().len() > got.len() {
        rx.received()
    } else {
        got
    };
    let seen = per_message_and_status(&got);
    let mut expected: HashMap<(String, String), usize> = HashMap::new();
    for (id, status) in &want {
        expected.insert((id.clone(), "sent".into()), 1);
        expected.insert((id.clone(), (*status).into()), 1);
    }
    assert_eq!(seen, expected);
    relay.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_that_does_not_come_in_time_is_marked_overdue_and_a_late_one_still_counts() {
    let World {
        sim,
        relay,
        rx,
        owner,
        key,
        twilio,
        vonage: _,
    } = World::start().await;

    // Twilio's receipts may take 2 s here (a day by default); out of range is refused.
    let patch = |body: Value| {
        relay
            .http
            .patch(relay.url(&format!("/v1/providers/{twilio}")))
            .bearer_auth(&owner.access_token)
            .json(&body)
            .send()
    };
    let res = patch(json!({"receipt_timeout_seconds": 0})).await.unwrap();
    assert_eq!(res.status(), 400);
    let refused: Value = res.json().await.unwrap();
    assert_eq!(refused["error"]["field"], "receipt_timeout_seconds");
    let res = patch(json!({"receipt_timeout_seconds": 2})).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["receipt_timeout_seconds"],
        2
    );

    // Its receipt comes 7 s after the send: overdue first, then delivered all the same.
    behave(
        &sim,
        TWILIO_SID,
        json!({"mode": "accept", "receipt": "delivered", "receipt_delay_ms": 7000}),
    )
    .await;
    let late = send(&relay, &key, "+14155552671", "late receipt").await;
    relay.wait_for_status(&key, &late, &["sent"], LONG).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    let overdue = loop {
        let m: Value = relay
            .get(&format!("/v1/messages/{late}"), &key)
            .await
            .json()
            .await
            .unwrap();
        let marked = m["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["status"] == "receipt_overdue");
        if marked {
            break m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never marked overdue: {m:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        overdue["status"], "sent",
        "overdue, still sent: {overdue:#}"
    );
    let done = relay
        .wait_for_status(&key, &late, &["delivered"], LONG)
        .await;
    let events = statuses(&done);
    assert_eq!(
        events,
        ["queued", "sending", "sent", "receipt_overdue", "delivered"]
    );

    // A receipt in time: no mark, however long one waits after.
    behave(
        &sim,
        TWILIO_SID,
        json!({"mode": "accept", "receipt": "delivered", "receipt_delay_ms": 100}),
    )
    .await;
    let prompt = send(&relay, &key, "+14155552671", "prompt receipt").await;
    relay
        .wait_for_status(&key, &prompt, &["delivered"], LONG)
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let m: Value = relay
        .get(&format!("/v1/messages/{prompt}"), &key)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !m["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["status"] == "receipt_overdue"),
        "{m:#}"
    );

    // Being overdue is no status change: the endpoint hears `sent` and `delivered` only.
    let got = rx
        .wait_until("both messages' events", LONG, |got| got.len() >= 4)
        .await;
    let late_events: Vec<&str> = got
        .iter()
        .filter(|r| r.event["data"]["message_id"] == late.as_str())
        .map(|r| r.event["data"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(late_events, ["sent", "delivered"]);

    // The admin app's timeline: the events, the overdue mark explained, and each webhook
    // delivery with its answer.
    let page = relay
        .admin_session_of(&owner.access_token)
        .page(&format!("/messages/{late}"), None)
        .await;
    assert!(page.contains("receipt overdue"), "{page}");
    assert!(
        page.contains("No receipt from the provider within its receipt timeout"),
        "{page}"
    );
    let endpoint = rx.url("/events");
    assert!(
        page.contains(&format!("message.status (delivered) to {endpoint}")),
        "{page}"
    );
    assert!(page.contains("answered 200"), "{page}");
    relay.cleanup().await;
}

/// The same from the simulator itself: each message's receipts come last first and several
/// times over, in both wire formats, as gateways' callbacks do when they race or are retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_reversed_and_repeated_receipts_move_each_message_forward_once() {
    let World {
        sim,
        relay,
        rx,
        owner: _,
        key,
        twilio,
        vonage,
    } = World::start().await;
    behave(
        &sim,
        TWILIO_SID,
        json!({"mode": "accept", "receipt": "delivered", "receipt_delay_ms": 50,
               "receipt_copies": 3, "receipts_reversed": true}),
    )
    .await;
    behave(
        &sim,
        VONAGE_KEY,
        json!({"mode": "accept", "receipt": "undelivered", "receipt_delay_ms": 50,
               "receipt_copies": 2, "receipts_reversed": true}),
    )
    .await;
    let mut sent = Vec::new();
    for i in 0..2 * EACH {
        if i == EACH {
            behave(&sim, TWILIO_SID, json!({"mode": "refuse"})).await;
        }
        let (provider, last) = if i < EACH {
            (&twilio, "delivered")
        } else {
            (&vonage, "undelivered")
        };
        let id = send(&relay, &key, "+14155552671", &format!("reversed {i}")).await;
        let m = relay.wait_for_status(&key, &id, &[last], LONG).await;
        assert_eq!(&m["provider_id"], provider, "{m:#}");
        sent.push((id, last));
    }
    // Let every copy arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut expected: HashMap<(String, String), usize> = HashMap::new();
    for (id, last) in &sent {
        let m: Value = relay
            .get(&format!("/v1/messages/{id}"), &key)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(m["status"], *last, "{m:#}");
        let events = statuses(&m);
        // `sent` is there unless the final receipt overtook the worker's own record of it;
        // either way each status once, forward.
        assert!(
            events == ["queued", "sending", "sent", *last]
                || events == ["queued", "sending", *last],
            "{id}: {events:?}"
        );
        for status in &events[2..] {
            expected.insert((id.clone(), (*status).to_owned()), 1);
        }
    }
    let want = expected.len();
    let got = rx
        .wait_until("every status change", LONG, |got| got.len() >= want)
        .await;
    let seen = per_message_and_status(&got);
    assert_eq!(seen, expected);
    relay.cleanup().await;
}
