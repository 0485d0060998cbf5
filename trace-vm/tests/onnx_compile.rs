//! The ONNX compiler on small graphs written here: unsupported nodes are
//! errors naming the node, its op type and the fix (never panics), and the
//! same graph always compiles to the same program.

use prost::Message;
use trace_vm::format::onnx::OnnxModel;
use trace_vm::format::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TypeProto,
    ValueInfoProto, type_proto,
};
use trace_vm::onnx;

fn value(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 1,
                shape: None,
            })),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    }
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: name.into(),
        op_type: op.into(),
        ..Default::default()
    }
}

fn model(nodes: Vec<NodeProto>) -> OnnxModel {
    let m = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: nodes,
            input: vec![value("x")],
            output: vec![value("y")],
            ..Default::default()
        }),
        ..Default::default()
    };
    OnnxModel::from_bytes("test.onnx", m.encode_to_vec()).expect("model decodes")
}

#[test]
fn unsupported_op_names_node_type_and_alternatives() {
    let m = model(vec![
        node("Relu", "act", &["x"], "h"),
        node("LSTM", "rnn_0", &["h"], "y"),
    ]);
    let e = onnx::compile(&m, &[vec![2, 3]]).unwrap_err().to_string();
    assert!(e.contains("rnn_0") && e.contains("LSTM"), "{e}");
    assert!(e.contains("not supported") && e.contains("MatMul"), "{e}");
}

#[test]
fn unsupported_attribute_value_is_an_error() {
    let mut pow = node("Pow", "p", &["x", "e"], "y");
    pow.input[1] = "e".into();
    let e_const = NodeProto {
        output: vec!["e".into()],
        op_type: "Constant".into(),
        attribute: vec![AttributeProto {
            name: "value_float".into(),
            f: 3.0,
            r#type: 1,
            ..Default::default()
        }],
        ..Default::default()
    };
    let m = model(vec![e_const, pow]);
    let e = onnx::compile(&m, &[vec![4]]).unwrap_err().to_string();
    assert!(e.contains("`p` (Pow)") && e.contains("exponent 3"), "{e}");
}

#[test]
fn compilation_is_deterministic_and_layered() {
    let mut nodes = Vec::new();
    let mut prev = "x".to_string();
    for i in 0..120 {
        let out = if i == 119 {
            "y".to_string()
        } else {
            format!("t{i}")
        };
        let op = ["Tanh", "Erf", "Sigmoid"][i % 3];
        nodes.push(node(op, &format!("n{i}"), &[&prev], &out));
        prev = out;
    }
    let m = model(nodes);
    let a = onnx::compile(&m, &[vec![3, 5]]).expect("compiles");
    let b = onnx::compile(&m, &[vec![3, 5]]).expect("compiles");
    assert_eq!(a.program, b.program);
    assert_eq!(a.model_root().expect("root"), b.model_root().expect("root"));
    assert_eq!(a.program.layers().len(), 120usize.div_ceil(onnx::LAYER_OPS));
    assert_eq!(a.program.ops().len(), 120);
}
