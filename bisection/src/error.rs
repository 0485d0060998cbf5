//! Errors of the game crate.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the game crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The deployment record could not be read.
    #[error(
        "cannot read deployment record {path}: {source}; start a devnet with `refute devnet up` or pass --deployment"
    )]
    DeploymentRead {
        /// The file that was read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The deployment record is not valid JSON of the expected shape.
    #[error(
        "{path} is not a valid deployment record: {source}; re-create it with `refute devnet up`"
    )]
    DeploymentParse {
        /// The file that was read.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The deployment record could not be written.
    #[error("cannot write deployment record {path}: {source}")]
    DeploymentWrite {
        /// The file that was written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A contract could not be deployed.
    #[error(
        "deploying {contract} failed: {reason}; is the node reachable and the deployer funded?"
    )]
    Deploy {
        /// The contract being deployed.
        contract: &'static str,
        /// What the node or transport reported.
        reason: String,
    },
    /// The VM could not build a trace, a list or a witness.
    #[error("trace-vm: {0}")]
    Vm(String),
    /// A claim's input or output bytes are not a state encoding (docs/SPEC.md 4.9).
    #[error(
        "the claim's {which} is not a valid state encoding: {} at byte {offset}; encode it with `bisection::machine::encode_state` (docs/SPEC.md 4.9)",
        kind.reason()
    )]
    MalformedIo {
        /// "input" or "output".
        which: &'static str,
        /// What is wrong.
        kind: crate::machine::Malformed,
        /// Where the offending field starts.
        offset: usize,
    },
    /// A claim's input or output does not hash to its trace's first or last state.
    #[error(
        "the claim's {which} is not entry {index} of its trace: its state root and a {depth}-hash proof must give the trace root; post the encoding of that state, with the proof from the trace that has that root"
    )]
    IoNotInTrace {
        /// "input" or "output".
        which: &'static str,
        /// The trace entry it must be.
        index: u64,
        /// Siblings the proof must have.
        depth: usize,
    },
    /// A claim's IO hash is not keccak256 of the bytes posted with it.
    #[error(
        "the claim's {which} hash is not keccak256 of its {which} bytes; build the post with `ClaimPost::new`"
    )]
    IoHashMismatch {
        /// "input" or "output".
        which: &'static str,
    },
    /// A transaction's simulation reverted: it was not sent.
    #[error("{call} on {on} would revert: {reason}; not sent")]
    Rejected {
        /// The contract function.
        call: &'static str,
        /// The claim, game or model it acts on.
        on: Target,
        /// The contract's custom error, decoded.
        reason: String,
    },
    /// The node could not be reached, or failed, after every retry.
    #[error(
        "{call} on {on} failed after {attempts} attempt(s): {reason}; is the node at the deployment's rpc_url running?"
    )]
    Transport {
        /// The call or RPC method.
        call: &'static str,
        /// The claim, game or model it acts on.
        on: Target,
        /// Attempts made.
        attempts: u32,
        /// The last transport error.
        reason: String,
    },
    /// A sent transaction failed or its receipt could not be obtained.
    #[error("{call} on {on}, transaction {tx}: {reason}")]
    TxFailed {
        /// The contract function.
        call: &'static str,
        /// The claim, game or model it acts on.
        on: Target,
        /// The transaction hash (look it up with `cast receipt`).
        tx: alloy::primitives::TxHash,
        /// What went wrong.
        reason: String,
    },
    /// The local mirror of a game disagrees with the contract's state.
    #[error(
        "game {game_id}: the local mirror and the contract disagree on {field} (local {local}, chain {chain}); the client and the deployed DisputeGame follow different rules"
    )]
    Diverged {
        /// The game.
        game_id: u64,
        /// The field that differs.
        field: &'static str,
        /// The mirror's value.
        local: String,
        /// The contract's value.
        chain: String,
    },
    /// No game with this id on the deployment.
    #[error(
        "game {game_id} does not exist on this deployment (it has {count} games, ids from 0); `refute dispute list` shows them"
    )]
    UnknownGame {
        /// The id asked for.
        game_id: u64,
        /// Games on the deployment.
        count: u64,
    },
    /// A dispute export could not be read.
    #[error(
        "cannot read dispute export {path}: {source}; write one with `refute dispute export ID > FILE`"
    )]
    ExportRead {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A file that is not a dispute export.
    #[error(
        "{path} is not a dispute export ({reason}); write one with `refute dispute export ID > FILE`"
    )]
    NotAnExport {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An export of a game from another deployment than the one in use.
    #[error(
        "{path} is an export of game {game_id} from {found}, not from the deployment in {record} ({expected}); pass --deployment with the record it came from, or --any-deployment to replay it anyway"
    )]
    ForeignExport {
        /// The file.
        path: PathBuf,
        /// Its game.
        game_id: u64,
        /// Its chain and game contract.
        found: String,
        /// The deployment record in use.
        record: PathBuf,
        /// That record's chain and game contract.
        expected: String,
    },
    /// A recorded move that cannot be replayed.
    #[error(
        "game {game_id}, move {number} (transaction {tx}): {reason}; the export was altered, or the deployed DisputeGame and the client follow different rules"
    )]
    BadMove {
        /// The game.
        game_id: u64,
        /// The move, from 1.
        number: usize,
        /// Its transaction.
        tx: alloy::primitives::TxHash,
        /// Why.
        reason: String,
    },
    /// A game, claim or event is not what the client expected.
    #[error("{on}: {reason}")]
    Unexpected {
        /// The claim, game or model concerned.
        on: Target,
        /// What was found.
        reason: String,
    },
}

/// What an on-chain call acts on, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A model id.
    Model(alloy::primitives::B256),
    /// A claim id.
    Claim(u64),
    /// A game id.
    Game(u64),
    /// The sender's own account (withdrawals).
    Account(alloy::primitives::Address),
    /// The contract at this address (reads over all its claims or games).
    Contract(alloy::primitives::Address),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Model(id) => write!(f, "model {id}"),
            Self::Claim(id) => write!(f, "claim {id}"),
            Self::Game(id) => write!(f, "game {id}"),
            Self::Account(a) => write!(f, "account {a}"),
            Self::Contract(a) => write!(f, "contract {a}"),
        }
    }
}
