//! Tensors as the VM holds them: a dtype, a row-major shape and contiguous
//! little-endian data.
//!
//! Four-byte element types (F32, I32) are held as `u32` words, the form every
//! kernel computes on; every other type (F16, BF16, the GGUF block-quantized
//! types) is held as the stored bytes. Either way [`Tensor::to_bytes`] gives
//! exactly the little-endian bytes that the tensor commitment hashes, so a
//! tensor's root does not depend on how it is held.

use std::borrow::Cow;
use std::fmt;

use crate::commit::{DType, Hash, TensorHeader};
use crate::error::{Error, Result};
use crate::format::{self, TensorView};

/// Index of a tensor in a program's tensor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u32);

impl TensorId {
    /// The table index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for TensorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// Number of elements of `shape`, or an error naming `what` on overflow.
pub fn numel(what: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| Error::Tensor {
            name: what.to_string(),
            msg: format!(
                "shape {shape:?} has more elements than fit in memory; use smaller dimensions"
            ),
        })
}

/// Whether `dtype` is held as `u32` words.
pub fn is_word_type(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::I32)
}

#[derive(Clone, PartialEq, Eq)]
enum Storage {
    Words(Vec<u32>),
    Bytes(ByteBuf),
}

/// Copies of at least this many bytes go to huge-page memory.
const HUGE_FROM: usize = 2 << 20;

/// The bytes of a non-word tensor. Large ones (the quantized weight
/// matrices read from a model file) live in anonymous memory advised for
/// transparent huge pages: a decode step streams every weight once, and with
/// 4 KiB pages the TLB misses of that stream cost a third of Gemma-3's output
/// layer (two threads: 7.9 ms per token with 4 KiB pages, 5.0 to 5.6 ms with
/// huge pages).
enum ByteBuf {
    Heap(Vec<u8>),
    Huge(memmap2::Mmap),
}

impl ByteBuf {
    /// A copy of `bytes`, in huge-page memory when large (where the kernel
    /// has no transparent huge pages, or the mapping fails, the copy is the
    /// same, only slower to stream).
    fn copy_of(bytes: &[u8]) -> Self {
        if bytes.len() >= HUGE_FROM
            && let Ok(mut map) = memmap2::MmapMut::map_anon(bytes.len())
        {
            #[cfg(target_os = "linux")]
            let _ = map.advise(memmap2::Advice::HugePage);
            map.copy_from_slice(bytes);
            if let Ok(map) = map.make_read_only() {
                return Self::Huge(map);
            }
        }
        Self::Heap(bytes.to_vec())
    }
}

impl std::ops::Deref for ByteBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Heap(b) => b,
            Self::Huge(m) => m,
        }
    }
}

impl Clone for ByteBuf {
    fn clone(&self) -> Self {
        Self::copy_of(self)
    }
}

impl PartialEq for ByteBuf {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for ByteBuf {}

/// An owned tensor.
#[derive(Clone, PartialEq, Eq)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<usize>,
    storage: Storage,
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor({:?}{:?})", self.dtype, self.shape)
    }
}

impl Tensor {
    /// A tensor of 4-byte words (`F32` bit patterns or `I32` two's-complement words).
    pub fn from_words(dtype: DType, shape: &[usize], words: Vec<u32>) -> Result<Self> {
        if !is_word_type(dtype) {
            return Err(Error::Tensor {
                name: format!("{dtype:?}{shape:?}"),
                msg: "only F32 and I32 tensors are built from words; use Tensor::from_bytes".into(),
            });
        }
        let n = numel("tensor", shape)?;
        if words.len() != n {
            return Err(Error::Tensor {
                name: format!("{dtype:?}{shape:?}"),
                msg: format!("has {} elements, the shape needs {n}", words.len()),
            });
        }
        Ok(Tensor {
            dtype,
            shape: shape.to_vec(),
            storage: Storage::Words(words),
        })
    }

    /// An `F32` tensor from bit patterns.
    pub fn f32_bits(shape: &[usize], bits: Vec<u32>) -> Result<Self> {
        Self::from_words(DType::F32, shape, bits)
    }

    /// An `F32` tensor from values.
    pub fn f32(shape: &[usize], values: &[f32]) -> Result<Self> {
        Self::from_words(
            DType::F32,
            shape,
            values.iter().map(|v| v.to_bits()).collect(),
        )
    }

    /// An `I32` tensor (e.g. token ids, positions).
    pub fn i32(shape: &[usize], values: &[i32]) -> Result<Self> {
        Self::from_words(
            DType::I32,
            shape,
            values.iter().map(|&v| v as u32).collect(),
        )
    }

    /// A tensor from its stored little-endian bytes (any dtype).
    pub fn from_bytes(dtype: DType, shape: &[usize], bytes: Vec<u8>) -> Result<Self> {
        Self::stored(dtype, shape, bytes, ByteBuf::Heap)
    }

    /// Copy a tensor out of a model file (quantized blocks stay as stored;
    /// large ones in huge-page memory, see [`ByteBuf`]).
    pub fn from_view(view: &TensorView<'_>) -> Result<Self> {
        let dtype = vm_dtype(view.dtype).ok_or_else(|| Error::Tensor {
            name: view.name.to_string(),
            msg: format!(
                "stored as {}, which the VM does not compute on; convert it to F32 when loading",
                view.dtype
            ),
        })?;
        Self::stored(dtype, view.shape, view.data, ByteBuf::copy_of)
    }

    /// A tensor from `bytes` checked against dtype and shape: words for F32
    /// and I32, else the bytes as `hold` keeps them.
    fn stored<B: AsRef<[u8]>>(
        dtype: DType,
        shape: &[usize],
        owner: B,
        hold: impl FnOnce(B) -> ByteBuf,
    ) -> Result<Self> {
        let bytes = owner.as_ref();
        let want = header(dtype, shape).byte_len()?;
        if bytes.len() as u64 != want {
            return Err(Error::Tensor {
                name: format!("{dtype:?}{shape:?}"),
                msg: format!("has {} bytes, dtype and shape need {want}", bytes.len()),
            });
        }
        let storage = if is_word_type(dtype) {
            Storage::Words(
                bytes
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        } else {
            Storage::Bytes(hold(owner))
        };
        Ok(Tensor {
            dtype,
            shape: shape.to_vec(),
            storage,
        })
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as words (F32 / I32 tensors), or an error naming `what`.
    pub fn words(&self, what: impl std::fmt::Display) -> Result<&[u32]> {
        match &self.storage {
            Storage::Words(w) => Ok(w),
            Storage::Bytes(_) => Err(Error::Tensor {
                name: what.to_string(),
                msg: format!(
                    "is {:?}, an F32 or I32 tensor is needed; dequantize or convert it first",
                    self.dtype
                ),
            }),
        }
    }

    /// Consume into words (F32 / I32 tensors).
    pub fn into_words(self, what: &str) -> Result<Vec<u32>> {
        match self.storage {
            Storage::Words(w) => Ok(w),
            Storage::Bytes(_) => Err(Error::Tensor {
                name: what.to_string(),
                msg: format!("is {:?}, an F32 or I32 tensor is needed", self.dtype),
            }),
        }
    }

    /// The stored bytes of a non-word tensor, or `None` for F32 / I32.
    pub fn stored_bytes(&self) -> Option<&[u8]> {
        match &self.storage {
            Storage::Bytes(b) => Some(b),
            Storage::Words(_) => None,
        }
    }

    /// The tensor's little-endian bytes, exactly as committed.
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match &self.storage {
            Storage::Bytes(b) => Cow::Borrowed(b),
            Storage::Words(w) => Cow::Owned(w.iter().flat_map(|x| x.to_le_bytes()).collect()),
        }
    }

    /// Bytes held in memory.
    pub fn held_bytes(&self) -> usize {
        match &self.storage {
            Storage::Words(w) => w.len() * 4,
            Storage::Bytes(b) => b.len(),
        }
    }

    /// The commitment header (dtype + shape).
    pub fn header(&self) -> TensorHeader {
        header(self.dtype, &self.shape)
    }

    /// The tensor root (SPEC.md, "Tensor commitment").
    pub fn root(&self) -> Result<Hash> {
        Ok(self.header().commit(&self.to_bytes())?.root)
    }
}

/// The commitment header of a dtype and shape.
pub fn header(dtype: DType, shape: &[usize]) -> TensorHeader {
    TensorHeader {
        dtype,
        shape: shape.iter().map(|&d| d as u64).collect(),
    }
}

/// The VM dtype of a stored model-file dtype, when the VM holds that type.
pub fn vm_dtype(d: format::DType) -> Option<DType> {
    use format::DType as F;
    Some(match d {
        F::F32 => DType::F32,
        F::F16 => DType::F16,
        F::BF16 => DType::BF16,
        F::I32 => DType::I32,
        F::I64 => DType::I64,
        F::U8 => DType::U8,
        F::I8 => DType::I8,
        F::Q4_0 => DType::Q4_0,
        F::Q8_0 => DType::Q8_0,
        F::Q5_0 => DType::Q5_0,
        F::Q4K => DType::Q4K,
        F::Q5K => DType::Q5K,
        F::Q6K => DType::Q6K,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_bytes_hash_the_same() {
        let words = vec![0x3F80_0000, 0xC000_0000, 7];
        let a = Tensor::f32_bits(&[3], words.clone()).unwrap();
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let b = Tensor::from_bytes(DType::F32, &[3], bytes.clone()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_bytes().as_ref(), bytes.as_slice());
        assert_eq!(
            a.root().unwrap(),
            header(DType::F32, &[3]).commit(&bytes).unwrap().root
        );
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(Tensor::f32(&[2, 2], &[1.0; 3]).is_err());
        assert!(Tensor::from_bytes(DType::Q8_0, &[32], vec![0; 33]).is_err());
        assert!(Tensor::from_bytes(DType::Q8_0, &[16], vec![0; 17]).is_err());
        assert!(Tensor::from_words(DType::Q8_0, &[1], vec![0]).is_err());
        assert!(numel("x", &[usize::MAX, 2]).is_err());
        let q = Tensor::from_bytes(DType::Q8_0, &[32], vec![0; 34]).unwrap();
        assert!(q.words("q").is_err());
    }

    #[test]
    fn large_byte_tensors_keep_their_bytes_in_huge_page_memory() {
        let bytes: Vec<u8> = (0..HUGE_FROM + 34 * 7)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let big = ByteBuf::copy_of(&bytes);
        assert!(matches!(big, ByteBuf::Huge(_)), "a large copy is a mapping");
        assert_eq!(&*big, &bytes[..]);
        let again = big.clone();
        assert!(again == big && matches!(again, ByteBuf::Huge(_)));
        let small = ByteBuf::copy_of(&bytes[..34]);
        assert!(matches!(small, ByteBuf::Heap(_)));
        assert_eq!(&*small, &bytes[..34]);
    }
}
