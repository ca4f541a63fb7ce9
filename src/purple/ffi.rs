//! The libpurple/glib bindings bindgen generated at build time from `include/purple_otr.h`
//! (allowlist in build.rs). Never committed, never edited by hand.
#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::unwrap_used,
    clippy::cast_possible_truncation
)]

include!(concat!(env!("OUT_DIR"), "/purple_bindings.rs"));
