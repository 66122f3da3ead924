//! Webhooks: endpoints through the API, and `message.status` events delivered to them and to
//! messages' own `callback_url`, signed, retried, replayed, and refused for private addresses.

use std::time::Duration;

use openclaw_e2e::app::{Api, Options, Owner, TestApp};
use openclaw_e2e::receiver::{Mode, Receiver};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// An app whose webhooks may go to this machine over plain http, as local tests need.
async fn local_app(extra: Vec<(&'static str, String)>) -> TestApp {
    let mut extra_env = vec![
        ("OPENCLAW_ALLOW_HTTP_WEBHOOKS", "1".to_owned()),
        ("OPENCLAW_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()),
    ];
    extra_env.extend(extra);
    TestApp::spawn_with(Options {
        extra_env,
        ..Options::default()
    })
    .await
}

async fn create(api: &Api, token: &str, url: &str, events: &[&str]) -> (u16, Value) {
    let res = api
        .post(
            "/v1/webhooks",
            token,
            &json!({"url": url, "events": events}),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn send(api: &Api, key: &str, body: Value) -> String {
    let (status, sent) = json_of(api.post("/v1/messages", key, &body).await).await;
    assert_eq!(status, 202, "{sent}");
    sent["id"].as_str().unwrap().to_owned()
}

/// A live key of a tenant with a sandbox provider priced for every country.
async fn sandbox_key(api: &Api, owner: &Owner) -> String {
    api.provider(owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    api.api_key(owner, "live").await
}

async fn deliveries(api: &Api, owner: &Owner, webhook: &str) -> Vec<Value> {
    let (status, page) = json_of(
        api.get(
            &format!("/v1/webhooks/{webhook}/deliveries"),
            &owner.access_token,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn endpoints_are_checked_listed_by_role_and_never_show_their_secret() {
    let app = TestApp::spawn().await;
    let owner = app.api.signup().await;
    let token = &owner.access_token;
    for (url, events, field) in [
        ("http://hooks.example.com/x", vec!["message.status"], "url"),
        ("https://10.0.0.8/x", vec!["message.status"], "url"),
        (
            "https://169.254.169.254/latest",
            vec!["message.status"],
            "url",
        ),
        ("not a url", vec!["message.status"], "url"),
        ("https://hooks.example.com/x", vec![], "events"),
    ] {
        let (status, body) = create(&app.api, token, url, &events).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["error"]["field"], field, "{url}: {body}");
    }
    // An event that is not one is refused by the schema, naming the field.
    let (status, body) = create(
        &app.api,
        token,
        "https://hooks.example.com/x",
        &["message.sent"],
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let (_, viewer) = app.api.member(&owner, "viewer").await;
    let (_, developer) = app.api.member(&owner, "developer").await;
    let (status, _) = create(
        &app.api,
        &viewer,
        "https://hooks.example.com/v",
        &["message.status"],
    )
    .await;
    assert_eq!(status, 403);
    let (status, made) = create(
        &app.api,
        &developer,
        "https://hooks.example.com/d",
        &["message.status", "budget.alert", "message.status"],
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(made["events"], json!(["budget.alert", "message.status"]));
    let id = made["id"].as_str().unwrap();

    // Viewers read; nobody reads the secret again.
    let (status, listed) = json_of(app.api.get("/v1/webhooks", &viewer).await).await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let (status, one) = json_of(app.api.get(&format!("/v1/webhooks/{id}"), &viewer).await).await;
    assert_eq!(status, 200);
    for shown in [&listed, &one] {
        let text = shown.to_string();
        assert!(!text.contains("secret\":\"whsec"), "{text}");
        assert!(!text.contains(made["secret"].as_str().unwrap()), "{text}");
    }
    let (status, _) = json_of(
        app.api
            .post(
                &format!("/v1/webhooks/{id}/rotate-secret"),
                &viewer,
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 403);

    // Another tenant sees nothing of it.
    let other = app.api.signup().await;
    let (status, _) = json_of(
        app.api
            .get(&format!("/v1/webhooks/{id}"), &other.access_token)
            .await,
    )
    .await;
    assert_eq!(status, 404);

    let res = app
        .api
        .http
        .delete(app.api.url(&format!("/v1/webhooks/{id}")))
        .bearer_auth(&developer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, _) = json_of(app.api.get(&format!("/v1/webhooks/{id}"), token).await).await;
    assert_eq!(status, 404);
    app.cleanup().await;
}

/// Many creations at once still leave at most `MAX_ENDPOINTS`: each counts under the tenant's
/// lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_created_all_at_once_stop_at_the_limit() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let owner = app.api.signup().await;
    let limit = openclaw_core::webhooks::MAX_ENDPOINTS;
    let statuses: Vec<u16> = futures::future::join_all((0..limit + 8).map(|i| {
        let (api, token) = (&app.api, owner.access_token.clone());
        async move {
            let url = format!("https://hooks.example.com/{i}");
            create(api, &token, &url, &["message.status"]).await.0
        }
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        limit,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 8);
    let listed = app.api.get("/v1/webhooks", &owner.access_token).await;
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), limit);
    app.cleanup().await;
}

#[tokio::test]
async fn status_events_reach_endpoints_and_callback_urls_signed_once_each() {
    let app = local_app(vec![]).await;
    let rx = Receiver::spawn().await;
    let owner = app.api.signup().await;
    let token = &owner.access_token;
    let (status, hook) = create(&app.api, token, &rx.url("/events"), &["message.status"]).await;
    assert_eq!(status, 201, "{hook}");
    let (status, cb) = json_of(
        app.api
            .post("/v1/webhooks/callback-secret", token, &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{cb}");
    rx.set_secrets(&[
        hook["secret"].as_str().unwrap(),
        cb["secret"].as_str().unwrap(),
    ]);

    let key = sandbox_key(&app.api, &owner).await;
    let id = send(
        &app.api,
        &key,
        json!({"to": "+14155552671", "body": "hello", "client_ref": "order-7",
               "callback_url": rx.url("/callback")}),
    )
    .await;
    let got = rx
        .wait_until("sent and delivered on both paths", WAIT, |got| {
            ["/events", "/callback"].iter().all(|p| {
                ["sent", "delivered"].iter().all(|s| {
                    got.iter()
                        .any(|r| r.path == *p && r.event["data"]["status"] == *s)
                })
            })
        })
        .await;
    for r in &got {
        assert_eq!(r.kind(), "message.status");
        assert_eq!(r.event["data"]["message_id"], id.as_str());
        assert_eq!(r.event["data"]["client_ref"], "order-7");
        assert!(r.event_id().starts_with("evt_"), "{:?}", r.event);
        assert!(
            r.verified(),
            "not signed with a secret the receiver knows: {r:?}"
        );
        // Each path is signed with its own secret.
        let want = if r.path == "/events" { 0 } else { 1 };
        assert_eq!(r.matched, vec![want], "{r:?}");
    }
    let delivered = got
        .iter()
        .find(|r| r.event["data"]["status"] == "delivered")
        .unwrap();
    assert_eq!(delivered.event["data"]["previous_status"], "sent");
    // One event per status change, the same event to both paths, each once.
    let mut ids: Vec<(&str, &str)> = got
        .iter()
        .map(|r| (r.path.as_str(), r.event_id()))
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "an event reached a path twice");
    assert_eq!(n, 4, "{got:#?}");

    // The endpoint's deliveries say how they went.
    let hook_id = hook["id"].as_str().unwrap();
    let listed = deliveries(&app.api, &owner, hook_id).await;
    assert_eq!(listed.len(), 2, "{listed:#?}");
    for d in &listed {
        assert_eq!(d["status"], "succeeded", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["last_response_code"], 200);
        assert_eq!(d["event_type"], "message.status");
        assert_eq!(d["attempt_log"].as_array().unwrap().len(), 1);
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_backoff_and_a_replay_sends_the_event_again() {
    let app = local_app(vec![("OPENCLAW_WEBHOOK_RETRY_DELAYS_MS", "300,600".into())]).await;
    let rx = Receiver::spawn().await;
    let owner = app.api.signup().await;
    let (_, hook) = create(
        &app.api,
        &owner.access_token,
        &rx.url("/events"),
        &["message.status"],
    )
    .await;
    rx.set_secrets(&[hook["secret"].as_str().unwrap()]);
    rx.set_mode(Mode::Fail { status: 503, n: 3 });
    let key = sandbox_key(&app.api, &owner).await;
    send(
        &app.api,
        &key,
        json!({"to": "+14155552671", "body": "retry me"}),
    )
    .await;

    let got = rx
        .wait_until("both events answered 200", WAIT, |got| {
            got.iter().filter(|r| r.answered == 200).count() >= 2
        })
        .await;
    assert_eq!(got.iter().filter(|r| r.answered == 503).count(), 3);
    let hook_id = hook["id"].as_str().unwrap();
    let listed = deliveries(&app.api, &owner, hook_id).await;
    let attempts: i64 = listed.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 5, "{listed:#?}");
    let retried = listed
        .iter()
        .find(|d| d["attempts"].as_i64().unwrap() > 1)
        .expect("a delivery that was retried");
    assert_eq!(retried["status"], "succeeded");
    let log = retried["attempt_log"].as_array().unwrap();
    assert_eq!(log[0]["status"], 503);
    assert!(log[0]["error"].as_str().unwrap().contains("503"), "{log:?}");
    assert_eq!(log.last().unwrap()["status"], 200);
    // The backoff: a retry waits at least 80% of its step (300 ms, then 600 ms).
    let times: Vec<chrono::DateTime<chrono::Utc>> = log
        .iter()
        .map(|a| serde_json::from_value(a["at"].clone()).unwrap())
        .collect();
    for pair in times.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(gap >= 240, "retried after {gap} ms: {log:?}");
    }

    // Replayed: the same event, with the same id, once more.
    let event = got
        .iter()
        .find(|r| r.answered == 200)
        .unwrap()
        .event_id()
        .to_owned();
    let delivery = listed
        .iter()
        .find(|d| d["event_id"] == event.as_str())
        .unwrap();
    let (status, replayed) = json_of(
        app.api
            .post(
                &format!(
                    "/v1/webhooks/{hook_id}/deliveries/{}/replay",
                    delivery["id"].as_str().unwrap()
                ),
                &owner.access_token,
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 202, "{replayed}");
    assert_eq!(replayed["status"], "pending");
    rx.wait_until("the replayed event", WAIT, |got| {
        got.iter()
            .filter(|r| r.event_id() == event && r.answered == 200)
            .count()
            == 2
    })
    .await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_refused_when_posting() {
    // Plain http is allowed here, private addresses are not.
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("OPENCLAW_ALLOW_HTTP_WEBHOOKS", "1".to_owned())],
        ..Options::default()
    })
    .await;
    let rx = Receiver::spawn().await;
    let owner = app.api.signup().await;
    // `localhost` is a name, so it passes when saved; it resolves to loopback when posting.
    let url = rx.url("/events").replace("127.0.0.1", "localhost");
    let (status, hook) = create(&app.api, &owner.access_token, &url, &["message.status"]).await;
    assert_eq!(status, 201, "{hook}");
    let key = sandbox_key(&app.api, &owner).await;
    app.api.send_delivered(&key).await;
    let hook_id = hook["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let refused = loop {
        let listed = deliveries(&app.api, &owner, hook_id).await;
        if let Some(d) = listed.iter().find(|d| d["attempts"].as_i64() >= Some(1)) {
            break d.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempt: {listed:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let why = refused["last_error"].as_str().unwrap();
    assert!(why.contains("not public"), "{why}");
    assert!(refused["last_response_code"].is_null());
    assert!(rx.received().is_empty(), "the receiver was called");
    app.cleanup().await;
}

#[tokio::test]
async fn a_rotated_secret_signs_alongside_the_old_one() {
    let app = local_app(vec![]).await;
    let rx = Receiver::spawn().await;
    let owner = app.api.signup().await;
    let (_, hook) = create(
        &app.api,
        &owner.access_token,
        &rx.url("/events"),
        &["message.status"],
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap();
    let (status, rotated) = json_of(
        app.api
            .post(
                &format!("/v1/webhooks/{hook_id}/rotate-secret"),
                &owner.access_token,
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["secret"], hook["secret"]);
    assert!(
        rotated["previous_secret_expires_at"].is_string(),
        "{rotated}"
    );
    rx.set_secrets(&[
        hook["secret"].as_str().unwrap(),
        rotated["secret"].as_str().unwrap(),
    ]);
    let key = sandbox_key(&app.api, &owner).await;
    app.api.send_delivered(&key).await;
    let got = rx
        .wait_until("two events", WAIT, |got| got.len() >= 2)
        .await;
    for r in got {
        assert_eq!(r.matched, vec![0, 1], "both secrets sign: {r:?}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn an_endpoint_failing_past_the_window_is_given_up_disabled_and_its_owners_mailed() {
    let smtp = openclaw_e2e::smtp::SmtpSink::start().await;
    let app = local_app(vec![
        ("OPENCLAW_WEBHOOK_RETRY_DELAYS_MS", "300".into()),
        ("OPENCLAW_WEBHOOK_GIVE_UP_SECS", "2".into()),
        ("OPENCLAW_SMTP_URL", smtp.url()),
    ])
    .await;
    let rx = Receiver::spawn().await;
    rx.set_mode(Mode::Fail {
        status: 500,
        n: usize::MAX,
    });
    let owner = app.api.signup().await;
    let (_, hook) = create(
        &app.api,
        &owner.access_token,
        &rx.url("/down"),
        &["message.status"],
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap();
    let key = sandbox_key(&app.api, &owner).await;
    app.api.send_delivered(&key).await;
    // Retried every 300 ms until the 2 s window closes, then failed for good.
    let deadline = tokio::time::Instant::now() + WAIT;
    let listed = loop {
        let listed = deliveries(&app.api, &owner, hook_id).await;
        if listed.len() == 2 && listed.iter().all(|d| d["status"] == "failed") {
            break listed;
        }
        assert!(tokio::time::Instant::now() < deadline, "{listed:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for d in &listed {
        let n = d["attempts"].as_i64().unwrap();
        assert!(
            (3..=9).contains(&n),
            "{n} attempts in a 2 s window of 300 ms steps: {d}"
        );
        assert!(d["next_attempt_at"].is_null(), "{d}");
    }
    // A failure once it has failed for the whole window (since its first failure) disables
    // it; more messages bring more failures until then.
    let deadline = tokio::time::Instant::now() + WAIT;
    let shown = loop {
        let (_, shown) = json_of(
            app.api
                .get(&format!("/v1/webhooks/{hook_id}"), &owner.access_token)
                .await,
        )
        .await;
        if shown["enabled"] == false {
            break shown;
        }
        assert!(shown["failing_since"].is_string(), "{shown}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never disabled: {shown}"
        );
        app.api.send_delivered(&key).await;
    };
    assert!(
        shown["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("2 seconds"),
        "{shown}"
    );
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].to, vec![owner.email.clone()]);
    assert!(
        mails[0].data.contains(&rx.url("/down")),
        "{}",
        mails[0].data
    );
    assert!(
        mails[0].data.contains("500"),
        "the last error is in the mail: {}",
        mails[0].data
    );
    // A disabled endpoint gets no new events.
    let before = rx.received().len();
    app.api.send_delivered(&key).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rx.received().len();
    assert!(
        after - before <= 2,
        "events kept coming: {before} → {after}"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_budget_alert_is_posted_to_endpoints_listening_for_it_in_the_shape_the_api_lists() {
    let app = local_app(vec![]).await;
    let rx = Receiver::spawn().await;
    let owner = app.api.signup().await;
    let token = &owner.access_token;
    let (_, alerts_hook) = create(&app.api, token, &rx.url("/alerts"), &["budget.alert"]).await;
    let (_, status_hook) = create(&app.api, token, &rx.url("/status"), &["message.status"]).await;
    rx.set_secrets(&[
        alerts_hook["secret"].as_str().unwrap(),
        status_hook["secret"].as_str().unwrap(),
    ]);
    let key = sandbox_key(&app.api, &owner).await;
    let (status, budget) = app
        .api
        .put_json(
            "/v1/budget",
            token,
            &json!({"monthly_limit": {"amount": "0.01", "currency": "USD"},
                    "alert_thresholds": [40], "hard_cap": false}),
        )
        .await;
    assert_eq!(status, 200, "{budget}");
    app.api.send_delivered(&key).await;
    let got = rx
        .wait_until("the budget alert", WAIT, |got| {
            got.iter().any(|r| r.kind() == "budget.alert")
        })
        .await;
    let posted: Vec<_> = got.iter().filter(|r| r.kind() == "budget.alert").collect();
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].path, "/alerts",
        "only the endpoint listening for it"
    );
    assert_eq!(posted[0].matched, vec![0]);
    assert!(
        got.iter()
            .all(|r| r.path == "/alerts" || r.kind() == "message.status")
    );
    let (status, listed) = json_of(app.api.get("/v1/alerts", token).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        posted[0].event["data"], listed["data"][0],
        "the API's own shape"
    );
    assert_eq!(posted[0].event["data"]["threshold"], 40);
    app.cleanup().await;
}
