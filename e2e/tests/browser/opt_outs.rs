//! Inbound messages and opt-outs in the browser: a STOP reply (posted by the provider
//! simulator in Twilio's wire format) shows on the inbound page and puts its sender on the
//! opt-outs page; the owner adds a number (a mistake said next to its field), imports a
//! pasted list (a bad line named), downloads the list and opts a number back in.

use fantoccini::Locator;
use openclaw_e2e::app::TestApp;
use openclaw_e2e::browser::Browser;
use serde_json::json;

const TWILIO_TOKEN: &str = "f00dfeedf00dfeedf00dfeedf00d1234";
const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";

pub async fn opt_outs_journey(javascript: bool) {
    let app = TestApp::spawn().await;
    let sim = openclaw_e2e::sim::spawn("127.0.0.1:0").await.unwrap();
    let owner = app.signup().await;
    let twilio = app
        .provider(
            &owner,
            "twilio",
            json!({"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN}),
            None,
            &[("*", "0.0070")],
        )
        .await;
    let res = reqwest::Client::new()
        .post(format!("{}/_sim/inbound", sim.base_url()))
        .json(&json!({"provider": "twilio",
            "url": app.url(&format!("/hooks/providers/{twilio}/inbound")),
            "account": TWILIO_SID, "secret": TWILIO_TOKEN, "from": "+4915112345678",
            "to": "+14155550100", "text": " Stop ", "message_id": "SM0001"}))
        .send()
        .await
        .expect("the simulator answers");
    let posted: serde_json::Value = res.json().await.unwrap();
    assert_eq!(posted["status"], 200, "{posted}");

    let browser = Browser::start(javascript).await;
    browser
        .sign_in(&app.url("/sign-in"), &owner.email, "correct horse battery")
        .await;
    let nav = browser.nav_text().await;
    assert!(nav.contains("Inbound") && nav.contains("Opt-outs"), "{nav}");
    browser.click("nav a[href='/inbound']").await;
    let text = browser.text().await;
    assert!(text.contains("+4915112345678"), "{text}");
    assert!(
        text.contains("Stop") && text.contains("Opted out"),
        "{text}"
    );
    browser.screenshot("inbound").await;
    browser.fill("from", "not a number").await;
    browser.click("form.filters button").await;
    assert!(browser.text().await.contains("not a valid phone number"));
    browser.fill("from", "+49 151 1234 5678").await;
    browser.click("form.filters button").await;
    assert!(browser.text().await.contains("Opted out"));

    browser.click("nav a[href='/opt-outs']").await;
    let text = browser.text().await;
    assert!(
        text.contains("+4915112345678") && text.contains("Replied with an opt-out keyword"),
        "{text}"
    );
    browser.fill("number", "12345").await;
    browser.click("form[action='/opt-outs'] button").await;
    let error = browser.text_of(".field-error").await;
    assert!(error.contains("not a valid phone number"), "{error}");
    assert_eq!(browser.value("number").await, "12345");
    browser.screenshot("opt-outs-mistake").await;
    browser.fill("number", "+44 7911 123456").await;
    browser.click("form[action='/opt-outs'] button").await;
    assert!(browser.text().await.contains("+447911123456 is opted out."));

    browser
        .fill("csv", "+4915112345601\nno number here\n")
        .await;
    browser
        .click("form[action='/opt-outs/import'] button")
        .await;
    let error = browser.text_of("#csv-error").await;
    assert!(error.starts_with("Line 2"), "{error}");
    browser
        .fill("csv", "+4915112345601\n+4915112345602\n")
        .await;
    browser
        .click("form[action='/opt-outs/import'] button")
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("Imported: 2 added, 0 on the list already."),
        "{text}"
    );
    browser.screenshot("opt-outs").await;
    let link = browser
        .client
        .find(Locator::Css("a[href='/opt-outs.csv']"))
        .await
        .expect("the download link");
    assert_eq!(
        link.attr("download").await.unwrap().as_deref(),
        Some("openclaw-opt-outs.csv")
    );

    browser
        .click("form[action='/opt-outs/4915112345678/remove'] button")
        .await;
    let text = browser.text().await;
    assert!(text.contains("opted back in"), "{text}");
    assert!(!text.contains("+4915112345678"), "{text}");

    // One-time codes go to the list all the same once the settings say so.
    browser.goto(&app.url("/settings")).await;
    browser.click("#exempt-otp").await;
    browser.click("form[action='/settings'] button").await;
    assert!(browser.text().await.contains("Saved."));
    assert!(
        browser
            .client
            .find(Locator::Id("exempt-otp"))
            .await
            .expect("the otp box")
            .prop("checked")
            .await
            .unwrap()
            .as_deref()
            == Some("true"),
        "the box stays ticked"
    );
    browser.screenshot("settings-opt-out-exemptions").await;
    browser.goto(&app.url("/opt-outs")).await;
    let text = browser.text().await;
    assert!(
        text.contains("send otp messages to these numbers all the same"),
        "{text}"
    );
    browser.close().await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_outs_are_listed_added_imported_and_removed_with_javascript() {
    opt_outs_journey(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_outs_are_listed_added_imported_and_removed_without_javascript() {
    opt_outs_journey(false).await;
}
