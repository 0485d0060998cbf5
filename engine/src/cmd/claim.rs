//! `refute claim`: run a model on a prompt, register its program if needed
//! and post the claim with a bond, in one shot; `--defend` stays to defend
//! it against every challenge until it finalizes.

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use serde::Serialize;
use trace_vm::models;
use watcher::provider::{self, Answer, Cheat, Output};
use watcher::stage::ChainStage;

use super::model::{hex32, models_dir};
use crate::account;
use crate::error::Result;
use crate::paths::Context;

/// Arguments of `refute claim`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The account is the private key in REFUTE_ACCOUNT_KEY. The claim's program is \
the model compiled for this prompt's shape; it is registered (once) under the \
model's name. A watcher re-derives the same program from the claim's input and \
output, re-executes it and challenges the claim if the trace differs.")]
pub struct ClaimArgs {
    /// An installed model's name (see `refute model list`) or a path.
    #[arg(long)]
    model: String,
    /// The input text.
    #[arg(long)]
    prompt: String,
    /// Tokens to generate (decoders).
    #[arg(long, default_value_t = 16)]
    max_tokens: usize,
    /// Bond in wei [default: the contract's minimum].
    #[arg(long, value_name = "WEI")]
    bond: Option<u128>,
    /// Stay, defend every game against the claim and finalize it after its
    /// window; withdraws what it won.
    #[arg(long)]
    defend: bool,
    /// Milliseconds between reads of the chain while defending.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    poll_interval_ms: u64,
    /// JSON-RPC endpoint [default: the deployment record's].
    #[arg(long, value_name = "URL")]
    rpc_url: Option<String>,
    /// Post a dishonest claim (demonstrations and tests of watchers only).
    #[arg(long, value_enum, hide = true)]
    cheat: Option<CheatArg>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The `--cheat` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum CheatArg {
    SwapModel,
    FlipBit,
}

impl From<CheatArg> for Cheat {
    fn from(c: CheatArg) -> Self {
        match c {
            CheatArg::SwapModel => Cheat::SwapModel,
            CheatArg::FlipBit => Cheat::FlipBit,
        }
    }
}

/// What `refute claim` prints.
#[derive(Debug, Serialize)]
struct Report {
    claim_id: u64,
    model: String,
    model_id: String,
    trace_root: String,
    level_sizes: Vec<u64>,
    prompt_tokens: usize,
    output: Output,
    bond_wei: String,
    post_tx: String,
    post_gas: u64,
    run_ms: f64,
    /// With --defend: how the claim ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
}

impl ClaimArgs {
    /// Runs, posts and (with `--defend`) defends the claim.
    pub async fn run(self, ctx: &Context) -> Result<()> {
        let signer = account::signer()?;
        let responder = account::connect(ctx, signer, self.rpc_url.as_deref())?;
        let model = models::open(&models_dir(ctx), &self.model)?;
        let started = Instant::now();
        let answer = run_with_spinner(&self.model, || {
            provider::answer(
                &model,
                &self.prompt,
                self.max_tokens,
                self.cheat.map(Cheat::from),
            )
        })?;
        let run_ms = started.elapsed().as_secs_f64() * 1e3;
        let Answer {
            trace,
            post,
            prompt_ids,
            output,
        } = answer;
        let bond = match self.bond {
            Some(b) => U256::from(b),
            None => responder.min_bond().await?,
        };
        let model_id = responder.register(&post.claim, &self.model).await?;
        let (claim_id, sent) = responder.post_claim(&post, bond).await?;
        tracing::info!(target: "refute::engine", claim = claim_id, model = %model_id, tx = %sent.tx, "claim posted");
        let mut report = Report {
            claim_id,
            model: self.model.clone(),
            model_id: model_id.to_string(),
            trace_root: hex32(&post.claim.trace_root),
            level_sizes: post.claim.sizes.clone(),
            prompt_tokens: prompt_ids.len(),
            output,
            bond_wei: bond.to_string(),
            post_tx: sent.tx.to_string(),
            post_gas: sent.gas,
            run_ms,
            outcome: None,
        };
        if self.defend {
            if !self.json {
                print(&report);
                println!("defending until the claim finalizes…");
            }
            let stage = ChainStage::new(
                responder,
                bond,
                Duration::from_millis(self.poll_interval_ms),
            );
            let verdict = stage.defend(claim_id, trace).await?;
            report.outcome = Some(verdict.detail);
        }
        if self.json {
            let text =
                serde_json::to_string_pretty(&report).map_err(|e| crate::error::Error::Io {
                    what: "JSON output".into(),
                    source: e.into(),
                })?;
            println!("{text}");
        } else if let Some(outcome) = &report.outcome {
            println!("outcome          {outcome}");
        } else {
            print(&report);
        }
        Ok(())
    }
}

/// Runs `f` (a forward pass) under a spinner on stderr.
pub fn run_with_spinner<T>(model: &str, f: impl FnOnce() -> T) -> T {
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("running {model} and hashing its trace"));
    bar.enable_steady_tick(Duration::from_millis(120));
    let out = f();
    bar.finish_and_clear();
    out
}

fn print(r: &Report) {
    println!("claim            {}", r.claim_id);
    match &r.output {
        Output::Embedding(e) => {
            let head: Vec<String> = e.iter().take(6).map(|x| format!("{x:+.5}")).collect();
            println!("embedding        dim {}, [{}, …]", e.len(), head.join(", "));
        }
        Output::Text { text, ids } => {
            println!("generated        {text:?} ({} tokens)", ids.len());
        }
    }
    println!("model            {} ({})", r.model, r.model_id);
    println!("trace root       {}", r.trace_root);
    println!("level sizes      {:?}", r.level_sizes);
    println!("bond             {} wei", r.bond_wei);
    println!("posted           {} ({} gas)", r.post_tx, r.post_gas);
    println!(
        "run              {:.0} ms for {} prompt tokens",
        r.run_ms, r.prompt_tokens
    );
}
