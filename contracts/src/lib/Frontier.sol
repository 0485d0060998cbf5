// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Merkle} from "./Merkle.sol";
import {ListProofs} from "./ListProofs.sol";

/// @notice A `MerkleAccumulator` (docs/SPEC.md 4.1, 6.8): `count` leaves pushed, `roots` the roots of
///         the complete subtrees, one per set bit of `count`, largest first.
struct Acc {
    uint256 count;
    bytes32[] roots;
}

/// @title Frontier
/// @notice Append, root (zero-hash padding) and leaf proofs inside the frontier of an accumulator.
library Frontier {
    /// @notice The accumulator after `count` leaves with frontier `roots`; false when `roots` does not
    ///         have one root per set bit of `count`.
    function fromRoots(uint256 count, bytes32[] memory roots) internal pure returns (bool ok, Acc memory a) {
        uint256 bits;
        for (uint256 c = count; c != 0; c &= c - 1) {
            ++bits;
        }
        return (bits == roots.length, Acc(count, roots));
    }

    /// @notice The accumulator with `leaf` appended (a new value; `a` is unchanged).
    function push(Acc memory a, bytes32 leaf) internal pure returns (Acc memory) {
        uint256 n = a.roots.length;
        bytes32 x = leaf;
        for (uint256 h; (a.count >> h) & 1 == 1; ++h) {
            x = Merkle.hashPair(a.roots[--n], x);
        }
        bytes32[] memory roots = new bytes32[](n + 1);
        for (uint256 i; i < n; ++i) {
            roots[i] = a.roots[i];
        }
        roots[n] = x;
        return Acc(a.count + 1, roots);
    }

    /// @notice Root of the tree padded with zero hashes to the next power of two.
    function root(Acc memory a) internal pure returns (bytes32 x) {
        uint256 depth = Merkle.depthFor(a.count);
        uint256 i = a.roots.length;
        bytes32 z;
        uint256 h;
        bool started;
        for (uint256 b; b < 64; ++b) {
            if ((a.count >> b) & 1 == 0) continue;
            for (; h < b; ++h) {
                if (started) x = Merkle.hashPair(x, z);
                z = Merkle.hashPair(z, z);
            }
            bytes32 top = a.roots[--i];
            if (started) {
                x = Merkle.hashPair(top, x);
                z = Merkle.hashPair(z, z);
                ++h;
            } else {
                x = top;
                started = true;
            }
        }
        if (!started) {
            x = bytes32(0);
            h = 0;
        }
        for (; h < depth; ++h) {
            x = Merkle.hashPair(x, z);
            z = Merkle.hashPair(z, z);
        }
    }

    /// @notice Whether `leaf` is leaf `index` (< count) given its siblings inside the complete subtree
    ///         of the frontier that holds it.
    function proves(Acc memory a, uint256 index, bytes32 leaf, bytes32[] memory siblings) internal pure returns (bool) {
        uint256 start;
        uint256 i;
        for (uint256 b = 64; b > 0; --b) {
            uint256 h = b - 1;
            if ((a.count >> h) & 1 == 0) continue;
            uint256 size = 1 << h;
            if (index < start + size) {
                return siblings.length == h && ListProofs.rootFromPath(leaf, index - start, siblings) == a.roots[i];
            }
            start += size;
            ++i;
        }
        return false;
    }

    /// @notice The frontier as committed in a state: u8 count of roots ‖ the roots.
    function encode(Acc memory a) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(a.roots.length), a.roots);
    }
}
