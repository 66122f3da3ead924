//! Changes are announced with the transaction that makes them (Postgres NOTIFY) and heard by
//! every listener; a rolled-back change is never heard. A listener that lost its connection
//! forgets everything its process cached when it is back. (Changes reaching other processes:
//! `tests/e2e/changes.rs`, with the built binaries.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use openclaw_core::changes::{self, Change};
use openclaw_core::domain::ProviderId;
use openclaw_e2e::app::{Options, Owner, TestApp};
use openclaw_e2e::services::query_i64;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_changes_are_heard_and_rolled_back_ones_are_not() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let heard: Arc<Mutex<Vec<Change>>> = Arc::default();
    let stop = CancellationToken::new();
    let listener = tokio::spawn({
        let (heard, stop, url) = (heard.clone(), stop.clone(), app.db.url.clone());
        async move {
            changes::listen(url, move |c| heard.lock().unwrap().push(c), stop).await;
        }
    });
    let wait_for = |n: usize| {
        let heard = heard.clone();
        async move {
            for _ in 0..100 {
                if heard.lock().unwrap().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // On (re)connecting the listener forgets everything first.
    wait_for(1).await;
    assert_eq!(heard.lock().unwrap().as_slice(), [Change::All]);

    let tenant = uuid::Uuid::now_v7();
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    let rolled_back: Result<(), diesel::result::Error> = conn
        .transaction(async |c| {
            changes::announce(c, Change::ApiKeys).await?;
            Err(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(rolled_back.is_err());
    conn.transaction(async |c| changes::announce(c, Change::Routes { tenant }).await)
        .await
        .unwrap();
    wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        heard.lock().unwrap().as_slice(),
        [Change::All, Change::Routes { tenant }]
    );
    stop.cancel();
    listener.await.unwrap();
    app.cleanup().await;
}

/// The pids of the backends listening for changes on `url`'s database.
async fn listeners(url: &str) -> Vec<i32> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'openclaw_listener' ORDER BY pid",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.pid).collect()
}

/// Waits until `n` backends listen that are not among `gone`; returns them.
async fn listening(url: &str, n: usize, gone: &[i32]) -> Vec<i32> {
    for _ in 0..200 {
        let pids: Vec<i32> = listeners(url)
            .await
            .into_iter()
            .filter(|p| !gone.contains(p))
            .collect();
        if pids.len() == n {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} listeners never connected");
}

/// Runs `sql` straight on the database: a change nobody announces.
async fn behind_their_back(url: &str, sql: &str) {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
}

/// Sends through `app` as the owner; returns the 202's body.
async fn send(app: &TestApp, owner: &Owner) -> Value {
    let res = app
        .post(
            "/v1/messages",
            &owner.access_token,
            &json!({"to": "+14155552671", "body": "which way?"}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    body
}

async fn sent_through(app: &TestApp, owner: &Owner, message: &Value) -> String {
    let id = message["id"].as_str().unwrap();
    let sent = app
        .wait_for_status(
            &owner.access_token,
            id,
            &["sent", "delivered"],
            Duration::from_secs(30),
        )
        .await;
    sent["provider_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_reconnects_forgets_every_cache_of_its_process() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let key = app.api_key(&owner, "live").await;
    let cheap = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0100")])
        .await;
    let dear = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0200")])
        .await;
    // The server's listener and the worker's.
    let before = listening(&app.db.url, 2, &[]).await;

    // Cached: the key by the server, the tenant's route table by the server and the worker.
    assert_eq!(app.get("/v1/messages", &key).await.status(), 200);
    let accepted = send(&app, &owner).await;
    assert_eq!(accepted["estimated_cost"]["amount"], "0.010000");
    assert_eq!(sent_through(&app, &owner, &accepted).await, cheap);

    // Changed with nothing announced (what a change made while a listener is away looks like):
    // the caches do not know.
    let cheap_uuid = ProviderId::parse(&cheap).unwrap().uuid();
    behind_their_back(&app.db.url, "UPDATE api_keys SET revoked_at = now()").await;
    behind_their_back(
        &app.db.url,
        &format!("UPDATE providers SET enabled = false WHERE id = '{cheap_uuid}'"),
    )
    .await;
    assert_eq!(app.get("/v1/messages", &key).await.status(), 200);
    let accepted = send(&app, &owner).await;
    assert_eq!(accepted["estimated_cost"]["amount"], "0.010000");
    assert_eq!(sent_through(&app, &owner, &accepted).await, cheap);

    // The listening connections are cut; each listener reconnects and forgets everything.
    let cut = query_i64(
        &app.db.url,
        "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'openclaw_listener') AS l",
    )
    .await;
    assert_eq!(cut, 2);
    listening(&app.db.url, 2, &before).await;
    let mut refused = false;
    for _ in 0..40 {
        if app.get("/v1/messages", &key).await.status() == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the server still takes the revoked key");
    let accepted = send(&app, &owner).await;
    assert_eq!(accepted["estimated_cost"]["amount"], "0.020000");
    assert_eq!(sent_through(&app, &owner, &accepted).await, dear);
    app.cleanup().await;
}
