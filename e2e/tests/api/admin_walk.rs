//! The admin app's route walker, the twin of `isolation.rs` for the browser door: every page
//! (`openclaw_web::routes::PAGES`) and every form post (`openclaw_web::routes::FORMS`, the
//! table the server registers the forms from) is used as each tenant role, each staff role,
//! signed out and as another tenant's owner, and the answer must match
//! `openclaw_core::permissions::allowed`. A form without a body in `body` fails the test. The
//! other tenant's owner posts with tenant A's real ids and valid fields, and afterwards A's
//! rows are exactly as they were; so are they after every form is posted cross-site.

use std::collections::BTreeMap;

use openclaw_core::domain::Role;
use openclaw_core::permissions::allowed;
use openclaw_e2e::app::{Options, TestApp};
use openclaw_e2e::forms::{AdminSession, Answer};
use openclaw_web::routes::{FORMS, Form, PAGES, Who};
use serde_json::{Value, json};

const FAKE_ULID: &str = "01JD2X4N9X4S0M6ZQ4C3W5Y8RT";
const CSV: &str = "country,message_type,price,currency\n*,,0.09,USD\n";

/// Whether `role` (None: signed out) may use a page or form the table says `who` may.
fn may(who: Who, role: Option<Role>) -> bool {
    let Some(role) = role else {
        return who == Who::Public;
    };
    let member = !role.is_platform();
    match who {
        Who::Public | Who::AnyUser => true,
        Who::Member => member,
        Who::Tenant(action) | Who::Service(action) => member && allowed(role, action),
        Who::Platform(action) => !member && allowed(role, action),
    }
}

/// Who may post each form, as this test expects it (the door must agree with the table it is
/// registered from, and the table with this). None: a form this test does not know yet.
fn expected_who(path: &str) -> Option<Who> {
    use openclaw_core::permissions::Action::*;
    Some(match path {
        "/sign-up" | "/sign-in" | "/accept-invite" | "/sign-out" => Who::Public,
        "/settings/password" => Who::AnyUser,
        "/messages/test" => Who::Service(SendMessages),
        "/api-keys" | "/api-keys/{id}/revoke" | "/api-keys/{id}/rotate" => {
            Who::Tenant(ManageApiKeys)
        }
        "/providers" | "/providers/{id}" | "/providers/{id}/prices" | "/providers/{id}/delete" => {
            Who::Tenant(ManageProviders)
        }
        "/webhooks"
        | "/webhooks/callback-secret"
        | "/webhooks/{id}/delete"
        | "/webhooks/{id}/rotate"
        | "/webhooks/{id}/deliveries/{delivery_id}/replay" => Who::Tenant(ManageWebhooks),
        "/opt-outs" | "/opt-outs/{number}/remove" | "/opt-outs/import" => {
            Who::Tenant(ManageOptOuts)
        }
        "/settings" => Who::Tenant(ManageSettings),
        "/spend/budget" | "/spend/budget/remove" => Who::Tenant(ManageBudget),
        "/members" | "/members/{id}/role" | "/members/{id}/remove" => Who::Tenant(ManageMembers),
        "/admin/billing/settings"
        | "/admin/billing/tenant-fee"
        | "/admin/billing/tenant-currency"
        | "/admin/billing/rates" => Who::Platform(ManageBilling),
        "/admin/billing/close" => Who::Platform(CloseBillingPeriod),
        "/admin/providers"
        | "/admin/providers/{id}"
        | "/admin/providers/{id}/cost-prices"
        | "/admin/providers/{id}/sell-prices"
        | "/admin/providers/{id}/delete" => Who::Platform(ManagePlatformProviders),
        _ => return None,
    })
}

/// Who may see each page, as this test expects it.
fn expected_page_who(path: &str) -> Option<Who> {
    use openclaw_core::permissions::Action::*;
    Some(match path {
        "/sign-in" | "/sign-up" | "/accept-invite" => Who::Public,
        "/providers/new" | "/messages/new" => Who::AnyUser,
        "/" | "/dashboard" | "/settings" | "/messages" | "/messages/{id}" => Who::Member,
        "/api-keys" => Who::Tenant(ReadApiKeys),
        "/webhooks" | "/webhooks/{id}" => Who::Tenant(ReadWebhooks),
        "/opt-outs" | "/inbound" => Who::Tenant(ReadMessages),
        "/members" => Who::Tenant(ReadMembers),
        "/audit-log" => Who::Tenant(ReadAuditLog),
        "/spend" => Who::Tenant(ReadSpend),
        "/providers" | "/providers/{id}" => Who::Tenant(ReadProviders),
        "/admin/tenants" => Who::Platform(ListTenants),
        "/admin/spend" => Who::Platform(ReadSpendReport),
        "/admin/billing" => Who::Platform(ReadBilling),
        "/admin/providers" | "/admin/providers/{id}" => Who::Platform(ReadPlatformProviders),
        "/admin/providers/new" => Who::Platform(ManagePlatformProviders),
        _ => return None,
    })
}

/// What a form is posted with: `valid` fields change something when allowed (posted by the
/// other tenant's owner, with A's ids); otherwise fields the service refuses, so a walk
/// through every role changes nothing. None: a form this test does not know yet.
fn body(path: &str, valid: bool) -> Option<Vec<(&'static str, &'static str)>> {
    Some(match (path, valid) {
        ("/sign-up", _) => vec![("tenant_name", ""), ("email", ""), ("password", "")],
        ("/sign-in", _) => vec![
            ("email", "nobody@example.test"),
            ("password", "not the password"),
        ],
        ("/accept-invite", _) => vec![("token", "not-a-token"), ("password", "a long password 42")],
        ("/sign-out", _) => vec![],
        ("/settings/password", _) => vec![
            ("current_password", "not my password"),
            ("new_password", "a new password 42"),
        ],
        ("/messages/test", false) => vec![("to", "12345"), ("body", "walk")],
        ("/messages/test", true) => vec![("to", "+4915112345678"), ("body", "walk")],
        ("/api-keys", false) => vec![("name", "walk"), ("mode", "bogus")],
        ("/api-keys", true) => vec![("name", "walk"), ("mode", "test")],
        ("/api-keys/{id}/revoke" | "/api-keys/{id}/rotate", _) => vec![],
        ("/webhooks", false) => vec![
            ("url", "http://hooks.example.com/walk"),
            ("events", "message.status"),
        ],
        ("/webhooks", true) => vec![
            ("url", "https://hooks.example.com/walk"),
            ("events", "message.status"),
        ],
        (
            "/webhooks/callback-secret"
            | "/webhooks/{id}/delete"
            | "/webhooks/{id}/rotate"
            | "/webhooks/{id}/deliveries/{delivery_id}/replay",
            _,
        ) => vec![],
        ("/opt-outs", false) => vec![("number", "12345")],
        ("/opt-outs", true) => vec![("number", "+4915112345679")],
        // The import is posted the price list, which holds no numbers: refused line by line.
        ("/opt-outs/{number}/remove" | "/opt-outs/import", _) => vec![],
        ("/providers", false) => vec![("kind", "nope"), ("name", "walk")],
        ("/providers", true) => vec![("kind", "sandbox"), ("name", "walk")],
        ("/providers/{id}", _) => vec![
            ("name", "walked"),
            ("sender_ids", "Walk"),
            ("max_rate_per_sec", ""),
            ("max_concurrency", ""),
        ],
        ("/providers/{id}/prices" | "/providers/{id}/delete", _) => vec![],
        ("/admin/providers", false) => vec![("kind", "nope"), ("name", "walk")],
        ("/admin/providers", true) => vec![("kind", "sandbox"), ("name", "walk")],
        ("/admin/providers/{id}", _) => vec![
            ("name", "walked"),
            ("sender_ids", "Walk"),
            ("max_rate_per_sec", ""),
            ("max_concurrency", ""),
        ],
        (
            "/admin/providers/{id}/cost-prices"
            | "/admin/providers/{id}/sell-prices"
            | "/admin/providers/{id}/delete",
            _,
        ) => vec![],
        ("/settings", false) => vec![("name", ""), ("default_sender_ids", "")],
        ("/settings", true) => vec![("name", "Walked"), ("default_sender_ids", "Walk")],
        ("/spend/budget", false) => vec![("monthly_limit", "-1"), ("currency", "USD")],
        ("/spend/budget", true) => vec![("monthly_limit", "100"), ("currency", "USD")],
        ("/spend/budget/remove", _) => vec![],
        ("/members", false) => vec![("email", "not an address"), ("role", "viewer")],
        ("/members", true) => vec![("email", "walked@example.test"), ("role", "owner")],
        ("/members/{id}/role", _) => vec![("role", "owner")],
        ("/members/{id}/remove", _) => vec![],
        ("/admin/billing/settings", false) => vec![
            ("platform_fee", "-1"),
            ("currency", "USD"),
            ("default_markup_percent", "0"),
            ("grace_period_days", "14"),
        ],
        ("/admin/billing/settings", true) => vec![
            ("platform_fee", "0.001"),
            ("currency", "USD"),
            ("default_markup_percent", "0"),
            ("grace_period_days", "14"),
        ],
        ("/admin/billing/tenant-fee", false) => vec![("tenant", "nope"), ("platform_fee", "1")],
        ("/admin/billing/tenant-fee", true) => vec![
            ("tenant", "ten_01JD2X4N9X4S0M6ZQ4C3W5Y8RT"),
            ("platform_fee", "0.0005"),
        ],
        ("/admin/billing/tenant-currency", false) => vec![("tenant", "nope"), ("currency", "EUR")],
        ("/admin/billing/tenant-currency", true) => vec![
            ("tenant", "ten_01JD2X4N9X4S0M6ZQ4C3W5Y8RT"),
            ("currency", "USD"),
        ],
        ("/admin/billing/rates", false) => vec![("rates", "EUR,USD,zero")],
        ("/admin/billing/rates", true) => vec![("rates", "EUR,USD,1.08")],
        ("/admin/billing/close", false) => vec![("period", "2026-13")],
        ("/admin/billing/close", true) => vec![("period", "2020-01")],
        _ => return None,
    })
}

/// Tenant A's real ids, by the path they belong under.
struct Ids(BTreeMap<&'static str, String>);

/// The number tenant A has opted out (the path's `{number}`: real, it is A's; not, nobody's).
const OPTED_OUT: &str = "4915112345670";
const NOT_OPTED_OUT: &str = "4915112345671";

impl Ids {
    fn fill(&self, path: &str, real: bool) -> String {
        if path.contains("{number}") {
            return path.replace("{number}", if real { OPTED_OUT } else { NOT_OPTED_OUT });
        }
        for (prefix, id) in &self.0 {
            if path.starts_with(prefix) {
                let fake = format!("{}{FAKE_ULID}", &id[..4]);
                return path.replace("{id}", if real { id } else { &fake });
            }
        }
        path.to_owned()
    }
}

async fn post(
    session: &AdminSession,
    origin: Option<&str>,
    form: &Form,
    target: &str,
    fields: &[(&str, &str)],
) -> Answer {
    if form.multipart {
        session
            .post_multipart_from(origin, target, &[("csv", None, CSV)])
            .await
    } else {
        session.post_from(origin, target, fields).await
    }
}

/// Whether `answer` is the one `role` should get for posting `form`.
fn form_answer_ok(form: &Form, role: Option<Role>, answer: &Answer) -> bool {
    let redirected = answer.status == 303;
    if role.is_none() && form.who != Who::Public {
        return redirected && answer.location == "/sign-in";
    }
    if form.path == "/sign-out" {
        return redirected && answer.location == "/sign-in";
    }
    if form.who == Who::Public {
        // Signing in or up, or accepting an invitation, with what this test posts: back to
        // the form with the service's sentence.
        return redirected && answer.flash.is_some();
    }
    if may(form.who, role) {
        // Done, or back to the form with the service's sentence; a provider that is not
        // there sends the browser to the list, a test message sent to its page.
        return redirected
            && answer.location != "/sign-in"
            && (answer.flash.is_some()
                || answer.location == "/providers"
                || answer.location == "/admin/providers"
                || answer.location.starts_with("/messages/msg_"));
    }
    match form.who {
        // The service refuses, back on the form with its sentence for the whole form.
        Who::Service(_) => {
            redirected
                && answer
                    .flash
                    .as_ref()
                    .is_some_and(|f| f.field.is_none() && f.message.contains("cannot"))
        }
        _ => answer.status == 403 && answer.body.contains("Your role does not allow this"),
    }
}

/// Whether `answer` is the one `role` should get for `page`.
fn page_answer_ok(path: &str, who: Who, role: Option<Role>, answer: &Answer) -> bool {
    if role.is_none() && who != Who::Public {
        return answer.status == 303 && answer.location == "/sign-in";
    }
    if may(who, role) {
        return answer.status == 200;
    }
    match path {
        // Staff are sent to their console.
        "/" | "/dashboard" => answer.status == 303 && answer.location == "/admin/tenants",
        // To anyone else, the thing is not there.
        p if p.contains("{id}") => answer.status == 404,
        _ => answer.status == 403 && answer.body.contains("Not available to your role"),
    }
}

/// Tenant A's rows, as a test compares them before and after.
async fn rows_of(app: &TestApp, tenant: &str) -> Value {
    let mut all = serde_json::Map::new();
    for (table, filter) in [
        ("tenants", "id"),
        ("users", "tenant_id"),
        ("api_keys", "tenant_id"),
        ("providers", "tenant_id"),
        ("provider_prices", "tenant_id"),
        ("messages", "tenant_id"),
        ("audit_log", "tenant_id"),
        ("budgets", "tenant_id"),
        ("opt_outs", "tenant_id"),
        ("inbound_messages", "tenant_id"),
    ] {
        let rows = openclaw_e2e::services::query_rows(
            &app.db.url,
            &format!("SELECT * FROM {table} t WHERE {filter} = '{tenant}' ORDER BY t::text"),
        )
        .await;
        all.insert(table.to_owned(), Value::Array(rows));
    }
    Value::Object(all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_form_answers_each_role_and_foreign_tenant_as_the_matrix_says() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let foreign = app.signup().await;
    let tenant_a = openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid()
        .to_string();
    let provider = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let key_name = format!("kept-{}", uuid::Uuid::new_v4().simple());
    let key: Value = app
        .post(
            "/v1/api-keys",
            &owner.access_token,
            &json!({ "name": key_name }),
        )
        .await
        .json()
        .await
        .unwrap();
    let key_id = key["id"].as_str().unwrap().to_owned();
    let sent: Value = app
        .post(
            "/v1/messages",
            &owner.access_token,
            &json!({"to": "+4915112345678", "body": "seed"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let message = sent["id"].as_str().unwrap().to_owned();
    let hook: Value = app
        .post(
            "/v1/webhooks",
            &owner.access_token,
            &json!({"url": "https://hooks.example.com/kept", "events": ["message.status"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let webhook = hook["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            "/v1/opt-outs",
            &owner.access_token,
            &json!({"number": format!("+{OPTED_OUT}")}),
        )
        .await;
    assert_eq!(res.status(), 201, "opt-out");

    // Every tenant role and every staff role, each with its own browser session.
    let mut principals: Vec<(String, Option<Role>, AdminSession)> = vec![(
        "owner".into(),
        Some(Role::Owner),
        app.admin_session_of(&owner.access_token),
    )];
    let mut member_id = String::new();
    for role in &Role::TENANT[1..] {
        let (id, token) = app.member(&owner, role.as_str()).await;
        member_id = id;
        principals.push((role.to_string(), Some(*role), app.admin_session_of(&token)));
    }
    let mut platform_provider = String::new();
    for role in [Role::PlatformAdmin, Role::BillingStaff] {
        let token = app.staff(role).await;
        if role == Role::PlatformAdmin {
            let res = app
                .post(
                    "/v1/admin/providers",
                    &token,
                    &json!({"kind": "sandbox", "name": "walk platform"}),
                )
                .await;
            assert_eq!(res.status(), 201, "platform provider");
            let made: Value = res.json().await.unwrap();
            platform_provider = made["id"].as_str().unwrap().to_owned();
        }
        principals.push((role.to_string(), Some(role), app.admin_session_of(&token)));
    }
    principals.push(("signed out".into(), None, app.signed_out_browser()));
    let ids = Ids(BTreeMap::from([
        ("/providers/", provider.clone()),
        ("/admin/providers/", platform_provider.clone()),
        ("/api-keys/", key_id.clone()),
        ("/webhooks/", webhook.clone()),
        ("/messages/", message.clone()),
        ("/members/", member_id.clone()),
    ]));

    let mut failures = Vec::new();
    let mut checked = 0;
    let mut forms: Vec<&Form> = FORMS.iter().collect();
    for page in PAGES {
        match expected_page_who(page.path) {
            Some(who) if who == page.who => {}
            Some(who) => failures.push(format!(
                "GET {}: guarded for {:?}, expected {who:?}",
                page.path, page.who
            )),
            None => failures.push(format!(
                "GET {}: no expectation; add one to this test",
                page.path
            )),
        }
    }
    for form in &forms {
        match expected_who(form.path) {
            Some(who) if who == form.who => {}
            Some(who) => failures.push(format!(
                "POST {}: registered for {:?}, expected {who:?}",
                form.path, form.who
            )),
            None => failures.push(format!(
                "POST {}: no expectation; add one to this test",
                form.path
            )),
        }
    }
    // Signing out ends the session: it goes last.
    forms.sort_by_key(|f| f.path == "/sign-out");
    assert!(PAGES.len() >= 15 && forms.len() >= 17, "the tables shrank");

    for (name, role, session) in &principals {
        for page in PAGES {
            let target = ids.fill(page.path, true);
            let answer = session.get(&target).await;
            checked += 1;
            if !page_answer_ok(page.path, page.who, *role, &answer) {
                failures.push(format!(
                    "GET {target} as {name}: {} → {:?}",
                    answer.status, answer.location
                ));
            }
        }
        for form in &forms {
            let Some(fields) = body(form.path, false) else {
                failures.push(format!("POST {}: no body; add one to this test", form.path));
                continue;
            };
            // Changes use well-formed ids that do not exist, so nothing is destroyed.
            let target = ids.fill(form.path, false);
            let answer = post(session, Some(&app.address), form, &target, &fields).await;
            checked += 1;
            if !form_answer_ok(form, *role, &answer) {
                failures.push(format!(
                    "POST {target} as {name}: {} → {:?} {:?}",
                    answer.status, answer.location, answer.flash
                ));
            }
        }
        if role.is_some() {
            // Signed out for good: the session no longer opens a page.
            let answer = session.get("/dashboard").await;
            if (answer.status, answer.location.as_str()) != (303, "/sign-in") {
                failures.push(format!("{name} is still signed in after signing out"));
            }
        }
    }

    // Another tenant's owner, and cross-site posts: A's rows stay exactly as they are.
    let before = rows_of(&app, &tenant_a).await;
    let b = app.admin_session_of(&foreign.access_token);
    for page in PAGES {
        let target = ids.fill(page.path, true);
        let answer = b.get(&target).await;
        checked += 1;
        let ok = if page.path.contains("{id}") {
            answer.status == 404
        } else {
            page_answer_ok(page.path, page.who, Some(Role::Owner), &answer)
        };
        if !ok {
            failures.push(format!(
                "GET {target} as another tenant's owner: {}",
                answer.status
            ));
        }
        for seen in [&provider, &key_id, &key_name, &message, &member_id] {
            if answer.body.contains(seen.as_str()) {
                failures.push(format!("GET {target} showed tenant A's {seen} to B"));
            }
        }
    }
    let a = app.admin_session_of(&owner.access_token);
    for form in &forms {
        let Some(fields) = body(form.path, true) else {
            continue;
        };
        let target = ids.fill(form.path, true);
        // Cross-site, or with neither Origin nor Referer: refused before anything is read,
        // whoever's session it carries.
        for origin in [Some("https://evil.example"), None] {
            for (who, session) in [("A's owner", &a), ("B's owner", &b)] {
                let answer = post(session, origin, form, &target, &fields).await;
                checked += 1;
                if answer.status != 403 || !answer.body.contains("not sent from OpenClaw") {
                    failures.push(format!(
                        "POST {target} as {who} from {origin:?}: {} → {:?}",
                        answer.status, answer.location
                    ));
                }
            }
        }
        let answer = post(&b, Some(&app.address), form, &target, &fields).await;
        checked += 1;
        if !form_answer_ok(form, Some(Role::Owner), &answer) {
            failures.push(format!(
                "POST {target} as another tenant's owner: {} → {:?} {:?}",
                answer.status, answer.location, answer.flash
            ));
        }
    }
    let after = rows_of(&app, &tenant_a).await;
    if before != after {
        failures.push(format!(
            "tenant A's rows changed:\nbefore {before:#}\nafter {after:#}"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 300, "only {checked} checks ran");
    app.cleanup().await;
}
