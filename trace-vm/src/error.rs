//! Error type of the trace VM core.

use crate::arith::Prim;

/// Everything that can go wrong in the arithmetic, batch and commitment core.
///
/// Every variant names what was wrong and, where it helps, how to fix it; no
/// function in this crate panics on bad input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A batch input line could not be parsed.
    #[error("line {line}: {msg}")]
    Batch {
        /// 1-based line number in the batch input.
        line: u64,
        /// What is wrong and how to fix it.
        msg: String,
    },
    /// A primitive name that is not in the primitive table.
    #[error("unknown primitive {name:?}; known primitives: {known}")]
    UnknownPrim {
        /// The name that was given.
        name: String,
        /// Comma-separated list of the known names.
        known: String,
    },
    /// An opcode byte that is not in the primitive table.
    #[error("unknown primitive opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    /// A primitive was given the wrong number of operands.
    #[error("{prim} takes {expected} operand(s), got {got}")]
    Arity {
        /// The primitive.
        prim: Prim,
        /// Its arity.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// A primitive that is not a reduction operator was used as one.
    #[error("{0} is not a reduction operator; use add, max or min")]
    NotReduction(Prim),
    /// Two vectors that must have the same length do not.
    #[error("{what}: length mismatch ({left} vs {right})")]
    LengthMismatch {
        /// Which kernel or check.
        what: &'static str,
        /// Length of the first operand.
        left: usize,
        /// Length of the second operand.
        right: usize,
    },
    /// A tensor's byte length does not match its dtype and shape.
    #[error("tensor {name:?}: {msg}")]
    Tensor {
        /// Name (or id) of the tensor.
        name: String,
        /// What is wrong.
        msg: String,
    },
    /// An element or leaf index out of range.
    #[error("{what}: index {index} out of range (len {len})")]
    IndexOutOfRange {
        /// Which tensor / tree.
        what: &'static str,
        /// The index given.
        index: u64,
        /// The number of elements / leaves.
        len: u64,
    },
    /// A Merkle proof that does not verify.
    #[error("proof does not verify: {0}")]
    BadProof(String),
    /// An op's inputs or attributes do not fit it (names the op, and its index in a program).
    #[error("{op}: {msg}")]
    Op {
        /// The op (`op 12 (map gelu_tanh)` inside a program).
        op: String,
        /// What is wrong and how to fix it.
        msg: String,
    },
    /// A program, or the tensors given to run it, are malformed.
    #[error("program: {0}")]
    Program(String),
    /// The GPU backend cannot run (no adapter, a device or shader error, a
    /// tensor too large for the adapter); the message says what to do.
    #[error("gpu: {0}")]
    Gpu(String),
    /// I/O error while reading or writing batch data.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
