//! `refute watch`: follow the chain and record claims, games and moves.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tokio::sync::watch;
use watcher::config::{ConfigLayer, Defaults, Source, WatchConfig};
use watcher::daemon::{Daemon, Mode};
use watcher::follow::Step;
use watcher::pool::Stage;
use watcher::stage::ChainStage;

use crate::error::Result;
use crate::paths::Context;

/// Arguments of `refute watch`. Flags win over `REFUTE_WATCH_*` variables,
/// which win over the `--config` file.
#[derive(Debug, Args)]
#[command(after_long_help = "\
It records every claim, game and move of the deployment in its database, \
with the metrics. With an account (REFUTE_WATCH_ACCOUNT_KEY) it also acts: \
it re-executes every claim whose model is installed here, challenges the \
wrong ones with the contract's minimum bond and plays their games to the \
end, defends the games against the account's own claims and finalizes them, \
and withdraws what it won. Without an account it only monitors: claims \
whose model is installed are marked `to_reexecute`.

Every flag has a config file key (the flag's name with underscores) and a \
variable (REFUTE_WATCH_ and the key in capitals). The account key is read \
from REFUTE_WATCH_ACCOUNT_KEY only and never logged.")]
pub struct WatchArgs {
    #[command(flatten)]
    follow: FollowArgs,
    /// Process up to the safe head, then exit (for tests and cron).
    #[arg(long)]
    once: bool,
    /// One JSON object per processed range or reorg on stdout.
    #[arg(long)]
    json: bool,
}

/// The follower's settings, shared by `refute watch` and `refute provide`.
#[derive(Debug, Args)]
pub struct FollowArgs {
    /// TOML file with the settings (keys as the flags, with underscores).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// JSON-RPC endpoint; defaults to the deployment record's.
    #[arg(long, value_name = "URL")]
    rpc_url: Option<String>,
    /// Blocks below the head that count as final [default: 2].
    #[arg(long, value_name = "N")]
    confirmations: Option<u64>,
    /// Milliseconds between polls once caught up [default: 2000].
    #[arg(long, value_name = "MS")]
    poll_interval_ms: Option<u64>,
    /// Re-execute only these model ids (comma-separated) [default: every installed model].
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Claims handled at once: games played, or a provider's claims defended
    /// [default: 4; `refute provide`: 64].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9464 [default: none].
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<String>,
    /// SQLite database [default: <home>/watch.db].
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Most blocks read per step [default: 1000].
    #[arg(long, value_name = "N")]
    max_block_range: Option<u64>,
    /// Blocks whose hashes are kept to detect reorgs [default: 256].
    #[arg(long, value_name = "N")]
    reorg_horizon: Option<u64>,
    /// Attempts per RPC call before a step fails [default: 8].
    #[arg(long, value_name = "N")]
    rpc_max_retries: Option<u32>,
}

impl FollowArgs {
    /// The settings: flags over `REFUTE_WATCH_*` variables over the file
    /// over the defaults (`db` the default database file, `workers` the
    /// default number of workers). The account key is `account_key` when
    /// given, else `REFUTE_WATCH_ACCOUNT_KEY`.
    pub fn config(
        self,
        ctx: &Context,
        deployment: Option<PathBuf>,
        db: PathBuf,
        workers: usize,
        account_key: Option<String>,
    ) -> Result<WatchConfig> {
        let file = match &self.config {
            Some(path) => ConfigLayer::from_file(path)?,
            None => ConfigLayer::default(),
        };
        let (env, env_key) = ConfigLayer::from_env(std::env::vars())?;
        let flags = ConfigLayer {
            rpc_url: self.rpc_url,
            deployment,
            confirmations: self.confirmations,
            poll_interval_ms: self.poll_interval_ms,
            models: self.models,
            workers: self.workers,
            metrics_addr: self.metrics_addr,
            db: self.db,
            max_block_range: self.max_block_range,
            reorg_horizon: self.reorg_horizon,
            rpc_max_retries: self.rpc_max_retries,
        };
        let defaults = Defaults {
            deployment: ctx.deployment.clone(),
            db,
            models_dir: crate::cmd::model::models_dir(ctx),
            workers,
        };
        let config = WatchConfig::resolve(
            defaults,
            &[
                (Source::File, &file),
                (Source::Env, &env),
                (Source::Flags, &flags),
            ],
            account_key.or(env_key).as_deref(),
        )?;
        tracing::debug!(target: "refute::watch", ?config, "settings");
        Ok(config)
    }
}

impl WatchArgs {
    /// Runs the watcher until the safe head (`--once`), Ctrl-C or SIGTERM.
    /// `deployment` is the global `--deployment`, when given.
    pub async fn run(self, ctx: &Context, deployment: Option<PathBuf>) -> Result<()> {
        let db = ctx.home.join("watch.db");
        let config = self
            .follow
            .config(ctx, deployment, db, watcher::config::WORKERS, None)?;
        let shutdown = shutdown_on_signal();
        // Without an account the watcher only monitors.
        let stage = ChainStage::from_config(&config)
            .await?
            .map(|s| Arc::new(s) as Arc<dyn Stage>);
        let mut daemon = Daemon::start(config, stage).await?;
        let mode = if self.once { Mode::Once } else { Mode::Follow };
        let json = self.json;
        daemon
            .run(mode, shutdown, |step| print_step(step, json))
            .await?;
        Ok(())
    }
}

/// A shutdown channel that turns true on Ctrl-C or SIGTERM.
pub fn shutdown_on_signal() -> watch::Receiver<bool> {
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(target: "refute::watch", "stopping after the current block range");
        let _ = stop.send(true);
    });
    shutdown
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn wait_for_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(target: "refute::watch", error = %e, "cannot listen for SIGTERM; Ctrl-C still stops the watcher");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// One line per committed range or reorg on stdout.
fn print_step(step: &Step, json: bool) {
    if json {
        if let Step::Applied { .. } | Step::Reorg { .. } = step
            && let Ok(line) = serde_json::to_string(step)
        {
            println!("{line}");
        }
        return;
    }
    match step {
        Step::Applied {
            from,
            to,
            hash,
            head,
            recorded: r,
            skipped_logs,
        } => println!(
            "blocks {from}..={to} ({hash}): {} claims, {} games, {} moves, {} models, {skipped_logs} skipped logs; head {head}",
            r.claims, r.games, r.moves, r.models
        ),
        Step::Reorg {
            fork,
            old_cursor,
            removed: r,
        } => println!(
            "reorg: blocks {}..={old_cursor} replaced; removed {} claims, {} games, {} moves, {} models; re-reading from {}",
            fork + 1,
            r.claims,
            r.games,
            r.moves,
            r.models,
            fork + 1
        ),
        Step::Idle { .. } | Step::Raced { .. } => {}
    }
}
