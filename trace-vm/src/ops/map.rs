//! Element programs of the `map` op: a fixed straight-line program of
//! primitives applied to each output element's (broadcast) input elements.
//!
//! Each function is written once as generic code over a
//! [`Machine`](crate::arith::Machine): with [`Eval`] the CPU backend runs it
//! as native code, with [`Tracer`] it records one element's micro-trace, with
//! [`Recorder`](crate::arith::Recorder) it yields the program as data — the
//! form committed in the program encoding and re-executed by the verifier.
//! All three come from the same code, so they cannot drift apart.

use crate::arith::transcendental::{self, C_HALF, C_ONE, Func};
use crate::arith::{Arith, Eval, Fast, Machine, Prim, Program, Recorder, Src, Tracer};
use crate::error::{Error, Result};

/// 1/sqrt(2) = 0.70710677 (RNE).
pub const INV_SQRT2: u32 = 0x3F35_04F3;
/// sqrt(2/pi) = 0.7978846 (RNE).
pub const SQRT_2_OVER_PI: u32 = 0x3F4C_422A;
/// 0.044715 (RNE), the cubic coefficient of the tanh GELU.
pub const GELU_CUBIC: u32 = 0x3D37_2713;

/// A `map` element function. Inputs are the element's operands in the op's
/// input order; constants are binary32 bit patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapFn {
    /// One float primitive on the inputs (`add`, `sub`, `mul`, `div`, `sqrt`,
    /// `fma`, `max`, `min`, `neg`, `abs`).
    Prim(Prim),
    /// A binary primitive with a constant right operand: `p(x, c)`.
    PrimConst(Prim, u32),
    /// A binary primitive with a constant left operand: `p(c, x)`.
    ConstPrim(Prim, u32),
    /// A transcendental program (exp, tanh, erf, rsqrt, sigmoid, silu).
    Func(Func),
    /// `rsqrt(x + eps)`: the normalizer of LayerNorm and RMSNorm.
    RsqrtEps(u32),
    /// `exp(x - m)`: the numerator of a softmax row with maximum `m`.
    ExpSub,
    /// GELU, erf form: `(x * 0.5) * (1 + erf(x * INV_SQRT2))`.
    GeluErf,
    /// GELU, tanh form: `(x * 0.5) * (1 + tanh(SQRT_2_OVER_PI * fma(GELU_CUBIC, x*x*x, x)))`.
    GeluTanh,
    /// GeGLU: `gelu_tanh(a) * b`.
    GeGlu,
    /// `fma(x * s, g, b)`: the affine output of LayerNorm (`x` centred, `s` = rsqrt(var+eps)).
    NormAffine,
    /// `(x * s) * g`: the output of RMSNorm.
    NormScale,
    /// RoPE on inputs `(x, r, c, s)`: `fma(x, c, r * s)`, where `r` is the
    /// rotated-half operand, `c` the cosine and `s` the signed sine.
    Rope,
}

/// The primitives allowed in `Prim`/`PrimConst`/`ConstPrim`: float arithmetic only.
const FLOAT_PRIMS: &[Prim] = &[
    Prim::Add,
    Prim::Sub,
    Prim::Mul,
    Prim::Div,
    Prim::Sqrt,
    Prim::Fma,
    Prim::Max,
    Prim::Min,
    Prim::Neg,
    Prim::Abs,
];

impl MapFn {
    /// Number of inputs.
    pub fn arity(self) -> usize {
        match self {
            MapFn::Prim(p) => p.arity(),
            MapFn::PrimConst(..) | MapFn::ConstPrim(..) | MapFn::Func(_) | MapFn::RsqrtEps(_) => 1,
            MapFn::GeluErf | MapFn::GeluTanh => 1,
            MapFn::ExpSub | MapFn::GeGlu => 2,
            MapFn::NormScale => 3,
            MapFn::NormAffine | MapFn::Rope => 4,
        }
    }

    /// Short name for listings and errors.
    pub fn name(self) -> String {
        match self {
            MapFn::Prim(p) => p.name().to_string(),
            MapFn::PrimConst(p, c) => format!("{p}(x, 0x{c:08x})"),
            MapFn::ConstPrim(p, c) => format!("{p}(0x{c:08x}, x)"),
            MapFn::Func(f) => f.name().to_string(),
            MapFn::RsqrtEps(e) => format!("rsqrt(x + 0x{e:08x})"),
            MapFn::ExpSub => "exp_sub".into(),
            MapFn::GeluErf => "gelu_erf".into(),
            MapFn::GeluTanh => "gelu_tanh".into(),
            MapFn::GeGlu => "geglu".into(),
            MapFn::NormAffine => "norm_affine".into(),
            MapFn::NormScale => "norm_scale".into(),
            MapFn::Rope => "rope".into(),
        }
    }

    /// Check that the function is well formed (primitive kind and arity).
    pub fn validate(self) -> Result<()> {
        let bad = |msg: String| Error::Op {
            op: format!("map {}", self.name()),
            msg,
        };
        match self {
            MapFn::Prim(p) if !FLOAT_PRIMS.contains(&p) => Err(bad(format!(
                "{p} is not a float arithmetic primitive; use one of add, sub, mul, div, sqrt, fma, max, min, neg, abs"
            ))),
            MapFn::PrimConst(p, _) | MapFn::ConstPrim(p, _)
                if !FLOAT_PRIMS.contains(&p) || p.arity() != 2 =>
            {
                Err(bad(format!(
                    "{p} is not a binary float primitive; use add, sub, mul, div, max or min"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Run the function on `m` (`xs.len() == self.arity()`, checked by the op).
    #[inline(always)]
    pub fn run<M: Machine>(self, m: &mut M, xs: &[M::V]) -> M::V {
        match self {
            MapFn::Prim(p) => m.op(p, xs),
            MapFn::PrimConst(p, c) => {
                let c = m.konst(c);
                m.op(p, &[xs[0], c])
            }
            MapFn::ConstPrim(p, c) => {
                let c = m.konst(c);
                m.op(p, &[c, xs[0]])
            }
            MapFn::Func(f) => match f {
                Func::Exp => transcendental::exp(m, xs[0]),
                Func::Tanh => transcendental::tanh(m, xs[0]),
                Func::Erf => transcendental::erf(m, xs[0]),
                Func::Rsqrt => transcendental::rsqrt(m, xs[0]),
                Func::Sigmoid => transcendental::sigmoid(m, xs[0]),
                Func::Silu => transcendental::silu(m, xs[0]),
            },
            MapFn::RsqrtEps(eps) => {
                let eps = m.konst(eps);
                let v = m.add(xs[0], eps);
                transcendental::rsqrt(m, v)
            }
            MapFn::ExpSub => {
                let d = m.sub(xs[0], xs[1]);
                transcendental::exp(m, d)
            }
            MapFn::GeluErf => {
                let (x, half, one, k) =
                    (xs[0], m.konst(C_HALF), m.konst(C_ONE), m.konst(INV_SQRT2));
                let t = m.mul(x, k);
                let e = transcendental::erf(m, t);
                let u = m.add(e, one);
                let h = m.mul(x, half);
                m.mul(h, u)
            }
            MapFn::GeluTanh => gelu_tanh(m, xs[0]),
            MapFn::GeGlu => {
                let g = gelu_tanh(m, xs[0]);
                m.mul(g, xs[1])
            }
            MapFn::NormAffine => {
                let y = m.mul(xs[0], xs[1]);
                m.fma(y, xs[2], xs[3])
            }
            MapFn::NormScale => {
                let y = m.mul(xs[0], xs[1]);
                m.mul(y, xs[2])
            }
            MapFn::Rope => {
                let rs = m.mul(xs[1], xs[3]);
                m.fma(xs[0], xs[2], rs)
            }
        }
    }

    /// Evaluate on bit patterns with `arith`.
    #[inline]
    pub fn eval<A: Arith + ?Sized>(self, arith: &A, xs: &[u32]) -> u32 {
        self.run(&mut Eval(arith), xs)
    }

    /// Evaluate one output row with `arith`, one element at a time:
    /// `out[i] = f(x_0, .., x_{n-1})` with `x_k = xs[k][base[k] + i * step[k]]`
    /// (`step` 0 for a broadcast input).
    pub fn eval_row_with<A: Arith + ?Sized>(
        self,
        arith: &A,
        xs: &[&[u32]],
        base: &[usize],
        step: &[usize],
        out: &mut [u32],
    ) {
        let mut args = [0u32; 4];
        for (i, o) in out.iter_mut().enumerate() {
            for (k, x) in xs.iter().enumerate() {
                args[k] = x[base[k] + i * step[k]];
            }
            *o = self.eval(arith, &args[..xs.len()]);
        }
    }

    /// [`MapFn::eval_row_with`] the [`Fast`] arithmetic, 8 elements per
    /// step with AVX2+FMA when the CPU has them ([`Avx2`](crate::arith::simd::Avx2)),
    /// bit-identical to the scalar evaluation on every element.
    pub fn eval_row(self, xs: &[&[u32]], base: &[usize], step: &[usize], out: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(m) = crate::arith::simd::Avx2::detect() {
            // SAFETY: `m` exists, so the CPU has AVX2 and FMA.
            #[allow(unsafe_code)]
            unsafe {
                eval_row_avx2(m, self, xs, base, step, out)
            };
            return;
        }
        self.eval_row_with(&Fast, xs, base, step, out)
    }

    /// Evaluate, recording every step.
    pub fn trace<A: Arith + ?Sized>(self, arith: &A, xs: &[u32]) -> (Vec<crate::arith::Step>, u32) {
        let mut t = Tracer::new(arith);
        let y = self.run(&mut t, xs);
        (t.steps, y)
    }

    /// The element program as data; input `k` is `Src::Input(k)`.
    pub fn program(self) -> Program {
        let n = self.arity();
        Recorder::record(|m, x0| {
            let xs: Vec<Src> = (0..n)
                .map(|k| if k == 0 { x0 } else { Src::Input(k as u8) })
                .collect();
            self.run(m, &xs)
        })
    }
}

#[inline(always)]
fn gelu_tanh<M: Machine>(m: &mut M, x: M::V) -> M::V {
    let (half, one, c3, k) = (
        m.konst(C_HALF),
        m.konst(C_ONE),
        m.konst(GELU_CUBIC),
        m.konst(SQRT_2_OVER_PI),
    );
    let x2 = m.mul(x, x);
    let x3 = m.mul(x2, x);
    let inner = m.fma(c3, x3, x);
    let v = m.mul(inner, k);
    let t = transcendental::tanh(m, v);
    let u = m.add(t, one);
    let h = m.mul(x, half);
    m.mul(h, u)
}

/// The 8-lane row loop, compiled for AVX2+FMA so that the map program
/// (inlined: [`MapFn::run`] and the transcendentals are `inline(always)`)
/// becomes vector code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(unsafe_code)]
fn eval_row_avx2(
    m: crate::arith::simd::Avx2,
    f: MapFn,
    xs: &[&[u32]],
    base: &[usize],
    step: &[usize],
    out: &mut [u32],
) {
    use crate::arith::simd::WIDTH;
    use std::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256};
    // No map program converts a computed word from an integer or a half
    // (tests/map_simd.rs checks every one), so NaNs may be canonicalized
    // once per output instead of after every step.
    let mut m = m.deferring_nans();
    let n = xs.len();
    let mut args = [_mm256_set1_epi32(0); 4];
    // Lanes past the end of a short last chunk hold zeros: every primitive
    // is total, and those results are not stored.
    let mut buf = [0u32; WIDTH];
    for (c, chunk) in out.chunks_mut(WIDTH).enumerate() {
        let i0 = c * WIDTH;
        let full = chunk.len() == WIDTH;
        for k in 0..n {
            let x = xs[k];
            args[k] = match step[k] {
                0 => _mm256_set1_epi32(x[base[k]] as i32),
                1 if full => {
                    let lanes = &x[base[k] + i0..][..WIDTH];
                    // SAFETY: `lanes` holds WIDTH words; the load is unaligned.
                    unsafe { _mm256_loadu_si256(lanes.as_ptr().cast::<__m256i>()) }
                }
                s => {
                    buf = [0; WIDTH];
                    for (l, b) in buf[..chunk.len()].iter_mut().enumerate() {
                        *b = x[base[k] + (i0 + l) * s];
                    }
                    // SAFETY: `buf` holds WIDTH words; the load is unaligned.
                    unsafe { _mm256_loadu_si256(buf.as_ptr().cast::<__m256i>()) }
                }
            };
        }
        let y = m.finish(f.run(&mut m, &args[..n]));
        if full {
            // SAFETY: `chunk` holds WIDTH words; the store is unaligned.
            unsafe { _mm256_storeu_si256(chunk.as_mut_ptr().cast::<__m256i>(), y) };
        } else {
            // SAFETY: `buf` holds WIDTH words; the store is unaligned.
            unsafe { _mm256_storeu_si256(buf.as_mut_ptr().cast::<__m256i>(), y) };
            chunk.copy_from_slice(&buf[..chunk.len()]);
        }
    }
}
