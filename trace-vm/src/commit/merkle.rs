//! Merkle tree rules shared by every Refute commitment.
//!
//! - hash: keccak256 (Ethereum's, not NIST SHA3-256);
//! - internal node = keccak256(left ‖ right) (64 bytes, no sorting);
//! - a list of n leaf hashes is padded on the right with [`ZERO_HASH`]
//!   (32 zero bytes, used as a hash, not hashed) to 2^d leaves,
//!   d = ceil(log2(max(n, 1))); for n = 1 the root is the leaf hash itself.

use std::sync::OnceLock;

use sha3::Digest;

/// The Keccak-256 hasher behind every commitment: CRYPTOGAMS assembly
/// (`keccak-asm`, as alloy uses) on the architectures that crate is built
/// and tested for, RustCrypto's portable `sha3` elsewhere. Both are the same
/// function (a test compares them); the assembly is 1.3x faster on x86_64,
/// 2.5x when the crate is built with `-C target-cpu=native`, under which
/// LLVM's vectorization of the portable code slows it down.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) use keccak_asm::Keccak256 as Keccak;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) use sha3::Keccak256 as Keccak;

/// A 32-byte keccak256 hash.
pub type Hash = [u8; 32];

/// The padding leaf: 32 zero bytes.
pub const ZERO_HASH: Hash = [0u8; 32];

/// keccak256 of `data`.
#[inline]
pub fn keccak256(data: &[u8]) -> Hash {
    Keccak::digest(data).into()
}

/// An internal node: keccak256(left ‖ right).
#[inline]
pub fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Keccak::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// keccak256 as an `rs_merkle` hasher (nodes are keccak256(left ‖ right)).
#[derive(Clone, Copy, Debug, Default)]
pub struct Keccak256;

impl rs_merkle::Hasher for Keccak256 {
    type Hash = Hash;
    fn hash(data: &[u8]) -> Hash {
        keccak256(data)
    }
    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        // Refute trees are always padded to a power of two, so `right` is
        // always present; `None` keeps rs_merkle's promotion rule.
        match right {
            Some(r) => node(left, r),
            None => *left,
        }
    }
}

/// Root of a full tree of zero leaves: Z[0] = ZERO_HASH, Z[h+1] = node(Z[h], Z[h]).
pub fn zero_hash(height: usize) -> Hash {
    static Z: OnceLock<Vec<Hash>> = OnceLock::new();
    let z = Z.get_or_init(|| {
        let mut v = vec![ZERO_HASH];
        for h in 0..64 {
            let n = node(&v[h], &v[h]);
            v.push(n);
        }
        v
    });
    z[height.min(64)]
}

/// ceil(log2(max(n, 1))): the depth of the padded tree over n leaves.
pub fn depth_for(n: u64) -> usize {
    if n <= 1 {
        0
    } else {
        (64 - (n - 1).leading_zeros()) as usize
    }
}

/// Incremental Merkle root over a stream of leaf hashes, O(log n) memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerkleAccumulator {
    /// Pending complete subtrees, heights strictly decreasing from bottom to top.
    stack: Vec<(usize, Hash)>,
    count: u64,
}

impl MerkleAccumulator {
    /// Empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves pushed.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// True when no leaf was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes held (for memory accounting): the pending stack.
    pub fn held_bytes(&self) -> usize {
        self.stack.capacity() * std::mem::size_of::<(usize, Hash)>()
    }

    /// The pending complete subtrees' roots, largest first: one per set bit
    /// of [`len`](Self::len), from the highest bit down (the frontier a
    /// one-step state commits to).
    pub fn frontier(&self) -> Vec<Hash> {
        self.stack.iter().map(|&(_, h)| h).collect()
    }

    /// The accumulator after `count` leaves whose [`frontier`](Self::frontier)
    /// is `roots`; `None` when `roots` does not have one root per set bit.
    pub fn from_frontier(count: u64, roots: &[Hash]) -> Option<Self> {
        if count.count_ones() as usize != roots.len() {
            return None;
        }
        let heights = (0..64usize).rev().filter(|&b| (count >> b) & 1 == 1);
        Some(Self {
            stack: heights.zip(roots.iter().copied()).collect(),
            count,
        })
    }

    /// Whether `leaf` is leaf `index` (< len) given its `siblings` inside the
    /// complete subtree of the frontier that holds it.
    pub fn proves(&self, index: u64, leaf: Hash, siblings: &[Hash]) -> bool {
        let mut start = 0u64;
        for &(h, root) in &self.stack {
            let size = 1u64 << h;
            if index < start + size {
                return siblings.len() == h
                    && root_from_path(leaf, index - start, siblings) == root;
            }
            start += size;
        }
        false
    }

    /// Append a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = 0usize;
        let mut x = leaf;
        while let Some(&(th, top)) = self.stack.last() {
            if th != h {
                break;
            }
            self.stack.pop();
            x = node(&top, &x);
            h += 1;
        }
        self.stack.push((h, x));
        self.count += 1;
    }

    /// Root of the tree padded with zero hashes to 2^depth leaves.
    /// `depth` must be at least [`depth_for`]`(len)`; a smaller value is raised to it.
    pub fn root_at_depth(&self, depth: usize) -> Hash {
        let depth = depth.max(depth_for(self.count));
        let mut it = self.stack.iter().rev();
        let Some(&(mut h, mut x)) = it.next() else {
            return zero_hash(depth);
        };
        for &(th, top) in it {
            while h < th {
                x = node(&x, &zero_hash(h));
                h += 1;
            }
            x = node(&top, &x);
            h += 1;
        }
        while h < depth {
            x = node(&x, &zero_hash(h));
            h += 1;
        }
        x
    }

    /// Root of the tree padded to the next power of two.
    pub fn root(&self) -> Hash {
        self.root_at_depth(depth_for(self.count))
    }
}

/// Merkle root of `leaves` (padded with zero hashes to a power of two).
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    let mut acc = MerkleAccumulator::new();
    for l in leaves {
        acc.push(*l);
    }
    acc.root()
}

/// A list commitment: keccak256(uint256(len) ‖ merkle_root(items)), len big-endian in 32 bytes.
pub fn list_root(items: &[Hash]) -> Hash {
    list_root_from(items.len() as u64, &merkle_root(items))
}

/// [`list_root`] from a length and an already computed Merkle root.
pub fn list_root_from(len: u64, root: &Hash) -> Hash {
    node(&u256(len), root)
}

/// A u64 as a big-endian 32-byte word (Solidity `uint256`).
pub fn u256(x: u64) -> Hash {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&x.to_be_bytes());
    w
}

/// Recompute a root from a leaf hash, its index and its sibling path (bottom-up).
pub fn root_from_path(leaf: Hash, index: u64, siblings: &[Hash]) -> Hash {
    let mut x = leaf;
    for (k, s) in siblings.iter().enumerate() {
        x = if (index >> k) & 1 == 0 {
            node(&x, s)
        } else {
            node(s, &x)
        };
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keccak256_of_the_empty_string_is_ethereums() {
        assert_eq!(
            keccak256(&[]),
            [
                0xc5, 0xd2, 0x46, 0x01, 0x86, 0xf7, 0x23, 0x3c, 0x92, 0x7e, 0x7d, 0xb2, 0xdc, 0xc7,
                0x03, 0xc0, 0xe5, 0x00, 0xb6, 0x53, 0xca, 0x82, 0x27, 0x3b, 0x7b, 0xfa, 0xd8, 0x04,
                0x5d, 0x85, 0xa4, 0x70
            ]
        );
    }

    /// The hasher in use against the portable one on every length across
    /// several rate blocks (136 bytes), whole and fed in two pieces.
    #[test]
    fn the_hasher_in_use_is_the_portable_keccak256() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..700)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect();
        for len in 0..data.len() {
            let msg = &data[..len];
            let want: Hash = sha3::Keccak256::digest(msg).into();
            assert_eq!(keccak256(msg), want, "length {len}");
            let mut h = Keccak::new();
            h.update(&msg[..len / 3]);
            h.update(&msg[len / 3..]);
            assert_eq!(
                <[u8; 32]>::from(h.finalize()),
                want,
                "length {len} in two pieces"
            );
        }
    }
}
