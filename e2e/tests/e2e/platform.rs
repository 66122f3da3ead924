//! Platform providers: a gateway account of the operator's (`/v1/admin/providers`, here a
//! Twilio account at the simulator) is a candidate in every tenant's routing at its sell price
//! — its sell list where it names one, else its cost plus the default markup — and competes
//! with the tenant's own providers on it. Its receipts reach the right tenant's messages; the
//! ledger bills the sell price and records the cost; the staff report splits own-provider spend
//! from platform revenue, cost and margin; the invoice bills the platform's messages with the
//! fees; reconcile agrees. Who may do what, and that tenants never see the operator's accounts.

use std::process::Command;

use openclaw_e2e::procs::{Relay, Simulator, binary};
use openclaw_e2e::services::{query_i64, query_rows};
use serde_json::{Value, json};

use crate::support::*;

fn amount(m: &Value) -> i64 {
    openclaw_core::domain::Money::parse_amount(m["amount"].as_str().expect("an amount")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_providers_route_at_their_sell_price_and_bill_revenue_cost_and_margin() {
    let sim = Simulator::start();
    let relay = Relay::start(&[]).await;
    let admin = relay
        .staff(openclaw_core::domain::Role::PlatformAdmin)
        .await;
    let staff = relay.staff(openclaw_core::domain::Role::BillingStaff).await;
    // A fee of 0.0010 per segment and a default markup of 50 % on platform providers' cost.
    let (status, body) = relay
        .put_json(
            "/v1/admin/billing/settings",
            &admin,
            &json!({"platform_fee": {"amount": "0.0010", "currency": "USD"},
                    "default_markup_percent": "50"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The operator's Twilio account: only platform admins add it.
    let new = json!({"name": "OpenClaw Twilio", "kind": "twilio",
                     "credentials": {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN},
                     "base_url": sim.base_url, "sender_ids": ["+14155550100"]});
    let res = relay.post("/v1/admin/providers", &staff, &new).await;
    assert_eq!(res.status(), 403, "billing staff read, never change");
    let res = relay.post("/v1/admin/providers", &admin, &new).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let platform = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (&created["cost_prices"], &created["sell_prices"]),
        (&json!([]), &json!([]))
    );
    assert!(!created.to_string().contains(TWILIO_TOKEN), "{created}");
    // Costs 0.0030 everywhere; sold at 0.0080 in Germany, elsewhere at cost + 50 % = 0.0045.
    relay
        .platform_prices(&admin, &platform, "cost", &[("*", "0.0030", "USD")])
        .await;
    let res = relay
        .http
        .put(relay.url(&format!("/v1/admin/providers/{platform}/sell-prices")))
        .bearer_auth(&admin)
        .header("Content-Type", "text/csv")
        .body("country,message_type,price,currency\nDE,,0.0080,USD\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let listed: Value = relay
        .get("/v1/admin/providers", &staff)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        (
            &listed["data"][0]["cost_prices"][0]["price"],
            &listed["data"][0]["sell_prices"][0]["country"]
        ),
        (&json!("0.003000"), &json!("DE"))
    );
    assert_eq!(
        listed["data"][0]["credentials"]["account_sid"]
            .as_str()
            .map(|s| s.contains('…')),
        Some(true),
        "masked: {listed}"
    );

    // Tenant A has its own Vonage account at 0.0060; tenant B has no provider at all.
    let a = relay.signup().await;
    let b = relay.signup().await;
    let own = relay
        .provider(
            &a,
            "vonage",
            json!({"api_key": VONAGE_KEY, "api_secret": VONAGE_SECRET}),
            Some(&sim.base_url),
            &[("*", "0.0060")],
        )
        .await;
    let res = relay
        .http
        .patch(relay.url(&format!("/v1/providers/{own}")))
        .bearer_auth(&a.access_token)
        .json(&json!({"sender_ids": ["+14155550100"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for owner in [&a, &b] {
        let res = relay.get("/v1/admin/providers", &owner.access_token).await;
        assert_eq!(
            res.status(),
            403,
            "tenants never see the operator's accounts"
        );
        let mine: Value = relay
            .get("/v1/providers", &owner.access_token)
            .await
            .json()
            .await
            .unwrap();
        assert!(!mine.to_string().contains(&platform), "{mine}");
        let res = relay
            .get(&format!("/v1/providers/{platform}"), &owner.access_token)
            .await;
        assert_eq!(res.status(), 404);
    }
    for account in [TWILIO_SID, VONAGE_KEY] {
        behave(
            &sim,
            account,
            json!({"mode": "accept", "receipt": "delivered", "receipt_delay_ms": 50}),
        )
        .await;
    }

    let us = "+14155552671";
    let de = "+4915112345678";
    let two_segments = "two segments ".repeat(13);
    let key_a = relay.api_key(&a, "live").await;
    let key_b = relay.api_key(&b, "live").await;
    // A: the US through the platform (0.0045 beats its own 0.0060), Germany through its own
    // Vonage (0.0060 beats 0.0080). B: everything through the platform.
    let mut sends: Vec<(&str, &str, String, String)> = Vec::new();
    for i in 0..4 {
        sends.push((&key_a, "a", us.into(), format!("a us {i}")));
    }
    for i in 0..2 {
        sends.push((&key_a, "a", de.into(), format!("a de {i}")));
    }
    for i in 0..3 {
        sends.push((&key_b, "b", us.into(), format!("b us {i}")));
    }
    sends.push((&key_b, "b", de.into(), "b de".into()));
    sends.push((&key_b, "b", de.into(), format!("b de {two_segments}")));
    let mut expected_via = Vec::new();
    for (key, who, to, body) in &sends {
        let res = relay
            .post("/v1/messages", key, &json!({"to": to, "body": body}))
            .await;
        assert_eq!(res.status(), 202);
        let accepted: Value = res.json().await.unwrap();
        let via = if *who == "a" && to == de {
            &own
        } else {
            &platform
        };
        expected_via.push((
            key.to_string(),
            accepted["id"].as_str().unwrap().to_owned(),
            via.clone(),
        ));
    }
    let mut costs = Vec::new();
    for (key, id, via) in &expected_via {
        // Delivered: the platform's receipts (signed with its token, carrying no tenant) found
        // each tenant's message.
        let done = relay.wait_for_status(key, id, &["delivered"], LONG).await;
        assert_eq!(&done["provider_id"], via, "{done}");
        costs.push(done["cost"]["amount"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        costs,
        [
            "0.004500", "0.004500", "0.004500", "0.004500", "0.006000", "0.006000", "0.004500",
            "0.004500", "0.004500", "0.008000", "0.016000"
        ]
    );
    assert_eq!(received(&sim, TWILIO_SID).await.len(), 9);
    assert_eq!(received(&sim, VONAGE_KEY).await.len(), 2);

    // The ledger bills the sell price and records the operator's cost on the platform's
    // messages only.
    let url = &relay.db.url;
    let platform_uuid = openclaw_core::domain::ProviderId::parse(&platform)
        .unwrap()
        .uuid();
    let rows = query_rows(
        url,
        &format!(
            "SELECT sum(amount_micros)::int8 AS billed, sum(platform_cost_micros)::int8 AS cost,
                    count(*) FILTER (WHERE platform_cost_micros IS NULL)::int8 AS without
             FROM ledger_entries WHERE kind = 'message' AND provider_id = '{platform_uuid}'"
        ),
    )
    .await;
    assert_eq!(
        rows[0],
        json!({"billed": 18_000 + 37_500, "cost": 12_000 + 18_000, "without": 0})
    );
    assert_eq!(
        query_i64(
            url,
            "SELECT count(*) FROM ledger_entries
             WHERE kind = 'message' AND platform_cost_micros IS NOT NULL
               AND provider_id <> (SELECT id FROM providers WHERE tenant_id IS NULL)"
        )
        .await,
        0,
        "a tenant's own provider has no platform cost"
    );

    // The staff report: spend split into own providers and platform revenue, cost, margin.
    let report: Value = relay
        .get("/v1/admin/spend-report", &staff)
        .await
        .json()
        .await
        .unwrap();
    let line = |tenant: &str| {
        report["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["tenant_id"] == tenant)
            .cloned()
            .unwrap_or_else(|| panic!("no line for {tenant}: {report}"))
    };
    let figures = |l: &Value| {
        [
            "spend",
            "own_provider_spend",
            "platform_revenue",
            "platform_cost",
            "platform_margin",
            "platform_fees",
        ]
        .map(|f| amount(&l[f]))
    };
    assert_eq!(
        figures(&line(&a.tenant_id)),
        [30_000, 12_000, 18_000, 12_000, 6_000, 6_000]
    );
    assert_eq!(
        figures(&line(&b.tenant_id)),
        [37_500, 0, 37_500, 18_000, 19_500, 6_000]
    );
    assert_eq!(
        figures(&report["totals"][0]),
        [67_500, 12_000, 55_500, 30_000, 25_500, 12_000]
    );
    let csv = relay
        .http
        .get(relay.url("/v1/admin/spend-report"))
        .bearer_auth(&staff)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains(",USD,11,12,0.067500,0.012000,0.055500,0.030000,0.025500,0.012000,"),
        "{csv}"
    );

    // Closed: each invoice bills the platform's messages at their sell price, a line per
    // price, with the fees; the tenant's own Vonage spend is its gateway's to bill.
    for owner in [&a, &b] {
        openclaw_e2e::services::charged_last_month(url, &owner.tenant_id).await;
    }
    let month = openclaw_e2e::app::last_month();
    let res = relay
        .post(
            &format!("/v1/admin/billing/periods/{month}/close"),
            &staff,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let deadline = tokio::time::Instant::now() + LONG;
    let invoices = loop {
        let page: Value = relay
            .get(&format!("/v1/admin/invoices?period={month}"), &staff)
            .await
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().cloned().unwrap_or_default();
        if data.len() == 2 && data.iter().all(|i| i["close_step"] == "done") {
            break data;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the invoices were not closed: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let invoice_of = |tenant: &str| {
        invoices
            .iter()
            .find(|i| i["tenant_id"] == tenant)
            .cloned()
            .unwrap_or_else(|| panic!("no invoice for {tenant}: {invoices:?}"))
    };
    let lines = |invoice: &Value| -> Vec<(String, i64, i64, i64)> {
        invoice["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["kind"].as_str().unwrap().to_owned(),
                    l["quantity"].as_i64().unwrap(),
                    amount(&l["unit_price"]),
                    amount(&l["amount"]),
                )
            })
            .collect()
    };
    let a_invoice = invoice_of(&a.tenant_id);
    let mut a_lines = lines(&a_invoice);
    a_lines.sort();
    assert_eq!(
        a_lines,
        [
            ("platform_fee".to_owned(), 6, 1_000, 6_000),
            ("platform_messages".to_owned(), 4, 4_500, 18_000)
        ],
        "{a_invoice}"
    );
    assert_eq!(amount(&a_invoice["total"]), 24_000);
    let b_invoice = invoice_of(&b.tenant_id);
    let mut b_lines = lines(&b_invoice);
    b_lines.sort();
    assert_eq!(
        b_lines,
        [
            ("platform_fee".to_owned(), 6, 1_000, 6_000),
            ("platform_messages".to_owned(), 3, 4_500, 13_500),
            ("platform_messages".to_owned(), 3, 8_000, 24_000)
        ],
        "{b_invoice}"
    );
    assert_eq!(amount(&b_invoice["total"]), 43_500);

    let out = Command::new(binary("openclaw-server"))
        .args(["billing", "reconcile", "--period", &month.to_string()])
        .env_clear()
        .envs(relay.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("running openclaw-server billing reconcile");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "reconcile: {printed}");

    // Changes are audited on the platform's log, with no tenant.
    assert_eq!(
        query_i64(
            url,
            "SELECT count(*) FROM audit_log WHERE tenant_id IS NULL
               AND action IN ('provider.created', 'provider.prices_changed')"
        )
        .await,
        3
    );
    // Removed, it is no longer a candidate: B's next send has no route.
    let res = relay
        .http
        .delete(relay.url(&format!("/v1/admin/providers/{platform}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = relay
        .post("/v1/messages", &key_b, &json!({"to": us, "body": "after"}))
        .await;
    assert_eq!(res.status(), 422);
    relay.cleanup().await;
}
