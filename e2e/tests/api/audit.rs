use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_who_did_what_from_where_without_secrets() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let other = app.signup().await;
    let key = app.api_key(&owner, "live").await;
    let provider = app
        .provider(
            &owner,
            "twilio",
            json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "twilio-secret-token-0001"}),
            None,
            &[("*", "0.01")],
        )
        .await;
    let res = app
        .http
        .post(app.url("/v1/auth/login"))
        .header("user-agent", "audit-test/1.0")
        .json(&json!({"email": owner.email, "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (_, viewer) = app.member(&owner, "viewer").await;

    let log: Value = app
        .get("/v1/audit-log", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first.
    assert_eq!(
        actions,
        [
            "member.joined",
            "member.invited",
            "auth.sign_in_failed",
            "provider.prices_changed",
            "provider.created",
            "api_key.created",
            "auth.signed_up",
        ],
        "{log:#}"
    );
    let created = &log["data"][5];
    assert_eq!(created["actor"], owner.email);
    assert_eq!(created["actor_kind"], "user");
    assert_eq!(created["ip"], "127.0.0.1");
    assert_eq!(log["data"][2]["user_agent"], "audit-test/1.0");
    assert_eq!(log["data"][4]["target"], provider);
    let text = log.to_string();
    assert!(!text.contains(&key), "an API key secret leaked");
    assert!(
        !text.contains("twilio-secret-token-0001"),
        "a credential leaked"
    );
    assert!(!text.contains("not the password") && !text.contains("correct horse"));

    // Pages, by cursor.
    let first: Value = app
        .get("/v1/audit-log?limit=3", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(
            &format!("/v1/audit-log?limit=3&cursor={cursor}"),
            &owner.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"][0]["action"], "provider.prices_changed");

    // A viewer may not read it; another tenant sees only its own.
    assert_eq!(app.get("/v1/audit-log", &viewer).await.status(), 403);
    let theirs: Value = app
        .get("/v1/audit-log", &other.access_token)
        .await
        .json()
        .await
        .unwrap();
    let theirs: Vec<&str> = theirs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(theirs, ["auth.signed_up"]);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_client_is_recorded_and_otherwise_ignored() {
    for (trusted, expected) in [("127.0.0.1", "198.51.100.7"), ("", "127.0.0.1")] {
        let app = TestApp::spawn_with(Options {
            worker: false,
            extra_env: vec![("OPENCLAW_TRUSTED_PROXIES", trusted.into())],
            ..Default::default()
        })
        .await;
        let owner = app.signup().await;
        let res = app
            .http
            .post(app.url("/v1/auth/login"))
            .header("x-forwarded-for", "6.6.6.6, 198.51.100.7")
            .json(&json!({"email": owner.email, "password": "not the password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let log: Value = app
            .get("/v1/audit-log?limit=1", &owner.access_token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(log["data"][0]["action"], "auth.sign_in_failed");
        assert_eq!(log["data"][0]["ip"], expected, "trusted: {trusted:?}");
        app.cleanup().await;
    }
}
