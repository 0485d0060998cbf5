//! Vector kernels in the canonical reduction order (SPEC.md, "Reduction order").
//!
//! A reduction over n elements uses 8 interleaved lanes: element i goes to lane
//! `i % 8`, lanes start at +0 (sums, dots), -inf (max) or +inf (min), i
//! increasing; then the fixed tree
//! `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`.
//! For a dot product the lane step is `acc = fma(a[i], b[i], acc)`; for a sum
//! `acc = add(acc, a[i])`.
//!
//! The generic functions ([`dot`], [`sum`], [`reduce`]) run through any
//! [`Arith`] one primitive at a time; [`dot_fast`] / [`sum_fast`] are the native
//! kernels (AVX2+FMA when the CPU has it, a portable loop otherwise) and must
//! produce the same bits.

use super::{Arith, CANONICAL_NAN, NEG_INF, POS_INF, POS_ZERO, Prim, Step, fast::canon};
use crate::error::{Error, Result};

/// Number of interleaved lanes of every canonical reduction.
pub const LANES: usize = 8;

/// The lane tree as (left lane/node, right lane/node) pairs: nodes 8..14 are
/// the results of tree steps 0..6; node 14 is the result.
pub const TREE: [(usize, usize); 7] = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13)];

fn init_for(op: Prim) -> Result<u32> {
    match op {
        Prim::Add => Ok(POS_ZERO),
        Prim::Max => Ok(NEG_INF),
        Prim::Min => Ok(POS_INF),
        other => Err(Error::NotReduction(other)),
    }
}

#[inline(always)]
fn tree<A: Arith + ?Sized>(arith: &A, op: Prim, l: [u32; 8], mut rec: impl FnMut(Step)) -> u32 {
    let mut nodes = [0u32; 15];
    nodes[..8].copy_from_slice(&l);
    for (k, &(x, y)) in TREE.iter().enumerate() {
        let r = arith.eval(op, [nodes[x], nodes[y], 0]);
        rec(Step {
            prim: op,
            args: [nodes[x], nodes[y], 0],
            result: r,
        });
        nodes[8 + k] = r;
    }
    nodes[14]
}

fn dot_generic<A: Arith + ?Sized>(
    arith: &A,
    a: &[u32],
    b: &[u32],
    mut rec: impl FnMut(Step),
) -> Result<u32> {
    if a.len() != b.len() {
        return Err(Error::LengthMismatch {
            what: "dot",
            left: a.len(),
            right: b.len(),
        });
    }
    let mut acc = [POS_ZERO; LANES];
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let l = i % LANES;
        let r = arith.fma(x, y, acc[l]);
        rec(Step {
            prim: Prim::Fma,
            args: [x, y, acc[l]],
            result: r,
        });
        acc[l] = r;
    }
    Ok(tree(arith, Prim::Add, acc, rec))
}

fn reduce_generic<A: Arith + ?Sized>(
    arith: &A,
    op: Prim,
    a: &[u32],
    mut rec: impl FnMut(Step),
) -> Result<u32> {
    let init = init_for(op)?;
    let mut acc = [init; LANES];
    for (i, &x) in a.iter().enumerate() {
        let l = i % LANES;
        let r = arith.eval(op, [acc[l], x, 0]);
        rec(Step {
            prim: op,
            args: [acc[l], x, 0],
            result: r,
        });
        acc[l] = r;
    }
    Ok(tree(arith, op, acc, rec))
}

/// Canonical dot product of two equal-length vectors through `arith`, one primitive at a time.
pub fn dot<A: Arith + ?Sized>(arith: &A, a: &[u32], b: &[u32]) -> Result<u32> {
    dot_generic(arith, a, b, |_| {})
}

/// The micro-trace of a dot product: `n` lane steps (step `s` is
/// `fma(a[s], b[s], lane)` on lane `s % 8`) followed by the 7 tree adds.
pub fn dot_trace<A: Arith + ?Sized>(arith: &A, a: &[u32], b: &[u32]) -> Result<Vec<Step>> {
    let mut steps = Vec::with_capacity(a.len() + TREE.len());
    dot_generic(arith, a, b, |s| steps.push(s))?;
    Ok(steps)
}

/// Canonical sum (lanes start at +0, lane step `add(lane, a[i])`).
pub fn sum<A: Arith + ?Sized>(arith: &A, a: &[u32]) -> u32 {
    // `init_for(Add)` cannot fail.
    reduce_generic(arith, Prim::Add, a, |_| {}).unwrap_or(CANONICAL_NAN)
}

/// The micro-trace of a sum: `n` lane steps then 7 tree adds.
pub fn sum_trace<A: Arith + ?Sized>(arith: &A, a: &[u32]) -> Vec<Step> {
    let mut steps = Vec::with_capacity(a.len() + TREE.len());
    let _ = reduce_generic(arith, Prim::Add, a, |s| steps.push(s));
    steps
}

/// Canonical reduction with `op` ∈ {add, max, min} (lanes start at +0, -inf, +inf).
pub fn reduce<A: Arith + ?Sized>(arith: &A, op: Prim, a: &[u32]) -> Result<u32> {
    reduce_generic(arith, op, a, |_| {})
}

/// Micro-trace of [`reduce`].
pub fn reduce_trace<A: Arith + ?Sized>(arith: &A, op: Prim, a: &[u32]) -> Result<Vec<Step>> {
    let mut steps = Vec::with_capacity(a.len() + TREE.len());
    reduce_generic(arith, op, a, |s| steps.push(s))?;
    Ok(steps)
}

// ---------------------------------------------------------------------------
// Native kernels.

#[inline(always)]
fn tree_f32(l: [f32; 8]) -> f32 {
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

#[inline(always)]
fn dot_lanes(a: &[u32], b: &[u32]) -> f32 {
    let mut acc = [0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] = f32::from_bits(x[l]).mul_add(f32::from_bits(y[l]), acc[l]);
        }
    }
    for l in 0..ra.len() {
        acc[l] = f32::from_bits(ra[l]).mul_add(f32::from_bits(rb[l]), acc[l]);
    }
    tree_f32(acc)
}

#[inline(always)]
fn sum_lanes(a: &[u32]) -> f32 {
    let mut acc = [0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let ra = ca.remainder();
    for x in ca {
        for l in 0..LANES {
            acc[l] += f32::from_bits(x[l]);
        }
    }
    for l in 0..ra.len() {
        acc[l] += f32::from_bits(ra[l]);
    }
    tree_f32(acc)
}

/// Portable native dot product (no target features assumed; `mul_add` may be a libm call).
pub fn dot_portable(a: &[u32], b: &[u32]) -> Result<u32> {
    if a.len() != b.len() {
        return Err(Error::LengthMismatch {
            what: "dot",
            left: a.len(),
            right: b.len(),
        });
    }
    Ok(canon(dot_lanes(a, b)))
}

/// Portable native sum.
pub fn sum_portable(a: &[u32]) -> u32 {
    canon(sum_lanes(a))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{dot_lanes, sum_lanes};

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn dot(a: &[u32], b: &[u32]) -> f32 {
        dot_lanes(a, b)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn sum(a: &[u32]) -> f32 {
        sum_lanes(a)
    }
}

/// True when the AVX2+FMA kernels can run on this CPU.
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// AVX2+FMA dot product; `None` when the CPU lacks the features.
pub fn dot_avx2(a: &[u32], b: &[u32]) -> Option<Result<u32>> {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        if a.len() != b.len() {
            return Some(Err(Error::LengthMismatch {
                what: "dot",
                left: a.len(),
                right: b.len(),
            }));
        }
        // SAFETY: the CPU supports avx2 and fma (checked just above).
        #[allow(unsafe_code)]
        let r = unsafe { x86::dot(a, b) };
        return Some(Ok(canon(r)));
    }
    let _ = (a, b);
    None
}

/// AVX2 sum; `None` when the CPU lacks the features.
pub fn sum_avx2(a: &[u32]) -> Option<u32> {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports avx2 and fma (checked just above).
        #[allow(unsafe_code)]
        let r = unsafe { x86::sum(a) };
        return Some(canon(r));
    }
    let _ = a;
    None
}

/// Fastest available native dot product.
pub fn dot_fast(a: &[u32], b: &[u32]) -> Result<u32> {
    dot_avx2(a, b).unwrap_or_else(|| dot_portable(a, b))
}

/// Fastest available native sum.
pub fn sum_fast(a: &[u32]) -> u32 {
    sum_avx2(a).unwrap_or_else(|| sum_portable(a))
}

/// [`reduce`] with the [`Fast`](super::Fast) arithmetic: the lane steps 8 at
/// a time with AVX2 when the CPU has it ([`Avx2::fold`](super::simd::Avx2::fold)),
/// then the same tree; bit-identical to [`reduce`].
pub fn reduce_fast(op: Prim, a: &[u32]) -> Result<u32> {
    if op == Prim::Add {
        return Ok(sum_fast(a));
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(m) = super::simd::Avx2::detect() {
        let lanes = m.fold(op, init_for(op)?, a);
        return Ok(tree(&super::Fast, op, lanes, |_| {}));
    }
    reduce(&super::Fast, op, a)
}
