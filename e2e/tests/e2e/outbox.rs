use std::time::Duration;

use openclaw_e2e::procs::{Relay, Simulator};
use serde_json::json;

use crate::support::*;

/// The broker refuses the API's publishes (the send queue is gone, so mandatory publishes come
/// back unconfirmed); the accepted messages wait in Postgres and the worker's relay publishes
/// them once the queue is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_the_broker_never_confirmed_are_published_from_postgres() {
    let sim = Simulator::start();
    let mut relay = Relay::start(&[]).await;
    let owner = relay.signup().await;
    two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    behave(&sim, TWILIO_SID, json!({"mode": "accept"})).await;

    // Stop the worker and delete the send queue under the server's feet.
    relay.stop_worker("TERM");
    let conn = openclaw_core::queue::connect(&openclaw_e2e::services::amqp_url(), "test")
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let _ = channel
        .queue_delete(
            format!("{}.send", relay.queues.prefix).as_str().into(),
            Default::default(),
        )
        .await
        .unwrap();

    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(send(&relay, &key, "+14155552671", &format!("outbox {i}")).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let unpublished =
        openclaw_e2e::services::query_i64(&relay.db.url, "SELECT count(*) FROM message_outbox")
            .await;
    assert_eq!(
        unpublished, 20,
        "nothing was confirmed, so nothing is marked published"
    );
    let _ = conn.close(200, "done".into()).await;

    // The worker declares the queue again; its relay republishes after the grace period.
    relay.start_worker();
    for id in &ids {
        relay
            .wait_for_status(&key, id, &["sent", "delivered"], LONG)
            .await;
    }
    assert_eq!(received(&sim, TWILIO_SID).await.len(), 20);
    relay.cleanup().await;
}
