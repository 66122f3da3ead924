//! A worker killed (SIGKILL) while Stripe is doing one of a close's calls: Stripe has made the
//! invoice, the worker never learned its id. The next worker takes the job again (the broker
//! hands back the unacknowledged delivery), resumes the stored step with the same idempotency
//! key, and Stripe answers with the invoice it made: one customer, one item, one invoice,
//! finalized once; reconcile agrees.

use std::time::Duration;

use openclaw_e2e::procs::Relay;
use openclaw_e2e::services::charged_last_month;
use serde_json::{Value, json};

use crate::support::*;

async fn fake(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("the fake Stripe answers");
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_killed_mid_call_resumes_without_a_second_stripe_invoice() {
    let stripe = openclaw_e2e::stripe::spawn("127.0.0.1:0").await.unwrap();
    let base = stripe.base_url();
    let mut relay = Relay::start(&[
        ("OPENCLAW_STRIPE_SECRET_KEY", "sk_test_killed"),
        ("OPENCLAW_STRIPE_API_BASE", &base),
    ])
    .await;
    let pool = openclaw_core::db::pool(&relay.db.url, 1).unwrap();
    let admin = relay
        .staff(openclaw_core::domain::Role::PlatformAdmin)
        .await;
    let res = relay
        .http
        .put(relay.url("/v1/admin/billing/settings"))
        .bearer_auth(&admin)
        .json(&json!({"platform_fee": {"amount": "0.25", "currency": "USD"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let owner = relay.signup().await;
    relay
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let key = relay.api_key(&owner, "live").await;
    for body in ["one", "two"] {
        relay.send_taken(&key, body).await;
    }
    charged_last_month(&relay.db.url, &owner.tenant_id).await;

    // Stripe makes the invoice at once but answers only 30 s later.
    fake(
        &base,
        reqwest::Method::POST,
        "/_fake/fail",
        Some(
            json!({"method": "POST", "path_prefix": "/v1/invoices", "status": 500,
                    "apply": true, "delay_ms": 30_000}),
        ),
    )
    .await;
    let month = openclaw_e2e::app::last_month();
    let res = relay
        .post(
            &format!("/v1/admin/billing/periods/{month}/close"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let creates = |requests: &Value| -> Vec<Value> {
        requests
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["method"] == "POST" && r["path"] == "/v1/invoices")
            .cloned()
            .collect()
    };
    let deadline = tokio::time::Instant::now() + LONG;
    while creates(&fake(&base, reqwest::Method::GET, "/_fake/requests", None).await).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never asked Stripe for the invoice"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Stripe has the invoice; the worker is waiting for the answer. Kill it.
    relay.stop_worker("KILL");
    let stats = fake(&base, reqwest::Method::GET, "/_fake/stats", None).await;
    assert_eq!(
        (stats["invoices"].clone(), stats["finalized"].clone()),
        (json!(1), json!(0))
    );

    relay.start_worker();
    let resumed = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + LONG;
    let invoice = loop {
        let page: Value = relay
            .get(&format!("/v1/admin/invoices?period={month}"), &admin)
            .await
            .json()
            .await
            .unwrap();
        if page["data"][0]["close_step"] == "done" {
            break page["data"][0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the close did not resume: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "the close resumed and finished {:.1?} after the kill",
        resumed.elapsed()
    );
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["total"]["amount"], "0.500000");
    let stats = fake(&base, reqwest::Method::GET, "/_fake/stats", None).await;
    assert_eq!(
        (
            stats["customers"].clone(),
            stats["invoice_items"].clone(),
            stats["invoices"].clone(),
            stats["finalized"].clone()
        ),
        (json!(1), json!(1), json!(1), json!(1)),
        "{stats}"
    );
    let requests = fake(&base, reqwest::Method::GET, "/_fake/requests", None).await;
    let creates = creates(&requests);
    assert_eq!(creates.len(), 2, "{creates:?}");
    assert_eq!(creates[0]["idempotency_key"], creates[1]["idempotency_key"]);
    assert_eq!(creates[1]["replayed"], true, "{creates:?}");
    let found = openclaw_core::billing::reconcile::run(&pool, None, month)
        .await
        .unwrap();
    assert!(found.mismatches.is_empty(), "{:?}", found.mismatches);
    relay.cleanup().await;
    stripe.stop().await;
}
