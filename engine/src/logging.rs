//! Structured logs on stderr, so stdout carries only results.

use tracing_subscriber::EnvFilter;

use crate::cli::GlobalArgs;

/// Installs the global subscriber. `RUST_LOG` wins over the flags.
pub fn init(args: &GlobalArgs) {
    let default = match (args.quiet, args.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "info,refute=debug",
        (false, _) => "debug,refute=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .init();
}
