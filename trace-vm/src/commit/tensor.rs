//! Tensor commitments: data root over fixed-size leaves, tensor root bound to
//! dtype and shape, element proofs.
//!
//! Byte-for-byte definition (SPEC.md, "Tensor commitment"):
//! - the tensor's bytes (little-endian elements, row-major; quantized blocks
//!   as stored) are cut into leaves of [`LEAF_SIZE`] bytes; the last leaf is
//!   padded with zero bytes; an empty tensor has one all-zero leaf;
//! - leaf hash = keccak256(leaf bytes);
//! - data_root = Merkle root of the leaf hashes padded with zero hashes to a
//!   power of two ([`super::merkle`]);
//! - tensor_root = keccak256(u256(dtype code) ‖ u256(rank) ‖ u256(dim_0) ‖ … ‖
//!   u256(dim_{rank-1}) ‖ data_root), every u256 a big-endian 32-byte word.

use rs_merkle::MerkleTree;
use sha3::Digest;

use super::merkle::{
    Hash, Keccak, Keccak256, MerkleAccumulator, depth_for, keccak256, node, root_from_path, u256,
    zero_hash,
};
use crate::error::{Error, Result};

/// Leaf size in bytes for every tensor commitment (chosen by measurement; SPEC.md,
/// "Leaf size"): 8 EVM words.
pub const LEAF_SIZE: usize = 256;

/// Largest tensor accepted (bytes): 2^40.
pub const MAX_TENSOR_BYTES: u64 = 1 << 40;

/// Element types and their on-chain codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// IEEE binary32
    F32,
    /// IEEE binary16
    F16,
    /// bfloat16
    BF16,
    /// two's-complement 32-bit integer
    I32,
    /// two's-complement 64-bit integer
    I64,
    /// unsigned byte
    U8,
    /// signed byte
    I8,
    /// GGUF Q4_0 (blocks of 32 elements, 18 bytes)
    Q4_0,
    /// GGUF Q8_0 (blocks of 32 elements, 34 bytes)
    Q8_0,
    /// GGUF Q5_0 (blocks of 32 elements, 22 bytes)
    Q5_0,
    /// GGUF Q4_K (blocks of 256 elements, 144 bytes)
    Q4K,
    /// GGUF Q5_K (blocks of 256 elements, 176 bytes)
    Q5K,
    /// GGUF Q6_K (blocks of 256 elements, 210 bytes)
    Q6K,
}

impl DType {
    /// Every dtype.
    pub const ALL: [DType; 13] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::I8,
        DType::Q4_0,
        DType::Q8_0,
        DType::Q5_0,
        DType::Q4K,
        DType::Q5K,
        DType::Q6K,
    ];

    /// The code committed in tensor roots.
    pub const fn code(self) -> u8 {
        match self {
            DType::F32 => 0x01,
            DType::F16 => 0x02,
            DType::BF16 => 0x03,
            DType::I32 => 0x04,
            DType::I64 => 0x05,
            DType::U8 => 0x06,
            DType::I8 => 0x07,
            DType::Q4_0 => 0x20,
            DType::Q8_0 => 0x21,
            DType::Q5_0 => 0x22,
            DType::Q4K => 0x23,
            DType::Q5K => 0x24,
            DType::Q6K => 0x25,
        }
    }

    /// The dtype with this code.
    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.code() == code)
    }

    /// (elements per block, bytes per block); plain types are blocks of one element.
    pub const fn block(self) -> (u64, u64) {
        match self {
            DType::F32 | DType::I32 => (1, 4),
            DType::F16 | DType::BF16 => (1, 2),
            DType::I64 => (1, 8),
            DType::U8 | DType::I8 => (1, 1),
            DType::Q4_0 => (32, 18),
            DType::Q8_0 => (32, 34),
            DType::Q5_0 => (32, 22),
            DType::Q4K => (256, 144),
            DType::Q5K => (256, 176),
            DType::Q6K => (256, 210),
        }
    }

    /// Bytes per element for plain (unquantized) types.
    pub const fn elem_size(self) -> Option<u64> {
        match self.block() {
            (1, b) => Some(b),
            _ => None,
        }
    }
}

/// dtype + shape: what a tensor root binds besides the data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorHeader {
    /// Element type.
    pub dtype: DType,
    /// Dimensions, outermost first.
    pub shape: Vec<u64>,
}

impl TensorHeader {
    /// A header.
    pub fn new(dtype: DType, shape: &[u64]) -> Self {
        TensorHeader {
            dtype,
            shape: shape.to_vec(),
        }
    }

    /// Number of elements (errors on overflow).
    pub fn numel(&self) -> Result<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::Tensor {
                name: format!("{:?}{:?}", self.dtype, self.shape),
                msg: "element count overflows u64".into(),
            })
    }

    /// Byte length the data must have.
    pub fn byte_len(&self) -> Result<u64> {
        let n = self.numel()?;
        let (be, bb) = self.dtype.block();
        let err = |msg: String| Error::Tensor {
            name: format!("{:?}{:?}", self.dtype, self.shape),
            msg,
        };
        if n % be != 0 {
            return Err(err(format!(
                "{n} elements is not a whole number of {be}-element blocks"
            )));
        }
        let bytes = (n / be).checked_mul(bb).filter(|&b| b <= MAX_TENSOR_BYTES);
        bytes.ok_or_else(|| err(format!("larger than the {MAX_TENSOR_BYTES}-byte limit")))
    }

    /// The 32-byte words hashed into the tensor root before the data root.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(32 * (2 + self.shape.len()) + 32);
        v.extend_from_slice(&u256(self.dtype.code() as u64));
        v.extend_from_slice(&u256(self.shape.len() as u64));
        for &d in &self.shape {
            v.extend_from_slice(&u256(d));
        }
        v
    }

    /// tensor_root = keccak256(encode() ‖ data_root).
    pub fn tensor_root(&self, data_root: &Hash) -> Hash {
        let mut h = Keccak::new();
        h.update(self.encode());
        h.update(data_root);
        h.finalize().into()
    }

    /// Check `bytes` against the header and commit to it.
    pub fn commit(&self, bytes: &[u8]) -> Result<TensorCommitment> {
        let want = self.byte_len()?;
        if bytes.len() as u64 != want {
            return Err(Error::Tensor {
                name: format!("{:?}{:?}", self.dtype, self.shape),
                msg: format!("has {} bytes, dtype and shape need {want}", bytes.len()),
            });
        }
        let data_root = data_root(bytes, LEAF_SIZE);
        let n_leaves = leaf_count(bytes.len() as u64, LEAF_SIZE);
        Ok(TensorCommitment {
            root: self.tensor_root(&data_root),
            data_root,
            n_leaves,
            depth: depth_for(n_leaves),
        })
    }
}

/// A tensor's commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorCommitment {
    /// The tensor root (bound to dtype and shape).
    pub root: Hash,
    /// The data root.
    pub data_root: Hash,
    /// Number of leaves (before padding).
    pub n_leaves: u64,
    /// Tree depth (proof length).
    pub depth: usize,
}

/// Number of leaves for `nbytes` bytes: max(1, ceil(nbytes / leaf_size)).
pub fn leaf_count(nbytes: u64, leaf_size: usize) -> u64 {
    nbytes.div_ceil(leaf_size as u64).max(1)
}

fn hash_leaf(bytes: &[u8], leaf_size: usize, i: u64) -> Hash {
    let start = (i as usize).saturating_mul(leaf_size).min(bytes.len());
    let end = start.saturating_add(leaf_size).min(bytes.len());
    let chunk = &bytes[start..end];
    if chunk.len() == leaf_size {
        keccak256(chunk)
    } else {
        let mut buf = vec![0u8; leaf_size];
        buf[..chunk.len()].copy_from_slice(chunk);
        keccak256(&buf)
    }
}

fn threads() -> usize {
    static T: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *T.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Below this many bytes per half a subtree is hashed on one thread (the
/// halves go to the thread pool, so a layer's state of a few hundred KiB is
/// worth splitting).
const PAR_MIN_BYTES: u64 = 64 << 10;

fn subtree(
    bytes: &[u8],
    leaf_size: usize,
    first: u64,
    depth: usize,
    n_leaves: u64,
    threads: usize,
) -> Hash {
    let width = 1u64 << depth;
    if first >= n_leaves {
        return zero_hash(depth);
    }
    let last = n_leaves.min(first + width);
    if threads > 1 && depth > 0 && (last - first) * leaf_size as u64 >= 2 * PAR_MIN_BYTES {
        let half = width / 2;
        let (l, r) = rayon::join(
            || subtree(bytes, leaf_size, first, depth - 1, n_leaves, threads / 2),
            || {
                subtree(
                    bytes,
                    leaf_size,
                    first + half,
                    depth - 1,
                    n_leaves,
                    threads - threads / 2,
                )
            },
        );
        return node(&l, &r);
    }
    let mut acc = MerkleAccumulator::new();
    for i in first..last {
        acc.push(hash_leaf(bytes, leaf_size, i));
    }
    acc.root_at_depth(depth)
}

/// Data root of `bytes` with leaves of `leaf_size` bytes (a positive multiple
/// of 32), hashed on every core for large inputs.
pub fn data_root(bytes: &[u8], leaf_size: usize) -> Hash {
    data_root_threads(bytes, leaf_size, threads())
}

/// [`data_root`] on at most `threads` threads.
pub fn data_root_threads(bytes: &[u8], leaf_size: usize, threads: usize) -> Hash {
    let leaf_size = leaf_size.max(32) / 32 * 32;
    let n = leaf_count(bytes.len() as u64, leaf_size);
    subtree(bytes, leaf_size, 0, depth_for(n), n, threads)
}

/// Streaming data root: feed bytes in any chunking; memory is one leaf plus
/// O(log n) hashes.
#[derive(Clone, Debug)]
pub struct DataHasher {
    leaf_size: usize,
    buf: Vec<u8>,
    acc: MerkleAccumulator,
    nbytes: u64,
}

impl DataHasher {
    /// A hasher with leaves of `leaf_size` bytes (rounded down to a multiple of 32, at least 32).
    pub fn new(leaf_size: usize) -> Self {
        let leaf_size = leaf_size.max(32) / 32 * 32;
        DataHasher {
            leaf_size,
            buf: Vec::with_capacity(leaf_size),
            acc: MerkleAccumulator::new(),
            nbytes: 0,
        }
    }

    /// A hasher that has been fed `bytes`, hashed on every core for large
    /// inputs (each complete subtree of the frontier as [`data_root`] hashes
    /// a tree), so that more bytes can be fed later.
    pub fn over(bytes: &[u8], leaf_size: usize) -> Self {
        let mut h = Self::new(leaf_size);
        let full = (bytes.len() / h.leaf_size) as u64;
        let mut roots = Vec::new();
        let mut first = 0u64;
        for b in (0..u64::BITS as usize)
            .rev()
            .filter(|&b| (full >> b) & 1 == 1)
        {
            roots.push(subtree(bytes, h.leaf_size, first, b, full, threads()));
            first += 1 << b;
        }
        h.acc = MerkleAccumulator::from_frontier(full, &roots)
            .expect("one subtree root per set bit of the leaf count");
        h.buf
            .extend_from_slice(&bytes[full as usize * h.leaf_size..]);
        h.nbytes = bytes.len() as u64;
        h
    }

    /// Bytes held by the hasher.
    pub fn held_bytes(&self) -> usize {
        self.buf.capacity() + self.acc.held_bytes()
    }

    /// Feed bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        self.nbytes += data.len() as u64;
        if !self.buf.is_empty() {
            let take = (self.leaf_size - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == self.leaf_size {
                self.acc.push(keccak256(&self.buf));
                self.buf.clear();
            }
        }
        let mut chunks = data.chunks_exact(self.leaf_size);
        for c in &mut chunks {
            self.acc.push(keccak256(c));
        }
        self.buf.extend_from_slice(chunks.remainder());
    }

    /// (data root, byte count).
    pub fn finish(mut self) -> (Hash, u64) {
        if !self.buf.is_empty() || self.acc.is_empty() {
            self.buf.resize(self.leaf_size, 0);
            self.acc.push(keccak256(&self.buf));
        }
        (self.acc.root(), self.nbytes)
    }
}

/// An element's (or leaf's) Merkle proof against a tensor root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementProof {
    /// Element index (row-major); for a leaf proof, the first element in the leaf.
    pub element: u64,
    /// Index of the leaf holding it.
    pub leaf_index: u64,
    /// The leaf's bytes ([`LEAF_SIZE`] of them, zero-padded at the end of the tensor).
    pub leaf: Vec<u8>,
    /// Sibling hashes, bottom-up (length = tree depth).
    pub siblings: Vec<Hash>,
}

impl ElementProof {
    /// Calldata this proof costs on-chain: leaf bytes + 32 per sibling + a 32-byte index word.
    pub fn calldata_bytes(&self) -> usize {
        self.leaf.len() + 32 * self.siblings.len() + 32
    }

    /// Verify against `tensor_root` for a tensor with `header`; returns the
    /// element's bytes (little-endian) on success. Plain dtypes only.
    pub fn verify(&self, tensor_root: &Hash, header: &TensorHeader) -> Result<Vec<u8>> {
        let size = header.dtype.elem_size().ok_or_else(|| {
            Error::BadProof(format!(
                "{:?} is quantized: prove its leaves with leaf proofs",
                header.dtype
            ))
        })?;
        let byte_len = header.byte_len()?; // also bounds numel * size
        let numel = header.numel()?;
        if self.element >= numel {
            return Err(Error::IndexOutOfRange {
                what: "element proof",
                index: self.element,
                len: numel,
            });
        }
        let off = self.element * size;
        let want_leaf = off / LEAF_SIZE as u64;
        if self.leaf_index != want_leaf {
            return Err(Error::BadProof(format!(
                "element {} lives in leaf {want_leaf}, not {}",
                self.element, self.leaf_index
            )));
        }
        let n_leaves = leaf_count(byte_len, LEAF_SIZE);
        if self.siblings.len() != depth_for(n_leaves) {
            return Err(Error::BadProof(format!(
                "path has {} siblings, tree depth is {}",
                self.siblings.len(),
                depth_for(n_leaves)
            )));
        }
        if self.leaf.len() != LEAF_SIZE {
            return Err(Error::BadProof(format!(
                "leaf has {} bytes, not {LEAF_SIZE}",
                self.leaf.len()
            )));
        }
        let data_root = root_from_path(keccak256(&self.leaf), self.leaf_index, &self.siblings);
        if header.tensor_root(&data_root) != *tensor_root {
            return Err(Error::BadProof("recomputed tensor root differs".into()));
        }
        let o = (off % LEAF_SIZE as u64) as usize;
        Ok(self.leaf[o..o + size as usize].to_vec())
    }
}

/// A tensor with its full Merkle tree in memory (built with `rs_merkle`), for
/// producing proofs on demand.
#[derive(Clone)]
pub struct TensorTree<'a> {
    header: TensorHeader,
    bytes: &'a [u8],
    tree: MerkleTree<Keccak256>,
    n_leaves: u64,
}

impl std::fmt::Debug for TensorTree<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TensorTree")
            .field("header", &self.header)
            .field("n_leaves", &self.n_leaves)
            .finish()
    }
}

impl<'a> TensorTree<'a> {
    /// Build the tree (checks the byte length against the header).
    pub fn new(header: TensorHeader, bytes: &'a [u8]) -> Result<Self> {
        let want = header.byte_len()?;
        if bytes.len() as u64 != want {
            return Err(Error::Tensor {
                name: format!("{:?}{:?}", header.dtype, header.shape),
                msg: format!("has {} bytes, dtype and shape need {want}", bytes.len()),
            });
        }
        let n_leaves = leaf_count(want, LEAF_SIZE);
        let width = 1u64 << depth_for(n_leaves);
        let mut leaves: Vec<Hash> = (0..n_leaves)
            .map(|i| hash_leaf(bytes, LEAF_SIZE, i))
            .collect();
        leaves.resize(width as usize, super::merkle::ZERO_HASH);
        let tree = MerkleTree::<Keccak256>::from_leaves(&leaves);
        Ok(TensorTree {
            header,
            bytes,
            tree,
            n_leaves,
        })
    }

    /// The data root.
    pub fn data_root(&self) -> Hash {
        self.tree.root().unwrap_or(super::merkle::ZERO_HASH)
    }

    /// The tensor root.
    pub fn root(&self) -> Hash {
        self.header.tensor_root(&self.data_root())
    }

    /// Proof for leaf `i`.
    pub fn leaf_proof(&self, i: u64) -> Result<ElementProof> {
        if i >= self.n_leaves {
            return Err(Error::IndexOutOfRange {
                what: "leaf proof",
                index: i,
                len: self.n_leaves,
            });
        }
        let start = (i as usize) * LEAF_SIZE;
        let end = (start + LEAF_SIZE).min(self.bytes.len());
        let mut leaf = vec![0u8; LEAF_SIZE];
        leaf[..end - start].copy_from_slice(&self.bytes[start..end]);
        let siblings = if depth_for(self.n_leaves) == 0 {
            Vec::new()
        } else {
            self.tree.proof(&[i as usize]).proof_hashes().to_vec()
        };
        let first = match self.header.dtype.elem_size() {
            Some(s) => (start as u64).div_ceil(s),
            None => 0,
        };
        Ok(ElementProof {
            element: first,
            leaf_index: i,
            leaf,
            siblings,
        })
    }

    /// Proof for element `e` (plain dtypes only).
    pub fn element_proof(&self, e: u64) -> Result<ElementProof> {
        let size = self.header.dtype.elem_size().ok_or_else(|| Error::Tensor {
            name: format!("{:?}{:?}", self.header.dtype, self.header.shape),
            msg: "quantized tensors have no per-element proofs; use leaf_proof".into(),
        })?;
        let numel = self.header.numel()?;
        if e >= numel {
            return Err(Error::IndexOutOfRange {
                what: "element proof",
                index: e,
                len: numel,
            });
        }
        let mut p = self.leaf_proof(e * size / LEAF_SIZE as u64)?;
        p.element = e;
        Ok(p)
    }
}
