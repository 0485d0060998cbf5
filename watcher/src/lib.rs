//! Refute's watcher: follows the chain, records claims, games and moves in
//! SQLite, and hands each claim to a bounded worker pool.
//!
//! - [`config`]: settings from a TOML file, the environment and flags.
//! - [`store`]: the SQLite state (cursor, claims, games, moves, work queue).
//! - [`events`]: decoding the contracts' logs.
//! - [`follow`]: the chain follower (confirmations, pinned reads, reorgs, retries).
//! - [`pool`]: the worker pool and the [`pool::Stage`] seam that re-executes
//!   claims and plays games.
//! - [`provider`]: a prompt run into the trace of a claim (and the cheats
//!   of a dishonest provider, for demonstrations).
//! - [`reexec`]: a claim re-executed from its model and calldata.
//! - [`stage`]: the on-chain stage: challenges wrong claims, defends the
//!   account's own, plays the games and claims the bonds.
//! - [`metrics`]: the Prometheus endpoint.
//! - [`models`]: the installed models by model id.
//! - [`daemon`]: ties them together (`refute watch`).

pub mod config;
pub mod daemon;
mod error;
pub mod events;
pub mod follow;
pub mod metrics;
pub mod models;
pub mod pool;
pub mod provider;
pub mod reexec;
pub mod stage;
pub mod store;

pub use error::{Error, Result};
