//! The admin app in a real headless Chromium, once with JavaScript on and once with it off,
//! following a new tenant from sign-up to a delivered message. Screenshots of each page land in
//! target/screenshots/.

mod billing;
mod opt_outs;
mod platform_providers;
mod team;
mod webhooks;

use fantoccini::Locator;
use openclaw_e2e::app::TestApp;
use openclaw_e2e::browser::Browser;
use serde_json::json;

const PASSWORD: &str = "a long enough password";

async fn tenant_journey(javascript: bool) {
    let app = TestApp::spawn().await;
    let browser = Browser::start(javascript).await;
    let files = std::env::temp_dir().join(format!(
        "openclaw-browser-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&files).unwrap();

    // Signed out, the pages behind sign-in send you to sign in.
    browser.goto(&app.url("/dashboard")).await;
    assert_eq!(browser.path().await, "/sign-in");
    browser.screenshot("sign-in").await;

    // Sign up: a weak password is refused next to its field, the rest kept.
    browser.goto(&app.url("/sign-up")).await;
    browser.fill("tenant_name", "Browser Test Ltd").await;
    browser.fill("email", "browser@example.test").await;
    browser.fill("password", "short").await;
    browser.click("form.form button[type=submit]").await;
    assert_eq!(browser.path().await, "/sign-up");
    assert!(browser.text().await.contains("at least 12 characters"));
    assert_eq!(browser.value("tenant_name").await, "Browser Test Ltd");
    browser.screenshot("sign-up-error").await;
    browser.fill("password", PASSWORD).await;
    browser.click("form.form button[type=submit]").await;

    // The dashboard greets the new tenant and says what to do first.
    assert_eq!(browser.path().await, "/dashboard");
    let text = browser.text().await;
    assert!(
        text.contains("Browser Test Ltd") && text.contains("browser@example.test"),
        "{text}"
    );
    assert!(
        text.contains("No messages yet") && text.contains("Add an SMS provider"),
        "{text}"
    );
    browser.screenshot("dashboard-empty").await;

    // Add the sandbox as a provider and give it prices from an uploaded CSV file; a bad row
    // is reported with its line.
    browser.goto(&app.url("/providers/new?kind=sandbox")).await;
    browser.fill("name", "Sandbox").await;
    browser.click("form.form button[type=submit]").await;
    let provider_page = browser.path().await;
    assert!(
        provider_page.starts_with("/providers/prv_"),
        "{provider_page}"
    );
    let bad = files.join("bad.csv");
    std::fs::write(
        &bad,
        "country,message_type,price,currency\nUS,,0.0050,USD\nAMERICA,,0.01,USD\n",
    )
    .unwrap();
    browser.fill("file", bad.to_str().unwrap()).await;
    browser.click("form[action$='/prices'] button").await;
    assert!(
        browser.text().await.contains("Line 3:"),
        "{}",
        browser.text().await
    );
    browser.screenshot("prices-csv-error").await;
    let good = files.join("good.csv");
    std::fs::write(
        &good,
        "country,message_type,price,currency\nUS,,0.0050,USD\n*,,0.0100,USD\n",
    )
    .unwrap();
    browser.fill("file", good.to_str().unwrap()).await;
    browser.click("form[action$='/prices'] button").await;
    let text = browser.text().await;
    assert!(
        text.contains("Saved 2 prices.") && text.contains("0.005000 USD"),
        "{text}"
    );
    browser.screenshot("provider").await;

    // Create an API key: shown once, with a copy button.
    browser.goto(&app.url("/api-keys")).await;
    browser.fill("name", "backend").await;
    browser
        .click("form[action='/api-keys'] button[type=submit]")
        .await;
    let key = browser.value("secret").await;
    assert!(key.starts_with("oc_live_"), "{key}");
    assert!(
        browser
            .client
            .find(Locator::Css("button.copy"))
            .await
            .is_ok()
    );
    browser.screenshot("api-key-created").await;
    browser.goto(&app.url("/api-keys")).await;
    assert!(
        browser.client.find(Locator::Id("secret")).await.is_err(),
        "shown only once"
    );
    browser.screenshot("api-keys").await;

    // Send with that key over the API; the message shows up in the app with route and cost.
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+1 415 555 2671", "body": "Hello from the API"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let id = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = browser
        .wait_for_text(&app.url(&format!("/messages/{id}")), "delivered")
        .await;
    assert!(
        text.contains("+14155552671") && text.contains("Hello from the API"),
        "{text}"
    );
    assert!(
        text.contains("Sandbox") && text.contains("accepted"),
        "route and attempt: {text}"
    );
    assert!(text.contains("0.005000 USD"), "cost: {text}");
    browser.screenshot("message-detail").await;
    browser.goto(&app.url("/messages")).await;
    let text = browser.text().await;
    assert!(
        text.contains("+14155552671") && text.contains("delivered"),
        "{text}"
    );
    browser.screenshot("messages").await;
    browser.goto(&app.url("/messages?status=failed")).await;
    assert!(browser.text().await.contains("No messages match."));

    // A test message from the browser: a bad number is explained; a good one goes out.
    browser.goto(&app.url("/messages/new")).await;
    browser.fill("to", "12345").await;
    browser.fill("body", "Hello from the browser").await;
    browser.click("form.form button[type=submit]").await;
    assert_eq!(browser.path().await, "/messages/new");
    assert!(browser.text().await.contains("is not a valid phone number"));
    browser.screenshot("send-test-error").await;
    browser.fill("to", "+1 415 555 2671").await;
    browser.click("form.form button[type=submit]").await;
    let path = browser.path().await;
    assert!(path.starts_with("/messages/msg_"), "{path}");
    browser.wait_for_text(&app.url(&path), "delivered").await;

    // Add a Twilio account: its fields are checked and its token never shown.
    browser.goto(&app.url("/providers/new?kind=twilio")).await;
    browser.fill("name", "Twilio EU").await;
    browser.fill("account_sid", "not-a-sid").await;
    browser
        .fill("auth_token", "f00dfeedf00dfeedf00dfeedf00d1234")
        .await;
    browser.click("form.form button[type=submit]").await;
    assert!(
        browser
            .text()
            .await
            .contains("Account SID is `AC` followed by 32")
    );
    browser.screenshot("provider-error").await;
    browser
        .fill("account_sid", "AC0123456789abcdef0123456789abcdef")
        .await;
    browser
        .fill("auth_token", "f00dfeedf00dfeedf00dfeedf00d1234")
        .await;
    browser.click("form.form button[type=submit]").await;
    let text = browser.text().await;
    assert!(
        text.contains("AC01…cdef") && !text.contains("f00dfeedf00dfeedf00dfeedf00d1234"),
        "{text}"
    );

    // The dashboard shows the traffic, the chart and the sandbox's record.
    browser.goto(&app.url("/dashboard")).await;
    let text = browser.text().await;
    assert!(
        text.contains("Last 30 days") && text.contains("Providers, last 30 days"),
        "{text}"
    );
    assert!(text.contains("100.0 %"), "{text}");
    assert!(
        browser
            .client
            .find(Locator::Css("figure.chart svg rect.bar"))
            .await
            .is_ok()
    );
    browser.screenshot("dashboard").await;

    // Settings: a bad default sender is explained; good ones are saved.
    browser.goto(&app.url("/settings")).await;
    browser
        .fill("default_sender_ids", "not a valid sender!")
        .await;
    browser.click("form[action='/settings'] button").await;
    assert!(browser.text().await.contains("is not a sender"));
    browser
        .fill("default_sender_ids", "Acme, +14155550100")
        .await;
    browser.click("form[action='/settings'] button").await;
    assert!(browser.text().await.contains("Saved."));
    assert_eq!(
        browser.value("default_sender_ids").await,
        "Acme, +14155550100"
    );
    browser.screenshot("settings").await;

    // Spend: the month so far (the sandbox message), no budget yet; a limit that is not an
    // amount is explained next to its field and kept, a good one is saved and shown.
    assert!(browser.nav_text().await.contains("Spend"));
    browser.goto(&app.url("/spend")).await;
    let text = browser.text().await;
    assert!(
        text.contains("No budget is set") && text.contains("By provider"),
        "{text}"
    );
    browser.fill("monthly_limit", "lots").await;
    browser.click("form[action='/spend/budget'] button").await;
    assert_eq!(browser.path().await, "/spend");
    assert!(browser.text().await.contains("is not an amount"));
    assert_eq!(browser.value("monthly_limit").await, "lots");
    browser.screenshot("spend-error").await;
    browser.fill("monthly_limit", "25").await;
    browser.fill("alert_thresholds", "80, 50").await;
    browser.click("form[action='/spend/budget'] button").await;
    let text = browser.text().await;
    assert!(text.contains("Budget saved."), "{text}");
    assert!(text.contains("of 25.000000 USD"), "{text}");
    assert_eq!(browser.value("monthly_limit").await, "25.000000");
    assert_eq!(browser.value("alert_thresholds").await, "50, 80");
    browser.screenshot("spend").await;
    assert!(text.contains("No alert has been raised"), "{text}");

    // A limit the month (0.005 USD) has passed half of raises the 50 % alert, not the 80 %
    // one: the worker's sweep finds it, and the spend page and the dashboard show it.
    browser.fill("monthly_limit", "0.008").await;
    browser.click("form[action='/spend/budget'] button").await;
    let text = browser
        .wait_for_text(&app.url("/spend"), "Budget alert:")
        .await;
    assert!(text.contains("50% of the"), "{text}");
    assert!(!text.contains("80% of the"), "{text}");
    assert!(text.contains("0.005000 USD of 0.008000 USD"), "{text}");
    browser.screenshot("spend-alert").await;
    let text = browser
        .wait_for_text(&app.url("/dashboard"), "Budget alert:")
        .await;
    assert!(text.contains("50% of the"), "{text}");

    // Revoking the key refuses it at once.
    browser.goto(&app.url("/api-keys")).await;
    browser.click("form[action$='/revoke'] button").await;
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+14155552671", "body": "x"}),
        )
        .await;
    assert_eq!(res.status(), 401);

    // Sign out: the pages close again; a wrong password is refused, the right one works.
    browser.click("form[action='/sign-out'] button").await;
    assert_eq!(browser.path().await, "/sign-in");
    for page in [
        "/dashboard",
        "/messages",
        "/providers",
        "/api-keys",
        "/settings",
        "/spend",
    ] {
        browser.goto(&app.url(page)).await;
        assert_eq!(browser.path().await, "/sign-in", "{page}");
    }
    browser.fill("email", "browser@example.test").await;
    browser.fill("password", "not the password").await;
    browser.click("form.form button[type=submit]").await;
    assert!(
        browser
            .text()
            .await
            .contains("The email or password is not right.")
    );
    browser.fill("password", PASSWORD).await;
    browser.click("form.form button[type=submit]").await;
    assert_eq!(browser.path().await, "/dashboard");
    browser.click("form[action='/sign-out'] button").await;

    // Billing staff read the month's spend report: the tenant's line and the totals, sorted
    // by name on a click, and the tenant's drill-down by provider, country and message type.
    let pool = openclaw_core::db::pool(&app.db.url, 1).unwrap();
    openclaw_core::accounts::create_staff(
        &pool,
        "billing-staff@example.test",
        openclaw_core::domain::Role::BillingStaff,
        "staff password 42",
    )
    .await
    .unwrap();
    browser.goto(&app.url("/sign-in")).await;
    browser.fill("email", "billing-staff@example.test").await;
    browser.fill("password", "staff password 42").await;
    browser.click("form.form button[type=submit]").await;
    assert!(browser.nav_text().await.contains("Spend report"));
    browser.goto(&app.url("/admin/spend")).await;
    let text = browser.text().await;
    assert!(text.contains("Spend report —"), "{text}");
    assert!(text.contains("Browser Test Ltd 1 1 0.005000 USD"), "{text}");
    assert!(text.contains("Total (USD)"), "{text}");
    browser.click("a[href$='sort=name']").await;
    assert!(
        browser
            .text()
            .await
            .contains("Sort by: Spend Messages Name")
    );
    browser.screenshot("staff-spend").await;
    browser.click("table.report a").await;
    let text = browser.text().await;
    assert!(
        text.contains("By provider") && text.contains("By message type") && text.contains("US"),
        "{text}"
    );
    browser.screenshot("staff-spend-tenant").await;
    // A month that is not one is said, and this month shown.
    browser.goto(&app.url("/admin/spend?period=2026-13")).await;
    assert!(browser.text().await.contains("is not a month like 2026-12"));

    let _ = std::fs::remove_dir_all(&files);
    browser.close().await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tenant_gets_a_message_through_with_javascript() {
    tenant_journey(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tenant_gets_a_message_through_without_javascript() {
    tenant_journey(false).await;
}
