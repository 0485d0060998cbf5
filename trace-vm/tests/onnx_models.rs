//! Models C (paraphrase-MiniLM-L3, opset 17) and E (magika, opset 15)
//! compiled from their ONNX files and run in the VM: compilation is
//! deterministic, the fast and reference backends agree on the trace root,
//! and magika classifies source files correctly (an end-to-end check that
//! does not depend on the code under test: the label comes from the model),
//! and both agree with onnxruntime (`tests/fixtures/onnx_*.json`, written by
//! `scripts/reference/onnx_reference.py`).
//!
//! Tolerance against onnxruntime: `|vm - ort| <= 1e-4 + 1e-3 * |ort|`. Both
//! compute in binary32 but in different orders (the VM's canonical tree
//! reductions vs MLAS's blocked kernels) and with different exp/erf/tanh
//! approximations (the VM's are within a few ulps); ONNX's own backend
//! runner allows `rtol = 1e-3`, and the absolute term covers outputs near 0
//! (probabilities of unlikely labels, embedding components) where relative
//! error is meaningless. The observed maximum is printed.

mod format_common;

use trace_vm::arith::{Fast, Reference};
use trace_vm::backend::Cpu;
use trace_vm::format::onnx::OnnxModel;
use trace_vm::onnx;
use trace_vm::tensor::Tensor;

fn open(dir: &str) -> Option<OnnxModel> {
    let path = format_common::installed(&format!("{dir}/model.onnx"))?;
    Some(OnnxModel::open(path).expect("installed model parses"))
}

/// magika's input: the first and last 1024 bytes (padded with token 256).
fn magika_input(bytes: &[u8]) -> Vec<i32> {
    const HALF: usize = 1024;
    const PAD: i32 = 256;
    let trimmed = bytes.trim_ascii();
    let mut beg: Vec<i32> = trimmed.iter().take(HALF).map(|&b| i32::from(b)).collect();
    beg.resize(HALF, PAD);
    let tail = &trimmed[trimmed.len().saturating_sub(HALF)..];
    let mut end = vec![PAD; HALF - tail.len()];
    end.extend(tail.iter().map(|&b| i32::from(b)));
    [beg, end].concat()
}

fn labels() -> Vec<String> {
    let path = format_common::installed("magika/config.json").expect("config next to the model");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("config is readable"))
            .expect("config is JSON");
    cfg["target_labels_space"]
        .as_array()
        .expect("label list")
        .iter()
        .map(|v| v.as_str().expect("label").to_string())
        .collect()
}

#[test]
fn magika_classifies_source_files_and_backends_agree() {
    let Some(model) = open("magika") else {
        return;
    };
    let compiled = onnx::compile(&model, &[vec![1, 2048]]).expect("magika compiles");
    let again = onnx::compile(&model, &[vec![1, 2048]]).expect("magika compiles");
    assert_eq!(compiled.program.hash(), again.program.hash());
    assert_eq!(
        compiled.model_root().expect("root"),
        again.model_root().expect("root")
    );
    assert!(compiled.program.layers().len() > 1, "boundary states exist");
    let labels = labels();
    let sources = [
        (include_bytes!("onnx_models.rs").as_slice(), "rust"),
        (
            include_bytes!("../../scripts/reference/common.py").as_slice(),
            "python",
        ),
    ];
    for (bytes, want) in sources {
        let input = Tensor::i32(&[1, 2048], &magika_input(bytes)).expect("input");
        let fast = compiled
            .run(&Cpu::new(Fast), std::slice::from_ref(&input))
            .expect("fast run");
        let probs = fast.outputs[0].words("probs").expect("F32 output");
        assert_eq!(probs.len(), labels.len());
        let p: Vec<f32> = probs.iter().map(|&b| f32::from_bits(b)).collect();
        let sum: f32 = p.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "softmax sums to {sum}");
        let best = (0..p.len())
            .max_by(|&a, &b| p[a].total_cmp(&p[b]))
            .expect("labels");
        assert_eq!(labels[best], want, "p = {}", p[best]);
        // The reference backend is slow in debug builds: one file is enough
        // to compare traces.
        if want != "rust" {
            continue;
        }
        let reference = compiled
            .run(&Cpu::new(Reference), &[input])
            .expect("reference run");
        assert_eq!(
            fast.trace_root, reference.trace_root,
            "fast and reference traces differ"
        );
        assert_eq!(fast.outputs, reference.outputs);
    }
}

#[test]
fn paraphrase_minilm_l3_runs_and_backends_agree() {
    let Some(model) = open("paraphrase-minilm-l3") else {
        return;
    };
    let t = 6;
    let compiled = onnx::compile(&model, &[vec![1, t], vec![1, t]]).expect("model C compiles");
    assert_eq!(compiled.inputs, ["input_ids", "attention_mask"]);
    assert!(compiled.program.layers().len() > 3, "boundary states exist");
    // "[CLS] hello world [SEP]" and two padding positions.
    let ids = Tensor::i32(&[1, t], &[101, 7592, 2088, 102, 0, 0]).expect("ids");
    let mask = Tensor::i32(&[1, t], &[1, 1, 1, 1, 0, 0]).expect("mask");
    let fast = compiled
        .run(&Cpu::new(Fast), &[ids.clone(), mask.clone()])
        .expect("fast run");
    let at = |name: &str| {
        compiled
            .outputs
            .iter()
            .position(|o| o == name)
            .expect("output")
    };
    let pooled = fast.outputs[at("461")].words("pooled").expect("F32");
    assert_eq!(fast.outputs[at("461")].shape(), [1, 384]);
    let v: Vec<f32> = pooled.iter().map(|&b| f32::from_bits(b)).collect();
    assert!(v.iter().all(|x| x.is_finite()) && v.iter().any(|&x| x != 0.0));
    // Padding is masked out: changing a padded token does not move the embedding.
    let ids2 = Tensor::i32(&[1, t], &[101, 7592, 2088, 102, 999, 0]).expect("ids");
    let other = compiled
        .run(&Cpu::new(Fast), &[ids2, mask.clone()])
        .expect("run");
    let o: Vec<f32> = other.outputs[at("461")]
        .words("pooled")
        .expect("F32")
        .iter()
        .map(|&b| f32::from_bits(b))
        .collect();
    let drift = v
        .iter()
        .zip(&o)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(drift < 1e-6, "masked token moved the embedding by {drift}");
    let reference = compiled
        .run(&Cpu::new(Reference), &[ids, mask])
        .expect("reference run");
    assert_eq!(fast.trace_root, reference.trace_root);
}

const RTOL: f32 = 1e-3;
const ATOL: f32 = 1e-4;

fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).expect("fixture is committed"))
        .expect("fixture is JSON")
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn ints(v: &serde_json::Value) -> Vec<i32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| i32::try_from(x.as_i64().expect("integer")).expect("fits i32"))
        .collect()
}

/// Assert `got` within tolerance of `want`; returns the largest absolute difference.
fn close(what: &str, got: &Tensor, want: &[f32]) -> f32 {
    let g: Vec<f32> = got
        .words(what)
        .expect("F32")
        .iter()
        .map(|&b| f32::from_bits(b))
        .collect();
    assert_eq!(g.len(), want.len(), "{what}: length");
    let mut worst = 0.0f32;
    for (i, (&a, &b)) in g.iter().zip(want).enumerate() {
        let d = (a - b).abs();
        assert!(
            d <= ATOL + RTOL * b.abs(),
            "{what}[{i}]: vm {a} onnxruntime {b}"
        );
        worst = worst.max(d);
    }
    eprintln!("{what}: max |vm - onnxruntime| = {worst:e}");
    worst
}

#[test]
fn magika_matches_onnxruntime() {
    let Some(model) = open("magika") else {
        return;
    };
    let compiled = onnx::compile(&model, &[vec![1, 2048]]).expect("magika compiles");
    let fx = fixture("onnx_magika.json");
    for case in fx["cases"].as_array().expect("cases") {
        let input = Tensor::i32(&[1, 2048], &ints(&case["input"])).expect("input");
        let run = compiled.run(&Cpu::new(Fast), &[input]).expect("run");
        close(
            case["file"].as_str().expect("name"),
            &run.outputs[0],
            &floats(&case["probs"]),
        );
    }
}

#[test]
fn paraphrase_minilm_l3_matches_onnxruntime() {
    let Some(model) = open("paraphrase-minilm-l3") else {
        return;
    };
    let fx = fixture("onnx_minilm_l3.json");
    let (ids, mask) = (ints(&fx["input_ids"]), ints(&fx["attention_mask"]));
    let t = ids.len();
    let compiled = onnx::compile(&model, &[vec![1, t], vec![1, t]]).expect("model C compiles");
    let run = compiled
        .run(
            &Cpu::new(Fast),
            &[
                Tensor::i32(&[1, t], &ids).expect("ids"),
                Tensor::i32(&[1, t], &mask).expect("mask"),
            ],
        )
        .expect("run");
    let at = compiled
        .outputs
        .iter()
        .position(|o| o == "461")
        .expect("pooled output");
    close("pooled", &run.outputs[at], &floats(&fx["pooled"]));
}
