//! The real VM behind the game (docs/SPEC.md 6.8): a claim over a trace-vm
//! program is disputed over three levels — the boundary states, one layer's
//! op sub-trace, one op's micro list (every step of every output element as
//! a machine state) — and a step of the last level is decided by
//! [`OneStep`], which trusts only the claim hash, the game's list roots and
//! the Merkle proofs in the step's witness. The contract's verifier mirrors
//! it; [`MachineTrace`] is a player's side: lists and witnesses from a run,
//! and the [`ClaimPost`] whose input and output bytes encode its first and
//! last states.

mod io;
mod lists;
mod state;
mod verify;
mod witness;

pub use io::{ClaimPost, MAX_NUMEL, MAX_RANK, Malformed, decode_state, encode_state, state_root};
pub use lists::{Fault, MachineTrace, level_sizes, play_dispute};
pub use state::State;
pub use verify::{Executed, OneStep, Reject, StepKind, Trail};
pub use witness::{Claim, Witness};
