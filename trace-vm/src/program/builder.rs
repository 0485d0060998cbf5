//! Writing programs: declare inputs and weights, open layers, add ops (each
//! checked and shape-inferred as it is added), mark outputs.

use crate::commit::DType;
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::tensor::{TensorId, numel};

use super::{Layer, OpNode, Program, TensorDecl, TensorKind};

/// Builds a [`Program`]. Every op must be added inside [`Builder::layer`].
#[derive(Debug, Default)]
pub struct Builder {
    tensors: Vec<TensorDecl>,
    ops: Vec<OpNode>,
    layers: Vec<Layer>,
    outputs: Vec<TensorId>,
    open: Option<(String, usize)>,
}

impl Builder {
    /// An empty program.
    pub fn new() -> Self {
        Self::default()
    }

    fn declare(
        &mut self,
        kind: TensorKind,
        name: &str,
        dtype: DType,
        shape: &[usize],
    ) -> Result<TensorId> {
        crate::tensor::header(dtype, shape)
            .byte_len()
            .map_err(|e| Error::Program(format!("tensor {name:?}: {e}")))?;
        numel(name, shape)?;
        let id = TensorId(self.tensors.len() as u32);
        self.tensors.push(TensorDecl {
            kind,
            dtype,
            shape: shape.to_vec(),
            name: name.to_string(),
        });
        Ok(id)
    }

    /// Declare a claim input.
    pub fn input(&mut self, name: &str, dtype: DType, shape: &[usize]) -> Result<TensorId> {
        self.declare(TensorKind::Input, name, dtype, shape)
    }

    /// Declare a model weight (weights are supplied in declaration order).
    pub fn weight(&mut self, name: &str, dtype: DType, shape: &[usize]) -> Result<TensorId> {
        self.declare(TensorKind::Weight, name, dtype, shape)
    }

    /// The declaration of `t`.
    pub fn decl(&self, t: TensorId) -> Result<&TensorDecl> {
        self.tensors.get(t.index()).ok_or_else(|| {
            Error::Program(format!(
                "{t} is not declared in this program ({} tensors)",
                self.tensors.len()
            ))
        })
    }

    /// The shape of `t`.
    pub fn shape(&self, t: TensorId) -> Result<Vec<usize>> {
        Ok(self.decl(t)?.shape.clone())
    }

    /// Add `op` on `inputs`; returns its output tensor.
    pub fn op(&mut self, op: Op, inputs: &[TensorId]) -> Result<TensorId> {
        let index = self.ops.len();
        if self.open.is_none() {
            return Err(Error::Op {
                op: format!("op {index} ({})", op.label()),
                msg: "added outside a layer; wrap it in Builder::layer".into(),
            });
        }
        let descs = inputs
            .iter()
            .map(|&t| self.decl(t).map(|d| (d.dtype, d.shape.as_slice())))
            .collect::<Result<Vec<_>>>()?;
        let (dtype, shape) = op.infer(&descs).map_err(|e| match e {
            Error::Op { msg, .. } => Error::Op {
                op: format!("op {index} ({})", op.label()),
                msg,
            },
            other => other,
        })?;
        let name = format!("{}#{index}", op.kind().name());
        let output = self.declare(TensorKind::Value, &name, dtype, &shape)?;
        self.ops.push(OpNode {
            op,
            inputs: inputs.to_vec(),
            output,
        });
        Ok(output)
    }

    /// Run `f` as one layer named `name`. Layers may not nest and must not be empty.
    pub fn layer<T>(&mut self, name: &str, f: impl FnOnce(&mut Builder) -> Result<T>) -> Result<T> {
        if let Some((open, _)) = &self.open {
            return Err(Error::Program(format!(
                "layer {name:?} opened inside layer {open:?}; layers do not nest"
            )));
        }
        self.open = Some((name.to_string(), self.ops.len()));
        let r = f(self);
        let start = self.open.take().map_or(self.ops.len(), |(_, s)| s);
        let r = r?;
        if start == self.ops.len() {
            return Err(Error::Program(format!("layer {name:?} has no ops")));
        }
        self.layers.push(Layer {
            name: name.to_string(),
            ops: start..self.ops.len(),
        });
        Ok(r)
    }

    /// Mark `t` as a program output.
    pub fn output(&mut self, t: TensorId) -> Result<()> {
        self.decl(t)?;
        if !self.outputs.contains(&t) {
            self.outputs.push(t);
        }
        Ok(())
    }

    /// Finish the program.
    pub fn finish(self) -> Result<Program> {
        if self.layers.is_empty() || self.outputs.is_empty() {
            return Err(Error::Program(
                "a program needs at least one layer and one output".into(),
            ));
        }
        for &t in &self.outputs {
            if self.tensors[t.index()].kind == TensorKind::Weight {
                return Err(Error::Program(format!(
                    "output {t} is a weight; outputs must be inputs or values"
                )));
            }
        }
        Ok(Program::new(
            self.tensors,
            self.ops,
            self.layers,
            self.outputs,
        ))
    }
}
