//! Input one tenant sends can never fail another tenant's sends (issue: a NUL character made
//! Postgres refuse the group commit's one INSERT, failing every request that shared it).

use openclaw_core::accept::{self, Origin, SendRequest};
use openclaw_core::db::messages::Inserted;
use openclaw_core::ingest::Ingest;
use openclaw_core::queue::Topology;
use openclaw_core::routing::RouteProvider;
use openclaw_e2e::app::{Options, TestApp};
use openclaw_e2e::services::{amqp_url, query_i64};
use serde_json::{Value, json};

async fn sandbox_tenant(app: &TestApp) -> String {
    let owner = app.signup().await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    app.api_key(&owner, "live").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_refused_per_request_and_never_fail_another_tenant() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let clean = sandbox_tenant(&app).await;
    let poison = sandbox_tenant(&app).await;

    // Every place a NUL can hide in a send, each answered 400 naming its field.
    let bad: Vec<(Value, &str)> = vec![
        (json!({"to": "+14155552671", "body": "a\u{0}b"}), "body"),
        (
            json!({"to": "+14155552671", "body": "x", "client_ref": "r\u{0}"}),
            "client_ref",
        ),
        (
            json!({"to": "+14155552671", "body": "x", "metadata": {"k": "v\u{0}"}}),
            "metadata",
        ),
        (
            json!({"to": "+14155552671", "body": "x", "metadata": {"k\u{0}": "v"}}),
            "metadata",
        ),
        (
            json!({"to": "+14155552671", "body": "x", "callback_url": "https://a.test/\u{0}"}),
            "callback_url",
        ),
    ];

    // Tenant A sends clean messages on 8 clients while tenant B sends poison flat out.
    let clean_sends = futures::future::join_all((0..8).map(|c| {
        let (app, clean) = (&app, clean.clone());
        async move {
            let mut statuses = Vec::new();
            for i in 0..40 {
                let res = app
                    .post(
                        "/v1/messages",
                        &clean,
                        &json!({"to": "+14155552671", "body": format!("clean {c}-{i}")}),
                    )
                    .await;
                statuses.push(res.status().as_u16());
            }
            statuses
        }
    }));
    let poison_sends = futures::future::join_all((0..2).map(|_| {
        let (app, poison, bad) = (&app, poison.clone(), bad.clone());
        async move {
            let mut answers = Vec::new();
            for _ in 0..10 {
                for (body, field) in &bad {
                    let res = app.post("/v1/messages", &poison, body).await;
                    let status = res.status().as_u16();
                    let body: Value = res.json().await.unwrap();
                    answers.push((status, body, *field));
                }
            }
            answers
        }
    }));
    let (clean_statuses, poison_answers) = tokio::join!(clean_sends, poison_sends);
    let clean_statuses: Vec<u16> = clean_statuses.into_iter().flatten().collect();
    assert_eq!(clean_statuses.len(), 320);
    assert!(
        clean_statuses.iter().all(|s| *s == 202),
        "every clean send is accepted: {:?}",
        clean_statuses
            .iter()
            .filter(|s| **s != 202)
            .collect::<Vec<_>>()
    );
    for (status, body, field) in poison_answers.into_iter().flatten() {
        assert_eq!(status, 400, "{body}");
        // The field, or the path inside it (`metadata.k`).
        let named = body["error"]["field"].as_str().unwrap_or_default();
        assert!(
            named == field || named.starts_with(&format!("{field}.")),
            "{body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains("NUL"),
            "{body}"
        );
    }

    // In a batch, only the poisoned entry is refused.
    let res = app
        .post(
            "/v1/messages/batch",
            &poison,
            &json!({"messages": [
                {"to": "+14155552671", "body": "fine"},
                {"to": "+14155552671", "body": "not\u{0}fine"},
                {"to": "+14155552671", "body": "fine too"},
            ]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"][0]["status"], "queued");
    assert_eq!(body["data"][1]["error"]["field"], "messages[1].body");
    assert_eq!(body["data"][2]["status"], "queued");
    assert_eq!(
        query_i64(&app.db.url, "SELECT count(*) FROM messages").await,
        322
    );
    app.cleanup().await;
}

/// Below validation: whatever a row holds that Postgres refuses, the group commit fails that
/// row alone, and stores every other row that shared the statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_commit_fails_a_refused_row_alone() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let tenant = openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid();
    let pool = openclaw_core::db::pool(&app.db.url, 4).unwrap();
    let topology = Topology::new(
        &app.queues.prefix,
        vec![std::time::Duration::from_millis(200)],
        std::time::Duration::from_secs(5),
    );
    app.queues.track(&topology);
    let (ingest, tasks) = Ingest::start(pool, amqp_url(), topology);
    let routes = vec![RouteProvider {
        id: uuid::Uuid::now_v7(),
        name: "sandbox".into(),
        enabled: true,
        is_sandbox: true,
        prices: vec![openclaw_core::routing::Price {
            country: "*".into(),
            message_type: "*".into(),
            price_micros: 5_000,
            currency: "USD".into(),
            fx: None,
        }],
        platform: None,
    }];
    let row = |body: &str| {
        let req: SendRequest =
            serde_json::from_value(json!({"to": "+14155552671", "body": "placeholder"})).unwrap();
        let mut row = accept::prepare(
            req,
            Origin {
                tenant_id: tenant,
                api_key_id: None,
                test_mode: false,
                hard_cap: false,
                callback_urls: Default::default(),
            },
            &routes,
            &Default::default(),
            accept::now(),
        )
        .unwrap();
        // What validation would have stopped, put straight into the row.
        row.body = body.to_owned();
        row
    };
    // Requests arriving together share a commit; one of them carries a refused row, and one
    // is a batch with a refused row in the middle.
    let mut batch: Vec<_> = (0..9).map(|i| row(&format!("batch {i}"))).collect();
    batch[4].body = "bad\u{0}".into();
    let singles = futures::future::join_all((0..30).map(|i| {
        let ingest = ingest.clone();
        let row = row(if i == 7 { "bad\u{0}" } else { "good" });
        async move { ingest.submit(vec![row]).await.unwrap().pop().unwrap() }
    }));
    let (singles, batch) = tokio::join!(singles, ingest.submit(batch));
    for (i, outcome) in singles.iter().enumerate() {
        match (i, outcome) {
            (7, Inserted::Refused { .. }) => {}
            (7, other) => panic!("the bad single row was {other:?}"),
            (_, Inserted::Created) => {}
            (_, other) => panic!("good row {i} was {other:?}"),
        }
    }
    let batch = batch.unwrap();
    assert_eq!(batch.len(), 9);
    for (i, outcome) in batch.iter().enumerate() {
        assert_eq!(
            matches!(outcome, Inserted::Refused { .. }),
            i == 4,
            "batch row {i}: {outcome:?}"
        );
    }
    assert_eq!(
        query_i64(&app.db.url, "SELECT count(*) FROM messages").await,
        29 + 8
    );
    drop(ingest);
    tasks.join().await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_an_idempotency_key_is_stored_once_and_replayed() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let key = sandbox_tenant(&app).await;
    let batch = |bodies: &[&str]| {
        json!({"messages": bodies.iter().map(|b| json!({"to": "+14155552671", "body": b}))
            .chain([json!({"to": "nope", "body": "x"})]).collect::<Vec<_>>()})
    };
    let send = |idem: &'static str, body: Value| {
        let (app, key) = (&app, key.clone());
        async move {
            let res = app
                .http
                .post(app.url("/v1/messages/batch"))
                .bearer_auth(key)
                .header("Idempotency-Key", idem)
                .json(&body)
                .send()
                .await
                .unwrap();
            let replayed = res.headers().contains_key("Idempotent-Replayed");
            (
                res.status().as_u16(),
                replayed,
                res.json::<Value>().await.unwrap(),
            )
        }
    };
    let (s1, r1, first) = send("nightly-1", batch(&["a", "b"])).await;
    assert_eq!((s1, r1), (202, false));
    assert_eq!(first["data"][2]["error"]["code"], "invalid_phone_number");
    // A retry after a dropped connection: the same answer, nothing sent again.
    let (s2, r2, second) = send("nightly-1", batch(&["a", "b"])).await;
    assert_eq!((s2, r2), (202, true));
    assert_eq!(first, second);
    assert_eq!(
        query_i64(&app.db.url, "SELECT count(*) FROM messages").await,
        2
    );
    // Another batch under the same key is refused.
    let (s3, _, conflict) = send("nightly-1", batch(&["a", "c"])).await;
    assert_eq!(s3, 409);
    assert_eq!(conflict["error"]["code"], "idempotency_conflict");

    // Concurrent copies of one batch store it once, and all get the same answer.
    let answers =
        futures::future::join_all((0..10).map(|_| send("nightly-2", batch(&["d", "e", "f"]))))
            .await;
    assert!(
        answers
            .iter()
            .all(|(s, _, body)| *s == 202 && body == &answers[0].2)
    );
    assert_eq!(
        answers.iter().filter(|(_, replayed, _)| !replayed).count(),
        1
    );
    assert_eq!(
        query_i64(&app.db.url, "SELECT count(*) FROM messages").await,
        5
    );

    // A key a single send used is not a batch's.
    let res = app
        .http
        .post(app.url("/v1/messages"))
        .bearer_auth(&key)
        .header("Idempotency-Key", "single-1")
        .json(&json!({"to": "+14155552671", "body": "one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let (s4, _, conflict) = send("single-1", batch(&["g"])).await;
    assert_eq!(s4, 409, "{conflict}");
    app.cleanup().await;
}
