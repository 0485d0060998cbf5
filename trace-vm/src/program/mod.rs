//! Programs: the list of ops a model executes for one input shape, grouped
//! into layers, with a byte-exact encoding whose hash is the on-chain program
//! commitment (SPEC.md, "Program encoding").
//!
//! A program has a tensor table (inputs, weights and values, each with a
//! dtype and shape), ops in execution order (each writes one new value
//! tensor), and a partition of the ops into consecutive layers. From these
//! it derives the boundary states: state `l` holds the non-weight tensors
//! that exist before layer `l` and are read by layer `l` or later, or are
//! program outputs. State 0 is the input state; the last state is the
//! outputs.

mod builder;
pub mod entry;
pub mod nn;

pub use builder::Builder;
pub use entry::{OpEntry, TensorEntry, decode_op};

use std::ops::Range;

use crate::commit::{DType, Hash, bound, keccak256, list_root};
use crate::error::Error;
use crate::ops::Op;
use crate::tensor::{Tensor, TensorId};

/// Domain tag hashed in front of every program commitment.
pub const PROGRAM_TAG: &[u8] = b"refute/program/v1";

/// The role of a tensor in a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TensorKind {
    /// Supplied with the claim.
    Input = 0,
    /// Part of the model (committed in the model root).
    Weight = 1,
    /// Produced by an op.
    Value = 2,
}

/// A tensor table entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorDecl {
    /// Role.
    pub kind: TensorKind,
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
    /// Name (for messages only; not committed).
    pub name: String,
}

/// One op of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpNode {
    /// The op and its attributes.
    pub op: Op,
    /// Input tensors, in the op's input order.
    pub inputs: Vec<TensorId>,
    /// The value tensor it writes.
    pub output: TensorId,
}

/// A layer: a consecutive range of ops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Name (for messages only; not committed).
    pub name: String,
    /// The ops it runs.
    pub ops: Range<usize>,
}

/// A program (built with [`Builder`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    tensors: Vec<TensorDecl>,
    ops: Vec<OpNode>,
    layers: Vec<Layer>,
    outputs: Vec<TensorId>,
    /// For each tensor, the index of the last op that reads it (None: never read).
    last_read: Vec<Option<usize>>,
    /// For each op, its layer.
    op_layer: Vec<usize>,
    /// For each tensor, the op that writes it.
    producer: Vec<Option<usize>>,
    /// The boundary states.
    states: Vec<Vec<TensorId>>,
}

impl Program {
    fn new(
        tensors: Vec<TensorDecl>,
        ops: Vec<OpNode>,
        layers: Vec<Layer>,
        outputs: Vec<TensorId>,
    ) -> Self {
        let mut last_read = vec![None; tensors.len()];
        for (i, node) in ops.iter().enumerate() {
            for t in &node.inputs {
                last_read[t.index()] = Some(i);
            }
        }
        let mut op_layer = vec![0; ops.len()];
        for (l, layer) in layers.iter().enumerate() {
            for i in layer.ops.clone() {
                op_layer[i] = l;
            }
        }
        let mut producer = vec![None; tensors.len()];
        for (i, node) in ops.iter().enumerate() {
            producer[node.output.index()] = Some(i);
        }
        let mut p = Program {
            tensors,
            ops,
            layers,
            outputs,
            last_read,
            op_layer,
            producer,
            states: Vec::new(),
        };
        p.states = (0..=p.layers.len()).map(|l| p.compute_state(l)).collect();
        p
    }

    /// The tensor table.
    pub fn tensors(&self) -> &[TensorDecl] {
        &self.tensors
    }

    /// One tensor's declaration.
    pub fn tensor(&self, id: TensorId) -> &TensorDecl {
        &self.tensors[id.index()]
    }

    /// The ops in execution order.
    pub fn ops(&self) -> &[OpNode] {
        &self.ops
    }

    /// The layers in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The layer op `i` belongs to.
    pub fn layer_of(&self, op: usize) -> Option<usize> {
        self.op_layer.get(op).copied()
    }

    /// The program outputs.
    pub fn outputs(&self) -> &[TensorId] {
        &self.outputs
    }

    /// Tensors of one role, in table order (the order inputs and weights are supplied in).
    pub fn of_kind(&self, kind: TensorKind) -> Vec<TensorId> {
        (0..self.tensors.len())
            .filter(|&i| self.tensors[i].kind == kind)
            .map(|i| TensorId(i as u32))
            .collect()
    }

    /// Index of the last op that reads `t`.
    pub fn last_read(&self, t: TensorId) -> Option<usize> {
        self.last_read[t.index()]
    }

    /// Whether `t` is a program output.
    pub fn is_output(&self, t: TensorId) -> bool {
        self.outputs.contains(&t)
    }

    /// Number of boundary states (layers + 1).
    pub fn state_count(&self) -> usize {
        self.layers.len() + 1
    }

    /// The tensors of boundary state `l` (0 = before the first layer), in table order.
    pub fn state(&self, l: usize) -> &[TensorId] {
        self.states.get(l).map_or(&[], |s| s)
    }

    fn compute_state(&self, l: usize) -> Vec<TensorId> {
        // The first op index that is not yet run at boundary l.
        let next = self
            .layers
            .get(l)
            .map_or(self.ops.len(), |layer| layer.ops.start);
        (0..self.tensors.len())
            .map(|i| TensorId(i as u32))
            .filter(|&t| {
                let d = &self.tensors[t.index()];
                let exists = match d.kind {
                    TensorKind::Input => true,
                    TensorKind::Weight => false,
                    TensorKind::Value => self.producer(t).is_some_and(|p| p < next),
                };
                exists && (self.last_read(t).is_some_and(|r| r >= next) || self.is_output(t))
            })
            .collect()
    }

    /// The op that writes value `t`.
    pub fn producer(&self, t: TensorId) -> Option<usize> {
        self.producer.get(t.index()).copied().flatten()
    }

    /// The byte encoding of tensor `t`'s table entry: u32 id, u8 kind, u8 dtype code, u8 rank, u64 dims (big-endian).
    pub fn encode_tensor(&self, t: TensorId) -> Vec<u8> {
        let d = &self.tensors[t.index()];
        let mut v = Vec::with_capacity(7 + 8 * d.shape.len());
        v.extend_from_slice(&t.0.to_be_bytes());
        v.push(d.kind as u8);
        v.push(d.dtype.code());
        v.push(d.shape.len() as u8);
        for &n in &d.shape {
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
        v
    }

    /// The byte encoding of op `i`: u32 index, u32 layer, u8 opcode, u8 input
    /// count, each input's and then the output's table entry, u32 attribute
    /// length, attributes.
    pub fn encode_op(&self, i: usize) -> Vec<u8> {
        let node = &self.ops[i];
        let mut v = Vec::new();
        v.extend_from_slice(&(i as u32).to_be_bytes());
        v.extend_from_slice(&(self.op_layer[i] as u32).to_be_bytes());
        v.push(node.op.kind().opcode());
        v.push(node.inputs.len() as u8);
        for &t in node.inputs.iter().chain(std::iter::once(&node.output)) {
            v.extend(self.encode_tensor(t));
        }
        let attrs = node.op.encode_attrs();
        v.extend_from_slice(&(attrs.len() as u32).to_be_bytes());
        v.extend(attrs);
        v
    }

    /// Leaf of op `i` in the ops list: keccak256(encode_op(i)).
    pub fn op_leaf(&self, i: usize) -> Hash {
        keccak256(&self.encode_op(i))
    }

    /// `ids_root(l)`: list_root(keccak256(u32 id)) over the tensors of state `l`.
    pub fn ids_root(&self, l: usize) -> Hash {
        let ids: Vec<Hash> = self
            .state(l)
            .iter()
            .map(|t| keccak256(&t.0.to_be_bytes()))
            .collect();
        list_root(&ids)
    }

    /// Leaf of layer `l` in the layers list:
    /// keccak256(u32 first op ‖ u32 op count ‖ ids_root(l + 1)).
    pub fn layer_leaf(&self, l: usize) -> Hash {
        let ops = &self.layers[l].ops;
        let mut b = (ops.start as u32).to_be_bytes().to_vec();
        b.extend_from_slice(&(ops.len() as u32).to_be_bytes());
        b.extend_from_slice(&self.ids_root(l + 1));
        keccak256(&b)
    }

    /// The program hash (the on-chain architecture commitment):
    /// keccak256(PROGRAM_TAG ‖ tensors_root ‖ ops_root ‖ layers_root ‖ outputs_root), where
    /// tensors_root = list_root(keccak256(encode_tensor(t))), ops_root = list_root(op_leaf(i)),
    /// layers_root = list_root(layer_leaf(l)) and outputs_root = list_root(keccak256(u32 id)).
    pub fn hash(&self) -> Hash {
        let mut pre = PROGRAM_TAG.to_vec();
        for root in self.hash_parts() {
            pre.extend_from_slice(&root);
        }
        keccak256(&pre)
    }

    /// The four roots [`Program::hash`] commits to, in order.
    pub fn hash_parts(&self) -> [Hash; 4] {
        let tensors: Vec<Hash> = (0..self.tensors.len())
            .map(|i| keccak256(&self.encode_tensor(TensorId(i as u32))))
            .collect();
        let ops: Vec<Hash> = (0..self.ops.len()).map(|i| self.op_leaf(i)).collect();
        let layers: Vec<Hash> = (0..self.layers.len()).map(|l| self.layer_leaf(l)).collect();
        let outputs: Vec<Hash> = self
            .outputs
            .iter()
            .map(|t| keccak256(&t.0.to_be_bytes()))
            .collect();
        [
            list_root(&tensors),
            list_root(&ops),
            list_root(&layers),
            list_root(&outputs),
        ]
    }

    /// `weights_root`: list_root of the weights' bound roots in weight-table
    /// order (`weights` given in that order).
    pub fn weights_root(&self, weights: &[Tensor]) -> crate::error::Result<Hash> {
        let ids = self.of_kind(TensorKind::Weight);
        if ids.len() != weights.len() {
            return Err(Error::Program(format!(
                "the program takes {} weights, {} were given",
                ids.len(),
                weights.len()
            )));
        }
        let roots = ids
            .iter()
            .zip(weights)
            .map(|(id, w)| Ok(bound(id.0, &w.root()?)))
            .collect::<crate::error::Result<Vec<_>>>()?;
        Ok(list_root(&roots))
    }

    /// A readable listing: one line per op.
    pub fn listing(&self) -> String {
        let mut s = String::new();
        for (l, layer) in self.layers.iter().enumerate() {
            s.push_str(&format!("layer {l} {}\n", layer.name));
            for i in layer.ops.clone() {
                let n = &self.ops[i];
                let ins: Vec<String> = n.inputs.iter().map(|t| t.to_string()).collect();
                let o = self.tensor(n.output);
                s.push_str(&format!(
                    "  op {i}: {} = {}({}) {:?}{:?}\n",
                    n.output,
                    n.op.label(),
                    ins.join(", "),
                    o.dtype,
                    o.shape
                ));
            }
        }
        s
    }

    /// Error for op `i` (names its index and op).
    pub fn op_error(&self, i: usize, e: Error) -> Error {
        let label = self.ops.get(i).map(|n| n.op.label()).unwrap_or_default();
        match e {
            Error::Op { msg, .. } => Error::Op {
                op: format!("op {i} ({label})"),
                msg,
            },
            other => Error::Op {
                op: format!("op {i} ({label})"),
                msg: other.to_string(),
            },
        }
    }
}
