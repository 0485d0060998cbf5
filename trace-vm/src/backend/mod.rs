//! Backends run whole ops. Every backend must produce, for every output
//! element, exactly the bits of that element's micro-trace
//! ([`crate::ops::element_trace`]); kernels may fuse and reorder memory
//! accesses but never the primitive order. The same test body runs on every
//! backend (`tests/ops_backends.rs`).

mod cpu;
pub mod gpu;

pub use cpu::{Cpu, Gemm};
pub use gpu::Gpu;

use crate::error::Result;
use crate::ops::Op;
use crate::tensor::Tensor;

/// Something that executes ops.
pub trait Backend: Send + Sync {
    /// Name for logs and errors (`cpu-fast`, `cpu-reference`, `gpu (<adapter>)`).
    fn name(&self) -> String;

    /// Run `op` on `inputs`, returning the output tensor. Bad inputs (dtype,
    /// shape, out-of-range index) are errors naming the op.
    fn run(&self, op: &Op, inputs: &[&Tensor]) -> Result<Tensor>;
}
