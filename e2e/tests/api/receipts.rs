//! Receipts are applied in groups (core::receipts): many in one statement, a message's second
//! receipt in the next one, so each applies in the order it came and none is lost.

use openclaw_core::db::messages::{ReceiptApplied, ReceiptUpdate, Status};
use openclaw_core::receipts::Receipts;
use openclaw_e2e::app::{Options, TestApp};
use openclaw_e2e::services::query_i64;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_applied_together_keep_their_order_per_message() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let provider = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    let key = app.api_key(&owner, "live").await;
    let tenant = openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid();
    let provider = openclaw_core::domain::ProviderId::parse(&provider)
        .unwrap()
        .uuid();
    let mut ids = Vec::new();
    for i in 0..50 {
        let res = app
            .post(
                "/v1/messages",
                &key,
                &json!({"to": "+14155552671", "body": format!("r{i}")}),
            )
            .await;
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        ids.push(openclaw_core::domain::MessageId::parse(&id).unwrap().uuid());
    }
    // As if a worker had them in hand.
    {
        use diesel_async::{AsyncConnection, RunQueryDsl};
        let mut conn = diesel_async::AsyncPgConnection::establish(&app.db.url)
            .await
            .unwrap();
        diesel::sql_query("UPDATE messages SET status = 'sending'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let pool = openclaw_core::db::pool(&app.db.url, 2).unwrap();
    let (receipts, _task) = Receipts::start(pool);
    let receipt = |id, status| ReceiptUpdate {
        tenant_id: tenant,
        message_id: id,
        status,
        provider_code: None,
        error: None,
        from: Some((provider, format!("SM{id}"))),
    };
    // For every message `sent` then `delivered`, all waiting at once: each pair is queued in
    // order (`join!` polls its first future first), so many pairs share a statement.
    let all: Vec<ReceiptApplied> = futures::future::join_all(ids.iter().map(|id| {
        let (sent, delivered) = (receipt(*id, Status::Sent), receipt(*id, Status::Delivered));
        let r = &receipts;
        async move {
            let (a, b) = tokio::join!(r.apply(sent), r.apply(delivered));
            [a.unwrap(), b.unwrap()]
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    assert!(
        all.iter().all(|a| matches!(a, ReceiptApplied::Changed)),
        "every receipt moved its message on"
    );
    assert_eq!(
        query_i64(
            &app.db.url,
            "SELECT count(*) FROM messages WHERE status = 'delivered'
               AND events -> -1 ->> 'status' = 'delivered'
               AND events -> -2 ->> 'status' = 'sent'
               AND provider_message_id = 'SM' || id::text"
        )
        .await,
        50
    );
    // A late `sent` changes nothing; an unknown message is acknowledged and changes nothing.
    let late = receipts.apply(receipt(ids[0], Status::Sent)).await.unwrap();
    assert!(matches!(late, ReceiptApplied::Unchanged));
    let stranger = receipts
        .apply(receipt(uuid::Uuid::now_v7(), Status::Delivered))
        .await
        .unwrap();
    assert!(matches!(stranger, ReceiptApplied::Unchanged));
    app.cleanup().await;
}
