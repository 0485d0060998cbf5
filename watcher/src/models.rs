//! The models installed on this machine, by model id.
//!
//! A claim names its model by id, `keccak256(weights_root ‖ arch_hash)`
//! (docs/SPEC.md 4.7), where the program hash depends on the input shape;
//! the watcher can re-execute it only if one of the installed models has
//! those weights, so the index is by weights root. Computing it hashes every
//! weight (seconds for the bundled models), so the index is built once, the
//! first time a claim needs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use trace_vm::models::{self, Model};

/// An installed model the watcher can re-execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalModel {
    /// Its installed name.
    pub name: String,
    /// Where its files are.
    pub path: PathBuf,
}

/// Installed models by weights root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalModels {
    by_root: BTreeMap<B256, LocalModel>,
}

impl LocalModels {
    /// Scans `dir`; a model that cannot be opened or compiled is left out with
    /// its reason logged (it could not be re-executed either).
    pub fn scan(dir: &Path) -> Self {
        let mut by_root = BTreeMap::new();
        for at in models::installed(dir) {
            match Model::open(&at).and_then(|m| m.canonical()?.weights_root()) {
                Ok(root) => {
                    tracing::info!(target: "refute::watch", model = %at.name, weights_root = %B256::from(root), "installed model");
                    by_root.insert(
                        B256::from(root),
                        LocalModel {
                            name: at.name.clone(),
                            path: at.path.clone(),
                        },
                    );
                }
                Err(e) => {
                    tracing::info!(target: "refute::watch", model = %at.name, reason = %e, "installed model cannot be re-executed; skipped");
                }
            }
        }
        Self { by_root }
    }

    /// An index of the given models (for tests and callers that already know them).
    pub fn from_models(models: impl IntoIterator<Item = (B256, LocalModel)>) -> Self {
        Self {
            by_root: models.into_iter().collect(),
        }
    }

    /// The installed model with weights root `root`.
    pub fn get(&self, root: &B256) -> Option<&LocalModel> {
        self.by_root.get(root)
    }
}
