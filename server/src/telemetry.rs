//! Logging: `RUST_LOG` filters (default `info`); tests stay quiet unless `TEST_LOG` is set.

use tracing_subscriber::EnvFilter;

pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
