// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Acc, Frontier} from "./Frontier.sol";

/// @notice `out_acc(e)` (docs/SPEC.md 6.8): `e` output elements pushed, the partly filled current
///         256-byte leaf, and the frontier of the finished leaves' hashes.
struct Accum {
    uint256 e;
    bytes leaf;
    Acc leaves;
}

/// @title OutAcc
/// @notice The output accumulator of the op being run: 32-bit words, little-endian, 64 per leaf (4.2).
library OutAcc {
    uint256 internal constant LEAF = 256;
    uint256 internal constant PER_LEAF = 64;

    /// @notice The empty accumulator (`out_acc(0)`).
    function empty() internal pure returns (Accum memory a) {
        a.leaf = new bytes(LEAF);
    }

    /// @notice Decodes the preimage `u64 e ‖ leaf ‖ u8 g ‖ G_0 … G_{g−1}`; false when malformed.
    function decode(bytes memory b) internal pure returns (bool ok, Accum memory a) {
        if (b.length < 8 + LEAF + 1) return (false, a);
        uint256 g = uint8(b[8 + LEAF]);
        if (b.length != 8 + LEAF + 1 + 32 * g) return (false, a);
        uint256 e;
        bytes memory leaf = new bytes(LEAF);
        bytes32[] memory roots = new bytes32[](g);
        assembly ("memory-safe") {
            e := shr(192, mload(add(b, 32)))
            mcopy(add(leaf, 32), add(b, 40), 256)
            mcopy(add(roots, 32), add(b, 297), mul(g, 32))
        }
        a.e = e;
        a.leaf = leaf;
        (ok, a.leaves) = Frontier.fromRoots(e / PER_LEAF, roots);
    }

    /// @notice keccak256 of the preimage.
    function hash(Accum memory a) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(uint64(a.e), a.leaf, Frontier.encode(a.leaves)));
    }

    /// @notice Appends element `e` (its word, little-endian).
    function push(Accum memory a, uint32 word) internal pure {
        uint256 pos = (a.e % PER_LEAF) * 4;
        bytes memory leaf = a.leaf;
        for (uint256 k; k < 4; ++k) {
            leaf[pos + k] = bytes1(uint8(word >> (8 * k)));
        }
        a.e += 1;
        if (a.e % PER_LEAF == 0) {
            a.leaves = Frontier.push(a.leaves, keccak256(leaf));
            a.leaf = new bytes(LEAF);
        }
    }

    /// @notice The data root of the finished tensor (a partial last leaf zero-padded; an empty tensor
    ///         is one zero leaf).
    function dataRoot(Accum memory a) internal pure returns (bytes32) {
        Acc memory leaves = a.leaves;
        if (a.e % PER_LEAF != 0 || a.e == 0) leaves = Frontier.push(leaves, keccak256(a.leaf));
        return Frontier.root(leaves);
    }
}
