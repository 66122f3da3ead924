//! `fake-stripe [--addr 127.0.0.1:12111]`: serves the slice of Stripe's API OpenClaw bills through
//! (see `openclaw_e2e::stripe` for the wire and control surfaces). Prints
//! `fake-stripe listening on http://ADDR` once it listens, then runs until SIGINT/SIGTERM.

use std::io::Write;

#[actix_web::main]
async fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let mut addr = std::env::var("FAKE_STRIPE_ADDR").unwrap_or_else(|_| "127.0.0.1:12111".into());
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, value] if flag == "--addr" => addr = value.clone(),
        _ => {
            eprintln!("usage: fake-stripe [--addr 127.0.0.1:12111]");
            std::process::exit(2);
        }
    }
    let fake = match openclaw_e2e::stripe::spawn(&addr).await {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("fake-stripe: cannot listen on {addr}: {e:#}");
            std::process::exit(1);
        }
    };
    println!("fake-stripe listening on {}", fake.base_url());
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    fake.stop().await;
}
