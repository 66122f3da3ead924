//! `core::providers::service` and `core::test_send` called directly on the test's own
//! database: the rules every door inherits (the permission matrix, tenant isolation, what is
//! written, audited and announced).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_core::audit::Client;
use openclaw_core::changes::{self, Change};
use openclaw_core::db::PgPool;
use openclaw_core::db::providers::Owner as ProviderOwner;
use openclaw_core::domain::{Role, TenantId, UserId};
use openclaw_core::members::Manager;
use openclaw_core::providers::PriceList;
use openclaw_core::providers::service::{
    self, Acting, DEFAULT_MAX_CONCURRENCY, DEFAULT_RECEIPT_TIMEOUT_SECONDS, PriceInput,
    ProviderError, ProviderInput, ProviderPatch,
};
use openclaw_core::test_send::{self, TestSendError};
use openclaw_e2e::app::{Options, Owner, TestApp};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::provider_doors::{rows, settings};

fn no_worker() -> Options {
    Options {
        worker: false,
        ..Default::default()
    }
}

/// The owner as the service sees them, with `role` in place of theirs.
async fn acting(app: &TestApp, owner: &Owner, role: Role) -> Manager {
    let me: Value = app
        .get("/v1/me", &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    let user_id = UserId::parse(me["user"]["id"].as_str().unwrap())
        .unwrap()
        .uuid();
    Manager {
        tenant: TenantId::parse(&owner.tenant_id).unwrap().uuid(),
        user_id,
        role,
        actor: Client::new(Some("192.0.2.7".into()), Some("service-test")).person(user_id, false),
    }
}

fn sandbox(name: &str) -> ProviderInput {
    ProviderInput {
        name: name.into(),
        kind: "sandbox".into(),
        credentials: Value::Null,
        base_url: None,
        sender_ids: Vec::new(),
        max_rate_per_sec: None,
        max_concurrency: None,
        receipt_timeout_seconds: None,
        enabled: true,
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    openclaw_e2e::services::query_i64(&app.db.url, sql).await
}

fn pool(app: &TestApp) -> PgPool {
    openclaw_core::db::pool(&app.db.url, 2).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_roles_the_matrix_allows_change_providers_or_send_tests() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let (pool, settings) = (pool(&app), settings(&app));
    let keys = &settings.master_key;
    let admin = acting(&app, &owner, Role::Admin).await;
    // Disabled: a test message still needs the sandbox added for it.
    let existing = ProviderInput {
        enabled: false,
        ..sandbox("Existing")
    };
    let existing = service::create(&pool, keys, Acting::Member(&admin), existing)
        .await
        .unwrap();
    let topology = openclaw_core::queue::Topology::from_settings(&settings);
    app.queues.track(&topology);
    let (ingest, tasks) = openclaw_core::ingest::Ingest::start(
        pool.clone(),
        openclaw_e2e::services::amqp_url(),
        topology,
    );
    let before = (
        count(&app, "SELECT count(*) FROM providers").await,
        count(&app, "SELECT count(*) FROM audit_log").await,
    );

    for role in [
        Role::Developer,
        Role::Billing,
        Role::Viewer,
        Role::PlatformAdmin,
    ] {
        let m = acting(&app, &owner, role).await;
        let forbidden = |r: Result<(), ProviderError>| {
            assert!(
                matches!(r, Err(ProviderError::Forbidden(_))),
                "{role}: {r:?}"
            )
        };
        forbidden(
            service::create(&pool, keys, Acting::Member(&m), sandbox("No"))
                .await
                .map(|_| ()),
        );
        let patch = ProviderPatch {
            enabled: Some(false),
            ..Default::default()
        };
        forbidden(
            service::update(&pool, keys, Acting::Member(&m), existing.id, patch)
                .await
                .map(|_| ()),
        );
        forbidden(service::delete(&pool, Acting::Member(&m), existing.id).await);
        let csv = PriceInput::Csv(b"country,message_type,price,currency\n*,,1,USD\n");
        forbidden(
            service::replace_prices(&pool, Acting::Member(&m), existing.id, PriceList::Cost, csv)
                .await
                .map(|_| ()),
        );
        let sent = test_send::send(&pool, keys, &ingest, &m, "+14155552671", "hi").await;
        // Developers send messages; the others may not.
        if role == Role::Developer {
            assert!(sent.is_ok(), "{sent:?}");
        } else {
            assert!(
                matches!(sent, Err(TestSendError::Forbidden)),
                "{role}: {sent:?}"
            );
        }
    }
    // Nothing was written but the developer's test message (and the sandbox it needed, with
    // its record).
    assert_eq!(
        count(&app, "SELECT count(*) FROM providers").await,
        before.0 + 1
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM audit_log").await,
        before.1 + 1
    );
    assert_eq!(count(&app, "SELECT count(*) FROM messages").await, 1);
    assert_eq!(
        count(&app, "SELECT count(*) FROM provider_prices").await,
        1,
        "only the sandbox's price"
    );
    drop(ingest);
    tasks.join().await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_provider_is_not_found_and_not_touched() {
    let app = TestApp::spawn_with(no_worker()).await;
    let (a, b) = (app.signup().await, app.signup().await);
    let (pool, settings) = (pool(&app), settings(&app));
    let keys = &settings.master_key;
    let (a, b) = (
        acting(&app, &a, Role::Owner).await,
        acting(&app, &b, Role::Owner).await,
    );
    let theirs = service::create(&pool, keys, Acting::Member(&a), sandbox("A's"))
        .await
        .unwrap();
    let not_found =
        |r: Result<(), ProviderError>| assert!(matches!(r, Err(ProviderError::NotFound)), "{r:?}");
    not_found(
        service::find(&pool, ProviderOwner::Tenant(b.tenant), theirs.id)
            .await
            .map(|_| ()),
    );
    not_found(
        service::prices(
            &pool,
            ProviderOwner::Tenant(b.tenant),
            theirs.id,
            PriceList::Cost,
        )
        .await
        .map(|_| ()),
    );
    let patch = ProviderPatch {
        name: Some("Taken".into()),
        ..Default::default()
    };
    not_found(
        service::update(&pool, keys, Acting::Member(&b), theirs.id, patch)
            .await
            .map(|_| ()),
    );
    let csv = PriceInput::Csv(b"country,message_type,price,currency\n*,,1,USD\n");
    not_found(
        service::replace_prices(&pool, Acting::Member(&b), theirs.id, PriceList::Cost, csv)
            .await
            .map(|_| ()),
    );
    not_found(service::delete(&pool, Acting::Member(&b), theirs.id).await);
    assert!(
        service::list(&pool, ProviderOwner::Tenant(b.tenant))
            .await
            .unwrap()
            .is_empty()
    );
    let still = service::find(&pool, ProviderOwner::Tenant(a.tenant), theirs.id)
        .await
        .unwrap();
    assert_eq!((still.name.as_str(), still.enabled), ("A's", true));
    assert_eq!(count(&app, "SELECT count(*) FROM provider_prices").await, 0);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_writes_audits_and_announces_only_what_differs() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let (pool, settings) = (pool(&app), settings(&app));
    let keys = &settings.master_key;
    let m = acting(&app, &owner, Role::Owner).await;

    let heard: Arc<Mutex<Vec<Change>>> = Arc::default();
    let stop = CancellationToken::new();
    let listener = tokio::spawn({
        let (heard, stop, url) = (heard.clone(), stop.clone(), app.db.url.clone());
        async move { changes::listen(url, move |c| heard.lock().unwrap().push(c), stop).await }
    });
    // Waits for the listener to have heard `n` changes, then a moment for any stray one.
    let heard_after = |n: usize| {
        let heard = heard.clone();
        async move {
            for _ in 0..100 {
                if heard.lock().unwrap().len() >= n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
            heard.lock().unwrap().clone()
        }
    };
    assert_eq!(heard_after(1).await, [Change::All], "connected");
    let routes = Change::Routes { tenant: m.tenant };

    let created = service::create(&pool, keys, Acting::Member(&m), sandbox("Sandbox"))
        .await
        .unwrap();
    assert_eq!(
        created.max_concurrency, DEFAULT_MAX_CONCURRENCY,
        "the column's default"
    );
    assert_eq!(created.max_rate_per_sec, None);
    assert_eq!(heard_after(2).await, [Change::All, routes]);
    let audited = || {
        let url = app.db.url.clone();
        async move {
            rows(
                &url,
                "SELECT action, details, ip, user_agent FROM audit_log \
                 WHERE action LIKE 'provider.%' ORDER BY id",
            )
            .await
        }
    };
    assert_eq!(
        audited().await,
        [
            json!({"action": "provider.created", "details": {"name": "Sandbox", "kind": "sandbox", "enabled": true},
                "ip": "192.0.2.7", "user_agent": "service-test"})
        ]
    );

    // The same values again: nothing written, recorded or announced.
    let same = ProviderPatch {
        name: Some(" Sandbox ".into()),
        base_url: Some(None),
        sender_ids: Some(Vec::new()),
        max_rate_per_sec: Some(None),
        max_concurrency: Some(DEFAULT_MAX_CONCURRENCY),
        receipt_timeout_seconds: Some(DEFAULT_RECEIPT_TIMEOUT_SECONDS),
        enabled: Some(true),
        credentials: None,
    };
    let unchanged = service::update(&pool, keys, Acting::Member(&m), created.id, same)
        .await
        .unwrap();
    assert_eq!(unchanged.updated_at, created.updated_at);
    // A mistake: nothing either, and the field named.
    let bad = ProviderPatch {
        name: Some("Renamed".into()),
        max_concurrency: Some(1001),
        ..Default::default()
    };
    match service::update(&pool, keys, Acting::Member(&m), created.id, bad).await {
        Err(ProviderError::Invalid { field, message }) => {
            assert_eq!(field, "max_concurrency");
            assert_eq!(message, "`max_concurrency` must be between 1 and 1000.");
        }
        other => panic!("{:?}", other.map(|p| p.name)),
    }
    let csv = PriceInput::Csv(b"country,message_type,price,currency\nDE,,1,USD\nXYZ,,1,USD\n");
    match service::replace_prices(&pool, Acting::Member(&m), created.id, PriceList::Cost, csv).await
    {
        Err(ProviderError::Prices(e)) => assert!(e.message.starts_with("Line 3:"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(heard_after(3).await.len(), 2, "nothing announced");
    assert_eq!(audited().await.len(), 1, "nothing recorded");

    // Real changes: each written, recorded with what changed, and announced.
    let patch = ProviderPatch {
        name: Some("Sandbox".into()),
        max_rate_per_sec: Some(Some(10)),
        enabled: Some(false),
        ..Default::default()
    };
    let changed = service::update(&pool, keys, Acting::Member(&m), created.id, patch)
        .await
        .unwrap();
    assert!(changed.updated_at > created.updated_at);
    assert_eq!(
        (changed.max_rate_per_sec, changed.enabled),
        (Some(10), false)
    );
    let entries = [json!({"country": "de", "price": "0.01", "currency": "USD"})];
    let entries: Vec<openclaw_core::prices::PriceEntry> =
        serde_json::from_value(json!(entries)).unwrap();
    let prices = service::replace_prices(
        &pool,
        Acting::Member(&m),
        created.id,
        PriceList::Cost,
        PriceInput::Entries(&entries),
    )
    .await
    .unwrap();
    assert_eq!(prices[0].country, "DE");
    service::delete(&pool, Acting::Member(&m), created.id)
        .await
        .unwrap();
    assert_eq!(
        heard_after(5).await,
        [Change::All, routes, routes, routes, routes]
    );
    let actions: Vec<(Value, Value)> = audited()
        .await
        .into_iter()
        .map(|r| (r["action"].clone(), r["details"].clone()))
        .collect();
    assert_eq!(
        actions,
        [
            (
                json!("provider.created"),
                json!({"name": "Sandbox", "kind": "sandbox", "enabled": true})
            ),
            (
                json!("provider.updated"),
                json!({"changed": ["max_rate_per_sec", "enabled"], "enabled": false})
            ),
            (
                json!("provider.prices_changed"),
                json!({"entries": 1, "list": "cost"})
            ),
            (json!("provider.deleted"), json!({})),
        ]
    );
    stop.cancel();
    listener.await.unwrap();
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_against_the_kind_and_never_kept_in_clear() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let (pool, settings) = (pool(&app), settings(&app));
    let keys = &settings.master_key;
    let m = acting(&app, &owner, Role::Owner).await;
    let vonage = |credentials: Value| ProviderInput {
        name: "Vonage".into(),
        kind: " vonage ".into(),
        credentials,
        base_url: Some("https://rest.example.test/".into()),
        sender_ids: vec!["Acme".into()],
        max_rate_per_sec: Some(5),
        max_concurrency: Some(2),
        receipt_timeout_seconds: Some(120),
        enabled: false,
    };
    for (credentials, field) in [
        (json!({"api_key": "abcd1234"}), "credentials.api_secret"),
        (
            json!({"api_key": "ab-cd", "api_secret": "secret-0123456789"}),
            "credentials.api_key",
        ),
        (json!({"account_sid": "x"}), "credentials.account_sid"),
        (json!("text"), "credentials"),
    ] {
        match service::create(&pool, keys, Acting::Member(&m), vonage(credentials.clone())).await {
            Err(ProviderError::Invalid { field: f, .. }) => assert_eq!(f, field, "{credentials}"),
            other => panic!("{credentials}: {:?}", other.map(|p| p.id)),
        }
    }
    let secret = "vonage-secret-0123456789";
    let created = service::create(
        &pool,
        keys,
        Acting::Member(&m),
        vonage(json!({"api_key": "abcd1234", "api_secret": secret})),
    )
    .await
    .unwrap();
    assert_eq!(created.kind, openclaw_core::providers::ProviderKind::Vonage);
    assert!(!created.enabled);
    assert_eq!(
        created.base_url.as_deref(),
        Some("https://rest.example.test")
    );
    assert_eq!(
        created.credentials_mask,
        json!({"api_key": "abcd1234", "api_secret": "••••6789"})
    );
    // Twilio's credentials do not fit a Vonage account.
    let patch = ProviderPatch {
        credentials: Some(
            json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "f00dfeedf00dfeedf00dfeedf00d1234"}),
        ),
        ..Default::default()
    };
    assert!(matches!(
        service::update(&pool, keys, Acting::Member(&m), created.id, patch).await,
        Err(ProviderError::Invalid { field, .. }) if field == "credentials.account_sid"
    ));
    let in_clear = openclaw_e2e::services::query_bool(
        &app.db.url,
        &format!(
            "SELECT position(convert_to('{secret}', 'UTF8') in credentials_enc) > 0 \
             OR credentials_mask::text LIKE '%{secret}%' FROM providers"
        ),
    )
    .await;
    assert!(!in_clear);
    let audit = rows(&app.db.url, "SELECT details::text AS d FROM audit_log").await;
    assert!(!format!("{audit:?}").contains(secret));
    app.cleanup().await;
}
