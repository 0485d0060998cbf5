//! A local Anvil devnet with the Refute contracts deployed.
//!
//! The node runs detached in its own process group so that it outlives the
//! `refute devnet up` that started it; its pid and log live in the state
//! directory, and the deployment record is what every other command reads.

mod deploy;
mod node;

pub use deploy::deploy_contracts;
pub use node::{NodeConfig, RunningNode};

/// Anvil's first well-known development account (mnemonic `test test … junk`).
/// Public knowledge: it must never hold value outside a devnet.
pub const DEV_PRIVATE_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
