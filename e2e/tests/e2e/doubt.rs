//! A provider call whose answer never comes may still have been sent: it is never sent again
//! blindly, and the provider's receipt (carrying our message id) settles it. And no provider is
//! called more often at once than its `max_concurrency`.

use std::time::Duration;

use openclaw_e2e::procs::{Relay, Simulator};
use openclaw_e2e::services::query_i64;
use serde_json::{Value, json};

use crate::support::*;

async fn message(relay: &Relay, key: &str, id: &str) -> Value {
    relay
        .get(&format!("/v1/messages/{id}"), key)
        .await
        .json()
        .await
        .unwrap()
}

fn events(m: &Value) -> Vec<String> {
    m["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the message's events include `marker`.
async fn wait_for_event(relay: &Relay, key: &str, id: &str, marker: &str) -> Value {
    for _ in 0..200 {
        let m = message(relay, key, id).await;
        if events(&m).iter().any(|e| e == marker) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} never got a `{marker}` event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_times_out_is_never_sent_again_and_its_receipt_settles_it() {
    let sim = Simulator::start();
    let relay = Relay::start(&[
        ("OPENCLAW_PROVIDER_TIMEOUT_MS", "700"),
        ("OPENCLAW_OUTCOME_WINDOW_SECS", "4"),
        ("OPENCLAW_RETRY_DELAYS_MS", "100,100"),
    ])
    .await;
    let owner = relay.signup().await;
    let (twilio, vonage) = two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;

    // Twilio takes the message but answers after our timeout; its receipts come later still.
    behave(
        &sim,
        TWILIO_SID,
        json!({"mode": "late_answer", "delay_ms": 3000, "receipt": "delivered", "receipt_delay_ms": 1500}),
    )
    .await;
    let id = send(&relay, &key, "+14155552671", "late answer").await;
    let doubted = wait_for_event(&relay, &key, &id, "outcome_unknown").await;
    assert_eq!(doubted["status"], "sending", "{doubted:#}");
    assert_eq!(doubted["error"]["code"], "outcome_unknown");
    assert_eq!(doubted["cost"], Value::Null);
    let attempts = doubted["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "no failover after an unknown outcome");
    assert_eq!(attempts[0]["outcome"], "unknown");
    assert_eq!(attempts[0]["provider_id"], twilio);
    // The receipt settles it: sent through Twilio, priced, counted in spend.
    let done = relay.wait_for_status(&key, &id, &["delivered"], LONG).await;
    assert_eq!(done["provider_id"], twilio);
    assert_eq!(done["cost"]["amount"], "0.004000");
    assert_eq!(done["error"], Value::Null);
    assert_eq!(
        events(&done),
        ["queued", "sending", "outcome_unknown", "sent", "delivered"]
    );
    assert_eq!(received(&sim, TWILIO_SID).await.len(), 1, "sent once");
    assert!(
        received(&sim, VONAGE_KEY).await.is_empty(),
        "never failed over"
    );

    // When the receipt overtakes the late answer, the send is recorded all the same.
    behave(
        &sim,
        TWILIO_SID,
        json!({"mode": "late_answer", "delay_ms": 3000, "receipt": "delivered", "receipt_delay_ms": 50}),
    )
    .await;
    let id = send(&relay, &key, "+14155552671", "receipt first").await;
    relay.wait_for_status(&key, &id, &["delivered"], LONG).await;
    // The worker's own record (after its timeout) completes the delivered message.
    let mut done = message(&relay, &key, &id).await;
    for _ in 0..100 {
        if done["attempts"][0]["outcome"] == "unknown" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        done = message(&relay, &key, &id).await;
    }
    assert_eq!(done["status"], "delivered");
    assert_eq!(done["attempts"][0]["outcome"], "unknown", "{done:#}");
    assert_eq!(done["provider_id"], twilio);
    assert_eq!(done["cost"]["amount"], "0.004000", "{done:#}");
    assert_eq!(done["error"], Value::Null);

    // Vonage's receipt settles its sends the same way (it only ever reports the final state).
    behave(&sim, TWILIO_SID, json!({"mode": "refuse"})).await;
    behave(
        &sim,
        VONAGE_KEY,
        json!({"mode": "late_answer", "delay_ms": 3000, "receipt": "delivered", "receipt_delay_ms": 1500}),
    )
    .await;
    let id = send(&relay, &key, "+14155552671", "vonage late").await;
    wait_for_event(&relay, &key, &id, "outcome_unknown").await;
    let done = relay.wait_for_status(&key, &id, &["delivered"], LONG).await;
    assert_eq!(done["provider_id"], vonage);
    assert_eq!(done["cost"]["amount"], "0.006000");

    // No receipt by the end of the window: failed, still sent only once.
    behave(
        &sim,
        VONAGE_KEY,
        json!({"mode": "late_answer", "delay_ms": 3000}),
    )
    .await;
    let id = send(&relay, &key, "+14155552671", "never heard of again").await;
    let failed = relay.wait_for_status(&key, &id, &["failed"], LONG).await;
    assert_eq!(failed["error"]["code"], "outcome_unknown");
    assert_eq!(failed["cost"], Value::Null);
    let to_vonage: Vec<Value> = received(&sim, VONAGE_KEY)
        .await
        .into_iter()
        .filter(|r| r["body"] == "never heard of again")
        .collect();
    assert_eq!(to_vonage.len(), 1, "an unknown outcome is never resent");

    // Spend holds exactly the three settled sends.
    assert_eq!(
        query_i64(
            &relay.db.url,
            "SELECT COALESCE(sum(cost_micros), 0)::int8 FROM spend_daily"
        )
        .await,
        4_000 + 4_000 + 6_000
    );
    relay.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_is_never_called_more_often_at_once_than_its_max_concurrency() {
    let sim = Simulator::start();
    let relay = Relay::start(&[]).await;
    let owner = relay.signup().await;
    let (twilio, _vonage) = two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    let res = relay
        .http
        .patch(relay.url(&format!("/v1/providers/{twilio}")))
        .bearer_auth(&owner.access_token)
        .json(&json!({"max_concurrency": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["max_concurrency"], 4);
    let res = relay
        .http
        .patch(relay.url(&format!("/v1/providers/{twilio}")))
        .bearer_auth(&owner.access_token)
        .json(&json!({"max_concurrency": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // No wait: the worker hears of the change as it commits and reloads the route table.
    behave(&sim, TWILIO_SID, json!({"mode": "slow", "delay_ms": 150})).await;

    let messages: Vec<Value> = (0..60)
        .map(|i| json!({"to": "+14155552671", "body": format!("pace {i}")}))
        .collect();
    let res = relay
        .post("/v1/messages/batch", &key, &json!({ "messages": messages }))
        .await;
    assert_eq!(res.status(), 202);
    for _ in 0..400 {
        let sent = query_i64(
            &relay.db.url,
            "SELECT count(*) FROM messages WHERE status = 'sent'",
        )
        .await;
        if sent == 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = stats(&sim).await;
    let most = stats["max_in_flight"][TWILIO_SID].as_u64().unwrap();
    println!("most Twilio calls at once: {most}");
    assert!(most <= 4, "{stats:#}");
    assert!(most >= 2, "calls still run side by side: {stats:#}");
    assert_eq!(stats["duplicates"], 0);
    assert_eq!(
        query_i64(
            &relay.db.url,
            "SELECT count(*) FROM messages WHERE status = 'sent'"
        )
        .await,
        60
    );
    relay.cleanup().await;
}
