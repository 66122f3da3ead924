//! Billing in the browser: a platform admin sets the platform fee on the Billing page (a fee
//! that is not an amount is explained next to its field and kept) and an exchange rate, closes last month and sees
//! its invoices come back from the fake Stripe; the tenant finds its invoice on the Spend page
//! and, once it is past due, a banner on the dashboard saying why sends are refused, with the
//! link to pay.

use fantoccini::Locator;
use openclaw_core::domain::Role;
use openclaw_e2e::app::{Options, TestApp, last_month};
use openclaw_e2e::browser::Browser;
use serde_json::json;

pub async fn billing_journey(javascript: bool) {
    let (app, fake) = TestApp::spawn_with_stripe(Options::default()).await;
    let pool = openclaw_core::db::pool(&app.db.url, 1).unwrap();
    openclaw_core::accounts::create_staff(
        &pool,
        "billing-admin@example.test",
        Role::PlatformAdmin,
        "staff password 42",
    )
    .await
    .unwrap();
    let browser = Browser::start(javascript).await;
    browser
        .sign_in(
            &app.url("/sign-in"),
            "billing-admin@example.test",
            "staff password 42",
        )
        .await;
    browser.goto(&app.url("/admin/billing")).await;
    let text = browser.text().await;
    assert!(text.contains("Not set yet"), "{text}");

    // A fee that is not an amount is explained next to its field, and what was typed kept.
    browser.fill("platform_fee", "a lot").await;
    browser
        .click("form[action='/admin/billing/settings'] button")
        .await;
    assert_eq!(browser.path().await, "/admin/billing");
    assert!(browser.text().await.contains("is not an amount"));
    assert_eq!(browser.value("platform_fee").await, "a lot");
    browser.screenshot("billing-settings-error").await;
    browser.fill("platform_fee", "0.0125").await;
    browser.fill("grace_period_days", "10").await;
    browser
        .click("form[action='/admin/billing/settings'] button")
        .await;
    let text = browser.text().await;
    assert!(text.contains("Billing settings saved."), "{text}");
    assert!(
        text.contains("0.012500 USD") && text.contains("10 days"),
        "{text}"
    );
    browser.screenshot("billing-settings").await;

    // Exchange rates: a rate that is not one is explained, naming the line, and the text
    // kept; then the rate is saved and listed.
    browser.fill("rates-text", "EUR,USD,lots").await;
    browser
        .click("form[action='/admin/billing/rates'] button")
        .await;
    let text = browser.text().await;
    assert!(
        text.contains("Line 1: `lots` is not an exchange rate"),
        "{text}"
    );
    assert_eq!(browser.value("rates-text").await, "EUR,USD,lots");
    browser.fill("rates-text", "EUR,USD,1.0845").await;
    browser
        .click("form[action='/admin/billing/rates'] button")
        .await;
    let text = browser.text().await;
    assert!(text.contains("Exchange rates saved: 1 rate."), "{text}");
    let table = browser.text_of("#rates table").await;
    assert!(table.contains("EUR") && table.contains("1.0845"), "{table}");
    assert_eq!(browser.value("rates-text").await, "EUR,USD,1.0845\n");
    browser.screenshot("billing-rates").await;

    // A tenant sends last month (4 segments: 0.05 in fees).
    let owner = app.signup().await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let key = app.api_key(&owner, "live").await;
    for body in ["one", "two", &"z".repeat(200)] {
        app.send_taken(&key, body).await;
    }
    app.as_if_sent_last_month(&owner).await;
    let period = last_month();

    // This month is not over: said next to the form. Last month closes into its invoices.
    let this_month = openclaw_core::domain::Period::of(chrono::Utc::now().date_naive());
    browser.goto(&app.url("/admin/billing")).await;
    browser.fill("close-period", &this_month.to_string()).await;
    browser
        .click("form[action='/admin/billing/close'] button")
        .await;
    assert!(
        browser.text().await.contains("is not over yet"),
        "{}",
        browser.text().await
    );
    browser.screenshot("billing-close-error").await;
    browser.fill("close-period", &period.to_string()).await;
    browser
        .click("form[action='/admin/billing/close'] button")
        .await;
    let text = browser.text().await;
    assert!(text.contains("is being closed"), "{text}");
    let url = app.url(&format!("/admin/billing?period={period}"));
    let text = browser.wait_for_text(&url, "done").await;
    assert!(
        text.contains("Acme") && text.contains("0.050000 USD") && text.contains("open"),
        "{text}"
    );
    browser.screenshot("billing-invoices").await;
    browser.click("form[action='/sign-out'] button").await;

    // The tenant's owner finds the invoice on the Spend page, with its link.
    browser
        .sign_in(&app.url("/sign-in"), &owner.email, "correct horse battery")
        .await;
    browser.goto(&app.url("/spend")).await;
    let text = browser.text().await;
    assert!(text.contains("Invoices"), "{text}");
    assert!(
        text.contains(&period.to_string())
            && text.contains("0.050000 USD")
            && text.contains("open"),
        "{text}"
    );
    let link = browser
        .client
        .find(Locator::Css("section[aria-labelledby='invoices-title'] a"))
        .await
        .expect("the invoice's link")
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(link.starts_with(&fake.base_url()), "{link}");
    browser.screenshot("spend-invoices").await;

    // Past due: the dashboard says why messages are refused and links the invoice.
    assert_eq!(app.make_past_due(&owner).await, 1);
    let text = browser
        .wait_for_text(&app.url("/dashboard"), "Payment required")
        .await;
    assert!(text.contains("402 payment_required"), "{text}");
    let pay = browser
        .client
        .find(Locator::Css("p.banner a"))
        .await
        .expect("the banner's link")
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(pay, link);
    browser.screenshot("past-due").await;

    browser.close().await;
    app.cleanup().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_close_a_month_and_the_tenant_pays_its_invoice_with_javascript() {
    billing_journey(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_close_a_month_and_the_tenant_pays_its_invoice_without_javascript() {
    billing_journey(false).await;
}
