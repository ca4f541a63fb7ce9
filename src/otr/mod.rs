//! The OTR protocol engine (OTR v3, and v2), wire-compatible with libotr 4.1.1.
//!
//! Sans-I/O: bytes and events in, bytes and events out. The host injects the clock (`now`
//! arguments) and the randomness (a [`rand_core::CryptoRngCore`]). Start at [`session::Session`].
#![forbid(unsafe_code)]

pub mod crypto;
pub mod fragment;
pub mod keystore;
pub mod smp;
pub mod wire;

pub mod ake;
pub mod data;
pub mod events;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod keys;
pub mod modern;
pub mod policy;
pub mod session;
#[cfg(test)]
mod test_util;
