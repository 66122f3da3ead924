//! A team in the browser: the owner invites a developer, the developer joins through the
//! invitation link and sees only what the role allows, the owner reads the audit log and
//! changes the role; platform staff land on their tenant list and nothing else.

use fantoccini::Locator;
use openclaw_core::domain::Role;
use openclaw_e2e::app::{Options, TestApp};
use openclaw_e2e::browser::Browser;

pub async fn team_journey(javascript: bool) {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let browser = Browser::start(javascript).await;
    browser
        .sign_in(&app.url("/sign-in"), &owner.email, "correct horse battery")
        .await;
    assert_eq!(browser.path().await, "/dashboard");
    let owner_nav = browser.nav_text().await;
    assert!(
        owner_nav.contains("Members") && owner_nav.contains("Audit log"),
        "{owner_nav}"
    );
    assert!(!owner_nav.contains("Tenants"), "{owner_nav}");

    // Invite a developer; the link is shown once.
    browser.goto(&app.url("/members")).await;
    browser.fill("email", "someone@localhost").await;
    browser.click("form[action='/members'] button").await;
    assert!(browser.text().await.contains("not an email address"));
    browser.fill("email", "dev@example.test").await;
    browser.click("form[action='/members'] button").await;
    let link = browser
        .client
        .find(Locator::Id("secret"))
        .await
        .expect("the invitation link")
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(link.contains("/accept-invite?token=oci_"), "{link}");
    let text = browser.text().await;
    assert!(text.contains("dev@example.test") && text.contains("invited"));
    browser.screenshot("members-invited").await;
    browser.click("form[action='/sign-out'] button").await;

    // The developer follows the link, chooses a password and is in, with a developer's menu.
    browser.goto(&link).await;
    browser.screenshot("accept-invite").await;
    browser.fill("password", "password1234").await;
    browser.click("form.form button[type=submit]").await;
    assert!(
        browser.text().await.contains("commonly used"),
        "{}",
        browser.text().await
    );
    browser.fill("password", "a developer's passphrase").await;
    browser.click("form.form button[type=submit]").await;
    assert_eq!(browser.path().await, "/dashboard");
    let dev_nav = browser.nav_text().await;
    assert!(
        dev_nav.contains("API keys") && dev_nav.contains("Members"),
        "{dev_nav}"
    );
    assert!(!dev_nav.contains("Audit log"), "{dev_nav}");
    browser.goto(&app.url("/audit-log")).await;
    assert!(browser.text().await.contains("Not available to your role"));
    browser.screenshot("not-allowed").await;
    browser.goto(&app.url("/members")).await;
    assert!(!browser.text().await.contains("Invite someone"));
    // Any member changes their own password in Settings.
    browser.goto(&app.url("/settings")).await;
    browser.fill("current_password", "not my password").await;
    browser.fill("new_password", "a newer passphrase").await;
    browser
        .click("form[action='/settings/password'] button")
        .await;
    assert!(
        browser
            .text()
            .await
            .contains("The current password is not right.")
    );
    browser
        .fill("current_password", "a developer's passphrase")
        .await;
    browser.fill("new_password", "a newer passphrase").await;
    browser
        .click("form[action='/settings/password'] button")
        .await;
    assert!(browser.text().await.contains("Password changed."));
    browser.screenshot("password-changed").await;
    // Still signed in here, with the new session.
    browser.goto(&app.url("/members")).await;
    assert_eq!(browser.path().await, "/members");
    browser.click("form[action='/sign-out'] button").await;

    // The owner sees it all in the audit log and makes the developer a viewer.
    browser
        .sign_in(&app.url("/sign-in"), &owner.email, "correct horse battery")
        .await;
    browser.goto(&app.url("/audit-log")).await;
    let text = browser.text().await;
    for action in [
        "member.joined",
        "member.invited",
        "auth.signed_in",
        "auth.signed_up",
    ] {
        assert!(text.contains(action), "{action} missing: {text}");
    }
    assert!(!text.contains("a developer's passphrase"));
    browser.screenshot("audit-log").await;
    browser.goto(&app.url("/members")).await;
    let change_role = async |email: &str, role: &str| {
        let row = format!("tr[data-email='{email}'] form[action$='/role']");
        browser
            .client
            .find(Locator::Css(&format!("{row} select")))
            .await
            .expect("a role select")
            .select_by_value(role)
            .await
            .unwrap();
        browser.click(&format!("{row} button")).await;
    };
    // The only owner cannot step down.
    change_role(&owner.email, "admin").await;
    assert!(browser.text().await.contains("at least one owner"));
    change_role("dev@example.test", "viewer").await;
    assert!(
        browser
            .text()
            .await
            .contains("dev@example.test is now viewer.")
    );
    browser.screenshot("members").await;
    browser.click("form[action='/sign-out'] button").await;

    // Staff sign in through the same form and land on the tenant list.
    let pool = openclaw_core::db::pool(&app.db.url, 1).unwrap();
    openclaw_core::accounts::create_staff(
        &pool,
        "billing-staff@example.test",
        Role::BillingStaff,
        "staff password 42",
    )
    .await
    .unwrap();
    browser
        .sign_in(
            &app.url("/sign-in"),
            "billing-staff@example.test",
            "staff password 42",
        )
        .await;
    assert_eq!(browser.path().await, "/admin/tenants");
    assert!(browser.text().await.contains("Acme"));
    let staff_nav = browser.nav_text().await;
    assert!(
        staff_nav.contains("Tenants") && !staff_nav.contains("Messages"),
        "{staff_nav}"
    );
    browser.screenshot("staff-tenants").await;
    browser.goto(&app.url("/dashboard")).await;
    assert_eq!(browser.path().await, "/admin/tenants");
    browser.goto(&app.url("/messages")).await;
    assert!(browser.text().await.contains("Not available to your role"));

    browser.close().await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_shares_an_account_by_role_with_javascript() {
    team_journey(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_shares_an_account_by_role_without_javascript() {
    team_journey(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    for path in ["/sign-in", "/healthz"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.headers()["x-frame-options"], "DENY");
        // Plain http here: no HSTS (it would pin a browser to https this server lacks).
        assert!(res.headers().get("strict-transport-security").is_none());
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("<script>"),
            "an inline script would be blocked by the policy"
        );
    }
    app.cleanup().await;
}
