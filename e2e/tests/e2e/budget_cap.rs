//! A hard-capped budget holds under concurrency: sends racing through two server processes
//! (and whatever group commits they land in) never take the month past the cap, each refused
//! one is a 402 `budget_exceeded` saying what is left, and holds go once messages are sent.

use openclaw_e2e::app::Api;
use openclaw_e2e::procs::Relay;
use openclaw_e2e::services::query_i64;
use serde_json::{Value, json};

use crate::support::LONG;

/// What is still held, in micro-units: the held totals less the released ones.
pub const HELD: &str = "SELECT (SELECT COALESCE(sum(micros), 0) FROM budget_held)
                       - (SELECT COALESCE(sum(micros), 0) FROM budget_released)";

async fn put_budget(relay: &Relay, token: &str, limit: &str) {
    let res = relay
        .http
        .put(relay.url("/v1/budget"))
        .bearer_auth(token)
        .json(
            &json!({"monthly_limit": {"amount": limit, "currency": "USD"},
                      "alert_thresholds": [50, 100], "hard_cap": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

/// `n` concurrent sends, alternating between the two servers: the ids accepted and the
/// bodies of the refusals.
async fn race(apis: [&Api; 2], key: &str, n: usize) -> (Vec<String>, Vec<Value>) {
    let answers = futures::future::join_all((0..n).map(|i| async move {
        let res = apis[i % 2]
            .post(
                "/v1/messages",
                key,
                &json!({"to": "+14155552671", "body": format!("capped {i}")}),
            )
            .await;
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap())
    }))
    .await;
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for (status, body) in answers {
        match status {
            202 => accepted.push(body["id"].as_str().unwrap().to_owned()),
            402 => refused.push(body),
            other => panic!("a send answered {other}: {body}"),
        }
    }
    (accepted, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_never_take_the_month_past_a_hard_cap() {
    let relay = Relay::start(&[]).await;
    let (_second, other) = relay.spawn_server().await;
    let owner = relay.signup().await;
    relay
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let key = relay.api_key(&owner, "live").await;
    put_budget(&relay, &owner.access_token, "0.10").await;

    // 40 sends at 0.01 under a 0.10 cap: exactly 10 fit, whichever process took them.
    let (accepted, refused) = race([&relay.api, &other], &key, 40).await;
    println!(
        "cap 0.10 at 0.01 each, 40 concurrent sends over two servers: {} accepted, {} refused",
        accepted.len(),
        refused.len()
    );
    assert_eq!(accepted.len(), 10);
    assert_eq!(refused.len(), 30);
    for body in &refused {
        assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("0.000000 USD remains"),
            "{body}"
        );
    }
    // Nothing refused was stored; the accepted ones hold their cost until sent.
    assert_eq!(
        query_i64(&relay.db.url, "SELECT count(*) FROM messages").await,
        10
    );
    for id in &accepted {
        relay
            .wait_for_status(&key, id, &["sent", "delivered"], LONG)
            .await;
    }
    // Sent: the holds are gone and the ledger has the cost.
    let mut holds = 0;
    for _ in 0..50 {
        holds = query_i64(&relay.db.url, HELD).await;
        if holds == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(holds, 0, "holds outlive their messages");
    let budget: Value = relay
        .get("/v1/budget", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(budget["spent"]["amount"], "0.100000");
    assert_eq!(budget["remaining"]["amount"], "0.000000");

    // A batch is refused entry by entry; raising the limit makes room for exactly what fits.
    put_budget(&relay, &owner.access_token, "0.13").await;
    let res = other
        .post(
            "/v1/messages/batch",
            &key,
            &json!({"messages": (0..5).map(|i| json!({"to": "+14155552671", "body": format!("batch {i}")})).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let batch: Value = res.json().await.unwrap();
    let codes: Vec<&str> = batch["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error"]["code"].as_str().unwrap_or("accepted"))
        .collect();
    assert_eq!(
        codes,
        [
            "accepted",
            "accepted",
            "accepted",
            "budget_exceeded",
            "budget_exceeded"
        ],
        "{batch:#}"
    );
    // Without a hard cap nothing is held or refused.
    let res = relay
        .http
        .delete(relay.url("/v1/budget"))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (accepted, refused) = race([&relay.api, &other], &key, 6).await;
    assert_eq!((accepted.len(), refused.len()), (6, 0));
    assert_eq!(
        query_i64(&relay.db.url, "SELECT count(*) FROM messages WHERE held").await,
        13,
        "only the messages sent under the cap were held"
    );
    relay.cleanup().await;
}
