//! The format-independent view of a stored tensor.

use std::path::Path;

use super::{DType, error::Result};

/// A tensor as stored in a model file: its bytes are borrowed from the file,
/// unconverted (little-endian; quantized blocks as stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorView<'a> {
    /// The tensor's name in the file.
    pub name: &'a str,
    /// How the elements are encoded.
    pub dtype: DType,
    /// Row-major shape, outermost dimension first.
    pub shape: &'a [usize],
    /// The stored bytes; `dtype.byte_len(shape)` of them.
    pub data: &'a [u8],
}

impl TensorView<'_> {
    /// Number of elements (1 for a scalar).
    pub fn element_count(&self) -> usize {
        // The readers checked that the shape's product fits when they built
        // the view, so this cannot overflow.
        self.shape.iter().product()
    }
}

/// A parsed model file that holds named tensors.
pub trait TensorSource {
    /// The file the tensors come from, for messages.
    fn origin(&self) -> &Path;

    /// Every tensor, in the order the file stores them.
    fn tensors(&self) -> Vec<TensorView<'_>>;

    /// The tensor called `name`, or [`super::Error::MissingTensor`].
    fn tensor(&self, name: &str) -> Result<TensorView<'_>>;
}
