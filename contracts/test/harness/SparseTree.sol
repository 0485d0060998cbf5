// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Merkle} from "../../src/lib/Merkle.sol";

/// @notice A list of 2^depth leaves that all equal `fill` except a few given ones, so that tests can
///         play games on lists far too long to hash in full: a subtree of fill leaves hashes to the
///         fill root of its height, and only the paths to the given leaves are hashed.
library SparseTree {
    struct Tree {
        uint256 depth;
        bytes32 fill;
        uint256[] at;
        bytes32[] leaf;
    }

    /// @notice Node (`depth`, `index`) of the tree.
    function node(Tree memory t, uint256 depth, uint256 index) internal pure returns (bytes32 h) {
        uint256 height = t.depth - depth;
        bool holds;
        for (uint256 i; i < t.at.length; ++i) {
            if (t.at[i] >> height != index) continue;
            if (height == 0) return t.leaf[i];
            holds = true;
        }
        if (holds) return Merkle.hashPair(node(t, depth + 1, 2 * index), node(t, depth + 1, 2 * index + 1));
        h = t.fill;
        for (uint256 j; j < height; ++j) {
            h = Merkle.hashPair(h, h);
        }
    }

    function root(Tree memory t) internal pure returns (bytes32) {
        return node(t, 0, 0);
    }

    /// @notice Siblings of leaf `i`, bottom up.
    function proof(Tree memory t, uint256 i) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](t.depth);
        for (uint256 k; k < t.depth; ++k) {
            p[k] = node(t, t.depth - k, (i >> k) ^ 1);
        }
    }

    /// @notice The 2^k descendants of node (`depth`, `index`).
    function descendants(Tree memory t, uint256 depth, uint256 index, uint256 k)
        internal
        pure
        returns (bytes32[] memory c)
    {
        c = new bytes32[](1 << k);
        for (uint256 j; j < c.length; ++j) {
            c[j] = node(t, depth + k, (index << k) + j);
        }
    }
}
