//! The monthly budget through both doors: `GET|PUT|DELETE /v1/budget` and the admin app's
//! spend page call one service (`openclaw_core::budgets`); the same budget stores the same row
//! and the same audit record through either, the same mistake gets the same field and
//! sentence, and what was spent this month is the ledger's sum.

use openclaw_e2e::app::{Options, Owner, TestApp};
use openclaw_e2e::services::query_rows;
use serde_json::{Value, json};

/// The password `Api::signup` gives every owner.
const OWNER_PASSWORD: &str = "correct horse battery";

async fn put(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let res = app
        .http
        .put(app.url("/v1/budget"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn read(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app.get("/v1/budget", token).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn tenant_uuid(owner: &Owner) -> uuid::Uuid {
    openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid()
}

/// The tenant's budget row as stored (without its time), or nothing.
async fn stored(app: &TestApp, owner: &Owner) -> Vec<Value> {
    query_rows(
        &app.db.url,
        &format!(
            "SELECT monthly_limit_micros, currency, alert_thresholds, hard_cap FROM budgets \
             WHERE tenant_id = '{}'",
            tenant_uuid(owner)
        ),
    )
    .await
}

/// The budget changes audited for the tenant, oldest first (without their own ids and times).
async fn audited(app: &TestApp, owner: &Owner) -> Vec<Value> {
    query_rows(
        &app.db.url,
        &format!(
            "SELECT tenant_id, actor_id, actor, actor_kind, ip, user_agent, action, target, details \
             FROM audit_log WHERE tenant_id = '{}' AND action LIKE 'budget.%' ORDER BY id",
            tenant_uuid(owner)
        ),
    )
    .await
}

fn month() -> String {
    openclaw_core::domain::Period::of(chrono::Utc::now().date_naive()).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_is_set_read_and_removed_and_counts_what_the_ledger_holds() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let (status, none) = read(&app, &owner.access_token).await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(
        none,
        json!({"monthly_limit": null, "alert_thresholds": [], "hard_cap": false,
               "period": month(), "spent": {"amount": "0.000000", "currency": "USD"},
               "remaining": null})
    );

    let (status, set) = put(
        &app,
        &owner.access_token,
        &json!({"monthly_limit": {"amount": "0.05", "currency": "usd"},
                "alert_thresholds": [100, 50, 80], "hard_cap": true}),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(
        set["monthly_limit"],
        json!({"amount": "0.050000", "currency": "USD"})
    );
    assert_eq!(set["alert_thresholds"], json!([50, 80, 100]));
    assert_eq!(set["hard_cap"], true);
    assert_eq!(
        set["remaining"],
        json!({"amount": "0.050000", "currency": "USD"})
    );

    // Two live messages through the sandbox (0.0123 each) and a test one (free): spent is
    // the ledger's sum, and what remains follows.
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.0123")])
        .await;
    let live = app.api_key(&owner, "live").await;
    let test = app.api_key(&owner, "test").await;
    for key in [&live, &live, &test] {
        app.send_delivered(key).await;
    }
    let (_, now) = read(&app, &owner.access_token).await;
    assert_eq!(
        now["spent"],
        json!({"amount": "0.024600", "currency": "USD"})
    );
    assert_eq!(
        now["remaining"],
        json!({"amount": "0.025400", "currency": "USD"})
    );

    // Owners, admins and billing members; the others are refused, an API key is not a user.
    for role in ["admin", "billing"] {
        let (_, token) = app.member(&owner, role).await;
        assert_eq!(read(&app, &token).await.0, 200, "{role}");
    }
    for role in ["developer", "viewer"] {
        let (_, token) = app.member(&owner, role).await;
        let (status, body) = read(&app, &token).await;
        assert_eq!(status, 403, "{role}: {body}");
        let (status, body) = put(
            &app,
            &token,
            &json!({"monthly_limit": {"amount": "1", "currency": "USD"}}),
        )
        .await;
        assert_eq!(status, 403, "{role}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    assert_eq!(app.get("/v1/budget", &live).await.status(), 401);
    // Another tenant has none of it.
    let other = app.signup().await;
    assert_eq!(
        read(&app, &other.access_token).await.1["monthly_limit"],
        Value::Null
    );

    let res = app
        .http
        .delete(app.url("/v1/budget"))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(stored(&app, &owner).await.is_empty());
    let (_, gone) = read(&app, &owner.access_token).await;
    assert_eq!(gone["monthly_limit"], Value::Null);
    assert_eq!(gone["spent"], now["spent"]);
    let actions: Vec<Value> = audited(&app, &owner)
        .await
        .into_iter()
        .map(|a| a["action"].clone())
        .collect();
    assert_eq!(actions, [json!("budget.changed"), json!("budget.removed")]);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_a_budget_stores_and_audits_the_same_through_both_doors() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let form = app.admin_session(&owner.email, OWNER_PASSWORD).await;

    let (status, body) = put(
        &app,
        &owner.access_token,
        &json!({"monthly_limit": {"amount": "250.5", "currency": "USD"},
                "alert_thresholds": [80, 50], "hard_cap": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let through_api = stored(&app, &owner).await;
    assert_eq!(
        through_api,
        [
            json!({"monthly_limit_micros": 250_500_000, "currency": "USD",
                "alert_thresholds": [50, 80], "hard_cap": true})
        ]
    );
    let api_audit = audited(&app, &owner).await;
    assert_eq!(api_audit.len(), 1);
    assert_eq!(
        api_audit[0]["details"],
        json!({"monthly_limit": {"amount": "250.500000", "currency": "USD"},
               "alert_thresholds": [50, 80], "hard_cap": true})
    );

    let (to, flash) = form.submit("/spend/budget/remove", &[]).await;
    assert_eq!(to, "/spend");
    assert_eq!(flash.expect("a note").field.as_deref(), Some("saved"));
    assert!(stored(&app, &owner).await.is_empty());
    let (to, flash) = form
        .submit(
            "/spend/budget",
            &[
                ("monthly_limit", "250.5"),
                ("currency", "USD"),
                ("alert_thresholds", "80, 50"),
                ("hard_cap", "on"),
            ],
        )
        .await;
    assert_eq!(to, "/spend");
    let flash = flash.expect("a note");
    assert_eq!(flash.field.as_deref(), Some("saved"), "{flash:?}");
    assert_eq!(stored(&app, &owner).await, through_api);
    let audit = audited(&app, &owner).await;
    assert_eq!(audit.len(), 3, "{audit:#?}");
    assert_eq!(audit[1]["action"], "budget.removed");
    assert_eq!(audit[2], api_audit[0]);

    // The page shows it.
    let page = form.page("/spend", None).await;
    assert!(page.contains("250.500000"), "{page}");
    assert!(page.contains("50, 80"), "{page}");
    app.cleanup().await;
}

/// A mistake: the API's JSON body, the same through the form's fields, and the field both
/// must name.
type Mistake<'a> = (Value, Vec<(&'a str, &'a str)>, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_mistake_gets_the_same_field_and_sentence_through_both_doors() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let form = app.admin_session(&owner.email, OWNER_PASSWORD).await;
    let limit = |amount: &str, currency: &str, thresholds: Value| {
        json!({"monthly_limit": {"amount": amount, "currency": currency},
               "alert_thresholds": thresholds})
    };
    let cases: Vec<Mistake> = vec![
        (
            limit("-5", "USD", json!([])),
            vec![("monthly_limit", "-5"), ("currency", "USD")],
            "monthly_limit",
        ),
        (
            limit("1.0000001", "USD", json!([])),
            vec![("monthly_limit", "1.0000001"), ("currency", "USD")],
            "monthly_limit",
        ),
        (
            limit("10", "EUR", json!([])),
            vec![("monthly_limit", "10"), ("currency", "EUR")],
            "monthly_limit",
        ),
        (
            limit("10", "USD", json!([0])),
            vec![
                ("monthly_limit", "10"),
                ("currency", "USD"),
                ("alert_thresholds", "0"),
            ],
            "alert_thresholds",
        ),
        (
            limit("10", "USD", json!([50, 50])),
            vec![
                ("monthly_limit", "10"),
                ("currency", "USD"),
                ("alert_thresholds", "50, 50"),
            ],
            "alert_thresholds",
        ),
    ];
    for (body, fields, field) in cases {
        let (status, api) = put(&app, &owner.access_token, &body).await;
        form.assert_same_mistake((status, &api), "/spend/budget", &fields, "/spend", field)
            .await;
    }
    assert!(stored(&app, &owner).await.is_empty());
    assert!(audited(&app, &owner).await.is_empty());
    app.cleanup().await;
}
