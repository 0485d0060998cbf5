//! The reference implementation: Berkeley SoftFloat 3 (RISC-V specialization,
//! whose every NaN result is the canonical NaN `0x7FC00000`), through
//! `softfloat-wrapper`. Written independently of [`super::Fast`]: where SoftFloat
//! has no routine (neg, abs, max/min, exp2i, bf16) the rule is built from
//! SoftFloat arithmetic and comparisons, not copied from the fast path.

use softfloat_wrapper::{F16, F32, Float, RoundingMode};

use super::{Arith, CANONICAL_NAN, NEG_ZERO, ONE, kernels};
use crate::error::Result;

const RNE: RoundingMode = RoundingMode::TiesToEven;

/// SoftFloat implementation of [`Arith`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Reference;

#[inline]
fn s(x: u32) -> F32 {
    F32::from_bits(x)
}

#[inline]
fn sf_is_nan(x: u32) -> bool {
    // NaN is the only value not equal to itself.
    !s(x).eq(s(x))
}

impl Arith for Reference {
    fn name(&self) -> &'static str {
        "reference"
    }
    fn add(&self, a: u32, b: u32) -> u32 {
        s(a).add(s(b), RNE).to_bits()
    }
    fn sub(&self, a: u32, b: u32) -> u32 {
        s(a).sub(s(b), RNE).to_bits()
    }
    fn mul(&self, a: u32, b: u32) -> u32 {
        s(a).mul(s(b), RNE).to_bits()
    }
    fn div(&self, a: u32, b: u32) -> u32 {
        s(a).div(s(b), RNE).to_bits()
    }
    fn sqrt(&self, a: u32) -> u32 {
        s(a).sqrt(RNE).to_bits()
    }
    fn fma(&self, a: u32, b: u32, c: u32) -> u32 {
        s(a).fused_mul_add(s(b), s(c), RNE).to_bits()
    }
    fn max(&self, a: u32, b: u32) -> u32 {
        if sf_is_nan(a) || sf_is_nan(b) {
            CANONICAL_NAN
        } else if s(a).lt_quiet(s(b)) {
            b
        } else if s(b).lt_quiet(s(a)) {
            a
        } else {
            // Numerically equal: identical, or a ±0 pair where +0 wins.
            a & b
        }
    }
    fn min(&self, a: u32, b: u32) -> u32 {
        if sf_is_nan(a) || sf_is_nan(b) {
            CANONICAL_NAN
        } else if s(a).lt_quiet(s(b)) {
            a
        } else if s(b).lt_quiet(s(a)) {
            b
        } else {
            // Numerically equal: identical, or a ±0 pair where -0 wins.
            a | b
        }
    }
    fn neg(&self, a: u32) -> u32 {
        // -0 - a is exactly -a for every non-NaN a (including ±0 and ±inf).
        s(NEG_ZERO).sub(s(a), RNE).to_bits()
    }
    fn abs(&self, a: u32) -> u32 {
        if s(a).is_negative() {
            self.neg(a)
        } else {
            self.mul(a, ONE)
        }
    }
    fn lt(&self, a: u32, b: u32) -> u32 {
        u32::from(s(a).lt_quiet(s(b)))
    }
    fn le(&self, a: u32, b: u32) -> u32 {
        u32::from(s(a).le_quiet(s(b)))
    }
    fn eq(&self, a: u32, b: u32) -> u32 {
        u32::from(s(a).eq(s(b)))
    }
    fn i32_to_f32(&self, a: u32) -> u32 {
        F32::from_i32(a as i32, RNE).to_bits()
    }
    fn f32_to_i32(&self, a: u32) -> u32 {
        // RISC-V: NaN and +overflow -> 0x7fffffff, -overflow -> 0x80000000.
        s(a).to_i32(RNE, false) as u32
    }
    fn f16_to_f32(&self, a: u32) -> u32 {
        F16::from_bits((a & 0xFFFF) as u16).to_f32(RNE).to_bits()
    }
    fn bf16_to_f32(&self, a: u32) -> u32 {
        // bf16 is the top half of a binary32; x * 1 is exact and canonicalizes NaN.
        self.mul((a & 0xFFFF) << 16, ONE)
    }
    fn exp2i(&self, a: u32) -> u32 {
        if sf_is_nan(a) {
            return CANONICAL_NAN;
        }
        let n = (s(a).to_i32(RNE, false)).clamp(-126, 127);
        // 2^n built by SoftFloat from an exact integer power of two.
        let mut r = F32::from_i32(1, RNE);
        let two = F32::from_i32(2, RNE);
        let half = s(0x3F00_0000);
        if n >= 0 {
            for _ in 0..n {
                r = r.mul(two, RNE);
            }
        } else {
            for _ in 0..(-n) {
                r = r.mul(half, RNE);
            }
        }
        r.to_bits()
    }

    fn dot(&self, a: &[u32], b: &[u32]) -> Result<u32> {
        kernels::dot(self, a, b)
    }

    fn sum(&self, a: &[u32]) -> u32 {
        kernels::sum(self, a)
    }
}
