//! The game's rules: state, actions, and the transition function the
//! contract implements. An action the contract would reject is rejected here
//! with the same reason, and leaves the state untouched.

use trace_vm::commit::Hash;
use trace_vm::commit::merkle::{depth_for, merkle_root, root_from_path};

use super::view::Vm;

/// The two sides of one game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The claimant, defending its trace.
    Defender,
    /// The watcher that challenged the claim.
    Challenger,
}

impl Role {
    /// The other side.
    pub fn other(self) -> Self {
        match self {
            Self::Defender => Self::Challenger,
            Self::Challenger => Self::Defender,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Fixed at deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Each reveal opens `2^arity_log2` descendants of the disputed node.
    pub arity_log2: u32,
    /// Each side's total thinking time, in seconds (chess clock).
    pub clock: u64,
}

/// A move. `S` is the VM's state type (revealed only in the one-step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<S> {
    /// Defender: the descendants of the disputed node, `arity_log2` levels
    /// down (fewer at the bottom of a tree); they must hash to the node.
    Reveal {
        /// The revealed node hashes, left to right.
        children: Vec<Hash>,
    },
    /// Challenger: the first revealed child it disagrees with.
    Pick {
        /// Index among the revealed children.
        child: u64,
    },
    /// Defender, at a disputed step `i >= 1` of a level above the last:
    /// commit the step's expansion and reveal its first descendants (the new
    /// list's first reveal, so the challenger picks next). Its first entry
    /// (the agreed input) and last entry (the disputed output) are bound
    /// lazily: [`Action::Bind`] when entry 0 is disputed, `end_proof` when
    /// the last entry is.
    Expand {
        /// Root of the expansion list.
        sub_root: Hash,
        /// The descendants of `sub_root`, as a reveal at the new level's root
        /// would send them ([`Game::expansion_reveal_log2`] levels down).
        children: Vec<Hash>,
        /// See [`Game::end_index`]: the disputed entry's proof in the parent
        /// list when it is its list's last entry below level 0; else empty.
        end_proof: Vec<Hash>,
    },
    /// Defender, at a disputed entry 0 of a list below level 0: prove it is
    /// the parent list's entry before the parent's disputed step (which the
    /// challenger agreed to). The defender wins.
    Bind {
        /// Its proof against the parent list's root.
        proof: Vec<Hash>,
    },
    /// Defender, at a disputed step `i >= 1` of the last level: reveal the
    /// operands so the verifier re-executes the primitive.
    Step {
        /// The step's input state.
        pre: S,
        /// The step's claimed output state.
        post: S,
        /// Proof of `pre`'s leaf against the current list's root.
        pre_proof: Vec<Hash>,
        /// As in [`Action::Expand`].
        end_proof: Vec<Hash>,
    },
    /// Anyone: the side to move ran out of time.
    Timeout,
}

/// What the game waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The defender must reveal the current node's descendants.
    Reveal,
    /// The challenger must pick one of these.
    Pick(Vec<Hash>),
    /// The dissection reached a step; the defender must expand or prove it.
    Step,
    /// Over; the winner.
    Over(Role),
}

/// Why an action was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The game has ended.
    #[error("the game is over")]
    GameOver,
    /// The action is not the one the phase waits for.
    #[error("{action} is not allowed now: the game waits for {waiting}")]
    WrongAction {
        /// The action attempted.
        action: &'static str,
        /// What the game waits for.
        waiting: &'static str,
    },
    /// The other side is to move.
    #[error("not {0:?}'s turn")]
    NotYourTurn(Role),
    /// The mover's clock ran out before it moved.
    #[error("{0:?}'s clock has run out")]
    ClockExpired(Role),
    /// A timeout was called while the side to move still had time.
    #[error("{role:?} still has {left} s on its clock")]
    NotExpired {
        /// The side to move.
        role: Role,
        /// Seconds it has left.
        left: u64,
    },
    /// A reveal with the wrong number of children.
    #[error("expected {expected} children, got {got}")]
    ChildCount {
        /// How many the position requires.
        expected: usize,
        /// How many were sent.
        got: usize,
    },
    /// Revealed children that do not hash to the disputed node.
    #[error("the revealed children do not hash to the disputed node")]
    ChildrenMismatch,
    /// A pick outside the revealed children, or of a subtree holding only padding.
    #[error("child {0} cannot be picked")]
    BadPick(u64),
    /// A pick of level 0's first entry, checked against the claim's input when it was posted.
    #[error("the first entry of the claim's list is agreed and cannot be disputed")]
    AgreedEntry,
    /// A Merkle proof that does not verify.
    #[error("the {0} proof does not verify")]
    BadProof(&'static str),
}

/// The state of one game between a claim's defender and one challenger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    params: Params,
    sizes: Vec<u64>,
    /// Disputed step index at each finished level.
    path: Vec<u64>,
    /// Root of the list of each level entered: the claim's list first, then
    /// each expansion; the last is the list being dissected.
    roots: Vec<Hash>,
    /// Disputed node of that list's tree.
    depth: u32,
    index: u64,
    node_hash: Hash,
    phase: Phase,
    clocks: [u64; 2],
    last_move: u64,
    moves: [u32; 2],
}

impl Game {
    /// A game over the level-0 list committed as `root` (whose first and last
    /// entries were checked when the claim was posted), started at `now`.
    pub fn new(params: Params, sizes: Vec<u64>, root: Hash, now: u64) -> Self {
        Self {
            params,
            sizes,
            path: Vec::new(),
            roots: vec![root],
            depth: 0,
            index: 0,
            node_hash: root,
            phase: Phase::Reveal,
            clocks: [params.clock; 2],
            last_move: now,
            moves: [0; 2],
        }
    }

    /// List size of each level.
    pub fn sizes(&self) -> &[u64] {
        &self.sizes
    }

    /// The deployment's parameters.
    pub fn params(&self) -> Params {
        self.params
    }

    /// What the game waits for.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The winner, once the game is over.
    pub fn winner(&self) -> Option<Role> {
        match self.phase {
            Phase::Over(role) => Some(role),
            _ => None,
        }
    }

    /// The side that must move now.
    pub fn to_move(&self) -> Option<Role> {
        match self.phase {
            Phase::Reveal | Phase::Step => Some(Role::Defender),
            Phase::Pick(_) => Some(Role::Challenger),
            Phase::Over(_) => None,
        }
    }

    /// Level being played (0 = the claim's boundary states).
    pub fn level(&self) -> usize {
        self.path.len()
    }

    /// Disputed step index at each finished level.
    pub fn path(&self) -> &[u64] {
        &self.path
    }

    /// Root of the list of each level entered so far (one more than
    /// [`Game::path`]): the claim's list, then each expansion's `sub_root`.
    pub fn roots(&self) -> &[Hash] {
        &self.roots
    }

    /// Root of the list being dissected.
    fn root(&self) -> Hash {
        *self
            .roots
            .last()
            .expect("a game starts with the claim's root")
    }

    /// Entries of the list being dissected.
    pub fn list_len(&self) -> u64 {
        self.sizes[self.level()]
    }

    /// Disputed node: depth below the current list's root and index at that depth.
    pub fn node(&self) -> (u32, u64) {
        (self.depth, self.index)
    }

    /// Seconds left on `role`'s clock, as of its last move.
    pub fn clock(&self, role: Role) -> u64 {
        self.clocks[role.slot()]
    }

    /// The first time at which `timeout` ends the game: the side to move
    /// has used up its clock. `None` once the game is over.
    pub fn timeout_at(&self) -> Option<u64> {
        let mover = self.to_move()?;
        Some(
            self.last_move
                .saturating_add(self.clocks[mover.slot()])
                .saturating_add(1),
        )
    }

    /// Moves made by `role`.
    pub fn moves(&self, role: Role) -> u32 {
        self.moves[role.slot()]
    }

    /// Number of descendants the next reveal must open, as a power of two.
    pub fn reveal_log2(&self) -> u32 {
        self.params.arity_log2.min(self.tree_depth() - self.depth)
    }

    /// Number of descendants an expansion reveals (the next level's root is
    /// opened like any reveal), as a power of two; 0 at the last level.
    pub fn expansion_reveal_log2(&self) -> u32 {
        self.sizes
            .get(self.level() + 1)
            .map_or(0, |&n| self.params.arity_log2.min(depth_for(n) as u32))
    }

    fn tree_depth(&self) -> u32 {
        depth_for(self.list_len()) as u32
    }

    fn is_last_level(&self) -> bool {
        self.level() + 1 == self.sizes.len()
    }

    /// Applies `action` by `who` at time `now`, or rejects it (state unchanged).
    pub fn apply<V: Vm>(
        &mut self,
        vm: &V,
        who: Role,
        action: &Action<V::State>,
        now: u64,
    ) -> Result<(), RuleError> {
        let mover = self.to_move().ok_or(RuleError::GameOver)?;
        let elapsed = now.saturating_sub(self.last_move);
        if let Action::Timeout = action {
            let left = self.clocks[mover.slot()];
            if elapsed <= left {
                return Err(RuleError::NotExpired {
                    role: mover,
                    left: left - elapsed,
                });
            }
            self.clocks[mover.slot()] = 0;
            self.phase = Phase::Over(mover.other());
            return Ok(());
        }
        if who != mover {
            return Err(RuleError::NotYourTurn(who));
        }
        if elapsed > self.clocks[who.slot()] {
            return Err(RuleError::ClockExpired(who));
        }
        let next = self.transition(vm, action)?;
        self.clocks[who.slot()] -= elapsed;
        self.last_move = now;
        self.moves[who.slot()] += 1;
        next.apply_to(self);
        Ok(())
    }

    /// Checks `action` against the phase and computes its effect.
    fn transition<V: Vm>(&self, vm: &V, action: &Action<V::State>) -> Result<Next, RuleError> {
        match (&self.phase, action) {
            (Phase::Reveal, Action::Reveal { children }) => {
                check_children(children, self.reveal_log2(), &self.node_hash)?;
                Ok(Next::Pick(children.clone()))
            }
            (Phase::Pick(children), Action::Pick { child }) => self.pick(children, *child),
            (
                Phase::Step,
                Action::Expand {
                    sub_root,
                    children,
                    end_proof,
                },
            ) if !self.is_last_level() && self.index > 0 => {
                self.check_end(end_proof)?;
                check_children(children, self.expansion_reveal_log2(), sub_root)?;
                Ok(Next::Descend(*sub_root, children.clone()))
            }
            (Phase::Step, Action::Bind { proof }) if self.index == 0 => {
                // Entry 0 of the expansion of step p is the parent's entry p - 1
                // (entry 0 is disputed only below level 0).
                let bound = self
                    .parent()
                    .is_some_and(|(parent, p)| proves(parent, p - 1, self.node_hash, proof));
                if !bound {
                    return Err(RuleError::BadProof("first entry"));
                }
                Ok(Next::Over(Role::Defender))
            }
            (
                Phase::Step,
                Action::Step {
                    pre,
                    post,
                    pre_proof,
                    end_proof,
                },
            ) if self.is_last_level() && self.index > 0 => {
                self.check_pre(vm.leaf_hash(pre), pre_proof)?;
                if vm.leaf_hash(post) != self.node_hash {
                    return Err(RuleError::BadProof("step output"));
                }
                self.check_end(end_proof)?;
                let mut path = self.path.clone();
                path.push(self.index);
                let honest = vm.verify_step(&path, &self.roots, pre, post);
                Ok(Next::Over(if honest {
                    Role::Defender
                } else {
                    Role::Challenger
                }))
            }
            (Phase::Over(_), _) => Err(RuleError::GameOver),
            (phase, action) => Err(RuleError::WrongAction {
                action: action_name(action),
                waiting: match phase {
                    Phase::Reveal => "a reveal",
                    Phase::Pick(_) => "a pick",
                    Phase::Step if self.index == 0 => "a binding of the first entry",
                    Phase::Step if self.is_last_level() => "a one-step",
                    Phase::Step => "an expansion",
                    Phase::Over(_) => "nothing",
                },
            }),
        }
    }

    fn pick(&self, children: &[Hash], child: u64) -> Result<Next, RuleError> {
        if child >= children.len() as u64 {
            return Err(RuleError::BadPick(child));
        }
        let k = self.reveal_log2();
        let depth = self.depth + k;
        let index = (self.index << k) + child;
        let below = self.tree_depth() - depth;
        // A subtree of padding only is not part of the list: nothing to dispute.
        if index << below >= self.list_len() {
            return Err(RuleError::BadPick(child));
        }
        // Level 0's first entry was checked against the claim's input; a
        // lower list's first entry may be disputed (answered by a binding).
        if below == 0 && index == 0 && self.level() == 0 {
            return Err(RuleError::AgreedEntry);
        }
        Ok(Next::Node {
            depth,
            index,
            hash: children[child as usize],
        })
    }

    /// The parent list (its size and root) and the disputed step in it,
    /// below level 0.
    fn parent(&self) -> Option<((u64, Hash), u64)> {
        let level = self.level().checked_sub(1)?;
        Some(((self.sizes[level], self.roots[level]), self.path[level]))
    }

    /// Below level 0, when the disputed entry is its list's last: the parent
    /// list and the entry there it must equal (the expansion ends at the
    /// parent step's output).
    fn end_binding(&self) -> Option<((u64, Hash), u64)> {
        self.parent().filter(|_| self.index + 1 == self.list_len())
    }

    /// Where the disputed entry must also be proven in the parent list (see
    /// [`Action::Expand`]'s `end_proof`); `None` when it need not be.
    pub fn end_index(&self) -> Option<u64> {
        self.end_binding().map(|(_, p)| p)
    }

    /// `proof` binds the disputed entry to the parent's when it must, and is
    /// empty otherwise.
    fn check_end(&self, proof: &[Hash]) -> Result<(), RuleError> {
        let ok = match self.end_binding() {
            Some((parent, p)) => proves(parent, p, self.node_hash, proof),
            None => proof.is_empty(),
        };
        if ok {
            Ok(())
        } else {
            Err(RuleError::BadProof("last entry"))
        }
    }

    /// The disputed step's input is entry `index - 1` of the current list.
    fn check_pre(&self, pre: Hash, proof: &[Hash]) -> Result<(), RuleError> {
        if proves((self.list_len(), self.root()), self.index - 1, pre, proof) {
            Ok(())
        } else {
            Err(RuleError::BadProof("step input"))
        }
    }
}

/// `leaf` is entry `index` of the list of `size` entries with root `root`.
fn proves((size, root): (u64, Hash), index: u64, leaf: Hash, proof: &[Hash]) -> bool {
    proof.len() == depth_for(size) && root_from_path(leaf, index, proof) == root
}

/// Revealed children: `2^k` of them, hashing to `node`.
fn check_children(children: &[Hash], k: u32, node: &Hash) -> Result<(), RuleError> {
    let expected = 1usize << k;
    if children.len() != expected {
        return Err(RuleError::ChildCount {
            expected,
            got: children.len(),
        });
    }
    if merkle_root(children) != *node {
        return Err(RuleError::ChildrenMismatch);
    }
    Ok(())
}

/// The most moves each side (defender, challenger) makes in a game over
/// lists of `sizes` entries at arity `2^arity_log2` that ends in the one-step
/// (a timeout only ends it sooner). Per level of tree depth `D`, the game
/// takes `ceil(D / arity_log2)` reveal–pick rounds; the first reveal of a
/// level below the first comes with the expansion, and the defender adds the
/// one-step.
pub fn max_moves(arity_log2: u32, sizes: &[u64]) -> [u32; 2] {
    let rounds: u32 = sizes
        .iter()
        .map(|&n| (depth_for(n) as u32).div_ceil(arity_log2.max(1)))
        .sum();
    [rounds + 1, rounds]
}

/// The effect of an accepted action.
enum Next {
    Pick(Vec<Hash>),
    Node { depth: u32, index: u64, hash: Hash },
    Descend(Hash, Vec<Hash>),
    Over(Role),
}

impl Next {
    fn apply_to(self, game: &mut Game) {
        match self {
            Self::Pick(children) => game.phase = Phase::Pick(children),
            Self::Node { depth, index, hash } => {
                (game.depth, game.index, game.node_hash) = (depth, index, hash);
                game.phase = if depth == game.tree_depth() {
                    Phase::Step
                } else {
                    Phase::Reveal
                };
            }
            Self::Descend(root, children) => {
                game.path.push(game.index);
                game.roots.push(root);
                (game.depth, game.index, game.node_hash) = (0, 0, root);
                game.phase = Phase::Pick(children);
            }
            Self::Over(winner) => game.phase = Phase::Over(winner),
        }
    }
}

fn action_name<S>(action: &Action<S>) -> &'static str {
    match action {
        Action::Reveal { .. } => "a reveal",
        Action::Pick { .. } => "a pick",
        Action::Expand { .. } => "an expansion",
        Action::Bind { .. } => "a binding",
        Action::Step { .. } => "a one-step",
        Action::Timeout => "a timeout",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::toy::{ToyState, ToyTrace, ToyVm};
    use crate::game::tree::Tree;
    use crate::game::view::Trace;

    fn start() -> (ToyVm, Tree, Game) {
        let vm = ToyVm::new(vec![9, 3]);
        let tree = Tree::new(&ToyTrace::honest(vm.clone(), 1).leaves(&[]));
        let game = Game::new(
            Params {
                arity_log2: 2,
                clock: 100,
            },
            vec![9, 3],
            tree.root(),
            0,
        );
        (vm, tree, game)
    }

    #[test]
    fn rejects_out_of_turn_wrong_and_forged_actions_without_changing_state() {
        let (vm, tree, mut game) = start();
        let before = game.clone();
        let pick: Action<ToyState> = Action::Pick { child: 0 };
        assert_eq!(
            game.apply(&vm, Role::Challenger, &pick, 1),
            Err(RuleError::NotYourTurn(Role::Challenger))
        );
        assert!(matches!(
            game.apply(&vm, Role::Defender, &pick, 1),
            Err(RuleError::WrongAction { .. })
        ));
        let few = Action::Reveal {
            children: tree.descendants(0, 0, 1),
        };
        assert_eq!(
            game.apply(&vm, Role::Defender, &few, 1),
            Err(RuleError::ChildCount {
                expected: 4,
                got: 2
            })
        );
        let mut forged = tree.descendants(0, 0, 2);
        forged.swap(0, 1);
        let forged = Action::Reveal { children: forged };
        assert_eq!(
            game.apply(&vm, Role::Defender, &forged, 1),
            Err(RuleError::ChildrenMismatch)
        );
        assert_eq!(game, before);
    }

    #[test]
    fn picks_of_padding_or_the_agreed_entry_are_rejected() {
        let (vm, tree, mut game) = start();
        // 9 entries: a depth-4 tree; children 1..3 of the root's 4 hold entries 4..15.
        let reveal = Action::Reveal {
            children: tree.descendants(0, 0, 2),
        };
        game.apply(&vm, Role::Defender, &reveal, 1).unwrap();
        assert_eq!(
            game.apply(&vm, Role::Challenger, &Action::Pick { child: 3 }, 2),
            Err(RuleError::BadPick(3))
        );
        game.apply(&vm, Role::Challenger, &Action::Pick { child: 0 }, 2)
            .unwrap();
        let reveal = Action::Reveal {
            children: tree.descendants(2, 0, 2),
        };
        game.apply(&vm, Role::Defender, &reveal, 3).unwrap();
        assert_eq!(
            game.apply(&vm, Role::Challenger, &Action::Pick { child: 0 }, 4),
            Err(RuleError::AgreedEntry)
        );
        game.apply(&vm, Role::Challenger, &Action::Pick { child: 1 }, 4)
            .unwrap();
        assert_eq!(game.phase(), &Phase::Step);
    }

    /// Plays the honest dissection down to step 1 of level 0.
    fn to_step_one(vm: &ToyVm, tree: &Tree, game: &mut Game) {
        // Root's child 0, then its child 1.
        for (t, (depth, child)) in [(0, 0), (2, 1)].into_iter().enumerate() {
            let children = tree.descendants(depth, 0, 2);
            let now = 2 * t as u64;
            game.apply(vm, Role::Defender, &Action::Reveal { children }, now + 1)
                .unwrap();
            game.apply(vm, Role::Challenger, &Action::Pick { child }, now + 2)
                .unwrap();
        }
        assert_eq!((game.phase(), game.node()), (&Phase::Step, (4, 1)));
    }

    #[test]
    fn a_disputed_first_entry_is_bound_and_a_disputed_last_entry_needs_its_end_proof() {
        let (vm, tree, mut game) = start();
        let trace = ToyTrace::honest(vm.clone(), 1);
        to_step_one(&vm, &tree, &mut game);
        let sub = Tree::new(&trace.leaves(&[1]));
        let children = sub.descendants(0, 0, 2);
        let expand = Action::Expand {
            sub_root: sub.root(),
            children,
            end_proof: vec![],
        };
        game.apply(&vm, Role::Defender, &expand, 5).unwrap();
        let expanded = game.clone();
        let step = |i: u64, end_proof: Vec<Hash>| Action::Step {
            pre: trace.step_pre(&[1, i]),
            post: trace.entry(&[1], i),
            pre_proof: sub.proof(i - 1),
            end_proof,
        };

        // Entry 0 of level 1: only a binding to level 0's entry 0 answers it.
        game.apply(&vm, Role::Challenger, &Action::Pick { child: 0 }, 6)
            .unwrap();
        assert_eq!(
            game.apply(&vm, Role::Defender, &step(1, vec![]), 7),
            Err(RuleError::WrongAction {
                action: "a one-step",
                waiting: "a binding of the first entry"
            })
        );
        let bind = |at: u64| Action::Bind {
            proof: tree.proof(at),
        };
        assert_eq!(
            game.apply(&vm, Role::Defender, &bind(1), 7),
            Err(RuleError::BadProof("first entry"))
        );
        game.apply(&vm, Role::Defender, &bind(0), 7).unwrap();
        assert_eq!(game.winner(), Some(Role::Defender));

        // Entry 1 is not the last: no end proof.
        let mut game = expanded.clone();
        game.apply(&vm, Role::Challenger, &Action::Pick { child: 1 }, 6)
            .unwrap();
        assert_eq!(game.end_index(), None);
        assert_eq!(
            game.apply(&vm, Role::Defender, &step(1, tree.proof(1)), 7),
            Err(RuleError::BadProof("last entry"))
        );
        assert!(matches!(
            game.apply(&vm, Role::Defender, &bind(0), 7),
            Err(RuleError::WrongAction { .. })
        ));

        // Entry 2, the last: it must be proven as level 0's entry 1.
        let mut game = expanded;
        game.apply(&vm, Role::Challenger, &Action::Pick { child: 2 }, 6)
            .unwrap();
        assert_eq!(game.end_index(), Some(1));
        for wrong in [vec![], tree.proof(2)] {
            assert_eq!(
                game.apply(&vm, Role::Defender, &step(2, wrong), 7),
                Err(RuleError::BadProof("last entry"))
            );
        }
        game.apply(&vm, Role::Defender, &step(2, tree.proof(1)), 7)
            .unwrap();
        assert_eq!(game.winner(), Some(Role::Defender));
    }

    #[test]
    fn an_expansion_reveals_the_next_levels_first_children() {
        let (vm, tree, mut game) = start();
        let trace = ToyTrace::honest(vm.clone(), 1);
        to_step_one(&vm, &tree, &mut game);
        // Level 1 has 3 entries: a depth-2 tree, opened whole at d = 2.
        assert_eq!(game.expansion_reveal_log2(), 2);
        let sub = Tree::new(&trace.leaves(&[1]));
        let expand = |children: Vec<Hash>| Action::<ToyState>::Expand {
            sub_root: sub.root(),
            children,
            end_proof: vec![],
        };
        let before = game.clone();
        assert_eq!(
            game.apply(&vm, Role::Defender, &expand(sub.descendants(0, 0, 1)), 5),
            Err(RuleError::ChildCount {
                expected: 4,
                got: 2
            })
        );
        let mut forged = sub.descendants(0, 0, 2);
        forged[3] = Hash::from([0xEE; 32]);
        assert_eq!(
            game.apply(&vm, Role::Defender, &expand(forged), 5),
            Err(RuleError::ChildrenMismatch)
        );
        assert_eq!(game, before);
        let children = sub.descendants(0, 0, 2);
        game.apply(&vm, Role::Defender, &expand(children.clone()), 5)
            .unwrap();
        assert_eq!(game.phase(), &Phase::Pick(children));
        assert_eq!(
            (game.level(), game.node(), game.path()),
            (1, (0, 0), &[1][..])
        );
        assert_eq!(game.roots(), &[tree.root(), sub.root()]);
        assert_eq!(
            (game.moves(Role::Defender), game.moves(Role::Challenger)),
            (3, 2)
        );
    }

    #[test]
    fn clocks_run_only_for_the_side_to_move_and_timeouts_need_an_empty_clock() {
        let (vm, tree, mut game) = start();
        let reveal = Action::Reveal {
            children: tree.descendants(0, 0, 2),
        };
        game.apply(&vm, Role::Defender, &reveal, 30).unwrap();
        assert_eq!(
            (game.clock(Role::Defender), game.clock(Role::Challenger)),
            (70, 100)
        );
        let timeout: Action<ToyState> = Action::Timeout;
        assert_eq!(
            game.timeout_at(),
            Some(131),
            "the challenger's 100 s from 30"
        );
        assert_eq!(
            game.apply(&vm, Role::Defender, &timeout, 130),
            Err(RuleError::NotExpired {
                role: Role::Challenger,
                left: 0
            })
        );
        assert_eq!(
            game.apply(&vm, Role::Challenger, &Action::Pick { child: 0 }, 131),
            Err(RuleError::ClockExpired(Role::Challenger))
        );
        game.apply(&vm, Role::Defender, &timeout, 131).unwrap();
        assert_eq!(game.winner(), Some(Role::Defender));
        assert_eq!(game.timeout_at(), None);
        assert_eq!(
            game.apply(&vm, Role::Defender, &timeout, 132),
            Err(RuleError::GameOver)
        );
    }
}
