//! Refute's watcher: follows the chain, re-executes claims and plays the game.
