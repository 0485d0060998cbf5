//! The reference one-step verifier (docs/SPEC.md 6.8): decides a step of
//! the last level from the claim hash, the game's path and list roots, and
//! the `pre` state with its witness, trusting nothing else. The Solidity
//! verifier accepts and rejects exactly the same steps.

use alloy::sol_types::SolValue;
use trace_vm::arith::{Arith, Eval, Prim, Reference};
use trace_vm::commit::merkle::{depth_for, list_root_from, root_from_path};
use trace_vm::commit::tensor::leaf_count;
use trace_vm::commit::{DType, Hash, LEAF_SIZE, MerkleAccumulator, TensorHeader, bound, keccak256};
use trace_vm::ops::quant;
use trace_vm::ops::{OpKind, Operand};
use trace_vm::program::{OpEntry, PROGRAM_TAG, TensorKind, decode_op};

use super::state::{OutAcc, Parsed, State, step_word};
use super::witness::{Claim, Leaves, TensorRef, Witness, hash, hashes, in_game_list};
use crate::game::view::Vm;

/// Why a step was judged wrong.
pub type Reject = String;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// What the verifier read and computed while deciding a step, as far as it
/// got: enough to explain a verdict to someone who has not seen the code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trail {
    /// What kind of step it is, once the verifier knew.
    pub kind: Option<StepKind>,
    /// The layer's first op and op count (from the witness's layer leaf).
    pub layer_ops: Option<(u32, u32)>,
    /// The op run by an op step: its program index and kind.
    pub op: Option<(u64, OpKind)>,
    /// The primitive the step ran, when it ran one.
    pub primitive: Option<Executed>,
}

/// The kinds of step of a level-2 list (docs/SPEC.md 6.8, "Transitions").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// One primitive step of one output element of an op.
    Primitive,
    /// The op's last step: its finished output's bound root.
    OutputRoot,
    /// A step of assembling the layer's output state from tensor roots.
    Assembly,
    /// A step inside the padding of a list: the post repeats the pre.
    Padding,
}

/// One primitive step re-executed by the verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executed {
    /// Output element of the op.
    pub element: u64,
    /// Step of that element.
    pub step: u64,
    /// The primitive.
    pub prim: Prim,
    /// Its operands' values (as many as its arity).
    pub operands: Vec<u32>,
    /// The result the reference arithmetic computes.
    pub result: u32,
    /// The result the post state commits to, when it can be read back: it
    /// is the last step word of the post state's frontier when that word
    /// is a subtree of its own (an odd step count), else it is found among
    /// the reference result and its one-bit flips; `None` otherwise.
    pub claimed: Option<u32>,
}

/// The verifier of one claim's game: the claim hash and level sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneStep {
    claim_hash: Hash,
    sizes: Vec<u64>,
}

impl OneStep {
    /// The verifier of games on `claim`.
    pub fn new(claim: &Claim) -> Self {
        Self {
            claim_hash: claim.hash(),
            sizes: claim.sizes.clone(),
        }
    }

    /// Decides the step at `path` (layer step, op step, micro step) with the
    /// lists' `roots`: `Ok` when `post` is the right successor of `pre`,
    /// otherwise the reason it is not.
    pub fn check(
        &self,
        path: &[u64],
        roots: &[Hash],
        pre: &State,
        post: &State,
    ) -> Result<(), Reject> {
        self.decide(path, roots, pre, post, &mut Trail::default())
    }

    /// [`OneStep::check`], with what the verifier read and computed on the way.
    pub fn explain(
        &self,
        path: &[u64],
        roots: &[Hash],
        pre: &State,
        post: &State,
    ) -> (Trail, Result<(), Reject>) {
        let mut trail = Trail::default();
        let verdict = self.decide(path, roots, pre, post, &mut trail);
        if let Some(x) = &mut trail.primitive {
            x.claimed = claimed_result(x, pre, post);
        }
        (trail, verdict)
    }

    fn decide(
        &self,
        path: &[u64],
        roots: &[Hash],
        pre: &State,
        post: &State,
        trail: &mut Trail,
    ) -> Result<(), Reject> {
        ensure!(
            path.len() == 3 && roots.len() == 3,
            "a one-step is at level 2 (path {path:?})"
        );
        // Step indices start at 1: entry 0 of every list is agreed.
        ensure!(
            path.iter().all(|&i| i >= 1),
            "step index 0 in path {path:?}"
        );
        let (pre_state, witness) = pre.split().ok_or("the pre state is malformed")?;
        let (post_state, rest) = post.split().ok_or("the post state is malformed")?;
        ensure!(rest.is_empty(), "the post state has trailing bytes");
        // Validated as Solidity's `abi.decode` does: a small integer with dirty
        // high bytes is an error there, so it must be one here.
        let w = Witness::abi_decode_validate(witness)
            .map_err(|e| format!("the witness does not decode: {e}"))?;
        let claim = Claim {
            weights_root: hash(&w.weightsRoot),
            arch_hash: hash(&w.archHash),
            input_hash: hash(&w.inputHash),
            output_hash: hash(&w.outputHash),
            trace_root: roots[0],
            sizes: w.sizes.clone(),
        };
        ensure!(
            claim.hash() == self.claim_hash,
            "the witness's claim is not the game's claim"
        );
        let mut pre_arch = PROGRAM_TAG.to_vec();
        for part in &w.program {
            pre_arch.extend_from_slice(&part.0);
        }
        ensure!(
            keccak256(&pre_arch) == claim.arch_hash,
            "the program roots do not hash to the model's arch_hash"
        );
        let cx = Context {
            w: &w,
            roots,
            sizes: &claim.sizes,
            path,
        };
        cx.check_layer()?;
        trail.layer_ops = Some((w.firstOp, w.opCount));
        let (j, t) = (path[1], path[2]);
        let n_ops = u64::from(w.opCount);
        let pre_root = match pre_state {
            Parsed::Root(h) => Some(h),
            _ => None,
        };
        let expected = if j > n_ops + 1 {
            trail.kind = Some(StepKind::Padding);
            Expected::Same
        } else if j == n_ops + 1 {
            trail.kind = Some(StepKind::Assembly);
            cx.assembly(t, pre_state)?
        } else {
            cx.op_step(t, pre_state, trail)?
        };
        match expected {
            Expected::Same => ensure!(
                pre_root.is_some() && post_state == Parsed::Root(pre_root.unwrap_or_default()),
                "a padding step must repeat its pre entry"
            ),
            Expected::State(s) => ensure!(s == *post, "the post state is not the step's result"),
        }
        Ok(())
    }
}

enum Expected {
    /// A padding step: post repeats pre.
    Same,
    /// The successor state.
    State(State),
}

struct Context<'a> {
    w: &'a Witness,
    roots: &'a [Hash],
    sizes: &'a [u64],
    path: &'a [u64],
}

impl Context<'_> {
    fn check_layer(&self) -> Result<(), Reject> {
        let w = self.w;
        ensure!(
            self.sizes.len() == 3,
            "the claim's game has {} levels, the one-step needs 3",
            self.sizes.len()
        );
        let layer = self.path[0]
            .checked_sub(1)
            .ok_or("layer step 0 is the agreed input")?;
        let mut leaf = w.firstOp.to_be_bytes().to_vec();
        leaf.extend_from_slice(&w.opCount.to_be_bytes());
        leaf.extend_from_slice(&w.nextIdsRoot.0);
        ensure!(
            w.layerProof.index == layer
                && w.layerProof.proves(&hash(&w.program[2]), keccak256(&leaf)),
            "layer {layer}'s leaf is not in the program"
        );
        ensure!(
            in_game_list(
                &self.roots[1],
                self.sizes[1],
                0,
                hash(&w.stateRoot),
                &hashes(&w.stateRootProof)
            ),
            "the layer's input state root is not entry 0 of the op sub-trace"
        );
        Ok(())
    }

    /// The root of input tensor `r`, proven where the witness says it lives.
    fn tensor_root(&self, r: &TensorRef, kind: Option<TensorKind>) -> Result<Hash, Reject> {
        let leaf = bound(r.id, &hash(&r.root));
        let ok = match r.source {
            0 => {
                kind.is_none_or(|k| k == TensorKind::Weight)
                    && r.proof.proves(&hash(&self.w.weightsRoot), leaf)
            }
            1 => kind != Some(TensorKind::Weight) && r.proof.proves(&hash(&self.w.stateRoot), leaf),
            2 => {
                let p = &r.proof;
                p.index >= 1
                    && p.index < self.path[1]
                    && in_game_list(
                        &self.roots[1],
                        self.sizes[1],
                        p.index,
                        leaf,
                        &hashes(&p.siblings),
                    )
            }
            _ => false,
        };
        ensure!(
            ok,
            "tensor {}'s root is not proven by its source {}",
            r.id,
            r.source
        );
        Ok(hash(&r.root))
    }

    fn assembly(&self, t: u64, pre: Parsed) -> Result<Expected, Reject> {
        let w = self.w;
        // The id proof fixes the state's size k: entry t − 1 while tensors
        // are appended, the last entry afterwards.
        let k = w.idProof.length;
        let id = w.tensors.first().map(|r| r.id);
        let proven = if k == 0 {
            hash(&w.nextIdsRoot) == list_root_from(0, &trace_vm::commit::ZERO_HASH)
        } else {
            w.idProof.index == (t - 1).min(k - 1)
                && id.is_some_and(|id| {
                    w.idProof
                        .proves(&hash(&w.nextIdsRoot), keccak256(&id.to_be_bytes()))
                })
        };
        ensure!(proven, "the state's tensor ids are not proven");
        if t > k + 1 {
            return Ok(Expected::Same);
        }
        let entries = if t == 1 {
            MerkleAccumulator::new()
        } else {
            match pre {
                Parsed::Assembly { m, entries } if m + 2 == t => entries,
                _ => {
                    return Err(format!(
                        "entry {} of an assembly list must be A({})",
                        t - 1,
                        t - 2
                    ));
                }
            }
        };
        if t == k + 1 {
            return Ok(Expected::State(State::root(list_root_from(
                k,
                &entries.root(),
            ))));
        }
        let m = t - 1;
        let r = w
            .tensors
            .first()
            .ok_or("no tensor given for the assembly step")?;
        let root = self.tensor_root(r, None)?;
        ensure!(r.source != 0, "a boundary state holds no weights");
        let mut entries = entries;
        entries.push(bound(r.id, &root));
        Ok(Expected::State(State::assembly(m, &entries)))
    }

    fn op_step(&self, t: u64, pre: Parsed, trail: &mut Trail) -> Result<Expected, Reject> {
        let w = self.w;
        let o = u64::from(w.firstOp) + self.path[1] - 1;
        ensure!(
            w.opProof.index == o
                && w.opProof
                    .proves(&hash(&w.program[1]), keccak256(&w.opEntry)),
            "op {o}'s entry is not in the program"
        );
        let entry = decode_op(&w.opEntry).map_err(|e| e.to_string())?;
        trail.op = Some((o, entry.kind));
        let (n, s_count) = (entry.site.out_len() as u64, entry.site.step_count() as u64);
        let total = n.checked_mul(s_count).ok_or("the op has too many steps")?;
        if t > total + 1 {
            trail.kind = Some(StepKind::Padding);
            return Ok(Expected::Same);
        }
        let mut ops = Operands::new(self, &entry);
        // Element e − 1's value enters out_acc before element e starts, and
        // the last element before the output's root is formed.
        let append = |ops: &mut Operands<'_>, pre: &Parsed, e: u64| -> Result<OutAcc, Reject> {
            let Parsed::Micro {
                e: pe,
                s: ps,
                out_acc,
                steps,
            } = pre
            else {
                return Err("an element boundary must follow a micro state".into());
            };
            ensure!(
                *pe + 1 == e && *ps + 1 == s_count,
                "the pre state is not the end of element {}",
                e - 1
            );
            let mut acc = OutAcc::decode(&w.outAcc).ok_or("out_acc's preimage is malformed")?;
            ensure!(
                acc.hash() == *out_acc,
                "out_acc's preimage does not match the pre state"
            );
            let value = ops.step(steps, s_count - 1)?;
            acc.push(value);
            Ok(acc)
        };
        if t == total + 1 {
            trail.kind = Some(StepKind::OutputRoot);
            let acc = if n == 0 {
                OutAcc::new()
            } else {
                append(&mut ops, &pre, n)?
            };
            let header = TensorHeader::new(entry.output.dtype, &dims(&entry.output.shape));
            let root = header.tensor_root(&acc.data_root());
            return Ok(Expected::State(State::root(bound(entry.output.id, &root))));
        }
        trail.kind = Some(StepKind::Primitive);
        let (e, s) = ((t - 1) / s_count, (t - 1) % s_count);
        let (out_acc, mut steps) = match (e, s) {
            (0, 0) => (OutAcc::new().hash(), MerkleAccumulator::new()),
            (_, 0) => (append(&mut ops, &pre, e)?.hash(), MerkleAccumulator::new()),
            _ => match pre {
                Parsed::Micro {
                    e: pe,
                    s: ps,
                    out_acc,
                    steps,
                } if pe == e && ps + 1 == s => (out_acc, steps),
                _ => return Err(format!("entry {} must be M({e}, {})", t - 1, s - 1)),
            },
        };
        let spec = {
            // Only gather reads a word (its index) to locate its operand.
            let mut read =
                |input: usize, index: u64| ops.word(input, index).map_err(trace_vm::Error::Program);
            entry
                .site
                .step(e as usize, s as usize, &mut read)
                .map_err(|err| err.to_string())?
        };
        let mut args = [0u32; 3];
        for (k, src) in spec.srcs.iter().enumerate().take(spec.prim.arity()) {
            args[k] = match *src {
                Operand::Const(c) => c,
                Operand::Step(j) => ops.step(&steps, u64::from(j))?,
                Operand::Elem { input, index } => ops.word(input as usize, index)?,
                Operand::Field {
                    input,
                    index,
                    field,
                } => ops.field(input as usize, index, field)?,
                Operand::Dequant { input, index } => ops.dequant(input as usize, index)?,
            };
        }
        let result = Reference.eval(spec.prim, args);
        trail.primitive = Some(Executed {
            element: e,
            step: s,
            prim: spec.prim,
            operands: args[..spec.prim.arity()].to_vec(),
            result,
            claimed: None,
        });
        steps.push(step_word(result));
        Ok(Expected::State(State::micro(e, s, &out_acc, &steps)))
    }
}

/// The result `post` commits to for the step `x` ran (see [`Executed::claimed`]).
fn claimed_result(x: &Executed, pre: &State, post: &State) -> Option<u32> {
    let Some((
        Parsed::Micro {
            e,
            s,
            out_acc,
            steps,
        },
        _,
    )) = post.split()
    else {
        return None;
    };
    if (e, s) != (x.element, x.step) {
        return None;
    }
    let word = |w: Hash| u32::try_from(alloy::primitives::U256::from_be_bytes(w)).ok();
    if steps.len() % 2 == 1 {
        return steps.frontier().last().copied().and_then(word);
    }
    // Step 0 starts an empty list; a later step extends the pre state's.
    let before = match pre.split() {
        _ if s == 0 => MerkleAccumulator::new(),
        Some((Parsed::Micro { steps, .. }, _)) => steps,
        _ => return None,
    };
    std::iter::once(x.result)
        .chain((0..32).map(|b| x.result ^ (1 << b)))
        .find(|&r| {
            let mut acc = before.clone();
            acc.push(step_word(r));
            State::micro(e, s, &out_acc, &acc) == *post
        })
}

fn dims(shape: &[usize]) -> Vec<u64> {
    shape.iter().map(|&d| d as u64).collect()
}

/// Reads operands in witness order: tensor words and quantized fields from
/// proven leaves, earlier step results from the pre state's frontier.
struct Operands<'a> {
    cx: &'a Context<'a>,
    entry: &'a OpEntry,
    reads: std::slice::Iter<'a, Leaves>,
    step_proofs: std::slice::Iter<'a, Vec<alloy::primitives::B256>>,
    roots: Vec<Option<Hash>>,
}

impl<'a> Operands<'a> {
    fn new(cx: &'a Context<'a>, entry: &'a OpEntry) -> Self {
        Self {
            cx,
            entry,
            reads: cx.w.reads.iter(),
            step_proofs: cx.w.stepProofs.iter(),
            roots: vec![None; entry.inputs.len()],
        }
    }

    fn input_root(&mut self, q: usize) -> Result<Hash, Reject> {
        if let Some(r) = self.roots.get(q).copied().flatten() {
            return Ok(r);
        }
        let decl = self
            .entry
            .inputs
            .get(q)
            .ok_or(format!("the op has no input {q}"))?;
        let r = self
            .cx
            .w
            .tensors
            .get(q)
            .ok_or(format!("no root given for input {q}"))?;
        ensure!(
            r.id == decl.id,
            "input {q} is tensor {}, the witness gives {}",
            decl.id,
            r.id
        );
        let root = self.cx.tensor_root(r, Some(decl.kind))?;
        self.roots[q] = Some(root);
        Ok(root)
    }

    /// Bytes `start .. start + len` of input `q`, from the next proven leaves.
    fn bytes(&mut self, q: usize, start: u64, len: u64) -> Result<Vec<u8>, Reject> {
        let root = self.input_root(q)?;
        let decl = &self.entry.inputs[q];
        let header = TensorHeader::new(decl.dtype, &dims(&decl.shape));
        let nbytes = header.byte_len().map_err(|e| e.to_string())?;
        ensure!(
            start + len <= nbytes,
            "bytes {start}..{} are outside input {q}",
            start + len
        );
        let l = LEAF_SIZE as u64;
        let (first, last) = (start / l, (start + len - 1) / l);
        let leaves = self.reads.next().ok_or("the witness has too few reads")?;
        ensure!(
            leaves.first == first
                && leaves.data.len() as u64 == (last - first + 1) * l
                && leaves.siblings.len() as u64 == last - first + 1,
            "the read of input {q} does not hold leaves {first}..={last}"
        );
        let depth = depth_for(leaf_count(nbytes, LEAF_SIZE));
        for (k, (leaf, sib)) in leaves
            .data
            .chunks(LEAF_SIZE)
            .zip(&leaves.siblings)
            .enumerate()
        {
            let data_root = (sib.len() == depth)
                .then(|| root_from_path(keccak256(leaf), first + k as u64, &hashes(sib)));
            ensure!(
                data_root.is_some_and(|d| header.tensor_root(&d) == root),
                "leaf {} of input {q} is not proven",
                first + k as u64
            );
        }
        let at = (start - first * l) as usize;
        Ok(leaves.data[at..at + len as usize].to_vec())
    }

    fn word(&mut self, q: usize, index: u64) -> Result<u32, Reject> {
        let b = self.bytes(q, index.checked_mul(4).ok_or("index overflow")?, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The decoded fields of element `index` of quantized input `q`, from its proven block.
    fn fields(
        &mut self,
        q: usize,
        index: u64,
    ) -> Result<(DType, [u32; quant::MAX_FIELDS]), Reject> {
        let dtype = self
            .entry
            .inputs
            .get(q)
            .ok_or(format!("the op has no input {q}"))?
            .dtype;
        let (be, bb) = dtype.block();
        let block = self.bytes(q, index / be * bb, bb)?;
        Ok((dtype, quant::fields(dtype, &block, (index % be) as usize)))
    }

    fn field(&mut self, q: usize, index: u64, field: u8) -> Result<u32, Reject> {
        Ok(self.fields(q, index)?.1[field as usize % quant::MAX_FIELDS])
    }

    /// Element `index` of quantized input `q`, dequantized from its proven block.
    fn dequant(&mut self, q: usize, index: u64) -> Result<u32, Reject> {
        let (dtype, f) = self.fields(q, index)?;
        Ok(quant::run(
            dtype,
            &mut Eval(&Reference),
            &f[..quant::field_count(dtype)],
        ))
    }

    /// The result of step `k` from the pre state's step-list frontier.
    fn step(&mut self, steps: &MerkleAccumulator, k: u64) -> Result<u32, Reject> {
        let proof = self
            .step_proofs
            .next()
            .ok_or("the witness has too few step proofs")?;
        let (value, siblings) = proof.split_first().ok_or("an empty step proof")?;
        ensure!(
            k < steps.len() && steps.proves(k, value.0, &hashes(siblings)),
            "step {k}'s result is not proven"
        );
        let v = alloy::primitives::U256::from_be_bytes(value.0);
        u32::try_from(v).map_err(|_| format!("step {k}'s result is not a 32-bit word"))
    }
}

impl Vm for OneStep {
    type State = State;

    fn level_sizes(&self) -> &[u64] {
        &self.sizes
    }

    fn leaf_hash(&self, state: &State) -> Hash {
        state.leaf()
    }

    fn verify_step(&self, path: &[u64], roots: &[Hash], pre: &State, post: &State) -> bool {
        match self.check(path, roots, pre, post) {
            Ok(()) => true,
            Err(reason) => {
                tracing::debug!(target: "refute::machine", ?path, %reason, "step rejected");
                false
            }
        }
    }
}
