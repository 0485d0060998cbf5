//! Element programs on 8 elements at once with AVX2+FMA.
//!
//! [`Avx2`] is a [`Machine`] whose values are 256-bit vectors of 8 bit
//! patterns; every primitive is one or a few vector instructions that give,
//! in each lane, exactly the bits [`Fast`](super::Fast) gives for one element:
//! - add, sub, mul, div, sqrt, fma: the same IEEE operations (round to
//!   nearest even, subnormals kept: Rust never sets FTZ/DAZ), then a NaN
//!   result replaced by [`CANONICAL_NAN`];
//! - max, min: the IEEE total-order key compared as signed integers, a NaN
//!   operand giving [`CANONICAL_NAN`];
//! - lt, le, eq: ordered quiet compares (false on NaN, -0 == +0) as words 0/1;
//! - select: a word blend; i32_to_f32, f32_to_i32 (with `Fast`'s saturation
//!   and NaN -> `i32::MAX`) and exp2i: conversions under the default rounding
//!   mode (nearest even) plus the same clamps;
//! - f16_to_f32 and bf16_to_f32 (used by no map program) run `Fast` per lane.
//!
//! A program written over [`Machine`] (the transcendentals, the map functions)
//! therefore runs 8 elements per step, bit-identical to the scalar program.
//!
//! [`Avx2::deferring_nans`] gives the same machine without the NaN
//! replacement after add, sub, mul, div, sqrt and fma (two of every three
//! instructions of an arithmetic step): a NaN result then keeps whatever
//! payload the hardware gives it, and [`Avx2::finish`] canonicalizes the
//! program's output once. This gives the same output bits whenever no
//! computed word reaches a primitive that reads a float's bits as an integer
//! (i32_to_f32, f16_to_f32, bf16_to_f32): every other primitive gives a NaN
//! for a NaN operand whatever its payload (add … fma), the canonical NaN
//! (max, min, neg, abs, exp2i), or a payload-blind word (the compares,
//! f32_to_i32, select's test of its condition against zero). So in both runs
//! every value is either the same word or a NaN in both, and the outputs
//! agree once canonicalized.
//! For the vector code to be emitted, the program must be inlined into a
//! function compiled with `#[target_feature(enable = "avx2,fma")]` (as
//! [`MapFn::eval_row`](crate::ops::MapFn::eval_row) is): the programs are
//! `#[inline(always)]` for that reason.

/// Number of elements evaluated together.
pub const WIDTH: usize = 8;

#[cfg(target_arch = "x86_64")]
pub use x86::Avx2;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    use super::WIDTH;
    use crate::arith::program::Machine;
    use crate::arith::{Arith, CANONICAL_NAN, Fast, Prim, kernels};

    /// The 8-lane AVX2+FMA machine. A value of this type exists only on a
    /// CPU with AVX2 and FMA ([`Avx2::detect`]), which is what makes its
    /// intrinsics sound to call. `EACH`: whether every arithmetic result is
    /// canonicalized (the default), or only the output ([`Avx2::deferring_nans`]).
    #[derive(Clone, Copy, Debug)]
    pub struct Avx2<const EACH: bool = true>(());

    impl Avx2 {
        /// The machine, when the CPU has AVX2 and FMA.
        #[inline]
        pub fn detect() -> Option<Avx2> {
            kernels::has_avx2_fma().then_some(Avx2(()))
        }

        /// The lane steps of a canonical reduction ([`kernels::reduce`]):
        /// lane `l` starts at `init` and folds `a[l], a[l + 8], …` with `op`.
        pub fn fold(self, op: Prim, init: u32, a: &[u32]) -> [u32; WIDTH] {
            // SAFETY: `self` exists, so the CPU has AVX2 and FMA.
            unsafe { fold_avx2(self, op, init, a) }
        }

        /// The machine that leaves arithmetic NaNs as the hardware makes
        /// them, for programs in which no computed word reaches i32_to_f32,
        /// f16_to_f32 or bf16_to_f32 (module docs); their output must go
        /// through [`Avx2::finish`].
        pub fn deferring_nans(self) -> Avx2<false> {
            Avx2(())
        }
    }

    impl Avx2<false> {
        /// A program's output with every NaN lane made the canonical NaN.
        #[inline(always)]
        pub fn finish(self, v: __m256i) -> __m256i {
            canon(ps(v))
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn fold_avx2(mut m: Avx2, op: Prim, init: u32, a: &[u32]) -> [u32; WIDTH] {
        let chunks = a.chunks_exact(WIDTH);
        let rest = chunks.remainder();
        let mut acc = splat(init);
        for c in chunks {
            // SAFETY: `c` holds WIDTH words; the load is unaligned.
            let x = unsafe { _mm256_loadu_si256(c.as_ptr().cast()) };
            acc = m.op(op, &[acc, x]);
        }
        let mut lanes = [0u32; WIDTH];
        // SAFETY: `lanes` holds WIDTH words; the store is unaligned.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
        for (l, &x) in lanes.iter_mut().zip(rest) {
            *l = Fast.eval(op, [*l, x, 0]);
        }
        lanes
    }

    // SAFETY (every `unsafe` block below): the intrinsics need AVX, AVX2 and
    // FMA, which the CPU has because an `Avx2` value exists; they only read
    // and write their vector arguments (and the local arrays given to the
    // unaligned loads and stores, of exactly `WIDTH` words).

    #[inline(always)]
    fn splat(bits: u32) -> __m256i {
        unsafe { _mm256_set1_epi32(bits as i32) }
    }

    /// A float result with every NaN lane replaced by the canonical NaN.
    #[inline(always)]
    fn canon(r: __m256) -> __m256i {
        unsafe {
            let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(r, r);
            let c = _mm256_castsi256_ps(splat(CANONICAL_NAN));
            _mm256_castps_si256(_mm256_blendv_ps(r, c, nan))
        }
    }

    /// All-ones in the lanes whose word is a NaN pattern.
    #[inline(always)]
    fn nan_mask(a: __m256i) -> __m256i {
        unsafe { _mm256_cmpgt_epi32(_mm256_and_si256(a, splat(0x7FFF_FFFF)), splat(0x7F80_0000)) }
    }

    /// The IEEE total-order key as a signed integer (-0 < +0).
    #[inline(always)]
    fn order_key(a: __m256i) -> __m256i {
        unsafe {
            let neg = _mm256_srai_epi32::<31>(a);
            _mm256_xor_si256(a, _mm256_and_si256(neg, splat(0x7FFF_FFFF)))
        }
    }

    /// `b` in the lanes where `mask` is all-ones, `a` elsewhere.
    #[inline(always)]
    fn blend(a: __m256i, b: __m256i, mask: __m256i) -> __m256i {
        unsafe { _mm256_blendv_epi8(a, b, mask) }
    }

    #[inline(always)]
    fn ps(a: __m256i) -> __m256 {
        unsafe { _mm256_castsi256_ps(a) }
    }

    /// A compare mask as words 1 / 0.
    #[inline(always)]
    fn as_word(mask: __m256) -> __m256i {
        unsafe { _mm256_and_si256(_mm256_castps_si256(mask), splat(1)) }
    }

    /// `Fast::f32_to_i32` of every lane.
    #[inline(always)]
    fn f32_to_i32(a: __m256i) -> __m256i {
        unsafe {
            // Out of range gives i32::MIN, right for large negative values;
            // large positive values and NaN become i32::MAX.
            let r = _mm256_cvtps_epi32(ps(a));
            let high = _mm256_cmp_ps::<_CMP_NLT_UQ>(ps(a), _mm256_set1_ps(2_147_483_648.0));
            blend(r, splat(i32::MAX as u32), _mm256_castps_si256(high))
        }
    }

    /// `Fast` on each lane, for the primitives no map program uses.
    #[inline(always)]
    fn per_lane(p: Prim, a: __m256i) -> __m256i {
        let mut w = [0u32; WIDTH];
        unsafe { _mm256_storeu_si256(w.as_mut_ptr().cast(), a) };
        for x in &mut w {
            *x = Fast.eval(p, [*x, 0, 0]);
        }
        unsafe { _mm256_loadu_si256(w.as_ptr().cast()) }
    }

    impl<const EACH: bool> Avx2<EACH> {
        /// An arithmetic result: canonicalized unless deferred.
        #[inline(always)]
        fn round(self, r: __m256) -> __m256i {
            if EACH {
                canon(r)
            } else {
                unsafe { _mm256_castps_si256(r) }
            }
        }
    }

    impl<const EACH: bool> Machine for Avx2<EACH> {
        type V = __m256i;

        #[inline(always)]
        fn konst(&mut self, bits: u32) -> __m256i {
            splat(bits)
        }

        #[inline(always)]
        fn op(&mut self, p: Prim, args: &[__m256i]) -> __m256i {
            let a = args[0];
            let b = || args[1];
            unsafe {
                match p {
                    Prim::Add => self.round(_mm256_add_ps(ps(a), ps(b()))),
                    Prim::Sub => self.round(_mm256_sub_ps(ps(a), ps(b()))),
                    Prim::Mul => self.round(_mm256_mul_ps(ps(a), ps(b()))),
                    Prim::Div => self.round(_mm256_div_ps(ps(a), ps(b()))),
                    Prim::Sqrt => self.round(_mm256_sqrt_ps(ps(a))),
                    Prim::Fma => self.round(_mm256_fmadd_ps(ps(a), ps(b()), ps(args[2]))),
                    Prim::Max | Prim::Min => {
                        let (ka, kb) = (order_key(a), order_key(b()));
                        // max keeps a when key(a) >= key(b), min when key(a) <= key(b).
                        let take_b = if p == Prim::Max {
                            _mm256_cmpgt_epi32(kb, ka)
                        } else {
                            _mm256_cmpgt_epi32(ka, kb)
                        };
                        let r = blend(a, b(), take_b);
                        let nan = _mm256_or_si256(nan_mask(a), nan_mask(b()));
                        blend(r, splat(CANONICAL_NAN), nan)
                    }
                    Prim::Neg | Prim::Abs => {
                        let r = if p == Prim::Neg {
                            _mm256_xor_si256(a, splat(0x8000_0000))
                        } else {
                            _mm256_and_si256(a, splat(0x7FFF_FFFF))
                        };
                        blend(r, splat(CANONICAL_NAN), nan_mask(a))
                    }
                    Prim::Lt => as_word(_mm256_cmp_ps::<_CMP_LT_OQ>(ps(a), ps(b()))),
                    Prim::Le => as_word(_mm256_cmp_ps::<_CMP_LE_OQ>(ps(a), ps(b()))),
                    Prim::Eq => as_word(_mm256_cmp_ps::<_CMP_EQ_OQ>(ps(a), ps(b()))),
                    Prim::Select => {
                        let zero = _mm256_cmpeq_epi32(a, _mm256_setzero_si256());
                        blend(b(), args[2], zero)
                    }
                    Prim::I32ToF32 => _mm256_castps_si256(_mm256_cvtepi32_ps(a)),
                    Prim::F32ToI32 => f32_to_i32(a),
                    Prim::Exp2i => {
                        let n = _mm256_max_epi32(
                            _mm256_min_epi32(f32_to_i32(a), splat(127)),
                            splat(-126i32 as u32),
                        );
                        let r = _mm256_slli_epi32::<23>(_mm256_add_epi32(n, splat(127)));
                        blend(r, splat(CANONICAL_NAN), nan_mask(a))
                    }
                    Prim::F16ToF32 | Prim::Bf16ToF32 => per_lane(p, a),
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Words that exercise every case of every primitive: signed zeros,
        /// subnormals, infinities, NaNs with payloads, integers near the
        /// conversion limits, and values around the exp2i clamps.
        const SPECIAL: &[u32] = &[
            0x0000_0000,
            0x8000_0000,
            0x0000_0001,
            0x8000_0001,
            0x007F_FFFF,
            0x0080_0000,
            0x3F80_0000,
            0xBF80_0000,
            0x3F00_0000,
            0x3FC0_0000,
            0x4020_0000,
            0x42FE_0000,
            0x4300_0000,
            0xC2FC_0000,
            0xC300_0000,
            0x4F00_0000,
            0xCF00_0000,
            0x4EFF_FFFF,
            0x7F7F_FFFF,
            0xFF7F_FFFF,
            0x7F80_0000,
            0xFF80_0000,
            0x7FC0_0000,
            0xFFC0_0001,
            0x7F80_0001,
            0x0000_7BFF,
            0x0000_FC01,
            0x7FFF_FFFF,
            0xFFFF_FFFF,
            0x1234_5678,
            0xDEAD_BEEF,
            0x0000_0002,
        ];

        fn words(seed: u64, n: usize) -> Vec<u32> {
            let mut s = seed | 1;
            let mut v: Vec<u32> = SPECIAL.to_vec();
            while v.len() < n {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                v.push((s >> 16) as u32);
            }
            v
        }

        fn load(w: &[u32]) -> __m256i {
            unsafe { _mm256_loadu_si256(w.as_ptr().cast()) }
        }

        fn store(v: __m256i) -> [u32; WIDTH] {
            let mut w = [0u32; WIDTH];
            unsafe { _mm256_storeu_si256(w.as_mut_ptr().cast(), v) };
            w
        }

        #[test]
        fn fold_then_tree_is_the_canonical_reduction() {
            let Some(m) = Avx2::detect() else {
                eprintln!(
                    "SKIPPED fold_then_tree_is_the_canonical_reduction: this CPU lacks AVX2+FMA"
                );
                return;
            };
            let a = words(4, 300);
            for op in [Prim::Max, Prim::Min] {
                for len in [0, 1, 7, 8, 9, 31, 32, 33, 300] {
                    let want = kernels::reduce(&Fast, op, &a[..len]).expect("max/min reduce");
                    let got = kernels::reduce_fast(op, &a[..len]).expect("max/min reduce");
                    assert_eq!(got, want, "{op} over {len} words");
                }
            }
            // The fold alone: lane l holds the fold of a[l], a[l + 8], ...
            let lanes = m.fold(Prim::Max, crate::arith::NEG_INF, &a[..20]);
            for (l, &got) in lanes.iter().enumerate() {
                let want = a[..20]
                    .iter()
                    .skip(l)
                    .step_by(WIDTH)
                    .fold(crate::arith::NEG_INF, |acc, &x| Fast.max(acc, x));
                assert_eq!(got, want, "lane {l}");
            }
        }

        #[test]
        fn every_primitive_matches_fast_lane_by_lane() {
            let Some(mut m) = Avx2::detect() else {
                eprintln!(
                    "SKIPPED every_primitive_matches_fast_lane_by_lane: this CPU lacks AVX2+FMA"
                );
                return;
            };
            let (a, b, c) = (words(1, 4096), words(2, 4096), words(3, 4096));
            // Pair every special word with every other one too.
            let n = SPECIAL.len();
            let pa: Vec<u32> = (0..n * n).map(|i| SPECIAL[i / n]).collect();
            let pb: Vec<u32> = (0..n * n).map(|i| SPECIAL[i % n]).collect();
            let pc: Vec<u32> = (0..n * n).map(|i| SPECIAL[(i * 7) % n]).collect();
            for &p in Prim::ALL {
                for (a, b, c) in [(&a, &b, &c), (&pa, &pb, &pc), (&pb, &pc, &pa)] {
                    for i in (0..a.len() - WIDTH).step_by(WIDTH) {
                        let args = [
                            load(&a[i..i + WIDTH]),
                            load(&b[i..i + WIDTH]),
                            load(&c[i..i + WIDTH]),
                        ];
                        let got = store(m.op(p, &args[..p.arity()]));
                        for l in 0..WIDTH {
                            let want = Fast.eval(p, [a[i + l], b[i + l], c[i + l]]);
                            assert_eq!(
                                got[l],
                                want,
                                "{p}({:#010x}, {:#010x}, {:#010x})",
                                a[i + l],
                                b[i + l],
                                c[i + l]
                            );
                        }
                    }
                }
            }
        }
    }
}
