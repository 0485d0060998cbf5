//! Side-by-side speed of Refute's VM and candle on the same installed model
//! files, in one process, runs interleaved:
//!
//! - MiniLM-L6 (safetensors): the sentence embedding of a 128-token input
//!   (mean pooling, L2 normalization);
//! - Gemma-3 270M (GGUF): greedy decoding with a K/V cache, as tokens/s.
//!
//! Refute runs the way a provider does: the same entry points as
//! `refute trace run` (`models::Encoder::embed`, `models::Decoder::generate`)
//! on `Cpu<Fast>`, with the claim-time commitment (trace root over every
//! boundary state) computed; its MiniLM time includes tokenizing the text,
//! candle is given the token ids. Before timing, the outputs are compared
//! (embedding cosine, next-token argmax) so both engines compute the same
//! thing.
//!
//! A Refute generation of N tokens is one program (prompt step, then N - 1
//! one-token steps), so its decode time per token is
//! `(T(prompt, N tokens) - T(prompt, 1 token)) / (N - 1)`; candle's decode
//! steps are timed directly. Both engines use every core the process may use,
//! through rayon's global pool (the same pool: Refute's CPU backend and candle
//! both split ops over it), whose size must be set to that number with
//! `RAYON_NUM_THREADS` (checked at start).
//!
//! Build with `RUSTFLAGS="-C target-cpu=native"` (candle is several times
//! slower without it); `scripts/bench-models` does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use candle_core::quantized::gguf_file;
use candle_core::{D, Device, Tensor as CTensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{bert, quantized_gemma3};
use trace_vm::arith::Fast;
use trace_vm::backend::{Backend, Cpu};
use trace_vm::models::gemma::{Sampling, Task};
use trace_vm::models::{Compiled, Decoder, Encoder};
use trace_vm::ops::Op;
use trace_vm::tensor::Tensor as VmTensor;

const USAGE: &str = "\
refute-bench-candle: Refute vs candle on MiniLM-L6 (128 tokens) and Gemma-3 270M decode

usage: refute-bench-candle [--models DIR] [--runs N] [--gemma-runs N] [--decode-tokens N]
                           [--only minilm|gemma]

  --models DIR         installed models (default: REFUTE_HOME/models or the repository's .refute/models)
  --runs N             timed MiniLM runs per engine (default 7)
  --gemma-runs N       timed Gemma runs per engine (default 3)
  --decode-tokens N    tokens generated per Gemma run, at least 2 (default 8)
  --only WHICH         run one model only
  --gemma-memory       run only Refute's Gemma generation and print this process's peak resident memory
  --profile            run only Refute (MiniLM, or Gemma with --only gemma) and print the time per op and input shapes
";

/// The MiniLM input: long enough that the 128-token program is all text.
const MINILM_TEXT: &str = "Refute commits to every intermediate tensor of a model run so that \
    anyone can challenge a claimed output. A watcher re-executes the claim, finds the first \
    layer where the committed state differs from its own, and bisects down to a single \
    primitive operation that the chain checks directly. Every number is computed with \
    canonical binary32 arithmetic, so honest machines agree bit for bit, whatever their \
    hardware. The encoder turns sentences into vectors; the decoder writes text one token at \
    a time; both run in the same deterministic virtual machine, layer after layer, with the \
    same rounding on every core and every compiler.";

const GEMMA_PROMPT: &str = "Once upon a time";

struct Args {
    models: PathBuf,
    runs: usize,
    gemma_runs: usize,
    decode_tokens: usize,
    only: Option<String>,
    gemma_memory: bool,
    profile: bool,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        models: trace_vm::format::models_dir(),
        runs: 7,
        gemma_runs: 3,
        decode_tokens: 8,
        only: None,
        gemma_memory: false,
        profile: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value (see --help)"))
        };
        let count = |name: &str, v: String| -> Result<usize> {
            v.parse()
                .with_context(|| format!("{name} takes a positive integer, got `{v}`"))
        };
        match arg.as_str() {
            "--models" => a.models = value("--models")?.into(),
            "--runs" => a.runs = count("--runs", value("--runs")?)?,
            "--gemma-runs" => a.gemma_runs = count("--gemma-runs", value("--gemma-runs")?)?,
            "--decode-tokens" => {
                a.decode_tokens = count("--decode-tokens", value("--decode-tokens")?)?
            }
            "--only" => a.only = Some(value("--only")?),
            "--gemma-memory" => a.gemma_memory = true,
            "--profile" => a.profile = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}` (see --help)"),
        }
    }
    ensure!(
        a.runs > 0 && a.gemma_runs > 0,
        "--runs and --gemma-runs must be at least 1"
    );
    ensure!(
        a.decode_tokens >= 2,
        "--decode-tokens must be at least 2: decode time is measured past the first token"
    );
    if let Some(o) = &a.only {
        ensure!(
            o == "minilm" || o == "gemma",
            "--only takes `minilm` or `gemma`, got `{o}`"
        );
    }
    Ok(a)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One result row: time per unit of work (an embedding, a decoded token).
struct Row {
    bench: String,
    refute: Duration,
    candle: Duration,
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if args.gemma_memory {
        return gemma_memory(&args);
    }
    if args.profile {
        return profile(&args);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let candle_threads = candle_core::utils::get_num_threads();
    ensure!(
        candle_threads == threads,
        "candle would use {candle_threads} threads and Refute {threads}; run with RAYON_NUM_THREADS={threads} (scripts/bench-models sets it)"
    );
    println!(
        "threads: {threads} for both engines (one rayon pool, RAYON_NUM_THREADS={candle_threads})"
    );
    println!(
        "candle: avx {}, f16c {}",
        candle_core::utils::with_avx(),
        candle_core::utils::with_f16c()
    );
    let mut rows = Vec::new();
    if args.only.as_deref() != Some("gemma") {
        rows.push(minilm(&args)?);
    }
    if args.only.as_deref() != Some("minilm") {
        rows.push(gemma(&args)?);
        memory_row(&args)?;
    }
    println!();
    println!(
        "| benchmark | Refute (median) | candle (median) | throughput Refute/candle | threads |"
    );
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.2}x | {threads} |",
            r.bench,
            ms(r.refute),
            ms(r.candle),
            r.candle.as_secs_f64() / r.refute.as_secs_f64()
        );
    }
    Ok(())
}

fn minilm(args: &Args) -> Result<Row> {
    let dir = args.models.join("minilm-l6");
    println!("\n== MiniLM-L6, {}", dir.display());
    let enc = Encoder::open(&dir).with_context(|| open_hint(&dir))?;
    let compiled = enc.canonical()?;
    let backend = Cpu::new(Fast);
    let refute = |compiled: &Compiled| enc.embed(compiled, &backend, MINILM_TEXT);

    let cand = CandleBert::open(&dir)?;
    let first = refute(&compiled)?;
    ensure!(
        first.ids.len() == enc.seq_len(),
        "the benchmark text gives {} tokens, it must fill all {} positions",
        first.ids.len(),
        enc.seq_len()
    );
    let theirs = cand.embed(&first.ids)?;
    let cos = cosine(&first.vector, &theirs);
    println!(
        "tokens {}, embedding cosine Refute vs candle {cos:.7}, trace root {}",
        first.ids.len(),
        hex(&first.run.trace_root)
    );
    ensure!(
        cos > 0.9999,
        "the engines disagree on the embedding (cosine {cos}); the comparison would not be fair"
    );

    let (mut tr, mut tc) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let t = Instant::now();
        let e = refute(&compiled)?;
        tr.push(t.elapsed());
        ensure!(
            e.run.trace_root == first.run.trace_root,
            "Refute's trace root changed between runs"
        );
        let t = Instant::now();
        cand.embed(&first.ids)?;
        tc.push(t.elapsed());
    }
    print_times("refute", &tr);
    print_times("candle", &tc);
    Ok(Row {
        bench: format!("MiniLM-L6 embedding, {} tokens", first.ids.len()),
        refute: median(tr),
        candle: median(tc),
    })
}

fn gemma(args: &Args) -> Result<Row> {
    let path = args.models.join("gemma3-270m/model.gguf");
    println!("\n== Gemma-3 270M decode, {}", path.display());
    let dec = Decoder::open(&path).with_context(|| open_hint(&path))?;
    let ids = dec.tokenizer().encode(GEMMA_PROMPT);
    let n = args.decode_tokens;
    let compile = |new_tokens| {
        dec.compile(Task::Generate {
            prompt_len: ids.len(),
            new_tokens,
            sampling: Sampling::Greedy,
        })
    };
    let t = Instant::now();
    let (one, full) = (compile(1)?, compile(n)?);
    println!(
        "prompt {GEMMA_PROMPT:?} ({} tokens), {n} generated tokens; Refute compiles a program in {:.0} ms on average (not timed below)",
        ids.len(),
        ms(t.elapsed()) / 2.0
    );
    let backend = Cpu::new(Fast);
    let mut cand = CandleGemma::open(&path)?;

    let g = dec.generate(&full, &backend, &ids)?;
    let (theirs, _) = cand.generate(&ids, n)?;
    let agree = g
        .ids
        .iter()
        .zip(&theirs)
        .take_while(|(a, b)| a == b)
        .count();
    println!(
        "Refute:  {:?} {:?}\ncandle:  {:?} {:?}\nfirst {agree} of {n} greedy tokens agree (candle quantizes activations to 8 bits in its k-quant dot products, so later tokens may drift)",
        g.ids,
        dec.tokenizer().decode(&g.ids),
        theirs,
        dec.tokenizer().decode(&theirs)
    );
    ensure!(
        agree > 0,
        "the engines disagree on the first next-token argmax; the comparison would not be fair"
    );

    let (mut r1, mut rn, mut cdec) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.gemma_runs {
        let t = Instant::now();
        dec.generate(&one, &backend, &ids)?;
        r1.push(t.elapsed());
        let t = Instant::now();
        let again = dec.generate(&full, &backend, &ids)?;
        rn.push(t.elapsed());
        ensure!(
            again.run.trace_root == g.run.trace_root,
            "Refute's trace root changed between runs"
        );
        let (_, per_token) = cand.generate(&ids, n)?;
        cdec.push(per_token);
    }
    print_times("refute, prompt + 1 token", &r1);
    print_times(&format!("refute, prompt + {n} tokens"), &rn);
    print_times("candle, per decoded token", &cdec);
    let (t1, tn) = (median(r1), median(rn));
    let refute = tn.saturating_sub(t1) / (n as u32 - 1);
    println!(
        "Refute decode: {:.1} ms/token ({:.2} tokens/s); candle: {:.1} ms/token ({:.2} tokens/s)",
        ms(refute),
        1.0 / refute.as_secs_f64(),
        ms(median(cdec.clone())),
        1.0 / median(cdec.clone()).as_secs_f64()
    );
    Ok(Row {
        bench: format!("Gemma-3 270M decode, per token ({n} tokens)"),
        refute,
        candle: median(cdec),
    })
}

/// Peak resident memory of Refute's Gemma generation alone, in a child
/// process (this one also holds candle's copy of the model).
fn memory_row(args: &Args) -> Result<()> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["--gemma-memory", "--models"])
        .arg(&args.models)
        .args(["--decode-tokens", &args.decode_tokens.to_string()])
        .output()
        .context("running the Gemma memory measurement")?;
    ensure!(
        out.status.success(),
        "the Gemma memory measurement failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

fn gemma_memory(args: &Args) -> Result<()> {
    let path = args.models.join("gemma3-270m/model.gguf");
    let dec = Decoder::open(&path).with_context(|| open_hint(&path))?;
    let ids = dec.tokenizer().encode(GEMMA_PROMPT);
    let compiled = dec.compile(Task::Generate {
        prompt_len: ids.len(),
        new_tokens: args.decode_tokens,
        sampling: Sampling::Greedy,
    })?;
    let g = dec.generate(&compiled, &Cpu::new(Fast), &ids)?;
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?
        .trim();
    println!(
        "Refute Gemma-3 generation of {} tokens alone: peak resident {hwm} (peak live tensors {:.0} MiB)",
        g.ids.len(),
        g.run.peak_live_bytes as f64 / f64::from(1 << 20)
    );
    Ok(())
}

/// A backend that times every op by its label and input shapes.
struct Timed<'a> {
    inner: &'a dyn Backend,
    times: Mutex<HashMap<String, (Duration, usize)>>,
}

impl Backend for Timed<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn run(&self, op: &Op, inputs: &[&VmTensor]) -> trace_vm::Result<VmTensor> {
        let t = Instant::now();
        let out = self.inner.run(op, inputs);
        let dt = t.elapsed();
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let label = format!("{} {shapes:?}", op.label());
        let mut times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        let e = times.entry(label).or_default();
        e.0 += dt;
        e.1 += 1;
        out
    }
}

fn profile(args: &Args) -> Result<()> {
    let fast = Cpu::new(Fast);
    let timed = Timed {
        inner: &fast,
        times: Mutex::default(),
    };
    // One untimed run first (page faults on the weights, allocator warm-up).
    let (what, total) = if args.only.as_deref() == Some("gemma") {
        let path = args.models.join("gemma3-270m/model.gguf");
        let dec = Decoder::open(&path).with_context(|| open_hint(&path))?;
        let ids = dec.tokenizer().encode(GEMMA_PROMPT);
        let compiled = dec.compile(Task::Generate {
            prompt_len: ids.len(),
            new_tokens: args.decode_tokens,
            sampling: Sampling::Greedy,
        })?;
        dec.generate(&compiled, &fast, &ids)?;
        let t = Instant::now();
        for _ in 0..args.runs {
            dec.generate(&compiled, &timed, &ids)?;
        }
        let what = format!(
            "Gemma-3 270M, {} prompt tokens + {} generated",
            ids.len(),
            args.decode_tokens
        );
        (what, t.elapsed() / args.runs as u32)
    } else {
        let dir = args.models.join("minilm-l6");
        let enc = Encoder::open(&dir).with_context(|| open_hint(&dir))?;
        let compiled = enc.canonical()?;
        enc.embed(&compiled, &fast, MINILM_TEXT)?;
        let t = Instant::now();
        for _ in 0..args.runs {
            enc.embed(&compiled, &timed, MINILM_TEXT)?;
        }
        let what = format!("MiniLM-L6 embedding, {} tokens", enc.seq_len());
        (what, t.elapsed() / args.runs as u32)
    };
    let mut rows: Vec<_> = timed
        .times
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .collect();
    rows.sort_by_key(|(_, (d, _))| std::cmp::Reverse(*d));
    let ops: Duration = rows.iter().map(|(_, (d, _))| *d).sum::<Duration>() / args.runs as u32;
    println!(
        "{what}, {} runs: {:.1} ms per run, {:.1} ms in ops (the rest is hashing the boundary states, tokenizing and bookkeeping)",
        args.runs,
        ms(total),
        ms(ops)
    );
    for (label, (d, n)) in rows {
        let per_run = d / args.runs as u32;
        println!(
            "{:>8.2} ms {:>5.1}%  {:>4} x  {label}",
            ms(per_run),
            100.0 * per_run.as_secs_f64() / total.as_secs_f64(),
            n / args.runs
        );
    }
    Ok(())
}

fn open_hint(path: &Path) -> String {
    format!(
        "opening {}; install the models with scripts/setup or pass --models",
        path.display()
    )
}

fn print_times(what: &str, ts: &[Duration]) {
    let list: Vec<String> = ts.iter().map(|t| format!("{:.1}", ms(*t))).collect();
    println!("{what:>28}: {} ms", list.join(", "));
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// candle's BERT with sentence-transformers mean pooling and normalization.
struct CandleBert {
    model: bert::BertModel,
}

impl CandleBert {
    fn open(dir: &Path) -> Result<Self> {
        let config: bert::Config = serde_json::from_str(
            &std::fs::read_to_string(dir.join("config.json")).context("reading config.json")?,
        )?;
        let bytes = std::fs::read(dir.join("model.safetensors"))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, bert::DTYPE, &Device::Cpu)?;
        Ok(CandleBert {
            model: bert::BertModel::load(vb, &config)?,
        })
    }

    fn embed(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let ids = CTensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, None)?;
        let pooled = hidden.mean(1)?;
        let norm = pooled.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        Ok(pooled.broadcast_div(&norm)?.squeeze(0)?.to_vec1()?)
    }
}

/// candle's quantized Gemma-3 with its K/V cache.
struct CandleGemma {
    model: quantized_gemma3::ModelWeights,
}

impl CandleGemma {
    fn open(path: &Path) -> Result<Self> {
        let mut f = std::fs::File::open(path)?;
        let content = gguf_file::Content::read(&mut f)?;
        Ok(CandleGemma {
            model: quantized_gemma3::ModelWeights::from_gguf(content, &mut f, &Device::Cpu)?,
        })
    }

    /// Greedy-decode `n` tokens after `prompt`; also the median time of the
    /// one-token decode steps.
    fn generate(&mut self, prompt: &[u32], n: usize) -> Result<(Vec<u32>, Duration)> {
        let argmax =
            |logits: CTensor| -> Result<u32> { Ok(logits.squeeze(0)?.argmax(0)?.to_scalar()?) };
        let x = CTensor::new(prompt, &Device::Cpu)?.unsqueeze(0)?;
        let mut out = vec![argmax(self.model.forward(&x, 0)?)?];
        let mut steps = Vec::new();
        for i in 1..n {
            let t = Instant::now();
            let x = CTensor::new(&[out[i - 1]], &Device::Cpu)?.unsqueeze(0)?;
            out.push(argmax(self.model.forward(&x, prompt.len() + i - 1)?)?);
            steps.push(t.elapsed());
        }
        Ok((out, median(steps)))
    }
}
