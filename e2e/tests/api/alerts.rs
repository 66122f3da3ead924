//! Budget alerts: the worker's sweep raises one alert per threshold per month as the ledger's
//! spend reaches it — however many sweeps run at once — mails each to the tenant's owners and
//! billing members through its job, and `GET /v1/alerts` lists them newest first to the roles
//! that see the budget.

use std::time::Duration;

use openclaw_e2e::app::{Options, Owner, TestApp};
use openclaw_e2e::services::query_rows;
use openclaw_e2e::smtp::SmtpSink;
use serde_json::{Value, json};

fn tenant_uuid(owner: &Owner) -> uuid::Uuid {
    openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid()
}

async fn alerts(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    let res = app.get(&format!("/v1/alerts{query}"), token).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Waits until the tenant has `n` alerts; returns them (newest first).
async fn wait_for_alerts(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    for _ in 0..150 {
        let (status, body) = alerts(app, token, "").await;
        assert_eq!(status, 200, "{body}");
        let data = body["data"].as_array().unwrap().clone();
        if data.len() >= n {
            return data;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected {n} budget alerts within 15 s");
}

/// Sends `n` live messages and waits until each is delivered (and so in the ledger).
async fn spend(app: &TestApp, key: &str, n: usize) {
    for _ in 0..n {
        app.send_delivered(key).await;
    }
}

fn thresholds(data: &[Value]) -> Vec<i64> {
    data.iter()
        .map(|a| a["threshold"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_threshold_raises_one_alert_a_month_mailed_to_owners_and_billing() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("OPENCLAW_SMTP_URL", sink.url())],
        ..Options::default()
    })
    .await;
    let owner = app.signup().await;
    let (_, billing) = app.member(&owner, "billing").await;
    let (_, developer) = app.member(&owner, "developer").await;
    let (_, viewer) = app.member(&owner, "viewer").await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.0123")])
        .await;
    let live = app.api_key(&owner, "live").await;
    let test = app.api_key(&owner, "test").await;

    // Spent before any budget: no alert.
    spend(&app, &live, 2).await;
    let (status, none) = alerts(&app, &owner.access_token, "").await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none, json!({"data": [], "next_cursor": null}));

    // 0.0246 of 0.05 is 49.2 %: the 20 % threshold is reached, 50 % is not.
    let res = app
        .http
        .put(app.url("/v1/budget"))
        .bearer_auth(&owner.access_token)
        .json(
            &json!({"monthly_limit": {"amount": "0.05", "currency": "USD"},
                      "alert_thresholds": [20, 50, 100]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let first = wait_for_alerts(&app, &owner.access_token, 1).await;
    let month = openclaw_core::domain::Period::of(chrono::Utc::now().date_naive()).to_string();
    assert_eq!(first[0]["threshold"], 20);
    assert_eq!(first[0]["period"], month);
    assert_eq!(
        first[0]["spent"],
        json!({"amount": "0.024600", "currency": "USD"})
    );
    assert_eq!(
        first[0]["monthly_limit"],
        json!({"amount": "0.050000", "currency": "USD"})
    );
    assert!(first[0]["id"].as_str().unwrap().starts_with("alr_"));

    // Test-mode sends are free: they raise nothing.
    spend(&app, &test, 3).await;
    // Two more live: 0.0492 (98.4 %) reaches 50 %; one more, 0.0615 (123 %), reaches 100 %.
    spend(&app, &live, 2).await;
    wait_for_alerts(&app, &owner.access_token, 2).await;
    spend(&app, &live, 1).await;
    let all = wait_for_alerts(&app, &owner.access_token, 3).await;
    assert_eq!(thresholds(&all), [100, 50, 20], "newest first");

    // Several more sweeps (the worker's, every 2 s, and four at once here) raise nothing more.
    let pool = openclaw_core::db::pool(&app.db.url, 4).unwrap();
    let sweeps = futures::future::join_all((0..4).map(|_| openclaw_core::alerts::sweep(&pool)));
    for raised in sweeps.await {
        assert_eq!(raised.unwrap(), 0);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, again) = alerts(&app, &owner.access_token, "").await;
    assert_eq!(again["data"].as_array().unwrap().len(), 3);

    // Pages: two, then one.
    let (_, page1) = alerts(&app, &owner.access_token, "?limit=2").await;
    assert_eq!(thresholds(page1["data"].as_array().unwrap()), [100, 50]);
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let (_, page2) = alerts(
        &app,
        &owner.access_token,
        &format!("?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(thresholds(page2["data"].as_array().unwrap()), [20]);
    assert_eq!(page2["next_cursor"], Value::Null);

    // One mail per alert, to the owner and the billing member (not the developer or viewer);
    // the other three mails are the members' invitations.
    let budget_mails = |all: Vec<openclaw_e2e::smtp::Mail>| -> Vec<openclaw_e2e::smtp::Mail> {
        all.into_iter()
            .filter(|m| m.data.contains("SMS budget spent"))
            .collect()
    };
    let mails = budget_mails(sink.wait_for(6).await);
    let emails = |role: &str| {
        let url = app.db.url.clone();
        let sql = format!(
            "SELECT email FROM users WHERE tenant_id = '{}' AND role = '{role}'",
            tenant_uuid(&owner)
        );
        async move {
            query_rows(&url, &sql).await[0]["email"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (owner_email, billing_email) = (emails("owner").await, emails("billing").await);
    let mut subjects = Vec::new();
    for mail in &mails {
        let mut to = mail.to.clone();
        to.sort();
        let mut want = vec![owner_email.clone(), billing_email.clone()];
        want.sort();
        assert_eq!(to, want, "{}", mail.data);
        assert!(mail.data.contains("/spend"), "{}", mail.data);
        let subject = mail
            .data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap()
            .to_owned();
        subjects.push(subject);
    }
    subjects.sort();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    for (subject, pct) in subjects.iter().zip(["100%", "20%", "50%"]) {
        assert!(subject.starts_with(pct), "{subject}");
    }
    assert!(mails[0].data.contains("0.024600 USD"), "{}", mails[0].data);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        budget_mails(sink.wait_for(6).await).len(),
        3,
        "each alert is mailed once"
    );
    // Every mail job is done.
    assert!(
        query_rows(&app.db.url, "SELECT id FROM jobs")
            .await
            .is_empty()
    );

    // The roles that see the budget see the alerts; the others do not; an API key is no user.
    assert_eq!(alerts(&app, &billing, "").await.0, 200);
    for token in [&developer, &viewer] {
        let (status, body) = alerts(&app, token, "").await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    assert_eq!(alerts(&app, &live, "").await.0, 401);
    let (status, body) = alerts(&app, &owner.access_token, "?cursor=nonsense").await;
    assert_eq!(status, 400, "{body}");
    // Another tenant has none of them.
    let other = app.signup().await;
    assert_eq!(
        alerts(&app, &other.access_token, "").await.1["data"],
        json!([])
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_whose_mail_fails_is_kept_and_its_job_retried_later() {
    // Nothing listens on this port: every SMTP connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = TestApp::spawn_with(Options {
        extra_env: vec![("OPENCLAW_SMTP_URL", format!("smtp://127.0.0.1:{port}"))],
        ..Options::default()
    })
    .await;
    let owner = app.signup().await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.0123")])
        .await;
    let live = app.api_key(&owner, "live").await;
    spend(&app, &live, 1).await;
    let res = app
        .http
        .put(app.url("/v1/budget"))
        .bearer_auth(&owner.access_token)
        .json(
            &json!({"monthly_limit": {"amount": "0.01", "currency": "USD"},
                      "alert_thresholds": [100]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let raised = wait_for_alerts(&app, &owner.access_token, 1).await;
    assert_eq!(raised[0]["threshold"], 100);
    // The mail job failed once: counted, its error kept, due again later (not at once).
    let mut job = Vec::new();
    for _ in 0..100 {
        job = query_rows(
            &app.db.url,
            "SELECT kind, attempts, last_error IS NOT NULL AS has_error,
                    due_at > now() + interval '5 seconds' AS later FROM jobs",
        )
        .await;
        if job.first().is_some_and(|j| j["attempts"] == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        job,
        [json!({"kind": "budget_alert_mail", "attempts": 1, "has_error": true, "later": true})]
    );
    app.cleanup().await;
}
