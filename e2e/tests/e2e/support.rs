use std::time::Duration;

use openclaw_e2e::app::Owner;
use openclaw_e2e::procs::{Relay, Simulator};
use openclaw_e2e::receiver::Receiver;
use serde_json::{Value, json};

pub const TWILIO_SID: &str = "AC00000000000000000000000000000001";
pub const TWILIO_TOKEN: &str = "twilio-auth-token-0000000000000001";
pub const VONAGE_KEY: &str = "abcd1234";
pub const VONAGE_SECRET: &str = "vonage-secret-1";

pub async fn behave(sim: &Simulator, account: &str, behaviour: Value) {
    let res = reqwest::Client::new()
        .put(format!(
            "{}/_sim/accounts/{account}/behaviour",
            sim.base_url
        ))
        .json(&behaviour)
        .send()
        .await
        .expect("simulator reachable");
    assert!(
        res.status().is_success(),
        "setting behaviour: {}",
        res.status()
    );
}

pub async fn received(sim: &Simulator, account: &str) -> Vec<Value> {
    reqwest::Client::new()
        .get(format!("{}/_sim/received?account={account}", sim.base_url))
        .send()
        .await
        .expect("simulator reachable")
        .json::<Value>()
        .await
        .expect("json")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub async fn stats(sim: &Simulator) -> Value {
    reqwest::Client::new()
        .get(format!("{}/_sim/stats", sim.base_url))
        .send()
        .await
        .expect("simulator reachable")
        .json()
        .await
        .expect("json")
}

/// A twilio provider and a vonage provider at the simulator, priced for every country, the
/// twilio one cheaper (so it is tried first).
pub async fn two_providers(relay: &Relay, sim: &Simulator, owner: &Owner) -> (String, String) {
    let twilio = relay
        .provider(
            owner,
            "twilio",
            json!({"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN}),
            Some(&sim.base_url),
            &[("*", "0.0040")],
        )
        .await;
    let vonage = relay
        .provider(
            owner,
            "vonage",
            json!({"api_key": VONAGE_KEY, "api_secret": VONAGE_SECRET}),
            Some(&sim.base_url),
            &[("*", "0.0060")],
        )
        .await;
    // Senders, so both providers have a `from`.
    for id in [&twilio, &vonage] {
        let res = relay
            .http
            .patch(relay.url(&format!("/v1/providers/{id}")))
            .bearer_auth(&owner.access_token)
            .json(&json!({"sender_ids": ["+14155550100"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    (twilio, vonage)
}

pub async fn send(relay: &Relay, key: &str, to: &str, body: &str) -> String {
    let res = relay
        .post("/v1/messages", key, &json!({"to": to, "body": body}))
        .await;
    assert_eq!(
        res.status(),
        202,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub const LONG: Duration = Duration::from_secs(60);

/// Gives `owner` an endpoint for `message.status` at `rx` (which then checks its secret).
pub async fn listen_for_status(relay: &Relay, owner: &Owner, rx: &Receiver) {
    let res = relay
        .post(
            "/v1/webhooks",
            &owner.access_token,
            &json!({"url": rx.url("/events"), "events": ["message.status"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let hook: Value = res.json().await.unwrap();
    rx.set_secrets(&[hook["secret"].as_str().unwrap()]);
}
