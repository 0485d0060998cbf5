//! Plays one game between two strategies to its end, as the chain would:
//! every action goes through [`Game::apply`], rejected actions cost the
//! mover time, and a side that does not move loses on its clock.

use super::rules::{Game, Role};
use super::strategy::Strategy;
use super::view::Vm;

/// Seconds each accepted or rejected action takes in a simulation.
const SECONDS_PER_ACTION: u64 = 1;
/// Rejected actions a side may send in one turn before it counts as stalled.
const MAX_REJECTED_PER_TURN: u32 = 3;

/// How a simulated game ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The winner.
    pub winner: Role,
    /// Accepted moves of the defender and of the challenger.
    pub moves: [u32; 2],
    /// Actions the rules rejected.
    pub rejected: u32,
    /// Whether the game ended by a timeout.
    pub timed_out: bool,
}

/// Plays `game` to its end from time `now`.
pub fn play<V: Vm>(
    vm: &V,
    mut game: Game,
    defender: &mut dyn Strategy<V>,
    challenger: &mut dyn Strategy<V>,
    mut now: u64,
) -> Outcome {
    let mut rejected = 0;
    let mut timed_out = false;
    while let Some(mover) = game.to_move() {
        let player: &mut dyn Strategy<V> = match mover {
            Role::Defender => &mut *defender,
            Role::Challenger => &mut *challenger,
        };
        let mut moved = false;
        for _ in 0..MAX_REJECTED_PER_TURN {
            let Some(action) = player.act(&game, mover) else {
                break;
            };
            now += SECONDS_PER_ACTION;
            match game.apply(vm, mover, &action, now) {
                Ok(()) => {
                    moved = true;
                    break;
                }
                Err(err) => {
                    tracing::trace!(target: "refute::game", ?mover, %err, "action rejected");
                    rejected += 1;
                }
            }
        }
        if !moved {
            // The opponent waits out the clock, then claims the win.
            now += game.clock(mover) + 1;
            game.apply(vm, mover.other(), &super::rules::Action::Timeout, now)
                .expect("a timeout after the mover's whole clock is accepted");
            timed_out = true;
        }
    }
    Outcome {
        winner: game.winner().expect("the loop ends when the game is over"),
        moves: [game.moves(Role::Defender), game.moves(Role::Challenger)],
        rejected,
        timed_out,
    }
}
