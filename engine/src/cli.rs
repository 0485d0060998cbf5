//! Command-line definition: global options and the subcommand tree.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd;
use crate::error::Result;

/// Refute: optimistic fraud proofs for ML inference.
#[derive(Debug, Parser)]
#[command(name = "refute", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// State directory (devnet, models, databases). Defaults to `.refute` in the
    /// project checkout, else `~/.refute`.
    #[arg(long, global = true, env = "REFUTE_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Deployment record to use. Defaults to the one `refute devnet up` wrote.
    #[arg(long, global = true, env = "REFUTE_DEPLOYMENT", value_name = "FILE")]
    pub deployment: Option<PathBuf>,
    /// More log output on stderr (-v debug, -vv trace). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a local Anvil devnet with the Refute contracts deployed.
    Devnet(cmd::devnet::DevnetArgs),
    /// Talk to the deterministic VM directly.
    Vm(cmd::vm::VmArgs),
    /// Installed models and their commitments.
    Model(cmd::model::ModelArgs),
    /// Run a model in the VM and show its trace commitment.
    Trace(cmd::trace::TraceArgs),
    /// The whole system on the devnet: honest and cheating providers, a watcher, disputes.
    Demo(cmd::demo::DemoArgs),
    /// Run a model on a prompt and post the claim with a bond (--defend to defend it).
    Claim(cmd::claim::ClaimArgs),
    /// The provider's daemon: an HTTP API that answers and posts claims, and defends them.
    Provide(cmd::provide::ProvideArgs),
    /// Follow the chain: record, re-execute and challenge claims, play and defend games.
    Watch(cmd::watch::WatchArgs),
    /// Dispute games: list them, show one's position, replay one move by move, export one.
    Dispute(cmd::dispute::DisputeArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> Result<()> {
        let ctx = crate::paths::Context::resolve(&self.global)?;
        match self.command {
            Command::Devnet(args) => args.run(&ctx).await,
            Command::Vm(args) => args.run(),
            Command::Model(args) => args.run(&ctx),
            Command::Trace(args) => args.run(&ctx),
            Command::Claim(args) => args.run(&ctx).await,
            Command::Demo(args) => args.run(&ctx).await,
            Command::Provide(args) => args.run(&ctx, self.global.deployment).await,
            Command::Watch(args) => args.run(&ctx, self.global.deployment).await,
            Command::Dispute(args) => args.run(&ctx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
