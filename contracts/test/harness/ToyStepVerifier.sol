// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "../../src/interfaces/IStepVerifier.sol";
import {Merkle} from "../../src/lib/Merkle.sol";

/// @notice The canonical encoding (docs/SPEC.md 4.9) of a toy state: one tensor, id 0, an I64
///         scalar holding `value` (little-endian, as tensor data is). What a claim over a toy trace
///         posts as its input and output.
function toyIo(uint64 value) pure returns (bytes memory) {
    return abi.encodePacked(uint32(1), uint32(0), uint8(0x05), uint8(0), uint64(8), _le(value));
}

/// @notice The leaf of a toy state: the state root (docs/SPEC.md 4.8) of `toyIo(value)`, computed
///         from the formulas of 4.2, 4.5 and 4.7 (not by the contracts' IoState, which tests check
///         against it).
function toyLeaf(uint64 value) pure returns (bytes32) {
    bytes32 dataRoot = keccak256(abi.encodePacked(_le(value), new bytes(248)));
    bytes32 tensorRoot = keccak256(abi.encodePacked(uint256(0x05), uint256(0), dataRoot));
    return keccak256(abi.encodePacked(uint256(1), keccak256(abi.encodePacked(uint32(0), tensorRoot))));
}

function _le(uint64 value) pure returns (bytes8 b) {
    for (uint256 i; i < 8; ++i) {
        b |= bytes8(bytes1(uint8(value >> (8 * i)))) >> (8 * i);
    }
}

/// @notice Test-only verifier mirroring bisection/src/game/toy.rs: a state is a u64 value (8 bytes,
///         big-endian), its leaf `toyLeaf` of the value (toy.rs hashes the bytes instead; a leaf that
///         is a state root lets a toy trace back a claim, whose first and last entries `postClaim`
///         checks), and the primitive at `path` mixes the value
///         with the path and with the first entry of each list on the path (`ToyVm::primitive`).
///         A step's `pre` carries those first entries, each proven against the game's root of its
///         level (`ToyState::operands`):
///         `value ‖ per level k: first_k (8 bytes) ‖ n (1 byte) ‖ n siblings of entry 0 (32 bytes each)`.
///         `post` is its 8-byte value.
contract ToyStepVerifier is IStepVerifier {
    /// @notice `toyLeaf` of the state's value (its first 8 bytes); the operands are not committed.
    function leafHash(bytes calldata state) external pure returns (bytes32) {
        return state.length < 8 ? keccak256(state) : toyLeaf(uint64(bytes8(state[0:8])));
    }

    /// @notice `ToyVm::verify_step`: every operand opens at entry 0 of its level's root (proof
    ///         lengths unchecked, as there) and the primitive on them gives `post`.
    function verify(bytes32, uint64[] calldata path, bytes32[] calldata roots, bytes calldata pre, bytes calldata post)
        external
        pure
        returns (bool)
    {
        uint256 levels = path.length;
        if (roots.length != levels || pre.length < 8 || post.length != 8) return false;
        uint64[] memory firsts = new uint64[](levels);
        uint256 at = 8;
        for (uint256 k; k < levels; ++k) {
            if (pre.length < at + 9) return false;
            uint64 first = uint64(bytes8(pre[at:at + 8]));
            uint256 n = uint8(pre[at + 8]);
            at += 9;
            if (pre.length < at + 32 * n) return false;
            bytes32 h = toyLeaf(first);
            for (uint256 j; j < n; ++j) {
                h = Merkle.hashPair(h, bytes32(pre[at:at + 32]));
                at += 32;
            }
            if (h != roots[k]) return false;
            firsts[k] = first;
        }
        if (at != pre.length) return false;
        return primitive(path, firsts, uint64(bytes8(pre[0:8]))) == uint64(bytes8(post));
    }

    /// @notice `ToyVm::primitive`: from value ^ 0x9e3779b97f4a7c15, per level the fold
    ///         h = rotl17((h ^ path[k] ^ firsts[k]) * 0x100000001b3).
    function primitive(uint64[] memory path, uint64[] memory firsts, uint64 value) public pure returns (uint64 h) {
        unchecked {
            h = value ^ 0x9e3779b97f4a7c15;
            for (uint256 k; k < path.length; ++k) {
                uint64 x = (h ^ path[k] ^ firsts[k]) * 0x00000100000001b3;
                h = (x << 17) | (x >> 47);
            }
        }
    }
}
