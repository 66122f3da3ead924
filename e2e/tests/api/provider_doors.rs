//! Providers, prices and the test message through both doors: the API with a user token, and
//! the admin app's forms posted over HTTP as a browser posts them (session cookies from
//! signing in, our own `Origin`). Each operation is done once through each door and what was
//! stored and audited is compared; a mistake gets the same sentence from both.

use openclaw_core::domain::ProviderId;
use openclaw_e2e::app::{Options, Owner, TestApp};
use openclaw_e2e::forms::{AdminSession, Answer};
use serde_json::{Value, json};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "f00dfeedf00dfeedf00dfeedf00d1234";
const SID_2: &str = "ACfedcba9876543210fedcba9876543210";
const TOKEN_2: &str = "c0ffeec0ffeec0ffeec0ffeec0ff5678";
const OWNER_PASSWORD: &str = "correct horse battery";
const MEMBER_PASSWORD: &str = "member password 42";

fn no_worker() -> Options {
    Options {
        worker: false,
        ..Default::default()
    }
}

pub use openclaw_e2e::services::query_rows as rows;

pub fn uuid_of(id: &str) -> uuid::Uuid {
    ProviderId::parse(id).unwrap().uuid()
}

/// A provider's row as the two doors must leave it alike (no ids or times).
pub async fn provider_row(app: &TestApp, id: &str) -> Value {
    let mut found = rows(
        &app.db.url,
        &format!(
            "SELECT name, kind, credentials_mask, credentials_key_id, base_url, sender_ids, \
             max_rate_per_sec, max_concurrency, receipt_timeout_seconds, enabled, \
             deleted_at IS NOT NULL AS deleted \
             FROM providers WHERE id = '{}'",
            uuid_of(id)
        ),
    )
    .await;
    assert_eq!(found.len(), 1, "provider {id}");
    found.remove(0)
}

/// The provider's audit records, oldest first: action, details, actor kind, actor, address.
pub async fn audit_of(app: &TestApp, id: &str) -> Vec<Value> {
    rows(
        &app.db.url,
        &format!(
            "SELECT action, details, actor_kind, actor, ip FROM audit_log \
             WHERE target = '{id}' ORDER BY id"
        ),
    )
    .await
}

/// The provider's credentials as stored, decrypted.
pub async fn opened_credentials(app: &TestApp, id: &str) -> Value {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let settings = settings(app);
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    let row = openclaw_core::db::providers::find_any_tenant(&mut conn, uuid_of(id))
        .await
        .unwrap()
        .unwrap();
    let kind = row.kind;
    openclaw_core::providers::Credentials::open(
        &settings.master_key,
        kind,
        &row.credentials_key_id,
        &row.credentials_enc,
    )
    .unwrap()
    .to_json()
}

pub fn settings(app: &TestApp) -> openclaw_core::config::Settings {
    openclaw_core::config::Settings::from_lookup(|k| {
        app.settings_env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap()
}

async fn api_create(app: &TestApp, owner: &Owner, body: Value) -> (u16, Value) {
    let res = app.post("/v1/providers", &owner.access_token, &body).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn api_patch(app: &TestApp, owner: &Owner, id: &str, body: Value) -> (u16, Value) {
    let res = app
        .http
        .patch(app.url(&format!("/v1/providers/{id}")))
        .bearer_auth(&owner.access_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// The provider id a form's answer redirected to.
fn created_id(answer: &Answer) -> String {
    assert_eq!(answer.status, 303, "{answer:?}");
    let id = answer
        .location
        .strip_prefix("/providers/")
        .unwrap_or_else(|| panic!("not a provider page: {answer:?}"));
    assert!(id.starts_with("prv_"), "{answer:?}");
    id.to_owned()
}

/// The fields of the provider settings form as the page shows them for `provider` (the API's
/// view of it), with `edits` applied; a `None` edit leaves the field out (an unticked box).
fn settings_form(provider: &Value, edits: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let senders: Vec<String> = provider["sender_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    let mut form = vec![
        ("name".to_owned(), text(&provider["name"])),
        ("sender_ids".to_owned(), senders.join(", ")),
        (
            "max_rate_per_sec".to_owned(),
            text(&provider["max_rate_per_sec"]),
        ),
        (
            "max_concurrency".to_owned(),
            text(&provider["max_concurrency"]),
        ),
        (
            "receipt_timeout_seconds".to_owned(),
            text(&provider["receipt_timeout_seconds"]),
        ),
        ("enabled".to_owned(), "on".to_owned()),
    ];
    if provider["kind"] != "sandbox" {
        form.push(("base_url".to_owned(), text(&provider["base_url"])));
    }
    for (field, _, _) in match provider["kind"].as_str().unwrap() {
        "twilio" => &[("account_sid", "", ""), ("auth_token", "", "")][..],
        "vonage" => &[("api_key", "", ""), ("api_secret", "", "")][..],
        _ => &[][..],
    } {
        form.push(((*field).to_owned(), String::new()));
    }
    if !provider["enabled"].as_bool().unwrap() {
        form.retain(|(k, _)| k != "enabled");
    }
    for (field, value) in edits {
        form.retain(|(k, _)| k != field);
        if let Some(value) = value {
            form.push(((*field).to_owned(), (*value).to_owned()));
        }
    }
    form
}

/// Form fields as posted.
type Fields<'a> = Vec<(&'a str, &'a str)>;
/// Changes to a form as shown: a value, or None to leave the field out.
type Edits<'a> = Vec<(&'a str, Option<&'a str>)>;

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_added_through_either_door_is_stored_and_audited_alike() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let browser = app.admin_session(&owner.email, OWNER_PASSWORD).await;

    // The admin app's form offers every field the API takes.
    let page = browser.page("/providers/new?kind=twilio", None).await;
    for input in [
        "name=\"name\"",
        "name=\"account_sid\"",
        "name=\"auth_token\"",
        "name=\"base_url\"",
        "name=\"sender_ids\"",
        "name=\"max_rate_per_sec\"",
        "name=\"max_concurrency\"",
        "name=\"receipt_timeout_seconds\"",
    ] {
        assert!(page.contains(input), "the form lacks {input}");
    }

    let (status, api) = api_create(
        &app,
        &owner,
        json!({"name": "Twilio EU", "kind": "twilio",
               "credentials": {"account_sid": SID, "auth_token": TOKEN},
               "base_url": "https://api.example.test/", "sender_ids": ["+1 415 555 2671", "Acme"],
               "max_rate_per_sec": 50, "max_concurrency": 8, "receipt_timeout_seconds": 3600}),
    )
    .await;
    assert_eq!(status, 201, "{api}");
    let api_id = api["id"].as_str().unwrap().to_owned();
    let answer = browser
        .post(
            "/providers",
            &[
                ("kind", "twilio"),
                ("name", "Twilio EU"),
                ("account_sid", SID),
                ("auth_token", TOKEN),
                ("base_url", "https://api.example.test/"),
                ("sender_ids", "+1 415 555 2671, Acme"),
                ("max_rate_per_sec", "50"),
                ("max_concurrency", "8"),
                ("receipt_timeout_seconds", "3600"),
            ],
        )
        .await;
    let form_id = created_id(&answer);

    let stored = provider_row(&app, &api_id).await;
    assert_eq!(stored, provider_row(&app, &form_id).await);
    assert_eq!(stored["max_rate_per_sec"], 50);
    assert_eq!(stored["max_concurrency"], 8);
    assert_eq!(stored["receipt_timeout_seconds"], 3600);
    assert_eq!(stored["sender_ids"], json!(["+14155552671", "Acme"]));
    assert_eq!(stored["base_url"], "https://api.example.test");
    assert_eq!(
        opened_credentials(&app, &api_id).await,
        opened_credentials(&app, &form_id).await
    );
    let (api_audit, form_audit) = (
        audit_of(&app, &api_id).await,
        audit_of(&app, &form_id).await,
    );
    assert_eq!(api_audit, form_audit);
    assert_eq!(
        api_audit,
        [json!({"action": "provider.created",
                "details": {"name": "Twilio EU", "kind": "twilio", "enabled": true},
                "actor_kind": "user", "actor": owner.email, "ip": "127.0.0.1"})]
    );

    // Left empty, the limits are the same defaults through both doors.
    let (status, api) =
        api_create(&app, &owner, json!({"name": "Sandbox", "kind": "sandbox"})).await;
    assert_eq!(status, 201, "{api}");
    let form_id = created_id(
        &browser
            .post(
                "/providers",
                &[
                    ("kind", "sandbox"),
                    ("name", "Sandbox"),
                    ("sender_ids", ""),
                    ("max_rate_per_sec", ""),
                    ("max_concurrency", ""),
                    ("receipt_timeout_seconds", ""),
                ],
            )
            .await,
    );
    let stored = provider_row(&app, api["id"].as_str().unwrap()).await;
    assert_eq!(stored, provider_row(&app, &form_id).await);
    assert_eq!(stored["max_rate_per_sec"], Value::Null);
    assert_eq!(stored["max_concurrency"], 32);
    assert_eq!(stored["receipt_timeout_seconds"], 86_400);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kind_is_refused_by_both_doors_with_the_same_sentence() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let browser = app.admin_session(&owner.email, OWNER_PASSWORD).await;

    let (status, api) = api_create(
        &app,
        &owner,
        json!({"name": "Pigeons", "kind": "pigeon", "credentials": {}}),
    )
    .await;
    assert_eq!(status, 400, "{api}");
    assert_eq!(api["error"]["code"], "invalid_field");
    assert_eq!(api["error"]["field"], "kind");
    let sentence = api["error"]["message"].as_str().unwrap().to_owned();
    assert_eq!(sentence, "The kind must be one of twilio, vonage, sandbox.");

    // The admin app used to make a sandbox of it.
    let answer = browser
        .post("/providers", &[("kind", "pigeon"), ("name", "Pigeons")])
        .await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location, "/providers/new", "back to choosing a kind");
    assert_eq!(answer.error(), ("kind".to_owned(), sentence.clone()));
    let count =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM providers").await;
    assert_eq!(count, 0, "nothing was added");
    // The page it lands on says so, and offers the kinds there are.
    let page = browser.page(&answer.location, Some(&answer)).await;
    assert!(page.contains(&sentence), "{page}");
    for kind in ["twilio", "vonage", "sandbox"] {
        assert!(
            page.contains(&format!("/providers/new?kind={kind}")),
            "{page}"
        );
    }
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_mistake_gets_the_same_sentence_from_both_doors() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let browser = app.admin_session(&owner.email, OWNER_PASSWORD).await;

    // (API body, form fields, the field the API names, the form input it belongs to)
    let twilio = |extra: Value| {
        let mut body = json!({"name": "T", "kind": "twilio", "credentials": {"account_sid": SID, "auth_token": TOKEN}});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let long_name = "x".repeat(101);
    let cases: Vec<(Value, Fields, &str, &str)> = vec![
        (
            twilio(json!({"name": "  "})),
            vec![("name", "  ")],
            "name",
            "name",
        ),
        (
            twilio(json!({"name": long_name})),
            vec![("name", long_name.as_str())],
            "name",
            "name",
        ),
        (
            twilio(json!({"credentials": {"account_sid": "XX1", "auth_token": TOKEN}})),
            vec![("account_sid", "XX1")],
            "credentials.account_sid",
            "account_sid",
        ),
        (
            twilio(json!({"credentials": {"account_sid": SID}})),
            vec![("auth_token", "")],
            "credentials.auth_token",
            "auth_token",
        ),
        (
            twilio(json!({"base_url": "ftp://nope"})),
            vec![("base_url", "ftp://nope")],
            "base_url",
            "base_url",
        ),
        (
            twilio(json!({"sender_ids": ["Acme", "not a valid sender id!"]})),
            vec![("sender_ids", "Acme, not a valid sender id!")],
            "sender_ids[1]",
            "sender_ids",
        ),
        (
            twilio(json!({"max_rate_per_sec": 0})),
            vec![("max_rate_per_sec", "0")],
            "max_rate_per_sec",
            "max_rate_per_sec",
        ),
        (
            twilio(json!({"max_rate_per_sec": 100_001})),
            // Typed into a text box, something not a number is as wrong as a number out of range.
            vec![("max_rate_per_sec", "fast")],
            "max_rate_per_sec",
            "max_rate_per_sec",
        ),
        (
            twilio(json!({"max_concurrency": 5000})),
            vec![("max_concurrency", "5000")],
            "max_concurrency",
            "max_concurrency",
        ),
        (
            twilio(json!({"receipt_timeout_seconds": 604_801})),
            vec![("receipt_timeout_seconds", "a week and a day")],
            "receipt_timeout_seconds",
            "receipt_timeout_seconds",
        ),
    ];
    for (body, edits, api_field, form_field) in cases {
        let (status, api) = api_create(&app, &owner, body.clone()).await;
        assert_eq!(status, 400, "{body} → {api}");
        assert_eq!(api["error"]["field"], api_field, "{body} → {api}");
        let mut form: Vec<(&str, &str)> = vec![
            ("kind", "twilio"),
            ("name", "T"),
            ("account_sid", SID),
            ("auth_token", TOKEN),
        ];
        for (k, v) in edits {
            form.retain(|(f, _)| *f != k);
            form.push((k, v));
        }
        let answer = browser.post("/providers", &form).await;
        assert_eq!(answer.location, "/providers/new?kind=twilio", "{form:?}");
        assert_eq!(
            answer.error(),
            (
                form_field.to_owned(),
                api["error"]["message"].as_str().unwrap().to_owned()
            ),
            "{body} and {form:?}"
        );
    }
    let count =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM providers").await;
    assert_eq!(count, 0, "nothing was added");

    // Changing one, too.
    let (_, provider) = api_create(&app, &owner, twilio(json!({}))).await;
    let id = provider["id"].as_str().unwrap();
    for (api_body, edit, field) in [
        (
            json!({"max_concurrency": 0}),
            ("max_concurrency", "0"),
            "max_concurrency",
        ),
        (
            json!({"max_rate_per_sec": 0}),
            ("max_rate_per_sec", "-3"),
            "max_rate_per_sec",
        ),
        (json!({"name": ""}), ("name", ""), "name"),
        (
            json!({"credentials": {"account_sid": SID, "auth_token": "short"}}),
            ("auth_token", "short"),
            "auth_token",
        ),
    ] {
        let (status, api) = api_patch(&app, &owner, id, api_body.clone()).await;
        assert_eq!(status, 400, "{api_body} → {api}");
        let mut form = settings_form(&provider, &[(edit.0, Some(edit.1))]);
        if field == "auth_token" {
            form.retain(|(k, _)| k != "account_sid");
            form.push(("account_sid".into(), SID.into()));
        }
        let answer = browser
            .post(&format!("/providers/{id}"), &pairs(&form))
            .await;
        assert_eq!(answer.location, format!("/providers/{id}"));
        assert_eq!(
            answer.error(),
            (
                field.to_owned(),
                api["error"]["message"].as_str().unwrap().to_owned()
            ),
            "{api_body}"
        );
    }
    assert_eq!(
        audit_of(&app, id).await.len(),
        1,
        "only the creation was recorded"
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_changed_through_either_door_is_stored_and_audited_alike() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let browser = app.admin_session(&owner.email, OWNER_PASSWORD).await;
    let body = json!({"name": "Twilio", "kind": "twilio",
                      "credentials": {"account_sid": SID, "auth_token": TOKEN},
                      "sender_ids": ["Acme"]});
    let (_, a) = api_create(&app, &owner, body.clone()).await;
    let (_, b) = api_create(&app, &owner, body).await;
    let (a, b) = (
        a["id"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
    );

    // The settings form shows the limits like every other field.
    let page = browser.page(&format!("/providers/{b}"), None).await;
    assert!(
        page.contains("name=\"max_rate_per_sec\"") && page.contains("name=\"max_concurrency\""),
        "{page}"
    );

    // (API change, form edits, the fields both must list as changed)
    let steps: Vec<(Value, Edits, Value)> = vec![
        (
            json!({"name": "Twilio EU", "max_rate_per_sec": 20}),
            vec![
                ("name", Some("Twilio EU")),
                ("max_rate_per_sec", Some("20")),
            ],
            json!(["name", "max_rate_per_sec"]),
        ),
        (
            json!({"credentials": {"account_sid": SID_2, "auth_token": TOKEN_2}}),
            vec![("account_sid", Some(SID_2)), ("auth_token", Some(TOKEN_2))],
            json!(["credentials"]),
        ),
        (
            json!({"enabled": false, "max_concurrency": 4, "base_url": "http://127.0.0.1:1/",
                   "receipt_timeout_seconds": 600}),
            vec![
                ("enabled", None),
                ("max_concurrency", Some("4")),
                ("base_url", Some("http://127.0.0.1:1/")),
                ("receipt_timeout_seconds", Some("600")),
            ],
            json!([
                "base_url",
                "max_concurrency",
                "receipt_timeout_seconds",
                "enabled"
            ]),
        ),
        (
            json!({"max_rate_per_sec": null, "base_url": null, "sender_ids": ["+1 415 555 2671"], "enabled": true}),
            vec![
                ("enabled", Some("on")),
                ("max_rate_per_sec", Some("")),
                ("base_url", Some("")),
                ("sender_ids", Some("+1 415 555 2671")),
            ],
            json!(["base_url", "sender_ids", "max_rate_per_sec", "enabled"]),
        ),
    ];
    for (api_change, edits, changed) in steps {
        let (status, _) = api_patch(&app, &owner, &a, api_change.clone()).await;
        assert_eq!(status, 200, "{api_change}");
        let shown: Value = app
            .get(&format!("/v1/providers/{b}"), &owner.access_token)
            .await
            .json()
            .await
            .unwrap();
        let form = settings_form(&shown, &edits);
        let answer = browser
            .post(&format!("/providers/{b}"), &pairs(&form))
            .await;
        assert_eq!(answer.status, 303);
        assert_eq!(
            answer.note(),
            Some((Some("saved".into()), "Saved.".into())),
            "{form:?}"
        );
        assert_eq!(
            provider_row(&app, &a).await,
            provider_row(&app, &b).await,
            "after {api_change}"
        );
        let (api_audit, form_audit) = (audit_of(&app, &a).await, audit_of(&app, &b).await);
        assert_eq!(api_audit, form_audit, "after {api_change}");
        let last = api_audit.last().unwrap();
        assert_eq!(last["action"], "provider.updated");
        assert_eq!(last["details"]["changed"], changed, "after {api_change}");
        assert_eq!(
            last["details"]["enabled"],
            provider_row(&app, &a).await["enabled"]
        );
    }
    assert_eq!(
        opened_credentials(&app, &a).await,
        json!({"account_sid": SID_2, "auth_token": TOKEN_2})
    );
    assert_eq!(
        opened_credentials(&app, &a).await,
        opened_credentials(&app, &b).await
    );

    // Saving without changing anything records nothing, through either door.
    let records = audit_of(&app, &a).await.len();
    let (status, _) = api_patch(
        &app,
        &owner,
        &a,
        json!({"name": "Twilio EU", "enabled": true}),
    )
    .await;
    assert_eq!(status, 200);
    let shown: Value = app
        .get(&format!("/v1/providers/{b}"), &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let answer = browser
        .post(
            &format!("/providers/{b}"),
            &pairs(&settings_form(&shown, &[])),
        )
        .await;
    assert_eq!(answer.note(), Some((Some("saved".into()), "Saved.".into())));
    assert_eq!(audit_of(&app, &a).await.len(), records);
    assert_eq!(audit_of(&app, &b).await.len(), records);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_removed_through_either_door_is_gone_and_audited_alike() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let browser = app.admin_session(&owner.email, OWNER_PASSWORD).await;
    let a = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let b = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;

    let res = app
        .http
        .delete(app.url(&format!("/v1/providers/{a}")))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let answer = browser.post(&format!("/providers/{b}/delete"), &[]).await;
    assert_eq!(
        (answer.status, answer.location.as_str()),
        (303, "/providers")
    );

    let (row_a, row_b) = (provider_row(&app, &a).await, provider_row(&app, &b).await);
    assert_eq!(row_a["deleted"], true);
    assert_eq!(row_a["enabled"], false);
    assert_eq!(
        (row_a["deleted"].clone(), row_a["enabled"].clone()),
        (row_b["deleted"].clone(), row_b["enabled"].clone())
    );
    // (Their creation records differ by the random names the helper gives.)
    let (api_audit, form_audit) = (audit_of(&app, &a).await, audit_of(&app, &b).await);
    assert_eq!(api_audit.last(), form_audit.last());
    assert_eq!(api_audit.last().unwrap()["action"], "provider.deleted");
    assert_eq!(api_audit.last().unwrap()["details"], json!({}));

    // Removing it again: the API says 404, the app shows the list; nothing more is recorded.
    let res = app
        .http
        .delete(app.url(&format!("/v1/providers/{a}")))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let answer = browser.post(&format!("/providers/{b}/delete"), &[]).await;
    assert_eq!(
        (answer.status, answer.location.as_str()),
        (303, "/providers")
    );
    assert_eq!(audit_of(&app, &a).await.len(), api_audit.len());
    assert_eq!(audit_of(&app, &b).await.len(), form_audit.len());
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_set_through_either_door_are_stored_and_audited_alike() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let browser = app.admin_session(&owner.email, OWNER_PASSWORD).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(app.provider(&owner, "sandbox", json!({}), None, &[]).await);
    }
    let csv = "country,message_type,price,currency\nus,,0.0079,USD\n*,otp,0.05,usd\nGB,marketing,0.04,USD\n";

    // The API as CSV and as JSON; the app's form as an uploaded file and as pasted text.
    let res = app
        .http
        .put(app.url(&format!("/v1/providers/{}/prices", ids[0])))
        .bearer_auth(&owner.access_token)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .http
        .put(app.url(&format!("/v1/providers/{}/prices", ids[1])))
        .bearer_auth(&owner.access_token)
        .json(&json!({"prices": [
            {"country": "us", "price": "0.0079", "currency": "USD"},
            {"country": "*", "message_type": "otp", "price": "0.05", "currency": "usd"},
            {"country": "GB", "message_type": "marketing", "price": "0.04", "currency": "USD"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer = browser
        .post_multipart(
            &format!("/providers/{}/prices", ids[2]),
            &[("file", Some("prices.csv"), csv), ("csv", None, "")],
        )
        .await;
    assert_eq!(
        answer.note(),
        Some((Some("saved".into()), "Saved 3 prices.".into()))
    );
    let answer = browser
        .post_multipart(
            &format!("/providers/{}/prices", ids[3]),
            &[("file", Some(""), ""), ("csv", None, csv)],
        )
        .await;
    assert_eq!(
        answer.note(),
        Some((Some("saved".into()), "Saved 3 prices.".into()))
    );

    let prices_of = |id: &str| {
        let sql = format!(
            "SELECT country, message_type, price_micros, currency FROM provider_prices \
             WHERE provider_id = '{}' ORDER BY country, message_type",
            uuid_of(id)
        );
        let url = app.db.url.clone();
        async move { rows(&url, &sql).await }
    };
    let stored = prices_of(&ids[0]).await;
    assert_eq!(stored.len(), 3);
    assert_eq!(
        stored[0],
        json!({"country": "*", "message_type": "otp", "price_micros": 50000, "currency": "USD"})
    );
    let first_audit = audit_of(&app, &ids[0]).await;
    let recorded = first_audit.last().unwrap();
    assert_eq!(recorded["action"], "provider.prices_changed");
    assert_eq!(recorded["details"], json!({"entries": 3, "list": "cost"}));
    for id in &ids[1..] {
        assert_eq!(prices_of(id).await, stored, "{id}");
        let audit = audit_of(&app, id).await;
        assert_eq!(
            (audit.len(), audit.last()),
            (first_audit.len(), Some(recorded)),
            "{id}"
        );
    }

    // A bad line: the same sentence, and the list stays as it was.
    let bad = "country,message_type,price,currency\nUS,,0.0079,USD\nUSA,,0.01,USD\n";
    let res = app
        .http
        .put(app.url(&format!("/v1/providers/{}/prices", ids[0])))
        .bearer_auth(&owner.access_token)
        .header("Content-Type", "text/csv")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let api: Value = res.json().await.unwrap();
    assert_eq!(api["error"]["code"], "invalid_csv");
    let answer = browser
        .post_multipart(
            &format!("/providers/{}/prices", ids[2]),
            &[("file", Some("bad.csv"), bad)],
        )
        .await;
    assert_eq!(
        answer.error(),
        (
            "csv".to_owned(),
            api["error"]["message"].as_str().unwrap().to_owned()
        )
    );
    assert!(answer.error().1.starts_with("Line 3:"));
    assert_eq!(answer.location, format!("/providers/{}#prices", ids[2]));
    for id in &ids {
        assert_eq!(prices_of(id).await, stored, "{id}");
        assert_eq!(audit_of(&app, id).await.len(), first_audit.len());
    }
    app.cleanup().await;
}

async fn member_browser(app: &TestApp, owner: &Owner, role: &str) -> (AdminSession, String) {
    let (_, token) = app.member(owner, role).await;
    let me: Value = app.get("/v1/me", &token).await.json().await.unwrap();
    let email = me["user"]["email"].as_str().unwrap().to_owned();
    (app.admin_session(&email, MEMBER_PASSWORD).await, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_message_with_nothing_routable_adds_the_sandbox_once_and_records_it() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    // A developer may send messages but not manage providers: the sandbox still comes, as it
    // always has.
    let (developer, _) = member_browser(&app, &owner, "developer").await;

    // Four at once add one sandbox, not four.
    let bodies: Vec<String> = (0..4).map(|i| format!("hello {i}")).collect();
    let sends = bodies.iter().map(|body| {
        let developer = &developer;
        async move {
            developer
                .post(
                    "/messages/test",
                    &[("to", "+1 415 555 2671"), ("body", body.as_str())],
                )
                .await
        }
    });
    for answer in futures::future::join_all(sends).await {
        assert_eq!(answer.status, 303, "{answer:?}");
        assert!(answer.location.starts_with("/messages/msg_"), "{answer:?}");
    }
    let sandboxes = rows(
        &app.db.url,
        "SELECT p.name, p.kind, p.enabled, pp.country, pp.message_type, pp.price_micros, pp.currency \
         FROM providers p JOIN provider_prices pp ON pp.provider_id = p.id",
    )
    .await;
    assert_eq!(
        sandboxes,
        [
            json!({"name": "Sandbox", "kind": "sandbox", "enabled": true, "country": "*",
                "message_type": "*", "price_micros": 0, "currency": "USD"})
        ]
    );
    let messages = rows(
        &app.db.url,
        "SELECT mode, client_ref, estimated_cost_micros FROM messages",
    )
    .await;
    assert_eq!(messages.len(), 4);
    assert!(
        messages.iter().all(|m| m
            == &json!({"mode": "test", "client_ref": "admin-app test (sandbox)", "estimated_cost_micros": 0})),
        "{messages:?}"
    );
    // Recorded like any provider added, by whoever sent the message.
    let audit = rows(
        &app.db.url,
        "SELECT a.action, a.details, a.actor_kind, u.role \
         FROM audit_log a JOIN users u ON u.id = a.actor_id WHERE a.action LIKE 'provider.%'",
    )
    .await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["action"], "provider.created");
    assert_eq!(
        audit[0]["details"],
        json!({"name": "Sandbox", "kind": "sandbox", "enabled": true, "for": "test message"})
    );
    assert_eq!(audit[0]["role"], "developer");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_message_with_a_live_route_is_accepted_like_an_api_send() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let browser = app.admin_session(&owner.email, OWNER_PASSWORD).await;
    app.provider(
        &owner,
        "twilio",
        json!({"account_sid": SID, "auth_token": TOKEN}),
        Some("http://127.0.0.1:1"),
        &[("*", "0.0500")],
    )
    .await;

    let body = "Grüße from the test";
    let answer = browser
        .post(
            "/messages/test",
            &[("to", "+49 151 12345678"), ("body", body)],
        )
        .await;
    assert!(answer.location.starts_with("/messages/msg_"), "{answer:?}");
    let res = app
        .post(
            "/v1/messages",
            &owner.access_token,
            &json!({"to": "+49 151 12345678", "body": body}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let messages = rows(
        &app.db.url,
        "SELECT mode, recipient, country, message_type, body, encoding, segments, \
         estimated_cost_micros, currency, status, api_key_id FROM messages ORDER BY id",
    )
    .await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0], messages[1]);
    assert_eq!(messages[0]["mode"], "live");
    assert_eq!(messages[0]["estimated_cost_micros"], 50_000);
    let count =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM providers").await;
    assert_eq!(count, 1, "no sandbox was needed");

    // A number that is not one: the sentence the API gives, next to `to`.
    let res = app
        .post(
            "/v1/messages",
            &owner.access_token,
            &json!({"to": "12345", "body": body}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let api: Value = res.json().await.unwrap();
    let answer = browser
        .post("/messages/test", &[("to", "12345"), ("body", body)])
        .await;
    assert_eq!(answer.location, "/messages/new");
    assert_eq!(
        answer.error(),
        (
            "to".to_owned(),
            api["error"]["message"].as_str().unwrap().to_owned()
        )
    );

    // A viewer may not send: the API refuses, the app says why; nothing is sent or added.
    let (viewer, token) = member_browser(&app, &owner, "viewer").await;
    let res = app
        .post(
            "/v1/messages",
            &token,
            &json!({"to": "+4915112345678", "body": "x"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let answer = viewer
        .post("/messages/test", &[("to", "+4915112345678"), ("body", "x")])
        .await;
    assert_eq!(answer.location, "/messages/new");
    assert_eq!(
        answer.note(),
        Some((
            None,
            "Your role cannot send messages; ask an owner or admin.".into()
        ))
    );
    let count =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM messages").await;
    assert_eq!(count, 2);
    app.cleanup().await;
}

/// The platform's providers (`/v1/admin/providers` and the admin app's `/admin/providers`
/// forms) are the same service: added, changed, priced (cost and sell lists) and removed
/// through each door by a platform admin, they are stored and audited alike; a mistake in the
/// sell list gets the API's sentence next to the sell list's box; billing staff may look but
/// not change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_provider_through_either_door_is_stored_and_audited_alike() {
    use openclaw_core::domain::Role;
    let app = TestApp::spawn_with(no_worker()).await;
    let token = app.staff(Role::PlatformAdmin).await;
    let browser = app.admin_session_of(&token);
    let admin_put = |path: String, body: &'static str| {
        app.http
            .put(app.url(&path))
            .bearer_auth(&token)
            .header("Content-Type", "text/csv")
            .body(body)
            .send()
    };

    // Added.
    let page = browser.page("/admin/providers/new?kind=twilio", None).await;
    assert!(page.contains("action=\"/admin/providers\""), "{page}");
    let res = app
        .post(
            "/v1/admin/providers",
            &token,
            &json!({"name": "Platform Twilio", "kind": "twilio",
                    "credentials": {"account_sid": SID, "auth_token": TOKEN},
                    "sender_ids": ["Acme"], "max_rate_per_sec": 20}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let api: Value = res.json().await.unwrap();
    let api_id = api["id"].as_str().unwrap().to_owned();
    let answer = browser
        .post(
            "/admin/providers",
            &[
                ("kind", "twilio"),
                ("name", "Platform Twilio"),
                ("account_sid", SID),
                ("auth_token", TOKEN),
                ("base_url", ""),
                ("sender_ids", "Acme"),
                ("max_rate_per_sec", "20"),
                ("max_concurrency", ""),
            ],
        )
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    let form_id = answer
        .location
        .strip_prefix("/admin/providers/")
        .unwrap_or_else(|| panic!("not a platform provider's page: {answer:?}"))
        .to_owned();
    let owners = rows(
        &app.db.url,
        &format!(
            "SELECT count(*) AS n FROM providers WHERE tenant_id IS NULL AND id IN ('{}', '{}')",
            uuid_of(&api_id),
            uuid_of(&form_id)
        ),
    )
    .await;
    assert_eq!(owners[0]["n"], 2, "both are the platform's");
    assert_eq!(
        provider_row(&app, &api_id).await,
        provider_row(&app, &form_id).await
    );
    assert_eq!(
        opened_credentials(&app, &api_id).await,
        opened_credentials(&app, &form_id).await
    );
    let created = audit_of(&app, &api_id).await;
    assert_eq!(created, audit_of(&app, &form_id).await);
    assert_eq!(created[0]["action"], "provider.created");

    // Changed: renamed and disabled.
    let res = app
        .http
        .patch(app.url(&format!("/v1/admin/providers/{api_id}")))
        .bearer_auth(&token)
        .json(&json!({"name": "Platform Twilio (off)", "enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let form = settings_form(
        &api,
        &[("name", Some("Platform Twilio (off)")), ("enabled", None)],
    );
    let answer = browser
        .post(&format!("/admin/providers/{form_id}"), &pairs(&form))
        .await;
    assert_eq!(answer.note(), Some((Some("saved".into()), "Saved.".into())));
    let stored = provider_row(&app, &api_id).await;
    assert_eq!(stored, provider_row(&app, &form_id).await);
    assert_eq!(stored["enabled"], false);
    assert_eq!(
        audit_of(&app, &api_id).await.last(),
        audit_of(&app, &form_id).await.last()
    );

    // Priced: the cost list and the sell list, each through each door.
    let cost = "country,message_type,price,currency\n*,,0.0030,USD\n";
    let sell = "country,message_type,price,currency\nDE,,0.0080,USD\nFR,,0.0090,USD\n";
    let res = admin_put(format!("/v1/admin/providers/{api_id}/cost-prices"), cost)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = admin_put(format!("/v1/admin/providers/{api_id}/sell-prices"), sell)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer = browser
        .post_multipart(
            &format!("/admin/providers/{form_id}/cost-prices"),
            &[("file", Some("cost.csv"), cost), ("csv", None, "")],
        )
        .await;
    assert_eq!(
        answer.note(),
        Some((Some("saved".into()), "Saved 1 prices.".into()))
    );
    let answer = browser
        .post_multipart(
            &format!("/admin/providers/{form_id}/sell-prices"),
            &[("sell_file", Some(""), ""), ("sell_csv", None, sell)],
        )
        .await;
    assert_eq!(
        answer.note(),
        Some((Some("saved".into()), "Saved 2 prices.".into()))
    );
    let prices_of = |id: &str| {
        let sql = format!(
            "SELECT list, country, message_type, price_micros, currency FROM provider_prices \
             WHERE provider_id = '{}' ORDER BY list, country, message_type",
            uuid_of(id)
        );
        let url = app.db.url.clone();
        async move { rows(&url, &sql).await }
    };
    let priced = prices_of(&api_id).await;
    assert_eq!(priced, prices_of(&form_id).await);
    assert_eq!(
        priced,
        [
            json!({"list": "cost", "country": "*", "message_type": "*", "price_micros": 3000, "currency": "USD"}),
            json!({"list": "sell", "country": "DE", "message_type": "*", "price_micros": 8000, "currency": "USD"}),
            json!({"list": "sell", "country": "FR", "message_type": "*", "price_micros": 9000, "currency": "USD"}),
        ]
    );
    let audited = audit_of(&app, &api_id).await;
    assert_eq!(audited, audit_of(&app, &form_id).await);
    assert_eq!(
        audited.last().unwrap()["details"],
        json!({"entries": 2, "list": "sell"})
    );
    let page = browser
        .page(&format!("/admin/providers/{form_id}"), None)
        .await;
    for shown in [
        "Cost prices per segment",
        "Sell prices per segment",
        "0.003000 USD",
        "0.008000 USD",
        "0.009000 USD",
    ] {
        assert!(page.contains(shown), "the page lacks {shown}");
    }
    let list = browser.page("/admin/providers", None).await;
    assert!(
        list.contains(&format!("href=\"/admin/providers/{form_id}\"")),
        "{list}"
    );

    // A bad sell list: the API's sentence, next to the sell list's box; nothing changes.
    let bad = "country,message_type,price,currency\nDE,,0.0080,USD\nDEU,,0.01,USD\n";
    let res = admin_put(format!("/v1/admin/providers/{api_id}/sell-prices"), bad)
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let refused: Value = res.json().await.unwrap();
    let sentence = refused["error"]["message"].as_str().unwrap().to_owned();
    assert!(sentence.starts_with("Line 3:"), "{sentence}");
    let answer = browser
        .post_multipart(
            &format!("/admin/providers/{form_id}/sell-prices"),
            &[("sell_csv", None, bad)],
        )
        .await;
    assert_eq!(answer.error(), ("sell_csv".to_owned(), sentence.clone()));
    assert_eq!(
        answer.location,
        format!("/admin/providers/{form_id}#sell-prices"),
        "back to the sell list's section"
    );
    let page = browser
        .page(&format!("/admin/providers/{form_id}"), Some(&answer))
        .await;
    let at = page.find("name=\"sell_csv\"").expect("the sell list's box");
    let shown = page.find(&sentence).expect("the sentence on the page");
    assert!(
        shown > at && !page[at..shown].contains("<form"),
        "the sentence is not next to the sell list's box"
    );
    assert_eq!(prices_of(&api_id).await, priced);
    assert_eq!(prices_of(&form_id).await, priced);
    assert_eq!(audit_of(&app, &form_id).await.len(), audited.len());

    // Billing staff see the list and the page, without forms; posting is refused.
    let billing = app.admin_session_of(&app.staff(Role::BillingStaff).await);
    let page = billing
        .page(&format!("/admin/providers/{form_id}"), None)
        .await;
    assert!(page.contains("0.008000 USD") && !page.contains("<form class=\"form\""));
    let answer = billing
        .post(&format!("/admin/providers/{form_id}/delete"), &[])
        .await;
    assert_eq!(answer.status, 403);

    // Removed.
    let res = app
        .http
        .delete(app.url(&format!("/v1/admin/providers/{api_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let answer = browser
        .post(&format!("/admin/providers/{form_id}/delete"), &[])
        .await;
    assert_eq!(
        (answer.status, answer.location.as_str()),
        (303, "/admin/providers")
    );
    let gone = provider_row(&app, &api_id).await;
    assert_eq!(gone["deleted"], true);
    assert_eq!(gone, provider_row(&app, &form_id).await);
    assert_eq!(
        audit_of(&app, &api_id).await.last(),
        audit_of(&app, &form_id).await.last()
    );
    let answer = browser.get(&format!("/admin/providers/{form_id}")).await;
    assert_eq!(answer.status, 404);
    app.cleanup().await;
}
