// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {TensorData} from "./TensorData.sol";
import {Float32} from "./Float32.sol";

/// @title QuantFields
/// @notice The integer fields of an element of a quantized block and the element programs that
///         dequantize them (trace-vm `ops::quant`, ggml's reference `dequantize_row_*`).
library QuantFields {
    uint256 internal constant MAX_FIELDS = 5;

    /// @notice Field `f` (taken mod 5) of element `j` of `block` (whole, checked by the caller);
    ///         integer fields are i32 words, d and dmin f16 bit patterns.
    function field(uint8 dtype, bytes memory blk, uint256 j, uint256 f) internal pure returns (uint32) {
        return fields(dtype, blk, j)[f % MAX_FIELDS];
    }

    /// @notice Element `j` of `block` dequantized: the program of `dtype` (docs/SPEC.md 6.3.5) run on
    ///         its fields, primitive by primitive in the program's order (a `Dequant` operand).
    function dequant(uint8 dtype, bytes memory blk, uint256 j) internal pure returns (uint32) {
        uint32[5] memory f = fields(dtype, blk, j);
        uint32 d = Float32.exec(Float32.OP_F16_TO_F32, f[0], 0, 0);
        if (dtype == TensorData.Q4_K) {
            uint32 dmin = Float32.exec(Float32.OP_F16_TO_F32, f[1], 0, 0);
            uint32 sc = Float32.exec(Float32.OP_I32_TO_F32, f[2], 0, 0);
            uint32 m = Float32.exec(Float32.OP_I32_TO_F32, f[3], 0, 0);
            uint32 q = Float32.exec(Float32.OP_I32_TO_F32, f[4], 0, 0);
            uint32 dsc = Float32.mul(d, sc);
            uint32 dm = Float32.mul(dmin, m);
            return Float32.sub(Float32.mul(dsc, q), dm);
        }
        if (dtype == TensorData.Q6_K) {
            uint32 sc = Float32.exec(Float32.OP_I32_TO_F32, f[1], 0, 0);
            uint32 q = Float32.exec(Float32.OP_I32_TO_F32, f[2], 0, 0);
            return Float32.mul(Float32.mul(d, sc), q);
        }
        return Float32.mul(d, Float32.exec(Float32.OP_I32_TO_F32, f[1], 0, 0));
    }

    /// @notice The fields of element `j` of `block` (trace-vm `quant::fields`); unused ones are 0.
    function fields(uint8 dtype, bytes memory blk, uint256 j) internal pure returns (uint32[5] memory v) {
        if (dtype == TensorData.Q8_0) {
            v[0] = TensorData.halfLE(blk, 0);
            v[1] = uint32(int32(int8(uint8(blk[2 + j]))));
        } else if (dtype == TensorData.Q4_0) {
            uint8 b = uint8(blk[2 + j % 16]);
            v[0] = TensorData.halfLE(blk, 0);
            v[1] = uint32(int32(uint32(j < 16 ? b & 0xF : b >> 4)) - 8);
        } else if (dtype == TensorData.Q5_0) {
            uint32 qh = TensorData.wordLE(blk, 2);
            uint8 b = uint8(blk[6 + j % 16]);
            uint32 x = uint32(j < 16 ? b & 0xF : b >> 4) | (((qh >> j) & 1) << 4);
            v[0] = TensorData.halfLE(blk, 0);
            v[1] = uint32(int32(x) - 16);
        } else if (dtype == TensorData.Q4_K) {
            (uint256 c, uint256 r) = (j / 64, j % 64);
            (v[2], v[3]) = scaleMinK4(2 * c + (r >= 32 ? 1 : 0), blk);
            uint8 b = uint8(blk[16 + 32 * c + r % 32]);
            v[0] = TensorData.halfLE(blk, 0);
            v[1] = TensorData.halfLE(blk, 2);
            v[4] = r < 32 ? b & 0xF : b >> 4;
        } else if (dtype == TensorData.Q6_K) {
            (uint256 n, uint256 r) = (j / 128, j % 128);
            (uint256 g, uint256 l) = (r / 32, r % 32);
            uint8 ql = uint8(blk[64 * n + l + (g & 1) * 32]);
            uint8 lo = g >= 2 ? ql >> 4 : ql & 0xF;
            uint8 hi = (uint8(blk[128 + 32 * n + l]) >> uint8(2 * g)) & 3;
            v[0] = TensorData.halfLE(blk, 208);
            v[1] = uint32(int32(int8(uint8(blk[192 + 8 * n + l / 16 + 2 * g]))));
            v[2] = uint32(int32(uint32(lo | (hi << 4))) - 32);
        }
    }

    /// @notice Q4_K's packed 6-bit (scale, min) of sub-block `j` (ggml `get_scale_min_k4`); the
    ///         scales start at byte 4 of the block.
    function scaleMinK4(uint256 j, bytes memory blk) private pure returns (uint32, uint32) {
        if (j < 4) return (uint8(blk[4 + j]) & 63, uint8(blk[8 + j]) & 63);
        uint8 a = uint8(blk[8 + j]);
        return ((a & 0xF) | ((uint8(blk[j]) >> 6) << 4), (a >> 4) | ((uint8(blk[4 + j]) >> 6) << 4));
    }

    /// @notice The element program of `dtype` in the map encoding of docs/SPEC.md 6.5 (per instruction
    ///         the primitive, then three (tag, u32) sources; field k is input k).
    function program(uint8 dtype) internal pure returns (bytes memory) {
        if (dtype == TensorData.Q4_K) {
            // d, dmin, sc, m, q; d·sc, dmin·m, (d·sc)·q, (d·sc)·q − dmin·m
            return hex"11000000000001000000000100000000" hex"11000000000101000000000100000000"
                hex"0f000000000201000000000100000000" hex"0f000000000301000000000100000000"
                hex"0f000000000401000000000100000000" hex"03020000000002000000020100000000"
                hex"03020000000102000000030100000000" hex"03020000000502000000040100000000"
                hex"02020000000702000000060100000000";
        }
        if (dtype == TensorData.Q6_K) {
            // d, sc, q; d·sc, (d·sc)·q
            return hex"11000000000001000000000100000000" hex"0f000000000101000000000100000000"
                hex"0f000000000201000000000100000000" hex"03020000000002000000010100000000"
                hex"03020000000302000000020100000000";
        }
        // d, q; d·q
        return hex"11000000000001000000000100000000" hex"0f000000000101000000000100000000"
            hex"03020000000002000000010100000000";
    }
}
