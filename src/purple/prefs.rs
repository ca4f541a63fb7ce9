//! Preferences: the defaults under `/plugins/core/purple-otr/` (prefs.xml), a per-buddy
//! override on the buddy-list node (blist.xml), the configuration frame Pidgin and Finch
//! show under Tools → Plugins → Configure Plugin, and a one-time import of pidgin-otr's
//! `/OTR/*` settings so a user who switches keeps them.

use std::ffi::CStr;
use std::ptr;

use crate::otr::policy::Policy;

use super::bridge::{ConvKey, ConvSettings};
use super::ffi;
use super::objects::{Account, BlistNode};
use super::text::{c_string, lossy};

const ROOT: &CStr = c"/plugins/core/purple-otr";
const POLICY: &CStr = c"/plugins/core/purple-otr/policy";
const AVOID_LOGGING: &CStr = c"/plugins/core/purple-otr/avoid_logging";
const ONLY_VERIFIED: &CStr = c"/plugins/core/purple-otr/only_verified";
/// Set once pidgin-otr's settings were looked at, so they are imported only once.
const IMPORTED: &CStr = c"/plugins/core/purple-otr/imported_pidgin_otr";
const LOG_IMS: &CStr = c"/purple/logging/log_ims";

/// The per-buddy override, on the buddy's blist node: a policy name, absent = default.
pub(crate) const BUDDY_POLICY: &str = "purple-otr-policy";

fn get_bool(path: &CStr) -> bool {
    // SAFETY: static NUL-terminated path; missing prefs read as FALSE.
    unsafe { ffi::purple_prefs_get_bool(path.as_ptr()) != 0 }
}

fn exists(path: &CStr) -> bool {
    // SAFETY: static NUL-terminated path.
    unsafe { ffi::purple_prefs_exists(path.as_ptr()) != 0 }
}

fn get_string(path: &CStr) -> String {
    // SAFETY: static path; the value (or NULL) is owned by libpurple and copied at once.
    unsafe { lossy(ffi::purple_prefs_get_string(path.as_ptr())) }
}

/// Registers our preferences (defaults: opportunistic, private conversations not logged,
/// send to unverified buddies) and imports pidgin-otr's once.
pub(crate) fn init() {
    // SAFETY: static NUL-terminated paths and values; add_* keeps an existing value.
    unsafe {
        ffi::purple_prefs_add_none(ROOT.as_ptr());
        ffi::purple_prefs_add_string(POLICY.as_ptr(), c"opportunistic".as_ptr());
        ffi::purple_prefs_add_bool(AVOID_LOGGING.as_ptr(), 1);
        ffi::purple_prefs_add_bool(ONLY_VERIFIED.as_ptr(), 0);
        ffi::purple_prefs_add_bool(IMPORTED.as_ptr(), 0);
    }
    if !get_bool(IMPORTED) {
        import_pidgin_otr();
        // SAFETY: static path.
        unsafe { ffi::purple_prefs_set_bool(IMPORTED.as_ptr(), 1) };
    }
}

/// pidgin-otr's checkboxes as a policy (its gtk-ui.c mapping).
fn pidgin_otr_policy(enabled: bool, automatic: bool, only_private: bool) -> Policy {
    match (enabled, automatic, only_private) {
        (false, _, _) => Policy::NEVER,
        (true, false, _) => Policy::MANUAL,
        (true, true, false) => Policy::OPPORTUNISTIC,
        (true, true, true) => Policy::ALWAYS,
    }
}

fn import_pidgin_otr() {
    if !exists(c"/OTR/enabled") {
        return;
    }
    let policy = pidgin_otr_policy(
        get_bool(c"/OTR/enabled"),
        get_bool(c"/OTR/automatic"),
        get_bool(c"/OTR/onlyprivate"),
    );
    let name = c_string(policy.name().unwrap_or("opportunistic"));
    // SAFETY: static paths, NUL-terminated value copied by libpurple.
    unsafe {
        ffi::purple_prefs_set_string(POLICY.as_ptr(), name.as_ptr());
        if exists(c"/OTR/avoidloggingotr") {
            ffi::purple_prefs_set_bool(
                AVOID_LOGGING.as_ptr(),
                ffi::gboolean::from(get_bool(c"/OTR/avoidloggingotr")),
            );
        }
    }
}

pub(crate) fn default_policy() -> Policy {
    Policy::from_name(&get_string(POLICY)).unwrap_or(Policy::OPPORTUNISTIC)
}

/// The buddy's own policy, if they have one: ours, else pidgin-otr's override read from
/// the same node (`OTR/overridedefault` and its checkboxes).
pub(crate) fn buddy_policy(node: BlistNode) -> Option<Policy> {
    if let Some(name) = node.get_string(BUDDY_POLICY) {
        return Policy::from_name(&name);
    }
    if node.get_bool("OTR/overridedefault") {
        return Some(pidgin_otr_policy(
            node.get_bool("OTR/enabled"),
            node.get_bool("OTR/automatic"),
            node.get_bool("OTR/onlyprivate"),
        ));
    }
    None
}

pub(crate) fn set_buddy_policy(node: BlistNode, policy: Option<Policy>) {
    node.set_string(BUDDY_POLICY, policy.and_then(Policy::name));
}

/// Everything that decides how the conversation `key` behaves.
pub(crate) fn settings_of(key: &ConvKey) -> ConvSettings {
    let node = Account::find(&key.account.name, &key.account.protocol)
        .and_then(|a| a.buddy(&key.buddy))
        .map(|b| b.node());
    ConvSettings {
        policy: node.and_then(buddy_policy).unwrap_or_else(default_policy),
        avoid_logging: get_bool(AVOID_LOGGING),
        only_verified: get_bool(ONLY_VERIFIED),
        logging_default: get_bool(LOG_IMS),
    }
}

/// Whether IM logging is on by the user's choice (to restore when leaving private).
pub(crate) fn logs_ims() -> bool {
    get_bool(LOG_IMS)
}

/// Tools → Plugins → Configure Plugin. libpurple frees the frame after showing it.
/// The notes under the settings: the user's own fingerprints and where the rest is. Pidgin
/// shows the frame in a small fixed-size dialog and does not wrap: every line stays short
/// (libpurple copies label texts).
fn frame_notes() -> Vec<String> {
    let own = super::glue::with(|b| {
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
        "Your fingerprint: none yet (it is\nmade with your first private chat)".to_string()
    } else {
        format!("Your fingerprints:\n{}", own.join("\n"))
    };
    vec![
        mine,
        "To copy it, and your buddies' keys:\nTools → Off-the-Record Messaging\n(Finch: buddy list → Plugins menu)"
            .to_string(),
        "Per buddy: the chat's OTR menu,\nright-click the buddy, /otr policy".to_string(),
    ]
}

pub(crate) unsafe extern "C" fn pref_frame(
    _plugin: *mut ffi::PurplePlugin,
) -> *mut ffi::PurplePluginPrefFrame {
    super::guard::guard("configure plugin", None, ptr::null_mut(), || {
        // SAFETY: a new frame with prefs that name our registered paths; labels and choice
        // values are static C strings (libpurple keeps the choice pointers, so they must be
        // static); the frame goes to the caller.
        unsafe {
            let frame = ffi::purple_plugin_pref_frame_new();
            let policy = ffi::purple_plugin_pref_new_with_name_and_label(
                POLICY.as_ptr(),
                c"Use OTR".as_ptr(),
            );
            ffi::purple_plugin_pref_set_type(policy, ffi::PURPLE_PLUGIN_PREF_CHOICE);
            let choices: [(&CStr, &'static CStr); 4] = [
                (c"Never", c"never"),
                (c"When I start it", c"manual"),
                (c"When the buddy can", c"opportunistic"),
                (c"Always (no plain text)", c"always"),
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
                (AVOID_LOGGING, c"Do not log private conversations"),
                (ONLY_VERIFIED, c"Send only to verified buddies"),
            ] {
                let pref =
                    ffi::purple_plugin_pref_new_with_name_and_label(path.as_ptr(), label.as_ptr());
                ffi::purple_plugin_pref_frame_add(frame, pref);
            }
            for line in frame_notes() {
                let line = super::text::c_string(&line);
                let note = ffi::purple_plugin_pref_new_with_label(line.as_ptr());
                ffi::purple_plugin_pref_frame_add(frame, note);
            }
            frame
        }
    })
}

/// How a policy choice reads in dialogs.
pub(crate) fn policy_label(p: Option<Policy>) -> &'static str {
    match p.and_then(Policy::name) {
        None => "Use the default",
        Some("never") => "Never",
        Some("manual") => "Only when I start one",
        Some("opportunistic") => "Automatically, when the buddy supports it",
        Some(_) => "Always: never send unencrypted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidgin_otr_checkboxes_map_to_libotr_policies() {
        assert_eq!(pidgin_otr_policy(false, true, true), Policy::NEVER);
        assert_eq!(pidgin_otr_policy(true, false, true), Policy::MANUAL);
        assert_eq!(pidgin_otr_policy(true, true, false), Policy::OPPORTUNISTIC);
        assert_eq!(pidgin_otr_policy(true, true, true), Policy::ALWAYS);
    }
}
