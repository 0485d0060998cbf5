//! Shared helpers for Refute's end-to-end tests.
//!
//! The tests drive the real `refute` binary against a real Anvil node, each in
//! its own state directory and on its own port, so they can run in parallel.

pub mod dispute;
pub mod net;

use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The `refute` binary under test: `$REFUTE_BIN`, else the workspace's debug build.
///
/// Panics with the fix when it is missing: a test that cannot run must say so.
pub fn refute_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("REFUTE_BIN") {
        return bin.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let bin = target.join("debug/refute");
    assert!(
        bin.is_file(),
        "{} not found: build it first with `cargo build --bin refute` (scripts/test does), or set REFUTE_BIN",
        bin.display()
    );
    bin
}

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
        .to_path_buf()
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("the OS hands out an ephemeral port")
}

/// A private state directory; the devnet started in it is stopped on drop.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// A fresh, empty state directory.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory can be created"),
        }
    }

    /// The state directory (`--home`).
    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `refute --home <sandbox> ARGS` from the repository root.
    pub fn refute(&self, args: &[&str]) -> Output {
        Command::new(refute_bin())
            .current_dir(workspace_root())
            .arg("--home")
            .arg(self.home())
            .args(args)
            .output()
            .expect("the refute binary can be started")
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.refute(&["devnet", "down"]);
    }
}

/// Stdout of a command that must have succeeded.
pub fn stdout_ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "command failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr of a command that must have failed.
pub fn stderr_err(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "command unexpectedly succeeded\nstdout:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An Anvil node of its own, on a free port, stopped on drop.
pub struct Anvil {
    child: std::process::Child,
    /// Its RPC endpoint.
    pub rpc_url: String,
}

impl Anvil {
    /// Starts the project's pinned anvil (`scripts/setup` installs it), else
    /// the one on PATH, and waits until it accepts connections.
    pub fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let pinned = workspace_root().join("contracts/node_modules/.bin/anvil");
        let anvil = if pinned.is_file() {
            pinned
        } else {
            PathBuf::from("anvil")
        };
        let port = free_port();
        let child = Command::new(&anvil)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--silent")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            // Own process group: the pinned anvil is a wrapper around the node.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; run scripts/setup to install the pinned toolchain",
                    anvil.display()
                )
            });
        let node = Self {
            child,
            rpc_url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "anvil did not listen on port {port} within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        node
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let _ = kill(Pid::from_raw(-(self.child.id() as i32)), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// A fresh Anvil with the Refute contracts deployed, `OpStepVerifier` behind
/// the game, and funded accounts on demand.
pub struct Devnet {
    /// The node.
    pub anvil: Anvil,
    /// Where the contracts are.
    pub contracts: bisection::deployment::ContractAddresses,
    /// What they were deployed with.
    pub config: bisection::contracts::DeployConfig,
    provider: alloy::providers::DynProvider,
}

impl Devnet {
    /// Starts a node and deploys with `config`.
    pub async fn start(config: bisection::contracts::DeployConfig) -> Self {
        use alloy::providers::{Provider, ProviderBuilder};
        let anvil = Anvil::start();
        let url = || anvil.rpc_url.parse().expect("anvil's URL parses");
        let plain = ProviderBuilder::new().connect_http(url()).erased();
        let deployer = funded(&plain).await;
        let provider = ProviderBuilder::new()
            .wallet(deployer)
            .connect_http(url())
            .erased();
        let contracts = bisection::contracts::deploy_all(&provider, config)
            .await
            .expect("the contracts deploy");
        Self {
            anvil,
            contracts,
            config,
            provider: plain,
        }
    }

    /// A new account with 1000 ether, as a responder on this deployment.
    pub async fn account(&self) -> bisection::chain::Responder {
        let signer = funded(&self.provider).await;
        let node = bisection::chain::Node::connect(
            &self.anvil.rpc_url,
            signer,
            self.contracts.clone(),
            bisection::chain::Retry::default(),
        )
        .expect("connect");
        bisection::chain::Responder::new(node)
    }

    /// Moves the chain's clock forward by `secs` and mines a block.
    pub async fn advance(&self, secs: u64) {
        use alloy::providers::ext::AnvilApi;
        self.provider
            .anvil_increase_time(secs)
            .await
            .expect("evm_increaseTime");
        self.provider.evm_mine(None).await.expect("evm_mine");
    }

    /// The ether balance of `account`.
    pub async fn balance(&self, account: alloy::primitives::Address) -> alloy::primitives::U256 {
        use alloy::providers::Provider;
        self.provider
            .get_balance(account)
            .await
            .expect("eth_getBalance")
    }

    /// A read-only provider.
    pub fn provider(&self) -> &alloy::providers::DynProvider {
        &self.provider
    }
}

/// A random key whose account holds 1000 ether.
async fn funded(
    provider: &alloy::providers::DynProvider,
) -> alloy::signers::local::PrivateKeySigner {
    use alloy::providers::ext::AnvilApi;
    let signer = alloy::signers::local::PrivateKeySigner::random();
    let ether = alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(21u64));
    provider
        .anvil_set_balance(signer.address(), ether)
        .await
        .expect("anvil_setBalance");
    signer
}

/// The installed model `name`'s directory, or `None` after a loud message;
/// under `CI=true` a missing model is a failure (CI installs them).
pub fn installed_model(name: &str) -> Option<PathBuf> {
    let dir = trace_vm::format::models_dir().join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "model `{name}` is not installed in {}; run scripts/setup",
        trace_vm::format::models_dir().display()
    );
    assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{msg}");
    eprintln!("\n*** SKIPPED: {msg} ***\n");
    None
}

/// A background `refute` process, killed if a test leaves it running.
pub struct Background(pub std::process::Child);

impl Background {
    /// Kills it at once (SIGKILL: no chance to clean up).
    pub fn kill_9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for it to exit within `secs`; its exit status and stdout.
    pub fn wait(mut self, secs: u64) -> (std::process::ExitStatus, String) {
        use std::io::Read;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(status) = self.0.try_wait().expect("the child can be waited on") {
                let mut out = String::new();
                if let Some(mut s) = self.0.stdout.take() {
                    let _ = s.read_to_string(&mut out);
                }
                return (status, out);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "process {} did not exit within {secs} s",
                self.0.id()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            self.kill_9();
        }
    }
}

/// A running relay: its stop flag, its accept thread, its open connections.
type Relaying = (Arc<AtomicBool>, JoinHandle<()>, Arc<Mutex<Vec<TcpStream>>>);

/// A TCP relay to the node that can be switched off (port closed, open
/// connections cut) and on again.
pub struct Relay {
    /// The port clients connect to.
    pub port: u16,
    upstream: u16,
    running: Option<Relaying>,
}

impl Relay {
    /// A relay to 127.0.0.1:`upstream`, switched on.
    pub fn new(upstream: u16) -> Self {
        let mut relay = Self {
            port: free_port(),
            upstream,
            running: None,
        };
        relay.on();
        relay
    }

    /// Opens the port and relays again.
    pub fn on(&mut self) {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, self.port))
            .expect("the relay port is free");
        listener
            .set_nonblocking(true)
            .expect("the relay's sockets work");
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (stop2, conns2, upstream) = (stop.clone(), conns.clone(), self.upstream);
        let accept = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client
                    .set_nonblocking(false)
                    .expect("the relay's sockets work");
                let Ok(node) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)) else {
                    continue;
                };
                let mut held = conns2.lock().expect("the relay's sockets work");
                held.push(client.try_clone().expect("the relay's sockets work"));
                held.push(node.try_clone().expect("the relay's sockets work"));
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("the relay's sockets work"),
                        node.try_clone().expect("the relay's sockets work"),
                    ),
                    (node, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        self.running = Some((stop, accept, conns));
    }

    /// Closes the port and cuts every open connection.
    pub fn off(&mut self) {
        if let Some((stop, accept, conns)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            accept.join().expect("the relay's sockets work");
            for c in conns.lock().expect("the relay's sockets work").drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.off();
    }
}
