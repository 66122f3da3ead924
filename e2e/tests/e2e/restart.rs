use std::collections::HashMap;
use std::time::Duration;

use openclaw_e2e::services::query_i64;

use openclaw_e2e::procs::{Relay, Simulator};
use serde_json::{Value, json};

use crate::support::*;

/// More than a worker holds at once (4 batches of about 500), so a restart lands mid-burst.
const BURST: usize = 5_000;

async fn burst(relay: &Relay, key: &str) -> Vec<String> {
    let mut ids = Vec::with_capacity(BURST);
    for chunk in 0..(BURST / 100) {
        let messages: Vec<Value> = (0..100)
            .map(|i| json!({"to": "+14155552671", "body": format!("burst {chunk}-{i}")}))
            .collect();
        let res = relay
            .post("/v1/messages/batch", key, &json!({ "messages": messages }))
            .await;
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        ids.extend(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
    }
    ids
}

async fn wait_received_at_least(sim: &Simulator, n: usize) {
    for _ in 0..600 {
        if received(sim, TWILIO_SID).await.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the simulator never received {n} messages");
}

/// How many messages have `status`.
async fn count(relay: &Relay, status: &str) -> usize {
    query_i64(
        &relay.db.url,
        &format!("SELECT count(*) FROM messages WHERE status = '{status}'"),
    )
    .await as usize
}

/// Waits until no message is queued or sending; returns (sent, failed).
async fn wait_all_final(relay: &Relay) -> (usize, usize) {
    for _ in 0..240 {
        let pending = query_i64(
            &relay.db.url,
            "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')",
        )
        .await;
        if pending == 0 {
            return (count(relay, "sent").await, count(relay, "failed").await);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("messages never all reached a final state");
}

/// Each body the simulator accepted, and how often.
async fn accepted_bodies(sim: &Simulator) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in received(sim, TWILIO_SID).await {
        if r["answered"] == "accepted" {
            *seen
                .entry(r["body"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_restarted_mid_burst_loses_nothing_and_sends_nothing_twice() {
    let sim = Simulator::start();
    let mut relay = Relay::start(&[]).await;
    let owner = relay.signup().await;
    two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    // A slow provider: the worker holds about 2,000 calls at once, so at the restart the rest
    // of the burst is still queued.
    behave(&sim, TWILIO_SID, json!({"mode": "slow", "delay_ms": 1500})).await;

    let ids = burst(&relay, &key).await;
    wait_received_at_least(&sim, 50).await;
    let status = relay.stop_worker("TERM").expect("the worker was running");
    assert!(
        status.success(),
        "the worker should stop cleanly on SIGTERM: {status:?}"
    );
    let before_restart = received(&sim, TWILIO_SID).await.len();
    assert!(
        before_restart < BURST,
        "the burst should still be in flight at the restart"
    );
    relay.start_worker();

    let (sent, failed) = wait_all_final(&relay).await;
    assert_eq!((sent, failed), (BURST, 0));
    assert_eq!(ids.len(), BURST);
    let bodies = accepted_bodies(&sim).await;
    assert_eq!(bodies.len(), BURST, "every message reached the provider");
    assert!(
        bodies.values().all(|n| *n == 1),
        "no message was sent twice"
    );
    assert_eq!(stats(&sim).await["duplicates"], 0);
    relay.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_never_causes_a_duplicate_and_every_message_is_accounted_for() {
    let sim = Simulator::start();
    let mut relay = Relay::start(&[("OPENCLAW_CLAIM_LEASE_SECS", "3")]).await;
    let owner = relay.signup().await;
    two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    behave(&sim, TWILIO_SID, json!({"mode": "slow", "delay_ms": 100})).await;

    let ids = burst(&relay, &key).await;
    wait_received_at_least(&sim, 50).await;
    relay.stop_worker("KILL");
    relay.start_worker();

    let (sent, unknown) = wait_all_final(&relay).await;
    assert_eq!(sent + unknown, BURST, "sent {sent}, failed {unknown}");
    assert_eq!(ids.len(), BURST);
    let bodies = accepted_bodies(&sim).await;
    assert!(
        bodies.values().all(|n| *n == 1),
        "no message was sent twice"
    );
    // Every message marked sent reached the provider; the in-doubt ones are marked as such.
    assert!(bodies.len() >= sent);
    assert!(bodies.len() <= sent + unknown);
    let other_failures = query_i64(
        &relay.db.url,
        "SELECT count(*) FROM messages WHERE status = 'failed' AND error_code <> 'outcome_unknown'",
    )
    .await;
    assert_eq!(
        other_failures, 0,
        "the only failures are the in-doubt sends"
    );
    relay.cleanup().await;
}
