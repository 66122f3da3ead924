//! Webhook endpoints through both doors: the API with a user token, and the admin app's forms
//! as a browser posts them. Each change is made once through each door and what was stored
//! and audited is compared; a mistake gets the same sentence from both; a secret is shown once.

use openclaw_core::domain::WebhookId;
use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

use crate::provider_doors::rows;

/// An endpoint's row as the two doors must leave it alike (no ids, times or secrets).
async fn endpoint_row(app: &TestApp, id: &str) -> Value {
    let uuid = WebhookId::parse(id).unwrap().uuid();
    let mut found = rows(
        &app.db.url,
        &format!(
            "SELECT url, events, enabled, secret_key_id, previous_enc IS NOT NULL AS rotated \
             FROM webhook_endpoints WHERE id = '{uuid}'"
        ),
    )
    .await;
    assert_eq!(found.len(), 1, "endpoint {id}");
    found.remove(0)
}

async fn audit_of(app: &TestApp, id: &str) -> Vec<Value> {
    rows(
        &app.db.url,
        &format!(
            "SELECT action, details - 'old_secret_signs_until' AS details, actor_kind, actor \
             FROM audit_log WHERE target = '{id}' ORDER BY id"
        ),
    )
    .await
}

/// The endpoints of the tenant, newest last.
async fn endpoint_ids(app: &TestApp, token: &str) -> Vec<String> {
    let page: Value = app.get("/v1/webhooks", token).await.json().await.unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn endpoints_made_rotated_and_deleted_through_either_door_are_alike() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let token = &owner.access_token;
    let web = app
        .admin_session(&owner.email, "correct horse battery")
        .await;

    // The same mistakes, the same sentences.
    for (url, field) in [
        ("http://hooks.example.com/plain", "url"),
        ("https://192.168.1.20/inside", "url"),
        ("https://hooks.example.com/none", "events"),
    ] {
        let events: Vec<&str> = if field == "events" {
            vec![]
        } else {
            vec!["message.status"]
        };
        let res = app
            .post(
                "/v1/webhooks",
                token,
                &json!({"url": url, "events": events}),
            )
            .await;
        let status = res.status().as_u16();
        let api: Value = res.json().await.unwrap();
        let mut form = vec![("url", url)];
        form.extend(events.iter().map(|e| ("events", *e)));
        web.assert_same_mistake((status, &api), "/webhooks", &form, "/webhooks", field)
            .await;
    }

    // Made through the API…
    let res = app
        .post(
            "/v1/webhooks",
            token,
            &json!({"url": "https://hooks.example.com/a", "events": ["message.status", "budget.alert"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let by_api: Value = res.json().await.unwrap();
    let api_id = by_api["id"].as_str().unwrap().to_owned();
    // … and through the form, which shows the secret once.
    let answer = web
        .post(
            "/webhooks",
            &[
                ("url", "https://hooks.example.com/a"),
                ("events", "budget.alert"),
                ("events", "message.status"),
            ],
        )
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    let (field, secret) = answer.note().unwrap();
    assert_eq!(field.as_deref(), Some("created"));
    assert!(secret.starts_with("whsec_"), "{secret}");
    let shown = web.page("/webhooks", Some(&answer)).await;
    assert!(shown.contains(&secret), "the new secret is on the page");
    let again = web.page("/webhooks", None).await;
    assert!(!again.contains(&secret), "the secret is shown only once");
    let ids = endpoint_ids(&app, token).await;
    assert_eq!(ids.len(), 2);
    let web_id = ids.iter().find(|i| **i != api_id).unwrap().clone();
    assert_eq!(
        endpoint_row(&app, &api_id).await,
        endpoint_row(&app, &web_id).await
    );

    // Rotated through each door.
    let res = app
        .post(
            &format!("/v1/webhooks/{api_id}/rotate-secret"),
            token,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let answer = web.post(&format!("/webhooks/{web_id}/rotate"), &[]).await;
    assert_eq!(answer.location, format!("/webhooks/{web_id}"));
    let (field, rotated) = answer.note().unwrap();
    assert_eq!(field.as_deref(), Some("created"));
    assert_ne!(rotated, secret);
    let detail = web
        .page(&format!("/webhooks/{web_id}"), Some(&answer))
        .await;
    assert!(detail.contains(&rotated));
    assert_eq!(
        endpoint_row(&app, &api_id).await,
        endpoint_row(&app, &web_id).await
    );
    assert_eq!(endpoint_row(&app, &web_id).await["rotated"], true);

    // Deleted through each door.
    let res = app
        .http
        .delete(app.url(&format!("/v1/webhooks/{api_id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (to, _) = web.submit(&format!("/webhooks/{web_id}/delete"), &[]).await;
    assert_eq!(to, "/webhooks");
    assert!(endpoint_ids(&app, token).await.is_empty());

    // The same audit trail, door for door.
    let (api_audit, web_audit) = (audit_of(&app, &api_id).await, audit_of(&app, &web_id).await);
    let actions: Vec<&Value> = api_audit.iter().map(|a| &a["action"]).collect();
    assert_eq!(
        actions,
        [
            "webhook.created",
            "webhook.secret_rotated",
            "webhook.deleted"
        ]
    );
    assert_eq!(api_audit, web_audit);
    assert!(
        !format!("{api_audit:?}").contains("whsec_"),
        "no secret in the audit log"
    );

    // The callback secret through the form: shown once, then only said to exist.
    let answer = web.post("/webhooks/callback-secret", &[]).await;
    let (field, callback) = answer.note().unwrap();
    assert_eq!(field.as_deref(), Some("callback"));
    assert!(
        web.page("/webhooks", Some(&answer))
            .await
            .contains(&callback)
    );
    let later = web.page("/webhooks", None).await;
    assert!(!later.contains(&callback));
    assert!(later.contains("Replace the callback secret"), "{later}");
    app.cleanup().await;
}
