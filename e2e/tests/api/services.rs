//! The core services behind both doors, called directly on a database of their own (no
//! server): `openclaw_core::api_keys` and `openclaw_core::settings`. They ask the permission
//! matrix themselves, name the field at fault, and write, audit and announce each change in
//! one transaction (a refused change leaves no row, no audit record and no announcement).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_core::api_keys::{self, KeyError, NewKey, Revoked};
use openclaw_core::audit::Client;
use openclaw_core::changes::{self, Change};
use openclaw_core::db::{self, PgPool, users};
use openclaw_core::domain::{ApiKeyId, Role};
use openclaw_core::members::Manager;
use openclaw_core::permissions::{Action, allowed};
use openclaw_core::settings::{self, SettingsChange, SettingsError};
use openclaw_e2e::services::{TestDb, query_i64, query_rows};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A tenant with one active member of each tenant role, on a fresh database.
struct Tenant {
    db: TestDb,
    pool: PgPool,
    id: Uuid,
    members: Vec<(Role, Uuid)>,
}

/// Adds a tenant with one active member of each tenant role.
async fn add_tenant(pool: &PgPool) -> (Uuid, Vec<(Role, Uuid)>) {
    let id = Uuid::now_v7();
    let mut conn = pool.get().await.unwrap();
    db::tenants::insert(&mut conn, id, "Acme").await.unwrap();
    let mut members = Vec::new();
    for role in Role::TENANT {
        let user = Uuid::now_v7();
        let email = format!("{role}-{}@example.test", user.simple());
        users::insert(
            &mut conn,
            &users::NewUser {
                id: user,
                tenant_id: Some(id),
                email: &email,
                password_hash: None,
                role,
                status: openclaw_core::domain::MemberStatus::Active,
                invite_token_hash: None,
                invite_expires_at: None,
                invited_by: None,
            },
        )
        .await
        .unwrap();
        members.push((role, user));
    }
    (id, members)
}

impl Tenant {
    async fn new() -> Tenant {
        let db = TestDb::new().await;
        let pool = db::pool(&db.url, 4).unwrap();
        let (id, members) = add_tenant(&pool).await;
        Tenant {
            db,
            pool,
            id,
            members,
        }
    }

    /// The owner of another tenant on the same database.
    async fn neighbour(&self) -> Manager {
        let (tenant, members) = add_tenant(&self.pool).await;
        let user_id = members[0].1;
        Manager {
            tenant,
            user_id,
            role: Role::Owner,
            actor: Client::default().person(user_id, false),
        }
    }

    /// A member acting from 203.0.113.5 with the user agent `service-test`.
    fn as_role(&self, role: Role) -> Manager {
        let user_id = self.members.iter().find(|(r, _)| *r == role).unwrap().1;
        Manager {
            tenant: self.id,
            user_id,
            role,
            actor: Client::new(Some("203.0.113.5".into()), Some("service-test"))
                .person(user_id, false),
        }
    }

    fn owner(&self) -> Manager {
        self.as_role(Role::Owner)
    }

    async fn count(&self, sql: &str) -> i64 {
        query_i64(&self.db.url, sql).await
    }

    /// Every change announced on this database from now on, after the listener's first
    /// `Change::All` (call `.stop()` to end it).
    async fn listen(&self) -> Heard {
        let heard: Arc<Mutex<Vec<Change>>> = Arc::default();
        let stop = CancellationToken::new();
        tokio::spawn({
            let (heard, stop, url) = (heard.clone(), stop.clone(), self.db.url.clone());
            async move { changes::listen(url, move |c| heard.lock().unwrap().push(c), stop).await }
        });
        let heard = Heard { heard, stop };
        heard.wait_for(1).await;
        assert_eq!(heard.take(), [Change::All]);
        heard
    }
}

struct Heard {
    heard: Arc<Mutex<Vec<Change>>>,
    stop: CancellationToken,
}

impl Heard {
    async fn wait_for(&self, n: usize) {
        for _ in 0..200 {
            if self.heard.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Anything more that was announced arrives too.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    fn take(&self) -> Vec<Change> {
        std::mem::take(&mut *self.heard.lock().unwrap())
    }

    fn stop(self) {
        self.stop.cancel();
    }
}

fn key(name: &str) -> NewKey {
    NewKey {
        name: name.into(),
        ..Default::default()
    }
}

fn field_of<T>(result: Result<T, KeyError>) -> &'static str {
    match result {
        Err(KeyError::Invalid { field, message }) => {
            assert!(message.ends_with('.'), "not a sentence: {message}");
            field
        }
        Err(other) => panic!("expected a field error, got {other:?}"),
        Ok(_) => panic!("expected a field error, but it was accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_changes_follow_the_permission_matrix() {
    let t = Tenant::new().await;
    let kept = api_keys::create(&t.pool, &t.owner(), key("kept"))
        .await
        .unwrap();
    for role in Role::TENANT {
        let m = t.as_role(role);
        let may = allowed(role, Action::ManageApiKeys);
        let created = api_keys::create(&t.pool, &m, key(role.as_str())).await;
        let rotated = api_keys::rotate(&t.pool, &m, kept.key.id, Some(60)).await;
        if may {
            let created = created.unwrap();
            let rotated = rotated.unwrap();
            assert_eq!(created.key.name, role.as_str());
            // `kept` stays usable for its 60 s of grace, so every allowed role rotates it.
            api_keys::revoke(&t.pool, &m, created.key.id).await.unwrap();
            api_keys::revoke(&t.pool, &m, rotated.key.id).await.unwrap();
        } else {
            assert!(matches!(created, Err(KeyError::Forbidden)), "{role}");
            assert!(matches!(rotated, Err(KeyError::Forbidden)), "{role}");
            let revoked = api_keys::revoke(&t.pool, &m, kept.key.id).await;
            assert!(matches!(revoked, Err(KeyError::Forbidden)), "{role}");
            let sentence = KeyError::Forbidden.to_string();
            assert!(sentence.ends_with('.'), "{sentence}");
        }
    }
    assert!(!allowed(Role::Billing, Action::ManageApiKeys));
    // Billing and viewer changed nothing: the original key and the three allowed roles'
    // keys and rotations are all there is.
    let keys = t.count("SELECT count(*) FROM api_keys").await;
    assert_eq!(keys, 1 + 3 * 2);
    let refused = t
        .count("SELECT count(*) FROM api_keys WHERE name IN ('billing', 'viewer')")
        .await;
    assert_eq!(refused, 0);
    let by_refused = t
        .count(&format!(
            "SELECT count(*) FROM audit_log WHERE actor_id IN ('{}', '{}')",
            t.as_role(Role::Billing).user_id,
            t.as_role(Role::Viewer).user_id
        ))
        .await;
    assert_eq!(by_refused, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_mistakes_name_their_field_and_change_nothing() {
    let t = Tenant::new().await;
    let heard = t.listen().await;
    let owner = t.owner();
    let create = async |new: NewKey| api_keys::create(&t.pool, &owner, new).await;
    assert_eq!(field_of(create(key("")).await), "name");
    assert_eq!(field_of(create(key("back\0end")).await), "name");
    assert_eq!(field_of(create(key(&"k".repeat(101))).await), "name");
    let mut staging = key("k");
    staging.mode = Some("staging".into());
    assert_eq!(field_of(create(staging).await), "mode");
    let mut none = key("k");
    none.scopes = Some(Vec::new());
    assert_eq!(field_of(create(none).await), "scopes");
    let mut flying = key("k");
    flying.scopes = Some(vec!["messages:fly".into()]);
    assert_eq!(field_of(create(flying).await), "scopes");
    let mut past = key("k");
    past.expires_at = Some(chrono::Utc::now() - chrono::Duration::minutes(1));
    assert_eq!(field_of(create(past).await), "expires_at");
    let mut far = key("k");
    far.expires_at = "+20000-01-01T00:00:00Z".parse().ok();
    assert!(far.expires_at.is_some());
    assert_eq!(field_of(create(far).await), "expires_at");
    assert_eq!(t.count("SELECT count(*) FROM api_keys").await, 0);

    let made = create(key("k")).await.unwrap();
    heard.wait_for(1).await;
    assert_eq!(heard.take(), [Change::ApiKeys]);
    for grace in [-1, api_keys::MAX_GRACE_SECONDS + 1] {
        let rotated = api_keys::rotate(&t.pool, &owner, made.key.id, Some(grace)).await;
        assert_eq!(field_of(rotated), "grace_seconds");
    }
    assert_eq!(t.count("SELECT count(*) FROM api_keys").await, 1);
    assert_eq!(
        t.count("SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT count(*) FROM audit_log WHERE action LIKE 'api_key.%'")
            .await,
        1
    );
    heard.wait_for(1).await;
    assert_eq!(heard.take(), Vec::new(), "a refused change was announced");
    heard.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_changes_are_audited_and_announced_with_their_transaction() {
    let t = Tenant::new().await;
    let neighbour = t.neighbour().await;
    let heard = t.listen().await;
    let dev = t.as_role(Role::Developer);
    let mut new = key(" backend ");
    new.mode = Some("test".into());
    new.scopes = Some(vec!["reports:read".into(), "messages:send".into()]);
    let made = api_keys::create(&t.pool, &dev, new).await.unwrap();
    assert!(made.secret.starts_with("oc_test_"));
    assert!(made.secret.starts_with(&made.key.prefix));
    let rotated = api_keys::rotate(&t.pool, &dev, made.key.id, Some(3600))
        .await
        .unwrap();
    assert_eq!(rotated.key.name, "backend");
    assert_eq!(rotated.key.mode, openclaw_core::domain::KeyMode::Test);
    assert_eq!(rotated.key.scopes, ["messages:send", "reports:read"]);
    // In its grace period the old key is listed and usable, and can still be revoked at once;
    // a second revocation changes nothing.
    let revoked = api_keys::revoke(&t.pool, &dev, made.key.id).await.unwrap();
    assert_eq!(revoked, Revoked::Now);
    let again = api_keys::revoke(&t.pool, &dev, made.key.id).await.unwrap();
    assert_eq!(again, Revoked::Already);

    // Another tenant's key, or one that never was, is not found, and nothing is announced.
    let theirs = api_keys::create(&t.pool, &neighbour, key("theirs"))
        .await
        .unwrap();
    heard.wait_for(4).await;
    assert_eq!(heard.take(), [Change::ApiKeys; 4]);
    for id in [theirs.key.id, Uuid::now_v7()] {
        let revoked = api_keys::revoke(&t.pool, &dev, id).await;
        assert!(matches!(revoked, Err(KeyError::NotFound)), "{revoked:?}");
        let rotated = api_keys::rotate(&t.pool, &dev, id, None).await.err();
        assert!(matches!(rotated, Some(KeyError::NotFound)), "{rotated:?}");
    }
    // A retired key cannot be rotated either.
    let retired = api_keys::rotate(&t.pool, &dev, made.key.id, None)
        .await
        .err();
    assert!(matches!(retired, Some(KeyError::NotFound)), "{retired:?}");
    heard.wait_for(1).await;
    assert_eq!(heard.take(), Vec::new(), "a refused change was announced");
    heard.stop();
    let theirs_revoked = t
        .count(&format!(
            "SELECT count(*) FROM api_keys WHERE id = '{}' AND revoked_at IS NULL",
            theirs.key.id
        ))
        .await;
    assert_eq!(theirs_revoked, 1, "another tenant's key was touched");

    let audit = query_rows(
        &t.db.url,
        &format!(
            "SELECT action, actor_id, actor_kind, actor, ip, user_agent, target, details \
             FROM audit_log WHERE tenant_id = '{}' ORDER BY id",
            t.id
        ),
    )
    .await;
    let (old, new) = (
        ApiKeyId::from(made.key.id).to_string(),
        ApiKeyId::from(rotated.key.id).to_string(),
    );
    let by = |action: &str, target: &str, details: Value| {
        json!({"action": action, "actor_id": dev.user_id, "actor_kind": "user",
               "actor": format!("developer-{}@example.test", dev.user_id.simple()),
               "ip": "203.0.113.5", "user_agent": "service-test",
               "target": target, "details": details})
    };
    assert_eq!(
        audit,
        [
            by(
                "api_key.created",
                &old,
                json!({"name": "backend", "prefix": made.key.prefix, "mode": "test",
                       "scopes": ["messages:send", "reports:read"]})
            ),
            by(
                "api_key.rotated",
                &old,
                json!({"new_key": new, "new_prefix": rotated.key.prefix, "grace_seconds": 3600})
            ),
            by("api_key.revoked", &old, json!({})),
        ]
    );
    assert!(
        !Value::from(audit).to_string().contains(&made.secret),
        "a secret in the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_follow_the_matrix_name_their_field_and_are_audited_and_announced() {
    let t = Tenant::new().await;
    let heard = t.listen().await;
    for role in Role::TENANT {
        let m = t.as_role(role);
        let read = settings::get(&t.pool, &m).await;
        let change = SettingsChange {
            name: Some(format!("Acme by {role}")),
            ..Default::default()
        };
        let changed = settings::update(&t.pool, &m, change).await;
        if allowed(role, Action::ManageSettings) {
            assert_eq!(read.unwrap().id, t.id);
            assert_eq!(changed.unwrap().name, format!("Acme by {role}"));
        } else {
            assert!(matches!(read, Err(SettingsError::Forbidden)), "{role}");
            assert!(matches!(changed, Err(SettingsError::Forbidden)), "{role}");
        }
    }
    let tenant = t.id;
    heard.wait_for(2).await;
    assert_eq!(heard.take(), [Change::Routes { tenant }; 2]);

    let admin = t.as_role(Role::Admin);
    let mistakes = [
        (Some(""), None, "name"),
        (Some("Ac\0me"), None, "name"),
        (
            None,
            Some(vec!["not a valid sender!"]),
            "default_sender_ids",
        ),
        (
            Some("Acme"),
            Some(vec!["Acme", "+1 000"]),
            "default_sender_ids",
        ),
    ];
    for (name, senders, field) in mistakes {
        let change = SettingsChange {
            name: name.map(str::to_owned),
            default_sender_ids: senders.map(|s| s.into_iter().map(str::to_owned).collect()),
            ..Default::default()
        };
        match settings::update(&t.pool, &admin, change).await {
            Err(SettingsError::Invalid { field: f, message }) => {
                assert_eq!(f, field, "{message}");
            }
            other => panic!("{name:?} {field}: {other:?}"),
        }
    }
    // Each field alone: the other stays.
    let senders = SettingsChange {
        name: None,
        default_sender_ids: Some(vec!["Acme".into(), "+1 415 555 0100".into()]),
        opt_out_exempt_types: None,
    };
    let saved = settings::update(&t.pool, &admin, senders).await.unwrap();
    assert_eq!(saved.name, "Acme by admin");
    assert_eq!(saved.default_sender_ids, ["Acme", "+14155550100"]);
    heard.wait_for(1).await;
    assert_eq!(heard.take(), [Change::Routes { tenant }]);
    heard.stop();

    let audit = query_rows(
        &t.db.url,
        "SELECT actor_id, actor_kind, ip, user_agent, action, target, details \
         FROM audit_log ORDER BY id",
    )
    .await;
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert_eq!(
        audit[2],
        json!({"actor_id": admin.user_id, "actor_kind": "user", "ip": "203.0.113.5",
               "user_agent": "service-test", "action": "tenant.settings_changed",
               "target": null,
               "details": {"name": "Acme by admin",
                           "default_sender_ids": ["Acme", "+14155550100"],
                           "opt_out_exempt_types": []}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_changes_ask_the_permission_matrix_before_anything_else() {
    use openclaw_core::members::{self, MemberError};
    let t = Tenant::new().await;
    let viewer = t.as_role(Role::Viewer).user_id;
    for role in Role::TENANT {
        let m = t.as_role(role);
        // Bad input on purpose: a role that may not manage members is refused before the
        // input is looked at, so it learns nothing from the answer.
        let invited = members::invite(&t.pool, &m, "not an address", "viewer", None).await;
        let changed = members::change_role(&t.pool, &m, viewer, "no such role").await;
        let removed = members::remove(&t.pool, &m, Uuid::now_v7()).await;
        if allowed(role, Action::ManageMembers) {
            assert!(
                matches!(invited, Err(MemberError::Invalid { field: "email", .. })),
                "{role}: {:?}",
                invited.err()
            );
            assert!(
                matches!(changed, Err(MemberError::Invalid { field: "role", .. })),
                "{role}: {changed:?}"
            );
            assert!(matches!(removed, Err(MemberError::NotFound)), "{role}");
        } else {
            for refused in [invited.err(), changed.err(), removed.err()] {
                assert!(
                    matches!(refused, Some(MemberError::Forbidden(_))),
                    "{role}: {refused:?}"
                );
            }
        }
    }
    // Nobody changed anything: the five members are as they were, and nothing was audited.
    assert_eq!(t.count("SELECT count(*) FROM users").await, 5);
    assert_eq!(
        t.count("SELECT count(*) FROM users WHERE role = 'viewer'")
            .await,
        1
    );
    assert_eq!(t.count("SELECT count(*) FROM audit_log").await, 0);
}
