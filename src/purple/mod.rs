//! The libpurple adapter: the only place with `unsafe`, kept thin. Layers, each importing
//! only from the ones listed before it:
//!
//! 1. [`ffi`] (bindgen), [`text`], [`debug`], [`manifest`], [`fslock`]: the C boundary.
//! 2. [`objects`]: host objects as `NonNull` newtypes; [`i18n`]: gettext, our text domain.
//! 3. [`guard`]: the panic guard every `extern "C"` entry runs its body through, so no
//!    panic ever unwinds into C.
//! 4. [`host`]: registrations (signals, commands, timers, request tokens), each undone
//!    when dropped.
//! 5. [`prefs`]: settings in libpurple's preferences and on buddy-list nodes.
//! 6. [`runtime`]: the one global — the [`crate::client::Client`], the registrations, the
//!    key workers, the timer — and `dispatch`, through which every handler acts.
//! 7. [`conflict`], [`dialogs`]: pidgin-otr detection; request dialogs.
//! 8. [`effects`]: carrying out what the client asked for.
//! 9. [`actions`]: one function per user action.
//! 10. [`menus`], [`cmds`], [`signals`], [`xmpp_hints`]: what libpurple calls.
//! 11. [`entry`]: load and unload.
#![allow(unsafe_code)]

mod debug;
mod ffi;
mod fslock;
mod manifest;
mod objects;
mod text;

mod i18n;

mod guard;

mod host;

mod prefs;

mod runtime;

mod conflict;
mod dialogs;

mod effects;

mod actions;

mod cmds;
mod menus;
mod signals;
mod xmpp_hints;

mod entry;
