//! Tenant settings (the company name, default sender ids and opt-out exemptions) through both doors: `GET|PATCH
//! /v1/settings` and the admin app's settings form call one service (`openclaw_core::settings`);
//! the same change stores the same row and the same audit record through either, and the same
//! mistake gets the same field and sentence.

use openclaw_e2e::app::{Options, Owner, TestApp};
use openclaw_e2e::services::query_rows;
use serde_json::{Value, json};

fn no_worker() -> Options {
    Options {
        worker: false,
        ..Default::default()
    }
}

/// The password `Api::signup` gives every owner.
const OWNER_PASSWORD: &str = "correct horse battery";

async fn patch(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let res = app
        .http
        .patch(app.url("/v1/settings"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn tenant_uuid(owner: &Owner) -> uuid::Uuid {
    openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid()
}

/// The tenant's row as stored.
async fn stored(app: &TestApp, owner: &Owner) -> Value {
    query_rows(
        &app.db.url,
        &format!(
            "SELECT name, default_sender_ids, currency, opt_out_exempt_types FROM tenants \
             WHERE id = '{}'",
            tenant_uuid(owner)
        ),
    )
    .await
    .remove(0)
}

/// The settings changes audited for the tenant, oldest first (without their own ids and times).
async fn audited(app: &TestApp, owner: &Owner) -> Vec<Value> {
    query_rows(
        &app.db.url,
        &format!(
            "SELECT tenant_id, actor_id, actor, actor_kind, ip, user_agent, action, target, details \
             FROM audit_log WHERE tenant_id = '{}' AND action = 'tenant.settings_changed' ORDER BY id",
            tenant_uuid(owner)
        ),
    )
    .await
}

/// Puts the settings back as sign-up left them.
async fn reset(app: &TestApp, owner: &Owner) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    let updated = diesel::sql_query(format!(
        "UPDATE tenants SET name = 'Acme', default_sender_ids = '{{}}', \
         opt_out_exempt_types = '{{}}' WHERE id = '{}'",
        tenant_uuid(owner)
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(updated, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_read_and_changed_through_the_api() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let res = app.get("/v1/settings", &owner.access_token).await;
    assert_eq!(res.status(), 200);
    let read: Value = res.json().await.unwrap();
    assert_eq!(
        read,
        json!({"id": owner.tenant_id, "name": "Acme", "currency": "USD",
               "default_sender_ids": [], "opt_out_exempt_types": [],
               "created_at": read["created_at"]})
    );
    assert!(read["created_at"].is_string());

    // Sender ids are normalised (phone numbers to E.164); a field left out stays as it was.
    let (status, changed) = patch(
        &app,
        &owner.access_token,
        &json!({"default_sender_ids": ["Acme", "+1 415 555 0100"]}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "Acme");
    assert_eq!(
        changed["default_sender_ids"],
        json!(["Acme", "+14155550100"])
    );
    let (status, changed) = patch(&app, &owner.access_token, &json!({"name": " Acme Ltd "})).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "Acme Ltd");
    assert_eq!(
        changed["default_sender_ids"],
        json!(["Acme", "+14155550100"])
    );
    let read: Value = app
        .get("/v1/settings", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, changed);
    // What people see of their tenant follows.
    let me: Value = app
        .get("/v1/me", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["tenant"]["name"], "Acme Ltd");

    // Owners and admins only.
    let (_, admin) = app.member(&owner, "admin").await;
    assert_eq!(app.get("/v1/settings", &admin).await.status(), 200);
    for role in ["developer", "billing", "viewer"] {
        let (_, token) = app.member(&owner, role).await;
        assert_eq!(
            app.get("/v1/settings", &token).await.status(),
            403,
            "{role}"
        );
        let (status, body) = patch(&app, &token, &json!({"name": "Mine"})).await;
        assert_eq!(status, 403, "{role}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    // An API key is not a user.
    let key = app.api_key(&owner, "live").await;
    assert_eq!(app.get("/v1/settings", &key).await.status(), 401);
    // Another tenant sees and changes only its own.
    let other = app.signup().await;
    let (status, theirs) = patch(&app, &other.access_token, &json!({"name": "Other"})).await;
    assert_eq!(status, 200);
    assert_eq!(theirs["id"], other.tenant_id);
    assert_eq!(stored(&app, &owner).await["name"], "Acme Ltd");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_settings_stores_and_audits_the_same_through_both_doors() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let form = app.admin_session(&owner.email, OWNER_PASSWORD).await;

    let (status, body) = patch(
        &app,
        &owner.access_token,
        &json!({"name": "Acme Europe", "default_sender_ids": ["Acme", "+14155550100"],
                "opt_out_exempt_types": ["otp", "transactional"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let through_api = stored(&app, &owner).await;
    let api_audit = audited(&app, &owner).await;
    assert_eq!(api_audit.len(), 1);
    assert_eq!(
        api_audit[0]["details"],
        json!({"name": "Acme Europe", "default_sender_ids": ["Acme", "+14155550100"],
               "opt_out_exempt_types": ["transactional", "otp"]})
    );

    reset(&app, &owner).await;
    assert_eq!(stored(&app, &owner).await["name"], "Acme");
    let (to, flash) = form
        .submit(
            "/settings",
            &[
                ("name", "Acme Europe"),
                ("default_sender_ids", "Acme, +14155550100"),
                ("opt_out_exempt_types", "transactional"),
                ("opt_out_exempt_types", "otp"),
            ],
        )
        .await;
    assert_eq!(to, "/settings");
    let flash = flash.expect("a note");
    assert_eq!(flash.field.as_deref(), Some("saved"), "{flash:?}");
    assert_eq!(stored(&app, &owner).await, through_api);
    let audit = audited(&app, &owner).await;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1], api_audit[0]);
    app.cleanup().await;
}

/// A mistake: the API's JSON body, the same through the admin-app form's fields, and the
/// field both must name.
type Mistake<'a> = (Value, Vec<(&'a str, &'a str)>, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_mistake_gets_the_same_field_and_sentence_through_both_doors() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let form = app.admin_session(&owner.email, OWNER_PASSWORD).await;
    let long = "A".repeat(101);
    let many: Vec<String> = (0..101).map(|i| format!("Acme{i}")).collect();
    let many_joined = many.join(", ");
    let mut cases: Vec<Mistake> = vec![
        (
            json!({"name": ""}),
            vec![("name", ""), ("default_sender_ids", "")],
            "name",
        ),
        (
            json!({"name": long}),
            vec![("name", &long), ("default_sender_ids", "")],
            "name",
        ),
        (
            json!({"name": "Ac\u{0}me"}),
            vec![("name", "Ac\u{0}me"), ("default_sender_ids", "")],
            "name",
        ),
        (
            json!({"default_sender_ids": ["not a valid sender!"]}),
            vec![
                ("name", "Acme"),
                ("default_sender_ids", "not a valid sender!"),
            ],
            "default_sender_ids",
        ),
        (
            json!({"default_sender_ids": ["+1 000"]}),
            vec![("name", "Acme"), ("default_sender_ids", "+1 000")],
            "default_sender_ids",
        ),
        (
            json!({"default_sender_ids": many}),
            vec![("name", "Acme"), ("default_sender_ids", &many_joined)],
            "default_sender_ids",
        ),
    ];
    cases.push((
        json!({"opt_out_exempt_types": ["otp", "marketing"]}),
        vec![
            ("name", "Acme"),
            ("default_sender_ids", ""),
            ("opt_out_exempt_types", "otp"),
            ("opt_out_exempt_types", "marketing"),
        ],
        "opt_out_exempt_types",
    ));
    cases.push((
        json!({"opt_out_exempt_types": ["everything"]}),
        vec![
            ("name", "Acme"),
            ("default_sender_ids", ""),
            ("opt_out_exempt_types", "everything"),
        ],
        "opt_out_exempt_types",
    ));
    for (body, fields, field) in cases {
        let (status, api) = patch(&app, &owner.access_token, &body).await;
        form.assert_same_mistake((status, &api), "/settings", &fields, "/settings", field)
            .await;
    }
    assert_eq!(
        stored(&app, &owner).await,
        json!({"name": "Acme", "default_sender_ids": [], "currency": "USD",
               "opt_out_exempt_types": []})
    );
    assert!(audited(&app, &owner).await.is_empty());
    app.cleanup().await;
}
