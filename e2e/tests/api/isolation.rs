//! Tenant isolation and the permission matrix, checked the way a curious tenant would: every
//! route the server documents (its OpenAPI document is generated from the registered routes)
//! is called as each tenant role, each staff role, an API key and another tenant's owner, and
//! the answer must match `openclaw_core::permissions::MATRIX`. A new route without an entry
//! in `expectation` fails the test.

use std::collections::BTreeMap;

use openclaw_core::db::{self, RunQueryDsl};
use openclaw_core::domain::Role;
use openclaw_core::permissions::{Action, allowed, scope_for};
use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// No credentials needed (sign-up, health, provider callbacks with their own signatures).
    Public,
    /// Any signed-in person, member or staff.
    AnyUser,
    /// A tenant member whose role allows the action; `keys`: a tenant API key with the
    /// action's scope may call it too.
    Tenant { action: Action, keys: bool },
    /// Platform staff whose role allows the action.
    Platform(Action),
}

/// The expectation and a valid request body for every route.
fn expectation(method: &str, path: &str) -> Option<(Who, Option<Value>)> {
    use Action::*;
    let t = |action| Who::Tenant {
        action,
        keys: false,
    };
    let k = |action| Who::Tenant { action, keys: true };
    let msg = json!({"to": "+4915112345678", "body": "matrix"});
    Some(match (method, path) {
        ("get", "/healthz" | "/readyz") => (Who::Public, None),
        (
            "post",
            "/v1/auth/signup" | "/v1/auth/login" | "/v1/auth/refresh" | "/v1/auth/accept-invite",
        ) => (Who::Public, None),
        (
            "post",
            "/hooks/providers/{provider_id}/status"
            | "/hooks/providers/{provider_id}/inbound"
            | "/hooks/stripe",
        ) => (Who::Public, None),
        ("post", "/v1/auth/logout") => (Who::AnyUser, None),
        ("get", "/v1/me") => (Who::AnyUser, None),
        ("post", "/v1/me/password") => (
            Who::AnyUser,
            Some(
                json!({"current_password": "not my password", "new_password": "not my password 2"}),
            ),
        ),
        ("get", "/v1/members") => (t(ReadMembers), None),
        ("post", "/v1/members") => (
            t(ManageMembers),
            Some(json!({"email": "{uniq}@example.test", "role": "viewer"})),
        ),
        ("patch", "/v1/members/{id}") => (t(ManageMembers), Some(json!({"role": "viewer"}))),
        ("delete", "/v1/members/{id}") => (t(ManageMembers), None),
        ("get", "/v1/audit-log") => (t(ReadAuditLog), None),
        ("get", "/v1/admin/tenants") => (Who::Platform(ListTenants), None),
        ("get", "/v1/admin/audit-log") => (Who::Platform(ReadPlatformAudit), None),
        ("get", "/v1/admin/spend-report") => (Who::Platform(ReadSpendReport), None),
        (
            "get",
            "/v1/admin/billing/settings"
            | "/v1/admin/billing/periods"
            | "/v1/admin/tenants/{id}/billing",
        ) => (Who::Platform(ReadBilling), None),
        ("get", "/v1/admin/invoices" | "/v1/admin/exchange-rates") => {
            (Who::Platform(ReadBilling), None)
        }
        (
            "get",
            "/v1/admin/providers"
            | "/v1/admin/providers/{id}"
            | "/v1/admin/providers/{id}/cost-prices"
            | "/v1/admin/providers/{id}/sell-prices",
        ) => (Who::Platform(ReadPlatformProviders), None),
        ("post", "/v1/admin/providers") => (
            Who::Platform(ManagePlatformProviders),
            Some(json!({"name": "{uniq}", "kind": "sandbox", "credentials": {}})),
        ),
        ("patch", "/v1/admin/providers/{id}") => (
            Who::Platform(ManagePlatformProviders),
            Some(json!({"enabled": true})),
        ),
        ("delete", "/v1/admin/providers/{id}") => (Who::Platform(ManagePlatformProviders), None),
        (
            "put",
            "/v1/admin/providers/{id}/cost-prices" | "/v1/admin/providers/{id}/sell-prices",
        ) => (
            Who::Platform(ManagePlatformProviders),
            Some(json!({"prices": [{"country": "*", "price": "0.01", "currency": "USD"}]})),
        ),
        ("put", "/v1/admin/exchange-rates") => (
            Who::Platform(ManageBilling),
            Some(json!({"rates": [{"from": "EUR", "to": "USD", "rate": "1.08"}]})),
        ),
        ("put", "/v1/admin/billing/settings") => (
            Who::Platform(ManageBilling),
            Some(json!({"platform_fee": {"amount": "0", "currency": "USD"}})),
        ),
        ("put", "/v1/admin/tenants/{id}/billing") => (
            Who::Platform(ManageBilling),
            Some(json!({"platform_fee": "0.0005"})),
        ),
        ("put", "/v1/admin/tenants/{id}/currency") => (
            Who::Platform(ManageBilling),
            Some(json!({"currency": "USD"})),
        ),
        ("post", "/v1/admin/billing/periods/{period}/close") => {
            (Who::Platform(CloseBillingPeriod), None)
        }
        ("get", "/v1/invoices") => (t(ReadInvoices), None),
        ("get", "/v1/settings") => (t(ManageSettings), None),
        ("patch", "/v1/settings") => (
            t(ManageSettings),
            Some(json!({"default_sender_ids": ["Acme"]})),
        ),
        ("get", "/v1/api-keys") => (t(ReadApiKeys), None),
        ("post", "/v1/api-keys") => (t(ManageApiKeys), Some(json!({"name": "matrix"}))),
        ("delete", "/v1/api-keys/{id}") => (t(ManageApiKeys), None),
        ("post", "/v1/api-keys/{id}/rotate") => (t(ManageApiKeys), Some(json!({}))),
        ("get", "/v1/webhooks" | "/v1/webhooks/{id}" | "/v1/webhooks/{id}/deliveries") => {
            (t(ReadWebhooks), None)
        }
        ("post", "/v1/webhooks") => (
            t(ManageWebhooks),
            Some(json!({"url": "https://hooks.example.com/{uniq}", "events": ["message.status"]})),
        ),
        ("delete", "/v1/webhooks/{id}")
        | (
            "post",
            "/v1/webhooks/{id}/rotate-secret"
            | "/v1/webhooks/callback-secret"
            | "/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
        ) => (t(ManageWebhooks), None),
        ("get", "/v1/opt-outs" | "/v1/inbound") => (t(ReadMessages), None),
        ("post", "/v1/opt-outs") => (t(ManageOptOuts), Some(json!({"number": "+4915112345678"}))),
        ("delete", "/v1/opt-outs/{number}") => (t(ManageOptOuts), None),
        ("get", "/v1/providers" | "/v1/providers/{id}" | "/v1/providers/{id}/prices") => {
            (t(ReadProviders), None)
        }
        ("post", "/v1/providers") => (
            t(ManageProviders),
            Some(json!({"name": "{uniq}", "kind": "sandbox", "credentials": {}})),
        ),
        ("patch", "/v1/providers/{id}") => (t(ManageProviders), Some(json!({"enabled": true}))),
        ("delete", "/v1/providers/{id}") => (t(ManageProviders), None),
        ("put", "/v1/providers/{id}/prices") => (
            t(ManageProviders),
            Some(json!({"prices": [{"country": "*", "price": "0.01", "currency": "USD"}]})),
        ),
        ("post", "/v1/messages") => (k(SendMessages), Some(msg)),
        ("post", "/v1/messages/batch") => (k(SendMessages), Some(json!({"messages": [msg]}))),
        ("post", "/v1/messages/{id}/cancel") => (k(SendMessages), None),
        ("get", "/v1/messages" | "/v1/messages/{id}") => (k(ReadMessages), None),
        ("get", "/v1/spend") => (k(ReadSpend), None),
        ("get" | "delete", "/v1/budget") | ("get", "/v1/alerts") => (t(ManageBudget), None),
        ("put", "/v1/budget") => (
            t(ManageBudget),
            Some(json!({"monthly_limit": {"amount": "100", "currency": "USD"}})),
        ),
        _ => return None,
    })
}

const FAKE_ULID: &str = "01JD2X4N9X4S0M6ZQ4C3W5Y8RT";

/// Tenant A's real ids, by the path they belong under.
struct Ids(BTreeMap<&'static str, String>);

impl Ids {
    fn fill(&self, path: &str, real: bool) -> String {
        for (prefix, id) in &self.0 {
            if path.starts_with(prefix) {
                let fake = format!("{}{FAKE_ULID}", &id[..4]);
                return path.replace("{id}", if real { id } else { &fake });
            }
        }
        path.to_owned()
    }
}

/// An allowed call: not refused, and a read of a real id finds it.
fn passed(status: u16, reads_real_id: bool) -> bool {
    let refused = matches!(status, 401 | 403);
    let missing = reads_real_id && status == 404;
    !refused && !missing
}

struct Call {
    status: u16,
    body: String,
}

async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: &Option<Value>) -> Call {
    let mut req = app
        .http
        .request(method.to_uppercase().parse().unwrap(), app.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        let text = body
            .to_string()
            .replace("{uniq}", &uuid::Uuid::new_v4().simple().to_string());
        req = req.header("content-type", "application/json").body(text);
    }
    let res = req.send().await.unwrap();
    Call {
        status: res.status().as_u16(),
        body: res.text().await.unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_role_and_foreign_tenant_as_the_matrix_says() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let foreign = app.signup().await;
    let provider = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let _foreign_provider = app
        .provider(&foreign, "sandbox", json!({}), None, &[("*", "0.01")])
        .await;
    let key_res: Value = app
        .post(
            "/v1/api-keys",
            &owner.access_token,
            &json!({"name": "kept"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let key_id = key_res["id"].as_str().unwrap().to_owned();
    let sent: Value = app
        .post(
            "/v1/messages",
            &owner.access_token,
            &json!({"to": "+4915112345678", "body": "seed"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let message = sent["id"].as_str().unwrap().to_owned();
    let hook: Value = app
        .post(
            "/v1/webhooks",
            &owner.access_token,
            &json!({"url": "https://hooks.example.com/kept", "events": ["message.status"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let webhook = hook["id"].as_str().unwrap().to_owned();

    let mut principals: Vec<(String, Role, String)> = Vec::new();
    let mut member_id = String::new();
    for role in ["admin", "developer", "billing", "viewer"] {
        let (id, token) = app.member(&owner, role).await;
        member_id = id;
        principals.push((role.into(), Role::parse(role).unwrap(), token));
    }
    principals.insert(0, ("owner".into(), Role::Owner, owner.access_token.clone()));
    for role in [Role::BillingStaff, Role::PlatformAdmin] {
        principals.push((role.to_string(), role, app.staff(role).await));
    }
    // A platform provider, for the staff routes' reads.
    let platform: Value = app
        .post(
            "/v1/admin/providers",
            &app.staff(Role::PlatformAdmin).await,
            &json!({"name": "Platform", "kind": "sandbox", "credentials": {}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let ids = Ids(BTreeMap::from([
        ("/v1/providers/", provider.clone()),
        (
            "/v1/admin/providers/",
            platform["id"].as_str().unwrap().to_owned(),
        ),
        ("/v1/api-keys/", key_id.clone()),
        ("/v1/webhooks/", webhook.clone()),
        ("/v1/messages/", message.clone()),
        ("/v1/members/", member_id.clone()),
        ("/v1/admin/tenants/", owner.tenant_id.clone()),
    ]));
    // Keys: one with every scope, one that may only read messages.
    let full_key = {
        let res: Value = app
            .post(
                "/v1/api-keys",
                &owner.access_token,
                &json!({"name": "all", "scopes": ["messages:send", "messages:read", "reports:read"]}),
            )
            .await
            .json()
            .await
            .unwrap();
        res["key"].as_str().unwrap().to_owned()
    };
    let read_key = {
        let res: Value = app
            .post(
                "/v1/api-keys",
                &owner.access_token,
                &json!({"name": "read", "scopes": ["messages:read"]}),
            )
            .await
            .json()
            .await
            .unwrap();
        res["key"].as_str().unwrap().to_owned()
    };

    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.clone(), path.clone()));
        }
    }
    // Signing out ends the caller's session: it goes last.
    routes.sort_by_key(|(m, p)| (p == "/v1/auth/logout", m.clone(), p.clone()));
    assert!(
        routes.len() >= 30,
        "only {} routes documented",
        routes.len()
    );

    let mut failures = Vec::new();
    let mut checked = 0;
    for (method, path) in &routes {
        let Some((who, body)) = expectation(method, path) else {
            failures.push(format!(
                "{method} {path}: no expectation; add one to this test"
            ));
            continue;
        };
        let has_id = path.contains("{id}");
        let safe = method == "get";
        for (name, role, token) in &principals {
            let may = match who {
                Who::Public => continue,
                Who::AnyUser => true,
                Who::Tenant { action, .. } | Who::Platform(action) => allowed(*role, action),
            };
            // Reads use tenant A's real ids; changes use well-formed ids that do not exist,
            // so an allowed change answers 404 and destroys nothing.
            let target = ids.fill(path, safe);
            let res = call(&app, method, &target, token, &body).await;
            checked += 1;
            let ok = if may {
                passed(res.status, has_id && safe)
            } else {
                res.status == 403
            };
            if !ok {
                failures.push(format!(
                    "{method} {target} as {name}: {} (expected {}): {}",
                    res.status,
                    if may { "allowed" } else { "403" },
                    res.body
                ));
            }
        }
        if let Who::Tenant { action, keys } = who {
            // Another tenant's owner: A's ids are simply not there, whatever the method.
            if has_id {
                let target = ids.fill(path, true);
                let res = call(&app, method, &target, &foreign.access_token, &body).await;
                checked += 1;
                if res.status != 404 {
                    failures.push(format!(
                        "{method} {target} as another tenant's owner: {} (expected 404): {}",
                        res.status, res.body
                    ));
                }
            } else if safe {
                let res = call(&app, method, path, &foreign.access_token, &body).await;
                checked += 1;
                for id in [&provider, &key_id, &message, &member_id, &webhook] {
                    if res.body.contains(id.as_str()) {
                        failures.push(format!("{method} {path} showed tenant A's {id} to B"));
                    }
                }
            }
            // API keys: only where the route takes keys, and only with the right scope.
            for (name, key, scopes) in [
                (
                    "full key",
                    &full_key,
                    &["messages:send", "messages:read", "reports:read"][..],
                ),
                ("read-only key", &read_key, &["messages:read"][..]),
            ] {
                let expected = if !keys {
                    401
                } else if scope_for(action).is_some_and(|s| scopes.contains(&s)) {
                    0
                } else {
                    403
                };
                let target = ids.fill(path, safe);
                let res = call(&app, method, &target, key, &body).await;
                checked += 1;
                let ok = match expected {
                    0 => passed(res.status, has_id && safe),
                    code => res.status == code,
                };
                if !ok {
                    failures.push(format!(
                        "{method} {target} with a {name}: {} (expected {}): {}",
                        res.status,
                        if expected == 0 {
                            "allowed".to_string()
                        } else {
                            expected.to_string()
                        },
                        res.body
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 200, "only {checked} checks ran");
    app.cleanup().await;
}

/// Row-level security on its own: a tenant-scoped transaction that forgets every filter still
/// sees, changes and adds only its own tenant's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_level_security_confines_unfiltered_queries_to_the_scoped_tenant() {
    use diesel::sql_types::BigInt;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let a = app.signup().await;
    let b = app.signup().await;
    for owner in [&a, &b] {
        app.provider(owner, "sandbox", json!({}), None, &[("*", "0.01")])
            .await;
        app.api_key(owner, "live").await;
        app.post(
            "/v1/messages",
            &owner.access_token,
            &json!({"to": "+4915112345678", "body": "rls"}),
        )
        .await;
    }
    let tenant_a = openclaw_core::domain::TenantId::parse(&a.tenant_id)
        .unwrap()
        .uuid();
    let tenant_b = openclaw_core::domain::TenantId::parse(&b.tenant_id)
        .unwrap()
        .uuid();
    let pool = db::pool(&app.db.url, 2).unwrap();
    let mut conn = pool.get().await.unwrap();
    let tables = [
        "tenants",
        "users",
        "api_keys",
        "providers",
        "provider_prices",
        "messages",
        "audit_log",
    ];
    for table in tables {
        let all: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(&mut conn)
            .await
            .unwrap();
        let seen: i64 = db::scoped(&mut conn, tenant_a, async |c| {
            diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
                .get_result::<Count>(c)
                .await
                .map(|r| r.n)
        })
        .await
        .unwrap();
        let own: Count = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {table} WHERE {} = '{tenant_a}'",
            if table == "tenants" {
                "id"
            } else {
                "tenant_id"
            }
        ))
        .get_result(&mut conn)
        .await
        .unwrap();
        assert!(own.n > 0, "{table}: tenant A has no rows to see");
        assert!(all.n > own.n, "{table}: tenant B has no rows to hide");
        assert_eq!(
            seen, own.n,
            "{table}: an unfiltered scoped query saw other rows"
        );
    }
    // An unfiltered UPDATE touches only A's providers; writing a row for B is refused.
    let updated = db::scoped(&mut conn, tenant_a, async |c| {
        diesel::sql_query("UPDATE providers SET name = name || ' (a)'")
            .execute(c)
            .await
    })
    .await
    .unwrap();
    assert_eq!(updated, 1);
    let smuggled = db::scoped(&mut conn, tenant_a, async |c| {
        diesel::sql_query(format!(
            "UPDATE providers SET tenant_id = '{tenant_b}' WHERE tenant_id = '{tenant_a}'"
        ))
        .execute(c)
        .await
    })
    .await;
    assert!(smuggled.is_err(), "moved a row into another tenant");
    let inserted = db::scoped(&mut conn, tenant_a, async |c| {
        diesel::sql_query(format!(
            "INSERT INTO audit_log (id, tenant_id, actor, actor_kind, action) \
             VALUES (gen_random_uuid(), '{tenant_b}', 'x', 'anonymous', 'forged')"
        ))
        .execute(c)
        .await
    })
    .await;
    assert!(inserted.is_err(), "wrote a row for another tenant");
    // Outside a scope (the worker's role) nothing is filtered, and the failed statements
    // above rolled back.
    let forged: Count =
        diesel::sql_query("SELECT count(*) AS n FROM audit_log WHERE action = 'forged'")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(forged.n, 0);
    app.cleanup().await;
}
