//! Changes are announced with the transaction that makes them (Postgres NOTIFY) and heard by
//! every listener; a rolled-back change is never heard.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use openclaw_core::changes::{self, Change};
use openclaw_e2e::app::{Options, TestApp};
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
