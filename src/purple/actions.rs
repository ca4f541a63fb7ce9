//! What the plugin does when the user asks for something, whether through a menu item
//! or an `/otr` subcommand: one function per action, each given the IM conversation it
//! concerns.

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::policy::Policy;

use super::bridge::{AccountId, ConvKey};
use super::dialogs;
use super::glue;
use super::objects::{Account, BlistNode, Conversation};
use super::prefs;
use super::text::escape_markup;

/// Writes a plain-text notice into the conversation of `key`.
pub(crate) fn notice(key: &ConvKey, text: &str, warning: bool) {
    if let Some(c) = Account::find(&key.account.name, &key.account.protocol)
        .and_then(|a| a.conversation(&key.buddy))
    {
        c.write_notice_markup(
            &super::ui::decorate_notice(key, &escape_markup(text)),
            warning,
        );
    }
}

/// Whether the buddy would receive a goodbye: on our list and online (as pidgin-otr).
pub(crate) fn peer_online(key: &ConvKey) -> bool {
    Account::find(&key.account.name, &key.account.protocol)
        .filter(|a| a.is_connected())
        .and_then(|a| a.buddy(&key.buddy))
        .is_some_and(|b| b.is_online())
}

fn with_key(conv: Conversation, f: impl FnOnce(&ConvKey)) {
    match glue::key_of(conv) {
        Some(key) => f(&key),
        None => conv.write_error("This conversation has no account."),
    }
}

/// Start (or restart) an encrypted, private conversation with this buddy.
pub(crate) fn start_private(conv: Conversation) {
    with_key(conv, |key| {
        let settings = prefs::settings_of(key);
        let effects = glue::with(|b| b.start(key, &settings, glue::now())).unwrap_or_default();
        glue::apply(effects);
    });
}

/// Renegotiate the session keys of the private conversation (the same as starting again).
pub(crate) fn refresh_private(conv: Conversation) {
    start_private(conv);
}

/// End the private conversation and go back to plain messages.
pub(crate) fn end_private(conv: Conversation) {
    with_key(conv, |key| {
        let settings = prefs::settings_of(key);
        let online = peer_online(key);
        let effects =
            glue::with(|b| b.end(key, &settings, glue::now(), online)).unwrap_or_default();
        if effects.is_empty() {
            notice(key, "This conversation is not private.", false);
        }
        glue::apply(effects);
    });
}

/// Say whether the conversation is private and whether the buddy is verified.
pub(crate) fn show_status(conv: Conversation) {
    with_key(conv, |key| {
        let text = glue::with(|b| {
            let mut text = b.describe(key);
            if let Some(st) = b.status(key) {
                if st.held > 0 {
                    text.push_str(&format!(" {} message(s) wait to be sent.", st.held));
                }
                if st.instances > 1 {
                    text.push_str(&format!(" Your buddy is logged in {} times.", st.instances));
                }
            }
            text
        });
        if let Some(text) = text {
            if let Some(c) = Account::find(&key.account.name, &key.account.protocol)
                .and_then(|a| a.conversation(&key.buddy))
            {
                c.write_notice_markup(&text, false);
            }
        }
    });
}

/// Show our own fingerprint and the buddy's.
pub(crate) fn show_fingerprint(conv: Conversation) {
    with_key(conv, |key| {
        let (ours, theirs) = glue::with(|b| {
            (
                b.own_fingerprint(&key.account),
                b.status(key).and_then(|s| s.fingerprint),
            )
        })
        .unwrap_or((None, None));
        let ours = ours.map_or_else(
            || "none yet (made on your first private conversation)".to_string(),
            |f| f.human(),
        );
        let theirs = theirs.map_or_else(
            || "unknown until a private conversation starts".to_string(),
            |f| f.human(),
        );
        notice(
            key,
            &format!(
                "Your fingerprint ({}): {ours}\n{}'s fingerprint: {theirs}",
                key.account.name, key.buddy
            ),
            false,
        );
    });
}

/// Compare the buddy's fingerprint by hand and mark it verified (or not).
pub(crate) fn verify_fingerprint(conv: Conversation) {
    with_key(conv, |key| {
        let found = glue::with(|b| {
            let theirs = b
                .status(key)
                .and_then(|s| s.fingerprint.filter(|_| s.is_private()))?;
            Some((b.own_fingerprint(&key.account), theirs, b.is_verified(key)))
        })
        .flatten();
        match found {
            Some((ours, theirs, verified)) => dialogs::verify(key, ours, theirs, verified),
            None => notice(key, "Verifying needs a private conversation, so that your buddy's key is known: start one first.", true),
        }
    });
}

/// Authenticate the buddy with a shared secret or a question (SMP).
pub(crate) fn authenticate_buddy(conv: Conversation) {
    with_key(conv, |key| {
        let private =
            glue::with(|b| b.status(key).is_some_and(|s| s.is_private())).unwrap_or(false);
        if private {
            dialogs::start_smp(key);
        } else {
            notice(
                key,
                "Authenticating needs a private conversation: start one first.",
                true,
            );
        }
    });
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
    with_key(conv, |key| {
        let Some(node) = Account::find(&key.account.name, &key.account.protocol)
            .and_then(|a| a.buddy(&key.buddy))
            .map(|b| b.node())
        else {
            notice(
                key,
                "Only buddies on your buddy list can have their own setting; the default applies.",
                true,
            );
            return;
        };
        if arg.is_empty() {
            let current = prefs::buddy_policy(node);
            notice(
                key,
                &format!(
                    "Private conversations with {}: {}",
                    key.buddy,
                    prefs::policy_label(current)
                ),
                false,
            );
            return;
        }
        let policy = match arg {
            "default" => None,
            name => match Policy::from_name(name) {
                Some(p) => Some(p),
                None => {
                    notice(
                        key,
                        "Use one of: default, never, manual, opportunistic, always.",
                        true,
                    );
                    return;
                }
            },
        };
        prefs::set_buddy_policy(node, policy);
        notice(
            key,
            &format!(
                "Private conversations with {}: {}",
                key.buddy,
                prefs::policy_label(policy)
            ),
            false,
        );
    });
}

/// `/otr smp ...`: abort, answer a pending request, or start.
pub(crate) fn smp_command(conv: Conversation, args: &str) {
    with_key(conv, |key| {
        let settings = prefs::settings_of(key);
        let now = glue::now();
        let args = args.trim();
        let awaiting_answer = !args.is_empty()
            && glue::with(|b| b.status(key).is_some_and(|s| s.smp_in_progress)).unwrap_or(false);
        let effects = if args == "abort" {
            glue::with(|b| b.smp_abort(key, &settings, now))
        } else if args.is_empty() {
            authenticate_buddy(conv);
            None
        } else {
            let awaiting =
                glue::with(|b| b.status(key).is_some_and(|s| s.smp_in_progress)).unwrap_or(false);
            // "/otr smp question? answer" asks; "/otr smp secret" answers or starts.
            match args.split_once('?') {
                Some((q, a)) if !awaiting && !a.trim().is_empty() => {
                    let question = format!("{}?", q.trim());
                    glue::with(|b| b.smp_start(key, &settings, Some(&question), a.trim(), now))
                }
                _ => glue::with(|b| {
                    if b.status(key).is_some_and(|s| s.smp_in_progress) {
                        b.smp_respond(key, &settings, args, now)
                    } else {
                        b.smp_start(key, &settings, None, args, now)
                    }
                }),
            }
        };
        // Answered or refused here: the buddy's question must not stay open in its dialog.
        if args == "abort" || awaiting_answer {
            dialogs::close_smp_answer(key);
        }
        glue::apply(effects.unwrap_or_default());
    });
}

/// `/otr verify [yes|no]`: without an argument, the dialog.
pub(crate) fn verify_command(conv: Conversation, arg: &str) {
    let verdict = match arg {
        "yes" => true,
        "no" => false,
        _ => return verify_fingerprint(conv),
    };
    with_key(conv, |key| {
        let settings = prefs::settings_of(key);
        let theirs = glue::with(|b| {
            b.status(key)
                .and_then(|s| s.fingerprint.filter(|_| s.is_private()))
        })
        .flatten();
        match theirs {
            Some(fp) => {
                let effects =
                    glue::with(|b| b.set_verified(key, &settings, &fp, verdict, glue::now()))
                        .unwrap_or_default();
                glue::apply(effects);
            }
            None => notice(
                key,
                "There is no private conversation whose key could be verified.",
                true,
            ),
        }
    });
}

pub(crate) fn send_held(conv: Conversation) {
    with_key(conv, |key| {
        let settings = prefs::settings_of(key);
        let effects = glue::with(|b| b.send_held(key, &settings, glue::now())).unwrap_or_default();
        glue::apply(effects);
    });
}

pub(crate) fn drop_held(conv: Conversation) {
    with_key(conv, |key| {
        let settings = prefs::settings_of(key);
        let effects = glue::with(|b| b.drop_held(key, &settings)).unwrap_or_default();
        glue::apply(effects);
    });
}

/// Every known buddy key: (account, buddy, fingerprint, verified).
pub(crate) fn known_fingerprints() -> Vec<(AccountId, String, Fingerprint, bool)> {
    glue::with(|b| {
        b.store()
            .fingerprints()
            .entries()
            .map(|e| {
                (
                    AccountId {
                        name: e.accountname.clone(),
                        protocol: e.protocol.clone(),
                    },
                    e.username.clone(),
                    e.fingerprint,
                    e.is_trusted(),
                )
            })
            .collect()
    })
    .unwrap_or_default()
}

/// `/otr fingerprints`: this buddy's known keys.
pub(crate) fn list_fingerprints(conv: Conversation) {
    with_key(conv, |key| {
        let list: Vec<String> = known_fingerprints()
            .into_iter()
            .filter(|(a, b, _, _)| *a == key.account && *b == key.buddy)
            .map(|(_, _, fp, v)| {
                format!(
                    "  {} ({})",
                    fp.human(),
                    if v { "verified" } else { "not verified" }
                )
            })
            .collect();
        if list.is_empty() {
            notice(
                key,
                &format!("No key of {} is known yet.", key.buddy),
                false,
            );
        } else {
            notice(
                key,
                &format!("Known keys of {}:\n{}", key.buddy, list.join("\n")),
                false,
            );
        }
    });
}

/// `/otr forget <fingerprint>` (hex, spaces allowed).
pub(crate) fn forget_command(conv: Conversation, arg: &str) {
    with_key(conv, |key| {
        let hex: String = arg.chars().filter(|c| !c.is_whitespace()).collect();
        match Fingerprint::from_hex(&hex) {
            Some(fp) => forget_fingerprint(&key.account, &key.buddy, &fp),
            None => notice(key, "Give the whole fingerprint (40 hex digits, spaces allowed); /otr fingerprints lists them.", true),
        }
    });
}

pub(crate) fn forget_fingerprint(account: &AccountId, buddy: &str, fp: &Fingerprint) {
    let key = ConvKey {
        account: account.clone(),
        buddy: buddy.to_string(),
    };
    let in_use = glue::with(|b| {
        b.status(&key)
            .is_some_and(|s| s.is_private() && s.fingerprint == Some(*fp))
    })
    .unwrap_or(false);
    if in_use {
        notice(
            &key,
            "That key is in use in the private conversation; end it first.",
            true,
        );
        return;
    }
    let result = glue::with(|b| {
        b.store_mut()
            .forget_fingerprint(&account.name, &account.protocol, buddy, fp)
    });
    match result {
        Some(Ok(true)) => notice(
            &key,
            &format!("Forgot {buddy}'s key {}.", fp.human()),
            false,
        ),
        Some(Ok(false)) => notice(&key, "That key was not known.", true),
        Some(Err(e)) => notice(&key, &format!("Could not forget the key: {e}"), true),
        None => {}
    }
}

/// Our own fingerprint for every account that has a key.
pub(crate) fn show_own_fingerprints() {
    let lines: Vec<String> = glue::with(|b| {
        b.store()
            .keys()
            .iter()
            .map(|k| {
                format!(
                    "{} ({}): {}",
                    k.account_name,
                    k.protocol,
                    k.fingerprint().human()
                )
            })
            .collect()
    })
    .unwrap_or_default();
    let body = if lines.is_empty() {
        "No account has a key yet. One is made on your first private conversation.".to_string()
    } else {
        lines.join("\n")
    };
    let handle = super::state::with(|s| s.plugin.handle()).unwrap_or(std::ptr::null_mut());
    super::objects::notify_info(handle, "My fingerprints", "Your keys' fingerprints", &body);
}
