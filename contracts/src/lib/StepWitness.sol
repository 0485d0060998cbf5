// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice A Merkle proof of entry `index` of a list of `length` entries (docs/SPEC.md 4.5).
struct ListProof {
    uint64 length;
    uint64 index;
    bytes32[] siblings;
}

/// @notice An input tensor's root bound to its id, proven where it lives: source 0 the model's
///         weights, 1 the layer's input state, 2 an entry of the op sub-trace.
struct TensorRef {
    uint32 id;
    bytes32 root;
    uint8 source;
    ListProof proof;
}

/// @notice Consecutive data leaves of a tensor from leaf `first`, each with its sibling path.
struct Leaves {
    uint64 first;
    bytes data;
    bytes32[][] siblings;
}

/// @notice Everything a one-step needs besides the pre and post states (docs/SPEC.md 6.8), ABI-encoded
///         after the `pre` state; the same layout as `bisection::machine::Witness`.
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

/// @notice The one-step rejects the step: anything that does not check out (caught by the verifier).
error StepRejected();

/// @notice Reverts with `StepRejected` unless `ok`.
function need(bool ok) pure {
    if (!ok) revert StepRejected();
}
