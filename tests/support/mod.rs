//! Shared helpers for integration tests. Each test binary uses only some of them.
#![allow(dead_code, unreachable_pub)]

pub mod gui;
pub mod host;
pub mod libotr_peer;
pub mod pair;
pub mod prosody;
pub mod proxy;
