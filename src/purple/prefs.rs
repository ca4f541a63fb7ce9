//! Preferences: the defaults under `/plugins/core/purple-otr/` (prefs.xml), a per-buddy
//! override on the buddy-list node (blist.xml), the configuration frame Pidgin and Finch
//! show under Tools → Plugins → Configure Plugin, and a one-time import of pidgin-otr's
//! `/OTR/*` settings so a user who switches keeps them.

use std::ffi::CStr;

use crate::otr::policy::Policy;

use super::ffi;
use super::objects::{Account, BlistNode};
use super::text::{c_string, lossy};
use crate::client::i18n::tr;
use crate::client::{ConvKey, ConvSettings};

const ROOT: &CStr = c"/plugins/core/purple-otr";
pub(crate) const POLICY: &CStr = c"/plugins/core/purple-otr/policy";
pub(crate) const AVOID_LOGGING: &CStr = c"/plugins/core/purple-otr/avoid_logging";
pub(crate) const ONLY_VERIFIED: &CStr = c"/plugins/core/purple-otr/only_verified";
/// Upgrade private conversations with purple-otr buddies to the post-quantum suite.
pub(crate) const MODERN: &CStr = c"/plugins/core/purple-otr/modern";
/// Set once pidgin-otr's settings were looked at, so they are imported only once.
const IMPORTED: &CStr = c"/plugins/core/purple-otr/imported_pidgin_otr";
const LOG_IMS: &CStr = c"/purple/logging/log_ims";
/// Per-buddy policies of buddies removed from the buddy list, kept so a conversation that
/// had to be private (Always) does not silently fall back to the default: one line each,
/// "protocol TAB account TAB buddy TAB policy".
const KEPT: &CStr = c"/plugins/core/purple-otr/kept_buddy_policies";
/// At most this many removed buddies' settings are kept (the oldest go first).
const MAX_KEPT: usize = 500;

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
        ffi::purple_prefs_add_bool(MODERN.as_ptr(), 1);
        ffi::purple_prefs_add_bool(IMPORTED.as_ptr(), 0);
        ffi::purple_prefs_add_string(KEPT.as_ptr(), c"".as_ptr());
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

fn kept_line(key: &ConvKey) -> String {
    let clean = |s: &str| s.replace(['\t', '\n'], " ");
    format!(
        "{}\t{}\t{}\t",
        clean(&key.account.protocol),
        clean(&key.account.name),
        clean(&key.buddy)
    )
}

/// The buddy was removed from the buddy list while they had their own policy: keep it for
/// their conversations (a removed buddy with Always must not drop to the default).
pub(crate) fn keep_policy(key: &ConvKey, policy: Policy) {
    let Some(name) = policy.name() else { return };
    let prefix = kept_line(key);
    let mut lines: Vec<String> = get_string(KEPT)
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    if lines.len() >= MAX_KEPT {
        lines.remove(0);
    }
    lines.push(format!("{prefix}{name}"));
    let value = c_string(&lines.join("\n"));
    // SAFETY: static path; libpurple copies the value.
    unsafe { ffi::purple_prefs_set_string(KEPT.as_ptr(), value.as_ptr()) };
}

fn kept_policy(key: &ConvKey) -> Option<Policy> {
    let prefix = kept_line(key);
    get_string(KEPT)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(Policy::from_name)
}

/// Everything that decides how the conversation `key` behaves.
pub(crate) fn settings_of(key: &ConvKey) -> ConvSettings {
    let account = Account::find(&key.account.name, &key.account.protocol);
    let buddy = account.and_then(|a| a.buddy(&key.buddy));
    ConvSettings {
        policy: buddy
            .map(|b| b.node())
            .and_then(buddy_policy)
            .or_else(|| kept_policy(key))
            .unwrap_or_else(default_policy),
        avoid_logging: get_bool(AVOID_LOGGING),
        only_verified: get_bool(ONLY_VERIFIED),
        modern: get_bool(MODERN),
        logging_default: get_bool(LOG_IMS),
        // On our list and online, as pidgin-otr decides whether to say goodbye.
        peer_online: account.is_some_and(|a| a.is_connected())
            && buddy.is_some_and(|b| b.is_online()),
    }
}

/// Whether IM logging is on by the user's choice (to restore when leaving private).
pub(crate) fn logs_ims() -> bool {
    get_bool(LOG_IMS)
}

/// How a policy choice reads in dialogs.
pub(crate) fn policy_label(p: Option<Policy>) -> String {
    let label = match p.and_then(Policy::name) {
        None => tr("Use the default"),
        Some("never") => tr("Never"),
        Some("manual") => tr("Only when I start one"),
        Some("opportunistic") => tr("Automatically, when the buddy supports it"),
        Some(_) => tr("Always: never send unencrypted"),
    };
    label.into_owned()
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
