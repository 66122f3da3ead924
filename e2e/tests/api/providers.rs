use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

fn no_worker() -> Options {
    Options {
        worker: false,
        ..Default::default()
    }
}

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "f00dfeedf00dfeedf00dfeedf00d1234";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_encrypted_at_rest_and_masked_on_read() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let res = app
        .post(
            "/v1/providers",
            &owner.access_token,
            &json!({"name": "Twilio", "kind": "twilio", "credentials": {"account_sid": SID, "auth_token": TOKEN}, "sender_ids": ["+1 415 555 2671", "Acme"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(TOKEN),
        "the auth token must never be returned: {text}"
    );
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(created["sender_ids"], json!(["+14155552671", "Acme"]));
    let id = created["id"].as_str().unwrap();

    for path in [format!("/v1/providers/{id}"), "/v1/providers".to_owned()] {
        let text = app
            .get(&path, &owner.access_token)
            .await
            .text()
            .await
            .unwrap();
        assert!(!text.contains(TOKEN));
        assert!(!text.contains(SID), "the full SID is masked too: {text}");
    }
    let plaintext_in_db = openclaw_e2e::services::query_bool(
        &app.db.url,
        &format!("SELECT position(convert_to('{TOKEN}', 'UTF8') in credentials_enc) > 0 OR credentials_mask::text LIKE '%{TOKEN}%' FROM providers"),
    )
    .await;
    assert!(!plaintext_in_db);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_provider_input_names_the_field() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let cases = [
        (
            json!({"name": "x", "kind": "pigeon", "credentials": {}}),
            "kind",
        ),
        (
            json!({"name": "x", "kind": "twilio", "credentials": {"account_sid": SID}}),
            "credentials.auth_token",
        ),
        (
            json!({"name": "x", "kind": "sandbox", "base_url": "ftp://nope"}),
            "base_url",
        ),
        (json!({"name": "", "kind": "sandbox"}), "name"),
        (
            json!({"name": "x", "kind": "sandbox", "sender_ids": ["not a valid sender id!"]}),
            "sender_ids[0]",
        ),
    ];
    for (body, field) in cases {
        let res = app.post("/v1/providers", &owner.access_token, &body).await;
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["field"], field, "{body} → {err}");
    }
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_as_json_and_csv_with_line_numbered_errors() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let id = app
        .provider(&owner, "sandbox", json!({}), None, &[("DE", "0.07")])
        .await;
    let prices: Value = app
        .get(&format!("/v1/providers/{id}/prices"), &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        prices,
        json!({"prices": [{"country": "DE", "message_type": null, "price": "0.070000", "currency": "USD"}]})
    );

    let put_csv = |csv: &'static str| {
        let app = &app;
        let token = owner.access_token.clone();
        let id = id.clone();
        async move {
            let res = app
                .http
                .put(app.url(&format!("/v1/providers/{id}/prices")))
                .bearer_auth(token)
                .header("Content-Type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = put_csv("country,message_type,price,currency\nUS,,0.0079,USD\n*,otp,0.05,usd\nGB,marketing,0.04,USD\n").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["prices"].as_array().unwrap().len(), 3);

    let (status, body) =
        put_csv("country,message_type,price,currency\nUS,,0.0079,USD\nUSA,,0.01,USD\n").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_csv");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Line 3:"),
        "{body}"
    );

    let (status, body) = put_csv("country,message_type,price,currency\nUS,,-1,USD\n").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Line 2:"),
        "{body}"
    );

    let (status, body) = put_csv("country,price\nUS,1\n").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Line 1:"),
        "{body}"
    );

    // A failed upload leaves the previous list as it was.
    let prices: Value = app
        .get(&format!("/v1/providers/{id}/prices"), &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prices["prices"].as_array().unwrap().len(), 3);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_delete_and_another_tenants_provider_is_not_found() {
    let app = TestApp::spawn_with(no_worker()).await;
    let a = app.signup().await;
    let b = app.signup().await;
    let id = app
        .provider(&a, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;

    let res = app
        .http
        .patch(app.url(&format!("/v1/providers/{id}")))
        .bearer_auth(&a.access_token)
        .json(&json!({"enabled": false, "name": "Renamed", "base_url": "http://127.0.0.1:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["enabled"], false);
    assert_eq!(body["name"], "Renamed");
    assert_eq!(body["base_url"], "http://127.0.0.1:1");
    let res = app
        .http
        .patch(app.url(&format!("/v1/providers/{id}")))
        .bearer_auth(&a.access_token)
        .json(&json!({"base_url": null}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["base_url"], Value::Null);
    assert_eq!(body["name"], "Renamed");

    for path in [
        format!("/v1/providers/{id}"),
        format!("/v1/providers/{id}/prices"),
    ] {
        assert_eq!(app.get(&path, &b.access_token).await.status(), 404);
    }
    let res = app
        .http
        .delete(app.url(&format!("/v1/providers/{id}")))
        .bearer_auth(&b.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .http
        .delete(app.url(&format!("/v1/providers/{id}")))
        .bearer_auth(&a.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get(&format!("/v1/providers/{id}"), &a.access_token)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get("/v1/providers/prv_garbage", &a.access_token)
            .await
            .status(),
        404
    );
    app.cleanup().await;
}
