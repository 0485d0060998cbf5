//! Refute's dissection game.
//!
//! The game rules are pure functions (state -> next actions), kept apart from
//! the code that talks to the chain: [`contracts`] holds the alloy bindings
//! generated from the committed forge artifacts, [`deployment`] the record of
//! where those contracts live, [`chain`] the client that plays games on them.

pub mod chain;
pub mod contracts;
pub mod deployment;
mod error;
pub mod game;
pub mod machine;

pub use error::{Error, Result, Target};
