//! The `refute` command: thin entry point; each subcommand lives in `cmd/`.

mod account;
mod cli;
mod cmd;
mod devnet;
mod error;
mod logging;
mod paths;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(&cli.global);
    match cli.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::debug!(target: "refute::engine", ?err, "command failed");
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
