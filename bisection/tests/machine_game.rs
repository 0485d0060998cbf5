//! The game over a real trace-vm program (docs/SPEC.md 6.8): every honest
//! step of every level-2 list verifies, tampered steps and witnesses do not,
//! and an honest player wins against a liar at any micro-step, as defender
//! and as challenger.

// Helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/shapes.rs"]
mod shapes;

use bisection::game::rules::{Params, Role};
use bisection::game::tree::Tree;
use bisection::game::view::{Trace, Vm};
use bisection::machine::{Fault, MachineTrace, State, play_dispute};
use trace_vm::arith::Prim;
use trace_vm::commit::{DType, Hash};
use trace_vm::ops::Op;
use trace_vm::program::{Builder, Program};
use trace_vm::tensor::Tensor;

use shapes::{GEMMA_5_PLUS_4_SIZES, MINILM_128_SIZES};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const VOCAB: usize = 5;
const DIM: usize = 32;
const TOKENS: usize = 3;

/// Three layers touching most kinds of op the verifier decodes: a Q8_0
/// embedding gather, RMSNorm (reduce, maps), a linear layer whose Q8_0
/// weights are read in place with GELU and a residual, a masked softmax over
/// a permuted slice, and argmax.
fn program() -> Program {
    let mut b = Builder::new();
    let ids = b.input("ids", DType::I32, &[TOKENS]).unwrap();
    let emb = b.weight("emb", DType::Q8_0, &[VOCAB, DIM]).unwrap();
    let g = b.weight("g", DType::F32, &[DIM]).unwrap();
    let w = b.weight("w", DType::Q8_0, &[DIM, DIM]).unwrap();
    let bias = b.weight("b", DType::F32, &[DIM]).unwrap();
    let x = b
        .layer("embed", |b| {
            let x = b.embedding(emb, ids)?;
            b.rms_norm(x, g, 1e-6)
        })
        .unwrap();
    let h = b
        .layer("mlp", |b| {
            let y = b.linear(x, w, Some(bias))?;
            let y = b.gelu_erf(y)?;
            b.binary(Prim::Add, x, y)
        })
        .unwrap();
    let out = b
        .layer("head", |b| {
            let s = b.op(
                Op::Slice {
                    axis: 1,
                    start: 0,
                    len: TOKENS,
                },
                &[h],
            )?;
            let s = b.op(Op::Permute { perm: vec![1, 0] }, &[s])?;
            let s = b.op(
                Op::Slice {
                    axis: 0,
                    start: 0,
                    len: TOKENS,
                },
                &[s],
            )?;
            let mask = b.causal_mask(TOKENS, TOKENS, 0, 0)?;
            let p = b.softmax(s, Some(mask))?;
            b.op(Op::Argmax, &[p])
        })
        .unwrap();
    b.output(out).unwrap();
    b.finish().unwrap()
}

/// The op kinds and quantized types `program` does not reach: gathers and
/// dequants of every quantized type, matmuls reading Q4_K and Q6_K weights in
/// place, concat, reshape, a max reduction and sample.
fn kinds_program() -> Program {
    let mut b = Builder::new();
    let ids = b.input("ids", DType::I32, &[2]).unwrap();
    let tables: Vec<_> = KINDS_QUANT
        .iter()
        .map(|&(d, shape)| b.weight(&format!("{d:?}"), d, shape).unwrap())
        .collect();
    let outs = b
        .layer("quant", |b| {
            let mut outs = Vec::new();
            for &t in &tables {
                outs.push(b.op(Op::Gather, &[t, ids])?);
                outs.push(b.op(Op::Dequant, &[t])?);
            }
            // The K-quant tables as weights of a matmul: x [2, 256] · Wᵀ, x
            // the dequantized Q4_K table.
            let x = outs[7];
            for &w in &tables[3..] {
                outs.push(b.op(
                    Op::MatMul {
                        ta: false,
                        tb: true,
                    },
                    &[x, w],
                )?);
            }
            Ok(outs)
        })
        .unwrap();
    let (g4, g5) = (outs[0], outs[2]);
    let out = b
        .layer("mix", |b| {
            let c = b.op(Op::Concat { axis: 1 }, &[g4, g5])?;
            let r = b.op(Op::Reshape { shape: vec![4, 32] }, &[c])?;
            let m = b.op(
                Op::Reduce {
                    prim: Prim::Max,
                    axis: 1,
                },
                &[r],
            )?;
            let s = b.op(
                Op::Sample {
                    seed: 7,
                    counter: 3,
                },
                &[r],
            )?;
            Ok([m, s])
        })
        .unwrap();
    for t in outs.into_iter().chain(out) {
        b.output(t).unwrap();
    }
    b.finish().unwrap()
}

/// The weights of `kinds_program`: one table per quantized type.
const KINDS_QUANT: [(DType, &[usize]); 5] = [
    (DType::Q4_0, &[3, 32]),
    (DType::Q5_0, &[3, 32]),
    (DType::Q8_0, &[3, 32]),
    (DType::Q4K, &[2, 256]),
    (DType::Q6K, &[2, 256]),
];

/// Random blocks of `dtype` whose f16 scales are all `d` (so that values stay finite).
fn quant(r: &mut Rng, dtype: DType, shape: &[usize], d: u16) -> Tensor {
    let (be, bb) = dtype.block();
    let scales: &[usize] = match dtype {
        DType::Q4K => &[0, 2],
        DType::Q6K => &[208],
        _ => &[0],
    };
    let n: usize = shape.iter().product();
    let mut bytes = Vec::new();
    for _ in 0..n / be as usize {
        let mut block: Vec<u8> = (0..bb).map(|_| r.next() as u8).collect();
        for &at in scales {
            block[at..at + 2].copy_from_slice(&d.to_le_bytes());
        }
        bytes.extend_from_slice(&block);
    }
    Tensor::from_bytes(dtype, shape, bytes).unwrap()
}

fn kinds_trace() -> MachineTrace {
    let mut r = Rng(0xd1ce);
    let weights = KINDS_QUANT
        .iter()
        .map(|&(d, shape)| quant(&mut r, d, shape, 0x2C00))
        .collect();
    let ids = Tensor::i32(&[2], &[1, 0]).unwrap();
    MachineTrace::run(kinds_program(), weights, vec![ids], None).unwrap()
}

fn weights(r: &mut Rng) -> Vec<Tensor> {
    let f = |r: &mut Rng, shape: &[usize]| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| (r.below(2001) as f32 - 1000.0) / 4000.0)
            .collect();
        Tensor::f32(shape, &v).unwrap()
    };
    vec![
        quant(r, DType::Q8_0, &[VOCAB, DIM], 0x2C00), // 0.0625
        f(r, &[DIM]),
        quant(r, DType::Q8_0, &[DIM, DIM], 0x2000), // 0.0078125
        f(r, &[DIM]),
    ]
}

fn trace(fault: Option<Fault>) -> MachineTrace {
    let mut r = Rng(0x5eed);
    let ids = Tensor::i32(&[TOKENS], &[3, 0, 4]).unwrap();
    MachineTrace::run(program(), weights(&mut r), vec![ids], fault).unwrap()
}

fn roots_for(t: &MachineTrace, path: &[u64]) -> Vec<Hash> {
    (0..=path.len())
        .map(|k| Tree::new(&t.leaves(&path[..k])).root())
        .collect()
}

#[test]
fn claim_root_and_level_sizes_describe_the_lists() {
    let t = trace(None);
    let sizes = t.claim().sizes.clone();
    assert_eq!(sizes.len(), 3);
    assert_eq!(Tree::new(&t.leaves(&[])).root(), t.claim().trace_root);
    assert_eq!(t.list(&[]).len() as u64, sizes[0]);
    for i in 1..sizes[0] {
        let sub = t.list(&[i]);
        assert_eq!(sub.len() as u64, sizes[1]);
        assert_eq!(
            sub[0],
            t.list(&[])[i as usize - 1],
            "layer step {i}: first entry"
        );
        assert_eq!(
            sub.last(),
            t.list(&[]).get(i as usize),
            "layer step {i}: last entry"
        );
        for j in 1..sizes[1] {
            let micro = t.list(&[i, j]);
            assert_eq!(micro.len() as u64, sizes[2]);
            assert_eq!(micro[0], sub[j as usize - 1], "({i}, {j}): first entry");
            assert_eq!(micro.last(), sub.get(j as usize), "({i}, {j}): last entry");
        }
    }
}

#[test]
fn honest_steps_verify_and_tampered_ones_do_not() {
    let t = trace(None);
    let vm = t.vm();
    let sizes = t.claim().sizes.clone();
    let mut r = Rng(99);
    let mut checked = 0;
    for i in 1..sizes[0] {
        for j in 1..sizes[1] {
            let micro = t.list(&[i, j]);
            // Every step of small lists; the ends and a sample of big ones.
            let steps: Vec<u64> = if sizes[2] <= 64 {
                (1..sizes[2]).collect()
            } else {
                let mut v: Vec<u64> = (1..4).chain(sizes[2] - 3..sizes[2]).collect();
                v.extend((0..24).map(|_| 1 + r.below(sizes[2] - 1)));
                v
            };
            let roots = roots_for(&t, &[i, j]);
            for s in steps {
                let path = [i, j, s];
                let pre = t.step_pre(&path);
                let post = &micro[s as usize];
                assert_eq!(vm.leaf_hash(&pre), vm.leaf_hash(&micro[s as usize - 1]));
                let verdict = vm.check(&path, &roots, &pre, post);
                assert!(
                    verdict.is_ok(),
                    "honest step {path:?} rejected: {verdict:?}"
                );
                // Any changed bit of the post state is caught.
                let mut bad = post.0.clone();
                let at = r.below(bad.len() as u64) as usize;
                bad[at] ^= 1 << r.below(8);
                assert!(
                    vm.check(&path, &roots, &pre, &State(bad)).is_err(),
                    "tampered post at {path:?}"
                );
                // And the wrong roots.
                let mut wrong = roots.clone();
                wrong[1][0] ^= 1;
                assert!(
                    vm.check(&path, &wrong, &pre, post).is_err(),
                    "wrong sub-trace root at {path:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} steps checked");
}

fn dispute(liar_defends: bool, fault: Fault, arity_log2: u32) -> (Role, [u32; 2]) {
    let (honest, liar) = (trace(None), trace(Some(fault)));
    let (defender, challenger) = if liar_defends {
        (liar, honest)
    } else {
        (honest, liar)
    };
    let params = Params {
        arity_log2,
        clock: 3_600,
    };
    let out = play_dispute(defender, challenger, params);
    (out.winner, out.moves)
}

/// A fault at a micro-step drawn uniformly over all steps of the program,
/// that changes what the liar's claim commits to (a lie inside the last
/// layer that does not reach its output leaves the claim honest, and is no
/// lie about the claim).
fn committed_fault(p: &Program, r: &mut Rng) -> Fault {
    let honest = trace(None).claim().clone();
    let sites: Vec<_> = p
        .ops()
        .iter()
        .map(|node| {
            let descs: Vec<_> = node
                .inputs
                .iter()
                .map(|&t| (p.tensor(t).dtype, p.tensor(t).shape.as_slice()))
                .collect();
            trace_vm::ops::micro::Site::new(&node.op, &descs).unwrap()
        })
        .collect();
    let total: u64 = sites
        .iter()
        .map(|s| (s.out_len() * s.step_count()) as u64)
        .sum();
    loop {
        let mut at = r.below(total);
        let mut op = 0;
        while at >= (sites[op].out_len() * sites[op].step_count()) as u64 {
            at -= (sites[op].out_len() * sites[op].step_count()) as u64;
            op += 1;
        }
        let site = &sites[op];
        let fault = Fault {
            op,
            element: at / site.step_count() as u64,
            step: at % site.step_count() as u64,
            xor: 1 << r.below(31),
        };
        if *trace(Some(fault)).claim() != honest {
            return fault;
        }
    }
}

#[test]
fn the_honest_side_wins_against_a_lie_at_any_micro_step() {
    let p = program();
    let mut r = Rng(2024);
    let cases = if std::env::var("REFUTE_SLOW").is_ok() {
        64
    } else {
        12
    };
    for case in 0..cases {
        let fault = committed_fault(&p, &mut r);
        let liar_defends = case % 2 == 0;
        let arity_log2 = 1 + case as u32 % 4;
        let (winner, moves) = dispute(liar_defends, fault, arity_log2);
        let honest = if liar_defends {
            Role::Challenger
        } else {
            Role::Defender
        };
        eprintln!(
            "{fault:?}, liar defends: {liar_defends}, d = {arity_log2}: {winner:?} wins, moves {moves:?}"
        );
        assert_eq!(
            winner, honest,
            "case {case}: {fault:?}, liar defends: {liar_defends}"
        );
        assert!(moves[1] > 0, "case {case}: the challenger made no move");
    }
}

#[test]
fn explain_names_the_faulted_step_and_the_flipped_bit() {
    let p = program();
    let mut r = Rng(7);
    for _ in 0..6 {
        let fault = committed_fault(&p, &mut r);
        let layer = p
            .layers()
            .iter()
            .position(|l| l.ops.contains(&fault.op))
            .unwrap();
        let node = &p.ops()[fault.op];
        let descs: Vec<_> = node
            .inputs
            .iter()
            .map(|&t| (p.tensor(t).dtype, p.tensor(t).shape.as_slice()))
            .collect();
        let steps = trace_vm::ops::micro::Site::new(&node.op, &descs)
            .unwrap()
            .step_count() as u64;
        let j = (fault.op - p.layers()[layer].ops.start + 1) as u64;
        let path = [layer as u64 + 1, j, 1 + fault.element * steps + fault.step];
        for (t, lies) in [(trace(Some(fault)), true), (trace(None), false)] {
            let post = &t.list(&path[..2])[path[2] as usize];
            let (trail, verdict) =
                t.vm()
                    .explain(&path, &roots_for(&t, &path[..2]), &t.step_pre(&path), post);
            assert_eq!(verdict.is_err(), lies, "{fault:?} at {path:?}: {verdict:?}");
            assert_eq!(trail.op.map(|(o, _)| o), Some(fault.op as u64));
            let x = trail.primitive.expect("a primitive step");
            assert_eq!((x.element, x.step), (fault.element, fault.step));
            let flipped = if lies { fault.xor } else { 0 };
            assert_eq!(x.claimed.map(|c| c ^ x.result), Some(flipped), "{x:?}");
        }
    }
}

/// Where the differential vectors for the contract's verifier live (read by
/// `contracts/test/OpStepVerifier.t.sol`).
const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../contracts/test/vectors/op-steps.json"
);

/// A vector's inputs: the game's context, path, roots, pre and post.
struct Vector {
    label: String,
    /// The kind of step, for gas figures: the op's name, or assembly or padding.
    kind: String,
    /// Bytes of `pre` before its witness.
    state_len: usize,
    path: [u64; 3],
    roots: Vec<Hash>,
    pre: State,
    post: State,
}

/// The name of an op step's op (from the op entry in its witness), with the
/// quantized type it reads for matmul, dequant and gather (`gather:q4_k`);
/// `None` for assembly and padding steps.
fn op_name(t: &MachineTrace, path: [u64; 3]) -> Option<String> {
    use alloy::sol_types::SolValue;
    let names = [
        "", "matmul", "map", "reduce", "argmax", "dequant", "gather", "reshape", "permute",
        "concat", "slice", "mask", "sample",
    ];
    let state = &t.list(&path[..2])[path[2] as usize - 1];
    let pre = t.step_pre(&path);
    let w = bisection::machine::Witness::abi_decode(&pre.0[state.0.len()..]).unwrap();
    if u64::from(w.opCount) < path[1] {
        return None;
    }
    let entry = trace_vm::program::decode_op(&w.opEntry).unwrap();
    let mut name = names
        .get(w.opEntry[8] as usize)
        .copied()
        .unwrap_or("op")
        .to_string();
    if name == "reduce" {
        // The attributes end with the reduction's primitive and axis.
        let prim = w.opEntry[w.opEntry.len() - 2];
        name += match prim {
            0x01 => ":add",
            0x07 => ":max",
            _ => ":min",
        };
    }
    let quant = entry
        .inputs
        .iter()
        .map(|i| i.dtype)
        .find(|&d| !matches!(d, DType::F32 | DType::I32));
    if let Some(d) = quant {
        name += ":";
        name += &format!("{d:?}").to_lowercase();
    }
    Some(name)
}

/// The steps the contract is checked on. For the first op of each name a
/// random micro-step and an element boundary, and with `full` also its first
/// and second steps and the final root step; the same of the first assembly
/// step; one padding step of an op's and of an assembly's micro list; and a
/// middle step of the map with the longest element program. Names in `seen`
/// are skipped (a second program adds only what the first lacks).
fn vector_steps(
    t: &MachineTrace,
    seen: &mut std::collections::BTreeSet<String>,
    full: bool,
) -> Vec<Vector> {
    let sizes = t.claim().sizes.clone();
    let mut r = Rng(7);
    let mut out = Vec::new();
    let mut longest_map: Option<(u64, [u64; 3])> = None;
    for i in 1..sizes[0] {
        for j in 1..sizes[1] {
            let micro = t.list(&[i, j]);
            let roots = roots_for(t, &[i, j]);
            // The last entry that is not padding.
            let end = (1..micro.len())
                .find(|&k| micro[k] == micro[micro.len() - 1])
                .unwrap() as u64;
            let op = op_name(t, [i, j, 1]);
            let name = match &op {
                Some(name) => name.clone(),
                None if end == 1 && micro[0] == micro[1] => "padding".into(),
                None => "assembly".into(),
            };
            let mut steps = Vec::new();
            let first_boundary = (1..end).find(|&k| micro[k as usize].0[1..9] != micro[1].0[1..9]);
            if let (Some("map"), Some(b)) = (op.as_deref(), first_boundary) {
                // The map with the longest element program (GELU's erf):
                // a step in the middle of its first element.
                if longest_map.as_ref().is_none_or(|&(n, _)| b - 1 > n) {
                    longest_map = Some((b - 1, [i, j, 1 + (b - 1) / 2]));
                }
            }
            if seen.insert(name.clone()) {
                steps.push((name.clone(), 1 + r.below(end)));
                if full {
                    steps.push((format!("{name}:first"), 1));
                    steps.push((format!("{name}:root"), end));
                    if end > 2 {
                        steps.push((format!("{name}:second"), 2));
                    }
                }
                let padding = if op.is_some() {
                    "op list padding"
                } else {
                    "assembly list padding"
                };
                if end + 1 < sizes[2] && seen.insert(padding.into()) {
                    steps.push((format!("{name}:padding"), end + 1));
                }
                if let (Some(_), Some(b)) = (&op, first_boundary) {
                    // The first step of element 1: element 0 enters out_acc.
                    steps.push((format!("{name}:boundary"), b));
                }
            }
            for (label, s) in steps {
                out.push(vector(t, (label, name.clone()), [i, j, s], &micro, &roots));
            }
        }
    }
    if let Some((_, path)) = longest_map.filter(|_| seen.insert("map:longest".into())) {
        let micro = t.list(&path[..2]);
        let roots = roots_for(t, &path[..2]);
        let kind = "map:longest".to_string();
        out.push(vector(t, (kind.clone(), kind), path, &micro, &roots));
    }
    out
}

/// The step at `path` of the micro list `micro` with the game's `roots`.
fn vector(
    t: &MachineTrace,
    (label, kind): (String, String),
    path: [u64; 3],
    micro: &[State],
    roots: &[Hash],
) -> Vector {
    let s = path[2] as usize;
    Vector {
        label,
        kind,
        path,
        roots: roots.to_vec(),
        pre: t.step_pre(&path),
        post: micro[s].clone(),
        state_len: micro[s - 1].0.len(),
    }
}

/// The vector with one bit flipped: `what` 0 in the post state, 1 in the
/// pre state with its witness, 2 in the roots (byte `at` of their concatenation).
fn mutate(v: &Vector, what: u8, at: usize, bit: u8) -> (Vec<Hash>, State, State) {
    let (mut roots, mut pre, mut post) = (v.roots.clone(), v.pre.clone(), v.post.clone());
    let flip = 1u8 << bit;
    match what {
        0 => post.0[at] ^= flip,
        1 => pre.0[at] ^= flip,
        _ => roots[at / 32][at % 32] ^= flip,
    }
    (roots, pre, post)
}

/// The differential vectors as JSON: honest steps (each with the reference
/// verdict) and byte flips of them with the reference's verdict on each, from
/// the test program (its linear layer reads Q8_0 weights in place) and from
/// a second program with the op kinds and quantized types the first lacks.
fn step_vectors() -> String {
    use alloy::primitives::{B256, Bytes, U256};
    use alloy::sol_types::SolValue;
    let mut seen = std::collections::BTreeSet::new();
    let traces = [trace(None), kinds_trace()];
    let mut vectors = Vec::new();
    for (k, t) in traces.iter().enumerate() {
        for v in vector_steps(t, &mut seen, k == 0) {
            vectors.push((k, v));
        }
    }
    let mut r = Rng(11);
    let mut encoded = Vec::new();
    let mut labels = Vec::new();
    let mut kinds = Vec::new();
    let mut mutations = Vec::new();
    for (n, (k, v)) in vectors.iter().enumerate() {
        let (vm, context) = (traces[*k].vm(), traces[*k].claim().hash());
        let ok = vm.check(&v.path, &v.roots, &v.pre, &v.post).is_ok();
        assert!(ok, "honest vector {} at {:?} is rejected", v.label, v.path);
        let b256 = |h: &Hash| B256::from(*h);
        encoded.push(format!(
            "0x{}",
            hex::encode(
                (
                    b256(&context),
                    v.path.to_vec(),
                    v.roots.iter().map(b256).collect::<Vec<_>>(),
                    Bytes::from(v.pre.0.clone()),
                    Bytes::from(v.post.0.clone()),
                )
                    .abi_encode_params()
            )
        ));
        labels.push(v.label.clone());
        kinds.push(v.kind.clone());
        // A dirty high byte in the witness's `firstOp` word (a uint32): Solidity's
        // `abi.decode` reverts on it, so the reference must reject it too.
        let first_op_high = v.state_len + 32 + 9 * 32;
        for what in 0..4u8 {
            let len = [v.post.0.len(), v.pre.0.len(), 96, 0][what as usize];
            let (at, bit) = if what < 3 {
                (r.below(len as u64) as usize, r.below(8) as u8)
            } else {
                (first_op_high + r.below(28) as usize, r.below(8) as u8)
            };
            let dirty = what == 3;
            let what = if dirty { 1 } else { what };
            let (roots, pre, post) = mutate(v, what, at, bit);
            let ok = vm.check(&v.path, &roots, &pre, &post).is_ok();
            assert!(!(dirty && ok), "a dirty uint32 in {} is accepted", v.label);
            mutations.push(format!(
                "0x{}",
                hex::encode(
                    (
                        U256::from(n),
                        U256::from(what),
                        U256::from(at),
                        U256::from(bit),
                        ok
                    )
                        .abi_encode_params()
                )
            ));
        }
    }
    let json = serde_json::json!({
        "vectors": encoded,
        "labels": labels,
        "kinds": kinds,
        "mutations": mutations,
    });
    serde_json::to_string_pretty(&json).unwrap() + "\n"
}

#[test]
fn step_vectors_for_the_contract_are_up_to_date() {
    let fresh = step_vectors();
    if std::env::var("REFUTE_WRITE_VECTORS").is_ok() {
        std::fs::write(VECTORS, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(VECTORS).unwrap_or_default();
    assert!(
        committed == fresh,
        "{VECTORS} is stale: regenerate it with REFUTE_WRITE_VECTORS=1 cargo test -p refute-bisection --test machine_game step_vectors"
    );
}

// ------------------------------------------------------------ claim input and output

#[test]
fn a_claim_post_binds_its_input_and_output_to_the_trace() {
    use bisection::Error;
    use bisection::machine::{ClaimPost, decode_state, state_root};
    let t = trace(None);
    let post = t.post().clone();
    post.check().unwrap();
    // The encodings decode to the program's first and last states.
    let program = t.program();
    let ids = |l: usize| -> Vec<u32> { program.state(l).iter().map(|x| x.0).collect() };
    let input = decode_state("input", &post.input).unwrap();
    assert_eq!(input.iter().map(|x| x.0).collect::<Vec<_>>(), ids(0));
    assert_eq!(input[0].1, Tensor::i32(&[TOKENS], &[3, 0, 4]).unwrap());
    let last = program.state_count() - 1;
    let output = decode_state("output", &post.output).unwrap();
    assert_eq!(output.iter().map(|x| x.0).collect::<Vec<_>>(), ids(last));
    let leaves = t.leaves(&[]);
    assert_eq!(state_root("input", &post.input).unwrap(), leaves[0]);
    assert_eq!(state_root("output", &post.output).unwrap(), leaves[last]);

    // An honest trace with another output: the output's last data byte changed.
    let mut bad = post.output.clone();
    *bad.last_mut().unwrap() ^= 1;
    let lie = ClaimPost::new(
        post.claim.clone(),
        post.input.clone(),
        bad,
        post.input_proof.clone(),
        post.output_proof.clone(),
    );
    assert!(
        matches!(lie.check(), Err(Error::IoNotInTrace { which: "output", index, .. }) if index == last as u64),
        "{:?}",
        lie.check()
    );
    // The trace of another input.
    let other = MachineTrace::run(
        program.clone(),
        weights(&mut Rng(0x5eed)),
        vec![Tensor::i32(&[TOKENS], &[1, 1, 2]).unwrap()],
        None,
    )
    .unwrap();
    let lie = ClaimPost::new(
        post.claim.clone(),
        other.post().input.clone(),
        post.output.clone(),
        post.input_proof.clone(),
        post.output_proof.clone(),
    );
    assert!(matches!(
        lie.check(),
        Err(Error::IoNotInTrace {
            which: "input",
            index: 0,
            ..
        })
    ));
    // A claim whose hashes are not those of its bytes.
    let mut lie = post.clone();
    lie.claim.output_hash[0] ^= 1;
    assert!(matches!(
        lie.check(),
        Err(Error::IoHashMismatch { which: "output" })
    ));
    // Bytes that are no state at all.
    let mut lie = post.clone();
    lie.input.truncate(lie.input.len() - 1);
    let err = lie.check().unwrap_err();
    assert!(
        matches!(err, Error::MalformedIo { which: "input", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
}

/// Where the claim IO vectors for the contracts live (read by
/// `contracts/test/IoState.t.sol` and `contracts/test/Claims.t.sol`).
const IO_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../contracts/test/vectors/claim-io.json"
);

/// Tensors of every dtype and of the shapes that exercise the format: a
/// scalar, an empty tensor, rank 8, several 256-byte leaves (padded to a
/// power of two), quantized blocks straddling leaves.
fn io_tensors(r: &mut Rng) -> Vec<(u32, Tensor)> {
    let mut bytes = |n: usize| (0..n).map(|_| r.next() as u8).collect::<Vec<u8>>();
    let t = |d: DType, shape: &[usize], b: Vec<u8>| Tensor::from_bytes(d, shape, b).unwrap();
    vec![
        (0, t(DType::F32, &[], bytes(4))),
        (1, t(DType::F32, &[0, 5], Vec::new())),
        (2, t(DType::F16, &[3, 7], bytes(42))),
        (3, t(DType::BF16, &[9], bytes(18))),
        (4, t(DType::I32, &[700], bytes(2800))),
        (5, t(DType::I64, &[2, 2], bytes(32))),
        (6, t(DType::U8, &[1, 1, 1, 1, 1, 1, 1, 5], bytes(5))),
        (7, t(DType::I8, &[256], bytes(256))),
        (8, t(DType::Q8_0, &[2, 64], bytes(136))),
        (9, t(DType::Q4K, &[256], bytes(144))),
        (0xFFFF_FFFF, t(DType::Q6K, &[512], bytes(420))),
        // No elements, whatever the other dimensions.
        (10, t(DType::U8, &[0, usize::MAX], Vec::new())),
    ]
}

fn encoded(tensors: &[(u32, Tensor)]) -> Vec<u8> {
    let refs: Vec<(u32, &Tensor)> = tensors.iter().map(|(id, t)| (*id, t)).collect();
    bisection::machine::encode_state(&refs)
}

/// Valid encodings: the test program's input and output, each tensor of
/// [`io_tensors`] alone, all of them, and the empty state.
fn io_states() -> Vec<Vec<u8>> {
    let t = trace(None);
    let mut v = vec![t.post().input.clone(), t.post().output.clone()];
    let tensors = io_tensors(&mut Rng(21));
    v.extend(tensors.iter().map(|x| encoded(std::slice::from_ref(x))));
    v.push(encoded(&tensors));
    v.push(encoded(&[]));
    v
}

/// Broken encodings, one per way of breaking it, each checked to be
/// rejected: the reason written next to it is the decoder's.
fn io_malformed() -> Vec<Vec<u8>> {
    let one = |id: u32, dtype: u8, dims: &[u64], len: u64, data: usize| {
        let mut v = 1u32.to_be_bytes().to_vec();
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&[dtype, dims.len() as u8]);
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(&len.to_be_bytes());
        v.extend(std::iter::repeat_n(7u8, data));
        v
    };
    let good = one(3, 0x01, &[2, 2], 16, 16);
    let mut two = good.clone();
    two[3] = 2;
    let mut huge_count = good.clone();
    huge_count[..4].copy_from_slice(&[0xFF; 4]);
    let mut trailing = good.clone();
    trailing.push(0);
    vec![
        Vec::new(),
        vec![0, 0, 0],
        two,
        huge_count,
        good[..good.len() - 1].to_vec(),
        good[..7].to_vec(),
        good[..12].to_vec(),
        one(3, 0x08, &[2], 8, 8),
        one(3, 0x00, &[2], 8, 8),
        one(3, 0x26, &[], 0, 0),
        one(3, 0x01, &[1; 9], 4, 4),
        one(3, 0x06, &[1 << 21, 1 << 20], 1 << 41, 0),
        one(3, 0x06, &[u64::MAX, 2], 0, 0),
        one(3, 0x21, &[33], 34, 34),
        one(3, 0x01, &[2, 2], 15, 15),
        one(3, 0x01, &[2, 2], 17, 17),
        one(3, 0x01, &[2, 2], 16, 15),
        trailing,
    ]
}

/// A claim post shaped like a real one: the input and output states, and a
/// level-0 list of `n` entries whose middle entries are fillers.
fn shaped_post(
    label: &str,
    input: &[(u32, Tensor)],
    output: &[(u32, Tensor)],
    sizes: Vec<u64>,
) -> (String, bisection::machine::ClaimPost) {
    use bisection::machine::{ClaimPost, state_root};
    let (input, output) = (encoded(input), encoded(output));
    let n = sizes[0] as usize;
    let mut leaves: Vec<Hash> = (0..n)
        .map(|i| trace_vm::commit::keccak256(format!("{label} state {i}").as_bytes()))
        .collect();
    leaves[0] = state_root("input", &input).unwrap();
    leaves[n - 1] = state_root("output", &output).unwrap();
    let tree = Tree::new(&leaves);
    let claim = bisection::machine::Claim {
        weights_root: [1; 32],
        arch_hash: [2; 32],
        input_hash: [0; 32],
        output_hash: [0; 32],
        trace_root: tree.root(),
        sizes,
    };
    let post = ClaimPost::new(
        claim,
        input,
        output,
        tree.proof(0),
        tree.proof(n as u64 - 1),
    );
    post.check().unwrap();
    (label.to_string(), post)
}

/// Posts shaped like the real models' (for the contract's gas test): MiniLM-L6
/// at 128 tokens (token ids and attention mask in, a 384-float embedding
/// out) and Gemma-3 270M generating 4 tokens after a 5-token prompt (prompt
/// ids in, one id per generated token out), with their level sizes (printed
/// by `tests/game_moves.rs`); and this file's test program, posted honestly.
fn io_posts() -> Vec<(String, bisection::machine::ClaimPost)> {
    let mut r = Rng(0x10);
    let mut words = |n: usize| (0..n).map(|_| r.next() as u32).collect::<Vec<u32>>();
    let ids: Vec<i32> = words(128).iter().map(|&w| (w % 30_522) as i32).collect();
    let embedding: Vec<f32> = words(384)
        .iter()
        .map(|&w| (w % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    let minilm = shaped_post(
        "minilm",
        &[
            (0, Tensor::i32(&[128], &ids).unwrap()),
            (1, Tensor::f32(&[128, 1], &[1.0; 128]).unwrap()),
        ],
        &[(250, Tensor::f32(&[1, 384], &embedding).unwrap())],
        MINILM_128_SIZES.to_vec(),
    );
    let prompt: Vec<i32> = words(5).iter().map(|&w| (w % 262_144) as i32).collect();
    let generated: Vec<(u32, Tensor)> = (0..4)
        .map(|k| {
            (
                300 + k,
                Tensor::i32(&[1, 1], &[(k * 1_000) as i32 + 17]).unwrap(),
            )
        })
        .collect();
    let gemma = shaped_post(
        "gemma",
        &[(0, Tensor::i32(&[5], &prompt).unwrap())],
        &generated,
        GEMMA_5_PLUS_4_SIZES.to_vec(),
    );
    let program = ("program".to_string(), trace(None).post().clone());
    vec![minilm, gemma, program]
}

fn io_vectors() -> String {
    use alloy::primitives::{B256, Bytes};
    use alloy::sol_types::SolValue;
    use bisection::machine::{decode_state, state_root};
    let hex0x = |b: Vec<u8>| format!("0x{}", hex::encode(b));
    let states: Vec<String> = io_states()
        .into_iter()
        .map(|s| {
            let root = state_root("input", &s).unwrap();
            hex0x((Bytes::from(s), B256::from(root)).abi_encode_params())
        })
        .collect();
    let malformed: Vec<String> = io_malformed()
        .into_iter()
        .map(|s| {
            let reason = match decode_state("input", &s) {
                Err(bisection::Error::MalformedIo { kind, .. }) => kind.reason(),
                other => panic!("{} is not rejected: {other:?}", hex::encode(&s)),
            };
            hex0x((Bytes::from(s), reason.to_string()).abi_encode_params())
        })
        .collect();
    let b256s = |v: &[Hash]| v.iter().map(|h| B256::from(*h)).collect::<Vec<_>>();
    let posts: Vec<String> = io_posts()
        .into_iter()
        .map(|(label, p)| {
            hex0x(
                (
                    label,
                    (
                        Bytes::from(p.input),
                        Bytes::from(p.output),
                        B256::from(p.claim.trace_root),
                        p.claim.sizes,
                        b256s(&p.input_proof),
                        b256s(&p.output_proof),
                    ),
                )
                    .abi_encode_params(),
            )
        })
        .collect();
    let json = serde_json::json!({
        "states": states,
        "malformed": malformed,
        "posts": posts,
    });
    serde_json::to_string_pretty(&json).unwrap() + "\n"
}

#[test]
fn claim_io_vectors_for_the_contract_are_up_to_date() {
    let fresh = io_vectors();
    if std::env::var("REFUTE_WRITE_VECTORS").is_ok() {
        std::fs::write(IO_VECTORS, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(IO_VECTORS).unwrap_or_default();
    assert!(
        committed == fresh,
        "{IO_VECTORS} is stale: regenerate it with REFUTE_WRITE_VECTORS=1 cargo test -p refute-bisection --test machine_game claim_io_vectors"
    );
}
