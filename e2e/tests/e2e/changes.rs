//! A change made through one server process reaches every other process at once: two
//! `openclaw-server` binaries and an `openclaw-worker` on one database. Each cached what the
//! change touches before it was made, and each is asked again on its very next request.

use openclaw_e2e::app::{Api, Owner};
use openclaw_e2e::procs::Relay;
use serde_json::{Value, json};

use crate::support::LONG;

/// A client that keeps the admin app's redirects and cookies for the test to read.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs `owner` in to the admin app of `api`'s server; returns the session's Cookie header.
async fn sign_in(api: &Api, owner: &Owner) -> String {
    let res = browser()
        .post(api.url("/sign-in"))
        .header("Origin", api.address.clone())
        .form(&[
            ("email", owner.email.as_str()),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    cookies.join("; ")
}

/// Posts an admin-app form on `api`'s server as the signed-in `session`; expects a redirect.
async fn post_form(api: &Api, session: &str, path: &str, form: &[(&str, &str)]) {
    let res = browser()
        .post(api.url(path))
        .header("Origin", api.address.clone())
        .header("Cookie", session)
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{path}");
}

async fn status_with(api: &Api, key: &str) -> u16 {
    api.get("/v1/messages", key).await.status().as_u16()
}

/// Creates a key through `api`; returns (id, secret).
async fn new_key(api: &Api, owner: &Owner) -> (String, String) {
    let res = api
        .post(
            "/v1/api-keys",
            &owner.access_token,
            &json!({"name": "everywhere"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_or_rotated_through_one_server_is_refused_by_the_other_on_its_next_request() {
    let relay = Relay::start(&[]).await;
    let (_second, other) = relay.spawn_server().await;
    let owner = relay.signup().await;

    // Revoked through the API of one server.
    let (id, key) = new_key(&relay, &owner).await;
    assert_eq!(status_with(&other, &key).await, 200, "cached by the other");
    let res = relay
        .http
        .delete(relay.url(&format!("/v1/api-keys/{id}")))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(status_with(&other, &key).await, 401);
    assert_eq!(status_with(&relay, &key).await, 401);

    // Rotated (no grace) through the API of the other: the old key is refused by the first,
    // the new one taken.
    let (id, key) = new_key(&relay, &owner).await;
    assert_eq!(status_with(&relay, &key).await, 200, "cached by the first");
    let res = other
        .post(
            &format!("/v1/api-keys/{id}/rotate"),
            &owner.access_token,
            &json!({"grace_seconds": 0}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let rotated: Value = res.json().await.unwrap();
    assert_eq!(status_with(&relay, &key).await, 401);
    assert_eq!(
        status_with(&relay, rotated["key"].as_str().unwrap()).await,
        200
    );

    // Revoked through the admin app of the other server.
    let (id, key) = new_key(&relay, &owner).await;
    assert_eq!(status_with(&relay, &key).await, 200, "cached by the first");
    let session = sign_in(&other, &owner).await;
    post_form(&other, &session, &format!("/api-keys/{id}/revoke"), &[]).await;
    assert_eq!(status_with(&relay, &key).await, 401);
    assert_eq!(status_with(&other, &key).await, 401);
    relay.cleanup().await;
}

/// Sends one message through `api`; returns the 202's body.
async fn send(api: &Api, key: &str) -> Value {
    let res = api
        .post(
            "/v1/messages",
            key,
            &json!({"to": "+14155552671", "body": "routed by the latest table"}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    body
}

/// Waits until the worker has sent the message; returns the provider it went through.
async fn sent_through(api: &Api, key: &str, message: &Value) -> String {
    let id = message["id"].as_str().unwrap();
    let sent = api
        .wait_for_status(key, id, &["sent", "delivered"], LONG)
        .await;
    sent["provider_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_disabled_or_unpriced_through_one_server_is_routed_by_everywhere_at_once() {
    let relay = Relay::start(&[]).await;
    let (_second, other) = relay.spawn_server().await;
    let owner = relay.signup().await;
    let key = relay.api_key(&owner, "live").await;
    let cheap = relay
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0100")])
        .await;
    let dear = relay
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0200")])
        .await;

    // Both servers and the worker have the tenant's table: everything goes the cheap way.
    for api in [&relay.api, &other] {
        let accepted = send(api, &key).await;
        assert_eq!(accepted["estimated_cost"]["amount"], "0.010000");
        assert_eq!(sent_through(api, &key, &accepted).await, cheap);
    }

    // The cheap provider is switched off in the admin app of one server (the form without
    // `enabled` checked): the other prices the next send over the dear one, and the worker
    // sends it there.
    let session = sign_in(&relay, &owner).await;
    post_form(
        &relay,
        &session,
        &format!("/providers/{cheap}"),
        &[("name", "cheap, off"), ("sender_ids", "")],
    )
    .await;
    let accepted = send(&other, &key).await;
    assert_eq!(accepted["estimated_cost"]["amount"], "0.020000");
    assert_eq!(sent_through(&other, &key, &accepted).await, dear);

    // The dear one's prices are removed through the API of the other: the first server has
    // no route any more.
    let res = other
        .http
        .put(other.url(&format!("/v1/providers/{dear}/prices")))
        .bearer_auth(&owner.access_token)
        .json(&json!({"prices": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = relay
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+14155552671", "body": "no route left"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_route");
    relay.cleanup().await;
}
