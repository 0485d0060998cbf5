//! Fast vs reference throughput per primitive (ns/op), the transcendental
//! programs, and the dot kernels.
//!
//! Run: `cargo bench -p refute-trace-vm --bench arith`

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use trace_vm::arith::kernels::{dot_avx2, dot_portable};
use trace_vm::arith::transcendental::{Func, map_fast, map_portable};
use trace_vm::arith::{Arith, Fast, Prim, Reference};

const N: usize = 4096;

fn operands() -> Vec<[u32; 3]> {
    let mut x: u64 = 0x1234_5678;
    (0..N)
        .map(|_| {
            let mut v = [0u32; 3];
            for w in &mut v {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                // ordinary values in ±[2^-20, 2^20]
                let e = 107 + ((x >> 40) % 40) as u32;
                *w = ((x >> 63) as u32) << 31 | e << 23 | ((x >> 8) as u32 & 0x7F_FFFF);
            }
            v
        })
        .collect()
}

fn run<A: Arith>(a: &A, p: Prim, ops: &[[u32; 3]]) -> u32 {
    let mut acc = 0u32;
    for o in ops {
        acc ^= a.eval(p, black_box(*o));
    }
    acc
}

fn bench(c: &mut Criterion) {
    let ops = operands();
    let mut g = c.benchmark_group("prim");
    g.throughput(Throughput::Elements(N as u64));
    g.warm_up_time(std::time::Duration::from_millis(200));
    g.measurement_time(std::time::Duration::from_millis(600));
    g.sample_size(20);
    for &p in Prim::ALL {
        g.bench_function(format!("{p}/fast"), |b| b.iter(|| run(&Fast, p, &ops)));
        g.bench_function(format!("{p}/reference"), |b| {
            b.iter(|| run(&Reference, p, &ops))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("func");
    g.throughput(Throughput::Elements(N as u64));
    g.warm_up_time(std::time::Duration::from_millis(200));
    g.measurement_time(std::time::Duration::from_millis(600));
    g.sample_size(20);
    for f in Func::ALL {
        g.bench_function(format!("{f}/fast"), |b| {
            b.iter(|| {
                ops.iter()
                    .fold(0u32, |a, o| a ^ f.eval(&Fast, black_box(o[0])))
            })
        });
        let xs: Vec<u32> = ops.iter().map(|o| o[0]).collect();
        let mut out = vec![0u32; N];
        g.bench_function(format!("{f}/map_fast"), |b| {
            b.iter(|| map_fast(f, black_box(&xs), &mut out))
        });
        g.bench_function(format!("{f}/map_portable"), |b| {
            b.iter(|| map_portable(f, black_box(&xs), &mut out))
        });
        g.bench_function(format!("{f}/reference"), |b| {
            b.iter(|| {
                ops.iter()
                    .fold(0u32, |a, o| a ^ f.eval(&Reference, black_box(o[0])))
            })
        });
    }
    g.finish();

    let a: Vec<u32> = ops.iter().map(|o| o[0]).collect();
    let bv: Vec<u32> = ops.iter().map(|o| o[1]).collect();
    let mut g = c.benchmark_group("dot4096");
    g.throughput(Throughput::Elements(N as u64));
    g.warm_up_time(std::time::Duration::from_millis(200));
    g.measurement_time(std::time::Duration::from_millis(600));
    g.sample_size(20);
    if dot_avx2(&a, &bv).is_some() {
        g.bench_function("avx2", |b| {
            b.iter(|| dot_avx2(black_box(&a), black_box(&bv)))
        });
    }
    g.bench_function("portable", |b| {
        b.iter(|| dot_portable(black_box(&a), black_box(&bv)))
    });
    g.bench_function("reference", |b| {
        b.iter(|| Reference.dot(black_box(&a), black_box(&bv)))
    });
    g.finish();
}

/// Best-of-9 ns per element of `f` run over 4096 elements 20 times (robust to other load).
fn best_ns(f: &mut dyn FnMut() -> u32) -> f64 {
    (0..9)
        .map(|_| {
            let t = std::time::Instant::now();
            for _ in 0..20 {
                black_box(f());
            }
            t.elapsed().as_secs_f64() * 1e9 / (20 * N) as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn summary(_c: &mut Criterion) {
    let ops = operands();
    println!("\nns per op, best of 9 (fast, reference, reference/fast):");
    for &p in Prim::ALL {
        let f = best_ns(&mut || run(&Fast, p, &ops));
        let r = best_ns(&mut || run(&Reference, p, &ops));
        println!("{:>12} {f:8.2} {r:8.2} {:7.1}x", p.name(), r / f);
    }
    let xs: Vec<u32> = ops.iter().map(|o| o[0]).collect();
    let mut out = vec![0u32; N];
    println!("\nns per element (eval(Fast), map_fast, map_portable, reference):");
    for f in Func::ALL {
        let e = best_ns(&mut || {
            xs.iter()
                .fold(0u32, |a, &x| a ^ f.eval(&Fast, black_box(x)))
        });
        let m = best_ns(&mut || {
            let _ = map_fast(f, &xs, &mut out);
            out[0]
        });
        let mp = best_ns(&mut || {
            let mut o = vec![0u32; N];
            map_portable(f, &xs, &mut o);
            o[0]
        });
        let r = best_ns(&mut || {
            xs.iter()
                .fold(0u32, |a, &x| a ^ f.eval(&Reference, black_box(x)))
        });
        println!("{:>12} {e:8.2} {m:8.2} {mp:8.2} {r:8.2}", f.name());
    }
    let bv: Vec<u32> = ops.iter().map(|o| o[1]).collect();
    println!("\nns per element of a 4096-long dot (avx2, portable, reference):");
    let a2 = best_ns(&mut || dot_avx2(&xs, &bv).and_then(|r| r.ok()).unwrap_or(0));
    let po = best_ns(&mut || dot_portable(&xs, &bv).unwrap_or(0));
    let re = best_ns(&mut || Reference.dot(&xs, &bv).unwrap_or(0));
    println!("{a2:8.3} {po:8.3} {re:8.3}");
}

criterion_group!(benches, bench, summary);
criterion_main!(benches);
