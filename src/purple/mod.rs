//! The libpurple adapter: the only place with `unsafe`, kept thin.
//!
//! libpurple calls the `extern "C"` functions in [`entry`] (plugin load/unload),
//! [`signals`] (conversation and buddy-list signals), [`cmds`] (`/otr`) and [`menus`]
//! (menu item activations). Every one of them runs its body through [`guard::guard`], so
//! no panic ever unwinds into C. Host objects are `NonNull` newtypes ([`objects`]); all
//! plugin state lives in [`state`] and is freed on unload.
#![allow(unsafe_code)]

mod actions;
mod bridge;
mod cmds;
mod debug;
mod dialogs;
mod entry;
mod ffi;
mod finch_title;
mod glue;
mod guard;
mod manifest;
mod menus;
mod objects;
mod pidgin;
mod prefs;
mod signals;
mod state;
mod store;
mod text;
mod ui;
mod view;
mod wording;
