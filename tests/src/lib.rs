//! Shared helpers for Refute's end-to-end tests.
//!
//! The tests drive the real `refute` binary against a real Anvil node, each in
//! its own state directory and on its own port, so they can run in parallel.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
