//! A fully built Merkle tree over one list, for the players: node hashes at
//! any position and inclusion proofs. Same rules as `trace_vm::commit::merkle`
//! (keccak256 nodes, padding with zero hashes to a power of two).

use trace_vm::commit::Hash;
use trace_vm::commit::merkle::{ZERO_HASH, depth_for, node};

/// Every node of a padded Merkle tree; `levels[0]` are the leaves.
#[derive(Debug, Clone)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// Builds the tree over `leaves`, padded to the next power of two.
    pub fn new(leaves: &[Hash]) -> Self {
        let depth = depth_for(leaves.len() as u64);
        let mut level = leaves.to_vec();
        level.resize(1 << depth, ZERO_HASH);
        let mut levels = vec![level];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().expect("levels is never empty");
            let up = below.chunks(2).map(|p| node(&p[0], &p[1])).collect();
            levels.push(up);
        }
        Self { levels }
    }

    /// Depth of the tree (leaves are at this depth below the root).
    pub fn depth(&self) -> u32 {
        (self.levels.len() - 1) as u32
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.levels.last().expect("levels is never empty")[0]
    }

    /// The node `index` at `depth` below the root.
    pub fn node(&self, depth: u32, index: u64) -> Hash {
        self.levels[(self.depth() - depth) as usize][index as usize]
    }

    /// The `2^k` descendants of node (`depth`, `index`) at `depth + k`.
    pub fn descendants(&self, depth: u32, index: u64, k: u32) -> Vec<Hash> {
        let below = &self.levels[(self.depth() - depth - k) as usize];
        let first = (index << k) as usize;
        below[first..first + (1 << k)].to_vec()
    }

    /// Sibling path of leaf `index`, bottom-up.
    pub fn proof(&self, index: u64) -> Vec<Hash> {
        let top = self.levels.len() - 1;
        self.levels[..top]
            .iter()
            .enumerate()
            .map(|(height, level)| level[((index >> height) ^ 1) as usize])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_vm::commit::keccak256;
    use trace_vm::commit::merkle::{merkle_root, root_from_path};

    #[test]
    fn agrees_with_the_commitment_rules() {
        for n in 1..40u64 {
            let leaves: Vec<Hash> = (0..n).map(|i| keccak256(&i.to_le_bytes())).collect();
            let tree = Tree::new(&leaves);
            assert_eq!(tree.root(), merkle_root(&leaves), "n = {n}");
            for i in 0..n {
                assert_eq!(
                    root_from_path(leaves[i as usize], i, &tree.proof(i)),
                    tree.root()
                );
            }
            if tree.depth() >= 2 {
                let kids = tree.descendants(0, 0, 2);
                assert_eq!(merkle_root(&kids), tree.root());
            }
        }
    }
}
