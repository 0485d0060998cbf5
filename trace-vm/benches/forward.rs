//! Claim-time commitment cost against the forward pass, side by side.
//!
//! `cargo bench -p refute-trace-vm --bench forward` runs, on `Cpu<Fast>`
//! with every core, MiniLM-L6 over 128 tokens and one Gemma-3 270M decode
//! step, and prints the forward time, the time spent hashing the boundary
//! states (what a claimer computes at claim time, SPEC 6.6) and their ratio,
//! plus Gemma's decode speed and this process's peak resident memory.
//!
//! The hashing time is measured on the run's own boundary states: every
//! tensor that enters a state is hashed once, as `exec::run` does. A decode
//! step is the difference between programs of 2 and 1 generated tokens over
//! the same prompt. Each figure is the median of `REFUTE_BENCH_RUNS` runs
//! (default 3). Models come from `scripts/setup`; a missing model is reported
//! and its row skipped.

use std::collections::HashSet;
use std::time::Instant;

use trace_vm::arith::Fast;
use trace_vm::backend::Cpu;
use trace_vm::exec;
use trace_vm::format::models_dir;
use trace_vm::models::gemma::Task;
use trace_vm::models::{Compiled, Decoder, Encoder, Sampling};
use trace_vm::tensor::Tensor;

const TEXT: &str = "Refute makes machine learning inference refutable: a claim \
    commits to the model, the input and a trace root, and anyone who disagrees \
    bisects the trace down to one primitive step that a contract re-executes. ";

/// Forward seconds (hashing included) and hashing seconds of one run.
fn measure(c: &Compiled, inputs: &[Tensor]) -> (f64, f64) {
    let backend = Cpu::new(Fast);
    let t = Instant::now();
    let run = c.run(&backend, inputs).expect("run");
    let total = t.elapsed().as_secs_f64();
    let states: Vec<usize> = (0..run.state_roots.len()).collect();
    let captured = exec::run_with(&c.program, &backend, &c.weights, inputs, &states)
        .expect("run with states")
        .captured;
    let mut seen = HashSet::new();
    let t = Instant::now();
    for state in &captured {
        for (id, x) in &state.tensors {
            if seen.insert(*id) {
                std::hint::black_box(x.root().expect("root"));
            }
        }
    }
    (total, t.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median (forward, hashing) seconds over `runs` runs of `f`.
fn medians(runs: usize, mut f: impl FnMut() -> (f64, f64)) -> (f64, f64) {
    let (a, b): (Vec<f64>, Vec<f64>) = (0..runs).map(|_| f()).unzip();
    (median(a), median(b))
}

fn row(name: &str, (total, hash): (f64, f64)) {
    let forward = total - hash;
    println!(
        "{name:<34} {forward:>10.3} {hash:>10.4} {:>8.2}%",
        100.0 * hash / forward
    );
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".into())
}

fn main() {
    let runs = std::env::var("REFUTE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "claim-time boundary hashing vs forward pass, cpu-fast, {threads} threads, median of {runs}"
    );
    println!(
        "{:<34} {:>10} {:>10} {:>9}",
        "workload", "forward s", "hashing s", "hash/fwd"
    );
    let dir = models_dir();
    match Encoder::open(dir.join("minilm-l6")) {
        Ok(enc) => {
            let c = enc.compile(128).expect("compile MiniLM at 128 tokens");
            let ids = enc.tokenize(&TEXT.repeat(6)).expect("tokenize");
            let inputs = enc.inputs(&ids[..128.min(ids.len())], 128).expect("inputs");
            row(
                "MiniLM-L6, 128 tokens",
                medians(runs, || measure(&c, &inputs)),
            );
        }
        Err(e) => eprintln!("*** MiniLM-L6 row skipped: {e}; run scripts/setup ***"),
    }
    match Decoder::open(dir.join("gemma3-270m").join("model.gguf")) {
        Ok(dec) => {
            let prompt = dec.tokenizer().encode("Once upon a time");
            let inputs = dec.inputs(&prompt).expect("inputs");
            let compile = |new_tokens| {
                dec.compile(Task::Generate {
                    prompt_len: prompt.len(),
                    new_tokens,
                    sampling: Sampling::Greedy,
                })
                .expect("compile Gemma-3")
            };
            let (one, two) = (compile(1), compile(2));
            let step = medians(runs, || {
                let (t1, h1) = measure(&one, &inputs);
                let (t2, h2) = measure(&two, &inputs);
                (t2 - t1, h2 - h1)
            });
            row("Gemma-3 270M, one decode step", step);
            println!("Gemma-3 decode: {:.2} tokens/s", 1.0 / step.0);
        }
        Err(e) => eprintln!("*** Gemma-3 row skipped: {e}; run scripts/setup ***"),
    }
    println!("peak resident memory of this process: {}", peak_rss());
}
