//! A side of an on-chain game: the pure strategy decides on the game's
//! mirror, the responder sends. Before each decision the player re-reads the
//! game, so after any failure a move that already landed is not sent again.

use std::collections::BTreeMap;

use alloy::providers::Provider;

use super::mirror::Mirror;
use super::node::Sent;
use super::responder::{Responder, call_name};
use crate::error::Target;
use crate::game::rules::{Action, Role};
use crate::game::strategy::{Honest, Strategy};
use crate::game::view::Trace;
use crate::machine::{MachineTrace, OneStep};
use crate::{Error, Result};

/// Gas of one kind of move.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GasStat {
    /// Moves of this kind.
    pub count: u32,
    /// Gas they used in all.
    pub total: u64,
    /// The most one of them used.
    pub max: u64,
}

impl GasStat {
    pub(crate) fn add(&mut self, gas: u64) {
        self.merge(&Self {
            count: 1,
            total: gas,
            max: gas,
        });
    }

    fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.total += other.total;
        self.max = self.max.max(other.max);
    }
}

/// What a turn of a player did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// It moved (the contract function, and the mined transaction).
    Moved(&'static str, Sent),
    /// The other side is to move, or the strategy has nothing to send.
    Waiting,
    /// The game is over.
    Over(Role),
}

/// One side of one game, playing by its own trace.
pub struct Player {
    responder: Responder,
    role: Role,
    mirror: Mirror,
    vm: OneStep,
    strategy: Honest<MachineTrace>,
    gas: BTreeMap<&'static str, GasStat>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("game_id", &self.mirror.game_id())
            .field("role", &self.role)
            .field("sender", &self.responder.node().sender())
            .finish()
    }
}

impl Player {
    /// Joins game `game_id` as `role`, playing by `trace`, which must have
    /// been pointed at the game's claim ([`MachineTrace::dispute`]).
    pub async fn join(
        responder: Responder,
        game_id: u64,
        role: Role,
        trace: MachineTrace,
    ) -> Result<Self> {
        let mirror = Mirror::open(responder.node(), game_id).await?;
        let vm = trace.vm().clone();
        let context = trace.disputed().hash();
        if mirror.game().roots().first() != Some(&trace.disputed().trace_root) {
            return Err(Error::Unexpected {
                on: Target::Game(game_id),
                reason: "the game disputes another trace root than the trace's claim; call MachineTrace::dispute with the game's claim".into(),
            });
        }
        let node = responder.node();
        let contract = node.game();
        let id = alloy::primitives::U256::from(game_id);
        let view = node
            .read("getGame", Target::Game(game_id), || async {
                contract.getGame(id).call().await
            })
            .await?;
        let account = match role {
            Role::Defender => view.defender,
            Role::Challenger => view.challenger,
        };
        if view.context.0 != context || account != node.sender() {
            return Err(Error::Unexpected {
                on: Target::Game(game_id),
                reason: format!(
                    "not this player's game: context {} (the trace's claim hash is 0x{}), {role:?} {account} (the player is {})",
                    view.context,
                    hex::encode(context),
                    node.sender()
                ),
            });
        }
        Ok(Self {
            responder,
            role,
            mirror,
            vm,
            strategy: Honest::new(trace),
            gas: BTreeMap::new(),
        })
    }

    /// The player's side.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The game as last read.
    pub fn mirror(&self) -> &Mirror {
        &self.mirror
    }

    /// Gas this player's moves used, by contract function.
    pub fn gas(&self) -> &BTreeMap<&'static str, GasStat> {
        &self.gas
    }

    /// Re-reads the game and, if it is this player's turn, makes one move.
    /// Transport failures are retried with backoff; before every attempt
    /// the game is read again, so a move that landed is not repeated.
    pub async fn turn(&mut self) -> Result<Turn> {
        let node = self.responder.node().clone();
        let retry = node.retry();
        let game_id = self.mirror.game_id();
        let mut attempt = 0;
        let mut moved_before = None;
        loop {
            self.sync(&node).await?;
            let game = self.mirror.game();
            if let Some(winner) = game.winner() {
                return Ok(Turn::Over(winner));
            }
            let made = game.moves(self.role);
            if let Some((name, before)) = moved_before
                && made > before
            {
                // The failed attempt's transaction landed after all.
                let sent = self.landed().await?;
                self.gas.entry(name).or_default().add(sent.gas);
                return Ok(Turn::Moved(name, sent));
            }
            let action = if game.to_move() == Some(self.role) {
                match self.strategy.act(game, self.role) {
                    Some(action) => action,
                    None => return Ok(Turn::Waiting),
                }
            } else if self.out_of_time(game.timeout_at()).await? {
                // The other side let its clock run out: end the game.
                Action::Timeout
            } else {
                return Ok(Turn::Waiting);
            };
            let name = call_name(&action);
            tracing::debug!(target: "refute::chain", game_id, role = ?self.role, call = name, "moving");
            match self.responder.act(game_id, game, &action).await {
                Ok(sent) => {
                    self.gas.entry(name).or_default().add(sent.gas);
                    return Ok(Turn::Moved(name, sent));
                }
                Err(err @ (Error::Transport { .. } | Error::TxFailed { .. }))
                    if attempt + 1 < retry.attempts =>
                {
                    let wait = retry.delay(attempt);
                    tracing::warn!(target: "refute::chain", game_id, call = name, attempt, ?wait, %err, "move failed; re-reading the game");
                    moved_before = Some((name, made));
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Brings the mirror up to date. A mirror that no longer matches the
    /// chain (a reorg removed moves it had replayed) is rebuilt from the
    /// game's creation, once.
    async fn sync(&mut self, node: &super::Node) -> Result<()> {
        match self.mirror.sync(node, &self.vm).await {
            Err(Error::Diverged { game_id, field, .. }) => {
                tracing::warn!(target: "refute::chain", game_id, field, "the game on chain is not the one replayed (a reorg?); replaying it again");
                self.mirror = Mirror::open(node, game_id).await?;
                self.mirror.sync(node, &self.vm).await
            }
            other => other,
        }
    }

    /// Whether the chain's latest block is at or past `timeout_at` (the
    /// contract judges a timeout by block time, not by this machine's clock).
    async fn out_of_time(&self, timeout_at: Option<u64>) -> Result<bool> {
        match timeout_at {
            Some(at) => Ok(self.responder.node().latest_time().await? >= at),
            None => Ok(false),
        }
    }

    /// Plays this side to the end of the game: moves on its turns, ends the
    /// game by timeout when the other side's clock runs out, and otherwise
    /// waits `poll` between reads. The winner.
    pub async fn play_out(&mut self, poll: std::time::Duration) -> Result<Role> {
        loop {
            match self.turn().await? {
                Turn::Over(winner) => return Ok(winner),
                Turn::Moved(..) => {}
                Turn::Waiting => tokio::time::sleep(poll).await,
            }
        }
    }

    /// The last move's transaction, found from the mirror (its receipt was lost).
    async fn landed(&self) -> Result<Sent> {
        let on = Target::Game(self.mirror.game_id());
        let tx = self.mirror.last_tx().ok_or(Error::Unexpected {
            on,
            reason: "a move landed but no transaction was replayed".into(),
        })?;
        let provider = self.responder.node().provider();
        let receipt = self
            .responder
            .node()
            .read("eth_getTransactionReceipt", on, || async {
                provider.get_transaction_receipt(tx).await
            })
            .await?
            .ok_or(Error::TxFailed {
                call: "eth_getTransactionReceipt",
                on,
                tx,
                reason: "no receipt for a replayed move".into(),
            })?;
        Ok(Sent::of(&receipt))
    }
}

/// How an on-chain game ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameReport {
    /// The game.
    pub game_id: u64,
    /// The winner.
    pub winner: Role,
    /// Accepted moves of the defender and of the challenger (the contract's count).
    pub moves: [u32; 2],
    /// Gas per contract function, over both sides' moves.
    pub gas: BTreeMap<&'static str, GasStat>,
}

/// Plays a game between two players to its end, each moving on its turn.
/// Fails when neither can move (a stalled game must be ended by `timeout`).
pub async fn play(defender: &mut Player, challenger: &mut Player) -> Result<GameReport> {
    let game_id = defender.mirror.game_id();
    let winner = loop {
        let d = defender.turn().await?;
        let c = challenger.turn().await?;
        match (d, c) {
            (Turn::Over(w), _) | (_, Turn::Over(w)) => break w,
            (Turn::Waiting, Turn::Waiting) => {
                return Err(Error::Unexpected {
                    on: Target::Game(game_id),
                    reason: "neither side has a move to make; the game can only end by timeout"
                        .into(),
                });
            }
            _ => {}
        }
    };
    // Both mirrors are synced to the end; the challenger read last.
    let game = challenger.mirror.game();
    let mut gas = defender.gas.clone();
    for (name, stat) in &challenger.gas {
        gas.entry(name).or_default().merge(stat);
    }
    let report = GameReport {
        game_id,
        winner,
        moves: [game.moves(Role::Defender), game.moves(Role::Challenger)],
        gas,
    };
    tracing::info!(target: "refute::chain", game_id, ?winner, moves = ?report.moves, "game over");
    Ok(report)
}
