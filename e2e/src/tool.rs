//! What the e2e tools' `main`s share (`provider-sim`, `fake-stripe`): logging, the listen
//! address from `--addr` or an environment variable, and running until SIGINT or SIGTERM.

use std::io::Write;

/// Logs to stderr at `RUST_LOG` (default `warn`), and returns the address to listen on: `--addr
/// ADDR`, else `$env_var`, else `default`. Anything else on the command line prints the usage
/// and exits with 2.
pub fn start(name: &str, env_var: &str, default: &str) -> String {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => std::env::var(env_var).unwrap_or_else(|_| default.to_owned()),
        [flag, value] if flag == "--addr" => value.clone(),
        _ => {
            eprintln!("usage: {name} [--addr {default}]");
            std::process::exit(2);
        }
    }
}

/// Says where the tool listens (`NAME listening on URL`, what scripts wait for), then waits
/// for SIGINT or SIGTERM.
pub async fn listening_until_stopped(name: &str, base_url: &str) {
    println!("{name} listening on {base_url}");
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
