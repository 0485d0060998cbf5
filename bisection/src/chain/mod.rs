//! The on-chain client: plays the dissection game against the deployed
//! contracts, kept apart from the pure rules. A player's decision is made by
//! the same strategy as off-chain ([`crate::game::strategy`]) on a mirror of
//! the game ([`Mirror`]: the moves replayed through [`crate::game::rules`]
//! from the chain, checked against `DisputeGame.getGame` on every read); the
//! [`Responder`] turns decisions into transactions, each simulated first so
//! that one the contract would reject is never sent.
//!
//! - [`node`]: one account on a deployment: retried reads, simulate-then-send;
//! - [`responder`]: the one mapping between actions and contract calls (both
//!   ways), and the claim's life-cycle (register, post, challenge, settle,
//!   finalize, withdraw);
//! - [`mirror`]: a game's state read from the chain into the pure model;
//! - [`player`]: a side of a game, and [`play`] that runs a game between two;
//! - [`replay`]: the games of a deployment, one game's position, and a game
//!   rebuilt move by move from the chain or an export, for people to read.

pub mod mirror;
pub mod node;
pub mod player;
pub mod replay;
pub mod responder;

pub use mirror::{Mirror, MoveTx};
pub use node::{Node, Retry, Sent};
pub use player::{GameReport, GasStat, Player, Turn, play};
pub use responder::{Posted, Responder, Settlement};
