//! Shared helpers for the trace-vm integration tests: a seeded edge-biased
//! generator of binary32 operands, random quantized tensors, ULP error
//! measurement, the slow-mode switch and the GPU backend (or a loud skip where
//! the machine has no Vulkan adapter).
#![allow(dead_code)]

use trace_vm::arith::Prim;
use trace_vm::backend::Gpu;
use trace_vm::backend::gpu::{Policy, adapters};
use trace_vm::commit::DType;
use trace_vm::tensor::Tensor;

/// True when `REFUTE_SLOW=1` (set by `scripts/test-slow`).
pub fn slow() -> bool {
    std::env::var("REFUTE_SLOW")
        .map(|v| v == "1")
        .unwrap_or(false)
}

/// Cases per primitive for the bulk loops: 10^6 normally, 10^8 in slow mode
/// (overridable with `REFUTE_CASES`).
pub fn bulk_cases() -> u64 {
    if let Ok(v) = std::env::var("REFUTE_CASES")
        && let Ok(n) = v.parse()
    {
        return n;
    }
    if slow() { 100_000_000 } else { 1_000_000 }
}

/// SplitMix64: small, seedable, good enough for test inputs.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * n as u64) >> 32) as u32
    }
    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// Special values every generator mixes in.
pub const SPECIALS: &[u32] = &[
    0x0000_0000,
    0x8000_0000, // ±0
    0x7F80_0000,
    0xFF80_0000, // ±inf
    0x7FC0_0000,
    0xFFC0_0000,
    0x7F80_0001,
    0xFFBF_FFFF,
    0x7FFF_FFFF,
    0x7FA0_0000, // NaNs (quiet, signalling, payloads)
    0x0000_0001,
    0x8000_0001,
    0x007F_FFFF,
    0x807F_FFFF, // min / max subnormal
    0x0080_0000,
    0x8080_0000,
    0x0080_0001, // min normal
    0x7F7F_FFFF,
    0xFF7F_FFFF,
    0x7F7F_FFFE, // max finite
    0x3F80_0000,
    0xBF80_0000,
    0x3F80_0001,
    0x3F7F_FFFF, // 1 and neighbours
    0x4000_0000,
    0x3F00_0000,
    0x3FC0_0000,
    0x4B40_0000,
    0x4B00_0000,
    0x4EFF_FFFF,
    0x4F00_0000,
    0xCF00_0000,
    0xCF00_0001,
    0x3EFF_FFFF,
    0x3F40_0000,
    0x4040_0000,
];

/// Compose sign, biased exponent and fraction.
pub fn mk(sign: bool, exp: u32, frac: u32) -> u32 {
    ((sign as u32) << 31) | ((exp & 0xFF) << 23) | (frac & 0x7F_FFFF)
}

/// One edge-biased operand.
pub fn edge(r: &mut Rng) -> u32 {
    match r.below(16) {
        0 | 1 => SPECIALS[r.below(SPECIALS.len() as u32) as usize],
        2 => mk(r.bool(), 0, r.u32()),                     // subnormal
        3 => mk(r.bool(), r.below(4), r.u32()),            // subnormal / smallest normals
        4 => mk(r.bool(), 0xFF - 1 - r.below(4), r.u32()), // near overflow
        5 => mk(r.bool(), 127 - 12 + r.below(24), r.u32()), // around 1
        6 => mk(r.bool(), r.below(256), r.u32() & 0x7F_0000), // few fraction bits (exact products, ties)
        7 => mk(r.bool(), r.below(256), r.u32() | 0x7F_FF00), // fraction close to all ones
        8 => mk(r.bool(), 0xFF, r.u32() | 1),                 // NaN with random payload
        9 => mk(r.bool(), 0xFF, 0),                           // inf
        10 => mk(r.bool(), r.below(256), 1 << r.below(23)),   // power of two-ish
        11 => ((r.below(1 << 12) as i32 - 2048) as f32).to_bits(), // small integers
        _ => r.u32(),
    }
}

/// Operands for a binary op, often related to each other (cancellation, ties,
/// results near the subnormal boundary).
pub fn edge_pair(r: &mut Rng) -> (u32, u32) {
    let a = edge(r);
    let b = match r.below(10) {
        0 => a ^ 0x8000_0000, // a + (-a), exact cancellation
        1 => a.wrapping_add(r.below(5)).wrapping_sub(2) ^ ((r.bool() as u32) << 31), // near ±a
        2 => {
            // exponent 23..26 below a: add/sub ties and sticky bits
            let e = ((a >> 23) & 0xFF).saturating_sub(22 + r.below(5));
            mk(r.bool(), e, if r.bool() { 0 } else { r.u32() })
        }
        3 => {
            // ties in mul: b = 1.5, 1.25, 1.75, 3 ... times a power of two
            let frac = [0x40_0000, 0x20_0000, 0x60_0000, 0x10_0000, 0x70_0000][r.below(5) as usize];
            mk(r.bool(), 100 + r.below(56), frac)
        }
        4 => {
            // product near the subnormal boundary: ea + eb ≈ 127 - (0..30)
            let ea = (a >> 23) & 0xFF;
            let eb = (127i32 - ea as i32 - r.below(30) as i32 + 3).clamp(0, 254) as u32;
            mk(r.bool(), eb, r.u32())
        }
        5 => f32::from_bits(a).to_bits().rotate_left(r.below(32)), // scrambled
        _ => edge(r),
    };
    (a, b)
}

/// Operands for fma, weighted to cases where fused and unfused results differ.
pub fn edge_triple(r: &mut Rng) -> (u32, u32, u32) {
    let (a, b) = edge_pair(r);
    let p = f32::from_bits(a) * f32::from_bits(b);
    let c = match r.below(8) {
        0 => (-p).to_bits(), // c = -round(a*b): fma gives the rounding error
        1 => (-p).to_bits().wrapping_add(r.below(3)).wrapping_sub(1),
        2 => {
            // c about half an ulp of a*b (ties decided by the low product bits)
            let e = ((p.to_bits() >> 23) & 0xFF).saturating_sub(24 + r.below(3));
            mk(r.bool(), e, if r.bool() { 0 } else { r.u32() })
        }
        3 => mk(r.bool(), r.below(3), r.u32()), // subnormal addend
        _ => edge(r),
    };
    (a, b, c)
}

/// binary32 ULP at the magnitude of `x` (subnormal ULP 2^-149 below 2^-126).
pub fn ulp_at(x: f64) -> f64 {
    let ax = x.abs();
    if ax < f64::powi(2.0, -126) {
        return f64::powi(2.0, -149);
    }
    let e = ax.log2().floor() as i32;
    f64::powi(2.0, e.min(127) - 23)
}

/// Error of binary32 result `y` against exact value `x`, in ULP of x.
/// Infinite exact values (or values that round to inf) must be matched exactly.
pub fn ulp_err(y: u32, x: f64) -> f64 {
    let yf = f32::from_bits(y);
    if x.is_nan() {
        return if y == 0x7FC0_0000 { 0.0 } else { f64::INFINITY };
    }
    if yf.is_nan() {
        return f64::INFINITY;
    }
    let r = x as f32; // RNE to binary32
    if r.to_bits() == y {
        return 0.0;
    }
    if yf.is_infinite() || r.is_infinite() {
        // one side overflowed: measure against 2^128 as the first value past MAX
        let yv = if yf.is_infinite() {
            yf.signum() as f64 * f64::powi(2.0, 128)
        } else {
            yf as f64
        };
        return (yv - x).abs() / ulp_at(x);
    }
    (yf as f64 - x).abs() / ulp_at(x)
}

/// Is the exact value in the subnormal range (nonzero, below 2^-126)?
pub fn subnormal_result(x: f64) -> bool {
    x != 0.0 && x.abs() < f64::powi(2.0, -126)
}

/// A block-quantized tensor of random blocks whose f16 scales are finite
/// (so the values are ordinary numbers); `shape` holds whole blocks.
pub fn quant(r: &mut Rng, dtype: DType, shape: &[usize]) -> Tensor {
    let (be, bb) = dtype.block();
    let n: usize = shape.iter().product();
    let mut bytes: Vec<u8> = (0..n / be as usize * bb as usize)
        .map(|_| r.u32() as u8)
        .collect();
    // Keep the f16 scales finite so values are ordinary numbers.
    let at: &[usize] = match dtype {
        DType::Q4K => &[0, 2],
        DType::Q6K => &[208],
        _ => &[0],
    };
    for blk in bytes.chunks_mut(bb as usize) {
        for &o in at {
            blk[o + 1] = 0x20 | (r.u32() as u8 & 0x8F);
        }
    }
    Tensor::from_bytes(dtype, shape, bytes).expect("the shape holds whole blocks")
}

/// Edge-biased operands for primitive `p` (ties, boundaries, related pairs).
pub fn operands(p: Prim, r: &mut Rng) -> [u32; 3] {
    match p {
        Prim::Fma => {
            let (a, b, c) = edge_triple(r);
            [a, b, c]
        }
        Prim::Select => [if r.bool() { 0 } else { r.u32() }, edge(r), edge(r)],
        Prim::I32ToF32 => {
            // integers around powers of two (ties at 2^24..2^31), small ints, anything
            let v = match r.below(4) {
                0 => (1u32 << (24 + r.below(8)))
                    .wrapping_add(r.below(512))
                    .wrapping_sub(256),
                1 => r.below(1 << 12).wrapping_sub(1 << 11),
                _ => r.u32(),
            };
            [if r.bool() { v } else { v.wrapping_neg() }, 0, 0]
        }
        Prim::F32ToI32 | Prim::Exp2i => {
            // x.5 ties, values near ±2^31, small values, anything
            let v = match r.below(5) {
                0 => ((r.below(1 << 20) as f32) + 0.5).to_bits(),
                1 => mk(r.bool(), 157 + r.below(3), r.u32()),
                2 => mk(r.bool(), 120 + r.below(14), r.u32()),
                _ => edge(r),
            };
            [v ^ ((r.bool() as u32) << 31), 0, 0]
        }
        Prim::F16ToF32 | Prim::Bf16ToF32 => {
            [r.u32() & if r.bool() { 0xFFFF } else { u32::MAX }, 0, 0]
        }
        _ if p.arity() == 1 => [edge(r), 0, 0],
        _ => {
            let (a, b) = edge_pair(r);
            if r.bool() { [a, b, 0] } else { [b, a, 0] }
        }
    }
}

/// The GPU backend on the preferred Vulkan adapter, or `None` (after a loud
/// message on stderr) when the machine has no Vulkan adapter at all; under
/// `CI=true` a missing adapter fails (CI installs lavapipe). Any other failure
/// to open it (self-test, shader compilation) fails the test.
pub fn gpu() -> Option<Gpu> {
    gpu_with(Policy::SelfTest)
}

/// [`gpu`] with an explicit choice policy.
pub fn gpu_with(policy: Policy) -> Option<Gpu> {
    if adapters().is_empty() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "no Vulkan adapter under CI: scripts/setup installs lavapipe (mesa-vulkan-drivers libvulkan1)"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED: no Vulkan adapter, the GPU backend is NOT tested here !!!!!!!!\n\
             !!!!!!!! install lavapipe: apt-get install mesa-vulkan-drivers libvulkan1  !!!!!!!!\n\
             !!!!!!!! (scripts/setup installs it; CI runs these tests)                   !!!!!!!!\n"
        );
        return None;
    }
    match Gpu::open_with(None, policy) {
        Ok(g) => Some(g),
        Err(e) => panic!("the GPU backend does not open: {e}"),
    }
}
