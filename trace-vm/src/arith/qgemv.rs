//! Matrix-vector products against block-quantized weights, read once.
//!
//! `out[j] = dot(x, dequant(W[j, :]))` for the rows of a quantized weight
//! (stored `[N, K]`, rows of whole blocks): every output is exactly the
//! canonical dot product of SPEC.md against the values of the dtype's dequant
//! program ([`crate::ops::quant`]). Decoding a token multiplies one activation
//! row by every weight, so instead of dequantizing weights into an F32 panel
//! and running the general tile kernel, each block is decoded straight into
//! 8-lane vectors and consumed at once: word `i` of a row lands in lane
//! `i mod 8` of its vector, which is the canonical lane of that word, so one
//! 256-bit register holds the 8 accumulators of one output with no transpose.
//! Four rows are in flight (the FMA latency hides behind the other rows).
//!
//! The decoded values are bit for bit the program's: the f16 scale and the
//! small integers convert exactly, and every product or difference is the
//! program's own single rounding, in its order (the per-block and
//! per-sub-block factors `d * sc` and `dmin * m` are computed first, as the
//! programs compute them). Only a NaN's payload may differ from the
//! program's canonical NaN, and a NaN weight makes its dot product NaN,
//! which the final canonicalization turns into the canonical NaN.

use crate::commit::DType;

/// `out[j] = dot(x, dequant(row j))` for the `out.len()` rows of `x.len()`
/// elements stored in `rows` (whole blocks of `dtype`). `false`, with `out`
/// untouched, when the CPU lacks AVX2+FMA+F16C, the dtype is not one
/// [`crate::ops::quant`] supports or the lengths do not describe whole
/// blocks: the caller then takes the general path.
pub fn quant_gemv(dtype: DType, x: &[u32], rows: &[u8], out: &mut [u32]) -> bool {
    let (be, bb) = dtype.block();
    let (be, bb) = (be as usize, bb as usize);
    let k = x.len();
    crate::ops::quant::supported(dtype)
        && k.is_multiple_of(be)
        && rows.len() == out.len() * (k / be) * bb
        && gemv_native(dtype, x, rows, out)
}

#[cfg(target_arch = "x86_64")]
fn gemv_native(dtype: DType, x: &[u32], rows: &[u8], out: &mut [u32]) -> bool {
    if !(super::kernels::has_avx2_fma() && std::arch::is_x86_feature_detected!("f16c")) {
        return false;
    }
    let bw = std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl");
    // SAFETY: avx2, fma and f16c were detected, and avx512bw and avx512vl
    // where `bw`; `rows` holds `out.len()` rows of whole blocks of a supported
    // dtype (checked by the caller).
    #[allow(unsafe_code)]
    unsafe {
        match dtype {
            DType::Q5_0 | DType::Q4K if bw => x86::gemv_avx512(dtype, x, rows, out),
            _ => x86::gemv(dtype, x, rows, out),
        }
    };
    true
}

#[cfg(not(target_arch = "x86_64"))]
fn gemv_native(_: DType, _: &[u32], _: &[u8], _: &mut [u32]) -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    use super::super::gemm::x86::lane_tree;
    use crate::arith::canon;
    use crate::commit::DType;

    /// Rows computed together: their accumulators hide the FMA latency.
    const ROWS: usize = 4;

    /// How far ahead of the rows being read the weights are prefetched, in
    /// groups of [`ROWS`] rows. A group reads its rows block by block, so
    /// each row alone is a stream of a few cache lines (680 bytes for a
    /// Q8_0 row of 640), too short for the hardware prefetcher to learn:
    /// touching every line of the same block four groups ahead keeps the
    /// whole contiguous weight stream in flight. The hints fill L2 only: L1
    /// has too few miss buffers for that many lines in flight, and a
    /// block's lines move from L2 to L1 quickly once it is read.
    const PREFETCH_GROUPS: usize = 4;

    /// Every row of `rows` against `x`, with the block decoder of `dtype`
    /// (each monomorphized, so a block's vectors and scales stay in
    /// registers).
    ///
    /// # Safety
    /// avx2, fma and f16c; `rows` holds `out.len()` rows of `x.len() / be`
    /// whole blocks of `dtype`, a supported dtype.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn gemv(dtype: DType, x: &[u32], rows: &[u8], out: &mut [u32]) {
        let bb = dtype.block().1 as usize;
        // SAFETY (every decoder call): `gemv_with` passes the start of a
        // whole block of `dtype`; the features are this function's.
        unsafe {
            match dtype {
                DType::Q4_0 => gemv_with(x, rows, bb, out, |p, w| q4_0(p, w)),
                DType::Q5_0 => gemv_with(x, rows, bb, out, |p, w| q5_0(p, w)),
                DType::Q8_0 => gemv_with(x, rows, bb, out, |p, w| q8_0(p, w)),
                DType::Q4K => gemv_with(x, rows, bb, out, |p, w| q4_k(p, w)),
                DType::Q6K => gemv_with(x, rows, bb, out, |p, w| q6_k(p, w)),
                _ => unreachable!("quant_gemv checks the dtype"),
            }
        }
    }

    /// [`gemv`] of Q5_0 and Q4_K rows with AVX-512BW and VL: byte masks merge
    /// Q5_0's fifth bits in one instruction ([`q5_0_bw`]), and a Q4_K
    /// sub-block's 16 possible values are a two-register table that a
    /// permutation reads per lane ([`q4_k_vl`]).
    ///
    /// # Safety
    /// As [`gemv`], and avx512f, avx512bw and avx512vl; `dtype` is Q5_0 or
    /// Q4_K.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
    pub(super) unsafe fn gemv_avx512(dtype: DType, x: &[u32], rows: &[u8], out: &mut [u32]) {
        let bb = dtype.block().1 as usize;
        // SAFETY: as in `gemv`; the features are this function's.
        unsafe {
            match dtype {
                DType::Q5_0 => gemv_with(x, rows, bb, out, |p, w| q5_0_bw(p, w)),
                DType::Q4K => gemv_with(x, rows, bb, out, |p, w| q4_k_vl(p, w)),
                _ => unreachable!("gemv_native sends only Q5_0 and Q4_K here"),
            }
        }
    }

    /// [`gemv`] for blocks of `V` vectors (`8 * V` elements, `bb` bytes)
    /// decoded by `decode`, [`ROWS`] rows at a time, then the rest one by one.
    ///
    /// # Safety
    /// As [`gemv`]; `decode` reads only the block it is given.
    #[inline(always)]
    unsafe fn gemv_with<const V: usize>(
        x: &[u32],
        rows: &[u8],
        bb: usize,
        out: &mut [u32],
        decode: impl Fn(*const u8, &mut [__m256; V]) + Copy,
    ) {
        let row_bytes = x.len() / (8 * V) * bb;
        let mut j = 0;
        // SAFETY: rows j.. of `rows` exist for every output j (the caller's
        // contract), so each call gets its R rows.
        unsafe {
            while j + ROWS <= out.len() {
                let o = &mut out[j..j + ROWS];
                gemv_rows::<ROWS, V>(x, &rows[j * row_bytes..], bb, o, decode);
                j += ROWS;
            }
            while j < out.len() {
                gemv_rows::<1, V>(x, &rows[j * row_bytes..], bb, &mut out[j..j + 1], decode);
                j += 1;
            }
        }
    }

    /// `R` consecutive rows starting at `rows[0]`.
    ///
    /// # Safety
    /// As [`gemv_with`], for `R` rows at the start of `rows`.
    #[inline(always)]
    unsafe fn gemv_rows<const R: usize, const V: usize>(
        x: &[u32],
        rows: &[u8],
        bb: usize,
        out: &mut [u32],
        decode: impl Fn(*const u8, &mut [__m256; V]),
    ) {
        let be = 8 * V;
        let blocks = x.len() / be;
        // SAFETY (whole body): avx2 and fma (the caller's); block `b` of row
        // `r` is the `bb` bytes at (r * blocks + b) * bb < R * blocks * bb
        // <= rows.len(); the activations read are x[b * be + 8 * v..][..8]
        // with v < V.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); R];
            let mut w = [[_mm256_setzero_ps(); V]; R];
            let ahead = PREFETCH_GROUPS * ROWS * blocks * bb;
            for b in 0..blocks {
                for (r, wr) in w.iter_mut().enumerate() {
                    let p = rows.as_ptr().add((r * blocks + b) * bb);
                    // Hints only: an address past the weights is not read.
                    for line in (0..bb).step_by(64) {
                        _mm_prefetch::<_MM_HINT_T1>(p.wrapping_add(ahead + line).cast());
                    }
                    decode(p, wr);
                }
                let xb = x.as_ptr().add(b * be).cast::<f32>();
                for v in 0..V {
                    let xv = _mm256_loadu_ps(xb.add(8 * v));
                    for (a, wr) in acc.iter_mut().zip(&w) {
                        *a = _mm256_fmadd_ps(xv, wr[v], *a);
                    }
                }
            }
            for (o, a) in out.iter_mut().zip(acc) {
                *o = canon(lane_tree(a));
            }
        }
    }

    /// The f16 word at `p` as an f32 in every lane: exact, subnormals
    /// included; a NaN scale gives a NaN (its payload is irrelevant, see the
    /// module docs). The word is broadcast from memory and converted in the
    /// vector unit, where the products with it are computed.
    #[inline(always)]
    unsafe fn half8(p: *const u8) -> __m256 {
        // SAFETY: the caller's block holds two bytes at `p`; f16c.
        unsafe { _mm256_cvtph_ps(_mm_set1_epi16(p.cast::<i16>().read_unaligned())) }
    }

    /// The 16 bytes at `p` as 32 nibbles: the low nibbles (elements 0..16)
    /// then the high ones (elements 16..32), one per byte.
    #[inline(always)]
    unsafe fn nibbles32(p: *const u8) -> __m256i {
        // SAFETY: the caller's block holds 16 bytes at `p`; avx2.
        unsafe {
            let b = _mm_loadu_si128(p.cast());
            let low4 = _mm_set1_epi8(0xF);
            let lo = _mm_and_si128(b, low4);
            let hi = _mm_and_si128(_mm_srli_epi16::<4>(b), low4);
            _mm256_set_m128i(hi, lo)
        }
    }

    // The block decoders: element `i` of the block in lane `i mod 8` of
    // vector `i / 8`, each value the dtype's dequant program (module docs).
    // Layouts are ggml's block_q4_0, block_q5_0, block_q8_0, block_q4_K and
    // block_q6_K, as decoded by `quant::fields`.
    //
    // # Safety (each)
    // avx2 and f16c; `p` points at one whole block of the dtype.

    /// d: f16, qs: 16 bytes (element i < 16 the low nibble of byte i,
    /// element i + 16 its high nibble); value d * (q - 8).
    #[inline(always)]
    unsafe fn q4_0(p: *const u8, out: &mut [__m256; 4]) {
        // SAFETY: reads bytes 0..18 of the block.
        unsafe {
            let q = _mm256_sub_epi8(nibbles32(p.add(2)), _mm256_set1_epi8(8));
            let d = half8(p);
            *out = widen(q).map(|v| _mm256_mul_ps(v, d));
        }
    }

    /// d: f16, qh: u32 (bit i: the fifth bit of element i), qs as Q4_0;
    /// value d * ((q | hi << 4) - 16).
    #[inline(always)]
    unsafe fn q5_0(p: *const u8, out: &mut [__m256; 4]) {
        // SAFETY: reads bytes 0..22 of the block.
        unsafe {
            // Byte i of `spread` is byte i / 8 of qh; `bit` selects bit i % 8.
            let qh = _mm256_set1_epi32(p.add(2).cast::<i32>().read_unaligned());
            let spread = _mm256_shuffle_epi8(
                qh,
                _mm256_setr_epi8(
                    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                    3, 3, 3, 3, 3, 3,
                ),
            );
            let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
            let set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
            let hi = _mm256_and_si256(set, _mm256_set1_epi8(0x10));
            let q = _mm256_or_si256(nibbles32(p.add(6)), hi);
            let q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
            let d = half8(p);
            *out = widen(q).map(|v| _mm256_mul_ps(v, d));
        }
    }

    /// [`q5_0`] with AVX-512BW: bit i of qh is the mask bit of byte i, so
    /// the fifth bits and the offset are one masked subtraction (a byte
    /// whose bit is clear becomes its nibble minus 16, one whose bit is set
    /// keeps its nibble, which is (nibble | 16) - 16).
    ///
    /// # Safety
    /// As the other decoders, and avx512bw and avx512vl.
    #[inline(always)]
    unsafe fn q5_0_bw(p: *const u8, out: &mut [__m256; 4]) {
        // SAFETY: reads bytes 0..22 of the block.
        unsafe {
            let qh: __mmask32 = p.add(2).cast::<u32>().read_unaligned();
            let nib = nibbles32(p.add(6));
            let q = _mm256_mask_sub_epi8(nib, !qh, nib, _mm256_set1_epi8(16));
            let d = half8(p);
            *out = widen(q).map(|v| _mm256_mul_ps(v, d));
        }
    }

    /// d: f16, q: 32 x i8; value d * q.
    #[inline(always)]
    unsafe fn q8_0(p: *const u8, out: &mut [__m256; 4]) {
        // SAFETY: reads bytes 0..34 of the block.
        unsafe {
            let d = half8(p);
            for (c, o) in out.iter_mut().enumerate() {
                let q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(p.add(2 + 8 * c).cast()));
                *o = _mm256_mul_ps(_mm256_cvtepi32_ps(q), d);
            }
        }
    }

    /// d, dmin: f16, 12 bytes of packed 6-bit (scale, min) per 32-element
    /// sub-block, qs: 128 bytes; chunk c of 64 elements: the low nibbles of
    /// bytes 32c.. then their high nibbles; value (d * sc) * q - dmin * m.
    #[inline(always)]
    unsafe fn q4_k(p: *const u8, out: &mut [__m256; 32]) {
        // SAFETY: reads bytes 0..144 of the block.
        unsafe {
            let sub = k4_factors(p);
            let low4 = _mm256_set1_epi8(0xF);
            for c in 0..4 {
                let (s0, s1) = (sub(2 * c), sub(2 * c + 1));
                let b = _mm256_loadu_si256(p.add(16 + 32 * c).cast());
                let lo = widen(_mm256_and_si256(b, low4));
                let hi = widen(_mm256_and_si256(_mm256_srli_epi16::<4>(b), low4));
                for (h, (lo, hi)) in lo.into_iter().zip(hi).enumerate() {
                    out[8 * c + h] = affine(lo, s0);
                    out[8 * c + 4 + h] = affine(hi, s1);
                }
            }
        }
    }

    /// [`q4_k`] by table: the value of nibble q in sub-block t is
    /// `(d * sc_t) * q - dmin * m_t`, so the 16 values of each sub-block are
    /// computed once, with the program's own two roundings, into two
    /// registers, and `vpermt2ps` picks each lane's (it reads only the low 4
    /// bits of an index, so the zero-extended byte indexes its low nibble and
    /// the byte shifted right by 4 its high one).
    ///
    /// # Safety
    /// As the other decoders, and avx512f and avx512vl.
    #[inline(always)]
    unsafe fn q4_k_vl(p: *const u8, out: &mut [__m256; 32]) {
        // SAFETY: reads bytes 0..144 of the block.
        unsafe {
            let sub = k4_factors(p);
            let q0 = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
            let q8 = _mm256_setr_ps(8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0);
            let table = |t: usize| [q0, q8].map(|q| affine(q, sub(t)));
            for c in 0..4 {
                let ([l0, l1], [h0, h1]) = (table(2 * c), table(2 * c + 1));
                for h in 0..4 {
                    let bytes = _mm_loadl_epi64(p.add(16 + 32 * c + 8 * h).cast());
                    let idx = _mm256_cvtepu8_epi32(bytes);
                    out[8 * c + h] = _mm256_permutex2var_ps(l0, idx, l1);
                    out[8 * c + 4 + h] =
                        _mm256_permutex2var_ps(h0, _mm256_srli_epi32::<4>(idx), h1);
                }
            }
        }
    }

    /// ql: 128 bytes (low 4 bits), qh: 64 bytes (high 2 bits), sc: 16 x
    /// i8, d: f16; half n of 128 elements, group g of 32, element l: value
    /// (d * sc) * (q - 32) with sc the scale of l's 16-element run.
    #[inline(always)]
    unsafe fn q6_k(p: *const u8, out: &mut [__m256; 32]) {
        // SAFETY: reads bytes 0..210 of the block.
        unsafe {
            // The sixteen run scales d * sc, those of half n in vector n (a
            // lane permutation then broadcasts one without leaving the
            // vector unit).
            let d = half8(p.add(208));
            let sc = _mm_loadu_si128(p.add(192).cast());
            let scales = [sc, _mm_srli_si128::<8>(sc)]
                .map(|s| _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(s))));
            let (low4, two) = (_mm256_set1_epi8(0xF), _mm256_set1_epi8(3));
            for n in 0..2 {
                // Bytes l of ql hold groups 0 (low nibble) and 2 (high), bytes
                // l + 32 groups 1 and 3; bits 2g..2g+2 of qh byte l group g's.
                let ql = [
                    _mm256_loadu_si256(p.add(64 * n).cast()),
                    _mm256_loadu_si256(p.add(64 * n + 32).cast()),
                ];
                let qh = _mm256_loadu_si256(p.add(128 + 32 * n).cast());
                for g in 0..4 {
                    let lo = if g < 2 {
                        _mm256_and_si256(ql[g], low4)
                    } else {
                        _mm256_and_si256(_mm256_srli_epi16::<4>(ql[g - 2]), low4)
                    };
                    let hi = match g {
                        0 => qh,
                        1 => _mm256_srli_epi16::<2>(qh),
                        2 => _mm256_srli_epi16::<4>(qh),
                        _ => _mm256_srli_epi16::<6>(qh),
                    };
                    // (hi & 3) << 4 stays inside its byte.
                    let hi = _mm256_slli_epi16::<4>(_mm256_and_si256(hi, two));
                    let q = _mm256_sub_epi8(_mm256_or_si256(lo, hi), _mm256_set1_epi8(32));
                    for (l8, v) in widen(q).into_iter().enumerate() {
                        let at = _mm256_set1_epi32((l8 / 2 + 2 * g) as i32);
                        let scale = _mm256_permutevar8x32_ps(scales[n], at);
                        out[16 * n + 4 * g + l8] = _mm256_mul_ps(v, scale);
                    }
                }
            }
        }
    }

    /// 32 signed bytes as four vectors of 8 floats (bytes 0..8, 8..16, ...),
    /// exact.
    #[inline(always)]
    unsafe fn widen(b: __m256i) -> [__m256; 4] {
        // SAFETY: avx2.
        unsafe {
            let (lo, hi) = (_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
            [lo, _mm_srli_si128::<8>(lo), hi, _mm_srli_si128::<8>(hi)]
                .map(|h| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(h)))
        }
    }

    /// `q * scale - offset` with two roundings (the Q4_K program's order),
    /// for `(scale, offset)` in every lane.
    #[inline(always)]
    unsafe fn affine(q: __m256, (scale, offset): (__m256, __m256)) -> __m256 {
        // SAFETY: avx.
        unsafe { _mm256_sub_ps(_mm256_mul_ps(scale, q), offset) }
    }

    /// The factors of a Q4_K block's sub-blocks: `sub(t)` is `(d * sc_t,
    /// dmin * m_t)` in every lane, each product the program's own rounding.
    /// The eight 6-bit pairs (ggml's `get_scale_min_k4`, bytes 4..16) are
    /// unpacked into lanes at once: sub-block `t < 4` has
    /// `(q[t] & 63, q[t + 4] & 63)`, `t >= 4` has
    /// `((q[t + 4] & 15) | (q[t - 4] >> 6) << 4, (q[t + 4] >> 4) | (q[t] >> 6) << 4)`.
    ///
    /// # Safety
    /// avx2 and f16c; `p` points at a whole Q4_K block.
    #[inline(always)]
    unsafe fn k4_factors(p: *const u8) -> impl Fn(usize) -> (__m256, __m256) {
        // SAFETY: reads bytes 0..16 of the block.
        unsafe {
            let bytes = |at: usize| _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.add(at).cast()));
            // Lane t of each: q[t], q[t + 4] and q[t - 4] (lanes 4..8 only).
            let (q, q4, qm4) = (bytes(4), bytes(8), bytes(0));
            let (m63, m15) = (_mm256_set1_epi32(63), _mm256_set1_epi32(15));
            let top = |v: __m256i| _mm256_slli_epi32::<4>(_mm256_srli_epi32::<6>(v));
            let sc_low = _mm256_and_si256(q, m63);
            let m_low = _mm256_and_si256(q4, m63);
            let sc_high = _mm256_or_si256(_mm256_and_si256(q4, m15), top(qm4));
            let m_high = _mm256_or_si256(_mm256_srli_epi32::<4>(q4), top(q));
            let sc = _mm256_blend_epi32::<0xF0>(sc_low, sc_high);
            let m = _mm256_blend_epi32::<0xF0>(m_low, m_high);
            let ds = _mm256_mul_ps(half8(p), _mm256_cvtepi32_ps(sc));
            let dm = _mm256_mul_ps(half8(p.add(2)), _mm256_cvtepi32_ps(m));
            move |t| {
                let at = _mm256_set1_epi32(t as i32);
                (
                    _mm256_permutevar8x32_ps(ds, at),
                    _mm256_permutevar8x32_ps(dm, at),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::kernels::dot;
    use crate::arith::{Eval, Reference};
    use crate::ops::quant;

    /// xorshift bytes / words.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// The reference: every weight through the dequant program under
    /// SoftFloat, then the canonical dot product under SoftFloat.
    fn reference(dtype: DType, x: &[u32], rows: &[u8], n: usize) -> Vec<u32> {
        let (be, bb) = dtype.block();
        let (be, bb) = (be as usize, bb as usize);
        let k = x.len();
        let nf = quant::field_count(dtype);
        (0..n)
            .map(|j| {
                let w: Vec<u32> = (0..k)
                    .map(|i| {
                        let e = j * k + i;
                        let f = quant::fields(dtype, &rows[e / be * bb..][..bb], e % be);
                        quant::run(dtype, &mut Eval(&Reference), &f[..nf])
                    })
                    .collect();
                dot(&Reference, x, &w).expect("equal lengths")
            })
            .collect()
    }

    #[test]
    fn every_output_is_the_canonical_dot_of_the_dequant_program() {
        if !crate::arith::kernels::has_avx2_fma() {
            eprintln!(
                "SKIPPED every_output_is_the_canonical_dot_of_the_dequant_program: this CPU lacks AVX2+FMA, quant_gemv always declines"
            );
            return;
        }
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        // Activations: ordinary values with NaN, infinities, subnormals, -0.
        let special = [
            0x7FC0_0000,
            0xFF80_0000,
            0x7F80_0000,
            0x8000_0000,
            0x0000_0001,
            0x807F_FFFF,
        ];
        for dtype in [
            DType::Q4_0,
            DType::Q5_0,
            DType::Q8_0,
            DType::Q4K,
            DType::Q6K,
        ] {
            let (be, bb) = dtype.block();
            let (be, bb) = (be as usize, bb as usize);
            for (n, blocks, specials) in [(1, 1, false), (7, 2, false), (9, 3, true), (4, 1, true)]
            {
                let k = blocks * be;
                let mut x: Vec<u32> = (0..k)
                    .map(|_| f32::to_bits((rng.next() >> 40) as f32 / 8_388_608.0 - 1.0))
                    .collect();
                // Arbitrary bytes: NaN, infinite, subnormal and zero scales included.
                let mut rows: Vec<u8> = (0..n * blocks * bb)
                    .map(|_| (rng.next() >> 24) as u8)
                    .collect();
                if specials {
                    for (i, &s) in special.iter().enumerate() {
                        x[(i * 37) % k] = s;
                    }
                } else {
                    // Finite small scales so that most outputs are ordinary numbers.
                    for b in rows.chunks_mut(bb) {
                        let at = if dtype == DType::Q6K { 208 } else { 0 };
                        b[at + 1] &= 0x1F;
                        if dtype == DType::Q4K {
                            b[3] &= 0x1F;
                        }
                    }
                }
                let mut got = vec![0u32; n];
                assert!(quant_gemv(dtype, &x, &rows, &mut got), "{dtype:?} declined");
                let want = reference(dtype, &x, &rows, n);
                assert_eq!(got, want, "{dtype:?} {n} rows of {k}");
                // quant_gemv takes the AVX-512BW decoder where there is one:
                // the AVX2 one must agree too.
                #[cfg(target_arch = "x86_64")]
                {
                    let mut avx2 = vec![0u32; n];
                    // SAFETY: avx2 and fma checked above, f16c implied by the
                    // quant_gemv call's success; whole blocks of `dtype`.
                    #[allow(unsafe_code)]
                    unsafe {
                        super::x86::gemv(dtype, &x, &rows, &mut avx2)
                    };
                    assert_eq!(avx2, want, "{dtype:?} {n} rows of {k}, AVX2 decoders");
                }
            }
        }
    }

    #[test]
    fn partial_blocks_and_other_dtypes_are_declined() {
        let mut out = [0u32; 2];
        // K not a whole number of blocks.
        assert!(!quant_gemv(
            DType::Q8_0,
            &[0; 40],
            &[0; 2 * 2 * 34],
            &mut out
        ));
        // Byte count not matching the rows.
        assert!(!quant_gemv(DType::Q8_0, &[0; 32], &[0; 34], &mut out));
        // Not a quantized dtype.
        assert!(!quant_gemv(DType::F32, &[0; 32], &[0; 2 * 128], &mut out));
        assert_eq!(out, [0, 0], "a declined call leaves the outputs alone");
    }
}
