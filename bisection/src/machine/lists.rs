//! A player's trace of a real program (docs/SPEC.md 6.8): the lists of every
//! level and the witness of any step, built from one run that keeps every
//! tensor. A [`Fault`] makes the run lie at exactly one micro-step, with
//! everything after it computed consistently from the lie — the hardest
//! liar for a challenger to catch.
//!
//! An op's micro list is never held: it is streamed from the op's inputs
//! (one element's micro-trace at a time), so a dispute inside the largest
//! op of a model (Gemma-3's output head: 1.7e8 states) costs one pass of
//! hashing and memory for a few thousand states.

use std::sync::Arc;

use alloy::sol_types::SolValue;
use trace_vm::arith::Fast;
use trace_vm::backend::Cpu;
use trace_vm::commit::tensor::leaf_count;
use trace_vm::commit::{
    Hash, LEAF_SIZE, MerkleAccumulator, TensorTree, bound, keccak256, list_root,
};
use trace_vm::exec;
use trace_vm::ops::micro::{Site, site_trace};
use trace_vm::ops::{Operand, TraceStep};
use trace_vm::program::{Program, TensorKind};
use trace_vm::tensor::{Tensor, TensorId};

use super::io::{ClaimPost, encode_state};
use super::state::{OutAcc, State, step_word};
use super::verify::OneStep;
use super::witness::{Claim, Leaves, ListProof, TensorRef, Witness};
use crate::game::tree::{LeafSource, Tree};
use crate::game::view::Trace;
use crate::{Error, Result};

/// One wrong micro-step: step `step` of output element `element` of op
/// `op` has its result XORed with `xor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Program op index.
    pub op: usize,
    /// Output element of that op.
    pub element: u64,
    /// Micro-step of that element.
    pub step: u64,
    /// Bits flipped in the step's result.
    pub xor: u32,
}

/// A player's run of a program, answering for every list of the game.
/// Cloning shares the program and the tensors.
#[derive(Clone)]
pub struct MachineTrace {
    program: Arc<Program>,
    /// Every tensor of the run by id: weights, inputs and values.
    tensors: Arc<[Tensor]>,
    state_roots: Vec<Hash>,
    sizes: Vec<u64>,
    fault: Option<Fault>,
    /// The claim this run supports, as its owner posts it.
    post: ClaimPost,
    /// The claim being played (this run's, or the one it disputes).
    claim: Claim,
    vm: OneStep,
}

impl std::fmt::Debug for MachineTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineTrace")
            .field("ops", &self.program.ops().len())
            .field("sizes", &self.sizes)
            .field("fault", &self.fault)
            .finish()
    }
}

fn vm_err(e: trace_vm::Error) -> Error {
    Error::Vm(e.to_string())
}

/// The level sizes of `program`'s game: its boundary states; the longest op
/// sub-trace; the longest micro or assembly list.
pub fn level_sizes(program: &Program) -> Result<Vec<u64>> {
    let layers = program.layers();
    let ops = layers.iter().map(|l| l.ops.len()).max().unwrap_or(0) as u64 + 2;
    let mut micro = 2u64;
    for l in 0..layers.len() {
        micro = micro.max(program.state(l + 1).len() as u64 + 2);
    }
    for i in 0..program.ops().len() {
        let site = site_of(program, i)?;
        micro = micro.max((site.out_len() * site.step_count()) as u64 + 2);
    }
    Ok(vec![program.state_count() as u64, ops, micro])
}

fn site_of(program: &Program, i: usize) -> Result<Site> {
    let node = &program.ops()[i];
    let descs: Vec<_> = node
        .inputs
        .iter()
        .map(|&t| (program.tensor(t).dtype, program.tensor(t).shape.as_slice()))
        .collect();
    Site::new(&node.op, &descs).map_err(|e| vm_err(program.op_error(i, e)))
}

fn padded(mut v: Vec<State>, size: u64) -> Vec<State> {
    let last = v.last().cloned().unwrap_or_else(|| State::root([0; 32]));
    v.resize(size as usize, last);
    v
}

/// The micro list of one op (6.8): the agreed input root, every step of
/// every output element, the disputed output root — recomputed on demand
/// from the op's inputs, one element's micro-trace at a time.
struct MicroList {
    tensors: Arc<[Tensor]>,
    inputs: Vec<TensorId>,
    output: TensorId,
    site: Site,
    /// The run's fault, when it lies inside this op.
    fault: Option<Fault>,
    pre: Hash,
    post: Hash,
}

impl MicroList {
    /// Entries: the two roots and `elements × steps` micro states.
    fn len(&self) -> u64 {
        (self.site.out_len() * self.site.step_count()) as u64 + 2
    }

    /// The steps of output element `e`, as this run computed them.
    fn element(&self, e: u64) -> Result<Vec<TraceStep>> {
        let ins: Vec<&Tensor> = self
            .inputs
            .iter()
            .map(|t| &self.tensors[t.index()])
            .collect();
        let trace = site_trace(&Fast, &self.site, &ins, e, &mut tamper(self.fault, e));
        Ok(trace.map_err(vm_err)?.steps)
    }

    /// The output accumulator holding elements `0 .. e`, from the op's output
    /// (each element's last step result, the fault included).
    fn out_acc(&self, e: u64) -> Result<OutAcc> {
        let words = self.tensors[self.output.index()]
            .words("op output")
            .map_err(vm_err)?;
        let mut acc = OutAcc::new();
        for &w in &words[..e as usize] {
            acc.push(w);
        }
        Ok(acc)
    }

    /// Calls `f` with entries `lo .. hi` (at most [`MicroList::len`]), in order.
    fn states(&self, lo: u64, hi: u64, f: &mut dyn FnMut(State)) -> Result<()> {
        let steps_per = self.site.step_count() as u64;
        let end = self.len() - 1;
        if lo == 0 && hi > 0 {
            f(State::root(self.pre));
        }
        let (first, last) = (lo.max(1), hi.min(end));
        if first < last {
            let mut e = (first - 1) / steps_per;
            let mut acc = self.out_acc(e)?;
            while e * steps_per + 1 < last {
                let steps = self.element(e)?;
                let out_acc = acc.hash();
                let mut frontier = MerkleAccumulator::new();
                for (s, st) in steps.iter().enumerate() {
                    frontier.push(step_word(st.result));
                    let t = e * steps_per + 1 + s as u64;
                    if (first..last).contains(&t) {
                        f(State::micro(e, s as u64, &out_acc, &frontier));
                    }
                }
                acc.push(steps.last().map_or(0, |s| s.result));
                e += 1;
            }
        }
        if lo <= end && end < hi {
            f(State::root(self.post));
        }
        Ok(())
    }
}

impl LeafSource for MicroList {
    fn leaves(&self, lo: u64, hi: u64, sink: &mut dyn FnMut(Hash)) {
        if let Err(e) = self.states(lo, hi, &mut |state| sink(state.leaf())) {
            // Deterministic inputs that produced the list once do not fail
            // later; if they do, the tree is wrong and this player loses.
            tracing::error!(target: "refute::machine", lo, hi, %e, "cannot recompute micro states");
        }
    }
}

impl MachineTrace {
    /// Runs `program` on `inputs` with `weights` (declaration order), lying at
    /// `fault` if given. Its claim's input and output are the encodings of
    /// its first and last states (docs/SPEC.md 4.9).
    pub fn run(
        program: Program,
        weights: Vec<Tensor>,
        inputs: Vec<Tensor>,
        fault: Option<Fault>,
    ) -> Result<Self> {
        let n = program.tensors().len();
        let mut slots: Vec<Option<Tensor>> = vec![None; n];
        for (id, w) in program
            .of_kind(TensorKind::Weight)
            .into_iter()
            .zip(&weights)
        {
            slots[id.index()] = Some(w.clone());
        }
        for (id, x) in program.of_kind(TensorKind::Input).into_iter().zip(&inputs) {
            slots[id.index()] = Some(x.clone());
        }
        let backend = Cpu::new(Fast);
        for (i, node) in program.ops().iter().enumerate() {
            let ins = node
                .inputs
                .iter()
                .map(|t| {
                    slots[t.index()]
                        .as_ref()
                        .ok_or_else(|| Error::Vm(format!("{t} is not available for op {i}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let mut out = exec::run_op(&program, &backend, i, &ins).map_err(vm_err)?;
            if let Some(f) = fault.filter(|f| f.op == i) {
                let site = site_of(&program, i)?;
                let lie = site_trace(
                    &Fast,
                    &site,
                    &ins,
                    f.element,
                    &mut tamper(Some(f), f.element),
                )
                .map_err(vm_err)?;
                let mut words = out.into_words("op output").map_err(vm_err)?;
                let slot = words.get_mut(f.element as usize).ok_or_else(|| {
                    Error::Vm(format!(
                        "fault element {} is outside op {i}'s output",
                        f.element
                    ))
                })?;
                *slot = lie.output;
                let d = program.tensor(node.output);
                out = Tensor::from_words(d.dtype, &d.shape, words).map_err(vm_err)?;
            }
            slots[node.output.index()] = Some(out);
        }
        let tensors = slots
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.ok_or_else(|| Error::Vm(format!("tensor t{i} was never produced"))))
            .collect::<Result<Vec<_>>>()?;
        let weights_root = program.weights_root(&weights).map_err(vm_err)?;
        let sizes = level_sizes(&program)?;
        let state_roots = (0..program.state_count())
            .map(|l| {
                let entries = program
                    .state(l)
                    .iter()
                    .map(|&t| Ok(bound(t.0, &tensors[t.index()].root().map_err(vm_err)?)))
                    .collect::<Result<Vec<_>>>()?;
                Ok(list_root(&entries))
            })
            .collect::<Result<Vec<_>>>()?;
        let trace = Tree::new(&state_roots);
        let last = state_roots.len() - 1;
        let encode = |l: usize| {
            let state: Vec<(u32, &Tensor)> = program
                .state(l)
                .iter()
                .map(|&t| (t.0, &tensors[t.index()]))
                .collect();
            encode_state(&state)
        };
        let post = ClaimPost::new(
            Claim {
                weights_root,
                arch_hash: program.hash(),
                input_hash: [0; 32],
                output_hash: [0; 32],
                trace_root: trace.root(),
                sizes: sizes.clone(),
            },
            encode(0),
            encode(last),
            trace.proof(0),
            trace.proof(last as u64),
        );
        Ok(Self {
            program: Arc::new(program),
            tensors: tensors.into(),
            state_roots,
            sizes,
            fault,
            vm: OneStep::new(&post.claim),
            claim: post.claim.clone(),
            post,
        })
    }

    /// The claim this run supports (what its owner would post).
    pub fn claim(&self) -> &Claim {
        &self.post.claim
    }

    /// The claim with its input and output bytes and their proofs: what
    /// `Claims.postClaim` takes ([`ClaimPost::check`] is its check).
    pub fn post(&self) -> &ClaimPost {
        &self.post
    }

    /// The claim being played: [`MachineTrace::claim`], or the one passed
    /// to [`MachineTrace::dispute`].
    pub fn disputed(&self) -> &Claim {
        &self.claim
    }

    /// Play the game on `claim` (a challenger disputes someone else's claim).
    pub fn dispute(&mut self, claim: &Claim) {
        self.claim = claim.clone();
        self.vm = OneStep::new(claim);
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    fn tensor(&self, t: TensorId) -> &Tensor {
        &self.tensors[t.index()]
    }

    fn bound_root(&self, t: TensorId) -> Result<Hash> {
        Ok(bound(t.0, &self.tensor(t).root().map_err(vm_err)?))
    }

    fn state_entries(&self, l: usize) -> Result<Vec<Hash>> {
        self.program
            .state(l)
            .iter()
            .map(|&t| self.bound_root(t))
            .collect()
    }

    /// The op sub-trace of layer `l`, padded to the level size.
    fn sub_trace(&self, l: usize) -> Result<Vec<Hash>> {
        let mut v = vec![self.state_roots[l]];
        for i in self.program.layers()[l].ops.clone() {
            v.push(self.bound_root(self.program.ops()[i].output)?);
        }
        v.push(self.state_roots[l + 1]);
        let last = v[v.len() - 1];
        v.resize(self.sizes[1] as usize, last);
        Ok(v)
    }

    /// The micro list of op-level step `j` of layer `l`, if that step is an
    /// op (the last step of a layer assembles its output state instead).
    fn op_micro_list(&self, l: usize, j: u64) -> Result<Option<MicroList>> {
        let layer = &self.program.layers()[l];
        if j == 0 || j > layer.ops.len() as u64 {
            return Ok(None);
        }
        let o = layer.ops.start + j as usize - 1;
        let node = &self.program.ops()[o];
        let sub = self.sub_trace(l)?;
        Ok(Some(MicroList {
            tensors: Arc::clone(&self.tensors),
            inputs: node.inputs.clone(),
            output: node.output,
            site: site_of(&self.program, o)?,
            fault: self.fault.filter(|f| f.op == o),
            pre: sub[j as usize - 1],
            post: sub[j as usize],
        }))
    }

    /// The micro list of op-level step `j` of layer `l`, without padding.
    fn micro_list(&self, l: usize, j: u64) -> Result<Vec<State>> {
        if let Some(micro) = self.op_micro_list(l, j)? {
            let mut v = Vec::new();
            micro.states(0, micro.len(), &mut |state| v.push(state))?;
            return Ok(v);
        }
        let sub = self.sub_trace(l)?;
        let mut v = vec![State::root(sub[j as usize - 1])];
        if j == self.program.layers()[l].ops.len() as u64 + 1 {
            let mut entries = MerkleAccumulator::new();
            for (m, h) in self.state_entries(l + 1)?.into_iter().enumerate() {
                entries.push(h);
                v.push(State::assembly(m as u64, &entries));
            }
            v.push(State::root(sub[j as usize]));
        }
        Ok(v)
    }

    /// The list at `path` without its padding (the level size repeats the last entry).
    fn real_list(&self, path: &[u64]) -> Result<Vec<State>> {
        match *path {
            [] => Ok(self.state_roots.iter().map(|&h| State::root(h)).collect()),
            [i] => Ok(self
                .sub_trace(i as usize - 1)?
                .into_iter()
                .map(State::root)
                .collect()),
            [i, j] => self.micro_list(i as usize - 1, j),
            _ => Err(Error::Vm(format!(
                "no list at {path:?}: the game has 3 levels"
            ))),
        }
    }

    /// The op micro list at `path`, when `path` names one (those are streamed).
    fn streamed(&self, path: &[u64]) -> Option<MicroList> {
        let [i, j] = *path else { return None };
        let l = (i as usize).checked_sub(1)?;
        if l >= self.program.layers().len() {
            return None;
        }
        self.op_micro_list(l, j).unwrap_or_else(|e| {
            tracing::error!(target: "refute::machine", ?path, %e, "cannot build micro list");
            None
        })
    }

    /// [`MachineTrace::real_list`], with a failure logged (a player that
    /// cannot build a list cannot move; its clock runs out).
    fn logged(&self, path: &[u64]) -> Vec<State> {
        self.real_list(path).unwrap_or_else(|e| {
            tracing::error!(target: "refute::machine", ?path, %e, "cannot build list");
            Vec::new()
        })
    }
}

fn tamper(fault: Option<Fault>, e: u64) -> impl FnMut(usize, u32) -> u32 {
    move |s, r| match fault {
        Some(f) if f.element == e && f.step == s as u64 => r ^ f.xor,
        _ => r,
    }
}

/// A proof of entry `index` of the list of `leaves` (a list root, 4.5).
fn list_proof(leaves: &[Hash], index: usize) -> ListProof {
    ListProof::new(leaves.len(), index, Tree::new(leaves).proof(index as u64))
}

/// The proof of step `k` of an element whose first `count` step results are
/// `steps`: its value, then its siblings inside the frontier subtree holding it.
fn step_proof(steps: &[TraceStep], count: usize, k: usize) -> Vec<alloy::primitives::B256> {
    let mut start = 0usize;
    for b in (0..usize::BITS as usize).rev() {
        let size = 1usize << b;
        if count & size == 0 {
            continue;
        }
        if k < start + size {
            let words: Vec<Hash> = steps[start..start + size]
                .iter()
                .map(|s| step_word(s.result))
                .collect();
            let mut v = vec![step_word(steps[k].result).into()];
            v.extend(
                Tree::new(&words)
                    .proof((k - start) as u64)
                    .into_iter()
                    .map(alloy::primitives::B256::from),
            );
            return v;
        }
        start += size;
    }
    Vec::new()
}

impl MachineTrace {
    /// Where tensor `t` lives for an op of layer `l`, proven (docs/SPEC.md 6.8).
    fn tensor_ref(&self, t: TensorId, l: usize, sub: &Tree) -> Result<TensorRef> {
        let root = self.tensor(t).root().map_err(vm_err)?;
        let (source, proof) = if self.program.tensor(t).kind == TensorKind::Weight {
            let ids = self.program.of_kind(TensorKind::Weight);
            let leaves = ids
                .iter()
                .map(|&w| self.bound_root(w))
                .collect::<Result<Vec<_>>>()?;
            let at = ids.iter().position(|&w| w == t).unwrap_or_default();
            (0, list_proof(&leaves, at))
        } else if let Some(at) = self.program.state(l).iter().position(|&x| x == t) {
            (1, list_proof(&self.state_entries(l)?, at))
        } else {
            let p = self
                .program
                .producer(t)
                .ok_or_else(|| Error::Vm(format!("{t} has no producer")))?;
            let at = p + 1 - self.program.layers()[l].ops.start;
            (
                2,
                ListProof::new(self.sizes[1] as usize, at, sub.proof(at as u64)),
            )
        };
        Ok(TensorRef {
            id: t.0,
            root: root.into(),
            source,
            proof,
        })
    }

    /// Bytes `start .. start + len` of tensor `t` as proven leaves.
    fn leaves(&self, t: TensorId, start: u64, len: u64) -> Result<Leaves> {
        let x = self.tensor(t);
        let bytes = x.to_bytes();
        let tree = TensorTree::new(x.header(), &bytes).map_err(vm_err)?;
        let l = LEAF_SIZE as u64;
        let (first, last) = (start / l, (start + len - 1) / l);
        let mut data = Vec::new();
        let mut siblings = Vec::new();
        for i in first..=last.min(leaf_count(bytes.len() as u64, LEAF_SIZE) - 1) {
            let p = tree.leaf_proof(i).map_err(vm_err)?;
            data.extend_from_slice(&p.leaf);
            siblings.push(p.siblings.into_iter().map(Into::into).collect());
        }
        Ok(Leaves {
            first,
            data: data.into(),
            siblings,
        })
    }

    /// The witness of the step at `path` = (layer step, op step, micro step).
    fn witness(&self, path: &[u64]) -> Result<Witness> {
        let [i, j, t] = *path else {
            return Err(Error::Vm(format!(
                "a one-step path has 3 indices, got {path:?}"
            )));
        };
        let l = i as usize - 1;
        let p = &self.program;
        let layer = &p.layers()[l];
        let n_ops = layer.ops.len() as u64;
        let sub = Tree::new(&self.sub_trace(l)?);
        let layer_leaves: Vec<Hash> = (0..p.layers().len()).map(|k| p.layer_leaf(k)).collect();
        let mut w = Witness {
            weightsRoot: self.claim.weights_root.into(),
            archHash: self.claim.arch_hash.into(),
            inputHash: self.claim.input_hash.into(),
            outputHash: self.claim.output_hash.into(),
            sizes: self.claim.sizes.clone(),
            program: p.hash_parts().map(Into::into),
            firstOp: layer.ops.start as u32,
            opCount: n_ops as u32,
            nextIdsRoot: p.ids_root(l + 1).into(),
            layerProof: list_proof(&layer_leaves, l),
            stateRootProof: sub.proof(0).into_iter().map(Into::into).collect(),
            stateRoot: self.state_roots[l].into(),
            opEntry: Default::default(),
            opProof: ListProof::new(0, 0, Vec::new()),
            tensors: Vec::new(),
            idProof: ListProof::new(0, 0, Vec::new()),
            reads: Vec::new(),
            stepProofs: Vec::new(),
            outAcc: Default::default(),
        };
        if j == n_ops + 1 {
            let ids = p.state(l + 1);
            if let Some(m) = (t as usize - 1)
                .min(ids.len())
                .checked_sub(usize::from(t as usize > ids.len()))
            {
                let id_leaves: Vec<Hash> =
                    ids.iter().map(|x| keccak256(&x.0.to_be_bytes())).collect();
                w.idProof = list_proof(&id_leaves, m);
                w.tensors = vec![self.tensor_ref(ids[m], l, &sub)?];
            }
        } else if j <= n_ops {
            let o = layer.ops.start + j as usize - 1;
            let op_leaves: Vec<Hash> = (0..p.ops().len()).map(|k| p.op_leaf(k)).collect();
            w.opEntry = p.encode_op(o).into();
            w.opProof = list_proof(&op_leaves, o);
            let node = &p.ops()[o];
            w.tensors = node
                .inputs
                .iter()
                .map(|&x| self.tensor_ref(x, l, &sub))
                .collect::<Result<_>>()?;
            let micro = self
                .op_micro_list(l, j)?
                .ok_or_else(|| Error::Vm(format!("op step {j} of layer {l} has no micro list")))?;
            let site = &micro.site;
            let (n, s_count) = (site.out_len() as u64, site.step_count() as u64);
            // The previous element enters out_acc at an element boundary.
            let boundary = if t == n * s_count + 1 {
                Some(n)
            } else {
                ((t - 1) % s_count == 0).then_some((t - 1) / s_count)
            };
            if let Some(e) = boundary.filter(|&e| e >= 1 && t <= n * s_count + 1) {
                w.outAcc = micro.out_acc(e - 1)?.encode().into();
                let last = micro.element(e - 1)?;
                w.stepProofs
                    .push(step_proof(&last, last.len(), last.len() - 1));
            }
            if t <= n * s_count {
                let (e, s) = ((t - 1) / s_count, (t - 1) % s_count);
                let steps = micro.element(e)?;
                let mut reads = Vec::new();
                let spec = site
                    .step(e as usize, s as usize, &mut |q, index| {
                        reads.push(
                            self.leaves(node.inputs[q], index * 4, 4)
                                .map_err(|e| trace_vm::Error::Program(e.to_string()))?,
                        );
                        trace_vm::ops::micro::read_word(self.tensor(node.inputs[q]), q, index)
                    })
                    .map_err(vm_err)?;
                for src in spec.srcs.iter().take(spec.prim.arity()) {
                    match *src {
                        Operand::Const(_) => {}
                        Operand::Step(k) => w
                            .stepProofs
                            .push(step_proof(&steps, s as usize, k as usize)),
                        Operand::Elem { input, index } => {
                            reads.push(self.leaves(node.inputs[input as usize], index * 4, 4)?)
                        }
                        Operand::Field { input, index, .. } | Operand::Dequant { input, index } => {
                            let d = p.tensor(node.inputs[input as usize]).dtype;
                            let (be, bb) = d.block();
                            reads.push(self.leaves(
                                node.inputs[input as usize],
                                index / be * bb,
                                bb,
                            )?);
                        }
                    }
                }
                w.reads = reads;
            }
        }
        Ok(w)
    }
}

impl Trace for MachineTrace {
    type Vm = OneStep;

    fn vm(&self) -> &OneStep {
        &self.vm
    }

    fn list(&self, path: &[u64]) -> Vec<State> {
        let size = self.sizes.get(path.len()).copied().unwrap_or(0);
        padded(self.logged(path), size)
    }

    fn entry(&self, path: &[u64], index: u64) -> State {
        if let Some(micro) = self.streamed(path) {
            // Past the real entries, the list repeats its last one.
            let at = index.min(micro.len() - 1);
            let mut state = None;
            match micro.states(at, at + 1, &mut |s| state = Some(s)) {
                Ok(()) => return state.unwrap_or_else(|| State::root([0; 32])),
                Err(e) => {
                    tracing::error!(target: "refute::machine", ?path, index, %e, "cannot build entry");
                    return State::root([0; 32]);
                }
            }
        }
        let real = self.logged(path);
        real.get(index as usize)
            .or(real.last())
            .cloned()
            .unwrap_or_else(|| State::root([0; 32]))
    }

    fn tree(&self, path: &[u64]) -> Tree {
        let size = self.sizes.get(path.len()).copied().unwrap_or(0);
        if let Some(micro) = self.streamed(path) {
            let real = micro.len();
            return Tree::streamed(Arc::new(micro), real, size);
        }
        let leaves: Vec<Hash> = self.logged(path).iter().map(State::leaf).collect();
        Tree::padded(&leaves, size)
    }

    fn step_pre(&self, step_path: &[u64]) -> State {
        let (t, path) = step_path
            .split_last()
            .expect("a step path ends with the step index");
        let pre = self.entry(path, t - 1);
        match self.witness(step_path) {
            Ok(w) => pre.with_witness(&w.abi_encode()),
            Err(e) => {
                tracing::error!(target: "refute::machine", ?step_path, %e, "cannot build witness");
                pre
            }
        }
    }
}

/// Plays a whole game off-chain on `defender`'s claim, both sides following
/// their own trace with the honest strategy (a liar's trace makes it lie).
pub fn play_dispute(
    mut defender: MachineTrace,
    mut challenger: MachineTrace,
    params: crate::game::rules::Params,
) -> crate::game::sim::Outcome {
    let claim = defender.claim().clone();
    defender.dispute(&claim);
    challenger.dispute(&claim);
    let vm = defender.vm().clone();
    let game = crate::game::rules::Game::new(params, claim.sizes.clone(), claim.trace_root, 0);
    crate::game::sim::play(
        &vm,
        game,
        &mut crate::game::strategy::Honest::new(defender),
        &mut crate::game::strategy::Honest::new(challenger),
        0,
    )
}
