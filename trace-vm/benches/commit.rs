//! Commitment hashing speed per leaf size (SPEC.md, "Leaf size").
//!
//! Hashes 26 MB (MiniLM-at-128-tokens-sized activations) into a data root with
//! leaf sizes 32..1024 B, on one thread and on every core, and prints the
//! one-step calldata per operand proof for a typical tensor at each leaf size.
//!
//! Run: `cargo bench -p refute-trace-vm --bench commit`

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use trace_vm::commit::merkle::depth_for;
use trace_vm::commit::tensor::{data_root_threads, leaf_count};

const BYTES: usize = 26 << 20;
const LEAVES: [usize; 6] = [32, 64, 128, 256, 512, 1024];

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..BYTES)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
        .collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut g = c.benchmark_group("data_root_26MiB");
    g.throughput(Throughput::Bytes(BYTES as u64));
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_millis(500));
    g.measurement_time(std::time::Duration::from_secs(3));
    for leaf in LEAVES {
        g.bench_function(format!("leaf{leaf}/1thread"), |b| {
            b.iter(|| data_root_threads(black_box(&data), leaf, 1))
        });
        if threads > 1 {
            g.bench_function(format!("leaf{leaf}/{threads}threads"), |b| {
                b.iter(|| data_root_threads(black_box(&data), leaf, threads))
            });
        }
    }
    g.finish();
    // keccak bulk speed, for reference
    let mut g = c.benchmark_group("keccak256_bulk");
    g.throughput(Throughput::Bytes(BYTES as u64));
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(2));
    g.bench_function("26MiB", |b| {
        b.iter(|| trace_vm::commit::keccak256(black_box(&data)))
    });
    g.finish();

    // Best-of-7 wall time per leaf size: robust to other load on the machine.
    println!("\nbest of 7 runs, 26 MiB, one thread (and {threads} threads):");
    println!(
        "{:>6} {:>12} {:>12} {:>12}",
        "leaf", "MiB/s", "MiB/s par", "vs bulk"
    );
    let best = |f: &dyn Fn() -> [u8; 32]| {
        (0..7)
            .map(|_| {
                let t = std::time::Instant::now();
                black_box(f());
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mib = BYTES as f64 / (1 << 20) as f64;
    let bulk = mib / best(&|| trace_vm::commit::keccak256(&data));
    for leaf in LEAVES {
        let one = mib / best(&|| data_root_threads(&data, leaf, 1));
        let par = mib / best(&|| data_root_threads(&data, leaf, threads));
        println!(
            "{leaf:>6} {one:>12.1} {par:>12.1} {:>11.0}%",
            100.0 * one / bulk
        );
    }
    println!("{:>6} {bulk:>12.1}", "bulk");

    println!("\none-step calldata per operand proof (leaf + 32 B x depth + 32 B index):");
    println!(
        "{:>6} {:>22} {:>22} {:>22}",
        "leaf", "768 KiB tensor", "64 KiB tensor", "1 GiB tensor"
    );
    for leaf in LEAVES {
        let cd = |bytes: u64| {
            let d = depth_for(leaf_count(bytes, leaf));
            format!("d={d:2} {:5} B", leaf + 32 * d + 32)
        };
        println!(
            "{leaf:>6} {:>22} {:>22} {:>22}",
            cd(768 << 10),
            cd(64 << 10),
            cd(1 << 30)
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
