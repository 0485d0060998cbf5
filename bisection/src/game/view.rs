//! What the game needs from a VM: leaf hashes, level sizes and the one-step.

use trace_vm::commit::Hash;

/// A computation as the game sees it: a hierarchy of lists of states.
///
/// `path` names a list: the empty path is level 0; `[i]` is the expansion of
/// step `i` of level 0 (from entry `i - 1` to entry `i`), `[i, j]` the
/// expansion of step `j` of that list, and so on.
pub trait Vm {
    /// One entry of a list (a boundary state, an op output, a value).
    type State: Clone + Eq + std::fmt::Debug;

    /// Number of entries in each level's lists (level 0 first). Every list
    /// has at least two entries: its agreed input and its output.
    fn level_sizes(&self) -> &[u64];

    /// The leaf committed for a state.
    fn leaf_hash(&self, state: &Self::State) -> Hash;

    /// The verifier's one-step: re-executes the primitive at `path` (one index
    /// per level) on `pre` and says whether `post` is its result. `roots` are
    /// the roots of the lists the game went through, one per level (`roots[0]`
    /// the claim's list, `roots[k]` the expansion of step `path[k - 1]`), so
    /// `roots.len() == path.len()`: what the verifier proves the step's
    /// operands against.
    fn verify_step(
        &self,
        path: &[u64],
        roots: &[Hash],
        pre: &Self::State,
        post: &Self::State,
    ) -> bool;
}

/// A player's local trace: the entries of any list it may be asked about.
pub trait Trace {
    /// The VM the trace belongs to.
    type Vm: Vm;

    /// The VM.
    fn vm(&self) -> &Self::Vm;

    /// All entries of the list at `path` (see [`Vm`]).
    fn list(&self, path: &[u64]) -> Vec<<Self::Vm as Vm>::State>;

    /// Leaf hashes of the list at `path`.
    fn leaves(&self, path: &[u64]) -> Vec<Hash> {
        let vm = self.vm();
        self.list(path).iter().map(|s| vm.leaf_hash(s)).collect()
    }
}
