//! Where the `refute` command keeps and finds things.
//!
//! Inside a project checkout everything lives under `<checkout>/.refute`, and
//! the pinned toolchain under `contracts/node_modules`; elsewhere `~/.refute`.

use std::path::{Path, PathBuf};

use crate::cli::GlobalArgs;
use crate::error::{Error, Result};

/// Resolved locations shared by every subcommand.
#[derive(Debug, Clone)]
pub struct Context {
    /// State directory.
    pub home: PathBuf,
    /// Deployment record every chain command reads by default.
    pub deployment: PathBuf,
    /// The project checkout, when the command runs inside one.
    pub checkout: Option<PathBuf>,
}

impl Context {
    /// Applies flags and environment over the defaults.
    pub fn resolve(args: &GlobalArgs) -> Result<Self> {
        let cwd = std::env::current_dir().map_err(|source| Error::Io {
            what: "the current directory".into(),
            source,
        })?;
        let checkout = find_checkout(&cwd);
        let home = match (&args.home, &checkout) {
            (Some(home), _) => home.clone(),
            (None, Some(root)) => root.join(".refute"),
            (None, None) => std::env::home_dir().ok_or(Error::NoHome)?.join(".refute"),
        };
        let deployment = args
            .deployment
            .clone()
            .unwrap_or_else(|| home.join("devnet").join("deployment.json"));
        Ok(Self {
            home,
            deployment,
            checkout,
        })
    }

    /// Directory of the devnet's process state (pid file, node log).
    pub fn devnet_dir(&self) -> PathBuf {
        self.home.join("devnet")
    }

    /// A tool pinned in the project's npm lockfile, if installed.
    pub fn pinned_tool(&self, name: &str) -> Option<PathBuf> {
        let path = self
            .checkout
            .as_ref()?
            .join("contracts/node_modules/.bin")
            .join(name);
        path.is_file().then_some(path)
    }
}

/// The nearest ancestor that looks like a Refute checkout.
fn find_checkout(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| {
            dir.join("contracts/foundry.toml").is_file() && dir.join("Cargo.toml").is_file()
        })
        .map(Path::to_path_buf)
}
