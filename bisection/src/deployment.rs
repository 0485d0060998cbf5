//! Where a Refute deployment lives: chain, RPC endpoint and contract addresses.
//!
//! `refute devnet up` writes this record; every other command reads it by
//! default, so a developer never copies addresses by hand.

use std::path::Path;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A deployment of the Refute contracts on one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// EIP-155 chain id the contracts live on.
    pub chain_id: u64,
    /// JSON-RPC endpoint of a node of that chain.
    pub rpc_url: String,
    /// Block in which the last contract was deployed; followers start here.
    pub deploy_block: u64,
    /// Account that deployed the contracts.
    pub deployer: Address,
    /// Addresses of the deployed contracts.
    pub contracts: ContractAddresses,
}

/// Addresses of the Refute contracts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractAddresses {
    /// The model registry.
    pub model_registry: Address,
    /// The one-step verifier the dispute game calls at the last level.
    pub step_verifier: Address,
    /// The dispute game.
    pub dispute_game: Address,
    /// The claims contract.
    pub claims: Address,
}

impl Deployment {
    /// Reads a deployment record written by [`Deployment::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::DeploymentRead {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| Error::DeploymentParse {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the record atomically (temp file + rename), so a reader never
    /// sees half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("json.tmp");
            let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
            std::fs::write(&tmp, text + "\n")?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|source| Error::DeploymentWrite {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Deployment {
        Deployment {
            chain_id: 31337,
            rpc_url: "http://127.0.0.1:8545".into(),
            deploy_block: 3,
            deployer: Address::repeat_byte(0x11),
            contracts: ContractAddresses {
                model_registry: Address::repeat_byte(0x22),
                step_verifier: Address::repeat_byte(0x33),
                dispute_game: Address::repeat_byte(0x44),
                claims: Address::repeat_byte(0x55),
            },
        }
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deployment.json");
        sample().save(&path).unwrap();
        assert_eq!(Deployment::load(&path).unwrap(), sample());
    }

    #[test]
    fn load_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("deployment.json");
        let err = Deployment::load(&missing).unwrap_err().to_string();
        assert!(err.contains("deployment.json"), "{err}");
        assert!(err.contains("refute devnet up"), "{err}");

        std::fs::write(&missing, "{ not json").unwrap();
        let err = Deployment::load(&missing).unwrap_err().to_string();
        assert!(err.contains("not a valid deployment record"), "{err}");
    }
}
