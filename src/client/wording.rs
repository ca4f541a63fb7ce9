//! Every sentence the plugin shows a person, in one place: what an engine event or a state
//! means, in plain words ("private, but bob's identity is not verified" rather than a bare
//! "Unverified"). Names and anything a peer sent are escaped, since libpurple renders
//! conversation text as markup.

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::events::{HoldReason, NotSentReason, Suite, UpgradeFailure};
use crate::otr::session::MessageState;
use crate::otr::smp::SmpEvent;

use super::markup::escape_markup as esc;

/// How much we know about who is on the other end of a private conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    Unverified,
    Verified,
}

/// The one-line state of a conversation (status command, menus, the state line).
pub fn state_line(buddy: &str, state: MessageState, trust: Trust) -> String {
    let b = esc(buddy);
    match (state, trust) {
        (MessageState::Plaintext, _) => {
            format!("Not private: messages to {b} are sent unencrypted.")
        }
        (MessageState::Encrypted, Trust::Unverified) => {
            format!("Private, but {b}'s identity is not verified.")
        }
        (MessageState::Encrypted, Trust::Verified) => {
            format!("Private, and {b}'s identity is verified.")
        }
        (MessageState::Finished, _) => {
            format!("{b} has ended the private conversation; nothing you type is sent until you end or restart it.")
        }
    }
}

/// [`state_line`], saying "(post-quantum)" after it once the conversation uses the modern
/// suite; OTR v3 keeps the plain line (what users of pidgin-otr know). The sentence of
/// [`state_line`] stays whole, so what it says is said the same way.
pub fn state_line_with_suite(
    buddy: &str,
    state: MessageState,
    trust: Trust,
    suite: Option<Suite>,
) -> String {
    let line = state_line(buddy, state, trust);
    match (state, suite) {
        (MessageState::Encrypted, Some(Suite::Modern)) => {
            format!("{line} {}", suite_label(Suite::Modern))
        }
        _ => line,
    }
}

/// The protection in use, as a short label (status lines, window titles, buttons).
pub fn suite_label(suite: Suite) -> &'static str {
    match suite {
        Suite::Modern => "(post-quantum)",
        Suite::Otr => "(OTR v3)",
    }
}

/// The conversation switched to the post-quantum suite.
pub fn upgraded(buddy: &str) -> String {
    format!(
        "The private conversation with {} now uses post-quantum encryption \
         (both of you use purple-otr).",
        esc(buddy)
    )
}

/// The switch to the post-quantum suite did not happen; still private on OTR v3.
pub fn upgrade_failed(buddy: &str, reason: UpgradeFailure) -> String {
    let why = match reason {
        UpgradeFailure::Timeout => "did not answer in time",
        UpgradeFailure::EqualInstanceTags => "could not be told apart from you",
    };
    format!(
        "Switching to post-quantum encryption failed ({}'s client {why}); the conversation \
         stays private with OTR v3.",
        esc(buddy)
    )
}

/// A message protected only by OTR v3 arrived after the switch: not shown.
pub fn old_suite_ignored(buddy: &str) -> String {
    format!(
        "A message that claimed to be from {} but used the older OTR v3 protection after the \
         switch to post-quantum encryption was not shown.",
        esc(buddy)
    )
}

pub fn starting(buddy: &str, refresh: bool) -> String {
    if refresh {
        format!("Refreshing the private conversation with {}…", esc(buddy))
    } else {
        format!("Asking {} to start a private conversation…", esc(buddy))
    }
}

fn logging_note(logging: bool) -> &'static str {
    if logging {
        " Your client is logging this conversation."
    } else {
        " This conversation is not being logged."
    }
}

pub fn gone_secure(buddy: &str, trust: Trust, logging: bool) -> String {
    let b = esc(buddy);
    let first = match trust {
        Trust::Verified => {
            format!("Private conversation with {b} started; {b}'s identity is verified.")
        }
        Trust::Unverified => format!(
            "Private conversation with {b} started, but {b}'s identity is not verified yet. \
             Check it with “Authenticate buddy” or “Verify fingerprint” (or /otr smp, /otr verify)."
        ),
    };
    format!("{first}{}", logging_note(logging))
}

pub fn refreshed(buddy: &str, trust: Trust) -> String {
    let b = esc(buddy);
    match trust {
        Trust::Verified => {
            format!("Private conversation with {b} refreshed; {b}'s identity is verified.")
        }
        Trust::Unverified => {
            format!(
                "Private conversation with {b} refreshed; {b}'s identity is still not verified."
            )
        }
    }
}

pub fn first_fingerprint(buddy: &str, fp: &Fingerprint) -> String {
    format!(
        "This is the first time you talk privately with {}. Their key's fingerprint is {}.",
        esc(buddy),
        fp.human()
    )
}

pub fn fingerprint_changed(buddy: &str, known: &[Fingerprint], new: &Fingerprint) -> String {
    let known: Vec<String> = known.iter().map(Fingerprint::human).collect();
    format!(
        "<b>Warning: {b} is using a key you have not seen before.</b> New key: {new}. Known: {known}. \
         It may be a new computer, or someone else. Verify it before you say anything sensitive.",
        b = esc(buddy),
        new = new.human(),
        known = known.join(", ")
    )
}

pub fn we_ended(buddy: &str) -> String {
    format!(
        "You ended the private conversation with {}. Messages are now sent unencrypted.",
        esc(buddy)
    )
}

pub fn peer_ended(buddy: &str) -> String {
    let b = esc(buddy);
    format!(
        "{b} has ended the private conversation. Nothing you type is sent until you end it too \
         (“End private conversation”, /otr end) or start a new one (/otr start)."
    )
}

pub fn held(buddy: &str, pending: usize, reason: HoldReason) -> String {
    let b = esc(buddy);
    let what = if pending == 1 {
        "Your message is".to_string()
    } else {
        format!("Your {pending} messages are")
    };
    match reason {
        HoldReason::Starting => format!(
            "{what} waiting, not sent: it goes out once the private conversation with {b} is \
             set up. Asking {b} to start one…"
        ),
        HoldReason::Negotiating => format!(
            "{what} waiting, not sent: it goes out once the private conversation with {b} is set up."
        ),
        HoldReason::PeerOffline => format!(
            "{what} waiting, not sent: the private conversation with {b} is paused while {b} is \
             offline. It goes out privately when {b} is back."
        ),
        HoldReason::WaitingForUser => format!(
            "{what} waiting, not sent: the private conversation with {b} was interrupted. Start it \
             again (“Start private conversation”, /otr start) to send privately, or end it \
             (/otr end) to send in the clear from now on."
        ),
        HoldReason::NewKey => format!(
            "{what} waiting, not sent: {b} is using a key this conversation was not private \
             with before. Check it (“Verify fingerprint”, “Authenticate buddy”); send anyway to \
             the new key with /otr send-held, or drop with /otr drop-held."
        ),
        HoldReason::Unverified => format!(
            "{what} waiting, not sent: {b}'s identity is not verified, and you chose to send only \
             to verified buddies. Verify {b} (“Authenticate buddy”, “Verify fingerprint”), or \
             send anyway with /otr send-held."
        ),
    }
}

pub fn held_sent(count: usize) -> String {
    if count == 1 {
        "Your waiting message was sent privately.".to_string()
    } else {
        format!("Your {count} waiting messages were sent privately.")
    }
}

pub fn held_for_new_key(
    buddy: &str,
    expected: &Fingerprint,
    actual: &Fingerprint,
    pending: usize,
) -> String {
    format!(
        "<b>{pending} message(s) were not sent.</b> You wrote them for {b}'s key {e}, but the private \
         conversation is now with key {a}. Verify the new key, then send them with /otr send-held, \
         or drop them with /otr drop-held.",
        b = esc(buddy),
        e = expected.human(),
        a = actual.human()
    )
}

pub fn not_sent(buddy: &str, text: &str, reason: &NotSentReason) -> String {
    let b = esc(buddy);
    let why = match reason {
        NotSentReason::PeerEndedSession => {
            format!("{b} has ended the private conversation; end it too or restart it, then send again.")
        }
        NotSentReason::NotPrivateInTime => {
            format!("the private conversation with {b} could not be set up.")
        }
        NotSentReason::EncryptionFailed => "it could not be encrypted.".to_string(),
        NotSentReason::Discarded => "you dropped it.".to_string(),
    };
    format!("<b>Not sent:</b> “{}” — {why}", esc(text))
}

pub fn resent() -> &'static str {
    "Your last message was sent again in the new private conversation."
}

pub fn reflected() -> &'static str {
    "Your own OTR messages are coming back to you: either you are talking to yourself, or someone is reflecting them."
}

pub fn unreadable(buddy: &str) -> String {
    format!(
        "An encrypted message from {} could not be read (they have been told).",
        esc(buddy)
    )
}

pub fn malformed(buddy: &str) -> String {
    format!("A damaged OTR message from {} was ignored.", esc(buddy))
}

pub fn not_in_private(buddy: &str) -> String {
    let b = esc(buddy);
    format!(
        "{b} sent an encrypted message, but you have no private conversation with {b}, so it cannot be read. \
         Start one (/otr start) and ask {b} to send it again."
    )
}

pub fn for_other_instance(buddy: &str) -> String {
    format!(
        "{} sent a message meant for another place where you are logged in; it was not shown here.",
        esc(buddy)
    )
}

pub fn unencrypted(buddy: &str) -> String {
    format!(
        "<b>The next message from {} was not encrypted.</b>",
        esc(buddy)
    )
}

pub fn peer_error(buddy: &str, text: &str) -> String {
    format!(
        "{}'s OTR software reported an error: {}",
        esc(buddy),
        esc(text)
    )
}

pub fn key_being_generated(account: &str) -> String {
    format!(
        "Creating your private key for {} (this happens once and takes a moment). Messages you type meanwhile wait.",
        esc(account)
    )
}

pub fn key_ready(account: &str, fp: &Fingerprint) -> String {
    format!(
        "Your private key for {} is ready. Its fingerprint is {}.",
        esc(account),
        fp.human()
    )
}

/// What an SMP step means to the user; `None` for steps that need a dialog instead.
pub fn smp(buddy: &str, event: &SmpEvent, we_asked_question: bool) -> Option<String> {
    let b = esc(buddy);
    Some(match event {
        SmpEvent::AskForSecret | SmpEvent::AskForAnswer { .. } => return None,
        SmpEvent::InProgress => format!("Authenticating {b}: waiting for {b}…"),
        SmpEvent::Success if we_asked_question => {
            format!("{b} answered your question correctly: {b}'s identity is verified.")
        }
        SmpEvent::Success => {
            format!("Authentication succeeded: you and {b} share the same secret.")
        }
        SmpEvent::Failure => {
            format!("<b>Authentication of {b} failed:</b> the answers did not match. You may be talking to an impostor.")
        }
        SmpEvent::Cheated => {
            format!("<b>Authentication of {b} failed:</b> {b}'s software sent invalid data.")
        }
        SmpEvent::Aborted => format!("{b} cancelled the authentication."),
        SmpEvent::Error => {
            "Authentication got out of step and was cancelled; please try again.".to_string()
        }
    })
}

/// After we answered the buddy's question correctly: they know who we are, we don't yet
/// know who they are.
pub fn smp_answered(buddy: &str) -> String {
    let b = esc(buddy);
    format!("{b} has verified your identity. To verify {b}'s, ask a question of your own (“Authenticate buddy”, /otr smp).")
}

pub fn not_private_for(action: &str) -> String {
    format!("{action} needs a private conversation; start one first (/otr start).")
}

pub fn forget_in_use() -> String {
    "That key is in use in the private conversation; end it first.".to_string()
}

pub fn forgot(buddy: &str, fp: &Fingerprint) -> String {
    format!("Forgot {}'s key {}.", esc(buddy), fp.human())
}

pub fn forget_unknown() -> String {
    "That key was not known.".to_string()
}

pub fn forget_failed(why: &str) -> String {
    format!("Could not forget the key: {}", esc(why))
}

pub fn key_failed(account: &str, why: &str) -> String {
    format!(
        "Your private key for {} could not be made ({}). Messages you typed stay waiting; \
         try again with “Start private conversation” (or /otr start).",
        esc(account),
        esc(why)
    )
}

/// `typed` is the user's own markup, shown as they typed it.
pub fn not_sent_internal_error(typed: &str) -> String {
    format!(
        "<b>Not sent:</b> “{}”. The OTR plugin hit an internal error while handling it (details \
         in the debug log); nothing was sent. Try again, or restart the private conversation.",
        esc(typed)
    )
}

pub fn not_sent_error(typed: &str, why: &str) -> String {
    format!("<b>Not sent:</b> “{}” — {}", esc(typed), esc(why))
}

/// Said when the client quits or the plugin is unloaded with messages still waiting.
pub fn not_sent_closing(typed: &str) -> String {
    format!(
        "<b>Not sent:</b> “{}” — it was still waiting for a private conversation when OTR was \
         closed.",
        esc(typed)
    )
}

pub fn otr_turned_off(buddy: &str) -> String {
    format!(
        "Off-the-Record is now off for {}: the private conversation is ended first. From now \
         on what you type is sent in the clear.",
        esc(buddy)
    )
}

pub fn not_sent_otr_just_off(typed: &str) -> String {
    format!(
        "<b>Not sent:</b> “{}” — it was typed for the private conversation, which ended just \
         now because OTR was turned off. Type it again to send it in the clear.",
        esc(typed)
    )
}

pub fn otr_is_off(buddy: &str) -> String {
    format!(
        "Off-the-Record is off for {}. Choose another setting (/otr policy, or the buddy's OTR \
         settings) to talk privately.",
        esc(buddy)
    )
}

pub fn marked(buddy: &str, fp: &Fingerprint, verified: bool) -> String {
    format!(
        "You marked {}'s key {} as {}.",
        esc(buddy),
        fp.human(),
        if verified { "verified" } else { "not verified" }
    )
}

pub fn not_saved_verification(why: &str) -> String {
    format!("Could not save the verification: {}", esc(why))
}

pub fn not_saved_smp(why: &str) -> String {
    format!("Could not save the result: {}", esc(why))
}

pub fn key_not_saved(why: &str) -> String {
    format!(
        "Your new key could not be saved ({}); it is used for now, but fix the problem before \
         you quit or it is lost.",
        esc(why)
    )
}

pub fn nothing_held() -> &'static str {
    "No message is waiting to be sent."
}

pub fn held_needs_private(buddy: &str, held: usize) -> String {
    format!(
        "{held} message(s) still wait: they go out only privately, and the conversation with {} \
         is not private now. Start it (/otr start), or end it (/otr end) and type again to \
         send in the clear.",
        esc(buddy)
    )
}

pub fn dropped(count: usize) -> String {
    format!("Dropped {count} waiting message(s).")
}

pub fn paused_buddy_offline(buddy: &str, held: usize) -> String {
    let b = esc(buddy);
    let waiting = if held > 0 {
        format!(" {held} message(s) are waiting.")
    } else {
        String::new()
    };
    format!(
        "{b} went offline: the private conversation is paused. Nothing you type is sent in the \
         clear; it waits and goes out privately when {b} is back.{waiting}"
    )
}

pub fn paused_we_offline(buddy: &str, held: usize) -> String {
    let b = esc(buddy);
    let waiting = if held > 0 {
        format!(" {held} message(s) are waiting.")
    } else {
        String::new()
    };
    format!(
        "You went offline: the private conversation with {b} is paused. Nothing you type is \
         sent in the clear; it waits and goes out privately once you and {b} are back.{waiting}"
    )
}

pub fn buddy_back(buddy: &str, restarting: bool, held: usize) -> String {
    let b = esc(buddy);
    if restarting {
        format!("{b} is back: starting the private conversation again…")
    } else if held > 0 {
        format!(
            "{b} is back. {held} message(s) wait: start the private conversation again \
             (“Start private conversation”, /otr start) to send them privately."
        )
    } else {
        format!(
            "{b} is back. Start the private conversation again (“Start private conversation”, \
             /otr start) to keep talking privately."
        )
    }
}

/// `label` is the setting's name as the settings show it.
pub fn policy_kept(buddy: &str, label: &str) -> String {
    format!(
        "{} was removed from your buddy list; their Off-the-Record setting ({}) stays in \
         effect for this conversation.",
        esc(buddy),
        esc(label)
    )
}

pub fn not_private_now() -> &'static str {
    "This conversation is not private."
}

pub fn status_extra(held: usize, instances: usize, paused: bool) -> String {
    let mut text = String::new();
    if paused {
        text.push_str(" The private conversation is paused; nothing is sent in the clear.");
    }
    if held > 0 {
        text.push_str(&format!(" {held} message(s) wait to be sent."));
    }
    if instances > 1 {
        text.push_str(&format!(" Your buddy is logged in {instances} times."));
    }
    text
}

pub fn fingerprints(
    account: &str,
    buddy: &str,
    ours: Option<&Fingerprint>,
    theirs: Option<&Fingerprint>,
) -> String {
    let ours = ours.map_or_else(
        || "none yet (made on your first private conversation)".to_string(),
        Fingerprint::human,
    );
    let theirs = theirs.map_or_else(
        || "unknown until a private conversation starts".to_string(),
        Fingerprint::human,
    );
    format!(
        "Your fingerprint ({}): {ours}<br>{}'s fingerprint: {theirs}",
        esc(account),
        esc(buddy)
    )
}

pub fn known_keys(buddy: &str, keys: &[(Fingerprint, bool)]) -> String {
    if keys.is_empty() {
        return format!("No key of {} is known yet.", esc(buddy));
    }
    let lines: Vec<String> = keys
        .iter()
        .map(|(fp, trusted)| {
            format!(
                "  {} ({})",
                fp.human(),
                if *trusted { "verified" } else { "not verified" }
            )
        })
        .collect();
    format!("Known keys of {}:<br>{}", esc(buddy), lines.join("<br>"))
}

pub fn own_fingerprints(keys: &[(String, String, Fingerprint)]) -> String {
    if keys.is_empty() {
        return "No account has a key yet. One is made on your first private conversation."
            .to_string();
    }
    keys.iter()
        .map(|(account, protocol, fp)| format!("{account} ({protocol}): {}", fp.human()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn verify_needs_private() -> &'static str {
    "Verifying needs a private conversation, so that your buddy's key is known: start one first."
}

pub fn forget_usage() -> &'static str {
    "Give the whole fingerprint (40 hex digits, spaces allowed); /otr fingerprints lists them."
}

pub fn smp_waiting(buddy: &str) -> String {
    format!("Authenticating {}: waiting for their answer…", esc(buddy))
}

pub fn smp_nothing_to_answer() -> &'static str {
    "There is no authentication request to answer."
}

pub fn smp_cancelled() -> &'static str {
    "Authentication cancelled."
}

pub fn no_account() -> &'static str {
    "This conversation has no account."
}

pub fn own_setting_needs_buddy_list() -> &'static str {
    "Only buddies on your buddy list can have their own setting; the default applies."
}

pub fn policy_is(buddy: &str, label: &str) -> String {
    format!("Private conversations with {}: {}", esc(buddy), esc(label))
}

pub fn policy_usage() -> &'static str {
    "Use one of: default, never, manual, opportunistic, always."
}

pub fn key_record_failed(buddy: &str, why: &str) -> String {
    format!("Could not save {}'s key: {}", esc(buddy), esc(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(b: u8) -> Fingerprint {
        Fingerprint([b; 20])
    }

    #[test]
    fn peer_controlled_text_is_escaped() {
        let evil = "<img src=x onerror=alert(1)>";
        for s in [
            peer_error("bob", evil),
            not_sent("bob", evil, &NotSentReason::Discarded),
            unreadable(evil),
            state_line(evil, MessageState::Encrypted, Trust::Unverified),
        ] {
            assert!(!s.contains("<img"), "{s}");
            assert!(s.contains("&lt;img"), "{s}");
        }
    }

    #[test]
    fn the_state_says_what_it_means() {
        let s = state_line(
            "bob@example.org",
            MessageState::Encrypted,
            Trust::Unverified,
        );
        assert_eq!(
            s,
            "Private, but bob@example.org's identity is not verified."
        );
        assert!(
            state_line("bob", MessageState::Plaintext, Trust::Verified).starts_with("Not private")
        );
        assert!(state_line("bob", MessageState::Finished, Trust::Verified).contains("ended"));
    }

    #[test]
    fn fingerprints_are_shown_in_groups() {
        let s = fingerprint_changed("bob", &[fp(0xaa)], &fp(0xbb));
        assert!(s.contains("BBBBBBBB BBBBBBBB BBBBBBBB BBBBBBBB BBBBBBBB"));
        assert!(s.contains("AAAAAAAA AAAAAAAA"));
    }

    #[test]
    fn smp_results_differ_by_role() {
        let ours = smp("bob", &SmpEvent::Success, true).unwrap_or_default();
        let theirs = smp("bob", &SmpEvent::Success, false).unwrap_or_default();
        assert_ne!(ours, theirs);
        assert!(smp("bob", &SmpEvent::AskForSecret, false).is_none());
    }

    #[test]
    fn the_state_line_names_the_post_quantum_suite_only_when_in_use() {
        let v3 = state_line("bob", MessageState::Encrypted, Trust::Verified);
        let pq = state_line_with_suite(
            "bob",
            MessageState::Encrypted,
            Trust::Verified,
            Some(Suite::Modern),
        );
        assert!(
            pq.starts_with(&v3) && pq.ends_with("(post-quantum)"),
            "{pq}"
        );
        let otr = state_line_with_suite(
            "bob",
            MessageState::Encrypted,
            Trust::Unverified,
            Some(Suite::Otr),
        );
        assert_eq!(
            otr,
            state_line("bob", MessageState::Encrypted, Trust::Unverified)
        );
        // Not private: no suite, whatever the status says.
        let plain = state_line_with_suite(
            "bob",
            MessageState::Plaintext,
            Trust::Unverified,
            Some(Suite::Modern),
        );
        assert!(!plain.contains("post-quantum"));
        assert_ne!(suite_label(Suite::Modern), suite_label(Suite::Otr));
    }

    #[test]
    fn upgrade_notices_escape_the_name_and_say_it_stays_private() {
        let evil = "<b>x</b>";
        for text in [
            upgraded(evil),
            upgrade_failed(evil, UpgradeFailure::Timeout),
            upgrade_failed(evil, UpgradeFailure::EqualInstanceTags),
            old_suite_ignored(evil),
        ] {
            assert!(!text.contains("<b>"), "{text}");
        }
        assert!(upgrade_failed("bob", UpgradeFailure::Timeout).contains("stays private"));
    }
}
