//! Canonical reduction kernels: native fast paths (AVX2+FMA and portable) ==
//! reference (SoftFloat, one primitive at a time), and the micro-trace.

mod common;

use common::{Rng, edge, slow};
use trace_vm::arith::kernels::{dot_avx2, dot_portable, has_avx2_fma, sum_avx2, sum_portable};
use trace_vm::arith::{
    Arith, Fast, POS_ZERO, Prim, Reference, dot_trace, reduce, reduce_trace, sum_trace,
};

fn vector(r: &mut Rng, n: usize, mode: u32) -> Vec<u32> {
    (0..n)
        .map(|_| match mode {
            // mostly ordinary values of mixed sign and scale, where order matters
            0 => ((r.u32() as i32 as f32) * f32::from_bits(0x2F80_0000 + (r.below(40) << 23)))
                .to_bits(),
            1 => edge(r),
            _ => (r.u32() & 0x807F_FFFF) | 0x3F00_0000, // ±[0.5, 1): heavy cancellation
        })
        .collect()
}

#[test]
fn dot_and_sum_fast_equal_reference() {
    println!("avx2+fma available: {}", has_avx2_fma());
    let mut r = Rng(99);
    let rounds = if slow() { 200_000 } else { 6_000 };
    for i in 0..rounds {
        let n = r.below(301) as usize;
        let mode = (i % 3) as u32;
        let a = vector(&mut r, n, mode);
        let b = vector(&mut r, n, mode);
        let want = Reference.dot(&a, &b).unwrap();
        assert_eq!(dot_portable(&a, &b).unwrap(), want, "portable dot, n={n}");
        if let Some(got) = dot_avx2(&a, &b) {
            assert_eq!(got.unwrap(), want, "avx2 dot, n={n}");
        }
        assert_eq!(Fast.dot(&a, &b).unwrap(), want);
        let want = Reference.sum(&a);
        assert_eq!(sum_portable(&a), want, "portable sum, n={n}");
        if let Some(got) = sum_avx2(&a) {
            assert_eq!(got, want, "avx2 sum, n={n}");
        }
        assert_eq!(Fast.sum(&a), want);
    }
}

#[test]
fn order_is_the_stated_one() {
    // lane order: an fma chain per lane, then ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7))
    let mut r = Rng(5);
    for n in [0usize, 1, 7, 8, 9, 17, 64, 100] {
        let a = vector(&mut r, n, 2);
        let b = vector(&mut r, n, 2);
        let mut l = [0f32; 8];
        for i in 0..n {
            l[i % 8] = f32::from_bits(a[i]).mul_add(f32::from_bits(b[i]), l[i % 8]);
        }
        let want = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
        assert_eq!(Fast.dot(&a, &b).unwrap(), want.to_bits());
    }
    // empty sum / dot is +0; a sum of -0s is +0 (lanes start at +0)
    assert_eq!(Reference.dot(&[], &[]).unwrap(), POS_ZERO);
    assert_eq!(Fast.sum(&[0x8000_0000; 3]), POS_ZERO);
    assert!(Fast.dot(&[1], &[]).is_err());
}

#[test]
fn micro_trace_replays() {
    let mut r = Rng(11);
    for n in [0usize, 3, 8, 20, 257] {
        let a = vector(&mut r, n, 0);
        let b = vector(&mut r, n, 0);
        let steps = dot_trace(&Fast, &a, &b).unwrap();
        assert_eq!(steps.len(), n + 7);
        for (s, st) in steps.iter().enumerate() {
            assert!(st.check(&Reference), "step {s} does not replay");
            if s < n {
                assert_eq!(st.prim, Prim::Fma);
                assert_eq!(st.args[..2], [a[s], b[s]]);
                let prev = if s >= 8 {
                    steps[s - 8].result
                } else {
                    POS_ZERO
                };
                assert_eq!(st.args[2], prev, "lane operand of step {s}");
            } else {
                assert_eq!(st.prim, Prim::Add);
            }
        }
        assert_eq!(steps.last().unwrap().result, Reference.dot(&a, &b).unwrap());
        let st = sum_trace(&Reference, &a);
        assert_eq!(st.last().unwrap().result, Fast.sum(&a));
    }
}

#[test]
fn max_min_reductions() {
    let mut r = Rng(3);
    for n in [0usize, 1, 9, 50] {
        let a = vector(&mut r, n, 0);
        let mx = reduce(&Fast, Prim::Max, &a).unwrap();
        let want = a
            .iter()
            .map(|&x| f32::from_bits(x))
            .fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(f32::from_bits(mx), want);
        assert_eq!(reduce(&Reference, Prim::Max, &a).unwrap(), mx);
        assert_eq!(reduce_trace(&Fast, Prim::Min, &a).unwrap().len(), n + 7);
    }
    assert!(reduce(&Fast, Prim::Mul, &[]).is_err());
}
