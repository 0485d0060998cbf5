//! `refute watch`: the follower, the store, the worker pool and the metrics
//! endpoint, run together until the chain's safe head (`once`) or a shutdown.
//!
//! A shutdown is only acted on between awaits of a step, and a step's writes
//! happen in one synchronous transaction with no await inside it, so stopping
//! never leaves half a block range behind.

use std::sync::Arc;

use alloy::providers::RootProvider;
use bisection::deployment::Deployment;
use tokio::sync::watch;

use crate::config::WatchConfig;
use crate::follow::{FollowConfig, Follower, Step};
use crate::metrics::Metrics;
use crate::pool::{Pool, Stage};
use crate::store::{Identity, Store};
use crate::{Error, Result};

/// A running watcher.
#[derive(Debug)]
pub struct Daemon {
    follower: Follower,
    store: Store,
    pool: Pool,
    metrics: Metrics,
    config: WatchConfig,
}

/// How [`Daemon::run`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Up to the safe head, then wait for the claims' jobs and return.
    Once,
    /// Until the shutdown signal.
    Follow,
}

impl Daemon {
    /// Reads the deployment, connects to the node (checking its chain id),
    /// opens the database and starts the metrics endpoint. `stage` is the
    /// re-execution and game stage; without it the watcher only monitors.
    pub async fn start(config: WatchConfig, stage: Option<Arc<dyn Stage>>) -> Result<Self> {
        let deployment = Deployment::load(&config.deployment)?;
        let rpc_url = config
            .rpc_url
            .clone()
            .unwrap_or_else(|| deployment.rpc_url.clone());
        let url = rpc_url.parse().map_err(|e| Error::ConfigValue {
            key: "rpc_url".into(),
            source_name: "the deployment record",
            reason: format!("`{rpc_url}` is not a URL ({e})"),
        })?;
        let metrics = Metrics::new();
        let follower = Follower::new(
            RootProvider::new_http(url),
            FollowConfig {
                rpc_url: rpc_url.clone(),
                contracts: deployment.contracts.clone(),
                start_block: deployment.deploy_block,
                confirmations: config.confirmations,
                max_block_range: config.max_block_range,
                reorg_horizon: config.reorg_horizon,
                rpc_max_retries: config.rpc_max_retries,
                ours: config.account.as_ref().map(|a| a.address()),
            },
            metrics.clone(),
        );
        let chain_id = follower.chain_id().await?;
        if chain_id != deployment.chain_id {
            return Err(Error::WrongChain {
                rpc_url,
                node: chain_id,
                deployment: deployment.chain_id,
            });
        }
        let store = Store::open(
            &config.db,
            &Identity {
                chain_id,
                claims: deployment.contracts.claims,
            },
        )?;
        metrics.set_census(&store.census()?);
        if let Some(addr) = config.metrics_addr {
            metrics.serve(addr).await?;
        }
        let pool = Pool::new(
            config.workers,
            config.models.clone(),
            config.models_dir.clone(),
            None,
            stage,
        );
        tracing::info!(target: "refute::watch", rpc = %rpc_url, db = %config.db.display(), confirmations = config.confirmations, workers = config.workers, cursor = ?store.cursor()?.map(|c| c.0), "watcher started");
        Ok(Self {
            follower,
            store,
            pool,
            metrics,
            config,
        })
    }

    /// The database (to read what was recorded once the daemon stopped).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Follows the chain, calling `report` after each step that did something.
    /// In [`Mode::Follow`], an RPC failure that outlived its retries is logged
    /// and tried again after the poll interval; in [`Mode::Once`] it is returned.
    pub async fn run(
        &mut self,
        mode: Mode,
        mut shutdown: watch::Receiver<bool>,
        mut report: impl FnMut(&Step),
    ) -> Result<()> {
        let poll = self.config.poll_interval;
        while !*shutdown.borrow() {
            let step = tokio::select! {
                _ = shutdown.changed() => break,
                step = self.follower.step(&mut self.store) => step,
            };
            let step = match step {
                Ok(step) => step,
                Err(e) if mode == Mode::Once => return Err(e),
                Err(e) => {
                    tracing::error!(target: "refute::watch", error = %e, "step failed; trying again after the poll interval");
                    self.pause(poll, &mut shutdown).await?;
                    continue;
                }
            };
            match &step {
                Step::Applied { .. } | Step::Reorg { .. } => {
                    report(&step);
                    self.pool.dispatch(&self.store)?;
                    self.pool.collect(&self.store, &self.metrics)?;
                    self.metrics.set_census(&self.store.census()?);
                }
                Step::Raced { .. } => report(&step),
                Step::Idle { .. } if mode == Mode::Once => break,
                Step::Idle { .. } => {
                    self.pool.dispatch(&self.store)?;
                    if self.pool.collect(&self.store, &self.metrics)? > 0 {
                        self.metrics.set_census(&self.store.census()?);
                    }
                    self.pause(poll, &mut shutdown).await?;
                }
            }
        }
        if mode == Mode::Once {
            // Every dispatched job is recorded before returning; a job cut
            // short by a shutdown stays queued for the next run.
            self.pool.dispatch(&self.store)?;
            while !self.pool.is_idle() && !*shutdown.borrow() {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    done = self.pool.drain(&self.store, &self.metrics) => done?,
                }
                self.pool.dispatch(&self.store)?;
            }
        }
        self.metrics.set_census(&self.store.census()?);
        tracing::info!(target: "refute::watch", cursor = ?self.store.cursor()?.map(|c| c.0), "watcher stopped");
        Ok(())
    }

    /// Sleeps for `poll`, recording finished jobs meanwhile; returns early on shutdown.
    async fn pause(
        &mut self,
        poll: std::time::Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<()> {
        let sleep = tokio::time::sleep(poll);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Ok(()),
                _ = shutdown.changed() => return Ok(()),
                done = self.pool.next(&self.store, &self.metrics) => {
                    done?;
                    self.metrics.set_census(&self.store.census()?);
                }
            }
        }
    }
}
