//! Re-execution of a claim from what is on chain: the registered model's
//! weights root and program hash, and the input and output bytes of the
//! posting transaction.
//!
//! A model's program depends on its input shape (docs/SPEC.md 4.6), so a
//! claim names the program it ran by its hash. The program is derived again
//! from the installed model and the shapes in the claim's input and output
//! (an encoder's sequence length, a decoder's prompt length and the number
//! of tokens it generated, greedy), and must hash to the registered program
//! hash; then the claim's own input tensors run through it.

use bisection::machine::{ClaimPost, MachineTrace, decode_state};
use trace_vm::models::{self, Compiled, Model, Sampling, gemma::Task};
use trace_vm::program::TensorKind;
use trace_vm::tensor::Tensor;

use crate::models::LocalModel;

/// Why a claim could not be re-executed. None of these is an error of the
/// watcher: the claim is skipped with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unrunnable(pub String);

/// Runs `post`'s claimed input through `model` and returns the honest trace,
/// pointed at the posted claim so that it can play a game on it.
pub fn reexecute(model: &LocalModel, post: &ClaimPost) -> Result<MachineTrace, Unrunnable> {
    let fail = |what: &str, e: &dyn std::fmt::Display| Unrunnable(format!("{what}: {e}"));
    let input = decode_state("input", &post.input).map_err(|e| fail("input", &e))?;
    let output = decode_state("output", &post.output).map_err(|e| fail("output", &e))?;
    let located = models::locate_path(&model.name, &model.path).ok_or_else(|| {
        Unrunnable(format!(
            "model {} at {} is no longer installed",
            model.name,
            model.path.display()
        ))
    })?;
    let opened = Model::open(&located).map_err(|e| fail("opening the model", &e))?;
    let compiled = compile_for(&opened, &input, output.len())?;
    let claim = &post.claim;
    if compiled.program.hash() != claim.arch_hash {
        return Err(Unrunnable(format!(
            "the registered program 0x{} is not {}'s program for this input (0x{}): the claim ran another architecture, shape or sampling setting than this watcher derives",
            hex::encode(claim.arch_hash),
            model.name,
            hex::encode(compiled.program.hash())
        )));
    }
    let inputs = program_inputs(&compiled, input)?;
    let mut trace = MachineTrace::run(compiled.program, compiled.weights, inputs, None)
        .map_err(|e| fail("running the program", &e))?;
    trace.dispute(claim);
    Ok(trace)
}

/// The model compiled for the shapes of a claim's input and output.
fn compile_for(
    model: &Model,
    input: &[(u32, Tensor)],
    outputs: usize,
) -> Result<Compiled, Unrunnable> {
    let first = input
        .first()
        .ok_or_else(|| Unrunnable("the input state holds no tensor".into()))?;
    let len = first.1.shape().first().copied().unwrap_or(1);
    let compiled = match model {
        Model::Encoder(e) => e.compile(len),
        Model::Decoder(d) => d.compile(Task::Generate {
            prompt_len: len,
            new_tokens: outputs,
            sampling: Sampling::Greedy,
        }),
    };
    compiled.map_err(|e| Unrunnable(format!("compiling for a {len}-long input: {e}")))
}

/// The claim's input tensors in the order the program declares its inputs,
/// each checked against its declared id, dtype and shape.
fn program_inputs(
    compiled: &Compiled,
    mut input: Vec<(u32, Tensor)>,
) -> Result<Vec<Tensor>, Unrunnable> {
    let declared = compiled.program.of_kind(TensorKind::Input);
    if declared.len() != input.len() {
        return Err(Unrunnable(format!(
            "the input state holds {} tensors, the program takes {}",
            input.len(),
            declared.len()
        )));
    }
    declared
        .iter()
        .map(|&id| {
            let at = input
                .iter()
                .position(|(i, _)| *i == id.0)
                .ok_or_else(|| Unrunnable(format!("the input state has no tensor {id}")))?;
            let (_, t) = input.swap_remove(at);
            let want = compiled.program.tensor(id);
            if t.dtype() != want.dtype || t.shape() != want.shape.as_slice() {
                return Err(Unrunnable(format!(
                    "input tensor {id} is {:?}{:?}, the program takes {:?}{:?}",
                    t.dtype(),
                    t.shape(),
                    want.dtype,
                    want.shape
                )));
            }
            Ok(t)
        })
        .collect()
}
