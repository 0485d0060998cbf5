//! A game's state as the pure rules see it, read from the chain: every move
//! of the game (found by its `DisputeGame` event, read back from its
//! transaction's calldata) is replayed through [`Game::apply`] at its
//! block's timestamp, and the result is compared field by field with
//! `DisputeGame.getGame`. The strategies decide on this mirror; a
//! difference means the client and the contract follow different rules,
//! and is an error rather than a guess.

use alloy::consensus::Transaction as _;
use alloy::primitives::{Address, B256, Bytes, TxHash, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;

use super::node::Node;
use super::responder::action_of_call;
use crate::contracts::DisputeGame;
use crate::error::Target;
use crate::game::rules::{Action, Game, Params, Phase, Role, RuleError};
use crate::machine::{OneStep, State};
use crate::{Error, Result};

/// The local mirror of one on-chain game.
#[derive(Debug, Clone)]
pub struct Mirror {
    game_id: u64,
    game: Game,
    /// Block of the game's creation: its moves are searched from there.
    created_block: u64,
    /// Timestamp of that block: the game's clocks start there.
    created_time: u64,
    /// The block of the last move replayed (the creation block before any):
    /// a sync searches from there, so it reads only the newest blocks.
    last_block: u64,
    /// Moves (transactions) of `last_block` already replayed.
    in_last_block: usize,
    last_tx: Option<TxHash>,
}

impl Mirror {
    /// Opens game `game_id` at its creation; [`Mirror::sync`] brings it up to date.
    pub async fn open(node: &Node, game_id: u64) -> Result<Self> {
        let on = Target::Game(game_id);
        let contract = node.game();
        let id = U256::from(game_id);
        let view = node
            .read("getGame", on, || async {
                contract.getGame(id).call().await
            })
            .await?;
        let arity = node
            .read("arityLog2", on, || async {
                contract.arityLog2().call().await
            })
            .await?;
        let clock = node
            .read("clock", on, || async { contract.clock().call().await })
            .await?;
        let filter = Filter::new()
            .address(node.contracts().dispute_game)
            .event_signature(DisputeGame::GameCreated::SIGNATURE_HASH)
            .topic1(B256::from(id))
            .from_block(node.first_block());
        let created = node.logs(on, &filter).await?;
        let log = created.first().ok_or(Error::Unexpected {
            on,
            reason: "no GameCreated event: the game does not exist on this deployment".into(),
        })?;
        let created_block = log.block_number.ok_or(Error::Unexpected {
            on,
            reason: "GameCreated event without a block number".into(),
        })?;
        let start = block_time(on, log)?;
        let root = view.roots.first().ok_or(Error::Unexpected {
            on,
            reason: "getGame returned no roots".into(),
        })?;
        let params = Params {
            arity_log2: arity.into(),
            clock,
        };
        Ok(Self {
            game_id,
            game: Game::new(params, view.sizes.clone(), root.0, start),
            created_block,
            created_time: start,
            last_block: created_block,
            in_last_block: 0,
            last_tx: None,
        })
    }

    /// The game as the rules see it.
    pub fn game(&self) -> &Game {
        &self.game
    }

    /// The game's id.
    pub fn game_id(&self) -> u64 {
        self.game_id
    }

    /// The block that created the game, and its timestamp.
    pub fn created(&self) -> (u64, u64) {
        (self.created_block, self.created_time)
    }

    /// The transaction of the last move replayed.
    pub fn last_tx(&self) -> Option<TxHash> {
        self.last_tx
    }

    /// Replays the moves made since the last sync, then checks the mirror
    /// against `getGame`. `vm` decides replayed one-steps exactly as the
    /// contract's verifier must.
    pub async fn sync(&mut self, node: &Node, vm: &OneStep) -> Result<()> {
        let on = Target::Game(self.game_id);
        // The moves and the state are read at one block, so a move landing
        // between the two reads cannot make them disagree.
        let head = latest_block(node, on).await?;
        let (from, skip) = (self.last_block, self.in_last_block);
        if head < from {
            // A reorg took the chain back below a move already replayed.
            return Err(Error::Diverged {
                game_id: self.game_id,
                field: "the last replayed move's block",
                local: format!("block {from}"),
                chain: format!("head at block {head}"),
            });
        }
        let moves = move_txs(node, self.game_id, from, head, skip).await?;
        for m in moves {
            let action = action_of_call(&m.calldata).ok_or(Error::TxFailed {
                call: "replay",
                on,
                tx: m.tx,
                reason: "not a direct DisputeGame move (calls through other contracts cannot be replayed)".into(),
            })?;
            apply_chain_move(&mut self.game, vm, &action, m.time).map_err(|e| Error::Diverged {
                game_id: self.game_id,
                field: "a move",
                local: format!("rejected: {e}"),
                chain: format!("accepted in transaction {}", m.tx),
            })?;
            if m.block == self.last_block {
                self.in_last_block += 1;
            } else {
                (self.last_block, self.in_last_block) = (m.block, 1);
            }
            self.last_tx = Some(m.tx);
        }
        self.check(node, head).await
    }

    /// Compares the mirror with the contract's view of the game at `block`.
    async fn check(&self, node: &Node, block: u64) -> Result<()> {
        let on = Target::Game(self.game_id);
        let contract = node.game();
        let id = U256::from(self.game_id);
        let v = node
            .read("getGame", on, || async {
                contract.getGame(id).block(block.into()).call().await
            })
            .await?;
        let g = &self.game;
        let phase = match g.phase() {
            Phase::Reveal => 1u8,
            Phase::Pick(_) => 2,
            Phase::Step => 3,
            Phase::Over(Role::Defender) => 4,
            Phase::Over(Role::Challenger) => 5,
        };
        let (depth, index) = g.node();
        let roots: Vec<B256> = g.roots().iter().copied().map(B256::from).collect();
        let fields: [(&'static str, String, String); 8] = [
            ("phase", phase.to_string(), (v.phase as u8).to_string()),
            ("level", g.level().to_string(), v.level.to_string()),
            (
                "node",
                format!("({depth}, {index})"),
                format!("({}, {})", v.depth, v.index),
            ),
            (
                "defender clock",
                g.clock(Role::Defender).to_string(),
                v.defenderClock.to_string(),
            ),
            (
                "challenger clock",
                g.clock(Role::Challenger).to_string(),
                v.challengerClock.to_string(),
            ),
            (
                "moves",
                format!("{:?}", [g.moves(Role::Defender), g.moves(Role::Challenger)]),
                format!("{:?}", [v.defenderMoves, v.challengerMoves]),
            ),
            ("path", format!("{:?}", g.path()), format!("{:?}", v.path)),
            ("roots", format!("{roots:?}"), format!("{:?}", v.roots)),
        ];
        for (field, local, chain) in fields {
            if local != chain {
                return Err(Error::Diverged {
                    game_id: self.game_id,
                    field,
                    local,
                    chain,
                });
            }
        }
        Ok(())
    }
}

/// A move of a game as the chain holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTx {
    /// The transaction.
    pub tx: TxHash,
    /// Its block.
    pub block: u64,
    /// The block's timestamp (the time the rules apply the move at).
    pub time: u64,
    /// Who sent it.
    pub from: Address,
    /// Its calldata ([`action_of_call`] reads the move back).
    pub calldata: Bytes,
}

/// The number of the node's latest block.
pub(crate) async fn latest_block(node: &Node, on: Target) -> Result<u64> {
    let provider = node.provider();
    node.read("eth_blockNumber", on, || async {
        provider.get_block_number().await
    })
    .await
}

/// The moves of game `game_id` mined from block `from_block` to `to_block`, in order,
/// after the first `skip`: one per transaction that logged a move event (an
/// expansion logs `Expanded`, then the `Revealed` of its first children).
pub async fn move_txs(
    node: &Node,
    game_id: u64,
    from_block: u64,
    to_block: u64,
    skip: usize,
) -> Result<Vec<MoveTx>> {
    let on = Target::Game(game_id);
    let filter = Filter::new()
        .address(node.contracts().dispute_game)
        .event_signature(vec![
            DisputeGame::Revealed::SIGNATURE_HASH,
            DisputeGame::Picked::SIGNATURE_HASH,
            DisputeGame::Expanded::SIGNATURE_HASH,
            DisputeGame::GameResolved::SIGNATURE_HASH,
        ])
        .topic1(B256::from(U256::from(game_id)))
        .from_block(from_block)
        .to_block(to_block);
    let logs = node.logs(on, &filter).await?;
    let mut seen: Vec<(TxHash, &alloy::rpc::types::Log)> = Vec::new();
    for log in &logs {
        let tx = log.transaction_hash.ok_or(Error::Unexpected {
            on,
            reason: "a move's event has no transaction hash".into(),
        })?;
        if seen.last().is_none_or(|(last, _)| *last != tx) {
            seen.push((tx, log));
        }
    }
    let mut moves = Vec::new();
    for (tx, log) in seen.into_iter().skip(skip) {
        let sent = node
            .transaction(on, tx, "the node does not know a transaction it logged")
            .await?;
        moves.push(MoveTx {
            tx,
            block: log.block_number.ok_or(Error::Unexpected {
                on,
                reason: format!("the event of move {tx} has no block number"),
            })?,
            time: block_time(on, log)?,
            from: sent.inner.signer(),
            calldata: sent.input().clone(),
        });
    }
    Ok(moves)
}

/// Applies a move read from the chain to `game` at `now`: the side to move
/// made it, except a timeout, which anyone sends for the other side. The
/// side the move counts for.
pub fn apply_chain_move(
    game: &mut Game,
    vm: &OneStep,
    action: &Action<State>,
    now: u64,
) -> std::result::Result<Role, RuleError> {
    let mover = game.to_move().ok_or(RuleError::GameOver)?;
    let who = match action {
        Action::Timeout => mover.other(),
        _ => mover,
    };
    game.apply(vm, who, action, now)?;
    Ok(who)
}

/// The timestamp of the block holding `log` (set by [`Node::logs`]).
fn block_time(on: Target, log: &alloy::rpc::types::Log) -> Result<u64> {
    log.block_timestamp.ok_or(Error::Unexpected {
        on,
        reason: "an event without its block's timestamp".into(),
    })
}
