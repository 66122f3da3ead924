//! The staff spend report, `GET /v1/admin/spend-report`: every tenant's spend in a month from
//! the ledger, equal to each tenant's own `GET /v1/spend` and, in total, to the ledger; pages,
//! filters, the CSV download (RFC 4180, decimal strings, totals, no formulas for spreadsheets),
//! and who may read it.

use openclaw_core::domain::Role;
use openclaw_e2e::app::{Owner, TestApp};
use openclaw_e2e::services::query_rows;
use serde_json::{Value, json};

fn month() -> String {
    openclaw_core::domain::Period::of(chrono::Utc::now().date_naive()).to_string()
}

async fn report(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    let res = app
        .get(&format!("/v1/admin/spend-report{query}"), token)
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A tenant with a sandbox provider at `price`, `n` live messages delivered and one test one.
async fn tenant_with_spend(app: &TestApp, price: &str, n: usize) -> (Owner, String) {
    let owner = app.signup().await;
    let provider = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", price)])
        .await;
    let live = app.api_key(&owner, "live").await;
    let test = app.api_key(&owner, "test").await;
    let keys = std::iter::repeat_n(&live, n).chain([&test]);
    for key in keys {
        app.send_delivered(key).await;
    }
    (owner, provider)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_staff_read_every_tenants_spend_as_json_pages_and_csv() {
    let app = TestApp::spawn().await;
    let (a, a_provider) = tenant_with_spend(&app, "0.0123", 2).await;
    let (b, _) = tenant_with_spend(&app, "0.02", 1).await;
    // A name a spreadsheet would run, with a comma and quotes for the CSV to quote.
    let res = app
        .http
        .patch(app.url("/v1/settings"))
        .bearer_auth(&a.access_token)
        .json(&json!({"name": "=Acme, \"Best\" SMS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let billing = app.staff(Role::BillingStaff).await;
    let period = month();

    let (status, all) = report(&app, &billing, &format!("?period={period}")).await;
    assert_eq!(status, 200, "{all}");
    let mut ids = [a.tenant_id.clone(), b.tenant_id.clone()];
    ids.sort();
    let line = |id: &str| {
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["tenant_id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["tenant_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(
        line(&a.tenant_id),
        json!({"tenant_id": a.tenant_id, "tenant_name": "=Acme, \"Best\" SMS", "messages": 2,
               "segments": 2, "spend": {"amount": "0.024600", "currency": "USD"},
               "own_provider_spend": {"amount": "0.024600", "currency": "USD"},
               "platform_revenue": {"amount": "0.000000", "currency": "USD"},
               "platform_cost": {"amount": "0.000000", "currency": "USD"},
               "platform_margin": {"amount": "0.000000", "currency": "USD"},
               "platform_fees": {"amount": "0.000000", "currency": "USD"}, "invoice": null})
    );
    assert_eq!(
        line(&b.tenant_id)["spend"],
        json!({"amount": "0.020000", "currency": "USD"})
    );
    assert_eq!(
        all["totals"],
        json!([{"messages": 3, "segments": 3, "spend": {"amount": "0.044600", "currency": "USD"},
                "own_provider_spend": {"amount": "0.044600", "currency": "USD"},
                "platform_revenue": {"amount": "0.000000", "currency": "USD"},
                "platform_cost": {"amount": "0.000000", "currency": "USD"},
                "platform_margin": {"amount": "0.000000", "currency": "USD"},
                "platform_fees": {"amount": "0.000000", "currency": "USD"},
                "invoiced": {"amount": "0.000000", "currency": "USD"}}])
    );
    assert_eq!(all["next_cursor"], Value::Null);

    // Each line is what the tenant itself sees in GET /v1/spend; the totals are the ledger's.
    for owner in [&a, &b] {
        let res = app.get("/v1/spend?group_by=day", &owner.access_token).await;
        let own: Value = res.json().await.unwrap();
        assert_eq!(own["total"], line(&owner.tenant_id)["spend"], "{own}");
    }
    let ledger = query_rows(
        &app.db.url,
        "SELECT sum(amount_micros)::int8 AS micros, count(*) AS entries FROM ledger_entries",
    )
    .await;
    assert_eq!(ledger, [json!({"micros": 44_600, "entries": 3})]);

    // One tenant a page, with the totals of the whole report on each.
    let (_, first) = report(&app, &billing, &format!("?period={period}&limit=1")).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    assert_eq!(first["data"][0]["tenant_id"], ids[0].as_str());
    assert_eq!(first["totals"], all["totals"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = report(
        &app,
        &billing,
        &format!("?period={period}&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(second["data"][0]["tenant_id"], ids[1].as_str());
    assert_eq!(second["next_cursor"], Value::Null);

    // Filters: one tenant; one provider.
    for query in [
        format!("?period={period}&tenant={}", a.tenant_id),
        format!("?period={period}&provider={a_provider}"),
    ] {
        let (status, only) = report(&app, &billing, &query).await;
        assert_eq!(status, 200, "{only}");
        assert_eq!(only["data"], json!([line(&a.tenant_id)]), "{query}");
        assert_eq!(
            only["totals"][0]["spend"],
            json!({"amount": "0.024600", "currency": "USD"})
        );
    }
    // Another month has nothing.
    let (_, empty) = report(&app, &billing, "?period=2020-01").await;
    assert_eq!(
        empty,
        json!({"period": "2020-01", "data": [], "totals": [], "next_cursor": null})
    );

    // The CSV: every tenant, CRLF lines, quoted where RFC 4180 says, no formula left to run.
    let res = app
        .http
        .get(app.url(&format!("/v1/admin/spend-report?period={period}&limit=1")))
        .bearer_auth(&billing)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("openclaw-spend-{period}.csv"))
    );
    let csv = res.text().await.unwrap();
    let row = |id: &str| {
        if id == a.tenant_id {
            format!(
                "{period},{id},\"'=Acme, \"\"Best\"\" SMS\",USD,2,2,0.024600,0.024600,0.000000,0.000000,0.000000,0.000000,,\r\n"
            )
        } else {
            format!(
                "{period},{id},Acme,USD,1,1,0.020000,0.020000,0.000000,0.000000,0.000000,0.000000,,\r\n"
            )
        }
    };
    let expected = format!(
        "period,tenant_id,tenant_name,currency,messages,segments,spend,own_provider_spend,platform_revenue,platform_cost,platform_margin,platform_fees,invoice_total,invoice_status\r\n{}{}{period},TOTAL,,USD,3,3,0.044600,0.044600,0.000000,0.000000,0.000000,0.000000,0.000000,\r\n",
        row(&ids[0]),
        row(&ids[1]),
    );
    assert_eq!(csv, expected);

    // The admin app's door onto the same service: its download is the same CSV, its page
    // the same lines and totals, one tenant's drill-down its breakdowns.
    let staff_web = app.admin_session_of(&billing);
    let download = staff_web
        .get(&format!("/admin/spend-report.csv?period={period}"))
        .await;
    assert_eq!(download.status, 200);
    assert_eq!(download.body, expected);
    let page = staff_web
        .page(&format!("/admin/spend?period={period}&sort=name"), None)
        .await;
    for amount in ["0.044600 USD", "0.024600 USD", "0.020000 USD"] {
        assert!(page.contains(amount), "{amount}: {page}");
    }
    let page = staff_web
        .page(
            &format!("/admin/spend?period={period}&tenant={}", a.tenant_id),
            None,
        )
        .await;
    assert!(
        page.contains("By message type") && page.contains("transactional"),
        "{page}"
    );
    let owner_web = app.admin_session_of(&a.access_token);
    for path in [
        format!("/admin/spend-report.csv?period={period}"),
        format!("/admin/spend?period={period}"),
    ] {
        assert_eq!(owner_web.get(&path).await.status, 403, "{path}");
        let out = app.signed_out_browser().get(&path).await;
        assert_eq!(
            (out.status, out.location.as_str()),
            (303, "/sign-in"),
            "{path}"
        );
    }
    assert_eq!(
        staff_web
            .get("/admin/spend-report.csv?period=2026-13")
            .await
            .status,
        400
    );

    // Platform admins too; tenant people and API keys not; mistakes are named.
    let admin = app.staff(Role::PlatformAdmin).await;
    assert_eq!(
        report(&app, &admin, &format!("?period={period}")).await.0,
        200
    );
    let (status, body) = report(&app, &a.access_token, &format!("?period={period}")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let key = app.api_key(&b, "live").await;
    assert_eq!(
        report(&app, &key, &format!("?period={period}")).await.0,
        401
    );
    for (query, field) in [
        ("?period=2026-13", "period"),
        ("?period=december", "period"),
        (&format!("?period={period}&tenant=acme") as &str, "tenant"),
        (&format!("?period={period}&provider=prv_1"), "provider"),
        (&format!("?period={period}&limit=0"), "limit"),
        (&format!("?period={period}&cursor=x"), "cursor"),
    ] {
        let (status, body) = report(&app, &billing, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_field", "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    // Without a period: this month.
    let (status, body) = report(&app, &billing, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, all);
    let (status, body) = report(&app, &billing, "?limit=x").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_query");

    // Every read is in the platform audit log.
    let reads = query_rows(
        &app.db.url,
        "SELECT count(*) AS n FROM audit_log WHERE action = 'staff.read_spend_report'",
    )
    .await;
    assert!(reads[0]["n"].as_i64().unwrap() >= 8, "{reads:?}");
    app.cleanup().await;
}
