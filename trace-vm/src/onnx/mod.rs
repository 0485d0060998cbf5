//! ONNX graph → VM [`Program`] compiler.
//!
//! A model is compiled for fixed input shapes. Every ONNX value is either a
//! host constant ([`Konst`]: initializers, `Constant` nodes, shapes and
//! everything integer folded from them) or a VM tensor. Nodes on VM tensors
//! become ops of the op vocabulary (see [`nodes`] for the lowering of each
//! ONNX op type; `Conv` and pooling are im2col compositions of `gather`,
//! `permute`, `matmul` and `reduce`, so they keep the canonical dot order and
//! the per-element micro-traces of those ops). Constants a VM op reads become
//! program weights, in first-use order; float initializers are committed as
//! stored.
//!
//! Ops are grouped into layers of about [`LAYER_OPS`] VM ops each, so a model
//! has boundary states every few nodes. Compilation is deterministic: the
//! same file and input shapes give the same program and weights.

mod conv;
mod konst;
mod nodes;

use std::collections::HashMap;

pub use konst::{KData, Konst};

use crate::backend::Backend;
use crate::commit::{DType, Hash, model_root};
use crate::exec::{self, Run};
use crate::format::onnx::{OnnxModel, OnnxTensor, proto::NodeProto};
use crate::program::{Builder, Program};
use crate::tensor::{Tensor, TensorId};

/// VM ops per layer (a layer closes at the first node boundary past this).
pub const LAYER_OPS: usize = 48;

/// What can go wrong compiling or feeding an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A node the compiler cannot lower.
    #[error("node `{node}` ({op_type}): {msg}")]
    Node {
        /// The node's name (or its first output's).
        node: String,
        /// Its op type.
        op_type: String,
        /// What is wrong and how to fix it.
        msg: String,
    },
    /// The graph or its inputs do not fit.
    #[error("onnx graph: {0}")]
    Graph(String),
    /// Reading the model failed.
    #[error(transparent)]
    Format(#[from] crate::format::Error),
    /// The VM refused the program or a run.
    #[error(transparent)]
    Vm(#[from] crate::Error),
}

/// Result alias of the compiler.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A compiled ONNX model.
#[derive(Debug)]
pub struct Compiled {
    /// The op program.
    pub program: Program,
    /// Weights, in weight-declaration order.
    pub weights: Vec<Tensor>,
    /// The graph inputs the program takes, in order.
    pub inputs: Vec<String>,
    /// The graph outputs it produces, in order.
    pub outputs: Vec<String>,
}

impl Compiled {
    /// The model commitment: `model_root(weights_root, program hash)`.
    pub fn model_root(&self) -> Result<Hash> {
        let weights_root = self.program.weights_root(&self.weights)?;
        Ok(model_root(&weights_root, &self.program.hash()))
    }

    /// Run on `inputs` (in [`Compiled::inputs`] order).
    pub fn run(&self, backend: &dyn Backend, inputs: &[Tensor]) -> Result<Run> {
        Ok(exec::run(&self.program, backend, &self.weights, inputs)?)
    }
}

/// The VM tensor for an ONNX input or reference tensor: F32 stays F32,
/// integer and boolean types become I32 (values must fit).
pub fn vm_tensor(t: &OnnxTensor) -> Result<Tensor> {
    Konst::from_onnx(t)
        .and_then(|k| k.to_tensor())
        .map_err(|e| Error::Graph(format!("tensor `{}`: {e}", t.name)))
}

/// A value during compilation.
#[derive(Clone, Debug)]
enum Val {
    /// Known on the host.
    Const(Konst),
    /// Computed by the VM.
    Vm(VmVal),
}

/// A VM tensor standing for an ONNX value of `shape`: equal to the tensor's
/// own shape, or larger when the value is a lazy broadcast (`Expand`) of it.
#[derive(Clone, Debug)]
struct VmVal {
    id: TensorId,
    shape: Vec<usize>,
}

/// Compilation state.
struct Cx {
    b: Builder,
    weights: Vec<Tensor>,
    vals: HashMap<String, Val>,
    /// Weight tensors already declared for a constant value name.
    weight_of: HashMap<String, TensorId>,
    /// VM ops emitted so far.
    ops: usize,
    opset: i64,
}

/// Compile `model` for inputs of the given shapes (one per graph input that
/// is not an initializer, in graph order).
pub fn compile(model: &OnnxModel, shapes: &[Vec<usize>]) -> Result<Compiled> {
    let graph = model.graph();
    let mut cx = Cx {
        b: Builder::new(),
        weights: Vec::new(),
        vals: HashMap::new(),
        weight_of: HashMap::new(),
        ops: 0,
        opset: model.opset("").unwrap_or(1),
    };
    for t in model.initializers() {
        if let Ok(k) = Konst::from_onnx(t) {
            cx.vals.insert(t.name.clone(), Val::Const(k));
        }
    }
    let graph_inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|v| !cx.vals.contains_key(&v.name))
        .collect();
    if graph_inputs.len() != shapes.len() {
        return Err(Error::Graph(format!(
            "the graph has {} inputs ({}), {} shapes were given",
            graph_inputs.len(),
            graph_inputs
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            shapes.len()
        )));
    }
    let mut inputs = Vec::new();
    for (v, shape) in graph_inputs.iter().zip(shapes) {
        let elem = v.tensor_type().map(|t| t.elem_type).unwrap_or(0);
        let dtype = match elem {
            1 => DType::F32,
            2..=7 | 9 | 12 | 13 => DType::I32,
            other => {
                return Err(Error::Graph(format!(
                    "input `{}` has ONNX element type {other}; the VM takes float32 and integer inputs",
                    v.name
                )));
            }
        };
        let id = cx.b.input(&v.name, dtype, shape)?;
        cx.vals.insert(
            v.name.clone(),
            Val::Vm(VmVal {
                id,
                shape: shape.clone(),
            }),
        );
        inputs.push(v.name.clone());
    }
    let nodes = &graph.node;
    let mut next = 0;
    let mut layer = 0;
    while next < nodes.len() {
        let start_ops = cx.ops;
        let name = format!("onnx.{layer}");
        let r = cx.in_layer(&name, |cx| {
            while next < nodes.len() && cx.ops - start_ops < LAYER_OPS {
                cx.node(&nodes[next])?;
                next += 1;
            }
            Ok(())
        });
        match r {
            Ok(()) => layer += 1,
            // Nodes that only fold constants leave an empty layer, which the
            // builder rejects and discards.
            Err(_) if cx.ops == start_ops && next == nodes.len() => {}
            Err(e) => return Err(e),
        }
    }
    let mut outputs = Vec::new();
    for v in &graph.output {
        let id = match cx.vals.get(&v.name).cloned() {
            Some(Val::Vm(v)) if cx.b.shape(v.id)? == v.shape => v.id,
            // Outputs must be whole tensors: copy constants and lazy
            // broadcasts in a final layer.
            Some(val) => {
                let name = format!("onnx.output.{}", outputs.len());
                cx.in_layer(&name, |cx| {
                    let t = cx.tensor(&v.name, &val)?;
                    let shape = cx.b.shape(t)?;
                    cx.emit(crate::ops::Op::Reshape { shape }, &[t])
                })?
            }
            None => {
                return Err(Error::Graph(format!(
                    "output `{}` is not produced by any node",
                    v.name
                )));
            }
        };
        cx.b.output(id)?;
        outputs.push(v.name.clone());
    }
    tracing::debug!(target: "refute::vm", nodes = nodes.len(), ops = cx.ops, layers = layer, "compiled ONNX graph");
    Ok(Compiled {
        program: cx.b.finish()?,
        weights: cx.weights,
        inputs,
        outputs,
    })
}

/// The name a node is reported under.
fn node_name(n: &NodeProto) -> String {
    if !n.name.is_empty() {
        n.name.clone()
    } else {
        n.output.first().cloned().unwrap_or_default()
    }
}

impl Cx {
    /// Run `f` inside one builder layer named `name`.
    pub(super) fn in_layer<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Cx) -> Result<T>,
    ) -> Result<T> {
        let mut out = None;
        let mut b = std::mem::take(&mut self.b);
        let r = b.layer(name, |lb| {
            // The layer holds the builder; lower the nodes against it by
            // swapping it into the context for the duration.
            std::mem::swap(lb, &mut self.b);
            let r = f(self);
            std::mem::swap(lb, &mut self.b);
            match r {
                Ok(v) => {
                    out = Some(Ok(v));
                    Ok(())
                }
                Err(e) => {
                    let msg = e.to_string();
                    out = Some(Err(e));
                    Err(crate::Error::Program(msg))
                }
            }
        });
        self.b = b;
        match (r, out) {
            (_, Some(Err(e))) => Err(e),
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Err(e), _) => Err(e.into()),
            (Ok(()), None) => Err(Error::Graph(format!("layer {name} did not run"))),
        }
    }

    /// Declare (once per value name) the weight holding constant `k`.
    pub(super) fn weight(&mut self, name: &str, k: &Konst) -> Result<TensorId> {
        if let Some(&id) = self.weight_of.get(name) {
            return Ok(id);
        }
        let t = k
            .to_tensor()
            .map_err(|e| Error::Graph(format!("constant `{name}`: {e}")))?;
        let id = self.b.weight(name, t.dtype(), &k.shape)?;
        self.weights.push(t);
        self.weight_of.insert(name.to_string(), id);
        Ok(id)
    }

    pub(super) fn node(&mut self, n: &NodeProto) -> Result<()> {
        let outs = nodes::lower(self, n).map_err(|e| match e {
            Error::Node { .. } => e,
            other => Error::Node {
                node: node_name(n),
                op_type: n.op_type.clone(),
                msg: other.to_string(),
            },
        })?;
        for (name, v) in n.output.iter().zip(outs) {
            if !name.is_empty() {
                self.vals.insert(name.clone(), v);
            }
        }
        Ok(())
    }
}
