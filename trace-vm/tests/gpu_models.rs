//! Real models on the GPU backend give the CPU path's trace: MiniLM on a
//! short sentence (every state root, the trace root and the embedding), and
//! one local and one global Gemma-3 block re-executed on the GPU from the CPU
//! run's boundary states (lavapipe is far slower than the CPU, so the whole
//! 262k-row output layer stays out of the normal suite). Without a Vulkan
//! adapter the tests say so loudly and return; CI installs lavapipe.

mod common;
#[path = "fixtures/support.rs"]
mod support;

use std::time::Instant;

use trace_vm::arith::Fast;
use trace_vm::backend::{Backend, Cpu};
use trace_vm::models::{Decoder, Encoder};

#[test]
fn minilm_trace_root_equals_cpu() {
    let Some(dir) = support::model("minilm-l6") else {
        return;
    };
    let Some(gpu) = common::gpu() else { return };
    let enc = Encoder::open(&dir).expect("open minilm-l6");
    let text = "the cat sat";
    let compiled = enc
        .compile(enc.tokenize(text).expect("tokenize").len())
        .expect("compile");
    let t = Instant::now();
    let cpu = enc.embed(&compiled, &Cpu::new(Fast), text).expect("cpu");
    let cpu_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let on_gpu = enc.embed(&compiled, &gpu, text).expect("gpu");
    eprintln!(
        "minilm-l6 {:?} ({} tokens): {} {:.2} s, cpu-fast {cpu_s:.2} s",
        text,
        cpu.ids.len(),
        gpu.name(),
        t.elapsed().as_secs_f64()
    );
    assert_eq!(on_gpu.run.state_roots, cpu.run.state_roots);
    assert_eq!(on_gpu.run.trace_root, cpu.run.trace_root);
    assert_eq!(on_gpu.vector, cpu.vector);
}

#[test]
fn gemma3_blocks_equal_cpu() {
    let Some(dir) = support::model("gemma3-270m") else {
        return;
    };
    let Some(gpu) = common::gpu() else { return };
    let dec = Decoder::open(dir.join("model.gguf")).expect("open gemma3-270m");
    support::gemma_blocks_agree(&dec, &gpu);
}
