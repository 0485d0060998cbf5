//! A Merkle tree over one list, for the players: node hashes at any position
//! and inclusion proofs. Same rules as `trace_vm::commit::merkle` (keccak256
//! nodes, padding with zero hashes to a power of two).
//!
//! A list too long to hold (the micro list of a large op has hundreds of
//! millions of states) is *streamed*: its leaves come from a [`LeafSource`]
//! that recomputes any range on demand; the tree keeps only the nodes from
//! a block height up and rebuilds one block's lower nodes when asked for them.

use std::sync::{Arc, Mutex};

use trace_vm::commit::Hash;
use trace_vm::commit::merkle::{ZERO_HASH, depth_for, merkle_root, node, zero_hash};

/// Recomputes the leaf hashes of a list's real entries on demand.
pub trait LeafSource: Send + Sync {
    /// Calls `sink` with the leaf hash of every entry in `lo..hi`, in order
    /// (`hi` at most the number of real entries).
    fn leaves(&self, lo: u64, hi: u64, sink: &mut dyn FnMut(Hash));
}

/// Leaves below this height are recomputed rather than stored: a streamed
/// tree holds `real / 2^BLOCK_LOG2` nodes and answers a proof by hashing
/// one block of `2^BLOCK_LOG2` leaves.
const BLOCK_LOG2: usize = 12;

/// One block of a streamed tree: its index and its `levels[h]` for `h < BLOCK_LOG2`.
type Block = (u64, Vec<Vec<Hash>>);

/// The lower levels of a streamed tree: the source, and the last block asked for.
#[derive(Clone)]
struct Stream {
    source: Arc<dyn LeafSource>,
    /// The last block rebuilt.
    last: Arc<Mutex<Option<Block>>>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}

/// A Merkle tree over one game list: `real` leaves followed by copies of the
/// last one up to the list's size, then zero hashes to a power of two. Only
/// the nodes over the real leaves are stored; nodes over the repeated tail
/// have closed forms, so a list padded to a huge level size costs what its
/// real entries cost.
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[h]`: the complete height-`h` nodes over real leaves only
    /// (empty below the block height of a streamed tree).
    levels: Vec<Vec<Hash>>,
    /// Where a streamed tree's lower levels come from.
    stream: Option<Stream>,
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
        let last = real.last().copied().unwrap_or(ZERO_HASH);
        Self::assemble(vec![real.to_vec()], real.len() as u64, last, size, None)
    }

    /// The tree over the `real` entries of `source` (at least one), the last
    /// one repeated up to `size` entries. The leaves are hashed once, on
    /// every core, and only the nodes from the block height up are kept.
    pub fn streamed(source: Arc<dyn LeafSource>, real: u64, size: u64) -> Self {
        let real = real.max(1);
        let blocks = real >> BLOCK_LOG2;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let per_thread = blocks.div_ceil(threads).max(1);
        let block_roots: Vec<Hash> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..blocks)
                .step_by(per_thread as usize)
                .map(|first| {
                    let source = &source;
                    let end = (first + per_thread).min(blocks);
                    scope.spawn(move || {
                        let mut roots = Vec::with_capacity((end - first) as usize);
                        let mut block = Vec::with_capacity(1 << BLOCK_LOG2);
                        source.leaves(first << BLOCK_LOG2, end << BLOCK_LOG2, &mut |h| {
                            block.push(h);
                            if block.len() == 1 << BLOCK_LOG2 {
                                roots.push(merkle_root(&block));
                                block.clear();
                            }
                        });
                        roots
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("a leaf hashing thread panicked"))
                .collect()
        });
        let mut last = ZERO_HASH;
        source.leaves(real - 1, real, &mut |h| last = h);
        let mut levels = vec![Vec::new(); BLOCK_LOG2];
        levels.push(block_roots);
        let stream = Stream {
            source,
            last: Arc::new(Mutex::new(None)),
        };
        Self::assemble(levels, real, last, size, Some(stream))
    }

    /// Completes `levels` (complete nodes over the real leaves, from some
    /// height up) to the root and adds the closed forms of the padding.
    fn assemble(
        mut levels: Vec<Vec<Hash>>,
        real: u64,
        last: Hash,
        size: u64,
        stream: Option<Stream>,
    ) -> Self {
        let size = size.max(real);
        let depth = depth_for(size) as u32;
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().expect("levels is never empty");
            let up = below.chunks_exact(2).map(|p| node(&p[0], &p[1])).collect();
            levels.push(up);
        }
        let mut repeat = vec![last];
        for h in 0..depth as usize {
            repeat.push(node(&repeat[h], &repeat[h]));
        }
        Self {
            levels,
            stream,
            real,
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
            match self.levels.get(h).and_then(|l| l.get(index as usize)) {
                Some(&hash) => hash,
                None => self.block_node(h, index),
            }
        } else if lo >= self.size {
            zero_hash(h)
        } else if lo >= self.real && hi <= self.size {
            self.repeat[h]
        } else {
            node(&self.at(h - 1, 2 * index), &self.at(h - 1, 2 * index + 1))
        }
    }

    /// A node below the block height of a streamed tree, from its block's
    /// leaves (the block last asked for is kept: a proof or a reveal asks
    /// for several nodes of one block).
    fn block_node(&self, h: usize, index: u64) -> Hash {
        let Some(stream) = &self.stream else {
            unreachable!("a tree without a stream stores every complete node")
        };
        let block = index >> (BLOCK_LOG2 - h);
        let mut last = stream.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_ref().is_none_or(|(b, _)| *b != block) {
            let lo = block << BLOCK_LOG2;
            let hi = ((block + 1) << BLOCK_LOG2).min(self.real);
            let mut leaves = Vec::with_capacity((hi - lo) as usize);
            stream.source.leaves(lo, hi, &mut |hash| leaves.push(hash));
            let mut levels = vec![leaves];
            for _ in 1..BLOCK_LOG2 {
                let below = levels.last().expect("levels is never empty");
                let up = below.chunks_exact(2).map(|p| node(&p[0], &p[1])).collect();
                levels.push(up);
            }
            *last = Some((block, levels));
        }
        let (_, levels) = last.as_ref().expect("the block was just rebuilt");
        let first = block << (BLOCK_LOG2 - h);
        levels[h][(index - first) as usize]
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

    /// Leaf `i` is the hash of `i`; counts how many leaves were recomputed.
    struct Counting(std::sync::atomic::AtomicU64);

    impl LeafSource for Counting {
        fn leaves(&self, lo: u64, hi: u64, sink: &mut dyn FnMut(Hash)) {
            self.0
                .fetch_add(hi - lo, std::sync::atomic::Ordering::Relaxed);
            (lo..hi).for_each(|i| sink(keccak256(&i.to_le_bytes())));
        }
    }

    #[test]
    fn a_streamed_tree_equals_the_built_one_and_keeps_only_upper_levels() {
        let block = 1u64 << BLOCK_LOG2;
        for real in [1, 5, block - 1, block, 2 * block + 1, 3 * block + 77] {
            let leaves: Vec<Hash> = (0..real).map(|i| keccak256(&i.to_le_bytes())).collect();
            for size in [real, real + 3, 4 * block + 5] {
                let built = Tree::padded(&leaves, size);
                let source = Arc::new(Counting(Default::default()));
                let streamed = Tree::streamed(source.clone(), real, size);
                assert_eq!(streamed.root(), built.root(), "real {real}, size {size}");
                let stored: usize = streamed.levels.iter().map(Vec::len).sum();
                assert!(
                    stored as u64 <= real / block * 2 + 1,
                    "stored {stored} nodes"
                );
                let samples = [0, 1, real / 2, real - 1, real, size - 1];
                for i in samples.into_iter().filter(|&i| i < size) {
                    assert_eq!(streamed.proof(i), built.proof(i), "real {real}, leaf {i}");
                }
                for depth in 0..built.depth().saturating_sub(1) {
                    let index = (real - 1) >> (built.depth() - depth);
                    assert_eq!(
                        streamed.descendants(depth, index, 1),
                        built.descendants(depth, index, 1)
                    );
                }
                // One pass to build, then at most one block per question.
                let hashed = source.0.load(std::sync::atomic::Ordering::Relaxed);
                let questions = (samples.len() as u32 + built.depth()) as u64;
                assert!(
                    hashed <= real + 1 + questions * block,
                    "hashed {hashed} leaves"
                );
            }
        }
    }
}
