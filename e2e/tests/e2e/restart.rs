//! Crashes and blips of the built binaries mid-burst: nothing accepted is lost, nothing is sent
//! twice, and a message the provider took never ends `failed`.

use std::collections::HashMap;
use std::time::Duration;

use openclaw_e2e::procs::{Relay, Simulator};
use openclaw_e2e::services::query_i64;
use serde_json::{Value, json};

use crate::support::*;

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
    for _ in 0..1200 {
        if received(sim, TWILIO_SID).await.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the simulator never received {n} messages");
}

async fn sql(relay: &Relay, query: &str) -> usize {
    query_i64(&relay.db.url, query).await as usize
}

/// How many messages have `status`.
async fn count(relay: &Relay, status: &str) -> usize {
    sql(
        relay,
        &format!("SELECT count(*) FROM messages WHERE status = '{status}'"),
    )
    .await
}

/// Waits until no message is queued or sending (in doubt included) or still claimed (a
/// receipt may have moved a dead worker's claimed message on; the lease check records it).
async fn wait_all_final(relay: &Relay) {
    for _ in 0..360 {
        let pending = sql(
            relay,
            "SELECT count(*) FROM messages
             WHERE status IN ('queued', 'sending') OR claimed_at IS NOT NULL",
        )
        .await;
        if pending == 0 {
            return;
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

/// Every message the provider took ended sent or delivered (never failed), each was taken
/// once, and the spend holds exactly those.
async fn assert_accounted(relay: &Relay, sim: &Simulator) -> HashMap<String, usize> {
    let bodies = accepted_bodies(sim).await;
    assert!(
        bodies.values().all(|n| *n == 1),
        "no message was sent twice"
    );
    assert_eq!(stats(sim).await["duplicates"], 0);
    let taken: Vec<String> = bodies.keys().cloned().collect();
    let taken_but_not_sent = query_i64(
        &relay.db.url,
        &format!(
            "SELECT count(*) FROM messages WHERE body = ANY(ARRAY[{}]::text[])
             AND status NOT IN ('sent', 'delivered')",
            taken
                .iter()
                .map(|b| format!("'{b}'"))
                .collect::<Vec<_>>()
                .join(",")
        ),
    )
    .await;
    assert_eq!(
        taken_but_not_sent, 0,
        "every message the provider took is sent or delivered"
    );
    let spent = sql(
        relay,
        "SELECT COALESCE(sum(messages), 0)::int8 FROM spend_daily",
    )
    .await;
    assert_eq!(
        spent,
        count(relay, "sent").await + count(relay, "delivered").await,
        "spend counts every sent message once"
    );
    bodies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_burst_finishes_its_calls_and_the_next_one_sends_the_rest() {
    let sim = Simulator::start();
    let mut relay = Relay::start(&[]).await;
    let owner = relay.signup().await;
    two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    behave(&sim, TWILIO_SID, json!({"mode": "slow", "delay_ms": 100})).await;

    let ids = burst(&relay, &key).await;
    wait_received_at_least(&sim, 200).await;
    let status = relay.stop_worker("TERM").expect("the worker was running");
    assert!(
        status.success(),
        "the worker should stop cleanly on SIGTERM: {status:?}"
    );
    let before_restart = received(&sim, TWILIO_SID).await.len();
    assert!(
        before_restart < BURST,
        "the burst should still be in flight at the stop"
    );
    // A clean stop leaves nothing claimed and nothing in doubt.
    assert_eq!(
        sql(
            &relay,
            "SELECT count(*) FROM messages WHERE claimed_at IS NOT NULL OR doubt_until IS NOT NULL"
        )
        .await,
        0
    );
    relay.start_worker();

    wait_all_final(&relay).await;
    assert_eq!(
        (count(&relay, "sent").await, count(&relay, "failed").await),
        (BURST, 0)
    );
    assert_eq!(ids.len(), BURST);
    assert_eq!(assert_accounted(&relay, &sim).await.len(), BURST);
    relay.cleanup().await;
}

/// One of two workers is killed mid-burst. What it held claimed is in doubt: the messages the
/// provider took are settled by their receipts, the rest fail after the window. Never a
/// duplicate, and never thousands in doubt. The tenant's budget is a hard cap, so every message
/// holds its worst-case cost: once all are settled no hold is left, the budget's room is the
/// limit less the ledger, and the next send is accepted (no false 402).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_leaves_at_most_its_in_flight_messages_in_doubt_and_receipts_settle_them() {
    let sim = Simulator::start();
    let mut relay = Relay::start(&[
        ("OPENCLAW_CLAIM_LEASE_SECS", "3"),
        ("OPENCLAW_OUTCOME_WINDOW_SECS", "5"),
    ])
    .await;
    let other = relay.spawn_worker();
    let owner = relay.signup().await;
    two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    let res = relay
        .http
        .put(relay.url("/v1/budget"))
        .bearer_auth(&owner.access_token)
        .json(&json!({"monthly_limit": {"amount": "100", "currency": "USD"}, "hard_cap": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The gateway takes each message at once and answers 300 ms later, so at the kill the
    // calls under way have all been taken, and their receipts follow.
    behave(
        &sim,
        TWILIO_SID,
        json!({"mode": "late_answer", "delay_ms": 300, "receipt": "delivered", "receipt_delay_ms": 100}),
    )
    .await;

    let ids = burst(&relay, &key).await;
    wait_received_at_least(&sim, 500).await;
    relay.stop_worker("KILL");

    wait_all_final(&relay).await;
    let in_doubt = sql(
        &relay,
        "SELECT count(*) FROM messages WHERE events @> '[{\"status\": \"outcome_unknown\"}]'",
    )
    .await;
    let unknown = sql(
        &relay,
        "SELECT count(*) FROM messages WHERE status = 'failed' AND error_code = 'outcome_unknown'",
    )
    .await;
    let delivered = count(&relay, "delivered").await + count(&relay, "sent").await;
    // Sent by the killed worker, its answer lost with it: recorded from the receipt.
    let from_receipts = sql(
        &relay,
        "SELECT count(*) FROM messages m WHERE status IN ('sent', 'delivered')
         AND NOT EXISTS (SELECT 1 FROM message_attempts a WHERE a.message_id = m.id)",
    )
    .await;
    let bodies = assert_accounted(&relay, &sim).await;
    println!(
        "kill -9 of one of two workers during {BURST} sends: {from_receipts} sends of the dead \
         worker recorded from their receipts, {in_doubt} in doubt ({} settled by a receipt, \
         {unknown} failed outcome_unknown), {delivered} sent or delivered, {} taken by the \
         provider, 0 twice",
        in_doubt - unknown,
        bodies.len()
    );
    assert!(
        from_receipts > 0,
        "the dead worker's calls under way were taken"
    );
    assert_eq!(ids.len(), BURST);
    assert_eq!(delivered + unknown, BURST, "every message accounted for");
    assert_eq!(
        sql(
            &relay,
            "SELECT count(*) FROM messages WHERE status = 'failed' AND error_code <> 'outcome_unknown'"
        )
        .await,
        0,
        "the only failures are sends nobody knows happened"
    );
    // The killed worker held at most its in-flight room (64 by default).
    assert!(unknown <= 64, "{unknown} failed in doubt");
    // Those failed were never taken by the provider.
    assert_eq!(bodies.len(), delivered);

    // Every message held its cost; all are settled, so nothing is held any more, and what the
    // budget has left is the limit less the ledger: the crash leaked nothing into a 402.
    assert_eq!(
        sql(&relay, "SELECT count(*) FROM messages WHERE held").await,
        BURST
    );
    let mut holds = usize::MAX;
    for _ in 0..50 {
        holds = sql(&relay, crate::budget_cap::HELD).await;
        if holds == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(holds, 0, "holds left behind by the killed worker");
    let ledger = sql(
        &relay,
        "SELECT COALESCE(sum(amount_micros), 0) FROM ledger_entries",
    )
    .await;
    let budget: Value = relay
        .get("/v1/budget", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let micros = |m: &Value| {
        openclaw_core::domain::Money::parse_amount(m["amount"].as_str().unwrap()).unwrap() as usize
    };
    assert_eq!(micros(&budget["spent"]), ledger, "{budget}");
    assert_eq!(
        micros(&budget["remaining"]),
        100_000_000 - ledger,
        "{budget}"
    );
    let res = relay
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+14155552671", "body": "after the crash"}),
        )
        .await;
    assert_eq!(
        res.status(),
        202,
        "{}",
        res.text().await.unwrap_or_default()
    );
    println!("hard cap 100 USD: {BURST} held, 0 holds left, {ledger} micros spent and counted");
    drop(other);
    relay.cleanup().await;
}

/// The worker's broker connection drops while provider calls are in flight: the calls finish,
/// their outcomes are committed, the worker reconnects, and nothing ends in doubt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_blip_mid_burst_fails_nothing_and_sends_nothing_twice() {
    let sim = Simulator::start();
    let relay = Relay::start(&[]).await;
    let owner = relay.signup().await;
    two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    behave(&sim, TWILIO_SID, json!({"mode": "slow", "delay_ms": 500})).await;

    let ids = burst(&relay, &key).await;
    wait_received_at_least(&sim, 100).await;
    let closed = close_worker_connections(&relay.queues.prefix);
    assert!(closed > 0, "found the worker's broker connection");

    wait_all_final(&relay).await;
    assert_eq!(ids.len(), BURST);
    assert_eq!(
        (count(&relay, "sent").await, count(&relay, "failed").await),
        (BURST, 0)
    );
    assert_eq!(
        sql(
            &relay,
            "SELECT count(*) FROM messages WHERE events @> '[{\"status\": \"outcome_unknown\"}]'"
        )
        .await,
        0,
        "nothing in doubt"
    );
    assert_eq!(
        sql(
            &relay,
            "SELECT count(DISTINCT message_id) FROM message_attempts WHERE outcome = 'accepted'"
        )
        .await,
        BURST,
        "every send has its attempt recorded"
    );
    assert_eq!(assert_accounted(&relay, &sim).await.len(), BURST);
    relay.cleanup().await;
}

/// Closes the broker connections of this test's workers (named with the queue prefix) through
/// `rabbitmqctl`, as a broker restart or a network cut would; returns how many.
fn close_worker_connections(prefix: &str) -> usize {
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "pid",
            "client_properties",
            "--quiet",
            "--no-table-headers",
        ])
        .output()
        .expect("rabbitmqctl runs (RabbitMQ's tools are installed with the broker)");
    assert!(out.status.success(), "rabbitmqctl list_connections failed");
    // One line per connection: `<pid>\t[{"connection_name","…"}, …]`.
    let wanted = format!("{{\"connection_name\",\"openclaw-worker {prefix}\"}}");
    let mut closed = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((pid, properties)) = line.split_once('\t') else {
            continue;
        };
        if properties.contains(&wanted) {
            let status = std::process::Command::new("rabbitmqctl")
                .args(["close_connection", pid, "a test cuts the connection"])
                .status()
                .expect("rabbitmqctl runs");
            assert!(status.success(), "rabbitmqctl close_connection failed");
            closed += 1;
        }
    }
    closed
}
