//! The 8-lane map path (`MapFn::eval_row`, used by the `Fast` CPU backend)
//! against the scalar `Fast` evaluation and the SoftFloat `Reference`, bit for
//! bit, for every map function, on inputs biased towards the edges: NaNs with
//! odd payloads, infinities, signed zeros, subnormals, and the range switches
//! and clamps of the transcendental programs (and their neighbours).

use proptest::prelude::*;
use trace_vm::arith::transcendental::{
    ERF_CLAMP, ERF_SMALL, EXP_HI, EXP_LO, EXP_SCALED_LO, Func, SILU_FLOOR, TANH_SMALL,
};
use trace_vm::arith::{Fast, Prim, Reference, Src};
use trace_vm::ops::MapFn;

const FLOAT_PRIMS: [Prim; 10] = [
    Prim::Add,
    Prim::Sub,
    Prim::Mul,
    Prim::Div,
    Prim::Sqrt,
    Prim::Fma,
    Prim::Max,
    Prim::Min,
    Prim::Neg,
    Prim::Abs,
];

/// Every map function shape, with a few constants for the constant forms.
fn all_fns() -> Vec<MapFn> {
    let mut v: Vec<MapFn> = FLOAT_PRIMS.iter().map(|&p| MapFn::Prim(p)).collect();
    for p in [
        Prim::Add,
        Prim::Sub,
        Prim::Mul,
        Prim::Div,
        Prim::Max,
        Prim::Min,
    ] {
        for c in [0x3F80_0000, 0x8000_0000, 0x7F80_0000, 0x0000_0001] {
            v.push(MapFn::PrimConst(p, c));
            v.push(MapFn::ConstPrim(p, c));
        }
    }
    v.extend(Func::ALL.iter().map(|&f| MapFn::Func(f)));
    v.extend([
        MapFn::RsqrtEps(0x3727_C5AC),
        MapFn::ExpSub,
        MapFn::GeluErf,
        MapFn::GeluTanh,
        MapFn::GeGlu,
        MapFn::NormAffine,
        MapFn::NormScale,
        MapFn::Rope,
    ]);
    v
}

/// Inputs where the programs switch, clamp or overflow, and their neighbours.
fn edges() -> Vec<u32> {
    let mut v = vec![
        0x0000_0000,
        0x8000_0000,
        0x7F80_0000,
        0xFF80_0000,
        0x7FC0_0000,
        0xFFC0_0001,
        0x7F80_0001,
        0xFFBF_FFFF,
        0x0000_0001,
        0x8000_0001,
        0x007F_FFFF,
        0x8080_0000,
        0x7F7F_FFFF,
        0xFF7F_FFFF,
        0x3F00_0000,
        0x42C8_0000,
    ];
    for t in [
        TANH_SMALL,
        ERF_SMALL,
        ERF_CLAMP,
        EXP_HI,
        EXP_LO,
        EXP_SCALED_LO,
        SILU_FLOOR,
    ] {
        for d in [-1i32, 0, 1] {
            let x = t.wrapping_add_signed(d);
            v.extend([x, x ^ 0x8000_0000]);
        }
    }
    v
}

/// Deterministic edge-biased bit patterns.
fn inputs(seed: u64, len: usize) -> Vec<u32> {
    let edges = edges();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let r = (s >> 32) as u32;
            match s % 8 {
                0 | 1 => edges[r as usize % edges.len()],
                2 => r,
                // |x| in [2^-8, 2^8): where the programs' polynomials live.
                _ => (r & 0x8000_0000) | ((119 + (r >> 23) % 16) << 23) | (r & 0x7F_FFFF),
            }
        })
        .collect()
}

/// Evaluate a row of `f` three ways and compare every element.
fn check_row(f: MapFn, xs: &[Vec<u32>], base: &[usize], step: &[usize], len: usize) {
    let views: Vec<&[u32]> = xs.iter().map(|x| x.as_slice()).collect();
    let mut out = vec![0xDEAD_BEEF; len];
    f.eval_row(&views, base, step, &mut out);
    for (i, &got) in out.iter().enumerate() {
        let args: Vec<u32> = (0..xs.len())
            .map(|k| xs[k][base[k] + i * step[k]])
            .collect();
        let fast = f.eval(&Fast, &args);
        let reference = f.eval(&Reference, &args);
        assert_eq!(
            fast,
            reference,
            "{}: scalar fast vs reference on {args:08x?}",
            f.name()
        );
        assert_eq!(
            got,
            fast,
            "{}: 8-lane row element {i} vs scalar on {args:08x?}",
            f.name()
        );
    }
}

#[test]
fn every_map_function_matches_scalar_and_reference_on_edges() {
    for (n, f) in all_fns().into_iter().enumerate() {
        let arity = f.arity();
        // Lengths around the 8-lane width exercise the short last chunk.
        for (round, len) in [1usize, 7, 8, 9, 61, 4096].into_iter().enumerate() {
            let seed = (n * 100 + round) as u64;
            // Input 0 contiguous; the others contiguous, broadcast or strided.
            let step: Vec<usize> = (0..arity).map(|k| [1, 0, 3][(k + round) % 3]).collect();
            let base: Vec<usize> = (0..arity).map(|k| k * 5).collect();
            let xs: Vec<Vec<u32>> = (0..arity)
                .map(|k| inputs(seed * 7 + k as u64, base[k] + len * step[k].max(1)))
                .collect();
            check_row(f, &xs, &base, &step, len);
        }
    }
}

/// The 8-lane row path canonicalizes NaNs once per output (`Avx2::deferring_nans`),
/// which is exact only while no computed word reaches a primitive that reads a
/// float's bits as an integer.
#[test]
fn no_map_program_converts_a_computed_word_from_integer_bits() {
    let word_readers = [Prim::I32ToF32, Prim::F16ToF32, Prim::Bf16ToF32];
    for f in all_fns() {
        let program = f.program();
        for (k, ins) in program.instrs.iter().enumerate() {
            let computed = ins.srcs[..ins.prim.arity()]
                .iter()
                .any(|s| matches!(s, Src::Step(_)));
            assert!(
                !(word_readers.contains(&ins.prim) && computed),
                "{}: step {k} applies {} to a computed word; the 8-lane row path must canonicalize after every step for it",
                f.name(),
                ins.prim
            );
        }
    }
}

#[test]
fn transcendental_maps_match_on_a_dense_sweep_of_the_switch_ranges() {
    // Every 97th pattern of [-8, 8]-ish magnitudes and of the exp clamps.
    let xs: Vec<u32> = (0x3000_0000u32..0x4300_0000)
        .step_by(97 * 64)
        .flat_map(|x| [x, x ^ 0x8000_0000])
        .collect();
    for f in Func::ALL {
        check_row(
            MapFn::Func(f),
            std::slice::from_ref(&xs),
            &[0],
            &[1],
            xs.len(),
        );
    }
    for f in [MapFn::GeluErf, MapFn::GeluTanh] {
        check_row(f, std::slice::from_ref(&xs), &[0], &[1], xs.len());
    }
}

fn edge_or_any() -> impl Strategy<Value = u32> {
    prop_oneof![
        proptest::sample::select(edges()),
        any::<u32>(),
        (any::<bool>(), 110u32..140, 0u32..0x80_0000)
            .prop_map(|(s, e, m)| (u32::from(s) << 31) | (e << 23) | m),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn eight_lane_rows_equal_scalar_and_reference(
        fi in 0usize..64,
        cols in proptest::collection::vec(proptest::collection::vec(edge_or_any(), 4), 1..24),
    ) {
        let fns = all_fns();
        let f = fns[fi % fns.len()];
        let arity = f.arity();
        let xs: Vec<Vec<u32>> = (0..arity).map(|k| cols.iter().map(|c| c[k]).collect()).collect();
        check_row(f, &xs, &vec![0; arity], &vec![1; arity], cols.len());
    }
}
