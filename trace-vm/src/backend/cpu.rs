//! The CPU backend, parameterised by the primitive implementation: with
//! [`Fast`](crate::arith::Fast) it runs native kernels (AVX2+FMA dot products,
//! element programs compiled to straight-line code), with
//! [`Reference`](crate::arith::Reference) every primitive goes through
//! SoftFloat. Both follow the micro-trace order exactly.

use std::borrow::Cow;

use rayon::prelude::*;

use crate::arith::{Arith, Eval, Fast, NEG_INF, POS_ZERO, Prim, Reference, gemm, kernels, qgemv};
use crate::commit::DType;
use crate::error::{Error, Result};
use crate::ops::layout::{AxisGeom, MatMulGeom, broadcast_index, broadcast_strides, strides};
use crate::ops::micro::mask_visible;
use crate::ops::{Desc, MapFn, Op, quant, sample};
use crate::tensor::Tensor;

use super::Backend;

/// `C = A · Bᵀ` with A `m x k`, B `n x k`, C `m x n` (row-major): every
/// element the canonical dot product of its row and column.
pub trait Gemm: Arith {
    /// Fill `c`; the default runs [`Arith::dot`] per element.
    fn gemm_nt(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: &[u32],
        b: &[u32],
        c: &mut [u32],
    ) -> Result<()> {
        for (i, row) in c.chunks_mut(n.max(1)).enumerate().take(m) {
            for (j, o) in row.iter_mut().enumerate() {
                *o = self.dot(&a[i * k..(i + 1) * k], &b[j * k..(j + 1) * k])?;
            }
        }
        Ok(())
    }

    /// One output row of a map: `out[i] = f(xs[0][base[0] + i*step[0]], ..)`.
    /// The default runs [`MapFn::eval`] per element.
    fn map_row(&self, f: MapFn, xs: &[&[u32]], base: &[usize], step: &[usize], out: &mut [u32]) {
        f.eval_row_with(self, xs, base, step, out)
    }

    /// Dequantize elements `start..start + out.len()` of quantized `t` (whole
    /// blocks or not), each the value of its dtype's dequant program. The
    /// default runs the program per element.
    fn dequant(&self, t: &Tensor, start: usize, out: &mut [u32]) {
        dequant_into(self, t, start, out)
    }

    /// `out[j] = dot(x, dequant(row j))` for the `out.len()` rows of
    /// `x.len()` elements of quantized `q` starting at element `start`, each
    /// the canonical dot product against the dequant program's values.
    /// `false` (with `out` untouched) when there is no fused kernel for this
    /// dtype, K or CPU; the answer is the same for every row range, and the
    /// caller then dequantizes panels. The default has none.
    fn quant_gemv(&self, _x: &[u32], _q: &Tensor, _start: usize, _out: &mut [u32]) -> bool {
        false
    }

    /// The canonical argmax of one row (SPEC.md 6.3.4): the first maximum,
    /// never a NaN, 0 when no value exceeds -inf.
    fn argmax_row(&self, row: &[u32]) -> u32 {
        let (mut best, mut idx) = (NEG_INF, 0u32);
        for (j, &v) in row.iter().enumerate() {
            if self.lt(best, v) != 0 {
                best = v;
                idx = j as u32;
            }
        }
        idx
    }

    /// The canonical reduction of one contiguous row with `prim` ∈ {add, max, min}.
    fn reduce_row(&self, prim: Prim, row: &[u32]) -> Result<u32> {
        if prim == Prim::Add {
            Ok(self.sum(row))
        } else {
            kernels::reduce(self, prim, row)
        }
    }
}

impl Gemm for Reference {}

impl Gemm for Fast {
    fn gemm_nt(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: &[u32],
        b: &[u32],
        c: &mut [u32],
    ) -> Result<()> {
        gemm::gemm_nt(m, n, k, a, b, c)
    }

    fn dequant(&self, t: &Tensor, start: usize, out: &mut [u32]) {
        // Whole blocks (every matmul panel and gather row) go block by block.
        let (be, bb) = t.dtype().block();
        let (be, bb) = (be as usize, bb as usize);
        match t.stored_bytes() {
            Some(bytes) if start.is_multiple_of(be) && out.len().is_multiple_of(be) => {
                let from = start / be * bb;
                quant::dequant_blocks_native(
                    t.dtype(),
                    &bytes[from..from + out.len() / be * bb],
                    out,
                )
            }
            _ => dequant_into(self, t, start, out),
        }
    }

    fn quant_gemv(&self, x: &[u32], q: &Tensor, start: usize, out: &mut [u32]) -> bool {
        let (be, bb) = q.dtype().block();
        let (be, bb) = (be as usize, bb as usize);
        let from = start / be * bb;
        let len = out.len() * (x.len() / be) * bb;
        match q.stored_bytes() {
            Some(bytes) if start.is_multiple_of(be) && from + len <= bytes.len() => {
                qgemv::quant_gemv(q.dtype(), x, &bytes[from..from + len], out)
            }
            _ => false,
        }
    }

    fn map_row(&self, f: MapFn, xs: &[&[u32]], base: &[usize], step: &[usize], out: &mut [u32]) {
        // 8 lanes per step with AVX2+FMA (transcendental programs included), scalar otherwise.
        f.eval_row(xs, base, step, out)
    }

    fn reduce_row(&self, prim: Prim, row: &[u32]) -> Result<u32> {
        kernels::reduce_fast(prim, row)
    }

    /// Two passes that vectorize, instead of one that carries the running
    /// maximum: the largest value M (NaNs skipped), then the first element
    /// equal to M. That is the canonical index: the running maximum rises
    /// strictly, so it first equals M at the first element equal to M
    /// (`==`, so -0 and +0 are one value, as `lt` has them); and a row with
    /// nothing above -inf gives 0.
    fn argmax_row(&self, row: &[u32]) -> u32 {
        let max = row
            .iter()
            .map(|&v| f32::from_bits(v))
            .fold(f32::NEG_INFINITY, f32::max);
        if max == f32::NEG_INFINITY {
            return 0;
        }
        let is_max = |v: &u32| f32::from_bits(*v) == max;
        let chunk = 64;
        row.chunks(chunk)
            .enumerate()
            .find(|(_, c)| c.iter().fold(false, |hit, v| hit | is_max(v)))
            .and_then(|(i, c)| Some(i * chunk + c.iter().position(is_max)?))
            .map_or(0, |j| j as u32)
    }
}

/// Work (multiply-adds) below which a matmul runs on one thread.
const PAR_MIN_WORK: usize = 1 << 18;

/// CPU backend over the primitive implementation `A`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu<A> {
    arith: A,
}

impl<A: Arith> Cpu<A> {
    /// A backend computing with `arith`.
    pub fn new(arith: A) -> Self {
        Cpu { arith }
    }

    /// The primitive implementation.
    pub fn arith(&self) -> &A {
        &self.arith
    }
}

impl<A: Gemm> Backend for Cpu<A> {
    fn name(&self) -> String {
        format!("cpu-{}", self.arith.name())
    }

    fn run(&self, op: &Op, inputs: &[&Tensor]) -> Result<Tensor> {
        let descs: Vec<Desc<'_>> = inputs.iter().map(|t| (t.dtype(), t.shape())).collect();
        // The shape rules alone: a `Site` would also record a map's program.
        let (out_dtype, out_shape) = op.infer(&descs)?;
        let w = |k: usize| inputs[k].words(op.input_name(k));
        let a = &self.arith;
        let words = match op {
            Op::MatMul { .. } => {
                let g = op.matmul_geom(inputs[0].shape(), inputs[1].shape())?;
                if inputs[1].dtype() == DType::F32 {
                    matmul(a, g, w(0)?, w(1)?)?
                } else {
                    matmul_quant(a, g, w(0)?, inputs[1])?
                }
            }
            Op::Map(f) => {
                let xs = (0..inputs.len()).map(w).collect::<Result<Vec<_>>>()?;
                let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
                map(a, *f, &xs, &shapes, &out_shape)?
            }
            Op::Reduce { prim, axis } => {
                reduce(a, *prim, AxisGeom::new(inputs[0].shape(), *axis), w(0)?)?
            }
            Op::Argmax => argmax(a, last(inputs[0]), w(0)?),
            Op::Sample { seed, counter } => sample_rows(a, *seed, *counter, last(inputs[0]), w(0)?),
            Op::Dequant => {
                let t = inputs[0];
                let mut out = vec![0u32; t.len()];
                a.dequant(t, 0, &mut out);
                out
            }
            Op::Gather => gather(a, inputs[0], w(1)?)?,
            Op::Reshape { .. } => w(0)?.to_vec(),
            Op::Permute { perm } => permute(w(0)?, inputs[0].shape(), perm, &out_shape),
            Op::Concat { axis } => {
                concat(w(0)?, w(1)?, inputs[0].shape(), inputs[1].shape(), *axis)
            }
            Op::Slice { axis, start, len } => slice(w(0)?, inputs[0].shape(), *axis, *start, *len),
            Op::Mask {
                rows,
                cols,
                offset,
                window,
            } => (0..rows * cols)
                .map(|e| {
                    if mask_visible(e / cols, e % cols, *offset, *window) {
                        POS_ZERO
                    } else {
                        NEG_INF
                    }
                })
                .collect(),
        };
        Tensor::from_words(out_dtype, &out_shape, words)
    }
}

fn last(t: &Tensor) -> usize {
    t.shape().last().copied().unwrap_or(1)
}

fn matmul<A: Gemm>(a: &A, g: MatMulGeom, x: &[u32], y: &[u32]) -> Result<Vec<u32>> {
    let (m, n, k) = (g.m, g.n, g.k);
    let mut out = vec![0u32; g.batch * m * n];
    if out.is_empty() {
        return Ok(out);
    }
    // B's columns and A's rows are made contiguous (copied only when stored
    // the other way) so that every output element is one canonical dot
    // product of two slices.
    let bt_all: Cow<'_, [u32]> = if g.tb {
        Cow::Borrowed(y)
    } else {
        // B stored [k, n] per batch of its own.
        Cow::Owned(transpose(y, g.batch / g.group, k, n))
    };
    let rows_all = a_rows(g, x);
    let bt = |b: usize| &bt_all[b / g.group * n * k..][..n * k];
    let rows = |b: usize| &rows_all[b * m * k..][..m * k];
    let par = g.batch * m * n * k >= PAR_MIN_WORK;
    // Each batch is split into enough pieces to keep every thread busy:
    // rows, or columns for a single row (decoding).
    let pieces = if par {
        rayon::current_num_threads().div_ceil(g.batch)
    } else {
        1
    };
    for_chunks(&mut out, m * n, par, |b, block| {
        if m == 1 {
            let cols_per = n.div_ceil(pieces);
            for_chunks(block, cols_per, pieces > 1, |c, chunk| {
                let (c0, cs) = (c * cols_per, chunk.len());
                a.gemm_nt(1, cs, k, rows(b), &bt(b)[c0 * k..(c0 + cs) * k], chunk)
            })
        } else {
            let rows_per = m.div_ceil(pieces);
            for_chunks(block, rows_per * n, pieces > 1, |c, chunk| {
                let (r0, rs) = (c * rows_per, chunk.len() / n);
                a.gemm_nt(rs, n, k, &rows(b)[r0 * k..(r0 + rs) * k], bt(b), chunk)
            })
        }
    })?;
    Ok(out)
}

/// A's rows, batch after batch, contiguous (copied only when A is stored
/// transposed).
fn a_rows(g: MatMulGeom, x: &[u32]) -> Cow<'_, [u32]> {
    if !g.ta {
        return Cow::Borrowed(x);
    }
    // A stored [k, m] per batch.
    Cow::Owned(transpose(x, g.batch, g.k, g.m))
}

/// `batches` row-major `rows x cols` matrices stored one after another,
/// each transposed (`cols x rows`), in the same order.
fn transpose(x: &[u32], batches: usize, rows: usize, cols: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(batches * rows * cols);
    for m in x.chunks_exact((rows * cols).max(1)).take(batches) {
        for c in 0..cols {
            out.extend(m[c..].iter().step_by(cols.max(1)).take(rows));
        }
    }
    out
}

/// Run `f(index, chunk)` on each chunk of `chunk` words of `out` (the last
/// one may be shorter): on the thread pool when `par`, else in order on this
/// thread (handing a small op to the pool costs more than it saves).
fn for_chunks<E, F>(out: &mut [u32], chunk: usize, par: bool, f: F) -> std::result::Result<(), E>
where
    E: Send,
    F: Fn(usize, &mut [u32]) -> std::result::Result<(), E> + Sync + Send,
{
    let chunk = chunk.max(1);
    if par {
        out.par_chunks_mut(chunk)
            .enumerate()
            .try_for_each(|(i, c)| f(i, c))
    } else {
        out.chunks_mut(chunk)
            .enumerate()
            .try_for_each(|(i, c)| f(i, c))
    }
}

/// Bytes of dequantized B rows per panel: small enough to stay in L2 while
/// A's rows pass, so no F32 copy of a quantized weight is ever made.
const PANEL_BYTES: usize = 96 * 1024;

/// Rows of A up to which a product with a quantized B runs as one fused
/// matrix-vector product per row ([`Gemm::quant_gemv`]): decoding (one row)
/// and short prompts, where a row re-reads weights that are still in cache.
const GEMV_MAX_ROWS: usize = 8;

/// Weights (elements) per piece of a parallel matrix-vector product: enough
/// to amortize handing it to a thread, small enough to balance the threads.
const GEMV_PIECE: usize = 1 << 16;

/// `matmul` with a quantized B (stored `[.., N, K]`, rows of whole blocks,
/// checked by [`Op::infer`]): a few rows of A go through the fused
/// matrix-vector kernel when the arithmetic has one; otherwise B's rows are
/// dequantized a panel at a time, with the same primitives as
/// [`Operand::Dequant`](crate::ops::Operand), and multiplied at once. Threads
/// split the columns, so each dequantizes its own panels once per batch.
fn matmul_quant<A: Gemm>(a: &A, g: MatMulGeom, x: &[u32], q: &Tensor) -> Result<Vec<u32>> {
    let (m, n, k) = (g.m, g.n, g.k);
    let mut out = vec![0u32; g.batch * m * n];
    if out.is_empty() {
        return Ok(out);
    }
    let rows = a_rows(g, x);
    let par = g.batch * m * n * k >= PAR_MIN_WORK;
    if m <= GEMV_MAX_ROWS && quant_gemv_rows(a, g, &rows, q, par, &mut out).is_ok() {
        return Ok(out);
    }
    let cols_per = if par {
        n.div_ceil(rayon::current_num_threads())
    } else {
        n
    };
    for b in 0..g.batch {
        let base = b / g.group * n * k;
        let rows = &rows[b * m * k..(b + 1) * m * k];
        let cols: Vec<usize> = (0..n).step_by(cols_per).collect();
        let parts = |c0: usize| quant_cols(a, rows, q, base, m, k, c0..(c0 + cols_per).min(n));
        let parts: Vec<Vec<u32>> = if par {
            cols.par_iter()
                .map(|&c0| parts(c0))
                .collect::<Result<_>>()?
        } else {
            cols.iter().map(|&c0| parts(c0)).collect::<Result<_>>()?
        };
        let block = &mut out[b * m * n..(b + 1) * m * n];
        for (c0, part) in cols.into_iter().zip(parts) {
            let cw = part.len() / m;
            for (orow, prow) in block.chunks_mut(n).zip(part.chunks(cw)) {
                orow[c0..c0 + cw].copy_from_slice(prow);
            }
        }
    }
    Ok(out)
}

/// Every output row of a quantized product through [`Gemm::quant_gemv`],
/// each split into pieces of [`GEMV_PIECE`] weights when `par`. `Err(())`
/// when the arithmetic has no fused kernel for this product (then `out` is
/// to be recomputed).
fn quant_gemv_rows<A: Gemm>(
    a: &A,
    g: MatMulGeom,
    rows: &[u32],
    q: &Tensor,
    par: bool,
    out: &mut [u32],
) -> std::result::Result<(), ()> {
    let (m, n, k) = (g.m, g.n, g.k);
    let per = if par {
        (GEMV_PIECE / k.max(1)).max(n.div_ceil(4 * rayon::current_num_threads()))
    } else {
        n
    };
    for_chunks(out, n, par, |bm, orow| {
        let x = &rows[bm * k..(bm + 1) * k];
        let base = bm / m / g.group * n * k;
        for_chunks(orow, per, par, |c, piece| {
            a.quant_gemv(x, q, base + c * per * k, piece)
                .then_some(())
                .ok_or(())
        })
    })
}

/// Columns `cols` of `rows · Bᵀ` for the quantized B rows starting at element
/// `base` of `q`, as an `m x cols.len()` row-major block.
fn quant_cols<A: Gemm>(
    a: &A,
    rows: &[u32],
    q: &Tensor,
    base: usize,
    m: usize,
    k: usize,
    cols: std::ops::Range<usize>,
) -> Result<Vec<u32>> {
    let cw = cols.len();
    let mut res = vec![0u32; m * cw];
    let per = (PANEL_BYTES / (4 * k)).clamp(1, cw.max(1));
    let mut panel = vec![0u32; per * k];
    let mut c = vec![0u32; m * per];
    for j0 in cols.clone().step_by(per) {
        let nr = per.min(cols.end - j0);
        a.dequant(q, base + j0 * k, &mut panel[..nr * k]);
        a.gemm_nt(m, nr, k, rows, &panel[..nr * k], &mut c[..m * nr])?;
        let off = j0 - cols.start;
        for (rrow, crow) in res.chunks_mut(cw).zip(c.chunks(nr)) {
            rrow[off..off + nr].copy_from_slice(crow);
        }
    }
    Ok(res)
}

/// Primitive steps (elements times steps per element) below which a map or
/// reduction runs on one thread: starting and joining threads costs more
/// than a cheap op on a few rows (an add on 128 x 1536 takes ~0.1 ms).
const PAR_MIN_STEPS: usize = 1 << 18;

fn map<A: Gemm>(
    a: &A,
    f: MapFn,
    xs: &[&[u32]],
    shapes: &[&[usize]],
    out_shape: &[usize],
) -> Result<Vec<u32>> {
    let total: usize = out_shape.iter().product();
    let mut out = vec![0u32; total];
    if total == 0 {
        return Ok(out);
    }
    let rank = out_shape.len();
    let inner = out_shape.last().copied().unwrap_or(1);
    let bs: Vec<Vec<usize>> = shapes.iter().map(|s| broadcast_strides(s, rank)).collect();
    // Each output row is contiguous; along it every input moves with a
    // fixed stride (0 where broadcast), so only the row start needs the
    // full index computation.
    let run_rows = |first_row: usize, chunk: &mut [u32]| {
        let (mut base, mut step) = ([0usize; 4], [0usize; 4]);
        for (k, s) in bs.iter().enumerate() {
            step[k] = s.last().copied().unwrap_or(0);
        }
        for (r, row) in chunk.chunks_mut(inner).enumerate() {
            for (k, s) in bs.iter().enumerate() {
                base[k] = broadcast_index(out_shape, s, (first_row + r) * inner);
            }
            a.map_row(f, xs, &base[..xs.len()], &step[..xs.len()], row);
        }
        Ok(())
    };
    let steps = f.program().instrs.len().max(1);
    par_rows(&mut out, inner, total * steps, run_rows)?;
    Ok(out)
}

/// Run `f(first_row, rows)` over `out` split into rows of `row` words: on
/// one thread below [`PAR_MIN_STEPS`] primitive steps of `work`, else on the
/// pool, each thread taking a contiguous range of whole rows.
fn par_rows<F>(out: &mut [u32], row: usize, work: usize, f: F) -> Result<()>
where
    F: Fn(usize, &mut [u32]) -> Result<()> + Sync + Send,
{
    let rows = out.len() / row.max(1);
    let par = work >= PAR_MIN_STEPS && rows > 1;
    let rows_per = if par {
        rows.div_ceil(rayon::current_num_threads())
    } else {
        rows
    };
    for_chunks(out, rows_per * row, par, |c, chunk| f(c * rows_per, chunk))
}

fn reduce<A: Gemm>(a: &A, prim: Prim, g: AxisGeom, x: &[u32]) -> Result<Vec<u32>> {
    let mut out = vec![0u32; x.len() / g.len];
    par_rows(&mut out, 1, x.len(), |first, chunk| {
        let mut buf = vec![0u32; if g.inner == 1 { 0 } else { g.len }];
        for (i, o) in chunk.iter_mut().enumerate() {
            let e = first + i;
            let row: &[u32] = if g.inner == 1 {
                &x[e * g.len..(e + 1) * g.len]
            } else {
                for (j, b) in buf.iter_mut().enumerate() {
                    *b = x[g.index(e, j)];
                }
                &buf
            };
            *o = a.reduce_row(prim, row)?;
        }
        Ok(())
    })?;
    Ok(out)
}

fn argmax<A: Gemm>(a: &A, len: usize, x: &[u32]) -> Vec<u32> {
    x.chunks(len).map(|row| a.argmax_row(row)).collect()
}

fn sample_rows<A: Arith>(a: &A, seed: u64, counter: u64, len: usize, x: &[u32]) -> Vec<u32> {
    x.chunks(len)
        .enumerate()
        .map(|(r, row)| {
            let total = a.sum(row);
            let u = a.mul(
                a.i32_to_f32(sample::draw(seed, counter, r as u64)),
                sample::TWO_POW_M24,
            );
            let target = a.mul(u, total);
            let mut acc = POS_ZERO;
            for (j, &w) in row.iter().enumerate() {
                acc = a.add(acc, w);
                if a.lt(target, acc) != 0 {
                    return j as u32;
                }
            }
            (len - 1) as u32
        })
        .collect()
}

/// Dequantize elements `start..start + out.len()` of quantized `t` into `out`.
fn dequant_into<A: Arith + ?Sized>(a: &A, t: &Tensor, start: usize, out: &mut [u32]) {
    let dtype = t.dtype();
    let (be, bb) = dtype.block();
    let (be, bb) = (be as usize, bb as usize);
    let nf = quant::field_count(dtype);
    let bytes = t.stored_bytes().unwrap_or(&[]);
    for (i, o) in out.iter_mut().enumerate() {
        let e = start + i;
        let block = &bytes[(e / be) * bb..(e / be + 1) * bb];
        let f = quant::fields(dtype, block, e % be);
        *o = quant::run(dtype, &mut Eval(a), &f[..nf]);
    }
}

fn gather<A: Gemm>(a: &A, table: &Tensor, idx: &[u32]) -> Result<Vec<u32>> {
    let shape = table.shape();
    let (vocab, row) = (shape[0], shape[1..].iter().product::<usize>());
    let mut out = vec![0u32; idx.len() * row];
    if row == 0 {
        return Ok(out);
    }
    for (p, (&raw, orow)) in idx.iter().zip(out.chunks_mut(row)).enumerate() {
        let t = raw as i32;
        if t < 0 || t as usize >= vocab {
            return Err(Error::Op {
                op: "gather".into(),
                msg: format!(
                    "index {t} at position {p} is outside the table's {vocab} rows; check the token ids"
                ),
            });
        }
        let start = t as usize * row;
        if table.dtype() == DType::F32 {
            orow.copy_from_slice(&table.words("gather table")?[start..start + row]);
        } else {
            a.dequant(table, start, orow);
        }
    }
    Ok(out)
}

fn permute(x: &[u32], in_shape: &[usize], perm: &[usize], out_shape: &[usize]) -> Vec<u32> {
    let is = strides(in_shape);
    let ps: Vec<usize> = perm.iter().map(|&p| is[p]).collect();
    let total: usize = out_shape.iter().product();
    let mut out = Vec::with_capacity(total);
    if total == 0 {
        return out;
    }
    // When the innermost output axis is also innermost in the input (heads
    // split or merged), whole runs along it are contiguous: copy them at once.
    let rank = out_shape.len();
    let (run, outer) = match ps.last() {
        Some(1) => (out_shape[rank - 1], rank - 1),
        _ => (1, rank),
    };
    let mut ix = vec![0usize; outer];
    let mut off = 0usize;
    for _ in 0..total / run {
        out.extend_from_slice(&x[off..off + run]);
        // Odometer over the output's multi-index, tracking the input offset.
        for d in (0..outer).rev() {
            ix[d] += 1;
            off += ps[d];
            if ix[d] < out_shape[d] {
                break;
            }
            off -= ps[d] * ix[d];
            ix[d] = 0;
        }
    }
    out
}

fn concat(x: &[u32], y: &[u32], sa: &[usize], sb: &[usize], axis: usize) -> Vec<u32> {
    let inner: usize = sa[axis + 1..].iter().product();
    let (ca, cb) = (sa[axis] * inner, sb[axis] * inner);
    let outer: usize = sa[..axis].iter().product();
    let mut out = Vec::with_capacity(x.len() + y.len());
    for o in 0..outer {
        out.extend_from_slice(&x[o * ca..(o + 1) * ca]);
        out.extend_from_slice(&y[o * cb..(o + 1) * cb]);
    }
    out
}

fn slice(x: &[u32], s: &[usize], axis: usize, start: usize, len: usize) -> Vec<u32> {
    let inner: usize = s[axis + 1..].iter().product();
    let outer: usize = s[..axis].iter().product();
    let chunk = s[axis] * inner;
    let mut out = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        let from = o * chunk + start * inner;
        out.extend_from_slice(&x[from..from + len * inner]);
    }
    out
}
