//! The provider's side of a claim: a model run on a prompt into the trace
//! whose claim is posted (and later defended), and what it answered.
//!
//! A claim's program is the model compiled for the prompt's exact shape (an
//! encoder's token count; a decoder's prompt length and tokens to generate,
//! greedy), registered under its own model id: the watcher derives the same
//! program from the claim's input and output ([`crate::reexec`]).
//!
//! [`Cheat`] makes a dishonest provider, for demonstrations and tests of
//! what a watcher catches: one that runs a perturbed copy of the model while
//! claiming the real one, and one that flips a bit deep in the trace.

use bisection::machine::{ClaimPost, Fault, MachineTrace, decode_state};
use trace_vm::models::{Model, Sampling, gemma::Task};
use trace_vm::ops::OpKind;
use trace_vm::ops::micro::Site;
use trace_vm::program::{Program, TensorKind};
use trace_vm::tensor::Tensor;

use crate::{Error, Result};

/// How a dishonest provider lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cheat {
    /// Claims the model but runs a perturbed copy of it (one weight tensor
    /// of the middle layer halved): the cheaper-model swap.
    SwapModel,
    /// Runs the model but flips one bit of one primitive's result in the
    /// middle layer; everything after it follows from the lie.
    FlipBit,
}

/// A prompt run for a claim.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The trace behind the claim (pointed at the claim as posted).
    pub trace: MachineTrace,
    /// What `postClaim` takes.
    pub post: ClaimPost,
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// The answer: the embedding (encoders) or the generated text (decoders).
    pub output: Output,
}

/// What a model answered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// An encoder's embedding.
    Embedding(Vec<f32>),
    /// A decoder's generation.
    Text {
        /// The generated text, up to the end token.
        text: String,
        /// Every generated token id.
        ids: Vec<u32>,
    },
}

/// Runs `model` on `prompt` (`max_tokens` new tokens for decoders), lying as
/// `cheat` says.
pub fn answer(
    model: &Model,
    prompt: &str,
    max_tokens: usize,
    cheat: Option<Cheat>,
) -> Result<Answer> {
    let vm = |e: trace_vm::models::Error| Error::Provide(e.to_string());
    let (ids, compiled, inputs) = match model {
        Model::Encoder(e) => {
            let ids = e.tokenize(prompt).map_err(vm)?;
            let compiled = e.compile(ids.len()).map_err(vm)?;
            let inputs = e.inputs(&ids, ids.len()).map_err(vm)?;
            (ids, compiled, inputs)
        }
        Model::Decoder(d) => {
            let ids = d.tokenizer().encode(prompt);
            let compiled = d
                .compile(Task::Generate {
                    prompt_len: ids.len(),
                    new_tokens: max_tokens,
                    sampling: Sampling::Greedy,
                })
                .map_err(vm)?;
            let inputs = d.inputs(&ids).map_err(vm)?;
            (ids, compiled, inputs)
        }
    };
    let real_weights_root = compiled.weights_root().map_err(vm)?;
    let mut weights = compiled.weights;
    let mut fault = None;
    match cheat {
        Some(Cheat::SwapModel) => perturb(&compiled.program, &mut weights)?,
        Some(Cheat::FlipBit) => fault = Some(deep_fault(&compiled.program)?),
        None => {}
    }
    let mut trace = MachineTrace::run(compiled.program, weights, inputs, fault)
        .map_err(|e| Error::Provide(e.to_string()))?;
    let mut post = trace.post().clone();
    // The swap is only a lie because the claim names the real weights.
    post.claim.weights_root = real_weights_root;
    trace.dispute(&post.claim);
    let output = output_of(model, &post)?;
    Ok(Answer {
        trace,
        post,
        prompt_ids: ids,
        output,
    })
}

/// The answer a claim's output bytes hold.
pub fn output_of(model: &Model, post: &ClaimPost) -> Result<Output> {
    let tensors = decode_state("output", &post.output).map_err(Error::Bisection)?;
    let words = |t: &Tensor| {
        t.words("output")
            .map(<[u32]>::to_vec)
            .map_err(|e| Error::Provide(e.to_string()))
    };
    Ok(match model {
        Model::Encoder(_) => {
            let (_, t) = tensors
                .first()
                .ok_or_else(|| Error::Provide("the output state is empty".into()))?;
            Output::Embedding(words(t)?.into_iter().map(f32::from_bits).collect())
        }
        Model::Decoder(d) => {
            let mut ids = Vec::with_capacity(tensors.len());
            for (_, t) in &tensors {
                ids.extend(words(t)?.first().copied());
            }
            let end = ids.iter().position(|&t| d.is_end(t)).unwrap_or(ids.len());
            Output::Text {
                text: d.tokenizer().decode(&ids[..end]),
                ids,
            }
        }
    })
}

/// The map ops of the program's middle layer whose elements take several
/// primitive steps, with their micro sites.
fn middle_maps(program: &Program) -> Result<Vec<(usize, Site)>> {
    let layers = program.layers();
    let mid = layers
        .get(layers.len() / 2)
        .ok_or_else(|| Error::Provide("the program has no layers".into()))?;
    let mut maps = Vec::new();
    for i in mid.ops.clone() {
        let node = &program.ops()[i];
        if node.op.kind() != OpKind::Map {
            continue;
        }
        let descs: Vec<_> = node
            .inputs
            .iter()
            .map(|&t| (program.tensor(t).dtype, program.tensor(t).shape.as_slice()))
            .collect();
        let site = Site::new(&node.op, &descs).map_err(|e| Error::Provide(e.to_string()))?;
        if site.step_count() > 1 {
            maps.push((i, site));
        }
    }
    Ok(maps)
}

/// A lie at the last step of the middle element of the middle layer's map
/// with the shortest micro list (the quickest to dispute).
fn deep_fault(program: &Program) -> Result<Fault> {
    let (op, site) = middle_maps(program)?
        .into_iter()
        .min_by_key(|(_, s)| s.out_len() * s.step_count())
        .ok_or_else(|| Error::Provide("the middle layer has no map op to lie in".into()))?;
    Ok(Fault {
        op,
        element: site.out_len() as u64 / 2,
        step: site.step_count() as u64 - 1,
        xor: 1 << 22,
    })
}

/// Halves an F32 weight read by a map of the middle layer, so the run
/// departs from the real model there.
fn perturb(program: &Program, weights: &mut [Tensor]) -> Result<()> {
    let declared = program.of_kind(TensorKind::Weight);
    let target = middle_maps(program)?
        .iter()
        .flat_map(|&(i, _)| program.ops()[i].inputs.clone())
        .find_map(|t| {
            let d = program.tensor(t);
            (d.kind == TensorKind::Weight && d.dtype == trace_vm::commit::DType::F32)
                .then(|| declared.iter().position(|&w| w == t))
                .flatten()
        })
        .ok_or_else(|| {
            Error::Provide("no F32 weight is read by a map of the middle layer".into())
        })?;
    let w = &weights[target];
    let halved: Vec<f32> = w
        .words("weight")
        .map_err(|e| Error::Provide(e.to_string()))?
        .iter()
        .map(|&x| f32::from_bits(x) * 0.5)
        .collect();
    weights[target] = Tensor::f32(w.shape(), &halved).map_err(|e| Error::Provide(e.to_string()))?;
    Ok(())
}
