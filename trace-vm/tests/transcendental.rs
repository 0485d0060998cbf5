//! Transcendental programs: accuracy against an f64 reference (sampled here,
//! all 2^32 inputs in slow mode), Fast == Reference bit equality, and the
//! recorded program (data form) agreeing with the compiled one.

mod common;

use common::{Rng, edge, slow, subnormal_result, ulp_err};
use trace_vm::arith::transcendental::{Func, map_fast, map_portable};
use trace_vm::arith::{Fast, Reference};

fn exact(f: Func, x: f32) -> f64 {
    let x = x as f64;
    match f {
        Func::Exp => libm::exp(x),
        Func::Tanh => libm::tanh(x),
        Func::Erf => libm::erf(x),
        Func::Rsqrt => 1.0 / x.sqrt(),
        Func::Sigmoid => 1.0 / (1.0 + libm::exp(-x)),
        // the limit at -inf is -0 (the f64 formula gives -inf/inf = NaN)
        Func::Silu if x == f64::NEG_INFINITY => -0.0,
        Func::Silu => x / (1.0 + libm::exp(-x)),
    }
}

#[derive(Default, Clone, Copy, Debug)]
struct Stats {
    max_ulp: f64,
    at_ulp: u32,
    max_sub: f64,
    at_sub: u32,
    n: u64,
}

impl Stats {
    fn add(&mut self, f: Func, x: u32) {
        self.add_result(f, x, f.eval(&Fast, x));
    }
    fn add_result(&mut self, f: Func, x: u32, y: u32) {
        let e = exact(f, f32::from_bits(x));
        let err = ulp_err(y, e);
        if subnormal_result(e) {
            if err > self.max_sub {
                self.max_sub = err;
                self.at_sub = x;
            }
        } else if err > self.max_ulp {
            self.max_ulp = err;
            self.at_ulp = x;
        }
        self.n += 1;
    }
    fn merge(&mut self, o: Stats) {
        if o.max_ulp > self.max_ulp {
            self.max_ulp = o.max_ulp;
            self.at_ulp = o.at_ulp;
        }
        if o.max_sub > self.max_sub {
            self.max_sub = o.max_sub;
            self.at_sub = o.at_sub;
        }
        self.n += o.n;
    }
    fn check(&self, f: Func) {
        println!(
            "{f}: {} inputs, max {:.3} ulp at 0x{:08x} (budget {}), subnormal results max {:.2} x 2^-149 at 0x{:08x} (budget {})",
            self.n,
            self.max_ulp,
            self.at_ulp,
            f.budget_ulp(),
            self.max_sub,
            self.at_sub,
            f.budget_subnormal()
        );
        assert!(
            self.max_ulp <= f.budget_ulp(),
            "{f} over budget at 0x{:08x}",
            self.at_ulp
        );
        assert!(
            self.max_sub <= f.budget_subnormal(),
            "{f} subnormal over budget at 0x{:08x}",
            self.at_sub
        );
    }
}

fn sampled(f: Func) -> Stats {
    let mut s = Stats::default();
    // A stride through all bit patterns (odd stride, so every exponent is hit) ...
    let stride: u32 = 0x0000_4001;
    let mut x: u32 = 0x1234;
    for _ in 0..(1u32 << 17) {
        s.add(f, x);
        x = x.wrapping_add(stride);
    }
    // ... plus the edge generator, plus a dense window around the branch points.
    let mut r = Rng(0xE1 + f as u64);
    for _ in 0..(1 << 15) {
        s.add(f, edge(&mut r));
    }
    for centre in [
        0x3ECC_CCCDu32,
        0x3F80_0000,
        0x4080_0000,
        0x42B1_7218,
        0xC2AE_AC50,
        0xC2CF_F1B5,
    ] {
        for d in 0..2048u32 {
            s.add(f, centre.wrapping_add(d).wrapping_sub(1024));
            s.add(f, (centre ^ 0x8000_0000).wrapping_add(d).wrapping_sub(1024));
        }
    }
    s
}

#[test]
fn transcendental_accuracy_sampled() {
    for f in Func::ALL {
        sampled(f).check(f);
    }
}

#[test]
fn transcendental_fast_equals_reference() {
    let n = if slow() { 1_000_000 } else { 3_000 };
    let mut r = Rng(42);
    for f in Func::ALL {
        let prog = f.program();
        for i in 0..n {
            let x = if i % 2 == 0 { edge(&mut r) } else { r.u32() };
            let a = f.eval(&Fast, x);
            let b = f.eval(&Reference, x);
            assert_eq!(a, b, "{f}(0x{x:08x}): fast {a:08x} reference {b:08x}");
            if i % 64 == 0 {
                let xs = [x, x ^ 0x8000_0000, x.rotate_left(3), r.u32()];
                let mut out = [0u32; 4];
                map_fast(f, &xs, &mut out).unwrap();
                let mut out2 = [0u32; 4];
                map_portable(f, &xs, &mut out2);
                for k in 0..4 {
                    assert_eq!(
                        out[k],
                        f.eval(&Reference, xs[k]),
                        "map_fast {f}(0x{:08x})",
                        xs[k]
                    );
                    assert_eq!(out2[k], out[k]);
                }
            }
            if i % 16 == 0 {
                let (steps, y) = prog.run(&Fast, &[x]);
                assert_eq!(y, a, "{f} program data form differs at 0x{x:08x}");
                let (tsteps, ty) = f.trace(&Reference, x);
                assert_eq!(ty, a);
                assert_eq!(
                    steps, tsteps,
                    "{f} trace differs from program run at 0x{x:08x}"
                );
                assert!(tsteps.iter().all(|s| s.check(&Fast)));
            }
        }
    }
}

#[test]
fn transcendental_special_values() {
    let inf = 0x7F80_0000u32;
    let ninf = 0xFF80_0000u32;
    let nan = 0x7FC0_0000u32;
    let cases: &[(Func, u32, u32)] = &[
        (Func::Exp, 0, 0x3F80_0000),
        (Func::Exp, 0x8000_0000, 0x3F80_0000),
        (Func::Exp, inf, inf),
        (Func::Exp, ninf, 0),
        (Func::Exp, 0xFFC1_2345, nan),
        (Func::Tanh, 0x8000_0000, 0x8000_0000),
        (Func::Tanh, inf, 0x3F80_0000),
        (Func::Tanh, ninf, 0xBF80_0000),
        (Func::Erf, 0x8000_0000, 0x8000_0000),
        (Func::Erf, inf, 0x3F80_0000),
        (Func::Erf, ninf, 0xBF80_0000),
        (Func::Rsqrt, 0, inf),
        (Func::Rsqrt, 0x8000_0000, ninf),
        (Func::Rsqrt, 0xBF80_0000, nan),
        (Func::Sigmoid, inf, 0x3F80_0000),
        (Func::Sigmoid, ninf, 0),
        (Func::Sigmoid, 0, 0x3F00_0000),
        (Func::Silu, ninf, 0x8000_0000),
        (Func::Silu, inf, inf),
        (Func::Silu, nan, nan),
    ];
    for &(f, x, want) in cases {
        assert_eq!(f.eval(&Fast, x), want, "{f}(0x{x:08x})");
        assert_eq!(f.eval(&Reference, x), want, "{f}(0x{x:08x}) reference");
    }
}

/// All 2^32 inputs against the f64 reference, on every core. Slow: run by `scripts/test-slow`.
#[test]
#[ignore = "slow (all 2^32 inputs per function): run scripts/test-slow"]
fn transcendental_accuracy_exhaustive() {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2) as u64;
    let only: Option<String> = std::env::var("REFUTE_FUNC").ok();
    for f in Func::ALL {
        if only.as_deref().is_some_and(|o| o != f.name()) {
            continue;
        }
        let t0 = std::time::Instant::now();
        let total = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..threads)
                .map(|t| {
                    sc.spawn(move || {
                        let mut s = Stats::default();
                        // the fast (AVX2-compiled where available) map over
                        // chunks; map_fast == eval == Reference is tested above
                        let lo = (1u64 << 32) * t / threads;
                        let hi = (1u64 << 32) * (t + 1) / threads;
                        let mut xs = vec![0u32; 1 << 16];
                        let mut ys = vec![0u32; 1 << 16];
                        let mut x = lo;
                        while x < hi {
                            let n = ((hi - x) as usize).min(xs.len());
                            for (k, v) in xs[..n].iter_mut().enumerate() {
                                *v = (x + k as u64) as u32;
                            }
                            map_fast(f, &xs[..n], &mut ys[..n]).unwrap();
                            for k in 0..n {
                                s.add_result(f, xs[k], ys[k]);
                            }
                            x += n as u64;
                        }
                        s
                    })
                })
                .collect();
            let mut total = Stats::default();
            for h in hs {
                total.merge(h.join().expect("worker panicked"));
            }
            total
        });
        println!("{f}: {:.1} s", t0.elapsed().as_secs_f64());
        total.check(f);
    }
}
