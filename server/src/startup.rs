//! Building and running the server: migrations, pools, the ingest tasks and the HTTP app.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use openclaw_core::config::Settings;
use openclaw_core::db;
use openclaw_core::queue::Topology;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::error::ApiError;
use crate::routes;
use crate::state::AppContext;
use openclaw_core::ingest::{Ingest, IngestTasks};
use tokio_util::sync::CancellationToken;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenClaw API",
        description = "Multi-tenant SMS relay: one API, the cheapest provider that delivers, failover and spend.",
        version = "1"
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A user access token (JWT) or a tenant API key (`oc_live_…`, `oc_test_…`).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of every registered route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::config)
        .split_for_parts();
    routes::schemas::forbid_nul_in_strings(&mut doc);
    routes::schemas::document_request_id(&mut doc);
    doc
}

pub struct Application {
    server: Server,
    port: u16,
    ingest_tasks: IngestTasks,
    state: web::Data<AppContext>,
    flusher: tokio::task::JoinHandle<()>,
    stop_listening: CancellationToken,
    change_listener: tokio::task::JoinHandle<()>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let applied = db::run_migrations(settings.database_url())?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied database migrations");
        }
        if settings.stripe_webhook_secret.is_none() {
            tracing::info!(
                "OPENCLAW_STRIPE_WEBHOOK_SECRET is not set: POST /hooks/stripe refuses Stripe's \
                 events"
            );
        }
        let pool = db::pool(settings.database_url(), 24)?;
        let topology = Topology::from_settings(&settings);
        let (ingest, ingest_tasks) =
            Ingest::start(pool.clone(), settings.amqp_url().to_owned(), topology);
        let listener = TcpListener::bind(settings.http_addr)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.http_addr))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppContext::new(settings, pool.clone(), ingest)?);
        let https = state.secure_cookies;
        // Changes announced by any process (this one too) evict what they touch.
        let stop_listening = CancellationToken::new();
        let change_listener = state.listen_for_changes(stop_listening.clone());

        // Holds only what it needs, so the ingest channel closes when the server stops.
        let (usage, usage_pool) = (state.key_usage.clone(), pool.clone());
        let limiter = state.key_limiter.clone();
        let flusher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                // Forget the buckets of keys that have been quiet (they are full again).
                limiter.retain_recent();
                if let Err(e) = usage.flush(&usage_pool).await {
                    tracing::warn!(error = format!("{e:#}"), "could not record API key usage");
                }
            }
        });

        let app_state = state.clone();
        let server = HttpServer::new(move || {
            let (app, mut doc) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(app_state.clone())
                .app_data(routes::query_config())
                .app_data(routes::path_config())
                .app_data(web::PayloadConfig::new(routes::MAX_BODY_BYTES))
                .configure(routes::config)
                .split_for_parts();
            routes::schemas::forbid_nul_in_strings(&mut doc);
            routes::schemas::document_request_id(&mut doc);
            let json = routes::health::OpenApiJson(routes::schemas::to_json(&doc).into());
            app.app_data(web::Data::new(doc))
                .app_data(web::Data::new(json))
                .app_data(web::FormConfig::default().limit(64 * 1024))
                .route("/openapi.json", web::get().to(routes::health::openapi))
                .configure(openclaw_web::configure)
                .default_service(web::to(not_found))
                .wrap(actix_web::middleware::from_fn(routes::refuse_nul_in_query))
                .wrap(openclaw_web::security_headers(https))
                // Outermost: every response, whatever answered it, carries the request id.
                .wrap(actix_web::middleware::from_fn(
                    openclaw_core::request::request_ids,
                ))
        })
        .listen(listener)?
        .shutdown_timeout(20)
        .run();

        Ok(Application {
            server,
            port,
            ingest_tasks,
            state,
            flusher,
            stop_listening,
            change_listener,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish and drains the
    /// ingest tasks, so every 202 given was committed and every commit offered to the broker.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        self.flusher.abort();
        self.stop_listening.cancel();
        let _ = self.change_listener.await;
        if let Err(e) = self.state.key_usage.flush(&self.state.pool).await {
            tracing::warn!(error = format!("{e:#}"), "could not record API key usage");
        }
        drop(self.state);
        if tokio::time::timeout(Duration::from_secs(15), self.ingest_tasks.join())
            .await
            .is_err()
        {
            tracing::warn!("ingest tasks did not finish in time; the relay will publish the rest");
        }
        Ok(())
    }
}

/// What no route took: 405 with `Allow` when the path is a documented route that takes other
/// methods (the document is the route table), else 404.
async fn not_found(req: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    let allowed = req
        .app_data::<web::Data<utoipa::openapi::OpenApi>>()
        .map(|doc| methods_of(doc, req.path()))
        .unwrap_or_default();
    if allowed.is_empty() || allowed.contains(&req.method().as_str()) {
        return ApiError::not_found("route").error_response();
    }
    let allow = allowed.join(", ");
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("This route takes {allow}."),
    )
    .error_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

/// The methods the document lists for the routes whose template (`/v1/providers/{id}`)
/// matches `path`; a template without parameters that matches wins over those with
/// (`/v1/messages/batch` over `/v1/messages/{id}`).
fn methods_of(doc: &utoipa::openapi::OpenApi, path: &str) -> Vec<&'static str> {
    let matches = |template: &str| {
        let (mut t, mut p) = (template.split('/'), path.split('/'));
        loop {
            match (t.next(), p.next()) {
                (None, None) => return true,
                (Some(t), Some(p))
                    if t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) => {}
                _ => return false,
            }
        }
    };
    let mut found: Vec<_> = doc.paths.paths.iter().filter(|(t, _)| matches(t)).collect();
    if found.iter().any(|(t, _)| !t.contains('{')) {
        found.retain(|(t, _)| !t.contains('{'));
    }
    let mut methods = Vec::new();
    for (_, item) in found {
        for (method, op) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
            ("HEAD", &item.head),
            ("OPTIONS", &item.options),
        ] {
            if op.is_some() && !methods.contains(&method) {
                methods.push(method);
            }
        }
    }
    methods
}
