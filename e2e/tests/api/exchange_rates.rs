//! The operator's exchange rates (`GET|PUT /v1/admin/exchange-rates`): a price in another
//! currency than its tenant's is refused at upload (422) until there is a rate; with one it is
//! routed, estimated and charged at the converted price, and the ledger entry keeps the price
//! as given and the rate used; a new rate applies to what is sent next and never to what was
//! charged; a rate that prices are in cannot be removed; who may do what; and the admin app's
//! form onto the same service.

use openclaw_core::domain::{Role, TenantId};
use openclaw_e2e::app::{Owner, TestApp};
use openclaw_e2e::services::{query_i64, query_rows};
use serde_json::{Value, json};

async fn put_rates(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    app.put_json("/v1/admin/exchange-rates", token, &body).await
}

/// Sets the platform fee to 0.0010 per segment in `currency`, as of today.
async fn put_fee(app: &TestApp, token: &str, currency: &str) -> (u16, Value) {
    app.put_json(
        "/v1/admin/billing/settings",
        token,
        &json!({"platform_fee": {"amount": "0.0010", "currency": currency},
                "default_markup_percent": "0", "grace_period_days": 14}),
    )
    .await
}

async fn put_prices(app: &TestApp, owner: &Owner, provider: &str, prices: Value) -> (u16, Value) {
    let path = format!("/v1/providers/{provider}/prices");
    app.put_json(&path, &owner.access_token, &json!({ "prices": prices }))
        .await
}

async fn put_csv(app: &TestApp, owner: &Owner, provider: &str, csv: &str) -> (u16, Value) {
    let res = app
        .http
        .put(app.url(&format!("/v1/providers/{provider}/prices")))
        .bearer_auth(&owner.access_token)
        .header("Content-Type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The message's ledger entry as the ledger keeps it.
async fn entry(app: &TestApp, message: &Value) -> Value {
    let id = openclaw_core::domain::MessageId::parse(message["id"].as_str().unwrap())
        .unwrap()
        .uuid();
    let rows = query_rows(
        &app.db.url,
        &format!(
            "SELECT amount_micros, currency, source_currency, source_micros, rate_e9
             FROM ledger_entries WHERE message_id = '{id}' AND kind = 'message'"
        ),
    )
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_in_another_currency_is_charged_at_the_rate_and_the_ledger_keeps_it() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::PlatformAdmin).await;
    let billing = app.staff(Role::BillingStaff).await;
    let owner = app.signup().await;
    let key = app.api_key(&owner, "live").await;
    // Two gateways: one priced in the tenant's USD, one to be priced in euros.
    let usd = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0100")])
        .await;
    let eur = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0200")])
        .await;
    let in_eur = json!([{"country": "*", "price": "0.0090", "currency": "EUR"}]);

    // No rate: refused at upload, naming the entry, in the JSON and the CSV door alike.
    let (status, body) = put_prices(&app, &owner, &eur, in_eur.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "no_exchange_rate");
    assert_eq!(body["error"]["field"], "prices[0].currency");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no exchange rate from EUR into USD"),
        "{body}"
    );
    let (status, body) = put_csv(
        &app,
        &owner,
        &eur,
        "country,message_type,price,currency\n*,,0.0090,EUR\n",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, json!("no_exchange_rate")),
        "{body}"
    );

    // Staff read the rates; only platform admins set them; tenants see neither.
    let res = app.get("/v1/admin/exchange-rates", &billing).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"data": []}));
    assert_eq!(
        app.get("/v1/admin/exchange-rates", &owner.access_token)
            .await
            .status(),
        403
    );
    let rate = json!({"rates": [{"from": "eur", "to": "USD", "rate": "1.0845"}]});
    for token in [&billing, &owner.access_token] {
        let (status, body) = put_rates(&app, token, rate.clone()).await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = put_rates(&app, &admin, rate).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            &body["data"][0]["from"],
            &body["data"][0]["to"],
            &body["data"][0]["rate"]
        ),
        (&json!("EUR"), &json!("USD"), &json!("1.0845"))
    );

    // With the rate the euro price is taken, stored as given, and shown as given.
    let (status, body) = put_prices(&app, &owner, &eur, in_eur.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["prices"][0]["currency"], "EUR");
    assert_eq!(body["prices"][0]["price"], "0.009000");

    // Routed at the converted price: 0.0090 EUR × 1.0845 = 0.00976050 USD, half to even
    // 0.009760, cheaper than 0.0100 USD. Estimated and charged so; the ledger keeps the rate.
    let sent = app.send_taken(&key, "priced in euros").await;
    assert_eq!(sent["provider_id"], eur, "{sent}");
    assert_eq!(
        sent["cost"],
        json!({"amount": "0.009760", "currency": "USD"})
    );
    assert_eq!(
        entry(&app, &sent).await,
        json!({"amount_micros": 9_760, "currency": "USD", "source_currency": "EUR",
               "source_micros": 9_000, "rate_e9": 1_084_500_000i64})
    );
    // Two segments: the price per segment converted, times two.
    let long = app.send_taken(&key, &"x".repeat(200)).await;
    assert_eq!(long["cost"]["amount"], "0.019520", "{long}");
    assert_eq!(entry(&app, &long).await["source_micros"], 18_000);

    // A new rate applies to the next send at once (every process forgot its routes): at 1.2
    // the euro price is 0.0108 USD, so the USD gateway is now the cheaper one. What was
    // charged keeps its rate.
    let (status, body) = put_rates(
        &app,
        &admin,
        json!({"rates": [{"from": "EUR", "to": "USD", "rate": "1.2"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let next = app.send_taken(&key, "after the new rate").await;
    assert_eq!(next["provider_id"], usd, "{next}");
    assert_eq!(
        entry(&app, &next).await,
        json!({"amount_micros": 10_000, "currency": "USD", "source_currency": null,
               "source_micros": null, "rate_e9": null})
    );
    assert_eq!(entry(&app, &sent).await["rate_e9"], 1_084_500_000i64);
    // The spend the tenant sees is in its currency, converted.
    let spend: Value = app
        .get("/v1/spend", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(spend["total"]["amount"], "0.039280", "{spend}");

    // A rate that prices are in cannot be removed; once they are in USD it can.
    let (status, body) = put_rates(&app, &admin, json!({"rates": []})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "rates");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("1 price of tenants billed in USD is in EUR"),
        "{body}"
    );
    let (status, _) = put_prices(
        &app,
        &owner,
        &eur,
        json!([{"country": "*", "price": "0.02", "currency": "USD"}]),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = put_rates(&app, &admin, json!({"rates": []})).await;
    assert_eq!((status, body), (200, json!({"data": []})));

    // Every change is audited with what changed; a PUT that changes nothing is not.
    let (status, _) = put_rates(&app, &admin, json!({"rates": []})).await;
    assert_eq!(status, 200);
    let audited = query_rows(
        &app.db.url,
        "SELECT details FROM audit_log WHERE action = 'billing.exchange_rates_changed'
         ORDER BY created_at",
    )
    .await;
    assert_eq!(
        audited,
        [
            json!({"details": {"changes": [{"from": "EUR", "to": "USD", "was": null, "rate": "1.0845"}]}}),
            json!({"details": {"changes": [{"from": "EUR", "to": "USD", "was": "1.0845", "rate": "1.2"}]}}),
            json!({"details": {"changes": [{"from": "EUR", "to": "USD", "was": "1.2", "rate": null}]}}),
        ]
    );
    let tenant = TenantId::parse(&owner.tenant_id).unwrap().uuid();
    assert_eq!(
        query_i64(
            &app.db.url,
            &format!(
                "SELECT count(*) FROM ledger_entries WHERE tenant_id = '{tenant}'
                 AND rate_e9 IS NOT NULL"
            )
        )
        .await,
        2
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_doors_refuse_the_same_rates_and_store_the_same_list() {
    let app = TestApp::spawn_with(openclaw_e2e::app::Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let admin = app.staff(Role::PlatformAdmin).await;
    let web = app.admin_session_of(&admin);
    // The API names the entry (`rates[1].rate`), the form its line; the sentence after the
    // place is the same.
    for (api, lines, api_field) in [
        (
            json!([{"from": "EUR", "to": "USD", "rate": "1"}, {"from": "GBP", "to": "USD", "rate": "0"}]),
            "EUR,USD,1\nGBP,USD,0",
            "rates[1].rate",
        ),
        (
            json!([{"from": "EURO", "to": "USD", "rate": "1"}]),
            "EURO,USD,1",
            "rates[0].from",
        ),
        (
            json!([{"from": "USD", "to": "USD", "rate": "1"}]),
            "USD,USD,1",
            "rates[0].to",
        ),
        (
            json!([{"from": "EUR", "to": "USD", "rate": "1.0000000001"}]),
            "EUR,USD,1.0000000001",
            "rates[0].rate",
        ),
        (
            json!([{"from": "EUR", "to": "USD", "rate": "1"}, {"from": "eur", "to": "usd", "rate": "2"}]),
            "EUR,USD,1\neur,usd,2",
            "rates",
        ),
    ] {
        let (status, body) = put_rates(&app, &admin, json!({ "rates": api })).await;
        assert_eq!(
            (status, &body["error"]["field"]),
            (400, &json!(api_field)),
            "{body}"
        );
        let (to, flash) = web
            .submit("/admin/billing/rates", &[("rates", lines)])
            .await;
        assert_eq!(to, "/admin/billing#rates", "{lines}");
        let flash = flash.unwrap_or_else(|| panic!("{lines}: no flash"));
        assert_eq!(flash.field.as_deref(), Some("rates"), "{flash:?}");
        let sentence = |m: &str| m.split_once(": ").map(|(_, s)| s.to_owned()).unwrap();
        assert_eq!(
            sentence(&flash.message),
            sentence(body["error"]["message"].as_str().unwrap()),
            "{lines}: the form and the API disagree"
        );
    }
    let (to, flash) = web
        .submit("/admin/billing/rates", &[("rates", "EUR,USD\n")])
        .await;
    assert_eq!(to, "/admin/billing#rates");
    assert!(
        flash
            .unwrap()
            .message
            .starts_with("Line 1: write a rate as")
    );
    assert_eq!(
        query_i64(&app.db.url, "SELECT count(*) FROM exchange_rates").await,
        0
    );

    // The same list through each door stores the same rates.
    let (to, flash) = web
        .submit(
            "/admin/billing/rates",
            &[("rates", "EUR,USD,1.0845\n\nGBP, USD, 1.27\n")],
        )
        .await;
    assert_eq!(to, "/admin/billing#rates");
    assert_eq!(flash.unwrap().field.as_deref(), Some("saved"));
    let from_form: Value = app
        .get("/v1/admin/exchange-rates", &admin)
        .await
        .json()
        .await
        .unwrap();
    let (status, from_api) = put_rates(
        &app,
        &admin,
        json!({"rates": [{"from": "GBP", "to": "USD", "rate": "1.270"},
                         {"from": "EUR", "to": "USD", "rate": "1.0845"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(from_api, from_form, "the same rates, unchanged");
    let pairs: Vec<(String, String)> = from_api["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["from"].to_string(), r["rate"].to_string()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("\"EUR\"".into(), "\"1.0845\"".into()),
            ("\"GBP\"".into(), "\"1.27\"".into())
        ]
    );
    // One audit record: the API's PUT changed nothing.
    assert_eq!(
        query_i64(
            &app.db.url,
            "SELECT count(*) FROM audit_log WHERE action = 'billing.exchange_rates_changed'"
        )
        .await,
        1
    );
    app.cleanup().await;
}

/// The tenant's ledger entries of `kind` as the ledger keeps them, oldest first.
async fn tenant_entries(app: &TestApp, owner: &Owner, kind: &str) -> Vec<Value> {
    let tenant = TenantId::parse(&owner.tenant_id).unwrap().uuid();
    query_rows(
        &app.db.url,
        &format!(
            "SELECT amount_micros, currency, source_currency, source_micros, rate_e9
             FROM ledger_entries WHERE tenant_id = '{tenant}' AND kind = '{kind}'
             ORDER BY created_at, message_id"
        ),
    )
    .await
}

/// A tenant's billing currency is set by platform admins, through the API or the billing
/// page's form alike, only before anything is billed in the old one and only into a currency
/// its prices and the platform fee convert into; then its prices and the operator's fee are
/// charged converted, and each ledger entry keeps what it was converted from and the rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_billed_in_euros_is_charged_its_prices_and_the_fee_converted_through_either_door()
{
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::PlatformAdmin).await;
    let billing = app.staff(Role::BillingStaff).await;
    let web = app.admin_session_of(&admin);
    let (status, body) = put_fee(&app, &admin, "USD").await;
    assert_eq!(status, 200, "{body}");
    let owner = app.signup().await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.0100")])
        .await;
    let key = app.api_key(&owner, "live").await;
    let currency = format!("/v1/admin/tenants/{}/currency", owner.tenant_id);

    // Only platform admins; a bad code names the field; no rate from USD into EUR yet.
    for token in [&billing, &owner.access_token] {
        let (status, body) = app
            .put_json(&currency, token, &json!({"currency": "EUR"}))
            .await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = app
        .put_json(&currency, &admin, &json!({"currency": "EURO"}))
        .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("currency")),
        "{body}"
    );
    let (status, body) = app
        .put_json(&currency, &admin, &json!({"currency": "eur"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        (&body["error"]["code"], &body["error"]["field"]),
        (&json!("no_exchange_rate"), &json!("currency"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("are in USD, with no exchange rate into EUR"),
        "{body}"
    );

    // With a rate the tenant is billed in euros: its USD price and the USD fee convert.
    let (status, body) = put_rates(
        &app,
        &admin,
        json!({"rates": [{"from": "USD", "to": "EUR", "rate": "0.9234"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .put_json(&currency, &admin, &json!({"currency": "eur"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["currency"], &body["platform_fee_today"]),
        (
            &json!("EUR"),
            &json!({"amount": "0.000923", "currency": "EUR"})
        )
    );
    // 0.0100 USD × 0.9234 = 0.009234 EUR; the fee 0.0010 USD × 0.9234 = 0.0009234, half to
    // even 0.000923.
    let sent = app.send_taken(&key, "billed in euros").await;
    assert_eq!(
        sent["cost"],
        json!({"amount": "0.009234", "currency": "EUR"})
    );
    let long = app.send_taken(&key, &"x".repeat(200)).await;
    assert_eq!(long["cost"]["amount"], "0.018468", "{long}");
    assert_eq!(
        tenant_entries(&app, &owner, "platform_fee").await,
        [
            json!({"amount_micros": 923, "currency": "EUR", "source_currency": "USD",
                   "source_micros": 1_000, "rate_e9": 923_400_000}),
            json!({"amount_micros": 1_846, "currency": "EUR", "source_currency": "USD",
                   "source_micros": 2_000, "rate_e9": 923_400_000}),
        ]
    );
    assert_eq!(
        tenant_entries(&app, &owner, "message").await[0],
        json!({"amount_micros": 9_234, "currency": "EUR", "source_currency": "USD",
               "source_micros": 10_000, "rate_e9": 923_400_000})
    );
    let spend: Value = app
        .get("/v1/spend", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        spend["total"],
        json!({"amount": "0.030471", "currency": "EUR"}),
        "{spend}"
    );

    // Billed in euros now: its currency no longer changes. The fee's rate cannot be removed,
    // and a fee in a currency with no rate into EUR is refused.
    let (status, body) = app
        .put_json(&currency, &admin, &json!({"currency": "GBP"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "currency_in_use");
    let (status, body) = put_rates(&app, &admin, json!({"rates": []})).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("rates")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("The platform fee is in USD and some tenants are billed in EUR"),
        "{body}"
    );
    let (status, body) = put_fee(&app, &admin, "GBP").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        (&body["error"]["code"], &body["error"]["field"]),
        (&json!("no_exchange_rate"), &json!("platform_fee"))
    );

    // Through the form: a tenant with a budget in USD is told to remove it first; without
    // one it is set, and the page lists it in EUR.
    let other = app.signup().await;
    let (status, body) = app
        .put_json(
            "/v1/budget",
            &other.access_token,
            &json!({"monthly_limit": {"amount": "5", "currency": "USD"},
                    "alert_thresholds": [80], "hard_cap": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let fields = [("tenant", other.tenant_id.as_str()), ("currency", "EUR")];
    let (to, flash) = web.submit("/admin/billing/tenant-currency", &fields).await;
    assert_eq!(to, "/admin/billing#tenant-currency");
    let flash = flash.expect("a flash");
    assert_eq!(flash.field.as_deref(), Some("currency"), "{flash:?}");
    assert!(
        flash.message.starts_with("Its budget is in USD"),
        "{flash:?}"
    );
    let res = app
        .http
        .delete(app.url("/v1/budget"))
        .bearer_auth(&other.access_token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let (to, flash) = web.submit("/admin/billing/tenant-currency", &fields).await;
    assert_eq!(to, "/admin/billing#tenant-currency");
    assert_eq!(flash.unwrap().field.as_deref(), Some("saved"));
    let res = app
        .get(
            &format!("/v1/admin/tenants/{}/billing", other.tenant_id),
            &billing,
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["currency"], "EUR");
    let page = web.page("/admin/billing", None).await;
    assert!(
        page.contains(&format!("({}), billed in EUR", other.tenant_id)),
        "{page}"
    );

    // A platform provider's prices are charged in every tenant's currency: one in pounds is
    // refused while neither euros nor dollars have a rate from it.
    let platform = app
        .platform_provider(
            &admin,
            &json!({"name": "Platform sandbox", "kind": "sandbox", "credentials": {}}),
        )
        .await;
    app.platform_prices(&admin, &platform, "cost", &[("*", "0.0200", "USD")])
        .await;
    let (status, body) = app
        .put_json(
            &format!("/v1/admin/providers/{platform}/cost-prices"),
            &admin,
            &json!({"prices": [{"country": "*", "price": "0.0200", "currency": "GBP"}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no exchange rate from GBP into EUR, USD"),
        "{body}"
    );

    // Both doors audited the same shape.
    let audits = query_rows(
        &app.db.url,
        "SELECT target, details FROM audit_log
         WHERE action = 'billing.tenant_currency_changed' ORDER BY id",
    )
    .await;
    assert_eq!(
        audits,
        [
            json!({"target": owner.tenant_id, "details": {"from": "USD", "to": "EUR"}}),
            json!({"target": other.tenant_id, "details": {"from": "USD", "to": "EUR"}}),
        ]
    );
    app.cleanup().await;
}
