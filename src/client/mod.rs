//! The conversation logic between the engine and a chat client: safe Rust, no FFI, no
//! libpurple. The adapter in `src/purple/` turns host signals into calls here and carries out
//! the [`Effect`]s that come back; everything that decides what a user sees or what leaves
//! the machine lives here, so it is tested without libpurple
//! (`cargo test --no-default-features`).
//!
//! - [`conversations`]: [`Client`], every conversation and the one model of held messages.
//! - [`commands`]: what the user asks for by name (`/otr` subcommands, reports, dialogs).
//! - [`store`]: pidgin-otr's key, fingerprint and instance-tag files, written atomically
//!   under a lock.
//! - [`wording`]: every sentence a user reads; [`i18n`]: its translation.
//! - [`markup`]: escaping for libpurple's conversation markup.
//! - [`trust`]: the trust levels `otr.fingerprints` records.
//! - [`pins`]: the buddies' post-quantum identities the user vouched for (`otr.modern_pins`).
//! - [`view`]: the one state every interface shows (Pidgin's button, Finch's title).
#![forbid(unsafe_code)]

pub mod commands;
pub mod conversations;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod i18n;
#[cfg(feature = "fuzzing")]
pub mod lifecycle_check;
pub mod markup;
pub mod pins;
pub mod rng;
pub mod store;
#[cfg(test)]
mod test_dir;
pub mod transfer;
pub mod trust;
pub mod view;
pub mod wording;

pub use conversations::{
    default_max_message_size, AccountId, Arrived, Client, ConvKey, ConvSettings, Effect, Level,
    Sent, SmpProgress,
};

#[cfg(test)]
mod tests;
