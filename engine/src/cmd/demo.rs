//! `refute demo`: the whole system on the devnet with a real model. Three
//! providers post claims on the same model — one honest, one that runs a
//! perturbed copy of the model while claiming the real one, one that flips a
//! bit deep in its trace — and each defends its claim. A watcher re-executes
//! every claim, challenges the two wrong ones and plays both games to the
//! one-step; the cheaters lose their bonds, and the honest claim finalizes
//! once the devnet's clock passes its window. It ends with an account of
//! times, moves, gas and money.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use bisection::chain::Responder;
use bisection::deployment::Deployment;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trace_vm::models::{self, Model};
use watcher::config::{ConfigLayer, Defaults, Source, WatchConfig};
use watcher::daemon::{Daemon, Mode};
use watcher::pool::{Stage, Verdict};
use watcher::provider::{self, Cheat};
use watcher::stage::ChainStage;

use super::claim::run_with_spinner;
use super::model::{hex32, models_dir};
use crate::account;
use crate::error::{Error, Result};
use crate::paths::Context;

/// Anvil's development keys 1 to 4 (public knowledge: its default
/// mnemonic), funded on every devnet; key 0 deployed the contracts.
const DEV_KEYS: [&str; 4] = [
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
];

/// Arguments of `refute demo`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Needs a running devnet (`refute devnet up`; scripts/demo starts one) and the \
model installed (scripts/setup). The providers and the watcher are Anvil's \
development accounts 1 to 4. The devnet's clock is moved past the challenge \
window at the end, so run it on a devnet, never on a real chain.")]
pub struct DemoArgs {
    /// The model every provider serves (an installed encoder or decoder).
    #[arg(long, default_value = "minilm-l6")]
    model: String,
    /// The prompt of the honest provider (the cheaters get variations).
    #[arg(long, default_value = "Refute makes ML inference refutable.")]
    prompt: String,
    /// Tokens to generate (decoders).
    #[arg(long, default_value_t = 2)]
    max_tokens: usize,
    /// Print the account as JSON.
    #[arg(long)]
    json: bool,
}

/// One provider of the demo.
struct DemoProvider {
    role: &'static str,
    cheat: Option<Cheat>,
    prompt: String,
    responder: Responder,
}

/// What happened to one claim.
#[derive(Debug, Serialize)]
struct ClaimAccount {
    provider: &'static str,
    account: Address,
    claim_id: u64,
    trace_root: String,
    post_gas: u64,
    outcome: String,
    games: Vec<GameAccount>,
    seconds_to_outcome: f64,
    provider_gas: u64,
    balance_change_wei: String,
}

/// One game of the demo.
#[derive(Debug, Serialize)]
struct GameAccount {
    game_id: u64,
    winner: &'static str,
    defender_moves: u32,
    challenger_moves: u32,
}

/// The demo's account.
#[derive(Debug, Serialize)]
struct Account {
    model: String,
    model_id: String,
    claims: Vec<ClaimAccount>,
    watcher: Address,
    watcher_jobs: Vec<(u64, String, String)>,
    watcher_balance_change_wei: String,
    seconds: f64,
}

impl DemoArgs {
    /// Runs the demo on the context's devnet.
    pub async fn run(self, ctx: &Context) -> Result<()> {
        let started = Instant::now();
        let deployment = Deployment::load(&ctx.deployment)?;
        let keys: Vec<PrivateKeySigner> = DEV_KEYS
            .iter()
            .map(|k| {
                k.parse().map_err(|e| Error::BadAccountKey {
                    var: "the demo's development keys",
                    reason: format!("{e}"),
                })
            })
            .collect::<Result<_>>()?;
        let connect = |k: &PrivateKeySigner| account::connect(ctx, k.clone(), None);
        let providers = vec![
            DemoProvider {
                role: "honest",
                cheat: None,
                prompt: self.prompt.clone(),
                responder: connect(&keys[0])?,
            },
            DemoProvider {
                role: "model swapper",
                cheat: Some(Cheat::SwapModel),
                prompt: format!("{} (answered by a cheaper model)", self.prompt),
                responder: connect(&keys[1])?,
            },
            DemoProvider {
                role: "bit flipper",
                cheat: Some(Cheat::FlipBit),
                prompt: format!("{} (one bit flipped)", self.prompt),
                responder: connect(&keys[2])?,
            },
        ];
        let watcher_key = keys[3].clone();
        let chain = providers[0].responder.node().provider().clone();

        say(
            &self,
            &format!(
                "devnet {} (chain {}), claims contract {}",
                deployment.rpc_url, deployment.chain_id, deployment.contracts.claims
            ),
        );
        let model = Arc::new(models::open(&models_dir(ctx), &self.model)?);

        // The watcher: follows at depth 0, re-executes, challenges, plays.
        let db_dir = ctx.home.join("demo");
        std::fs::create_dir_all(&db_dir).map_err(|source| Error::Io {
            what: db_dir.display().to_string(),
            source,
        })?;
        let db = db_dir.join(format!("watch-{}.db", std::process::id()));
        let config = watcher_config(ctx, &db, &watcher_key)?;
        let watcher_addr = watcher_key.address();
        let watcher_before = balance(&chain, &deployment, watcher_addr).await?;
        let stage = ChainStage::from_config(&config)
            .await?
            .map(|s| Arc::new(s) as Arc<dyn Stage>);
        let (stop, shutdown) = watch::channel(false);
        let mut daemon = Daemon::start(config, stage).await?;
        say(
            &self,
            &format!("watcher {watcher_addr} follows the chain and re-executes every claim"),
        );
        // The daemon runs beside the providers (its store stays on this task).
        let scenario = async {
            let claims = self.play(&deployment, &providers, &model).await;
            // Let the watcher record its last results, then stop it.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = stop.send(true);
            claims
        };
        let (followed, claims) = tokio::join!(daemon.run(Mode::Follow, shutdown, |_| {}), scenario);
        followed?;
        let (claims, model_id) = claims?;
        let watcher_jobs = daemon.store().jobs()?;
        let account = Account {
            model: self.model.clone(),
            model_id,
            claims,
            watcher: watcher_addr,
            watcher_jobs,
            watcher_balance_change_wei: signed(
                balance(&chain, &deployment, watcher_addr).await?,
                watcher_before,
            ),
            seconds: started.elapsed().as_secs_f64(),
        };
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&account).map_err(|e| Error::Io {
                    what: "JSON output".into(),
                    source: e.into()
                })?
            );
        } else {
            print(&account);
        }
        Ok(())
    }

    /// The providers answer, post and defend; the honest claim's window is
    /// passed once the wrong ones are rejected. What happened to each claim,
    /// and the model id.
    async fn play(
        &self,
        deployment: &Deployment,
        providers: &[DemoProvider],
        model: &Arc<Model>,
    ) -> Result<(Vec<ClaimAccount>, String)> {
        let chain = providers[0].responder.node().provider().clone();

        // The providers answer and post, then defend their claims.
        let mut posted = Vec::new();
        let mut model_id = String::new();
        for p in providers {
            let m = model.clone();
            let (prompt, max_tokens, cheat) = (p.prompt.clone(), self.max_tokens, p.cheat);
            let answer = run_with_spinner(&self.model, || {
                provider::answer(&m, &prompt, max_tokens, cheat)
            })?;
            let before = balance(&chain, deployment, p.responder.node().sender()).await?;
            model_id = p
                .responder
                .register(&answer.post.claim, &self.model)
                .await?
                .to_string();
            let bond = p.responder.min_bond().await?;
            let (claim_id, sent) = p.responder.post_claim(&answer.post, bond).await?;
            say(
                self,
                &format!(
                    "{:>13} provider {} posted claim {claim_id}: trace root {}",
                    p.role,
                    p.responder.node().sender(),
                    hex32(&answer.post.claim.trace_root)
                ),
            );
            let stage = ChainStage::new(p.responder.clone(), bond, Duration::from_millis(200));
            let trace = answer.trace;
            let defence: JoinHandle<watcher::Result<Verdict>> =
                tokio::spawn(async move { stage.defend(claim_id, trace).await });
            posted.push((
                p,
                claim_id,
                sent,
                before,
                defence,
                Instant::now(),
                hex32(&answer.post.claim.trace_root),
            ));
        }

        // Wait for the two wrong claims to be rejected, showing the games.
        let bar = (!self.json).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let mut claims = Vec::new();
        let (honest, cheaters): (Vec<_>, Vec<_>) =
            posted.into_iter().partition(|p| p.0.cheat.is_none());
        let game = providers[0].responder.node().game();
        for (p, claim_id, sent, before, defence, at, root) in cheaters.into_iter().chain(honest) {
            if p.cheat.is_none() {
                // Nobody challenged it; move the devnet's clock past its window.
                let window = providers[0]
                    .responder
                    .node()
                    .claims()
                    .challengeWindow()
                    .call()
                    .await
                    .map_err(|e| rpc("challengeWindow", deployment, e))?;
                chain
                    .anvil_increase_time(window + 1)
                    .await
                    .map_err(|e| rpc("evm_increaseTime", deployment, e))?;
                chain
                    .evm_mine(None)
                    .await
                    .map_err(|e| rpc("evm_mine", deployment, e))?;
                say(
                    self,
                    &format!(
                        "devnet clock moved {}s forward, past the challenge window",
                        window + 1
                    ),
                );
            }
            let mut defence = defence;
            let verdict = loop {
                if let Some(bar) = &bar {
                    let n: u64 = game.gameCount().call().await.map(|c| c.to()).unwrap_or(0);
                    bar.set_message(format!(
                        "waiting for claim {claim_id} ({} provider); {n} games opened",
                        p.role
                    ));
                }
                tokio::select! {
                    done = &mut defence => break done.map_err(|e| Error::Io { what: "a defence task".into(), source: std::io::Error::other(e) })??,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            };
            let mut games = Vec::new();
            for (game_id, _) in p.responder.games_on(claim_id).await? {
                let g = game
                    .getGame(U256::from(game_id))
                    .call()
                    .await
                    .map_err(|e| rpc("getGame", deployment, e))?;
                games.push(GameAccount {
                    game_id,
                    winner: match g.phase as u8 {
                        4 => "defender",
                        5 => "challenger",
                        _ => "nobody yet",
                    },
                    defender_moves: g.defenderMoves,
                    challenger_moves: g.challengerMoves,
                });
            }
            let after = balance(&chain, deployment, p.responder.node().sender()).await?;
            say(
                self,
                &format!(
                    "claim {claim_id} ({} provider): {} after {:.1}s",
                    p.role,
                    verdict.detail,
                    at.elapsed().as_secs_f64()
                ),
            );
            claims.push(ClaimAccount {
                provider: p.role,
                account: p.responder.node().sender(),
                claim_id,
                trace_root: root,
                post_gas: sent.gas,
                outcome: verdict.detail,
                games,
                seconds_to_outcome: at.elapsed().as_secs_f64(),
                provider_gas: sent.gas + verdict.gas_spent,
                balance_change_wei: signed(after, before),
            });
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        Ok((claims, model_id))
    }
}

fn say(args: &DemoArgs, line: &str) {
    if !args.json {
        println!("{line}");
    }
}

fn rpc(call: &'static str, d: &Deployment, e: impl std::fmt::Display) -> Error {
    Error::Rpc {
        call,
        rpc_url: d.rpc_url.clone(),
        reason: e.to_string(),
    }
}

async fn balance(chain: &DynProvider, d: &Deployment, who: Address) -> Result<U256> {
    chain
        .get_balance(who)
        .await
        .map_err(|e| rpc("eth_getBalance", d, e))
}

/// `after - before` in wei, with its sign.
fn signed(after: U256, before: U256) -> String {
    if after >= before {
        format!("+{}", after - before)
    } else {
        format!("-{}", before - after)
    }
}

/// The watcher's settings: the devnet, depth 0, quick polls, its own database.
fn watcher_config(
    ctx: &Context,
    db: &std::path::Path,
    key: &PrivateKeySigner,
) -> Result<WatchConfig> {
    let layer = ConfigLayer {
        confirmations: Some(0),
        poll_interval_ms: Some(200),
        db: Some(db.to_path_buf()),
        ..ConfigLayer::default()
    };
    let defaults = Defaults {
        deployment: ctx.deployment.clone(),
        db: db.to_path_buf(),
        models_dir: models_dir(ctx),
        workers: watcher::config::WORKERS,
    };
    let key = format!("0x{}", hex::encode(key.to_bytes()));
    Ok(WatchConfig::resolve(
        defaults,
        &[(Source::Flags, &layer)],
        Some(&key),
    )?)
}

fn ether(wei: &str) -> String {
    let (sign, digits) = wei.split_at(1);
    let v: f64 = digits.parse().unwrap_or(0.0);
    format!("{sign}{:.6} ETH", v / 1e18)
}

fn print(a: &Account) {
    println!();
    println!(
        "== account ({:.1} s in all), model {} ({})",
        a.seconds, a.model, a.model_id
    );
    for c in &a.claims {
        println!();
        println!(
            "claim {} by the {} provider {}",
            c.claim_id, c.provider, c.account
        );
        println!("  trace root   {}", c.trace_root);
        println!(
            "  outcome      {} ({:.1} s after posting)",
            c.outcome, c.seconds_to_outcome
        );
        for g in &c.games {
            println!(
                "  game {}      won by the {}: {} moves by the defender, {} by the challenger",
                g.game_id, g.winner, g.defender_moves, g.challenger_moves
            );
        }
        println!("  gas          {} (post {})", c.provider_gas, c.post_gas);
        println!("  balance      {}", ether(&c.balance_change_wei));
    }
    println!();
    println!("watcher {}", a.watcher);
    for (claim, state, detail) in &a.watcher_jobs {
        println!("  claim {claim}: {state}: {detail}");
    }
    println!("  balance      {}", ether(&a.watcher_balance_change_wei));
}
