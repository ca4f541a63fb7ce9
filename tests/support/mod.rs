//! Shared helpers for integration tests. Each test binary uses only some of them.

pub mod host;
pub mod libotr_peer;
pub mod prosody;
