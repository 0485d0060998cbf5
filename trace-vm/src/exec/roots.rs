//! The tensor roots of a run, each computed once, and appends hashed
//! incrementally.
//!
//! A decoder's KV cache grows by one `concat` per token and layer, and each
//! grown cache is a new tensor of a boundary state, so hashing every cache
//! from scratch costs O(T) per token and O(T^2) per generation. When the
//! first input's bytes are a prefix of the output's (every dimension before
//! the concat axis is 1, as in a `[1, T, head_dim]` cache), the output's
//! data root continues the input's streaming hasher over the new bytes
//! only. The roots are the same bytes' roots either way (SPEC.md 4.2).

use crate::commit::tensor::DataHasher;
use crate::commit::{Hash, LEAF_SIZE};
use crate::error::Result;
use crate::ops::Op;
use crate::program::{OpNode, Program};
use crate::tensor::{Tensor, TensorId};

/// A data hasher that has been fed the first `done` bytes of a tensor.
#[derive(Clone)]
struct Partial {
    hasher: DataHasher,
    done: usize,
}

/// Per tensor of a program: its root once computed, and for the tensors
/// an append extends, the hasher state after their bytes.
pub(super) struct Roots {
    roots: Vec<Option<Hash>>,
    partial: Vec<Option<Partial>>,
    /// First inputs of appends (their hasher state is worth keeping).
    extended: Vec<bool>,
}

impl Roots {
    pub(super) fn new(program: &Program) -> Self {
        let n = program.tensors().len();
        let mut extended = vec![false; n];
        for node in program.ops() {
            if let Some(prefix) = append_prefix(program, node) {
                extended[prefix.index()] = true;
            }
        }
        Self {
            roots: vec![None; n],
            partial: vec![None; n],
            extended,
        }
    }

    /// The root of `t`, whose value is `tensor`.
    pub(super) fn root(&mut self, t: TensorId, tensor: &Tensor) -> Result<Hash> {
        let i = t.index();
        if let Some(r) = self.roots[i] {
            return Ok(r);
        }
        let r = match self.partial[i].take() {
            None if !self.extended[i] => tensor.root()?,
            started => {
                let bytes = tensor.to_bytes();
                let hasher = match started {
                    Some(Partial { mut hasher, done }) => {
                        hasher.update(&bytes[done..]);
                        hasher
                    }
                    None => DataHasher::over(&bytes, LEAF_SIZE),
                };
                let (data_root, _) = hasher.clone().finish();
                if self.extended[i] {
                    let done = bytes.len();
                    self.partial[i] = Some(Partial { hasher, done });
                }
                tensor.header().tensor_root(&data_root)
            }
        };
        self.roots[i] = Some(r);
        Ok(r)
    }

    /// After `node` ran: when it is an append whose prefix has a hasher
    /// state, its output starts from that state (taken now, since the
    /// prefix may be dropped before the output is hashed).
    pub(super) fn ran(&mut self, program: &Program, node: &OpNode) {
        if let Some(prefix) = append_prefix(program, node)
            && let Some(p) = &self.partial[prefix.index()]
        {
            self.partial[node.output.index()] = Some(p.clone());
        }
    }

    /// `t` was dropped.
    pub(super) fn forget(&mut self, t: TensorId) {
        self.roots[t.index()] = None;
        self.partial[t.index()] = None;
    }
}

/// The first input of `node` when `node` appends to it: a concat along an
/// axis with only dimensions of 1 before it, so that the first input's
/// bytes are a prefix of the output's.
fn append_prefix(program: &Program, node: &OpNode) -> Option<TensorId> {
    let Op::Concat { axis } = node.op else {
        return None;
    };
    let prefix = *node.inputs.first()?;
    let shape = &program.tensor(prefix).shape;
    shape
        .get(..axis)
        .is_some_and(|outer| outer.iter().all(|&d| d == 1))
        .then_some(prefix)
}
