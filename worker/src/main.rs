use std::sync::Arc;

use openclaw_core::config::Settings;
use openclaw_worker::startup::{self, Shared};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("openclaw-worker: {e}");
            std::process::exit(2);
        }
    };
    let shared = match Shared::new(settings) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("openclaw-worker: {e:#}");
            std::process::exit(2);
        }
    };
    let stop = CancellationToken::new();
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping: finishing the batches in hand");
        signal_stop.cancel();
    });
    tracing::info!("openclaw-worker starting");
    if let Err(e) = startup::run(shared, stop).await {
        eprintln!("openclaw-worker: {e:#}");
        std::process::exit(1);
    }
    tracing::info!("openclaw-worker stopped");
}
