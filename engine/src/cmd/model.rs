//! `refute model`: what models are installed, what each one is, and its
//! commitment (the root registered on-chain).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;
use trace_vm::format::TensorSource;
use trace_vm::models::{self, Located, Model};

use crate::error::Result;
use crate::paths::Context;

/// Arguments of `refute model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// List the installed models with their format, size, architecture,
    /// parameter count and model commitment.
    List(ListArgs),
    /// Show one model: metadata, tensors, layers, program size, commitment.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// An installed model's name (see `refute model list`) or a path.
    model: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// One row of `refute model list`.
#[derive(Debug, Serialize)]
struct Summary {
    name: String,
    format: &'static str,
    path: PathBuf,
    size_bytes: u64,
    /// Architecture, or why the model cannot be compiled.
    architecture: String,
    parameters: Option<usize>,
    /// 0x-prefixed model root, when the model compiles.
    commitment: Option<String>,
}

impl ModelArgs {
    /// Runs the chosen `model` subcommand.
    pub fn run(self, ctx: &Context) -> Result<()> {
        match self.command {
            ModelCommand::List(args) => args.run(ctx),
            ModelCommand::Inspect(args) => args.run(ctx),
        }
    }
}

/// The directory the models are installed in.
pub fn models_dir(ctx: &Context) -> PathBuf {
    ctx.home.join("models")
}

/// `0x`-prefixed hex of a hash.
pub fn hex32(h: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(h))
}

fn summarize(at: &Located) -> Summary {
    let mut s = Summary {
        name: at.name.clone(),
        format: at.format.name(),
        path: at.path.clone(),
        size_bytes: at.size(),
        architecture: String::new(),
        parameters: None,
        commitment: None,
    };
    match Model::open(at).and_then(|m| Ok((m.commitment()?, m))) {
        Ok((root, m)) => {
            s.architecture = m.architecture();
            s.parameters = Some(m.parameters());
            s.commitment = Some(hex32(&root));
        }
        Err(e) => {
            tracing::debug!(target: "refute::engine", model = %at.name, error = %e, "model not compiled");
            s.architecture = format!("not compiled: {e}");
        }
    }
    s
}

/// Human-readable byte count.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// Human-readable parameter count.
fn params(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else {
        format!("{n}")
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| crate::error::Error::Io {
        what: "JSON output".into(),
        source: e.into(),
    })
}

impl ListArgs {
    fn run(self, ctx: &Context) -> Result<()> {
        let dir = models_dir(ctx);
        let found = models::installed(&dir);
        let rows: Vec<Summary> = found.iter().map(summarize).collect();
        if self.json {
            println!("{}", to_json(&rows)?);
            return Ok(());
        }
        if rows.is_empty() {
            println!(
                "no models installed in {}; run scripts/setup",
                dir.display()
            );
            return Ok(());
        }
        println!(
            "{:<22} {:<12} {:>10} {:>8}  {:<66}  architecture",
            "name", "format", "size", "params", "commitment"
        );
        for r in &rows {
            println!(
                "{:<22} {:<12} {:>10} {:>8}  {:<66}  {}",
                r.name,
                r.format,
                human(r.size_bytes),
                r.parameters.map_or("-".into(), params),
                r.commitment.as_deref().unwrap_or("-"),
                r.architecture
            );
        }
        Ok(())
    }
}

/// Tensors of one stored dtype.
#[derive(Debug, Default, Serialize)]
struct DTypeCount {
    tensors: usize,
    elements: usize,
    bytes: usize,
}

/// What `refute model inspect` prints.
#[derive(Debug, Serialize)]
struct Inspect {
    #[serde(flatten)]
    summary: Summary,
    metadata: BTreeMap<String, String>,
    tensors: usize,
    tensors_by_dtype: BTreeMap<String, DTypeCount>,
    blocks: usize,
    program_layers: usize,
    program_ops: usize,
    program_hash: String,
    weights_root: String,
}

impl InspectArgs {
    fn run(self, ctx: &Context) -> Result<()> {
        let at = models::locate(&models_dir(ctx), &self.model)?;
        let model = Model::open(&at)?;
        let compiled = model.canonical()?;
        let (metadata, views) = match &model {
            Model::Encoder(e) => {
                let c = e.config();
                let md = [
                    ("model_type", c.model_type.clone()),
                    ("hidden_size", c.hidden_size.to_string()),
                    ("num_hidden_layers", c.num_hidden_layers.to_string()),
                    ("num_attention_heads", c.num_attention_heads.to_string()),
                    ("intermediate_size", c.intermediate_size.to_string()),
                    ("vocab_size", c.vocab_size.to_string()),
                    (
                        "max_position_embeddings",
                        c.max_position_embeddings.to_string(),
                    ),
                    ("layer_norm_eps", c.layer_norm_eps.to_string()),
                    ("hidden_act", c.hidden_act.clone()),
                    ("pooling", format!("{:?}", e.pooling())),
                    ("normalize", e.normalize().to_string()),
                    ("sequence_length", e.seq_len().to_string()),
                ];
                let md = md.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                (md, e.weights().tensors())
            }
            Model::Decoder(d) => {
                let md = d
                    .file()
                    .metadata()
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            trace_vm::format::gguf::Value::Array(a) => {
                                format!("[{} × {}]", a.len(), a.element_type_name())
                            }
                            trace_vm::format::gguf::Value::String(s) => s.clone(),
                            other => format!("{other:?}"),
                        };
                        (k.to_string(), text)
                    })
                    .collect();
                (md, d.file().tensors())
            }
        };
        let mut by_dtype: BTreeMap<String, DTypeCount> = BTreeMap::new();
        for v in &views {
            let e = by_dtype.entry(v.dtype.to_string()).or_default();
            e.tensors += 1;
            e.elements += v.element_count();
            e.bytes += v.data.len();
        }
        let root = compiled.model_root()?;
        let report = Inspect {
            summary: Summary {
                name: at.name.clone(),
                format: at.format.name(),
                path: at.path.clone(),
                size_bytes: at.size(),
                architecture: model.architecture(),
                parameters: Some(model.parameters()),
                commitment: Some(hex32(&root)),
            },
            metadata,
            tensors: views.len(),
            tensors_by_dtype: by_dtype,
            blocks: model.block_count(),
            program_layers: compiled.program.layers().len(),
            program_ops: compiled.program.ops().len(),
            program_hash: hex32(&compiled.program.hash()),
            weights_root: hex32(&compiled.weights_root()?),
        };
        if self.json {
            println!("{}", to_json(&report)?);
            return Ok(());
        }
        let s = &report.summary;
        println!("model         {}", s.name);
        println!("path          {}", s.path.display());
        println!("format        {} ({})", s.format, human(s.size_bytes));
        println!("architecture  {}", s.architecture);
        println!("parameters    {}", s.parameters.map_or("-".into(), params));
        println!("blocks        {}", report.blocks);
        println!(
            "program       {} layers, {} ops (canonical input shape), hash {}",
            report.program_layers, report.program_ops, report.program_hash
        );
        println!("weights root  {}", report.weights_root);
        println!("commitment    {}", s.commitment.as_deref().unwrap_or("-"));
        println!("tensors       {}", report.tensors);
        for (dtype, c) in &report.tensors_by_dtype {
            println!(
                "  {dtype:<8} {:>4} tensors {:>12} elements {:>10}",
                c.tensors,
                c.elements,
                human(c.bytes as u64)
            );
        }
        println!("metadata");
        for (k, v) in &report.metadata {
            println!("  {k} = {v}");
        }
        Ok(())
    }
}
