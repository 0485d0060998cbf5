//! Deterministic matmul vs the `matrixmultiply` crate's sgemm, side by side.
//!
//! `cargo bench -p refute-trace-vm --bench matmul` prints, per shape from the
//! target models (M x K x N: M tokens, K inputs, N outputs), the throughput of
//! both in GFLOP/s on one thread, their ratio, and whether Refute's result is
//! bit-identical to the SoftFloat reference (checked on sampled elements:
//! the reference runs one primitive at a time). Runs alternate between the two
//! implementations so that machine noise hits both alike; each figure is the
//! median of the runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use trace_vm::arith::Reference;
use trace_vm::arith::gemm::gemm_nt;
use trace_vm::arith::kernels::dot;

/// (name, M, K, N)
const SHAPES: [(&str, usize, usize, usize); 5] = [
    ("MiniLM FFN up, 128 tokens", 128, 384, 1536),
    ("MiniLM FFN down, 128 tokens", 128, 1536, 384),
    ("MiniLM attention proj, 128 tokens", 128, 384, 384),
    ("Gemma-3 FFN up, decode", 1, 640, 2048),
    ("Gemma-3 output layer, decode", 1, 640, 262_144),
];
const SAMPLED_ELEMENTS: usize = 256;

fn main() {
    let budget = Duration::from_millis(
        std::env::var("REFUTE_BENCH_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1500),
    );
    println!(
        "deterministic matmul (refute) vs matrixmultiply::sgemm, 1 thread, median of alternating runs"
    );
    println!(
        "{:<36} {:>18} {:>12} {:>12} {:>7}  bits vs SoftFloat",
        "shape", "M x K x N", "refute GF/s", "sgemm GF/s", "ratio"
    );
    for (name, m, k, n) in SHAPES {
        let a = data(1, m * k);
        let b = data(2, n * k);
        let mut c = vec![0u32; m * n];
        let af: Vec<f32> = a.iter().map(|&x| f32::from_bits(x)).collect();
        let bf: Vec<f32> = b.iter().map(|&x| f32::from_bits(x)).collect();
        let mut cf = vec![0f32; m * n];

        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        let start = Instant::now();
        while start.elapsed() < budget || ours.len() < 3 {
            ours.push(time(|| {
                gemm_nt(m, n, k, &a, &b, &mut c).expect("shapes match")
            }));
            theirs.push(time(|| sgemm_nt(m, n, k, &af, &bf, &mut cf)));
        }
        let flops = 2.0 * (m * n * k) as f64;
        let ours = flops / median(&mut ours) / 1e9;
        let theirs = flops / median(&mut theirs) / 1e9;
        let identical = (0..SAMPLED_ELEMENTS).all(|s| {
            let e = s * 7919 % (m * n);
            let (i, j) = (e / n, e % n);
            c[e] == dot(&Reference, &a[i * k..][..k], &b[j * k..][..k]).expect("same length")
        });
        println!(
            "{:<36} {:>18} {:>12.1} {:>12.1} {:>6.2}x  {}",
            name,
            format!("{m} x {k} x {n}"),
            ours,
            theirs,
            ours / theirs,
            if identical { "identical" } else { "DIFFERENT" }
        );
        assert!(
            identical,
            "{name}: deterministic matmul differs from the reference"
        );
    }
}

/// `C = A · Bᵀ` with matrixmultiply: B is `n x k` row-major, read as its transpose by strides.
fn sgemm_nt(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    // SAFETY: the pointers and strides describe the slices' own m x k, k x n
    // (B transposed) and m x n extents.
    #[allow(unsafe_code)]
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

fn time(mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    black_box(());
    t.elapsed().as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Activation-like values in [-2, 2), deterministic.
fn data(seed: u64, len: usize) -> Vec<u32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (((s >> 40) as f32 / 8_388_608.0 - 1.0) * 2.0).to_bits()
        })
        .collect()
}
