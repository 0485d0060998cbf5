//! Shared helpers for Refute's end-to-end tests.
