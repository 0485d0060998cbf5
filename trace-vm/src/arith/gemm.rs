//! Matrix products in the canonical reduction order, at full speed.
//!
//! `C[i][j] = dot(A[i, :], B[j, :])` with both operands row-major and the
//! reduction dimension contiguous ("NT" layout: a linear layer's weights are
//! stored `[out, in]`). Each output element is exactly the canonical dot
//! product of SPEC.md: lane `l` accumulates `fma(a[k], b[k], acc)` for
//! `k = l (mod 8)`, then the fixed lane tree. On AVX2+FMA one 256-bit register
//! holds the 8 lanes of one output, so the canonical order *is* the natural
//! vector order and costs nothing; a tile of outputs (6x4 with AVX-512VL's
//! 32 registers, else 4x3) keeps one such register each, and the lane tree is done with `hadd`, whose pairings are
//! the tree's own. Blocking over N (B rows kept in L2) and K (lanes carried
//! between K blocks, each lane still adding its words in order) keeps the
//! working set of every tile in L1.

use super::fast::canon;
use super::kernels::dot_fast;
use crate::error::{Error, Result};

/// Bytes of B kept hot in L2 while all of A streams past it.
const B_BLOCK_BYTES: usize = 192 * 1024;
/// Words of K per block (a multiple of 8): a strip of A and a tile of B over
/// all of a long K (MiniLM's FFN down, K = 1536) do not fit L1 together, so
/// the tile kernels run K in blocks and keep the lanes in between.
const KC: usize = 512;

/// `C = A · Bᵀ` on binary32 bit patterns: `a` is `m x k`, `b` is `n x k`,
/// `c` is `m x n`, all row-major. Every element equals [`super::kernels::dot`]
/// of its row and column under any [`super::Arith`], bit for bit.
pub fn gemm_nt(m: usize, n: usize, k: usize, a: &[u32], b: &[u32], c: &mut [u32]) -> Result<()> {
    for (what, len, want) in [
        ("A", a.len(), m * k),
        ("B", b.len(), n * k),
        ("C", c.len(), m * n),
    ] {
        if len != want {
            return Err(Error::LengthMismatch {
                what,
                left: len,
                right: want,
            });
        }
    }
    #[cfg(target_arch = "x86_64")]
    if super::kernels::has_avx2_fma() {
        // SAFETY: the CPU supports avx2 and fma (checked just above); the
        // slice lengths were checked against m, n, k.
        #[allow(unsafe_code)]
        unsafe {
            x86::gemm_nt(m, n, k, a, b, c, has_avx512vl())
        };
        return Ok(());
    }
    for (i, row) in c.chunks_exact_mut(n.max(1)).enumerate().take(m) {
        for (j, out) in row.iter_mut().enumerate() {
            *out = dot_fast(&a[i * k..][..k], &b[j * k..][..k])?;
        }
    }
    Ok(())
}

/// Whether the CPU has AVX-512F and AVX-512VL (32 vector registers).
#[cfg(target_arch = "x86_64")]
fn has_avx512vl() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(super) mod x86 {
    use std::arch::x86_64::*;

    use super::{B_BLOCK_BYTES, KC, canon};

    /// Runs the product with the widest tile the CPU has registers for:
    /// AVX-512VL gives 32 vector registers (a 6x4 tile: 24 accumulators, 4
    /// B vectors, 1 A vector), plain AVX2 16 (4x3). Both compute the same
    /// 256-bit lanes; only the number of outputs in flight differs.
    ///
    /// # Safety
    /// The CPU supports avx2 and fma, and avx512f and avx512vl if `wide`;
    /// `a`, `b`, `c` hold `m*k`, `n*k`, `m*n` words.
    pub(super) unsafe fn gemm_nt(
        m: usize,
        n: usize,
        k: usize,
        a: &[u32],
        b: &[u32],
        c: &mut [u32],
        wide: bool,
    ) {
        // SAFETY: the features each driver enables were detected (avx2 and
        // fma by the caller); the lengths are the caller's.
        unsafe {
            if wide {
                drive::<6, 4>(m, n, k, a, b, c, tile_wide)
            } else {
                drive::<4, 3>(m, n, k, a, b, c, tile_avx2)
            }
        }
    }

    /// The K range `k0..k1` of a product over `k` words: the first block
    /// starts the lanes at +0, the last one finishes them with the lane tree.
    #[derive(Clone, Copy)]
    struct Span {
        k: usize,
        k0: usize,
        k1: usize,
    }

    /// An edge-sized tile kernel dispatcher (`mr x nr` outputs).
    type Tile = unsafe fn(usize, usize, Span, *const u32, *const u32, *mut __m256, *mut u32, usize);

    /// Blocks over N (B rows kept in L2 while every strip of A passes) and K
    /// (a strip's K block stays in L1 while the block's tiles pass), calling
    /// `tile` on `MR x NR` tiles.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn drive<const MR: usize, const NR: usize>(
        m: usize,
        n: usize,
        k: usize,
        a: &[u32],
        b: &[u32],
        c: &mut [u32],
        tile: Tile,
    ) {
        assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n);
        // Rows of B per block, a multiple of NR so blocks hold whole tiles,
        // and no more than B has: `acc` is allocated per call, and a large
        // allocation of a short K's block (every attention head) would be
        // fresh pages to fault in each time.
        let nb = (B_BLOCK_BYTES / (4 * k.max(1)))
            .clamp(1, n.max(1))
            .div_ceil(NR)
            * NR;
        // Lane accumulators of one strip of A against one block of B,
        // carried from one K block to the next.
        let mut acc = vec![_mm256_setzero_ps(); MR * nb];
        for j0 in (0..n).step_by(nb) {
            let j1 = (j0 + nb).min(n);
            for i in (0..m).step_by(MR) {
                let mr = MR.min(m - i);
                // K blocks are multiples of 8 words, so word k still goes to
                // lane k mod 8 and every lane sees its words in order.
                let mut k0 = 0;
                loop {
                    let k1 = (k0 + KC).min(k);
                    let span = Span { k, k0, k1 };
                    for (t, j) in (j0..j1).step_by(NR).enumerate() {
                        // SAFETY: rows i..i+mr of a, j..j+nr of b, the tile's
                        // outputs in c and its MR*NR slots of acc are in bounds
                        // (asserted above; acc has nb/NR tiles of MR*NR).
                        unsafe {
                            tile(
                                mr,
                                NR.min(j1 - j),
                                span,
                                a.as_ptr().add(i * k),
                                b.as_ptr().add(j * k),
                                acc.as_mut_ptr().add(t * MR * NR),
                                c.as_mut_ptr().add(i * n + j),
                                n,
                            )
                        };
                    }
                    if k1 == k {
                        break;
                    }
                    k0 = k1;
                }
            }
        }
    }

    macro_rules! tiles {
        ($name:ident, $features:literal, $($m:literal, $n:literal);*) => {
            /// Dispatches an edge-sized tile to the right monomorphic kernel.
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = $features)]
            unsafe fn $name(
                mr: usize,
                nr: usize,
                span: Span,
                a: *const u32,
                b: *const u32,
                saved: *mut __m256,
                c: *mut u32,
                ldc: usize,
            ) {
                // SAFETY: forwarded from the caller.
                unsafe {
                    match (mr, nr) {
                        $(($m, $n) => kernel::<$m, $n>(span, a, b, saved, c, ldc),)*
                        _ => unreachable!("no {mr}x{nr} tile"),
                    }
                }
            }
        };
    }
    tiles!(tile_avx2, "avx2,fma",
        4, 3; 4, 2; 4, 1; 3, 3; 3, 2; 3, 1; 2, 3; 2, 2; 2, 1; 1, 3; 1, 2; 1, 1);
    tiles!(tile_wide, "avx2,fma,avx512f,avx512vl",
        6, 4; 6, 3; 6, 2; 6, 1; 5, 4; 5, 3; 5, 2; 5, 1; 4, 4; 4, 3; 4, 2; 4, 1;
        3, 4; 3, 3; 3, 2; 3, 1; 2, 4; 2, 3; 2, 2; 2, 1; 1, 4; 1, 3; 1, 2; 1, 1);

    /// One `R x C` tile over one K block: 8 lanes per output; the first block
    /// starts them at +0, later ones take them from `saved`, and the last
    /// one writes the lane tree to `c` (the others save the lanes).
    /// Inlined into the dispatchers, so it compiles with their features.
    ///
    /// # Safety
    /// `a` and `b` point at R and C rows of `span.k` words, `saved` at R*C
    /// vectors, `c` at R rows (stride `ldc`) of C words; avx2 and fma.
    #[inline(always)]
    unsafe fn kernel<const R: usize, const C: usize>(
        span: Span,
        a: *const u32,
        b: *const u32,
        saved: *mut __m256,
        c: *mut u32,
        ldc: usize,
    ) {
        let Span { k, k0, k1 } = span;
        // SAFETY (whole body): every offset below is row * k + x with
        // row < R (C) and x + 8 <= k1 <= k, or a saved slot < R*C, or an
        // output (row < R, column < C); see the function's contract.
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); C]; R];
            if k0 > 0 {
                for (ii, row) in acc.iter_mut().enumerate() {
                    for (jj, lanes) in row.iter_mut().enumerate() {
                        *lanes = *saved.add(ii * C + jj);
                    }
                }
            }
            let full = k0 + (k1 - k0) / 8 * 8;
            let mut kk = k0;
            while kk < full {
                let mut bv = [_mm256_setzero_ps(); C];
                for (jj, v) in bv.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(b.add(jj * k + kk).cast());
                }
                for (ii, row) in acc.iter_mut().enumerate() {
                    let av = _mm256_loadu_ps(a.add(ii * k + kk).cast());
                    for (jj, lanes) in row.iter_mut().enumerate() {
                        *lanes = _mm256_fmadd_ps(av, bv[jj], *lanes);
                    }
                }
                kk += 8;
            }
            if full < k1 {
                // Only the last block has a tail (KC is a multiple of 8). Its
                // words go to lanes 0..k1-full; the other lanes get
                // fma(+0, +0, acc) = acc exactly (a lane is never -0: it
                // starts at +0 and an exact zero sum rounds to +0).
                let pad = |src: *const u32| {
                    let mut w = [0u32; 8];
                    std::ptr::copy_nonoverlapping(src, w.as_mut_ptr(), k1 - full);
                    _mm256_loadu_ps(w.as_ptr().cast())
                };
                let bv: [__m256; C] = std::array::from_fn(|jj| pad(b.add(jj * k + full)));
                for (ii, row) in acc.iter_mut().enumerate() {
                    let av = pad(a.add(ii * k + full));
                    for (jj, lanes) in row.iter_mut().enumerate() {
                        *lanes = _mm256_fmadd_ps(av, bv[jj], *lanes);
                    }
                }
            }
            for (ii, row) in acc.iter().enumerate() {
                if k1 < k {
                    for (jj, &lanes) in row.iter().enumerate() {
                        *saved.add(ii * C + jj) = lanes;
                    }
                } else if let Ok(four) = <&[__m256; 4]>::try_from(&row[..]) {
                    // A short K (attention heads) makes the tree a large
                    // part of each output: four trees at once.
                    _mm_storeu_si128(c.add(ii * ldc).cast(), canon4(lane_trees4(four)));
                } else {
                    for (jj, &lanes) in row.iter().enumerate() {
                        *c.add(ii * ldc + jj) = canon(lane_tree(lanes));
                    }
                }
            }
        }
    }

    /// The lane trees of four outputs at once, each exactly [`lane_tree`]'s:
    /// the first `hadd`s form every output's pairs `l0+l1, l2+l3` (low
    /// half) and `l4+l5, l6+l7` (high half), the second their sums, and
    /// adding the halves joins the two subtrees.
    #[inline(always)]
    unsafe fn lane_trees4(v: &[__m256; 4]) -> __m128 {
        // SAFETY: avx (the callers run with avx2).
        unsafe {
            let quads = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
            _mm_add_ps(
                _mm256_castps256_ps128(quads),
                _mm256_extractf128_ps::<1>(quads),
            )
        }
    }

    /// Four results as words, every NaN the canonical NaN.
    #[inline(always)]
    unsafe fn canon4(r: __m128) -> __m128i {
        // SAFETY: sse4.1 (the callers run with avx2).
        unsafe {
            let nan = _mm_cmpunord_ps(r, r);
            let c = _mm_castsi128_ps(_mm_set1_epi32(crate::arith::CANONICAL_NAN as i32));
            _mm_castps_si128(_mm_blendv_ps(r, c, nan))
        }
    }

    /// `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`: `hadd` adds
    /// adjacent pairs within each 128-bit half, which are the tree's pairs.
    #[inline(always)]
    pub(in crate::arith) unsafe fn lane_tree(v: __m256) -> f32 {
        // SAFETY: avx (the callers run with avx2).
        unsafe {
            let pairs = _mm256_hadd_ps(v, v);
            let quads = _mm256_hadd_ps(pairs, pairs);
            let low = _mm256_castps256_ps128(quads);
            let high = _mm256_extractf128_ps::<1>(quads);
            _mm_cvtss_f32(_mm_add_ss(low, high))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::kernels::dot;
    use crate::arith::{Fast, Reference};

    fn bits(seed: u64, len: usize) -> Vec<u32> {
        let mut s = seed | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // Mostly ordinary magnitudes, some specials and subnormals.
                match s % 64 {
                    0 => 0x7FC0_0000,
                    1 => 0xFF80_0000,
                    2 => 0x8000_0000,
                    3 => (s >> 32) as u32 & 0x807F_FFFF,
                    _ => f32::to_bits(((s >> 40) as f32 / 8_388_608.0 - 1.0) * 4.0),
                }
            })
            .collect()
    }

    #[test]
    fn every_element_is_the_canonical_dot_product() {
        for (m, n, k) in [
            (1, 1, 1),
            (5, 7, 13),
            (4, 3, 8),
            (9, 10, 67),
            (2, 20, 0),
            (13, 4, 129),
            // K over several K blocks, with and without a tail.
            (6, 7, 3 * KC),
            (5, 4, 2 * KC + 13),
        ] {
            let a = bits(m as u64 * 31 + k as u64, m * k);
            let b = bits(n as u64 * 17 + k as u64, n * k);
            let mut c = vec![0; m * n];
            gemm_nt(m, n, k, &a, &b, &mut c).unwrap();
            // The 4x3 AVX2 tiles too, where the CPU would pick 6x4.
            #[cfg(target_arch = "x86_64")]
            if crate::arith::kernels::has_avx2_fma() && has_avx512vl() {
                let mut narrow = vec![0; m * n];
                // SAFETY: avx2 and fma were detected; the lengths are m*k, n*k, m*n.
                #[allow(unsafe_code)]
                unsafe {
                    x86::gemm_nt(m, n, k, &a, &b, &mut narrow, false)
                };
                assert_eq!(narrow, c, "({m}x{n}x{k}) 4x3 tiles");
            }
            for i in 0..m {
                for j in 0..n {
                    let (x, y) = (&a[i * k..][..k], &b[j * k..][..k]);
                    let want = dot(&Reference, x, y).unwrap();
                    assert_eq!(c[i * n + j], want, "({m}x{n}x{k}) element ({i},{j})");
                    assert_eq!(dot(&Fast, x, y).unwrap(), want);
                }
            }
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let mut c = vec![0; 4];
        let err = gemm_nt(2, 2, 3, &[0; 5], &[0; 6], &mut c).unwrap_err();
        assert!(err.to_string().contains('A'), "{err}");
    }
}
