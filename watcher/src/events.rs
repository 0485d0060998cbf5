//! The contract events the watcher records, decoded from raw logs.
//!
//! A log that does not decode (wrong topics, truncated data) is skipped with
//! its reason: a malformed log must never stop the follower.

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use bisection::contracts::{Claims, DisputeGame, ModelRegistry};
use bisection::deployment::ContractAddresses;

/// Where an event was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Block number.
    pub block: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Position of the log in its block.
    pub log_index: u64,
    /// Transaction that emitted it.
    pub tx: B256,
}

/// A decoded event of interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `ModelRegistry.ModelRegistered`.
    ModelRegistered {
        /// The model id (its commitment).
        id: B256,
        /// Weights root.
        weights_root: B256,
        /// Program hash.
        arch_hash: B256,
        /// Informational name.
        name: String,
        /// Who registered it.
        registrant: Address,
    },
    /// `Claims.ClaimPosted`.
    ClaimPosted {
        /// Claim id.
        id: u64,
        /// Model id.
        model: B256,
        /// keccak256 of the input bytes.
        input_hash: B256,
        /// keccak256 of the output bytes.
        output_hash: B256,
        /// Root of the trace's boundary states.
        trace_root: B256,
        /// Sizes of the lists at each level.
        level_sizes: Vec<u64>,
        /// Who posted it.
        claimant: Address,
        /// Its bond, in wei.
        bond: U256,
        /// End of the challenge window (timestamp).
        deadline: u64,
    },
    /// `DisputeGame.GameCreated`.
    GameCreated {
        /// Game id.
        id: u64,
        /// Defender (the claimant).
        defender: Address,
        /// Challenger.
        challenger: Address,
    },
    /// `Claims.Challenged`: ties a game to its claim.
    Challenged {
        /// Claim id.
        claim: u64,
        /// Game id.
        game: u64,
        /// Challenger's bond, in wei.
        bond: U256,
    },
    /// A dissection move (`Revealed`, `Picked`, `Expanded`).
    Move {
        /// Game id.
        game: u64,
        /// `revealed`, `picked` or `expanded`.
        kind: &'static str,
        /// Level of the move.
        level: u8,
    },
    /// `DisputeGame.GameResolved`.
    GameResolved {
        /// Game id.
        game: u64,
        /// Whether the challenger won.
        challenger_won: bool,
    },
    /// `Claims.ChallengeSettled`.
    ChallengeSettled {
        /// Claim id.
        claim: u64,
        /// Game id.
        game: u64,
        /// Whether the challenger won.
        challenger_won: bool,
    },
    /// `Claims.ClaimFinalized`.
    ClaimFinalized {
        /// Claim id.
        claim: u64,
    },
}

/// Why a log was not turned into an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Skip {
    /// A log the watcher does not record (e.g. `Withdrawn`).
    Uninteresting,
    /// A log that should be an event of ours but does not decode.
    Malformed(String),
}

/// The topic-0 of every event [`decode`] understands, for the log filter.
pub fn topics() -> Vec<B256> {
    vec![
        ModelRegistry::ModelRegistered::SIGNATURE_HASH,
        Claims::ClaimPosted::SIGNATURE_HASH,
        Claims::Challenged::SIGNATURE_HASH,
        Claims::ChallengeSettled::SIGNATURE_HASH,
        Claims::ClaimFinalized::SIGNATURE_HASH,
        DisputeGame::GameCreated::SIGNATURE_HASH,
        DisputeGame::Revealed::SIGNATURE_HASH,
        DisputeGame::Picked::SIGNATURE_HASH,
        DisputeGame::Expanded::SIGNATURE_HASH,
        DisputeGame::GameResolved::SIGNATURE_HASH,
    ]
}

/// An id the contracts keep below 2^64 (array indexes), read from a uint256.
fn id(value: U256, what: &str) -> Result<u64, Skip> {
    u64::try_from(value)
        .map_err(|_| Skip::Malformed(format!("{what} {value} does not fit 64 bits")))
}

fn decoded<E: SolEvent>(log: &Log) -> Result<E, Skip> {
    E::decode_log_data(&log.inner.data)
        .map_err(|e| Skip::Malformed(format!("{} does not decode: {e}", E::SIGNATURE)))
}

/// Where `log` was emitted; `None` for a pending log (no block yet).
pub fn origin(log: &Log) -> Option<Origin> {
    Some(Origin {
        block: log.block_number?,
        block_hash: log.block_hash?,
        log_index: log.log_index?,
        tx: log.transaction_hash?,
    })
}

/// Decodes a log emitted by one of `contracts`.
pub fn decode(contracts: &ContractAddresses, log: &Log) -> Result<Event, Skip> {
    let Some(&topic0) = log.topics().first() else {
        return Err(Skip::Malformed("no topics".into()));
    };
    let from = log.address();
    if from == contracts.model_registry {
        if topic0 == ModelRegistry::ModelRegistered::SIGNATURE_HASH {
            let e: ModelRegistry::ModelRegistered = decoded(log)?;
            return Ok(Event::ModelRegistered {
                id: e.modelId,
                weights_root: e.weightsRoot,
                arch_hash: e.archHash,
                name: e.name,
                registrant: e.registrant,
            });
        }
    } else if from == contracts.claims {
        match topic0 {
            t if t == Claims::ClaimPosted::SIGNATURE_HASH => {
                let e: Claims::ClaimPosted = decoded(log)?;
                return Ok(Event::ClaimPosted {
                    id: id(e.claimId, "claim id")?,
                    model: e.modelId,
                    input_hash: e.inputHash,
                    output_hash: e.outputHash,
                    trace_root: e.traceRoot,
                    level_sizes: e.levelSizes,
                    claimant: e.claimant,
                    bond: e.bond,
                    deadline: e.deadline,
                });
            }
            t if t == Claims::Challenged::SIGNATURE_HASH => {
                let e: Claims::Challenged = decoded(log)?;
                return Ok(Event::Challenged {
                    claim: id(e.claimId, "claim id")?,
                    game: id(e.gameId, "game id")?,
                    bond: e.bond,
                });
            }
            t if t == Claims::ChallengeSettled::SIGNATURE_HASH => {
                let e: Claims::ChallengeSettled = decoded(log)?;
                return Ok(Event::ChallengeSettled {
                    claim: id(e.claimId, "claim id")?,
                    game: id(e.gameId, "game id")?,
                    challenger_won: e.challengerWon,
                });
            }
            t if t == Claims::ClaimFinalized::SIGNATURE_HASH => {
                let e: Claims::ClaimFinalized = decoded(log)?;
                return Ok(Event::ClaimFinalized {
                    claim: id(e.claimId, "claim id")?,
                });
            }
            _ => {}
        }
    } else if from == contracts.dispute_game {
        match topic0 {
            t if t == DisputeGame::GameCreated::SIGNATURE_HASH => {
                let e: DisputeGame::GameCreated = decoded(log)?;
                return Ok(Event::GameCreated {
                    id: id(e.gameId, "game id")?,
                    defender: e.defender,
                    challenger: e.challenger,
                });
            }
            t if t == DisputeGame::Revealed::SIGNATURE_HASH => {
                let e: DisputeGame::Revealed = decoded(log)?;
                return Ok(Event::Move {
                    game: id(e.gameId, "game id")?,
                    kind: "revealed",
                    level: e.level,
                });
            }
            t if t == DisputeGame::Picked::SIGNATURE_HASH => {
                let e: DisputeGame::Picked = decoded(log)?;
                return Ok(Event::Move {
                    game: id(e.gameId, "game id")?,
                    kind: "picked",
                    level: e.level,
                });
            }
            t if t == DisputeGame::Expanded::SIGNATURE_HASH => {
                let e: DisputeGame::Expanded = decoded(log)?;
                return Ok(Event::Move {
                    game: id(e.gameId, "game id")?,
                    kind: "expanded",
                    level: e.level,
                });
            }
            t if t == DisputeGame::GameResolved::SIGNATURE_HASH => {
                let e: DisputeGame::GameResolved = decoded(log)?;
                // Phase 5 is ChallengerWon (IDisputeGame.Phase).
                return Ok(Event::GameResolved {
                    game: id(e.gameId, "game id")?,
                    challenger_won: e.winner == 5,
                });
            }
            _ => {}
        }
    }
    Err(Skip::Uninteresting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, LogData};

    fn contracts() -> ContractAddresses {
        ContractAddresses {
            model_registry: Address::repeat_byte(1),
            step_verifier: Address::repeat_byte(2),
            dispute_game: Address::repeat_byte(3),
            claims: Address::repeat_byte(4),
        }
    }

    fn log(address: Address, topics: Vec<B256>, data: Vec<u8>) -> Log {
        Log {
            inner: alloy::primitives::Log {
                address,
                data: LogData::new_unchecked(topics, Bytes::from(data)),
            },
            ..Default::default()
        }
    }

    #[test]
    fn malformed_logs_are_skipped_with_a_reason() {
        let c = contracts();
        let no_topics = log(c.claims, vec![], vec![]);
        assert!(
            matches!(decode(&c, &no_topics), Err(Skip::Malformed(r)) if r.contains("no topics"))
        );

        // ClaimPosted's topic with its indexed topics missing and the data cut short.
        let truncated = log(
            c.claims,
            vec![Claims::ClaimPosted::SIGNATURE_HASH],
            vec![0; 7],
        );
        assert!(
            matches!(decode(&c, &truncated), Err(Skip::Malformed(r)) if r.contains("ClaimPosted"))
        );

        // The right event from the wrong contract is not ours.
        let elsewhere = log(
            Address::repeat_byte(9),
            vec![Claims::ClaimPosted::SIGNATURE_HASH],
            vec![],
        );
        assert_eq!(decode(&c, &elsewhere), Err(Skip::Uninteresting));
    }

    #[test]
    fn a_claim_id_beyond_64_bits_is_malformed() {
        let c = contracts();
        let e = Claims::ClaimFinalized {
            claimId: U256::MAX,
            claimant: Address::repeat_byte(7),
            bond: U256::from(1),
        };
        let data = e.encode_log_data();
        let l = log(c.claims, data.topics().to_vec(), data.data.to_vec());
        assert!(matches!(decode(&c, &l), Err(Skip::Malformed(r)) if r.contains("64 bits")));

        let e = Claims::ClaimFinalized {
            claimId: U256::from(41),
            ..e
        };
        let data = e.encode_log_data();
        let l = log(c.claims, data.topics().to_vec(), data.data.to_vec());
        assert_eq!(decode(&c, &l), Ok(Event::ClaimFinalized { claim: 41 }));
    }
}
