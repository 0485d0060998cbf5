//! MiniLM-L6 (model A) in the VM against the sentence-transformers reference
//! (`tests/fixtures/minilm-l6.json`, written by `scripts/reference/make-fixtures minilm`).
//!
//! Debug builds embed every fixture sentence with a program sized to the
//! sentence; release builds (or `REFUTE_SLOW=1`) also run the canonical
//! 128-token program the model commitment is computed from.

#[path = "fixtures/support.rs"]
mod support;

use serde::Deserialize;
use trace_vm::arith::{Fast, Reference};
use trace_vm::backend::Cpu;
use trace_vm::models::{self, Encoder};

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn setup() -> Option<(Encoder, Fixture)> {
    let dir = support::model("minilm-l6")?;
    let enc = Encoder::open(&dir).expect("open minilm-l6");
    Some((enc, support::fixture("minilm-l6.json")))
}

#[test]
fn tokenizer_ids_match_reference() {
    let Some((enc, fx)) = setup() else { return };
    assert!(fx.cases.len() >= 20);
    for c in &fx.cases {
        assert_eq!(
            enc.tokenize(&c.text).expect("tokenize"),
            c.ids,
            "token ids of {:?}",
            c.text
        );
    }
}

#[test]
fn embeddings_match_reference() {
    let Some((enc, fx)) = setup() else { return };
    let backend = Cpu::new(Fast);
    let canonical = support::full_size().then(|| enc.canonical().expect("compile at 128"));
    let mut worst = 1.0f64;
    for c in &fx.cases {
        let compiled = enc.compile(c.ids.len()).expect("compile");
        let e = enc.embed(&compiled, &backend, &c.text).expect("embed");
        assert_eq!(e.ids, c.ids);
        let cos = support::cosine(&e.vector, &c.embedding);
        assert!(cos >= 0.9999, "cosine {cos} for {:?}", c.text);
        worst = worst.min(cos);
        if let Some(canonical) = &canonical {
            // Padding to 128 tokens must not move the embedding.
            let padded = enc
                .embed(canonical, &backend, &c.text)
                .expect("embed at 128");
            let cos = support::cosine(&padded.vector, &c.embedding);
            assert!(cos >= 0.9999, "cosine {cos} at 128 tokens for {:?}", c.text);
        }
    }
    eprintln!(
        "minilm-l6: {} sentences, worst cosine vs reference {worst:.8}",
        fx.cases.len()
    );
}

#[test]
fn fast_and_reference_backends_give_the_same_trace() {
    let Some((enc, _)) = setup() else { return };
    let text = "a b";
    let compiled = enc
        .compile(enc.tokenize(text).expect("tokenize").len())
        .expect("compile");
    let fast = enc.embed(&compiled, &Cpu::new(Fast), text).expect("fast");
    let reference = enc
        .embed(&compiled, &Cpu::new(Reference), text)
        .expect("reference");
    assert_eq!(fast.run.state_roots, reference.run.state_roots);
    assert_eq!(fast.run.trace_root, reference.run.trace_root);
    assert_eq!(fast.vector, reference.vector);
}

#[test]
fn commitment_is_a_function_of_the_files() {
    let Some(dir) = support::model("minilm-l6") else {
        return;
    };
    let a = Encoder::open(&dir)
        .expect("open")
        .canonical()
        .expect("compile");
    let b = Encoder::open(&dir)
        .expect("open")
        .canonical()
        .expect("compile");
    assert_eq!(a.program.hash(), b.program.hash());
    assert_eq!(a.model_root().expect("root"), b.model_root().expect("root"));
    // A different input shape is a different program.
    let short = Encoder::open(&dir)
        .expect("open")
        .compile(16)
        .expect("compile");
    assert_ne!(short.program.hash(), a.program.hash());
    // 6 blocks + embeddings + pooling.
    assert_eq!(a.program.layers().len(), 8);
}

/// Copy the package's small files into a temporary directory, with
/// `model.safetensors` replaced by `weights`.
fn package_with(
    dir: &std::path::Path,
    weights: &[u8],
    config: Option<String>,
) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for f in ["config.json", "modules.json", "tokenizer.json"] {
        std::fs::copy(dir.join(f), tmp.path().join(f)).expect("copy");
    }
    std::fs::create_dir(tmp.path().join("1_Pooling")).expect("mkdir");
    std::fs::copy(
        dir.join("1_Pooling/config.json"),
        tmp.path().join("1_Pooling/config.json"),
    )
    .expect("copy");
    std::fs::write(tmp.path().join("model.safetensors"), weights).expect("write");
    if let Some(c) = config {
        std::fs::write(tmp.path().join("config.json"), c).expect("write");
    }
    tmp
}

#[test]
fn damaged_packages_are_clear_errors() {
    let Some(dir) = support::model("minilm-l6") else {
        return;
    };
    let weights = std::fs::read(dir.join("model.safetensors")).expect("read");

    let truncated = package_with(&dir, &weights[..weights.len() / 2], None);
    let err = Encoder::open(truncated.path())
        .expect_err("truncated weights")
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");

    let config = std::fs::read_to_string(dir.join("config.json")).expect("read");
    let wrong = package_with(
        &dir,
        &weights,
        Some(config.replace("\"intermediate_size\": 1536", "\"intermediate_size\": 1024")),
    );
    let err = Encoder::open(wrong.path())
        .expect("open")
        .canonical()
        .expect_err("wrong shape")
        .to_string();
    assert!(
        err.contains("encoder.layer.0.intermediate.dense.weight") && err.contains("[1024, 384]"),
        "{err}"
    );

    let err = models::locate(&trace_vm::format::models_dir(), "no-such-model")
        .expect_err("missing")
        .to_string();
    assert!(
        err.contains("no-such-model") && err.contains("minilm-l6"),
        "{err}"
    );

    let enc = Encoder::open(&dir).expect("open");
    assert!(enc.compile(0).is_err());
    assert!(enc.compile(100_000).is_err());
    assert!(enc.inputs(&[1, 2, 3], 2).is_err());
    assert!(enc.inputs(&[999_999], 4).is_err());
}
