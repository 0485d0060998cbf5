//! Errors of the `refute` command. Each message says what failed and how to fix it.

use std::path::PathBuf;

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a `refute` subcommand can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Neither `--home` nor a home directory is available.
    #[error("no home directory found; pass --home DIR or set REFUTE_HOME")]
    NoHome,
    /// An I/O operation failed.
    #[error("cannot access {what}: {source}")]
    Io {
        /// What was being read or written.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A devnet is already running for this state directory.
    #[error(
        "a devnet is already running (anvil pid {pid}, {rpc_url}); see `refute devnet status`, or stop it with `refute devnet down`"
    )]
    DevnetRunning {
        /// Process id of the running node.
        pid: u32,
        /// Its RPC endpoint.
        rpc_url: String,
    },
    /// The chosen port is taken by another process.
    #[error(
        "port {port} on 127.0.0.1 is already in use by another process; pick a free one with `refute devnet up --port <PORT>`"
    )]
    PortInUse {
        /// The port asked for.
        port: u16,
    },
    /// No anvil binary was found.
    #[error(
        "anvil not found (looked for {looked_in}); run scripts/setup to install the pinned toolchain, or pass --anvil PATH"
    )]
    AnvilNotFound {
        /// Where we looked.
        looked_in: String,
    },
    /// Anvil exited or never answered.
    #[error("anvil did not start: {reason}; its log is {log}")]
    AnvilStart {
        /// What was observed.
        reason: String,
        /// The node's log file.
        log: PathBuf,
    },
    /// A JSON-RPC call failed.
    #[error("RPC call `{call}` to {rpc_url} failed: {reason}")]
    Rpc {
        /// The call that failed.
        call: &'static str,
        /// The endpoint.
        rpc_url: String,
        /// The error reported by the transport or node.
        reason: String,
    },
    /// A command that sends transactions has no account.
    #[error(
        "{var} is not set: export the account's private key (0x-prefixed hex) in it; on the devnet, the funded development keys are listed in the node's log (<home>/devnet/anvil.log)"
    )]
    NoAccount {
        /// The variable read.
        var: &'static str,
    },
    /// The account key does not parse.
    #[error("{var} does not hold a private key (0x-prefixed 32-byte hex): {reason}")]
    BadAccountKey {
        /// The variable read.
        var: &'static str,
        /// What the parser said (never the key).
        reason: String,
    },
    /// A dispute export holds another game than the one asked for.
    #[error(
        "{path} is an export of game {found}, not of game {asked}; run `refute dispute replay {found} --from {path}`"
    )]
    ExportGame {
        /// The file.
        path: PathBuf,
        /// The game it holds.
        found: u64,
        /// The game asked for.
        asked: u64,
    },
    /// Reading a batch of VM operations failed.
    #[error(transparent)]
    Vm(#[from] trace_vm::Error),
    /// A model could not be found, loaded, compiled or run.
    #[error(transparent)]
    Model(#[from] trace_vm::models::Error),
    /// A watcher failure (settings, database, RPC, metrics endpoint).
    #[error(transparent)]
    Watch(#[from] watcher::Error),
    /// A game-crate failure (deployment record, contract call).
    #[error(transparent)]
    Bisection(#[from] bisection::Error),
}
