//! `provider-sim [--addr 127.0.0.1:9090]`: serves the Twilio and Vonage SMS APIs as their
//! specs describe, with switchable behaviour (see `openclaw_e2e::sim`). Prints
//! `provider-sim listening on http://ADDR` once it listens, then runs until SIGINT/SIGTERM.

use std::io::Write;

#[actix_web::main]
async fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let mut addr = std::env::var("SIM_ADDR").unwrap_or_else(|_| "127.0.0.1:9090".into());
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, value] if flag == "--addr" => addr = value.clone(),
        _ => {
            eprintln!("usage: provider-sim [--addr 127.0.0.1:9090]");
            std::process::exit(2);
        }
    }
    let sim = match openclaw_e2e::sim::spawn(&addr).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("provider-sim: cannot listen on {addr}: {e:#}");
            std::process::exit(1);
        }
    };
    println!("provider-sim listening on {}", sim.base_url());
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    sim.stop().await;
}
