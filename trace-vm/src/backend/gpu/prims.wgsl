// The canonical primitives (SPEC.md section 1) on u32 bit patterns.
//
// Every primitive that involves a float instruction exists twice: `nat_*`
// uses the adapter's instruction, `emu_*` is an exact integer emulation (64-bit
// intermediates as vec2<u32>: x = low word, y = high word; WGSL has no u64).
// The host appends `p_*` functions that pick one of the two per primitive, as
// the start-up self-test decided, and `eval_prim(opcode, a, b, c)` over all of
// them. Primitives that are pure bit manipulation (max, min, neg, abs, select,
// f16/bf16 widening, exp2i) are integer code only.

const CANON_NAN: u32 = 0x7fc00000u;
const SIGN: u32 = 0x80000000u;
const MAG: u32 = 0x7fffffffu;
const INF: u32 = 0x7f800000u;
const ONE: u32 = 0x3f800000u;

// A zero the shader compiler cannot see through: loaded from the params
// buffer at kernel start. XOR-ing every native float result with it makes the
// result an integer the next float operation must re-read, so no product can
// be contracted into a following add, and no constant can be folded.
var<private> OPAQUE: u32;

fn is_nan(x: u32) -> bool { return (x & MAG) > INF; }
fn is_inf(x: u32) -> bool { return (x & MAG) == INF; }
fn is_zero(x: u32) -> bool { return (x & MAG) == 0u; }
fn f(x: u32) -> f32 { return bitcast<f32>(x); }
fn canon(x: f32) -> u32 {
    let b = bitcast<u32>(x) ^ OPAQUE;
    return select(b, CANON_NAN, is_nan(b));
}
fn word(c: bool) -> u32 { return select(0u, 1u, c); }

// ---- native instructions -------------------------------------------------

fn nat_add(a: u32, b: u32) -> u32 { return canon(f(a) + f(b)); }
fn nat_sub(a: u32, b: u32) -> u32 { return canon(f(a) - f(b)); }
fn nat_mul(a: u32, b: u32) -> u32 { return canon(f(a) * f(b)); }
fn nat_div(a: u32, b: u32) -> u32 { return canon(f(a) / f(b)); }
fn nat_sqrt(a: u32) -> u32 { return canon(sqrt(f(a))); }
fn nat_fma(a: u32, b: u32, c: u32) -> u32 { return canon(fma(f(a), f(b), f(c))); }
fn nat_lt(a: u32, b: u32) -> u32 { return word(f(a ^ OPAQUE) < f(b)); }
fn nat_le(a: u32, b: u32) -> u32 { return word(f(a ^ OPAQUE) <= f(b)); }
fn nat_eq(a: u32, b: u32) -> u32 { return word(f(a ^ OPAQUE) == f(b)); }
fn nat_i32_to_f32(a: u32) -> u32 { return canon(f32(bitcast<i32>(a))); }
fn nat_f32_to_i32(a: u32) -> u32 {
    let r = bitcast<u32>(i32(round(f(a ^ OPAQUE))));
    return select(r, 0x7fffffffu, is_nan(a));
}

// ---- 64-bit helpers --------------------------------------------------------

fn shl64(v: vec2<u32>, s: u32) -> vec2<u32> {
    if (s == 0u) { return v; }
    if (s >= 32u) { return vec2<u32>(0u, v.x << (s - 32u)); }
    return vec2<u32>(v.x << s, (v.y << s) | (v.x >> (32u - s)));
}

// Shift right, OR-ing every bit shifted out into bit 0 (sticky).
fn shr_jam64(v: vec2<u32>, s: u32) -> vec2<u32> {
    if (s == 0u) { return v; }
    if (s >= 64u) { return vec2<u32>(word(v.x != 0u || v.y != 0u), 0u); }
    var r: vec2<u32>;
    var lost: u32;
    if (s == 32u) {
        r = vec2<u32>(v.y, 0u);
        lost = v.x;
    } else if (s > 32u) {
        let t = s - 32u;
        r = vec2<u32>(v.y >> t, 0u);
        lost = v.x | (v.y << (32u - t));
    } else {
        r = vec2<u32>((v.x >> s) | (v.y << (32u - s)), v.y >> s);
        lost = v.x << (32u - s);
    }
    r.x = r.x | word(lost != 0u);
    return r;
}

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + word(lo < a.x));
}

fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return vec2<u32>(a.x - b.x, a.y - b.y - word(a.x < b.x));
}

fn lt64(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x < b.x);
}

// Leading zeros of a non-zero 64-bit value.
fn clz64(v: vec2<u32>) -> u32 {
    if (v.y != 0u) { return countLeadingZeros(v.y); }
    return 32u + countLeadingZeros(v.x);
}

// Full 24 x 24 -> 48-bit product.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let ll = a0 * b0;
    let mid = a1 * b0 + a0 * b1;
    let lo = ll + (mid << 16u);
    return vec2<u32>(lo, a1 * b1 + (mid >> 16u) + word(lo < ll));
}

// A finite non-zero operand as m * 2^e with m in [2^23, 2^24).
struct Unpacked {
    e: i32,
    m: u32,
}

fn unpack(x: u32) -> Unpacked {
    let ex = (x >> 23u) & 0xffu;
    let fr = x & 0x7fffffu;
    if (ex == 0u) {
        let lz = countLeadingZeros(fr) - 8u;
        return Unpacked(-149 - i32(lz), fr << lz);
    }
    return Unpacked(i32(ex) - 150, fr | 0x800000u);
}

// Round r * 2^e (r has bit 63 set; bit 0 may be a sticky bit) to binary32,
// nearest-even, subnormals kept, overflow to infinity.
fn round_pack(sign: u32, e: i32, r: vec2<u32>) -> u32 {
    let be = e + 190;
    if (be >= 255) { return sign | INF; }
    var shift = 40;
    var base = 0u;
    if (be >= 1) {
        base = u32(be - 1) << 23u;
    } else {
        shift = 41 - be;
    }
    if (shift > 64) { return sign; }
    // t = r >> (shift - 1): the kept bits and the round bit; shift - 1 is in [39, 63].
    let s1 = u32(shift - 1) - 32u;
    let t = r.y >> s1;
    let sticky = r.x != 0u || (r.y & ((1u << s1) - 1u)) != 0u;
    var m = t >> 1u;
    if ((t & 1u) != 0u && (sticky || (m & 1u) != 0u)) {
        m = m + 1u;
    }
    // A carry out of the significand increments the exponent field.
    let bits = base + m;
    if (bits >= INF) { return sign | INF; }
    return sign | bits;
}

// ---- exact integer emulations ----------------------------------------------

fn emu_fma(a: u32, b: u32, c: u32) -> u32 {
    if (is_nan(a) || is_nan(b) || is_nan(c)) { return CANON_NAN; }
    let sp = (a ^ b) & SIGN;
    let sc = c & SIGN;
    if (is_inf(a) || is_inf(b)) {
        if (is_zero(a) || is_zero(b)) { return CANON_NAN; }
        if (is_inf(c) && sc != sp) { return CANON_NAN; }
        return sp | INF;
    }
    if (is_inf(c)) { return c; }
    if (is_zero(a) || is_zero(b)) {
        // Exact zero product: ±0 + ±0 keeps a common sign, else +0.
        if (is_zero(c)) { return select(0u, sp, sp == sc); }
        return c;
    }
    let ua = unpack(a);
    let ub = unpack(b);
    var p = mul_wide(ua.m, ub.m);
    let lp = clz64(p);
    p = shl64(p, lp);
    var ep = ua.e + ub.e - i32(lp);
    if (is_zero(c)) { return round_pack(sp, ep, p); }
    let uc = unpack(c);
    var q = vec2<u32>(0u, uc.m << 8u);
    var eq = uc.e - 40;
    // One bit of headroom for the carry of an addition; both shifts are
    // exact (the low bits of p and q are zero).
    p = shr_jam64(p, 1u);
    q = shr_jam64(q, 1u);
    ep = ep + 1;
    eq = eq + 1;
    var x = p;
    var y = q;
    var sx = sp;
    var e = ep;
    var d = ep - eq;
    if (ep < eq) {
        x = q;
        y = p;
        sx = sc;
        e = eq;
        d = eq - ep;
    }
    y = shr_jam64(y, u32(min(d, 64)));
    var r: vec2<u32>;
    var sign = sx;
    if (sp == sc) {
        r = add64(x, y);
    } else {
        if (lt64(x, y)) {
            r = sub64(y, x);
            sign = sx ^ SIGN;
        } else {
            r = sub64(x, y);
        }
        // Exact cancellation is +0 under round-to-nearest.
        if (r.x == 0u && r.y == 0u) { return 0u; }
    }
    let l = clz64(r);
    return round_pack(sign, e - i32(l), shl64(r, l));
}

fn emu_add(a: u32, b: u32) -> u32 { return emu_fma(a, ONE, b); }
fn emu_sub(a: u32, b: u32) -> u32 { return emu_fma(a, ONE, b ^ SIGN); }
// a * b + (-0) is a * b with one rounding, and keeps the sign of a zero product.
fn emu_mul(a: u32, b: u32) -> u32 { return emu_fma(a, b, SIGN); }

fn emu_div(a: u32, b: u32) -> u32 {
    if (is_nan(a) || is_nan(b)) { return CANON_NAN; }
    let s = (a ^ b) & SIGN;
    if (is_inf(a)) { return select(s | INF, CANON_NAN, is_inf(b)); }
    if (is_inf(b)) { return s; }
    if (is_zero(b)) { return select(s | INF, CANON_NAN, is_zero(a)); }
    if (is_zero(a)) { return s; }
    let ua = unpack(a);
    let ub = unpack(b);
    var num = ua.m;
    var e = ua.e - ub.e;
    if (num < ub.m) {
        num = num << 1u;
        e = e - 1;
    }
    // 26 quotient bits of num / m_b (the first is 1); the remainder is the sticky bit.
    var q = 0u;
    var rem = num;
    for (var i = 0u; i < 26u; i = i + 1u) {
        q = q << 1u;
        if (rem >= ub.m) {
            rem = rem - ub.m;
            q = q | 1u;
        }
        rem = rem << 1u;
    }
    // q * 2^(e - 25) with q in [2^25, 2^26): as r = q << 38, r * 2^(e - 63).
    return round_pack(s, e - 63, vec2<u32>(word(rem != 0u), q << 6u));
}

fn emu_sqrt(a: u32) -> u32 {
    if (is_nan(a)) { return CANON_NAN; }
    if (is_zero(a)) { return a; }
    if ((a & SIGN) != 0u) { return CANON_NAN; }
    if (is_inf(a)) { return a; }
    let u = unpack(a);
    // Radicand M = m << s in [2^50, 2^52) with e - s even.
    var s = 28u;
    if (((u.e - 28) & 1) != 0) { s = 27u; }
    let big = shl64(vec2<u32>(u.m, 0u), s);
    // Digit-by-digit square root, two radicand bits per step: root in [2^25, 2^26).
    var rem = 0u;
    var root = 0u;
    for (var i = 25; i >= 0; i = i - 1) {
        let bit = u32(2 * i);
        var digit: u32;
        if (bit >= 32u) {
            digit = (big.y >> (bit - 32u)) & 3u;
        } else {
            digit = (big.x >> bit) & 3u;
        }
        rem = (rem << 2u) | digit;
        let trial = (root << 2u) | 1u;
        root = root << 1u;
        if (rem >= trial) {
            rem = rem - trial;
            root = root | 1u;
        }
    }
    return round_pack(0u, (u.e - i32(s)) / 2 - 38, vec2<u32>(word(rem != 0u), root << 6u));
}

// The IEEE total-order key with -0 == +0 (callers exclude NaN).
fn cmp_key(x: u32) -> u32 {
    let y = select(x, 0u, is_zero(x));
    return select(y | SIGN, ~y, (y & SIGN) != 0u);
}

fn emu_lt(a: u32, b: u32) -> u32 {
    return word(!is_nan(a) && !is_nan(b) && cmp_key(a) < cmp_key(b));
}
fn emu_le(a: u32, b: u32) -> u32 {
    return word(!is_nan(a) && !is_nan(b) && cmp_key(a) <= cmp_key(b));
}
fn emu_eq(a: u32, b: u32) -> u32 {
    return word(!is_nan(a) && !is_nan(b) && cmp_key(a) == cmp_key(b));
}

fn emu_i32_to_f32(a: u32) -> u32 {
    if (a == 0u) { return 0u; }
    let sign = a & SIGN;
    let mag = select(a, 0u - a, sign != 0u);
    let l = countLeadingZeros(mag);
    return round_pack(sign, -32 - i32(l), vec2<u32>(0u, mag << l));
}

// RNE, saturating; NaN -> 0x7fffffff.
fn emu_f32_to_i32(a: u32) -> u32 {
    if (is_nan(a)) { return 0x7fffffffu; }
    let neg = (a & SIGN) != 0u;
    let ex = (a >> 23u) & 0xffu;
    if (ex >= 158u) { return select(0x7fffffffu, SIGN, neg); }
    if (ex < 126u) { return 0u; }
    let m = (a & 0x7fffffu) | 0x800000u;
    var mag: u32;
    if (ex >= 150u) {
        mag = m << (ex - 150u);
    } else {
        let sh = 150u - ex;
        mag = m >> sh;
        let rem = m & ((1u << sh) - 1u);
        let half = 1u << (sh - 1u);
        if (rem > half || (rem == half && (mag & 1u) != 0u)) {
            mag = mag + 1u;
        }
    }
    return select(mag, 0u - mag, neg);
}

// ---- integer-only primitives -------------------------------------------------

fn p_max(a: u32, b: u32) -> u32 {
    if (is_nan(a) || is_nan(b)) { return CANON_NAN; }
    // Total order with -0 < +0.
    let ka = select(a | SIGN, ~a, (a & SIGN) != 0u);
    let kb = select(b | SIGN, ~b, (b & SIGN) != 0u);
    return select(b, a, ka >= kb);
}
fn p_min(a: u32, b: u32) -> u32 {
    if (is_nan(a) || is_nan(b)) { return CANON_NAN; }
    let ka = select(a | SIGN, ~a, (a & SIGN) != 0u);
    let kb = select(b | SIGN, ~b, (b & SIGN) != 0u);
    return select(b, a, ka <= kb);
}
fn p_neg(a: u32) -> u32 { return select(a ^ SIGN, CANON_NAN, is_nan(a)); }
fn p_abs(a: u32) -> u32 { return select(a & MAG, CANON_NAN, is_nan(a)); }
fn p_select(c: u32, a: u32, b: u32) -> u32 { return select(b, a, c != 0u); }
fn p_f16_to_f32(a: u32) -> u32 {
    let sign = (a & 0x8000u) << 16u;
    let e = (a >> 10u) & 0x1fu;
    let m = a & 0x3ffu;
    if (e == 0x1fu) { return select(sign | INF, CANON_NAN, m != 0u); }
    if (e == 0u) {
        if (m == 0u) { return sign; }
        // m * 2^-24 is a normal binary32: move the leading bit to bit 10.
        let lz = countLeadingZeros(m) - 21u;
        return sign | ((113u - lz) << 23u) | (((m << lz) & 0x3ffu) << 13u);
    }
    return sign | ((e + 112u) << 23u) | (m << 13u);
}
fn p_bf16_to_f32(a: u32) -> u32 {
    let x = (a & 0xffffu) << 16u;
    return select(x, CANON_NAN, is_nan(x));
}
fn p_exp2i(a: u32) -> u32 {
    if (is_nan(a)) { return CANON_NAN; }
    let n = clamp(bitcast<i32>(emu_f32_to_i32(a)), -126, 127);
    return u32(n + 127) << 23u;
}

// The fixed lane tree of every canonical reduction (SPEC 2):
// ((l0 op l1) op (l2 op l3)) op ((l4 op l5) op (l6 op l7)).
fn lane_tree(op: u32, l: array<u32, 8>) -> u32 {
    let x = eval_prim(op, eval_prim(op, l[0], l[1], 0u), eval_prim(op, l[2], l[3], 0u), 0u);
    let y = eval_prim(op, eval_prim(op, l[4], l[5], 0u), eval_prim(op, l[6], l[7], 0u), 0u);
    return eval_prim(op, x, y, 0u);
}
