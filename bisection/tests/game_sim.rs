//! Simulated games without a chain: over random toy programs, random faults
//! and random adversaries, the honest side always wins, and the one-step is
//! given the roots of the lists the game went through.
//!
//! `REFUTE_SLOW=1` plays 10^4 games per property instead of 10^3.

use bisection::game::rules::{Game, Params, Role, max_moves};
use bisection::game::sim::{Outcome, play};
use bisection::game::strategy::{Equivocate, Honest, RandomPicker, Stall, Strategy as Player};
use bisection::game::toy::{ToyState, ToyTrace, ToyVm};
use bisection::game::tree::Tree;
use bisection::game::view::{Trace, Vm};
use proptest::prelude::*;
use std::cell::RefCell;
use trace_vm::commit::Hash;

const CLOCK: u64 = 3_600;

fn cases() -> u32 {
    if std::env::var_os("REFUTE_SLOW").is_some() {
        10_000
    } else {
        1_000
    }
}

/// A random toy program (1 to 3 levels of 2 to 12 entries), dissection arity,
/// input, and one primitive to corrupt.
fn setup() -> impl Strategy<Value = (ToyVm, u32, u64, Vec<u64>, u64)> {
    (
        prop::collection::vec(2u64..=12, 1..=3),
        1u32..=4,
        any::<u64>(),
        any::<u64>(),
        1u64..,
    )
        .prop_map(|(sizes, arity_log2, input, pick, mask)| {
            // Derive a valid primitive path (each index in 1..size) from `pick`.
            let path = sizes
                .iter()
                .scan(pick, |r, &n| {
                    let step = 1 + *r % (n - 1);
                    *r /= n;
                    Some(step)
                })
                .collect();
            (ToyVm::new(sizes), arity_log2, input, path, mask)
        })
}

fn game_between<V: Vm>(
    vm: &V,
    arity_log2: u32,
    claimed: &ToyTrace,
    defender: &mut dyn Player<V>,
    challenger: &mut dyn Player<V>,
) -> Outcome {
    let root = Tree::new(&claimed.leaves(&[])).root();
    let game = Game::new(
        Params {
            arity_log2,
            clock: CLOCK,
        },
        vm.level_sizes().to_vec(),
        root,
        0,
    );
    play(vm, game, defender, challenger, 0)
}

/// The toy VM, recording the path and roots of every one-step it verifies.
#[derive(Debug, Clone)]
struct Recording {
    vm: ToyVm,
    steps: RefCell<Vec<(Vec<u64>, Vec<Hash>)>>,
}

impl Vm for Recording {
    type State = ToyState;

    fn level_sizes(&self) -> &[u64] {
        self.vm.level_sizes()
    }

    fn leaf_hash(&self, state: &ToyState) -> Hash {
        self.vm.leaf_hash(state)
    }

    fn verify_step(&self, path: &[u64], roots: &[Hash], pre: &ToyState, post: &ToyState) -> bool {
        self.steps
            .borrow_mut()
            .push((path.to_vec(), roots.to_vec()));
        self.vm.verify_step(path, roots, pre, post)
    }
}

/// A toy trace played against the [`Recording`] VM.
struct Recorded {
    trace: ToyTrace,
    vm: Recording,
}

impl Recorded {
    fn new(trace: ToyTrace) -> Self {
        let vm = Recording {
            vm: trace.vm().clone(),
            steps: RefCell::default(),
        };
        Self { trace, vm }
    }
}

impl Trace for Recorded {
    type Vm = Recording;

    fn vm(&self) -> &Recording {
        &self.vm
    }

    fn list(&self, path: &[u64]) -> Vec<ToyState> {
        self.trace.list(path)
    }
}

/// The roots `trace` commits for the lists on the way to primitive `path`.
fn list_roots(trace: &ToyTrace, path: &[u64]) -> Vec<Hash> {
    (0..path.len())
        .map(|k| Tree::new(&trace.leaves(&path[..k])).root())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn a_lying_defender_loses_to_an_honest_challenger((vm, k, input, path, mask) in setup()) {
        let liar = ToyTrace::honest(vm.clone(), input).with_fault(path, mask);
        let out = game_between(&vm, k, &liar,
            &mut Honest::new(liar.clone()),
            &mut Honest::new(ToyTrace::honest(vm.clone(), input)));
        prop_assert_eq!(out.winner, Role::Challenger);
        prop_assert!(!out.timed_out, "decided by the one-step, not by time: {:?}", out);
        // Played to the one-step, a game takes exactly the bound: every pick
        // descends a full reveal, every expansion carries a reveal.
        prop_assert_eq!(out.moves, max_moves(k, vm.level_sizes()));
    }

    #[test]
    fn a_liar_whose_list_disagrees_with_its_parent_or_its_steps_loses(
        (vm, k, input, path, mask) in setup(),
        level in any::<prop::sample::Index>(),
        entry in any::<prop::sample::Index>(),
    ) {
        // A corrupted entry of a list on the faulty primitive's path (which
        // the game reaches): entry 0 or the last of an expansion (bound to the
        // parent only when disputed), or any other entry, the error reaching
        // no other list.
        let sizes = vm.level_sizes();
        let level = level.index(sizes.len());
        let first = u64::from(level == 0);
        let entry = first + entry.index((sizes[level] - first) as usize) as u64;
        let liar = ToyTrace::honest(vm.clone(), input)
            .with_fault(path.clone(), mask)
            .with_entry_fault(path[..level].to_vec(), entry, mask.rotate_left(7));
        let out = game_between(&vm, k, &liar,
            &mut Honest::new(liar.clone()),
            &mut Honest::new(ToyTrace::honest(vm.clone(), input)));
        prop_assert_eq!(out.winner, Role::Challenger);
    }

    #[test]
    fn an_honest_defender_beats_a_lying_challenger((vm, k, input, path, mask) in setup()) {
        let honest = ToyTrace::honest(vm.clone(), input);
        let liar = ToyTrace::honest(vm.clone(), input).with_fault(path, mask);
        let out = game_between(&vm, k, &honest,
            &mut Honest::new(honest.clone()), &mut Honest::new(liar));
        prop_assert_eq!(out.winner, Role::Defender);
    }

    #[test]
    fn an_honest_defender_beats_random_picks((vm, k, input, _path, _mask) in setup(), seed in any::<u64>()) {
        let honest = ToyTrace::honest(vm.clone(), input);
        let out = game_between(&vm, k, &honest,
            &mut Honest::new(honest.clone()), &mut RandomPicker::new(seed));
        prop_assert_eq!(out.winner, Role::Defender);
    }

    #[test]
    fn an_equivocating_liar_loses((vm, k, input, path, mask) in setup(), period in 1u32..4) {
        let liar = ToyTrace::honest(vm.clone(), input).with_fault(path, mask);
        let out = game_between(&vm, k, &liar,
            &mut Equivocate::new(Honest::new(liar.clone()), period),
            &mut Honest::new(ToyTrace::honest(vm.clone(), input)));
        prop_assert_eq!(out.winner, Role::Challenger);
    }

    #[test]
    fn a_stalling_side_loses_on_time((vm, k, input, path, mask) in setup()) {
        let honest = ToyTrace::honest(vm.clone(), input);
        let liar = ToyTrace::honest(vm.clone(), input).with_fault(path, mask);
        let out = game_between(&vm, k, &liar, &mut Stall, &mut Honest::new(honest.clone()));
        prop_assert_eq!((out.winner, out.timed_out), (Role::Challenger, true));
        let out = game_between(&vm, k, &honest, &mut Honest::new(honest.clone()), &mut Stall);
        prop_assert_eq!((out.winner, out.timed_out), (Role::Defender, true));
    }
    #[test]
    fn the_one_step_gets_the_roots_of_the_claimed_lists_on_its_path(
        (vm, k, input, path, mask) in setup(),
        defender_lies in any::<bool>(),
    ) {
        // Whichever side lies, the game descends to the faulty primitive and
        // ends in its one-step.
        let honest = ToyTrace::honest(vm.clone(), input);
        let liar = honest.clone().with_fault(path.clone(), mask);
        let (claimed, challenging) = if defender_lies { (liar, honest) } else { (honest, liar) };
        let recording = Recording { vm: vm.clone(), steps: RefCell::default() };
        let out = game_between(&recording, k, &claimed,
            &mut Honest::new(Recorded::new(claimed.clone())),
            &mut Honest::new(Recorded::new(challenging)));
        prop_assert!(!out.timed_out, "decided by the one-step: {:?}", out);
        let winner = if defender_lies { Role::Challenger } else { Role::Defender };
        prop_assert_eq!(out.winner, winner);
        let steps = recording.steps.into_inner();
        prop_assert_eq!(steps.len(), 1);
        let (step_path, roots) = &steps[0];
        prop_assert_eq!(step_path, &path);
        prop_assert_eq!(roots, &list_roots(&claimed, &path));
    }
}
