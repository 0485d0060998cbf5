//! Transcendentals as fixed programs of the canonical primitives
//! (SPEC.md, "Transcendental programs").
//!
//! Every constant is a binary32 bit pattern written as a `u32` literal; no
//! libm, no host float constant folding. Every program is branch-free: all
//! paths are computed and [`Prim::Select`](super::Prim::Select) picks one, so
//! each program has a fixed step count and a fixed operand layout. The error
//! budgets ([`Func::budget_ulp`]) are checked over all 2^32 inputs by the slow
//! suite (`scripts/test-slow`).

use super::program::{Eval, Machine, Program, Recorder, Tracer};
use super::{Arith, Fast, Step};
use crate::error::{Error, Result};

/// 1.0
pub const C_ONE: u32 = 0x3F80_0000;
/// 2.0
pub const C_TWO: u32 = 0x4000_0000;
/// 0.5
pub const C_HALF: u32 = 0x3F00_0000;
/// +0.0
pub const C_ZERO: u32 = 0x0000_0000;

/// exp: lower clamp -104.0 (exp(-104) < 2^-150, so every x below rounds to +0).
pub const EXP_LO: u32 = 0xC2D0_0000;
/// exp_scaled64: lower clamp -112.0 (-112·e^-112 < 2^-150, so SiLU rounds to -0 below).
pub const EXP_SCALED_LO: u32 = 0xC2E0_0000;
/// 64.0
pub const C_64: u32 = 0x4280_0000;
/// 2^-64
pub const C_2_POW_M64: u32 = 0x1F80_0000;
/// exp: upper clamp 89.0 (exp(89) > f32::MAX, so every x above rounds to +inf).
pub const EXP_HI: u32 = 0x42B2_0000;
/// log2(e) = 1.44269502 (RNE of 1.4426950408889634).
pub const LOG2E: u32 = 0x3FB8_AA3B;
/// 1.5 * 2^23: adding it rounds to an integer (RNE).
pub const SHIFTER: u32 = 0x4B40_0000;
/// -ln2 high part, 15 significant bits (-0.693145751953125): k*LN2_HI is exact for |k| < 512.
pub const NEG_LN2_HI: u32 = 0xBF31_7200;
/// -ln2 low part (-1.42860677e-6 = -(ln2 - 0.693145751953125) rounded).
pub const NEG_LN2_LO: u32 = 0xB5BF_BE8E;
/// exp Horner coefficients c7..c0 (RNE of 1/k!).
pub const EXP_POLY: [u32; 8] = [
    0x3950_0D01, // 1/7!
    0x3AB6_0B61, // 1/6!
    0x3C08_8889, // 1/5!
    0x3D2A_AAAB, // 1/4!
    0x3E2A_AAAB, // 1/3!
    0x3F00_0000, // 1/2!
    0x3F80_0000, // 1/1!
    0x3F80_0000, // 1/0!
];

/// tanh: below this |x| (0.4) the odd polynomial is used.
pub const TANH_SMALL: u32 = 0x3ECC_CCCD;
/// tanh odd polynomial q4..q0 in x^2: tanh(x) = x * (1 + x^2 * q(x^2)) for |x| < 0.4.
pub const TANH_POLY: [u32; 5] = [
    0xBBF1_53F8,
    0x3CB1_1A61,
    0xBD5C_F98F,
    0x3E08_885D,
    0xBEAA_AAAA,
];

/// erf: below this |x| (1.0) the polynomial x + x*p(x^2) is used.
pub const ERF_SMALL: u32 = 0x3F80_0000;
/// erf polynomial p6..p0 in x^2: erf(x) = x + x * p(x^2) for |x| < 1
/// (p approximates erf(x)/x - 1, so p0 = 2/sqrt(pi) - 1 loses nothing to rounding).
pub const ERF_POLY_SMALL: [u32; 7] = [
    0x38A5_A331,
    0xBA52_5A87,
    0x3BAA_1153,
    0xBCDB_FE9E,
    0x3DE7_16A0,
    0xBEC0_93A0,
    0x3E03_75D4,
];
/// erf: |x| is clamped to 4.0 before the large-argument polynomial (erf(4) rounds to 1).
pub const ERF_CLAMP: u32 = 0x4080_0000;
/// erf: the large-argument polynomial's origin, 1.0.
pub const ERF_CENTRE: u32 = 0x3F80_0000;
/// erf polynomial q6..q0 in t = min(|x|, 4) - 1: erf(x) = 1 - exp(q(t)) for |x| >= 1
/// (q approximates log(erfc(|x|)); expanding at the left end keeps the
/// evaluation error small where erfc is large).
pub const ERF_POLY_LARGE: [u32; 7] = [
    0x3944_7A29,
    0xBAF0_3D89,
    0x3C22_32D1,
    0xBD2A_0202,
    0xBF57_D686,
    0xC028_E4D6,
    0xBFEC_BFE0,
];

/// Horner: p = c[0]; p = fma(p, t, c[k]) for k = 1..
#[inline(always)]
fn horner<M: Machine>(m: &mut M, t: M::V, c: &[u32]) -> M::V {
    let mut p = m.konst(c[0]);
    for &ck in &c[1..] {
        let k = m.konst(ck);
        p = m.fma(p, t, k);
    }
    p
}

/// exp(x). 21 steps.
#[inline(always)]
pub fn exp<M: Machine>(m: &mut M, x: M::V) -> M::V {
    exp_core(m, x, EXP_LO, None)
}

/// exp(x) · 2^64 for x ≤ 0 (x clamped below at -112): full precision where
/// exp(x) itself would be subnormal. 22 steps.
#[inline(always)]
pub fn exp_scaled64<M: Machine>(m: &mut M, x: M::V) -> M::V {
    exp_core(m, x, EXP_SCALED_LO, Some(C_64))
}

/// exp with lower clamp `lo`, optionally adding `extra` (an integer-valued
/// constant) to the second scale exponent.
#[inline(always)]
fn exp_core<M: Machine>(m: &mut M, x: M::V, lo: u32, extra: Option<u32>) -> M::V {
    let lo = m.konst(lo);
    let hi = m.konst(EXP_HI);
    let log2e = m.konst(LOG2E);
    let shifter = m.konst(SHIFTER);
    let nl2hi = m.konst(NEG_LN2_HI);
    let nl2lo = m.konst(NEG_LN2_LO);
    let half = m.konst(C_HALF);
    // clamp (NaN propagates through max)
    let xc = m.max(x, lo);
    let xc = m.min(xc, hi);
    // k = round(x * log2e)
    let t = m.fma(xc, log2e, shifter);
    let k = m.sub(t, shifter);
    // r = x - k*ln2 (Cody-Waite)
    let r = m.fma(k, nl2hi, xc);
    let r = m.fma(k, nl2lo, r);
    // p = e^r
    let p = horner(m, r, &EXP_POLY);
    // 2^k in two exact factors: k1 = round(k/2), k2 = k - k1
    let h = m.mul(k, half);
    let k1 = m.add(h, shifter);
    let k1 = m.sub(k1, shifter);
    let mut k2 = m.sub(k, k1);
    if let Some(e) = extra {
        let e = m.konst(e);
        k2 = m.add(k2, e);
    }
    let s1 = m.exp2i(k1);
    let s2 = m.exp2i(k2);
    let y = m.mul(p, s1);
    m.mul(y, s2)
}

/// tanh(x).
#[inline(always)]
pub fn tanh<M: Machine>(m: &mut M, x: M::V) -> M::V {
    let one = m.konst(C_ONE);
    let two = m.konst(C_TWO);
    let zero = m.konst(C_ZERO);
    let small = m.konst(TANH_SMALL);
    let ax = m.abs(x);
    // |x| < 0.4: x * (1 + x^2 q(x^2))  (a product, so tanh(-0) = -0)
    let x2 = m.mul(x, x);
    let q = horner(m, x2, &TANH_POLY);
    let u = m.fma(x2, q, one);
    let ys = m.mul(x, u);
    // |x| >= 0.4: sign(x) * (1 - 2 / (exp(2|x|) + 1))
    let a2 = m.mul(ax, two);
    let e = exp(m, a2);
    let d = m.add(e, one);
    let q2 = m.div(two, d);
    let yl = m.sub(one, q2);
    let nyl = m.neg(yl);
    let neg = m.lt(x, zero);
    let yl = m.select(neg, nyl, yl);
    let is_small = m.lt(ax, small);
    m.select(is_small, ys, yl)
}

/// erf(x).
#[inline(always)]
pub fn erf<M: Machine>(m: &mut M, x: M::V) -> M::V {
    let one = m.konst(C_ONE);
    let zero = m.konst(C_ZERO);
    let small = m.konst(ERF_SMALL);
    let clamp = m.konst(ERF_CLAMP);
    let centre = m.konst(ERF_CENTRE);
    let ax = m.abs(x);
    // |x| < 1: x + x * p(x^2), one rounding at the end
    let x2 = m.mul(x, x);
    let p = horner(m, x2, &ERF_POLY_SMALL);
    let ys = m.fma(x, p, x);
    // 1 <= |x|: 1 - exp(q(min(|x|, 4) - 2.5)), sign restored
    let ac = m.min(ax, clamp);
    let t = m.sub(ac, centre);
    let q = horner(m, t, &ERF_POLY_LARGE);
    let e = exp(m, q);
    let yl = m.sub(one, e);
    let nyl = m.neg(yl);
    let neg = m.lt(x, zero);
    let yl = m.select(neg, nyl, yl);
    let is_small = m.lt(ax, small);
    m.select(is_small, ys, yl)
}

/// 1 / sqrt(x).
#[inline(always)]
pub fn rsqrt<M: Machine>(m: &mut M, x: M::V) -> M::V {
    let one = m.konst(C_ONE);
    let s = m.sqrt(x);
    m.div(one, s)
}

/// Shared part of sigmoid and SiLU: t = exp(-|x|), d = 1 + t, neg = x < 0.
#[inline(always)]
fn sig_parts<M: Machine>(m: &mut M, x: M::V) -> (M::V, M::V, M::V) {
    let one = m.konst(C_ONE);
    let zero = m.konst(C_ZERO);
    let ax = m.abs(x);
    let nax = m.neg(ax);
    let t = exp(m, nax);
    let d = m.add(one, t);
    let neg = m.lt(x, zero);
    (t, d, neg)
}

/// sigmoid(x) = 1 / (1 + exp(-x)), computed as `x < 0 ? t/(1+t) : 1/(1+t)` with t = exp(-|x|).
#[inline(always)]
pub fn sigmoid<M: Machine>(m: &mut M, x: M::V) -> M::V {
    let one = m.konst(C_ONE);
    let (t, d, neg) = sig_parts(m, x);
    let yp = m.div(one, d);
    let yn = m.div(t, d);
    m.select(neg, yn, yp)
}

/// SiLU(x) = x * sigmoid(x), computed with ts = exp(-|x|)·2^64 and d = 1 + ts·2^-64 as
/// `x < 0 ? ((max(x, -200) · ts) / d) · 2^-64 : x / d` (the scaling keeps full
/// precision where exp(-|x|) is subnormal but the result is not).
#[inline(always)]
pub fn silu<M: Machine>(m: &mut M, x: M::V) -> M::V {
    let one = m.konst(C_ONE);
    let zero = m.konst(C_ZERO);
    let floor = m.konst(SILU_FLOOR);
    let unscale = m.konst(C_2_POW_M64);
    let ax = m.abs(x);
    let nax = m.neg(ax);
    let ts = exp_scaled64(m, nax);
    let d = m.fma(ts, unscale, one);
    let yp = m.div(x, d);
    let xc = m.max(x, floor);
    let xt = m.mul(xc, ts);
    let q = m.div(xt, d);
    let yn = m.mul(q, unscale);
    let neg = m.lt(x, zero);
    m.select(neg, yn, yp)
}

/// SiLU: x is clamped below at -200.0 on the negative branch (keeps -inf * 0 from making NaN).
pub const SILU_FLOOR: u32 = 0xC348_0000;

/// The transcendental programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    /// e^x
    Exp,
    /// tanh
    Tanh,
    /// erf
    Erf,
    /// 1/sqrt(x)
    Rsqrt,
    /// 1/(1+e^-x)
    Sigmoid,
    /// x * sigmoid(x)
    Silu,
}

impl Func {
    /// Every program.
    pub const ALL: [Func; 6] = [
        Func::Exp,
        Func::Tanh,
        Func::Erf,
        Func::Rsqrt,
        Func::Sigmoid,
        Func::Silu,
    ];

    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            Func::Exp => "exp",
            Func::Tanh => "tanh",
            Func::Erf => "erf",
            Func::Rsqrt => "rsqrt",
            Func::Sigmoid => "sigmoid",
            Func::Silu => "silu",
        }
    }

    /// Error budget in ULP of the exact result, for every input whose exact
    /// result is a normal number or 0/inf (checked over all 2^32 inputs).
    pub fn budget_ulp(self) -> f64 {
        match self {
            Func::Exp => 2.0,
            Func::Tanh => 3.0,
            Func::Erf => 2.0,
            Func::Rsqrt => 2.0,
            Func::Sigmoid => 3.0,
            Func::Silu => 4.0,
        }
    }

    /// Error budget in units of 2^-149 (the smallest subnormal) for inputs whose
    /// exact result is subnormal.
    pub fn budget_subnormal(self) -> f64 {
        let _ = self; // the same for every program
        2.0
    }

    #[inline(always)]
    fn run<M: Machine>(self, m: &mut M, x: M::V) -> M::V {
        match self {
            Func::Exp => exp(m, x),
            Func::Tanh => tanh(m, x),
            Func::Erf => erf(m, x),
            Func::Rsqrt => rsqrt(m, x),
            Func::Sigmoid => sigmoid(m, x),
            Func::Silu => silu(m, x),
        }
    }

    /// Evaluate with `arith`.
    #[inline]
    pub fn eval<A: Arith + ?Sized>(self, arith: &A, x: u32) -> u32 {
        self.run(&mut Eval(arith), x)
    }

    /// Evaluate with `arith`, recording every step (the element's micro-trace).
    pub fn trace<A: Arith + ?Sized>(self, arith: &A, x: u32) -> (Vec<Step>, u32) {
        let mut t = Tracer::new(arith);
        let y = self.run(&mut t, x);
        (t.steps, y)
    }

    /// The program as data.
    pub fn program(self) -> Program {
        Recorder::record(|m, x| self.run(m, x))
    }
}

/// Apply `f` elementwise with the [`Fast`] arithmetic: `out[i] = f(xs[i])`.
///
/// Uses a copy compiled for AVX2+FMA (fused multiply-add and rounding as
/// single instructions instead of libm calls) when the CPU has them.
/// Bit-identical to [`Func::eval`] with any [`Arith`].
pub fn map_fast(f: Func, xs: &[u32], out: &mut [u32]) -> Result<()> {
    if xs.len() != out.len() {
        return Err(Error::LengthMismatch {
            what: "map_fast",
            left: xs.len(),
            right: out.len(),
        });
    }
    #[cfg(target_arch = "x86_64")]
    if super::kernels::has_avx2_fma() {
        // SAFETY: the CPU supports avx2 and fma (checked just above).
        #[allow(unsafe_code)]
        unsafe {
            map_avx2(f, xs, out)
        };
        return Ok(());
    }
    map_portable(f, xs, out);
    Ok(())
}

#[inline(always)]
fn map_body(f: Func, xs: &[u32], out: &mut [u32]) {
    match f {
        Func::Exp => out
            .iter_mut()
            .zip(xs)
            .for_each(|(o, &x)| *o = exp(&mut Eval(&Fast), x)),
        Func::Tanh => out
            .iter_mut()
            .zip(xs)
            .for_each(|(o, &x)| *o = tanh(&mut Eval(&Fast), x)),
        Func::Erf => out
            .iter_mut()
            .zip(xs)
            .for_each(|(o, &x)| *o = erf(&mut Eval(&Fast), x)),
        Func::Rsqrt => out
            .iter_mut()
            .zip(xs)
            .for_each(|(o, &x)| *o = rsqrt(&mut Eval(&Fast), x)),
        Func::Sigmoid => out
            .iter_mut()
            .zip(xs)
            .for_each(|(o, &x)| *o = sigmoid(&mut Eval(&Fast), x)),
        Func::Silu => out
            .iter_mut()
            .zip(xs)
            .for_each(|(o, &x)| *o = silu(&mut Eval(&Fast), x)),
    }
}

/// Portable elementwise map (no target features assumed).
pub fn map_portable(f: Func, xs: &[u32], out: &mut [u32]) {
    map_body(f, xs, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn map_avx2(f: Func, xs: &[u32], out: &mut [u32]) {
    map_body(f, xs, out)
}

impl std::fmt::Display for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
