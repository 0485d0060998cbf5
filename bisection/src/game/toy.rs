//! A toy VM for testing the game logic alone: a state is a `u64`, each step
//! of a level is a fixed number of sub-steps of the next level, and a step of
//! the last level is one "primitive" (a hash-like mix of the state and the
//! step's path). Faults can be injected at any primitive.

use std::collections::BTreeMap;

use trace_vm::commit::{Hash, keccak256};

use super::view::{Trace, Vm};

/// The toy VM: only the list sizes per level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToyVm {
    sizes: Vec<u64>,
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

    /// The primitive at `path` applied to `state`.
    pub fn primitive(path: &[u64], state: u64) -> u64 {
        path.iter().fold(state ^ 0x9e37_79b9_7f4a_7c15, |h, &p| {
            (h ^ p).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(17)
        })
    }
}

impl Vm for ToyVm {
    type State = u64;

    fn level_sizes(&self) -> &[u64] {
        &self.sizes
    }

    fn leaf_hash(&self, state: &u64) -> Hash {
        keccak256(&state.to_be_bytes())
    }

    fn verify_step(&self, path: &[u64], _roots: &[Hash], pre: &u64, post: &u64) -> bool {
        Self::primitive(path, *pre) == *post
    }
}

/// One party's run of the toy VM: honest, or with faults at chosen primitives.
#[derive(Debug, Clone)]
pub struct ToyTrace {
    vm: ToyVm,
    input: u64,
    /// Full primitive path -> XOR mask applied to that primitive's result.
    faults: BTreeMap<Vec<u64>, u64>,
}

impl ToyTrace {
    /// An honest run on `input`.
    pub fn honest(vm: ToyVm, input: u64) -> Self {
        Self {
            vm,
            input,
            faults: BTreeMap::new(),
        }
    }

    /// The same run with the primitive at `path` (one step index per level,
    /// each in `1..size`) corrupted by XOR with a non-zero `mask`.
    pub fn with_fault(mut self, path: Vec<u64>, mask: u64) -> Self {
        assert!(mask != 0 && path.len() == self.vm.sizes.len());
        self.faults.insert(path, mask);
        self
    }

    /// Runs step `path` (a prefix of a primitive path) from `state`.
    fn run_step(&self, path: &mut Vec<u64>, state: u64) -> u64 {
        let level = path.len();
        if level == self.vm.sizes.len() {
            let mask = self.faults.get(path.as_slice()).copied().unwrap_or(0);
            return ToyVm::primitive(path, state) ^ mask;
        }
        (1..self.vm.sizes[level]).fold(state, |s, j| {
            path.push(j);
            let next = self.run_step(path, s);
            path.pop();
            next
        })
    }
}

impl Trace for ToyTrace {
    type Vm = ToyVm;

    fn vm(&self) -> &ToyVm {
        &self.vm
    }

    fn list(&self, path: &[u64]) -> Vec<u64> {
        let pre = match path.split_last() {
            None => self.input,
            Some((&step, parent)) => self.list(parent)[step as usize - 1],
        };
        let mut prefix = path.to_vec();
        let mut entries = vec![pre];
        for j in 1..self.vm.sizes[path.len()] {
            prefix.push(j);
            let next = self.run_step(&mut prefix, *entries.last().expect("starts with pre"));
            prefix.pop();
            entries.push(next);
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansions_link_to_their_step() {
        let vm = ToyVm::new(vec![4, 3, 5]);
        let trace = ToyTrace::honest(vm, 7).with_fault(vec![2, 1, 3], 0x10);
        let top = trace.list(&[]);
        for i in 1..4u64 {
            let sub = trace.list(&[i]);
            assert_eq!(sub.first(), Some(&top[i as usize - 1]));
            assert_eq!(sub.last(), Some(&top[i as usize]));
        }
        let honest = ToyTrace::honest(ToyVm::new(vec![4, 3, 5]), 7).list(&[]);
        assert_eq!(honest[..2], top[..2], "before the fault the runs agree");
        assert_ne!(
            honest[2], top[2],
            "the fault shows at the step that contains it"
        );
    }
}
