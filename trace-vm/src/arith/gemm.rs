//! Matrix products in the canonical reduction order, at full speed.
//!
//! `C[i][j] = dot(A[i, :], B[j, :])` with both operands row-major and the
//! reduction dimension contiguous ("NT" layout: a linear layer's weights are
//! stored `[out, in]`). Each output element is exactly the canonical dot
//! product of SPEC.md: lane `l` accumulates `fma(a[k], b[k], acc)` for
//! `k = l (mod 8)`, then the fixed lane tree. On AVX2+FMA one 256-bit register
//! holds the 8 lanes of one output, so the canonical order *is* the natural
//! vector order and costs nothing; a 4x3 tile of outputs keeps 12 such
//! registers live, and the lane tree is done with `hadd`, whose pairings are
//! the tree's own.

use super::fast::canon;
use super::kernels::dot_fast;
use crate::error::{Error, Result};

/// Rows of A per register tile.
const MR: usize = 4;
/// Rows of B per register tile.
const NR: usize = 3;
/// Bytes of B kept hot in L2 while all of A streams past it.
const B_BLOCK_BYTES: usize = 192 * 1024;

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
            x86::gemm_nt(m, n, k, a, b, c)
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

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    use super::{B_BLOCK_BYTES, MR, NR, canon};

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn gemm_nt(m: usize, n: usize, k: usize, a: &[u32], b: &[u32], c: &mut [u32]) {
        // Rows of B per block, a multiple of NR so blocks hold whole tiles.
        let nb = (B_BLOCK_BYTES / (4 * k.max(1))).max(1).div_ceil(NR) * NR;
        for j0 in (0..n).step_by(nb) {
            let j1 = (j0 + nb).min(n);
            for i in (0..m).step_by(MR) {
                let mr = MR.min(m - i);
                for j in (j0..j1).step_by(NR) {
                    let nr = NR.min(j1 - j);
                    tile(mr, nr, k, &a[i * k..], &b[j * k..], &mut c[i * n + j..], n);
                }
            }
        }
    }

    /// Dispatches an edge-sized tile to the right monomorphic kernel.
    #[target_feature(enable = "avx2,fma")]
    fn tile(mr: usize, nr: usize, k: usize, a: &[u32], b: &[u32], c: &mut [u32], ldc: usize) {
        macro_rules! go {
            ($($m:literal, $n:literal);*) => {
                match (mr, nr) {
                    $(($m, $n) => kernel::<$m, $n>(k, a, b, c, ldc),)*
                    _ => unreachable!("tiles are at most {MR}x{NR}"),
                }
            };
        }
        go!(4, 3; 4, 2; 4, 1; 3, 3; 3, 2; 3, 1; 2, 3; 2, 2; 2, 1; 1, 3; 1, 2; 1, 1)
    }

    /// One `R x C` tile: 8 lanes per output, then the lane tree.
    #[target_feature(enable = "avx2,fma")]
    fn kernel<const R: usize, const C: usize>(
        k: usize,
        a: &[u32],
        b: &[u32],
        c: &mut [u32],
        ldc: usize,
    ) {
        let a = &a[..(R - 1) * k + k];
        let b = &b[..(C - 1) * k + k];
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let full = k / 8 * 8;
        let mut kk = 0;
        while kk < full {
            let mut bv = [_mm256_setzero_ps(); C];
            for (jj, v) in bv.iter_mut().enumerate() {
                // SAFETY: kk + 8 <= k, so the 8 words lie inside row jj of b.
                *v = unsafe { _mm256_loadu_ps(b[jj * k + kk..].as_ptr().cast()) };
            }
            for (ii, row) in acc.iter_mut().enumerate() {
                // SAFETY: as above, inside row ii of a.
                let av = unsafe { _mm256_loadu_ps(a[ii * k + kk..].as_ptr().cast()) };
                for (jj, lanes) in row.iter_mut().enumerate() {
                    *lanes = _mm256_fmadd_ps(av, bv[jj], *lanes);
                }
            }
            kk += 8;
        }
        if full < k {
            // The tail's elements go to lanes 0..k-full; the other lanes get
            // fma(+0, +0, acc) = acc exactly (a lane is never -0: it starts at
            // +0 and an exact zero sum rounds to +0).
            let pad = |src: &[u32]| {
                let mut w = [0f32; 8];
                for (x, &bits) in w.iter_mut().zip(src) {
                    *x = f32::from_bits(bits);
                }
                // SAFETY: w is 8 floats.
                unsafe { _mm256_loadu_ps(w.as_ptr()) }
            };
            let bv: [__m256; C] = std::array::from_fn(|jj| pad(&b[jj * k + full..jj * k + k]));
            for (ii, row) in acc.iter_mut().enumerate() {
                let av = pad(&a[ii * k + full..ii * k + k]);
                for (jj, lanes) in row.iter_mut().enumerate() {
                    *lanes = _mm256_fmadd_ps(av, bv[jj], *lanes);
                }
            }
        }
        for (ii, row) in acc.iter().enumerate() {
            for (jj, &lanes) in row.iter().enumerate() {
                c[ii * ldc + jj] = canon(lane_tree(lanes));
            }
        }
    }

    /// `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`: `hadd` adds
    /// adjacent pairs within each 128-bit half, which are the tree's pairs.
    #[target_feature(enable = "avx2,fma")]
    fn lane_tree(v: __m256) -> f32 {
        let pairs = _mm256_hadd_ps(v, v);
        let quads = _mm256_hadd_ps(pairs, pairs);
        let low = _mm256_castps256_ps128(quads);
        let high = _mm256_extractf128_ps::<1>(quads);
        _mm_cvtss_f32(_mm_add_ss(low, high))
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
        ] {
            let a = bits(m as u64 * 31 + k as u64, m * k);
            let b = bits(n as u64 * 17 + k as u64, n * k);
            let mut c = vec![0; m * n];
            gemm_nt(m, n, k, &a, &b, &mut c).unwrap();
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
