//! A toy VM for testing the game logic alone: a value is a `u64`, each step
//! of a level is a fixed number of sub-steps of the next level, and a step of
//! the last level is one "primitive": a hash-like mix of the value, the step's
//! path and the first entry of every list on that path. Faults can be
//! injected at any primitive.
//!
//! Those first entries are operands read from committed lists, as the real
//! machine reads an op's inputs from the op sub-trace (docs/SPEC.md 6.8): a
//! state of a last-level list carries each with its proof against its list's
//! root, and the one-step checks them against the roots the game passes, so
//! a game that passed wrong roots would fail honest steps. (Mixing a root
//! itself into the primitive is not possible: every list on the path commits
//! the primitive's own result.)

use std::collections::BTreeMap;

use trace_vm::commit::merkle::root_from_path;
use trace_vm::commit::{Hash, keccak256};

use super::tree::Tree;
use super::view::{Trace, Vm};

/// The toy VM: only the list sizes per level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToyVm {
    sizes: Vec<u64>,
}

/// One entry of a toy list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToyState {
    /// The value; the only part a list commits (see [`ToyVm::leaf`]).
    pub value: u64,
    /// In a last-level list, the first entry of each list on its path, level
    /// 0 first: the operands of a step out of this state. Empty in the lists
    /// of other levels, whose steps are expanded rather than verified.
    pub operands: Vec<Operand>,
}

/// The first entry of one list, proven against the list's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operand {
    /// The entry's value.
    pub value: u64,
    /// Siblings of entry 0 in the list's tree, bottom up.
    pub proof: Vec<Hash>,
}

impl ToyVm {
    /// A VM whose level-`l` lists have `sizes[l]` entries (each at least 2).
    pub fn new(sizes: Vec<u64>) -> Self {
        assert!(
            !sizes.is_empty() && sizes.iter().all(|&n| n >= 2),
            "bad toy sizes {sizes:?}"
        );
        Self { sizes }
    }

    /// The primitive at `path` applied to `value`, given `firsts[k]`, the
    /// first entry of the level-`k` list on the path.
    pub fn primitive(path: &[u64], firsts: &[u64], value: u64) -> u64 {
        path.iter()
            .zip(firsts)
            .fold(value ^ 0x9e37_79b9_7f4a_7c15, |h, (&p, &f)| {
                (h ^ p ^ f)
                    .wrapping_mul(0x0000_0100_0000_01b3)
                    .rotate_left(17)
            })
    }

    /// The leaf committed for a value: keccak256 of its 8 big-endian bytes.
    pub fn leaf(value: u64) -> Hash {
        keccak256(&value.to_be_bytes())
    }
}

impl Vm for ToyVm {
    type State = ToyState;

    fn level_sizes(&self) -> &[u64] {
        &self.sizes
    }

    fn leaf_hash(&self, state: &ToyState) -> Hash {
        Self::leaf(state.value)
    }

    /// Right when every operand opens at entry 0 of its level's root and the
    /// primitive on them gives `post`. Proof lengths are not checked, as the
    /// Solidity mirror (which does not know the sizes) cannot: a leaf hashes
    /// 8 bytes and an inner node 64, so no proof can pass one off as the other.
    fn verify_step(&self, path: &[u64], roots: &[Hash], pre: &ToyState, post: &ToyState) -> bool {
        if roots.len() != path.len() || pre.operands.len() != path.len() {
            return false;
        }
        let proven = pre
            .operands
            .iter()
            .zip(roots)
            .all(|(op, root)| root_from_path(Self::leaf(op.value), 0, &op.proof) == *root);
        let firsts: Vec<u64> = pre.operands.iter().map(|op| op.value).collect();
        proven && Self::primitive(path, &firsts, pre.value) == post.value
    }
}

/// One party's run of the toy VM: honest, or with faults at chosen primitives.
#[derive(Debug, Clone)]
pub struct ToyTrace {
    vm: ToyVm,
    input: u64,
    /// Full primitive path -> XOR mask applied to that primitive's result.
    faults: BTreeMap<Vec<u64>, u64>,
    /// (list path, entry) -> XOR mask applied to that entry alone: a list
    /// that disagrees with its parent (or its own steps) without the error
    /// reaching any other list.
    entry_faults: BTreeMap<(Vec<u64>, u64), u64>,
}

impl ToyTrace {
    /// An honest run on `input`.
    pub fn honest(vm: ToyVm, input: u64) -> Self {
        Self {
            vm,
            input,
            faults: BTreeMap::new(),
            entry_faults: BTreeMap::new(),
        }
    }

    /// The same run with the primitive at `path` (one step index per level,
    /// each in `1..size`) corrupted by XOR with a non-zero `mask`.
    pub fn with_fault(mut self, path: Vec<u64>, mask: u64) -> Self {
        assert!(mask != 0 && path.len() == self.vm.sizes.len());
        self.faults.insert(path, mask);
        self
    }

    /// The same run with entry `index` of the list at `path` corrupted by
    /// XOR with a non-zero `mask`, after the list was computed: the entries
    /// after it and the expansion of the step that produced it stay right
    /// (only the expansion of the next step starts from the corrupted entry).
    pub fn with_entry_fault(mut self, path: Vec<u64>, index: u64, mask: u64) -> Self {
        assert!(mask != 0 && path.len() < self.vm.sizes.len());
        assert!(index < self.vm.sizes[path.len()]);
        self.entry_faults.insert((path, index), mask);
        self
    }

    /// Runs step `path` (a prefix of a primitive path) from `state`; `firsts`
    /// holds the first entry of each list down to the step's own.
    fn run_step(&self, path: &mut Vec<u64>, firsts: &mut Vec<u64>, state: u64) -> u64 {
        let level = path.len();
        if level == self.vm.sizes.len() {
            let mask = self.faults.get(path.as_slice()).copied().unwrap_or(0);
            return ToyVm::primitive(path, firsts, state) ^ mask;
        }
        firsts.push(state);
        let out = (1..self.vm.sizes[level]).fold(state, |s, j| {
            path.push(j);
            let next = self.run_step(path, firsts, s);
            path.pop();
            next
        });
        firsts.pop();
        out
    }

    /// The values of the list at `path`, and the first value of each list
    /// from level 0 down to it.
    fn run_list(&self, path: &[u64]) -> (Vec<u64>, Vec<u64>) {
        let (pre, mut firsts) = match path.split_last() {
            None => (self.input, Vec::new()),
            Some((&step, parent)) => {
                let (values, firsts) = self.run_list(parent);
                (values[step as usize - 1], firsts)
            }
        };
        firsts.push(pre);
        let mut prefix = path.to_vec();
        let mut values = vec![pre];
        for j in 1..self.vm.sizes[path.len()] {
            prefix.push(j);
            let last = *values.last().expect("starts with pre");
            let next = self.run_step(&mut prefix, &mut firsts, last);
            prefix.pop();
            values.push(next);
        }
        for ((_, index), mask) in self
            .entry_faults
            .range((path.to_vec(), 0)..=(path.to_vec(), u64::MAX))
        {
            values[*index as usize] ^= mask;
        }
        (values, firsts)
    }

    /// The first entry of each list on the way to the last-level list at
    /// `path`, with its proof against that list's root.
    fn operands(&self, path: &[u64]) -> Vec<Operand> {
        (0..=path.len())
            .map(|k| {
                let (values, _) = self.run_list(&path[..k]);
                let leaves: Vec<Hash> = values.iter().map(|&v| ToyVm::leaf(v)).collect();
                Operand {
                    value: values[0],
                    proof: Tree::new(&leaves).proof(0),
                }
            })
            .collect()
    }
}

impl Trace for ToyTrace {
    type Vm = ToyVm;

    fn vm(&self) -> &ToyVm {
        &self.vm
    }

    fn list(&self, path: &[u64]) -> Vec<ToyState> {
        let (values, _) = self.run_list(path);
        let operands = if path.len() + 1 == self.vm.sizes.len() {
            self.operands(path)
        } else {
            Vec::new()
        };
        values
            .into_iter()
            .map(|value| ToyState {
                value,
                operands: operands.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(trace: &ToyTrace, path: &[u64]) -> Vec<u64> {
        trace.list(path).iter().map(|s| s.value).collect()
    }

    #[test]
    fn expansions_link_to_their_step() {
        let vm = ToyVm::new(vec![4, 3, 5]);
        let trace = ToyTrace::honest(vm, 7).with_fault(vec![2, 1, 3], 0x10);
        let top = values(&trace, &[]);
        for i in 1..4u64 {
            let sub = values(&trace, &[i]);
            assert_eq!(sub.first(), Some(&top[i as usize - 1]));
            assert_eq!(sub.last(), Some(&top[i as usize]));
        }
        let honest = values(&ToyTrace::honest(ToyVm::new(vec![4, 3, 5]), 7), &[]);
        assert_eq!(honest[..2], top[..2], "before the fault the runs agree");
        assert_ne!(
            honest[2], top[2],
            "the fault shows at the step that contains it"
        );
    }

    #[test]
    fn a_step_verifies_only_against_the_roots_of_its_lists() {
        let vm = ToyVm::new(vec![4, 3, 5]);
        let trace = ToyTrace::honest(vm.clone(), 7);
        let path = [2, 1, 3];
        let roots: Vec<Hash> = (0..3)
            .map(|k| Tree::new(&trace.leaves(&path[..k])).root())
            .collect();
        let list = trace.list(&path[..2]);
        let (pre, post) = (&list[2], &list[3]);
        assert!(vm.verify_step(&path, &roots, pre, post));
        for k in 0..3 {
            let mut wrong = roots.clone();
            wrong[k][0] ^= 1;
            assert!(!vm.verify_step(&path, &wrong, pre, post), "root {k}");
        }
        let mut swapped = roots.clone();
        swapped.swap(1, 2);
        assert!(!vm.verify_step(&path, &swapped, pre, post));
        assert!(!vm.verify_step(&path, &roots[..2], pre, post));
        let bad_post = ToyState {
            value: post.value ^ 1,
            operands: Vec::new(),
        };
        assert!(!vm.verify_step(&path, &roots, pre, &bad_post));
    }
}
