//! safetensors reader and sentence-transformers package: synthetic files,
//! rejected configs, truncated and corrupted headers, and the facts of the
//! installed all-MiniLM-L6-v2 package.

mod format_common;

use std::{collections::HashMap, path::Path};

use proptest::prelude::*;
use safetensors::{Dtype, tensor::TensorView as StView};
use trace_vm::format::{
    DType, Error, TensorSource,
    safetensors::{Pooling, SafetensorsFile, SentenceTransformer},
};

fn sample() -> Vec<u8> {
    let f32s: Vec<u8> = [1.0f32, -2.0, 0.5, 8.0, 0.0, 3.25]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let ids: Vec<u8> = (0i64..4).flat_map(|v| v.to_le_bytes()).collect();
    let bf16 = vec![0x80, 0x3f, 0x00, 0xc0];
    let tensors = [
        (
            "w",
            StView::new(Dtype::F32, vec![2, 3], &f32s).expect("valid view"),
        ),
        (
            "ids",
            StView::new(Dtype::I64, vec![1, 4], &ids).expect("valid view"),
        ),
        (
            "h",
            StView::new(Dtype::BF16, vec![2], &bf16).expect("valid view"),
        ),
    ];
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(tensors, Some(meta)).expect("serializable")
}

#[test]
fn reads_tensors_in_file_order() {
    let file = SafetensorsFile::from_bytes("s.safetensors", sample()).unwrap();
    let views = file.tensors();
    let summary: Vec<_> = views
        .iter()
        .map(|v| (v.name, v.dtype, v.shape.to_vec()))
        .collect();
    // safetensors sorts by alignment (largest first), then name.
    assert_eq!(
        summary,
        [
            ("ids", DType::I64, vec![1, 4]),
            ("w", DType::F32, vec![2, 3]),
            ("h", DType::BF16, vec![2]),
        ]
    );
    let w = file.tensor("w").unwrap();
    assert_eq!(&w.data[4..8], &(-2.0f32).to_le_bytes());
    assert_eq!(file.tensor("h").unwrap().data, &[0x80, 0x3f, 0x00, 0xc0]);
    assert_eq!(
        file.metadata().get("format").map(String::as_str),
        Some("pt")
    );
    assert!(matches!(
        file.tensor("x"),
        Err(Error::MissingTensor { count: 3, .. })
    ));
}

#[test]
fn refuses_unsupported_dtypes() {
    let bytes = [1u8, 2];
    let image = safetensors::serialize(
        [("f8", StView::new(Dtype::F8_E4M3, vec![2], &bytes).unwrap())],
        None,
    )
    .unwrap();
    let err = SafetensorsFile::from_bytes("f8.safetensors", image).unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { at, .. } if at.contains("`f8`")),
        "{err}"
    );
}

#[test]
fn every_truncation_is_an_error() {
    let image = sample();
    for len in 0..image.len() {
        assert!(
            SafetensorsFile::from_bytes("t.safetensors", image[..len].to_vec()).is_err(),
            "a {len}-byte prefix parsed"
        );
    }
}

proptest! {
    #[test]
    fn corrupted_images_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut image = sample();
        for (at, byte) in flips {
            let i = at.index(image.len());
            image[i] = byte;
        }
        if let Ok(file) = SafetensorsFile::from_bytes("c.safetensors", image) {
            for view in file.tensors() {
                prop_assert_eq!(Some(view.data.len()), view.dtype.byte_len(view.shape));
            }
        }
    }
}

/// Writes a package's JSON files into a fresh directory.
fn package(config: &str, modules: &str, pooling: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary package");
    std::fs::write(dir.path().join("config.json"), config).expect("temporary package");
    std::fs::write(dir.path().join("modules.json"), modules).expect("temporary package");
    std::fs::create_dir(dir.path().join("1_Pooling")).expect("temporary package");
    std::fs::write(dir.path().join("1_Pooling/config.json"), pooling).expect("temporary package");
    dir
}

const CONFIG: &str = r#"{"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6,
  "num_attention_heads": 12, "intermediate_size": 1536, "vocab_size": 30522,
  "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
  "hidden_act": "gelu"}"#;
const MODULES: &str = r#"[{"path": "", "type": "sentence_transformers.models.Transformer"},
  {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]"#;
const POOLING: &str = r#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}"#;

#[test]
fn package_errors_name_the_file_and_the_problem() {
    let cases: [(&str, &str, &str, &str, &str); 6] = [
        (
            "gpt2",
            &CONFIG.replace("\"bert\"", "\"gpt2\"")[..],
            MODULES,
            POOLING,
            "model_type",
        ),
        ("bad json", "{", MODULES, POOLING, "config.json"),
        (
            "13 heads",
            &CONFIG.replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 13")[..],
            MODULES,
            POOLING,
            "13 heads",
        ),
        ("no pooling", CONFIG, "[]", POOLING, "no Pooling module"),
        (
            "two modes",
            CONFIG,
            MODULES,
            r#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true, "pooling_mode_cls_token": true}"#,
            "exactly one",
        ),
        (
            "width",
            CONFIG,
            MODULES,
            r#"{"word_embedding_dimension": 768, "pooling_mode_cls_token": true}"#,
            "768",
        ),
    ];
    for (what, config, modules, pooling, needle) in cases {
        let dir = package(config, modules, pooling);
        let err = SentenceTransformer::open(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{what}: {err}");
    }
    // A valid package without weights fails on the weights file, by name.
    let dir = package(CONFIG, MODULES, POOLING);
    let err = SentenceTransformer::open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, .. } if path.ends_with("model.safetensors")),
        "{err}"
    );
}

#[test]
fn minilm_package_facts() {
    let Some(dir) = format_common::installed("minilm-l6") else {
        return;
    };
    let started = std::time::Instant::now();
    let st = SentenceTransformer::open(&dir).unwrap();
    eprintln!("opened {} in {:?}", dir.display(), started.elapsed());
    let c = &st.config;
    assert_eq!(
        (
            c.hidden_size,
            c.num_hidden_layers,
            c.num_attention_heads,
            c.intermediate_size,
            c.vocab_size
        ),
        (384, 6, 12, 1536, 30522)
    );
    assert_eq!(c.hidden_act, "gelu");
    assert_eq!(st.pooling, Pooling::Mean);
    assert!(st.normalize);

    let views = st.weights.tensors();
    assert_eq!(views.len(), 104);
    assert_eq!(views.iter().filter(|v| v.dtype == DType::F32).count(), 103);
    let ids = st.weights.tensor("embeddings.position_ids").unwrap();
    assert_eq!((ids.dtype, ids.shape), (DType::I64, &[1, 512][..]));
    assert_eq!(&ids.data[8 * 511..], &511i64.to_le_bytes());
    let words = st
        .weights
        .tensor("embeddings.word_embeddings.weight")
        .unwrap();
    assert_eq!(words.shape, &[30522, 384]);
    let q = st
        .weights
        .tensor("encoder.layer.5.attention.self.query.weight")
        .unwrap();
    assert_eq!((q.dtype, q.shape), (DType::F32, &[384, 384][..]));
    assert!(views.iter().all(|v| !v.name.starts_with("bert.")));
    let total: usize = views.iter().map(|v| v.data.len()).sum();
    let file_len = std::fs::metadata(dir.join("model.safetensors"))
        .unwrap()
        .len() as usize;
    assert_eq!(
        total + 8 + 11408,
        file_len,
        "tensors tile the file after the header"
    );
}

/// The header and the first tensor bytes of the installed MiniLM file.
fn minilm_prefix(dir: &Path) -> Vec<u8> {
    let bytes = std::fs::read(dir.join("model.safetensors")).expect("installed MiniLM is readable");
    bytes[..16 * 1024].to_vec()
}

#[test]
fn truncated_and_corrupted_minilm_headers_fail_cleanly() {
    let Some(dir) = format_common::installed("minilm-l6") else {
        return;
    };
    let prefix = minilm_prefix(&dir);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(&(0..prefix.len()), |len| {
            prop_assert!(
                SafetensorsFile::from_bytes("minilm-prefix", prefix[..len].to_vec()).is_err()
            );
            Ok(())
        })
        .unwrap();
    runner
        .run(
            &prop::collection::vec((0..8 + 11408usize, any::<u8>()), 1..8),
            |flips| {
                let mut image = prefix.clone();
                for (at, byte) in flips {
                    image[at] = byte;
                }
                // The prefix lacks most tensor data, so no corruption can make it valid.
                prop_assert!(SafetensorsFile::from_bytes("minilm-corrupt", image).is_err());
                Ok(())
            },
        )
        .unwrap();
}
