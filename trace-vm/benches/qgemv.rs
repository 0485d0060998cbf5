//! Fused quantized matrix-vector product vs reading the same weight bytes.
//!
//! `cargo bench -p refute-trace-vm --bench qgemv` prints, per quantized dtype
//! and Gemma-3 decode shape (N outputs x K inputs), the time of
//! [`quant_gemv`] on one thread and the time of summing the same weight bytes
//! with the widest vectors the compiler has ("memory read"), side by side
//! with runs alternating; the ratio says how far the kernel is from a pure
//! read of its weights. Each figure is the median of the runs; the weights
//! rotate through copies larger than L3, so both read from memory
//! (`REFUTE_BENCH_HOT=1`: one copy, from cache: the kernel's compute alone).
//! Arguments after `--` name the dtypes to run (`Q8_0`, `Q4K`, ...).

use std::hint::black_box;
use std::time::{Duration, Instant};

use trace_vm::arith::qgemv::quant_gemv;
use trace_vm::commit::DType;

/// (name, N, K)
const SHAPES: [(&str, usize, usize); 3] = [
    ("FFN gate/up", 2048, 640),
    ("FFN down", 640, 2048),
    ("attention q", 1024, 640),
];
const DTYPES: [DType; 5] = [
    DType::Q8_0,
    DType::Q4_0,
    DType::Q5_0,
    DType::Q4K,
    DType::Q6K,
];
/// Bytes of weight copies visited in turn: more than a server's L3, so
/// that every run reads its weights from memory, as a decode step does.
const COPIES_BYTES: usize = 256 << 20;

fn main() {
    let budget = Duration::from_millis(
        std::env::var("REFUTE_BENCH_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(600),
    );
    // `cargo bench --bench qgemv -- Q8_0 Q4K`: only those dtypes.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    println!("fused quantized gemv (refute) vs summing the same weight bytes, 1 thread");
    println!(
        "{:<12} {:<6} {:>12} {:>11} {:>11} {:>9} {:>7}",
        "shape", "dtype", "N x K", "gemv us", "read us", "Gw/s", "ratio"
    );
    for (name, n, k) in SHAPES {
        for dtype in DTYPES {
            let (be, bb) = dtype.block();
            let listed = only.is_empty() || only.iter().any(|o| *o == format!("{dtype:?}"));
            if !listed || !k.is_multiple_of(be as usize) {
                continue;
            }
            let row_bytes = k / be as usize * bb as usize;
            // REFUTE_BENCH_HOT=1: one copy, read from cache: the kernel's compute alone.
            let ncopies = if std::env::var_os("REFUTE_BENCH_HOT").is_some() {
                1
            } else {
                COPIES_BYTES.div_ceil(n * row_bytes)
            };
            let copies: Vec<Vec<u8>> = (0..ncopies as u64)
                .map(|c| weights(c + 1, n * row_bytes, dtype))
                .collect();
            let x = activations(k);
            let mut out = vec![0u32; n];
            let (mut ours, mut read) = (Vec::new(), Vec::new());
            let start = Instant::now();
            let mut i = 0;
            while start.elapsed() < budget || ours.len() < 5 {
                let w = &copies[i % copies.len()];
                ours.push(time(|| {
                    assert!(quant_gemv(dtype, &x, w, &mut out), "no fused kernel here")
                }));
                let w = &copies[(i + copies.len() / 2) % copies.len()];
                read.push(time(|| {
                    black_box(sum_bytes(w));
                }));
                i += 1;
            }
            let (ours, read) = (median(&mut ours), median(&mut read));
            println!(
                "{:<12} {:<6} {:>12} {:>11.1} {:>11.1} {:>9.2} {:>6.2}x",
                name,
                format!("{dtype:?}"),
                format!("{n} x {k}"),
                ours * 1e6,
                read * 1e6,
                (n * k) as f64 / ours / 1e9,
                ours / read
            );
        }
    }
}

fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The bytes summed as u64 words: one add per 8 bytes, vectorized.
fn sum_bytes(b: &[u8]) -> u64 {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .fold(0u64, u64::wrapping_add)
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// Random blocks whose f16 scales are small normal numbers (as in real
/// weights), so no run takes a NaN or infinity path.
fn weights(seed: u64, len: usize, dtype: DType) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut b: Vec<u8> = (0..len).map(|_| xorshift(&mut s) as u8).collect();
    let (_, bb) = dtype.block();
    let scales: &[usize] = match dtype {
        DType::Q4K => &[0, 2],
        DType::Q6K => &[208],
        _ => &[0],
    };
    for block in b.chunks_mut(bb as usize) {
        for &at in scales {
            // 0x2000..0x23ff: f16 values around 0.008.
            block[at] = xorshift(&mut s) as u8;
            block[at + 1] = 0x20 | (xorshift(&mut s) as u8 & 3);
        }
    }
    b
}

/// Activation-like values in [-2, 2).
fn activations(len: usize) -> Vec<u32> {
    let mut s = 7u64;
    (0..len)
        .map(|_| (((xorshift(&mut s) >> 40) as f32 / 8_388_608.0 - 1.0) * 2.0).to_bits())
        .collect()
}
