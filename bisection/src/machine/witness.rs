//! The one-step witness (docs/SPEC.md 6.8, "Where the verifier finds
//! everything"), ABI-encoded after the `pre` state so the contract decodes it
//! with `abi.decode` and the Rust verifier with the same layout.

use trace_vm::commit::merkle::{depth_for, list_root_from, root_from_path, u256};
use trace_vm::commit::{Hash, keccak256, node};

alloy::sol! {
    /// A Merkle proof of entry `index` of a list of `length` entries.
    #[derive(Debug, PartialEq, Eq)]
    struct ListProof {
        uint64 length;
        uint64 index;
        bytes32[] siblings;
    }

    /// An input tensor's root, bound to its id and proven where it lives:
    /// source 0 the model's weights, 1 the layer's input state, 2 an entry
    /// of the op sub-trace (the output of an earlier op of the layer).
    #[derive(Debug, PartialEq, Eq)]
    struct TensorRef {
        uint32 id;
        bytes32 root;
        uint8 source;
        ListProof proof;
    }

    /// Consecutive data leaves of a tensor, starting at leaf `first`, each
    /// with its sibling path.
    #[derive(Debug, PartialEq, Eq)]
    struct Leaves {
        uint64 first;
        bytes data;
        bytes32[][] siblings;
    }

    /// Everything a one-step needs besides the pre and post states.
    #[derive(Debug, PartialEq, Eq)]
    struct Witness {
        bytes32 weightsRoot;
        bytes32 archHash;
        bytes32 inputHash;
        bytes32 outputHash;
        uint64[] sizes;
        bytes32[4] program;
        uint32 firstOp;
        uint32 opCount;
        bytes32 nextIdsRoot;
        ListProof layerProof;
        bytes32[] stateRootProof;
        bytes32 stateRoot;
        bytes opEntry;
        ListProof opProof;
        TensorRef[] tensors;
        ListProof idProof;
        Leaves[] reads;
        bytes32[][] stepProofs;
        bytes outAcc;
    }
}

/// What a claim commits to (docs/SPEC.md section 7): the hash the game
/// carries as its context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The model's weights root (4.7).
    pub weights_root: Hash,
    /// The model's program hash (6.5).
    pub arch_hash: Hash,
    /// keccak256 of the input bytes.
    pub input_hash: Hash,
    /// keccak256 of the output bytes.
    pub output_hash: Hash,
    /// Root of the level-0 list.
    pub trace_root: Hash,
    /// List size of each level.
    pub sizes: Vec<u64>,
}

impl Claim {
    /// The model id: keccak256(weights_root ‖ arch_hash).
    pub fn model_id(&self) -> Hash {
        node(&self.weights_root, &self.arch_hash)
    }

    /// keccak256(abi.encode(modelId, inputHash, outputHash, traceRoot, sizesHash)).
    pub fn hash(&self) -> Hash {
        let sizes: Vec<u8> = self.sizes.iter().flat_map(|&n| u256(n)).collect();
        let mut b = self.model_id().to_vec();
        for w in [
            self.input_hash,
            self.output_hash,
            self.trace_root,
            keccak256(&sizes),
        ] {
            b.extend_from_slice(&w);
        }
        keccak256(&b)
    }
}

pub(crate) fn hash(b: &alloy::primitives::B256) -> Hash {
    b.0
}

pub(crate) fn hashes(v: &[alloy::primitives::B256]) -> Vec<Hash> {
    v.iter().map(hash).collect()
}

impl ListProof {
    pub(crate) fn new(length: usize, index: usize, siblings: Vec<Hash>) -> Self {
        Self {
            length: length as u64,
            index: index as u64,
            siblings: siblings.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `leaf` is entry `index` of the list committed by `list_root` (4.5).
    pub(crate) fn proves(&self, list_root: &Hash, leaf: Hash) -> bool {
        self.index < self.length
            && self.siblings.len() == depth_for(self.length)
            && list_root_from(
                self.length,
                &root_from_path(leaf, self.index, &hashes(&self.siblings)),
            ) == *list_root
    }
}

/// Whether `leaf` is entry `index` of a game list of `size` entries with Merkle root `root`.
pub(crate) fn in_game_list(
    root: &Hash,
    size: u64,
    index: u64,
    leaf: Hash,
    siblings: &[Hash],
) -> bool {
    index < size
        && siblings.len() == depth_for(size)
        && root_from_path(leaf, index, siblings) == *root
}
