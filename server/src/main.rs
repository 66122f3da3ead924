use openclaw_core::config::Settings;
use openclaw_server::startup::Application;

#[actix_web::main]
async fn main() {
    openclaw_server::telemetry::init("info");
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("openclaw-server: {e}");
            std::process::exit(2);
        }
    };
    let addr = settings.http_addr;
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("openclaw-server: {e:#}");
            std::process::exit(1);
        }
    };
    tracing::info!(%addr, port = app.port(), "openclaw-server listening");
    if let Err(e) = app.run_until_stopped().await {
        eprintln!("openclaw-server: {e:#}");
        std::process::exit(1);
    }
}
