// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Merkle
/// @notice The binary Merkle rules of docs/SPEC.md 4.1: an internal node is keccak256(left ‖ right)
///         (positional, no sorted pairs), a list of n leaves is padded on the right with zero hashes
///         to 2^d leaves, d = ceil(log2(max(n, 1))), and the root of one leaf is the leaf itself.
library Merkle {
    /// @notice keccak256(left ‖ right).
    function hashPair(bytes32 left, bytes32 right) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @notice The root reached from `leaf` at `index` with `proof` (siblings, bottom up).
    /// @dev In assembly: every move and claim post checks proofs, and the checked loop cost about
    ///      twice the hashing.
    function rootFromPath(bytes32 leaf, uint256 index, bytes32[] calldata proof) internal pure returns (bytes32 x) {
        assembly ("memory-safe") {
            x := leaf
            for {
                let p := proof.offset
                let end := add(p, shl(5, proof.length))
            } lt(p, end) {
                p := add(p, 0x20)
                index := shr(1, index)
            } {
                // The running hash is the left child iff the index's bit at this level is 0.
                let left := shl(5, and(index, 1))
                mstore(left, x)
                mstore(xor(left, 0x20), calldataload(p))
                x := keccak256(0x00, 0x40)
            }
        }
    }

    /// @notice ceil(log2(max(n, 1))): the depth of the padded tree over `n` leaves.
    function depthFor(uint256 n) internal pure returns (uint256 d) {
        if (n <= 1) return 0;
        // The bit length of n - 1, by binary search.
        assembly ("memory-safe") {
            let m := sub(n, 1)
            let r := shl(7, lt(0xffffffffffffffffffffffffffffffff, m))
            r := or(r, shl(6, lt(0xffffffffffffffff, shr(r, m))))
            r := or(r, shl(5, lt(0xffffffff, shr(r, m))))
            r := or(r, shl(4, lt(0xffff, shr(r, m))))
            r := or(r, shl(3, lt(0xff, shr(r, m))))
            r := or(r, shl(2, lt(0xf, shr(r, m))))
            r := or(r, shl(1, lt(0x3, shr(r, m))))
            d := add(or(r, lt(0x1, shr(r, m))), 1)
        }
    }

    /// @notice Root of a power-of-two number of leaves (1, 2, 4, ...); the caller checks the count.
    /// @dev Overwrites `leaves` in place (it is a calldata copy owned by the caller): node i of a level
    ///      is the hash of the adjacent words 2i and 2i + 1 of the level below.
    function rootOfPow2(bytes32[] memory leaves) internal pure returns (bytes32 root) {
        assembly ("memory-safe") {
            let p := add(leaves, 0x20)
            for { let n := mload(leaves) } gt(n, 1) {} {
                n := shr(1, n)
                for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                    mstore(add(p, shl(5, i)), keccak256(add(p, shl(6, i)), 0x40))
                }
            }
            root := mload(p)
        }
    }
}
