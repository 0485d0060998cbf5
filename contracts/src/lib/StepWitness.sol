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

/// @notice The witness ABI-encoded in `b` (`abi.encode(w)`), read in place: checked up front exactly as
///         `abi.decode(b, (Witness))` checks it (every offset and length inside `b`, every small integer
///         clean), so that the same encodings are rejected, without copying the witness into memory.
/// @dev The checks of Solidity's ABI decoder, in its order-free form: a struct's head fits before the
///      end; an offset is at most 2^64 − 1; an array's length word starts before the end, its length
///      is at most 2^64 − 1 and its elements (a `bytes`' bytes) end by the end.
function witnessAt(bytes calldata b) pure returns (Witness calldata w) {
    bytes4 rejected = StepRejected.selector;
    assembly ("memory-safe") {
        function fail(sel) {
            mstore(0x00, sel)
            revert(0x00, 0x04)
        }
        // The position `base + offset` of the offset word at `at`.
        function tail(base, at, sel) -> p {
            let o := calldataload(at)
            if gt(o, 0xffffffffffffffff) { fail(sel) }
            p := add(base, o)
        }
        function small(v, max, sel) {
            if gt(v, max) { fail(sel) }
        }
        function fits(p, size, end, sel) {
            if slt(sub(end, p), size) { fail(sel) }
        }
        // The length of the array whose length word is at `p`.
        function length(p, end, sel) -> n {
            if iszero(slt(add(p, 0x1f), end)) { fail(sel) }
            n := calldataload(p)
            small(n, 0xffffffffffffffff, sel)
        }
        // An array of `n` words (or heads) from `p`.
        function words(p, n, end, sel) {
            if gt(add(p, shl(5, n)), end) { fail(sel) }
        }
        function bytes32s(p, end, sel) {
            words(add(p, 0x20), length(p, end, sel), end, sel)
        }
        function bytes_(p, end, sel) {
            if gt(add(add(p, 0x20), length(p, end, sel)), end) { fail(sel) }
        }
        function nested(p, end, sel) {
            let n := length(p, end, sel)
            let d := add(p, 0x20)
            words(d, n, end, sel)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } { bytes32s(tail(d, add(d, shl(5, i)), sel), end, sel) }
        }
        function listProof(p, end, sel) {
            fits(p, 0x60, end, sel)
            small(calldataload(p), 0xffffffffffffffff, sel)
            small(calldataload(add(p, 0x20)), 0xffffffffffffffff, sel)
            bytes32s(tail(p, add(p, 0x40), sel), end, sel)
        }
        function tensorRef(p, end, sel) {
            fits(p, 0x80, end, sel)
            small(calldataload(p), 0xffffffff, sel)
            small(calldataload(add(p, 0x40)), 0xff, sel)
            listProof(tail(p, add(p, 0x60), sel), end, sel)
        }
        function leaves(p, end, sel) {
            fits(p, 0x60, end, sel)
            small(calldataload(p), 0xffffffffffffffff, sel)
            bytes_(tail(p, add(p, 0x20), sel), end, sel)
            nested(tail(p, add(p, 0x40), sel), end, sel)
        }
        // An array of `TensorRef` (kind 0) or `Leaves` (kind 1) at `p`.
        function structs(p, kind, end, sel) {
            let n := length(p, end, sel)
            let d := add(p, 0x20)
            words(d, n, end, sel)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let q := tail(d, add(d, shl(5, i)), sel)
                switch kind
                case 0 { tensorRef(q, end, sel) }
                default { leaves(q, end, sel) }
            }
        }

        let end := add(b.offset, b.length)
        fits(b.offset, 0x20, end, rejected)
        w := tail(b.offset, b.offset, rejected)
        fits(w, 0x2c0, end, rejected)
        // sizes: u64 entries
        let sizes := tail(w, add(w, 0x80), rejected)
        let n := length(sizes, end, rejected)
        words(add(sizes, 0x20), n, end, rejected)
        for { let i := 0 } lt(i, n) { i := add(i, 1) } {
            small(calldataload(add(sizes, shl(5, add(i, 1)))), 0xffffffffffffffff, rejected)
        }
        small(calldataload(add(w, 0x120)), 0xffffffff, rejected) // firstOp
        small(calldataload(add(w, 0x140)), 0xffffffff, rejected) // opCount
        listProof(tail(w, add(w, 0x180), rejected), end, rejected) // layerProof
        bytes32s(tail(w, add(w, 0x1a0), rejected), end, rejected) // stateRootProof
        bytes_(tail(w, add(w, 0x1e0), rejected), end, rejected) // opEntry
        listProof(tail(w, add(w, 0x200), rejected), end, rejected) // opProof
        structs(tail(w, add(w, 0x220), rejected), 0, end, rejected) // tensors
        listProof(tail(w, add(w, 0x240), rejected), end, rejected) // idProof
        structs(tail(w, add(w, 0x260), rejected), 1, end, rejected) // reads
        nested(tail(w, add(w, 0x280), rejected), end, rejected) // stepProofs
        bytes_(tail(w, add(w, 0x2a0), rejected), end, rejected) // outAcc
    }
}

/// @notice The one-step rejects the step: anything that does not check out (caught by the verifier).
error StepRejected();

/// @notice Reverts with `StepRejected` unless `ok`.
function need(bool ok) pure {
    if (!ok) revert StepRejected();
}
