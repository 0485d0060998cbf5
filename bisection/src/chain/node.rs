//! One account's connection to a deployment: reads that retry transport
//! errors with exponential backoff, and transactions that are simulated
//! (`eth_call` with the same sender, value and calldata) before they are
//! sent, so a transaction the contract would reject is never sent.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::primitives::{Address, B256, TxHash, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Log, TransactionReceipt};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolInterface;

use crate::contracts::{Claims, DisputeGame, ModelRegistry};
use crate::deployment::ContractAddresses;
use crate::error::Target;
use crate::{Error, Result};

/// How long a sent transaction may wait in the pool before the sender
/// gives up on it and reads the state again.
const RECEIPT_WAIT: Duration = Duration::from_secs(300);

/// How often and how patiently transport errors are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(200),
        }
    }
}

impl Retry {
    /// The wait after failed attempt `attempt` (0-based).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        self.first_delay * 2u32.saturating_pow(attempt.min(16))
    }
}

/// A mined transaction: its hash, the gas it used and what the sender paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Transaction hash.
    pub tx: TxHash,
    /// Gas used (from the receipt).
    pub gas: u64,
    /// Fee paid, in wei (gas used times the effective gas price).
    pub fee: U256,
}

impl Sent {
    /// From a transaction's receipt.
    pub fn of(receipt: &TransactionReceipt) -> Self {
        Self {
            tx: receipt.transaction_hash,
            gas: receipt.gas_used,
            fee: U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price),
        }
    }
}

/// One account on one deployment.
#[derive(Clone)]
pub struct Node {
    provider: DynProvider,
    sender: Address,
    contracts: ContractAddresses,
    retry: Retry,
    /// Where log searches start ([`Node::since`]).
    first_block: u64,
    /// Held from reading a transaction's nonce until the node accepted it:
    /// the nonce is the pending count, so two games of one account sending
    /// at once would otherwise get the same nonce.
    sending: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("sender", &self.sender)
            .field("contracts", &self.contracts)
            .finish()
    }
}

impl Node {
    /// Connects `signer`'s account to the deployment at `rpc_url`.
    pub fn connect(
        rpc_url: &str,
        signer: PrivateKeySigner,
        contracts: ContractAddresses,
        retry: Retry,
    ) -> Result<Self> {
        let url = parse_url(rpc_url, signer.address())?;
        let sender = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(signer)
            .connect_http(url)
            .erased();
        Ok(Self {
            provider,
            sender,
            contracts,
            retry,
            first_block: 0,
            sending: Default::default(),
        })
    }

    /// The same node, searching logs from `block` (the deployment's block)
    /// instead of from genesis: nothing of the deployment lies before it,
    /// and nodes limit the block range of a log query.
    pub fn since(mut self, block: u64) -> Self {
        self.first_block = block;
        self
    }

    /// The first block logs are searched from ([`Node::since`]).
    pub fn first_block(&self) -> u64 {
        self.first_block
    }

    /// A node that only reads the deployment at `rpc_url` (no account: its
    /// sender is the zero address, and a transaction it sends is refused).
    pub fn read_only(rpc_url: &str, contracts: ContractAddresses, retry: Retry) -> Result<Self> {
        Ok(Self {
            provider: ProviderBuilder::new()
                .connect_http(parse_url(rpc_url, Address::ZERO)?)
                .erased(),
            sender: Address::ZERO,
            contracts,
            retry,
            first_block: 0,
            sending: Default::default(),
        })
    }

    /// The account that signs this node's transactions.
    pub fn sender(&self) -> Address {
        self.sender
    }

    /// The provider (for reads the client does not wrap).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The dispute game contract.
    pub fn game(&self) -> DisputeGame::DisputeGameInstance<DynProvider> {
        DisputeGame::new(self.contracts.dispute_game, self.provider.clone())
    }

    /// The claims contract.
    pub fn claims(&self) -> Claims::ClaimsInstance<DynProvider> {
        Claims::new(self.contracts.claims, self.provider.clone())
    }

    /// The model registry.
    pub fn registry(&self) -> ModelRegistry::ModelRegistryInstance<DynProvider> {
        ModelRegistry::new(self.contracts.model_registry, self.provider.clone())
    }

    /// The retry policy.
    pub fn retry(&self) -> Retry {
        self.retry
    }

    /// The contract addresses.
    pub fn contracts(&self) -> &ContractAddresses {
        &self.contracts
    }

    /// Runs the read `f` until it succeeds, retrying transport errors with
    /// backoff; a revert is not retried (the answer will not change).
    pub async fn read<T, E, F, Fut>(&self, call: &'static str, on: Target, f: F) -> Result<T>
    where
        E: Into<Failure>,
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
    {
        let mut attempt = 0;
        loop {
            match f().await.map_err(Into::into) {
                Ok(v) => return Ok(v),
                Err(Failure::Revert(reason)) => return Err(Error::Rejected { call, on, reason }),
                Err(Failure::Transport(reason)) => {
                    attempt += 1;
                    if attempt >= self.retry.attempts.max(1) {
                        return Err(Error::Transport {
                            call,
                            on,
                            attempts: attempt,
                            reason,
                        });
                    }
                    let wait = self.retry.delay(attempt - 1);
                    tracing::warn!(target: "refute::chain", call, %on, attempt, ?wait, %reason, "transport error; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Simulates `builder` from this node's sender, then sends it once and
    /// waits for its receipt. A revert in simulation is returned as
    /// [`Error::Rejected`] with the contract's custom error, and nothing is
    /// sent. A send is not repeated here: after a failure the caller
    /// re-reads the state to learn whether the transaction landed.
    pub async fn transact<D: CallDecoder + Unpin>(
        &self,
        call: &'static str,
        on: Target,
        builder: CallBuilder<&DynProvider, D>,
    ) -> Result<Sent> {
        let builder = builder.from(self.sender);
        self.read(call, on, || async {
            builder.call_raw().await.map_err(Failure::from)
        })
        .await?;
        // The state may change between simulation and sending (gas
        // estimation then reverts): still a rejection, not a transport error.
        let sending = self.sending.lock().await;
        // The nonce is read from the node for every send, never cached: after
        // a reorg the account's nonce may go back.
        let provider = &self.provider;
        let nonce = self
            .read("eth_getTransactionCount", on, || async {
                provider.get_transaction_count(self.sender).pending().await
            })
            .await?;
        let pending = builder
            .nonce(nonce)
            .send()
            .await
            .map_err(|e| match Failure::from(e) {
                Failure::Revert(reason) => Error::Rejected { call, on, reason },
                Failure::Transport(reason) => Error::Transport {
                    call,
                    on,
                    attempts: 1,
                    reason,
                },
            })?;
        drop(sending);
        let receipt = self.receipt(call, on, *pending.tx_hash()).await?;
        let tx = receipt.transaction_hash;
        if !receipt.status() {
            return Err(Error::TxFailed {
                call,
                on,
                tx,
                reason:
                    "reverted on chain after a successful simulation (the state changed in between)"
                        .into(),
            });
        }
        tracing::info!(target: "refute::chain", call, %on, %tx, gas = receipt.gas_used, "transaction mined");
        Ok(Sent::of(&receipt))
    }

    /// Waits for the receipt of `tx`, sent for `call`. A transaction the
    /// node no longer knows (a reorg dropped the block that held it, or the
    /// pool evicted it) is an error at once rather than a wait forever: the
    /// caller reads the state again and decides anew.
    async fn receipt(
        &self,
        call: &'static str,
        on: Target,
        tx: TxHash,
    ) -> Result<TransactionReceipt> {
        let failed = |reason: String| Error::TxFailed {
            call,
            on,
            tx,
            reason,
        };
        let provider = &self.provider;
        let poll = provider.client().poll_interval();
        let deadline = tokio::time::Instant::now() + RECEIPT_WAIT;
        loop {
            let receipt = self
                .read("eth_getTransactionReceipt", on, || async {
                    provider.get_transaction_receipt(tx).await
                })
                .await?;
            if let Some(r) = receipt {
                return Ok(r);
            }
            let known = self
                .read("eth_getTransactionByHash", on, || async {
                    provider.get_transaction_by_hash(tx).await
                })
                .await?;
            if known.is_none() {
                return Err(failed(
                    "dropped by the node before it was mined (a reorg, or evicted from the pool)"
                        .into(),
                ));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(failed(format!("not mined within {RECEIPT_WAIT:?}")));
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Transaction `tx` as the node holds it; `missing` says, in the error,
    /// why the caller expected it to exist.
    pub async fn transaction(
        &self,
        on: Target,
        tx: TxHash,
        missing: &str,
    ) -> Result<alloy::rpc::types::Transaction> {
        let provider = &self.provider;
        self.read("eth_getTransactionByHash", on, || async {
            provider.get_transaction_by_hash(tx).await
        })
        .await?
        .ok_or_else(|| Error::TxFailed {
            call: "eth_getTransactionByHash",
            on,
            tx,
            reason: missing.to_string(),
        })
    }

    /// The logs `filter` matches on the canonical chain, each with its
    /// block's timestamp. A node may still return logs of blocks a reorg
    /// (or `evm_revert`) dropped: a log is kept only when its block hash is
    /// the hash of the canonical block at its number.
    pub async fn logs(&self, on: Target, filter: &Filter) -> Result<Vec<Log>> {
        let provider = &self.provider;
        let logs = self
            .read("eth_getLogs", on, || async {
                provider.get_logs(filter).await
            })
            .await?;
        let mut canonical: BTreeMap<u64, Option<(B256, u64)>> = BTreeMap::new();
        let mut kept = Vec::with_capacity(logs.len());
        for mut log in logs {
            let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                continue; // pending, not mined
            };
            if log.removed {
                continue;
            }
            let block = match canonical.get(&number) {
                Some(b) => *b,
                None => {
                    let b = self
                        .read("eth_getBlockByNumber", on, || async {
                            provider.get_block_by_number(number.into()).await
                        })
                        .await?
                        .map(|b| (b.header.hash, b.header.timestamp));
                    canonical.insert(number, b);
                    b
                }
            };
            match block {
                Some((canonical_hash, time)) if canonical_hash == hash => {
                    log.block_timestamp = Some(time);
                    kept.push(log);
                }
                _ => {
                    tracing::warn!(target: "refute::chain", %on, block = number, %hash, "log of a block no longer on the canonical chain; ignored")
                }
            }
        }
        Ok(kept)
    }

    /// The timestamp of the latest block: the time the contracts judge
    /// clocks and windows by, not this machine's.
    pub async fn latest_time(&self) -> Result<u64> {
        let on = Target::Account(self.sender);
        let provider = &self.provider;
        self.read("eth_getBlockByNumber", on, || async {
            provider
                .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
                .await
        })
        .await?
        .map(|b| b.header.timestamp)
        .ok_or(Error::Unexpected {
            on,
            reason: "the node has no latest block".into(),
        })
    }

    /// The credit `claims.withdraw` would pay this node's sender.
    pub async fn credit(&self) -> Result<U256> {
        let claims = self.claims();
        self.read("balanceOf", Target::Account(self.sender), || async {
            claims.balanceOf(self.sender).call().await
        })
        .await
    }
}

/// The endpoint `rpc_url`, for `account`'s node.
fn parse_url(rpc_url: &str, account: Address) -> Result<alloy::transports::http::reqwest::Url> {
    rpc_url.parse().map_err(|e| Error::Transport {
        call: "connect",
        on: Target::Account(account),
        attempts: 0,
        reason: format!("{rpc_url} is not a URL: {e}"),
    })
}

/// A failed call, sorted: a revert (decoded) or a transport problem.
#[derive(Debug)]
pub enum Failure {
    /// The contract reverted; the decoded reason.
    Revert(String),
    /// The node or the connection failed.
    Transport(String),
}

impl From<alloy::contract::Error> for Failure {
    fn from(err: alloy::contract::Error) -> Self {
        if let Some(reason) = decode_revert(&err) {
            return Self::Revert(reason);
        }
        match err {
            alloy::contract::Error::TransportError(e) => Self::from(e),
            other => Self::Revert(other.to_string()),
        }
    }
}

impl From<alloy::transports::TransportError> for Failure {
    fn from(err: alloy::transports::TransportError) -> Self {
        match err.as_error_resp() {
            // The node answered: a revert without data, or a bad request.
            Some(resp) => Self::Revert(resp.message.to_string()),
            None => Self::Transport(err.to_string()),
        }
    }
}

/// The custom error a reverted call carries, by the ABI of every contract
/// it may come from (a challenge reverts with the game's errors too).
fn decode_revert(err: &alloy::contract::Error) -> Option<String> {
    fn named<E: SolInterface + std::fmt::Debug>(err: &alloy::contract::Error) -> Option<String> {
        err.as_decoded_interface_error::<E>()
            .map(|e| format!("{e:?}"))
    }
    named::<DisputeGame::DisputeGameErrors>(err)
        .or_else(|| named::<Claims::ClaimsErrors>(err))
        .or_else(|| named::<ModelRegistry::ModelRegistryErrors>(err))
        .or_else(|| {
            err.as_revert_data()
                .map(|data| format!("revert data 0x{}", hex::encode(data)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_retry_transport_errors_a_bounded_number_of_times() {
        // Port 9 (discard) on localhost: nothing answers JSON-RPC there.
        let retry = Retry {
            attempts: 3,
            first_delay: Duration::from_millis(5),
        };
        let addresses = ContractAddresses {
            model_registry: Address::repeat_byte(1),
            step_verifier: Address::repeat_byte(2),
            dispute_game: Address::repeat_byte(3),
            claims: Address::repeat_byte(4),
        };
        let node = Node::connect(
            "http://127.0.0.1:9",
            PrivateKeySigner::random(),
            addresses,
            retry,
        )
        .unwrap();
        let game = node.game();
        let started = std::time::Instant::now();
        let err = node
            .read("getGame", Target::Game(7), || async {
                game.getGame(U256::from(7)).call().await
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Transport { attempts: 3, .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("getGame on game 7 failed after 3 attempt"),
            "{msg}"
        );
        // Two waits: 5 ms, then 10 ms.
        assert!(started.elapsed() >= Duration::from_millis(15));
    }
}
