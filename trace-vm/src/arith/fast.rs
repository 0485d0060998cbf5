//! The fast implementation: native `f32` instructions + NaN canonicalization.
//!
//! x86-64 SSE (and every IEEE-conforming FPU) rounds add/sub/mul/div/sqrt
//! correctly to nearest-even and keeps subnormals; `f32::mul_add` is a true
//! fused multiply-add (the `fma` instruction or glibc `fmaf`). Only NaN payloads
//! differ between platforms, so every float result is passed through [`canon`].

use super::{Arith, CANONICAL_NAN, bits::order_key, is_nan, kernels};
use crate::error::Result;

/// Native-instruction implementation of [`Arith`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Fast;

/// Canonicalize a float result: any NaN becomes [`CANONICAL_NAN`].
#[inline(always)]
pub(crate) fn canon(x: f32) -> u32 {
    if x.is_nan() {
        CANONICAL_NAN
    } else {
        x.to_bits()
    }
}

#[inline(always)]
fn f(x: u32) -> f32 {
    f32::from_bits(x)
}

impl Fast {
    /// `a * b + c` with one rounding.
    #[inline(always)]
    pub fn fma_f32(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl Arith for Fast {
    fn name(&self) -> &'static str {
        "fast"
    }
    #[inline(always)]
    fn add(&self, a: u32, b: u32) -> u32 {
        canon(f(a) + f(b))
    }
    #[inline(always)]
    fn sub(&self, a: u32, b: u32) -> u32 {
        canon(f(a) - f(b))
    }
    #[inline(always)]
    fn mul(&self, a: u32, b: u32) -> u32 {
        canon(f(a) * f(b))
    }
    #[inline(always)]
    fn div(&self, a: u32, b: u32) -> u32 {
        canon(f(a) / f(b))
    }
    #[inline(always)]
    fn sqrt(&self, a: u32) -> u32 {
        canon(f(a).sqrt())
    }
    #[inline(always)]
    fn fma(&self, a: u32, b: u32, c: u32) -> u32 {
        canon(f(a).mul_add(f(b), f(c)))
    }
    #[inline(always)]
    fn max(&self, a: u32, b: u32) -> u32 {
        if is_nan(a) || is_nan(b) {
            CANONICAL_NAN
        } else if order_key(a) >= order_key(b) {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn min(&self, a: u32, b: u32) -> u32 {
        if is_nan(a) || is_nan(b) {
            CANONICAL_NAN
        } else if order_key(a) <= order_key(b) {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn neg(&self, a: u32) -> u32 {
        if is_nan(a) {
            CANONICAL_NAN
        } else {
            a ^ 0x8000_0000
        }
    }
    #[inline(always)]
    fn abs(&self, a: u32) -> u32 {
        if is_nan(a) {
            CANONICAL_NAN
        } else {
            a & 0x7FFF_FFFF
        }
    }
    #[inline(always)]
    fn lt(&self, a: u32, b: u32) -> u32 {
        u32::from(f(a) < f(b))
    }
    #[inline(always)]
    fn le(&self, a: u32, b: u32) -> u32 {
        u32::from(f(a) <= f(b))
    }
    #[inline(always)]
    fn eq(&self, a: u32, b: u32) -> u32 {
        u32::from(f(a) == f(b))
    }
    #[inline(always)]
    fn i32_to_f32(&self, a: u32) -> u32 {
        // `as` from an integer rounds to nearest, ties to even.
        (a as i32 as f32).to_bits()
    }
    #[inline(always)]
    fn f32_to_i32(&self, a: u32) -> u32 {
        if is_nan(a) {
            return i32::MAX as u32;
        }
        // `as` saturates out-of-range values to i32::MIN / i32::MAX.
        f(a).round_ties_even() as i32 as u32
    }
    #[inline(always)]
    fn f16_to_f32(&self, a: u32) -> u32 {
        let sign = (a & 0x8000) << 16;
        let e = (a >> 10) & 0x1F;
        let m = a & 0x3FF;
        if e == 0x1F {
            if m != 0 {
                CANONICAL_NAN
            } else {
                sign | 0x7F80_0000
            }
        } else if e == 0 {
            if m == 0 {
                sign
            } else {
                // m * 2^-24, exact (m < 2^10).
                sign | (m as f32 * f32::from_bits(0x3380_0000)).to_bits()
            }
        } else {
            sign | ((e + 112) << 23) | (m << 13)
        }
    }
    #[inline(always)]
    fn bf16_to_f32(&self, a: u32) -> u32 {
        let x = (a & 0xFFFF) << 16;
        if is_nan(x) { CANONICAL_NAN } else { x }
    }
    #[inline(always)]
    fn exp2i(&self, a: u32) -> u32 {
        if is_nan(a) {
            return CANONICAL_NAN;
        }
        let n = (f(a).round_ties_even() as i32).clamp(-126, 127);
        ((n + 127) as u32) << 23
    }

    fn dot(&self, a: &[u32], b: &[u32]) -> Result<u32> {
        kernels::dot_fast(a, b)
    }

    fn sum(&self, a: &[u32]) -> u32 {
        kernels::sum_fast(a)
    }
}
