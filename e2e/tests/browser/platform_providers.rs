//! The operator's own gateway accounts in the browser: a platform admin adds a sandbox as a
//! platform provider at /admin/providers, gives it a cost list, sees a bad sell list refused
//! next to the sell list's own box (what was typed kept), then a good one; a tenant with no
//! provider of its own sends through it at the sell price; billing staff see the same page
//! without a form on it.

use openclaw_core::domain::Role;
use openclaw_e2e::app::TestApp;
use openclaw_e2e::browser::Browser;

const PASSWORD: &str = "staff password 42";

/// One of a platform provider's two price lists: its box, its form's path and its section.
#[derive(Clone, Copy)]
enum List {
    Cost,
    Sell,
}

impl List {
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            List::Cost => ("csv", "cost-prices"),
            List::Sell => ("sell_csv", "sell-prices"),
        }
    }
}

/// Pastes `csv` into `list`'s box on the provider's page and submits it; the browser stays
/// on that page. Returns the text of the list's section.
async fn upload(browser: &Browser, page: &str, list: List, csv: &str) -> String {
    let (box_id, anchor) = list.parts();
    browser.fill(box_id, csv).await;
    browser
        .click(&format!("form[action='{page}/{anchor}'] button"))
        .await;
    assert_eq!(browser.path().await, page);
    browser
        .text_of(&format!("section[aria-labelledby='{anchor}']"))
        .await
}

async fn platform_provider_journey(javascript: bool) {
    let app = TestApp::spawn().await;
    let pool = openclaw_core::db::pool(&app.db.url, 1).unwrap();
    for (email, role) in [
        ("ops@example.test", Role::PlatformAdmin),
        ("books@example.test", Role::BillingStaff),
    ] {
        openclaw_core::accounts::create_staff(&pool, email, role, PASSWORD)
            .await
            .unwrap();
    }
    let browser = Browser::start(javascript).await;
    browser
        .sign_in(&app.url("/sign-in"), "ops@example.test", PASSWORD)
        .await;
    assert!(
        browser.nav_text().await.contains("Platform providers"),
        "{}",
        browser.nav_text().await
    );
    browser.goto(&app.url("/admin/providers")).await;
    let text = browser.text().await;
    assert!(text.contains("No platform providers yet"), "{text}");
    browser.screenshot("platform-providers-empty").await;

    // Add the sandbox as the platform's.
    browser
        .click("a.button[href='/admin/providers/new?kind=sandbox']")
        .await;
    assert_eq!(browser.path().await, "/admin/providers/new");
    browser.fill("name", "Platform sandbox").await;
    browser.click("form.form button[type=submit]").await;
    let page = browser.path().await;
    assert!(page.starts_with("/admin/providers/prv_"), "{page}");
    let text = browser.text().await;
    assert!(
        text.contains("Cost prices per segment") && text.contains("Sell prices per segment"),
        "{text}"
    );

    // Its cost: 0.0030 anywhere.
    let cost = upload(
        &browser,
        &page,
        List::Cost,
        "country,message_type,price,currency\n*,,0.0030,USD\n",
    )
    .await;
    assert!(cost.contains("0.003000 USD"), "{cost}");

    // A sell list with a country that is not one: refused next to the sell box, kept.
    let bad = "country,message_type,price,currency\nUS,,0.0080,USD\nAMERICA,,0.01,USD\n";
    let sell = upload(&browser, &page, List::Sell, bad).await;
    assert!(sell.contains("Line 3:"), "{sell}");
    assert!(sell.contains("No prices in this list yet."), "{sell}");
    let cost = browser
        .text_of("section[aria-labelledby='cost-prices']")
        .await;
    assert!(!cost.contains("Line 3:"), "{cost}");
    assert_eq!(browser.value("sell_csv").await, bad);
    browser.screenshot("platform-provider-sell-error").await;

    // The good sell list: US at 0.0080.
    let sell = upload(
        &browser,
        &page,
        List::Sell,
        "country,message_type,price,currency\nUS,,0.0080,USD\n",
    )
    .await;
    assert!(sell.contains("0.008000 USD"), "{sell}");
    browser.screenshot("platform-provider").await;
    browser.goto(&app.url("/admin/providers")).await;
    let text = browser.text().await;
    assert!(
        text.contains("Platform sandbox") && text.contains("enabled"),
        "{text}"
    );
    browser.screenshot("platform-providers").await;

    // A tenant with no provider of its own sends through it, billed the sell price.
    let owner = app.signup().await;
    let key = app.api_key(&owner, "live").await;
    let message = app.send_taken(&key, "through the platform").await;
    let id = page.trim_start_matches("/admin/providers/");
    assert_eq!(message["provider_id"], id, "{message:#}");
    assert_eq!(message["cost"]["amount"], "0.008000", "{message:#}");
    browser.click("form[action='/sign-out'] button").await;

    // Billing staff read the platform's providers and change nothing.
    browser
        .sign_in(&app.url("/sign-in"), "books@example.test", PASSWORD)
        .await;
    browser.goto(&app.url(&page)).await;
    let text = browser.text().await;
    assert!(
        text.contains("0.003000 USD") && text.contains("0.008000 USD"),
        "{text}"
    );
    assert!(!text.contains("Upload prices"), "{text}");
    assert!(
        browser
            .client
            .find(fantoccini::Locator::Css("form[action$='-prices']"))
            .await
            .is_err(),
        "billing staff were offered a price form"
    );
    browser.goto(&app.url("/admin/providers")).await;
    assert!(!browser.text().await.contains("Add:"));
    browser.screenshot("platform-providers-billing-staff").await;

    browser.close().await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_admin_prices_a_platform_provider_and_a_tenant_sends_through_it_with_javascript()
{
    platform_provider_journey(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_admin_prices_a_platform_provider_and_a_tenant_sends_through_it_without_javascript()
 {
    platform_provider_journey(false).await;
}
