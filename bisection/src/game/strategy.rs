//! Players: the honest strategy for each role, which needs only the player's
//! own trace, and adversaries that test the rules.

use std::collections::HashMap;

use trace_vm::commit::Hash;

use super::rules::{Action, Game, Phase, Role};
use super::tree::Tree;
use super::view::{Trace, Vm};

/// A player: given the game, the action it wants to take (`None`: it waits).
pub trait Strategy<V: Vm> {
    /// The next action for `role`, when it is `role`'s turn.
    fn act(&mut self, game: &Game, role: Role) -> Option<Action<V::State>>;
}

/// Plays by its own trace: reveals and expands it truthfully as defender,
/// picks the first child that differs from it as challenger (below level 0,
/// failing that, the child holding the list's last entry).
pub struct Honest<T: Trace> {
    trace: T,
    trees: HashMap<Vec<u64>, Tree>,
}

impl<T: Trace> Honest<T> {
    /// A player whose knowledge is `trace`.
    pub fn new(trace: T) -> Self {
        Self {
            trace,
            trees: HashMap::new(),
        }
    }

    /// The tree over the player's list at `path`, built once.
    fn tree(&mut self, path: &[u64]) -> &Tree {
        let trace = &self.trace;
        self.trees
            .entry(path.to_vec())
            .or_insert_with(|| trace.tree(path))
    }

    fn defend(&mut self, game: &Game) -> Option<Action<<T::Vm as Vm>::State>> {
        let path = game.path().to_vec();
        let (depth, index) = game.node();
        match game.phase() {
            Phase::Reveal => {
                let children = self
                    .tree(&path)
                    .descendants(depth, index, game.reveal_log2());
                Some(Action::Reveal { children })
            }
            Phase::Step if index == 0 => {
                let (p, parent) = path.split_last()?;
                Some(Action::Bind {
                    proof: self.tree(parent).proof(p - 1),
                })
            }
            Phase::Step if game.level() + 1 < self.trace.vm().level_sizes().len() => {
                let end_proof = self.end_proof(game);
                let mut sub_path = path;
                sub_path.push(index);
                let sub = self.tree(&sub_path);
                Some(Action::Expand {
                    sub_root: sub.root(),
                    children: sub.descendants(0, 0, game.expansion_reveal_log2()),
                    end_proof,
                })
            }
            Phase::Step => {
                let post = self.trace.entry(&path, index);
                let pre_proof = self.tree(&path).proof(index - 1);
                let end_proof = self.end_proof(game);
                let mut step_path = path;
                step_path.push(index);
                Some(Action::Step {
                    pre: self.trace.step_pre(&step_path),
                    post,
                    pre_proof,
                    end_proof,
                })
            }
            Phase::Pick(_) | Phase::Over(_) => None,
        }
    }

    /// The proof the rules ask for when the disputed entry is its list's
    /// last below level 0 ([`Game::end_index`]): the entry in the parent list.
    fn end_proof(&mut self, game: &Game) -> Vec<Hash> {
        let parent = &game.path()[..game.level().saturating_sub(1)];
        game.end_index()
            .map_or_else(Vec::new, |p| self.tree(parent).proof(p))
    }

    fn challenge(&mut self, game: &Game) -> Option<Action<<T::Vm as Vm>::State>> {
        let Phase::Pick(children) = game.phase() else {
            return None;
        };
        let (depth, index) = game.node();
        let k = game.reveal_log2();
        let len = game.list_len();
        let tree = self.tree(game.path());
        let below = tree.depth() - depth - k;
        let real = |c: u64| ((index << k) + c) << below < len;
        let differs = (0..children.len() as u64).find(|&c| {
            // Only subtrees holding real entries can be disputed.
            real(c) && tree.node(depth + k, (index << k) + c) != children[c as usize]
        });
        // Below level 0 the defender's list may agree with this player's
        // everywhere and still end in a disputed output it does not reach:
        // its last entry is then the one to dispute (the defender cannot
        // prove it equals the parent's).
        let last = || {
            let c = ((len - 1) >> below).checked_sub(index << k)?;
            (game.level() > 0 && c < children.len() as u64).then_some(c)
        };
        Some(Action::Pick {
            child: differs.or_else(last)?,
        })
    }
}

impl<T: Trace> Strategy<T::Vm> for Honest<T> {
    fn act(&mut self, game: &Game, role: Role) -> Option<Action<<T::Vm as Vm>::State>> {
        match role {
            Role::Defender => self.defend(game),
            Role::Challenger => self.challenge(game),
        }
    }
}

/// Never moves: loses on time.
pub struct Stall;

impl<V: Vm> Strategy<V> for Stall {
    fn act(&mut self, _: &Game, _: Role) -> Option<Action<V::State>> {
        None
    }
}

/// Challenger that picks children at random (a watcher attacking an honest claim).
pub struct RandomPicker {
    rng: u64,
}

impl RandomPicker {
    /// Seeded, so failing cases replay.
    pub fn new(seed: u64) -> Self {
        Self { rng: seed | 1 }
    }
}

impl<V: Vm> Strategy<V> for RandomPicker {
    fn act(&mut self, game: &Game, _: Role) -> Option<Action<V::State>> {
        let Phase::Pick(children) = game.phase() else {
            return None;
        };
        // xorshift64: enough randomness for an adversary, no dependency.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        Some(Action::Pick {
            child: self.rng % children.len() as u64,
        })
    }
}

/// Wraps a strategy and corrupts its reveals every `period`-th move: sends
/// children that do not hash to the parent (equivocation), in a reveal or in
/// the first reveal an expansion carries.
pub struct Equivocate<S> {
    inner: S,
    period: u32,
    count: u32,
}

impl<S> Equivocate<S> {
    /// Corrupts one action in `period`.
    pub fn new(inner: S, period: u32) -> Self {
        Self {
            inner,
            period: period.max(1),
            count: 0,
        }
    }
}

impl<V: Vm, S: Strategy<V>> Strategy<V> for Equivocate<S> {
    fn act(&mut self, game: &Game, role: Role) -> Option<Action<V::State>> {
        let mut action = self.inner.act(game, role)?;
        self.count += 1;
        if self.count.is_multiple_of(self.period)
            && let Action::Reveal { children } | Action::Expand { children, .. } = &mut action
        {
            children[0] = Hash::from([0xEE; 32]);
        }
        Some(action)
    }
}
