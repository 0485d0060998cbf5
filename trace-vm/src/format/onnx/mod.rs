//! ONNX reader: the protobuf model, its initializers as dense little-endian
//! tensors, single `TensorProto` files, and the node conformance test cases
//! shipped by `libonnx-testdata` (`model.onnx` + `test_data_set_0/*.pb`).
//!
//! Files are memory-mapped; initializers stored as `raw_data` are slices of
//! the mapping, not copies.

pub mod proto;

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
};

use prost::{Message, bytes::Bytes};

use self::proto::{GraphProto, ModelProto, TensorProto, data_type};
use super::{
    DType, TensorSource, TensorView,
    bytes::FileBytes,
    error::{Error, Format, Result},
};

/// The oldest IR version with opset imports (ONNX 1.1).
const MIN_IR_VERSION: i64 = 3;

/// A dense tensor decoded from a `TensorProto`, its elements as little-endian
/// bytes whichever field the file stored them in.
#[derive(Clone, PartialEq, Eq)]
pub struct OnnxTensor {
    /// The tensor's name (may be empty in test-data files).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Row-major shape.
    pub shape: Vec<usize>,
    data: Bytes,
}

impl fmt::Debug for OnnxTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxTensor")
            .field("name", &self.name)
            .field("dtype", &self.dtype)
            .field("shape", &self.shape)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl OnnxTensor {
    /// Decodes `proto`; `origin` names the file in errors.
    pub fn from_proto(origin: &Path, proto: &TensorProto) -> Result<Self> {
        let at = || format!("tensor `{}`", proto.name);
        let malformed = |detail: String| Error::Malformed {
            path: origin.to_path_buf(),
            format: Format::Onnx,
            at: at(),
            detail,
        };
        let unsupported = |detail: String| Error::Unsupported {
            path: origin.to_path_buf(),
            format: Format::Onnx,
            at: at(),
            detail,
        };
        if proto.data_location != 0 || !proto.external_data.is_empty() {
            return Err(unsupported(
                "its data is stored in an external file; save the model with the weights inside \
                 (onnx.save_model(model, path, save_as_external_data=False))"
                    .into(),
            ));
        }
        let dtype = onnx_dtype(proto.data_type).map_err(unsupported)?;
        let shape = proto
            .dims
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| {
                malformed(format!(
                    "dims {:?} has a negative or huge dimension",
                    proto.dims
                ))
            })?;
        let byte_len = dtype
            .byte_len(&shape)
            .ok_or_else(|| malformed(format!("shape {shape:?} overflows")))?;
        let count = byte_len / dtype.block_bytes();

        let data = if !proto.raw_data.is_empty() || byte_len == 0 {
            if proto.raw_data.len() != byte_len {
                return Err(malformed(format!(
                    "raw_data has {} bytes but {dtype} {shape:?} needs {byte_len}",
                    proto.raw_data.len()
                )));
            }
            proto.raw_data.clone()
        } else {
            typed_data(proto, dtype, count).map_err(malformed)?
        };
        Ok(Self {
            name: proto.name.clone(),
            dtype,
            shape,
            data,
        })
    }

    /// The elements as little-endian bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The format-independent view.
    pub fn view(&self) -> TensorView<'_> {
        TensorView {
            name: &self.name,
            dtype: self.dtype,
            shape: &self.shape,
            data: &self.data,
        }
    }
}

/// Re-encodes a typed field as little-endian bytes, checking its length and
/// that each value fits the element type.
fn typed_data(
    proto: &TensorProto,
    dtype: DType,
    count: usize,
) -> std::result::Result<Bytes, String> {
    fn encode<T: Copy, const N: usize>(
        field: &str,
        values: &[T],
        count: usize,
        to_bytes: impl Fn(T) -> Option<[u8; N]>,
    ) -> std::result::Result<Bytes, String> {
        if values.len() != count {
            return Err(format!(
                "{field} holds {} values but the shape needs {count}",
                values.len()
            ));
        }
        let mut out = Vec::with_capacity(count * N);
        for (i, &v) in values.iter().enumerate() {
            out.extend(
                to_bytes(v)
                    .ok_or_else(|| format!("{field}[{i}] is out of range for the element type"))?,
            );
        }
        Ok(out.into())
    }
    let ints = proto.int32_data.as_slice();
    match dtype {
        DType::F32 => encode("float_data", &proto.float_data, count, |v: f32| {
            Some(v.to_le_bytes())
        }),
        DType::F64 => encode("double_data", &proto.double_data, count, |v: f64| {
            Some(v.to_le_bytes())
        }),
        DType::I64 => encode("int64_data", &proto.int64_data, count, |v: i64| {
            Some(v.to_le_bytes())
        }),
        DType::U64 => encode("uint64_data", &proto.uint64_data, count, |v: u64| {
            Some(v.to_le_bytes())
        }),
        DType::U32 => encode("uint64_data", &proto.uint64_data, count, |v| {
            u32::try_from(v).ok().map(u32::to_le_bytes)
        }),
        DType::I32 => encode("int32_data", ints, count, |v: i32| Some(v.to_le_bytes())),
        DType::I16 => encode("int32_data", ints, count, |v| {
            i16::try_from(v).ok().map(i16::to_le_bytes)
        }),
        DType::I8 => encode("int32_data", ints, count, |v| {
            i8::try_from(v).ok().map(i8::to_le_bytes)
        }),
        // 16-bit floats are stored as their bit patterns.
        DType::U16 | DType::F16 | DType::BF16 => encode("int32_data", ints, count, |v| {
            u16::try_from(v).ok().map(u16::to_le_bytes)
        }),
        DType::U8 => encode("int32_data", ints, count, |v| {
            u8::try_from(v).ok().map(u8::to_le_bytes)
        }),
        DType::Bool => encode("int32_data", ints, count, |v| {
            matches!(v, 0 | 1).then_some([v as u8])
        }),
        other => Err(format!("{other} is not an ONNX element type")),
    }
}

/// Maps an ONNX `TensorProto.DataType` to a [`DType`].
pub fn onnx_dtype(code: i32) -> std::result::Result<DType, String> {
    Ok(match code {
        data_type::FLOAT => DType::F32,
        data_type::UINT8 => DType::U8,
        data_type::INT8 => DType::I8,
        data_type::UINT16 => DType::U16,
        data_type::INT16 => DType::I16,
        data_type::INT32 => DType::I32,
        data_type::INT64 => DType::I64,
        data_type::BOOL => DType::Bool,
        data_type::FLOAT16 => DType::F16,
        data_type::DOUBLE => DType::F64,
        data_type::UINT32 => DType::U32,
        data_type::UINT64 => DType::U64,
        data_type::BFLOAT16 => DType::BF16,
        data_type::STRING => {
            return Err("string tensors are not numeric; Refute does not read them".into());
        }
        data_type::COMPLEX64 | data_type::COMPLEX128 => {
            return Err("complex tensors are not supported".into());
        }
        other => {
            return Err(format!(
                "element type {other} (8-bit floats, 4-bit integers or unknown) is not supported"
            ));
        }
    })
}

/// Maps a file as a shared buffer whose slices keep the mapping alive.
fn read(path: &Path) -> Result<Bytes> {
    FileBytes::map(path).map(Bytes::from_owner)
}

/// Reads a file holding one serialized `TensorProto` (as in the conformance
/// tests' `input_0.pb`).
pub fn read_tensor(path: impl AsRef<Path>) -> Result<OnnxTensor> {
    let path = path.as_ref();
    let proto = TensorProto::decode(read(path)?).map_err(|source| Error::Protobuf {
        path: path.to_path_buf(),
        source,
    })?;
    OnnxTensor::from_proto(path, &proto)
}

/// A decoded ONNX model with its initializers checked and indexed.
#[derive(Debug)]
pub struct OnnxModel {
    path: PathBuf,
    header: ModelProto,
    graph: GraphProto,
    initializers: Vec<OnnxTensor>,
    index: HashMap<String, usize>,
}

impl OnnxModel {
    /// Reads and decodes the model at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let started = std::time::Instant::now();
        let model = Self::parse(path.to_path_buf(), read(path)?)?;
        tracing::debug!(
            target: "refute::vm",
            path = %path.display(),
            nodes = model.graph().node.len(),
            initializers = model.initializers.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "parsed ONNX model"
        );
        Ok(model)
    }

    /// Decodes a model held in memory; `origin` names it in errors.
    pub fn from_bytes(origin: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self> {
        Self::parse(origin.into(), Bytes::from(bytes))
    }

    fn parse(path: PathBuf, bytes: Bytes) -> Result<Self> {
        let mut header = ModelProto::decode(bytes).map_err(|source| Error::Protobuf {
            path: path.clone(),
            source,
        })?;
        let malformed = |at: &str, detail: String| Error::Malformed {
            path: path.clone(),
            format: Format::Onnx,
            at: at.to_owned(),
            detail,
        };
        if header.ir_version < MIN_IR_VERSION {
            return Err(Error::Unsupported {
                path: path.clone(),
                format: Format::Onnx,
                at: "ir_version".into(),
                detail: format!(
                    "IR version {} (before ONNX 1.1, or not an ONNX model); convert it with onnx.version_converter",
                    header.ir_version
                ),
            });
        }
        // Models of other domains only (e.g. training ops) are valid; the
        // graph compiler refuses the ops it does not know.
        if header.opset_import.is_empty() {
            return Err(malformed(
                "opset_import",
                "the model imports no operator set".into(),
            ));
        }
        let graph = header
            .graph
            .take()
            .ok_or_else(|| malformed("graph", "the model has no graph".into()))?;
        if let Some(sparse) = graph.sparse_initializer.first() {
            let name = sparse
                .values
                .as_ref()
                .map(|v| v.name.as_str())
                .unwrap_or("");
            return Err(Error::Unsupported {
                path: path.clone(),
                format: Format::Onnx,
                at: format!("sparse initializer `{name}`"),
                detail: "sparse initializers are not supported; densify the model's weights".into(),
            });
        }
        check_nodes(&path, &graph)?;
        let initializers = graph
            .initializer
            .iter()
            .map(|t| OnnxTensor::from_proto(&path, t))
            .collect::<Result<Vec<_>>>()?;
        let mut index = HashMap::with_capacity(initializers.len());
        for (i, t) in initializers.iter().enumerate() {
            if index.insert(t.name.clone(), i).is_some() {
                return Err(malformed(
                    &format!("initializer `{}`", t.name),
                    "the name is used twice".into(),
                ));
            }
        }
        Ok(Self {
            path,
            header,
            graph,
            initializers,
            index,
        })
    }

    /// The model's fields other than the graph (IR version, opsets,
    /// producer, metadata); its `graph` is `None`, see [`Self::graph`].
    pub fn header(&self) -> &ModelProto {
        &self.header
    }

    /// The main graph.
    pub fn graph(&self) -> &GraphProto {
        &self.graph
    }

    /// The opset version imported for `domain` (`""` or `ai.onnx` for the
    /// default domain).
    pub fn opset(&self, domain: &str) -> Option<i64> {
        let default = is_default_domain(domain);
        self.header
            .opset_import
            .iter()
            .find(|o| o.domain == domain || (default && is_default_domain(&o.domain)))
            .map(|o| o.version)
    }

    /// The decoded initializers, in file order.
    pub fn initializers(&self) -> &[OnnxTensor] {
        &self.initializers
    }
}

impl TensorSource for OnnxModel {
    fn origin(&self) -> &Path {
        &self.path
    }

    fn tensors(&self) -> Vec<TensorView<'_>> {
        self.initializers.iter().map(OnnxTensor::view).collect()
    }

    fn tensor(&self, name: &str) -> Result<TensorView<'_>> {
        let &i = self.index.get(name).ok_or_else(|| Error::MissingTensor {
            path: self.path.clone(),
            name: name.to_owned(),
            count: self.initializers.len(),
        })?;
        Ok(self.initializers[i].view())
    }
}

fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// Structural checks a graph compiler would otherwise trip over.
fn check_nodes(path: &Path, graph: &GraphProto) -> Result<()> {
    for (i, node) in graph.node.iter().enumerate() {
        if node.op_type.is_empty() {
            return Err(Error::Malformed {
                path: path.to_path_buf(),
                format: Format::Onnx,
                at: format!("node #{i} `{}`", node.name),
                detail: "the node has no op_type".into(),
            });
        }
    }
    Ok(())
}

/// One ONNX node conformance test: a one-operator model with its reference
/// inputs and outputs (`test_data_set_0`).
#[derive(Debug)]
pub struct ConformanceCase {
    /// Test name (the directory name, e.g. `test_add_bcast`).
    pub name: String,
    /// The model.
    pub model: OnnxModel,
    /// Inputs, in the order of the graph's inputs.
    pub inputs: Vec<OnnxTensor>,
    /// Expected outputs, in the order of the graph's outputs.
    pub outputs: Vec<OnnxTensor>,
}

impl ConformanceCase {
    /// Reads the test in `dir` (`model.onnx` and `test_data_set_0/`).
    /// Tests whose inputs or outputs are sequences, maps or optionals are
    /// refused as [`Error::Unsupported`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let model = OnnxModel::open(dir.join("model.onnx"))?;
        let data = dir.join("test_data_set_0");
        let graph = model.graph();
        let inputs = graph
            .input
            .iter()
            .filter(|v| !model.index.contains_key(&v.name))
            .enumerate()
            .map(|(i, v)| read_reference(&data.join(format!("input_{i}.pb")), v))
            .collect::<Result<Vec<_>>>()?;
        let outputs = graph
            .output
            .iter()
            .enumerate()
            .map(|(i, v)| read_reference(&data.join(format!("output_{i}.pb")), v))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            name,
            model,
            inputs,
            outputs,
        })
    }
}

/// Reads a reference tensor and checks its element type against the graph's
/// declaration. Shapes are not checked: a few upstream tests declare shapes
/// their data does not have (e.g. `test_castlike_*`'s `like` input), and
/// backends ignore the declaration too.
fn read_reference(path: &Path, value: &proto::ValueInfoProto) -> Result<OnnxTensor> {
    let mismatch = |detail: String| Error::Malformed {
        path: path.to_path_buf(),
        format: Format::Onnx,
        at: format!("value `{}`", value.name),
        detail,
    };
    let Some(declared) = value.tensor_type() else {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            format: Format::Onnx,
            at: format!("value `{}`", value.name),
            detail: "only dense tensor values are supported, not sequences, maps or optionals"
                .into(),
        });
    };
    let mut tensor = read_tensor(path)?;
    let dtype = onnx_dtype(declared.elem_type).map_err(mismatch)?;
    // numpy has no bfloat16, so ONNX's test generator stores bfloat16
    // references as UINT16 tensors of the same bits.
    if (dtype, tensor.dtype) == (DType::BF16, DType::U16) {
        tensor.dtype = DType::BF16;
    }
    if tensor.dtype != dtype {
        return Err(mismatch(format!(
            "the graph declares {dtype}, the file holds {}",
            tensor.dtype
        )));
    }
    Ok(tensor)
}

/// The conformance test directories under `root` (e.g. the installed
/// `onnx-testdata/node`), sorted by name.
pub fn conformance_cases(root: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
    let root = root.as_ref();
    let io = |source| Error::Io {
        path: root.to_path_buf(),
        source,
    };
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.join("model.onnx").is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}
