//! `refute devnet up | down | status`: a local chain for development and demos.

use std::path::PathBuf;

use alloy::primitives::U256;
use bisection::contracts::DeployConfig;
use bisection::deployment::Deployment;
use clap::{Args, Subcommand};

use crate::devnet::{NodeConfig, RunningNode, deploy_contracts};
use crate::error::{Error, Result};
use crate::paths::Context;

/// Arguments of `refute devnet`.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    #[command(subcommand)]
    command: DevnetCommand,
}

#[derive(Debug, Subcommand)]
enum DevnetCommand {
    /// Start Anvil, deploy the contracts and write the deployment record.
    Up(UpArgs),
    /// Stop the devnet started by `up`.
    Down,
    /// Tell whether the devnet runs, and where.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
struct UpArgs {
    /// Port for the node's JSON-RPC endpoint on 127.0.0.1.
    #[arg(long, default_value_t = 8545)]
    port: u16,
    /// Chain id of the devnet.
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,
    /// Seconds between blocks; by default a block is mined per transaction.
    #[arg(long)]
    block_time: Option<u64>,
    /// Smallest bond a claim or a challenge may carry, in wei (default 0.01 ether).
    #[arg(long, default_value_t = 10_000_000_000_000_000)]
    min_bond: u128,
    /// Seconds during which a claim can be challenged.
    #[arg(long, default_value_t = 600)]
    challenge_window: u64,
    /// Each dissection move reveals 2^ARITY_LOG2 children (1 to 6).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=6))]
    arity_log2: u8,
    /// Each side's total thinking time in a dispute game, in seconds.
    #[arg(long, default_value_t = 3600)]
    clock: u64,
    /// The anvil executable; defaults to the project's pinned one, then PATH.
    #[arg(long, env = "REFUTE_ANVIL")]
    anvil: Option<PathBuf>,
    /// Print the deployment record as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

impl DevnetArgs {
    /// Runs the chosen `devnet` subcommand.
    pub async fn run(self, ctx: &Context) -> Result<()> {
        match self.command {
            DevnetCommand::Up(args) => args.run(ctx).await,
            DevnetCommand::Down => down(ctx),
            DevnetCommand::Status(args) => args.run(ctx).await,
        }
    }
}

impl UpArgs {
    async fn run(self, ctx: &Context) -> Result<()> {
        let dir = ctx.devnet_dir();
        if let Some(node) = RunningNode::find(&dir)? {
            return Err(Error::DevnetRunning {
                pid: node.pid,
                rpc_url: node.rpc_url,
            });
        }
        let config = NodeConfig {
            anvil: find_anvil(ctx, self.anvil)?,
            port: self.port,
            chain_id: self.chain_id,
            block_time: self.block_time,
        };
        tracing::info!(target: "refute::engine", anvil = %config.anvil.display(), port = config.port, "starting anvil");
        let node = RunningNode::start(&dir, &config).await?;
        let config = DeployConfig {
            min_bond: U256::from(self.min_bond),
            challenge_window: self.challenge_window,
            arity_log2: self.arity_log2,
            clock: self.clock,
        };
        let deployment = match deploy_contracts(&node, config).await {
            Ok(deployment) => deployment,
            Err(err) => {
                node.stop();
                RunningNode::forget(&dir)?;
                return Err(err);
            }
        };
        deployment.save(&ctx.deployment)?;
        tracing::info!(target: "refute::engine", pid = node.pid, block = deployment.deploy_block, "devnet up");

        if self.json {
            println!("{}", to_json(&deployment));
            return Ok(());
        }
        println!("devnet up: anvil pid {} at {}", node.pid, node.rpc_url);
        println!("  chain id        {}", deployment.chain_id);
        println!("  deployed block  {}", deployment.deploy_block);
        println!("  model registry  {}", deployment.contracts.model_registry);
        println!("  claims          {}", deployment.contracts.claims);
        println!("  dispute game    {}", deployment.contracts.dispute_game);
        println!("  step verifier   {}", deployment.contracts.step_verifier);
        println!("  deployment      {}", ctx.deployment.display());
        println!("  node log        {}", node.log.display());
        println!();
        println!("next:");
        println!("  refute devnet status      is it running, at which block");
        println!("  refute devnet down        stop it");
        Ok(())
    }
}

impl StatusArgs {
    async fn run(self, ctx: &Context) -> Result<()> {
        let node = RunningNode::find(&ctx.devnet_dir())?;
        let deployment = Deployment::load(&ctx.deployment).ok();
        let block = match &node {
            Some(node) => Some(node.block_number().await?),
            None => None,
        };
        if self.json {
            let status = serde_json::json!({
                "running": node.is_some(),
                "pid": node.as_ref().map(|n| n.pid),
                "rpc_url": node.as_ref().map(|n| &n.rpc_url),
                "block": block,
                "deployment": deployment,
            });
            println!("{}", to_json(&status));
            return Ok(());
        }
        match (node, block) {
            (Some(node), Some(block)) => {
                println!(
                    "devnet running: anvil pid {} at {}, block {block}",
                    node.pid, node.rpc_url
                );
                if let Some(d) = deployment {
                    println!("  chain id        {}", d.chain_id);
                    println!("  model registry  {}", d.contracts.model_registry);
                    println!("  claims          {}", d.contracts.claims);
                }
            }
            _ => println!("devnet not running; start it with `refute devnet up`"),
        }
        Ok(())
    }
}

fn down(ctx: &Context) -> Result<()> {
    let dir = ctx.devnet_dir();
    match RunningNode::find(&dir)? {
        Some(node) => {
            node.stop();
            println!("devnet stopped (anvil pid {})", node.pid);
        }
        None => println!("no devnet was running"),
    }
    RunningNode::forget(&dir)?;
    // The record only describes the devnet we just stopped; keep one passed explicitly.
    if ctx.deployment.starts_with(&dir) {
        let _ = std::fs::remove_file(&ctx.deployment);
    }
    Ok(())
}

/// The project's pinned anvil, else the one on PATH.
fn find_anvil(ctx: &Context, flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path);
    }
    if let Some(path) = ctx.pinned_tool("anvil") {
        return Ok(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("anvil"))
        .find(|path| path.is_file())
        .ok_or_else(|| Error::AnvilNotFound {
            looked_in: "contracts/node_modules/.bin and PATH".into(),
        })
}

/// `value` as pretty JSON (the `--json` output of the chain commands).
pub(crate) fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("plain data serializes")
}
