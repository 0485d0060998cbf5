// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Merkle} from "./Merkle.sol";
import {ListProof} from "./StepWitness.sol";

/// @title ListProofs
/// @notice Merkle paths (docs/SPEC.md 4.1) and list commitments `keccak256(u256(length) ‖ merkle_root)`
///         (4.5); the proofs of a witness are read where they lie in calldata.
library ListProofs {
    /// @notice The root reached from `leaf` at `index` with `siblings` (bottom up).
    function rootFromPath(bytes32 leaf, uint256 index, bytes32[] memory siblings) internal pure returns (bytes32 x) {
        x = leaf;
        uint256 n = siblings.length;
        for (uint256 k; k < n; ++k) {
            bytes32 s = siblings[k];
            x = (index >> k) & 1 == 0 ? Merkle.hashPair(x, s) : Merkle.hashPair(s, x);
        }
    }

    /// @notice keccak256(u256(length) ‖ root): a list commitment from its Merkle root.
    function listRoot(uint256 length, bytes32 root) internal pure returns (bytes32) {
        return Merkle.hashPair(bytes32(length), root);
    }

    /// @notice Whether `leaf` is entry `p.index` of the list committed by `root`.
    function proves(ListProof calldata p, bytes32 root, bytes32 leaf) internal pure returns (bool) {
        (uint256 length, uint256 index) = (p.length, p.index);
        bytes32[] calldata siblings = p.siblings;
        return index < length && siblings.length == Merkle.depthFor(length)
            && listRoot(length, Merkle.rootFromPath(leaf, index, siblings)) == root;
    }

    /// @notice Whether `leaf` is entry `index` of a game list of `size` entries with Merkle root `root`.
    function inGameList(bytes32 root, uint256 size, uint256 index, bytes32 leaf, bytes32[] calldata siblings)
        internal
        pure
        returns (bool)
    {
        return index < size && siblings.length == Merkle.depthFor(size)
            && Merkle.rootFromPath(leaf, index, siblings) == root;
    }
}
