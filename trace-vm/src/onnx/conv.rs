//! Convolution and pooling as im2col compositions of existing ops.
//!
//! The input `[N, C, S..]` is turned into a row table `[N*S + 1, C]` (one
//! extra row holding the padding value: 0 for Conv and AveragePool, -inf for
//! MaxPool); a constant I32 index tensor lists, for every output position and
//! kernel offset, the table row it reads (or the padding row). One `gather`
//! then yields the patches `[N*P, KK, C]`. Conv reorders them to
//! `[N*P, C*KK]` (the weight's own `(c, kh, kw)` order, so the stored weight
//! is used as is) and runs one `matmul` per group; pooling reduces the `KK`
//! axis with `reduce`. Every output element is therefore a canonical dot
//! product or reduction with the micro-trace those ops already define, and
//! no new op is needed.

use crate::arith::Prim;
use crate::format::onnx::proto::NodeProto;
use crate::ops::{MapFn, Op};
use crate::tensor::TensorId;

use super::nodes::{attr_i, attr_ints};
use super::{Cx, Error, Result, Val};

fn err(msg: impl Into<String>) -> Error {
    Error::Graph(msg.into())
}

/// The sliding-window geometry of one node.
struct Window {
    inp: Vec<usize>,
    kernel: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pad_begin: Vec<usize>,
    pad_end: Vec<usize>,
    out: Vec<usize>,
}

impl Window {
    fn new(n: &NodeProto, inp: &[usize], kernel: Vec<usize>) -> Result<Self> {
        let d = inp.len();
        let get = |name: &str, default: usize| -> Result<Vec<usize>> {
            match attr_ints(n, name) {
                Some(v) if v.len() == d && v.iter().all(|&x| x > 0) => {
                    Ok(v.iter().map(|&x| x as usize).collect())
                }
                Some(v) => Err(err(format!("{name} {v:?} must list {d} positive values"))),
                None => Ok(vec![default; d]),
            }
        };
        let strides = get("strides", 1)?;
        let dilations = get("dilations", 1)?;
        let ceil = attr_i(n, "ceil_mode", 0) != 0;
        if kernel.len() != d || kernel.contains(&0) {
            return Err(err(format!(
                "kernel {kernel:?} must have {d} non-zero sizes"
            )));
        }
        let span = |i: usize| (kernel[i] - 1) * dilations[i] + 1;
        let auto = n
            .attr("auto_pad")
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
            .unwrap_or_default();
        let (pad_begin, pad_end) = match auto.as_str() {
            "" | "NOTSET" => match attr_ints(n, "pads") {
                Some(p) if p.len() == 2 * d && p.iter().all(|&x| x >= 0) => (
                    p[..d].iter().map(|&x| x as usize).collect(),
                    p[d..].iter().map(|&x| x as usize).collect(),
                ),
                Some(p) => {
                    return Err(err(format!(
                        "pads {p:?} must list {} non-negative values",
                        2 * d
                    )));
                }
                None => (vec![0; d], vec![0; d]),
            },
            "VALID" => (vec![0; d], vec![0; d]),
            "SAME_UPPER" | "SAME_LOWER" => {
                let mut b = vec![0; d];
                let mut e = vec![0; d];
                for i in 0..d {
                    let out = inp[i].div_ceil(strides[i]);
                    let total =
                        (out.saturating_sub(1) * strides[i] + span(i)).saturating_sub(inp[i]);
                    let small = total / 2;
                    (b[i], e[i]) = if auto == "SAME_UPPER" {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                }
                (b, e)
            }
            other => {
                return Err(err(format!(
                    "auto_pad {other:?} is not an ONNX padding mode"
                )));
            }
        };
        let mut out = Vec::with_capacity(d);
        for i in 0..d {
            let padded = inp[i] + pad_begin[i] + pad_end[i];
            if padded < span(i) {
                return Err(err(format!(
                    "kernel span {} exceeds the padded input {padded} on spatial axis {i}",
                    span(i)
                )));
            }
            let steps = padded - span(i);
            let mut o = if ceil {
                steps.div_ceil(strides[i])
            } else {
                steps / strides[i]
            } + 1;
            // ceil_mode never starts a window inside the end padding.
            if ceil && (o - 1) * strides[i] >= inp[i] + pad_begin[i] {
                o -= 1;
            }
            out.push(o);
        }
        Ok(Self {
            inp: inp.to_vec(),
            kernel,
            strides,
            dilations,
            pad_begin,
            pad_end,
            out,
        })
    }

    fn positions(&self) -> usize {
        self.out.iter().product()
    }

    fn taps(&self) -> usize {
        self.kernel.iter().product()
    }

    /// For every output position and kernel offset: `Some(flat input
    /// position)`, or `None` where it reads padding; plus whether the tap
    /// lies inside the declared padding (for AveragePool's count).
    fn taps_of(&self) -> Vec<(Option<usize>, bool)> {
        let d = self.inp.len();
        let mut v = Vec::with_capacity(self.positions() * self.taps());
        let unravel = |mut f: usize, dims: &[usize]| {
            let mut ix = vec![0; dims.len()];
            for a in (0..dims.len()).rev() {
                ix[a] = f % dims[a];
                f /= dims[a];
            }
            ix
        };
        for p in 0..self.positions() {
            let o = unravel(p, &self.out);
            for k in 0..self.taps() {
                let kk = unravel(k, &self.kernel);
                let mut flat = 0usize;
                let mut inside = true;
                let mut in_pads = true;
                for a in 0..d {
                    let pos = (o[a] * self.strides[a] + kk[a] * self.dilations[a]) as i64
                        - self.pad_begin[a] as i64;
                    inside &= pos >= 0 && (pos as usize) < self.inp[a];
                    in_pads &= pos < (self.inp[a] + self.pad_end[a]) as i64;
                    flat = flat * self.inp[a] + pos.max(0) as usize;
                }
                v.push((inside.then_some(flat), in_pads));
            }
        }
        v
    }
}

/// The patches `[N*P, KK, C]` of `x` `[N, C, S..]` with `pad` in the padding.
fn patches(cx: &mut Cx, x: TensorId, shape: &[usize], w: &Window, pad: f32) -> Result<TensorId> {
    let (n, c) = (shape[0], shape[1]);
    let s: usize = shape[2..].iter().product();
    let r = cx.emit(
        Op::Reshape {
            shape: vec![n, c, s],
        },
        &[x],
    )?;
    let t = cx.emit(
        Op::Permute {
            perm: vec![0, 2, 1],
        },
        &[r],
    )?;
    let t = cx.emit(
        Op::Reshape {
            shape: vec![n * s, c],
        },
        &[t],
    )?;
    let pad_row = cx.const_weight("pad", vec![1, c], vec![pad; c])?;
    let table = cx.emit(Op::Concat { axis: 0 }, &[t, pad_row])?;
    let taps = w.taps_of();
    let mut idx = Vec::with_capacity(n * taps.len());
    for b in 0..n {
        idx.extend(taps.iter().map(|(f, _)| f.map_or(n * s, |f| b * s + f)));
    }
    let iw = cx.index_weight(&idx)?;
    let g = cx.emit(Op::Gather, &[table, iw])?;
    cx.emit(
        Op::Reshape {
            shape: vec![n * w.positions(), w.taps(), c],
        },
        &[g],
    )
}

/// `[N*P, C]` rows back to `[N, C, out..]`.
fn unpatch(cx: &mut Cx, y: TensorId, n: usize, c: usize, w: &Window) -> Result<Val> {
    let r = cx.emit(
        Op::Reshape {
            shape: vec![n, w.positions(), c],
        },
        &[y],
    )?;
    let p = cx.emit(
        Op::Permute {
            perm: vec![0, 2, 1],
        },
        &[r],
    )?;
    let out = [&[n, c][..], &w.out[..]].concat();
    let id = cx.emit(Op::Reshape { shape: out.clone() }, &[p])?;
    Ok(Val::Vm(super::VmVal { id, shape: out }))
}

fn input(cx: &mut Cx, n: &NodeProto) -> Result<(TensorId, Vec<usize>)> {
    let x = cx
        .vals
        .get(&n.input[0])
        .cloned()
        .ok_or_else(|| err(format!("input `{}` is not defined", n.input[0])))?;
    let id = match &x {
        Val::Const(k) => cx.weight(&n.input[0], k)?,
        Val::Vm(v) => {
            let base = cx.b.shape(v.id)?;
            if base != v.shape {
                return Err(err(
                    "a lazily broadcast input; expand it before the convolution",
                ));
            }
            v.id
        }
    };
    let shape = cx.b.shape(id)?;
    if shape.len() < 3 || cx.b.decl(id)?.dtype != crate::commit::DType::F32 {
        return Err(err(format!(
            "the input must be F32 [N, C, spatial..], it is {shape:?}"
        )));
    }
    Ok((id, shape))
}

/// `Conv` (any number of spatial axes, pads, strides, dilations, groups).
pub(super) fn conv(cx: &mut Cx, n: &NodeProto) -> Result<Val> {
    let (x, shape) = input(cx, n)?;
    let wv = cx
        .vals
        .get(n.input.get(1).map_or("", |s| s.as_str()))
        .cloned()
        .ok_or_else(|| err("Conv needs a weight"))?;
    let wshape = match &wv {
        Val::Const(k) => k.shape.clone(),
        Val::Vm(v) => v.shape.clone(),
    };
    let (c, groups) = (shape[1], attr_i(n, "group", 1).max(1) as usize);
    if wshape.len() != shape.len() {
        return Err(err(format!(
            "weight {wshape:?} does not fit input {shape:?}"
        )));
    }
    let m = wshape[0];
    if wshape.len() != shape.len()
        || !c.is_multiple_of(groups)
        || wshape[1] != c / groups
        || !m.is_multiple_of(groups)
    {
        return Err(err(format!(
            "weight {wshape:?} does not fit input {shape:?} with {groups} groups"
        )));
    }
    let kernel = wshape[2..].to_vec();
    if let Some(k) = attr_ints(n, "kernel_shape")
        && k.iter().map(|&x| x as usize).collect::<Vec<_>>() != kernel
    {
        return Err(err(format!(
            "kernel_shape {k:?} differs from the weight's {kernel:?}"
        )));
    }
    let w = Window::new(n, &shape[2..], kernel)?;
    let nb = shape[0];
    let kk = w.taps();
    let cg = c / groups;
    let mg = m / groups;
    let pt = patches(cx, x, &shape, &w, 0.0)?;
    let pt = cx.emit(
        Op::Permute {
            perm: vec![0, 2, 1],
        },
        &[pt],
    )?;
    let cols = cx.emit(
        Op::Reshape {
            shape: vec![nb * w.positions(), c * kk],
        },
        &[pt],
    )?;
    let wid = match &wv {
        Val::Const(k) => cx.weight(&n.input[1], k)?,
        Val::Vm(v) => v.id,
    };
    let wmat = cx.emit(
        Op::Reshape {
            shape: vec![m, cg * kk],
        },
        &[wid],
    )?;
    let mut acc: Option<TensorId> = None;
    for g in 0..groups {
        let (xc, wg) = if groups == 1 {
            (cols, wmat)
        } else {
            (
                cx.emit(
                    Op::Slice {
                        axis: 1,
                        start: g * cg * kk,
                        len: cg * kk,
                    },
                    &[cols],
                )?,
                cx.emit(
                    Op::Slice {
                        axis: 0,
                        start: g * mg,
                        len: mg,
                    },
                    &[wmat],
                )?,
            )
        };
        let y = cx.emit(
            Op::MatMul {
                ta: false,
                tb: true,
            },
            &[xc, wg],
        )?;
        acc = Some(match acc {
            None => y,
            Some(a) => cx.emit(Op::Concat { axis: 1 }, &[a, y])?,
        });
    }
    let mut y = acc.ok_or_else(|| err("Conv with zero groups"))?;
    if let Some(bname) = n.input.get(2).filter(|s| !s.is_empty()) {
        let bv = cx
            .vals
            .get(bname)
            .cloned()
            .ok_or_else(|| err(format!("bias `{bname}` is not defined")))?;
        let bid = match &bv {
            Val::Const(k) => cx.weight(bname, k)?,
            Val::Vm(v) => v.id,
        };
        y = cx.emit(Op::Map(MapFn::Prim(Prim::Add)), &[y, bid])?;
    }
    unpatch(cx, y, nb, m, &w)
}

/// `MaxPool` and `AveragePool`.
pub(super) fn pool(cx: &mut Cx, n: &NodeProto) -> Result<Val> {
    if n.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(err("the Indices output of MaxPool is not supported"));
    }
    let (x, shape) = input(cx, n)?;
    let kernel: Vec<usize> = attr_ints(n, "kernel_shape")
        .ok_or_else(|| err("kernel_shape is required"))?
        .iter()
        .map(|&k| k.max(1) as usize)
        .collect();
    if kernel.len() + 2 != shape.len() {
        return Err(err(format!(
            "kernel_shape {kernel:?} does not fit input {shape:?}"
        )));
    }
    let w = Window::new(n, &shape[2..], kernel)?;
    let max = n.op_type == "MaxPool";
    let pt = patches(cx, x, &shape, &w, if max { f32::NEG_INFINITY } else { 0.0 })?;
    let mut y = cx.emit(
        Op::Reduce {
            prim: if max { Prim::Max } else { Prim::Add },
            axis: 1,
        },
        &[pt],
    )?;
    let (nb, c) = (shape[0], shape[1]);
    if !max {
        let include_pad = attr_i(n, "count_include_pad", 0) != 0;
        let counts: Vec<f32> = w
            .taps_of()
            .chunks(w.taps())
            .map(|t| {
                t.iter()
                    .filter(|(f, in_pads)| if include_pad { *in_pads } else { f.is_some() })
                    .count() as f32
            })
            .collect();
        let counts: Vec<f32> = (0..nb).flat_map(|_| counts.iter().copied()).collect();
        let cw = cx.const_weight("pool-count", vec![nb * w.positions(), 1, 1], counts)?;
        y = cx.emit(Op::Map(MapFn::Prim(Prim::Div)), &[y, cw])?;
    }
    let y = cx.emit(
        Op::Reshape {
            shape: vec![nb * w.positions(), c],
        },
        &[y],
    )?;
    unpatch(cx, y, nb, c, &w)
}

/// `GlobalMaxPool` and `GlobalAveragePool`: one reduction over the flattened spatial axes.
pub(super) fn global_pool(cx: &mut Cx, n: &NodeProto) -> Result<Val> {
    let (x, shape) = input(cx, n)?;
    let s: usize = shape[2..].iter().product();
    let r = cx.emit(
        Op::Reshape {
            shape: vec![shape[0], shape[1], s],
        },
        &[x],
    )?;
    let max = n.op_type == "GlobalMaxPool";
    let mut y = cx.emit(
        Op::Reduce {
            prim: if max { Prim::Max } else { Prim::Add },
            axis: 2,
        },
        &[r],
    )?;
    if !max {
        y = cx.emit(
            Op::Map(MapFn::PrimConst(Prim::Div, (s as f32).to_bits())),
            &[y],
        )?;
    }
    let out: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if i < 2 { d } else { 1 })
        .collect();
    let id = cx.emit(Op::Reshape { shape: out.clone() }, &[y])?;
    Ok(Val::Vm(super::VmVal { id, shape: out }))
}
