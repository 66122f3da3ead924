//! The relay in this process: server and worker on a fresh database and queue prefix, for
//! integration tests of the API and the send path (the sandbox provider, or the simulator
//! through `base_url`).

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::config::Settings;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::services::{TestDb, TestQueues, amqp_url, master_key};

/// A client of the relay's HTTP API with the steps tests keep taking.
pub struct Api {
    pub address: String,
    pub http: reqwest::Client,
}

pub struct TestApp {
    pub api: Api,
    pub db: TestDb,
    pub queues: TestQueues,
    pub settings_env: Vec<(String, String)>,
    worker_stop: Option<CancellationToken>,
    worker: Option<tokio::task::JoinHandle<()>>,
}

/// A signed-up tenant owner.
#[derive(Debug, Clone)]
pub struct Owner {
    pub access_token: String,
    pub refresh_token: String,
    pub tenant_id: String,
    pub email: String,
}

pub struct Options {
    /// Start a worker too (most send-path tests want one).
    pub worker: bool,
    pub retry_delays_ms: &'static str,
    pub claim_lease_secs: u64,
    /// `OPENCLAW_API_KEY_RATE`, requests per second per key.
    pub api_key_rate: u32,
    /// More settings, e.g. `OPENCLAW_SMTP_URL`.
    pub extra_env: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            worker: true,
            retry_delays_ms: "200,400",
            claim_lease_secs: 5,
            api_key_rate: 1000,
            extra_env: Vec::new(),
        }
    }
}

fn settings(env: &[(String, String)]) -> Settings {
    Settings::from_lookup(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        .expect("test settings are valid")
}

impl TestApp {
    /// Creates a platform staff account straight in this app's database (what the operator's
    /// `openclaw-server staff create` does) and signs it in; returns the access token.
    pub async fn staff(&self, role: openclaw_core::domain::Role) -> String {
        self.api.staff_in(&self.db.url, role).await
    }

    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        if std::env::var_os("TEST_LOG").is_some() {
            openclaw_server::telemetry::init("info");
        }
        let db = TestDb::new().await;
        let queues = TestQueues::new().await;
        // Bind first to learn the port, so the public URL (for provider callbacks) is right.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = probe.local_addr().expect("bound").port();
        drop(probe);
        let env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), db.url.clone()),
            ("AMQP_URL".into(), amqp_url()),
            ("OPENCLAW_AMQP_PREFIX".into(), queues.prefix.clone()),
            ("OPENCLAW_MASTER_KEY".into(), master_key()),
            (
                "OPENCLAW_JWT_SECRET".into(),
                "test-secret-test-secret-test-secret-0123".into(),
            ),
            ("OPENCLAW_HTTP_ADDR".into(), format!("127.0.0.1:{port}")),
            (
                "OPENCLAW_RETRY_DELAYS_MS".into(),
                options.retry_delays_ms.into(),
            ),
            (
                "OPENCLAW_CLAIM_LEASE_SECS".into(),
                options.claim_lease_secs.to_string(),
            ),
            (
                "OPENCLAW_API_KEY_RATE".into(),
                options.api_key_rate.to_string(),
            ),
        ]
        .into_iter()
        .chain(
            options
                .extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone())),
        )
        .collect();
        queues.track(&openclaw_core::queue::Topology::from_settings(&settings(
            &env,
        )));
        let app = openclaw_server::startup::Application::build(settings(&env))
            .await
            .expect("the server starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(async move {
            let _ = app.run_until_stopped().await;
        });
        let mut test_app = TestApp {
            api: Api::new(address),
            db,
            queues,
            settings_env: env,
            worker_stop: None,
            worker: None,
        };
        if options.worker {
            test_app.start_worker();
        }
        test_app
    }

    pub fn start_worker(&mut self) {
        let shared = Arc::new(
            openclaw_worker::startup::Shared::new(settings(&self.settings_env))
                .expect("the worker starts"),
        );
        let stop = CancellationToken::new();
        let token = stop.clone();
        self.worker = Some(tokio::spawn(async move {
            if let Err(e) = openclaw_worker::startup::run(shared, token).await {
                eprintln!("worker ended: {e:#}");
            }
        }));
        self.worker_stop = Some(stop);
    }

    /// Stops the worker the way SIGTERM does: finish the batches in hand, then return.
    pub async fn stop_worker(&mut self) {
        if let Some(stop) = self.worker_stop.take() {
            stop.cancel();
        }
        if let Some(handle) = self.worker.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
        }
    }

    /// Stops the worker; the database and queues go when the value is dropped.
    pub async fn cleanup(mut self) {
        self.stop_worker().await;
    }
}

/// The webhook secret the fake Stripe signs its events with in tests.
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_openclaw_test";

impl TestApp {
    /// The relay with Stripe billing pointed at a fake Stripe (`crate::stripe`) that posts its
    /// signed events back to the relay's `/hooks/stripe`.
    pub async fn spawn_with_stripe(options: Options) -> (TestApp, crate::stripe::FakeStripe) {
        let fake = crate::stripe::spawn("127.0.0.1:0")
            .await
            .expect("the fake Stripe starts");
        let mut options = options;
        options.extra_env.extend([
            ("OPENCLAW_STRIPE_SECRET_KEY", "sk_test_openclaw".to_owned()),
            ("OPENCLAW_STRIPE_API_BASE", fake.base_url()),
            (
                "OPENCLAW_STRIPE_WEBHOOK_SECRET",
                STRIPE_WEBHOOK_SECRET.to_owned(),
            ),
        ]);
        let app = TestApp::spawn_with(options).await;
        let res = reqwest::Client::new()
            .put(format!("{}/_fake/config", fake.base_url()))
            .json(&json!({"webhook_url": app.url("/hooks/stripe"),
                          "webhook_secret": STRIPE_WEBHOOK_SECRET}))
            .send()
            .await
            .expect("the fake Stripe is configured");
        assert!(res.status().is_success());
        (app, fake)
    }

    /// Moves what the tenant was charged into last month ([`crate::services::charged_last_month`]).
    pub async fn as_if_sent_last_month(&self, owner: &Owner) {
        crate::services::charged_last_month(&self.db.url, &owner.tenant_id).await;
    }

    /// Makes the tenant's open invoices past due now ([`crate::services::past_due_now`]).
    pub async fn make_past_due(&self, owner: &Owner) -> usize {
        crate::services::past_due_now(&self.db.url, &owner.tenant_id).await
    }
}

/// The month before this one (UTC).
pub fn last_month() -> openclaw_core::domain::Period {
    let this = openclaw_core::domain::Period::of(chrono::Utc::now().date_naive());
    openclaw_core::domain::Period::of(this.first_day() - chrono::Days::new(1))
}

impl std::ops::Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Api {
    pub fn new(address: String) -> Api {
        Api {
            address,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// A JSON `PUT`, answered as its status and JSON body (null if it has none).
    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let res = self
            .http
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn signup(&self) -> Owner {
        let email = format!("owner-{}@example.test", uuid::Uuid::new_v4().simple());
        let res = self
            .http
            .post(self.url("/v1/auth/signup"))
            .json(&json!({"tenant_name": "Acme", "email": email, "password": "correct horse battery"}))
            .send()
            .await
            .expect("signup sent");
        assert_eq!(
            res.status(),
            201,
            "signup: {}",
            res.text().await.unwrap_or_default()
        );
        let body: Value = res.json().await.expect("json");
        Owner {
            access_token: body["access_token"].as_str().unwrap().to_owned(),
            refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
            tenant_id: body["tenant"]["id"].as_str().unwrap().to_owned(),
            email,
        }
    }

    /// Invites `email` with `role` as `owner` and accepts the invitation; returns the member's
    /// id and access token.
    pub async fn member(&self, owner: &Owner, role: &str) -> (String, String) {
        let email = format!("{role}-{}@example.test", uuid::Uuid::new_v4().simple());
        let res = self
            .post(
                "/v1/members",
                &owner.access_token,
                &json!({"email": email, "role": role}),
            )
            .await;
        let status = res.status();
        let invited: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "invite: {invited}");
        let res = self
            .http
            .post(self.url("/v1/auth/accept-invite"))
            .json(
                &json!({"invite_token": invited["invite_token"], "password": "member password 42"}),
            )
            .send()
            .await
            .unwrap();
        let status = res.status();
        let tokens: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "accept: {tokens}");
        (
            invited["id"].as_str().unwrap().to_owned(),
            tokens["access_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a platform staff account with `role` straight in the database at `db_url`
    /// (what the operator's `openclaw-server staff create` does) and signs it in through this
    /// API; returns the access token.
    pub async fn staff_in(&self, db_url: &str, role: openclaw_core::domain::Role) -> String {
        let email = format!("staff-{}@example.test", uuid::Uuid::new_v4().simple());
        let pool = openclaw_core::db::pool(db_url, 1).expect("pool");
        openclaw_core::accounts::create_staff(&pool, &email, role, "staff password 42")
            .await
            .expect("staff account created");
        self.login(&email, "staff password 42").await
    }

    /// Signs in and returns the access token (panics unless 200).
    pub async fn login(&self, email: &str, password: &str) -> String {
        let res = self
            .http
            .post(self.url("/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "login {email}: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Creates an API key and returns the secret.
    pub async fn api_key(&self, owner: &Owner, mode: &str) -> String {
        let res = self
            .post(
                "/v1/api-keys",
                &owner.access_token,
                &json!({"name": "test", "mode": mode}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        body["key"].as_str().unwrap().to_owned()
    }

    /// Adds a provider with a price list (`[("DE", "0.05")]`, `*` allowed) and returns its id.
    pub async fn provider(
        &self,
        owner: &Owner,
        kind: &str,
        credentials: Value,
        base_url: Option<&str>,
        prices: &[(&str, &str)],
    ) -> String {
        let mut body = json!({"name": format!("{kind} {}", &uuid::Uuid::new_v4().simple().to_string()[..6]), "kind": kind, "credentials": credentials});
        if let Some(url) = base_url {
            body["base_url"] = json!(url);
        }
        let res = self.post("/v1/providers", &owner.access_token, &body).await;
        let status = res.status();
        let created: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let prices: Vec<Value> = prices
            .iter()
            .map(|(c, p)| json!({"country": c, "price": p, "currency": "USD"}))
            .collect();
        let res = self
            .http
            .put(self.url(&format!("/v1/providers/{id}/prices")))
            .bearer_auth(&owner.access_token)
            .json(&json!({ "prices": prices }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
        id
    }

    /// Adds a platform provider as `admin` (a platform admin) from `body` (name, kind,
    /// credentials, …) and returns its id.
    pub async fn platform_provider(&self, admin: &str, body: &Value) -> String {
        let res = self.post("/v1/admin/providers", admin, body).await;
        let status = res.status();
        let created: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// Replaces a platform provider's `list` (`cost` or `sell`) with `prices`
    /// (`[("DE", "0.05", "USD")]`, `*` allowed), or the test panics.
    pub async fn platform_prices(
        &self,
        admin: &str,
        platform: &str,
        list: &str,
        prices: &[(&str, &str, &str)],
    ) {
        let prices: Vec<Value> = prices
            .iter()
            .map(|(c, p, cur)| json!({"country": c, "price": p, "currency": cur}))
            .collect();
        let (status, body) = self
            .put_json(
                &format!("/v1/admin/providers/{platform}/{list}-prices"),
                admin,
                &json!({ "prices": prices }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Sends one message to +14155552671 with `key` (202, or the test panics) and waits until
    /// it is delivered (20 s at most); returns the message as the API shows it.
    pub async fn send_delivered(&self, key: &str) -> Value {
        let res = self
            .post(
                "/v1/messages",
                key,
                &json!({"to": "+14155552671", "body": "hi"}),
            )
            .await;
        let status = res.status();
        let sent: Value = res.json().await.unwrap();
        assert_eq!(status, 202, "{sent}");
        let id = sent["id"].as_str().unwrap().to_owned();
        self.wait_for_status(key, &id, &["delivered"], Duration::from_secs(20))
            .await
    }

    /// Sends `body` to +14155552671 with `key` (202, or the test panics) and waits until a
    /// provider took it (`sent` or `delivered`: its ledger entries are written); returns the
    /// message as the API shows it.
    pub async fn send_taken(&self, key: &str, body: &str) -> Value {
        let res = self
            .post(
                "/v1/messages",
                key,
                &json!({"to": "+14155552671", "body": body}),
            )
            .await;
        let status = res.status();
        let sent: Value = res.json().await.unwrap();
        assert_eq!(status, 202, "{sent}");
        let id = sent["id"].as_str().unwrap().to_owned();
        self.wait_for_status(key, &id, &["sent", "delivered"], Duration::from_secs(20))
            .await
    }

    /// Polls a message until its status is one of `wanted` (panics after `timeout`).
    pub async fn wait_for_status(
        &self,
        token: &str,
        id: &str,
        wanted: &[&str],
        timeout: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let res = self.get(&format!("/v1/messages/{id}"), token).await;
            let body: Value = res.json().await.unwrap();
            if wanted.contains(&body["status"].as_str().unwrap_or_default()) {
                return body;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("message {id} never reached {wanted:?}: {body:#}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
