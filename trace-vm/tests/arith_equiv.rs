//! Fast == Reference, bit for bit, for every primitive.
//!
//! Two layers:
//! - a bulk loop per primitive over a seeded edge-biased generator
//!   (`common::edge*`): 10^6 cases per primitive normally, 10^8 with
//!   `REFUTE_SLOW=1` (`scripts/test-slow`), spread over every core;
//! - proptest suites with edge-biased strategies (shrinking to a minimal
//!   failing operand set), 20 000 cases per primitive (100 000 in slow mode).

mod common;

use common::{Rng, SPECIALS, bulk_cases, mk, operands, slow};
use proptest::prelude::*;
use trace_vm::arith::{Arith, CANONICAL_NAN, Fast, Prim, Reference, is_nan};

fn check(p: Prim, args: [u32; 3]) -> Result<(), String> {
    let f = Fast.eval(p, args);
    let s = Reference.eval(p, args);
    if f != s {
        return Err(format!(
            "{p}({}) fast {f:08x} reference {s:08x}",
            args[..p.arity()]
                .iter()
                .map(|a| format!("{a:08x}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // Every NaN result of a float primitive is canonical.
    let word_result = matches!(
        p,
        Prim::Lt | Prim::Le | Prim::Eq | Prim::Select | Prim::F32ToI32
    );
    if !word_result && is_nan(f) && f != CANONICAL_NAN {
        return Err(format!("{p}: non-canonical NaN {f:08x}"));
    }
    Ok(())
}

fn bulk(p: Prim) {
    let n = bulk_cases();
    let threads = if slow() {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        1
    };
    std::thread::scope(|sc| {
        for t in 0..threads as u64 {
            sc.spawn(move || {
                let mut r = Rng(0x5EED_0000 + (p.opcode() as u64) * 1000 + t);
                for _ in 0..n / threads as u64 {
                    let args = operands(p, &mut r);
                    if let Err(e) = check(p, args) {
                        panic!("{e}");
                    }
                }
            });
        }
    });
}

macro_rules! bulk_tests {
    ($($name:ident => $p:expr;)*) => {$(
        #[test]
        fn $name() {
            bulk($p);
        }
    )*};
}

bulk_tests! {
    bulk_add => Prim::Add;
    bulk_sub => Prim::Sub;
    bulk_mul => Prim::Mul;
    bulk_div => Prim::Div;
    bulk_sqrt => Prim::Sqrt;
    bulk_fma => Prim::Fma;
    bulk_max => Prim::Max;
    bulk_min => Prim::Min;
    bulk_neg => Prim::Neg;
    bulk_abs => Prim::Abs;
    bulk_lt => Prim::Lt;
    bulk_le => Prim::Le;
    bulk_eq => Prim::Eq;
    bulk_select => Prim::Select;
    bulk_i32_to_f32 => Prim::I32ToF32;
    bulk_f32_to_i32 => Prim::F32ToI32;
    bulk_f16_to_f32 => Prim::F16ToF32;
    bulk_bf16_to_f32 => Prim::Bf16ToF32;
    bulk_exp2i => Prim::Exp2i;
}

/// The generator really produces the cases it claims to (a guard against a
/// silently degenerate generator).
#[test]
fn generator_covers_edge_cases() {
    let mut r = Rng(7);
    let (mut sub, mut nan_payload, mut fused_differs, mut add_tie, mut mul_tie, mut sub_result) =
        (0, 0, 0, 0, 0, 0);
    for _ in 0..200_000 {
        let [a, b, c] = operands(Prim::Fma, &mut r);
        let (fa, fb, fc) = (f32::from_bits(a), f32::from_bits(b), f32::from_bits(c));
        if a & 0x7F80_0000 == 0 && a & 0x7F_FFFF != 0 {
            sub += 1;
        }
        if is_nan(a) && a != CANONICAL_NAN {
            nan_payload += 1;
        }
        let fused = fa.mul_add(fb, fc);
        let unfused = fa * fb + fc;
        if fused.to_bits() != unfused.to_bits() && !fused.is_nan() {
            fused_differs += 1;
        }
        // exact ties (normal range): the f64 value is exact and its 29 bits
        // below binary32 precision are exactly 100...0
        let tie = |v: f64| {
            v.is_finite()
                && v.abs() >= f32::MIN_POSITIVE as f64
                && v.to_bits() & 0x1FFF_FFFF == 1 << 28
        };
        if tie(fa as f64 * fb as f64) {
            mul_tie += 1;
        }
        if tie(fa as f64 + fb as f64) {
            add_tie += 1;
        }
        let prod = fa * fb;
        if prod != 0.0 && prod.abs() < f32::MIN_POSITIVE {
            sub_result += 1;
        }
    }
    println!(
        "of 200000 fma operand triples: subnormal a {sub}, NaN payloads {nan_payload}, fused != unfused {fused_differs}, \
         exact a*b ties {mul_tie}, exact a+b ties {add_tie}, subnormal a*b {sub_result}"
    );
    for (what, n) in [
        ("subnormal", sub),
        ("nan payload", nan_payload),
        ("fused differs", fused_differs),
        ("mul tie", mul_tie),
        ("add tie", add_tie),
        ("subnormal product", sub_result),
    ] {
        assert!(n > 1000, "generator produced only {n} {what} cases");
    }
}

#[test]
fn specials_all_pairs() {
    for p in Prim::ALL.iter().copied() {
        for &a in SPECIALS {
            for &b in SPECIALS {
                for &c in &[0u32, 0x8000_0000, 0x7F80_0000, 0x0000_0001, 0x7FC0_0001] {
                    check(p, [a, b, c]).unwrap();
                }
            }
        }
    }
}

#[test]
fn stated_rules() {
    let (pz, nz, nan, one) = (0u32, 0x8000_0000u32, CANONICAL_NAN, 0x3F80_0000u32);
    for a in [&Fast as &dyn Arith, &Reference] {
        assert_eq!(a.max(pz, nz), pz);
        assert_eq!(a.max(nz, pz), pz);
        assert_eq!(a.min(pz, nz), nz);
        assert_eq!(a.min(nz, pz), nz);
        assert_eq!(a.max(one, 0x7F80_0001), nan);
        assert_eq!(a.min(0xFFFF_FFFF, one), nan);
        assert_eq!(a.neg(0xFFC0_0000), nan);
        assert_eq!(a.abs(0xFFC0_0000), nan);
        assert_eq!(a.neg(pz), nz);
        assert_eq!(a.sqrt(nz), nz);
        assert_eq!(a.div(pz, pz), nan);
        assert_eq!(a.sub(0x7F80_0000, 0x7F80_0000), nan);
        assert_eq!(a.f32_to_i32(nan), 0x7FFF_FFFF);
        assert_eq!(a.f32_to_i32(0x4F00_0000), 0x7FFF_FFFF); // 2^31
        assert_eq!(a.f32_to_i32(0xCF00_0000), 0x8000_0000); // -2^31
        assert_eq!(a.f32_to_i32(0xDF00_0000), 0x8000_0000); // -2^63
        assert_eq!(a.f32_to_i32(0x3FC0_0000), 2); // 1.5 -> 2
        assert_eq!(a.f32_to_i32(0x4020_0000), 2); // 2.5 -> 2
        assert_eq!(a.f32_to_i32(0xBFC0_0000), (-2i32) as u32);
        assert_eq!(a.i32_to_f32(16_777_217), 0x4B80_0000); // 2^24 + 1 -> 2^24 (tie to even)
        assert_eq!(a.i32_to_f32(16_777_219), 0x4B80_0002);
        assert_eq!(a.f16_to_f32(0x3C00), one);
        assert_eq!(a.f16_to_f32(0x0001), 0x3380_0000); // 2^-24
        assert_eq!(a.f16_to_f32(0xFC00), 0xFF80_0000);
        assert_eq!(a.f16_to_f32(0x7E01), nan);
        assert_eq!(a.f16_to_f32(0xFFFF_3C00), one); // high half ignored
        assert_eq!(a.bf16_to_f32(0x3F80), one);
        assert_eq!(a.bf16_to_f32(0xFFC1), nan);
        assert_eq!(a.exp2i(0x4300_0000), 0x7F00_0000); // 2^127 (128 clamps)
        assert_eq!(a.exp2i(0xC300_0000), 0x0080_0000); // 2^-126 (-128 clamps)
        assert_eq!(a.exp2i(0xBF00_0000), one); // -0.5 -> 0
        assert_eq!(a.exp2i(0x7F80_0000), 0x7F00_0000); // +inf -> 2^127
        assert_eq!(a.exp2i(0xFF80_0000), 0x0080_0000);
        assert_eq!(a.exp2i(nan), nan);
        assert_eq!(a.select(5, 1, 2), 1);
        assert_eq!(a.select(0, 1, 2), 2);
        assert_eq!(a.lt(nz, pz), 0);
        assert_eq!(a.le(nz, pz), 1);
        assert_eq!(a.eq(nz, pz), 1);
        assert_eq!(a.eq(nan, nan), 0);
        // fused: a*b + c with c = -round(a*b) gives the rounding error
        let (x, y) = (0x3F80_0001u32, 0x3F80_0001u32);
        let p = a.mul(x, y);
        assert_eq!(a.fma(x, y, a.neg(p)), 0x2880_0000); // 2^-46
    }
}

#[test]
fn prim_table() {
    let mut seen = std::collections::HashSet::new();
    for p in Prim::ALL {
        assert!(seen.insert(p.opcode()), "duplicate opcode");
        assert_eq!(Prim::from_opcode(p.opcode()), Some(*p));
        assert_eq!(p.name().parse::<Prim>().unwrap(), *p);
        assert_eq!(p.to_string(), p.name());
        assert!((1..=3).contains(&p.arity()));
    }
    assert!(Prim::from_opcode(0).is_none());
    let e = "frobnicate".parse::<Prim>().unwrap_err().to_string();
    assert!(e.contains("frobnicate") && e.contains("fma"), "{e}");
}

// ---------------------------------------------------------------------------
// proptest: the same property, with strategies that shrink.

fn special() -> impl Strategy<Value = u32> {
    proptest::sample::select(SPECIALS.to_vec())
}

/// Edge-biased binary32 strategy.
fn float_bits() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => special(),
        2 => (any::<bool>(), 0u32..0x80_0000).prop_map(|(s, f)| mk(s, 0, f)), // subnormal
        1 => (any::<bool>(), 0u32..4, any::<u32>()).prop_map(|(s, e, f)| mk(s, e, f)),
        1 => (any::<bool>(), 250u32..255, any::<u32>()).prop_map(|(s, e, f)| mk(s, e, f)),
        1 => (any::<bool>(), any::<u32>()).prop_map(|(s, f)| mk(s, 0xFF, f | 1)), // NaN payloads
        2 => (any::<bool>(), 0u32..255, 0u32..128).prop_map(|(s, e, f)| mk(s, e, f << 16)), // short fractions: ties
        3 => any::<u32>(),
    ]
}

fn cases() -> u32 {
    if slow() { 100_000 } else { 20_000 }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn prop_binary(a in float_bits(), b in float_bits(), op in proptest::sample::select(vec![
        Prim::Add, Prim::Sub, Prim::Mul, Prim::Div, Prim::Max, Prim::Min, Prim::Lt, Prim::Le, Prim::Eq])) {
        prop_assert!(check(op, [a, b, 0]).is_ok(), "{}", check(op, [a, b, 0]).unwrap_err());
    }

    #[test]
    fn prop_unary(a in float_bits(), op in proptest::sample::select(vec![
        Prim::Sqrt, Prim::Neg, Prim::Abs, Prim::F32ToI32, Prim::I32ToF32, Prim::F16ToF32, Prim::Bf16ToF32, Prim::Exp2i])) {
        prop_assert!(check(op, [a, 0, 0]).is_ok(), "{}", check(op, [a, 0, 0]).unwrap_err());
    }

    #[test]
    fn prop_fma(a in float_bits(), b in float_bits(), c in float_bits(), cancel in any::<bool>()) {
        // half the time make c = -round(a*b) (the case where fusing matters most)
        let c = if cancel { (-(f32::from_bits(a) * f32::from_bits(b))).to_bits() } else { c };
        prop_assert!(check(Prim::Fma, [a, b, c]).is_ok(), "{}", check(Prim::Fma, [a, b, c]).unwrap_err());
    }

    #[test]
    fn prop_add_near_tie(a in float_bits(), shift in 22u32..27, low in 0u32..4, s in any::<bool>()) {
        // b sits `shift` binades below a with a short fraction: exact ties and sticky bits
        let e = ((a >> 23) & 0xFF).saturating_sub(shift);
        let b = mk(s, e, low << 21);
        prop_assert!(check(Prim::Add, [a, b, 0]).is_ok(), "{}", check(Prim::Add, [a, b, 0]).unwrap_err());
        prop_assert!(check(Prim::Sub, [a, b, 0]).is_ok(), "{}", check(Prim::Sub, [a, b, 0]).unwrap_err());
    }
}
