//! Closing a month into Stripe invoices, against the fake Stripe (`openclaw_e2e::stripe`):
//! one invoice per tenant with anything billable, its lines frozen from the ledger (Σ ledger =
//! Σ invoices = the staff report = `billing reconcile`, to the micro-unit), one Stripe customer,
//! item and invoice each however often a step is repeated (Stripe answering 500, an answer
//! lost), Stripe's signed events applied once, and a tenant past due on an invoice refused
//! with 402 until it pays.

use std::time::Duration;

use chrono::Utc;
use openclaw_core::domain::{Period, Role};
use openclaw_e2e::app::{Options, Owner, TestApp, last_month};
use openclaw_e2e::services::query_i64;
use openclaw_e2e::stripe::FakeStripe;
use serde_json::{Value, json};

async fn fake_get(fake: &FakeStripe, path: &str) -> Value {
    reqwest::get(format!("{}{path}", fake.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn fake_post(fake: &FakeStripe, path: &str, body: Value) -> u16 {
    reqwest::Client::new()
        .post(format!("{}{path}", fake.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn set_fee(app: &TestApp, admin: &str, amount: &str) {
    let res = app
        .http
        .put(app.url("/v1/admin/billing/settings"))
        .bearer_auth(admin)
        .json(
            &json!({"platform_fee": {"amount": amount, "currency": "USD"}, "grace_period_days": 7}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// A tenant with a sandbox provider at 0.01 and `segments` live segments sent (one message
/// each, or one of two segments when `long`); returns its owner and live key.
async fn tenant_sending(app: &TestApp, bodies: &[&str]) -> (Owner, String) {
    let owner = app.signup().await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let key = app.api_key(&owner, "live").await;
    for body in bodies {
        app.send_taken(&key, body).await;
    }
    (owner, key)
}

/// Waits until the month's invoices are all closed (`done`), and returns them.
async fn closed_invoices(app: &TestApp, staff: &str, period: Period, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let page: Value = app
            .get(&format!("/v1/admin/invoices?period={period}"), staff)
            .await
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().cloned().unwrap_or_default();
        if data.len() == count && data.iter().all(|i| i["close_step"] == "done") {
            return data;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("the invoices of {period} were not all closed: {page:#}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn send_status(app: &TestApp, key: &str) -> (u16, Value) {
    let res = app
        .post(
            "/v1/messages",
            key,
            &json!({"to": "+14155552671", "body": "after the close"}),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Polls until a send answers `status` (a change takes a moment to reach every process).
async fn until_send_answers(app: &TestApp, key: &str, status: u16) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (got, body) = send_status(app, key).await;
        if got == status {
            return body;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("sends never answered {status}; the last answer was {got}: {body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_month_becomes_one_stripe_invoice_per_tenant_that_pays_its_way() {
    let (app, fake) = TestApp::spawn_with_stripe(Options::default()).await;
    let admin = app.staff(Role::PlatformAdmin).await;
    let billing = app.staff(Role::BillingStaff).await;
    set_fee(&app, &admin, "0.0125").await;
    let long = "y".repeat(200);
    // A: 4 segments (0.05 in fees, 5 cents); B: 1 (0.0125, 1.25 cents, billed 1); C: test-mode
    // only, nothing billable.
    let (a, a_key) = tenant_sending(&app, &["one", "two", &long]).await;
    let (b, b_key) = tenant_sending(&app, &["one"]).await;
    let c = app.signup().await;
    app.provider(&c, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let c_test = app.api_key(&c, "test").await;
    app.send_delivered(&c_test).await;
    for owner in [&a, &b, &c] {
        app.as_if_sent_last_month(owner).await;
    }
    let period = last_month();
    let this_month = Period::of(Utc::now().date_naive());

    // The month must be over; tenants may not close anything.
    let close = |token: String, p: Period| {
        let app = &app;
        async move {
            let res = app
                .post(
                    &format!("/v1/admin/billing/periods/{p}/close"),
                    &token,
                    &json!({}),
                )
                .await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = close(billing.clone(), this_month).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("period_not_over")),
        "{body}"
    );
    let (status, _) = close(a.access_token.clone(), period).await;
    assert_eq!(status, 403);
    let (status, body) = close(billing.clone(), period).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["period"], period.to_string());

    let invoices = closed_invoices(&app, &billing, period, 2).await;
    let of = |owner: &Owner| {
        invoices
            .iter()
            .find(|i| i["tenant_id"] == owner.tenant_id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no invoice for {}: {invoices:#?}", owner.tenant_id))
    };
    let (inv_a, inv_b) = (of(&a), of(&b));
    assert_eq!(inv_a["status"], "open", "{inv_a:#}");
    assert_eq!(
        inv_a["total"],
        json!({"amount": "0.050000", "currency": "USD"})
    );
    assert_eq!(
        inv_a["lines"],
        json!([{"kind": "platform_fee",
                "description": format!("OpenClaw platform fee, {period}: 4 segments at 0.012500 USD"),
                "quantity": 4,
                "unit_price": {"amount": "0.012500", "currency": "USD"},
                "amount": {"amount": "0.050000", "currency": "USD"}}])
    );
    assert_eq!(inv_b["total"]["amount"], "0.012500");
    for inv in [&inv_a, &inv_b] {
        assert!(
            inv["number"].is_string() && inv["hosted_invoice_url"].is_string(),
            "{inv:#}"
        );
        assert!(
            inv["stripe_invoice_id"]
                .as_str()
                .unwrap()
                .starts_with("in_")
        );
        let finalized: chrono::DateTime<Utc> =
            inv["finalized_at"].as_str().unwrap().parse().unwrap();
        let past_due: chrono::DateTime<Utc> = inv["past_due_at"].as_str().unwrap().parse().unwrap();
        let grace = past_due - finalized;
        assert!(
            (grace - chrono::Duration::days(7)).num_seconds().abs() < 60,
            "{inv:#}"
        );
    }
    // At Stripe: one customer, item and finalized invoice per tenant, in cents.
    let stats = fake_get(&fake, "/_fake/stats").await;
    assert_eq!(
        (
            stats["customers"].clone(),
            stats["invoice_items"].clone(),
            stats["invoices"].clone(),
            stats["finalized"].clone()
        ),
        (json!(2), json!(2), json!(2), json!(2)),
        "{stats}"
    );
    let stripe_total = |inv: &Value| {
        let id = inv["stripe_invoice_id"].as_str().unwrap().to_owned();
        let fake = &fake;
        async move {
            let res = reqwest::Client::new()
                .get(format!("{}/v1/invoices/{id}", fake.base_url()))
                .bearer_auth("sk_test_openclaw")
                .send()
                .await
                .unwrap();
            res.json::<Value>().await.unwrap()["total"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(stripe_total(&inv_a).await, 5);
    assert_eq!(stripe_total(&inv_b).await, 1);

    // Σ ledger = Σ invoices = the staff report's fees and invoices, to the micro-unit.
    let ledger_fees = query_i64(
        &app.db.url,
        &format!(
            "SELECT COALESCE(sum(amount_micros), 0) FROM ledger_entries WHERE kind = 'platform_fee'
             AND day BETWEEN '{}' AND '{}'",
            period.first_day(),
            period.last_day()
        ),
    )
    .await;
    assert_eq!(ledger_fees, 62_500);
    let report: Value = app
        .get(&format!("/v1/admin/spend-report?period={period}"), &billing)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        report["totals"][0]["platform_fees"]["amount"], "0.062500",
        "{report:#}"
    );
    assert_eq!(
        report["totals"][0]["invoiced"]["amount"], "0.062500",
        "{report:#}"
    );
    let line_a = report["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["tenant_id"] == a.tenant_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(line_a["invoice"]["total"], inv_a["total"]);
    assert_eq!(line_a["invoice"]["status"], "open");
    let pool = openclaw_core::db::pool(&app.db.url, 1).unwrap();
    let stripe = openclaw_core::billing::stripe::Stripe::new(
        &openclaw_core::billing::stripe::StripeConfig {
            secret_key: "sk_test_openclaw".to_owned().into(),
            api_base: fake.base_url(),
        },
    )
    .unwrap();
    let found = openclaw_core::billing::reconcile::run(&pool, Some(&stripe), period)
        .await
        .unwrap();
    assert!(found.mismatches.is_empty(), "{:?}", found.mismatches);
    assert_eq!(
        (found.closed, found.invoices, found.stripe_checked),
        (true, 2, 2)
    );

    // The tenant sees its own invoice; a developer does not; B sees only its own.
    let mine: Value = app
        .get("/v1/invoices", &a.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["data"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["data"][0]["id"], inv_a["id"]);
    assert!(mine["data"][0].get("close_step").is_none());
    let (_, developer) = app.member(&a, "developer").await;
    assert_eq!(app.get("/v1/invoices", &developer).await.status(), 403);
    let theirs: Value = app
        .get("/v1/invoices", &b.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["data"][0]["id"], inv_b["id"]);

    // Stripe's invoice.finalized events came back signed and were applied, once each.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while query_i64(
        &app.db.url,
        "SELECT count(*) FROM stripe_events WHERE type = 'invoice.finalized'",
    )
    .await
        != 2
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the finalized events were not applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Closing again changes nothing; what is sent now belongs to this month, never to the
    // closed invoice.
    let (status, body) = close(billing.clone(), period).await;
    assert_eq!((status, body["status"].clone()), (202, json!("closed")));
    let (status, _) = send_status(&app, &a_key).await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = closed_invoices(&app, &billing, period, 2).await;
    assert_eq!(
        again.iter().map(|i| i["total"].clone()).collect::<Vec<_>>(),
        invoices
            .iter()
            .map(|i| i["total"].clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(fake_get(&fake, "/_fake/stats").await["invoices"], 2);

    // Unpaid past its grace: A's live sends are refused with 402 and the link to pay;
    // test-mode sends go on; B is not affected.
    assert_eq!(app.make_past_due(&a).await, 1);
    let refused = until_send_answers(&app, &a_key, 402).await;
    assert_eq!(refused["error"]["code"], "payment_required", "{refused}");
    assert_eq!(refused["error"]["field"], Value::Null);
    let url = inv_a["hosted_invoice_url"].as_str().unwrap();
    assert!(
        refused["error"]["message"].as_str().unwrap().contains(url),
        "{refused}"
    );
    let a_test = app.api_key(&a, "test").await;
    assert_eq!(send_status(&app, &a_test).await.0, 202);
    assert_eq!(send_status(&app, &b_key).await.0, 202);
    // The admin app says why, on the dashboard and the spend page, with the link.
    let web = app.admin_session_of(&a.access_token);
    for page in ["/dashboard", "/spend"] {
        let html = web.page(page, None).await;
        assert!(
            html.contains("Payment required") && html.contains(url),
            "{page}: {html}"
        );
    }

    // Paying lifts it: Stripe's invoice.paid event marks the invoice paid.
    let stripe_a = inv_a["stripe_invoice_id"].as_str().unwrap();
    assert!(fake_post(&fake, &format!("/_fake/invoices/{stripe_a}/pay"), json!({})).await < 300);
    until_send_answers(&app, &a_key, 202).await;
    let mine: Value = app
        .get("/v1/invoices", &a.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["data"][0]["status"], "paid", "{mine}");
    assert!(mine["data"][0]["paid_at"].is_string());

    // The same event delivered again changes nothing; a forged one is refused.
    let events = fake_get(&fake, "/_fake/events").await;
    let paid = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "invoice.paid")
        .cloned()
        .unwrap();
    let paid_id = paid["id"].as_str().unwrap();
    assert_eq!(
        fake_post(&fake, &format!("/_fake/events/{paid_id}/resend"), json!({})).await,
        202
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = fake_get(&fake, "/_fake/events").await;
        let deliveries = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == paid_id)
            .map(|e| e["deliveries"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default();
        if deliveries.len() == 2 {
            assert!(
                deliveries.iter().all(|d| d["status"] == 200),
                "{deliveries:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the resent event was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        query_i64(
            &app.db.url,
            &format!("SELECT count(*) FROM stripe_events WHERE id = '{paid_id}'")
        )
        .await,
        1
    );
    let body = paid["event"].to_string();
    let forged = app
        .http
        .post(app.url("/hooks/stripe"))
        .header(
            "Stripe-Signature",
            format!("t={},v1={}", Utc::now().timestamp(), "0".repeat(64)),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let forged: Value = forged.json().await.unwrap();
    assert_eq!(forged["error"]["code"], "invalid_signature");
    app.cleanup().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_close_resumes_without_a_second_item_or_invoice() {
    let (app, fake) = TestApp::spawn_with_stripe(Options::default()).await;
    let admin = app.staff(Role::PlatformAdmin).await;
    set_fee(&app, &admin, "0.25").await;
    let (a, _) = tenant_sending(&app, &["one", "two"]).await;
    app.as_if_sent_last_month(&a).await;
    // The first invoice item is made at Stripe but its answer is lost; the first finalize
    // answers 500 without doing anything.
    for rule in [
        json!({"method": "POST", "path_prefix": "/v1/invoiceitems", "status": 500, "times": 1, "apply": true}),
        json!({"method": "POST", "path_prefix": "/v1/invoices/", "status": 500, "times": 1, "apply": false}),
    ] {
        assert!(fake_post(&fake, "/_fake/fail", rule).await < 300);
    }
    let period = last_month();
    let res = app
        .post(
            &format!("/v1/admin/billing/periods/{period}/close"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let invoices = closed_invoices(&app, &admin, period, 1).await;
    assert_eq!(invoices[0]["status"], "open");
    assert_eq!(invoices[0]["total"]["amount"], "0.500000");
    assert_eq!(invoices[0]["close_error"], Value::Null);
    // Each step was tried again with its own key: Stripe replayed the lost item instead of
    // making a second one.
    let stats = fake_get(&fake, "/_fake/stats").await;
    assert_eq!(
        (
            stats["customers"].clone(),
            stats["invoice_items"].clone(),
            stats["invoices"].clone(),
            stats["finalized"].clone()
        ),
        (json!(1), json!(1), json!(1), json!(1)),
        "{stats}"
    );
    let requests = fake_get(&fake, "/_fake/requests").await;
    let items: Vec<&Value> = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/v1/invoiceitems" && r["method"] == "POST")
        .collect();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0]["idempotency_key"], items[1]["idempotency_key"]);
    assert_eq!(items[1]["replayed"], true, "{items:?}");
    // The job failed twice on its way and ran to the end: it is gone.
    assert_eq!(query_i64(&app.db.url, "SELECT count(*) FROM jobs").await, 0);
    let pool = openclaw_core::db::pool(&app.db.url, 1).unwrap();
    let found = openclaw_core::billing::reconcile::run(&pool, None, period)
        .await
        .unwrap();
    assert!(found.mismatches.is_empty(), "{:?}", found.mismatches);
    app.cleanup().await;
    fake.stop().await;
}
