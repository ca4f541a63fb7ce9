//! purple-otr: Off-the-Record Messaging for libpurple clients.
//!
//! [`otr`] is the protocol engine: pure, sans-I/O Rust with no libpurple, files, clock or
//! randomness of its own. `purple` (feature `plugin`, on by default) is the thin libpurple
//! adapter that Pidgin and Finch load; it depends on the engine, never the other way round.

pub mod otr;

#[cfg(feature = "plugin")]
mod purple;
