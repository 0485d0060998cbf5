//! The chain follower.
//!
//! Each step reads the node's head, takes `head - confirmations` as the safe
//! block, and processes the next range of at most `max_block_range` blocks up
//! to it:
//!
//! 1. the stored cursor must still be on the node's chain, else a reorg is
//!    handled: the follower walks its kept block hashes back to the newest one
//!    the node still has (the fork point) and reverts everything recorded above
//!    it in one transaction; the next step re-reads from there;
//! 2. the headers of the range's blocks within the reorg horizon are read and
//!    must chain onto the cursor and onto each other;
//! 3. the contracts' logs are read, and every log of a kept block must carry
//!    that block's hash;
//! 4. the contracts' counters are read pinned to the range's last block hash
//!    (`BlockId::hash`) and must equal the store's totals once the range is
//!    applied, which proves no event was missed;
//! 5. the last block must still be canonical; then the range and the cursor
//!    are committed in one transaction.
//!
//! If the chain moves under a step (a check in 2, 3 or 5 fails), nothing is
//! written and the step is reported as raced; the next one starts over. Every
//! RPC call is retried with exponential backoff and jitter, a bounded number
//! of times, each failure counted in the metrics.

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::time::Duration;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::Filter;
use bisection::contracts::{Claims, DisputeGame, ModelRegistry};
use bisection::deployment::ContractAddresses;
use serde::Serialize;

use crate::events::{self, Event, Skip};
use crate::metrics::Metrics;
use crate::store::{Changes, Range, Store, Totals};
use crate::{Error, Result};

/// Longest a single RPC call may take before it counts as failed.
const RPC_TIMEOUT: Duration = Duration::from_secs(20);
/// First pause before a retry; doubled after each failure, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// What one step did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Step {
    /// A range was committed.
    Applied {
        /// First block of the range.
        from: u64,
        /// Last block of the range (the new cursor).
        to: u64,
        /// Its hash, which every read of the step was pinned to.
        hash: B256,
        /// Head the node reported.
        head: u64,
        /// What was recorded.
        recorded: Changes,
        /// Logs skipped because they did not decode.
        skipped_logs: u64,
    },
    /// A reorg was found and the records above the fork point removed.
    Reorg {
        /// Last block both chains share; the new cursor.
        fork: u64,
        /// The cursor before the reorg.
        old_cursor: u64,
        /// What was removed.
        removed: Changes,
    },
    /// Nothing new is safe yet.
    Idle {
        /// Head the node reported.
        head: u64,
        /// The cursor (`None` before the first range).
        cursor: Option<u64>,
    },
    /// The chain changed during the step; nothing was written.
    Raced {
        /// What changed.
        reason: String,
    },
}

/// Settings of the follower.
#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// The node's endpoint (for messages).
    pub rpc_url: String,
    /// The contracts to follow.
    pub contracts: ContractAddresses,
    /// First block to read when the store is empty.
    pub start_block: u64,
    /// Blocks below the head that count as final.
    pub confirmations: u64,
    /// Most blocks per step.
    pub max_block_range: u64,
    /// Blocks whose hashes are kept below the cursor.
    pub reorg_horizon: u64,
    /// Attempts per RPC call.
    pub rpc_max_retries: u32,
    /// Our account, to tell our side in games.
    pub ours: Option<Address>,
}

/// Follows the chain into a [`Store`].
#[derive(Debug)]
pub struct Follower {
    provider: RootProvider,
    config: FollowConfig,
    metrics: Metrics,
}

/// How an RPC failure is labelled in the metrics.
trait Failure: std::fmt::Display {
    fn kind(&self) -> &'static str;
}

impl Failure for alloy::transports::TransportError {
    fn kind(&self) -> &'static str {
        match self {
            alloy::transports::RpcError::Transport(_) => "transport",
            alloy::transports::RpcError::ErrorResp(_) | alloy::transports::RpcError::NullResp => {
                "node"
            }
            _ => "other",
        }
    }
}

impl Failure for alloy::contract::Error {
    fn kind(&self) -> &'static str {
        match self {
            alloy::contract::Error::TransportError(e) => e.kind(),
            _ => "other",
        }
    }
}

/// A block's hash and its parent's.
struct Header {
    hash: B256,
    parent: B256,
}

impl Follower {
    /// A follower of `config.contracts` through `provider`.
    pub fn new(provider: RootProvider, config: FollowConfig, metrics: Metrics) -> Self {
        Self {
            provider,
            config,
            metrics,
        }
    }

    /// Calls `f` until it succeeds, at most `rpc_max_retries` times, pausing
    /// with exponential backoff and ±50% jitter between attempts.
    async fn call<T, E: Failure, F: Future<Output = Result<T, E>>>(
        &self,
        name: &'static str,
        f: impl Fn() -> F,
    ) -> Result<T> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let (kind, reason) = match tokio::time::timeout(RPC_TIMEOUT, f()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => (e.kind(), e.to_string()),
                Err(_) => ("timeout", format!("no answer within {RPC_TIMEOUT:?}")),
            };
            self.metrics
                .rpc_errors
                .with_label_values(&[name, kind])
                .inc();
            if attempt >= self.config.rpc_max_retries {
                return Err(Error::Rpc {
                    call: name,
                    rpc_url: self.config.rpc_url.clone(),
                    attempts: attempt,
                    reason,
                });
            }
            let pause = backoff.mul_f64(0.5 + fastrand::f64());
            tracing::warn!(target: "refute::watch", call = name, attempt, kind, error = %reason, retry_in_ms = pause.as_millis() as u64, "RPC call failed; retrying");
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    /// The node's chain id.
    pub async fn chain_id(&self) -> Result<u64> {
        self.call("eth_chainId", || self.provider.get_chain_id())
            .await
    }

    async fn header(&self, number: u64) -> Result<Option<Header>> {
        let block = self
            .call("eth_getBlockByNumber", || {
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Number(number))
                    .into_future()
            })
            .await?;
        Ok(block.map(|b| Header {
            hash: b.header.hash,
            parent: b.header.parent_hash,
        }))
    }

    async fn hash_at(&self, number: u64) -> Result<Option<B256>> {
        Ok(self.header(number).await?.map(|h| h.hash))
    }

    /// Processes the next range, or handles a reorg, or reports there is
    /// nothing to do.
    pub async fn step(&self, store: &mut Store) -> Result<Step> {
        let head = self
            .call("eth_blockNumber", || self.provider.get_block_number())
            .await?;
        self.metrics.head_block.set(head as i64);
        let safe = head.saturating_sub(self.config.confirmations);
        let cursor = store.cursor()?;
        if let Some((number, hash)) = cursor {
            self.metrics.cursor_block.set(number as i64);
            self.metrics
                .lag_blocks
                .set(head.saturating_sub(number) as i64);
            if self.hash_at(number).await? != Some(hash) {
                return self.revert(store, number).await;
            }
        }
        let from = cursor.map_or(self.config.start_block, |(n, _)| n + 1);
        if from > safe {
            return Ok(Step::Idle {
                head,
                cursor: cursor.map(|c| c.0),
            });
        }
        let to = safe.min(from + self.config.max_block_range - 1);

        // 2. Headers of the kept blocks, chained onto the cursor.
        let keep_from = from.max(to.saturating_sub(self.config.reorg_horizon));
        let mut parent = if keep_from == from {
            cursor.map(|c| c.1)
        } else {
            None
        };
        let mut blocks = Vec::new();
        for number in keep_from..=to {
            let Some(header) = self.header(number).await? else {
                return Ok(raced(format!("block {number} is gone")));
            };
            if parent.is_some_and(|p| p != header.parent) {
                return Ok(raced(format!(
                    "block {number} does not extend the blocks read before it"
                )));
            }
            parent = Some(header.hash);
            blocks.push((number, header.hash));
        }
        let kept: BTreeMap<u64, B256> = blocks.iter().copied().collect();
        let pinned = kept[&to];

        // 3. The contracts' logs.
        let c = &self.config.contracts;
        let filter = Filter::new()
            .from_block(from)
            .to_block(to)
            .address(vec![c.model_registry, c.claims, c.dispute_game])
            .event_signature(events::topics());
        let logs = self
            .call("eth_getLogs", || self.provider.get_logs(&filter))
            .await?;
        let mut decoded = Vec::new();
        let mut skipped = 0;
        for log in &logs {
            let origin = match events::origin(log) {
                Some(o) if (from..=to).contains(&o.block) && !log.removed => o,
                _ => {
                    skipped += 1;
                    self.metrics.malformed_logs.inc();
                    tracing::warn!(target: "refute::watch", ?log, from, to, "log without a block in the range, or removed; skipped");
                    continue;
                }
            };
            if kept
                .get(&origin.block)
                .is_some_and(|h| *h != origin.block_hash)
            {
                return Ok(raced(format!(
                    "a log of block {} has hash {}, not that of the header read",
                    origin.block, origin.block_hash
                )));
            }
            match events::decode(c, log) {
                Ok(event) => decoded.push((origin, event)),
                Err(Skip::Uninteresting) => {}
                Err(Skip::Malformed(reason)) => {
                    skipped += 1;
                    self.metrics.malformed_logs.inc();
                    tracing::warn!(target: "refute::watch", block = origin.block, log_index = origin.log_index, tx = %origin.tx, %reason, "malformed log skipped");
                }
            }
        }
        decoded.sort_by_key(|(o, _)| (o.block, o.log_index));

        // 4. The contracts' counters at the pinned block.
        let at = BlockId::hash(pinned);
        let claims = Claims::new(c.claims, &self.provider);
        let game = DisputeGame::new(c.dispute_game, &self.provider);
        let registry = ModelRegistry::new(c.model_registry, &self.provider);
        let (claim_count, game_count, model_count) = (
            claims.claimCount().block(at),
            game.gameCount().block(at),
            registry.modelCount().block(at),
        );
        let on_chain = Totals {
            claims: count(
                self.call("Claims.claimCount", || claim_count.call().into_future())
                    .await?,
            ),
            games: count(
                self.call("DisputeGame.gameCount", || game_count.call().into_future())
                    .await?,
            ),
            models: count(
                self.call("ModelRegistry.modelCount", || {
                    model_count.call().into_future()
                })
                .await?,
            ),
        };

        // 5. Still canonical? Then commit.
        if self.hash_at(to).await? != Some(pinned) {
            return Ok(raced(format!("block {to} was replaced while it was read")));
        }
        let moves: Vec<&'static str> = decoded.iter().filter_map(|(_, e)| move_kind(e)).collect();
        let range = Range {
            from,
            to,
            blocks,
            events: decoded,
        };
        let recorded = store.apply(
            &range,
            self.config.ours,
            self.config.reorg_horizon,
            |stored| {
                for (what, stored, on_chain) in [
                    ("claims", stored.claims, on_chain.claims),
                    ("games", stored.games, on_chain.games),
                    ("models", stored.models, on_chain.models),
                ] {
                    if stored != on_chain {
                        return Err(Error::Inconsistent {
                            block: to,
                            what,
                            stored,
                            on_chain,
                        });
                    }
                }
                Ok(())
            },
        )?;
        self.metrics.claims_seen.inc_by(recorded.claims);
        for kind in moves {
            self.metrics.moves.with_label_values(&[kind]).inc();
        }
        self.metrics.cursor_block.set(to as i64);
        self.metrics.lag_blocks.set(head.saturating_sub(to) as i64);
        Ok(Step::Applied {
            from,
            to,
            hash: pinned,
            head,
            recorded,
            skipped_logs: skipped,
        })
    }

    /// Finds the fork point below `cursor` and reverts the store to it.
    async fn revert(&self, store: &mut Store, cursor: u64) -> Result<Step> {
        let kept = store.kept_blocks()?;
        let mut fork = None;
        for (number, hash) in &kept {
            if self.hash_at(*number).await? == Some(*hash) {
                fork = Some(*number);
                break;
            }
        }
        let Some(fork) = fork else {
            return Err(Error::ReorgTooDeep {
                oldest_kept: kept.last().map_or(cursor, |b| b.0),
                horizon: self.config.reorg_horizon,
            });
        };
        let removed = store.revert_above(fork)?;
        self.metrics.reorgs.inc();
        self.metrics.cursor_block.set(fork as i64);
        tracing::warn!(target: "refute::watch", fork, old_cursor = cursor, claims = removed.claims, games = removed.games, moves = removed.moves, "reorg: records above the fork point removed; re-reading");
        Ok(Step::Reorg {
            fork,
            old_cursor: cursor,
            removed,
        })
    }
}

fn raced(reason: String) -> Step {
    tracing::info!(target: "refute::watch", %reason, "the chain moved during the step; starting over");
    Step::Raced { reason }
}

/// A contract counter; they index arrays, so they fit 64 bits.
fn count(value: U256) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// The metric label of an event that is a move or a lifecycle event.
fn move_kind(event: &Event) -> Option<&'static str> {
    match event {
        Event::Move { kind, .. } => Some(kind),
        Event::Challenged { .. } => Some("challenged"),
        Event::GameResolved { .. } => Some("resolved"),
        Event::ChallengeSettled { .. } => Some("settled"),
        Event::ClaimFinalized { .. } => Some("finalized"),
        Event::ModelRegistered { .. } | Event::ClaimPosted { .. } | Event::GameCreated { .. } => {
            None
        }
    }
}
