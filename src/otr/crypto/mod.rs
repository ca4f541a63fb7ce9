//! The only place that names cryptographic crates. Everything above it works with the
//! protocol's own notions: group elements, keys, MACs, fingerprints.

pub mod aes_ctr;
pub mod dsa;
pub mod fingerprint;
pub mod kdf;
pub mod mac;
pub(crate) mod memo;
pub mod modp;
