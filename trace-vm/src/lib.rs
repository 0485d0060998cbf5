//! Refute's deterministic tensor VM.
//!
//! Everything here is pure computation: canonical binary32 arithmetic, tensor
//! ops, model loading and trace commitments. This crate knows nothing of
//! chains, games or networks.
//!
//! - [`arith`]: the canonical primitives ([`arith::Prim`]), their fast and
//!   reference implementations, the canonical reduction kernels and the
//!   transcendental programs.
//! - [`batch`]: the line-oriented batch interface for differential testers.
//! - [`commit`]: keccak256 Merkle commitments (tensors, element proofs, lists,
//!   streaming trace hashing).
//! - [`onnx`]: the ONNX graph → program compiler.
//!
//! The normative definitions are in `docs/SPEC.md`.

pub mod arith;
pub mod backend;
pub mod batch;
pub mod commit;
pub mod error;
pub mod exec;
pub mod format;
pub mod models;
pub mod onnx;
pub mod ops;
pub mod program;
pub mod tensor;

pub use error::{Error, Result};
