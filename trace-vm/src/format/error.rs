//! Errors of the model-file readers: each names the file, the place in it
//! (byte offset, tensor or key) and what to do about it.

use std::{fmt, path::PathBuf};

/// Result of a model-file reader.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The file formats this module reads, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GGUF (llama.cpp's single-file format).
    Gguf,
    /// Hugging Face safetensors.
    Safetensors,
    /// ONNX protobuf (a model or a single TensorProto).
    Onnx,
    /// A JSON side file (`config.json`, pooling config).
    Json,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gguf => "GGUF",
            Self::Safetensors => "safetensors",
            Self::Onnx => "ONNX",
            Self::Json => "JSON",
        })
    }
}

/// Why a model file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened, mapped or read.
    #[error("cannot read {}: {source}; check the path (models are installed by scripts/setup)", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file ends before a structure it declares.
    #[error(
        "{}: truncated {format} file: {what} needs bytes {offset}..{end} but the file has {len}; \
         the file is incomplete, download or install it again (scripts/setup checks sha256)",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: Format,
        /// The structure that did not fit.
        what: String,
        /// Where the structure starts.
        offset: u64,
        /// Where it would end.
        end: u64,
        /// The file's length.
        len: u64,
    },
    /// The file violates its format.
    #[error(
        "{}: malformed {format} file at {at}: {detail}; the file is damaged or not a {format} file",
        path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: Format,
        /// Where: a byte offset, a tensor or a key.
        at: String,
        /// What is wrong.
        detail: String,
    },
    /// The file is valid but uses a feature Refute does not read.
    #[error("{}: unsupported {format} content at {at}: {detail}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: Format,
        /// Where: a byte offset, a tensor or a key.
        at: String,
        /// What is unsupported and what to use instead.
        detail: String,
    },
    /// A tensor the caller asked for is not in the file.
    #[error("{}: no tensor named `{name}`; the file holds {count} tensors (list them with `refute model inspect`)", path.display())]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The requested name.
        name: String,
        /// How many tensors the file has.
        count: usize,
    },
    /// A metadata key is missing or has the wrong type.
    #[error("{}: metadata `{key}`: {detail}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The safetensors header was rejected.
    #[error("{}: invalid safetensors file: {source}; the file is damaged or not a safetensors file", path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The safetensors crate's error.
        #[source]
        source: ::safetensors::SafeTensorError,
    },
    /// A JSON side file could not be parsed into the expected structure.
    #[error("{}: invalid JSON config: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// serde_json's error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The protobuf encoding of an ONNX file is invalid.
    #[error("{}: invalid ONNX protobuf: {source}; the file is damaged or not an ONNX file", path.display())]
    Protobuf {
        /// The file.
        path: PathBuf,
        /// prost's decoding error.
        #[source]
        source: prost::DecodeError,
    },
}
