//! List entries of the game over a real program, as the bytes the contract
//! sees (docs/SPEC.md 6.8): a kind byte, then the state's preimage; the
//! `pre` of a step carries the witness after it.

use trace_vm::commit::merkle::u256;
use trace_vm::commit::{Hash, LEAF_SIZE, MerkleAccumulator, keccak256};

const ROOT: u8 = 0;
const MICRO: u8 = 1;
const ASSEMBLY: u8 = 2;

/// One entry of a game list (or a step's `pre` with its witness appended).
#[derive(Clone, PartialEq, Eq)]
pub struct State(pub Vec<u8>);

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = &self.0[..self.0.len().min(24)];
        write!(f, "State({} bytes, {}…)", self.0.len(), hex::encode(head))
    }
}

/// A state's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A commitment that is its own leaf (levels 0 and 1, ends of micro lists).
    Root(Hash),
    /// `M(e, s)`: after step `s` of output element `e`.
    Micro {
        e: u64,
        s: u64,
        out_acc: Hash,
        steps: MerkleAccumulator,
    },
    /// `A(m)`: after the bound roots of the first `m + 1` tensors of a state.
    Assembly { m: u64, entries: MerkleAccumulator },
}

fn frontier_bytes(v: &mut Vec<u8>, acc: &MerkleAccumulator) {
    let f = acc.frontier();
    v.push(f.len() as u8);
    for h in f {
        v.extend_from_slice(&h);
    }
}

impl State {
    /// A commitment used as its own leaf.
    pub fn root(h: Hash) -> Self {
        let mut v = vec![ROOT];
        v.extend_from_slice(&h);
        Self(v)
    }

    pub(crate) fn micro(e: u64, s: u64, out_acc: &Hash, steps: &MerkleAccumulator) -> Self {
        let mut v = vec![MICRO];
        v.extend_from_slice(&e.to_be_bytes());
        v.extend_from_slice(&s.to_be_bytes());
        v.extend_from_slice(out_acc);
        frontier_bytes(&mut v, steps);
        Self(v)
    }

    pub(crate) fn assembly(m: u64, entries: &MerkleAccumulator) -> Self {
        let mut v = vec![ASSEMBLY];
        v.extend_from_slice(&m.to_be_bytes());
        frontier_bytes(&mut v, entries);
        Self(v)
    }

    /// The state followed by `witness` (a step's `pre`).
    pub fn with_witness(mut self, witness: &[u8]) -> Self {
        self.0.extend_from_slice(witness);
        self
    }

    /// The state's content and the bytes after it (the witness).
    pub(crate) fn split(&self) -> Option<(Parsed, &[u8])> {
        let b = &self.0;
        let word = |at: usize| -> Option<Hash> { b.get(at..at + 32)?.try_into().ok() };
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
        };
        let frontier = |at: usize, count: u64| -> Option<(MerkleAccumulator, usize)> {
            let h = *b.get(at)? as usize;
            let roots = (0..h)
                .map(|k| word(at + 1 + 32 * k))
                .collect::<Option<Vec<_>>>()?;
            Some((
                MerkleAccumulator::from_frontier(count, &roots)?,
                at + 1 + 32 * h,
            ))
        };
        let (parsed, end) = match *b.first()? {
            ROOT => (Parsed::Root(word(1)?), 33),
            MICRO => {
                let (e, s, out_acc) = (u64_at(1)?, u64_at(9)?, word(17)?);
                let (steps, end) = frontier(49, s.checked_add(1)?)?;
                (
                    Parsed::Micro {
                        e,
                        s,
                        out_acc,
                        steps,
                    },
                    end,
                )
            }
            ASSEMBLY => {
                let m = u64_at(1)?;
                let (entries, end) = frontier(9, m.checked_add(1)?)?;
                (Parsed::Assembly { m, entries }, end)
            }
            _ => return None,
        };
        Some((parsed, &b[end..]))
    }

    /// The leaf committed for this state: the commitment itself for a root,
    /// keccak256 of the state's bytes (witness excluded) otherwise.
    pub fn leaf(&self) -> Hash {
        match self.split() {
            Some((Parsed::Root(h), _)) => h,
            Some((_, rest)) => keccak256(&self.0[..self.0.len() - rest.len()]),
            None => keccak256(&self.0),
        }
    }
}

/// `out_acc(e)`: the output elements `0 … e−1` of the op being run (SPEC
/// 6.8): the partly filled current leaf and the frontier of finished leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutAcc {
    e: u64,
    leaf: Vec<u8>,
    leaves: MerkleAccumulator,
}

const PER_LEAF: u64 = (LEAF_SIZE / 4) as u64;

impl OutAcc {
    pub(crate) fn new() -> Self {
        Self {
            e: 0,
            leaf: vec![0; LEAF_SIZE],
            leaves: MerkleAccumulator::new(),
        }
    }

    /// The preimage: u64 e ‖ leaf ‖ u8 g ‖ G_0 … G_{g−1}.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = self.e.to_be_bytes().to_vec();
        v.extend_from_slice(&self.leaf);
        frontier_bytes(&mut v, &self.leaves);
        v
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        let e = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let leaf = b.get(8..8 + LEAF_SIZE)?.to_vec();
        let at = 8 + LEAF_SIZE;
        let g = *b.get(at)? as usize;
        if b.len() != at + 1 + 32 * g {
            return None;
        }
        let roots: Vec<Hash> = b[at + 1..]
            .chunks(32)
            .map(|c| c.try_into().ok())
            .collect::<Option<_>>()?;
        let leaves = MerkleAccumulator::from_frontier(e / PER_LEAF, &roots)?;
        Some(Self { e, leaf, leaves })
    }

    pub(crate) fn hash(&self) -> Hash {
        keccak256(&self.encode())
    }

    /// Append element `e` (its 32-bit word, little-endian as in 4.2).
    pub(crate) fn push(&mut self, word: u32) {
        let at = (self.e % PER_LEAF) as usize * 4;
        self.leaf[at..at + 4].copy_from_slice(&word.to_le_bytes());
        self.e += 1;
        if self.e.is_multiple_of(PER_LEAF) {
            self.leaves.push(keccak256(&self.leaf));
            self.leaf.fill(0);
        }
    }

    /// The data root of the finished tensor (4.2: the partial last leaf is
    /// zero-padded; an empty tensor is one zero leaf).
    pub(crate) fn data_root(&self) -> Hash {
        let mut leaves = self.leaves.clone();
        if !self.e.is_multiple_of(PER_LEAF) || self.e == 0 {
            leaves.push(keccak256(&self.leaf));
        }
        leaves.root()
    }
}

/// A step result as a leaf of the element's step list.
pub(crate) fn step_word(result: u32) -> Hash {
    u256(u64::from(result))
}
