//! Element programs of the `map` op: the scalar `Fast` evaluation (one element
//! at a time, the path the CPU backend used before) against the 8-lane row
//! path (`MapFn::eval_row`), single thread, run alternately, medians printed
//! side by side with the ratio. Every run also checks the two agree bit for bit.
//!
//! Run: `cargo bench -p refute-trace-vm --bench map`

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;
use trace_vm::arith::transcendental::Func;
use trace_vm::arith::{Fast, Prim};
use trace_vm::ops::MapFn;

/// Elements per row (a MiniLM FFN activation row is 1536 wide).
const N: usize = 1536;
/// Rows per timed run.
const ROWS: usize = 64;
/// Alternating timed runs per side.
const RUNS: usize = 15;

fn inputs(seed: u64) -> Vec<u32> {
    let mut s = seed | 1;
    (0..N)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // |x| in [2^-6, 2^4): typical activations.
            let r = (s >> 32) as u32;
            (r & 0x8000_0000) | ((121 + (r >> 23) % 10) << 23) | (r & 0x7F_FFFF)
        })
        .collect()
}

fn scalar(f: MapFn, xs: &[&[u32]], out: &mut [u32]) {
    let mut args = [0u32; 4];
    for (i, o) in out.iter_mut().enumerate() {
        for (k, x) in xs.iter().enumerate() {
            args[k] = x[i];
        }
        *o = f.eval(&Fast, &args[..xs.len()]);
    }
}

fn median_ns(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let fns = [
        MapFn::Prim(Prim::Add),
        MapFn::PrimConst(Prim::Mul, 0x3E00_0000),
        MapFn::Prim(Prim::Div),
        MapFn::Func(Func::Exp),
        MapFn::Func(Func::Tanh),
        MapFn::Func(Func::Silu),
        MapFn::ExpSub,
        MapFn::RsqrtEps(0x3727_C5AC),
        MapFn::GeluErf,
        MapFn::GeluTanh,
        MapFn::GeGlu,
        MapFn::NormAffine,
    ];
    let data: Vec<Vec<u32>> = (0..4).map(|k| inputs(k as u64 + 11)).collect();
    println!(
        "{:<22} {:>14} {:>14} {:>8}",
        "map fn", "scalar ns/elem", "8-lane ns/elem", "speedup"
    );
    for f in fns {
        let xs: Vec<&[u32]> = data[..f.arity()].iter().map(|v| v.as_slice()).collect();
        let (base, step) = (vec![0; xs.len()], vec![1; xs.len()]);
        let (mut a, mut b) = (vec![0u32; N], vec![0u32; N]);
        scalar(f, &xs, &mut a);
        f.eval_row(&xs, &base, &step, &mut b);
        assert_eq!(a, b, "{}: 8-lane row differs from scalar", f.name());
        let (mut ts, mut tv) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let t = Instant::now();
            for _ in 0..ROWS {
                scalar(f, black_box(&xs), black_box(&mut a));
            }
            ts.push(t.elapsed().as_nanos() as f64 / (ROWS * N) as f64);
            let t = Instant::now();
            for _ in 0..ROWS {
                f.eval_row(black_box(&xs), &base, &step, black_box(&mut b));
            }
            tv.push(t.elapsed().as_nanos() as f64 / (ROWS * N) as f64);
        }
        let (s, v) = (median_ns(&mut ts), median_ns(&mut tv));
        println!("{:<22} {:>14.2} {:>14.2} {:>7.2}x", f.name(), s, v, s / v);
    }
}
