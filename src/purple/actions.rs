//! What the plugin does when the user asks for something, whether through a menu item or
//! an `/otr` subcommand: one function per action, each given the IM conversation it
//! concerns. Each asks the client and shows what comes back; the logic and the words are in
//! `crate::client`.

use crate::client::commands::KnownKey;
use crate::client::i18n::tr;
use crate::client::{wording, ConvKey, Effect, Level};
use crate::otr::policy::Policy;

use super::dialogs;
use super::objects::{BlistNode, Conversation};
use super::prefs;
use super::runtime;

/// Runs `f` for the conversation's key with its current settings, then applies the effects.
fn act(
    conv: Conversation,
    f: impl FnOnce(
        &mut crate::client::Client,
        &ConvKey,
        &crate::client::ConvSettings,
        u64,
    ) -> Vec<Effect>,
) {
    match runtime::key_of(conv) {
        Some(key) => {
            let settings = prefs::settings_of(&key);
            runtime::dispatch(|c, now| f(c, &key, &settings, now));
        }
        None => conv.write_error(&wording::no_account()),
    }
}

fn say(key: &ConvKey, markup: &str, warning: bool) {
    runtime::apply(vec![Effect::Notice {
        conv: key.clone(),
        text: markup.to_string(),
        level: if warning { Level::Warning } else { Level::Info },
    }]);
}

/// Start (or restart) an encrypted, private conversation with this buddy.
pub(crate) fn start_private(conv: Conversation) {
    act(conv, |c, key, s, now| c.start(key, s, now));
}

/// Renegotiate the session keys of the private conversation (the same as starting again).
pub(crate) fn refresh_private(conv: Conversation) {
    start_private(conv);
}

/// End the private conversation and go back to plain messages: the user's explicit choice.
pub(crate) fn end_private(conv: Conversation) {
    act(conv, |c, key, s, now| c.end(key, s, now));
}

/// Say whether the conversation is private and whether the buddy is verified.
pub(crate) fn show_status(conv: Conversation) {
    act(conv, |c, key, _, _| c.status_report(key));
}

/// Show our own fingerprint and the buddy's.
pub(crate) fn show_fingerprint(conv: Conversation) {
    act(conv, |c, key, _, _| c.fingerprint_report(key));
}

/// Compare the buddy's fingerprint by hand and mark it verified (or not).
pub(crate) fn verify_fingerprint(conv: Conversation) {
    act(conv, |c, key, _, _| c.ask_verify(key));
}

/// Authenticate the buddy with a shared secret or a question (SMP).
pub(crate) fn authenticate_buddy(conv: Conversation) {
    act(conv, |c, key, _, _| c.ask_authenticate(key));
}

/// "OTR settings for this buddy" (buddy list).
pub(crate) fn buddy_settings(node: BlistNode) {
    if let Some(buddy) = node.buddy() {
        if let Some(account) = buddy.account() {
            dialogs::buddy_settings(account, &buddy.name(), buddy.node());
        }
    }
}

/// `/otr policy [default|never|manual|opportunistic|always]`.
pub(crate) fn set_policy(conv: Conversation, arg: &str) {
    let Some(key) = runtime::key_of(conv) else {
        conv.write_error(&wording::no_account());
        return;
    };
    let Some(node) = runtime::account(&key.account)
        .and_then(|a| a.buddy(&key.buddy))
        .map(|b| b.node())
    else {
        say(&key, &wording::own_setting_needs_buddy_list(), true);
        return;
    };
    if arg.is_empty() {
        let current = prefs::policy_label(prefs::buddy_policy(node));
        say(&key, &wording::policy_is(&key.buddy, &current), false);
        return;
    }
    let policy = match arg {
        "default" => None,
        name => match Policy::from_name(name) {
            Some(p) => Some(p),
            None => {
                say(&key, &wording::policy_usage(), true);
                return;
            }
        },
    };
    prefs::set_buddy_policy(node, policy);
    let label = prefs::policy_label(policy);
    say(&key, &wording::policy_is(&key.buddy, &label), false);
    let settings = prefs::settings_of(&key);
    runtime::dispatch(|c, now| c.settings_changed(&key, &settings, now));
}

/// `/otr smp ...`: abort, answer a pending request, or start.
pub(crate) fn smp_command(conv: Conversation, args: &str) {
    let args = args.trim();
    let key = runtime::key_of(conv);
    // Answered (or refused) here: the buddy's question must not stay open in its dialog.
    let answering = key.as_ref().is_some_and(|k| {
        !args.is_empty()
            && runtime::with_client(|c| c.status(k).is_some_and(|s| s.smp_in_progress))
                .unwrap_or(false)
    });
    act(conv, |c, key, s, now| c.smp_command(key, s, args, now));
    if let Some(key) = key.filter(|_| args == "abort" || answering) {
        dialogs::close_smp_answer(&key);
    }
}

/// `/otr verify [yes|no]`: without an argument, the dialog.
pub(crate) fn verify_command(conv: Conversation, arg: &str) {
    let verdict = match arg {
        "yes" => true,
        "no" => false,
        _ => return verify_fingerprint(conv),
    };
    act(conv, |c, key, s, now| {
        c.verify_command(key, s, verdict, now)
    });
}

pub(crate) fn send_held(conv: Conversation) {
    act(conv, |c, key, s, now| c.send_held(key, s, now));
}

pub(crate) fn drop_held(conv: Conversation) {
    act(conv, |c, key, s, _| c.drop_held(key, s));
}

/// Every known buddy key (the list dialog).
pub(crate) fn known_fingerprints() -> Vec<KnownKey> {
    runtime::with_client(|c| c.known_keys()).unwrap_or_default()
}

/// `/otr fingerprints`: this buddy's known keys.
pub(crate) fn list_fingerprints(conv: Conversation) {
    act(conv, |c, key, _, _| c.known_keys_report(key));
}

/// `/otr forget <fingerprint>` (hex, spaces allowed).
pub(crate) fn forget_command(conv: Conversation, arg: &str) {
    act(conv, |c, key, _, _| c.forget_command(key, arg));
}

/// Our own fingerprint for every account that has a key.
pub(crate) fn show_own_fingerprints() {
    let keys: Vec<(String, String, _)> = runtime::with_client(|c| c.own_fingerprints())
        .unwrap_or_default()
        .into_iter()
        .map(|(a, fp)| (a.name, a.protocol, fp))
        .collect();
    let body = wording::own_fingerprints(&keys);
    let handle = runtime::plugin_handle();
    super::objects::notify_info(
        handle,
        &tr("My fingerprints"),
        &tr("Your keys' fingerprints"),
        &body,
    );
}
