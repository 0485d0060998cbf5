//! Streaming commitment of boundary states and the claim-time trace root.
//!
//! Tensors are hashed as they are produced and forgotten: the hashers keep
//! only O(log n) hashes per open tree, so memory is bounded by the largest
//! live tensor, not by the number of tensors, layers or tokens.
//!
//! - state_root = list_root(bound roots (id ‖ tensor root) of the state's
//!   tensors, in program order);
//! - trace_root = merkle_root(state roots, in program order: state 0 is the
//!   input state, state k the state after the k-th layer step) — the root of
//!   the game's level-0 list, whose length the claim states separately.

use super::bound;
use super::merkle::{Hash, MerkleAccumulator, list_root_from};
use super::tensor::TensorHeader;
use crate::error::Result;

/// Accumulates one boundary state's tensor roots.
#[derive(Clone, Debug, Default)]
pub struct StateHasher {
    acc: MerkleAccumulator,
}

impl StateHasher {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hash tensor `id` (checked against its header) and add its bound root;
    /// returns the tensor root.
    pub fn push_tensor(&mut self, id: u32, header: &TensorHeader, bytes: &[u8]) -> Result<Hash> {
        let c = header.commit(bytes)?;
        self.push_root(id, &c.root);
        Ok(c.root)
    }

    /// Add tensor `id` by its already computed tensor root.
    pub fn push_root(&mut self, id: u32, root: &Hash) {
        self.acc.push(bound(id, root));
    }

    /// Number of tensors so far.
    pub fn len(&self) -> u64 {
        self.acc.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.acc.is_empty()
    }

    /// Bytes held.
    pub fn held_bytes(&self) -> usize {
        self.acc.held_bytes()
    }

    /// The state root.
    pub fn finish(&self) -> Hash {
        list_root_from(self.acc.len(), &self.acc.root())
    }
}

/// The claim-time trace commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceCommitment {
    /// trace_root = merkle_root(state roots).
    pub root: Hash,
    /// Number of boundary states.
    pub n_states: u64,
    /// The state roots, when the hasher was asked to keep them (the defender
    /// needs them to answer layer-level moves; 32 bytes per state).
    pub state_roots: Option<Vec<Hash>>,
}

/// Streams boundary states into the trace root.
#[derive(Clone, Debug, Default)]
pub struct TraceHasher {
    acc: MerkleAccumulator,
    state: StateHasher,
    keep: Option<Vec<Hash>>,
}

impl TraceHasher {
    /// A hasher; `keep_state_roots` also records every state root (32 bytes each).
    pub fn new(keep_state_roots: bool) -> Self {
        TraceHasher {
            keep: keep_state_roots.then(Vec::new),
            ..Self::default()
        }
    }

    /// Hash tensor `id` of the current state; returns its tensor root.
    pub fn tensor(&mut self, id: u32, header: &TensorHeader, bytes: &[u8]) -> Result<Hash> {
        self.state.push_tensor(id, header, bytes)
    }

    /// Close the current state; returns its root.
    pub fn end_state(&mut self) -> Hash {
        let root = self.state.finish();
        self.state = StateHasher::new();
        self.push_state_root(root);
        root
    }

    /// Add a whole state by its root.
    pub fn push_state_root(&mut self, root: Hash) {
        self.acc.push(root);
        if let Some(k) = &mut self.keep {
            k.push(root);
        }
    }

    /// Bytes held by the hasher (excluding kept state roots).
    pub fn held_bytes(&self) -> usize {
        self.acc.held_bytes() + self.state.held_bytes()
    }

    /// Finish (an open state with tensors in it is closed first).
    pub fn finish(mut self) -> TraceCommitment {
        if !self.state.is_empty() {
            self.end_state();
        }
        TraceCommitment {
            root: self.acc.root(),
            n_states: self.acc.len(),
            state_roots: self.keep,
        }
    }
}
