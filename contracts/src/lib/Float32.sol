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
///         - lt/le/eq: IEEE quiet comparisons (false if either operand is NaN, -0 == +0);
///         - conversions and the other word ops exactly as docs/SPEC.md 1.3-1.5 state them.
/// @dev How it works: every operation computes an integer `sig` and an exponent `x` with
///      value = sig * 2^(x - OFF - 149), where `sig` is either exact or exact down to a sticky bit in
///      its least significant place, and one routine (`roundPack`) rounds that to binary32. The EVM's
///      256-bit words hold every exact intermediate (an fma's aligned sum needs at most 129 bits), so no
///      operation needs multi-word arithmetic. Every primitive is one assembly block (`_exec`) so that
///      its helpers are shared Yul functions; each op knows where its result's leading bit can be, so
///      the general leading-bit search only runs for subnormal operands and for deep cancellation.
///
///      Exponents are kept unsigned: x = e + 149 + OFF, where `e` is the exponent of the unit in the
///      last place of `sig` and OFF = 512 keeps every intermediate exponent positive. A binary32 with
///      biased exponent field E has x = OFF + max(E, 1) - 1.
library Float32 {
    uint32 internal constant CANONICAL_NAN = 0x7FC00000;
    uint32 internal constant POS_INF = 0x7F800000;
    uint32 internal constant NEG_INF = 0xFF800000;
    uint32 internal constant SIGN = 0x80000000;

    /// @dev Opcode of each primitive: the table of docs/SPEC.md 1.3, shared with the Rust VM.
    uint8 internal constant OP_ADD = 0x01;
    uint8 internal constant OP_SUB = 0x02;
    uint8 internal constant OP_MUL = 0x03;
    uint8 internal constant OP_DIV = 0x04;
    uint8 internal constant OP_SQRT = 0x05;
    uint8 internal constant OP_FMA = 0x06;
    uint8 internal constant OP_MAX = 0x07;
    uint8 internal constant OP_MIN = 0x08;
    uint8 internal constant OP_NEG = 0x09;
    uint8 internal constant OP_ABS = 0x0A;
    uint8 internal constant OP_LT = 0x0B;
    uint8 internal constant OP_LE = 0x0C;
    uint8 internal constant OP_EQ = 0x0D;
    uint8 internal constant OP_SELECT = 0x0E;
    uint8 internal constant OP_I32_TO_F32 = 0x0F;
    uint8 internal constant OP_F32_TO_I32 = 0x10;
    uint8 internal constant OP_F16_TO_F32 = 0x11;
    uint8 internal constant OP_BF16_TO_F32 = 0x12;
    uint8 internal constant OP_EXP2I = 0x13;
    /// @dev The largest opcode; 0x00 is invalid.
    uint8 internal constant OP_LAST = OP_EXP2I;

    /// @dev Exponent offset, see the contract's notes. Even, so that `x` and `e` have opposite parity.
    uint256 private constant OFF = 512;
    /// @dev Alignment cap in `addMagnitudes`: an operand whose unit in the last place lies more than CAP
    ///      places below the other's is replaced by a sticky 1 CAP places below (see there).
    uint256 private constant CAP = 80;

    error UnknownOpcode(uint8 op);

    /// @notice Applies primitive `op` (OP_*, docs/SPEC.md 1.3) to words `a`, `b`, `c`; operands beyond
    ///         the primitive's arity are ignored. Comparisons give the word 1 or 0.
    function exec(uint8 op, uint32 a, uint32 b, uint32 c) internal pure returns (uint32) {
        if (op == 0 || op > OP_LAST) revert UnknownOpcode(op);
        return _exec(op, a, b, c);
    }

    // ------------------------------------------------------------------ arithmetic (correctly rounded)

    /// @notice a + b.
    function add(uint32 a, uint32 b) internal pure returns (uint32) {
        return _exec(OP_ADD, a, b, 0);
    }

    /// @notice a - b, which is a + (-b) for every input (SoftFloat's f32_sub).
    function sub(uint32 a, uint32 b) internal pure returns (uint32) {
        return _exec(OP_SUB, a, b, 0);
    }

    /// @notice a * b.
    function mul(uint32 a, uint32 b) internal pure returns (uint32) {
        return _exec(OP_MUL, a, b, 0);
    }

    /// @notice a / b.
    function div(uint32 a, uint32 b) internal pure returns (uint32) {
        return _exec(OP_DIV, a, b, 0);
    }

    /// @notice Square root: sqrt(-0) = -0, sqrt of a negative number is NaN.
    function sqrt(uint32 a) internal pure returns (uint32) {
        return _exec(OP_SQRT, a, 0, 0);
    }

    /// @notice a * b + c with a single rounding (SoftFloat's f32_mulAdd).
    function fma(uint32 a, uint32 b, uint32 c) internal pure returns (uint32) {
        return _exec(OP_FMA, a, b, c);
    }

    // ------------------------------------------------------------------ exact ops

    /// @notice IEEE maximum: NaN if either is NaN; otherwise the larger, with -0 < +0.
    function max(uint32 a, uint32 b) internal pure returns (uint32) {
        return _exec(OP_MAX, a, b, 0);
    }

    /// @notice IEEE minimum: NaN if either is NaN; otherwise the smaller, with -0 < +0.
    function min(uint32 a, uint32 b) internal pure returns (uint32) {
        return _exec(OP_MIN, a, b, 0);
    }

    /// @notice -a; the canonical NaN for a NaN.
    function neg(uint32 a) internal pure returns (uint32) {
        return _exec(OP_NEG, a, 0, 0);
    }

    /// @notice |a|; the canonical NaN for a NaN.
    function abs(uint32 a) internal pure returns (uint32) {
        return _exec(OP_ABS, a, 0, 0);
    }

    /// @notice a < b, IEEE quiet: false if either is NaN; -0 < +0 is false.
    function lt(uint32 a, uint32 b) internal pure returns (bool) {
        return _exec(OP_LT, a, b, 0) != 0;
    }

    /// @notice a <= b, IEEE quiet: false if either is NaN; -0 <= +0 and +0 <= -0 are true.
    function le(uint32 a, uint32 b) internal pure returns (bool) {
        return _exec(OP_LE, a, b, 0) != 0;
    }

    /// @notice a == b, IEEE quiet: false if either is NaN (NaN != NaN); -0 == +0.
    function eq(uint32 a, uint32 b) internal pure returns (bool) {
        return _exec(OP_EQ, a, b, 0) != 0;
    }

    /// @notice a != 0 ? b : c, on words (any word passes through unchanged).
    function select(uint32 a, uint32 b, uint32 c) internal pure returns (uint32) {
        return _exec(OP_SELECT, a, b, c);
    }

    /// @notice The two's-complement integer `a` as binary32, ties to even.
    function i32ToF32(uint32 a) internal pure returns (uint32) {
        return _exec(OP_I32_TO_F32, a, 0, 0);
    }

    /// @notice `a` rounded to an integer (ties to even) as a two's-complement word, saturated to
    ///         [-2^31, 2^31 - 1]; NaN gives 0x7FFFFFFF.
    function f32ToI32(uint32 a) internal pure returns (uint32) {
        return _exec(OP_F32_TO_I32, a, 0, 0);
    }

    /// @notice The binary16 in bits 0..15 of `a` as binary32 (exact); NaN gives the canonical NaN.
    function f16ToF32(uint32 a) internal pure returns (uint32) {
        return _exec(OP_F16_TO_F32, a, 0, 0);
    }

    /// @notice The bfloat16 in bits 0..15 of `a` as binary32 (exact); NaN gives the canonical NaN.
    function bf16ToF32(uint32 a) internal pure returns (uint32) {
        return _exec(OP_BF16_TO_F32, a, 0, 0);
    }

    /// @notice 2^n for n = f32ToI32(a) clamped to [-126, 127]; NaN gives the canonical NaN.
    function exp2i(uint32 a) internal pure returns (uint32) {
        return _exec(OP_EXP2I, a, 0, 0);
    }

    /// @notice Whether a is a NaN (any payload).
    function isNaN(uint32 a) internal pure returns (bool) {
        return a & 0x7FFFFFFF > POS_INF;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Every primitive; `op` is a valid opcode.
    function _exec(uint256 op, uint256 a, uint256 b, uint256 c) private pure returns (uint32 r) {
        assembly ("memory-safe") {
            // floor(log2(v)) for v > 0
            function floorLog2(v) -> l {
                l := shl(7, lt(0xffffffffffffffffffffffffffffffff, v))
                l := or(l, shl(6, lt(0xffffffffffffffff, shr(l, v))))
                l := or(l, shl(5, lt(0xffffffff, shr(l, v))))
                l := or(l, shl(4, lt(0xffff, shr(l, v))))
                l := or(l, shl(3, lt(0xff, shr(l, v))))
                l := or(l, shl(2, lt(0xf, shr(l, v))))
                l := or(l, shl(1, lt(0x3, shr(l, v))))
                l := or(l, lt(0x1, shr(l, v)))
            }

            // exponent and significand of a finite nonzero binary32 (sign ignored), the significand
            // normalized to 24 bits: value = m * 2^(x - OFF - 149), m in [2^23, 2^24)
            function unpack(v) -> x, m {
                let e := and(shr(23, v), 0xff)
                m := and(v, 0x7fffff)
                switch e
                case 0 {
                    // subnormal: shift the leading bit up to place 23
                    let s := sub(23, floorLog2(m))
                    m := shl(s, m)
                    x := sub(OFF, s)
                }
                default {
                    m := or(m, 0x800000)
                    x := add(e, sub(OFF, 1))
                }
            }

            // v / 2^s rounded to an integer, ties to even (0 < s < 256)
            function roundShift(v, s) -> m {
                m := shr(s, v)
                let half := shl(sub(s, 1), 1)
                let rest := and(v, sub(shl(s, 1), 1))
                m := add(m, or(gt(rest, half), and(eq(rest, half), and(m, 1))))
            }

            // order key of a non-NaN binary32: unsigned comparison of keys is numeric order, -0 < +0
            function key(v) -> k {
                k := xor(v, or(0x80000000, mul(shr(31, v), 0x7fffffff)))
            }

            // f32_to_i32: round to an integer (ties to even), saturate; NaN gives 0x7FFFFFFF
            function toI32(v) -> w {
                let absV := and(v, 0x7fffffff)
                let e := shr(23, absV)
                switch or(gt(absV, 0x7f800000), gt(e, 157))
                case 1 {
                    // NaN, or |v| >= 2^31
                    w := 0x7fffffff
                    if and(shr(31, v), iszero(gt(absV, 0x7f800000))) { w := 0x80000000 }
                }
                default {
                    // |v| = m * 2^(e - 150) with e >= 1 (subnormals: m < 2^23 at e = 1)
                    let m := and(absV, 0x7fffff)
                    switch e
                    case 0 { e := 1 }
                    default { m := or(m, 0x800000) }
                    switch lt(e, 150)
                    case 1 { w := roundShift(m, sub(150, e)) }
                    default { w := shl(sub(e, 150), m) }
                    if shr(31, v) { w := and(sub(0, w), 0xffffffff) }
                }
            }

            // rounds (-1)^sign * sig * 2^(x - OFF - 149) to binary32, ties to even, with gradual
            // underflow and overflow to infinity; sig > 0 has its leading bit at place l and is exact,
            // or exact down to a sticky bit in its last place at least two places below the result's
            function roundPack(sign, x, sig, l) -> bits {
                // the result's last place: 23 places below the leading bit, but not below 2^-149
                let q := sub(add(x, l), 23)
                if lt(q, OFF) { q := OFF }
                let m
                switch gt(q, x)
                case 1 {
                    let s := sub(q, x)
                    if gt(s, 200) {
                        // far below half the smallest subnormal (sig has at most 130 bits): a sticky
                        sig := 1
                        s := 200
                    }
                    m := roundShift(sig, s)
                }
                default { m := shl(sub(x, q), sig) }
                // m includes the hidden bit: a carry out of the significand bumps the exponent
                bits := add(shl(23, sub(q, OFF)), m)
                if gt(bits, 0x7f7fffff) { bits := 0x7f800000 }
                bits := or(bits, shl(31, sign))
            }

            // rounds (-1)^sa * ma * 2^xa + (-1)^sb * mb * 2^xb, where ma, mb are in [2^47, 2^48);
            // exact cancellation gives +0.
            // When the units in the last place are more than CAP = 80 places apart, the lower operand S
            // is below 2^(e_hi - 32), while the other, L, is a multiple of 2^e_hi and the rounding grid
            // near L is no finer than 2^(e_hi - 25): neither L + S nor L - S can cross a rounding
            // boundary, so S may be replaced by 2^(e_hi - 80) of the same sign, which rounds the same
            // and keeps the aligned sum under 130 bits.
            function addMagnitudes(sa, xa, ma, sb, xb, mb) -> bits {
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
                // the larger operand, aligned: its leading bit is at place 47 + d
                let big := shl(d, ma)
                let top := add(47, d)
                let sig
                let l
                switch eq(sa, sb)
                case 1 {
                    // two numbers below 2^(top + 1) add up to less than 2^(top + 2)
                    sig := add(big, mb)
                    l := add(top, shr(add(top, 1), sig))
                }
                default {
                    sig := sub(big, mb)
                    if lt(big, mb) {
                        sig := sub(mb, big)
                        sa := sb
                    }
                    // exponents two or more places apart: the difference keeps the top place or loses
                    // one; closer, any number of leading bits may cancel
                    switch lt(d, 2)
                    case 1 { l := floorLog2(sig) }
                    default { l := add(sub(top, 1), shr(top, sig)) }
                }
                if sig { bits := roundPack(sa, sub(xa, d), sig, l) }
            }

            a := and(a, 0xffffffff)
            b := and(b, 0xffffffff)
            c := and(c, 0xffffffff)
            let absA := and(a, 0x7fffffff)
            let absB := and(b, 0x7fffffff)
            switch lt(op, OP_MAX)
            case 1 {
                if eq(op, OP_SUB) {
                    b := xor(b, 0x80000000)
                    op := OP_ADD
                }
                switch op
                case 1 {
                    // add
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
                            let xa, ma := unpack(a)
                            let xb, mb := unpack(b)
                            r := addMagnitudes(
                                shr(31, a),
                                sub(xa, 24),
                                shl(24, ma),
                                shr(31, b),
                                sub(xb, 24),
                                shl(24, mb)
                            )
                        }
                    }
                }
                case 3 {
                    // mul
                    let sign := shr(31, xor(a, b))
                    switch or(gt(absA, 0x7f7fffff), gt(absB, 0x7f7fffff))
                    case 1 {
                        // inf * finite nonzero (or inf) is inf; a NaN operand or inf * 0 is NaN
                        r := or(shl(31, sign), 0x7f800000)
                        if or(or(gt(absA, 0x7f800000), gt(absB, 0x7f800000)), or(iszero(absA), iszero(absB))) {
                            r := 0x7fc00000
                        }
                    }
                    default {
                        switch or(iszero(absA), iszero(absB))
                        case 1 { r := shl(31, sign) }
                        default {
                            let xa, ma := unpack(a)
                            let xb, mb := unpack(b)
                            // two 24-bit significands make 47 or 48 bits
                            let sig := mul(ma, mb)
                            r := roundPack(sign, sub(add(xa, xb), add(OFF, 149)), sig, add(46, shr(47, sig)))
                        }
                    }
                }
                case 4 {
                    // div
                    let sign := shr(31, xor(a, b))
                    switch or(or(gt(absA, 0x7f7fffff), gt(absB, 0x7f7fffff)), or(iszero(absA), iszero(absB)))
                    case 1 {
                        // a NaN operand, inf/inf and 0/0 are NaN (the only special pairs of equal
                        // magnitude); inf/x and x/0 are inf; x/inf and 0/x are 0
                        switch or(or(gt(absA, 0x7f800000), gt(absB, 0x7f800000)), eq(absA, absB))
                        case 1 { r := 0x7fc00000 }
                        default {
                            r := shl(31, sign)
                            if or(eq(absA, 0x7f800000), iszero(absB)) { r := or(r, 0x7f800000) }
                        }
                    }
                    default {
                        let xa, ma := unpack(a)
                        let xb, mb := unpack(b)
                        // ma / mb is in (1/2, 2), so q = (ma << 50) / mb has 50 or 51 bits: its round bit
                        // is exact and the remainder only decides the sticky bit
                        let n := shl(50, ma)
                        let sig := or(shl(1, div(n, mb)), iszero(iszero(mod(n, mb))))
                        // value = sig * 2^(e_a - e_b - 51)
                        r := roundPack(sign, sub(add(xa, add(OFF, 98)), xb), sig, add(50, shr(51, sig)))
                    }
                }
                case 5 {
                    // sqrt
                    switch or(iszero(absA), eq(a, 0x7f800000))
                    case 1 { r := a } // +-0 and +inf are their own square roots
                    default {
                        switch gt(a, 0x7f800000)
                        case 1 { r := 0x7fc00000 } // NaN, or any negative number
                        default {
                            let xa, m := unpack(a)
                            // make the exponent e = xa - OFF - 149 even (xa odd): m in [2^23, 2^25)
                            if iszero(and(xa, 1)) {
                                m := shl(1, m)
                                xa := sub(xa, 1)
                            }
                            let n := shl(52, m)
                            // floor(sqrt(n)) by Newton's method from z >= sqrt(n) (AM-GM:
                            // sqrt(m) <= (m / 2^12 + 2^12) / 2), within 6.1% of it: four steps get below 1
                            let z := shl(25, add(shr(12, m), 4097))
                            z := shr(1, add(z, div(n, z)))
                            z := shr(1, add(z, div(n, z)))
                            z := shr(1, add(z, div(n, z)))
                            z := shr(1, add(z, div(n, z)))
                            z := sub(z, lt(div(n, z), z))
                            // z has 38 or 39 bits; the remainder decides the sticky bit
                            let sig := or(shl(1, z), iszero(eq(mul(z, z), n)))
                            // value = sig * 2^(e/2 - 27)
                            r := roundPack(0, add(shr(1, sub(add(xa, OFF), 149)), 122), sig, add(38, shr(39, sig)))
                        }
                    }
                }
                default {
                    // fma
                    let absC := and(c, 0x7fffffff)
                    let sp := shr(31, xor(a, b))
                    switch or(or(gt(absA, 0x7f7fffff), gt(absB, 0x7f7fffff)), gt(absC, 0x7f7fffff))
                    case 1 {
                        r := 0x7fc00000
                        if iszero(or(or(gt(absA, 0x7f800000), gt(absB, 0x7f800000)), gt(absC, 0x7f800000))) {
                            // no NaN; at least one infinity
                            switch or(eq(absA, 0x7f800000), eq(absB, 0x7f800000))
                            case 1 {
                                // inf * 0 is NaN; otherwise the product is inf, and inf - inf is NaN
                                let pinf := or(shl(31, sp), 0x7f800000)
                                if iszero(
                                    or(or(iszero(absA), iszero(absB)), and(eq(absC, 0x7f800000), iszero(eq(c, pinf))))
                                ) {
                                    r := pinf
                                }
                            }
                            default { r := c } // finite product plus an infinity
                        }
                    }
                    default {
                        switch or(iszero(absA), iszero(absB))
                        case 1 {
                            // exact zero product: c, except that (+-0) + (+-0) is -0 only if both are
                            r := c
                            if iszero(absC) { r := and(c, shl(31, sp)) }
                        }
                        default {
                            let xa, ma := unpack(a)
                            let xb, mb := unpack(b)
                            // the product, normalized to 48 bits
                            let mp := mul(ma, mb)
                            let xp := sub(add(xa, xb), add(OFF, 149))
                            if lt(mp, 0x800000000000) {
                                mp := shl(1, mp)
                                xp := sub(xp, 1)
                            }
                            switch absC
                            case 0 { r := roundPack(sp, xp, mp, 47) }
                            default {
                                let xc, mc := unpack(c)
                                r := addMagnitudes(sp, xp, mp, shr(31, c), sub(xc, 24), shl(24, mc))
                            }
                        }
                    }
                }
            }
            default {
                let nan := or(gt(absA, 0x7f800000), gt(absB, 0x7f800000))
                switch op
                case 0x07 {
                    // max
                    r := 0x7fc00000
                    if iszero(nan) {
                        r := a
                        if lt(key(a), key(b)) { r := b }
                    }
                }
                case 0x08 {
                    // min
                    r := 0x7fc00000
                    if iszero(nan) {
                        r := a
                        if gt(key(a), key(b)) { r := b }
                    }
                }
                case 0x09 {
                    // neg
                    r := xor(a, 0x80000000)
                    if gt(absA, 0x7f800000) { r := 0x7fc00000 }
                }
                case 0x0A {
                    // abs
                    r := absA
                    if gt(absA, 0x7f800000) { r := 0x7fc00000 }
                }
                case 0x0B {
                    // lt: quiet; +-0 are equal
                    r := and(iszero(or(nan, iszero(or(absA, absB)))), lt(key(a), key(b)))
                }
                case 0x0C {
                    // le
                    r := and(iszero(nan), or(iszero(or(absA, absB)), iszero(gt(key(a), key(b)))))
                }
                case 0x0D {
                    // eq
                    r := and(iszero(nan), or(eq(a, b), iszero(or(absA, absB))))
                }
                case 0x0E {
                    // select
                    r := c
                    if a { r := b }
                }
                case 0x0F {
                    // i32_to_f32: |a| * 2^0, rounded
                    let mag := a
                    if shr(31, a) { mag := sub(0x100000000, a) }
                    if mag { r := roundPack(shr(31, a), add(OFF, 149), mag, floorLog2(mag)) }
                }
                case 0x10 {
                    // f32_to_i32
                    r := toI32(a)
                }
                case 0x11 {
                    // f16_to_f32: exact
                    let s := shl(16, and(a, 0x8000))
                    let e := and(shr(10, a), 0x1f)
                    let f := and(a, 0x3ff)
                    switch e
                    case 31 {
                        r := or(s, 0x7f800000)
                        if f { r := 0x7fc00000 }
                    }
                    case 0 {
                        // zero, or subnormal f * 2^-24: leading bit l gives the exponent l - 24
                        r := s
                        if f {
                            let l := floorLog2(f)
                            r := or(s, or(shl(23, add(l, 103)), and(shl(sub(23, l), f), 0x7fffff)))
                        }
                    }
                    default { r := or(s, or(shl(23, add(e, 112)), shl(13, f))) }
                }
                case 0x12 {
                    // bf16_to_f32
                    r := shl(16, and(a, 0xffff))
                    if gt(and(r, 0x7fffffff), 0x7f800000) { r := 0x7fc00000 }
                }
                default {
                    // exp2i: 2^clamp(f32_to_i32(a), -126, 127), built as the biased exponent n + 127
                    switch gt(absA, 0x7f800000)
                    case 1 { r := 0x7fc00000 }
                    default {
                        let w := toI32(a)
                        let biased
                        switch shr(31, w)
                        case 1 {
                            biased := 1
                            let mag := sub(0x100000000, w)
                            if lt(mag, 126) { biased := sub(127, mag) }
                        }
                        default {
                            biased := 254
                            if lt(w, 127) { biased := add(w, 127) }
                        }
                        r := shl(23, biased)
                    }
                }
            }
        }
    }
}
