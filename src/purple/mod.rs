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
//! 8. [`actions`], [`settings_frame`]: one function per user action; the Configure dialog.
//! 9. [`pidgin`], [`finch_title`], then [`ui`]: the state at a glance (Pidgin's button and
//!    OTR menu, resolved at run time only inside Pidgin; Finch's window title).
//! 10. [`effects`]: carrying out what the client asked for.
//! 11. [`menus`], [`cmds`], [`signals`], [`xmpp_hints`]: what libpurple calls.
//! 12. [`entry`]: load and unload.
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

mod actions;
mod settings_frame;

mod finch_title;
mod pidgin;
mod ui;

mod effects;

mod cmds;
mod menus;
mod signals;
mod xmpp_hints;

mod entry;
