//! The operator's billing settings and the platform fee: `GET|PUT /v1/admin/billing/settings`
//! and a tenant's own fee (`/v1/admin/tenants/{id}/billing`), each effective from a day and
//! never retroactive; the fee charged with every live message a provider takes (a ledger entry
//! of its own, in the rollups, `GET /v1/spend`, the budget and a hard cap's holds); who may do
//! what; and the admin app's billing forms onto the same services.

use chrono::Utc;
use openclaw_core::domain::Role;
use openclaw_e2e::app::{Owner, TestApp};
use openclaw_e2e::services::{query_i64, query_rows};
use serde_json::{Value, json};

async fn put_settings(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    app.put_json("/v1/admin/billing/settings", token, &body)
        .await
}

async fn put_tenant_fee(app: &TestApp, token: &str, tenant: &str, body: Value) -> (u16, Value) {
    let path = format!("/v1/admin/tenants/{tenant}/billing");
    app.put_json(&path, token, &body).await
}

/// A tenant with a sandbox provider at 0.01 per segment and a live key.
async fn tenant(app: &TestApp) -> (Owner, String) {
    let owner = app.signup().await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let key = app.api_key(&owner, "live").await;
    (owner, key)
}

/// The tenant's ledger entries: `columns` of each, `rest` (a filter and an order) applied.
async fn ledger_rows(app: &TestApp, owner: &Owner, columns: &str, rest: &str) -> Vec<Value> {
    let tenant = openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid();
    query_rows(
        &app.db.url,
        &format!("SELECT {columns} FROM ledger_entries WHERE tenant_id = '{tenant}' {rest}"),
    )
    .await
}

/// The tenant's ledger entries as (kind, amount) pairs, by kind and amount.
async fn entries(app: &TestApp, owner: &Owner) -> Vec<Value> {
    ledger_rows(
        app,
        owner,
        "kind, amount_micros",
        "ORDER BY kind, amount_micros",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_fee_is_charged_with_every_sent_message_from_the_day_it_takes_effect() {
    let app = TestApp::spawn().await;
    let (a, a_key) = tenant(&app).await;
    let (b, b_key) = tenant(&app).await;
    let admin = app.staff(Role::PlatformAdmin).await;
    let billing = app.staff(Role::BillingStaff).await;
    let today = Utc::now().date_naive();

    // Nothing set: no fee, and a message costs only its price.
    let res = app.get("/v1/admin/billing/settings", &billing).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"current": null, "scheduled": []})
    );
    app.send_taken(&a_key, "before any fee").await;
    assert_eq!(
        entries(&app, &a).await,
        [json!({"kind": "message", "amount_micros": 10_000})]
    );

    // Billing staff read the settings; only platform admins change them.
    let fee = json!({"platform_fee": {"amount": "0.001", "currency": "usd"},
                     "default_markup_percent": "12.5", "grace_period_days": 7});
    let (status, body) = put_settings(&app, &billing, fee.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("forbidden"))
    );
    let (status, body) = put_settings(&app, &a.access_token, fee.clone()).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = put_settings(&app, &admin, fee).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"current": {"effective_from": today.to_string(),
                           "platform_fee": {"amount": "0.001000", "currency": "USD"},
                           "default_markup_percent": "12.50", "grace_period_days": 7},
               "scheduled": []})
    );
    // A change from a later day is scheduled, and changes nothing today.
    let later = today + chrono::Days::new(10);
    let (status, body) = put_settings(
        &app,
        &admin,
        json!({"platform_fee": {"amount": "0.002", "currency": "USD"},
               "effective_from": later.to_string()}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["current"]["platform_fee"]["amount"], "0.001000");
    assert_eq!(body["scheduled"][0]["effective_from"], later.to_string());
    assert_eq!(body["scheduled"][0]["grace_period_days"], 14);

    // The fee is charged with each live message a provider takes: an entry of its own.
    app.send_taken(&a_key, "with the fee").await;
    let long = "x".repeat(200); // two segments
    app.send_taken(&a_key, &long).await;
    assert_eq!(
        entries(&app, &a).await,
        [
            json!({"kind": "message", "amount_micros": 10_000}),
            json!({"kind": "message", "amount_micros": 10_000}),
            json!({"kind": "message", "amount_micros": 20_000}),
            json!({"kind": "platform_fee", "amount_micros": 1_000}),
            json!({"kind": "platform_fee", "amount_micros": 2_000}),
        ]
    );
    // Test-mode messages are never billed.
    let test_key = app.api_key(&a, "test").await;
    app.send_taken(&test_key, "free").await;
    assert_eq!(entries(&app, &a).await.len(), 5);

    // The spend report, the budget and the rollups count it.
    let spend: Value = app
        .get("/v1/spend?group_by=message_type", &a.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        spend,
        json!({"data": [{"key": "transactional", "messages": 3, "segments": 4,
                         "cost": {"amount": "0.040000", "currency": "USD"},
                         "platform_fees": {"amount": "0.003000", "currency": "USD"}}],
               "total": {"amount": "0.043000", "currency": "USD"}})
    );
    let budget: Value = app
        .get("/v1/budget", &a.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        budget["spent"],
        json!({"amount": "0.043000", "currency": "USD"})
    );

    // A contract price for tenant B only, from today.
    let (status, body) = put_tenant_fee(
        &app,
        &admin,
        &b.tenant_id,
        json!({"platform_fee": "0.0005"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"tenant_id": b.tenant_id, "currency": "USD",
               "platform_fee_today": {"amount": "0.000500", "currency": "USD"},
               "markup_percent_today": "12.50",
               "overrides": [{"effective_from": today.to_string(),
                              "platform_fee": {"amount": "0.000500", "currency": "USD"},
                              "markup_percent": null}]})
    );
    app.send_taken(&b_key, "contract price").await;
    app.send_taken(&a_key, "list price").await;
    assert_eq!(
        entries(&app, &b).await,
        [
            json!({"kind": "message", "amount_micros": 10_000}),
            json!({"kind": "platform_fee", "amount_micros": 500}),
        ]
    );
    assert_eq!(
        query_i64(
            &app.db.url,
            "SELECT count(*) FROM ledger_entries WHERE kind = 'platform_fee' AND amount_micros = 1000"
        )
        .await,
        2
    );
    let res = app
        .get(
            &format!("/v1/admin/tenants/{}/billing", b.tenant_id),
            &billing,
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, _) =
        put_tenant_fee(&app, &billing, &b.tenant_id, json!({"platform_fee": "0"})).await;
    assert_eq!(status, 403);
    let (status, body) = put_tenant_fee(
        &app,
        &admin,
        "ten_01JD2X4N9X4S0M6ZQ4C3W5Y8RT",
        json!({"platform_fee": "0"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );

    // The ledger, the rollups and every report agree.
    let pool = openclaw_core::db::pool(&app.db.url, 1).unwrap();
    let found = openclaw_core::billing::reconcile::run(
        &pool,
        None,
        openclaw_core::domain::Period::of(today),
    )
    .await
    .unwrap();
    assert!(found.mismatches.is_empty(), "{:?}", found.mismatches);
    assert_eq!(found.totals[0].1.fee_micros, 3_000 + 500 + 1_000);

    // Each change is in the platform audit log, with what it set.
    let audit = query_rows(
        &app.db.url,
        "SELECT action, target, details FROM audit_log WHERE action LIKE 'billing.%'
         ORDER BY id",
    )
    .await;
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert_eq!(audit[0]["details"]["platform_fee"]["amount"], "0.001000");
    assert_eq!(audit[2]["action"], "billing.tenant_fee_changed");
    assert_eq!(audit[2]["target"], b.tenant_id.as_str());
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_cap_holds_the_fee_too() {
    let app = TestApp::spawn().await;
    let (a, key) = tenant(&app).await;
    let admin = app.staff(Role::PlatformAdmin).await;
    let (status, _) = put_settings(
        &app,
        &admin,
        json!({"platform_fee": {"amount": "0.001", "currency": "USD"}}),
    )
    .await;
    assert_eq!(status, 200);
    let res = app
        .http
        .put(app.url("/v1/budget"))
        .bearer_auth(&a.access_token)
        .json(&json!({"monthly_limit": {"amount": "0.032", "currency": "USD"}, "hard_cap": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Each message holds its price and its fee, 0.011: two fit, the third does not (at its
    // price alone, 0.01, a third would).
    let mut answers = Vec::new();
    for i in 0..3 {
        let res = app
            .post(
                "/v1/messages",
                &key,
                &json!({"to": "+14155552671", "body": format!("capped {i}")}),
            )
            .await;
        answers.push((res.status().as_u16(), res.json::<Value>().await.unwrap()));
    }
    assert_eq!(
        answers.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [202, 202, 402],
        "{answers:?}"
    );
    assert_eq!(answers[2].1["error"]["code"], "budget_exceeded");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_doors_refuse_the_same_mistakes_and_store_the_same_settings() {
    let app = TestApp::spawn_with(openclaw_e2e::app::Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let admin = app.staff(Role::PlatformAdmin).await;
    let web = app.admin_session_of(&admin);
    // A tenant, billed in USD.
    let owner = app.signup().await;
    let yesterday = (Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let far = (Utc::now().date_naive() + chrono::Days::new(400)).to_string();
    for (api, form, field) in [
        (
            json!({"platform_fee": {"amount": "abc", "currency": "USD"}}),
            vec![("platform_fee", "abc"), ("currency", "USD")],
            "platform_fee",
        ),
        (
            json!({"platform_fee": {"amount": "1000.5", "currency": "USD"}}),
            vec![("platform_fee", "1000.5"), ("currency", "USD")],
            "platform_fee",
        ),
        (
            json!({"platform_fee": {"amount": "0.001", "currency": "USD"}, "default_markup_percent": "12.345"}),
            vec![
                ("platform_fee", "0.001"),
                ("currency", "USD"),
                ("default_markup_percent", "12.345"),
            ],
            "default_markup_percent",
        ),
        (
            json!({"platform_fee": {"amount": "0.001", "currency": "USD"}, "grace_period_days": 0}),
            vec![
                ("platform_fee", "0.001"),
                ("currency", "USD"),
                ("grace_period_days", "0"),
            ],
            "grace_period_days",
        ),
        (
            json!({"platform_fee": {"amount": "0.001", "currency": "USD"}, "effective_from": yesterday}),
            vec![
                ("platform_fee", "0.001"),
                ("currency", "USD"),
                ("effective_from", &yesterday),
            ],
            "effective_from",
        ),
        (
            json!({"platform_fee": {"amount": "0.001", "currency": "USD"}, "effective_from": far}),
            vec![
                ("platform_fee", "0.001"),
                ("currency", "USD"),
                ("effective_from", &far),
            ],
            "effective_from",
        ),
    ] {
        let mut form = form;
        for (name, default) in [("default_markup_percent", "0"), ("grace_period_days", "14")] {
            if !form.iter().any(|(k, _)| *k == name) {
                form.push((name, default));
            }
        }
        let (status, body) = put_settings(&app, &admin, api).await;
        web.assert_same_mistake(
            (status, &body),
            "/admin/billing/settings",
            &form,
            "/admin/billing#settings",
            field,
        )
        .await;
    }
    // Every tenant bills in USD, and no rate converts euros into it: a fee in euros could
    // charge no one. A 422 from the API; the form names the same field with the same sentence.
    let (status, body) = put_settings(
        &app,
        &admin,
        json!({"platform_fee": {"amount": "0.001", "currency": "EUR"}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        (&body["error"]["code"], &body["error"]["field"]),
        (&json!("no_exchange_rate"), &json!("platform_fee"))
    );
    let (to, flash) = web
        .submit(
            "/admin/billing/settings",
            &[
                ("platform_fee", "0.001"),
                ("currency", "EUR"),
                ("default_markup_percent", "0"),
                ("grace_period_days", "14"),
            ],
        )
        .await;
    assert_eq!(to, "/admin/billing#settings");
    let flash = flash.expect("a flash");
    assert_eq!(
        (flash.field.as_deref(), Some(flash.message.as_str())),
        (Some("platform_fee"), body["error"]["message"].as_str())
    );
    let (status, body) = put_settings(
        &app,
        &admin,
        json!({"platform_fee": {"amount": "0.001", "currency": "USD"}, "effective_from": "soon"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, json!("effective_from"))
    );
    assert_eq!(
        query_i64(&app.db.url, "SELECT count(*) FROM billing_settings").await,
        0
    );

    // The same settings through each door: the same version stored, each audited.
    let from_api = (Utc::now().date_naive() + chrono::Days::new(3)).to_string();
    let from_form = (Utc::now().date_naive() + chrono::Days::new(4)).to_string();
    let (status, _) = put_settings(
        &app,
        &admin,
        json!({"platform_fee": {"amount": "0.0015", "currency": "USD"},
               "default_markup_percent": "7.5", "grace_period_days": 21,
               "effective_from": from_api}),
    )
    .await;
    assert_eq!(status, 200);
    let (to, flash) = web
        .submit(
            "/admin/billing/settings",
            &[
                ("platform_fee", "0.0015"),
                ("currency", "usd"),
                ("default_markup_percent", "7.5"),
                ("grace_period_days", "21"),
                ("effective_from", &from_form),
            ],
        )
        .await;
    assert_eq!(to, "/admin/billing#settings");
    assert_eq!(flash.unwrap().field.as_deref(), Some("saved"));
    let rows = query_rows(
        &app.db.url,
        "SELECT platform_fee_micros, currency, markup_bps, grace_days FROM billing_settings
         ORDER BY effective_from",
    )
    .await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], rows[1]);
    assert_eq!(
        rows[0],
        json!({"platform_fee_micros": 1_500, "currency": "USD", "markup_bps": 750, "grace_days": 21})
    );
    let audits = query_rows(
        &app.db.url,
        "SELECT details - 'effective_from' AS d FROM audit_log
         WHERE action = 'billing.settings_changed' ORDER BY id",
    )
    .await;
    assert_eq!(audits.len(), 2);
    assert_eq!(audits[0], audits[1]);
    let page = web.page("/admin/billing", None).await;
    assert!(
        page.contains("0.001500 USD") && page.contains(&from_form),
        "{page}"
    );

    // A tenant's fee through the form: the tenant named, the fee stored.
    let (to, flash) = web
        .submit(
            "/admin/billing/tenant-fee",
            &[
                ("tenant", &owner.tenant_id),
                ("platform_fee", "0.0002"),
                ("effective_from", ""),
            ],
        )
        .await;
    assert_eq!(to, "/admin/billing#tenant-fee");
    assert_eq!(flash.unwrap().field.as_deref(), Some("saved"));
    let res: Value = app
        .get(
            &format!("/v1/admin/tenants/{}/billing", owner.tenant_id),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["overrides"][0]["platform_fee"]["amount"], "0.000200");
    let (to, flash) = web
        .submit(
            "/admin/billing/tenant-fee",
            &[
                ("tenant", &owner.tenant_id),
                ("platform_fee", "x"),
                ("effective_from", ""),
            ],
        )
        .await;
    assert_eq!(to, "/admin/billing#tenant-fee");
    assert_eq!(flash.unwrap().field.as_deref(), Some("platform_fee"));

    // Billing staff see the page but cannot post its settings forms.
    let staff = app.admin_session_of(&app.staff(Role::BillingStaff).await);
    assert_eq!(staff.get("/admin/billing").await.status, 200);
    let answer = staff
        .post(
            "/admin/billing/settings",
            &[("platform_fee", "0"), ("currency", "USD")],
        )
        .await;
    assert_eq!(answer.status, 403);
    app.cleanup().await;
}

/// The ledger amount of each message the tenant was billed, oldest first.
async fn message_amounts(app: &TestApp, owner: &Owner) -> Vec<i64> {
    ledger_rows(
        app,
        owner,
        "amount_micros",
        "AND kind = 'message' ORDER BY created_at, message_id",
    )
    .await
    .iter()
    .map(|r| r["amount_micros"].as_i64().unwrap())
    .collect()
}

/// A tenant's own markup (a contract price) replaces the default markup on platform providers'
/// cost for that tenant alone, from its day on; set through the API or the billing page's form,
/// it is stored and audited alike, and a bad percentage is refused by both naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_own_markup_prices_platform_providers_for_it_alone_through_either_door() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::PlatformAdmin).await;
    let web = app.admin_session_of(&admin);
    let (status, body) = put_settings(
        &app,
        &admin,
        json!({"platform_fee": {"amount": "0", "currency": "USD"},
               "default_markup_percent": "50", "grace_period_days": 14}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The operator's sandbox, at a cost of 0.0100 and no sell list: cost + markup.
    let platform = app
        .platform_provider(
            &admin,
            &json!({"name": "Platform sandbox", "kind": "sandbox", "credentials": {}}),
        )
        .await;
    app.platform_prices(&admin, &platform, "cost", &[("*", "0.0100", "USD")])
        .await;
    // Two tenants with no provider of their own.
    let (a, b) = (app.signup().await, app.signup().await);
    let (a_key, b_key) = (app.api_key(&a, "live").await, app.api_key(&b, "live").await);

    // B at 15 % through the API; A keeps the default.
    let (status, body) =
        put_tenant_fee(&app, &admin, &b.tenant_id, json!({"markup_percent": "15"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["markup_percent_today"],
            &body["platform_fee_today"]["amount"]
        ),
        (&json!("15.00"), &json!("0.000000"))
    );
    assert_eq!(
        (
            &body["overrides"][0]["markup_percent"],
            &body["overrides"][0]["platform_fee"]
        ),
        (&json!("15.00"), &Value::Null)
    );
    let sent = app.send_taken(&b_key, "contract markup").await;
    assert_eq!(sent["provider_id"], json!(platform), "{sent}");
    app.send_taken(&a_key, "default markup").await;
    assert_eq!(message_amounts(&app, &b).await, [11_500]);
    assert_eq!(message_amounts(&app, &a).await, [15_000]);

    // A bad percentage, refused alike by both doors.
    let (status, body) = put_tenant_fee(
        &app,
        &admin,
        &a.tenant_id,
        json!({"markup_percent": "12.345"}),
    )
    .await;
    web.assert_same_mistake(
        (status, &body),
        "/admin/billing/tenant-fee",
        &[
            ("tenant", &a.tenant_id),
            ("platform_fee", ""),
            ("markup_percent", "12.345"),
            ("effective_from", ""),
        ],
        "/admin/billing#tenant-fee",
        "markup_percent",
    )
    .await;

    // A at 5 % through the form.
    let (to, flash) = web
        .submit(
            "/admin/billing/tenant-fee",
            &[
                ("tenant", &a.tenant_id),
                ("platform_fee", ""),
                ("markup_percent", "5"),
                ("effective_from", ""),
            ],
        )
        .await;
    assert_eq!(to, "/admin/billing#tenant-fee");
    assert_eq!(flash.unwrap().field.as_deref(), Some("saved"));
    app.send_taken(&a_key, "form markup").await;
    assert_eq!(message_amounts(&app, &a).await, [15_000, 10_500]);
    assert_eq!(message_amounts(&app, &b).await, [11_500]);

    // Both doors stored and audited the same shape; the page lists both tenants' terms.
    let rows = query_rows(
        &app.db.url,
        "SELECT platform_fee_micros, markup_bps FROM tenant_fee_overrides ORDER BY markup_bps",
    )
    .await;
    assert_eq!(
        rows,
        [
            json!({"platform_fee_micros": null, "markup_bps": 500}),
            json!({"platform_fee_micros": null, "markup_bps": 1_500}),
        ]
    );
    let audits = query_rows(
        &app.db.url,
        "SELECT details - 'effective_from' AS d FROM audit_log
         WHERE action = 'billing.tenant_fee_changed' ORDER BY id",
    )
    .await;
    assert_eq!(
        audits,
        [
            json!({"d": {"platform_fee": null, "markup_percent": "15.00"}}),
            json!({"d": {"platform_fee": null, "markup_percent": "5.00"}}),
        ]
    );
    let page = web.page("/admin/billing", None).await;
    let table = page
        .split_once("id=\"tenant-terms\"")
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no terms table: {page}"));
    assert!(
        table.contains("15.00 %") && table.contains("5.00 %") && table.contains(&a.tenant_id),
        "{table}"
    );
    app.cleanup().await;
}
