//! Dequantization of GGUF blocks as an exact element program.
//!
//! An element of a block-quantized tensor is described by a few integer
//! *fields* decoded from its block's bytes (pure bit extraction, no
//! rounding: the verifier decodes them the same way from the proven block),
//! followed by a short program of canonical primitives. The fields and
//! programs follow ggml's reference `dequantize_row_*` with every float
//! operation made explicit:
//!
//! | dtype | fields | program |
//! |---|---|---|
//! | Q4_0 | d (f16 bits), q - 8 | `mul(f16(d), i2f(q))` |
//! | Q5_0 | d, q - 16 | `mul(f16(d), i2f(q))` |
//! | Q8_0 | d, q (i8) | `mul(f16(d), i2f(q))` |
//! | Q4_K | d, dmin, sc (6 bit), m (6 bit), q (4 bit) | `sub(mul(mul(f16(d), i2f(sc)), i2f(q)), mul(f16(dmin), i2f(m)))` |
//! | Q6_K | d, sc (i8), q - 32 | `mul(mul(f16(d), i2f(sc)), i2f(q))` |

use crate::arith::{Arith, Fast, Machine, Prim, Program, Recorder, Src, canon};
use crate::commit::DType;
use crate::error::{Error, Result};

/// The most fields any supported dtype decodes.
pub const MAX_FIELDS: usize = 5;

/// Whether `dequant` supports `dtype`.
pub fn supported(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::Q4_0 | DType::Q5_0 | DType::Q8_0 | DType::Q4K | DType::Q6K
    )
}

/// Number of fields decoded per element of `dtype`.
pub fn field_count(dtype: DType) -> usize {
    match dtype {
        DType::Q4K => 5,
        DType::Q6K => 3,
        _ => 2,
    }
}

fn f16_at(b: &[u8], at: usize) -> u32 {
    u32::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// Q4_K / Q5_K packed 6-bit (scale, min) of sub-block `j` (ggml `get_scale_min_k4`).
pub(crate) fn scale_min_k4(j: usize, q: &[u8]) -> (u32, u32) {
    if j < 4 {
        (u32::from(q[j] & 63), u32::from(q[j + 4] & 63))
    } else {
        (
            u32::from((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4)),
            u32::from((q[j + 4] >> 4) | ((q[j] >> 6) << 4)),
        )
    }
}

/// Decode the fields of element `j` of one block (`block.len() == dtype.block().1`,
/// `j < dtype.block().0`; the caller checks both). Integer fields are i32 words.
pub fn fields(dtype: DType, block: &[u8], j: usize) -> [u32; MAX_FIELDS] {
    let mut f = [0u32; MAX_FIELDS];
    match dtype {
        DType::Q8_0 => {
            f[0] = f16_at(block, 0);
            f[1] = block[2 + j] as i8 as i32 as u32;
        }
        DType::Q4_0 => {
            let b = block[2 + j % 16];
            let x = if j < 16 { b & 0xF } else { b >> 4 };
            f[0] = f16_at(block, 0);
            f[1] = (i32::from(x) - 8) as u32;
        }
        DType::Q5_0 => {
            let qh = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
            let b = block[6 + j % 16];
            let lo = u32::from(if j < 16 { b & 0xF } else { b >> 4 });
            let x = lo | (((qh >> j) & 1) << 4);
            f[0] = f16_at(block, 0);
            f[1] = (x as i32 - 16) as u32;
        }
        DType::Q4K => {
            let (c, r) = (j / 64, j % 64);
            let (sc, m) = scale_min_k4(2 * c + usize::from(r >= 32), &block[4..16]);
            let b = block[16 + 32 * c + r % 32];
            f[0] = f16_at(block, 0);
            f[1] = f16_at(block, 2);
            f[2] = sc;
            f[3] = m;
            f[4] = u32::from(if r < 32 { b & 0xF } else { b >> 4 });
        }
        DType::Q6K => {
            let (n, r) = (j / 128, j % 128);
            let (g, l) = (r / 32, r % 32);
            let ql = block[64 * n + l + (g & 1) * 32];
            let lo = if g >= 2 { ql >> 4 } else { ql & 0xF };
            let hi = (block[128 + 32 * n + l] >> (2 * g)) & 3;
            f[0] = f16_at(block, 208);
            f[1] = block[192 + 8 * n + l / 16 + 2 * g] as i8 as i32 as u32;
            f[2] = (i32::from(lo | (hi << 4)) - 32) as u32;
        }
        _ => {}
    }
    f
}

/// The element program of `dtype` on its fields.
pub fn run<M: Machine>(dtype: DType, m: &mut M, f: &[M::V]) -> M::V {
    match dtype {
        DType::Q4K => {
            let d = m.op(Prim::F16ToF32, &[f[0]]);
            let dmin = m.op(Prim::F16ToF32, &[f[1]]);
            let sc = m.op(Prim::I32ToF32, &[f[2]]);
            let mn = m.op(Prim::I32ToF32, &[f[3]]);
            let q = m.op(Prim::I32ToF32, &[f[4]]);
            let d1 = m.mul(d, sc);
            let m1 = m.mul(dmin, mn);
            let t = m.mul(d1, q);
            m.sub(t, m1)
        }
        DType::Q6K => {
            let d = m.op(Prim::F16ToF32, &[f[0]]);
            let sc = m.op(Prim::I32ToF32, &[f[1]]);
            let q = m.op(Prim::I32ToF32, &[f[2]]);
            let ds = m.mul(d, sc);
            m.mul(ds, q)
        }
        _ => {
            let d = m.op(Prim::F16ToF32, &[f[0]]);
            let q = m.op(Prim::I32ToF32, &[f[1]]);
            m.mul(d, q)
        }
    }
}

/// Dequantize the whole blocks `blocks` into `out` (one word per element)
/// with native `f32` arithmetic: bit for bit [`run`] under
/// [`Fast`](crate::arith::Fast) on the [`fields`], decoded here a block at a
/// time with every per-block and per-sub-block product (`d * sc`,
/// `dmin * m`) computed once, as the programs compute them first. The f16
/// and small-integer conversions are exact, each product and difference is
/// the program's own single rounding, and only NaN payloads could differ
/// between steps, which the final canonicalization removes (a NaN operand
/// gives a NaN result in every step of these programs). A test checks every
/// dtype against the programs on arbitrary bytes.
pub fn dequant_blocks_native(dtype: DType, blocks: &[u8], out: &mut [u32]) {
    let (be, bb) = dtype.block();
    let (be, bb) = (be as usize, bb as usize);
    let half = |b: &[u8], at: usize| f32::from_bits(Fast.f16_to_f32(f16_at(b, at)));
    for (b, o) in blocks.chunks_exact(bb).zip(out.chunks_exact_mut(be)) {
        match dtype {
            DType::Q8_0 => {
                let d = half(b, 0);
                for (x, &q) in o.iter_mut().zip(&b[2..34]) {
                    *x = canon(d * f32::from(q as i8));
                }
            }
            DType::Q4_0 => {
                let d = half(b, 0);
                let (lo, hi) = o.split_at_mut(16);
                for ((l, h), &q) in lo.iter_mut().zip(hi).zip(&b[2..18]) {
                    *l = canon(d * f32::from((q & 0xF) as i8 - 8));
                    *h = canon(d * f32::from((q >> 4) as i8 - 8));
                }
            }
            DType::Q5_0 => {
                let d = half(b, 0);
                let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                let (lo, hi) = o.split_at_mut(16);
                for (j, ((l, h), &q)) in lo.iter_mut().zip(hi).zip(&b[6..22]).enumerate() {
                    let xl = u32::from(q & 0xF) | (((qh >> j) & 1) << 4);
                    let xh = u32::from(q >> 4) | (((qh >> (j + 16)) & 1) << 4);
                    *l = canon(d * (xl as i32 - 16) as f32);
                    *h = canon(d * (xh as i32 - 16) as f32);
                }
            }
            DType::Q4K => {
                let (d, dmin) = (half(b, 0), half(b, 2));
                for (c, chunk) in o.chunks_exact_mut(64).enumerate() {
                    let (lo, hi) = chunk.split_at_mut(32);
                    let (s0, m0) = scale_min_k4(2 * c, &b[4..16]);
                    let (s1, m1) = scale_min_k4(2 * c + 1, &b[4..16]);
                    let (d0, n0) = (d * s0 as f32, dmin * m0 as f32);
                    let (d1, n1) = (d * s1 as f32, dmin * m1 as f32);
                    for ((l, h), &q) in lo.iter_mut().zip(hi).zip(&b[16 + 32 * c..48 + 32 * c]) {
                        *l = canon(d0 * f32::from(q & 0xF) - n0);
                        *h = canon(d1 * f32::from(q >> 4) - n1);
                    }
                }
            }
            DType::Q6K => {
                let d = half(b, 208);
                for (j, x) in o.iter_mut().enumerate() {
                    let (n, g, l) = (j / 128, (j % 128) / 32, j % 32);
                    let ql = b[64 * n + l + (g & 1) * 32];
                    let lo = if g >= 2 { ql >> 4 } else { ql & 0xF };
                    let hi = (b[128 + 32 * n + l] >> (2 * g)) & 3;
                    let sc = f32::from(b[192 + 8 * n + l / 16 + 2 * g] as i8);
                    *x = canon(d * sc * f32::from((lo | (hi << 4)) as i8 - 32));
                }
            }
            _ => {}
        }
    }
}

/// The element program of `dtype` as data; field `k` is `Src::Input(k)`.
pub fn program(dtype: DType) -> Result<Program> {
    if !supported(dtype) {
        return Err(Error::Op {
            op: "dequant".into(),
            msg: format!("{dtype:?} is not supported; supported: Q4_0, Q5_0, Q8_0, Q4_K, Q6_K"),
        });
    }
    let n = field_count(dtype);
    Ok(Recorder::record(|m, x0| {
        let f: Vec<Src> = (0..n)
            .map(|k| if k == 0 { x0 } else { Src::Input(k as u8) })
            .collect();
        run(dtype, m, &f)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::{Eval, Reference};

    #[test]
    fn native_blocks_equal_the_program_on_any_bytes() {
        // Arbitrary bytes: NaN, infinite, subnormal and zero scales included.
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for dtype in [
            DType::Q4_0,
            DType::Q5_0,
            DType::Q8_0,
            DType::Q4K,
            DType::Q6K,
        ] {
            let (be, bb) = dtype.block();
            let (be, bb) = (be as usize, bb as usize);
            let blocks = 64;
            let bytes: Vec<u8> = (0..blocks * bb)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 24) as u8
                })
                .collect();
            let mut out = vec![0u32; blocks * be];
            dequant_blocks_native(dtype, &bytes, &mut out);
            let n = field_count(dtype);
            for (e, &got) in out.iter().enumerate() {
                let f = fields(dtype, &bytes[e / be * bb..][..bb], e % be);
                let want = run(dtype, &mut Eval(&Reference), &f[..n]);
                assert_eq!(got, want, "{dtype:?} element {e}");
            }
        }
    }
}
