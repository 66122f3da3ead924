//! The spend ledger against everything else that counts money: after a burst with failovers,
//! retries and cancellations under a platform fee, Σ ledger = Σ daily rollups = `GET /v1/spend`
//! = the staff report = Σ the messages' own costs and fees, to the micro-unit; once the month
//! is closed, = the invoice's lines (and Stripe's invoice, at the fake Stripe); and
//! `openclaw-server billing reconcile` agrees (and names a rollup row or an invoice someone
//! changed behind the ledger's back).

use std::process::Command;

use openclaw_e2e::procs::{Relay, Simulator, binary};
use openclaw_e2e::services::query_i64;
use serde_json::{Value, json};

use crate::support::*;

fn reconcile(relay: &Relay, period: &str) -> (bool, String) {
    let out = Command::new(binary("openclaw-server"))
        .args(["billing", "reconcile", "--period", period])
        .env_clear()
        .envs(relay.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("running openclaw-server billing reconcile");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.success(), format!("{stdout}{stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_rollups_report_and_messages_agree_after_failovers_retries_and_cancels() {
    let sim = Simulator::start();
    let stripe = openclaw_e2e::stripe::spawn("127.0.0.1:0").await.unwrap();
    let stripe_base = stripe.base_url();
    let relay = Relay::start(&[
        ("OPENCLAW_RETRY_DELAYS_MS", "100,100,100"),
        ("OPENCLAW_STRIPE_SECRET_KEY", "sk_test_ledger"),
        ("OPENCLAW_STRIPE_API_BASE", &stripe_base),
        ("OPENCLAW_STRIPE_WEBHOOK_SECRET", "whsec_ledger"),
    ])
    .await;
    let res = reqwest::Client::new()
        .put(format!("{stripe_base}/_fake/config"))
        .json(&json!({"webhook_url": relay.url("/hooks/stripe"), "webhook_secret": "whsec_ledger"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let admin = relay
        .staff(openclaw_core::domain::Role::PlatformAdmin)
        .await;
    // A platform fee of 0.0025 per segment on every live message a provider takes.
    let res = relay
        .http
        .put(relay.url("/v1/admin/billing/settings"))
        .bearer_auth(&admin)
        .json(&json!({"platform_fee": {"amount": "0.0025", "currency": "USD"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let owner = relay.signup().await;
    two_providers(&relay, &sim, &owner).await;
    let key = relay.api_key(&owner, "live").await;
    // Twilio (cheaper) answers 500 to its first 25 requests, so those fail over to Vonage,
    // which throttles its first 8: those wait for a retry round.
    behave(
        &sim,
        TWILIO_SID,
        json!({"mode": "error_5xx", "fail_first": 25, "receipt": "delivered", "receipt_delay_ms": 50}),
    )
    .await;
    behave(
        &sim,
        VONAGE_KEY,
        json!({"mode": "throttle", "fail_first": 8, "receipt": "delivered", "receipt_delay_ms": 50}),
    )
    .await;

    let live: Vec<String> = futures::future::join_all((0..60).map(|i| {
        let (to, body) = match i % 3 {
            0 => ("+14155552671", format!("short {i}")),
            1 => (
                "+4915112345678",
                format!("{i} {}", "two segments ".repeat(13)),
            ),
            _ => ("+447911123456", format!("ünïcode {i}")),
        };
        let (relay, key) = (&relay, &key);
        async move { send(relay, key, to, &body).await }
    }))
    .await;
    // Ten scheduled for later and canceled before their time: never priced.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let mut canceled = Vec::new();
    for i in 0..10 {
        let res = relay
            .post(
                "/v1/messages",
                &key,
                &json!({"to": "+14155552671", "body": format!("later {i}"), "scheduled_at": later}),
            )
            .await;
        assert_eq!(res.status(), 202);
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = relay
            .post(&format!("/v1/messages/{id}/cancel"), &key, &json!({}))
            .await;
        assert_eq!(res.status(), 200);
        canceled.push(id);
    }

    let mut message_micros = 0i64;
    let mut rounds_retried = 0;
    let mut failed_over = 0;
    for id in &live {
        let done = relay.wait_for_status(&key, id, &["delivered"], LONG).await;
        let cost = done["cost"]["amount"]
            .as_str()
            .expect("a delivered message has a cost");
        message_micros += openclaw_core::domain::Money::parse_amount(cost).unwrap();
        let attempts = done["attempts"].as_array().unwrap();
        if attempts.iter().any(|a| a["round"].as_i64() > Some(0)) {
            rounds_retried += 1;
        }
        if attempts.iter().any(|a| a["outcome"] == "transient") {
            failed_over += 1;
        }
    }
    assert!(rounds_retried > 0, "the burst had retry rounds");
    assert!(failed_over > 0, "the burst had failovers");

    let url = &relay.db.url;
    let ledger = query_i64(
        url,
        "SELECT COALESCE(sum(amount_micros), 0) FROM ledger_entries",
    )
    .await;
    let ledger_costs = query_i64(
        url,
        "SELECT COALESCE(sum(amount_micros), 0) FROM ledger_entries WHERE kind = 'message'",
    )
    .await;
    let ledger_fees = query_i64(
        url,
        "SELECT COALESCE(sum(amount_micros), 0) FROM ledger_entries WHERE kind = 'platform_fee'",
    )
    .await;
    let segments = query_i64(
        url,
        "SELECT COALESCE(sum(segments), 0) FROM ledger_entries WHERE kind = 'message'",
    )
    .await;
    let entries = query_i64(
        url,
        "SELECT count(*) FROM ledger_entries WHERE kind = 'message'",
    )
    .await;
    let fee_entries = query_i64(
        url,
        "SELECT count(*) FROM ledger_entries WHERE kind = 'platform_fee'",
    )
    .await;
    let rollup = query_i64(
        url,
        "SELECT COALESCE(sum(cost_micros + fee_micros), 0) FROM spend_daily",
    )
    .await;
    let rolled_messages =
        query_i64(url, "SELECT COALESCE(sum(messages), 0) FROM spend_daily").await;
    let report: Value = relay
        .get("/v1/spend", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let reported =
        openclaw_core::domain::Money::parse_amount(report["total"]["amount"].as_str().unwrap())
            .unwrap();
    // The billing staff's report of the month, this tenant's line and the whole total.
    let staff = relay.staff(openclaw_core::domain::Role::BillingStaff).await;
    let staff_report: Value = relay
        .get("/v1/admin/spend-report", &staff)
        .await
        .json()
        .await
        .unwrap();
    let amount = |m: &Value| {
        openclaw_core::domain::Money::parse_amount(m["amount"].as_str().unwrap()).unwrap()
    };
    let staff_line = amount(&staff_report["data"][0]["spend"])
        + amount(&staff_report["data"][0]["platform_fees"]);
    let staff_total = amount(&staff_report["totals"][0]["spend"])
        + amount(&staff_report["totals"][0]["platform_fees"]);
    assert_eq!(staff_report["data"][0]["tenant_id"], owner.tenant_id);
    println!(
        "ledger {entries} entries, {ledger} micros; rollup {rolled_messages} messages, {rollup} \
         micros; /v1/spend {reported}; staff report {staff_line} (total {staff_total}); \
         messages {message_micros} ({rounds_retried} retried, {failed_over} failed over); \
         platform fees {ledger_fees} on {segments} segments"
    );
    assert_eq!(staff_line, ledger, "the staff report's line = Σ ledger");
    assert_eq!(staff_total, ledger, "the staff report's total = Σ ledger");
    assert!(message_micros > 0);
    assert_eq!(
        entries,
        live.len() as i64,
        "one entry per message a provider took"
    );
    assert_eq!(
        ledger_costs, message_micros,
        "Σ ledger = Σ the messages' costs"
    );
    assert_eq!(
        fee_entries, entries,
        "one fee entry per message a provider took"
    );
    assert_eq!(
        ledger_fees,
        segments * 2_500,
        "the fee per segment, on every segment"
    );
    assert_eq!(ledger, ledger_costs + ledger_fees);
    assert_eq!(rollup, ledger, "Σ rollups = Σ ledger");
    assert_eq!(rolled_messages, entries);
    assert_eq!(reported, ledger, "GET /v1/spend = Σ ledger");
    let for_canceled = query_i64(
        url,
        &format!(
            "SELECT count(*) FROM ledger_entries WHERE message_id IN ({})",
            canceled
                .iter()
                .map(|id| format!(
                    "'{}'",
                    openclaw_core::domain::MessageId::parse(id).unwrap().uuid()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .await;
    assert_eq!(for_canceled, 0, "a canceled message is never charged");

    let period = openclaw_core::domain::Period::of(chrono::Utc::now().date_naive()).to_string();
    let (agreed, out) = reconcile(&relay, &period);
    assert!(agreed, "reconcile after the burst: {out}");
    assert!(out.contains("agree"), "{out}");
    assert!(
        out.contains(&format!("{} messages", live.len())),
        "reconcile prints the ledger's totals: {out}"
    );

    // Closed (as if the burst had been last month): one invoice whose lines are the ledger's
    // fees, the same at Stripe, and reconcile agrees with Stripe's invoice too.
    openclaw_e2e::services::charged_last_month(url, &owner.tenant_id).await;
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
    let invoice = loop {
        let page: Value = relay
            .get(&format!("/v1/admin/invoices?period={month}"), &staff)
            .await
            .json()
            .await
            .unwrap();
        if page["data"][0]["close_step"] == "done" {
            break page["data"][0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the invoice was not closed: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let lines: i64 = invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| amount(&l["amount"]))
        .sum();
    assert_eq!(
        amount(&invoice["total"]),
        ledger_fees,
        "the invoice = Σ ledger fees"
    );
    assert_eq!(lines, ledger_fees, "Σ invoice lines = Σ ledger fees");
    let at_stripe: Value = reqwest::Client::new()
        .get(format!(
            "{stripe_base}/v1/invoices/{}",
            invoice["stripe_invoice_id"].as_str().unwrap()
        ))
        .bearer_auth("sk_test_ledger")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        at_stripe["total"].as_i64().unwrap(),
        (ledger_fees + 5_000) / 10_000,
        "Stripe's invoice, in cents, rounded half up: {at_stripe}"
    );
    let (agreed, out) = reconcile(&relay, &month.to_string());
    assert!(agreed, "reconcile after the close: {out}");
    assert!(
        out.contains("closed into 1 invoice (1 compared with Stripe)"),
        "{out}"
    );

    // A rollup row changed behind the ledger's back is named, and the exit code says so.
    let changed = openclaw_e2e::services::execute(
        url,
        "UPDATE spend_daily SET cost_micros = cost_micros + 1
         WHERE (tenant_id, day, provider_id, country, message_type, currency) =
               (SELECT tenant_id, day, provider_id, country, message_type, currency
                FROM spend_daily ORDER BY country LIMIT 1)",
    )
    .await;
    assert_eq!(changed, 1);
    let (agreed, out) = reconcile(&relay, &month.to_string());
    assert!(!agreed, "reconcile must fail on a mismatch: {out}");
    assert!(
        out.contains("mismatch: ledger and rollup differ: tenant"),
        "{out}"
    );
    assert!(out.contains("1 mismatch\n"), "{out}");
    // So is an invoice whose total no longer matches the ledger and its lines.
    openclaw_e2e::services::execute(url, "UPDATE invoices SET total_micros = total_micros + 1")
        .await;
    let (agreed, out) = reconcile(&relay, &month.to_string());
    assert!(!agreed, "{out}");
    assert!(out.contains("but the invoice totals"), "{out}");
    assert!(out.contains("but its lines sum to"), "{out}");
    assert!(out.contains("3 mismatches"), "{out}");
    let (ok, out) = reconcile(&relay, "2026-13");
    assert!(!ok && out.contains("YYYY-MM"), "{out}");
    relay.cleanup().await;
    stripe.stop().await;
}
