use std::time::Duration;

use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

/// A tenant with a sandbox provider priced for every country, and a live key.
async fn sandbox_tenant(app: &TestApp) -> (openclaw_e2e::app::Owner, String, String) {
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
    let key = app.api_key(&owner, "live").await;
    (owner, provider, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_goes_through_the_sandbox_and_is_delivered() {
    let app = TestApp::spawn().await;
    let (_owner, provider, key) = sandbox_tenant(&app).await;
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+49 151 1234 5678", "body": "Hallo Welt", "client_ref": "order-7"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    assert_eq!(accepted["status"], "queued");
    assert_eq!(accepted["to"], "+4915112345678");
    assert_eq!(accepted["country"], "DE");
    assert_eq!(accepted["encoding"], "GSM-7");
    assert_eq!(accepted["segments"], 1);
    assert_eq!(accepted["message_type"], "transactional");
    assert_eq!(
        accepted["estimated_cost"],
        json!({"amount": "0.072000", "currency": "USD"})
    );
    let id = accepted["id"].as_str().unwrap();
    assert!(id.starts_with("msg_"));

    let done = app
        .wait_for_status(&key, id, &["delivered"], Duration::from_secs(20))
        .await;
    assert_eq!(done["provider_id"], provider);
    assert_eq!(
        done["cost"],
        json!({"amount": "0.072000", "currency": "USD"})
    );
    assert_eq!(done["client_ref"], "order-7");
    let attempts = done["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["outcome"], "accepted");
    assert_eq!(attempts[0]["provider_id"], provider);
    let statuses: Vec<&str> = done["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["queued", "sending", "sent", "delivered"]);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_magic_numbers_fail_or_go_undelivered() {
    let app = TestApp::spawn().await;
    let (_owner, _provider, key) = sandbox_tenant(&app).await;
    let send = |to: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            let res = app
                .post("/v1/messages", &key, &json!({"to": to, "body": "x"}))
                .await;
            assert_eq!(res.status(), 202);
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let invalid = send("+15005550001").await;
    let unreachable = send("+15005550002").await;
    let failed = app
        .wait_for_status(&key, &invalid, &["failed"], Duration::from_secs(20))
        .await;
    assert_eq!(failed["error"]["code"], "provider_refused");
    assert_eq!(failed["attempts"][0]["outcome"], "permanent");
    assert_eq!(failed["cost"], Value::Null);
    let undelivered = app
        .wait_for_status(
            &key,
            &unreachable,
            &["undelivered"],
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(undelivered["attempts"][0]["outcome"], "accepted");
    // The sandbox's receipt in the vocabulary every provider's receipts are translated into.
    assert_eq!(
        undelivered["error"]["code"], "unreachable",
        "{undelivered:#}"
    );
    assert_eq!(
        undelivered["error"]["message"],
        "The handset could not be reached."
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_retry_then_fail_with_retries_exhausted() {
    let app = TestApp::spawn_with(Options {
        retry_delays_ms: "100,100",
        ..Default::default()
    })
    .await;
    let (_owner, _provider, key) = sandbox_tenant(&app).await;
    // The sandbox's timeout number is a transient failure every time.
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+15005550003", "body": "x"}),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = app
        .wait_for_status(&key, &id, &["failed"], Duration::from_secs(30))
        .await;
    assert_eq!(failed["error"]["code"], "retries_exhausted");
    let rounds: Vec<i64> = failed["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["round"].as_i64().unwrap())
        .collect();
    assert_eq!(rounds, vec![0, 1, 2], "one attempt per round: {failed:#}");
    assert!(
        failed["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["outcome"] == "transient")
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_400() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let (_owner, _provider, key) = sandbox_tenant(&app).await;
    let cases = [
        (
            json!({"to": "12345", "body": "x"}),
            "invalid_phone_number",
            "to",
        ),
        (
            json!({"to": "+49 abc", "body": "x"}),
            "invalid_phone_number",
            "to",
        ),
        (
            json!({"to": "+4915112345678", "body": "x".repeat(1601)}),
            "body_too_long",
            "body",
        ),
        (
            json!({"to": "+4915112345678", "body": ""}),
            "invalid_field",
            "body",
        ),
        (json!({"to": "+4915112345678"}), "invalid_field", "body"),
        (
            json!({"to": "+4915112345678", "body": "x", "message_type": "spam"}),
            "invalid_field",
            "message_type",
        ),
        (
            json!({"to": "+4915112345678", "body": "x", "colour": "red"}),
            "invalid_field",
            "colour",
        ),
        (
            json!({"to": 4915112345678u64, "body": "x"}),
            "invalid_field",
            "to",
        ),
        (
            json!({"to": "+4915112345678", "body": "x", "validity_seconds": 5}),
            "invalid_field",
            "validity_seconds",
        ),
    ];
    for (body, code, field) in cases {
        let res = app.post("/v1/messages", &key, &body).await;
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{body} → {err}");
        assert_eq!(err["error"]["field"], field, "{body} → {err}");
    }
    let res = app
        .http
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .body("{\"to\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_json");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_priced_provider_is_422_no_route_and_test_keys_use_only_sandbox() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let key = app.api_key(&owner, "live").await;
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+4915112345678", "body": "x"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "no_route"
    );

    app.provider(
        &owner,
        "twilio",
        json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "f00dfeedf00dfeedf00dfeedf00d1234"}),
        Some("http://127.0.0.1:9"),
        &[("DE", "0.01")],
    )
    .await;
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+4915112345678", "body": "x"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let test_key = app.api_key(&owner, "test").await;
    let res = app
        .post(
            "/v1/messages",
            &test_key,
            &json!({"to": "+4915112345678", "body": "x"}),
        )
        .await;
    assert_eq!(
        res.status(),
        422,
        "a test key must not route to a live provider"
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unicode_bodies_are_ucs2_and_long_ones_take_several_segments() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let (_owner, _provider, key) = sandbox_tenant(&app).await;
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+14155552671", "body": "Привет 👋"}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["encoding"], "UCS-2");
    assert_eq!(body["segments"], 1);
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+14155552671", "body": "a".repeat(161)}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["encoding"], "GSM-7");
    assert_eq!(body["segments"], 2);
    assert_eq!(body["estimated_cost"]["amount"], "0.010000");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let (_owner, _provider, key) = sandbox_tenant(&app).await;
    let send = |body: Value| {
        let app = &app;
        let key = key.clone();
        async move {
            let res = app
                .http
                .post(app.url("/v1/messages"))
                .bearer_auth(key)
                .header("Idempotency-Key", "order-42")
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (s1, first) = send(json!({"to": "+14155552671", "body": "once"})).await;
    // The same request with its fields in another order is the same request.
    let (s2, second) = send(json!({"body": "once", "to": "+14155552671"})).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first, second);
    let (s3, conflict) = send(json!({"to": "+14155552671", "body": "twice"})).await;
    assert_eq!(s3, 409);
    assert_eq!(conflict["error"]["code"], "idempotency_conflict");
    let count =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM messages").await;
    assert_eq!(count, 1);

    // Concurrent repeats still make one message.
    let results = futures::future::join_all((0..20).map(|_| {
        let app = &app;
        let key = key.clone();
        async move {
            app.http
                .post(app.url("/v1/messages"))
                .bearer_auth(key)
                .header("Idempotency-Key", "burst")
                .json(&json!({"to": "+14155552671", "body": "burst"}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["id"]
                .clone()
        }
    }))
    .await;
    assert!(results.iter().all(|id| id == &results[0] && id.is_string()));
    let count =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM messages").await;
    assert_eq!(count, 2);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_accepts_the_good_entries_and_reports_the_bad() {
    let app = TestApp::spawn().await;
    let (_owner, _provider, key) = sandbox_tenant(&app).await;
    let res = app
        .post(
            "/v1/messages/batch",
            &key,
            &json!({"messages": [
                {"to": "+14155552671", "body": "one"},
                {"to": "nope", "body": "two"},
                {"to": "+4915112345678", "body": "three"},
                {"to": "+4915112345678"},
            ]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 4);
    assert_eq!(data[0]["status"], "queued");
    assert_eq!(data[1]["error"]["code"], "invalid_phone_number");
    assert_eq!(data[1]["error"]["field"], "messages[1].to");
    assert_eq!(data[2]["country"], "DE");
    assert_eq!(data[3]["error"]["field"], "messages[3]");
    for i in [0, 2] {
        app.wait_for_status(
            &key,
            data[i]["id"].as_str().unwrap(),
            &["delivered"],
            Duration::from_secs(20),
        )
        .await;
    }
    let res = app
        .post("/v1/messages/batch", &key, &json!({"messages": []}))
        .await;
    assert_eq!(res.status(), 400);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_paginates_newest_first() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let (_owner, _provider, key) = sandbox_tenant(&app).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let to = if i % 2 == 0 {
            "+14155552671"
        } else {
            "+4915112345678"
        };
        let res = app
            .post(
                "/v1/messages",
                &key,
                &json!({"to": to, "body": format!("m{i}")}),
            )
            .await;
        ids.push(
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page1: Value = app
        .get("/v1/messages?limit=2", &key)
        .await
        .json()
        .await
        .unwrap();
    let got: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[4].as_str(), ids[3].as_str()]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get(&format!("/v1/messages?limit=2&cursor={cursor}"), &key)
        .await
        .json()
        .await
        .unwrap();
    let got: Vec<&str> = page2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str()]);
    let page3: Value = app
        .get(
            &format!(
                "/v1/messages?limit=2&cursor={}",
                page2["next_cursor"].as_str().unwrap()
            ),
            &key,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page3["data"].as_array().unwrap().len(), 1);
    assert_eq!(page3["next_cursor"], Value::Null);

    let by_to: Value = app
        .get("/v1/messages?to=%2B1%20415%20555%202671", &key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_to["data"].as_array().unwrap().len(), 3);
    let queued: Value = app
        .get("/v1/messages?status=queued", &key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queued["data"].as_array().unwrap().len(), 5);
    let sent: Value = app
        .get("/v1/messages?status=sent", &key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sent["data"].as_array().unwrap().len(), 0);
    for bad in [
        "?limit=0",
        "?limit=201",
        "?status=lost",
        "?cursor=zzz",
        "?since=yesterday",
    ] {
        let res = app.get(&format!("/v1/messages{bad}"), &key).await;
        assert_eq!(res.status(), 400, "{bad}");
    }
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_works_while_scheduled_and_conflicts_after_sending() {
    let app = TestApp::spawn().await;
    let (_owner, _provider, key) = sandbox_tenant(&app).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+14155552671", "body": "later", "scheduled_at": later}),
        )
        .await;
    let scheduled: Value = res.json().await.unwrap();
    assert_eq!(scheduled["status"], "scheduled");
    let id = scheduled["id"].as_str().unwrap();
    let res = app
        .post(&format!("/v1/messages/{id}/cancel"), &key, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "canceled");

    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+14155552671", "body": "now"}),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&key, &id, &["delivered"], Duration::from_secs(20))
        .await;
    let res = app
        .post(&format!("/v1/messages/{id}/cancel"), &key, &json!({}))
        .await;
    assert_eq!(res.status(), 409);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_message_is_not_found() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let (_a, _p, key_a) = sandbox_tenant(&app).await;
    let (_b, _q, key_b) = sandbox_tenant(&app).await;
    let res = app
        .post(
            "/v1/messages",
            &key_a,
            &json!({"to": "+14155552671", "body": "mine"}),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get(&format!("/v1/messages/{id}"), &key_a)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(&format!("/v1/messages/{id}"), &key_b)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post(&format!("/v1/messages/{id}/cancel"), &key_b, &json!({}))
            .await
            .status(),
        404
    );
    let listed: Value = app.get("/v1/messages", &key_b).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    app.cleanup().await;
}
