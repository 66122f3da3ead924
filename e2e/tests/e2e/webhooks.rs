//! Webhooks across a crash: the worker killed (SIGKILL) in the middle of a webhook backlog, a
//! new one started; every event still reaches the endpoint, signed, and every delivery ends
//! succeeded.

use std::collections::HashMap;
use std::time::Duration;

use openclaw_core::domain::EventId;
use openclaw_e2e::procs::Relay;
use openclaw_e2e::receiver::{Mode, Receiver};
use openclaw_e2e::services::{query_i64, query_rows};
use serde_json::{Value, json};

const MESSAGES: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_backlog_loses_no_event() {
    let mut relay = Relay::start(&[
        ("OPENCLAW_ALLOW_HTTP_WEBHOOKS", "1"),
        ("OPENCLAW_ALLOW_PRIVATE_WEBHOOKS", "1"),
        ("OPENCLAW_WEBHOOK_TIMEOUT_MS", "2000"),
        ("OPENCLAW_WEBHOOK_RETRY_DELAYS_MS", "500"),
    ])
    .await;
    let rx = Receiver::spawn().await;
    // Slow enough that many deliveries are under way when the worker dies.
    rx.set_mode(Mode::Slow(Duration::from_secs(1)));
    let owner = relay.signup().await;
    relay
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    let key = relay.api_key(&owner, "live").await;
    crate::support::listen_for_status(&relay, &owner, &rx).await;

    for chunk in 0..(MESSAGES / 100) {
        let messages: Vec<Value> = (0..100)
            .map(|i| json!({"to": "+14155552671", "body": format!("backlog {chunk}-{i}")}))
            .collect();
        let res = relay
            .post("/v1/messages/batch", &key, &json!({ "messages": messages }))
            .await;
        assert_eq!(res.status(), 202);
    }
    // Every message delivered (so no send is in doubt), and the webhook backlog under way.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while query_i64(
        &relay.db.url,
        "SELECT count(*) FROM messages WHERE status = 'delivered'",
    )
    .await
        < MESSAGES as i64
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rx.wait_until("the first events", Duration::from_secs(60), |got| {
        got.len() >= 50
    })
    .await;
    relay.stop_worker("KILL");
    let at_kill = rx.received().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    relay.start_worker();

    // Every status change of every message is an event: sent and delivered, 2 per message.
    let events = 2 * MESSAGES;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let open = query_i64(
            &relay.db.url,
            "SELECT count(*) FROM webhook_deliveries WHERE state <> 'succeeded'",
        )
        .await;
        let made = query_i64(&relay.db.url, "SELECT count(*) FROM webhook_events").await;
        if open == 0 && made as usize == events {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} deliveries not succeeded, {made} of {events} events made"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored: Vec<String> = query_rows(&relay.db.url, "SELECT id FROM webhook_events")
        .await
        .into_iter()
        .map(|r| {
            EventId::from(uuid::Uuid::parse_str(r["id"].as_str().unwrap()).unwrap()).to_string()
        })
        .collect();
    let got = rx.received();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for r in &got {
        assert!(r.verified(), "{r:?}");
        *seen.entry(r.event_id()).or_default() += 1;
    }
    for id in &stored {
        assert!(
            seen.contains_key(id.as_str()),
            "event {id} never reached the endpoint"
        );
    }
    let twice = seen.values().filter(|n| **n > 1).count();
    eprintln!(
        "{} requests for {} events ({} at the kill); {twice} events arrived more than once \
         (posts under way when the worker died)",
        got.len(),
        stored.len(),
        at_kill
    );
    relay.cleanup().await;
}
