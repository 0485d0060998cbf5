//! Refute's deterministic tensor VM.
//!
//! Everything here is pure computation: canonical binary32 arithmetic, tensor
//! ops, model loading and trace commitments. This crate knows nothing of
//! chains, games or networks.

pub mod format;
