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
    function rootFromPath(bytes32 leaf, uint256 index, bytes32[] calldata proof) internal pure returns (bytes32 x) {
        x = leaf;
        uint256 n = proof.length;
        for (uint256 k; k < n; ++k) {
            bytes32 s = proof[k];
            x = (index >> k) & 1 == 0 ? hashPair(x, s) : hashPair(s, x);
        }
    }

    /// @notice ceil(log2(max(n, 1))): the depth of the padded tree over `n` leaves.
    function depthFor(uint256 n) internal pure returns (uint256 d) {
        if (n <= 1) return 0;
        uint256 m = n - 1;
        while (m != 0) {
            ++d;
            m >>= 1;
        }
    }

    /// @notice Root of a power-of-two number of leaves (1, 2, 4, ...); the caller checks the count.
    /// @dev Overwrites `leaves` in place (it is a calldata copy owned by the caller).
    function rootOfPow2(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        while (n > 1) {
            n >>= 1;
            for (uint256 i; i < n; ++i) {
                leaves[i] = hashPair(leaves[2 * i], leaves[2 * i + 1]);
            }
        }
        return leaves[0];
    }
}
