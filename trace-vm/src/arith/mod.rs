//! Canonical binary32 arithmetic (SPEC.md, "Canonical arithmetic").
//!
//! Values are `u32` bit patterns. Every primitive is a total function of its
//! operand bits; every NaN a float primitive returns is [`CANONICAL_NAN`].
//! Two implementations of [`Arith`] must agree bit for bit: [`Fast`] (native
//! `f32` instructions + NaN canonicalization) and [`Reference`] (Berkeley
//! SoftFloat, RISC-V specialization).

mod fast;
pub mod gemm;
pub mod kernels;
pub mod program;
pub mod qgemv;
mod reference;
pub mod simd;
pub mod transcendental;

pub use fast::Fast;
pub(crate) use fast::canon;
pub use kernels::{LANES, dot, dot_trace, reduce, reduce_trace, sum, sum_trace};
pub use program::{Eval, Instr, Machine, Program, Recorder, Src, Tracer};
pub use reference::Reference;

use crate::error::{Error, Result};

/// The canonical quiet NaN. Every float primitive returns exactly this for a NaN result.
pub const CANONICAL_NAN: u32 = 0x7FC0_0000;
/// +0.0
pub const POS_ZERO: u32 = 0x0000_0000;
/// -0.0
pub const NEG_ZERO: u32 = 0x8000_0000;
/// +infinity
pub const POS_INF: u32 = 0x7F80_0000;
/// -infinity
pub const NEG_INF: u32 = 0xFF80_0000;
/// 1.0
pub const ONE: u32 = 0x3F80_0000;

/// True when `x` is a NaN bit pattern (exponent all ones, fraction non-zero).
#[inline(always)]
pub const fn is_nan(x: u32) -> bool {
    x & 0x7FFF_FFFF > 0x7F80_0000
}

macro_rules! prims {
    ($( $(#[$doc:meta])* $var:ident = $op:literal, $name:literal, $arity:literal; )*) => {
        /// A canonical primitive: the unit the one-step verifier re-executes.
        ///
        /// Declared once, in this table: variant, opcode byte (shared with the
        /// Solidity verifier), name (used by the batch interface), arity.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Prim {
            $( $(#[$doc])* $var = $op, )*
        }

        impl Prim {
            /// Every primitive, in opcode order.
            pub const ALL: &'static [Prim] = &[$(Prim::$var),*];

            /// The name used in text formats (`add`, `fma`, ...).
            pub const fn name(self) -> &'static str {
                match self { $(Prim::$var => $name,)* }
            }

            /// Number of operands (1, 2 or 3).
            pub const fn arity(self) -> usize {
                match self { $(Prim::$var => $arity,)* }
            }

            /// The opcode byte (shared with the on-chain verifier).
            pub const fn opcode(self) -> u8 {
                self as u8
            }

            /// The primitive with this opcode byte.
            pub const fn from_opcode(op: u8) -> Option<Prim> {
                match op { $($op => Some(Prim::$var),)* _ => None }
            }
        }
    };
}

prims! {
    /// binary32 addition, RNE.
    Add = 0x01, "add", 2;
    /// binary32 subtraction a - b, RNE.
    Sub = 0x02, "sub", 2;
    /// binary32 multiplication, RNE.
    Mul = 0x03, "mul", 2;
    /// binary32 division a / b, RNE.
    Div = 0x04, "div", 2;
    /// binary32 square root, RNE (sqrt(-0) = -0).
    Sqrt = 0x05, "sqrt", 1;
    /// Fused multiply-add a*b + c with one rounding (RNE).
    Fma = 0x06, "fma", 3;
    /// IEEE 754-2019 `maximum`: NaN if either operand is NaN, -0 < +0.
    Max = 0x07, "max", 2;
    /// IEEE 754-2019 `minimum`: NaN if either operand is NaN, -0 < +0.
    Min = 0x08, "min", 2;
    /// Sign flip (NaN in -> canonical NaN out).
    Neg = 0x09, "neg", 1;
    /// Sign clear (NaN in -> canonical NaN out).
    Abs = 0x0A, "abs", 1;
    /// Quiet a < b: word 1 or 0 (false when either is NaN; -0 == +0).
    Lt = 0x0B, "lt", 2;
    /// Quiet a <= b: word 1 or 0 (false when either is NaN; -0 == +0).
    Le = 0x0C, "le", 2;
    /// Quiet a == b: word 1 or 0 (false when either is NaN; -0 == +0).
    Eq = 0x0D, "eq", 2;
    /// Word select: `a != 0 ? b : c` (pure 32-bit word move, no canonicalization).
    Select = 0x0E, "select", 3;
    /// Two's-complement i32 word -> binary32, RNE.
    I32ToF32 = 0x0F, "i32_to_f32", 1;
    /// binary32 -> i32 word, RNE, saturating; NaN -> 0x7fffffff.
    F32ToI32 = 0x10, "f32_to_i32", 1;
    /// binary16 (low 16 bits) -> binary32, exact; NaN -> canonical NaN.
    F16ToF32 = 0x11, "f16_to_f32", 1;
    /// bfloat16 (low 16 bits) -> binary32, exact; NaN -> canonical NaN.
    Bf16ToF32 = 0x12, "bf16_to_f32", 1;
    /// 2^n where n = f32_to_i32(a) clamped to [-126, 127]; NaN -> canonical NaN.
    Exp2i = 0x13, "exp2i", 1;
}

impl std::fmt::Display for Prim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Prim {
    type Err = Error;
    fn from_str(s: &str) -> Result<Prim> {
        Prim::ALL
            .iter()
            .copied()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::UnknownPrim {
                name: s.to_string(),
                known: Prim::ALL
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl TryFrom<u8> for Prim {
    type Error = Error;
    fn try_from(op: u8) -> Result<Prim> {
        Prim::from_opcode(op).ok_or(Error::UnknownOpcode(op))
    }
}

/// One executed primitive step of a micro-trace: the op, its operands and its result.
///
/// Operands beyond the primitive's arity are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    /// The primitive.
    pub prim: Prim,
    /// Operand bit patterns (`args[..prim.arity()]` are meaningful, the rest 0).
    pub args: [u32; 3],
    /// Result bit pattern.
    pub result: u32,
}

impl Step {
    /// Re-execute this step with `arith` and check its result.
    pub fn check(&self, arith: &(impl Arith + ?Sized)) -> bool {
        arith.eval(self.prim, self.args) == self.result
    }
}

/// An implementation of the canonical primitives on `u32` bit patterns.
///
/// Object safe; the batch interface takes `&dyn Arith`. Generic code (kernels,
/// programs) takes `A: Arith + ?Sized` so [`Fast`] inlines.
pub trait Arith: Send + Sync {
    /// Short name of the implementation (`fast`, `reference`).
    fn name(&self) -> &'static str;
    /// a + b
    fn add(&self, a: u32, b: u32) -> u32;
    /// a - b
    fn sub(&self, a: u32, b: u32) -> u32;
    /// a * b
    fn mul(&self, a: u32, b: u32) -> u32;
    /// a / b
    fn div(&self, a: u32, b: u32) -> u32;
    /// sqrt(a)
    fn sqrt(&self, a: u32) -> u32;
    /// a * b + c, one rounding
    fn fma(&self, a: u32, b: u32, c: u32) -> u32;
    /// maximum (NaN-propagating, -0 < +0)
    fn max(&self, a: u32, b: u32) -> u32;
    /// minimum (NaN-propagating, -0 < +0)
    fn min(&self, a: u32, b: u32) -> u32;
    /// -a
    fn neg(&self, a: u32) -> u32;
    /// |a|
    fn abs(&self, a: u32) -> u32;
    /// a < b (1 or 0)
    fn lt(&self, a: u32, b: u32) -> u32;
    /// a <= b (1 or 0)
    fn le(&self, a: u32, b: u32) -> u32;
    /// a == b (1 or 0)
    fn eq(&self, a: u32, b: u32) -> u32;
    /// c != 0 ? a : b  — note the operand order of [`Prim::Select`] is (c, a, b).
    #[inline(always)]
    fn select(&self, c: u32, a: u32, b: u32) -> u32 {
        if c != 0 { a } else { b }
    }
    /// i32 word -> f32
    fn i32_to_f32(&self, a: u32) -> u32;
    /// f32 -> i32 word
    fn f32_to_i32(&self, a: u32) -> u32;
    /// f16 (low 16 bits) -> f32
    fn f16_to_f32(&self, a: u32) -> u32;
    /// bf16 (low 16 bits) -> f32
    fn bf16_to_f32(&self, a: u32) -> u32;
    /// 2^clamp(round(a), -126, 127)
    fn exp2i(&self, a: u32) -> u32;

    /// Execute `p` on `args` (operands beyond the arity are ignored).
    #[inline(always)]
    fn eval(&self, p: Prim, args: [u32; 3]) -> u32 {
        let [a, b, c] = args;
        match p {
            Prim::Add => self.add(a, b),
            Prim::Sub => self.sub(a, b),
            Prim::Mul => self.mul(a, b),
            Prim::Div => self.div(a, b),
            Prim::Sqrt => self.sqrt(a),
            Prim::Fma => self.fma(a, b, c),
            Prim::Max => self.max(a, b),
            Prim::Min => self.min(a, b),
            Prim::Neg => self.neg(a),
            Prim::Abs => self.abs(a),
            Prim::Lt => self.lt(a, b),
            Prim::Le => self.le(a, b),
            Prim::Eq => self.eq(a, b),
            Prim::Select => self.select(a, b, c),
            Prim::I32ToF32 => self.i32_to_f32(a),
            Prim::F32ToI32 => self.f32_to_i32(a),
            Prim::F16ToF32 => self.f16_to_f32(a),
            Prim::Bf16ToF32 => self.bf16_to_f32(a),
            Prim::Exp2i => self.exp2i(a),
        }
    }

    /// Execute `p` on a slice of exactly `p.arity()` operands.
    fn eval_checked(&self, p: Prim, args: &[u32]) -> Result<u32> {
        if args.len() != p.arity() {
            return Err(Error::Arity {
                prim: p,
                expected: p.arity(),
                got: args.len(),
            });
        }
        let mut a = [0u32; 3];
        a[..args.len()].copy_from_slice(args);
        Ok(self.eval(p, a))
    }

    /// Canonical dot product (8 interleaved FMA lanes + fixed tree); see [`kernels::dot`].
    fn dot(&self, a: &[u32], b: &[u32]) -> Result<u32>;

    /// Canonical sum (8 interleaved add lanes + fixed tree); see [`kernels::sum`].
    fn sum(&self, a: &[u32]) -> u32;
}

/// Implementation-independent helpers on bit patterns.
pub mod bits {
    /// Map a non-NaN binary32 pattern to a u32 whose unsigned order is the
    /// numeric order with -0 < +0 (the IEEE total-order key).
    #[inline(always)]
    pub const fn order_key(x: u32) -> u32 {
        if x & 0x8000_0000 != 0 {
            !x
        } else {
            x | 0x8000_0000
        }
    }

    /// f32 -> bits
    #[inline(always)]
    pub fn f(x: f32) -> u32 {
        x.to_bits()
    }

    /// bits -> f32
    #[inline(always)]
    pub fn u(x: u32) -> f32 {
        f32::from_bits(x)
    }
}
