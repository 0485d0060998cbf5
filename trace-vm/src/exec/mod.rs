//! Running programs: the claim-time run (output, trace root, boundary-state
//! roots), re-execution of one layer from its committed input state (the op
//! sub-trace a dispute needs), and re-execution of one op.
//!
//! Commitments (SPEC.md, "Boundary states and op sub-traces"):
//! - state_root(l) = list_root(bound roots of [`Program::state`]`(l)`, in table order);
//! - trace_root = merkle_root(state_root(0), …, state_root(L));
//! - the op sub-trace of layer l is the list
//!   `[state_root(l), bound(out(op_a)), …, bound(out(op_b)), state_root(l + 1)]`
//!   over the layer's ops `a..=b` in program order; its first and last
//!   entries are the agreed input and the disputed output state.
//!
//! Only boundary states are hashed at claim time. A value tensor is dropped
//! right after the last op that reads it, so memory is bounded by the live
//! tensors, not by the number of layers.

mod busy;
mod roots;

use crate::backend::Backend;
use crate::commit::{Hash, TraceHasher, bound, list_root};
use crate::error::{Error, Result};
use crate::program::{Program, TensorKind};
use crate::tensor::{Tensor, TensorId};

/// The tensors of one boundary state, in [`Program::state`] order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Which boundary (0 = input state).
    pub index: usize,
    /// The tensors.
    pub tensors: Vec<(TensorId, Tensor)>,
}

impl State {
    /// The state root: list_root of the tensors' bound roots.
    pub fn root(&self) -> Result<Hash> {
        let roots = self
            .tensors
            .iter()
            .map(|(id, t)| Ok(bound(id.0, &t.root()?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(list_root(&roots))
    }
}

/// The result of a claim-time run.
#[derive(Clone, Debug)]
pub struct Run {
    /// The program outputs, in program order.
    pub outputs: Vec<Tensor>,
    /// merkle_root of the state roots (the game's level-0 list).
    pub trace_root: Hash,
    /// The boundary-state roots, state 0 first.
    pub state_roots: Vec<Hash>,
    /// The states asked for with [`run_with`], in the order asked.
    pub captured: Vec<State>,
    /// The most bytes of tensor data the run held at once (inputs and weights excluded).
    pub peak_live_bytes: usize,
}

/// The result of re-executing one layer.
#[derive(Clone, Debug)]
pub struct LayerRun {
    /// The layer.
    pub layer: usize,
    /// The op sub-trace leaves: input state root, each op output's bound root, output state root.
    pub sub_trace: Vec<Hash>,
    /// The output state (state `layer + 1`).
    pub state_out: State,
}

fn check(program: &Program, kind: TensorKind, given: &[Tensor]) -> Result<Vec<TensorId>> {
    let ids = program.of_kind(kind);
    if ids.len() != given.len() {
        return Err(Error::Program(format!(
            "the program takes {} {kind:?} tensors, {} were given",
            ids.len(),
            given.len()
        )));
    }
    for (&id, t) in ids.iter().zip(given) {
        let d = program.tensor(id);
        if d.dtype != t.dtype() || d.shape != t.shape() {
            return Err(Error::Program(format!(
                "{kind:?} {id} {:?} must be {:?}{:?}, got {:?}{:?}",
                d.name,
                d.dtype,
                d.shape,
                t.dtype(),
                t.shape()
            )));
        }
    }
    Ok(ids)
}

/// Tensors available to a run: borrowed ones (weights, inputs or a given
/// state) and values produced so far.
struct Env<'a> {
    program: &'a Program,
    given: Vec<Option<&'a Tensor>>,
    values: Vec<Option<Tensor>>,
    roots: roots::Roots,
    live: usize,
    peak: usize,
}

impl<'a> Env<'a> {
    fn new(program: &'a Program) -> Self {
        let n = program.tensors().len();
        Env {
            program,
            given: vec![None; n],
            values: vec![None; n],
            roots: roots::Roots::new(program),
            live: 0,
            peak: 0,
        }
    }

    fn give(&mut self, ids: &[TensorId], tensors: impl IntoIterator<Item = &'a Tensor>) {
        for (&id, t) in ids.iter().zip(tensors) {
            self.given[id.index()] = Some(t);
        }
    }

    fn get(&self, t: TensorId) -> Result<&Tensor> {
        let i = t.index();
        self.values[i]
            .as_ref()
            .or(self.given[i])
            .ok_or_else(|| self.missing(t))
    }

    fn missing(&self, t: TensorId) -> Error {
        Error::Program(format!(
            "{t} ({:?}) is not available; it is neither given nor produced yet",
            self.program.tensor(t).name
        ))
    }

    fn root(&mut self, t: TensorId) -> Result<Hash> {
        let i = t.index();
        let Some(tensor) = self.values[i].as_ref().or(self.given[i]) else {
            return Err(self.missing(t));
        };
        self.roots.root(t, tensor)
    }

    /// Run op `i`, store its output, drop inputs read for the last time.
    fn step(&mut self, backend: &dyn Backend, i: usize) -> Result<TensorId> {
        let node = &self.program.ops()[i];
        let inputs = node
            .inputs
            .iter()
            .map(|&t| self.get(t))
            .collect::<Result<Vec<_>>>()?;
        let out = backend
            .run(&node.op, &inputs)
            .map_err(|e| self.program.op_error(i, e))?;
        let d = self.program.tensor(node.output);
        if out.dtype() != d.dtype || out.shape() != d.shape {
            return Err(self.program.op_error(
                i,
                Error::Program(format!(
                    "backend {} returned {:?}{:?}, the program declares {:?}{:?}",
                    backend.name(),
                    out.dtype(),
                    out.shape(),
                    d.dtype,
                    d.shape
                )),
            ));
        }
        self.live += out.held_bytes();
        self.peak = self.peak.max(self.live);
        self.values[node.output.index()] = Some(out);
        self.roots.ran(self.program, node);
        for &t in &node.inputs {
            if self.program.last_read(t) == Some(i)
                && !self.program.is_output(t)
                && let Some(v) = self.values[t.index()].take()
            {
                self.live -= v.held_bytes();
                self.roots.forget(t);
            }
        }
        Ok(node.output)
    }

    fn state_root(&mut self, l: usize) -> Result<Hash> {
        let roots = self
            .program
            .state(l)
            .iter()
            .map(|&t| Ok(bound(t.0, &self.root(t)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(list_root(&roots))
    }

    fn capture(&self, l: usize) -> Result<State> {
        let tensors = self
            .program
            .state(l)
            .iter()
            .map(|&t| Ok((t, self.get(t)?.clone())))
            .collect::<Result<Vec<_>>>()?;
        Ok(State { index: l, tensors })
    }
}

/// Run `program` on `inputs` (in input-declaration order) with `weights` (in
/// weight-declaration order).
pub fn run(
    program: &Program,
    backend: &dyn Backend,
    weights: &[Tensor],
    inputs: &[Tensor],
) -> Result<Run> {
    run_with(program, backend, weights, inputs, &[])
}

/// [`run`], also returning copies of the boundary states listed in `capture`
/// (what a defender keeps to re-execute a disputed layer).
pub fn run_with(
    program: &Program,
    backend: &dyn Backend,
    weights: &[Tensor],
    inputs: &[Tensor],
    capture: &[usize],
) -> Result<Run> {
    // The run goes on a worker of a thread pool of its own, as wide as the
    // global one: an op's pieces are then handed over by work stealing, where
    // a caller outside any pool injects every op and sleeps until it ends (two
    // thread wake-ups per op, ~130 ops per Gemma token). A pool per run, not
    // the global one, so that a worker waiting on its pieces never picks up
    // another run and couples the latencies of concurrent games.
    let threads = rayon::current_num_threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("refute-vm-{i}"))
        .build();
    let span = tracing::Span::current();
    match pool {
        Ok(pool) => pool.install(|| {
            let _in = span.enter();
            let _busy = busy::KeepBusy::start(&pool);
            run_on_this_thread(program, backend, weights, inputs, capture)
        }),
        Err(e) => {
            tracing::warn!(target: "refute::vm", error = %e, threads, "no thread pool for this run; its ops are handed to the global pool one by one");
            run_on_this_thread(program, backend, weights, inputs, capture)
        }
    }
}

fn run_on_this_thread(
    program: &Program,
    backend: &dyn Backend,
    weights: &[Tensor],
    inputs: &[Tensor],
    capture: &[usize],
) -> Result<Run> {
    let w_ids = check(program, TensorKind::Weight, weights)?;
    let i_ids = check(program, TensorKind::Input, inputs)?;
    let mut env = Env::new(program);
    env.give(&w_ids, weights);
    env.give(&i_ids, inputs);
    let mut hasher = TraceHasher::new(true);
    let mut captured = Vec::new();
    for l in 0..program.state_count() {
        if l > 0 {
            for i in program.layers()[l - 1].ops.clone() {
                env.step(backend, i)?;
            }
            tracing::debug!(target: "refute::vm", layer = l - 1, live_bytes = env.live, "layer done");
        }
        hasher.push_state_root(env.state_root(l)?);
        if capture.contains(&l) {
            captured.push(env.capture(l)?);
        }
    }
    let outputs = program
        .outputs()
        .iter()
        .map(|&t| env.get(t).cloned())
        .collect::<Result<Vec<_>>>()?;
    let trace = hasher.finish();
    Ok(Run {
        outputs,
        trace_root: trace.root,
        state_roots: trace.state_roots.unwrap_or_default(),
        captured,
        peak_live_bytes: env.peak,
    })
}

/// The input state (state 0) of `program` on `inputs`.
pub fn initial_state(program: &Program, inputs: &[Tensor]) -> Result<State> {
    let ids = check(program, TensorKind::Input, inputs)?;
    let tensors = program
        .state(0)
        .iter()
        .filter_map(|t| {
            ids.iter()
                .position(|i| i == t)
                .map(|k| (*t, inputs[k].clone()))
        })
        .collect();
    Ok(State { index: 0, tensors })
}

/// Re-execute layer `state_in.index` from its input state alone, producing
/// the layer's op sub-trace and output state.
pub fn run_layer(
    program: &Program,
    backend: &dyn Backend,
    weights: &[Tensor],
    state_in: &State,
) -> Result<LayerRun> {
    let l = state_in.index;
    let layer = program.layers().get(l).ok_or_else(|| {
        Error::Program(format!(
            "layer {l} does not exist; the program has {} layers",
            program.layers().len()
        ))
    })?;
    let want = program.state(l);
    let got: Vec<TensorId> = state_in.tensors.iter().map(|(t, _)| *t).collect();
    if got != want {
        return Err(Error::Program(format!(
            "state {l} must hold tensors {want:?}, got {got:?}"
        )));
    }
    for (t, x) in &state_in.tensors {
        let d = program.tensor(*t);
        if d.dtype != x.dtype() || d.shape != x.shape() {
            return Err(Error::Program(format!(
                "state {l} tensor {t} must be {:?}{:?}, got {:?}{:?}",
                d.dtype,
                d.shape,
                x.dtype(),
                x.shape()
            )));
        }
    }
    let w_ids = check(program, TensorKind::Weight, weights)?;
    let mut env = Env::new(program);
    env.give(&w_ids, weights);
    env.give(&got, state_in.tensors.iter().map(|(_, x)| x));
    let mut sub_trace = vec![env.state_root(l)?];
    for i in layer.ops.clone() {
        // Hash the output before a later op of the layer can drop it.
        let out = env.step(backend, i)?;
        sub_trace.push(bound(out.0, &env.root(out)?));
    }
    sub_trace.push(env.state_root(l + 1)?);
    let state_out = env.capture(l + 1)?;
    Ok(LayerRun {
        layer: l,
        sub_trace,
        state_out,
    })
}

/// Re-execute op `i` of `program` on the given input tensors (checked against the program).
pub fn run_op(
    program: &Program,
    backend: &dyn Backend,
    i: usize,
    inputs: &[&Tensor],
) -> Result<Tensor> {
    let node = program.ops().get(i).ok_or_else(|| {
        Error::Program(format!(
            "op {i} does not exist; the program has {} ops",
            program.ops().len()
        ))
    })?;
    if inputs.len() != node.inputs.len() {
        return Err(program.op_error(
            i,
            Error::Program(format!(
                "takes {} inputs, got {}",
                node.inputs.len(),
                inputs.len()
            )),
        ));
    }
    for (k, (&t, x)) in node.inputs.iter().zip(inputs).enumerate() {
        let d = program.tensor(t);
        if d.dtype != x.dtype() || d.shape != x.shape() {
            return Err(program.op_error(
                i,
                Error::Program(format!(
                    "input {k} ({t}) must be {:?}{:?}, got {:?}{:?}",
                    d.dtype,
                    d.shape,
                    x.dtype(),
                    x.shape()
                )),
            ));
        }
    }
    backend
        .run(&node.op, inputs)
        .map_err(|e| program.op_error(i, e))
}
