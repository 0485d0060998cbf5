//! Refute's dissection game.
//!
//! The game rules are pure functions (state -> next actions), kept apart from
//! the code that talks to the chain.
