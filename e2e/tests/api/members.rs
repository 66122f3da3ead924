use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

fn no_worker() -> Options {
    Options {
        worker: false,
        ..Default::default()
    }
}

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let res = app
        .http
        .patch(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn delete(app: &TestApp, path: &str, token: &str) -> u16 {
    app.http
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_member_accepts_once_and_acts_with_their_role() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let email = "dev@example.test";
    let res = app
        .post(
            "/v1/members",
            &owner.access_token,
            &json!({"email": email, "role": "developer"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let invited: Value = res.json().await.unwrap();
    assert_eq!(invited["status"], "invited");
    assert_eq!(invited["role"], "developer");
    let token = invited["invite_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("oci_"));

    // Listed as invited; the token is never listed.
    let list: Value = app
        .get("/v1/members", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let listed = list["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(!list.to_string().contains(&token));
    // An invited member cannot sign in before accepting.
    let res = app
        .http
        .post(app.url("/v1/auth/login"))
        .json(&json!({"email": email, "password": "member password 42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let accept = |password: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let res = app
                .http
                .post(app.url("/v1/auth/accept-invite"))
                .json(&json!({"invite_token": token, "password": password}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = accept("password1234").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "password");
    let (status, body) = accept("member password 42").await;
    assert_eq!(status, 200, "{body}");
    let dev = body["access_token"].as_str().unwrap().to_owned();
    let (status, body) = accept("member password 42").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_invite_token");

    let me: Value = app.get("/v1/me", &dev).await.json().await.unwrap();
    assert_eq!(me["role"], "developer");
    assert_eq!(me["tenant"]["id"], owner.tenant_id);
    // A developer creates keys but may not manage members or providers.
    assert_eq!(
        app.post("/v1/api-keys", &dev, &json!({"name": "ci"}))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.post(
            "/v1/members",
            &dev,
            &json!({"email": "x@example.test", "role": "viewer"})
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.post(
            "/v1/providers",
            &dev,
            &json!({"name": "s", "kind": "sandbox", "credentials": {}})
        )
        .await
        .status(),
        403
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_owner_stays_and_only_owners_touch_owners() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let me: Value = app
        .get("/v1/me", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let owner_id = me["user"]["id"].as_str().unwrap().to_owned();
    let (admin_id, admin) = app.member(&owner, "admin").await;

    // The only owner can be neither demoted nor removed, by anyone.
    let (status, body) = patch(
        &app,
        &format!("/v1/members/{owner_id}"),
        &owner.access_token,
        json!({"role": "admin"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "last_owner");
    assert_eq!(
        delete(
            &app,
            &format!("/v1/members/{owner_id}"),
            &owner.access_token
        )
        .await,
        409
    );
    // An admin may not make owners or touch the owner.
    let (status, _) = patch(
        &app,
        &format!("/v1/members/{admin_id}"),
        &admin,
        json!({"role": "owner"}),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        delete(&app, &format!("/v1/members/{owner_id}"), &admin).await,
        403
    );
    let res = app
        .post(
            "/v1/members",
            &admin,
            &json!({"email": "o2@example.test", "role": "owner"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    // Platform roles are never given to members.
    let res = app
        .post(
            "/v1/members",
            &owner.access_token,
            &json!({"email": "s@example.test", "role": "platform_admin"}),
        )
        .await;
    assert_eq!(res.status(), 400);

    // With a second owner the first may step down; the promoted member's old token is dead.
    let (status, body) = patch(
        &app,
        &format!("/v1/members/{admin_id}"),
        &owner.access_token,
        json!({"role": "owner"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "owner");
    assert_eq!(app.get("/v1/me", &admin).await.status(), 401);
    let (status, _) = patch(
        &app,
        &format!("/v1/members/{owner_id}"),
        &owner.access_token,
        json!({"role": "viewer"}),
    )
    .await;
    assert_eq!(status, 200);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_is_out_at_once_and_other_tenants_members_are_not_found() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let other = app.signup().await;
    let (viewer_id, viewer) = app.member(&owner, "viewer").await;
    assert_eq!(app.get("/v1/messages", &viewer).await.status(), 200);
    assert_eq!(
        app.post("/v1/api-keys", &viewer, &json!({"name": "x"}))
            .await
            .status(),
        403
    );
    // Another tenant's owner gets 404 for this member, whatever the method.
    let path = format!("/v1/members/{viewer_id}");
    assert_eq!(
        patch(&app, &path, &other.access_token, json!({"role": "admin"}))
            .await
            .0,
        404
    );
    assert_eq!(delete(&app, &path, &other.access_token).await, 404);
    let list: Value = app
        .get("/v1/members", &other.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    assert_eq!(delete(&app, &path, &owner.access_token).await, 204);
    assert_eq!(app.get("/v1/messages", &viewer).await.status(), 401);
    assert_eq!(delete(&app, &path, &owner.access_token).await, 404);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_configured_the_invitation_is_mailed_with_its_link() {
    let smtp = openclaw_e2e::smtp::SmtpSink::start().await;
    let app = TestApp::spawn_with(Options {
        worker: false,
        extra_env: vec![
            ("OPENCLAW_SMTP_URL", smtp.url()),
            (
                "OPENCLAW_MAIL_FROM",
                "OpenClaw <no-reply@openclaw.test>".into(),
            ),
        ],
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let res = app
        .post(
            "/v1/members",
            &owner.access_token,
            &json!({"email": "new.hire@example.test", "role": "billing"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let invited: Value = res.json().await.unwrap();
    let token = invited["invite_token"].as_str().unwrap();

    let mails = smtp.wait_for(1).await;
    let mail = &mails[0];
    assert_eq!(mail.from, "no-reply@openclaw.test");
    assert_eq!(mail.to, ["new.hire@example.test"]);
    // Undo quoted-printable soft breaks, should the body have been encoded.
    let data = mail.data.replace("=\r\n", "").replace("=3D", "=");
    assert!(data.contains("Subject: Join Acme on OpenClaw"), "{data}");
    assert!(data.contains(&owner.email), "{data}");
    assert!(data.contains("as billing"), "{data}");
    let link = format!("{}/accept-invite?token={token}", app.address);
    assert!(data.contains(&link), "{link} not in {data}");

    // The link's token works.
    let res = app
        .http
        .post(app.url("/v1/auth/accept-invite"))
        .json(&json!({"invite_token": token, "password": "a billing passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.cleanup().await;
}
