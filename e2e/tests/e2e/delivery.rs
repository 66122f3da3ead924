use std::time::Duration;

use openclaw_e2e::procs::{Relay, Simulator};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_to_the_next_cheapest_provider_and_takes_its_receipt() {
    let sim = Simulator::start();
    let relay = Relay::start(&[]).await;
    let owner = relay.signup().await;
    let (twilio, vonage) = two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    behave(&sim, TWILIO_SID, json!({"mode": "error_5xx"})).await;
    behave(
        &sim,
        VONAGE_KEY,
        json!({"mode": "accept", "receipt": "delivered", "receipt_delay_ms": 100}),
    )
    .await;

    let id = send(&relay, &key, "+4915112345678", "failover please").await;
    let done = relay.wait_for_status(&key, &id, &["delivered"], LONG).await;
    assert_eq!(done["provider_id"], vonage);
    let attempts = done["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{done:#}");
    assert_eq!(attempts[0]["provider_id"], twilio);
    assert_eq!(attempts[0]["outcome"], "transient");
    assert_eq!(attempts[1]["provider_id"], vonage);
    assert_eq!(attempts[1]["outcome"], "accepted");
    assert_eq!(done["cost"]["amount"], "0.006000");

    // What the simulator got is Vonage's wire format: no '+', our id as client-ref.
    let got = received(&sim, VONAGE_KEY).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["to"], "4915112345678");
    assert_eq!(got[0]["client_ref"], id);
    assert_eq!(received(&sim, TWILIO_SID).await.len(), 1);
    relay.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_status_callbacks_are_verified_and_applied() {
    let sim = Simulator::start();
    let relay = Relay::start(&[]).await;
    let owner = relay.signup().await;
    let (twilio, _vonage) = two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    behave(
        &sim,
        TWILIO_SID,
        json!({"mode": "accept", "receipt": "delivered", "receipt_delay_ms": 100}),
    )
    .await;
    let id = send(&relay, &key, "+14155552671", "hello").await;
    let done = relay.wait_for_status(&key, &id, &["delivered"], LONG).await;
    assert_eq!(done["provider_id"], twilio);
    assert_eq!(done["attempts"].as_array().unwrap().len(), 1);

    // A forged callback (no valid signature) is refused.
    let res = relay
        .http
        .post(relay.url(&format!("/hooks/providers/{twilio}/status?message_id={id}")))
        .form(&[("MessageSid", "SMforged"), ("MessageStatus", "undelivered")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let still: serde_json::Value = relay
        .get(&format!("/v1/messages/{id}"), &key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["status"], "delivered");
    relay.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusal_everywhere_fails_without_retrying() {
    let sim = Simulator::start();
    let relay = Relay::start(&[("OPENCLAW_RETRY_DELAYS_MS", "100,100")]).await;
    let owner = relay.signup().await;
    two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    behave(&sim, TWILIO_SID, json!({"mode": "refuse"})).await;
    behave(&sim, VONAGE_KEY, json!({"mode": "refuse"})).await;
    let id = send(&relay, &key, "+14155552671", "nobody wants me").await;
    let failed = relay.wait_for_status(&key, &id, &["failed"], LONG).await;
    assert_eq!(failed["error"]["code"], "provider_refused");
    assert!(failed["error"]["provider_code"].is_string(), "{failed:#}");
    let outcomes: Vec<&str> = failed["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["permanent", "permanent"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        received(&sim, TWILIO_SID).await.len(),
        1,
        "a refusal is not retried"
    );
    assert_eq!(received(&sim, VONAGE_KEY).await.len(), 1);
    relay.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_with_backoff_until_a_provider_takes_it() {
    let sim = Simulator::start();
    let relay = Relay::start(&[("OPENCLAW_RETRY_DELAYS_MS", "200,200,200")]).await;
    let owner = relay.signup().await;
    let (twilio, _vonage) = two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    // Twilio throttles the first two requests; Vonage is down. Round 2 gets through Twilio.
    behave(
        &sim,
        TWILIO_SID,
        json!({"mode": "throttle", "fail_first": 2}),
    )
    .await;
    behave(&sim, VONAGE_KEY, json!({"mode": "error_5xx"})).await;
    let id = send(&relay, &key, "+14155552671", "try again").await;
    let done = relay
        .wait_for_status(&key, &id, &["sent", "delivered"], LONG)
        .await;
    assert_eq!(done["provider_id"], twilio);
    let rounds: Vec<i64> = done["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["round"].as_i64().unwrap())
        .collect();
    assert_eq!(rounds, vec![0, 0, 1, 1, 2], "{done:#}");
    relay.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_vonage_receipts_are_verified_and_unsigned_or_forged_ones_refused() {
    let sim = Simulator::start();
    let relay = Relay::start(&[]).await;
    let owner = relay.signup().await;
    let secret = "vonage-signature-secret-1";
    let vonage = relay
        .provider(
            &owner,
            "vonage",
            json!({"api_key": VONAGE_KEY, "api_secret": VONAGE_SECRET,
                   "signature_secret": secret, "signature_method": "sha256"}),
            Some(&sim.base_url),
            &[("*", "0.0060")],
        )
        .await;
    let key = relay.api_key(&owner, "live").await;
    behave(
        &sim,
        VONAGE_KEY,
        json!({"mode": "accept", "receipt": "delivered", "receipt_delay_ms": 100,
               "signature_secret": secret, "signature_method": "sha256"}),
    )
    .await;
    let id = send(&relay, &key, "+4915112345678", "signed receipts").await;
    let done = relay.wait_for_status(&key, &id, &["delivered"], LONG).await;
    assert_eq!(done["provider_id"], vonage);

    // A receipt for it that is not signed, or signed with another secret, changes nothing.
    let vonage_id = received(&sim, VONAGE_KEY).await[0]["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now().timestamp().to_string();
    let mut dlr = json!({"msisdn": "4915112345678", "to": "OpenClaw", "messageId": vonage_id,
        "status": "failed", "err-code": "6", "client-ref": id, "timestamp": now,
        "nonce": "forged-1"});
    let hook = relay.url(&format!("/hooks/providers/{vonage}/status"));
    let unsigned = relay.http.post(&hook).json(&dlr).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    dlr["sig"] = json!(openclaw_e2e::sim::vonage_signature(
        &dlr,
        "sha256",
        "not the secret"
    ));
    let forged = relay.http.post(&hook).json(&dlr).send().await.unwrap();
    assert_eq!(forged.status(), 401);
    let body: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_signature");
    let still: serde_json::Value = relay
        .get(&format!("/v1/messages/{id}"), &key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["status"], "delivered");
    relay.cleanup().await;
}
