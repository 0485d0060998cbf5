//! The stage that acts on chain: re-executes every claim, challenges the
//! wrong ones and plays their games to the end; for the account's own claims
//! (a provider's), defends every game opened against them and finalizes
//! them after the window. Bonds won are settled and withdrawn.
//!
//! Nothing here is kept in memory across a restart: the chain is the record.
//! A challenge already sent is found in the `Challenged` logs, a game's
//! position is replayed from its moves ([`bisection::chain::Mirror`]), and
//! the trace is re-executed from the claim's calldata. So a job cut short by
//! a crash or an RPC outage is simply handled again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use bisection::chain::{Node, Player, Responder, Retry};
use bisection::deployment::Deployment;
use bisection::game::rules::Role;
use bisection::machine::{ClaimPost, MachineTrace};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::WatchConfig;
use crate::models::LocalModel;
use crate::pool::{Handled, Stage, StageFuture, Verdict};
use crate::reexec::{Unrunnable, reexecute};
use crate::store::ClaimRecord;
use crate::{Error, Result};

/// Claims' statuses in `Claims.getClaim` (`IClaims.Status`).
const PENDING: u8 = 1;

/// The on-chain stage of one account.
#[derive(Debug, Clone)]
pub struct ChainStage {
    responder: Responder,
    bond: U256,
    poll: Duration,
    own_only: bool,
    /// One permit per core: re-executions are CPU- and memory-bound, so
    /// however many workers play games, only this many models run at once.
    executing: Arc<Semaphore>,
}

impl ChainStage {
    /// Acts as `responder`'s account, challenging with `bond` wei and
    /// re-reading games every `poll` while the other side thinks.
    pub fn new(responder: Responder, bond: U256, poll: Duration) -> Self {
        Self {
            responder,
            bond,
            poll,
            own_only: false,
            executing: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            )),
        }
    }

    /// Acts on the account's own claims only (a provider's daemon): other
    /// claims are skipped without being re-executed.
    pub fn own_claims_only(mut self) -> Self {
        self.own_only = true;
        self
    }

    /// The stage of `config`'s account, if it has one: connected to the
    /// deployment's node, challenging with the contract's minimum bond.
    pub async fn from_config(config: &WatchConfig) -> Result<Option<Self>> {
        let Some(account) = &config.account else {
            return Ok(None);
        };
        let deployment = Deployment::load(&config.deployment)?;
        let rpc_url = config.rpc_url.as_deref().unwrap_or(&deployment.rpc_url);
        let retry = Retry {
            attempts: config.rpc_max_retries.max(1),
            ..Retry::default()
        };
        let node = Node::connect(
            rpc_url,
            account.signer().clone(),
            deployment.contracts.clone(),
            retry,
        )?
        .since(deployment.deploy_block);
        let responder = Responder::new(node);
        let bond = responder.min_bond().await?;
        tracing::info!(target: "refute::watch", account = %responder.node().sender(), %bond, "acting on chain: re-executing, challenging and defending");
        Ok(Some(Self::new(responder, bond, config.poll_interval)))
    }

    async fn judge(&self, claim: &ClaimRecord, model: &LocalModel) -> Result<Handled> {
        let err = |e: bisection::Error| stage_error(claim.id, e);
        let ours = claim.claimant == self.responder.node().sender();
        if self.own_only && !ours {
            return Ok(Handled::Skipped("not this account's claim".into()));
        }
        let started = Instant::now();
        let posted = match self.responder.posted(claim.id, claim.tx).await {
            Ok(p) => p.post,
            Err(e @ bisection::Error::Unexpected { .. }) => {
                return Ok(Handled::Skipped(e.to_string()));
            }
            Err(e) => return Err(err(e)),
        };
        let running = self.executing.acquire().await.map_err(|e| Error::Stage {
            claim: claim.id,
            reason: format!("re-execution slots closed: {e}"),
        })?;
        let executed = run(claim.id, model, &posted).await?;
        drop(running);
        let trace = match executed {
            Ok(trace) => trace,
            Err(Unrunnable(reason)) => return Ok(Handled::Skipped(reason)),
        };
        let matches = trace.claim() == &posted.claim;
        let elapsed = started.elapsed();
        tracing::info!(target: "refute::watch", claim = claim.id, model = %model.name, matches, ours, ?elapsed, "re-executed");
        let mut verdict = Verdict {
            matches,
            elapsed,
            ..Verdict::default()
        };
        verdict.detail = if ours && !matches {
            tracing::error!(target: "refute::watch", claim = claim.id, "our own claim differs from its re-execution; it cannot be defended");
            "our own claim differs from its re-execution: not defended".into()
        } else if ours {
            let defence = self.defend(claim.id, trace).await?;
            verdict.gas_spent += defence.gas_spent;
            verdict.bonds_claimed_wei += defence.bonds_claimed_wei;
            defence.detail
        } else if matches {
            "the trace root matches".into()
        } else {
            self.challenge(claim, &posted, trace, &mut verdict).await?
        };
        Ok(Handled::Judged(verdict))
    }

    /// Challenges a wrong claim (unless this account already did) and plays
    /// the game to its end.
    async fn challenge(
        &self,
        claim: &ClaimRecord,
        posted: &ClaimPost,
        trace: MachineTrace,
        verdict: &mut Verdict,
    ) -> Result<String> {
        let err = |e: bisection::Error| stage_error(claim.id, e);
        let me = self.responder.node().sender();
        let open = self.responder.games_on(claim.id).await.map_err(err)?;
        let game_id = match open.iter().find(|(_, who)| *who == me) {
            Some(&(game_id, _)) => {
                tracing::info!(target: "refute::watch", claim = claim.id, game_id, "resuming our game");
                game_id
            }
            None => {
                match self
                    .responder
                    .challenge(claim.id, &posted.claim, self.bond)
                    .await
                {
                    Ok((game_id, sent)) => {
                        tracing::info!(target: "refute::watch", claim = claim.id, game_id, tx = %sent.tx, "challenged");
                        verdict.gas_spent += sent.gas;
                        game_id
                    }
                    // Too late, or the claim was settled by others' games.
                    Err(e @ bisection::Error::Rejected { .. }) => {
                        return Ok(format!("wrong, but not challenged: {e}"));
                    }
                    Err(e) => return Err(err(e)),
                }
            }
        };
        let winner = self
            .play(claim.id, game_id, Role::Challenger, trace, verdict)
            .await?;
        Ok(format!("challenged in game {game_id}: {winner:?} won"))
    }

    /// Defends every game opened against this account's claim `claim_id`
    /// (played by `trace`), finalizes the claim once its window has passed
    /// with no game open, and withdraws what it won. Returns once the claim
    /// is finalized or rejected.
    pub async fn defend(&self, claim_id: u64, trace: MachineTrace) -> Result<Verdict> {
        let started = Instant::now();
        let mut verdict = Verdict::default();
        let mut playing: JoinSet<(u64, Result<(Role, Verdict)>)> = JoinSet::new();
        let mut joined = Vec::new();
        let mut outcomes = Vec::new();
        loop {
            // Read before the games are listed: every game that settled the
            // claim is then among them, and is joined before the loop ends.
            let (status, deadline, now) = match self.claim_status(claim_id).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(target: "refute::watch", claim = claim_id, error = %e, "cannot read the claim; trying again");
                    tokio::time::sleep(self.poll).await;
                    continue;
                }
            };
            // An RPC failure here is waited out, never a reason to stop
            // defending: the claim's bond is at stake.
            let games = match self.responder.games_on(claim_id).await {
                Ok(games) => games,
                Err(e) => {
                    tracing::warn!(target: "refute::watch", claim = claim_id, error = %e, "cannot list the games; trying again");
                    tokio::time::sleep(self.poll).await;
                    continue;
                }
            };
            for (game_id, _) in games {
                if joined.contains(&game_id) {
                    continue;
                }
                joined.push(game_id);
                let stage = self.clone();
                let trace = trace.clone();
                playing.spawn(async move {
                    let mut v = Verdict::default();
                    let played = stage
                        .play(claim_id, game_id, Role::Defender, trace, &mut v)
                        .await;
                    (game_id, played.map(|winner| (winner, v)))
                });
            }
            while let Some(done) = playing.try_join_next() {
                match done {
                    Ok((game_id, Ok((winner, v)))) => {
                        verdict.gas_spent += v.gas_spent;
                        verdict.bonds_claimed_wei += v.bonds_claimed_wei;
                        outcomes.push(format!("game {game_id}: {winner:?} won"));
                    }
                    // An RPC outage or a reorg: every unfinished game is
                    // joined again from the chain after a pause.
                    Ok((game_id, Err(e))) => {
                        tracing::warn!(target: "refute::watch", claim = claim_id, game_id, error = %e, "a defence failed; joining the game again");
                        joined.retain(|&g| g != game_id);
                    }
                    Err(e) => {
                        return Err(Error::Stage {
                            claim: claim_id,
                            reason: format!("a game task failed: {e}"),
                        });
                    }
                }
            }
            // Over once the claim is settled and every game on it played.
            if status != PENDING && playing.is_empty() {
                break;
            }
            if status == PENDING && playing.is_empty() && now > deadline {
                match self.responder.finalize(claim_id).await {
                    Ok(sent) => {
                        verdict.gas_spent += sent.gas;
                        tracing::info!(target: "refute::watch", claim = claim_id, tx = %sent.tx, "finalized");
                    }
                    // A game opened in the meantime: defend it first.
                    Err(e) => {
                        tracing::info!(target: "refute::watch", claim = claim_id, error = %e, "not finalized yet");
                    }
                }
                continue;
            }
            tokio::time::sleep(self.poll).await;
        }
        verdict.bonds_claimed_wei += self.withdraw(claim_id).await?;
        let (status, ..) = self.claim_status(claim_id).await?;
        let status = if status == PENDING + 1 {
            "finalized"
        } else {
            "rejected"
        };
        verdict.matches = status == "finalized";
        verdict.elapsed = started.elapsed();
        verdict.detail = if outcomes.is_empty() {
            format!("our claim, {status}")
        } else {
            format!("our claim, defended ({}), {status}", outcomes.join(", "))
        };
        Ok(verdict)
    }

    /// Plays `role` in game `game_id` to its end, then settles it and
    /// withdraws what this account won.
    async fn play(
        &self,
        claim_id: u64,
        game_id: u64,
        role: Role,
        trace: MachineTrace,
        verdict: &mut Verdict,
    ) -> Result<Role> {
        let err = |e: bisection::Error| stage_error(claim_id, e);
        let mut player = Player::join(self.responder.clone(), game_id, role, trace)
            .await
            .map_err(err)?;
        let winner = player.play_out(self.poll).await.map_err(err)?;
        verdict.gas_spent += player.gas().values().map(|g| g.total).sum::<u64>();
        tracing::info!(target: "refute::watch", game_id, ?role, ?winner, moves = ?player.mirror().game().moves(role), "game over");
        if !self.responder.is_settled(game_id).await.map_err(err)? {
            match self.responder.settle(game_id).await {
                Ok(s) => verdict.gas_spent += s.sent.gas,
                // Settled by the other side in the meantime.
                Err(bisection::Error::Rejected { .. }) => {}
                Err(e) => return Err(err(e)),
            }
        }
        if winner == role {
            verdict.bonds_claimed_wei += self.withdraw(claim_id).await?;
        }
        Ok(winner)
    }

    /// Withdraws this account's credit, if any; the wei withdrawn.
    async fn withdraw(&self, claim: u64) -> Result<f64> {
        let err = |e: bisection::Error| stage_error(claim, e);
        let credit = self.responder.node().credit().await.map_err(err)?;
        if credit.is_zero() {
            return Ok(0.0);
        }
        match self.responder.withdraw().await {
            Ok((amount, _)) => Ok(f64::from(amount)),
            // Another game of this account withdrew the credit just before.
            Err(bisection::Error::Rejected { .. }) => Ok(0.0),
            Err(e) => Err(err(e)),
        }
    }

    /// A claim's status, its window's end and the latest block's time.
    async fn claim_status(&self, claim_id: u64) -> Result<(u8, u64, u64)> {
        let err = |e: bisection::Error| stage_error(claim_id, e);
        let node = self.responder.node();
        let claims = node.claims();
        let c = node
            .read("getClaim", bisection::Target::Claim(claim_id), || async {
                claims.getClaim(U256::from(claim_id)).call().await
            })
            .await
            .map_err(err)?;
        let now = node.latest_time().await.map_err(err)?;
        Ok((c.status as u8, c.deadline, now))
    }
}

impl Stage for ChainStage {
    fn handle<'a>(&'a self, claim: &'a ClaimRecord, model: &'a LocalModel) -> StageFuture<'a> {
        Box::pin(self.judge(claim, model))
    }
}

/// Re-executes on a blocking thread (a forward pass is seconds of CPU).
async fn run(
    claim: u64,
    model: &LocalModel,
    posted: &ClaimPost,
) -> Result<std::result::Result<MachineTrace, Unrunnable>> {
    let (model, posted) = (model.clone(), posted.clone());
    tokio::task::spawn_blocking(move || reexecute(&model, &posted))
        .await
        .map_err(|e| Error::Stage {
            claim,
            reason: format!("the re-execution task failed: {e}"),
        })
}

fn stage_error(claim: u64, e: bisection::Error) -> Error {
    Error::Stage {
        claim,
        reason: e.to_string(),
    }
}
