// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "./interfaces/IStepVerifier.sol";
import {Float32} from "./lib/Float32.sol";

/// @title PrimitiveStepVerifier
/// @notice The first real one-step: re-executes one binary32 primitive (docs/SPEC.md 1.3).
///         A last-level state is either an operation, `pre` = opcode (1 byte) ‖ a ‖ b ‖ c (4 bytes
///         each, big-endian binary32 bits; unused operands zero), or a result, `post` = r (4 bytes).
///         Its leaf is keccak256 of those bytes. The step is right when `Float32.exec(op, a, b, c) == r`.
/// @dev `context`, `path` and `roots` are not needed to re-execute a self-describing primitive; the
///      full verifier of SPEC 6.8 uses them to locate the op and prove its operands.
contract PrimitiveStepVerifier is IStepVerifier {
    /// @inheritdoc IStepVerifier
    function leafHash(bytes calldata state) external pure returns (bytes32) {
        return keccak256(state);
    }

    /// @inheritdoc IStepVerifier
    function verify(bytes32, uint64[] calldata, bytes32[] calldata, bytes calldata pre, bytes calldata post)
        external
        pure
        returns (bool)
    {
        if (pre.length != 13 || post.length != 4) return false;
        uint8 op = uint8(pre[0]);
        if (op == 0 || op > Float32.OP_LAST) return false;
        uint32 a = uint32(bytes4(pre[1:5]));
        uint32 b = uint32(bytes4(pre[5:9]));
        uint32 c = uint32(bytes4(pre[9:13]));
        return Float32.exec(op, a, b, c) == uint32(bytes4(post[0:4]));
    }
}
