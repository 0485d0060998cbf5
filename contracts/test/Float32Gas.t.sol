// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {Float32} from "../src/lib/Float32.sol";

/// @notice Gas of one Float32 operation, as the one-step verifier will pay it (the library is internal,
///         so it is inlined into the caller: no call overhead). Each case is measured with gasleft()
///         around the operation, operands loaded beforehand so nothing is constant-folded; the
///         numbers land in snapshots/Float32.json (`vm.snapshotValue`), and the test fails if any op
///         exceeds its budget.
contract Float32GasTest is Test {
    uint256 internal constant BUDGET = 1500;

    /// @dev Operand sets: a typical normal case, and the slowest paths (subnormal results, deep
    ///      cancellation, far-apart exponents).
    uint32[3][] internal typical;
    uint32[3][] internal hard;

    function setUp() public {
        typical.push([uint32(0x3FC00000), 0x40490FDB, 0x3DCCCCCD]); // 1.5, pi, 0.1
        typical.push([uint32(0xC1200000), 0x3EAAAAAB, 0x42F60000]); // -10, 1/3, 123
        hard.push([uint32(0x00000003), 0x3F000000, 0x00000001]); // subnormal results
        hard.push([uint32(0x3F800001), 0x3F800001, 0xBF800002]); // fma cancellation to 2^-46
        hard.push([uint32(0x7F7FFFFF), 0x00000001, 0x80000001]); // exponents 277 places apart
        hard.push([uint32(0x00800001), 0x80800000, 0x00800000]); // cancellation into the subnormals
    }

    function test_gas_perOp() public {
        string[8] memory names = ["add", "sub", "mul", "div", "sqrt", "fma", "max", "min"];
        for (uint8 op = 1; op <= 8; ++op) {
            uint256 worstTypical = _worst(op, typical);
            uint256 worstHard = _worst(op, hard);
            vm.snapshotValue("Float32", string.concat(names[op - 1], "_typical"), worstTypical);
            vm.snapshotValue("Float32", string.concat(names[op - 1], "_worst"), worstHard);
            assertLe(worstTypical, BUDGET, string.concat(names[op - 1], " typical gas over budget"));
            assertLe(worstHard, BUDGET, string.concat(names[op - 1], " worst-case gas over budget"));
        }
    }

    function _worst(uint8 op, uint32[3][] storage cases) internal view returns (uint256 worst) {
        for (uint256 i; i < cases.length; ++i) {
            uint32 a = cases[i][0];
            uint32 b = cases[i][1];
            uint32 c = cases[i][2];
            uint256 used = _measure(op, a, b, c);
            if (used > worst) worst = used;
        }
    }

    /// @dev One branch per op so that each measurement holds exactly one inlined operation.
    function _measure(uint8 op, uint32 a, uint32 b, uint32 c) internal view returns (uint256 used) {
        uint32 r;
        uint256 g;
        if (op == Float32.OP_ADD) {
            g = gasleft();
            r = Float32.add(a, b);
            used = g - gasleft();
        } else if (op == Float32.OP_SUB) {
            g = gasleft();
            r = Float32.sub(a, b);
            used = g - gasleft();
        } else if (op == Float32.OP_MUL) {
            g = gasleft();
            r = Float32.mul(a, b);
            used = g - gasleft();
        } else if (op == Float32.OP_DIV) {
            g = gasleft();
            r = Float32.div(a, b);
            used = g - gasleft();
        } else if (op == Float32.OP_SQRT) {
            g = gasleft();
            r = Float32.sqrt(a);
            used = g - gasleft();
        } else if (op == Float32.OP_FMA) {
            g = gasleft();
            r = Float32.fma(a, b, c);
            used = g - gasleft();
        } else if (op == Float32.OP_MAX) {
            g = gasleft();
            r = Float32.max(a, b);
            used = g - gasleft();
        } else {
            g = gasleft();
            r = Float32.min(a, b);
            used = g - gasleft();
        }
        // keep r alive so the operation cannot be removed
        assembly ("memory-safe") {
            mstore(0, r)
        }
    }
}
