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
        ("/v1/settings", "get"),
        ("/v1/settings", "patch"),
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
    // And every documented operation is served (not the 404 fallback); one that needs a
    // credential answers 401 without one.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let url = app.url(&path.replace("{id}", "x").replace("{provider_id}", "x"));
            let req = app
                .http
                .request(method.to_uppercase().parse().unwrap(), url);
            let res = req.send().await.unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["error"]["message"], "No such route.",
                "{method} {path} is documented but not served"
            );
            if op.get("security").is_some() {
                assert_eq!(status, 401, "{method} {path} without a credential: {body}");
            }
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    app.cleanup().await;
}

/// What each operation answers is in the document: a body schema for every 2xx that has a
/// body (204 has none), the error shape for every 4xx, 401 wherever a credential is asked
/// for, and one id per operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_answer_of_every_operation() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let res = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut ids = std::collections::HashSet::new();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"].as_str().unwrap_or_default();
            if !ids.insert(id.to_owned()) {
                missing.push(format!("{name}: operationId `{id}` is not unique"));
            }
            let responses = op["responses"].as_object().unwrap();
            let schema_of =
                |status: &str| responses[status]["content"]["application/json"]["schema"].clone();
            let successes: Vec<&String> = responses.keys().filter(|s| s.starts_with('2')).collect();
            if successes.is_empty() {
                missing.push(format!("{name}: no 2xx answer"));
            }
            for status in successes {
                // JSON, or the one media type the answer has (Twilio's inbound hook: TwiML).
                let any_schema = responses[status]["content"]
                    .as_object()
                    .is_some_and(|c| c.len() == 1 && c.values().all(|m| m["schema"].is_object()));
                if status != "204" && schema_of(status).is_null() && !any_schema {
                    missing.push(format!("{name}: {status} has no body schema"));
                }
            }
            for status in responses.keys().filter(|s| s.starts_with('4')) {
                if schema_of(status)["$ref"] != "#/components/schemas/ErrorBody" {
                    missing.push(format!("{name}: {status} is not the error shape"));
                }
            }
            if op.get("security").is_some() && !responses.contains_key("401") {
                missing.push(format!("{name}: takes a credential but documents no 401"));
            }
            // Every link names an operation that exists, by the field OpenAPI reads.
            for response in responses.values() {
                for (link, target) in response["links"].as_object().into_iter().flatten() {
                    let target = target["operationId"].as_str().unwrap_or_default();
                    let exists = doc["paths"].as_object().unwrap().values().any(|item| {
                        item.as_object()
                            .unwrap()
                            .values()
                            .any(|op| op["operationId"] == target)
                    });
                    if !exists {
                        missing.push(format!("{name}: link {link} names no operation"));
                    }
                }
            }
        }
    }
    // Lists answer `{data: [item], next_cursor}` with the item's schema.
    for (path, item) in [
        ("/v1/api-keys", "KeyView"),
        ("/v1/providers", "ProviderView"),
        ("/v1/members", "MemberView"),
        ("/v1/audit-log", "AuditEvent"),
        ("/v1/messages", "MessageView"),
        ("/v1/admin/tenants", "TenantSummary"),
        ("/v1/admin/audit-log", "AuditEvent"),
    ] {
        let page =
            doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
                ["$ref"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("#/components/schemas/");
        let page = &schemas[page];
        // The item's schema, by reference or inline.
        let items = &page["properties"]["data"]["items"];
        assert!(
            items["$ref"] == format!("#/components/schemas/{item}") || *items == schemas[item],
            "GET {path}: {page}"
        );
        assert!(page["properties"]["next_cursor"].is_object(), "GET {path}");
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_method_on_a_documented_route_is_405_with_allow() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    for (method, path, allow) in [
        ("PUT", "/v1/providers/prv_x", "GET, DELETE, PATCH"),
        ("TRACE", "/healthz", "GET"),
        ("DELETE", "/v1/messages/batch", "POST"),
        ("PATCH", "/v1/messages", "GET, POST"),
    ] {
        let res = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }
    // Paths no route has stay 404, whatever the method.
    let res = app.http.put(app.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
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
