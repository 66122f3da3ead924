//! One `grep` of the logs follows a message: the request id sent as `X-Request-Id` is echoed,
//! logged by the server with the message id when the message is accepted, carried in the
//! queue envelope, and logged by the worker with the message and provider ids when it is sent.

use openclaw_e2e::procs::{Relay, Simulator};
use serde_json::{Value, json};

use crate::support::*;

/// Sends one message with `X-Request-Id: request_id`; returns the message id.
async fn send_traced(relay: &Relay, key: &str, request_id: &str, to: &str) -> String {
    let res = relay
        .http
        .post(relay.url("/v1/messages"))
        .bearer_auth(key)
        .header("X-Request-Id", request_id)
        .json(&json!({"to": to, "body": "follow me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(
        res.headers()["x-request-id"].to_str().unwrap(),
        request_id,
        "the request id is echoed"
    );
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The log's lines that mention every one of `words`.
fn lines_with<'a>(log: &'a str, words: &[&str]) -> Vec<&'a str> {
    log.lines()
        .filter(|line| words.iter().all(|w| line.contains(w)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_grep_follows_a_message_from_the_api_through_the_worker() {
    let sim = Simulator::start();
    let relay = Relay::start_logged(&[("RUST_LOG", "info,openclaw_server=debug")]).await;
    let owner = relay.signup().await;
    let (_twilio, vonage) = two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    // Twilio fails for now, so Vonage sends: the worker's line names the provider that took it.
    behave(&sim, TWILIO_SID, json!({"mode": "error_5xx"})).await;
    behave(&sim, VONAGE_KEY, json!({"mode": "accept"})).await;

    // Two requests at once most likely share a group commit and an envelope: each message
    // keeps its own request's id.
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (first, second) = (format!("trace-a-{suffix}"), format!("trace-b-{suffix}"));
    let (a, b) = tokio::join!(
        send_traced(&relay, &key, &first, "+4915112345678"),
        send_traced(&relay, &key, &second, "+4915112345679"),
    );
    for id in [&a, &b] {
        relay
            .wait_for_status(&key, id, &["sent", "delivered"], LONG)
            .await;
    }

    let (server, worker) = (relay.server_log(), relay.worker_log());
    for (request_id, message_id) in [(&first, &a), (&second, &b)] {
        let accepted = lines_with(&server, &[request_id, message_id, "message accepted"]);
        assert_eq!(
            accepted.len(),
            1,
            "the server logs the accept with the request and message ids:\n{server}"
        );
        assert!(accepted[0].contains("tenant_id=ten_"), "{}", accepted[0]);
        let sent = lines_with(&worker, &[request_id, message_id, &vonage, "sent"]);
        assert_eq!(
            sent.len(),
            1,
            "the worker logs the send with the request, message and provider ids:\n{worker}"
        );
        assert!(sent[0].contains("tenant_id=ten_"), "{}", sent[0]);
        // The failed Twilio call is inside the same send: the whole story is in one grep.
        assert!(
            lines_with(&worker, &[request_id]).len() == 1,
            "one outcome line per round:\n{worker}"
        );
    }
    // Neither log holds the API key.
    assert!(!server.contains(&key) && !worker.contains(&key));
    relay.cleanup().await;
}
