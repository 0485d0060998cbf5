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
use trace_vm::exec;
use trace_vm::models::gemma::Task;
use trace_vm::models::{Decoder, Encoder, Sampling};

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
    let prompt = dec.tokenizer().encode("Hi");
    let compiled = dec
        .compile(Task::Generate {
            prompt_len: prompt.len(),
            new_tokens: 1,
            sampling: Sampling::Greedy,
        })
        .expect("compile");
    let inputs = dec.inputs(&prompt).expect("inputs");
    let layer = |name: &str| {
        compiled
            .program
            .layers()
            .iter()
            .position(|l| l.name == name)
            .unwrap_or_else(|| panic!("no layer {name}"))
    };
    let (local, global) = (layer("step0.block0"), layer("step0.block5"));
    let cpu = exec::run_with(
        &compiled.program,
        &Cpu::new(Fast),
        &compiled.weights,
        &inputs,
        &[local, global],
    )
    .expect("cpu run");
    assert_eq!(cpu.captured.len(), 2, "both blocks captured");
    for state in &cpu.captured {
        let t = Instant::now();
        let r =
            exec::run_layer(&compiled.program, &gpu, &compiled.weights, state).expect("gpu layer");
        eprintln!(
            "gemma3-270m layer {} on {}: {:.2} s",
            state.index,
            gpu.name(),
            t.elapsed().as_secs_f64()
        );
        assert_eq!(
            r.state_out.root().expect("root"),
            cpu.state_roots[state.index + 1],
            "layer {}",
            state.index
        );
    }
}
