//! ONNX reader: hand-built models and tensors, rejection paths, truncated and
//! corrupted files (no panics), the installed models C, D and E, and every
//! node conformance test of `libonnx-testdata`.

mod format_common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use prost::Message;
use trace_vm::format::{
    DType, Error, TensorSource,
    onnx::{
        ConformanceCase, OnnxModel, OnnxTensor, conformance_cases,
        proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, data_type},
    },
};

fn tensor(name: &str, dims: &[i64], data_type: i32) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type,
        ..Default::default()
    }
}

fn model(initializer: Vec<TensorProto>) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: vec![NodeProto {
                op_type: "Add".into(),
                input: vec!["a".into(), "b".into()],
                output: vec!["c".into()],
                ..Default::default()
            }],
            initializer,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn decode(proto: &TensorProto) -> Result<OnnxTensor, Error> {
    OnnxTensor::from_proto(std::path::Path::new("t.onnx"), proto)
}

#[test]
fn typed_fields_become_little_endian_bytes() {
    let floats = TensorProto {
        float_data: vec![1.0, -2.5],
        ..tensor("f", &[2], data_type::FLOAT)
    };
    assert_eq!(
        decode(&floats).unwrap().data(),
        [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat()
    );
    let halves = TensorProto {
        int32_data: vec![0x3c00, 0xc000],
        ..tensor("h", &[2, 1], data_type::FLOAT16)
    };
    let h = decode(&halves).unwrap();
    assert_eq!(
        (h.dtype, h.shape.as_slice(), h.data()),
        (DType::F16, &[2, 1][..], &[0x00, 0x3c, 0x00, 0xc0][..])
    );
    let bools = TensorProto {
        int32_data: vec![1, 0, 1],
        ..tensor("b", &[3], data_type::BOOL)
    };
    assert_eq!(decode(&bools).unwrap().data(), [1, 0, 1]);
    let longs = TensorProto {
        int64_data: vec![-1],
        ..tensor("l", &[], data_type::INT64)
    };
    assert_eq!(decode(&longs).unwrap().data(), (-1i64).to_le_bytes());
    let raw = TensorProto {
        raw_data: vec![1, 2, 3, 4].into(),
        ..tensor("r", &[2, 2], data_type::INT8)
    };
    assert_eq!(decode(&raw).unwrap().view().data, [1, 2, 3, 4]);
    let empty = tensor("e", &[0, 3], data_type::FLOAT);
    assert!(decode(&empty).unwrap().data().is_empty());
}

#[test]
fn rejects_inconsistent_tensors() {
    let cases: [(&str, TensorProto, &str); 7] = [
        (
            "short raw",
            TensorProto {
                raw_data: vec![0; 7].into(),
                ..tensor("x", &[2], data_type::FLOAT)
            },
            "raw_data has 7 bytes",
        ),
        (
            "short typed",
            TensorProto {
                float_data: vec![1.0],
                ..tensor("x", &[2], data_type::FLOAT)
            },
            "float_data holds 1",
        ),
        (
            "no data",
            tensor("x", &[2], data_type::INT32),
            "int32_data holds 0",
        ),
        (
            "u8 range",
            TensorProto {
                int32_data: vec![256],
                ..tensor("x", &[1], data_type::UINT8)
            },
            "out of range",
        ),
        (
            "negative dim",
            TensorProto {
                float_data: vec![1.0],
                ..tensor("x", &[-1], data_type::FLOAT)
            },
            "negative",
        ),
        (
            "strings",
            tensor("x", &[1], data_type::STRING),
            "string tensors",
        ),
        (
            "external",
            TensorProto {
                data_location: 1,
                ..tensor("x", &[1], data_type::FLOAT)
            },
            "external file",
        ),
    ];
    for (what, proto, needle) in cases {
        let err = decode(&proto).unwrap_err().to_string();
        assert!(
            err.contains(needle) && err.contains("`x`") && err.contains("t.onnx"),
            "{what}: {err}"
        );
    }
}

#[test]
fn reads_a_model_and_refuses_broken_ones() {
    let w = TensorProto {
        float_data: vec![0.5; 6],
        ..tensor("w", &[2, 3], data_type::FLOAT)
    };
    let m = OnnxModel::from_bytes("m.onnx", model(vec![w]).encode_to_vec()).unwrap();
    assert_eq!(m.opset(""), Some(17));
    assert_eq!(m.opset("ai.onnx"), Some(17));
    assert_eq!(m.opset("com.microsoft"), None);
    assert_eq!(m.graph().node[0].op_type, "Add");
    let w = m.tensor("w").unwrap();
    assert_eq!(
        (w.dtype, w.shape, w.data.len()),
        (DType::F32, &[2, 3][..], 24)
    );
    assert!(matches!(
        m.tensor("v"),
        Err(Error::MissingTensor { count: 1, .. })
    ));

    let mut no_graph = model(vec![]);
    no_graph.graph = None;
    let mut no_opset = model(vec![]);
    no_opset.opset_import.clear();
    let mut old = model(vec![]);
    old.ir_version = 2;
    let mut no_op = model(vec![]);
    no_op.graph.as_mut().unwrap().node[0].op_type.clear();
    let twice = model(vec![
        tensor("d", &[0], data_type::FLOAT),
        tensor("d", &[0], data_type::FLOAT),
    ]);
    for (what, proto, needle) in [
        ("no graph", no_graph, "no graph"),
        ("no opset", no_opset, "no operator set"),
        ("old IR", old, "IR version 2"),
        ("no op_type", no_op, "no op_type"),
        ("duplicate initializer", twice, "used twice"),
    ] {
        let err = OnnxModel::from_bytes("m.onnx", proto.encode_to_vec())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(needle) && err.contains("m.onnx"),
            "{what}: {err}"
        );
    }
    let err = OnnxModel::from_bytes("junk.onnx", b"\xff\xff\xff".to_vec()).unwrap_err();
    assert!(matches!(err, Error::Protobuf { .. }), "{err}");
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = OnnxModel::from_bytes("r.onnx", bytes.clone());
        let _ = TensorProto::decode(bytes.as_slice())
            .map(|t| decode(&t));
    }
}

/// The installed model `dir/model.onnx`, with its parse time printed.
fn installed_model(dir: &str) -> Option<(OnnxModel, Vec<u8>)> {
    let path = format_common::installed(&format!("{dir}/model.onnx"))?;
    let started = std::time::Instant::now();
    let model = OnnxModel::open(&path).expect("installed model parses");
    eprintln!("parsed {} in {:?}", path.display(), started.elapsed());
    Some((
        model,
        std::fs::read(&path).expect("installed model is readable"),
    ))
}

fn op_counts(model: &OnnxModel) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for node in &model.graph().node {
        *counts.entry(node.op_type.as_str()).or_default() += 1;
    }
    counts
}

#[test]
fn paraphrase_minilm_l3_facts() {
    let Some((m, _)) = installed_model("paraphrase-minilm-l3") else {
        return;
    };
    assert_eq!(m.opset(""), Some(17));
    assert_eq!(m.graph().node.len(), 354);
    let ops = op_counts(&m);
    for op in ["LayerNormalization", "MatMul", "Erf", "Softmax"] {
        assert!(ops.contains_key(op), "no {op} in {ops:?}");
    }
    assert_eq!(ops["Softmax"], 3, "one attention softmax per layer");
    assert!(m.initializers().iter().all(|t| t.dtype != DType::F16));
    let words = m.tensors().into_iter().find(|t| t.shape == [30522, 384]);
    assert!(
        words.is_some_and(|t| t.dtype == DType::F32),
        "word embeddings [30522, 384] F32"
    );
}

#[test]
fn minilm_int8_facts() {
    let Some((m, _)) = installed_model("minilm-int8") else {
        return;
    };
    assert_eq!(m.opset(""), Some(17));
    let ops = op_counts(&m);
    // Six layers; the int8 weights are widened by Cast and scaled by Mul.
    assert_eq!(
        (ops["MatMul"], ops["Softmax"], ops["LayerNormalization"]),
        (48, 6, 13),
        "{ops:?}"
    );
    assert!(ops.contains_key("Cast"), "{ops:?}");
    let int8 = m
        .initializers()
        .iter()
        .filter(|t| t.dtype == DType::I8)
        .count();
    assert_eq!(int8, 38);
}

#[test]
fn magika_facts() {
    let Some((m, _)) = installed_model("magika") else {
        return;
    };
    assert_eq!(m.opset(""), Some(15));
    let ops = op_counts(&m);
    for op in ["Conv", "MatMul", "Tanh", "GlobalMaxPool"] {
        assert!(ops.contains_key(op), "no {op} in {ops:?}");
    }
    let input = m
        .graph()
        .input
        .iter()
        .find(|i| m.tensor(&i.name).is_err())
        .unwrap();
    let ty = input.tensor_type().unwrap();
    assert_eq!(ty.elem_type, data_type::INT32);
    let params: usize = m.tensors().iter().map(|t| t.element_count()).sum();
    assert!((780_000..790_000).contains(&params), "{params} parameters");
}

#[test]
fn truncated_and_corrupted_models_fail_cleanly() {
    let Some((_, bytes)) = installed_model("magika") else {
        return;
    };
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    runner
        .run(&(0..bytes.len()), |len| {
            prop_assert!(OnnxModel::from_bytes("magika-prefix", bytes[..len].to_vec()).is_err());
            Ok(())
        })
        .unwrap();
    runner
        .run(
            &prop::collection::vec((0..bytes.len(), any::<u8>()), 1..16),
            |flips| {
                let mut image = bytes.clone();
                for (at, byte) in flips {
                    image[at] = byte;
                }
                if let Ok(m) = OnnxModel::from_bytes("magika-corrupt", image) {
                    for view in m.tensors() {
                        prop_assert_eq!(Some(view.data.len()), view.dtype.byte_len(view.shape));
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn every_node_conformance_test_parses() {
    let Some(root) = format_common::installed("onnx-testdata/node") else {
        return;
    };
    let started = std::time::Instant::now();
    let dirs = conformance_cases(&root).unwrap();
    assert_eq!(dirs.len(), 932);
    let (mut dense, mut refused, mut broken) = (0, Vec::new(), Vec::new());
    for dir in &dirs {
        match ConformanceCase::open(dir) {
            Ok(case) => {
                assert!(!case.outputs.is_empty(), "{}", case.name);
                dense += 1;
            }
            // Sequences, optionals and string, complex or 8-bit-float tensors.
            Err(Error::Unsupported { .. }) => {
                refused.push(dir.file_name().unwrap().to_string_lossy().into_owned())
            }
            Err(other) => broken.push(other.to_string()),
        }
    }
    assert!(
        broken.is_empty(),
        "{} cases failed:\n{}",
        broken.len(),
        broken.join("\n")
    );
    eprintln!(
        "{dense} dense cases read, {} refused, in {:?}",
        refused.len(),
        started.elapsed()
    );
    assert_eq!(dense, 896, "refused: {refused:?}");
    // Only string tensors, sequences and optionals are refused.
    for name in &refused {
        let lower = name.to_lowercase();
        assert!(
            ["string", "strnormalizer", "seq", "opt"]
                .iter()
                .any(|k| lower.contains(k)),
            "{name} was refused"
        );
    }
    let add = ConformanceCase::open(root.join("test_add")).unwrap();
    assert_eq!(add.inputs.len(), 2);
    assert_eq!(
        (add.inputs[0].dtype, add.inputs[0].shape.as_slice()),
        (DType::F32, &[3, 4, 5][..])
    );
    assert_eq!(add.outputs[0].shape, [3, 4, 5]);
}
