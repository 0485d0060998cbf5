// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "../../src/interfaces/IStepVerifier.sol";

/// @notice Test-only verifier mirroring bisection/src/game/toy.rs: a state is a u64 (8 bytes,
///         big-endian), its leaf keccak256 of those bytes, and the primitive at `path` mixes the
///         state with the path (`ToyVm::primitive`).
contract ToyStepVerifier is IStepVerifier {
    function leafHash(bytes calldata state) external pure returns (bytes32) {
        return keccak256(state);
    }

    function verify(bytes32, uint64[] calldata path, bytes calldata pre, bytes calldata post)
        external
        pure
        returns (bool)
    {
        if (pre.length != 8 || post.length != 8) return false;
        return primitive(path, uint64(bytes8(pre))) == uint64(bytes8(post));
    }

    /// @notice `ToyVm::primitive`: fold of (h ^ p) * 0x100000001b3, rotated left by 17, from state ^ 0x9e3779b97f4a7c15.
    function primitive(uint64[] memory path, uint64 state) public pure returns (uint64 h) {
        unchecked {
            h = state ^ 0x9e3779b97f4a7c15;
            for (uint256 i; i < path.length; ++i) {
                uint64 x = (h ^ path[i]) * 0x00000100000001b3;
                h = (x << 17) | (x >> 47);
            }
        }
    }
}
