//! Disputes as a developer reads them: every game of a deployment
//! ([`list`]), one game's current position ([`position`]), and a game
//! rebuilt move by move ([`Replay`]) from the chain or from a
//! self-contained [`GameExport`]. A replay re-applies each move, read back
//! from its calldata, through the pure rules ([`Game::apply`]), decodes the
//! final one-step with the reference verifier ([`OneStep::explain`]) and
//! compares the result with the contract's own count of moves and verdict.
//! The structures serialize to the JSON the `refute dispute` commands print.

use std::collections::BTreeMap;
use std::path::Path;

use alloy::primitives::{Address, B256, Bytes, TxHash, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use serde::{Deserialize, Serialize};
use trace_vm::commit::merkle::depth_for;

use super::mirror::{Mirror, apply_chain_move, latest_block, move_txs};
use super::node::Node;
use super::player::GasStat;
use super::responder::{action_of_call, call_name};
use crate::contracts::{Claims, IDisputeGame};
use crate::deployment::ContractAddresses;
use crate::error::Target;
use crate::game::rules::{Action, Game, Params, Phase, Role};
use crate::machine::{Claim, OneStep, State, StepKind};
use crate::{Error, Result};

/// The `format` field of every export; a file without it is not one.
pub const EXPORT_FORMAT: &str = "refute-dispute-export/1";

/// A claim as posted (the `ClaimPosted` event) with its model's commitment
/// (the registry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    /// The claim.
    pub claim_id: u64,
    /// Who posted it (the games' defender).
    pub claimant: Address,
    /// The model id: keccak256(weights_root ‖ arch_hash).
    pub model_id: B256,
    /// The name the model was registered under.
    pub model_name: String,
    /// The model's weights root.
    pub weights_root: B256,
    /// The model's program hash.
    pub arch_hash: B256,
    /// keccak256 of the input bytes.
    pub input_hash: B256,
    /// keccak256 of the output bytes.
    pub output_hash: B256,
    /// Root of the level-0 list (the trace's boundary states).
    pub trace_root: B256,
    /// List size of each level of its games.
    pub sizes: Vec<u64>,
    /// The claimant's bond, in wei.
    pub bond: U256,
    /// The posting transaction.
    pub tx: TxHash,
}

impl ClaimRecord {
    /// The fields the game's context hashes.
    pub fn claim(&self) -> Claim {
        Claim {
            weights_root: self.weights_root.0,
            arch_hash: self.arch_hash.0,
            input_hash: self.input_hash.0,
            output_hash: self.output_hash.0,
            trace_root: self.trace_root.0,
            sizes: self.sizes.clone(),
        }
    }
}

/// One move as mined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveRecord {
    /// The transaction.
    pub tx: TxHash,
    /// Its block.
    pub block: u64,
    /// The block's timestamp.
    pub time: u64,
    /// Who sent it.
    pub from: Address,
    /// Gas used (from the receipt).
    pub gas: u64,
    /// The `DisputeGame` call.
    pub calldata: Bytes,
}

/// A game's settlement (the `ChallengeSettled` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecord {
    /// The settling transaction.
    pub tx: TxHash,
    /// Its gas.
    pub gas: u64,
    /// Whether the challenger won (the claim is rejected).
    pub challenger_won: bool,
    /// Who was credited.
    pub payee: Address,
    /// How much, in wei.
    pub paid: U256,
}

/// The contract's view of a game (`DisputeGame.getGame`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    /// The contract's phase: 1 reveal, 2 pick, 3 step, 4 defender won, 5 challenger won.
    pub phase: u8,
    /// Level being played.
    pub level: u8,
    /// Accepted moves of the defender.
    pub defender_moves: u32,
    /// Accepted moves of the challenger.
    pub challenger_moves: u32,
    /// The defender's clock, seconds, as of the last move.
    pub defender_clock: u64,
    /// The challenger's clock, seconds, as of the last move.
    pub challenger_clock: u64,
    /// Timestamp of the last move.
    pub last_move: u64,
}

impl ChainState {
    /// The winner, once the contract says the game is over.
    pub fn winner(&self) -> Option<Role> {
        match self.phase {
            4 => Some(Role::Defender),
            5 => Some(Role::Challenger),
            _ => None,
        }
    }

    /// The side the contract waits for.
    pub fn to_move(&self) -> Option<Role> {
        match self.phase {
            1 | 3 => Some(Role::Defender),
            2 => Some(Role::Challenger),
            _ => None,
        }
    }

    /// What the game waits for, in words.
    pub fn describe(&self) -> &'static str {
        match self.phase {
            1 => "open: the defender must reveal",
            2 => "open: the challenger must pick",
            3 => "open: the defender must expand or prove the step",
            4 => "defender won",
            5 => "challenger won",
            _ => "unknown",
        }
    }
}

/// Everything needed to replay one game without a node: the claim, the
/// moves with their calldata, gas and block times, the contract's final
/// view, the settlement, and the deployment it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The chain the game was played on.
    pub chain_id: u64,
    /// The deployment's contracts.
    pub contracts: ContractAddresses,
    /// The game.
    pub game_id: u64,
    /// The claim it disputes.
    pub claim: ClaimRecord,
    /// The claimant.
    pub defender: Address,
    /// The challenger.
    pub challenger: Address,
    /// The challenger's bond, in wei.
    pub challenger_bond: U256,
    /// The challenging transaction (it created the game).
    pub challenge_tx: TxHash,
    /// Each reveal opens `2^arity_log2` children.
    pub arity_log2: u32,
    /// Each side's thinking time, in seconds.
    pub clock: u64,
    /// The block that created the game.
    pub created_block: u64,
    /// Its timestamp (both clocks start there).
    pub created_time: u64,
    /// Every move, in order.
    pub moves: Vec<MoveRecord>,
    /// The contract's view when exported.
    pub chain: ChainState,
    /// The settlement, if the game was settled.
    pub settlement: Option<SettlementRecord>,
}

impl GameExport {
    /// Reads an export written by `refute dispute export`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ExportRead {
            path: path.to_owned(),
            source,
        })?;
        let not_export = |reason: String| Error::NotAnExport {
            path: path.to_owned(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| not_export(format!("not JSON: {e}")))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(EXPORT_FORMAT) => {}
            Some(other) => {
                return Err(not_export(format!(
                    "format `{other}`, expected `{EXPORT_FORMAT}`"
                )));
            }
            None => return Err(not_export(format!("no `format: {EXPORT_FORMAT}` field"))),
        }
        serde_json::from_value(value).map_err(|e| not_export(e.to_string()))
    }

    /// Fails unless the export comes from the deployment `contracts` on
    /// chain `chain_id` (the record at `record`).
    pub fn check_deployment(
        &self,
        path: &Path,
        chain_id: u64,
        contracts: &ContractAddresses,
        record: &Path,
    ) -> Result<()> {
        if self.chain_id == chain_id && self.contracts == *contracts {
            return Ok(());
        }
        Err(Error::ForeignExport {
            path: path.to_owned(),
            game_id: self.game_id,
            found: format!(
                "chain {}, DisputeGame {}",
                self.chain_id, self.contracts.dispute_game
            ),
            record: record.to_owned(),
            expected: format!("chain {chain_id}, DisputeGame {}", contracts.dispute_game),
        })
    }
}

/// Fails with [`Error::UnknownGame`] unless game `game_id` exists.
async fn check_game(node: &Node, game_id: u64) -> Result<()> {
    let contract = node.game();
    let count = node
        .read("gameCount", Target::Game(game_id), || async {
            contract.gameCount().call().await
        })
        .await?;
    if U256::from(game_id) < count {
        Ok(())
    } else {
        Err(Error::UnknownGame {
            game_id,
            count: count.saturating_to(),
        })
    }
}

/// Decoded logs of event `E` emitted by `address`, optionally filtered by
/// the first and second indexed topics (ids), oldest first.
pub(crate) async fn events<E: SolEvent>(
    node: &Node,
    on: Target,
    address: Address,
    topic1: Option<u64>,
    topic2: Option<u64>,
) -> Result<Vec<(E, Log)>> {
    let mut filter = Filter::new()
        .address(address)
        .event_signature(E::SIGNATURE_HASH)
        .from_block(node.first_block());
    if let Some(id) = topic1 {
        filter = filter.topic1(B256::from(U256::from(id)));
    }
    if let Some(id) = topic2 {
        filter = filter.topic2(B256::from(U256::from(id)));
    }
    let logs = node.logs(on, &filter).await?;
    logs.into_iter()
        .map(|log| {
            let event = log
                .log_decode::<E>()
                .map_err(|e| Error::Unexpected {
                    on,
                    reason: format!("a malformed {} log: {e}", E::SIGNATURE),
                })?
                .inner
                .data;
            Ok((event, log))
        })
        .collect()
}

fn id_of(on: Target, what: &str, v: U256) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Unexpected {
        on,
        reason: format!("{what} {v} does not fit 64 bits"),
    })
}

/// Claim `claim_id` as posted, with its model.
async fn claim_record(node: &Node, claim_id: u64) -> Result<ClaimRecord> {
    let on = Target::Claim(claim_id);
    let posted =
        events::<Claims::ClaimPosted>(node, on, node.contracts().claims, Some(claim_id), None)
            .await?;
    let (e, log) = posted.into_iter().next().ok_or(Error::Unexpected {
        on,
        reason: "no ClaimPosted event: the claim does not exist on this deployment".into(),
    })?;
    let registry = node.registry();
    let model = node
        .read("getModel", Target::Model(e.modelId), || async {
            registry.getModel(e.modelId).call().await
        })
        .await?;
    Ok(ClaimRecord {
        claim_id,
        claimant: e.claimant,
        model_id: e.modelId,
        model_name: model.name,
        weights_root: model.weightsRoot,
        arch_hash: model.archHash,
        input_hash: e.inputHash,
        output_hash: e.outputHash,
        trace_root: e.traceRoot,
        sizes: e.levelSizes,
        bond: e.bond,
        tx: tx_of(on, &log)?,
    })
}

/// The transaction that emitted `log`.
fn tx_of(on: Target, log: &Log) -> Result<TxHash> {
    log.transaction_hash.ok_or(Error::Unexpected {
        on,
        reason: "an event without a transaction hash".into(),
    })
}

/// The gas a mined transaction used.
async fn gas_of(node: &Node, on: Target, tx: TxHash) -> Result<u64> {
    let provider = node.provider();
    node.read("eth_getTransactionReceipt", on, || async {
        provider.get_transaction_receipt(tx).await
    })
    .await?
    .map(|r| r.gas_used)
    .ok_or(Error::TxFailed {
        call: "eth_getTransactionReceipt",
        on,
        tx,
        reason: "the node has no receipt for a mined transaction".into(),
    })
}

/// The `Challenged` event that opened game `game_id`.
async fn challenge_of(node: &Node, game_id: u64) -> Result<(Claims::Challenged, Log)> {
    let on = Target::Game(game_id);
    events::<Claims::Challenged>(node, on, node.contracts().claims, None, Some(game_id))
        .await?
        .into_iter()
        .next()
        .ok_or(Error::Unexpected {
            on,
            reason: "no Challenged event: the game was not opened through this deployment's Claims contract, so it has no claim to replay".into(),
        })
}

/// The game's state at `block`.
async fn chain_state(
    node: &Node,
    game_id: u64,
    block: u64,
) -> Result<(ChainState, IDisputeGame::GameView)> {
    let contract = node.game();
    let id = U256::from(game_id);
    let v = node
        .read("getGame", Target::Game(game_id), || async {
            contract.getGame(id).block(block.into()).call().await
        })
        .await?;
    let state = ChainState {
        phase: v.phase as u8,
        level: v.level,
        defender_moves: v.defenderMoves,
        challenger_moves: v.challengerMoves,
        defender_clock: v.defenderClock,
        challenger_clock: v.challengerClock,
        last_move: v.lastMove,
    };
    Ok((state, v))
}

/// Reads game `game_id` and everything its replay needs from the chain.
pub async fn export(node: &Node, game_id: u64) -> Result<GameExport> {
    let on = Target::Game(game_id);
    check_game(node, game_id).await?;
    let mirror = Mirror::open(node, game_id).await?;
    let (created_block, created_time) = mirror.created();
    let (challenge, log) = challenge_of(node, game_id).await?;
    let claim = claim_record(node, id_of(on, "claim id", challenge.claimId)?).await?;
    // The moves and the state at one block: a move landing in between
    // cannot make them disagree.
    let head = latest_block(node, on).await?;
    let mut moves = Vec::new();
    for m in move_txs(node, game_id, created_block, head, 0).await? {
        moves.push(MoveRecord {
            gas: gas_of(node, on, m.tx).await?,
            tx: m.tx,
            block: m.block,
            time: m.time,
            from: m.from,
            calldata: m.calldata,
        });
    }
    let (chain, view) = chain_state(node, game_id, head).await?;
    let settled =
        events::<Claims::ChallengeSettled>(node, on, node.contracts().claims, None, Some(game_id))
            .await?;
    let settlement = match settled.into_iter().next() {
        Some((e, log)) => {
            let tx = tx_of(on, &log)?;
            Some(SettlementRecord {
                gas: gas_of(node, on, tx).await?,
                tx,
                challenger_won: e.challengerWon,
                payee: e.payee,
                paid: e.paid,
            })
        }
        None => None,
    };
    let provider = node.provider();
    let chain_id = node
        .read("eth_chainId", on, || async {
            provider.get_chain_id().await
        })
        .await?;
    let params = mirror.game().params();
    Ok(GameExport {
        format: EXPORT_FORMAT.into(),
        chain_id,
        contracts: node.contracts().clone(),
        game_id,
        claim,
        defender: view.defender,
        challenger: view.challenger,
        challenger_bond: challenge.bond,
        challenge_tx: tx_of(on, &log)?,
        arity_log2: params.arity_log2,
        clock: params.clock,
        created_block,
        created_time,
        moves,
        chain,
        settlement,
    })
}

/// The first and last list entries under node (`depth`, `index`) of a
/// list of `size` entries.
fn entries(size: u64, depth: u32, index: u64) -> [u64; 2] {
    let below = depth_for(size) as u32 - depth;
    let first = index << below;
    [first, (((index + 1) << below) - 1).min(size - 1)]
}

/// What the list of `level` holds, for a game of `levels` levels (docs/SPEC.md 6.8).
fn level_meaning(level: usize, levels: usize) -> &'static str {
    match (level, levels) {
        (0, 3) => {
            "boundary states: entry l is the root of the state before layer l (entry 0 the input, the last the output)"
        }
        (1, 3) => {
            "one layer's op sub-trace: the layer's input state, the bound root of each op's output, then the next state"
        }
        (2, 3) => {
            "one op's micro list: the machine state after every primitive step of every output element, between the op's input and its output root"
        }
        _ => "a list of the claim's game",
    }
}

/// A level of the claim's game.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelView {
    /// 0 for the claim's list.
    pub level: usize,
    /// Entries of every list at this level.
    pub size: u64,
    /// Depth of its Merkle tree.
    pub tree_depth: usize,
    /// What its entries are.
    pub meaning: &'static str,
    /// The root of the list the game entered at this level, if it got there.
    pub root: Option<B256>,
    /// The disputed step of this level, once the game went below it.
    pub disputed_step: Option<u64>,
}

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MoveDetail {
    /// The defender opened the disputed node.
    Reveal {
        /// The node: depth below the list's root, index at that depth.
        node: [u64; 2],
        /// The list entries under it.
        entries: [u64; 2],
        /// Its children, left to right.
        children: Vec<B256>,
    },
    /// The challenger disputed one revealed child.
    Pick {
        /// Which child.
        child: u64,
        /// Of how many.
        of: usize,
        /// Its hash.
        hash: B256,
        /// The new disputed node.
        node: [u64; 2],
        /// The list entries under it.
        entries: [u64; 2],
        /// The disputed step, when the pick reached a single entry.
        step: Option<u64>,
        /// Why the challenger picked it.
        why: String,
    },
    /// The defender expanded the disputed step into the next level's list.
    Expand {
        /// The disputed step (entry) of the level it left.
        step: u64,
        /// The level it entered.
        into_level: usize,
        /// The new list's root.
        sub_root: B256,
        /// The new list's first reveal.
        children: Vec<B256>,
        /// What the step is.
        meaning: String,
    },
    /// The challenger disputed entry 0 of an expansion; the defender proved
    /// it is the parent list's entry `step - 1`, which the challenger agreed to.
    Bind {
        /// The disputed step of the parent list.
        step: u64,
    },
    /// The defender proved the disputed step of the last level.
    Step {
        /// The step: one index per level.
        path: Vec<u64>,
    },
    /// Someone ended the game because the side to move ran out of time.
    Timeout {
        /// The side whose clock ran out.
        expired: Role,
    },
}

/// One move of the replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveView {
    /// 1-based.
    pub number: usize,
    /// The side it counts for.
    pub side: Role,
    /// Its transaction.
    pub tx: TxHash,
    /// Its block.
    pub block: u64,
    /// The block's timestamp.
    pub time: u64,
    /// Gas used.
    pub gas: u64,
    /// The level it was played at.
    pub level: usize,
    /// What it did.
    #[serde(flatten)]
    pub detail: MoveDetail,
}

/// A binary32 word: its bits and the float they encode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    /// The bits, `0x` and 8 hex digits.
    pub hex: String,
    /// As a binary32 float.
    pub float: String,
}

impl Word {
    fn of(bits: u32) -> Self {
        let f = f32::from_bits(bits);
        let float = if f.is_finite() && (f == 0.0 || (1e-4..1e7).contains(&f.abs())) {
            format!("{f}")
        } else {
            format!("{f:e}")
        };
        Self {
            hex: format!("{bits:#010x}"),
            float,
        }
    }
}

/// The primitive a one-step ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrimitiveView {
    /// Output element of the op.
    pub element: u64,
    /// Step of that element.
    pub step: u64,
    /// The primitive's name (`add`, `fma`, …; docs/SPEC.md 1.3).
    pub primitive: &'static str,
    /// Its operands.
    pub operands: Vec<Word>,
    /// The result the defender's post state claims, if it can be read back.
    pub claimed: Option<Word>,
    /// The result the reference arithmetic computes.
    pub reference: Word,
    /// The bits in which they differ.
    pub differing_bits: Option<String>,
}

/// The final one-step, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OneStepView {
    /// The step: layer step, op step, micro step.
    pub path: Vec<u64>,
    /// What kind of step.
    pub kind: Option<&'static str>,
    /// The layer's first op and op count.
    pub layer_ops: Option<[u32; 2]>,
    /// The op run: its program index.
    pub op: Option<u64>,
    /// Its kind (`map`, `matmul`, …).
    pub op_kind: Option<&'static str>,
    /// The primitive, for a primitive step.
    pub primitive: Option<PrimitiveView>,
    /// The reference verifier's verdict: whether the defender's post state is right.
    pub right: bool,
    /// Why it is wrong.
    pub reason: Option<String>,
}

/// The claim of a replay, with its levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimView {
    /// The claim as posted.
    #[serde(flatten)]
    pub record: ClaimRecord,
    /// Its game's levels.
    pub levels: Vec<LevelView>,
}

/// A game rebuilt move by move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replay {
    /// The game.
    pub game_id: u64,
    /// The chain it was played on.
    pub chain_id: u64,
    /// The game contract.
    pub dispute_game: Address,
    /// The claim.
    pub claim: ClaimView,
    /// The claimant.
    pub defender: Address,
    /// The challenger.
    pub challenger: Address,
    /// Each reveal opens `2^arity_log2` children.
    pub arity_log2: u32,
    /// Each side's thinking time, in seconds.
    pub clock: u64,
    /// Every move.
    pub moves: Vec<MoveView>,
    /// The one-step, if the game reached it.
    pub one_step: Option<OneStepView>,
    /// The winner by the rules, if the game is over.
    pub winner: Option<Role>,
    /// The winner the contract recorded.
    pub contract_winner: Option<Role>,
    /// Whether the game ended by a timeout.
    pub by_timeout: bool,
    /// What the game waits for, as the contract says.
    pub state: &'static str,
    /// Moves of the defender and of the challenger.
    pub moves_per_side: [u32; 2],
    /// Gas by contract function.
    pub gas: BTreeMap<&'static str, GasStat>,
    /// The settlement, if settled.
    pub settlement: Option<SettlementRecord>,
}

impl Replay {
    /// Rebuilds `export`'s game through the rules. Fails when a move does
    /// not decode or is rejected, or when the result differs from the
    /// contract's count of moves or its winner.
    pub fn build(export: &GameExport) -> Result<Self> {
        let game_id = export.game_id;
        let claim = export.claim.claim();
        let vm = OneStep::new(&claim);
        let params = Params {
            arity_log2: export.arity_log2,
            clock: export.clock,
        };
        let mut game = Game::new(
            params,
            claim.sizes.clone(),
            claim.trace_root,
            export.created_time,
        );
        let mut moves = Vec::new();
        let mut one_step = None;
        let mut gas: BTreeMap<&'static str, GasStat> = BTreeMap::new();
        let mut by_timeout = false;
        for (n, m) in export.moves.iter().enumerate() {
            let bad = |reason: String| Error::BadMove {
                game_id,
                number: n + 1,
                tx: m.tx,
                reason,
            };
            let action = action_of_call(&m.calldata)
                .ok_or_else(|| bad("its calldata is not a DisputeGame move".into()))?;
            let before = game.clone();
            let side = apply_chain_move(&mut game, &vm, &action, m.time)
                .map_err(|e| bad(format!("the rules reject it: {e}")))?;
            let detail = describe(&before, &game, &action);
            if let Action::Step { pre, post, .. } = &action {
                one_step = Some(explain_step(&vm, &before, pre, post));
            }
            by_timeout = matches!(action, Action::Timeout);
            gas.entry(call_name(&action)).or_default().add(m.gas);
            moves.push(MoveView {
                number: n + 1,
                side,
                tx: m.tx,
                block: m.block,
                time: m.time,
                gas: m.gas,
                level: before.level(),
                detail,
            });
        }
        let counted = [game.moves(Role::Defender), game.moves(Role::Challenger)];
        let chain = &export.chain;
        let contract_counts = [chain.defender_moves, chain.challenger_moves];
        if counted != contract_counts || game.winner() != chain.winner() {
            return Err(Error::Diverged {
                game_id,
                field: "the moves per side and the winner",
                local: format!("{counted:?}, {:?}", game.winner()),
                chain: format!("{contract_counts:?}, {:?}", chain.winner()),
            });
        }
        let sizes = &claim.sizes;
        let levels = sizes
            .iter()
            .enumerate()
            .map(|(level, &size)| LevelView {
                level,
                size,
                tree_depth: depth_for(size),
                meaning: level_meaning(level, sizes.len()),
                root: game.roots().get(level).copied().map(B256::from),
                disputed_step: game.path().get(level).copied(),
            })
            .collect();
        Ok(Self {
            game_id,
            chain_id: export.chain_id,
            dispute_game: export.contracts.dispute_game,
            claim: ClaimView {
                record: export.claim.clone(),
                levels,
            },
            defender: export.defender,
            challenger: export.challenger,
            arity_log2: export.arity_log2,
            clock: export.clock,
            moves,
            one_step,
            winner: game.winner(),
            contract_winner: chain.winner(),
            by_timeout,
            state: chain.describe(),
            moves_per_side: counted,
            gas,
            settlement: export.settlement.clone(),
        })
    }
}

fn b256s(v: &[trace_vm::commit::Hash]) -> Vec<B256> {
    v.iter().copied().map(B256::from).collect()
}

/// What `action` did to `before` (giving `after`).
fn describe(before: &Game, after: &Game, action: &Action<State>) -> MoveDetail {
    let size = before.list_len();
    let (depth, index) = before.node();
    match action {
        Action::Reveal { children } => MoveDetail::Reveal {
            node: [depth.into(), index],
            entries: entries(size, depth, index),
            children: b256s(children),
        },
        Action::Pick { child } => {
            let (of, hash) = match before.phase() {
                Phase::Pick(children) => (children.len(), children.get(*child as usize).copied()),
                _ => (0, None),
            };
            let (d, i) = after.node();
            let range = entries(size, d, i);
            let step = (*after.phase() == Phase::Step).then_some(i);
            let agree = match child {
                0 => "no child before it".to_owned(),
                1 => "child 0 agrees with the challenger's own list".to_owned(),
                c => format!(
                    "children 0 to {} agree with the challenger's own list",
                    c - 1
                ),
            };
            MoveDetail::Pick {
                child: *child,
                of,
                hash: B256::from(hash.unwrap_or_default()),
                node: [d.into(), i],
                entries: range,
                step,
                why: {
                    let (rule, verdict) = if before.level() > 0 && range[1] + 1 == size {
                        (
                            ", or else the one holding the list's last entry (which must equal the parent's disputed entry)",
                            "holds the last entry or differs",
                        )
                    } else {
                        ("", "differs")
                    };
                    format!(
                        "the challenger picks the first child whose hash differs from its own list's{rule}: {agree}; child {child} (entries {} to {}) {verdict}",
                        range[0], range[1]
                    )
                },
            }
        }
        Action::Expand {
            sub_root, children, ..
        } => {
            let level = before.level();
            let meaning = match (level, before.sizes().len()) {
                (0, 3) => format!(
                    "step {index} of the boundary states is layer {} (state {} to state {index})",
                    index - 1,
                    index - 1
                ),
                (1, 3) => format!(
                    "step {index} of the layer's op sub-trace is the layer's op {index} (the state's assembly when it is past the last op)"
                ),
                _ => format!("step {index} of level {level}"),
            };
            MoveDetail::Expand {
                step: index,
                into_level: level + 1,
                sub_root: B256::from(*sub_root),
                children: b256s(children),
                meaning,
            }
        }
        Action::Bind { .. } => MoveDetail::Bind {
            step: before.path().last().copied().unwrap_or_default(),
        },
        Action::Step { .. } => {
            let mut path = before.path().to_vec();
            path.push(index);
            MoveDetail::Step { path }
        }
        Action::Timeout => MoveDetail::Timeout {
            expired: before.to_move().unwrap_or(Role::Defender),
        },
    }
}

/// The one-step of `before`'s disputed step, decoded by the reference verifier.
fn explain_step(vm: &OneStep, before: &Game, pre: &State, post: &State) -> OneStepView {
    let mut path = before.path().to_vec();
    path.push(before.node().1);
    let (trail, verdict) = vm.explain(&path, before.roots(), pre, post);
    let primitive = trail.primitive.map(|x| PrimitiveView {
        element: x.element,
        step: x.step,
        primitive: x.prim.name(),
        operands: x.operands.iter().map(|&w| Word::of(w)).collect(),
        claimed: x.claimed.map(Word::of),
        reference: Word::of(x.result),
        differing_bits: x
            .claimed
            .filter(|&c| c != x.result)
            .map(|c| format!("{:#010x}", c ^ x.result)),
    });
    OneStepView {
        path,
        kind: trail.kind.map(|k| match k {
            StepKind::Primitive => "a primitive step of an output element",
            StepKind::OutputRoot => "the op's last step: its output's bound root",
            StepKind::Assembly => "a step assembling the layer's output state",
            StepKind::Padding => "a padding step (the post repeats the pre)",
        }),
        layer_ops: trail.layer_ops.map(|(a, n)| [a, n]),
        op: trail.op.map(|(o, _)| o),
        op_kind: trail.op.map(|(_, k)| k.name()),
        primitive,
        right: verdict.is_ok(),
        reason: verdict.err(),
    }
}

/// One game's position, as the contract holds it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The game.
    pub game_id: u64,
    /// The claim it disputes.
    pub claim_id: u64,
    /// The claim's model.
    pub model_id: B256,
    /// The model's registered name.
    pub model_name: String,
    /// The claimant.
    pub defender: Address,
    /// The challenger.
    pub challenger: Address,
    /// What the game waits for, or who won.
    pub state: &'static str,
    /// The winner, once over.
    pub winner: Option<Role>,
    /// The side to move, while open.
    pub to_move: Option<Role>,
    /// The contract's view.
    pub chain: ChainState,
    /// List size of each level.
    pub sizes: Vec<u64>,
    /// The root of each level's list entered so far.
    pub roots: Vec<B256>,
    /// The disputed step of each finished level.
    pub path: Vec<u64>,
    /// The disputed node of the current list: depth and index.
    pub node: [u64; 2],
    /// Its hash.
    pub node_hash: B256,
    /// The list entries under it.
    pub entries: [u64; 2],
    /// Seconds the side to move has left now (by the latest block's time).
    pub time_left: Option<u64>,
    /// The claimant's bond, in wei.
    pub claimant_bond: U256,
    /// The challenger's bond, in wei.
    pub challenger_bond: U256,
    /// Whether the game's stakes were paid out.
    pub settled: bool,
}

/// Game `game_id`'s position now.
pub async fn position(node: &Node, game_id: u64) -> Result<Position> {
    let on = Target::Game(game_id);
    check_game(node, game_id).await?;
    let head = latest_block(node, on).await?;
    let (chain, v) = chain_state(node, game_id, head).await?;
    let (challenge, _) = challenge_of(node, game_id).await?;
    let claim_id = id_of(on, "claim id", challenge.claimId)?;
    let claims = node.claims();
    let id = U256::from(game_id);
    let stakes = node
        .read("getChallenge", on, || async {
            claims.getChallenge(id).call().await
        })
        .await?;
    let claim = claim_record(node, claim_id).await?;
    let provider = node.provider();
    let now = node
        .read("eth_getBlockByNumber", on, || async {
            provider
                .get_block_by_number(alloy::rpc::types::BlockNumberOrTag::Latest)
                .await
        })
        .await?
        .map(|b| b.header.timestamp);
    let to_move = chain.to_move();
    let time_left = to_move.zip(now).map(|(role, now)| {
        let clock = match role {
            Role::Defender => chain.defender_clock,
            Role::Challenger => chain.challenger_clock,
        };
        clock.saturating_sub(now.saturating_sub(chain.last_move))
    });
    let size = v.sizes.get(usize::from(v.level)).copied().unwrap_or(2);
    Ok(Position {
        game_id,
        claim_id,
        model_id: claim.model_id,
        model_name: claim.model_name,
        defender: v.defender,
        challenger: v.challenger,
        state: chain.describe(),
        winner: chain.winner(),
        to_move,
        sizes: v.sizes.clone(),
        roots: v.roots.clone(),
        path: v.path.clone(),
        node: [v.depth.into(), v.index],
        node_hash: v.node,
        entries: entries(size, v.depth.into(), v.index),
        time_left,
        claimant_bond: claim.bond,
        challenger_bond: U256::from(stakes.bond),
        settled: stakes.settled,
        chain,
    })
}

/// Every game opened through the deployment's `Claims` (only those on
/// claim `claim` when given), oldest first.
pub async fn list(node: &Node, claim: Option<u64>) -> Result<Vec<Position>> {
    let on = claim.map_or(Target::Contract(node.contracts().claims), Target::Claim);
    let challenged =
        events::<Claims::Challenged>(node, on, node.contracts().claims, claim, None).await?;
    let mut games = Vec::new();
    for (e, _) in challenged {
        games.push(position(node, id_of(on, "game id", e.gameId)?).await?);
    }
    Ok(games)
}
