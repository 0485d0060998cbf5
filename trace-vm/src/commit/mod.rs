//! keccak256 Merkle commitments (SPEC.md, "Commitments").
//!
//! - [`merkle`]: the tree rules shared by every commitment (keccak256 nodes,
//!   padding with zero hashes to a power of two), an incremental accumulator
//!   and list roots.
//! - [`tensor`]: tensor data roots over fixed-size leaves, tensor roots bound to
//!   dtype and shape, element proofs and their verifier.
//! - [`stream`]: streaming hashers for boundary states and the claim-time trace
//!   root, with memory bounded by the largest live tensor.

pub mod merkle;
pub mod stream;
pub mod tensor;

pub use merkle::{
    Hash, Keccak256, MerkleAccumulator, ZERO_HASH, keccak256, list_root, merkle_root, node,
};
pub use stream::{StateHasher, TraceCommitment, TraceHasher};
pub use tensor::{DType, ElementProof, LEAF_SIZE, TensorCommitment, TensorHeader, TensorTree};

/// A tensor root bound to the tensor's id: keccak256(u32 id ‖ root). State
/// lists, op sub-traces and `weights_root` hold bound roots, so a proof of an
/// entry anywhere in such a list also says which tensor it is.
pub fn bound(id: u32, root: &Hash) -> Hash {
    let mut b = [0u8; 36];
    b[..4].copy_from_slice(&id.to_be_bytes());
    b[4..].copy_from_slice(root);
    keccak256(&b)
}

/// model_root = keccak256(weights_root ‖ arch_hash), where `weights_root` is the
/// [`list_root`] of the weights' [`bound`] roots in the program's weight-table
/// order and `arch_hash` is keccak256 of the canonical program encoding.
pub fn model_root(weights_root: &Hash, arch_hash: &Hash) -> Hash {
    node(weights_root, arch_hash)
}
