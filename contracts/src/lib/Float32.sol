// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Float32
/// @notice IEEE-754 binary32 arithmetic on bit patterns (`uint32`), bit-exact with Berkeley SoftFloat 3
///         built with its `riscv` specialization — the project's canonical arithmetic (docs/SPEC.md):
///         - round to nearest, ties to even; subnormal inputs and results are kept (no flush to zero);
///         - every NaN result is the canonical quiet NaN 0x7FC00000, whatever the NaN operands were;
///         - add, sub, mul, div, sqrt and fma (a*b+c with a single rounding) are correctly rounded;
///         - an exact zero sum of operands of opposite sign is +0;
///         - max/min: NaN if either operand is NaN, otherwise the larger/smaller with -0 < +0;
///         - lt/le/eq: IEEE comparisons (false if either operand is NaN, -0 == +0).
/// @dev How it works: every operation computes an integer `sig` and an exponent `x` with
///      value = sig * 2^(x - BIAS), where `sig` is either exact or exact down to a sticky bit in its
///      least significant place, and one routine (`_roundPack`) rounds that to binary32. The EVM's
///      256-bit words hold every exact intermediate (an fma's aligned sum needs at most 129 bits), so no
///      operation needs multi-word arithmetic.
///
///      Exponents are kept unsigned: x = e + 149 + OFF, where `e` is the exponent of the unit in the
///      last place of `sig` and OFF = 512 keeps every intermediate exponent positive. A binary32 with
///      biased exponent field E has x = OFF + max(E, 1) - 1.
library Float32 {
    uint32 internal constant CANONICAL_NAN = 0x7FC00000;
    uint32 internal constant POS_INF = 0x7F800000;
    uint32 internal constant NEG_INF = 0xFF800000;
    uint32 internal constant SIGN = 0x80000000;

    /// @dev Opcode of each primitive in the one-step (proposed; docs/SPEC.md holds the table).
    uint8 internal constant OP_ADD = 1;
    uint8 internal constant OP_SUB = 2;
    uint8 internal constant OP_MUL = 3;
    uint8 internal constant OP_DIV = 4;
    uint8 internal constant OP_SQRT = 5;
    uint8 internal constant OP_FMA = 6;
    uint8 internal constant OP_MAX = 7;
    uint8 internal constant OP_MIN = 8;

    /// @dev Exponent offset, see the contract's notes. Even, so that `x` and `e` have opposite parity.
    uint256 private constant OFF = 512;
    /// @dev Alignment cap in `_addMagnitudes`: an operand whose unit in the last place lies more than CAP
    ///      places below the other's is replaced by a sticky 1 CAP places below (see there).
    uint256 private constant CAP = 80;

    error UnknownOpcode(uint8 op);

    /// @notice Applies primitive `op` (OP_*) to operands `a`, `b`, `c` (unused operands are ignored).
    function exec(uint8 op, uint32 a, uint32 b, uint32 c) internal pure returns (uint32) {
        if (op == OP_ADD) return add(a, b);
        if (op == OP_SUB) return sub(a, b);
        if (op == OP_MUL) return mul(a, b);
        if (op == OP_DIV) return div(a, b);
        if (op == OP_SQRT) return sqrt(a);
        if (op == OP_FMA) return fma(a, b, c);
        if (op == OP_MAX) return max(a, b);
        if (op == OP_MIN) return min(a, b);
        revert UnknownOpcode(op);
    }

    // ------------------------------------------------------------------ arithmetic

    /// @notice a + b.
    function add(uint32 a, uint32 b) internal pure returns (uint32) {
        return _add(a, b);
    }

    /// @notice a - b, which is a + (-b) for every input (SoftFloat's f32_sub).
    function sub(uint32 a, uint32 b) internal pure returns (uint32) {
        return _add(a, b ^ SIGN);
    }

    /// @notice a * b.
    function mul(uint32 a, uint32 b) internal pure returns (uint32 r) {
        uint256 sign;
        uint256 x;
        uint256 sig;
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            sign := shr(31, xor(a, b))
            let absA := and(a, 0x7fffffff)
            let absB := and(b, 0x7fffffff)
            switch or(gt(absA, 0x7f7fffff), gt(absB, 0x7f7fffff))
            case 1 {
                // inf * finite nonzero (or inf) is inf; NaN operand or inf * 0 is NaN
                r := or(shl(31, sign), 0x7f800000)
                if or(or(gt(absA, 0x7f800000), gt(absB, 0x7f800000)), or(iszero(absA), iszero(absB))) {
                    r := 0x7fc00000
                }
            }
            default {
                switch or(iszero(absA), iszero(absB))
                case 1 { r := shl(31, sign) }
                default {
                    let ea := shr(23, absA)
                    let eb := shr(23, absB)
                    let ma := and(absA, 0x7fffff)
                    let mb := and(absB, 0x7fffff)
                    if ea { ma := or(ma, 0x800000) }
                    if eb { mb := or(mb, 0x800000) }
                    sig := mul(ma, mb)
                    // (x_a - OFF - 149) + (x_b - OFF - 149) + 149 + OFF
                    x := sub(add(add(ea, iszero(ea)), add(eb, iszero(eb))), 151)
                    x := add(x, OFF)
                }
            }
        }
        if (sig != 0) r = _roundPack(sign, x, sig);
    }

    /// @notice a / b.
    function div(uint32 a, uint32 b) internal pure returns (uint32 r) {
        uint256 sign;
        uint256 x;
        uint256 sig;
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            sign := shr(31, xor(a, b))
            let absA := and(a, 0x7fffffff)
            let absB := and(b, 0x7fffffff)
            switch or(or(gt(absA, 0x7f7fffff), gt(absB, 0x7f7fffff)), or(iszero(absA), iszero(absB)))
            case 1 {
                // NaN, inf/inf and 0/0 are NaN; inf/x and x/0 are inf; x/inf and 0/x are 0
                switch or(or(gt(absA, 0x7f800000), gt(absB, 0x7f800000)), eq(absA, absB))
                case 1 { r := 0x7fc00000 }
                default {
                    r := shl(31, sign)
                    if or(eq(absA, 0x7f800000), iszero(absB)) { r := or(r, 0x7f800000) }
                }
                // eq(absA, absB) above is only reached for 0/0 or inf/inf: finite nonzero pairs go below
            }
            default {
                let ea := shr(23, absA)
                let eb := shr(23, absB)
                let ma := and(absA, 0x7fffff)
                let mb := and(absB, 0x7fffff)
                if ea { ma := or(ma, 0x800000) }
                if eb { mb := or(mb, 0x800000) }
                // (ma << 50) / mb has at least 27 bits, so the quotient's round bit is exact and the
                // remainder only decides the sticky bit
                let n := shl(50, ma)
                let q := div(n, mb)
                sig := or(shl(1, q), iszero(iszero(mod(n, mb))))
                // value = sig * 2^(e_a - e_b - 51)
                x := sub(add(add(ea, iszero(ea)), add(OFF, 98)), add(eb, iszero(eb)))
            }
        }
        if (sig != 0) r = _roundPack(sign, x, sig);
    }

    /// @notice Square root: sqrt(-0) = -0, sqrt of a negative number is NaN.
    function sqrt(uint32 a) internal pure returns (uint32 r) {
        uint256 x;
        uint256 sig;
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            switch or(iszero(and(a, 0x7fffffff)), eq(a, 0x7f800000))
            case 1 { r := a } // +-0 and +inf are their own square roots
            default {
                switch gt(a, 0x7f800000)
                case 1 { r := 0x7fc00000 } // NaN, or any negative number
                default {
                    let ea := shr(23, a)
                    let m := and(a, 0x7fffff)
                    if ea { m := or(m, 0x800000) }
                    let xa := add(add(ea, iszero(ea)), sub(OFF, 1))
                    // make the exponent e = xa - OFF - 149 even (xa odd)
                    if iszero(and(xa, 1)) {
                        m := shl(1, m)
                        xa := sub(xa, 1)
                    }
                    let n := shl(52, m) // 53..78 bits: the root has 27..39 bits
                    // floor(sqrt(n)) by Newton's method from 2^(floor(log2(n)/2) + 1) >= sqrt(n)
                    let l := shl(6, lt(0xffffffffffffffff, n))
                    l := or(l, shl(5, lt(0xffffffff, shr(l, n))))
                    l := or(l, shl(4, lt(0xffff, shr(l, n))))
                    l := or(l, shl(3, lt(0xff, shr(l, n))))
                    l := or(l, shl(2, lt(0xf, shr(l, n))))
                    l := or(l, shl(1, lt(0x3, shr(l, n))))
                    l := or(l, lt(0x1, shr(l, n)))
                    let z := shl(add(shr(1, l), 1), 1)
                    z := shr(1, add(z, div(n, z)))
                    z := shr(1, add(z, div(n, z)))
                    z := shr(1, add(z, div(n, z)))
                    z := shr(1, add(z, div(n, z)))
                    z := shr(1, add(z, div(n, z)))
                    z := shr(1, add(z, div(n, z)))
                    z := sub(z, lt(div(n, z), z))
                    sig := or(shl(1, z), iszero(eq(mul(z, z), n)))
                    // value = sig * 2^(e/2 - 27)
                    x := add(shr(1, sub(add(xa, OFF), 149)), 122)
                }
            }
        }
        if (sig != 0) r = _roundPack(0, x, sig);
    }

    /// @notice a * b + c with a single rounding (SoftFloat's f32_mulAdd).
    function fma(uint32 a, uint32 b, uint32 c) internal pure returns (uint32 r) {
        uint256 sp;
        uint256 xp;
        uint256 mp;
        uint256 xc;
        uint256 mc;
        bool done;
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            c := and(c, 0xffffffff)
            sp := shr(31, xor(a, b))
            let absA := and(a, 0x7fffffff)
            let absB := and(b, 0x7fffffff)
            let absC := and(c, 0x7fffffff)
            done := 1
            switch or(or(gt(absA, 0x7f7fffff), gt(absB, 0x7f7fffff)), gt(absC, 0x7f7fffff))
            case 1 {
                r := 0x7fc00000
                if iszero(or(or(gt(absA, 0x7f800000), gt(absB, 0x7f800000)), gt(absC, 0x7f800000))) {
                    // no NaN; at least one infinity
                    switch or(eq(absA, 0x7f800000), eq(absB, 0x7f800000))
                    case 1 {
                        // inf * 0 is NaN; otherwise the product is inf, and inf - inf is NaN
                        let pinf := or(shl(31, sp), 0x7f800000)
                        if iszero(or(or(iszero(absA), iszero(absB)), and(eq(absC, 0x7f800000), iszero(eq(c, pinf))))) {
                            r := pinf
                        }
                    }
                    default { r := c } // finite product plus an infinity
                }
            }
            default {
                switch or(iszero(absA), iszero(absB))
                case 1 {
                    // exact zero product: the result is c, except that (+-0) + (+-0) is -0 only if both are
                    r := c
                    if iszero(absC) { r := and(c, shl(31, sp)) }
                }
                default {
                    let ea := shr(23, absA)
                    let eb := shr(23, absB)
                    let ma := and(absA, 0x7fffff)
                    let mb := and(absB, 0x7fffff)
                    if ea { ma := or(ma, 0x800000) }
                    if eb { mb := or(mb, 0x800000) }
                    mp := mul(ma, mb)
                    xp := add(sub(add(add(ea, iszero(ea)), add(eb, iszero(eb))), 151), OFF)
                    let ec := shr(23, absC)
                    mc := and(absC, 0x7fffff)
                    if ec { mc := or(mc, 0x800000) }
                    xc := add(add(ec, iszero(ec)), sub(OFF, 1))
                    done := 0
                }
            }
        }
        if (done) return r;
        if (mc == 0) return _roundPack(sp, xp, mp);
        return _addMagnitudes(sp, xp, mp, c >> 31, xc, mc);
    }

    // ------------------------------------------------------------------ exact bit-level ops

    /// @notice The larger of a and b; NaN if either is NaN; max(-0, +0) = +0.
    function max(uint32 a, uint32 b) internal pure returns (uint32 r) {
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            switch or(gt(and(a, 0x7fffffff), 0x7f800000), gt(and(b, 0x7fffffff), 0x7f800000))
            case 1 { r := 0x7fc00000 }
            default {
                // order key: flip all bits of negatives, set the sign bit of non-negatives
                let ka := xor(a, or(0x80000000, mul(shr(31, a), 0x7fffffff)))
                let kb := xor(b, or(0x80000000, mul(shr(31, b), 0x7fffffff)))
                r := a
                if lt(ka, kb) { r := b }
            }
        }
    }

    /// @notice The smaller of a and b; NaN if either is NaN; min(-0, +0) = -0.
    function min(uint32 a, uint32 b) internal pure returns (uint32 r) {
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            switch or(gt(and(a, 0x7fffffff), 0x7f800000), gt(and(b, 0x7fffffff), 0x7f800000))
            case 1 { r := 0x7fc00000 }
            default {
                let ka := xor(a, or(0x80000000, mul(shr(31, a), 0x7fffffff)))
                let kb := xor(b, or(0x80000000, mul(shr(31, b), 0x7fffffff)))
                r := a
                if gt(ka, kb) { r := b }
            }
        }
    }

    /// @notice a < b (IEEE: false if either is NaN; -0 < +0 is false).
    function lt(uint32 a, uint32 b) internal pure returns (bool r) {
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            let nan := or(gt(and(a, 0x7fffffff), 0x7f800000), gt(and(b, 0x7fffffff), 0x7f800000))
            let zeros := iszero(and(or(a, b), 0x7fffffff))
            let ka := xor(a, or(0x80000000, mul(shr(31, a), 0x7fffffff)))
            let kb := xor(b, or(0x80000000, mul(shr(31, b), 0x7fffffff)))
            r := and(iszero(or(nan, zeros)), lt(ka, kb))
        }
    }

    /// @notice a <= b (IEEE: false if either is NaN; -0 <= +0 and +0 <= -0 are true).
    function le(uint32 a, uint32 b) internal pure returns (bool r) {
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            let nan := or(gt(and(a, 0x7fffffff), 0x7f800000), gt(and(b, 0x7fffffff), 0x7f800000))
            let zeros := iszero(and(or(a, b), 0x7fffffff))
            let ka := xor(a, or(0x80000000, mul(shr(31, a), 0x7fffffff)))
            let kb := xor(b, or(0x80000000, mul(shr(31, b), 0x7fffffff)))
            r := and(iszero(nan), or(zeros, iszero(gt(ka, kb))))
        }
    }

    /// @notice a == b (IEEE: false if either is NaN, so NaN != NaN; -0 == +0).
    function eq(uint32 a, uint32 b) internal pure returns (bool r) {
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            let nan := or(gt(and(a, 0x7fffffff), 0x7f800000), gt(and(b, 0x7fffffff), 0x7f800000))
            r := and(iszero(nan), or(eq(a, b), iszero(and(or(a, b), 0x7fffffff))))
        }
    }

    /// @notice Whether a is a NaN (any payload).
    function isNaN(uint32 a) internal pure returns (bool) {
        return a & 0x7FFFFFFF > POS_INF;
    }

    // ------------------------------------------------------------------ internals

    function _add(uint32 a, uint32 b) private pure returns (uint32 r) {
        uint256 xa;
        uint256 ma;
        uint256 xb;
        uint256 mb;
        bool done;
        assembly ("memory-safe") {
            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            let absA := and(a, 0x7fffffff)
            let absB := and(b, 0x7fffffff)
            done := 1
            switch or(gt(absA, 0x7f7fffff), gt(absB, 0x7f7fffff))
            case 1 {
                r := 0x7fc00000
                if iszero(or(gt(absA, 0x7f800000), gt(absB, 0x7f800000))) {
                    // no NaN; at least one infinity: inf - inf is NaN, else the infinity wins
                    switch and(eq(absA, 0x7f800000), eq(absB, 0x7f800000))
                    case 1 { if eq(a, b) { r := a } }
                    default {
                        r := a
                        if eq(absB, 0x7f800000) { r := b }
                    }
                }
            }
            default {
                switch or(iszero(absA), iszero(absB))
                case 1 {
                    // x + 0 = x exactly; (+-0) + (+-0) is -0 only if both are -0
                    r := a
                    if iszero(absA) { r := b }
                    if iszero(or(absA, absB)) { r := and(a, b) }
                }
                default {
                    let ea := shr(23, absA)
                    let eb := shr(23, absB)
                    ma := and(absA, 0x7fffff)
                    mb := and(absB, 0x7fffff)
                    if ea { ma := or(ma, 0x800000) }
                    if eb { mb := or(mb, 0x800000) }
                    xa := add(add(ea, iszero(ea)), sub(OFF, 1))
                    xb := add(add(eb, iszero(eb)), sub(OFF, 1))
                    done := 0
                }
            }
        }
        if (done) return r;
        return _addMagnitudes(a >> 31, xa, ma, b >> 31, xb, mb);
    }

    /// @dev Rounds (-1)^sa * ma * 2^xa + (-1)^sb * mb * 2^xb (exponents offset as in the notes;
    ///      ma, mb nonzero, at most 48 bits). Exact cancellation gives +0.
    ///      When the operands' units in the last place are more than CAP = 80 places apart, the lower
    ///      operand S is below 2^(e_hi - 32) (48 bits at most), while the larger operand L is a multiple of
    ///      2^e_hi and the result's rounding grid near L is no finer than 2^(e_hi - 25); so neither
    ///      L + S nor L - S can cross a rounding boundary, and replacing S by 2^(e_hi - 80) (same sign)
    ///      rounds identically while keeping the aligned sum under 130 bits.
    function _addMagnitudes(uint256 sa, uint256 xa, uint256 ma, uint256 sb, uint256 xb, uint256 mb)
        private
        pure
        returns (uint32)
    {
        uint256 sign;
        uint256 x;
        uint256 sig;
        assembly ("memory-safe") {
            if lt(xa, xb) {
                let t := xa
                xa := xb
                xb := t
                t := ma
                ma := mb
                mb := t
                t := sa
                sa := sb
                sb := t
            }
            let d := sub(xa, xb)
            if gt(d, CAP) {
                d := CAP
                mb := 1
            }
            let big := shl(d, ma)
            x := sub(xa, d)
            switch eq(sa, sb)
            case 1 {
                sig := add(big, mb)
                sign := sa
            }
            default {
                switch gt(big, mb)
                case 1 {
                    sig := sub(big, mb)
                    sign := sa
                }
                default {
                    sig := sub(mb, big)
                    sign := sb
                }
            }
        }
        if (sig == 0) return 0;
        return _roundPack(sign, x, sig);
    }

    /// @dev Rounds (-1)^sign * sig * 2^(x - OFF - 149) to binary32, ties to even, with gradual
    ///      underflow and overflow to infinity. `sig` > 0 is exact, or exact down to a sticky bit in
    ///      its least significant place that lies at least two places below the result's last place.
    function _roundPack(uint256 sign, uint256 x, uint256 sig) private pure returns (uint32 r) {
        assembly ("memory-safe") {
            // l = floor(log2(sig))
            let l := shl(7, lt(0xffffffffffffffffffffffffffffffff, sig))
            l := or(l, shl(6, lt(0xffffffffffffffff, shr(l, sig))))
            l := or(l, shl(5, lt(0xffffffff, shr(l, sig))))
            l := or(l, shl(4, lt(0xffff, shr(l, sig))))
            l := or(l, shl(3, lt(0xff, shr(l, sig))))
            l := or(l, shl(2, lt(0xf, shr(l, sig))))
            l := or(l, shl(1, lt(0x3, shr(l, sig))))
            l := or(l, lt(0x1, shr(l, sig)))
            // the result's last place: 23 places below the leading bit, but not below 2^-149
            let q := sub(add(x, l), 23)
            if lt(q, OFF) { q := OFF }
            let m
            switch gt(q, x)
            case 1 {
                let s := sub(q, x)
                if gt(s, 200) {
                    // far below half the smallest subnormal (sig has at most 130 bits): keep only a sticky
                    sig := 1
                    s := 200
                }
                m := shr(s, sig)
                let half := shl(sub(s, 1), 1)
                let rest := and(sig, sub(shl(s, 1), 1))
                m := add(m, or(gt(rest, half), and(eq(rest, half), and(m, 1))))
            }
            default { m := shl(sub(x, q), sig) }
            // m is the significand including the hidden bit; a carry out of it bumps the exponent
            let bits := add(shl(23, sub(q, OFF)), m)
            if gt(bits, 0x7f7fffff) { bits := 0x7f800000 }
            r := or(bits, shl(31, sign))
        }
    }
}
