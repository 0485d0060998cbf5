//! The start-up self-test: decides, primitive by primitive, whether the
//! adapter's native instruction reproduces the canonical result or the exact
//! integer emulation must be used.
//!
//! WGSL and Vulkan promise almost nothing about float arithmetic (rounding,
//! subnormals, fused or unfused `fma`, NaN payloads, contraction of `a*b+c`),
//! so nothing is assumed: every candidate primitive runs a fixed set of cases
//! aimed at the places where real implementations differ (ties, subnormal
//! boundaries, fused-vs-unfused products, NaN, ±0, division and square-root
//! corner cases, conversion ties and saturation) plus seeded edge-biased
//! operands, through both its native and its emulated form. A primitive is
//! native only when every case matches [`Reference`]; the emulation must match
//! on every case too, or the adapter is refused.

use crate::arith::{Arith, CANONICAL_NAN, Prim, Reference};
use crate::error::{Error, Result};

/// Primitives with a native float instruction the self-test may accept.
/// Every other primitive is bit manipulation and always integer code.
pub const NATIVE_CANDIDATES: &[Prim] = &[
    Prim::Add,
    Prim::Sub,
    Prim::Mul,
    Prim::Div,
    Prim::Sqrt,
    Prim::Fma,
    Prim::Lt,
    Prim::Le,
    Prim::Eq,
    Prim::I32ToF32,
    Prim::F32ToI32,
];

/// How a primitive runs on the adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// The native instruction (passed the self-test).
    Native,
    /// Exact integer emulation (the native instruction failed a case).
    Emulated,
    /// Integer code by construction (no float instruction involved).
    Integer,
}

impl Impl {
    /// `native`, `emulated` or `integer`.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Native => "native",
            Impl::Emulated => "emulated",
            Impl::Integer => "integer",
        }
    }
}

/// The decision for one primitive, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The primitive.
    pub prim: Prim,
    /// Native, emulated or integer.
    pub imp: Impl,
    /// Why: the number of cases passed, or the first failing case.
    pub reason: String,
}

/// One self-test case: a named category, the primitive and its operands.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// What the case probes (`ties`, `subnormal`, `fused`, ...).
    pub what: &'static str,
    /// The primitive.
    pub prim: Prim,
    /// Operands (beyond the arity: 0).
    pub args: [u32; 3],
}

const SPECIALS: &[u32] = &[
    0x0000_0000,
    0x8000_0000,
    0x7F80_0000,
    0xFF80_0000,
    0x7FC0_0000,
    0xFFC0_0000,
    0x7F80_0001,
    0x7FBF_FFFF,
    0x0000_0001,
    0x8000_0001,
    0x007F_FFFF,
    0x807F_FFFF,
    0x0080_0000,
    0x8080_0000,
    0x7F7F_FFFF,
    0xFF7F_FFFF,
    0x3F80_0000,
    0xBF80_0000,
    0x3F80_0001,
    0x3F7F_FFFF,
    0x4000_0000,
    0x3F00_0000,
    0x4B40_0000,
    0x4F00_0000,
    0xCF00_0000,
];

/// SplitMix64, so the random part of the self-test is the same on every run.
struct Mix(u64);

impl Mix {
    fn u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 32) as u32
    }

    /// An operand biased to exponent extremes, subnormals and short fractions.
    fn edge(&mut self) -> u32 {
        let r = self.u32();
        let sign = r & 0x8000_0000;
        let frac = self.u32() & 0x7F_FFFF;
        match r % 8 {
            0 => SPECIALS[(r >> 8) as usize % SPECIALS.len()],
            1 => sign | frac,                                 // subnormal
            2 => sign | ((1 + (r >> 8) % 3) << 23) | frac,    // smallest normals
            3 => sign | ((120 + (r >> 8) % 16) << 23) | frac, // around 1
            4 => sign | (((r >> 8) % 254 + 1) << 23) | (frac & 0x7F_0000), // ties
            _ => r,
        }
    }
}

fn case(what: &'static str, prim: Prim, args: [u32; 3]) -> Case {
    Case { what, prim, args }
}

/// Every case of the self-test, in a fixed order.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let binary = [
        Prim::Add,
        Prim::Sub,
        Prim::Mul,
        Prim::Div,
        Prim::Lt,
        Prim::Le,
        Prim::Eq,
    ];
    // NaN, ±0, ±inf, subnormal extremes, max finite: every pair.
    for &p in &binary {
        for &a in SPECIALS {
            for &b in SPECIALS {
                v.push(case(
                    "special operands (NaN, ±0, ±inf, subnormal, max)",
                    p,
                    [a, b, 0],
                ));
            }
        }
    }
    for &a in SPECIALS {
        v.push(case(
            "special operands (NaN, ±0, ±inf, subnormal, max)",
            Prim::Sqrt,
            [a, 0, 0],
        ));
        v.push(case(
            "special operands (NaN, ±0, ±inf, subnormal, max)",
            Prim::F32ToI32,
            [a, 0, 0],
        ));
        for &b in SPECIALS {
            for c in [
                0x0000_0000,
                0x8000_0000,
                0x7F80_0000,
                0x3F80_0000,
                0x0000_0001,
            ] {
                v.push(case(
                    "special operands (NaN, ±0, ±inf, subnormal, max)",
                    Prim::Fma,
                    [a, b, c],
                ));
            }
        }
    }
    // Ties to even: 1 + 2^-24 (tie, stays 1), (1 + 2^-23) + 2^-24 (tie, rounds up).
    for (a, b) in [
        (0x3F80_0000, 0x3380_0000),
        (0x3F80_0001, 0x3380_0000),
        (0x4B80_0000, 0x3F80_0000),
        (0x4B80_0001, 0x3F80_0000),
    ] {
        v.push(case("ties to even", Prim::Add, [a, b, 0]));
        v.push(case("ties to even", Prim::Sub, [a, b ^ 0x8000_0000, 0]));
    }
    // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: the product's low bit decides a tie.
    v.push(case(
        "ties to even",
        Prim::Mul,
        [0x3F80_0800, 0x3F80_0800, 0],
    ));
    v.push(case(
        "ties to even",
        Prim::Mul,
        [0x3F80_0801, 0x3F80_0801, 0],
    ));
    // Subnormal results and operands: flush-to-zero shows here.
    for (a, b) in [
        (0x0080_0000, 0x3F00_0000),
        (0x0080_0001, 0x3F00_0000),
        (0x0000_0003, 0x3F00_0000),
        (0x0100_0000, 0x3E80_0000),
        (0x0080_0000, 0x3F7F_FFFF),
    ] {
        v.push(case("subnormal boundary", Prim::Mul, [a, b, 0]));
        v.push(case("subnormal boundary", Prim::Div, [a, 0x4000_0000, 0]));
    }
    for (a, b) in [
        (0x0080_0000, 0x8000_0001),
        (0x0000_0001, 0x0000_0001),
        (0x0080_0001, 0x8080_0000),
        (0x007F_FFFF, 0x0000_0001),
    ] {
        v.push(case("subnormal boundary", Prim::Add, [a, b, 0]));
        v.push(case("subnormal boundary", Prim::Sub, [a, b, 0]));
        v.push(case("subnormal boundary", Prim::Lt, [a, b, 0]));
        v.push(case("subnormal boundary", Prim::Eq, [a, b, 0]));
    }
    v.push(case("subnormal boundary", Prim::Sqrt, [0x0000_0001, 0, 0]));
    v.push(case("subnormal boundary", Prim::Sqrt, [0x007F_FFFF, 0, 0]));
    // Fused vs unfused: fma(a, b, -round(a*b)) is the product's rounding error.
    for (a, b) in [
        (0x3F80_0001, 0x3F80_0001),
        (0x3FAA_AAAB, 0x4040_0000),
        (0x3DCC_CCCD, 0x4120_0000),
    ] {
        let p = Reference.mul(a, b);
        v.push(case("fused vs unfused", Prim::Fma, [a, b, p ^ 0x8000_0000]));
        v.push(case("fused vs unfused", Prim::Fma, [a, b, 0xB380_0000]));
    }
    // Products below the subnormal range that an addend brings back.
    v.push(case(
        "fused vs unfused",
        Prim::Fma,
        [0x0080_0000, 0x3400_0000, 0x0080_0000],
    ));
    v.push(case(
        "fused vs unfused",
        Prim::Fma,
        [0x2000_0001, 0x1F80_0001, 0x0000_0001],
    ));
    // Division and square root: exact, inexact, ties impossible, 0/0, x/0, inf/inf.
    for (a, b) in [
        (0x3F80_0000, 0x4040_0000),
        (0x4120_0000, 0x4040_0000),
        (0x7F7F_FFFF, 0x0000_0001),
        (0x0000_0001, 0x7F7F_FFFF),
        (0x3F80_0000, 0x3F7F_FFFF),
    ] {
        v.push(case("division", Prim::Div, [a, b, 0]));
    }
    for a in [
        0x4000_0000,
        0x4040_0000,
        0x3F80_0001,
        0x3F7F_FFFF,
        0x7F7F_FFFF,
        0xBF80_0000,
    ] {
        v.push(case("square root", Prim::Sqrt, [a, 0, 0]));
    }
    // Conversions: ties at 2^24.., x.5, saturation.
    for a in [
        0x0100_0001u32,
        0x0100_0003,
        0x7FFF_FFFF,
        0x8000_0000,
        0xFEFF_FFFF,
        0xFFFF_FFFF,
    ] {
        v.push(case("conversion rounding", Prim::I32ToF32, [a, 0, 0]));
    }
    for a in [
        0x3F00_0000u32,
        0x3FC0_0000,
        0x4020_0000,
        0xBFC0_0000,
        0x4F00_0000,
        0xCF00_0000,
        0xCF00_0001,
        0x4EFF_FFFF,
    ] {
        v.push(case("conversion rounding", Prim::F32ToI32, [a, 0, 0]));
    }
    // Seeded edge-biased operands for every candidate.
    let mut r = Mix(0x5E1F_7E57);
    for &p in NATIVE_CANDIDATES {
        for _ in 0..4096 {
            v.push(case(
                "edge-biased operands",
                p,
                [r.edge(), r.edge(), r.edge()],
            ));
        }
    }
    v
}

/// Decide native or emulated per primitive from the results of every case
/// through the native (`native[i]`) and emulated (`emulated[i]`) forms.
pub fn decide(cases: &[Case], native: &[u32], emulated: &[u32]) -> Result<Vec<Choice>> {
    let mut out = Vec::new();
    for &p in Prim::ALL {
        if !NATIVE_CANDIDATES.contains(&p) {
            out.push(Choice {
                prim: p,
                imp: Impl::Integer,
                reason: "bit manipulation, no float instruction".into(),
            });
            continue;
        }
        let mut n = 0usize;
        let mut failure: Option<String> = None;
        for ((c, &nat), &emu) in cases.iter().zip(native).zip(emulated) {
            if c.prim != p {
                continue;
            }
            n += 1;
            let want = Reference.eval(p, c.args);
            let args = fmt_args(c);
            if emu != want {
                return Err(Error::Gpu(format!(
                    "the integer emulation of {p}({args}) gave {emu:08x}, the canonical result is {want:08x}: \
                     this adapter's shader compiler miscompiles integer code; choose another adapter"
                )));
            }
            if nat != want && failure.is_none() {
                let nan = if is_nan_word(p, want) {
                    " (canonical NaN)"
                } else {
                    ""
                };
                failure = Some(format!(
                    "{}: {p}({args}) = {nat:08x}, canonical {want:08x}{nan}",
                    c.what
                ));
            }
        }
        out.push(match failure {
            None => Choice {
                prim: p,
                imp: Impl::Native,
                reason: format!("passed all {n} self-test cases"),
            },
            Some(why) => Choice {
                prim: p,
                imp: Impl::Emulated,
                reason: why,
            },
        });
    }
    Ok(out)
}

fn is_nan_word(p: Prim, w: u32) -> bool {
    !matches!(p, Prim::Lt | Prim::Le | Prim::Eq | Prim::F32ToI32) && w == CANONICAL_NAN
}

fn fmt_args(c: &Case) -> String {
    c.args[..c.prim.arity()]
        .iter()
        .map(|a| format!("{a:08x}"))
        .collect::<Vec<_>>()
        .join(", ")
}
