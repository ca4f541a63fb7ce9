//! Tools → Plugins → Configure Plugin (Pidgin and Finch both build it from this frame):
//! the defaults, and the user's own fingerprints with where the rest is.

use std::ffi::CStr;
use std::ptr;

use super::ffi;
use super::guard::guard;
use super::i18n::tr_c;
use super::prefs::{AVOID_LOGGING, MODERN, ONLY_VERIFIED, POLICY};
use super::runtime;
use super::text::c_string;
use crate::client::i18n::{fill, tr};

/// The notes under the settings: the user's own fingerprints and where the rest is. Pidgin
/// shows the frame in a small fixed-size dialog and does not wrap: every line stays short
/// (libpurple copies label texts).
fn frame_notes() -> Vec<String> {
    let own = runtime::with_client(|b| {
        b.store()
            .keys()
            .iter()
            .map(|k| {
                let fp = k.fingerprint().human();
                let groups: Vec<&str> = fp.split(' ').collect();
                let (a, b) = groups.split_at(groups.len().min(3));
                format!("{}\n   {}\n   {}", k.account_name, a.join(" "), b.join(" "))
            })
            .collect::<Vec<_>>()
    })
    .unwrap_or_default();
    let mine = if own.is_empty() {
        tr("Your fingerprint: none yet (it is\nmade with your first private chat)").into_owned()
    } else {
        fill(
            &tr("Your fingerprints:\n{list}"),
            &[("list", &own.join("\n"))],
        )
    };
    vec![
        mine,
        tr("To copy it, and your buddies' keys:\nTools → Off-the-Record Messaging\n(Finch: buddy list → Plugins menu)")
            .into_owned(),
        tr("Per buddy: the chat's OTR menu,\nright-click the buddy, /otr policy").into_owned(),
    ]
}

/// Tools → Plugins → Configure Plugin. libpurple frees the frame after showing it.
pub(crate) unsafe extern "C" fn pref_frame(
    _plugin: *mut ffi::PurplePlugin,
) -> *mut ffi::PurplePluginPrefFrame {
    guard("configure plugin", None, ptr::null_mut(), || {
        // SAFETY: a new frame with prefs that name our registered paths; labels and choice
        // values are static C strings (libpurple keeps the choice pointers, so they must be
        // static); the frame goes to the caller.
        unsafe {
            let frame = ffi::purple_plugin_pref_frame_new();
            let policy = ffi::purple_plugin_pref_new_with_name_and_label(
                POLICY.as_ptr(),
                tr_c(c"Use OTR").as_ptr(),
            );
            ffi::purple_plugin_pref_set_type(policy, ffi::PURPLE_PLUGIN_PREF_CHOICE);
            let choices: [(&CStr, &'static CStr); 4] = [
                (tr_c(c"Never"), c"never"),
                (tr_c(c"When I start it"), c"manual"),
                (tr_c(c"When the buddy can"), c"opportunistic"),
                (tr_c(c"Always (no plain text)"), c"always"),
            ];
            for (label, value) in choices {
                ffi::purple_plugin_pref_add_choice(
                    policy,
                    label.as_ptr(),
                    value.as_ptr().cast_mut().cast(),
                );
            }
            ffi::purple_plugin_pref_frame_add(frame, policy);
            for (path, label) in [
                (AVOID_LOGGING, tr_c(c"Do not log private conversations")),
                (ONLY_VERIFIED, tr_c(c"Send only to verified buddies")),
                (MODERN, tr_c(c"Post-quantum when both use purple-otr")),
            ] {
                let pref =
                    ffi::purple_plugin_pref_new_with_name_and_label(path.as_ptr(), label.as_ptr());
                ffi::purple_plugin_pref_frame_add(frame, pref);
            }
            for line in frame_notes() {
                let line = c_string(&line);
                let note = ffi::purple_plugin_pref_new_with_label(line.as_ptr());
                ffi::purple_plugin_pref_frame_add(frame, note);
            }
            frame
        }
    })
}
