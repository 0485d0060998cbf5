//! Element programs on 8 elements at once.
//!
//! [`Lanes`] is a [`Machine`] whose values are 8 bit patterns. Every
//! primitive runs [`Fast`]'s own scalar code on each lane, one lane after the
//! other, in a fixed-length loop: the lanes run the same IEEE operations in the
//! same order as the scalar program, with the same NaN canonicalization after
//! every step, so each lane is bit-identical to [`Fast`] (and hence to
//! [`Reference`](super::Reference)) by construction — including the
//! branch-free range switches of the transcendental programs, which are
//! `select` steps computing both sides. Speed comes from compiling the
//! callers with AVX2+FMA enabled (as
//! [`MapFn::eval_row`](crate::ops::MapFn::eval_row) does): after inlining, LLVM turns
//! each 8-lane loop into one 256-bit instruction plus a compare-and-blend for
//! the canonical NaN.

use super::program::Machine;
use super::{Arith, Fast, Prim};

/// Number of elements evaluated together.
pub const WIDTH: usize = 8;

/// A [`Machine`] on 8 lanes, each computed exactly as [`Fast`] computes one element.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lanes;

impl Machine for Lanes {
    type V = [u32; WIDTH];

    #[inline(always)]
    fn konst(&mut self, bits: u32) -> [u32; WIDTH] {
        [bits; WIDTH]
    }

    #[inline(always)]
    fn op(&mut self, p: Prim, args: &[[u32; WIDTH]]) -> [u32; WIDTH] {
        // Operands beyond the arity are ignored by `eval`; reuse lane words
        // of the first operand so no zero vector has to be built.
        let a = args[0];
        let b = args.get(1).copied().unwrap_or(a);
        let c = args.get(2).copied().unwrap_or(a);
        std::array::from_fn(|l| Fast.eval(p, [a[l], b[l], c[l]]))
    }
}
