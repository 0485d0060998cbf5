//! Starting, finding and stopping the devnet's Anvil process.

use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::providers::{Provider, ProviderBuilder};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How to start the node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The anvil executable.
    pub anvil: PathBuf,
    /// Port on 127.0.0.1.
    pub port: u16,
    /// Chain id.
    pub chain_id: u64,
    /// Seconds between blocks; `None` mines one block per transaction.
    pub block_time: Option<u64>,
}

/// What `refute devnet up` records about the node it started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunningNode {
    /// Process id of anvil.
    pub pid: u32,
    /// RPC endpoint.
    pub rpc_url: String,
    /// The node's log file.
    pub log: PathBuf,
}

const PID_FILE: &str = "node.json";
const LOG_FILE: &str = "anvil.log";

impl RunningNode {
    /// The node recorded in `dir`, if its process is still alive.
    pub fn find(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(PID_FILE);
        let Ok(text) = fs::read_to_string(&path) else {
            return Ok(None);
        };
        let node: Self = serde_json::from_str(&text).map_err(|err| Error::Io {
            what: path.display().to_string(),
            source: std::io::Error::other(err),
        })?;
        Ok(node.is_alive().then_some(node))
    }

    /// Starts anvil detached and waits until it answers RPC.
    pub async fn start(dir: &Path, config: &NodeConfig) -> Result<Self> {
        if TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).is_err() {
            return Err(Error::PortInUse { port: config.port });
        }
        fs::create_dir_all(dir).map_err(|source| io_err(dir, source))?;
        let log = dir.join(LOG_FILE);
        let log_file = File::create(&log).map_err(|source| io_err(&log, source))?;
        let log_err = log_file
            .try_clone()
            .map_err(|source| io_err(&log, source))?;

        let mut cmd = Command::new(&config.anvil);
        cmd.args(["--host", "127.0.0.1", "--port", &config.port.to_string()])
            .args(["--chain-id", &config.chain_id.to_string()]);
        if let Some(secs) = config.block_time {
            cmd.args(["--block-time", &secs.to_string()]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            // Own process group: Ctrl-C on `refute devnet up` must not kill the node.
            .process_group(0)
            .spawn()
            .map_err(|source| io_err(&config.anvil, source))?;

        let node = Self {
            pid: child.id(),
            rpc_url: format!("http://127.0.0.1:{}", config.port),
            log: log.clone(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().map_err(|source| io_err(&log, source))? {
                return Err(Error::AnvilStart {
                    reason: format!("anvil exited with {status}"),
                    log,
                });
            }
            if node.chain_id().await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                node.stop();
                return Err(Error::AnvilStart {
                    reason: "no RPC answer within 20 s".into(),
                    log,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let path = dir.join(PID_FILE);
        let text = serde_json::to_string_pretty(&node).map_err(std::io::Error::other);
        text.and_then(|text| fs::write(&path, text))
            .map_err(|source| io_err(&path, source))?;
        Ok(node)
    }

    /// The chain id the node reports.
    pub async fn chain_id(&self) -> Result<u64> {
        self.provider()?
            .get_chain_id()
            .await
            .map_err(|err| self.rpc_err("eth_chainId", err))
    }

    /// The node's latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        self.provider()?
            .get_block_number()
            .await
            .map_err(|err| self.rpc_err("eth_blockNumber", err))
    }

    /// Stops the node (SIGTERM, then SIGKILL after 5 s). The whole process
    /// group is signalled: the pinned `anvil` may be a wrapper around the node.
    pub fn stop(&self) {
        let pid = Pid::from_raw(-(self.pid as i32));
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.is_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.is_alive() {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }

    /// Removes the record of a node that is no longer running.
    pub fn forget(dir: &Path) -> Result<()> {
        let path = dir.join(PID_FILE);
        match fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io_err(&path, err)),
            _ => Ok(()),
        }
    }

    /// Alive, and still anvil: a recycled pid of another program does not count.
    fn is_alive(&self) -> bool {
        let cmdline = fs::read(format!("/proc/{}/cmdline", self.pid)).unwrap_or_default();
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // A zombie (state Z) has exited but not been reaped yet.
        let zombie = stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z'));
        !zombie && String::from_utf8_lossy(&cmdline).contains("anvil")
    }

    fn provider(&self) -> Result<impl Provider + use<>> {
        let url = self.rpc_url.parse().map_err(|err| Error::Rpc {
            call: "connect",
            rpc_url: self.rpc_url.clone(),
            reason: format!("{err}"),
        })?;
        Ok(ProviderBuilder::new().connect_http(url))
    }

    fn rpc_err(&self, call: &'static str, err: impl std::fmt::Display) -> Error {
        Error::Rpc {
            call,
            rpc_url: self.rpc_url.clone(),
            reason: err.to_string(),
        }
    }
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        what: path.display().to_string(),
        source,
    }
}
