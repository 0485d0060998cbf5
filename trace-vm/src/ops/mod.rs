//! The op vocabulary: a small, regular set of tensor ops, each declared once
//! (opcode, name, inputs, attributes, output shape rule, and the primitive
//! program of every output element).
//!
//! | opcode | op | inputs | element program (SPEC.md, "Ops and programs") |
//! |---|---|---|---|
//! | 0x01 | `matmul` | A, B (F32 or quantized) | canonical dot product: K lane fmas + 7 tree adds |
//! | 0x02 | `map` | 1–4, broadcast | a fixed [`MapFn`] program |
//! | 0x03 | `reduce` | X | canonical add/max/min reduction: len lane steps + 7 tree steps |
//! | 0x04 | `argmax` | X | 3 steps per element of the last axis |
//! | 0x05 | `dequant` | Q | decoded fields + the dtype's [`quant`] program |
//! | 0x06 | `gather` | table, index | copy (or dequant) of the indexed table element |
//! | 0x07 | `reshape` | X | copy |
//! | 0x08 | `permute` | X | copy |
//! | 0x09 | `concat` | A, B | copy |
//! | 0x0a | `slice` | X | copy |
//! | 0x0b | `mask` | — | `select` of 0 or -inf by position |
//! | 0x0c | `sample` | weights | counter-based PRNG draw + inverse-CDF scan |
//!
//! Composite ops (LayerNorm, RMSNorm, softmax, attention, RoPE, …) are
//! programs of these, written by [`crate::program::Builder`].

pub mod layout;
pub mod map;
pub mod micro;
pub mod quant;
pub mod sample;

pub use map::MapFn;
pub use micro::{ElementTrace, Operand, StepSpec, TraceStep, element_trace, site_trace};

use crate::arith::Prim;
use crate::commit::DType;
use crate::error::{Error, Result};
use crate::tensor::numel;

macro_rules! op_kinds {
    ($( $(#[$doc:meta])* $var:ident = $code:literal, $name:literal; )*) => {
        /// The opcode of an op (shared with the on-chain verifier).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum OpKind {
            $( $(#[$doc])* $var = $code, )*
        }

        impl OpKind {
            /// Every kind, in opcode order.
            pub const ALL: &'static [OpKind] = &[$(OpKind::$var),*];

            /// The op's name.
            pub const fn name(self) -> &'static str {
                match self { $(OpKind::$var => $name,)* }
            }

            /// The opcode byte.
            pub const fn opcode(self) -> u8 {
                self as u8
            }

            /// The kind with this opcode.
            pub const fn from_opcode(op: u8) -> Option<OpKind> {
                match op { $($code => Some(OpKind::$var),)* _ => None }
            }
        }
    };
}

op_kinds! {
    /// Batched matrix product with optional transposes.
    MatMul = 0x01, "matmul";
    /// Broadcast elementwise program.
    Map = 0x02, "map";
    /// Reduction along one axis (kept with length 1).
    Reduce = 0x03, "reduce";
    /// Index of the first maximum along the last axis.
    Argmax = 0x04, "argmax";
    /// Block-quantized to F32.
    Dequant = 0x05, "dequant";
    /// Rows of a table selected by an index tensor.
    Gather = 0x06, "gather";
    /// Same elements, new shape.
    Reshape = 0x07, "reshape";
    /// Axis permutation.
    Permute = 0x08, "permute";
    /// Concatenation of two tensors along an axis.
    Concat = 0x09, "concat";
    /// A contiguous range along one axis.
    Slice = 0x0A, "slice";
    /// Causal / sliding-window additive attention mask.
    Mask = 0x0B, "mask";
    /// Seeded categorical sample.
    Sample = 0x0C, "sample";
}

/// One op with its attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `out[b, m, n] = dot(A[b, m, :], B[b / group, :, n])`. A is `[.., M, K]`
    /// (`[.., K, M]` when `ta`), B is `[.., K, N]` (`[.., N, K]` when `tb`);
    /// B's batch count must divide A's (`group` = ratio; B may be 2-D).
    /// A quantized B (`tb`, rows of whole blocks) is dequantized as it is read.
    MatMul {
        /// A stored transposed.
        ta: bool,
        /// B stored transposed.
        tb: bool,
    },
    /// Apply `f` to the broadcast input elements.
    Map(MapFn),
    /// Reduce along `axis` with `prim` ∈ {add, max, min}; the axis is kept with length 1.
    Reduce {
        /// add, max or min.
        prim: Prim,
        /// The reduced axis.
        axis: usize,
    },
    /// I32 index of the first maximum along the last axis (kept with length 1); NaNs are never chosen.
    Argmax,
    /// Dequantize a block-quantized tensor to F32 (same shape).
    Dequant,
    /// `out[i.., :] = table[index[i..], :]`: table `[V, D..]` (F32 or quantized), index I32.
    Gather,
    /// Reinterpret with a new shape (same element count).
    Reshape {
        /// The new shape.
        shape: Vec<usize>,
    },
    /// `out` dimension d is input dimension `perm[d]`.
    Permute {
        /// A permutation of the axes.
        perm: Vec<usize>,
    },
    /// Concatenate along `axis` (other dimensions equal).
    Concat {
        /// The axis.
        axis: usize,
    },
    /// Elements `start..start+len` along `axis`.
    Slice {
        /// The axis.
        axis: usize,
        /// First index kept.
        start: usize,
        /// Number kept.
        len: usize,
    },
    /// F32 `[rows, cols]`: 0 where query `i` (at position `offset + i`) may
    /// see key `j` (`j <= offset + i` and, when `window > 0`,
    /// `offset + i - j < window`), -inf elsewhere.
    Mask {
        /// Number of queries.
        rows: usize,
        /// Number of keys.
        cols: usize,
        /// Position of query 0.
        offset: usize,
        /// Sliding window (0 = unlimited).
        window: usize,
    },
    /// Draw an I32 index from each row of non-negative weights (last axis) with
    /// the counter-based generator of [`sample`].
    Sample {
        /// The claim's seed.
        seed: u64,
        /// Counter of the first row (rows use `counter + row`).
        counter: u64,
    },
}

/// An input's dtype and shape.
pub type Desc<'a> = (DType, &'a [usize]);

fn is_quant(d: DType) -> bool {
    quant::supported(d)
}

impl Op {
    /// The op's kind.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::MatMul { .. } => OpKind::MatMul,
            Op::Map(_) => OpKind::Map,
            Op::Reduce { .. } => OpKind::Reduce,
            Op::Argmax => OpKind::Argmax,
            Op::Dequant => OpKind::Dequant,
            Op::Gather => OpKind::Gather,
            Op::Reshape { .. } => OpKind::Reshape,
            Op::Permute { .. } => OpKind::Permute,
            Op::Concat { .. } => OpKind::Concat,
            Op::Slice { .. } => OpKind::Slice,
            Op::Mask { .. } => OpKind::Mask,
            Op::Sample { .. } => OpKind::Sample,
        }
    }

    /// "`label` input `k`" for an error message about input `k`, formatted
    /// only when displayed (an op runs hundreds of times per token).
    pub fn input_name(&self, k: usize) -> impl std::fmt::Display + '_ {
        struct InputName<'a>(&'a Op, usize);
        impl std::fmt::Display for InputName<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} input {}", self.0.label(), self.1)
            }
        }
        InputName(self, k)
    }

    /// A short description for errors and listings.
    pub fn label(&self) -> String {
        match self {
            Op::Map(f) => format!("map {}", f.name()),
            Op::Reduce { prim, axis } => format!("reduce {prim} axis {axis}"),
            other => other.kind().name().to_string(),
        }
    }

    /// Number of inputs.
    pub fn arity(&self) -> usize {
        match self {
            Op::Map(f) => f.arity(),
            Op::MatMul { .. } | Op::Gather | Op::Concat { .. } => 2,
            Op::Mask { .. } => 0,
            _ => 1,
        }
    }

    fn err(&self, msg: impl Into<String>) -> Error {
        Error::Op {
            op: self.label(),
            msg: msg.into(),
        }
    }

    fn want(&self, what: &str, d: DType, ok: bool, need: &str) -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(self.err(format!("{what} is {d:?}; it must be {need}")))
        }
    }

    /// Check the inputs and return the output's dtype and shape.
    pub fn infer(&self, ins: &[Desc<'_>]) -> Result<(DType, Vec<usize>)> {
        if ins.len() != self.arity() {
            return Err(self.err(format!(
                "takes {} input(s), got {}",
                self.arity(),
                ins.len()
            )));
        }
        let f32_in = |k: usize| {
            self.want(
                &format!("input {k}"),
                ins[k].0,
                ins[k].0 == DType::F32,
                "F32",
            )
        };
        let out = match self {
            Op::MatMul { tb, .. } => {
                f32_in(0)?;
                let g = self.matmul_geom(ins[0].1, ins[1].1)?;
                let bd = ins[1].0;
                self.want(
                    "input 1",
                    bd,
                    bd == DType::F32 || is_quant(bd),
                    "F32 or a quantized type",
                )?;
                // A quantized B is a weight stored as GGUF stores it, `[N, K]`
                // rows of whole blocks, so a column of B is a run of blocks.
                if bd != DType::F32 && (!tb || !g.k.is_multiple_of(bd.block().0 as usize)) {
                    return Err(self.err(format!(
                        "a {bd:?} B must be stored [.., N, K] (tb) with K a multiple of {} elements; got K = {}, tb = {tb}",
                        bd.block().0,
                        g.k
                    )));
                }
                let mut shape = ins[0].1[..ins[0].1.len() - 2].to_vec();
                shape.extend([g.m, g.n]);
                (DType::F32, shape)
            }
            Op::Map(f) => {
                f.validate()?;
                for k in 0..ins.len() {
                    f32_in(k)?;
                }
                let shapes: Vec<&[usize]> = ins.iter().map(|d| d.1).collect();
                (DType::F32, layout::broadcast_shape(&self.label(), &shapes)?)
            }
            Op::Reduce { prim, axis } => {
                f32_in(0)?;
                if !matches!(prim, Prim::Add | Prim::Max | Prim::Min) {
                    return Err(self.err(format!("{prim} is not a reduction; use add, max or min")));
                }
                let s = ins[0].1;
                if *axis >= s.len() || s[*axis] == 0 {
                    return Err(self.err(format!(
                        "axis {axis} of shape {s:?} does not exist or is empty"
                    )));
                }
                let mut shape = s.to_vec();
                shape[*axis] = 1;
                (DType::F32, shape)
            }
            Op::Argmax | Op::Sample { .. } => {
                f32_in(0)?;
                let s = ins[0].1;
                match s.last() {
                    Some(&n) if n > 0 && n <= i32::MAX as usize => {}
                    _ => {
                        return Err(self.err(format!(
                            "shape {s:?} needs a non-empty last axis of at most 2^31-1 elements"
                        )));
                    }
                }
                let mut shape = s.to_vec();
                *shape.last_mut().unwrap_or(&mut 0) = 1;
                (DType::I32, shape)
            }
            Op::Dequant => {
                let (d, s) = ins[0];
                self.want("input 0", d, is_quant(d), "Q4_0, Q5_0, Q8_0, Q4_K or Q6_K")?;
                (DType::F32, s.to_vec())
            }
            Op::Gather => {
                let (td, ts) = ins[0];
                self.want(
                    "the table",
                    td,
                    td == DType::F32 || is_quant(td),
                    "F32 or a quantized type",
                )?;
                self.want("the index", ins[1].0, ins[1].0 == DType::I32, "I32")?;
                if ts.len() < 2 || ts[0] == 0 {
                    return Err(self.err(format!("table shape {ts:?} must be [V, D..] with V > 0")));
                }
                let row: usize = ts[1..].iter().product();
                if !row.is_multiple_of(td.block().0 as usize) {
                    return Err(self.err(format!(
                        "{td:?} table rows of {row} elements are not whole blocks"
                    )));
                }
                let mut shape = ins[1].1.to_vec();
                shape.extend_from_slice(&ts[1..]);
                (DType::F32, shape)
            }
            Op::Reshape { shape } => {
                let (d, s) = ins[0];
                if numel("reshape", shape)? != numel("reshape", s)? {
                    return Err(self.err(format!(
                        "cannot reshape {s:?} to {shape:?}: element counts differ"
                    )));
                }
                self.want("input 0", d, crate::tensor::is_word_type(d), "F32 or I32")?;
                (d, shape.clone())
            }
            Op::Permute { perm } => {
                let (d, s) = ins[0];
                let mut seen = vec![false; s.len()];
                for &p in perm {
                    if p >= s.len() || std::mem::replace(&mut seen[p], true) {
                        return Err(self.err(format!(
                            "{perm:?} is not a permutation of the {} axes of {s:?}",
                            s.len()
                        )));
                    }
                }
                if perm.len() != s.len() {
                    return Err(self.err(format!(
                        "{perm:?} has {} axes, the input {}",
                        perm.len(),
                        s.len()
                    )));
                }
                self.want("input 0", d, crate::tensor::is_word_type(d), "F32 or I32")?;
                (d, perm.iter().map(|&p| s[p]).collect())
            }
            Op::Concat { axis } => {
                let ((da, sa), (db, sb)) = (ins[0], ins[1]);
                let same_rest =
                    sa.len() == sb.len() && (0..sa.len()).all(|d| d == *axis || sa[d] == sb[d]);
                if da != db || *axis >= sa.len() || !same_rest {
                    return Err(self.err(format!(
                        "cannot concatenate {da:?}{sa:?} and {db:?}{sb:?} along axis {axis}: dtypes and the other dimensions must match"
                    )));
                }
                self.want("input 0", da, crate::tensor::is_word_type(da), "F32 or I32")?;
                let mut shape = sa.to_vec();
                shape[*axis] += sb[*axis];
                (da, shape)
            }
            Op::Slice { axis, start, len } => {
                let (d, s) = ins[0];
                if *axis >= s.len() || start.checked_add(*len).is_none_or(|end| end > s[*axis]) {
                    return Err(self.err(format!(
                        "range {start}..{start}+{len} on axis {axis} is outside {s:?}"
                    )));
                }
                self.want("input 0", d, crate::tensor::is_word_type(d), "F32 or I32")?;
                let mut shape = s.to_vec();
                shape[*axis] = *len;
                (d, shape)
            }
            Op::Mask { rows, cols, .. } => {
                numel("mask", &[*rows, *cols])?;
                (DType::F32, vec![*rows, *cols])
            }
        };
        numel(&self.label(), &out.1)?;
        Ok(out)
    }

    /// The matmul geometry for inputs of shapes `a` and `b`.
    pub fn matmul_geom(&self, a: &[usize], b: &[usize]) -> Result<layout::MatMulGeom> {
        let Op::MatMul { ta, tb } = *self else {
            return Err(self.err("not a matmul"));
        };
        if a.len() < 2 || b.len() < 2 {
            return Err(self.err(format!(
                "inputs {a:?} and {b:?} must have at least 2 dimensions"
            )));
        }
        let (ra, rb) = (a.len(), b.len());
        let (m, ka) = if ta {
            (a[ra - 1], a[ra - 2])
        } else {
            (a[ra - 2], a[ra - 1])
        };
        let (kb, n) = if tb {
            (b[rb - 1], b[rb - 2])
        } else {
            (b[rb - 2], b[rb - 1])
        };
        let batch: usize = a[..ra - 2].iter().product();
        let bbatch: usize = b[..rb - 2].iter().product();
        if ka != kb {
            return Err(self.err(format!("inner dimensions differ: A {a:?} (ta={ta}) has K={ka}, B {b:?} (tb={tb}) has K={kb}")));
        }
        if bbatch == 0 || !batch.is_multiple_of(bbatch) {
            return Err(self.err(format!(
                "B's batch count {bbatch} ({b:?}) must divide A's {batch} ({a:?})"
            )));
        }
        Ok(layout::MatMulGeom {
            batch,
            group: batch / bbatch,
            m,
            n,
            k: ka,
            ta,
            tb,
        })
    }

    /// The op's attributes in the program encoding (SPEC.md, "Program encoding"), big-endian.
    pub fn encode_attrs(&self) -> Vec<u8> {
        let mut v = Vec::new();
        let u64be = |v: &mut Vec<u8>, x: usize| v.extend_from_slice(&(x as u64).to_be_bytes());
        match self {
            Op::MatMul { ta, tb } => v.push(u8::from(*ta) | (u8::from(*tb) << 1)),
            Op::Map(f) => encode_program(&mut v, &f.program()),
            Op::Reduce { prim, axis } => {
                v.push(prim.opcode());
                v.push(*axis as u8);
            }
            Op::Argmax | Op::Dequant | Op::Gather => {}
            Op::Reshape { shape } => {
                v.push(shape.len() as u8);
                for &d in shape {
                    u64be(&mut v, d);
                }
            }
            Op::Permute { perm } => {
                v.push(perm.len() as u8);
                v.extend(perm.iter().map(|&p| p as u8));
            }
            Op::Concat { axis } => v.push(*axis as u8),
            Op::Slice { axis, start, len } => {
                v.push(*axis as u8);
                u64be(&mut v, *start);
                u64be(&mut v, *len);
            }
            Op::Mask {
                rows,
                cols,
                offset,
                window,
            } => {
                for x in [rows, cols, offset, window] {
                    u64be(&mut v, *x);
                }
            }
            Op::Sample { seed, counter } => {
                v.extend_from_slice(&seed.to_be_bytes());
                v.extend_from_slice(&counter.to_be_bytes());
            }
        }
        v
    }
}

/// Encode an element program: u16 count, then per instruction the primitive's
/// opcode and three operands as (tag u8: 0 input, 1 constant, 2 step; u32 value).
pub fn encode_program(v: &mut Vec<u8>, p: &crate::arith::Program) {
    use crate::arith::Src;
    v.extend_from_slice(&(p.instrs.len() as u16).to_be_bytes());
    for ins in &p.instrs {
        v.push(ins.prim.opcode());
        for s in ins.srcs {
            let (tag, val) = match s {
                Src::Input(n) => (0u8, u32::from(n)),
                Src::Const(c) => (1, c),
                Src::Step(k) => (2, u32::from(k)),
            };
            v.push(tag);
            v.extend_from_slice(&val.to_be_bytes());
        }
    }
}
