//! Wiring: settings, pool, HTTP client, mailer, the consumers (sends and jobs) and the relay,
//! and a clean stop.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use openclaw_core::changes;
use openclaw_core::config::Settings;
use openclaw_core::db::{self, PgPool};
use openclaw_core::queue::{self, Topology};
use openclaw_core::routing::RouteTables;
use tokio_util::sync::CancellationToken;

use crate::send::ProviderLimits;
use crate::{consumer, jobs, relay, webhooks};

/// What the consumer and the relay share.
pub struct Shared {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub topology: Topology,
    pub http: reqwest::Client,
    /// Tenants' route tables, evicted as changes are announced (see [`run`]).
    pub routes: Arc<RouteTables>,
    /// Room for messages claimed and not yet committed (`OPENCLAW_WORKER_IN_FLIGHT`).
    pub in_flight: Arc<tokio::sync::Semaphore>,
    pub limits: ProviderLimits,
    /// The sandbox's simulated receipts, applied in groups.
    pub receipts: openclaw_core::receipts::Receipts,
    /// Where budget alerts are mailed from (`OPENCLAW_SMTP_URL`); None: they are not mailed.
    pub mailer: Option<Arc<openclaw_core::mail::Mailer>>,
    /// Stripe (`OPENCLAW_STRIPE_SECRET_KEY`); None: closed periods' invoices stay in Postgres.
    pub stripe: Option<Arc<openclaw_core::billing::stripe::Stripe>>,
    /// Where webhook deliveries go out (addresses checked, no redirects, the timeout).
    pub webhooks: openclaw_core::webhooks::deliver::Client,
    pub webhook_schedule: openclaw_core::webhooks::deliver::Schedule,
    pub webhook_rooms: crate::webhooks::EndpointRoom,
}

impl Shared {
    pub fn new(settings: Settings) -> anyhow::Result<Shared> {
        let pool = db::pool(settings.database_url(), 16)?;
        let topology = Topology::from_settings(&settings);
        let http = reqwest::Client::builder()
            .timeout(settings.provider_timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(512)
            .user_agent(concat!("OpenClaw/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let mailer = match settings.smtp_url() {
            Some(url) => Some(Arc::new(openclaw_core::mail::Mailer::new(
                url,
                &settings.mail_from,
            )?)),
            None => None,
        };
        let stripe = match settings.stripe() {
            Some(config) => {
                tracing::info!(api = %config.api_base, "Stripe billing on: closed periods become Stripe invoices");
                Some(Arc::new(openclaw_core::billing::stripe::Stripe::new(
                    &config,
                )?))
            }
            None => {
                tracing::info!(
                    "OPENCLAW_STRIPE_SECRET_KEY is not set: closed periods become invoices kept in \
                     Postgres only"
                );
                None
            }
        };
        let webhooks = openclaw_core::webhooks::deliver::Client::new(
            openclaw_core::webhooks::UrlPolicy::from_settings(&settings),
            settings.webhook_timeout,
        )?;
        let webhook_schedule = openclaw_core::webhooks::deliver::Schedule::from_settings(&settings);
        let settings = Arc::new(settings);
        Ok(Shared {
            webhooks,
            webhook_schedule,
            webhook_rooms: Default::default(),
            mailer,
            stripe,
            receipts: openclaw_core::receipts::Receipts::start(pool.clone()).0,
            routes: Arc::new(RouteTables::new(pool.clone(), settings.clone())),
            pool,
            in_flight: Arc::new(tokio::sync::Semaphore::new(settings.worker_in_flight)),
            limits: ProviderLimits::default(),
            settings,
            topology,
            http,
        })
    }
}

/// Waits until the server has migrated the database.
pub async fn wait_for_schema(pool: &PgPool, stop: &CancellationToken) -> anyhow::Result<()> {
    let mut logged = false;
    loop {
        let ready = async {
            let mut conn = pool.get().await?;
            db::schema_is_current(&mut conn).await
        }
        .await;
        match ready {
            Ok(true) => return Ok(()),
            Ok(false) if !logged => {
                tracing::info!("waiting for openclaw-server to migrate the database");
                logged = true;
            }
            Err(e) if !logged => {
                tracing::warn!(error = format!("{e:#}"), "waiting for Postgres");
                logged = true;
            }
            _ => {}
        }
        tokio::select! {
            _ = stop.cancelled() => anyhow::bail!("stopped while waiting for the schema"),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Runs until `stop` is cancelled, reconnecting to RabbitMQ when it goes away. Listens for
/// the changes servers announce, so a provider or price edited anywhere is routed by at once.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) -> anyhow::Result<()> {
    let routes = shared.routes.clone();
    let listener = tokio::spawn(changes::listen(
        shared.settings.database_url().to_owned(),
        move |change| routes.forget(change),
        stop.clone(),
    ));
    let result = serve(&shared, &stop).await;
    // The listener stops with `stop`; on an error return it must stop too.
    listener.abort();
    result
}

async fn serve(shared: &Arc<Shared>, stop: &CancellationToken) -> anyhow::Result<()> {
    wait_for_schema(&shared.pool, stop).await?;
    let mut backoff = Duration::from_millis(500);
    while !stop.is_cancelled() {
        let session = async {
            // Named with the queue prefix, so an operator (or a test) can tell it apart.
            let name = format!("openclaw-worker {}", shared.settings.amqp_prefix);
            let conn = queue::connect(shared.settings.amqp_url(), &name).await?;
            let setup = conn.create_channel().await?;
            shared.topology.declare(&setup).await?;
            let _ = setup.close(200, "declared".into()).await;
            backoff = Duration::from_millis(500);
            // Either task ending (a lost connection) ends the session; both stop on `stop`.
            let session_stop = stop.child_token();
            let (a, b, c, d) = tokio::join!(
                async {
                    let r = consumer::run(shared.clone(), &conn, session_stop.clone()).await;
                    session_stop.cancel();
                    r
                },
                async {
                    let r = relay::run(shared.clone(), &conn, session_stop.clone()).await;
                    session_stop.cancel();
                    r
                },
                async {
                    let r = jobs::run(shared.clone(), &conn, session_stop.clone()).await;
                    session_stop.cancel();
                    r
                },
                async {
                    let r = webhooks::run(shared.clone(), &conn, session_stop.clone()).await;
                    session_stop.cancel();
                    r
                }
            );
            let _ = conn.close(200, "worker stopping".into()).await;
            a.and(b).and(c).and(d)
        }
        .await;
        if let Err(e) = session {
            if stop.is_cancelled() {
                break;
            }
            tracing::warn!(
                error = format!("{e:#}"),
                "RabbitMQ session ended; reconnecting"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
    Ok(())
}
