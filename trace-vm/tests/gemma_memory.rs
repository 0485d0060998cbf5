//! Gemma-3 270M generates in under 1.5 GiB resident: quantized weights stay
//! quantized in memory (the matmuls and the embedding gather read their
//! blocks in place; no F32 copy of a weight, not even of the 262144 x 640
//! output table, is made). A test binary of its own, so that the peak
//! resident size (`VmHWM`) is this run's alone.

#[path = "fixtures/support.rs"]
mod support;

use trace_vm::arith::Fast;
use trace_vm::backend::Cpu;
use trace_vm::models::gemma::Task;
use trace_vm::models::{Decoder, Sampling};

const LIMIT_KIB: u64 = 1536 * 1024;

/// The process's peak resident size in KiB, where the platform reports it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line["VmHWM:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[test]
fn generation_stays_under_1_5_gib_resident() {
    let Some(dir) = support::model("gemma3-270m") else {
        return;
    };
    if peak_rss_kib().is_none() {
        eprintln!(
            "\n*** SKIPPED: this platform has no /proc/self/status VmHWM; peak resident memory cannot be read ***\n"
        );
        return;
    }
    let dec = Decoder::open(dir.join("model.gguf")).expect("open gemma3-270m");
    let prompt = dec.tokenizer().encode("Once upon a time");
    let compiled = dec
        .compile(Task::Generate {
            prompt_len: prompt.len(),
            new_tokens: 2,
            sampling: Sampling::Greedy,
        })
        .expect("compile");
    let run = compiled
        .run(&Cpu::new(Fast), &dec.inputs(&prompt).expect("inputs"))
        .expect("run");
    assert_eq!(run.outputs.len(), 2, "one output per generated token");
    let peak = peak_rss_kib().expect("VmHWM was readable before the run");
    eprintln!(
        "peak resident: {} MiB (weights held: {} MiB)",
        peak / 1024,
        compiled.weight_bytes() >> 20
    );
    assert!(
        peak < LIMIT_KIB,
        "peak resident {} MiB is over the 1.5 GiB budget",
        peak / 1024
    );
}
