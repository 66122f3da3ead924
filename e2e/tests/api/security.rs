use openclaw_core::domain::Role;
use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};

fn no_worker() -> Options {
    Options {
        worker: false,
        ..Default::default()
    }
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_sign_ins_are_throttled_alike_for_known_and_unknown_emails() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    for email in [owner.email.as_str(), "nobody-at-all@example.test"] {
        for attempt in 1..=5 {
            let res = login(&app, email, "wrong password!!").await;
            assert_eq!(res.status(), 401, "attempt {attempt} for {email}");
        }
        // The sixth failure is counted and blocks the address for a growing while...
        assert_eq!(login(&app, email, "wrong password!!").await.status(), 401);
        // ...during which even the right password gets 429 with Retry-After.
        let res = login(&app, email, "correct horse battery").await;
        assert_eq!(res.status(), 429, "{email}");
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&retry), "retry after {retry}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
    }
    // Once the delay is over the right password works again and clears the count.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        login(&app, &owner.email, "correct horse battery")
            .await
            .status(),
        200
    );
    assert_eq!(
        login(&app, &owner.email, "wrong password!!").await.status(),
        401
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn common_passwords_are_refused_and_changing_the_password_ends_other_sessions() {
    let app = TestApp::spawn_with(no_worker()).await;
    for password in [
        "password1234",
        "123456789012",
        "Passwordpassword",
        "1q2w3e4r5t6y",
    ] {
        let res = app
            .http
            .post(app.url("/v1/auth/signup"))
            .json(&json!({"tenant_name": "A", "email": "a@example.test", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{password} was accepted");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], "password");
    }
    let owner = app.signup().await;
    let laptop = app.login(&owner.email, "correct horse battery").await;
    let change = |current: &'static str, new: &'static str| {
        let app = &app;
        let token = owner.access_token.clone();
        async move {
            let res = app
                .post(
                    "/v1/me/password",
                    &token,
                    &json!({"current_password": current, "new_password": new}),
                )
                .await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = change("wrong current pw", "a brand new passphrase").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "current_password");
    let (status, body) = change("correct horse battery", "a brand new passphrase").await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["access_token"].as_str().unwrap();
    // Every earlier session is over, the new one works, and so does the new password.
    assert_eq!(app.get("/v1/me", &laptop).await.status(), 401);
    assert_eq!(app.get("/v1/me", &owner.access_token).await.status(), 401);
    assert_eq!(app.get("/v1/me", fresh).await.status(), 200);
    let res = app
        .http
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": owner.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        login(&app, &owner.email, "correct horse battery")
            .await
            .status(),
        401
    );
    app.login(&owner.email, "a brand new passphrase").await;
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_list_tenants_and_nothing_of_any_tenant_while_members_cannot_list_tenants() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let _second = app.signup().await;
    let billing = app.staff(Role::BillingStaff).await;
    let admin = app.staff(Role::PlatformAdmin).await;
    for token in [&billing, &admin] {
        let res = app.get("/v1/admin/tenants", token).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let tenants = body["data"].as_array().unwrap();
        assert_eq!(tenants.len(), 2);
        assert!(tenants.iter().any(|t| t["id"] == owner.tenant_id));
        assert_eq!(tenants[0]["members"], 1);
        // Staff belong to no tenant: tenant data is out of reach.
        for path in [
            "/v1/messages",
            "/v1/providers",
            "/v1/api-keys",
            "/v1/members",
        ] {
            assert_eq!(app.get(path, token).await.status(), 403, "{path}");
        }
        let me: Value = app.get("/v1/me", token).await.json().await.unwrap();
        assert!(me["tenant"].is_null());
    }
    let page: Value = app
        .get("/v1/admin/tenants?limit=1", &billing)
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(
            &format!("/v1/admin/tenants?limit=1&cursor={cursor}"),
            &billing,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    assert_ne!(rest["data"][0]["id"], page["data"][0]["id"]);
    assert_eq!(
        app.get("/v1/admin/tenants", &owner.access_token)
            .await
            .status(),
        403
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_create_command_makes_an_account_that_signs_in() {
    let app = TestApp::spawn_with(no_worker()).await;
    let bin = openclaw_e2e::procs::binary("openclaw-server");
    let run = |role: &str, password: &str| {
        std::process::Command::new(&bin)
            .args([
                "staff",
                "create",
                "--email",
                "ops@example.test",
                "--role",
                role,
            ])
            .env("DATABASE_URL", &app.db.url)
            .env("OPENCLAW_MASTER_KEY", openclaw_e2e::services::master_key())
            .env("OPENCLAW_JWT_SECRET", "0123456789abcdef0123456789abcdef")
            .env("OPENCLAW_STAFF_PASSWORD", password)
            .output()
            .expect("openclaw-server runs")
    };
    let out = run("owner", "staff password 42");
    assert!(!out.status.success(), "a tenant role was accepted");
    let out = run("billing_staff", "short");
    assert!(!out.status.success(), "a short password was accepted");
    let out = run("billing_staff", "staff password 42");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = app.login("ops@example.test", "staff password 42").await;
    let me: Value = app.get("/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["role"], "billing_staff");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("staff password 42"));
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_key_rotation_reseals_credentials_under_the_new_key() {
    use base64::Engine;
    use openclaw_core::crypto::{Keyring, MasterKey};
    use openclaw_core::domain::{ProviderId, TenantId};
    use openclaw_core::providers::{Credentials, ProviderKind};

    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let provider = app
        .provider(
            &owner,
            "twilio",
            json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "rotate-me-0123456789"}),
            None,
            &[("*", "0.01")],
        )
        .await;
    let old = app
        .settings_env
        .iter()
        .find(|(k, _)| k == "OPENCLAW_MASTER_KEY")
        .map(|(_, v)| v.clone())
        .unwrap();
    let new = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let bin = openclaw_e2e::procs::binary("openclaw-server");
    let rotate = |old_keys: &str| {
        std::process::Command::new(&bin)
            .args(["master-key", "rotate"])
            .env("DATABASE_URL", &app.db.url)
            .env("OPENCLAW_MASTER_KEY", &new)
            .env("OPENCLAW_OLD_MASTER_KEYS", old_keys)
            .env("OPENCLAW_JWT_SECRET", "0123456789abcdef0123456789abcdef")
            .output()
            .expect("openclaw-server runs")
    };
    let pool = openclaw_core::db::pool(&app.db.url, 1).unwrap();
    let row = async || {
        let mut conn = pool.get().await.unwrap();
        openclaw_core::db::providers::find(
            &mut conn,
            openclaw_core::db::providers::Owner::Tenant(
                TenantId::parse(&owner.tenant_id).unwrap().uuid(),
            ),
            ProviderId::parse(&provider).unwrap().uuid(),
        )
        .await
        .unwrap()
        .unwrap()
    };
    let before = row().await;

    // Without the old key the command stops and changes nothing.
    let out = rotate("");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("OPENCLAW_OLD_MASTER_KEYS"), "{stderr}");
    assert_eq!(row().await.credentials_enc, before.credentials_enc);

    let out = rotate(&old);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("re-encrypted 1 "), "{stdout}");
    assert!(!stdout.contains("rotate-me") && !stdout.contains(&new));
    let after = row().await;
    let new_only = Keyring::new(MasterKey::from_base64(&new).unwrap(), Vec::new());
    assert_eq!(after.credentials_key_id, new_only.current().key_id());
    assert_ne!(after.credentials_key_id, before.credentials_key_id);
    let creds = Credentials::open(
        &new_only,
        ProviderKind::Twilio,
        &after.credentials_key_id,
        &after.credentials_enc,
    )
    .expect("readable with the new key alone");
    assert_eq!(creds.to_json()["auth_token"], "rotate-me-0123456789");
    // Run again: nothing left to do.
    let out = rotate(&old);
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-encrypted 0 "));
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_api_key_has_its_own_rate_limit_with_retry_after() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        api_key_rate: 5,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let busy = app.api_key(&owner, "live").await;
    let quiet = app.api_key(&owner, "live").await;
    // Twenty at once: one second's worth (5) passes, the rest is refused.
    let responses =
        futures::future::join_all((0..20).map(|_| app.get("/v1/messages", &busy))).await;
    let mut passed = 0;
    for res in responses {
        match res.status().as_u16() {
            200 => passed += 1,
            429 => {
                assert_eq!(res.headers()["retry-after"], "1");
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["error"]["code"], "rate_limited");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!((5..=7).contains(&passed), "{passed} of 20 passed");
    // Other keys and people are not held back by it.
    assert_eq!(app.get("/v1/messages", &quiet).await.status(), 200);
    for _ in 0..8 {
        assert_eq!(
            app.get("/v1/messages", &owner.access_token).await.status(),
            200
        );
    }
    // The bucket refills.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.get("/v1/messages", &busy).await.status(), 200);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admins_read_the_platform_audit_log_and_billing_staff_do_not() {
    let app = TestApp::spawn_with(no_worker()).await;
    let owner = app.signup().await;
    let admin = app.staff(Role::PlatformAdmin).await;
    let billing = app.staff(Role::BillingStaff).await;
    assert_eq!(
        login(&app, "nobody-here@example.test", "some wrong password")
            .await
            .status(),
        401
    );
    assert_eq!(app.get("/v1/admin/tenants", &billing).await.status(), 200);

    let res = app.get("/v1/admin/audit-log", &admin).await;
    assert_eq!(res.status(), 200);
    let log: Value = res.json().await.unwrap();
    let actions: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[0], "staff.listed_tenants", "{log:#}");
    assert_eq!(log["data"][0]["actor_kind"], "staff");
    assert!(actions.contains(&"auth.sign_in_failed"), "{actions:?}");
    assert_eq!(
        actions.iter().filter(|a| **a == "staff.created").count(),
        2,
        "{actions:?}"
    );
    // Tenant events stay in the tenant's own log.
    assert!(!actions.contains(&"auth.signed_up"), "{actions:?}");
    assert_eq!(app.get("/v1/admin/audit-log", &billing).await.status(), 403);
    assert_eq!(
        app.get("/v1/admin/audit-log", &owner.access_token)
            .await
            .status(),
        403
    );
    app.cleanup().await;
}

async fn sign_up_from(app: &TestApp, address: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/auth/signup"))
        .header("X-Forwarded-For", address)
        .json(&json!({
            "tenant_name": "Throttled",
            "email": format!("t-{}@example.test", uuid::Uuid::new_v4().simple()),
            "password": "correct horse battery",
        }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_are_throttled_per_client_address() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        extra_env: vec![("OPENCLAW_TRUSTED_PROXIES", "127.0.0.1".into())],
        ..Default::default()
    })
    .await;
    let free = openclaw_core::accounts::FREE_SIGN_UPS_PER_CLIENT;
    for i in 0..free {
        let res = sign_up_from(&app, "203.0.113.7").await;
        assert_eq!(res.status(), 201, "sign-up {i}");
    }
    let res = sign_up_from(&app, "203.0.113.7").await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // While blocked, nothing is created (the throttle comes before the password hash).
    assert_eq!(sign_up_from(&app, "203.0.113.7").await.status(), 429);
    assert_eq!(
        openclaw_e2e::services::query_i64(&app.db.url, "SELECT count(*) FROM tenants").await,
        i64::from(free)
    );
    // Another address is not held back.
    assert_eq!(sign_up_from(&app, "198.51.100.9").await.status(), 201);
    app.cleanup().await;
}
