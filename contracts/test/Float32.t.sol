// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {Float32} from "../src/lib/Float32.sol";
import {Float32Harness} from "./harness/Float32Harness.sol";

/// @notice Hand-checked edge cases of Float32 (expected bit patterns worked out by hand, with the
///         reasoning next to each), and exact algebraic properties fuzzed over all bit patterns.
contract Float32Test is Test {
    uint32 internal constant NAN = 0x7FC00000;
    uint32 internal constant INF = 0x7F800000;
    uint32 internal constant NINF = 0xFF800000;
    uint32 internal constant PZERO = 0x00000000;
    uint32 internal constant NZERO = 0x80000000;
    uint32 internal constant ONE = 0x3F800000; // 1.0
    uint32 internal constant ONE_ULP = 0x3F800001; // 1 + 2^-23
    uint32 internal constant TWO = 0x40000000;
    uint32 internal constant THREE = 0x40400000;
    uint32 internal constant HALF = 0x3F000000;
    uint32 internal constant MAX = 0x7F7FFFFF; // largest finite, (2 - 2^-23) * 2^127
    uint32 internal constant MIN_NORMAL = 0x00800000; // 2^-126
    uint32 internal constant MAX_SUB = 0x007FFFFF;
    uint32 internal constant MIN_SUB = 0x00000001; // 2^-149
    uint32 internal constant SNAN = 0x7F800001;
    uint32 internal constant NEG_QNAN = 0xFFC00000;

    Float32Harness internal h;

    function setUp() public {
        h = new Float32Harness();
    }

    function _eq(uint32 got, uint32 want, string memory what) internal pure {
        if (got != want) revert(string.concat(what, ": got ", hex8(got), ", want ", hex8(want)));
    }

    function _isNaN(uint32 x) internal pure returns (bool) {
        return x & 0x7FFFFFFF > INF;
    }

    function _neg(uint32 x) internal pure returns (uint32) {
        return x ^ 0x80000000;
    }

    // ================================================================== add / sub

    function test_add_exact() public pure {
        _eq(Float32.add(ONE, ONE), TWO, "1 + 1");
        _eq(Float32.add(ONE, TWO), THREE, "1 + 2");
    }

    function test_add_tiesToEven() public pure {
        // 1 + 2^-24 is halfway between 1 (even) and 1 + 2^-23 (odd): stays 1
        _eq(Float32.add(ONE, 0x33800000), ONE, "1 + 2^-24");
        // (1 + 2^-23) + 2^-24 is halfway between odd 1 + 2^-23 and even 1 + 2^-22: goes up
        _eq(Float32.add(ONE_ULP, 0x33800000), 0x3F800002, "(1 + 2^-23) + 2^-24");
        // 1 + (2^-24 + 2^-47) is just above the halfway point: goes up
        _eq(Float32.add(ONE, 0x33800001), ONE_ULP, "1 + (2^-24 + 2^-47)");
        // 1 + 2^-25 is below halfway, even far below (2^-100): stays 1
        _eq(Float32.add(ONE, 0x33000000), ONE, "1 + 2^-25");
        _eq(Float32.add(ONE, 0x0D800000), ONE, "1 + 2^-100");
        // 1 - 2^-100: below 1, the grid is 2^-24 there, and 2^-100 is far under half of it
        _eq(Float32.sub(ONE, 0x0D800000), ONE, "1 - 2^-100");
        // 1 - 2^-25 is halfway between 1 - 2^-24 (odd) and 1 (even): goes to 1
        _eq(Float32.sub(ONE, 0x33000000), ONE, "1 - 2^-25");
        // 1 - 2^-24 is exact: 0x3F7FFFFF
        _eq(Float32.sub(ONE, 0x33800000), 0x3F7FFFFF, "1 - 2^-24");
    }

    function test_add_signedZeros() public pure {
        _eq(Float32.add(ONE, 0xBF800000), PZERO, "1 + -1 is +0");
        _eq(Float32.add(0xBF800000, ONE), PZERO, "-1 + 1 is +0");
        _eq(Float32.add(NZERO, NZERO), NZERO, "-0 + -0");
        _eq(Float32.add(PZERO, NZERO), PZERO, "+0 + -0");
        _eq(Float32.add(NZERO, PZERO), PZERO, "-0 + +0");
        _eq(Float32.add(NZERO, 0xC0000000), 0xC0000000, "-0 + -2");
        _eq(Float32.add(MIN_SUB, NZERO), MIN_SUB, "2^-149 + -0");
    }

    function test_add_infinitiesAndNaN() public pure {
        _eq(Float32.add(INF, NINF), NAN, "inf + -inf");
        _eq(Float32.add(INF, INF), INF, "inf + inf");
        _eq(Float32.add(NINF, NINF), NINF, "-inf + -inf");
        _eq(Float32.add(INF, MAX), INF, "inf + max");
        _eq(Float32.add(0xC0000000, NINF), NINF, "-2 + -inf");
        _eq(Float32.add(SNAN, ONE), NAN, "sNaN + 1");
        _eq(Float32.add(ONE, NEG_QNAN), NAN, "1 + -qNaN");
        _eq(Float32.add(0x7FFFFFFF, INF), NAN, "NaN + inf");
    }

    function test_add_overflow() public pure {
        _eq(Float32.add(MAX, MAX), INF, "max + max");
        // half an ulp of max is 2^103; max has an odd significand, so the tie rounds up to 2^128 = inf
        _eq(Float32.add(MAX, 0x73000000), INF, "max + 2^103");
        _eq(Float32.add(MAX, 0x72800000), MAX, "max + 2^102");
        _eq(Float32.add(0xFF7FFFFF, 0xF3000000), NINF, "-max - 2^103");
    }

    function test_add_subnormals() public pure {
        _eq(Float32.add(MIN_SUB, MIN_SUB), 0x00000002, "2^-149 + 2^-149");
        _eq(Float32.add(MAX_SUB, MIN_SUB), MIN_NORMAL, "largest subnormal + 2^-149");
        _eq(Float32.sub(MIN_NORMAL, MAX_SUB), MIN_SUB, "2^-126 - largest subnormal");
        _eq(Float32.sub(0x00800001, MIN_NORMAL), MIN_SUB, "cancellation into the subnormals");
        _eq(Float32.add(MAX_SUB, MAX_SUB), 0x00FFFFFE, "subnormal sum becomes normal");
    }

    function test_sub_basics() public pure {
        _eq(Float32.sub(ONE, ONE), PZERO, "1 - 1");
        _eq(Float32.sub(NZERO, PZERO), NZERO, "-0 - +0");
        _eq(Float32.sub(PZERO, PZERO), PZERO, "+0 - +0");
        _eq(Float32.sub(PZERO, NZERO), PZERO, "+0 - -0");
        _eq(Float32.sub(ONE_ULP, ONE), 0x34000000, "(1 + 2^-23) - 1 = 2^-23");
        _eq(Float32.sub(INF, INF), NAN, "inf - inf");
        _eq(Float32.sub(INF, NINF), INF, "inf - -inf");
        _eq(Float32.sub(ONE, SNAN), NAN, "1 - sNaN");
    }

    // ================================================================== mul

    function test_mul_exact() public pure {
        _eq(Float32.mul(TWO, THREE), 0x40C00000, "2 * 3");
        _eq(Float32.mul(0xBF800000, THREE), 0xC0400000, "-1 * 3");
        _eq(Float32.mul(MIN_NORMAL, HALF), 0x00400000, "2^-126 * 0.5 is subnormal");
    }

    function test_mul_rounding() public pure {
        // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46: rounds down to 1 + 2^-22
        _eq(Float32.mul(ONE_ULP, ONE_ULP), 0x3F800002, "(1 + 2^-23)^2");
        // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: a tie; 1 + 2^-11 is even, so it stays
        _eq(Float32.mul(0x3F800800, 0x3F800800), 0x3F801000, "(1 + 2^-12)^2");
        // (1 + 2^-12)(1 + 2^-12 + 2^-23) = 1 + 2^-11 + 2^-23 + 2^-24 + 2^-35: above the tie
        _eq(Float32.mul(0x3F800800, 0x3F800801), 0x3F801002, "(1 + 2^-12)(1 + 2^-12 + 2^-23)");
    }

    function test_mul_underflow() public pure {
        // 2^-150 is halfway between 0 (even) and 2^-149 (odd): 0
        _eq(Float32.mul(MIN_SUB, HALF), PZERO, "2^-149 * 0.5");
        _eq(Float32.mul(0x80000001, HALF), NZERO, "-2^-149 * 0.5");
        // 1.5 * 2^-149 is halfway between 1 and 2 (even) times 2^-149: 2
        _eq(Float32.mul(0x00000003, HALF), 0x00000002, "3 * 2^-149 * 0.5");
        // 0.75 * 2^-149 rounds to 2^-149
        _eq(Float32.mul(MIN_SUB, 0x3F400000), MIN_SUB, "2^-149 * 0.75");
        // 2^-75 * 2^-75 = 2^-150: a tie, to 0
        _eq(Float32.mul(0x1A000000, 0x1A000000), PZERO, "2^-75 * 2^-75");
        // (2^-75 + 2^-98)^2 is just over 2^-150: to 2^-149
        _eq(Float32.mul(0x1A000001, 0x1A000001), MIN_SUB, "(2^-75(1 + 2^-23))^2");
        // the product of the two smallest subnormals is 2^-298
        _eq(Float32.mul(MIN_SUB, MIN_SUB), PZERO, "2^-149 * 2^-149");
        // largest subnormal * 2 is exact; a product rounding up into the normals
        _eq(Float32.mul(MAX_SUB, TWO), 0x00FFFFFE, "largest subnormal * 2");
        _eq(Float32.mul(0x3F7FFFFF, MIN_NORMAL), MIN_NORMAL, "(1 - 2^-24) * 2^-126 rounds up to 2^-126");
    }

    function test_mul_overflow() public pure {
        _eq(Float32.mul(MAX, TWO), INF, "max * 2");
        _eq(Float32.mul(MAX, 0xC0000000), NINF, "max * -2");
        _eq(Float32.mul(0x5F800000, 0x5F800000), INF, "2^64 * 2^64 = 2^128");
        _eq(Float32.mul(0x5F7FFFFF, 0x5F800000), 0x7F7FFFFF, "just below 2^128");
    }

    function test_mul_specials() public pure {
        _eq(Float32.mul(PZERO, INF), NAN, "0 * inf");
        _eq(Float32.mul(NINF, NZERO), NAN, "-inf * -0");
        _eq(Float32.mul(NZERO, 0x40A00000), NZERO, "-0 * 5");
        _eq(Float32.mul(0xBF800000, NZERO), PZERO, "-1 * -0");
        _eq(Float32.mul(NINF, 0xBF800000), INF, "-inf * -1");
        _eq(Float32.mul(INF, MIN_SUB), INF, "inf * 2^-149");
        _eq(Float32.mul(SNAN, PZERO), NAN, "sNaN * 0");
        _eq(Float32.mul(NEG_QNAN, ONE), NAN, "-qNaN * 1");
    }

    // ================================================================== div

    function test_div_values() public pure {
        _eq(Float32.div(ONE, THREE), 0x3EAAAAAB, "1 / 3");
        _eq(Float32.div(TWO, THREE), 0x3F2AAAAB, "2 / 3");
        _eq(Float32.div(0x40C00000, TWO), THREE, "6 / 2");
        _eq(Float32.div(0xC0E00000, TWO), 0xC0600000, "-7 / 2");
    }

    function test_div_specials() public pure {
        _eq(Float32.div(ONE, PZERO), INF, "1 / 0");
        _eq(Float32.div(0xBF800000, PZERO), NINF, "-1 / 0");
        _eq(Float32.div(ONE, NZERO), NINF, "1 / -0");
        _eq(Float32.div(PZERO, PZERO), NAN, "0 / 0");
        _eq(Float32.div(INF, NINF), NAN, "inf / -inf");
        _eq(Float32.div(ONE, INF), PZERO, "1 / inf");
        _eq(Float32.div(0xBF800000, INF), NZERO, "-1 / inf");
        _eq(Float32.div(PZERO, 0xC0A00000), NZERO, "0 / -5");
        _eq(Float32.div(INF, PZERO), INF, "inf / 0");
        _eq(Float32.div(PZERO, INF), PZERO, "0 / inf");
        _eq(Float32.div(SNAN, ONE), NAN, "sNaN / 1");
        _eq(Float32.div(ONE, 0xFFFFFFFF), NAN, "1 / -NaN");
    }

    function test_div_rangeLimits() public pure {
        _eq(Float32.div(MIN_NORMAL, TWO), 0x00400000, "2^-126 / 2");
        _eq(Float32.div(MIN_SUB, TWO), PZERO, "2^-149 / 2 ties to 0");
        _eq(Float32.div(0x00000003, TWO), 0x00000002, "3 * 2^-149 / 2 ties to 2 * 2^-149");
        _eq(Float32.div(MAX, HALF), INF, "max / 0.5");
        // 1 / max = 2^-128 (1 + 2^-24 + ...): the excess is far under half of 2^-149
        _eq(Float32.div(ONE, MAX), 0x00200000, "1 / max");
        _eq(Float32.div(MIN_SUB, MAX), PZERO, "2^-149 / max");
        _eq(Float32.div(MAX, MIN_SUB), INF, "max / 2^-149");
        _eq(Float32.div(MIN_SUB, MIN_SUB), ONE, "2^-149 / 2^-149");
    }

    // ================================================================== sqrt

    function test_sqrt_values() public pure {
        _eq(Float32.sqrt(0x40800000), TWO, "sqrt 4");
        _eq(Float32.sqrt(ONE), ONE, "sqrt 1");
        _eq(Float32.sqrt(TWO), 0x3FB504F3, "sqrt 2");
        _eq(Float32.sqrt(0x41100000), THREE, "sqrt 9");
        // sqrt(1 + 2^-23) = 1 + 2^-24 - 2^-49 + ...: just below the tie, to 1
        _eq(Float32.sqrt(ONE_ULP), ONE, "sqrt(1 + 2^-23)");
        // sqrt(1 + 2^-22) = 1 + 2^-23 - 2^-47 + ...: to 1 + 2^-23
        _eq(Float32.sqrt(0x3F800002), ONE_ULP, "sqrt(1 + 2^-22)");
        _eq(Float32.sqrt(MAX), 0x5F7FFFFF, "sqrt max");
    }

    function test_sqrt_subnormals() public pure {
        // sqrt(2^-149) = 2^-75 sqrt(2)
        _eq(Float32.sqrt(MIN_SUB), 0x1A3504F3, "sqrt 2^-149");
        _eq(Float32.sqrt(0x00000002), 0x1A800000, "sqrt 2^-148 = 2^-74");
        _eq(Float32.sqrt(0x00000008), 0x1B000000, "sqrt 2^-146 = 2^-73");
        _eq(Float32.sqrt(MIN_NORMAL), 0x20000000, "sqrt 2^-126 = 2^-63");
    }

    function test_sqrt_specials() public pure {
        _eq(Float32.sqrt(NZERO), NZERO, "sqrt -0");
        _eq(Float32.sqrt(PZERO), PZERO, "sqrt +0");
        _eq(Float32.sqrt(0xBF800000), NAN, "sqrt -1");
        _eq(Float32.sqrt(0x80000001), NAN, "sqrt -2^-149");
        _eq(Float32.sqrt(INF), INF, "sqrt inf");
        _eq(Float32.sqrt(NINF), NAN, "sqrt -inf");
        _eq(Float32.sqrt(SNAN), NAN, "sqrt sNaN");
        _eq(Float32.sqrt(NEG_QNAN), NAN, "sqrt -qNaN");
    }

    // ================================================================== fma

    function test_fma_fusedDiffersFromUnfused() public pure {
        // (1 + 2^-23)^2 - (1 + 2^-22) = 2^-46 exactly; unfused, the product rounds to 1 + 2^-22 and gives 0
        _eq(Float32.fma(ONE_ULP, ONE_ULP, 0xBF800002), 0x28800000, "fused cancellation");
        _eq(Float32.add(Float32.mul(ONE_ULP, ONE_ULP), 0xBF800002), PZERO, "unfused cancellation");
        // (1 + 2^-12)^2 + 2^-48 = 1 + 2^-11 + 2^-24 + 2^-48: above the tie, up; unfused, the product ties
        // to even 1 + 2^-11 first and the 2^-48 is lost
        _eq(Float32.fma(0x3F800800, 0x3F800800, 0x27800000), 0x3F801001, "fused tie break");
        _eq(Float32.add(Float32.mul(0x3F800800, 0x3F800800), 0x27800000), 0x3F801000, "unfused tie break");
    }

    function test_fma_values() public pure {
        _eq(Float32.fma(TWO, THREE, ONE), 0x40E00000, "2 * 3 + 1");
        _eq(Float32.fma(TWO, THREE, 0xC0C00000), PZERO, "2 * 3 - 6 is +0");
        _eq(Float32.fma(0xC0000000, THREE, 0x40C00000), PZERO, "-2 * 3 + 6 is +0");
        _eq(Float32.fma(ONE, ONE, 0x33800000), ONE, "1 + 2^-24 ties to 1");
        _eq(Float32.fma(ONE_ULP, ONE, 0x33800000), 0x3F800002, "(1 + 2^-23) + 2^-24 ties up");
        // a product far below c only leaves a sticky bit
        _eq(Float32.fma(MIN_SUB, MIN_SUB, ONE), ONE, "2^-298 + 1");
        _eq(Float32.fma(0x80000001, MIN_SUB, ONE), ONE, "-2^-298 + 1");
        _eq(Float32.fma(MIN_SUB, MIN_SUB, MIN_SUB), MIN_SUB, "2^-298 + 2^-149");
        // c far below the product
        _eq(Float32.fma(MAX, ONE, MIN_SUB), MAX, "max + 2^-149");
        _eq(Float32.fma(MAX, TWO, 0xFF7FFFFF), MAX, "max * 2 - max = max (no overflow in between)");
        _eq(Float32.fma(MAX, TWO, PZERO), INF, "max * 2 + 0");
        _eq(Float32.fma(MIN_SUB, HALF, PZERO), PZERO, "2^-150 + 0 ties to 0");
        _eq(Float32.fma(MIN_SUB, HALF, MIN_SUB), 0x00000002, "2^-150 + 2^-149 ties to 2 * 2^-149");
    }

    function test_fma_signedZeros() public pure {
        _eq(Float32.fma(PZERO, 0x40A00000, NZERO), PZERO, "+0 * 5 + -0");
        _eq(Float32.fma(0xBF800000, PZERO, NZERO), NZERO, "-1 * +0 + -0");
        _eq(Float32.fma(0xBF800000, PZERO, PZERO), PZERO, "-1 * +0 + +0");
        _eq(Float32.fma(PZERO, ONE, THREE), THREE, "0 * 1 + 3");
        _eq(Float32.fma(NZERO, ONE, 0x80000001), 0x80000001, "-0 * 1 - 2^-149");
        _eq(Float32.fma(MIN_SUB, MIN_SUB, NZERO), PZERO, "2^-298 - 0 rounds to +0");
        _eq(Float32.fma(0x80000001, MIN_SUB, PZERO), NZERO, "-2^-298 + 0 rounds to -0");
    }

    function test_fma_specials() public pure {
        _eq(Float32.fma(INF, PZERO, ONE), NAN, "inf * 0 + 1");
        _eq(Float32.fma(PZERO, NINF, NEG_QNAN), NAN, "0 * -inf + NaN");
        _eq(Float32.fma(INF, ONE, NINF), NAN, "inf * 1 - inf");
        _eq(Float32.fma(NINF, 0xBF800000, NINF), NAN, "-inf * -1 - inf");
        _eq(Float32.fma(INF, ONE, INF), INF, "inf * 1 + inf");
        _eq(Float32.fma(NINF, ONE, ONE), NINF, "-inf * 1 + 1");
        _eq(Float32.fma(ONE, ONE, NINF), NINF, "1 * 1 - inf");
        _eq(Float32.fma(MAX, MAX, NINF), NINF, "max * max - inf: the product is finite");
        _eq(Float32.fma(ONE, ONE, SNAN), NAN, "1 * 1 + sNaN");
        _eq(Float32.fma(SNAN, ONE, ONE), NAN, "sNaN * 1 + 1");
    }

    // ================================================================== max / min / compare

    function test_max_signedZerosAndNaN() public pure {
        _eq(Float32.max(NZERO, PZERO), PZERO, "max(-0, +0)");
        _eq(Float32.max(PZERO, NZERO), PZERO, "max(+0, -0)");
        _eq(Float32.min(NZERO, PZERO), NZERO, "min(-0, +0)");
        _eq(Float32.min(PZERO, NZERO), NZERO, "min(+0, -0)");
        _eq(Float32.max(NAN, ONE), NAN, "max(NaN, 1)");
        _eq(Float32.max(ONE, SNAN), NAN, "max(1, sNaN)");
        _eq(Float32.min(NEG_QNAN, NINF), NAN, "min(-qNaN, -inf)");
        _eq(Float32.min(ONE, 0x7FFFFFFF), NAN, "min(1, NaN)");
    }

    function test_max_ordering() public pure {
        _eq(Float32.max(ONE, TWO), TWO, "max(1, 2)");
        _eq(Float32.max(0xBF800000, 0xC0000000), 0xBF800000, "max(-1, -2)");
        _eq(Float32.min(0xBF800000, 0xC0000000), 0xC0000000, "min(-1, -2)");
        _eq(Float32.max(NINF, 0xFF7FFFFF), 0xFF7FFFFF, "max(-inf, -max)");
        _eq(Float32.min(INF, MAX), MAX, "min(inf, max)");
        _eq(Float32.max(MIN_SUB, NZERO), MIN_SUB, "max(2^-149, -0)");
        _eq(Float32.min(0x80000001, PZERO), 0x80000001, "min(-2^-149, +0)");
        _eq(Float32.max(ONE, ONE), ONE, "max(1, 1)");
    }

    function test_lt_cases() public pure {
        assertFalse(Float32.lt(NZERO, PZERO));
        assertFalse(Float32.lt(PZERO, NZERO));
        assertTrue(Float32.lt(NINF, 0xFF7FFFFF));
        assertTrue(Float32.lt(0xC0000000, 0xBF800000));
        assertFalse(Float32.lt(0xBF800000, 0xC0000000));
        assertTrue(Float32.lt(0x80000001, PZERO));
        assertTrue(Float32.lt(MAX, INF));
        assertFalse(Float32.lt(ONE, NAN));
        assertFalse(Float32.lt(NAN, ONE));
        assertFalse(Float32.lt(ONE, ONE));
    }

    function test_le_cases() public pure {
        assertTrue(Float32.le(NZERO, PZERO));
        assertTrue(Float32.le(PZERO, NZERO));
        assertTrue(Float32.le(ONE, ONE));
        assertTrue(Float32.le(0xC0000000, 0xBF800000));
        assertFalse(Float32.le(TWO, ONE));
        assertFalse(Float32.le(NAN, NAN));
        assertFalse(Float32.le(NINF, SNAN));
    }

    function test_eq_cases() public pure {
        assertTrue(Float32.eq(NZERO, PZERO));
        assertTrue(Float32.eq(ONE, ONE));
        assertTrue(Float32.eq(INF, INF));
        assertFalse(Float32.eq(NAN, NAN));
        assertFalse(Float32.eq(SNAN, SNAN));
        assertFalse(Float32.eq(ONE, ONE_ULP));
        assertFalse(Float32.eq(INF, NINF));
    }

    // ================================================================== neg / abs / select

    function test_neg_cases() public pure {
        _eq(Float32.neg(ONE), 0xBF800000, "neg 1");
        _eq(Float32.neg(PZERO), NZERO, "neg +0");
        _eq(Float32.neg(NZERO), PZERO, "neg -0");
        _eq(Float32.neg(NINF), INF, "neg -inf");
        _eq(Float32.neg(NAN), NAN, "neg NaN stays canonical");
        _eq(Float32.neg(NEG_QNAN), NAN, "neg -NaN");
        _eq(Float32.neg(SNAN), NAN, "neg sNaN");
    }

    function test_abs_cases() public pure {
        _eq(Float32.abs(0xC0000000), TWO, "abs -2");
        _eq(Float32.abs(NZERO), PZERO, "abs -0");
        _eq(Float32.abs(NINF), INF, "abs -inf");
        _eq(Float32.abs(0x80000001), MIN_SUB, "abs -2^-149");
        _eq(Float32.abs(NEG_QNAN), NAN, "abs -qNaN");
        _eq(Float32.abs(0xFF800001), NAN, "abs -sNaN");
    }

    function test_select_passesWordsUnchanged() public pure {
        _eq(Float32.select(1, SNAN, ONE), SNAN, "a = 1 picks b, even a non-canonical NaN");
        _eq(Float32.select(0x80000000, TWO, ONE), TWO, "a = -0 as a word is nonzero");
        _eq(Float32.select(0, TWO, NEG_QNAN), NEG_QNAN, "a = 0 picks c");
    }

    // ================================================================== conversions

    function test_i32ToF32_cases() public pure {
        _eq(Float32.i32ToF32(0), PZERO, "0");
        _eq(Float32.i32ToF32(1), ONE, "1");
        _eq(Float32.i32ToF32(0xFFFFFFFF), 0xBF800000, "-1");
        _eq(Float32.i32ToF32(0x80000000), 0xCF000000, "-2^31");
        _eq(Float32.i32ToF32(0x7FFFFFFF), 0x4F000000, "2^31 - 1 rounds to 2^31");
        _eq(Float32.i32ToF32(1 << 24), 0x4B800000, "2^24");
        // 2^24 + 1 is a tie between 2^24 (even) and 2^24 + 2: 2^24
        _eq(Float32.i32ToF32((1 << 24) + 1), 0x4B800000, "2^24 + 1");
        // 2^24 + 3 is a tie between 2^24 + 2 (odd significand) and 2^24 + 4: 2^24 + 4
        _eq(Float32.i32ToF32((1 << 24) + 3), 0x4B800002, "2^24 + 3");
        _eq(Float32.i32ToF32(0xFEFFFFFD), 0xCB800002, "-(2^24 + 3)");
    }

    function test_f32ToI32_roundsHalvesToEven() public pure {
        _eq(Float32.f32ToI32(0x40200000), 2, "2.5 -> 2");
        _eq(Float32.f32ToI32(0x40600000), 4, "3.5 -> 4");
        _eq(Float32.f32ToI32(0xBFC00000), 0xFFFFFFFE, "-1.5 -> -2");
        _eq(Float32.f32ToI32(HALF), 0, "0.5 -> 0");
        _eq(Float32.f32ToI32(0x3F400000), 1, "0.75 -> 1");
        _eq(Float32.f32ToI32(0xBF000000), 0, "-0.5 -> 0");
        _eq(Float32.f32ToI32(NZERO), 0, "-0 -> 0");
        _eq(Float32.f32ToI32(MIN_SUB), 0, "2^-149 -> 0");
        _eq(Float32.f32ToI32(0x4EFFFFFF), 0x7FFFFF80, "largest float below 2^31");
    }

    function test_f32ToI32_saturates() public pure {
        _eq(Float32.f32ToI32(0x4F000000), 0x7FFFFFFF, "2^31");
        _eq(Float32.f32ToI32(0xCF000000), 0x80000000, "-2^31 is exact");
        _eq(Float32.f32ToI32(0xCF000001), 0x80000000, "below -2^31");
        _eq(Float32.f32ToI32(INF), 0x7FFFFFFF, "inf");
        _eq(Float32.f32ToI32(NINF), 0x80000000, "-inf");
        _eq(Float32.f32ToI32(NAN), 0x7FFFFFFF, "NaN");
        _eq(Float32.f32ToI32(NEG_QNAN), 0x7FFFFFFF, "-NaN");
    }

    function test_f16ToF32_cases() public pure {
        _eq(Float32.f16ToF32(0x3C00), ONE, "1");
        _eq(Float32.f16ToF32(0xC000), 0xC0000000, "-2");
        _eq(Float32.f16ToF32(0x7BFF), 0x477FE000, "65504, the largest binary16");
        _eq(Float32.f16ToF32(0x0001), 0x33800000, "2^-24, the smallest subnormal");
        _eq(Float32.f16ToF32(0x03FF), 0x387FC000, "largest subnormal (1023 * 2^-24)");
        _eq(Float32.f16ToF32(0x0400), 0x38800000, "2^-14, the smallest normal");
        _eq(Float32.f16ToF32(0x8000), NZERO, "-0");
        _eq(Float32.f16ToF32(0x7C00), INF, "inf");
        _eq(Float32.f16ToF32(0xFC00), NINF, "-inf");
        _eq(Float32.f16ToF32(0x7C01), NAN, "sNaN");
        _eq(Float32.f16ToF32(0xFE00), NAN, "-qNaN");
        _eq(Float32.f16ToF32(0xABCD3C00), ONE, "upper bits ignored");
    }

    function test_bf16ToF32_cases() public pure {
        _eq(Float32.bf16ToF32(0x3F80), ONE, "1");
        _eq(Float32.bf16ToF32(0x0001), 0x00010000, "subnormal");
        _eq(Float32.bf16ToF32(0xFF80), NINF, "-inf");
        _eq(Float32.bf16ToF32(0x7F81), NAN, "sNaN");
        _eq(Float32.bf16ToF32(0xFFC1), NAN, "-NaN");
        _eq(Float32.bf16ToF32(0x12343F80), ONE, "upper bits ignored");
    }

    function test_exp2i_cases() public pure {
        _eq(Float32.exp2i(PZERO), ONE, "2^0");
        _eq(Float32.exp2i(THREE), 0x41000000, "2^3");
        _eq(Float32.exp2i(0xC0200000), 0x3E800000, "2^round(-2.5) = 2^-2");
        _eq(Float32.exp2i(0x42FE0000), 0x7F000000, "2^127");
        _eq(Float32.exp2i(0x43000000), 0x7F000000, "2^128 clamps to 2^127");
        _eq(Float32.exp2i(0xC2FC0000), MIN_NORMAL, "2^-126");
        _eq(Float32.exp2i(0xC3000000), MIN_NORMAL, "2^-128 clamps to 2^-126");
        _eq(Float32.exp2i(INF), 0x7F000000, "inf");
        _eq(Float32.exp2i(NINF), MIN_NORMAL, "-inf");
        _eq(Float32.exp2i(SNAN), NAN, "NaN");
    }

    // ================================================================== exec / dirty inputs

    function test_exec_dispatches() public view {
        _eq(h.exec(Float32.OP_ADD, ONE, TWO, 0), THREE, "add");
        _eq(h.exec(Float32.OP_SUB, THREE, TWO, 0), ONE, "sub");
        _eq(h.exec(Float32.OP_MUL, TWO, THREE, 0), 0x40C00000, "mul");
        _eq(h.exec(Float32.OP_DIV, THREE, TWO, 0), 0x3FC00000, "div");
        _eq(h.exec(Float32.OP_SQRT, 0x40800000, 0xDEADBEEF, 0), TWO, "sqrt");
        _eq(h.exec(Float32.OP_FMA, TWO, THREE, ONE), 0x40E00000, "fma");
        _eq(h.exec(Float32.OP_MAX, ONE, TWO, 0), TWO, "max");
        _eq(h.exec(Float32.OP_MIN, ONE, TWO, 0), ONE, "min");
        _eq(h.exec(Float32.OP_NEG, ONE, TWO, 0), 0xBF800000, "neg");
        _eq(h.exec(Float32.OP_ABS, 0xBF800000, TWO, 0), ONE, "abs");
        _eq(h.exec(Float32.OP_LT, ONE, TWO, 0), 1, "lt");
        _eq(h.exec(Float32.OP_LE, TWO, ONE, 0), 0, "le");
        _eq(h.exec(Float32.OP_EQ, NZERO, PZERO, 0), 1, "eq");
        _eq(h.exec(Float32.OP_SELECT, 0, TWO, THREE), THREE, "select");
        _eq(h.exec(Float32.OP_I32_TO_F32, 3, 0, 0), THREE, "i32_to_f32");
        _eq(h.exec(Float32.OP_F32_TO_I32, THREE, 0, 0), 3, "f32_to_i32");
        _eq(h.exec(Float32.OP_F16_TO_F32, 0x3C00, 0, 0), ONE, "f16_to_f32");
        _eq(h.exec(Float32.OP_BF16_TO_F32, 0x3F80, 0, 0), ONE, "bf16_to_f32");
        _eq(h.exec(Float32.OP_EXP2I, THREE, 0, 0), 0x41000000, "exp2i");
    }

    function test_exec_revertsOnUnknownOpcode() public {
        vm.expectRevert(abi.encodeWithSelector(Float32.UnknownOpcode.selector, uint8(0)));
        h.exec(0, ONE, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(Float32.UnknownOpcode.selector, uint8(0x14)));
        h.exec(0x14, ONE, ONE, ONE);
        vm.expectRevert(abi.encodeWithSelector(Float32.UnknownOpcode.selector, uint8(0xFF)));
        h.exec(0xFF, ONE, ONE, ONE);
    }

    /// @dev Calldata with junk above the low 32 bits must be rejected by the ABI decoder, never
    ///      reach the library as a different number.
    function test_exec_rejectsDirtyCalldata() public {
        (bool ok,) = address(h).call(abi.encodeWithSelector(h.add.selector, uint256(1) << 32 | ONE, ONE));
        assertFalse(ok);
    }

    // ================================================================== fuzz: exact algebraic properties

    function testFuzz_add_commutes(uint32 a, uint32 b) public pure {
        _eq(Float32.add(a, b), Float32.add(b, a), "a + b = b + a");
    }

    function testFuzz_mul_commutes(uint32 a, uint32 b) public pure {
        _eq(Float32.mul(a, b), Float32.mul(b, a), "a * b = b * a");
    }

    function testFuzz_mul_byOneIsIdentity(uint32 x) public pure {
        _eq(Float32.mul(x, ONE), _isNaN(x) ? NAN : x, "x * 1");
        _eq(Float32.div(x, ONE), _isNaN(x) ? NAN : x, "x / 1");
    }

    function testFuzz_add_negationGivesPositiveZero(uint32 x) public pure {
        vm.assume(x & 0x7FFFFFFF < INF); // finite
        _eq(Float32.add(x, _neg(x)), PZERO, "x + (-x)");
        _eq(Float32.sub(x, x), PZERO, "x - x");
    }

    function testFuzz_add_negativeZeroIsIdentity(uint32 x) public pure {
        _eq(Float32.add(x, NZERO), _isNaN(x) ? NAN : x, "x + -0");
    }

    function testFuzz_sub_isAddOfNegation(uint32 a, uint32 b) public pure {
        _eq(Float32.sub(a, b), Float32.add(a, _neg(b)), "a - b = a + (-b)");
    }

    function testFuzz_add_doublingIsMulByTwo(uint32 x) public pure {
        _eq(Float32.add(x, x), Float32.mul(x, TWO), "x + x = 2x");
    }

    function testFuzz_mul_signSymmetry(uint32 a, uint32 b) public pure {
        uint32 p = Float32.mul(a, b);
        if (!_isNaN(p)) _eq(Float32.mul(_neg(a), b), _neg(p), "(-a) * b = -(a * b)");
        uint32 q = Float32.div(a, b);
        if (!_isNaN(q)) _eq(Float32.div(a, _neg(b)), _neg(q), "a / (-b) = -(a / b)");
    }

    function testFuzz_fma_withNegativeZeroIsMul(uint32 a, uint32 b) public pure {
        _eq(Float32.fma(a, b, NZERO), Float32.mul(a, b), "fma(a, b, -0) = a * b");
    }

    function testFuzz_fma_timesOneIsAdd(uint32 a, uint32 c) public pure {
        _eq(Float32.fma(a, ONE, c), Float32.add(a, c), "fma(a, 1, c) = a + c");
        _eq(Float32.fma(ONE, a, c), Float32.add(a, c), "fma(1, a, c) = a + c");
    }

    function testFuzz_fma_commutesInProduct(uint32 a, uint32 b, uint32 c) public pure {
        _eq(Float32.fma(a, b, c), Float32.fma(b, a, c), "fma(a, b, c) = fma(b, a, c)");
    }

    function testFuzz_div_selfIsOne(uint32 x) public pure {
        vm.assume(x & 0x7FFFFFFF < INF && x & 0x7FFFFFFF != 0);
        _eq(Float32.div(x, x), ONE, "x / x");
    }

    function testFuzz_sqrt_ofSquareIsAbs(uint32 x) public pure {
        // with x^2 normal (no overflow, no underflow), sqrt(round(x^2)) = |x| exactly
        uint256 e = (x >> 23) & 0xFF;
        x = uint32(bound(e, 64, 190) << 23 | (x & 0x807FFFFF));
        _eq(Float32.sqrt(Float32.mul(x, x)), x & 0x7FFFFFFF, "sqrt(x * x) = |x|");
    }

    function testFuzz_sqrt_monotoneAndNonNegative(uint32 x) public pure {
        vm.assume(x < INF); // non-negative, not NaN
        uint32 r = Float32.sqrt(x);
        assertTrue(r < 0x80000000 && !_isNaN(r));
        if (x < 0x7F7FFFFF) assertTrue(Float32.le(r, Float32.sqrt(x + 1)));
    }

    function testFuzz_allOps_nanIsCanonical(uint32 a, uint32 b, uint32 c) public pure {
        uint32[7] memory rs = [
            Float32.add(a, b),
            Float32.sub(a, b),
            Float32.mul(a, b),
            Float32.div(a, b),
            Float32.sqrt(a),
            Float32.fma(a, b, c),
            Float32.max(a, b)
        ];
        for (uint256 i; i < rs.length; ++i) {
            if (_isNaN(rs[i])) _eq(rs[i], NAN, "NaN result is canonical");
        }
    }

    function testFuzz_max_minAreOrderedAndCommute(uint32 a, uint32 b) public pure {
        _eq(Float32.max(a, b), Float32.max(b, a), "max commutes");
        _eq(Float32.min(a, b), Float32.min(b, a), "min commutes");
        if (!_isNaN(a) && !_isNaN(b)) {
            uint32 hi = Float32.max(a, b);
            uint32 lo = Float32.min(a, b);
            assertTrue(hi == a || hi == b);
            assertTrue(lo == a || lo == b);
            assertTrue(Float32.le(lo, hi));
            assertTrue(hi != lo || a == b);
        }
    }

    function testFuzz_lt_isAStrictOrder(uint32 a, uint32 b) public pure {
        assertFalse(Float32.lt(a, b) && Float32.lt(b, a));
        assertEq(Float32.eq(a, b), Float32.eq(b, a));
        bool ordered = !_isNaN(a) && !_isNaN(b);
        // exactly one of <, ==, > holds for ordered operands; none for NaN
        uint256 holds = (Float32.lt(a, b) ? 1 : 0) + (Float32.eq(a, b) ? 1 : 0) + (Float32.lt(b, a) ? 1 : 0);
        assertEq(holds, ordered ? 1 : 0);
        assertEq(Float32.le(a, b), Float32.lt(a, b) || Float32.eq(a, b));
    }

    function testFuzz_neg_isInvolution(uint32 x) public pure {
        _eq(Float32.neg(Float32.neg(x)), _isNaN(x) ? NAN : x, "neg(neg(x))");
        _eq(Float32.abs(x), _isNaN(x) ? NAN : Float32.max(x, Float32.neg(x)), "abs(x) = max(x, -x)");
    }

    function testFuzz_i32ToF32_roundTripsSmallIntegers(int32 i) public pure {
        i = int32(int256(bound(uint256(int256(i) + (1 << 24)), 0, 1 << 25)) - (1 << 24));
        uint32 w = uint32(uint256(int256(i)) & 0xFFFFFFFF);
        _eq(Float32.f32ToI32(Float32.i32ToF32(w)), w, "f32ToI32(i32ToF32(i)) = i for |i| <= 2^24");
    }

    function testFuzz_f16ToF32_isExact(uint16 h16) public pure {
        uint32 f = Float32.f16ToF32(h16);
        if (_isNaN(f)) {
            _eq(f, NAN, "canonical");
            return;
        }
        // converting back by hand: binary16 has 10 fraction bits, so the low 13 are always zero for
        // normal results
        assertEq(f >> 31, uint32(h16) >> 15);
        if ((h16 & 0x7C00) != 0 && (h16 & 0x7C00) != 0x7C00) assertEq(f & 0x1FFF, 0);
    }

    function testFuzz_add_monotone(uint32 a, uint32 b, uint32 c) public pure {
        // b <= c implies a + b <= a + c (when no NaN arises)
        vm.assume(!_isNaN(a) && !_isNaN(b) && !_isNaN(c) && Float32.le(b, c));
        uint32 x = Float32.add(a, b);
        uint32 y = Float32.add(a, c);
        if (!_isNaN(x) && !_isNaN(y)) assertTrue(Float32.le(x, y));
    }
}
