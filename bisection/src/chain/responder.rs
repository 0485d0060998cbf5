//! The one place where the game's actions and the claim's life-cycle meet
//! the contracts' ABI: [`Responder`] turns an [`Action`] (and a claim,
//! challenge, settlement, finalization or withdrawal) into the contract
//! call and sends it through [`Node::transact`]; [`action_of_call`] reads a
//! move back from a transaction's calldata, so a game's mirror replays
//! exactly what was sent.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use trace_vm::commit::Hash;

use super::node::{Node, Sent};
use crate::contracts::{Claims, DisputeGame};
use crate::error::Target;
use crate::game::rules::{Action, Game, Phase};
use crate::game::tree::Tree;
use crate::machine::{Claim, ClaimPost, State};
use crate::{Error, Result};

/// What a settled challenge paid, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The claim.
    pub claim_id: u64,
    /// The game.
    pub game_id: u64,
    /// Whether the challenger won (the claim is rejected).
    pub challenger_won: bool,
    /// Who was credited.
    pub payee: alloy::primitives::Address,
    /// How much, in wei.
    pub paid: U256,
    /// The settling transaction.
    pub sent: Sent,
}

/// A claim read back from its posting transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The name the model was registered under.
    pub model_name: String,
    /// The claim with its input and output bytes and proofs.
    pub post: ClaimPost,
}

/// Sends one account's transactions.
#[derive(Debug, Clone)]
pub struct Responder {
    node: Node,
}

fn b256s(v: &[Hash]) -> Vec<B256> {
    v.iter().copied().map(B256::from).collect()
}

fn hashes(v: &[B256]) -> Vec<Hash> {
    v.iter().map(|h| h.0).collect()
}

/// The contract function that carries `action`.
pub fn call_name(action: &Action<State>) -> &'static str {
    match action {
        Action::Reveal { .. } => "reveal",
        Action::Pick { .. } => "pick",
        Action::Expand { .. } => "expand",
        Action::Bind { .. } => "bind",
        Action::Step { .. } => "step",
        Action::Timeout => "timeout",
    }
}

/// The move a `DisputeGame` transaction's calldata carries, or `None` for
/// calldata of another function.
pub fn action_of_call(calldata: &[u8]) -> Option<Action<State>> {
    use DisputeGame::{bindCall, expandCall, pickCall, revealCall, stepCall, timeoutCall};
    let selector: [u8; 4] = calldata.get(..4)?.try_into().ok()?;
    Some(match selector {
        revealCall::SELECTOR => Action::Reveal {
            children: hashes(&revealCall::abi_decode(calldata).ok()?.children),
        },
        pickCall::SELECTOR => Action::Pick {
            child: pickCall::abi_decode(calldata).ok()?.child.try_into().ok()?,
        },
        expandCall::SELECTOR => {
            let c = expandCall::abi_decode(calldata).ok()?;
            Action::Expand {
                sub_root: c.subRoot.0,
                children: hashes(&c.children),
                end_proof: hashes(&c.endProof),
            }
        }
        bindCall::SELECTOR => Action::Bind {
            proof: hashes(&bindCall::abi_decode(calldata).ok()?.proof),
        },
        stepCall::SELECTOR => {
            let c = stepCall::abi_decode(calldata).ok()?;
            Action::Step {
                pre: State(c.pre.to_vec()),
                post: State(c.post.to_vec()),
                pre_proof: hashes(&c.preProof),
                end_proof: hashes(&c.endProof),
            }
        }
        timeoutCall::SELECTOR => Action::Timeout,
        _ => return None,
    })
}

impl Responder {
    /// Sends as `node`'s account.
    pub fn new(node: Node) -> Self {
        Self { node }
    }

    /// The node it sends through.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Sends `action` in game `game_id`, whose state before the move is
    /// `game` (a pick names its child's hash and proof from the reveal).
    pub async fn act(&self, game_id: u64, game: &Game, action: &Action<State>) -> Result<Sent> {
        let contract = self.node.game();
        let id = U256::from(game_id);
        let on = Target::Game(game_id);
        let name = call_name(action);
        match action {
            Action::Reveal { children } => {
                self.node
                    .transact(name, on, contract.reveal(id, b256s(children)))
                    .await
            }
            Action::Pick { child } => {
                let Phase::Pick(children) = game.phase() else {
                    return Err(Error::Unexpected {
                        on,
                        reason: format!("a pick while the game is in phase {:?}", game.phase()),
                    });
                };
                let hash = children.get(*child as usize).ok_or(Error::Unexpected {
                    on,
                    reason: format!("pick of child {child} of {} revealed", children.len()),
                })?;
                let proof = Tree::new(children).proof(*child);
                self.node
                    .transact(
                        name,
                        on,
                        contract.pick(id, U256::from(*child), B256::from(*hash), b256s(&proof)),
                    )
                    .await
            }
            Action::Expand {
                sub_root,
                children,
                end_proof,
            } => {
                self.node
                    .transact(
                        name,
                        on,
                        contract.expand(
                            id,
                            B256::from(*sub_root),
                            b256s(children),
                            b256s(end_proof),
                        ),
                    )
                    .await
            }
            Action::Bind { proof } => {
                self.node
                    .transact(name, on, contract.bind(id, b256s(proof)))
                    .await
            }
            Action::Step {
                pre,
                post,
                pre_proof,
                end_proof,
            } => {
                self.node
                    .transact(
                        name,
                        on,
                        contract.step(
                            id,
                            Bytes::from(pre.0.clone()),
                            Bytes::from(post.0.clone()),
                            b256s(pre_proof),
                            b256s(end_proof),
                        ),
                    )
                    .await
            }
            Action::Timeout => self.node.transact(name, on, contract.timeout(id)).await,
        }
    }

    /// Claim `claim_id` as it was posted in transaction `tx`: its fields
    /// (the model's weights root and program hash from the registry) with
    /// the input and output bytes from the calldata. Fails with a reason when
    /// the transaction is not a direct `postClaim` of that claim (a claim
    /// posted through another contract carries its bytes elsewhere).
    pub async fn posted(&self, claim_id: u64, tx: B256) -> Result<Posted> {
        let on = Target::Claim(claim_id);
        let sent = self
            .node
            .transaction(on, tx, "the node does not know the claim's transaction")
            .await?;
        let call = {
            use alloy::consensus::Transaction as _;
            Claims::postClaimCall::abi_decode(sent.input()).map_err(|e| Error::Unexpected {
                on,
                reason: format!(
                    "transaction {tx} is not a direct Claims.postClaim call ({e}); its input bytes cannot be read"
                ),
            })?
        };
        let registry = self.node.registry();
        let model = self
            .node
            .read("getModel", Target::Model(call.modelId), || async {
                registry.getModel(call.modelId).call().await
            })
            .await?;
        let post = ClaimPost::new(
            Claim {
                weights_root: model.weightsRoot.0,
                arch_hash: model.archHash.0,
                input_hash: [0; 32],
                output_hash: [0; 32],
                trace_root: call.traceRoot.0,
                sizes: call.levelSizes,
            },
            call.input.to_vec(),
            call.output.to_vec(),
            hashes(&call.inputProof),
            hashes(&call.outputProof),
        );
        if B256::from(post.claim.model_id()) != call.modelId {
            return Err(Error::Unexpected {
                on,
                reason: format!(
                    "the registry's model {} does not hash to its id",
                    call.modelId
                ),
            });
        }
        Ok(Posted {
            model_name: model.name,
            post,
        })
    }

    /// Every game opened against claim `claim_id`, with its challenger, in
    /// the order they were opened (from the `Challenged` logs, so a challenge
    /// sent just before a crash is found again and never sent twice).
    pub async fn games_on(&self, claim_id: u64) -> Result<Vec<(u64, Address)>> {
        let on = Target::Claim(claim_id);
        let claims = self.node.contracts().claims;
        super::replay::events::<Claims::Challenged>(&self.node, on, claims, Some(claim_id), None)
            .await?
            .into_iter()
            .map(|(e, _)| {
                u64::try_from(e.gameId)
                    .map(|id| (id, e.challenger))
                    .map_err(|_| Error::Unexpected {
                        on,
                        reason: format!("game id {} does not fit 64 bits", e.gameId),
                    })
            })
            .collect()
    }

    /// The smallest bond a claim or challenge may carry (`Claims.minBond`).
    pub async fn min_bond(&self) -> Result<U256> {
        let claims = self.node.claims();
        self.node
            .read("minBond", Target::Account(self.node.sender()), || async {
                claims.minBond().call().await
            })
            .await
    }

    /// Whether game `game_id`'s stakes were paid out.
    pub async fn is_settled(&self, game_id: u64) -> Result<bool> {
        let claims = self.node.claims();
        let id = U256::from(game_id);
        let c = self
            .node
            .read("getChallenge", Target::Game(game_id), || async {
                claims.getChallenge(id).call().await
            })
            .await?;
        Ok(c.settled)
    }

    /// Registers `claim`'s model under `name` unless it is registered; its id.
    pub async fn register(&self, claim: &Claim, name: &str) -> Result<B256> {
        let registry = self.node.registry();
        let model_id = B256::from(claim.model_id());
        let on = Target::Model(model_id);
        let registered = || async {
            self.node
                .read("isRegistered", on, || async {
                    registry.isRegistered(model_id).call().await
                })
                .await
        };
        if registered().await? {
            return Ok(model_id);
        }
        let call = registry.register(
            claim.weights_root.into(),
            claim.arch_hash.into(),
            name.to_owned(),
        );
        match self.node.transact("register", on, call).await {
            Ok(_) => Ok(model_id),
            // Another poster of the same model registered it between our read
            // and our send: the id is the content's hash, so theirs is ours.
            Err(e @ Error::Rejected { .. }) => match registered().await? {
                true => Ok(model_id),
                false => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Posts `post` (a claim with its input and output bytes and their
    /// proofs) with `bond`, after checking it as the contract will; the claim id.
    pub async fn post_claim(&self, post: &ClaimPost, bond: U256) -> Result<(u64, Sent)> {
        let claims = self.node.claims();
        let claim = &post.claim;
        let on = Target::Model(claim.model_id().into());
        post.check()?;
        let call = claims
            .postClaim(
                claim.model_id().into(),
                Bytes::copy_from_slice(&post.input),
                Bytes::copy_from_slice(&post.output),
                claim.trace_root.into(),
                claim.sizes.clone(),
                b256s(&post.input_proof),
                b256s(&post.output_proof),
            )
            .value(bond);
        let sent = self.node.transact("postClaim", on, call).await?;
        let id = self.event_id(sent, on, |log| {
            log.log_decode::<Claims::ClaimPosted>()
                .ok()
                .map(|e| e.inner.data.claimId)
        });
        let id = id.await?;
        u64::try_from(id)
            .map(|id| (id, sent))
            .map_err(|_| Error::Unexpected {
                on,
                reason: format!("claim id {id} does not fit 64 bits"),
            })
    }

    /// Challenges claim `claim_id`, whose fields are `claim`, with `bond`; the game id.
    pub async fn challenge(&self, claim_id: u64, claim: &Claim, bond: U256) -> Result<(u64, Sent)> {
        let on = Target::Claim(claim_id);
        let claims = self.node.claims();
        let call = claims
            .challenge(
                U256::from(claim_id),
                claim.model_id().into(),
                claim.input_hash.into(),
                claim.output_hash.into(),
                claim.trace_root.into(),
                claim.sizes.clone(),
            )
            .value(bond);
        let sent = self.node.transact("challenge", on, call).await?;
        let id = self
            .event_id(sent, on, |log| {
                log.log_decode::<Claims::Challenged>()
                    .ok()
                    .map(|e| e.inner.data.gameId)
            })
            .await?;
        u64::try_from(id)
            .map(|id| (id, sent))
            .map_err(|_| Error::Unexpected {
                on,
                reason: format!("game id {id} does not fit 64 bits"),
            })
    }

    /// Settles game `game_id` (anyone may, once it is over).
    pub async fn settle(&self, game_id: u64) -> Result<Settlement> {
        let on = Target::Game(game_id);
        let claims = self.node.claims();
        let sent = self
            .node
            .transact("settle", on, claims.settle(U256::from(game_id)))
            .await?;
        let receipt = self.receipt(sent, on).await?;
        let e = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| log.log_decode::<Claims::ChallengeSettled>().ok())
            .ok_or(Error::Unexpected {
                on,
                reason: format!("settle transaction {} emitted no ChallengeSettled", sent.tx),
            })?
            .inner
            .data;
        Ok(Settlement {
            claim_id: e.claimId.try_into().map_err(|_| Error::Unexpected {
                on,
                reason: format!("settled claim id {} does not fit 64 bits", e.claimId),
            })?,
            game_id,
            challenger_won: e.challengerWon,
            payee: e.payee,
            paid: e.paid,
            sent,
        })
    }

    /// Finalizes claim `claim_id` after its window (no game open).
    pub async fn finalize(&self, claim_id: u64) -> Result<Sent> {
        let claims = self.node.claims();
        let call = claims.finalize(U256::from(claim_id));
        self.node
            .transact("finalize", Target::Claim(claim_id), call)
            .await
    }

    /// Withdraws the sender's credit; the amount paid.
    pub async fn withdraw(&self) -> Result<(U256, Sent)> {
        let amount = self.node.credit().await?;
        let on = Target::Account(self.node.sender());
        let claims = self.node.claims();
        let sent = self
            .node
            .transact("withdraw", on, claims.withdraw())
            .await?;
        Ok((amount, sent))
    }

    async fn receipt(
        &self,
        sent: Sent,
        on: Target,
    ) -> Result<alloy::rpc::types::TransactionReceipt> {
        let provider = self.node.provider();
        self.node
            .read("eth_getTransactionReceipt", on, || async {
                provider.get_transaction_receipt(sent.tx).await
            })
            .await?
            .ok_or(Error::TxFailed {
                call: "eth_getTransactionReceipt",
                on,
                tx: sent.tx,
                reason: "the node has no receipt for a mined transaction".into(),
            })
    }

    /// The id an event of `sent`'s receipt carries.
    async fn event_id(
        &self,
        sent: Sent,
        on: Target,
        find: impl Fn(&alloy::rpc::types::Log) -> Option<U256>,
    ) -> Result<U256> {
        let receipt = self.receipt(sent, on).await?;
        receipt
            .inner
            .logs()
            .iter()
            .find_map(find)
            .ok_or(Error::TxFailed {
                call: "event",
                on,
                tx: sent.tx,
                reason: "the transaction emitted no event with the new id".into(),
            })
    }
}
