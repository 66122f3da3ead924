//! Real Postgres and RabbitMQ for tests: a database per test copied from a migrated template,
//! and a queue-name prefix per test. A test never skips itself when a service is missing: it
//! fails and says what to start.

use std::sync::OnceLock;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// The Postgres server tests use (`OPENCLAW_TEST_PG`, default: this machine's).
pub fn pg_server() -> String {
    std::env::var("OPENCLAW_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The RabbitMQ tests use (`OPENCLAW_TEST_AMQP`, default: this machine's).
pub fn amqp_url() -> String {
    std::env::var("OPENCLAW_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

const START_PG: &str =
    "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";
const START_MQ: &str = "start it with: rabbitmq-server -detached";

async fn admin() -> AsyncPgConnection {
    let url = format!("{}/postgres", pg_server());
    match AsyncPgConnection::establish(&url).await {
        Ok(c) => c,
        Err(e) => panic!("Postgres is not reachable at {url} ({e}); {START_PG}"),
    }
}

/// The template's name changes whenever the migrations do, so a stale template is never used.
fn template_name() -> String {
    use diesel::migration::MigrationSource;
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    let migrations = MigrationSource::<diesel::pg::Pg>::migrations(&openclaw_core::db::MIGRATIONS)
        .expect("embedded migrations are readable");
    for m in migrations {
        m.name().to_string().hash(&mut h);
    }
    // The SQL itself, so an edited migration also makes a new template: every `up.sql` of
    // the migrations folder these tests were built from.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut ups: Vec<_> = std::fs::read_dir(&dir)
        .expect("the migrations folder")
        .filter_map(|e| e.ok().map(|e| e.path().join("up.sql")))
        .filter(|p| p.exists())
        .collect();
    ups.sort();
    for up in ups {
        std::fs::read_to_string(&up)
            .expect("a migration's up.sql")
            .hash(&mut h);
    }
    format!("openclaw_tpl_{:016x}", h.finish())
}

static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

async fn template() -> String {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut conn = admin().await;
            // Serialise template creation across test processes.
            diesel::sql_query("SELECT pg_advisory_lock(727274)")
                .execute(&mut conn)
                .await
                .expect("taking the template lock");
            #[derive(diesel::QueryableByName)]
            struct Exists {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                exists: bool,
            }
            let found: Exists = diesel::sql_query(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists",
            )
            .bind::<diesel::sql_types::Text, _>(&name)
            .get_result(&mut conn)
            .await
            .expect("looking for the template");
            if !found.exists {
                let building = format!("{name}_building");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {building}"))
                    .execute(&mut conn)
                    .await
                    .expect("dropping a half-built template");
                diesel::sql_query(format!("CREATE DATABASE {building}"))
                    .execute(&mut conn)
                    .await
                    .expect("creating the template");
                let url = format!("{}/{building}", pg_server());
                openclaw_core::db::run_migrations(&url).expect("migrating the template");
                diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("publishing the template");
            }
            diesel::sql_query("SELECT pg_advisory_unlock(727274)")
                .execute(&mut conn)
                .await
                .expect("releasing the template lock");
            name
        })
        .await
        .clone()
}

/// A fresh, migrated database for one test, dropped when the value is.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let template = template().await;
        let name = format!("openclaw_t_{}", Uuid::new_v4().simple());
        let mut conn = admin().await;
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut conn)
            .await
            .expect("copying the template database");
        TestDb {
            url: format!("{}/{name}", pg_server()),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("OPENCLAW_KEEP_TEST_DB").is_some() {
            eprintln!("kept test database {}", self.name);
            return;
        }
        let name = self.name.clone();
        // Drop may run inside or outside a runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for dropping the test database");
            rt.block_on(async {
                if let Ok(mut conn) =
                    AsyncPgConnection::establish(&format!("{}/postgres", pg_server())).await
                {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            });
        })
        .join();
    }
}

/// A queue-name prefix of one test. The queues it names are deleted when the value is
/// dropped, whether the test passed or panicked.
pub struct TestQueues {
    pub prefix: String,
    names: std::sync::Mutex<Vec<String>>,
}

static AMQP_CHECKED: OnceLock<()> = OnceLock::new();

impl TestQueues {
    pub async fn new() -> TestQueues {
        if AMQP_CHECKED.get().is_none() {
            let url = amqp_url();
            match openclaw_core::queue::connect(&url, "openclaw-test").await {
                Ok(conn) => {
                    let _ = conn.close(200, "checked".into()).await;
                    let _ = AMQP_CHECKED.set(());
                }
                Err(e) => panic!("RabbitMQ is not reachable at {url} ({e:#}); {START_MQ}"),
            }
        }
        TestQueues {
            prefix: format!("t{}", Uuid::new_v4().simple()),
            names: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Remembers the queues of a topology using this prefix, to delete them at the end.
    pub fn track(&self, topology: &openclaw_core::queue::Topology) {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        for q in topology.all_queues() {
            if !names.contains(&q) {
                names.push(q);
            }
        }
    }
}

impl Drop for TestQueues {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap_or_else(|e| e.into_inner()));
        if names.is_empty() {
            return;
        }
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for deleting test queues");
            rt.block_on(async {
                let Ok(conn) =
                    openclaw_core::queue::connect(&amqp_url(), "openclaw-test-cleanup").await
                else {
                    return;
                };
                if let Ok(channel) = conn.create_channel().await {
                    for q in names {
                        let _ = channel
                            .queue_delete(q.as_str().into(), Default::default())
                            .await;
                    }
                }
                let _ = conn.close(200, "cleaned".into()).await;
            });
        })
        .join();
    }
}

/// A random 32-byte master key, base64.
pub fn master_key() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Runs a query returning one boolean column named `value`, for tests that look at rows.
pub async fn query_bool(database_url: &str, sql: &str) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        value: bool,
    }
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .expect("connecting to the test database");
    let sql = format!("SELECT ({sql}) AS value");
    let row: Row = diesel::sql_query(sql)
        .get_result(&mut conn)
        .await
        .expect("the test query runs");
    row.value
}

/// Runs a query returning one bigint column named `value`.
pub async fn query_i64(database_url: &str, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        value: i64,
    }
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .expect("connecting to the test database");
    let sql = format!("SELECT ({sql})::int8 AS value");
    let row: Row = diesel::sql_query(sql)
        .get_result(&mut conn)
        .await
        .expect("the test query runs");
    row.value
}

/// Runs a query and returns its rows as JSON objects (column name → value), in its order.
pub async fn query_rows(database_url: &str, sql: &str) -> Vec<serde_json::Value> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .expect("connecting to the test database");
    let sql =
        format!("SELECT COALESCE(json_agg(to_json(r)), '[]')::text AS value FROM ({sql}) AS r");
    let row: Row = diesel::sql_query(sql)
        .get_result(&mut conn)
        .await
        .expect("the test query runs");
    serde_json::from_str(&row.value).expect("json_agg gives JSON")
}

/// Runs one statement (an UPDATE, a `SELECT pg_notify(…)`) and returns the rows it touched.
pub async fn execute(database_url: &str, sql: &str) -> usize {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .expect("connecting to the test database");
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .expect("the test statement runs")
}

fn tenant_uuid(tenant_id: &str) -> uuid::Uuid {
    openclaw_core::domain::TenantId::parse(tenant_id)
        .expect("a tenant id")
        .uuid()
}

/// Moves what a tenant (`ten_…`) was charged into last month, as if it had been sent then: the
/// ledger's entries and the rollups derived from them, by the same month. (Closing a month
/// needs the month to be over; the tests send now.)
pub async fn charged_last_month(database_url: &str, tenant_id: &str) {
    let tenant = tenant_uuid(tenant_id);
    for table in ["ledger_entries", "spend_daily"] {
        execute(
            database_url,
            &format!(
                "UPDATE {table} SET day = (day - interval '1 month')::date
                 WHERE tenant_id = '{tenant}'"
            ),
        )
        .await;
    }
}

/// Makes a tenant's open invoices past due now (as if their grace had ended), and tells every
/// process, as a change to an invoice does; returns how many.
pub async fn past_due_now(database_url: &str, tenant_id: &str) -> usize {
    let tenant = tenant_uuid(tenant_id);
    let due = execute(
        database_url,
        &format!(
            "UPDATE invoices SET past_due_at = now() - interval '1 second'
             WHERE tenant_id = '{tenant}' AND status = 'open'"
        ),
    )
    .await;
    execute(
        database_url,
        &format!(
            "SELECT pg_notify('{}', 'routes:{tenant}')",
            openclaw_core::changes::CHANNEL
        ),
    )
    .await;
    due
}
