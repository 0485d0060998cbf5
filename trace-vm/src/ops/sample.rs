//! The counter-based generator behind the `sample` op.
//!
//! Row `r` of a `sample` op with attributes (seed, counter) draws the 24-bit
//! integer `R = be32(keccak256(u256(seed) ‖ u256(counter + r))[0..4]) >> 8`.
//! Keccak is what the EVM computes natively, so the verifier derives `R`
//! from the op descriptor and the element index alone. The float part of the
//! draw is ordinary canonical steps (SPEC.md, "sample"):
//! `u = mul(i32_to_f32(R), 2^-24)`, `target = mul(u, sum(w))`, then a
//! left-to-right scan picks the first `j` with `target < w_0 + … + w_j`
//! (or the last index when rounding leaves `target` above the final sum).

use crate::commit::{keccak256, merkle::u256};

/// 2^-24 as a binary32 bit pattern.
pub const TWO_POW_M24: u32 = 0x3380_0000;

/// Steps of the scan per weight.
pub const SCAN_STEPS: usize = 5;

/// The 24-bit draw `R` of row `row` (an i32 word in `0..2^24`).
pub fn draw(seed: u64, counter: u64, row: u64) -> u32 {
    let mut pre = [0u8; 64];
    pre[..32].copy_from_slice(&u256(seed));
    pre[32..].copy_from_slice(&u256(counter.wrapping_add(row)));
    let h = keccak256(&pre);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]]) >> 8
}
