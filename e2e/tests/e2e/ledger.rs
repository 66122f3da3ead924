//! The spend ledger against everything else that counts money: after a burst with failovers,
//! retries and cancellations, Σ ledger = Σ daily rollups = `GET /v1/spend` = Σ the messages'
//! own costs, to the micro-unit, and `openclaw-server billing reconcile` agrees (and names a
//! rollup row someone changed behind the ledger's back).

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
    let relay = Relay::start(&[("OPENCLAW_RETRY_DELAYS_MS", "100,100,100")]).await;
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
    let entries = query_i64(url, "SELECT count(*) FROM ledger_entries").await;
    let rollup = query_i64(url, "SELECT COALESCE(sum(cost_micros), 0) FROM spend_daily").await;
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
    let pool = openclaw_core::db::pool(url, 1).unwrap();
    openclaw_core::accounts::create_staff(
        &pool,
        "billing-staff@example.test",
        openclaw_core::domain::Role::BillingStaff,
        "staff password 42",
    )
    .await
    .unwrap();
    let staff = relay
        .login("billing-staff@example.test", "staff password 42")
        .await;
    let staff_report: Value = relay
        .get("/v1/admin/spend-report", &staff)
        .await
        .json()
        .await
        .unwrap();
    let amount = |m: &Value| {
        openclaw_core::domain::Money::parse_amount(m["amount"].as_str().unwrap()).unwrap()
    };
    let staff_line = amount(&staff_report["data"][0]["spend"]);
    let staff_total = amount(&staff_report["totals"][0]["spend"]);
    assert_eq!(staff_report["data"][0]["tenant_id"], owner.tenant_id);
    println!(
        "ledger {entries} entries, {ledger} micros; rollup {rolled_messages} messages, {rollup} \
         micros; /v1/spend {reported}; staff report {staff_line} (total {staff_total}); \
         messages {message_micros} ({rounds_retried} retried, {failed_over} failed over)"
    );
    assert_eq!(staff_line, ledger, "the staff report's line = Σ ledger");
    assert_eq!(staff_total, ledger, "the staff report's total = Σ ledger");
    assert!(message_micros > 0);
    assert_eq!(
        entries,
        live.len() as i64,
        "one entry per message a provider took"
    );
    assert_eq!(ledger, message_micros, "Σ ledger = Σ the messages' costs");
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

    // A rollup row changed behind the ledger's back is named, and the exit code says so.
    let changed = {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        let mut conn = AsyncPgConnection::establish(url).await.unwrap();
        diesel::sql_query(
            "UPDATE spend_daily SET cost_micros = cost_micros + 1
             WHERE (tenant_id, day, provider_id, country, message_type, currency) =
                   (SELECT tenant_id, day, provider_id, country, message_type, currency
                    FROM spend_daily ORDER BY country LIMIT 1)",
        )
        .execute(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!(changed, 1);
    let (agreed, out) = reconcile(&relay, &period);
    assert!(!agreed, "reconcile must fail on a mismatch: {out}");
    assert!(out.contains("mismatch: tenant"), "{out}");
    assert!(out.contains("1 rollup keys differ"), "{out}");
    let (ok, out) = reconcile(&relay, "2026-13");
    assert!(!ok && out.contains("YYYY-MM"), "{out}");
    relay.cleanup().await;
}
