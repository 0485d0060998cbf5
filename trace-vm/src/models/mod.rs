//! Pretrained models compiled to VM programs.
//!
//! A loader reads an installed model in the format it ships in, checks every
//! tensor it uses against the architecture's hyper-parameters, and compiles
//! the architecture into a [`Program`] plus the weight tensors the program
//! declares (quantized weights stay as stored; the program dequantizes them).
//! Compilation is a pure function of the model files and the input shape, so
//! everyone derives the same program and the same model commitment.
//!
//! - [`bert`]: sentence-transformers BERT encoders (MiniLM) from safetensors,
//!   `config.json`, `tokenizer.json` and the pooling config.
//! - [`gemma`]: the Gemma-3 decoder from GGUF, with its tokenizer ([`spm`])
//!   built from the GGUF metadata.
//!
//! [`open`] picks the loader from a model name (a directory under
//! [`crate::format::models_dir`]) or a path.

pub mod bert;
pub mod gemma;
pub mod spm;

use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::commit::{self, Hash};
use crate::exec;
use crate::format;
use crate::ops::Op;
use crate::program::{Builder, Program, TensorKind};
use crate::tensor::{Tensor, TensorId};

pub use bert::Encoder;
pub use gemma::{Decoder, Sampling};

/// Why a model could not be found, loaded, compiled or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model file could not be parsed.
    #[error(transparent)]
    Format(#[from] format::Error),
    /// The VM rejected a program, tensor or op.
    #[error(transparent)]
    Vm(#[from] crate::Error),
    /// No installed model has this name and no file or directory has this path.
    #[error("no model `{name}`: it is neither a path nor a model installed in {}; installed: {known}; install models with scripts/setup", dir.display())]
    NotFound {
        /// What was asked for.
        name: String,
        /// The models directory searched.
        dir: PathBuf,
        /// The installed model names.
        known: String,
    },
    /// The path holds a model Refute cannot compile.
    #[error("{}: {detail}", path.display())]
    Unsupported {
        /// The model file or directory.
        path: PathBuf,
        /// What is unsupported and what to use instead.
        detail: String,
    },
    /// A tensor the architecture needs has the wrong dtype or shape.
    #[error("{}: tensor `{tensor}` is {got}, the architecture needs {want}; the file does not match its config (re-install it with scripts/setup)", path.display())]
    Tensor {
        /// The model file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// What the architecture expects.
        want: String,
        /// What the file holds.
        got: String,
    },
    /// The tokenizer could not be loaded or failed on the input.
    #[error("{}: tokenizer: {detail}", path.display())]
    Tokenizer {
        /// The tokenizer file (or the model file holding it).
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The input does not fit the model.
    #[error("input: {0}")]
    Input(String),
}

/// Result alias of the model loaders.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A model compiled for one input shape: the program and the weight tensors
/// in the order its weight table declares them.
#[derive(Debug)]
pub struct Compiled {
    /// The op program.
    pub program: Program,
    /// The weights, in weight-declaration order.
    pub weights: Vec<Tensor>,
}

impl Compiled {
    /// `list_root` of the weights' bound roots (SPEC.md, "Model").
    pub fn weights_root(&self) -> Result<Hash> {
        Ok(self.program.weights_root(&self.weights)?)
    }

    /// The model commitment: `model_root(weights_root, program hash)`.
    pub fn model_root(&self) -> Result<Hash> {
        Ok(commit::model_root(
            &self.weights_root()?,
            &self.program.hash(),
        ))
    }

    /// Run the program on `inputs` with `backend`.
    pub fn run(&self, backend: &dyn Backend, inputs: &[Tensor]) -> Result<exec::Run> {
        Ok(exec::run(&self.program, backend, &self.weights, inputs)?)
    }

    /// Bytes of weight data held in memory.
    pub fn weight_bytes(&self) -> usize {
        self.weights.iter().map(Tensor::held_bytes).sum()
    }
}

/// A [`Builder`] that also collects the weight tensors as they are declared,
/// so the weight table and the weight list cannot get out of order.
#[derive(Debug, Default)]
pub(crate) struct ModelBuilder {
    pub(crate) b: Builder,
    weights: Vec<Tensor>,
}

impl ModelBuilder {
    /// Declare `tensor` as the weight `name`.
    pub(crate) fn weight(&mut self, name: &str, tensor: Tensor) -> Result<TensorId> {
        let id = self.b.weight(name, tensor.dtype(), tensor.shape())?;
        self.weights.push(tensor);
        Ok(id)
    }

    pub(crate) fn finish(self) -> Result<Compiled> {
        let program = self.b.finish()?;
        debug_assert_eq!(
            program.of_kind(TensorKind::Weight).len(),
            self.weights.len()
        );
        Ok(Compiled {
            program,
            weights: self.weights,
        })
    }
}

/// The file formats a model can come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    /// A sentence-transformers directory with `model.safetensors`.
    Safetensors,
    /// A GGUF file.
    Gguf,
    /// An ONNX graph.
    Onnx,
}

impl ModelFormat {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            ModelFormat::Safetensors => "safetensors",
            ModelFormat::Gguf => "gguf",
            ModelFormat::Onnx => "onnx",
        }
    }
}

/// Where a model's files are and which format they are in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The name (the installed directory's name, or the path as given).
    pub name: String,
    /// The directory (safetensors) or file (GGUF, ONNX).
    pub path: PathBuf,
    /// The format.
    pub format: ModelFormat,
}

impl Located {
    /// Bytes on disk of the model files.
    pub fn size(&self) -> u64 {
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        if self.path.is_dir() {
            std::fs::read_dir(&self.path)
                .map(|rd| rd.filter_map(|e| e.ok()).map(|e| len(&e.path())).sum())
                .unwrap_or(0)
        } else {
            len(&self.path)
        }
    }
}

/// Classify `path` (a file or a model directory) by the files it holds.
pub fn locate_path(name: &str, path: &Path) -> Option<Located> {
    let at = |path: PathBuf, format| {
        Some(Located {
            name: name.to_string(),
            path,
            format,
        })
    };
    if path.is_dir() {
        if path.join("model.safetensors").is_file() {
            return at(path.to_path_buf(), ModelFormat::Safetensors);
        }
        for (file, format) in [
            ("model.gguf", ModelFormat::Gguf),
            ("model.onnx", ModelFormat::Onnx),
        ] {
            if path.join(file).is_file() {
                return at(path.join(file), format);
            }
        }
        return None;
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("gguf") => at(path.to_path_buf(), ModelFormat::Gguf),
        Some("onnx") => at(path.to_path_buf(), ModelFormat::Onnx),
        Some("safetensors") => path.parent().and_then(|dir| locate_path(name, dir)),
        _ => None,
    }
}

/// The models installed in `dir` (e.g. [`format::models_dir`]), by name.
pub fn installed(dir: &Path) -> Vec<Located> {
    let mut found: Vec<Located> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| locate_path(&e.file_name().to_string_lossy(), &e.path()))
                .collect()
        })
        .unwrap_or_default();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// Find a model by path, or by name among those installed in `dir`.
pub fn locate(dir: &Path, name_or_path: &str) -> Result<Located> {
    let path = Path::new(name_or_path);
    if path.exists() {
        return locate_path(name_or_path, path).ok_or_else(|| Error::Unsupported {
            path: path.to_path_buf(),
            detail: "not a model: expected a .gguf or .onnx file, or a directory with model.safetensors, model.gguf or model.onnx".into(),
        });
    }
    let all = installed(dir);
    all.iter()
        .find(|m| m.name == name_or_path)
        .cloned()
        .ok_or_else(|| Error::NotFound {
            name: name_or_path.to_string(),
            dir: dir.to_path_buf(),
            known: if all.is_empty() {
                "none".into()
            } else {
                all.iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
}

/// A loaded model of either kind.
// A process holds one or two of these; boxing the larger variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Model {
    /// A sentence encoder.
    Encoder(Encoder),
    /// A text generator.
    Decoder(Decoder),
}

impl Model {
    /// Load the model at `at`.
    pub fn open(at: &Located) -> Result<Model> {
        match at.format {
            ModelFormat::Safetensors => Ok(Model::Encoder(Encoder::open(&at.path)?)),
            ModelFormat::Gguf => Ok(Model::Decoder(Decoder::open(&at.path)?)),
            ModelFormat::Onnx => Err(Error::Unsupported {
                path: at.path.clone(),
                detail: "the CLI cannot feed ONNX graphs their inputs yet (the graph compiler trace_vm::onnx is library-only); use a safetensors encoder (minilm-l6) or a GGUF decoder (gemma3-270m)".into(),
            }),
        }
    }

    /// The architecture's name.
    pub fn architecture(&self) -> String {
        match self {
            Model::Encoder(e) => e.architecture(),
            Model::Decoder(d) => d.architecture(),
        }
    }

    /// Number of parameters (elements of the weight tensors the model uses).
    pub fn parameters(&self) -> usize {
        match self {
            Model::Encoder(e) => e.parameters(),
            Model::Decoder(d) => d.parameters(),
        }
    }

    /// Number of transformer blocks.
    pub fn block_count(&self) -> usize {
        match self {
            Model::Encoder(e) => e.config().num_hidden_layers,
            Model::Decoder(d) => d.config().blocks,
        }
    }

    /// The model compiled for its canonical input shape, whose commitment is
    /// the one registered for the model (see [`Encoder::canonical`],
    /// [`Decoder::canonical`]).
    pub fn canonical(&self) -> Result<Compiled> {
        match self {
            Model::Encoder(e) => e.canonical(),
            Model::Decoder(d) => d.canonical(),
        }
    }

    /// The model's commitment, its id in the on-chain registry (docs/SPEC.md
    /// 4.7): the model root of its canonical compile.
    pub fn commitment(&self) -> Result<Hash> {
        self.canonical()?.model_root()
    }
}

/// Open the model at `name_or_path`, or the one of that name installed in `dir`.
pub fn open(dir: &Path, name_or_path: &str) -> Result<Model> {
    Model::open(&locate(dir, name_or_path)?)
}

/// A backend that reports each op it runs, for progress displays.
pub struct Progress<'a> {
    inner: &'a dyn Backend,
    on_op: &'a (dyn Fn() + Send + Sync),
}

impl<'a> Progress<'a> {
    /// Wrap `inner`, calling `on_op` after every op.
    pub fn new(inner: &'a dyn Backend, on_op: &'a (dyn Fn() + Send + Sync)) -> Self {
        Progress { inner, on_op }
    }
}

impl Backend for Progress<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn run(&self, op: &Op, inputs: &[&Tensor]) -> crate::Result<Tensor> {
        let out = self.inner.run(op, inputs);
        (self.on_op)();
        out
    }
}
