//! Dequantization against ggml's reference `dequantize_row_*` loops,
//! transcribed here in their original block-walking form (pointer offsets,
//! paired nibbles), independently of the VM's per-element field decoding.

// Helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]
// The ggml loops are kept index for index, so they can be compared with the C source.
#![allow(clippy::needless_range_loop)]

mod common;

use common::Rng;
use trace_vm::arith::{Fast, Reference};
use trace_vm::backend::{Backend, Cpu};
use trace_vm::commit::DType;
use trace_vm::ops::Op;
use trace_vm::tensor::Tensor;

/// IEEE binary16 -> f32, written out (finite inputs only; scales are kept finite).
fn half(b: &[u8]) -> f32 {
    let h = u16::from_le_bytes([b[0], b[1]]) as u32;
    let (s, e, m) = (h >> 15, (h >> 10) & 31, h & 1023);
    let mag = if e == 0 {
        m as f32 * 2f32.powi(-24)
    } else {
        (1.0 + m as f32 / 1024.0) * 2f32.powi(e as i32 - 15)
    };
    if s == 1 { -mag } else { mag }
}

fn ref_q8_0(b: &[u8], y: &mut Vec<f32>) {
    let d = half(&b[0..2]);
    for j in 0..32 {
        y.push(b[2 + j] as i8 as f32 * d);
    }
}

fn ref_q4_0(b: &[u8], y: &mut Vec<f32>) {
    let d = half(&b[0..2]);
    let mut out = [0f32; 32];
    for j in 0..16 {
        out[j] = ((b[2 + j] & 0x0F) as i32 - 8) as f32 * d;
        out[j + 16] = ((b[2 + j] >> 4) as i32 - 8) as f32 * d;
    }
    y.extend(out);
}

fn ref_q5_0(b: &[u8], y: &mut Vec<f32>) {
    let d = half(&b[0..2]);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    let mut out = [0f32; 32];
    for j in 0..16 {
        let xh_0 = ((qh >> j) << 4) & 0x10;
        let xh_1 = (qh >> (j + 12)) & 0x10;
        let x0 = ((qs[j] as u32 & 0x0F) | xh_0) as i32 - 16;
        let x1 = ((qs[j] as u32 >> 4) | xh_1) as i32 - 16;
        out[j] = x0 as f32 * d;
        out[j + 16] = x1 as f32 * d;
    }
    y.extend(out);
}

fn get_scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

fn ref_q4_k(b: &[u8], y: &mut Vec<f32>) {
    let d = half(&b[0..2]);
    let min = half(&b[2..4]);
    let scales = &b[4..16];
    let mut q = &b[16..144];
    let mut is = 0;
    for _ in (0..256).step_by(64) {
        let (sc, m) = get_scale_min_k4(is, scales);
        let (d1, m1) = (d * sc as f32, min * m as f32);
        let (sc, m) = get_scale_min_k4(is + 1, scales);
        let (d2, m2) = (d * sc as f32, min * m as f32);
        for l in 0..32 {
            y.push(d1 * (q[l] & 0xF) as f32 - m1);
        }
        for l in 0..32 {
            y.push(d2 * (q[l] >> 4) as f32 - m2);
        }
        q = &q[32..];
        is += 2;
    }
}

fn ref_q6_k(b: &[u8], y: &mut Vec<f32>) {
    let d = half(&b[208..210]);
    let (mut ql, mut qh, mut sc) = (&b[0..128], &b[128..192], &b[192..208]);
    for _ in 0..2 {
        let mut out = [0f32; 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            out[l] = d * sc[is] as i8 as f32 * q1 as f32;
            out[l + 32] = d * sc[is + 2] as i8 as f32 * q2 as f32;
            out[l + 64] = d * sc[is + 4] as i8 as f32 * q3 as f32;
            out[l + 96] = d * sc[is + 6] as i8 as f32 * q4 as f32;
        }
        y.extend(out);
        ql = &ql[64..];
        qh = &qh[32..];
        sc = &sc[8..];
    }
}

#[test]
fn dequant_matches_ggml_reference_loops() {
    let mut r = Rng(11);
    type RefFn = fn(&[u8], &mut Vec<f32>);
    let cases: [(DType, RefFn, &[usize]); 5] = [
        (DType::Q8_0, ref_q8_0, &[0]),
        (DType::Q4_0, ref_q4_0, &[0]),
        (DType::Q5_0, ref_q5_0, &[0]),
        (DType::Q4K, ref_q4_k, &[0, 2]),
        (DType::Q6K, ref_q6_k, &[208]),
    ];
    for (dtype, reference, scales) in cases {
        let (be, bb) = (dtype.block().0 as usize, dtype.block().1 as usize);
        let blocks = 24;
        let mut bytes: Vec<u8> = (0..blocks * bb).map(|_| r.u32() as u8).collect();
        for blk in bytes.chunks_mut(bb) {
            for &o in scales {
                // finite f16 scales of either sign, normal and subnormal
                blk[o + 1] &= 0xBB;
            }
        }
        let mut want = Vec::new();
        for blk in bytes.chunks(bb) {
            reference(blk, &mut want);
        }
        let t = Tensor::from_bytes(dtype, &[2, blocks / 2 * be], bytes).unwrap();
        for backend in [&Cpu::new(Fast) as &dyn Backend, &Cpu::new(Reference)] {
            let got = backend.run(&Op::Dequant, &[&t]).unwrap();
            let got = got.words("dequant").unwrap();
            for (i, (&g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    g,
                    w.to_bits(),
                    "{dtype:?} element {i} on {}: {} vs {w}",
                    backend.name(),
                    f32::from_bits(g)
                );
            }
        }
    }
}
