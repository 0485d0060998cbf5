//! The dissection game as pure functions: a [`rules::Game`] state, the
//! [`rules::Action`]s each side may take, and [`rules::Game::apply`] that
//! either moves the state forward or rejects the action exactly as the
//! contract would. Nothing here does I/O, so whole games can be simulated
//! and property-tested without a chain.
//!
//! A game is played over a hierarchy of committed lists (DESIGN.md, "The
//! game"): level 0 lists the claim's boundary states; each disputed step of
//! level `l` expands into the list of level `l + 1`, whose first and last
//! entries must equal that step's agreed input and disputed output (the
//! expansion carries the new list's first reveal, so the challenger picks
//! next); a step of the last level is a primitive the verifier re-executes.
//!
//! - [`rules`]: state machine, k-ary dissection, level links, chess clocks;
//! - [`view`]: what a player knows (its own trace) and the VM's one-step;
//! - [`strategy`]: the honest strategy for each role and test adversaries;
//! - [`toy`]: a tiny hierarchical VM that tests the game logic alone;
//! - [`tree`]: a player's Merkle tree over one list (nodes and proofs);
//! - [`sim`]: plays a game between two strategies to its end.

pub mod rules;
pub mod sim;
pub mod strategy;
pub mod toy;
pub mod tree;
pub mod view;
