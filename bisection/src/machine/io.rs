//! A claim's input and output bytes (docs/SPEC.md 4.9): the canonical
//! encoding of the first and last boundary states, so that `postClaim` can
//! recompute their state roots and check them against entries 0 and N − 1 of
//! the claim's trace. [`ClaimPost`] is what a claimant sends, and
//! [`ClaimPost::check`] is the contract's check, run before sending.

use trace_vm::commit::merkle::depth_for;
use trace_vm::commit::{DType, Hash, bound, keccak256, list_root};
use trace_vm::tensor::Tensor;

use super::witness::{Claim, in_game_list};
use crate::{Error, Result};

/// Most dimensions an encoded tensor may have (as `IoState.MAX_RANK`).
pub const MAX_RANK: usize = 8;
/// Most elements an encoded tensor may have (docs/SPEC.md 4.2 bounds bytes by 2^40).
pub const MAX_NUMEL: u64 = 1 << 40;

/// Bytes of a tensor's header before its dimensions: id, dtype, rank.
const HEAD: usize = 6;

/// The canonical encoding of a boundary state: its tensors with their ids,
/// in state order (docs/SPEC.md 4.9).
pub fn encode_state(tensors: &[(u32, &Tensor)]) -> Vec<u8> {
    let mut v = (tensors.len() as u32).to_be_bytes().to_vec();
    for (id, t) in tensors {
        v.extend_from_slice(&id.to_be_bytes());
        v.push(t.dtype().code());
        v.push(t.shape().len() as u8);
        for &d in t.shape() {
            v.extend_from_slice(&(d as u64).to_be_bytes());
        }
        let data = t.to_bytes();
        v.extend_from_slice(&(data.len() as u64).to_be_bytes());
        v.extend_from_slice(&data);
    }
    v
}

/// Why an encoding was rejected: the same reasons, checked in the same
/// order, as the contract's `MalformedIo` (`IoState.sol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The bytes end inside a field.
    Truncated,
    /// A dtype code outside docs/SPEC.md 4.2's table.
    UnknownDtype,
    /// More than [`MAX_RANK`] dimensions.
    RankTooHigh,
    /// More than [`MAX_NUMEL`] elements.
    ShapeTooLarge,
    /// A quantized tensor whose element count is not a whole number of blocks.
    PartialBlock,
    /// A byte length other than the one dtype and shape imply.
    LengthMismatch,
    /// Bytes after the last tensor.
    TrailingBytes,
}

impl Malformed {
    /// The reason string, as the contract's `MalformedIo` carries it.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::UnknownDtype => "unknown dtype",
            Self::RankTooHigh => "rank above 8",
            Self::ShapeTooLarge => "more than 2^40 elements",
            Self::PartialBlock => "not a whole number of blocks",
            Self::LengthMismatch => "byte length does not match dtype and shape",
            Self::TrailingBytes => "trailing bytes",
        }
    }
}

/// Reads big-endian fields, failing with [`Malformed::Truncated`] at the end.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> std::result::Result<&'a [u8], (Malformed, usize)> {
        let at = self.at;
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| at.checked_add(n))
            .filter(|&end| end <= self.b.len())
            .ok_or((Malformed::Truncated, at))?;
        self.at = end;
        Ok(&self.b[at..end])
    }

    fn uint<const N: usize>(&mut self) -> std::result::Result<u64, (Malformed, usize)> {
        let mut w = [0u8; 8];
        w[8 - N..].copy_from_slice(self.take(N as u64)?);
        Ok(u64::from_be_bytes(w))
    }
}

/// Decodes a state encoding into its tensors with their ids, or says what
/// is wrong and at which byte offset.
fn decode(b: &[u8]) -> std::result::Result<Vec<(u32, Tensor)>, (Malformed, usize)> {
    let mut r = Reader { b, at: 0 };
    let count = r.uint::<4>()?;
    // Every tensor takes at least a header and a byte length: a count the
    // bytes cannot hold is truncated before anything is allocated for it.
    if count.saturating_mul(HEAD as u64 + 8) > (b.len() - r.at) as u64 {
        return Err((Malformed::Truncated, b.len()));
    }
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let start = r.at;
        let id = r.uint::<4>()? as u32;
        let dtype =
            DType::from_code(r.uint::<1>()? as u8).ok_or((Malformed::UnknownDtype, start))?;
        let rank = r.uint::<1>()? as usize;
        if rank > MAX_RANK {
            return Err((Malformed::RankTooHigh, start));
        }
        let mut shape = Vec::with_capacity(rank);
        let mut numel = 1u64;
        for _ in 0..rank {
            let d = r.uint::<8>()?;
            numel = numel
                .checked_mul(d)
                .filter(|&n| n <= MAX_NUMEL)
                .ok_or((Malformed::ShapeTooLarge, start))?;
            shape.push(d as usize);
        }
        let len = r.uint::<8>()?;
        let (block_elems, block_bytes) = dtype.block();
        if !numel.is_multiple_of(block_elems) {
            return Err((Malformed::PartialBlock, start));
        }
        if len != numel / block_elems * block_bytes {
            return Err((Malformed::LengthMismatch, start));
        }
        let data = r.take(len)?.to_vec();
        let tensor = Tensor::from_bytes(dtype, &shape, data)
            .map_err(|_| (Malformed::LengthMismatch, start))?;
        out.push((id, tensor));
    }
    if r.at != b.len() {
        return Err((Malformed::TrailingBytes, r.at));
    }
    Ok(out)
}

/// Decodes the encoding of the claim's `which` state ("input" or "output").
pub fn decode_state(which: &'static str, b: &[u8]) -> Result<Vec<(u32, Tensor)>> {
    decode(b).map_err(|(kind, offset)| Error::MalformedIo {
        which,
        kind,
        offset,
    })
}

/// The state root (docs/SPEC.md 4.8) of the encoded state `b`.
pub fn state_root(which: &'static str, b: &[u8]) -> Result<Hash> {
    let entries = decode_state(which, b)?
        .iter()
        .map(|(id, t)| Ok(bound(*id, &t.root().map_err(|e| Error::Vm(e.to_string()))?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(list_root(&entries))
}

/// Everything `Claims.postClaim` takes besides the model id and the bond.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimPost {
    /// The claim (its `input_hash` and `output_hash` are keccak256 of the bytes below).
    pub claim: Claim,
    /// The encoding of state 0 (the program's inputs).
    pub input: Vec<u8>,
    /// The encoding of state N − 1 (the program's outputs).
    pub output: Vec<u8>,
    /// Siblings of entry 0 of the trace, bottom up.
    pub input_proof: Vec<Hash>,
    /// Siblings of entry N − 1 of the trace, bottom up.
    pub output_proof: Vec<Hash>,
}

impl ClaimPost {
    /// A post of `claim` with its input and output bytes and their proofs;
    /// the claim's IO hashes are set from the bytes.
    pub fn new(
        mut claim: Claim,
        input: Vec<u8>,
        output: Vec<u8>,
        input_proof: Vec<Hash>,
        output_proof: Vec<Hash>,
    ) -> Self {
        claim.input_hash = keccak256(&input);
        claim.output_hash = keccak256(&output);
        Self {
            claim,
            input,
            output,
            input_proof,
            output_proof,
        }
    }

    /// What `postClaim` checks of the input and output, in the contract's
    /// order: each decodes, and its state root is entry 0 (input) or entry
    /// N − 1 (output) of the trace, N = `sizes[0]`. Also that the claim's IO
    /// hashes are those of the bytes (the contract computes them itself).
    pub fn check(&self) -> Result<()> {
        let c = &self.claim;
        let n = c.sizes.first().copied().unwrap_or(0);
        for (which, bytes, index, proof, hash) in [
            ("input", &self.input, 0, &self.input_proof, c.input_hash),
            (
                "output",
                &self.output,
                n.saturating_sub(1),
                &self.output_proof,
                c.output_hash,
            ),
        ] {
            let root = state_root(which, bytes)?;
            if n < 2 || !in_game_list(&c.trace_root, n, index, root, proof) {
                return Err(Error::IoNotInTrace {
                    which,
                    index,
                    depth: depth_for(n),
                });
            }
            if keccak256(bytes) != hash {
                return Err(Error::IoHashMismatch { which });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state() -> Vec<u8> {
        let a = Tensor::i32(&[3], &[5, -1, 7]).unwrap();
        let b = Tensor::f32(&[2, 1], &[0.5, -2.0]).unwrap();
        encode_state(&[(4, &a), (9, &b)])
    }

    #[test]
    fn an_encoding_decodes_to_its_tensors_and_their_state_root() {
        let b = state();
        let ts = decode_state("input", &b).unwrap();
        assert_eq!(ts.iter().map(|t| t.0).collect::<Vec<_>>(), [4, 9]);
        assert_eq!(ts[1].1.shape(), &[2, 1]);
        let entries: Vec<Hash> = ts
            .iter()
            .map(|(id, t)| bound(*id, &t.root().unwrap()))
            .collect();
        assert_eq!(state_root("input", &b).unwrap(), list_root(&entries));
    }

    #[test]
    fn errors_name_the_state_the_reason_and_the_offset() {
        let mut b = state();
        b[4 + 4] = 0x30; // first tensor's dtype
        let err = decode_state("output", &b).unwrap_err().to_string();
        assert!(
            err.contains("output") && err.contains("unknown dtype at byte 4"),
            "{err}"
        );
    }

    proptest! {
        /// Whatever the bytes, decoding returns (no panic), and what it accepts
        /// is canonical: encoding the tensors again gives the same bytes.
        #[test]
        fn arbitrary_bytes_decode_canonically_or_fail(b in prop::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(ts) = decode(&b) {
                let refs: Vec<(u32, &Tensor)> = ts.iter().map(|(id, t)| (*id, t)).collect();
                prop_assert_eq!(encode_state(&refs), b);
            }
        }

        #[test]
        fn mutated_encodings_decode_canonically_or_fail(at in any::<prop::sample::Index>(), v in any::<u8>(), cut in any::<bool>()) {
            let mut b = state();
            let i = at.index(b.len());
            if cut { b.truncate(i) } else { b[i] = v }
            if let Ok(ts) = decode(&b) {
                let refs: Vec<(u32, &Tensor)> = ts.iter().map(|(id, t)| (*id, t)).collect();
                prop_assert_eq!(encode_state(&refs), b);
            }
        }
    }
}
