use std::time::Duration;

use openclaw_e2e::app::TestApp;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_messages_roll_up_into_daily_spend_and_test_mode_is_free() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let provider = app
        .provider(
            &owner,
            "sandbox",
            json!({}),
            None,
            &[("*", "0.0050"), ("DE", "0.0720")],
        )
        .await;
    let live = app.api_key(&owner, "live").await;
    let test = app.api_key(&owner, "test").await;
    let mut ids = Vec::new();
    for (key, to, body) in [
        (&live, "+4915112345678", "a".repeat(161)), // 2 segments × 0.072
        (&live, "+14155552671", "b".to_owned()),    // 1 segment × 0.005
        (&live, "+14155552671", "c".to_owned()),
        (&test, "+14155552671", "free".to_owned()),
    ] {
        let res = app
            .post("/v1/messages", key, &json!({"to": to, "body": body}))
            .await;
        assert_eq!(res.status(), 202);
        ids.push((
            key.clone(),
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
    }
    for (key, id) in &ids {
        app.wait_for_status(key, id, &["delivered"], Duration::from_secs(20))
            .await;
    }
    let test_msg: Value = app
        .get(&format!("/v1/messages/{}", ids[3].1), &test)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(test_msg["cost"]["amount"], "0.000000");
    assert_eq!(test_msg["mode"], "test");

    let report: Value = app
        .get("/v1/spend?group_by=country", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        report["total"],
        json!({"amount": "0.154000", "currency": "USD"})
    );
    assert_eq!(
        report["data"],
        json!([
            {"key": "DE", "messages": 1, "segments": 2, "cost": {"amount": "0.144000", "currency": "USD"},
             "platform_fees": {"amount": "0.000000", "currency": "USD"}},
            {"key": "US", "messages": 2, "segments": 2, "cost": {"amount": "0.010000", "currency": "USD"},
             "platform_fees": {"amount": "0.000000", "currency": "USD"}},
        ])
    );
    // The default key scopes do not include reports.
    let res = app.get("/v1/spend", &live).await;
    assert_eq!(res.status(), 403);
    let by_provider: Value = app
        .get("/v1/spend?group_by=provider", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_provider["data"][0]["key"], provider);
    assert_eq!(by_provider["data"][0]["messages"], 3);
    let today = chrono::Utc::now().date_naive().to_string();
    let by_day: Value = app
        .get("/v1/spend", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_day["data"][0]["key"], today);
    let res = app
        .get("/v1/spend?group_by=planet", &owner.access_token)
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .get(
            "/v1/spend?from=2026-02-01&to=2026-01-01",
            &owner.access_token,
        )
        .await;
    assert_eq!(res.status(), 400);
    app.cleanup().await;
}
