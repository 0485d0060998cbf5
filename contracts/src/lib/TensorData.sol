// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title TensorData
/// @notice Tensor commitments (docs/SPEC.md 4.2–4.3): dtype codes and block sizes, byte lengths, the
///         header hashed before the data root, and little-endian words of proven leaves.
library TensorData {
    uint8 internal constant F32 = 0x01;
    uint8 internal constant I32 = 0x04;
    uint8 internal constant Q4_0 = 0x20;
    uint8 internal constant Q8_0 = 0x21;
    uint8 internal constant Q5_0 = 0x22;
    uint8 internal constant Q4_K = 0x23;
    uint8 internal constant Q6_K = 0x25;
    uint256 internal constant LEAF_SIZE = 256;
    uint256 internal constant MAX_TENSOR_BYTES = 1 << 40;

    /// @notice (elements, bytes) per block of `dtype`; (0, 0) for an unknown code.
    function blockOf(uint8 dtype) internal pure returns (uint256 be, uint256 bb) {
        if (dtype == F32 || dtype == I32) return (1, 4);
        if (dtype == 0x02 || dtype == 0x03) return (1, 2);
        if (dtype == 0x05) return (1, 8);
        if (dtype == 0x06 || dtype == 0x07) return (1, 1);
        if (dtype == Q4_0) return (32, 18);
        if (dtype == Q8_0) return (32, 34);
        if (dtype == Q5_0) return (32, 22);
        if (dtype == Q4_K) return (256, 144);
        if (dtype == 0x24) return (256, 176);
        if (dtype == Q6_K) return (256, 210);
        return (0, 0);
    }

    /// @notice Whether `dequant` supports `dtype` (Q4_0, Q5_0, Q8_0, Q4_K, Q6_K).
    function isQuant(uint8 dtype) internal pure returns (bool) {
        return dtype == Q4_0 || dtype == Q5_0 || dtype == Q8_0 || dtype == Q4_K || dtype == Q6_K;
    }

    /// @notice Product of `shape`; false when it overflows a u64.
    function numel(uint256[] memory shape) internal pure returns (bool ok, uint256 n) {
        n = 1;
        for (uint256 d; d < shape.length; ++d) {
            if (shape[d] != 0 && n > type(uint64).max / shape[d]) return (false, 0);
            n *= shape[d];
        }
        return (true, n);
    }

    /// @notice The byte length of a tensor; false when not whole blocks or over the size limit.
    function byteLen(uint8 dtype, uint256[] memory shape) internal pure returns (bool ok, uint256 bytes_) {
        uint256 n;
        (ok, n) = numel(shape);
        (uint256 be, uint256 bb) = blockOf(dtype);
        if (!ok || be == 0 || n % be != 0) return (false, 0);
        bytes_ = n / be * bb;
        ok = bytes_ <= MAX_TENSOR_BYTES;
    }

    /// @notice keccak256(u256(dtype) ‖ u256(rank) ‖ u256(dims…) ‖ dataRoot).
    function tensorRoot(uint8 dtype, uint256[] memory shape, bytes32 dataRoot) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(uint256(dtype), shape.length, shape, dataRoot));
    }

    /// @notice keccak256(u32 id ‖ root): a tensor root bound to its id.
    function bound(uint32 id, bytes32 root) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(id, root));
    }

    /// @notice The little-endian 32-bit word pos byte `pos` of `b`.
    function wordLE(bytes memory b, uint256 pos) internal pure returns (uint32 w) {
        for (uint256 k; k < 4; ++k) {
            w |= uint32(uint8(b[pos + k])) << uint32(8 * k);
        }
    }

    /// @notice The little-endian 16-bit value pos byte `pos` of `b`.
    function halfLE(bytes memory b, uint256 pos) internal pure returns (uint32) {
        return uint32(uint8(b[pos])) | (uint32(uint8(b[pos + 1])) << 8);
    }
}
