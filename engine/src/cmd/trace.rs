//! `refute trace`: run a model in the deterministic VM and show what a claim
//! would commit to (output, model commitment, trace root, op count).

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use trace_vm::backend::Backend;
use trace_vm::models::gemma::Task;
use trace_vm::models::{self, Compiled, Model, Progress, Sampling};

use super::model::{hex32, models_dir};
use super::vm::BackendKind;
use crate::error::Result;
use crate::paths::Context;

/// Arguments of `refute trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(subcommand)]
    command: TraceCommand,
}

#[derive(Debug, Subcommand)]
enum TraceCommand {
    /// Run a model on a prompt: an embedding (encoders) or a generation
    /// (decoders), with its model commitment and trace root.
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// An installed model's name (see `refute model list`) or a path.
    #[arg(long)]
    model: String,
    /// The input text.
    #[arg(long)]
    prompt: String,
    /// Tokens to generate (decoders).
    #[arg(long, default_value_t = 16)]
    max_tokens: usize,
    /// Sample with this seed instead of greedy decoding (decoders).
    #[arg(long)]
    seed: Option<u64>,
    /// Sampling temperature, with --seed.
    #[arg(long, default_value_t = 1.0, requires = "seed")]
    temperature: f32,
    /// Compute every primitive with the SoftFloat reference (slow; gives the same bits).
    #[arg(long, conflicts_with = "backend")]
    reference: bool,
    /// Run the ops on the CPU or through the GPU backend (same bits, same trace root).
    #[arg(long, value_enum)]
    backend: Option<BackendKind>,
    /// With --backend gpu: the adapter whose name contains this (see `refute vm backends`).
    #[arg(long, env = "REFUTE_GPU_ADAPTER")]
    adapter: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// What `refute trace run` prints.
#[derive(Debug, Serialize)]
struct Report {
    model: String,
    kind: &'static str,
    backend: String,
    prompt_tokens: usize,
    /// Generated text (decoders).
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// Generated token ids (decoders).
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_ids: Option<Vec<u32>>,
    /// The embedding (encoders).
    #[serde(skip_serializing_if = "Option::is_none")]
    embedding: Option<Vec<f32>>,
    model_commitment: String,
    program_hash: String,
    trace_root: String,
    boundary_states: usize,
    ops: usize,
    load_ms: f64,
    compile_ms: f64,
    run_ms: f64,
    peak_live_bytes: usize,
}

impl TraceArgs {
    /// Runs the chosen `trace` subcommand.
    pub fn run(self, ctx: &Context) -> Result<()> {
        match self.command {
            TraceCommand::Run(args) => args.run(ctx),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Run `compiled` under a progress bar over its ops.
fn with_progress<T>(
    compiled: &Compiled,
    backend: &dyn Backend,
    f: impl FnOnce(&dyn Backend) -> T,
) -> T {
    let bar = ProgressBar::new(compiled.program.ops().len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} ops {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let tick = || bar.inc(1);
    let out = f(&Progress::new(backend, &tick));
    bar.finish_and_clear();
    out
}

impl RunArgs {
    fn run(self, ctx: &Context) -> Result<()> {
        let backend = self
            .backend
            .unwrap_or_default()
            .open(self.reference, self.adapter.as_deref())?;
        let t0 = Instant::now();
        let model = models::open(&models_dir(ctx), &self.model)?;
        let load = t0.elapsed();
        // The registered commitment is the canonical program's (see `refute model inspect`).
        let commitment = model.canonical()?.model_root()?;
        let mut report = match &model {
            Model::Encoder(enc) => {
                let t1 = Instant::now();
                let compiled = enc.canonical()?;
                let compile = t1.elapsed();
                let t2 = Instant::now();
                let emb = with_progress(&compiled, backend.as_ref(), |b| {
                    enc.embed(&compiled, b, &self.prompt)
                })?;
                let run = t2.elapsed();
                self.report(
                    &compiled,
                    &emb.run,
                    "encoder",
                    backend.name(),
                    emb.ids.len(),
                    [load, compile, run],
                    |r| {
                        r.embedding = Some(emb.vector.clone());
                    },
                )?
            }
            Model::Decoder(dec) => {
                let ids = dec.tokenizer().encode(&self.prompt);
                let sampling = match self.seed {
                    Some(seed) => Sampling::Seeded {
                        seed,
                        temperature: self.temperature,
                    },
                    None => Sampling::Greedy,
                };
                let t1 = Instant::now();
                let compiled = dec.compile(Task::Generate {
                    prompt_len: ids.len(),
                    new_tokens: self.max_tokens,
                    sampling,
                })?;
                let compile = t1.elapsed();
                let t2 = Instant::now();
                let g = with_progress(&compiled, backend.as_ref(), |b| {
                    dec.generate(&compiled, b, &ids)
                })?;
                let run = t2.elapsed();
                self.report(
                    &compiled,
                    &g.run,
                    "decoder",
                    backend.name(),
                    ids.len(),
                    [load, compile, run],
                    |r| {
                        r.text = Some(g.text.clone());
                        r.generated_ids = Some(g.ids.clone());
                    },
                )?
            }
        };
        report.model_commitment = hex32(&commitment);
        if self.json {
            let text =
                serde_json::to_string_pretty(&report).map_err(|e| crate::error::Error::Io {
                    what: "JSON output".into(),
                    source: e.into(),
                })?;
            println!("{text}");
            return Ok(());
        }
        self.print(&report);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        compiled: &Compiled,
        run: &trace_vm::exec::Run,
        kind: &'static str,
        backend: String,
        prompt_tokens: usize,
        [load, compile, run_time]: [Duration; 3],
        fill: impl FnOnce(&mut Report),
    ) -> Result<Report> {
        let mut r = Report {
            model: self.model.clone(),
            kind,
            backend,
            prompt_tokens,
            text: None,
            generated_ids: None,
            embedding: None,
            model_commitment: String::new(),
            program_hash: hex32(&compiled.program.hash()),
            trace_root: hex32(&run.trace_root),
            boundary_states: run.state_roots.len(),
            ops: compiled.program.ops().len(),
            load_ms: ms(load),
            compile_ms: ms(compile),
            run_ms: ms(run_time),
            peak_live_bytes: run.peak_live_bytes,
        };
        fill(&mut r);
        Ok(r)
    }

    fn print(&self, r: &Report) {
        if let Some(text) = &r.text {
            println!("{}{}", self.prompt, text);
            println!();
            let n = r.generated_ids.as_ref().map_or(0, Vec::len);
            println!(
                "generated        {n} tokens after {} prompt tokens ({:.2} tokens/s)",
                r.prompt_tokens,
                n as f64 / (r.run_ms / 1e3)
            );
        }
        if let Some(e) = &r.embedding {
            let norm = e.iter().map(|x| x * x).sum::<f32>().sqrt();
            let head: Vec<String> = e.iter().take(6).map(|x| format!("{x:+.5}")).collect();
            println!(
                "embedding        dim {}, L2 norm {norm:.6}, [{}, …]",
                e.len(),
                head.join(", ")
            );
            println!("tokens           {}", r.prompt_tokens);
        }
        println!("model commitment {}", r.model_commitment);
        println!("program hash     {}", r.program_hash);
        println!("trace root       {}", r.trace_root);
        println!(
            "ops              {} in {} boundary states",
            r.ops, r.boundary_states
        );
        println!("backend          {}", r.backend);
        println!(
            "time             load {:.0} ms, compile {:.0} ms, run {:.0} ms (peak live {:.1} MiB)",
            r.load_ms,
            r.compile_ms,
            r.run_ms,
            r.peak_live_bytes as f64 / (1 << 20) as f64
        );
    }
}
