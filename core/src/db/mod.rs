//! Postgres storage: the pool, the embedded migrations and one module per table.
//! Every query on a tenant-owned table takes the tenant id and filters by it.

pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod budgets;
pub mod idempotency;
pub mod jobs;
pub mod ledger;
pub mod messages;
pub mod opt_outs;
pub mod providers;
pub mod schema;
pub mod sessions;
pub mod spend;
pub mod tenants;
pub mod throttle;
pub mod users;
pub mod webhooks;

use std::time::Duration;

use anyhow::Context;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use diesel_async::RunQueryDsl;

pub type PgPool = Pool<AsyncPgConnection>;
pub type PgConn = Object<AsyncPgConnection>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// A pool of `size` connections. Connecting is lazy: this fails only on a malformed URL.
///
/// Checked-out connections are not probed with a test query (that would be one more round
/// trip per request); a broken one fails its first query and is dropped. Each connection uses
/// generic plans for its prepared statements: the hot-path statements take whole arrays, and
/// re-planning them for every batch would cost more than running them.
pub fn pool(database_url: &str, size: usize) -> anyhow::Result<PgPool> {
    use diesel_async::AsyncConnection;
    use futures::FutureExt;
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(|url| {
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            diesel::sql_query("SET plan_cache_mode = force_generic_plan")
                .execute(&mut conn)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the Postgres pool")
}

/// Runs `f` in a transaction that acts for `tenant` only: it switches to the `openclaw_tenant`
/// role and sets `app.tenant_id`, so Postgres's row-level security refuses every other
/// tenant's rows even to a query that forgot its `tenant_id` filter (defence in depth; the
/// queries still filter). Commits when `f` succeeds, rolls back when it fails. A future
/// dropped half-way leaves the transaction open, and the pool then discards the connection.
pub async fn scoped<R, E>(
    conn: &mut AsyncPgConnection,
    tenant: uuid::Uuid,
    f: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<diesel::result::Error>,
{
    use diesel_async::TransactionManager;
    type Tm = <AsyncPgConnection as diesel_async::AsyncConnection>::TransactionManager;
    Tm::begin_transaction(conn).await?;
    let scoped = diesel::sql_query(
        "SELECT set_config('role', 'openclaw_tenant', true), set_config('app.tenant_id', $1, true)",
    )
    .bind::<diesel::sql_types::Text, _>(tenant.to_string())
    .execute(conn)
    .await;
    let result = match scoped {
        Ok(_) => f(conn).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(value) => {
            Tm::commit_transaction(conn).await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = Tm::rollback_transaction(conn).await {
                tracing::warn!(error = %rollback, "rolling back a tenant-scoped transaction");
            }
            Err(e)
        }
    }
}

/// Runs `f` in a plain transaction (the platform's own rows, which no tenant scope reaches):
/// commits when `f` succeeds, rolls back when it fails.
pub async fn unscoped<R, E>(
    conn: &mut AsyncPgConnection,
    f: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<diesel::result::Error>,
{
    use diesel_async::TransactionManager;
    type Tm = <AsyncPgConnection as diesel_async::AsyncConnection>::TransactionManager;
    Tm::begin_transaction(conn).await?;
    match f(conn).await {
        Ok(value) => {
            Tm::commit_transaction(conn).await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = Tm::rollback_transaction(conn).await {
                tracing::warn!(error = %rollback, "rolling back a transaction");
            }
            Err(e)
        }
    }
}

/// Applies pending migrations and returns the versions it applied.
///
/// diesel's migration harness is synchronous; run under an async runtime it would block a
/// worker thread (and panics on a current-thread runtime), so it gets a plain thread.
pub fn run_migrations(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_owned();
    std::thread::spawn(move || -> anyhow::Result<Vec<String>> {
        use diesel::Connection;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .context("connecting to Postgres to migrate")?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("applying migrations")?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the migration thread panicked"))?
}

/// Whether every migration this build embeds has been applied (the worker waits for that).
pub async fn schema_is_current(conn: &mut AsyncPgConnection) -> anyhow::Result<bool> {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let expected: Vec<String> = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    let applied: Vec<Row> =
        match diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load(conn)
            .await
        {
            Ok(rows) => rows,
            // The table does not exist until the server's first start.
            Err(diesel::result::Error::DatabaseError(..)) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
    Ok(expected
        .iter()
        .all(|v| applied.iter().any(|r| &r.version == v)))
}

/// Creates the database named in `database_url` if it does not exist yet, by connecting to
/// the server's `postgres` database. Used by the quickstart and the tests.
pub async fn ensure_database(database_url: &str) -> anyhow::Result<()> {
    use diesel_async::AsyncConnection;
    let (server, name) = database_url
        .rsplit_once('/')
        .context("DATABASE_URL has no database name")?;
    let name = name.split('?').next().unwrap_or(name);
    let mut admin = AsyncPgConnection::establish(&format!("{server}/postgres"))
        .await
        .context("connecting to Postgres (is it running?)")?;
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(&mut admin)
            .await?;
    if !found.exists {
        diesel::sql_query(format!("CREATE DATABASE \"{}\"", name.replace('"', "")))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    Ok(())
}
