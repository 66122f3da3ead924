//! Webhooks in the browser: the owner adds an endpoint (a mistake said next to its field, the
//! secret shown once), events reach the receiver signed with it, the endpoint's page lists the
//! deliveries with their attempts, one is replayed, and the message's timeline shows them; the
//! callback secret is made.

use std::time::Duration;

use fantoccini::Locator;
use openclaw_e2e::app::{Options, TestApp};
use openclaw_e2e::browser::Browser;
use openclaw_e2e::receiver::Receiver;
use serde_json::json;

pub async fn webhooks_journey(javascript: bool) {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![
            ("OPENCLAW_ALLOW_HTTP_WEBHOOKS", "1".to_owned()),
            ("OPENCLAW_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()),
        ],
        ..Default::default()
    })
    .await;
    let rx = Receiver::spawn().await;
    let owner = app.signup().await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    let key = app.api_key(&owner, "live").await;
    let browser = Browser::start(javascript).await;
    browser
        .sign_in(&app.url("/sign-in"), &owner.email, "correct horse battery")
        .await;
    assert!(browser.nav_text().await.contains("Webhooks"));
    browser.click("nav a[href='/webhooks']").await;
    assert!(browser.text().await.contains("No endpoints yet."));

    browser.fill("url", "not a url").await;
    browser.click("form[action='/webhooks'] button").await;
    assert!(
        browser.text().await.contains("is not a URL"),
        "{}",
        browser.text().await
    );
    assert_eq!(browser.value("url").await, "not a url");
    browser.screenshot("webhooks-mistake").await;
    browser.fill("url", &rx.url("/events")).await;
    browser.click("form[action='/webhooks'] button").await;
    let secret = browser
        .client
        .find(Locator::Id("secret"))
        .await
        .expect("the new secret")
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    browser.screenshot("webhooks-created").await;
    rx.set_secrets(&[&secret]);

    let sent = app.send_delivered(&key).await;
    rx.wait_until("both events, signed", Duration::from_secs(30), |got| {
        got.iter().filter(|r| r.verified()).count() >= 2
    })
    .await;
    browser.goto(&app.url("/webhooks")).await;
    browser.click("table a[href^='/webhooks/wh_']").await;
    let text = browser
        .wait_for_text(&browser_url(&browser).await, "succeeded")
        .await;
    assert!(text.contains("message.status"), "{text}");
    assert!(text.contains("answered 200"), "{text}");
    browser.screenshot("webhook-deliveries").await;
    browser.click("form[action$='/replay'] button").await;
    assert!(browser.text().await.contains("on its way again"));
    rx.wait_until("the replayed event", Duration::from_secs(30), |got| {
        got.len() >= 3
    })
    .await;

    // The message's own page tells the same story in its timeline.
    let message = sent["id"].as_str().unwrap();
    browser
        .goto(&app.url(&format!("/messages/{message}#timeline")))
        .await;
    let text = browser.text().await;
    assert!(text.contains("Timeline"), "{text}");
    assert!(
        text.contains(&format!(
            "message.status (delivered) to {}",
            rx.url("/events")
        )),
        "{text}"
    );
    assert!(text.contains("answered 200"), "{text}");
    browser.screenshot("message-timeline").await;

    browser.goto(&app.url("/webhooks")).await;
    browser
        .click("form[action='/webhooks/callback-secret'] button")
        .await;
    assert!(browser.text().await.contains("Your callback secret"));
    browser.goto(&app.url("/webhooks")).await;
    assert!(browser.text().await.contains("Replace the callback secret"));
    browser.click("form[action='/sign-out'] button").await;
    browser.close().await;
    app.cleanup().await;
}

async fn browser_url(browser: &Browser) -> String {
    browser.client.current_url().await.unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_added_delivered_and_replayed_with_javascript() {
    webhooks_journey(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_added_delivered_and_replayed_without_javascript() {
    webhooks_journey(false).await;
}
