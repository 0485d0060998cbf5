//! Raw readers for the model files Refute loads: GGUF, safetensors and ONNX.
//!
//! This layer only *parses*: it validates every length, offset and count in a
//! file against the file's size and returns [`Error`] (never panics) on
//! malformed, truncated or unsupported input. It does not dequantize or
//! convert weights: a [`TensorView`] is the tensor's bytes exactly as stored,
//! so quantized weights stay quantized in memory and are committed as stored.
//! Turning these tensors into a VM program is the model loaders' job.
//!
//! Shapes are row-major, outermost dimension first, in every format (GGUF lists
//! its dimensions innermost first; [`gguf`] reverses them). Quantized blocks run
//! along the last (innermost) dimension.

mod bytes;
mod dtype;
mod error;
pub mod gguf;
pub mod onnx;
pub mod safetensors;
mod tensor;

use std::path::PathBuf;

pub use dtype::DType;
pub use error::{Error, Format, Result};
pub use tensor::{TensorSource, TensorView};

/// Environment variable that moves Refute's local state, models included.
pub const REFUTE_HOME_ENV: &str = "REFUTE_HOME";

/// The directory `scripts/setup` installs the pretrained models into:
/// `$REFUTE_HOME/models`, or `.refute/models` in this checkout.
pub fn models_dir() -> PathBuf {
    match std::env::var_os(REFUTE_HOME_ENV) {
        Some(home) if !home.is_empty() => PathBuf::from(home).join("models"),
        // This crate lives one level below the workspace root.
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.refute/models"),
    }
}
