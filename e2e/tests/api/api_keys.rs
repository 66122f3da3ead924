use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

fn no_worker() -> Options {
    Options {
        worker: false,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_shown_once_and_never_listed() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let res = app
        .post(
            "/v1/api-keys",
            &owner.access_token,
            &json!({"name": "backend", "mode": "test"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("oc_test_"));
    assert!(created["id"].as_str().unwrap().starts_with("key_"));
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["scopes"], json!(["messages:send", "messages:read"]));

    let res = app.get("/v1/api-keys", &owner.access_token).await;
    let text = res.text().await.unwrap();
    assert!(!text.contains(key), "the list must not contain the secret");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(list["data"][0].get("key").is_none());

    // What is stored is the SHA-256 of the key, and nothing else holds it.
    let stored_is_hash = openclaw_e2e::services::query_bool(
        &app.db.url,
        &format!(
            "SELECT count(*) = 1 AND bool_and(key_hash = sha256(convert_to('{key}', 'UTF8'))) \
             AND bool_and(position('{key}' in api_keys::text) = 0) FROM api_keys"
        ),
    )
    .await;
    assert!(stored_is_hash);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_at_once() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let res = app
        .post("/v1/api-keys", &owner.access_token, &json!({"name": "k"}))
        .await;
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    // Used once, so it is cached.
    let res = app.get("/v1/messages", key).await;
    assert_eq!(res.status(), 200);
    let res = app
        .http
        .delete(app.url(&format!("/v1/api-keys/{}", created["id"].as_str().unwrap())))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app.get("/v1/messages", key).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_are_validated_and_enforced() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let res = app
        .post(
            "/v1/api-keys",
            &owner.access_token,
            &json!({"name": "k", "scopes": ["messages:fly"]}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "scopes");

    let res = app
        .post(
            "/v1/api-keys",
            &owner.access_token,
            &json!({"name": "k", "scopes": ["reports:read"]}),
        )
        .await;
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    let res = app.get("/v1/messages", key).await;
    assert_eq!(res.status(), 403);
    let res = app.get("/v1/spend", key).await;
    assert_eq!(res.status(), 200);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_issues_a_new_key_and_retires_the_old_one() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let res = app
        .post("/v1/api-keys", &owner.access_token, &json!({"name": "k"}))
        .await;
    let created: Value = res.json().await.unwrap();
    let old = created["key"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/api-keys/{}/rotate", created["id"].as_str().unwrap()),
            &owner.access_token,
            &json!({"grace_seconds": 0}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let rotated: Value = res.json().await.unwrap();
    let new = rotated["key"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(app.get("/v1/messages", new).await.status(), 200);
    assert_eq!(app.get("/v1/messages", old).await.status(), 401);
    app.cleanup().await;
}

/// Found by schemathesis: create, rotate with a grace period, revoke the old key → 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_in_its_grace_period_can_be_revoked_at_once() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let res = app
        .post("/v1/api-keys", &owner.access_token, &json!({"name": "k"}))
        .await;
    let created: Value = res.json().await.unwrap();
    let (id, old) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    let res = app
        .post(
            &format!("/v1/api-keys/{id}/rotate"),
            &owner.access_token,
            &json!({"grace_seconds": 3600}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.get("/v1/messages", old).await.status(), 200, "in grace");
    let revoke = || {
        app.http
            .delete(app.url(&format!("/v1/api-keys/{id}")))
            .bearer_auth(&owner.access_token)
            .send()
    };
    assert_eq!(revoke().await.unwrap().status(), 204);
    assert_eq!(app.get("/v1/messages", old).await.status(), 401);
    let list: Value = app
        .get("/v1/api-keys", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    // Revoking is idempotent: again is 204, and changes (and audits) nothing.
    assert_eq!(revoke().await.unwrap().status(), 204, "already revoked");
    let revocations = openclaw_e2e::services::query_i64(
        &app.db.url,
        "SELECT count(*) FROM audit_log WHERE action = 'api_key.revoked'",
    )
    .await;
    assert_eq!(revocations, 1);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_key_is_not_found() {
    let app = TestApp::spawn_with(no_worker()).await;
    let a = app.signup().await;
    let b = app.signup().await;
    let res = app
        .post("/v1/api-keys", &a.access_token, &json!({"name": "k"}))
        .await;
    let created: Value = res.json().await.unwrap();
    let res = app
        .http
        .delete(app.url(&format!("/v1/api-keys/{}", created["id"].as_str().unwrap())))
        .bearer_auth(&b.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        app.get("/v1/messages", created["key"].as_str().unwrap())
            .await
            .status(),
        200
    );
    app.cleanup().await;
}

/// Found by schemathesis: JSON Schema (and so the document) counts `60.0` as an integer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integer_written_with_a_fraction_of_zero_is_an_integer() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let rotate = async |grace: Value| {
        let res = app
            .post("/v1/api-keys", &owner.access_token, &json!({"name": "k"}))
            .await;
        let created: Value = res.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        app.post(
            &format!("/v1/api-keys/{id}/rotate"),
            &owner.access_token,
            &json!({ "grace_seconds": grace }),
        )
        .await
    };
    assert_eq!(rotate(json!(60.0)).await.status(), 201);
    assert_eq!(rotate(json!(6e1)).await.status(), 201);
    let res = rotate(json!(60.5)).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "grace_seconds", "{body}");
    app.cleanup().await;
}
