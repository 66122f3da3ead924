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

// ---------------------------------------------------------------------------------------------
// Both doors: the API and the admin app's forms call one service (`openclaw_core::api_keys`);
// the same request stores the same rows and the same audit record through either, and the
// same mistake gets the same field and sentence.

use openclaw_core::domain::ApiKeyId;
use openclaw_e2e::app::Owner;
use openclaw_e2e::forms::AdminSession;
use openclaw_e2e::services::query_rows;

/// The password `Api::signup` gives every owner.
const OWNER_PASSWORD: &str = "correct horse battery";

async fn both_doors(app: &TestApp) -> (Owner, AdminSession) {
    let owner = app.signup().await;
    let session = app.admin_session(&owner.email, OWNER_PASSWORD).await;
    (owner, session)
}

fn uuid_of(id: &str) -> uuid::Uuid {
    ApiKeyId::parse(id).expect("a key id").uuid()
}

/// A key's row as stored, without what differs from key to key (id, secret, hash, times).
async fn stored_key(app: &TestApp, id: &str) -> Value {
    let rows = query_rows(
        &app.db.url,
        &format!(
            "SELECT tenant_id, name, mode, scopes, expires_at, \
               revoked_at IS NOT NULL AS revoked, revoked_at <= now() AS retired, \
               prefix LIKE 'oc_' || mode || '\\_%' AND length(prefix) = 16 AS prefix_shaped \
             FROM api_keys WHERE id = '{}'",
            uuid_of(id)
        ),
    )
    .await;
    assert_eq!(rows.len(), 1, "key {id} is not stored");
    rows[0].clone()
}

/// The audit records about key `id`, oldest first, with the ids and prefixes that differ
/// from key to key replaced by their names.
async fn audited(app: &TestApp, id: &str, names: &[(&str, &str)]) -> Value {
    let rows = query_rows(
        &app.db.url,
        &format!(
            "SELECT tenant_id, actor_id, actor, actor_kind, ip, user_agent, action, target, details \
             FROM audit_log WHERE target = '{id}' ORDER BY id"
        ),
    )
    .await;
    let mut text = Value::from(rows).to_string();
    for (value, name) in names {
        text = text.replace(value, name);
    }
    serde_json::from_str(&text).unwrap()
}

/// The id of the tenant's key whose secret is `secret` (the admin app shows only the secret).
async fn id_of_secret(app: &TestApp, owner: &Owner, secret: &str) -> (String, String) {
    let list: Value = app
        .get("/v1/api-keys", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let key = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| secret.starts_with(k["prefix"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("the new key is not listed: {list}"));
    (
        key["id"].as_str().unwrap().to_owned(),
        key["prefix"].as_str().unwrap().to_owned(),
    )
}

async fn api_created(app: &TestApp, owner: &Owner, body: Value) -> Value {
    let res = app.post("/v1/api-keys", &owner.access_token, &body).await;
    let status = res.status();
    let created: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{created}");
    created
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_key_stores_and_audits_the_same_through_both_doors() {
    let app = TestApp::spawn_with(no_worker()).await;
    let (owner, form) = both_doors(&app).await;

    let created = api_created(&app, &owner, json!({"name": "backend", "mode": "test"})).await;
    let (api_id, api_prefix) = (
        created["id"].as_str().unwrap().to_owned(),
        created["prefix"].as_str().unwrap().to_owned(),
    );

    let (to, flash) = form
        .submit("/api-keys", &[("name", "backend"), ("mode", "test")])
        .await;
    assert_eq!(to, "/api-keys");
    let flash = flash.expect("the new key, in the flash");
    assert_eq!(flash.field.as_deref(), Some("created"), "{flash:?}");
    let secret = flash.message;
    assert!(secret.starts_with("oc_test_"), "{secret}");
    let (form_id, form_prefix) = id_of_secret(&app, &owner, &secret).await;
    assert_ne!(form_id, api_id);

    assert_eq!(
        stored_key(&app, &form_id).await,
        stored_key(&app, &api_id).await
    );
    let api_audit = audited(
        &app,
        &api_id,
        &[(&api_id, "<key>"), (&api_prefix, "<prefix>")],
    )
    .await;
    let form_audit = audited(
        &app,
        &form_id,
        &[(&form_id, "<key>"), (&form_prefix, "<prefix>")],
    )
    .await;
    assert_eq!(api_audit.as_array().unwrap().len(), 1, "{api_audit}");
    assert_eq!(api_audit[0]["action"], "api_key.created");
    assert_eq!(
        api_audit[0]["details"],
        json!({"name": "backend", "prefix": "<prefix>", "mode": "test",
               "scopes": ["messages:send", "messages:read"]})
    );
    assert_eq!(form_audit, api_audit);
    // Both keys work.
    assert_eq!(app.get("/v1/messages", &secret).await.status(), 200);
    assert_eq!(
        app.get("/v1/messages", created["key"].as_str().unwrap())
            .await
            .status(),
        200
    );
    app.cleanup().await;
}

/// A mistake: the API's JSON body, the same through the admin-app form's fields, and the
/// field both must name.
type Mistake<'a> = (Value, Vec<(&'a str, &'a str)>, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_mistake_gets_the_same_field_and_sentence_through_both_doors() {
    let app = TestApp::spawn_with(no_worker()).await;
    let (owner, form) = both_doors(&app).await;
    let long = "k".repeat(101);
    let cases: [Mistake; 6] = [
        (
            json!({"name": ""}),
            vec![("name", ""), ("mode", "live")],
            "name",
        ),
        (
            json!({"name": "   "}),
            vec![("name", "   "), ("mode", "live")],
            "name",
        ),
        (
            json!({"name": long}),
            vec![("name", &long), ("mode", "live")],
            "name",
        ),
        // A NUL is a control character like any other, on both sides.
        (
            json!({"name": "back\u{0}end"}),
            vec![("name", "back\u{0}end"), ("mode", "live")],
            "name",
        ),
        (
            json!({"name": "back\nend"}),
            vec![("name", "back\nend"), ("mode", "live")],
            "name",
        ),
        // The form used to make a live key of any mode it did not know.
        (
            json!({"name": "backend", "mode": "staging"}),
            vec![("name", "backend"), ("mode", "staging")],
            "mode",
        ),
    ];
    for (body, fields, field) in cases {
        let res = app.post("/v1/api-keys", &owner.access_token, &body).await;
        let status = res.status().as_u16();
        let api: Value = res.json().await.unwrap();
        form.assert_same_mistake((status, &api), "/api-keys", &fields, "/api-keys", field)
            .await;
    }
    let stored =
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM api_keys").await;
    assert_eq!(stored, 0, "a refused key was stored");
    let audited = openclaw_e2e::services::query_i64(
        &app.db.url,
        "SELECT count(*) FROM audit_log WHERE action LIKE 'api_key.%'",
    )
    .await;
    assert_eq!(audited, 0);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_key_stores_and_audits_the_same_through_both_doors() {
    let app = TestApp::spawn_with(no_worker()).await;
    let (owner, form) = both_doors(&app).await;
    let api_old = api_created(&app, &owner, json!({"name": "backend"})).await;
    let form_old = api_created(&app, &owner, json!({"name": "backend"})).await;
    let (api_old_id, form_old_id) = (
        api_old["id"].as_str().unwrap().to_owned(),
        form_old["id"].as_str().unwrap().to_owned(),
    );

    // The admin app rotates without a grace period; so does the API by default.
    let res = app
        .post(
            &format!("/v1/api-keys/{api_old_id}/rotate"),
            &owner.access_token,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let api_new: Value = res.json().await.unwrap();
    let (api_new_id, api_new_prefix) = (
        api_new["id"].as_str().unwrap().to_owned(),
        api_new["prefix"].as_str().unwrap().to_owned(),
    );

    let (to, flash) = form
        .submit(&format!("/api-keys/{form_old_id}/rotate"), &[])
        .await;
    assert_eq!(to, "/api-keys");
    let flash = flash.expect("the new key, in the flash");
    assert_eq!(flash.field.as_deref(), Some("created"), "{flash:?}");
    let form_secret = flash.message;
    let (form_new_id, form_new_prefix) = id_of_secret(&app, &owner, &form_secret).await;

    assert_eq!(
        stored_key(&app, &form_old_id).await,
        stored_key(&app, &api_old_id).await
    );
    assert_eq!(stored_key(&app, &api_old_id).await["retired"], true);
    assert_eq!(
        stored_key(&app, &form_new_id).await,
        stored_key(&app, &api_new_id).await
    );
    let api_audit = audited(
        &app,
        &api_old_id,
        &[
            (&api_old_id, "<old>"),
            (&api_new_id, "<new>"),
            (&api_new_prefix, "<new prefix>"),
            (api_old["prefix"].as_str().unwrap(), "<old prefix>"),
        ],
    )
    .await;
    let form_audit = audited(
        &app,
        &form_old_id,
        &[
            (&form_old_id, "<old>"),
            (&form_new_id, "<new>"),
            (&form_new_prefix, "<new prefix>"),
            (form_old["prefix"].as_str().unwrap(), "<old prefix>"),
        ],
    )
    .await;
    let rotated = &api_audit[1];
    assert_eq!(rotated["action"], "api_key.rotated", "{api_audit}");
    assert_eq!(
        rotated["details"],
        json!({"new_key": "<new>", "new_prefix": "<new prefix>", "grace_seconds": 0})
    );
    // The admin app used to record a rotation with no details at all.
    assert_eq!(form_audit, api_audit);

    assert_eq!(app.get("/v1/messages", &form_secret).await.status(), 200);
    for old in [&api_old, &form_old] {
        let status = app
            .get("/v1/messages", old["key"].as_str().unwrap())
            .await
            .status();
        assert_eq!(status, 401, "a rotated key still works");
    }
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_key_stores_and_audits_the_same_through_both_doors() {
    let app = TestApp::spawn_with(no_worker()).await;
    let (owner, form) = both_doors(&app).await;
    let api_key = api_created(&app, &owner, json!({"name": "backend"})).await;
    let form_key = api_created(&app, &owner, json!({"name": "backend"})).await;
    let (api_id, form_id) = (
        api_key["id"].as_str().unwrap().to_owned(),
        form_key["id"].as_str().unwrap().to_owned(),
    );
    // Used once, so each is in the key cache.
    for key in [&api_key, &form_key] {
        let status = app
            .get("/v1/messages", key["key"].as_str().unwrap())
            .await
            .status();
        assert_eq!(status, 200);
    }
    let revoke_api = async || {
        app.http
            .delete(app.url(&format!("/v1/api-keys/{api_id}")))
            .bearer_auth(&owner.access_token)
            .send()
            .await
            .unwrap()
            .status()
    };
    // Twice each: revoking is idempotent, and the second time changes and audits nothing.
    for _ in 0..2 {
        assert_eq!(revoke_api().await, 204);
        let (to, flash) = form
            .submit(&format!("/api-keys/{form_id}/revoke"), &[])
            .await;
        assert_eq!(to, "/api-keys");
        let general = flash.filter(|f| !f.message.is_empty());
        assert!(general.is_none(), "{general:?}");
    }
    assert_eq!(
        stored_key(&app, &form_id).await,
        stored_key(&app, &api_id).await
    );
    assert_eq!(stored_key(&app, &api_id).await["retired"], true);
    let api_audit = audited(
        &app,
        &api_id,
        &[
            (&api_id, "<key>"),
            (api_key["prefix"].as_str().unwrap(), "<prefix>"),
        ],
    )
    .await;
    let form_audit = audited(
        &app,
        &form_id,
        &[
            (&form_id, "<key>"),
            (form_key["prefix"].as_str().unwrap(), "<prefix>"),
        ],
    )
    .await;
    let actions: Vec<&str> = api_audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["api_key.created", "api_key.revoked"]);
    assert_eq!(form_audit, api_audit);
    for key in [&api_key, &form_key] {
        let status = app
            .get("/v1/messages", key["key"].as_str().unwrap())
            .await
            .status();
        assert_eq!(status, 401, "a revoked key still works");
    }
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_there_gets_the_same_sentence_through_both_doors() {
    let app = TestApp::spawn_with(no_worker()).await;
    let (owner, form) = both_doors(&app).await;
    let other = app.signup().await;
    let theirs = api_created(&app, &other, json!({"name": "theirs"})).await;
    let theirs_id = theirs["id"].as_str().unwrap();
    let unknown = format!("key_{}", "01JD2X4N9X4S0M6ZQ4C3W5Y8RT");
    for id in [theirs_id, unknown.as_str(), "nonsense"] {
        for action in ["revoke", "rotate"] {
            let res = if action == "revoke" {
                app.http
                    .delete(app.url(&format!("/v1/api-keys/{id}")))
                    .bearer_auth(&owner.access_token)
                    .send()
                    .await
                    .unwrap()
            } else {
                app.post(
                    &format!("/v1/api-keys/{id}/rotate"),
                    &owner.access_token,
                    &json!({}),
                )
                .await
            };
            assert_eq!(res.status(), 404, "{action} {id}");
            let api: Value = res.json().await.unwrap();
            let (to, flash) = form.submit(&format!("/api-keys/{id}/{action}"), &[]).await;
            assert_eq!(to, "/api-keys");
            let flash = flash.unwrap_or_else(|| panic!("{action} {id}: no flash"));
            assert_eq!(flash.field, None);
            assert_eq!(
                flash.message, api["error"]["message"],
                "{action} {id}: the form and the API disagree"
            );
        }
    }
    // The other tenant's key was touched by neither door.
    assert_eq!(
        app.get("/v1/messages", theirs["key"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(stored_key(&app, theirs_id).await["revoked"], false);
    app.cleanup().await;
}
