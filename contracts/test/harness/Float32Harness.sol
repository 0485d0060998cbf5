// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Float32} from "../../src/lib/Float32.sol";

/// @notice Exposes the Float32 library as external calls, for tests and gas measurement.
contract Float32Harness {
    /// @dev For gas measurements: `run(0, ...)` is the baseline, the same call doing nothing.
    function run(uint8 op, uint32 a, uint32 b, uint32 c) external pure returns (uint32) {
        if (op == 0) return 0;
        return Float32.exec(op, a, b, c);
    }

    function add(uint32 a, uint32 b) external pure returns (uint32) {
        return Float32.add(a, b);
    }

    function sub(uint32 a, uint32 b) external pure returns (uint32) {
        return Float32.sub(a, b);
    }

    function mul(uint32 a, uint32 b) external pure returns (uint32) {
        return Float32.mul(a, b);
    }

    function div(uint32 a, uint32 b) external pure returns (uint32) {
        return Float32.div(a, b);
    }

    function sqrt(uint32 a) external pure returns (uint32) {
        return Float32.sqrt(a);
    }

    function fma(uint32 a, uint32 b, uint32 c) external pure returns (uint32) {
        return Float32.fma(a, b, c);
    }

    function max(uint32 a, uint32 b) external pure returns (uint32) {
        return Float32.max(a, b);
    }

    function min(uint32 a, uint32 b) external pure returns (uint32) {
        return Float32.min(a, b);
    }

    function lt(uint32 a, uint32 b) external pure returns (bool) {
        return Float32.lt(a, b);
    }

    function le(uint32 a, uint32 b) external pure returns (bool) {
        return Float32.le(a, b);
    }

    function eq(uint32 a, uint32 b) external pure returns (bool) {
        return Float32.eq(a, b);
    }

    function exec(uint8 op, uint32 a, uint32 b, uint32 c) external pure returns (uint32) {
        return Float32.exec(op, a, b, c);
    }
}
