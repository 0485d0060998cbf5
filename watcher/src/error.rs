//! Errors of the watcher. Each message names the thing that failed and the fix.

use std::path::PathBuf;

/// Result alias for the watcher.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the watcher can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read.
    #[error("cannot read watcher config {path}: {source}; check the path given to --config")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML of the expected shape.
    #[error("{path} is not a valid watcher config: {reason}")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// What the parser reported (it names the key).
        reason: String,
    },
    /// One setting has a value the watcher cannot use.
    #[error("invalid watcher setting `{key}` (from {source_name}): {reason}")]
    ConfigValue {
        /// The key as written where it came from (TOML key, variable or flag).
        key: String,
        /// Where the value came from: the config file, the environment or a flag.
        source_name: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The database could not be opened, migrated, read or written.
    #[error("watcher database {path}: {source}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The database's directory could not be created.
    #[error(
        "cannot create the directory of the watcher database, {path}: {source}; pass --db FILE"
    )]
    StoreDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The database was written by a newer watcher.
    #[error(
        "watcher database {path} has schema version {found}, newer than this build's {supported}; upgrade refute or point --db at another file"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// The database follows another deployment than the configured one.
    #[error(
        "watcher database {path} follows {recorded}, but the deployment is {configured}; point --db at another file or delete it to start over"
    )]
    OtherDeployment {
        /// The database file.
        path: PathBuf,
        /// What the database recorded (chain id and claims contract).
        recorded: String,
        /// What the configuration says.
        configured: String,
    },
    /// A JSON-RPC call kept failing after every retry.
    #[error(
        "RPC call `{call}` to {rpc_url} failed after {attempts} attempts: {reason}; is the node up and the URL right?"
    )]
    Rpc {
        /// The call.
        call: &'static str,
        /// The endpoint.
        rpc_url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        reason: String,
    },
    /// The node's chain is not the deployment's chain.
    #[error(
        "the node at {rpc_url} serves chain {node}, but the deployment record is for chain {deployment}; fix rpc_url or the deployment record"
    )]
    WrongChain {
        /// The endpoint.
        rpc_url: String,
        /// Chain id reported by the node.
        node: u64,
        /// Chain id of the deployment record.
        deployment: u64,
    },
    /// A reorg reaches below every block hash the store kept.
    #[error(
        "the chain reorganized below block {oldest_kept}, the oldest block the watcher kept (reorg_horizon {horizon}); raise reorg_horizon or delete the database to follow from the start"
    )]
    ReorgTooDeep {
        /// Oldest block whose hash the store kept.
        oldest_kept: u64,
        /// The configured horizon.
        horizon: u64,
    },
    /// The records do not add up with the contracts' own counters.
    #[error(
        "after block {block} the store holds {stored} {what} but the contract counts {on_chain}; events were missed: check the deployment record's addresses and deploy_block"
    )]
    Inconsistent {
        /// The block the counters were read at.
        block: u64,
        /// What was counted.
        what: &'static str,
        /// Count in the store.
        stored: u64,
        /// Count the contract reported.
        on_chain: u64,
    },
    /// The metrics endpoint could not be started.
    #[error("cannot serve metrics on {addr}: {source}; pick a free address with --metrics-addr")]
    Metrics {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A game-crate failure (deployment record).
    #[error(transparent)]
    Bisection(#[from] bisection::Error),
    /// A provider could not run a prompt into a claim.
    #[error("cannot answer the prompt: {0}")]
    Provide(String),
    /// The re-execution stage failed on a claim.
    #[error("re-executing claim {claim}: {reason}")]
    Stage {
        /// The claim.
        claim: u64,
        /// What the stage reported.
        reason: String,
    },
}
