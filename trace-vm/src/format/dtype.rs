//! Element types of stored tensors, plain and block-quantized.

use std::fmt;

/// How a stored tensor's elements are encoded.
///
/// Plain types hold one element per `block_bytes()`; quantized (GGML) types
/// hold `block_len()` elements per block of `block_bytes()` bytes, blocks
/// running along the innermost dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// IEEE-754 binary32.
    F32,
    /// IEEE-754 binary16.
    F16,
    /// bfloat16 (the top half of a binary32).
    BF16,
    /// IEEE-754 binary64.
    F64,
    /// Signed 8-bit integer.
    I8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 8-bit integer.
    U8,
    /// Unsigned 16-bit integer.
    U16,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 64-bit integer.
    U64,
    /// Boolean, one byte.
    Bool,
    /// GGML Q4_0: 32 elements, f16 scale + 4-bit values (18 bytes).
    Q4_0,
    /// GGML Q4_1: 32 elements, f16 scale and min + 4-bit values (20 bytes).
    Q4_1,
    /// GGML Q5_0: 32 elements, f16 scale + 5-bit values (22 bytes).
    Q5_0,
    /// GGML Q5_1: 32 elements, f16 scale and min + 5-bit values (24 bytes).
    Q5_1,
    /// GGML Q8_0: 32 elements, f16 scale + 8-bit values (34 bytes).
    Q8_0,
    /// GGML Q8_1: 32 elements, f16 scale and sum + 8-bit values (36 bytes).
    Q8_1,
    /// GGML Q2_K: 256-element super-block (84 bytes).
    Q2K,
    /// GGML Q3_K: 256-element super-block (110 bytes).
    Q3K,
    /// GGML Q4_K: 256-element super-block, 8 sub-blocks with 6-bit scales and mins (144 bytes).
    Q4K,
    /// GGML Q5_K: 256-element super-block (176 bytes).
    Q5K,
    /// GGML Q6_K: 256-element super-block, 16 sub-blocks with 8-bit scales (210 bytes).
    Q6K,
    /// GGML Q8_K: 256-element super-block with f32 scale and block sums (292 bytes).
    Q8K,
}

impl DType {
    /// Elements per block: 1 for plain types.
    pub const fn block_len(self) -> usize {
        match self {
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 | Self::Q8_1 => 32,
            Self::Q2K | Self::Q3K | Self::Q4K | Self::Q5K | Self::Q6K | Self::Q8K => 256,
            _ => 1,
        }
    }

    /// Bytes per block (per element for plain types).
    pub const fn block_bytes(self) -> usize {
        match self {
            Self::I8 | Self::U8 | Self::Bool => 1,
            Self::F16 | Self::BF16 | Self::I16 | Self::U16 => 2,
            Self::F32 | Self::I32 | Self::U32 => 4,
            Self::F64 | Self::I64 | Self::U64 => 8,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
            Self::Q8_1 => 36,
            Self::Q2K => 84,
            Self::Q3K => 110,
            Self::Q4K => 144,
            Self::Q5K => 176,
            Self::Q6K => 210,
            Self::Q8K => 292,
        }
    }

    /// Whether elements are stored in quantized blocks.
    pub const fn is_quantized(self) -> bool {
        self.block_len() > 1
    }

    /// Bytes taken by a tensor of this type with `shape`, or `None` when the
    /// innermost dimension is not a whole number of blocks or the size
    /// overflows.
    pub fn byte_len(self, shape: &[usize]) -> Option<usize> {
        let inner = shape.last().copied().unwrap_or(1);
        if inner % self.block_len() != 0 {
            return None;
        }
        let elements = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
        (elements / self.block_len()).checked_mul(self.block_bytes())
    }

    /// The conventional name (`F32`, `Q4_K`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::F32 => "F32",
            Self::F16 => "F16",
            Self::BF16 => "BF16",
            Self::F64 => "F64",
            Self::I8 => "I8",
            Self::I16 => "I16",
            Self::I32 => "I32",
            Self::I64 => "I64",
            Self::U8 => "U8",
            Self::U16 => "U16",
            Self::U32 => "U32",
            Self::U64 => "U64",
            Self::Bool => "BOOL",
            Self::Q4_0 => "Q4_0",
            Self::Q4_1 => "Q4_1",
            Self::Q5_0 => "Q5_0",
            Self::Q5_1 => "Q5_1",
            Self::Q8_0 => "Q8_0",
            Self::Q8_1 => "Q8_1",
            Self::Q2K => "Q2_K",
            Self::Q3K => "Q3_K",
            Self::Q4K => "Q4_K",
            Self::Q5K => "Q5_K",
            Self::Q6K => "Q6_K",
            Self::Q8K => "Q8_K",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::DType;

    #[test]
    fn byte_len_counts_whole_blocks_only() {
        assert_eq!(DType::F32.byte_len(&[3, 5]), Some(60));
        assert_eq!(DType::F32.byte_len(&[]), Some(4));
        assert_eq!(DType::Q8_0.byte_len(&[2, 64]), Some(4 * 34));
        assert_eq!(DType::Q4K.byte_len(&[640, 2048]), Some(640 * 8 * 144));
        assert_eq!(DType::Q6K.byte_len(&[1, 256]), Some(210));
        assert_eq!(DType::Q4K.byte_len(&[256, 100]), None);
        assert_eq!(DType::U8.byte_len(&[usize::MAX, 2]), None);
    }
}
