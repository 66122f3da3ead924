use openclaw_e2e::app::TestApp;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_then_me_shows_owner_and_tenant() {
    let app = TestApp::spawn_with(openclaw_e2e::app::Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let res = app.get("/v1/me", &owner.access_token).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["role"], "owner");
    assert_eq!(me["user"]["email"], owner.email);
    assert_eq!(me["tenant"]["id"], owner.tenant_id);
    assert!(owner.tenant_id.starts_with("ten_"));
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_refuses_taken_email_weak_password_and_bad_email() {
    let app = TestApp::spawn_with(openclaw_e2e::app::Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let signup = |body: Value| {
        let app = &app;
        async move {
            let res = app
                .http
                .post(app.url("/v1/auth/signup"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = signup(json!({"tenant_name": "B", "email": owner.email.to_uppercase(), "password": "another long password"})).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "email_taken");

    let (status, body) =
        signup(json!({"tenant_name": "B", "email": "b@example.test", "password": "short"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "password");

    let (status, body) = signup(
        json!({"tenant_name": "B", "email": "not-an-email", "password": "long enough password"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "email");

    let (status, body) =
        signup(json!({"tenant_name": "B", "password": "long enough password"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_field");
    assert_eq!(body["error"]["field"], "email");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_answers_alike_for_unknown_email_and_wrong_password() {
    let app = TestApp::spawn_with(openclaw_e2e::app::Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    for body in [
        json!({"email": owner.email, "password": "wrong password!!"}),
        json!({"email": "nobody@example.test", "password": "wrong password!!"}),
    ] {
        let res = app
            .http
            .post(app.url("/v1/auth/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_credentials");
    }
    let res = app
        .http
        .post(app.url("/v1/auth/login"))
        .json(&json!({"email": owner.email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_reused_token_ends_the_session() {
    let app = TestApp::spawn_with(openclaw_e2e::app::Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            let res = app
                .http
                .post(app.url("/v1/auth/refresh"))
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = refresh(owner.refresh_token.clone()).await;
    assert_eq!(status, 200);
    let second_token = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, owner.refresh_token);

    // Replaying the used token revokes the family: the newer token stops working too.
    let (status, body) = refresh(owner.refresh_token.clone()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "refresh_token_reused");
    let (status, _) = refresh(second_token).await;
    assert_eq!(status, 401);
    let res = app
        .get("/v1/me", first["access_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), 401);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::spawn_with(openclaw_e2e::app::Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let res = app
        .post("/v1/auth/logout", &owner.access_token, &json!({}))
        .await;
    assert_eq!(res.status(), 204);
    let res = app.get("/v1/me", &owner.access_token).await;
    assert_eq!(res.status(), 401);
    let res = app
        .http
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": owner.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_bad_credentials_get_401_in_the_error_shape() {
    let app = TestApp::spawn_with(openclaw_e2e::app::Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let res = app.http.get(app.url("/v1/me")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    let res = app.get("/v1/me", "not.a.jwt").await;
    assert_eq!(res.status(), 401);
    // An API key is the wrong kind of credential for /v1/me.
    let owner = app.signup().await;
    let key = app.api_key(&owner, "live").await;
    let res = app.get("/v1/me", &key).await;
    assert_eq!(res.status(), 401);
    app.cleanup().await;
}
