// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {Float32} from "../src/lib/Float32.sol";
import {Float32Harness} from "./harness/Float32Harness.sol";

/// @notice Gas of one Float32 operation as the one-step verifier pays it, opcode dispatch included:
///         the cost of a harness call that runs `Float32.exec(op, ...)`, minus the cost of the same
///         call with op 0, which returns at once (measured this way because via-IR moves code across
///         gasleft()). The numbers land in
///         snapshots/Float32.json (`vm.snapshotValue`); the test fails if any op exceeds its budget.
contract Float32GasTest is Test {
    /// @dev Budgets per op, dispatch included: typical operands, and the slowest paths.
    uint256 internal constant BUDGET_TYPICAL = 1600;
    uint256 internal constant BUDGET_WORST = 2100;

    Float32Harness internal h;

    /// @dev Operand sets: typical normal cases, and the slowest paths (subnormal operands and
    ///      results, deep cancellation, far-apart exponents).
    uint32[3][] internal typical;
    uint32[3][] internal hard;

    function setUp() public {
        h = new Float32Harness();
        typical.push([uint32(0x3FC00000), 0x40490FDB, 0x3DCCCCCD]); // 1.5, pi, 0.1
        typical.push([uint32(0xC1200000), 0x3EAAAAAB, 0x42F60000]); // -10, 1/3, 123
        hard.push([uint32(0x00000003), 0x3F000000, 0x00000001]); // subnormal operands and results
        hard.push([uint32(0x3F800001), 0x3F800001, 0xBF800002]); // fma cancellation to 2^-46
        hard.push([uint32(0x7F7FFFFF), 0x00000001, 0x80000001]); // exponents 277 places apart
        hard.push([uint32(0x00800001), 0x80800000, 0x00800000]); // cancellation into the subnormals
        hard.push([uint32(0x3F800001), 0xBF800000, 0x3F800000]); // 1 + 2^-23 - 1: near-path subtraction
    }

    function test_gas_perOp() public {
        string[19] memory names = [
            "add",
            "sub",
            "mul",
            "div",
            "sqrt",
            "fma",
            "max",
            "min",
            "neg",
            "abs",
            "lt",
            "le",
            "eq",
            "select",
            "i32_to_f32",
            "f32_to_i32",
            "f16_to_f32",
            "bf16_to_f32",
            "exp2i"
        ];
        _call(0, 1, 2, 3); // warm the harness account
        for (uint8 op = 1; op <= Float32.OP_LAST; ++op) {
            uint256 worstTypical = _worst(op, typical);
            uint256 worstHard = _worst(op, hard);
            vm.snapshotValue("Float32", string.concat(names[op - 1], "_typical"), worstTypical);
            vm.snapshotValue("Float32", string.concat(names[op - 1], "_worst"), worstHard);
            assertLe(worstTypical, BUDGET_TYPICAL, string.concat(names[op - 1], " typical gas over budget"));
            assertLe(worstHard, BUDGET_WORST, string.concat(names[op - 1], " worst-case gas over budget"));
        }
    }

    function _worst(uint8 op, uint32[3][] storage cases) internal view returns (uint256 worst) {
        for (uint256 i; i < cases.length; ++i) {
            uint32 a = cases[i][0];
            uint32 b = cases[i][1];
            uint32 c = cases[i][2];
            uint256 base = _call(0, a, b, c);
            uint256 used = _call(op, a, b, c);
            used = used > base ? used - base : 0;
            if (used > worst) worst = used;
        }
    }

    /// @dev Gas of one staticcall to `Float32Harness.run(op, a, b, c)`: op 0 is the baseline.
    function _call(uint8 op, uint32 a, uint32 b, uint32 c) internal view returns (uint256 used) {
        bytes memory data = abi.encodeCall(Float32Harness.run, (op, a, b, c));
        address target = address(h);
        uint256 g = gasleft();
        (bool ok,) = target.staticcall(data);
        used = g - gasleft();
        require(ok, "harness call failed");
    }
}
