//! Bad input is the caller's mistake: 400 with the field named, never a 500. A NUL character
//! (`\u0000`) is the one piece of text Postgres will not store, and dates far outside the
//! calendar we serve are the ones it cannot represent.

use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

fn no_worker() -> Options {
    Options {
        worker: false,
        ..Default::default()
    }
}

/// Asserts a 400 `invalid_field` naming `field`, in the documented error shape.
async fn assert_invalid(res: reqwest::Response, field: &str, what: &str) {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["error"]["code"], "invalid_field", "{what}: {body}");
    assert_eq!(body["error"]["field"], field, "{what}: {body}");
    assert!(body["error"]["message"].is_string(), "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_names_and_emails_is_400_naming_the_field() {
    let app = TestApp::spawn_with(no_worker()).await;
    let signup = |body: Value| app.http.post(app.url("/v1/auth/signup")).json(&body).send();
    let password = "correct horse battery";
    assert_invalid(
        signup(
            json!({"tenant_name": "Ac\u{0}me", "email": "a@example.test", "password": password}),
        )
        .await
        .unwrap(),
        "tenant_name",
        "sign-up tenant_name",
    )
    .await;
    assert_invalid(
        signup(
            json!({"tenant_name": "Acme", "email": "a\u{0}@example.test", "password": password}),
        )
        .await
        .unwrap(),
        "email",
        "sign-up email",
    )
    .await;
    let res = app
        .http
        .post(app.url("/v1/auth/login"))
        .json(&json!({"email": "a\u{0}@example.test", "password": password}))
        .send()
        .await
        .unwrap();
    assert_invalid(res, "email", "login email").await;

    let owner = app.signup().await;
    let token = &owner.access_token;
    let res = app
        .post("/v1/api-keys", token, &json!({"name": "back\u{0}end"}))
        .await;
    assert_invalid(res, "name", "API key name").await;
    let res = app
        .post(
            "/v1/providers",
            token,
            &json!({"name": "Sand\u{0}box", "kind": "sandbox", "credentials": {}}),
        )
        .await;
    assert_invalid(res, "name", "provider name").await;
    let provider = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let res = app
        .http
        .patch(app.url(&format!("/v1/providers/{provider}")))
        .bearer_auth(token)
        .json(&json!({"name": "Sand\u{0}box"}))
        .send()
        .await
        .unwrap();
    assert_invalid(res, "name", "provider rename").await;
    let res = app
        .post(
            "/v1/members",
            token,
            &json!({"email": "dev\u{0}@example.test", "role": "developer"}),
        )
        .await;
    assert_invalid(res, "email", "member invite").await;

    // The same rules answer other control characters, and nothing was stored.
    let res = app
        .post("/v1/api-keys", token, &json!({"name": "back\nend"}))
        .await;
    assert_invalid(res, "name", "API key name with a newline").await;
    for (table, rows) in [
        ("tenants", 1),
        ("users", 1),
        ("api_keys", 0),
        ("providers", 1),
    ] {
        let sql = format!("SELECT count(*) FROM {table}");
        let count = openclaw_e2e::services::query_i64(&app.db.url, &sql).await;
        assert_eq!(count, rows, "{table}");
    }
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_anywhere_in_a_json_body_is_400_naming_its_path() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let key = app.api_key(&owner, "live").await;
    let send = json!({"to": "+4915112345678", "body": "hello"});

    let mut with_note = send.clone();
    with_note["metadata"] = json!({"order": {"note": "a\u{0}b"}});
    let res = app.post("/v1/messages", &key, &with_note).await;
    assert_invalid(res, "metadata.order.note", "metadata value").await;

    let mut with_key = send.clone();
    with_key["metadata"] = json!({"ba\u{0}d": 1});
    let res = app.post("/v1/messages", &key, &with_key).await;
    assert_invalid(res, "metadata.ba\\u0000d", "metadata key").await;

    let mut batch: Vec<Value> = (0..5).map(|_| send.clone()).collect();
    batch[3]["body"] = json!("nul \u{0} here");
    let res = app
        .post("/v1/messages/batch", &key, &json!({"messages": batch}))
        .await;
    // A batch answers for each entry: only the one with the NUL is refused.
    assert_eq!(res.status(), 202);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        answer["data"][3]["error"]["code"], "invalid_field",
        "{answer}"
    );
    assert_eq!(
        answer["data"][3]["error"]["field"], "messages[3].body",
        "{answer}"
    );
    let messages =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM messages").await;
    assert_eq!(messages, 4, "the other entries are stored");

    // An escaped backslash followed by `u0000` is six ordinary characters, not a NUL.
    let res = app
        .http
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .body(r#"{"to": "+4915112345678", "body": "literally \\u0000"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        202,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let res = app.get("/v1/messages", &key).await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["data"][0]["body"], "literally \\u0000");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_a_query_parameter_is_400_naming_it() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let key = app.api_key(&owner, "live").await;
    for (query, field) in [
        ("to=%2B49%0015112345678", "to"),
        ("status=queued%00", "status"),
        ("cursor=%00", "cursor"),
        ("unknown=%00", "unknown"),
        ("na%00me=1", "na\\u0000me"),
    ] {
        let res = app.get(&format!("/v1/messages?{query}"), &key).await;
        assert_invalid(res, field, query).await;
    }
    let res = app
        .get("/v1/audit-log?limit=10&cursor=ab%00", &owner.access_token)
        .await;
    assert_invalid(res, "cursor", "audit log cursor").await;
    // A percent sign followed by `00` is no NUL.
    let res = app.get("/v1/messages?to=%2500", &key).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_phone_number", "{body}");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_outside_the_years_2000_to_9999_are_400_naming_the_parameter() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let token = &owner.access_token;
    let res = app
        .post(
            "/v1/api-keys",
            token,
            &json!({"name": "reports", "scopes": ["messages:read", "reports:read"]}),
        )
        .await;
    let created: Value = res.json().await.unwrap();
    let key = created["key"].as_str().expect("a key").to_owned();
    for (path, field) in [
        ("/v1/messages?since=-5000-01-01T00:00:00Z", "since"),
        ("/v1/messages?until=-5000-01-01T00:00:00Z", "until"),
        ("/v1/messages?since=%2B20000-01-01T00:00:00Z", "since"),
        ("/v1/messages?until=1999-12-31T23:59:59Z", "until"),
        ("/v1/spend?from=-5000-01-01&to=-5000-01-02", "from"),
        ("/v1/spend?from=2026-01-01&to=%2B10000-01-02", "to"),
    ] {
        assert_invalid(app.get(path, token).await, field, path).await;
        assert_invalid(app.get(path, &key).await, field, path).await;
    }
    let res = app
        .post(
            "/v1/api-keys",
            token,
            &json!({"name": "far", "expires_at": "+20000-01-01T00:00:00Z"}),
        )
        .await;
    assert_invalid(res, "expires_at", "API key expires_at").await;

    // The edges of the range are served.
    let res = app
        .get(
            "/v1/messages?since=2000-01-01T00:00:00Z&until=9999-12-31T23:59:59Z",
            token,
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let res = app
        .get("/v1/spend?from=9999-01-01&to=9999-12-31", token)
        .await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    app.cleanup().await;
}

/// The field and message of the admin app's flash cookie set by a form's answer.
fn flash(res: &reqwest::Response) -> (String, String) {
    use base64::Engine;
    let value = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok()?.strip_prefix("oc_flash="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .next()
        .expect("a flash cookie");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .expect("base64");
    let flash: Value = serde_json::from_slice(&json).expect("json");
    (
        flash["field"].as_str().unwrap_or_default().to_owned(),
        flash["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_app_forms_give_the_same_answer_to_a_nul() {
    let app = TestApp::spawn_with(no_worker()).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, cookie: Option<&str>, form: &[(&str, &str)]| {
        let mut req = browser
            .post(app.url(path))
            .header("Origin", app.address.clone())
            .form(form);
        if let Some(cookie) = cookie {
            req = req.header("Cookie", cookie.to_owned());
        }
        req.send()
    };
    let res = post(
        "/sign-up",
        None,
        &[
            ("tenant_name", "Ac\u{0}me"),
            ("email", "form@example.test"),
            ("password", "correct horse battery"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/sign-up", "back to the form");
    let control = "must not contain control characters".to_owned();
    let (field, message) = flash(&res);
    assert_eq!(field, "tenant_name");
    assert!(message.contains(&control), "{message}");
    let tenants =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM tenants").await;
    assert_eq!(tenants, 0);

    let res = post(
        "/sign-up",
        None,
        &[
            ("tenant_name", "Acme"),
            ("email", "form@example.test"),
            ("password", "correct horse battery"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.headers()["location"], "/dashboard");
    let session: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let cookie = session.join("; ");
    let res = post(
        "/api-keys",
        Some(&cookie),
        &[("name", "back\u{0}end"), ("mode", "live")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/api-keys");
    let (field, message) = flash(&res);
    assert_eq!(field, "name");
    assert!(message.contains(&control), "{message}");
    let res = post(
        "/providers",
        Some(&cookie),
        &[("name", "Sand\u{0}box"), ("kind", "sandbox")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/providers/new"),
        "back to the form"
    );
    let (field, message) = flash(&res);
    assert_eq!(field, "name");
    assert!(message.contains(&control), "{message}");
    for table in ["api_keys", "providers"] {
        let sql = format!("SELECT count(*) FROM {table}");
        let count = openclaw_e2e::services::query_i64(&app.db.url, &sql).await;
        assert_eq!(count, 0, "{table}");
    }
    app.cleanup().await;
}

/// Found by schemathesis: serde fills a struct from an array of its fields in order, so
/// `[null, null]` changed the settings (all fields optional) and `[60]` rotated a key. Every
/// body this API takes is an object, as the document says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_array_where_the_body_object_belongs_is_400() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let created: Value = app
        .post("/v1/api-keys", &owner.access_token, &json!({"name": "k"}))
        .await
        .json()
        .await
        .unwrap();
    let rotate = format!("/v1/api-keys/{}/rotate", created["id"].as_str().unwrap());
    for (method, path, body) in [
        ("PATCH", "/v1/settings", "[null, null]"),
        ("PATCH", "/v1/settings", " [\"Acme\", []]"),
        ("POST", rotate.as_str(), "[60]"),
        ("POST", "/v1/api-keys", "[\"k\", null, null, null]"),
        ("POST", "/v1/members", "[\"dev@example.test\", \"viewer\"]"),
    ] {
        let res = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&owner.access_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 400, "{method} {path} {body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_json", "{answer}");
    }
    // Nothing changed.
    let settings: Value = app
        .get("/v1/settings", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["name"], "Acme");
    for (table, rows) in [("api_keys", 1), ("users", 1)] {
        let count = openclaw_e2e::services::query_i64(
            &app.db.url,
            &format!("SELECT count(*) FROM {table}"),
        )
        .await;
        assert_eq!(count, rows, "{table}");
    }
    app.cleanup().await;
}
