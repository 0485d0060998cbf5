//! Deploying the contracts to a fresh devnet with the development key.

use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use bisection::contracts::DeployConfig;
use bisection::deployment::Deployment;

use super::{DEV_PRIVATE_KEY, RunningNode};
use crate::error::{Error, Result};

/// Deploys every Refute contract and returns the deployment record.
pub async fn deploy_contracts(node: &RunningNode, config: DeployConfig) -> Result<Deployment> {
    let signer: PrivateKeySigner = DEV_PRIVATE_KEY
        .parse()
        .expect("the development key is a valid secp256k1 key");
    let deployer = signer.address();
    let url = node.rpc_url.parse().map_err(|err| Error::Rpc {
        call: "connect",
        rpc_url: node.rpc_url.clone(),
        reason: format!("{err}"),
    })?;
    let provider = ProviderBuilder::new().wallet(signer).connect_http(url);
    let contracts = bisection::contracts::deploy_all(&provider, config).await?;
    let deploy_block = provider
        .get_block_number()
        .await
        .map_err(|err| Error::Rpc {
            call: "eth_blockNumber",
            rpc_url: node.rpc_url.clone(),
            reason: err.to_string(),
        })?;
    Ok(Deployment {
        chain_id: node.chain_id().await?,
        rpc_url: node.rpc_url.clone(),
        deploy_block,
        deployer,
        contracts,
    })
}
