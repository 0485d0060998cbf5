//! Differential test of the deployed one-step verifier: over many random
//! steps of a small program's game — honest ones, and ones with a flipped
//! bit in the post state, the pre state or its witness, or the game's roots,
//! or the wrong step index — `OpStepVerifier.verify` on Anvil gives exactly
//! the verdict of the Rust reference `OneStep::check`.

use std::collections::HashMap;

use alloy::primitives::{B256, Bytes};
use alloy::sol_types::SolValue;
use bisection::contracts::{DeployConfig, OpStepVerifier};
use bisection::game::tree::Tree;
use bisection::game::view::Trace;
use bisection::machine::{MachineTrace, State, Witness};
use refute_e2e::Devnet;
use trace_vm::arith::Prim;
use trace_vm::commit::{DType, Hash};
use trace_vm::ops::Op;
use trace_vm::program::{Builder, Program};
use trace_vm::tensor::Tensor;

/// xorshift64: seeded, so a failing case replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

const VOCAB: usize = 5;
const DIM: usize = 16;
const TOKENS: usize = 3;

/// Three layers with the op kinds the verifier decodes from F32 weights:
/// an embedding gather, RMSNorm (reduce, maps), a linear layer with GELU
/// (the longest element program) and a residual, a masked softmax over a
/// permuted slice, and argmax.
fn program() -> Result<Program, trace_vm::Error> {
    let mut b = Builder::new();
    let ids = b.input("ids", DType::I32, &[TOKENS])?;
    let emb = b.weight("emb", DType::F32, &[VOCAB, DIM])?;
    let g = b.weight("g", DType::F32, &[DIM])?;
    let w = b.weight("w", DType::F32, &[DIM, DIM])?;
    let bias = b.weight("b", DType::F32, &[DIM])?;
    let x = b.layer("embed", |b| {
        let x = b.embedding(emb, ids)?;
        b.rms_norm(x, g, 1e-6)
    })?;
    let h = b.layer("mlp", |b| {
        let y = b.linear(x, w, Some(bias))?;
        let y = b.gelu_erf(y)?;
        b.binary(Prim::Add, x, y)
    })?;
    let out = b.layer("head", |b| {
        let s = b.op(
            Op::Slice {
                axis: 1,
                start: 0,
                len: TOKENS,
            },
            &[h],
        )?;
        let s = b.op(Op::Permute { perm: vec![1, 0] }, &[s])?;
        let mask = b.causal_mask(TOKENS, TOKENS, 0, 0)?;
        let p = b.softmax(s, Some(mask))?;
        b.op(Op::Argmax, &[p])
    })?;
    b.output(out)?;
    b.finish()
}

fn trace() -> MachineTrace {
    let mut r = Rng(0x5eed);
    let mut f = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| (r.below(2001) as f32 - 1000.0) / 4000.0)
            .collect();
        Tensor::f32(shape, &v).expect("weights")
    };
    let weights = vec![f(&[VOCAB, DIM]), f(&[DIM]), f(&[DIM, DIM]), f(&[DIM])];
    let ids = Tensor::i32(&[TOKENS], &[3, 0, 4]).expect("ids");
    MachineTrace::run(program().expect("program"), weights, vec![ids], None).expect("run")
}

/// One step's inputs to the verifier.
#[derive(Clone)]
struct Case {
    path: Vec<u64>,
    roots: Vec<Hash>,
    pre: State,
    post: State,
}

/// Flips a random bit of the case, so that the witness stays a canonical
/// ABI encoding (Solidity's `abi.decode` rejects a dirty high byte of a
/// small integer that the Rust decoder reads leniently; both must judge the
/// same bytes, and such bytes are no step either side would build).
fn tamper(r: &mut Rng, c: &Case, state_len: usize) -> (&'static str, Case) {
    let mut t = c.clone();
    match r.below(4) {
        0 => {
            let at = r.below(t.post.0.len() as u64) as usize;
            t.post.0[at] ^= 1 << r.below(8);
            ("post", t)
        }
        1 => loop {
            let mut pre = c.pre.0.clone();
            let at = r.below(pre.len() as u64) as usize;
            pre[at] ^= 1 << r.below(8);
            let w = &pre[state_len..];
            let canonical = Witness::abi_decode(w).map_or(true, |d| d.abi_encode() == w);
            if at < state_len || canonical {
                t.pre = State(pre);
                return ("pre", t);
            }
        },
        2 => {
            let k = r.below(t.roots.len() as u64) as usize;
            t.roots[k][r.below(32) as usize] ^= 1 << r.below(8);
            ("roots", t)
        }
        _ => {
            // The same states claimed at a neighbouring step index.
            let last = t.path.len() - 1;
            t.path[last] = if t.path[last] > 1 && r.below(2) == 0 {
                t.path[last] - 1
            } else {
                t.path[last] + 1
            };
            ("index", t)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_verifier_agrees_with_the_reference_on_random_steps() {
    let t = trace();
    let vm = t.vm();
    let sizes = t.claim().sizes.clone();
    let context = B256::from(t.claim().hash());
    let devnet = Devnet::start(DeployConfig {
        min_bond: alloy::primitives::U256::from(1u64),
        challenge_window: 60,
        arity_log2: 4,
        clock: 60,
    })
    .await;
    let verifier = OpStepVerifier::new(devnet.contracts.step_verifier, devnet.provider().clone());

    let mut r = Rng(2026);
    let mut lists: HashMap<[u64; 2], (Vec<State>, Vec<Hash>)> = HashMap::new();
    let cases = if std::env::var("REFUTE_SLOW").is_ok() {
        4000
    } else {
        400
    };
    let mut verdicts = [0u32; 2];
    for n in 0..cases {
        let (i, j) = (1 + r.below(sizes[0] - 1), 1 + r.below(sizes[1] - 1));
        let (micro, roots) = lists.entry([i, j]).or_insert_with(|| {
            let roots = (0..=2)
                .map(|k| Tree::new(&t.leaves(&[i, j][..k])).root())
                .collect();
            (t.list(&[i, j]), roots)
        });
        // Mostly steps of the real list (up to its first entry equal to the
        // last: the list's post), sometimes its padding.
        let real = micro
            .iter()
            .position(|s| s == micro.last().expect("lists are not empty"))
            .unwrap_or(1) as u64;
        let span = if r.below(8) == 0 { sizes[2] - 1 } else { real };
        let s = 1 + r.below(span);
        let path = vec![i, j, s];
        let honest = Case {
            pre: t.step_pre(&path),
            post: micro[s as usize].clone(),
            path,
            roots: roots.clone(),
        };
        let state_len = micro[s as usize - 1].0.len();
        let (what, case) = if n % 2 == 0 {
            ("honest", honest)
        } else {
            tamper(&mut r, &honest, state_len)
        };
        let reference = vm.check(&case.path, &case.roots, &case.pre, &case.post);
        let deployed = verifier
            .verify(
                context,
                case.path.clone(),
                case.roots.iter().copied().map(B256::from).collect(),
                Bytes::from(case.pre.0.clone()),
                Bytes::from(case.post.0.clone()),
            )
            .call()
            .await
            .expect("verify is a view call that never reverts");
        assert_eq!(
            deployed,
            reference.is_ok(),
            "case {n} ({what}) at {:?}: the reference says {reference:?}",
            case.path
        );
        if what == "honest" {
            assert!(deployed, "honest step {:?} rejected", case.path);
        }
        verdicts[usize::from(deployed)] += 1;
    }
    eprintln!(
        "{cases} steps: {} accepted, {} rejected, by both verifiers alike",
        verdicts[1], verdicts[0]
    );
    assert!(
        verdicts[0] > cases / 4 && verdicts[1] >= cases / 2,
        "too few of each verdict: {verdicts:?}"
    );
}
