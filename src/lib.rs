//! purple-otr: Off-the-Record Messaging for libpurple clients.
//!
//! [`otr`] is the protocol engine: pure, sans-I/O Rust with no libpurple, files, clock or
//! randomness of its own. [`client`] is the conversation logic above it (held messages,
//! trust, files, every sentence a user reads), still without FFI. `purple` (feature
//! `plugin`, on by default) is the thin libpurple adapter that Pidgin and Finch load; each
//! layer depends only on the ones below it.

pub mod client;
pub mod otr;

#[cfg(feature = "plugin")]
mod purple;
