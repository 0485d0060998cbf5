//! Micro-traces: the primitive steps of one output element, derived from the
//! op descriptor and the element index alone.
//!
//! [`Site::step`] answers, for (op, input shapes, element `e`, step `s`),
//! which primitive runs and where each operand lives — an input tensor
//! element, a decoded field of a quantized element, a dequantized element (a
//! matmul reading its quantized weights in place), a constant, or the result
//! of an earlier step of the same element. It is a closed-form function of
//! the indices (the on-chain verifier computes the same), and only `gather`
//! reads one data word to locate its operand (the index). [`element_trace`]
//! runs the steps of one element without running the op.

use crate::arith::{Arith, Eval, NEG_INF, POS_INF, POS_ZERO, Prim, Program, Src, kernels::TREE};
use crate::commit::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

use super::layout::{AxisGeom, MatMulGeom, broadcast_index, broadcast_strides, ravel, unravel};
use super::{Desc, Op, quant, sample};

/// Where a step operand lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A constant bit pattern.
    Const(u32),
    /// The result of step `n` of the same element.
    Step(u32),
    /// Word `index` (row-major element index) of input `input`.
    Elem {
        /// Input number of the op.
        input: u8,
        /// Element index in that input.
        index: u64,
    },
    /// Decoded integer field `field` of element `index` of quantized input `input`.
    Field {
        /// Input number of the op.
        input: u8,
        /// Element index in that input.
        index: u64,
        /// Field number ([`quant::fields`]).
        field: u8,
    },
    /// Element `index` of quantized input `input`, dequantized: the value of
    /// its dtype's [`quant::program`] on the element's fields. One operand,
    /// not steps, so that an op reading quantized weights keeps the step
    /// count of its F32 form; the verifier dequantizes it from the proven
    /// block.
    Dequant {
        /// Input number of the op.
        input: u8,
        /// Element index in that input.
        index: u64,
    },
}

/// One step's primitive and operand locations (`srcs[prim.arity()..]` are `Const(0)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StepSpec {
    /// The primitive.
    pub prim: Prim,
    /// Operand locations.
    pub srcs: [Operand; 3],
}

/// An executed step: where its operands came from, their values and the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceStep {
    /// The primitive and operand locations.
    pub spec: StepSpec,
    /// Operand values.
    pub args: [u32; 3],
    /// Result.
    pub result: u32,
}

/// The micro-trace of one output element: its result is the last step's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementTrace {
    /// Output element index.
    pub element: u64,
    /// The steps in order.
    pub steps: Vec<TraceStep>,
    /// The element's value (the last step's result).
    pub output: u32,
}

const ZERO: Operand = Operand::Const(0);

fn spec(prim: Prim, a: Operand, b: Operand, c: Operand) -> StepSpec {
    StepSpec {
        prim,
        srcs: [a, b, c],
    }
}

/// A word copy: `select(1, x, 0)` is `x` bit for bit.
fn copy(input: u8, index: usize) -> StepSpec {
    spec(
        Prim::Select,
        Operand::Const(1),
        Operand::Elem {
            input,
            index: index as u64,
        },
        ZERO,
    )
}

#[derive(Clone, Debug)]
enum Geom {
    Dot {
        g: MatMulGeom,
        /// B is quantized and read through [`Operand::Dequant`].
        quant_b: bool,
    },
    Map {
        program: Program,
        bstrides: Vec<Vec<usize>>,
    },
    Reduce {
        prim: Prim,
        axis: AxisGeom,
    },
    Argmax {
        len: usize,
    },
    Dequant {
        program: Program,
    },
    Gather {
        row: usize,
        vocab: usize,
        dequant: Option<Program>,
    },
    Copy,
    Permute {
        perm: Vec<usize>,
        in_shape: Vec<usize>,
    },
    Concat {
        axis: usize,
        a_shape: Vec<usize>,
        b_shape: Vec<usize>,
    },
    Slice {
        axis: usize,
        start: usize,
        in_shape: Vec<usize>,
    },
    Mask {
        cols: usize,
        offset: usize,
        window: usize,
    },
    Sample {
        len: usize,
        seed: u64,
        counter: u64,
    },
}

/// An op applied to inputs of known dtypes and shapes: everything needed to
/// locate any step of any output element.
#[derive(Clone, Debug)]
pub struct Site {
    out_dtype: DType,
    out_shape: Vec<usize>,
    geom: Geom,
}

/// Node `x` of the lane tree of a reduction over `n` elements whose lane
/// steps are steps `0..n` (lane `l`'s last step is the largest `s < n`,
/// `s % 8 == l`) and whose tree steps start at step `n`.
fn tree_node(x: usize, n: usize, init: u32) -> Operand {
    if x < 8 {
        if x < n {
            Operand::Step((x + 8 * ((n - 1 - x) / 8)) as u32)
        } else {
            Operand::Const(init)
        }
    } else {
        Operand::Step((n + x - 8) as u32)
    }
}

fn tree_step(prim: Prim, n: usize, t: usize, init: u32) -> StepSpec {
    let (x, y) = TREE[t];
    spec(prim, tree_node(x, n, init), tree_node(y, n, init), ZERO)
}

fn lane_prev(s: usize, init: u32) -> Operand {
    if s >= 8 {
        Operand::Step((s - 8) as u32)
    } else {
        Operand::Const(init)
    }
}

fn reduce_init(prim: Prim) -> u32 {
    match prim {
        Prim::Max => NEG_INF,
        Prim::Min => POS_INF,
        _ => POS_ZERO,
    }
}

fn program_step(program: &Program, s: usize, operand: impl Fn(u8) -> Operand) -> StepSpec {
    let ins = program.instrs[s];
    let mut srcs = [ZERO; 3];
    for (k, src) in ins.srcs.iter().enumerate().take(ins.prim.arity()) {
        srcs[k] = match *src {
            Src::Input(n) => operand(n),
            Src::Const(c) => Operand::Const(c),
            Src::Step(j) => Operand::Step(u32::from(j)),
        };
    }
    StepSpec {
        prim: ins.prim,
        srcs,
    }
}

impl Site {
    /// Check `op` on inputs `ins` and precompute its geometry.
    pub fn new(op: &Op, ins: &[Desc<'_>]) -> Result<Site> {
        let (out_dtype, out_shape) = op.infer(ins)?;
        let geom = match op {
            Op::MatMul { .. } => Geom::Dot {
                g: op.matmul_geom(ins[0].1, ins[1].1)?,
                quant_b: ins[1].0 != DType::F32,
            },
            Op::Map(f) => Geom::Map {
                program: f.program(),
                bstrides: ins
                    .iter()
                    .map(|d| broadcast_strides(d.1, out_shape.len()))
                    .collect(),
            },
            Op::Reduce { prim, axis } => Geom::Reduce {
                prim: *prim,
                axis: AxisGeom::new(ins[0].1, *axis),
            },
            Op::Argmax => Geom::Argmax {
                len: ins[0].1[ins[0].1.len() - 1],
            },
            Op::Dequant => Geom::Dequant {
                program: quant::program(ins[0].0)?,
            },
            Op::Gather => {
                let (td, ts) = ins[0];
                Geom::Gather {
                    row: ts[1..].iter().product(),
                    vocab: ts[0],
                    dequant: if td == DType::F32 {
                        None
                    } else {
                        Some(quant::program(td)?)
                    },
                }
            }
            Op::Reshape { .. } => Geom::Copy,
            Op::Permute { perm } => Geom::Permute {
                perm: perm.clone(),
                in_shape: ins[0].1.to_vec(),
            },
            Op::Concat { axis } => Geom::Concat {
                axis: *axis,
                a_shape: ins[0].1.to_vec(),
                b_shape: ins[1].1.to_vec(),
            },
            Op::Slice { axis, start, .. } => Geom::Slice {
                axis: *axis,
                start: *start,
                in_shape: ins[0].1.to_vec(),
            },
            Op::Mask {
                cols,
                offset,
                window,
                ..
            } => Geom::Mask {
                cols: *cols,
                offset: *offset,
                window: *window,
            },
            Op::Sample { seed, counter } => Geom::Sample {
                len: ins[0].1[ins[0].1.len() - 1],
                seed: *seed,
                counter: *counter,
            },
        };
        Ok(Site {
            out_dtype,
            out_shape,
            geom,
        })
    }

    /// A map of the element program `program` over inputs `ins` (broadcast):
    /// the site of a map op decoded from its program encoding.
    pub fn for_map(program: Program, ins: &[Desc<'_>]) -> Result<Site> {
        let reads_missing_input = program.instrs.iter().any(|i| {
            i.srcs
                .iter()
                .any(|s| matches!(s, Src::Input(n) if *n as usize >= ins.len()))
        });
        if ins.is_empty()
            || ins.len() > 4
            || ins.iter().any(|d| d.0 != DType::F32)
            || reads_missing_input
        {
            return Err(Error::Op {
                op: "map".into(),
                msg: format!(
                    "takes 1 to 4 F32 inputs, and its program may read only those ({} given)",
                    ins.len()
                ),
            });
        }
        let shapes: Vec<&[usize]> = ins.iter().map(|d| d.1).collect();
        let out_shape = super::layout::broadcast_shape("map", &shapes)?;
        Ok(Site {
            out_dtype: DType::F32,
            geom: Geom::Map {
                program,
                bstrides: ins
                    .iter()
                    .map(|d| broadcast_strides(d.1, out_shape.len()))
                    .collect(),
            },
            out_shape,
        })
    }

    /// The output's dtype.
    pub fn out_dtype(&self) -> DType {
        self.out_dtype
    }

    /// The output's shape.
    pub fn out_shape(&self) -> &[usize] {
        &self.out_shape
    }

    /// Number of output elements.
    pub fn out_len(&self) -> usize {
        self.out_shape.iter().product()
    }

    /// Number of steps of element `e` (the same for every element of an op).
    pub fn step_count(&self) -> usize {
        match &self.geom {
            Geom::Dot { g, .. } => g.k + TREE.len(),
            Geom::Map { program, .. } | Geom::Dequant { program } => program.instrs.len(),
            Geom::Reduce { axis, .. } => axis.len + TREE.len(),
            Geom::Argmax { len } => 3 * len,
            Geom::Gather {
                dequant: Some(p), ..
            } => p.instrs.len(),
            Geom::Sample { len, .. } => len + TREE.len() + 3 + sample::SCAN_STEPS * len,
            _ => 1,
        }
    }

    /// Step `s` of output element `e`. `read(input, index)` returns an input
    /// word; only `gather` calls it (once, for the index).
    pub fn step(
        &self,
        e: usize,
        s: usize,
        read: &mut dyn FnMut(usize, u64) -> Result<u32>,
    ) -> Result<StepSpec> {
        let (n, len) = (self.step_count(), self.out_len());
        if e >= len {
            return Err(Error::IndexOutOfRange {
                what: "output element",
                index: e as u64,
                len: len as u64,
            });
        }
        if s >= n {
            return Err(Error::IndexOutOfRange {
                what: "micro-step",
                index: s as u64,
                len: n as u64,
            });
        }
        let elem = |input: u8, index: usize| Operand::Elem {
            input,
            index: index as u64,
        };
        Ok(match &self.geom {
            Geom::Dot { g, quant_b } => {
                if s < g.k {
                    let (b, m, n) = g.out_coords(e);
                    let bi = g.b_index(b, s, n);
                    spec(
                        Prim::Fma,
                        elem(0, g.a_index(b, m, s)),
                        if *quant_b {
                            Operand::Dequant {
                                input: 1,
                                index: bi as u64,
                            }
                        } else {
                            elem(1, bi)
                        },
                        lane_prev(s, POS_ZERO),
                    )
                } else {
                    tree_step(Prim::Add, g.k, s - g.k, POS_ZERO)
                }
            }
            Geom::Map { program, bstrides } => program_step(program, s, |k| {
                elem(
                    k,
                    broadcast_index(&self.out_shape, &bstrides[k as usize], e),
                )
            }),
            Geom::Reduce { prim, axis } => {
                let init = reduce_init(*prim);
                if s < axis.len {
                    spec(*prim, lane_prev(s, init), elem(0, axis.index(e, s)), ZERO)
                } else {
                    tree_step(*prim, axis.len, s - axis.len, init)
                }
            }
            Geom::Argmax { len } => {
                let (j, k) = (s / 3, s % 3);
                let cmp = Operand::Step((3 * j) as u32);
                let prev = |off: usize, init: u32| {
                    if j == 0 {
                        Operand::Const(init)
                    } else {
                        Operand::Step((3 * (j - 1) + off) as u32)
                    }
                };
                let x = elem(0, e * len + j);
                match k {
                    0 => spec(Prim::Lt, prev(1, NEG_INF), x, ZERO),
                    1 => spec(Prim::Select, cmp, x, prev(1, NEG_INF)),
                    _ => spec(Prim::Select, cmp, Operand::Const(j as u32), prev(2, 0)),
                }
            }
            Geom::Dequant { program } => program_step(program, s, |f| Operand::Field {
                input: 0,
                index: e as u64,
                field: f,
            }),
            Geom::Gather {
                row,
                vocab,
                dequant,
            } => {
                let raw = read(1, (e / row) as u64)?;
                let t = raw as i32;
                if t < 0 || t as usize >= *vocab {
                    return Err(Error::Op {
                        op: "gather".into(),
                        msg: format!(
                            "index {t} at position {} is outside the table's {vocab} rows",
                            e / row
                        ),
                    });
                }
                let src = t as usize * row + e % row;
                match dequant {
                    None => copy(0, src),
                    Some(p) => program_step(p, s, |f| Operand::Field {
                        input: 0,
                        index: src as u64,
                        field: f,
                    }),
                }
            }
            Geom::Copy => copy(0, e),
            Geom::Permute { perm, in_shape } => {
                let o = unravel(&self.out_shape, e);
                let mut ix = vec![0; in_shape.len()];
                for (d, &p) in perm.iter().enumerate() {
                    ix[p] = o[d];
                }
                copy(0, ravel(in_shape, &ix))
            }
            Geom::Concat {
                axis,
                a_shape,
                b_shape,
            } => {
                let mut o = unravel(&self.out_shape, e);
                if o[*axis] < a_shape[*axis] {
                    copy(0, ravel(a_shape, &o))
                } else {
                    o[*axis] -= a_shape[*axis];
                    copy(1, ravel(b_shape, &o))
                }
            }
            Geom::Slice {
                axis,
                start,
                in_shape,
            } => {
                let mut o = unravel(&self.out_shape, e);
                o[*axis] += start;
                copy(0, ravel(in_shape, &o))
            }
            Geom::Mask {
                cols,
                offset,
                window,
            } => {
                let c = u32::from(mask_visible(e / cols, e % cols, *offset, *window));
                spec(
                    Prim::Select,
                    Operand::Const(c),
                    Operand::Const(POS_ZERO),
                    Operand::Const(NEG_INF),
                )
            }
            Geom::Sample { len, seed, counter } => sample_step(*len, *seed, *counter, e, s),
        })
    }
}

/// Whether query `i` (at position `offset + i`) sees key `j`.
pub fn mask_visible(i: usize, j: usize, offset: usize, window: usize) -> bool {
    let p = offset + i;
    j <= p && (window == 0 || p - j < window)
}

fn sample_step(len: usize, seed: u64, counter: u64, e: usize, s: usize) -> StepSpec {
    let x = |j: usize| Operand::Elem {
        input: 0,
        index: (e * len + j) as u64,
    };
    let st = |k: usize| Operand::Step(k as u32);
    let sum_end = len + TREE.len();
    if s < len {
        return spec(Prim::Add, lane_prev(s, POS_ZERO), x(s), ZERO);
    }
    if s < sum_end {
        return tree_step(Prim::Add, len, s - len, POS_ZERO);
    }
    match s - sum_end {
        0 => {
            return spec(
                Prim::I32ToF32,
                Operand::Const(sample::draw(seed, counter, e as u64)),
                ZERO,
                ZERO,
            );
        }
        1 => {
            return spec(
                Prim::Mul,
                st(sum_end),
                Operand::Const(sample::TWO_POW_M24),
                ZERO,
            );
        }
        2 => return spec(Prim::Mul, st(sum_end + 1), st(sum_end - 1), ZERO),
        _ => {}
    }
    let target = st(sum_end + 2);
    let scan0 = sum_end + 3;
    let (j, k) = (
        (s - scan0) / sample::SCAN_STEPS,
        (s - scan0) % sample::SCAN_STEPS,
    );
    let base = scan0 + sample::SCAN_STEPS * j;
    let prev = |off: usize, init: u32| {
        if j == 0 {
            Operand::Const(init)
        } else {
            st(base - sample::SCAN_STEPS + off)
        }
    };
    match k {
        // acc = acc + w_j
        0 => spec(Prim::Add, prev(0, POS_ZERO), x(j), ZERO),
        // hit = target < acc
        1 => spec(Prim::Lt, target, st(base), ZERO),
        // first = done ? 0 : hit
        2 => spec(Prim::Select, prev(3, 0), ZERO, st(base + 1)),
        // done = hit ? 1 : done
        3 => spec(Prim::Select, st(base + 1), Operand::Const(1), prev(3, 0)),
        // idx = first ? j : idx
        _ => spec(
            Prim::Select,
            st(base + 2),
            Operand::Const(j as u32),
            prev(4, (len - 1) as u32),
        ),
    }
}

/// Read word `index` of a word tensor.
pub fn read_word(t: &Tensor, input: usize, index: u64) -> Result<u32> {
    let w = t.words(format_args!("input {input}"))?;
    w.get(index as usize)
        .copied()
        .ok_or(Error::IndexOutOfRange {
            what: "operand element",
            index,
            len: w.len() as u64,
        })
}

/// Decode field `field` of element `index` of a quantized tensor.
pub fn read_field(t: &Tensor, input: usize, index: u64, field: u8) -> Result<u32> {
    Ok(read_fields(t, input, index)?[field as usize % quant::MAX_FIELDS])
}

/// Element `index` of a quantized tensor dequantized with `arith`
/// ([`Operand::Dequant`]).
pub fn read_dequant<A: Arith + ?Sized>(
    arith: &A,
    t: &Tensor,
    input: usize,
    index: u64,
) -> Result<u32> {
    let f = read_fields(t, input, index)?;
    let n = quant::field_count(t.dtype());
    Ok(quant::run(t.dtype(), &mut Eval(arith), &f[..n]))
}

/// All decoded fields of element `index` of a quantized tensor.
fn read_fields(t: &Tensor, input: usize, index: u64) -> Result<[u32; quant::MAX_FIELDS]> {
    let bytes = t
        .stored_bytes()
        .filter(|_| quant::supported(t.dtype()))
        .ok_or_else(|| Error::Tensor {
            name: format!("input {input}"),
            msg: format!("is {:?}, not a supported quantized type", t.dtype()),
        })?;
    let (be, bb) = t.dtype().block();
    let (be, bb) = (be as usize, bb as usize);
    let (blk, j) = (index as usize / be, index as usize % be);
    let block = bytes
        .get(blk * bb..(blk + 1) * bb)
        .ok_or(Error::IndexOutOfRange {
            what: "quantized element",
            index,
            len: (bytes.len() / bb * be) as u64,
        })?;
    Ok(quant::fields(t.dtype(), block, j))
}

/// The micro-trace of output element `e` of `op` on `inputs`, computed with
/// `arith` one primitive at a time, without running the rest of the op.
pub fn element_trace<A: Arith + ?Sized>(
    arith: &A,
    op: &Op,
    inputs: &[&Tensor],
    e: u64,
) -> Result<ElementTrace> {
    let descs: Vec<Desc<'_>> = inputs.iter().map(|t| (t.dtype(), t.shape())).collect();
    site_trace(arith, &Site::new(op, &descs)?, inputs, e, &mut |_, r| r)
}

/// The micro-trace of element `e` of the op at `site`; `tamper(s, result)`
/// may change step `s`'s result before later steps read it (how a test
/// builds a trace that lies at exactly one micro-step).
pub fn site_trace<A: Arith + ?Sized>(
    arith: &A,
    site: &Site,
    inputs: &[&Tensor],
    e: u64,
    tamper: &mut dyn FnMut(usize, u32) -> u32,
) -> Result<ElementTrace> {
    let n = site.step_count();
    let mut steps: Vec<TraceStep> = Vec::with_capacity(n);
    let mut read = |input: usize, index: u64| read_word(inputs[input], input, index);
    for s in 0..n {
        let spec = site.step(e as usize, s, &mut read)?;
        let mut args = [0u32; 3];
        for (k, src) in spec.srcs.iter().enumerate().take(spec.prim.arity()) {
            args[k] = match *src {
                Operand::Const(c) => c,
                Operand::Step(j) => steps[j as usize].result,
                Operand::Elem { input, index } => {
                    read_word(inputs[input as usize], input as usize, index)?
                }
                Operand::Field {
                    input,
                    index,
                    field,
                } => read_field(inputs[input as usize], input as usize, index, field)?,
                Operand::Dequant { input, index } => {
                    read_dequant(arith, inputs[input as usize], input as usize, index)?
                }
            };
        }
        let result = tamper(s, arith.eval(spec.prim, args));
        steps.push(TraceStep { spec, args, result });
    }
    let output = steps.last().map(|s| s.result).unwrap_or(0);
    Ok(ElementTrace {
        element: e,
        steps,
        output,
    })
}
