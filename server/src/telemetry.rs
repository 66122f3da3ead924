//! Logging: `RUST_LOG` filters (default `info`); tests stay quiet unless `TEST_LOG` is set.
//! Colours only on a terminal, so a log file reads (and greps) as plain text.

use tracing_subscriber::EnvFilter;

pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .try_init();
}
