//! A dispute over a real pretrained model, off-chain: MiniLM-L6 (installed by
//! `scripts/setup`) embeds a short sentence; a liar flips one bit of one
//! micro-step deep inside the network and everything after it follows from
//! the lie. The honest side wins whether the liar posted the claim or
//! challenges the honest one, through the reference one-step verifier.

use bisection::game::rules::{Params, Role};
use bisection::machine::{Fault, MachineTrace, play_dispute};
use trace_vm::format::models_dir;
use trace_vm::models::Compiled;
use trace_vm::models::Encoder;
use trace_vm::ops::OpKind;
use trace_vm::ops::micro::Site;
use trace_vm::program::Program;

/// The installed MiniLM, or `None` after a loud message; under `CI=true` a
/// missing model is a failure.
fn minilm() -> Option<Encoder> {
    let dir = models_dir().join("minilm-l6");
    if !dir.is_dir() {
        let msg = format!(
            "model `minilm-l6` is not installed in {}; run scripts/setup",
            models_dir().display()
        );
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{msg}");
        eprintln!("\n*** SKIPPED: {msg} ***\n");
        return None;
    }
    Some(Encoder::open(&dir).expect("open minilm-l6"))
}

fn run(enc: &Encoder, compiled: &Compiled, ids: &[u32], fault: Option<Fault>) -> MachineTrace {
    let inputs = enc.inputs(ids, ids.len()).expect("inputs");
    MachineTrace::run(
        compiled.program.clone(),
        compiled.weights.clone(),
        inputs,
        fault,
    )
    .expect("run")
}

fn site(p: &Program, op: usize) -> Site {
    let node = &p.ops()[op];
    let descs: Vec<_> = node
        .inputs
        .iter()
        .map(|&t| (p.tensor(t).dtype, p.tensor(t).shape.as_slice()))
        .collect();
    Site::new(&node.op, &descs).expect("site")
}

/// Plays the dispute over a one-sentence embedding with the liar as
/// defender (`true`) or challenger (`false`), for each of `liar_defends`:
/// the honest side must win by a verified step.
fn liar_loses(liar_defends: &[bool], pick_fault: impl Fn(&Program) -> Fault) {
    let Some(enc) = minilm() else { return };
    let ids = enc.tokenize("Refute checks inference.").expect("tokenize");
    let compiled = enc.compile(ids.len()).expect("compile");
    let fault = pick_fault(&compiled.program);
    for &liar_defends in liar_defends {
        let honest = run(&enc, &compiled, &ids, None);
        let liar = run(&enc, &compiled, &ids, Some(fault));
        assert_ne!(
            honest.claim().trace_root,
            liar.claim().trace_root,
            "the lie reaches the trace"
        );
        let claim = if liar_defends {
            liar.claim()
        } else {
            honest.claim()
        }
        .clone();
        let (defender, challenger) = if liar_defends {
            (liar, honest)
        } else {
            (honest, liar)
        };
        let params = Params {
            arity_log2: 4,
            clock: 3_600,
        };
        let out = play_dispute(defender, challenger, params);
        eprintln!(
            "MiniLM, {} tokens, level sizes {:?}, {fault:?}, liar defends: {liar_defends}: {:?} wins, moves {:?}",
            ids.len(),
            claim.sizes,
            out.winner,
            out.moves
        );
        let want = if liar_defends {
            Role::Challenger
        } else {
            Role::Defender
        };
        assert_eq!(out.winner, want);
        assert!(
            !out.timed_out,
            "the game ended by a timeout, not a verified step"
        );
    }
}

#[test]
fn a_one_bit_lie_deep_in_minilm_loses_whoever_tells_it() {
    // A map op (an element program of several steps) in the middle layer,
    // lying at its element 0's last step: the element's value is wrong.
    liar_loses(&[true, false], |p| {
        let mid = p.layers().len() / 2;
        let op = p.layers()[mid]
            .ops
            .clone()
            .find(|&i| p.ops()[i].op.kind() == OpKind::Map)
            .expect("the layer has a map op");
        Fault {
            op,
            element: 0,
            step: site(p, op).step_count() as u64 - 1,
            xor: 1 << 22,
        }
    });
}

#[test]
fn a_lie_in_the_largest_op_is_found_in_a_streamed_micro_list() {
    // The op with the longest micro list (a feed-forward matmul), lying in
    // the middle of its last element: the whole list is hashed once by each
    // player and never held. One role: the other adds only time.
    liar_loses(&[true], |p| {
        let (op, site) = (0..p.ops().len())
            .map(|i| (i, site(p, i)))
            .max_by_key(|(_, s)| s.out_len() * s.step_count())
            .expect("the program has ops");
        Fault {
            op,
            element: site.out_len() as u64 - 1,
            step: site.step_count() as u64 / 2,
            xor: 1,
        }
    });
}
