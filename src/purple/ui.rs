//! The state on screen, in whichever UI runs the plugin: Pidgin gets a button and an OTR
//! menu ([`super::pidgin`]), Finch the state in the window title ([`super::finch_title`]),
//! other libpurple UIs (a headless host) nothing beyond the notices. Only Pidgin's part
//! touches GTK, and only inside Pidgin (docs/architecture-ui.md).

use std::cell::Cell;

use super::ffi;
use super::finch_title;
use super::objects::Plugin;
use super::pidgin;
use super::text::lossy;
use crate::client::{ConvKey, SmpProgress};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ui {
    Other,
    Pidgin,
    Finch,
}

thread_local! {
    static UI: Cell<Ui> = const { Cell::new(Ui::Other) };
}

/// The id Pidgin passes to `purple_core_init`.
const PIDGIN_UI: &str = "gtk-gaim";
/// Finch's.
const FINCH_UI: &str = "gnt-purple";

/// Plugin load: start the part for the running UI.
pub(crate) fn init(plugin: Plugin) {
    // SAFETY: libpurple's static UI id string (or NULL before core init), copied at once.
    let id = unsafe { lossy(ffi::purple_core_get_ui()) };
    let ui = match id.as_str() {
        PIDGIN_UI if pidgin::init(plugin) => Ui::Pidgin,
        FINCH_UI => {
            finch_title::init(plugin);
            Ui::Finch
        }
        _ => Ui::Other,
    };
    UI.with(|u| u.set(ui));
}

/// Plugin unload: take our widgets and titles back out.
pub(crate) fn uninit() {
    match UI.with(|u| u.replace(Ui::Other)) {
        Ui::Pidgin => pidgin::uninit(),
        Ui::Finch => finch_title::uninit(),
        Ui::Other => {}
    }
}

/// The bridge said the conversation's state changed: redraw it wherever it is shown.
pub(crate) fn state_changed(key: &ConvKey) {
    match UI.with(Cell::get) {
        Ui::Pidgin => pidgin::state_changed(key),
        Ui::Finch => finch_title::state_changed(key),
        Ui::Other => {}
    }
}

/// After every batch of effects: catch what changed without a state change (messages
/// starting or ending to wait, a key being made). Only redraws what differs.
pub(crate) fn refresh_all() {
    match UI.with(Cell::get) {
        Ui::Pidgin => pidgin::refresh_all(),
        Ui::Finch => finch_title::refresh_all(),
        Ui::Other => {}
    }
}

/// An authentication the user started moved on: Pidgin shows it in a progress dialog with
/// Cancel (elsewhere the notices say it).
pub(crate) fn smp_progress(key: &ConvKey, progress: SmpProgress) {
    if UI.with(Cell::get) == Ui::Pidgin {
        pidgin::smp_progress(key, progress);
    }
}

/// A notice's markup as the running UI shows it: in Pidgin with the state's icon in front.
pub(crate) fn decorate_notice(key: &ConvKey, markup: &str) -> String {
    if UI.with(Cell::get) == Ui::Pidgin {
        pidgin::decorate(key, markup)
    } else {
        markup.to_string()
    }
}
