//! The account that provider commands (`claim`, `provide`) act as, connected
//! to the deployment. The key comes from the environment only, never a flag
//! (flags show up in process listings and shell history), and is never logged.

use alloy::signers::local::PrivateKeySigner;
use bisection::chain::{Node, Responder, Retry};
use bisection::deployment::Deployment;

use crate::error::{Error, Result};
use crate::paths::Context;

/// The variable holding the provider's private key.
pub const ACCOUNT_KEY_ENV: &str = "REFUTE_ACCOUNT_KEY";

/// The key in [`ACCOUNT_KEY_ENV`], checked, with its signer.
pub fn key() -> Result<(String, PrivateKeySigner)> {
    let var = ACCOUNT_KEY_ENV;
    let key = std::env::var(var).map_err(|_| Error::NoAccount { var })?;
    let signer = key.trim().parse().map_err(|e| Error::BadAccountKey {
        var,
        reason: format!("{e}"),
    })?;
    Ok((key, signer))
}

/// The signer of the key in [`ACCOUNT_KEY_ENV`].
pub fn signer() -> Result<PrivateKeySigner> {
    Ok(key()?.1)
}

/// `signer` on the deployment the context names, through `rpc_url` or the
/// deployment record's.
pub fn connect(
    ctx: &Context,
    signer: PrivateKeySigner,
    rpc_url: Option<&str>,
) -> Result<Responder> {
    let deployment = Deployment::load(&ctx.deployment)?;
    let node = Node::connect(
        rpc_url.unwrap_or(&deployment.rpc_url),
        signer,
        deployment.contracts.clone(),
        Retry::default(),
    )?
    .since(deployment.deploy_block);
    Ok(Responder::new(node))
}
