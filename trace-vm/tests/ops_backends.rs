//! Every op on every backend: the kernel output equals, bit for bit, the
//! result of each output element's micro-trace (computed element by element
//! with the reference primitives), the fast and reference backends agree,
//! and the micro-trace of dot products and reductions is the canonical lane
//! order of the arithmetic kernels. The GPU backend joins the list where the
//! machine has a Vulkan adapter (lavapipe in CI); elsewhere a loud message says
//! it was not tested.

// Helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::OnceLock;

use common::{Rng, edge, quant};
use trace_vm::arith::transcendental::Func;
use trace_vm::arith::{Fast, Prim, Reference, dot_trace, reduce_trace};
use trace_vm::backend::{Backend, Cpu};
use trace_vm::commit::DType;
use trace_vm::ops::micro::Site;
use trace_vm::ops::{MapFn, Op, Operand, element_trace};
use trace_vm::tensor::Tensor;

/// The CPU backends and, where a Vulkan adapter exists, the GPU backend
/// (opened once per test process: its start-up self-test is not free).
fn backends() -> Vec<&'static dyn Backend> {
    static ALL: OnceLock<Vec<Box<dyn Backend>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<Box<dyn Backend>> =
            vec![Box::new(Cpu::new(Fast)), Box::new(Cpu::new(Reference))];
        all.extend(common::gpu().map(|g| Box::new(g) as Box<dyn Backend>));
        let names: Vec<String> = all.iter().map(|b| b.name()).collect();
        eprintln!("backends under test: {}", names.join(", "));
        all
    })
    .iter()
    .map(|b| b.as_ref())
    .collect()
}

/// Mostly ordinary values (so results are not all NaN), some edge cases.
fn values(r: &mut Rng, n: usize, edges: bool) -> Vec<u32> {
    (0..n)
        .map(|_| {
            if edges && r.below(8) == 0 {
                edge(r)
            } else {
                ((r.u32() as i32 as f32) * 2f32.powi(-31) * 4.0).to_bits()
            }
        })
        .collect()
}

fn f32t(r: &mut Rng, shape: &[usize], edges: bool) -> Tensor {
    Tensor::f32_bits(shape, values(r, shape.iter().product(), edges)).unwrap()
}

/// Run `op` on every backend and check each output element against its micro-trace.
fn check(op: Op, inputs: &[Tensor]) {
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let mut first: Option<Tensor> = None;
    for b in backends() {
        let out = b
            .run(&op, &refs)
            .unwrap_or_else(|e| panic!("{} on {}: {e}", op.label(), b.name()));
        let words = out.words("out").unwrap();
        let n = words.len();
        // All elements of small outputs, a spread of elements of large ones.
        let stride = (n / 200).max(1);
        for e in (0..n).step_by(stride).chain(n.checked_sub(1)) {
            let t = element_trace(&Reference, &op, &refs, e as u64).unwrap();
            assert_eq!(
                t.output,
                words[e],
                "{} on {}: element {e} differs from its micro-trace",
                op.label(),
                b.name()
            );
            let tf = element_trace(&Fast, &op, &refs, e as u64).unwrap();
            assert_eq!(
                t,
                tf,
                "{}: fast and reference micro-traces differ at element {e}",
                op.label()
            );
        }
        match &first {
            None => first = Some(out),
            Some(f) => assert_eq!(f, &out, "{}: backends disagree", op.label()),
        }
    }
}

#[test]
fn matmul_every_layout() {
    let mut r = Rng(1);
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        for k in [1usize, 3, 8, 19] {
            let (m, n) = (3, 5);
            let a = if ta { [4, k, m] } else { [4, m, k] };
            let b = if tb { [2, n, k] } else { [2, k, n] };
            check(
                Op::MatMul { ta, tb },
                &[f32t(&mut r, &a, true), f32t(&mut r, &b, true)],
            );
            let b2 = if tb { [n, k] } else { [k, n] };
            check(
                Op::MatMul { ta, tb },
                &[f32t(&mut r, &a, false), f32t(&mut r, &b2, false)],
            );
        }
    }
    // Column blocks plus a remainder, and the single-row (decode) column split.
    check(
        Op::MatMul {
            ta: false,
            tb: false,
        },
        &[f32t(&mut r, &[3, 21], true), f32t(&mut r, &[21, 19], true)],
    );
    check(
        Op::MatMul {
            ta: false,
            tb: true,
        },
        &[
            f32t(&mut r, &[1, 517], false),
            f32t(&mut r, &[523, 517], false),
        ],
    );
    // Large enough to take the multi-threaded path.
    check(
        Op::MatMul {
            ta: false,
            tb: true,
        },
        &[
            f32t(&mut r, &[70, 96], false),
            f32t(&mut r, &[64, 96], false),
        ],
    );
}

#[test]
fn matmul_micro_trace_is_the_canonical_dot() {
    let mut r = Rng(2);
    let a = f32t(&mut r, &[2, 3, 21], true);
    let b = f32t(&mut r, &[21, 4], true);
    let op = Op::MatMul {
        ta: false,
        tb: false,
    };
    for e in 0..24u64 {
        let (bi, m, n) = (e as usize / 12, (e as usize / 4) % 3, e as usize % 4);
        let aw = a.words("a").unwrap();
        let bw = b.words("b").unwrap();
        let row: Vec<u32> = (0..21).map(|k| aw[bi * 63 + m * 21 + k]).collect();
        let col: Vec<u32> = (0..21).map(|k| bw[k * 4 + n]).collect();
        let want = dot_trace(&Reference, &row, &col).unwrap();
        let got = element_trace(&Reference, &op, &[&a, &b], e).unwrap();
        let got: Vec<_> = got
            .steps
            .iter()
            .map(|s| (s.spec.prim, s.args, s.result))
            .collect();
        let want: Vec<_> = want.iter().map(|s| (s.prim, s.args, s.result)).collect();
        assert_eq!(got, want, "element {e}");
    }
}

#[test]
fn map_every_function_with_broadcasting() {
    let mut r = Rng(3);
    // Large enough to be split across threads, with a broadcast operand.
    check(
        Op::Map(MapFn::NormScale),
        &[
            f32t(&mut r, &[3, 130, 47], true),
            f32t(&mut r, &[130, 1], true),
            f32t(&mut r, &[47], true),
        ],
    );
    let mut fns = vec![
        MapFn::RsqrtEps(1e-5f32.to_bits()),
        MapFn::ExpSub,
        MapFn::GeluErf,
        MapFn::GeluTanh,
        MapFn::GeGlu,
        MapFn::NormAffine,
        MapFn::NormScale,
        MapFn::Rope,
        MapFn::PrimConst(Prim::Div, 3.0f32.to_bits()),
        MapFn::ConstPrim(Prim::Sub, 1.0f32.to_bits()),
    ];
    fns.extend(Func::ALL.iter().map(|&f| MapFn::Func(f)));
    fns.extend(
        [
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
        ]
        .map(MapFn::Prim),
    );
    let shapes: [&[usize]; 4] = [&[2, 3, 8], &[3, 1], &[8], &[2, 1, 1]];
    for f in fns {
        let ins: Vec<Tensor> = (0..f.arity())
            .map(|k| f32t(&mut r, shapes[k], true))
            .collect();
        check(Op::Map(f), &ins);
    }
}

#[test]
fn map_micro_trace_is_the_transcendental_program() {
    let mut r = Rng(4);
    let x = f32t(&mut r, &[40], true);
    for f in Func::ALL {
        for e in 0..40u64 {
            let (want, y) = f.trace(&Reference, x.words("x").unwrap()[e as usize]);
            let got = element_trace(&Reference, &Op::Map(MapFn::Func(f)), &[&x], e).unwrap();
            assert_eq!(got.output, y);
            let got: Vec<_> = got
                .steps
                .iter()
                .map(|s| (s.spec.prim, s.args, s.result))
                .collect();
            let want: Vec<_> = want.iter().map(|s| (s.prim, s.args, s.result)).collect();
            assert_eq!(got, want, "{f} element {e}");
        }
    }
}

#[test]
fn reductions_along_every_axis() {
    let mut r = Rng(5);
    for prim in [Prim::Add, Prim::Max, Prim::Min] {
        for axis in 0..3 {
            check(
                Op::Reduce { prim, axis },
                &[f32t(&mut r, &[3, 4, 10], true)],
            );
        }
    }
    // Reduction steps are the canonical lane order of the arithmetic kernels.
    let x = f32t(&mut r, &[2, 13], true);
    let xw = x.words("x").unwrap();
    for prim in [Prim::Add, Prim::Max] {
        let got = element_trace(&Reference, &Op::Reduce { prim, axis: 1 }, &[&x], 1).unwrap();
        let want = reduce_trace(&Reference, prim, &xw[13..26]).unwrap();
        let got: Vec<_> = got
            .steps
            .iter()
            .map(|s| (s.spec.prim, s.args, s.result))
            .collect();
        let want: Vec<_> = want.iter().map(|s| (s.prim, s.args, s.result)).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn argmax_and_sample() {
    let mut r = Rng(6);
    check(Op::Argmax, &[f32t(&mut r, &[5, 17], true)]);
    // First maximum wins; NaN is never chosen; all -inf gives 0.
    let t = Tensor::f32(
        &[3, 4],
        &[
            1.0,
            3.0,
            3.0,
            2.0,
            f32::NAN,
            -1.0,
            5.0,
            f32::NAN,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
        ],
    )
    .unwrap();
    for b in backends() {
        let out = b.run(&Op::Argmax, &[&t]).unwrap();
        assert_eq!(out.words("o").unwrap(), &[1, 2, 0]);
    }
    // Signed zeros are one value; a NaN before -infs leaves 0; rows longer
    // than a 64-element chunk, the maximum in a later chunk and repeated.
    let (nan, ninf) = (f32::NAN, f32::NEG_INFINITY);
    let mut rows = [
        [-0.0, 0.0, -1.0, -0.0].to_vec(),
        [nan, 0.0, -0.0, 0.0].to_vec(),
        [nan, ninf, ninf, ninf].to_vec(),
    ];
    rows.iter_mut().for_each(|r| r.resize(300, -2.0));
    rows[0][150] = 7.0;
    rows[0][299] = 7.0;
    let flat: Vec<f32> = rows.concat();
    let t = Tensor::f32(&[3, 300], &flat).unwrap();
    check(Op::Argmax, std::slice::from_ref(&t));
    for b in backends() {
        let out = b.run(&Op::Argmax, &[&t]).unwrap();
        assert_eq!(out.words("o").unwrap(), &[150, 1, 4], "on {}", b.name());
    }
    let short = Tensor::f32(
        &[3, 4],
        &rows
            .iter()
            .flat_map(|r| r[..4].to_vec())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for b in backends() {
        let out = b.run(&Op::Argmax, &[&short]).unwrap();
        assert_eq!(out.words("o").unwrap(), &[0, 1, 0], "on {}", b.name());
    }
    let w: Vec<f32> = (0..3 * 9).map(|i| ((i * 7) % 5) as f32 * 0.25).collect();
    let w = Tensor::f32(&[3, 9], &w).unwrap();
    check(
        Op::Sample {
            seed: 42,
            counter: 7,
        },
        std::slice::from_ref(&w),
    );
    // Draws follow the weights: over many counters, zero-weight entries are never drawn
    // and the empirical frequencies approach the normalized weights.
    let probs = [0.1f32, 0.0, 0.6, 0.3];
    let row = Tensor::f32(&[1, 4], &probs).unwrap();
    let mut counts = [0usize; 4];
    let n = 4000;
    for c in 0..n {
        let o = Cpu::new(Fast)
            .run(
                &Op::Sample {
                    seed: 9,
                    counter: c,
                },
                &[&row],
            )
            .unwrap();
        counts[o.words("o").unwrap()[0] as usize] += 1;
    }
    assert_eq!(counts[1], 0);
    for (k, &p) in probs.iter().enumerate() {
        let f = counts[k] as f64 / n as f64;
        assert!(
            (f - p as f64).abs() < 0.04,
            "entry {k}: frequency {f} vs weight {p}"
        );
    }
}

#[test]
fn dequant_and_quantized_gather() {
    let mut r = Rng(7);
    for dtype in [
        DType::Q4_0,
        DType::Q5_0,
        DType::Q8_0,
        DType::Q4K,
        DType::Q6K,
    ] {
        let be = dtype.block().0 as usize;
        let q = quant(&mut r, dtype, &[3, 2 * be]);
        check(Op::Dequant, std::slice::from_ref(&q));
        let ids = Tensor::i32(&[2, 2], &[2, 0, 1, 2]).unwrap();
        check(Op::Gather, &[q.clone(), ids.clone()]);
        // Gathered rows equal the dequantized table's rows.
        let cpu = Cpu::new(Fast);
        let full = cpu.run(&Op::Dequant, &[&q]).unwrap();
        let g = cpu.run(&Op::Gather, &[&q, &ids]).unwrap();
        let fw = full.words("f").unwrap();
        let row = 2 * be;
        for (p, &i) in [2usize, 0, 1, 2].iter().enumerate() {
            assert_eq!(
                &g.words("g").unwrap()[p * row..(p + 1) * row],
                &fw[i * row..(i + 1) * row]
            );
        }
        // Dequant steps read decoded fields only.
        let t = element_trace(&Reference, &Op::Dequant, &[&q], 5).unwrap();
        assert!(
            t.steps
                .iter()
                .flat_map(|s| s.spec.srcs)
                .all(|o| !matches!(o, Operand::Elem { .. }))
        );
    }
}

#[test]
fn matmul_reads_quantized_weights_in_place() {
    let mut r = Rng(17);
    let nt = Op::MatMul {
        ta: false,
        tb: true,
    };
    for dtype in [
        DType::Q4_0,
        DType::Q5_0,
        DType::Q8_0,
        DType::Q4K,
        DType::Q6K,
    ] {
        let k = 2 * dtype.block().0 as usize;
        let w = quant(&mut r, dtype, &[5, k]);
        let x = f32t(&mut r, &[2, 3, k], true);
        check(nt.clone(), &[x.clone(), w.clone()]);
        // The same numbers as a matmul of the dequantized weights.
        let cpu = Cpu::new(Fast);
        let wf = cpu.run(&Op::Dequant, &[&w]).unwrap();
        assert_eq!(
            cpu.run(&nt, &[&x, &w]).unwrap(),
            cpu.run(&nt, &[&x, &wf]).unwrap(),
            "{dtype:?}"
        );
        // K fmas and the lane tree, B read as dequantized elements.
        let t = element_trace(&Reference, &nt, &[&x, &w], 7).unwrap();
        assert_eq!(t.steps.len(), k + 7);
        assert!(
            t.steps[..k]
                .iter()
                .enumerate()
                .all(|(s, st)| st.spec.srcs[1]
                    == Operand::Dequant {
                        input: 1,
                        index: (7 % 5 * k + s) as u64
                    })
        );
        // Large enough for several panels and threads (and a partial panel).
        let w = quant(&mut r, dtype, &[600, k]);
        check(nt.clone(), &[f32t(&mut r, &[4, k], false), w]);
    }
    // A quantized B must be [N, K] rows of whole blocks.
    let w = quant(&mut r, DType::Q8_0, &[64, 32]);
    let cpu = Cpu::new(Fast);
    let e = cpu
        .run(
            &Op::MatMul {
                ta: false,
                tb: false,
            },
            &[&f32t(&mut r, &[2, 64], false), &w],
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("tb") && e.contains("Q8_0"), "{e}");
    let w = quant(&mut r, DType::Q8_0, &[2, 48]);
    let e = cpu
        .run(&nt, &[&f32t(&mut r, &[1, 48], false), &w])
        .unwrap_err();
    assert!(e.to_string().contains("multiple of 32"), "{e}");
}

#[test]
fn moves_and_masks() {
    let mut r = Rng(8);
    check(
        Op::Gather,
        &[
            f32t(&mut r, &[6, 2, 3], true),
            Tensor::i32(&[4], &[5, 0, 5, 3]).unwrap(),
        ],
    );
    check(
        Op::Reshape { shape: vec![4, 6] },
        &[f32t(&mut r, &[2, 3, 4], true)],
    );
    check(
        Op::Permute {
            perm: vec![2, 0, 1],
        },
        &[f32t(&mut r, &[2, 3, 4], true)],
    );
    check(
        Op::Permute {
            perm: vec![1, 0, 2],
        },
        &[f32t(&mut r, &[2, 3, 4], true)],
    );
    for axis in 0..3 {
        let mut s = [2, 3, 4];
        s[axis] = 5;
        check(
            Op::Concat { axis },
            &[f32t(&mut r, &[2, 3, 4], true), f32t(&mut r, &s, true)],
        );
        check(
            Op::Slice {
                axis,
                start: 1,
                len: 1,
            },
            &[f32t(&mut r, &[2, 3, 4], true)],
        );
    }
    check(
        Op::Mask {
            rows: 3,
            cols: 7,
            offset: 4,
            window: 0,
        },
        &[],
    );
    check(
        Op::Mask {
            rows: 3,
            cols: 7,
            offset: 4,
            window: 3,
        },
        &[],
    );
    // The mask's visible pattern, written out by hand: query i at position 4 + i.
    let m = Cpu::new(Fast)
        .run(
            &Op::Mask {
                rows: 2,
                cols: 6,
                offset: 4,
                window: 3,
            },
            &[],
        )
        .unwrap();
    let vis: Vec<bool> = m.words("m").unwrap().iter().map(|&w| w == 0).collect();
    let want = [
        false, false, true, true, true, false, false, false, false, true, true, true,
    ];
    assert_eq!(vis, want);
}

#[test]
fn permute_and_concat_move_the_right_elements() {
    // Values that name their own coordinates, checked against hand-derived positions.
    let x: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let x = Tensor::f32(&[2, 3, 4], &x).unwrap();
    let cpu = Cpu::new(Fast);
    let p = cpu
        .run(
            &Op::Permute {
                perm: vec![2, 0, 1],
            },
            &[&x],
        )
        .unwrap();
    assert_eq!(p.shape(), &[4, 2, 3]);
    // out[k, i, j] = x[i, j, k] = 12i + 4j + k
    let pw = p.words("p").unwrap();
    for k in 0..4 {
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(
                    f32::from_bits(pw[k * 6 + i * 3 + j]),
                    (12 * i + 4 * j + k) as f32
                );
            }
        }
    }
    // The innermost axis stays innermost (a head split): copied as whole runs.
    let h = cpu
        .run(
            &Op::Permute {
                perm: vec![1, 0, 2],
            },
            &[&x],
        )
        .unwrap();
    assert_eq!(h.shape(), &[3, 2, 4]);
    // out[j, i, k] = x[i, j, k] = 12i + 4j + k
    let hw = h.words("h").unwrap();
    for j in 0..3 {
        for i in 0..2 {
            for k in 0..4 {
                assert_eq!(
                    f32::from_bits(hw[j * 8 + i * 4 + k]),
                    (12 * i + 4 * j + k) as f32
                );
            }
        }
    }
    let s = cpu
        .run(
            &Op::Slice {
                axis: 2,
                start: 1,
                len: 2,
            },
            &[&x],
        )
        .unwrap();
    let sv: Vec<f32> = s
        .words("s")
        .unwrap()
        .iter()
        .map(|&w| f32::from_bits(w))
        .collect();
    assert_eq!(&sv[..4], &[1.0, 2.0, 5.0, 6.0]);
}

#[test]
fn bad_inputs_are_errors_naming_the_op() {
    let mut r = Rng(9);
    let a = f32t(&mut r, &[2, 3], false);
    let b = f32t(&mut r, &[4, 5], false);
    for be in backends() {
        let e = be
            .run(
                &Op::MatMul {
                    ta: false,
                    tb: false,
                },
                &[&a, &b],
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("matmul") && e.contains("K=3") && e.contains("K=4"),
            "{e}"
        );
        let e = be
            .run(&Op::Map(MapFn::Prim(Prim::Add)), &[&a, &b])
            .unwrap_err()
            .to_string();
        assert!(e.contains("do not broadcast"), "{e}");
        let e = be
            .run(&Op::Map(MapFn::Prim(Prim::Lt)), &[&a, &a])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a float arithmetic primitive"), "{e}");
        let ids = Tensor::i32(&[1], &[7]).unwrap();
        let e = be.run(&Op::Gather, &[&a, &ids]).unwrap_err().to_string();
        assert!(e.contains("index 7") && e.contains("2 rows"), "{e}");
        let e = be
            .run(
                &Op::Reduce {
                    prim: Prim::Mul,
                    axis: 0,
                },
                &[&a],
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a reduction"), "{e}");
        let e = be
            .run(
                &Op::Reduce {
                    prim: Prim::Add,
                    axis: 2,
                },
                &[&a],
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("axis 2"), "{e}");
        let e = be.run(&Op::Dequant, &[&a]).unwrap_err().to_string();
        assert!(e.contains("dequant") && e.contains("F32"), "{e}");
        let e = be
            .run(
                &Op::Slice {
                    axis: 1,
                    start: 2,
                    len: 2,
                },
                &[&a],
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside"), "{e}");
        let e = be
            .run(&Op::Permute { perm: vec![0, 0] }, &[&a])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a permutation"), "{e}");
        assert!(be.run(&Op::Argmax, &[]).is_err());
    }
    // Step and element indices out of range are errors, not panics.
    let site = Site::new(&Op::Argmax, &[(DType::F32, &[2, 3])]).unwrap();
    assert_eq!(site.step_count(), 9);
    let mut read = |_: usize, _: u64| Ok(0u32);
    assert!(site.step(2, 0, &mut read).is_err());
    assert!(site.step(0, 9, &mut read).is_err());
}
