//! The GPU backend's primitives equal the reference bit for bit: for every
//! primitive, 10^6 edge-biased operand sets (10^8 with `REFUTE_SLOW=1`) from
//! the generators the CPU equivalence suite uses, evaluated in large
//! dispatches through whatever the start-up self-test chose (native or
//! emulated), plus every pair of special values; then the same with every
//! float primitive forced to its integer emulation, so the emulations are
//! tested whatever the adapter's native instructions do. Without a Vulkan
//! adapter the tests say so loudly and return; CI installs lavapipe, so they
//! run there.

// Helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Rng, SPECIALS, bulk_cases, gpu, gpu_with, operands};
use trace_vm::arith::{Arith, Prim, Reference};
use trace_vm::backend::Gpu;
use trace_vm::backend::gpu::{Impl, Policy};
use trace_vm::batch::run_batch;

/// Operations per dispatch.
const CHUNK: u64 = 1 << 20;

fn compare(g: &Gpu, ops: &[(Prim, [u32; 3])]) -> Vec<String> {
    let got = g.eval_many(ops).unwrap();
    assert_eq!(got.len(), ops.len(), "one result per operation");
    ops.iter()
        .zip(got)
        .filter_map(|(&(p, args), y)| {
            let want = Reference.eval(p, args);
            (y != want).then(|| {
                format!(
                    "{p}({:08x?}) gpu {y:08x} reference {want:08x}",
                    &args[..p.arity()]
                )
            })
        })
        .collect()
}

/// Every primitive on `n` edge-biased operand sets.
fn bulk(g: &Gpu, n: u64) {
    let mut failures = Vec::new();
    for &p in Prim::ALL {
        let mut r = Rng(0x6B0_0000 + p.opcode() as u64);
        let mut done = 0;
        while done < n {
            let m = CHUNK.min(n - done);
            let ops: Vec<(Prim, [u32; 3])> = (0..m).map(|_| (p, operands(p, &mut r))).collect();
            let bad = compare(g, &ops);
            if !bad.is_empty() {
                failures.push(format!(
                    "{p}: {} of {m} differ, first: {}",
                    bad.len(),
                    bad[0]
                ));
                break;
            }
            done += m;
        }
    }
    assert!(
        failures.is_empty(),
        "GPU primitives on {} differ from the reference:\n{}",
        g.adapter().name,
        failures.join("\n")
    );
}

#[test]
fn every_primitive_bit_identical_on_a_million_vectors() {
    let Some(g) = gpu() else { return };
    let t = std::time::Instant::now();
    bulk(&g, bulk_cases());
    eprintln!(
        "{} x {} primitives on {} (self-test choices): {:.1} s",
        bulk_cases(),
        Prim::ALL.len(),
        g.adapter().name,
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn every_emulation_bit_identical_on_a_million_vectors() {
    let Some(g) = gpu_with(Policy::EmulateAll) else {
        return;
    };
    assert!(
        g.choices().iter().all(|c| c.imp != Impl::Native),
        "the policy forces emulation"
    );
    let t = std::time::Instant::now();
    bulk(&g, bulk_cases());
    eprintln!(
        "{} x {} primitives on {} (all emulated): {:.1} s",
        bulk_cases(),
        Prim::ALL.len(),
        g.adapter().name,
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn special_values_every_pair_and_triple() {
    let Some(g) = gpu() else { return };
    let mut ops = Vec::new();
    for &p in Prim::ALL {
        for &a in SPECIALS {
            for &b in SPECIALS {
                if p.arity() == 3 {
                    ops.extend(SPECIALS.iter().map(|&c| (p, [a, b, c])));
                } else {
                    ops.push((p, [a, b, 0]));
                }
            }
        }
    }
    let bad = compare(&g, &ops);
    assert!(
        bad.is_empty(),
        "{} differ, first: {}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn batch_interface_through_the_gpu() {
    let Some(g) = gpu() else { return };
    let mut r = Rng(7);
    let text: String = Prim::ALL
        .iter()
        .flat_map(|&p| (0..50).map(move |_| p))
        .map(|p| {
            let a = operands(p, &mut r);
            let ops: Vec<String> = a[..p.arity()].iter().map(|x| format!("{x:08x}")).collect();
            format!("{p} {}\n", ops.join(" "))
        })
        .collect();
    let (mut on_gpu, mut on_cpu) = (Vec::new(), Vec::new());
    let n = run_batch(text.as_bytes(), &mut on_gpu, &g).unwrap();
    run_batch(text.as_bytes(), &mut on_cpu, &Reference).unwrap();
    assert_eq!(n, 50 * Prim::ALL.len() as u64);
    assert_eq!(
        String::from_utf8(on_gpu).unwrap(),
        String::from_utf8(on_cpu).unwrap()
    );
    // A bad line still answers the lines before it.
    let mut out = Vec::new();
    let e = run_batch("add 3f800000 3f800000\nadd 1\n".as_bytes(), &mut out, &g).unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    assert_eq!(String::from_utf8(out).unwrap(), "40000000\n");
}

#[test]
fn self_test_decides_every_primitive() {
    let Some(g) = gpu() else { return };
    let choices = g.choices();
    for c in choices {
        eprintln!("{:<12} {:<9} {}", c.prim.name(), c.imp.name(), c.reason);
    }
    assert_eq!(choices.len(), Prim::ALL.len(), "one decision per primitive");
    for (c, &p) in choices.iter().zip(Prim::ALL) {
        assert_eq!(c.prim, p, "decisions in opcode order");
        assert!(!c.reason.is_empty(), "{p}: the decision says why");
    }
    // Bit manipulation never depends on the adapter's float unit.
    for p in [Prim::Max, Prim::Neg, Prim::Select, Prim::Exp2i] {
        assert_eq!(
            choices[p.opcode() as usize - 1].imp.name(),
            "integer",
            "{p}"
        );
    }
}
