//! Lowering of each ONNX op type to VM ops (or to host folding when every
//! input is a constant and the op is an integer/layout op).
//!
//! | ONNX | VM |
//! |---|---|
//! | Add, Sub, Mul, Div, Max, Min, Pow (exponent 1, 2, 0.5) | `map` prim (broadcast) |
//! | Erf, Tanh, Sigmoid, Exp, Sqrt, Relu, Neg, Abs, Reciprocal, Clip | `map` |
//! | MatMul, Gemm | `matmul` (+ `map` for alpha/beta/bias) |
//! | Softmax, LayerNormalization | the [`Builder`] composites |
//! | ReduceSum/Mean/Max/Min | `reduce` per axis (+ `div` for the mean) |
//! | Transpose, Reshape, Flatten, (Un)Squeeze, Concat, Slice, Gather, Expand | `permute`, `reshape`, `concat`, `slice`, `gather` (copies) |
//! | Equal(int tensor, constant) + Cast to float | `gather` of a 0/1 table (one-hot) |
//! | Cast(int tensor → float) | `gather` of the table `0..INT_TO_FLOAT_RANGE` |
//! | Conv, MaxPool, AveragePool, Global*Pool | see [`super::conv`] |
//! | ArgMax | `argmax` |
//!
//! `Expand` of a VM tensor is kept lazy: elementwise consumers broadcast it
//! for free; anything else copies it with a `gather`.

use crate::arith::Prim;
use crate::arith::transcendental::{C_ONE, Func};
use crate::commit::DType;
use crate::format::onnx::proto::{AttributeProto, NodeProto};
use crate::ops::{MapFn, Op};
use crate::program::Builder;
use crate::tensor::{TensorId, numel};

use super::konst::{self, KData, Konst};
use super::{Cx, Error, Result, Val, VmVal};

/// Integer VM tensors converted to float (`Cast`) must lie in `0..INT_TO_FLOAT_RANGE`:
/// the VM has no integer arithmetic, so the cast is a table lookup.
pub const INT_TO_FLOAT_RANGE: usize = 4096;

fn err(msg: impl Into<String>) -> Error {
    Error::Graph(msg.into())
}

/// Integer attribute with a default.
pub(super) fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
    n.attr(name).map_or(default, |a| a.i)
}

/// Integer-list attribute.
pub(super) fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    n.attr(name).map(|a| a.ints.clone())
}

fn attr_f(n: &NodeProto, name: &str, default: f32) -> f32 {
    n.attr(name).map_or(default, |a: &AttributeProto| a.f)
}

/// Normalize a possibly negative axis.
pub(super) fn axis(a: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    if a < -r || a >= r.max(1) {
        return Err(err(format!("axis {a} is out of range for rank {rank}")));
    }
    Ok(if a < 0 { (a + r) as usize } else { a as usize })
}

impl Cx {
    /// Input `i` of `n` (None when absent or empty).
    pub(super) fn opt(&self, n: &NodeProto, i: usize) -> Result<Option<Val>> {
        match n.input.get(i) {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => self
                .vals
                .get(s)
                .cloned()
                .map(Some)
                .ok_or_else(|| err(format!("input `{s}` is not defined before the node"))),
        }
    }

    pub(super) fn req(&self, n: &NodeProto, i: usize) -> Result<Val> {
        self.opt(n, i)?
            .ok_or_else(|| err(format!("input {i} is required")))
    }

    /// A constant input (shapes, axes, exponents).
    pub(super) fn konst_in(&self, n: &NodeProto, i: usize) -> Result<Option<Konst>> {
        match self.opt(n, i)? {
            None => Ok(None),
            Some(Val::Const(k)) => Ok(Some(k)),
            Some(Val::Vm(_)) => Err(err(format!(
                "input {i} (`{}`) must be a constant; the VM compiles for fixed shapes and parameters (fold it with onnx-simplifier)",
                n.input[i]
            ))),
        }
    }

    pub(super) fn ints_in(&self, n: &NodeProto, i: usize) -> Result<Option<Vec<i64>>> {
        self.konst_in(n, i)?
            .map(|k| k.to_ints().map_err(err))
            .transpose()
    }

    pub(super) fn emit(&mut self, op: Op, ins: &[TensorId]) -> Result<TensorId> {
        self.ops += 1;
        Ok(self.b.op(op, ins)?)
    }

    /// Run a [`Builder`] composite of `ops` ops.
    fn compose(
        &mut self,
        ops: usize,
        f: impl FnOnce(&mut Builder) -> crate::Result<TensorId>,
    ) -> Result<TensorId> {
        self.ops += ops;
        Ok(f(&mut self.b)?)
    }

    /// The logical shape of a value.
    pub(super) fn shape(&self, v: &Val) -> Vec<usize> {
        match v {
            Val::Const(k) => k.shape.clone(),
            Val::Vm(x) => x.shape.clone(),
        }
    }

    pub(super) fn dtype(&self, v: &Val) -> Result<DType> {
        match v {
            Val::Const(k) => Ok(if k.is_int() { DType::I32 } else { DType::F32 }),
            Val::Vm(x) => Ok(self.b.decl(x.id)?.dtype),
        }
    }

    /// A fully materialized VM tensor for `v` (constants become weights named `name`).
    pub(super) fn tensor(&mut self, name: &str, v: &Val) -> Result<TensorId> {
        match v {
            Val::Const(k) => self.weight(name, k),
            Val::Vm(x) => {
                let base = self.b.shape(x.id)?;
                if base == x.shape {
                    Ok(x.id)
                } else {
                    let idx = konst::broadcast_index(&base, &x.shape);
                    self.take(x.id, &idx, &x.shape)
                }
            }
        }
    }

    /// A float VM tensor for `v`, integer constants converted.
    pub(super) fn float(&mut self, name: &str, v: &Val) -> Result<TensorId> {
        match v {
            Val::Const(k) if k.is_int() => {
                let f = Konst {
                    shape: k.shape.clone(),
                    data: KData::F32(k.to_f32s()),
                };
                self.weight(&format!("{name}:f32"), &f)
            }
            _ => {
                if self.dtype(v)? != DType::F32 {
                    return Err(err(format!(
                        "`{name}` is an integer tensor computed by the graph; the VM computes integers only as indices (cast it to float earlier)"
                    )));
                }
                self.tensor(name, v)
            }
        }
    }

    /// A float input for a `map`, left unbroadcast (map broadcasts).
    pub(super) fn map_in(&mut self, name: &str, v: &Val) -> Result<TensorId> {
        match v {
            Val::Vm(x) if self.dtype(v)? == DType::F32 => Ok(x.id),
            _ => self.float(name, v),
        }
    }

    /// `out = x.flat[idx]` reshaped to `shape`: an exact copy by `gather`.
    pub(super) fn take(&mut self, x: TensorId, idx: &[usize], shape: &[usize]) -> Result<TensorId> {
        let n = numel("take", &self.b.shape(x)?)?;
        let col = self.emit(Op::Reshape { shape: vec![n, 1] }, &[x])?;
        let w = self.index_weight(idx)?;
        let g = self.emit(Op::Gather, &[col, w])?;
        self.emit(
            Op::Reshape {
                shape: shape.to_vec(),
            },
            &[g],
        )
    }

    /// An I32 index weight (deduplicated by content).
    pub(super) fn index_weight(&mut self, idx: &[usize]) -> Result<TensorId> {
        let k = Konst::ints(idx.iter().map(|&i| i as i64).collect());
        let key = format!("index:{:016x}", fnv(idx));
        self.weight(&key, &k)
    }

    /// A float constant weight, deduplicated by content.
    pub(super) fn const_weight(
        &mut self,
        tag: &str,
        shape: Vec<usize>,
        v: Vec<f32>,
    ) -> Result<TensorId> {
        let bits: Vec<usize> = v.iter().map(|x| x.to_bits() as usize).collect();
        let key = format!("{tag}:{:?}:{:016x}", shape, fnv(&bits));
        self.weight(
            &key,
            &Konst {
                shape,
                data: KData::F32(v),
            },
        )
    }

    pub(super) fn vm(&self, id: TensorId) -> Result<Val> {
        Ok(Val::Vm(VmVal {
            id,
            shape: self.b.shape(id)?,
        }))
    }

    fn unary(&mut self, n: &NodeProto, f: MapFn) -> Result<Val> {
        let x = self.req(n, 0)?;
        let shape = self.shape(&x);
        let id = self.map_in(&n.input[0], &x)?;
        let y = self.emit(Op::Map(f), &[id])?;
        self.lazy(y, shape)
    }

    /// `y` standing for a value of logical shape `shape` (broadcast lazily if smaller).
    pub(super) fn lazy(&self, y: TensorId, shape: Vec<usize>) -> Result<Val> {
        Ok(Val::Vm(VmVal { id: y, shape }))
    }

    fn binary(&mut self, n: &NodeProto, p: Prim) -> Result<Val> {
        let (a, b) = (self.req(n, 0)?, self.req(n, 1)?);
        let out =
            crate::ops::layout::broadcast_shape(&n.op_type, &[&self.shape(&a), &self.shape(&b)])?;
        if let (Val::Const(ka), Val::Const(kb)) = (&a, &b)
            && ka.is_int()
            && kb.is_int()
        {
            return fold_int(p, ka, kb, out).map(Val::Const);
        }
        // Constant scalar operands become the map's constant operand.
        let ia = self.map_in(&n.input[0], &a)?;
        let y = match &b {
            Val::Const(k) if k.numel() == 1 && k.shape.len() <= self.shape(&a).len() => {
                let c = k.scalar_f32().map_err(err)?;
                self.emit(Op::Map(MapFn::PrimConst(p, c.to_bits())), &[ia])?
            }
            _ => {
                let ib = self.map_in(&n.input[1], &b)?;
                self.emit(Op::Map(MapFn::Prim(p)), &[ia, ib])?
            }
        };
        self.lazy(y, out)
    }

    fn reshape_to(&mut self, n: &NodeProto, x: Val, shape: Vec<usize>) -> Result<Val> {
        match x {
            Val::Const(k) => Ok(Val::Const(Konst { shape, ..k })),
            v => {
                let id = self.tensor(&n.input[0], &v)?;
                if self.b.shape(id)? == shape {
                    return self.vm(id);
                }
                let y = self.emit(Op::Reshape { shape }, &[id])?;
                self.vm(y)
            }
        }
    }

    /// Copy by source index: folded for constants, `gather` for VM floats.
    fn take_val(
        &mut self,
        n: &NodeProto,
        x: &Val,
        idx: &[usize],
        shape: Vec<usize>,
    ) -> Result<Val> {
        match x {
            Val::Const(k) => Ok(Val::Const(k.take(idx, shape))),
            v => {
                let id = self.float(&n.input[0], v)?;
                let y = self.take(id, idx, &shape)?;
                self.vm(y)
            }
        }
    }

    fn reduce(&mut self, n: &NodeProto, p: Prim, mean: bool) -> Result<Val> {
        let x = self.req(n, 0)?;
        let shape = self.shape(&x);
        let axes = match attr_ints(n, "axes") {
            Some(a) => Some(a),
            None => self.ints_in(n, 1)?,
        };
        let axes: Vec<usize> = match axes {
            Some(a) if !a.is_empty() => {
                let mut v = a
                    .iter()
                    .map(|&a| axis(a, shape.len()))
                    .collect::<Result<Vec<_>>>()?;
                v.sort_unstable();
                v.dedup();
                v
            }
            _ if attr_i(n, "noop_with_empty_axes", 0) == 1 => return Ok(x),
            _ => (0..shape.len()).collect(),
        };
        let mut id = self.float(&n.input[0], &x)?;
        let mut count = 1usize;
        for &a in &axes {
            count *= shape[a];
            id = self.emit(Op::Reduce { prim: p, axis: a }, &[id])?;
        }
        if mean {
            id = self.emit(
                Op::Map(MapFn::PrimConst(Prim::Div, (count as f32).to_bits())),
                &[id],
            )?;
        }
        if attr_i(n, "keepdims", 1) == 0 {
            let kept: Vec<usize> = (0..shape.len())
                .filter(|d| !axes.contains(d))
                .map(|d| shape[d])
                .collect();
            id = self.emit(Op::Reshape { shape: kept }, &[id])?;
        }
        self.vm(id)
    }
}

/// A shape from a constant, checked to be non-negative and of a size the VM accepts.
fn dims(v: &[i64]) -> Result<Vec<usize>> {
    let d = v
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| err(format!("negative dimension in {v:?}"))))
        .collect::<Result<Vec<_>>>()?;
    numel("shape", &d)?;
    Ok(d)
}

/// FNV-1a over a list, for content-addressed weight names.
fn fnv(v: &[usize]) -> u64 {
    v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn fold_int(p: Prim, a: &Konst, b: &Konst, out: Vec<usize>) -> Result<Konst> {
    let (av, bv) = (a.to_ints().map_err(err)?, b.to_ints().map_err(err)?);
    let (ia, ib) = (
        konst::broadcast_index(&a.shape, &out),
        konst::broadcast_index(&b.shape, &out),
    );
    let v = ia
        .iter()
        .zip(&ib)
        .map(|(&i, &j)| {
            let (x, y) = (av[i], bv[j]);
            match p {
                Prim::Add => Ok(x.wrapping_add(y)),
                Prim::Sub => Ok(x.wrapping_sub(y)),
                Prim::Mul => Ok(x.wrapping_mul(y)),
                Prim::Div if y != 0 => {
                    Ok(x.div_euclid(y) - i64::from(x.rem_euclid(y) != 0 && y < 0))
                }
                Prim::Max => Ok(x.max(y)),
                Prim::Min => Ok(x.min(y)),
                _ => Err(err(format!("integer {p} by zero or unsupported"))),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Konst {
        shape: out,
        data: KData::I64(v),
    })
}

/// Lower one node; returns its outputs in order.
pub(super) fn lower(cx: &mut Cx, n: &NodeProto) -> Result<Vec<Val>> {
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return Err(err(format!(
            "domain `{}` is not supported; only the default ONNX operator set compiles",
            n.domain
        )));
    }
    let one = |v: Val| Ok(vec![v]);
    match n.op_type.as_str() {
        "Identity" | "Dropout" => one(cx.req(n, 0)?),
        "Constant" => {
            let a = n.attribute.first().ok_or_else(|| err("Constant without a value"))?;
            let k = match a.name.as_str() {
                "value" => {
                    let t = a.t.as_ref().ok_or_else(|| err("value attribute without a tensor"))?;
                    let t = crate::format::onnx::OnnxTensor::from_proto(std::path::Path::new(&n.name), t)?;
                    Konst::from_onnx(&t).map_err(err)?
                }
                "value_float" => Konst { shape: vec![], data: KData::F32(vec![a.f]) },
                "value_floats" => Konst { shape: vec![a.floats.len()], data: KData::F32(a.floats.clone()) },
                "value_int" => Konst { shape: vec![], data: KData::I64(vec![a.i]) },
                "value_ints" => Konst::ints(a.ints.clone()),
                other => return Err(err(format!("Constant `{other}` values are not supported"))),
            };
            one(Val::Const(k))
        }
        "Shape" => {
            let s = cx.shape(&cx.req(n, 0)?);
            let r = s.len() as i64;
            let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
            let (st, en) = (clamp(attr_i(n, "start", 0)), clamp(attr_i(n, "end", r)));
            one(Val::Const(Konst::ints(s[st..en.max(st)].iter().map(|&d| d as i64).collect())))
        }
        "Size" => {
            let s = cx.shape(&cx.req(n, 0)?);
            one(Val::Const(Konst { shape: vec![], data: KData::I64(vec![s.iter().product::<usize>() as i64]) }))
        }
        "ConstantOfShape" => {
            let shape = dims(&cx.ints_in(n, 0)?.unwrap_or_default())?;
            let count: usize = shape.iter().product();
            let fill = match n.attr("value").and_then(|a| a.t.as_ref()) {
                Some(t) => Konst::from_onnx(&crate::format::onnx::OnnxTensor::from_proto(std::path::Path::new(&n.name), t)?).map_err(err)?,
                None => Konst { shape: vec![1], data: KData::F32(vec![0.0]) },
            };
            one(Val::Const(fill.take(&vec![0; count], shape)))
        }
        "Cast" => {
            let x = cx.req(n, 0)?;
            let to = attr_i(n, "to", 1);
            let to_float = to == 1;
            let to_int = matches!(to, 2..=7 | 9 | 12 | 13);
            match (&x, to_float, to_int) {
                (Val::Const(k), true, _) => one(Val::Const(Konst { shape: k.shape.clone(), data: KData::F32(k.to_f32s()) })),
                (Val::Const(k), _, true) => {
                    let v = match &k.data {
                        KData::I64(v) if to == 9 => v.iter().map(|&x| i64::from(x != 0)).collect(),
                        KData::I64(v) => v.clone(),
                        KData::F32(v) if to == 9 => v.iter().map(|&x| i64::from(x != 0.0)).collect(),
                        KData::F32(v) => v.iter().map(|&x| x.trunc() as i64).collect(),
                    };
                    one(Val::Const(Konst { shape: k.shape.clone(), data: KData::I64(v) }))
                }
                (Val::Vm(v), true, _) if cx.dtype(&x)? == DType::F32 => one(Val::Vm(v.clone())),
                (Val::Vm(v), true, _) => {
                    // Integer → float: look the value up in 0..RANGE (the
                    // base tensor, before any lazy broadcast).
                    let base = cx.b.shape(v.id)?;
                    let table: Vec<f32> = (0..INT_TO_FLOAT_RANGE).map(|i| i as f32).collect();
                    let t = cx.const_weight("int-to-float", vec![INT_TO_FLOAT_RANGE, 1], table)?;
                    let g = cx.emit(Op::Gather, &[t, v.id])?;
                    let y = cx.emit(Op::Reshape { shape: base }, &[g])?;
                    cx.lazy(y, v.shape.clone())
                        .map(|v| vec![v])
                }
                (Val::Vm(v), _, true) if cx.dtype(&x)? == DType::I32 => one(Val::Vm(v.clone())),
                _ => Err(err(format!(
                    "Cast to ONNX type {to} of this tensor is not supported; the VM casts constants, and integer tensors to float32"
                ))),
            }
        }
        "Add" => one(cx.binary(n, Prim::Add)?),
        "Sub" => one(cx.binary(n, Prim::Sub)?),
        "Mul" => one(cx.binary(n, Prim::Mul)?),
        "Div" => one(cx.binary(n, Prim::Div)?),
        "Max" | "Min" if n.input.len() == 2 => one(cx.binary(n, if n.op_type == "Max" { Prim::Max } else { Prim::Min })?),
        "Pow" => {
            let e = cx.konst_in(n, 1)?.ok_or_else(|| err("Pow needs an exponent"))?;
            let e = e.scalar_f32().map_err(|m| err(format!("the exponent must be a constant scalar ({m})")))?;
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let id = cx.map_in(&n.input[0], &x)?;
            let y = match e {
                1.0 => id,
                2.0 => cx.emit(Op::Map(MapFn::Prim(Prim::Mul)), &[id, id])?,
                0.5 => cx.emit(Op::Map(MapFn::Prim(Prim::Sqrt)), &[id])?,
                other => {
                    return Err(err(format!(
                        "exponent {other} is not supported; the VM lowers Pow with exponents 1, 2 and 0.5"
                    )));
                }
            };
            one(cx.lazy(y, shape)?)
        }
        "Erf" => one(cx.unary(n, MapFn::Func(Func::Erf))?),
        "Tanh" => one(cx.unary(n, MapFn::Func(Func::Tanh))?),
        "Sigmoid" => one(cx.unary(n, MapFn::Func(Func::Sigmoid))?),
        "Exp" => one(cx.unary(n, MapFn::Func(Func::Exp))?),
        "Sqrt" => one(cx.unary(n, MapFn::Prim(Prim::Sqrt))?),
        "Neg" => one(cx.unary(n, MapFn::Prim(Prim::Neg))?),
        "Abs" => one(cx.unary(n, MapFn::Prim(Prim::Abs))?),
        "Relu" => one(cx.unary(n, MapFn::PrimConst(Prim::Max, 0))?),
        "Reciprocal" => one(cx.unary(n, MapFn::ConstPrim(Prim::Div, C_ONE))?),
        "Clip" => {
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let mut id = cx.map_in(&n.input[0], &x)?;
            let lo = match cx.konst_in(n, 1)? {
                Some(k) => Some(k.scalar_f32().map_err(err)?),
                None => n.attr("min").map(|a| a.f),
            };
            let hi = match cx.konst_in(n, 2)? {
                Some(k) => Some(k.scalar_f32().map_err(err)?),
                None => n.attr("max").map(|a| a.f),
            };
            if let Some(lo) = lo {
                id = cx.emit(Op::Map(MapFn::PrimConst(Prim::Max, lo.to_bits())), &[id])?;
            }
            if let Some(hi) = hi {
                id = cx.emit(Op::Map(MapFn::PrimConst(Prim::Min, hi.to_bits())), &[id])?;
            }
            one(cx.lazy(id, shape)?)
        }
        "MatMul" => {
            let (a, b) = (cx.req(n, 0)?, cx.req(n, 1)?);
            let (sa, sb) = (cx.shape(&a), cx.shape(&b));
            if sa.len() < 2 || sb.len() < 2 {
                return Err(err(format!(
                    "MatMul of {sa:?} by {sb:?}: 1-D operands are not supported (reshape them to 2-D)"
                )));
            }
            let ia = cx.float(&n.input[0], &a)?;
            let ib = cx.float(&n.input[1], &b)?;
            let y = cx.emit(Op::MatMul { ta: false, tb: false }, &[ia, ib])?;
            one(cx.vm(y)?)
        }
        "Gemm" => {
            let (a, b) = (cx.req(n, 0)?, cx.req(n, 1)?);
            let ia = cx.float(&n.input[0], &a)?;
            let ib = cx.float(&n.input[1], &b)?;
            let (ta, tb) = (attr_i(n, "transA", 0) != 0, attr_i(n, "transB", 0) != 0);
            let mut y = cx.emit(Op::MatMul { ta, tb }, &[ia, ib])?;
            let alpha = attr_f(n, "alpha", 1.0);
            if alpha != 1.0 {
                y = cx.emit(Op::Map(MapFn::PrimConst(Prim::Mul, alpha.to_bits())), &[y])?;
            }
            if let Some(c) = cx.opt(n, 2)? {
                let mut ic = cx.map_in(&n.input[2], &c)?;
                let beta = attr_f(n, "beta", 1.0);
                if beta != 1.0 {
                    ic = cx.emit(Op::Map(MapFn::PrimConst(Prim::Mul, beta.to_bits())), &[ic])?;
                }
                y = cx.emit(Op::Map(MapFn::Prim(Prim::Add)), &[y, ic])?;
            }
            one(cx.vm(y)?)
        }
        "Softmax" => {
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let ax = axis(attr_i(n, "axis", if cx.opset >= 13 { -1 } else { 1 }), shape.len())?;
            let id = cx.float(&n.input[0], &x)?;
            let y = if cx.opset < 13 {
                // Softmax-1/11: the input is coerced to 2-D at `axis`.
                let rows: usize = shape[..ax].iter().product();
                let flat = cx.emit(Op::Reshape { shape: vec![rows, shape[ax..].iter().product()] }, &[id])?;
                let s = cx.compose(4, |b| b.softmax(flat, None))?;
                cx.emit(Op::Reshape { shape: shape.clone() }, &[s])?
            } else if ax + 1 == shape.len() {
                cx.compose(4, |b| b.softmax(id, None))?
            } else {
                let mut perm: Vec<usize> = (0..shape.len()).collect();
                perm.swap(ax, shape.len() - 1);
                let p = cx.emit(Op::Permute { perm: perm.clone() }, &[id])?;
                let s = cx.compose(4, |b| b.softmax(p, None))?;
                cx.emit(Op::Permute { perm }, &[s])?
            };
            one(cx.vm(y)?)
        }
        "LayerNormalization" => {
            if n.output.iter().skip(1).any(|o| !o.is_empty()) {
                return Err(err("the Mean and InvStdDev outputs are not supported (training outputs)"));
            }
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let ax = axis(attr_i(n, "axis", -1), shape.len())?;
            let norm: usize = shape[ax..].iter().product();
            let id = cx.float(&n.input[0], &x)?;
            let flat = if ax + 1 == shape.len() {
                id
            } else {
                cx.emit(Op::Reshape { shape: [&shape[..ax], &[norm][..]].concat() }, &[id])?
            };
            let flat_param = |cx: &mut Cx, i: usize, v: f32| -> Result<TensorId> {
                let t = match cx.opt(n, i)? {
                    Some(p) => cx.float(&n.input[i], &p)?,
                    None => cx.const_weight("fill", vec![norm], vec![v; norm])?,
                };
                if cx.b.shape(t)?.len() == 1 {
                    Ok(t)
                } else {
                    cx.emit(Op::Reshape { shape: vec![norm] }, &[t])
                }
            };
            let g = flat_param(cx, 1, 1.0)?;
            let bias = flat_param(cx, 2, 0.0)?;
            let eps = attr_f(n, "epsilon", 1e-5);
            let y = cx.compose(6, |b| b.layer_norm(flat, g, bias, eps))?;
            let y = if ax + 1 == shape.len() { y } else { cx.emit(Op::Reshape { shape }, &[y])? };
            one(cx.vm(y)?)
        }
        "ReduceSum" => one(cx.reduce(n, Prim::Add, false)?),
        "ReduceMean" => one(cx.reduce(n, Prim::Add, true)?),
        "ReduceMax" => one(cx.reduce(n, Prim::Max, false)?),
        "ReduceMin" => one(cx.reduce(n, Prim::Min, false)?),
        "ArgMax" => {
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let ax = axis(attr_i(n, "axis", 0), shape.len())?;
            if ax + 1 != shape.len() || attr_i(n, "select_last_index", 0) != 0 {
                return Err(err("ArgMax is supported on the last axis with select_last_index=0 (transpose the axis last)"));
            }
            let id = cx.float(&n.input[0], &x)?;
            let mut y = cx.emit(Op::Argmax, &[id])?;
            if attr_i(n, "keepdims", 1) == 0 {
                y = cx.emit(Op::Reshape { shape: shape[..ax].to_vec() }, &[y])?;
            }
            one(cx.vm(y)?)
        }
        "Transpose" => {
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let perm: Vec<usize> = match attr_ints(n, "perm") {
                Some(p) => p.iter().map(|&a| axis(a, shape.len())).collect::<Result<_>>()?,
                None => (0..shape.len()).rev().collect(),
            };
            match &x {
                Val::Const(k) => {
                    let (idx, out) = konst::permute_index(&k.shape, &perm);
                    one(Val::Const(k.take(&idx, out)))
                }
                v => {
                    let id = cx.tensor(&n.input[0], v)?;
                    let y = cx.emit(Op::Permute { perm }, &[id])?;
                    one(cx.vm(y)?)
                }
            }
        }
        "Reshape" => {
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let want = cx.ints_in(n, 1)?.ok_or_else(|| err("Reshape needs a shape"))?;
            let allowzero = attr_i(n, "allowzero", 0) != 0;
            let mut out: Vec<i64> = want
                .iter()
                .enumerate()
                .map(|(i, &d)| if d == 0 && !allowzero { shape.get(i).map_or(0, |&s| s as i64) } else { d })
                .collect();
            let total: usize = shape.iter().product();
            if let Some(p) = out.iter().position(|&d| d == -1) {
                let rest: i64 = out.iter().filter(|&&d| d != -1).product();
                out[p] = if rest == 0 { 0 } else { total as i64 / rest };
            }
            let out: Vec<usize> = out.iter().map(|&d| d.max(0) as usize).collect();
            if out.iter().product::<usize>() != total {
                return Err(err(format!("cannot reshape {shape:?} to {want:?}")));
            }
            one(cx.reshape_to(n, x, out)?)
        }
        "Flatten" => {
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let r = shape.len() as i64;
            let a = attr_i(n, "axis", 1);
            let ax = if a < 0 { a + r } else { a };
            if !(0..=r).contains(&ax) {
                return Err(err(format!("axis {a} is out of range for rank {r}")));
            }
            let ax = ax as usize;
            let out = vec![shape[..ax].iter().product(), shape[ax..].iter().product()];
            one(cx.reshape_to(n, x, out)?)
        }
        "Unsqueeze" | "Squeeze" => {
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let axes = match attr_ints(n, "axes") {
                Some(a) => Some(a),
                None => cx.ints_in(n, 1)?,
            };
            let out = if n.op_type == "Unsqueeze" {
                let axes = axes.ok_or_else(|| err("Unsqueeze needs axes"))?;
                let rank = shape.len() + axes.len();
                let mut ax = axes.iter().map(|&a| axis(a, rank)).collect::<Result<Vec<_>>>()?;
                ax.sort_unstable();
                let mut out = shape.clone();
                for a in ax {
                    out.insert(a, 1);
                }
                out
            } else {
                let ax = match axes {
                    Some(a) => a.iter().map(|&a| axis(a, shape.len())).collect::<Result<Vec<_>>>()?,
                    None => (0..shape.len()).filter(|&d| shape[d] == 1).collect(),
                };
                (0..shape.len()).filter(|d| !ax.contains(d)).map(|d| shape[d]).collect()
            };
            // A lazily broadcast value keeps its laziness when only size-1
            // axes move: unsqueeze its base the same way.
            match x {
                Val::Vm(v) if n.op_type == "Unsqueeze" && cx.b.shape(v.id)? != v.shape => {
                    let base = cx.b.shape(v.id)?;
                    let pad = vec![1; out.len() - base.len()];
                    let nb = [pad, base].concat();
                    let y = cx.emit(Op::Reshape { shape: nb }, &[v.id])?;
                    one(cx.lazy(y, out)?)
                }
                x => one(cx.reshape_to(n, x, out)?),
            }
        }
        "Concat" => {
            let ins = (0..n.input.len()).map(|i| cx.req(n, i)).collect::<Result<Vec<_>>>()?;
            let rank = ins.first().map(|v| cx.shape(v).len()).unwrap_or(0);
            let ax = axis(attr_i(n, "axis", 0), rank)?;
            if ins.iter().all(|v| matches!(v, Val::Const(k) if k.is_int())) {
                let mut out = cx.shape(&ins[0]);
                out[ax] = ins.iter().map(|v| cx.shape(v)[ax]).sum();
                let outer: usize = out[..ax].iter().product();
                let mut data = Vec::new();
                for o in 0..outer {
                    for v in &ins {
                        let Val::Const(k) = v else { continue };
                        let chunk: usize = k.shape[ax..].iter().product();
                        data.extend_from_slice(&k.to_ints().map_err(err)?[o * chunk..(o + 1) * chunk]);
                    }
                }
                return one(Val::Const(Konst { shape: out, data: KData::I64(data) }));
            }
            let mut acc: Option<TensorId> = None;
            for (i, v) in ins.iter().enumerate() {
                if cx.shape(v)[ax] == 0 {
                    continue;
                }
                let id = cx.float(&n.input[i], v)?;
                acc = Some(match acc {
                    None => id,
                    Some(a) => cx.emit(Op::Concat { axis: ax }, &[a, id])?,
                });
            }
            let id = acc.ok_or_else(|| err("Concat of empty inputs"))?;
            let id = if n.input.len() == 1 { cx.emit(Op::Reshape { shape: cx.b.shape(id)? }, &[id])? } else { id };
            one(cx.vm(id)?)
        }
        "Gather" => {
            let (x, i) = (cx.req(n, 0)?, cx.req(n, 1)?);
            let shape = cx.shape(&x);
            let ax = axis(attr_i(n, "axis", 0), shape.len())?;
            match &i {
                Val::Const(k) => {
                    let ishape = k.shape.clone();
                    let picks = k
                        .to_ints()
                        .map_err(err)?
                        .iter()
                        .map(|&p| {
                            let q = if p < 0 { p + shape[ax] as i64 } else { p };
                            usize::try_from(q).ok().filter(|&q| q < shape[ax]).ok_or_else(|| err(format!("index {p} out of range")))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let (idx, _) = konst::axis_index(&shape, ax, &picks);
                    let out = [&shape[..ax], &ishape[..], &shape[ax + 1..]].concat();
                    one(cx.take_val(n, &x, &idx, out)?)
                }
                Val::Vm(iv) => {
                    if ax != 0 {
                        return Err(err("Gather with computed indices is supported on axis 0 (embedding lookups)"));
                    }
                    let table = cx.float(&n.input[0], &x)?;
                    let table = if shape.len() == 1 {
                        cx.emit(Op::Reshape { shape: vec![shape[0], 1] }, &[table])?
                    } else {
                        table
                    };
                    let index = cx.tensor(&n.input[1], &Val::Vm(iv.clone()))?;
                    let mut y = cx.emit(Op::Gather, &[table, index])?;
                    if shape.len() == 1 {
                        y = cx.emit(Op::Reshape { shape: iv.shape.clone() }, &[y])?;
                    }
                    one(cx.vm(y)?)
                }
            }
        }
        "Slice" => {
            let x = cx.req(n, 0)?;
            let shape = cx.shape(&x);
            let starts = cx.ints_in(n, 1)?.ok_or_else(|| err("Slice needs starts"))?;
            let ends = cx.ints_in(n, 2)?.ok_or_else(|| err("Slice needs ends"))?;
            let axes = cx.ints_in(n, 3)?.unwrap_or_else(|| (0..starts.len() as i64).collect());
            let steps = cx.ints_in(n, 4)?.unwrap_or_else(|| vec![1; starts.len()]);
            if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
                return Err(err("starts, ends, axes and steps must have the same length"));
            }
            let mut v = x;
            for (j, &a) in axes.iter().enumerate() {
                let d = axis(a, shape.len())?;
                let dim = cx.shape(&v)[d] as i64;
                let step = steps[j];
                if step == 0 {
                    return Err(err("Slice step 0"));
                }
                let norm = |x: i64, lo: i64, hi: i64| (if x < 0 { x + dim } else { x }).clamp(lo, hi);
                let picks: Vec<usize> = if step > 0 {
                    let (s, e) = (norm(starts[j], 0, dim), norm(ends[j], 0, dim));
                    (s..e).step_by(step as usize).map(|i| i as usize).collect()
                } else {
                    let (s, e) = (norm(starts[j], -1, dim - 1), norm(ends[j], -1, dim - 1));
                    let mut out = Vec::new();
                    let mut i = s;
                    while i > e {
                        out.push(i as usize);
                        i += step;
                    }
                    out
                };
                let vshape = cx.shape(&v);
                let contiguous = step == 1 && !picks.is_empty();
                v = match &v {
                    Val::Vm(_) if contiguous => {
                        let id = cx.tensor(&n.input[0], &v)?;
                        let y = cx.emit(Op::Slice { axis: d, start: picks[0], len: picks.len() }, &[id])?;
                        cx.vm(y)?
                    }
                    _ => {
                        let (idx, out) = konst::axis_index(&vshape, d, &picks);
                        cx.take_val(n, &v, &idx, out)?
                    }
                };
            }
            one(v)
        }
        "Expand" => {
            let x = cx.req(n, 0)?;
            let want = dims(&cx.ints_in(n, 1)?.ok_or_else(|| err("Expand needs a shape"))?)?;
            let shape = cx.shape(&x);
            let out = crate::ops::layout::broadcast_shape("Expand", &[&shape, &want])?;
            match x {
                Val::Const(k) => {
                    let idx = konst::broadcast_index(&k.shape, &out);
                    one(Val::Const(k.take(&idx, out)))
                }
                Val::Vm(v) => one(cx.lazy(v.id, out)?),
            }
        }
        "Where" => {
            let c = cx.konst_in(n, 0)?.ok_or_else(|| err("Where needs a condition"))?;
            let (a, b) = (cx.konst_in(n, 1)?, cx.konst_in(n, 2)?);
            let (Some(a), Some(b)) = (a, b) else {
                return Err(err("Where is supported on constants only (a VM select is not in the op table)"));
            };
            let out = crate::ops::layout::broadcast_shape("Where", &[&c.shape, &a.shape, &b.shape])?;
            let (ic, ia, ib) = (
                konst::broadcast_index(&c.shape, &out),
                konst::broadcast_index(&a.shape, &out),
                konst::broadcast_index(&b.shape, &out),
            );
            let cv = c.to_ints().map_err(err)?;
            let data = match (&a.data, &b.data) {
                (KData::I64(av), KData::I64(bv)) => KData::I64((0..ic.len()).map(|f| if cv[ic[f]] != 0 { av[ia[f]] } else { bv[ib[f]] }).collect()),
                _ => {
                    let (av, bv) = (a.to_f32s(), b.to_f32s());
                    KData::F32((0..ic.len()).map(|f| if cv[ic[f]] != 0 { av[ia[f]] } else { bv[ib[f]] }).collect())
                }
            };
            one(Val::Const(Konst { shape: out, data }))
        }
        "Equal" => {
            let (a, b) = (cx.req(n, 0)?, cx.req(n, 1)?);
            let out = crate::ops::layout::broadcast_shape("Equal", &[&cx.shape(&a), &cx.shape(&b)])?;
            match (&a, &b) {
                (Val::Const(ka), Val::Const(kb)) => {
                    let (av, bv) = (ka.to_f32s(), kb.to_f32s());
                    let (ia, ib) = (konst::broadcast_index(&ka.shape, &out), konst::broadcast_index(&kb.shape, &out));
                    let v = ia.iter().zip(&ib).map(|(&i, &j)| i64::from(av[i] == bv[j])).collect();
                    one(Val::Const(Konst { shape: out, data: KData::I64(v) }))
                }
                (Val::Vm(x), Val::Const(k)) | (Val::Const(k), Val::Vm(x)) if cx.dtype(&Val::Vm(x.clone()))? == DType::I32 => {
                    one(one_hot(cx, x, k, out)?)
                }
                _ => Err(err("Equal is supported on constants and as a one-hot of an integer tensor against constants")),
            }
        }
        "Conv" => one(super::conv::conv(cx, n)?),
        "MaxPool" | "AveragePool" => one(super::conv::pool(cx, n)?),
        "GlobalMaxPool" | "GlobalAveragePool" => one(super::conv::global_pool(cx, n)?),
        other => Err(err(format!(
            "op type `{other}` is not supported by the VM compiler; supported: {}",
            SUPPORTED.join(", ")
        ))),
    }
    .map_err(|e: Error| match e {
        Error::Node { .. } => e,
        other => Error::Node { node: super::node_name(n), op_type: n.op_type.clone(), msg: other.to_string() },
    })
}

/// The op types [`lower`] handles.
pub const SUPPORTED: &[&str] = &[
    "Abs",
    "Add",
    "ArgMax",
    "AveragePool",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "Div",
    "Dropout",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Gather",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Identity",
    "LayerNormalization",
    "MatMul",
    "Max",
    "MaxPool",
    "Min",
    "Mul",
    "Neg",
    "Pow",
    "Reciprocal",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Size",
    "Slice",
    "Softmax",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Where",
];

/// `Equal(x, c)` of an integer VM tensor `x` (lazily broadcast along its last
/// axis) against constants `c` varying along the last axis only: a 0/1 float
/// one-hot, `gather(T, x)` with `T[v, j] = (v == c[j])`. Values of `x` outside
/// `0..=max(c)` are refused by the gather at run time.
fn one_hot(cx: &mut Cx, x: &VmVal, c: &Konst, out: Vec<usize>) -> Result<Val> {
    let base = cx.b.shape(x.id)?;
    let last = *out.last().ok_or_else(|| err("one-hot of a scalar"))?;
    let cv = c.to_ints().map_err(err)?;
    let c_last_only =
        c.shape.iter().rev().skip(1).all(|&d| d == 1) && c.shape.last() == Some(&last);
    if base.last() != Some(&1) || !c_last_only || base[..base.len() - 1] != out[..out.len() - 1] {
        return Err(err(format!(
            "Equal of an integer tensor {base:?} against constants {:?} is supported as a one-hot along the last axis only",
            c.shape
        )));
    }
    let v = usize::try_from(cv.iter().copied().max().unwrap_or(0) + 1)
        .map_err(|_| err("negative one-hot classes"))?;
    let table: Vec<f32> = (0..v)
        .flat_map(|r| cv.iter().map(move |&k| f32::from(u8::from(k == r as i64))))
        .collect();
    let t = cx.const_weight("one-hot", vec![v, last], table)?;
    let idx = cx.emit(
        Op::Reshape {
            shape: base[..base.len() - 1].to_vec(),
        },
        &[x.id],
    )?;
    let y = cx.emit(Op::Gather, &[t, idx])?;
    cx.lazy(y, out)
}
