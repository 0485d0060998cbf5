//! A fully built Merkle tree over one list, for the players: node hashes at
//! any position and inclusion proofs. Same rules as `trace_vm::commit::merkle`
//! (keccak256 nodes, padding with zero hashes to a power of two).

use trace_vm::commit::Hash;
use trace_vm::commit::merkle::{ZERO_HASH, depth_for, node, zero_hash};

/// A Merkle tree over one game list: `real` leaves followed by copies of the
/// last one up to the list's size, then zero hashes to a power of two. Only
/// the nodes over the real leaves are stored; nodes over the repeated tail
/// have closed forms, so a list padded to a huge level size costs what its
/// real entries cost.
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[h]`: the complete height-`h` nodes over real leaves only.
    levels: Vec<Vec<Hash>>,
    real: u64,
    size: u64,
    depth: u32,
    /// `repeat[h]`: a height-`h` subtree of copies of the last real leaf.
    repeat: Vec<Hash>,
}

impl Tree {
    /// Builds the tree over `leaves`, padded to the next power of two.
    pub fn new(leaves: &[Hash]) -> Self {
        Self::padded(leaves, leaves.len() as u64)
    }

    /// Builds the tree over `real` leaves repeated (the last one) up to
    /// `size` entries (at least `real.len()`).
    pub fn padded(real: &[Hash], size: u64) -> Self {
        let size = size.max(real.len() as u64);
        let depth = depth_for(size) as u32;
        let mut levels = vec![real.to_vec()];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().expect("levels is never empty");
            let up = below.chunks_exact(2).map(|p| node(&p[0], &p[1])).collect();
            levels.push(up);
        }
        let mut repeat = vec![real.last().copied().unwrap_or(ZERO_HASH)];
        for h in 0..depth as usize {
            repeat.push(node(&repeat[h], &repeat[h]));
        }
        Self {
            levels,
            real: real.len() as u64,
            size,
            depth,
            repeat,
        }
    }

    /// Depth of the tree (leaves are at this depth below the root).
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.node(0, 0)
    }

    /// The node `index` at `depth` below the root.
    pub fn node(&self, depth: u32, index: u64) -> Hash {
        self.at((self.depth - depth) as usize, index)
    }

    /// The node `index` at height `h` above the leaves.
    fn at(&self, h: usize, index: u64) -> Hash {
        let (lo, hi) = (index << h, (index + 1) << h);
        if hi <= self.real {
            self.levels[h][index as usize]
        } else if lo >= self.size {
            zero_hash(h)
        } else if lo >= self.real && hi <= self.size {
            self.repeat[h]
        } else {
            node(&self.at(h - 1, 2 * index), &self.at(h - 1, 2 * index + 1))
        }
    }

    /// The `2^k` descendants of node (`depth`, `index`) at `depth + k`.
    pub fn descendants(&self, depth: u32, index: u64, k: u32) -> Vec<Hash> {
        let first = index << k;
        (first..first + (1 << k))
            .map(|i| self.node(depth + k, i))
            .collect()
    }

    /// Sibling path of leaf `index`, bottom-up.
    pub fn proof(&self, index: u64) -> Vec<Hash> {
        (0..self.depth as usize)
            .map(|h| self.at(h, (index >> h) ^ 1))
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
            for size in [n, n + 1, 2 * n + 3] {
                let mut all = leaves.clone();
                all.resize(size as usize, leaves[n as usize - 1]);
                let full = Tree::new(&all);
                let padded = Tree::padded(&leaves, size);
                assert_eq!(padded.root(), full.root(), "n = {n}, size = {size}");
                for i in 0..size {
                    assert_eq!(
                        padded.proof(i),
                        full.proof(i),
                        "n = {n}, size = {size}, leaf {i}"
                    );
                }
            }
            if tree.depth() >= 2 {
                let kids = tree.descendants(0, 0, 2);
                assert_eq!(merkle_root(&kids), tree.root());
            }
        }
    }
}
