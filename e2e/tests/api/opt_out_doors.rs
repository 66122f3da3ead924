//! Opt-outs through both doors: the API with a user token, and the admin app's forms as a
//! browser posts them. A number added, imported or removed through one door is stored,
//! audited and refused at send time exactly as through the other; a mistake gets the same
//! sentence from both; the admin app's CSV download is the API's export.

use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

use crate::provider_doors::rows;

/// The tenant's opt-outs as both doors must leave them (number and how it came).
async fn opt_outs(app: &TestApp, tenant: &str) -> Vec<Value> {
    rows(
        &app.db.url,
        &format!(
            "SELECT number, source FROM opt_outs WHERE tenant_id = '{tenant}' ORDER BY number"
        ),
    )
    .await
}

/// The opt-out audit records of one acting user, oldest first, without who acted.
async fn audit_by(app: &TestApp, tenant: &str, actor: &str) -> Vec<Value> {
    rows(
        &app.db.url,
        &format!(
            "SELECT action, regexp_replace(coalesce(target, ''), '\\d{{3}}$', 'NNN') AS target, \
             CASE WHEN details ? 'number' THEN 'number' ELSE details::text END AS details \
             FROM audit_log WHERE tenant_id = '{tenant}' AND actor_id = '{actor}' \
             AND action LIKE 'opt_out%' ORDER BY created_at, id"
        ),
    )
    .await
}

#[tokio::test]
async fn numbers_added_imported_and_removed_through_either_door_are_alike() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let token = &owner.access_token;
    let tenant = openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid()
        .to_string();
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let (_, developer) = app.member(&owner, "developer").await;
    let web = app.admin_session_of(&developer);
    let api_user = rows(
        &app.db.url,
        &format!("SELECT id::text FROM users WHERE email = '{}'", owner.email),
    )
    .await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let web_user = rows(
        &app.db.url,
        &format!("SELECT id::text FROM users WHERE tenant_id = '{tenant}' AND role = 'developer'"),
    )
    .await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same mistakes, the same sentences.
    for number in ["12345", "+49 151 abc", ""] {
        let res = app
            .post("/v1/opt-outs", token, &json!({"number": number}))
            .await;
        let status = res.status().as_u16();
        let api: Value = res.json().await.unwrap();
        web.assert_same_mistake(
            (status, &api),
            "/opt-outs",
            &[("number", number)],
            "/opt-outs",
            "number",
        )
        .await;
    }

    // One number through each door, as people type them.
    let res = app
        .post(
            "/v1/opt-outs",
            token,
            &json!({"number": "+49 151 1234 5601"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let answer = web
        .post("/opt-outs", &[("number", "+49 151 1234 5602")])
        .await;
    assert_eq!(answer.location, "/opt-outs", "{answer:?}");
    let (field, note) = answer.note().unwrap();
    assert_eq!(field.as_deref(), Some("added"));
    assert_eq!(note, "+4915112345602 is opted out.");
    let again = web.post("/opt-outs", &[("number", "+4915112345602")]).await;
    assert_eq!(
        again.note().unwrap().1,
        "+4915112345602 had opted out already."
    );
    let page = web.page("/opt-outs", Some(&answer)).await;
    for shown in ["+4915112345601", "+4915112345602", "is opted out."] {
        assert!(page.contains(shown), "{shown} is on the page");
    }

    // A list through each door: the API as text/csv, the form as an upload.
    let res = app
        .http
        .post(app.url("/v1/opt-outs"))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body("number\n+4915112345611\n+4915112345601\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let imported: Value = res.json().await.unwrap();
    assert_eq!(imported, json!({"added": 1, "unchanged": 1}));
    let answer = web
        .post_multipart(
            "/opt-outs/import",
            &[
                (
                    "file",
                    Some("list.csv"),
                    "number\n+4915112345612\n+4915112345602\n",
                ),
                ("csv", None, ""),
            ],
        )
        .await;
    let (field, note) = answer.note().unwrap();
    assert_eq!(field.as_deref(), Some("imported"));
    assert_eq!(note, "Imported: 1 added, 1 on the list already.");
    // A bad line is named the same by both doors, and nothing of the list is added.
    let bad = "+4915112345621\nnot a number\n";
    let res = app
        .http
        .post(app.url("/v1/opt-outs"))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let api: Value = res.json().await.unwrap();
    let answer = web
        .post_multipart("/opt-outs/import", &[("csv", None, bad)])
        .await;
    let flash = answer.flash.clone().unwrap();
    assert_eq!(flash.field.as_deref(), Some("csv"));
    assert_eq!(flash.message, api["error"]["message"].as_str().unwrap());
    assert!(flash.message.starts_with("Line 2"), "{}", flash.message);
    let page = web.page("/opt-outs", Some(&answer)).await;
    assert!(page.contains("not a number"), "what was pasted is kept");

    let listed = opt_outs(&app, &tenant).await;
    assert_eq!(
        listed,
        [
            json!({"number": "+4915112345601", "source": "manual"}),
            json!({"number": "+4915112345602", "source": "manual"}),
            json!({"number": "+4915112345611", "source": "import"}),
            json!({"number": "+4915112345612", "source": "import"}),
        ]
    );

    // Both doors' numbers are refused at send time.
    for to in ["+4915112345602", "+4915112345612"] {
        let res = app
            .post("/v1/messages", token, &json!({"to": to, "body": "hi"}))
            .await;
        assert_eq!(res.status(), 422, "{to}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "recipient_opted_out");
    }

    // The download is the API's export.
    let download = web.get("/opt-outs.csv").await;
    assert_eq!(download.status, 200);
    let export = app
        .http
        .get(app.url("/v1/opt-outs"))
        .bearer_auth(token)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(download.body, export);
    assert_eq!(export.lines().count(), 5, "{export}");

    // Removed through each door; removing one that is not there is said, not done.
    let res = app
        .http
        .delete(app.url("/v1/opt-outs/%2B4915112345601"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let answer = web.post("/opt-outs/4915112345602/remove", &[]).await;
    assert_eq!(answer.note().unwrap().0.as_deref(), Some("removed"));
    let gone = web.post("/opt-outs/4915112345602/remove", &[]).await;
    let flash = gone.flash.unwrap();
    assert_eq!(flash.field, None);
    assert_eq!(flash.message, "This number has not opted out.");
    let res = app
        .post(
            "/v1/messages",
            token,
            &json!({"to": "+4915112345602", "body": "back"}),
        )
        .await;
    assert_eq!(res.status(), 202, "an opted-in number gets messages again");

    // The same audit trail, door for door (the numbers differ in their last digits only).
    let (api_audit, web_audit) = (
        audit_by(&app, &tenant, &api_user).await,
        audit_by(&app, &tenant, &web_user).await,
    );
    let actions: Vec<&Value> = api_audit.iter().map(|a| &a["action"]).collect();
    assert_eq!(
        actions,
        ["opt_out.added", "opt_out.imported", "opt_out.removed"]
    );
    assert_eq!(api_audit, web_audit);

    // The page says which types the settings send to these numbers all the same.
    assert!(!web.page("/opt-outs", None).await.contains("all the same"));
    let res = app
        .http
        .patch(app.url("/v1/settings"))
        .bearer_auth(token)
        .json(&json!({"opt_out_exempt_types": ["otp"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        web.page("/opt-outs", None)
            .await
            .contains("otp messages to these numbers all the same")
    );

    // A viewer reads both pages but is offered no change, and the door refuses one.
    let (_, viewer) = app.member(&owner, "viewer").await;
    let viewer = app.admin_session_of(&viewer);
    let page = viewer.page("/opt-outs", None).await;
    assert!(page.contains("+4915112345612"));
    assert!(!page.contains("Import a list") && !page.contains(">Remove<"));
    assert!(
        viewer
            .page("/inbound", None)
            .await
            .contains("Inbound messages")
    );
    let refused = viewer
        .post("/opt-outs", &[("number", "+4915112345699")])
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(viewer.get("/opt-outs.csv").await.status, 200);
    app.cleanup().await;
}
