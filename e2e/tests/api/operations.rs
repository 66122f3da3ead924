use openclaw_e2e::app::{Options, TestApp};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_unknown_routes() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // The broker connection comes up in the background.
    let mut ready = false;
    for _ in 0..100 {
        let res = app.http.get(app.url("/readyz")).send().await.unwrap();
        if res.status() == 200 {
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["database"], true);
            assert_eq!(body["broker"], true);
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the server never became ready");
    let res = app
        .http
        .get(app.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_route_the_server_serves() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/auth/signup", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/refresh", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/me", "get"),
        ("/v1/api-keys", "post"),
        ("/v1/api-keys", "get"),
        ("/v1/api-keys/{id}", "delete"),
        ("/v1/api-keys/{id}/rotate", "post"),
        ("/v1/providers", "post"),
        ("/v1/providers/{id}", "patch"),
        ("/v1/providers/{id}/prices", "put"),
        ("/v1/messages", "post"),
        ("/v1/messages/batch", "post"),
        ("/v1/messages/{id}", "get"),
        ("/v1/messages/{id}/cancel", "post"),
        ("/v1/spend", "get"),
        ("/v1/members", "get"),
        ("/v1/members", "post"),
        ("/v1/members/{id}", "patch"),
        ("/v1/members/{id}", "delete"),
        ("/v1/auth/accept-invite", "post"),
        ("/v1/me/password", "post"),
        ("/v1/audit-log", "get"),
        ("/v1/admin/tenants", "get"),
        ("/hooks/providers/{provider_id}/status", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    // And every documented operation is served (not the 404 fallback).
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let url = app.url(&path.replace("{id}", "x").replace("{provider_id}", "x"));
            let req = app
                .http
                .request(method.to_uppercase().parse().unwrap(), url);
            let res = req.send().await.unwrap();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["error"]["message"], "No such route.",
                "{method} {path} is documented but not served"
            );
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_app_is_served_at_the_root_beside_the_api() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let res = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign in to OpenClaw"), "{html}");
    let css = app
        .http
        .get(app.url("/assets/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    // The API's own 404 stays JSON.
    let res = app.http.get(app.url("/v1/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_app_form_posts_from_another_origin_are_refused() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = [
        ("tenant_name", "Evil"),
        ("email", "evil@example.test"),
        ("password", "long enough password"),
    ];
    let res = no_redirects
        .post(app.url("/sign-up"))
        .header("Origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = no_redirects
        .post(app.url("/sign-up"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "neither Origin nor Referer");
    let count =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM tenants").await;
    assert_eq!(count, 0);

    // From our own origin it works, and the session cookies are HttpOnly and SameSite.
    let res = no_redirects
        .post(app.url("/sign-up"))
        .header("Origin", app.address.clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard");
    let cookies: Vec<&str> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies
            .iter()
            .all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")),
        "{cookies:?}"
    );
    // A signed-in member's form (create an API key) from another origin is refused too.
    let session: Vec<&str> = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    let post_key = |origin: String| {
        no_redirects
            .post(app.url("/api-keys"))
            .header("Cookie", session.join("; "))
            .header("Origin", origin)
            .form(&[("name", "from elsewhere"), ("mode", "live")])
            .send()
    };
    assert_eq!(
        post_key("http://evil.example".into())
            .await
            .unwrap()
            .status(),
        403
    );
    let keys = || openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM api_keys");
    assert_eq!(keys().await, 0);
    assert_eq!(post_key(app.address.clone()).await.unwrap().status(), 303);
    assert_eq!(keys().await, 1);
    app.cleanup().await;
}
