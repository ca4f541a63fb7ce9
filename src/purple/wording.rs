//! Every sentence the plugin shows a person, in one place: what an engine event or a state
//! means, in plain words ("private, but bob's identity is not verified" rather than a bare
//! "Unverified"). Names and anything a peer sent are escaped, since libpurple renders
//! conversation text as markup.

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::events::NotSentReason;
use crate::otr::session::MessageState;
use crate::otr::smp::SmpEvent;

use super::text::escape_markup as esc;

/// How much we know about who is on the other end of a private conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trust {
    Unverified,
    Verified,
}

/// The one-line state of a conversation (status command, menus, the state line).
pub(crate) fn state_line(buddy: &str, state: MessageState, trust: Trust) -> String {
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

pub(crate) fn starting(buddy: &str, refresh: bool) -> String {
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

pub(crate) fn gone_secure(buddy: &str, trust: Trust, logging: bool) -> String {
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

pub(crate) fn refreshed(buddy: &str, trust: Trust) -> String {
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

pub(crate) fn first_fingerprint(buddy: &str, fp: &Fingerprint) -> String {
    format!(
        "This is the first time you talk privately with {}. Their key's fingerprint is {}.",
        esc(buddy),
        fp.human()
    )
}

pub(crate) fn fingerprint_changed(buddy: &str, known: &[Fingerprint], new: &Fingerprint) -> String {
    let known: Vec<String> = known.iter().map(Fingerprint::human).collect();
    format!(
        "<b>Warning: {b} is using a key you have not seen before.</b> New key: {new}. Known: {known}. \
         It may be a new computer, or someone else. Verify it before you say anything sensitive.",
        b = esc(buddy),
        new = new.human(),
        known = known.join(", ")
    )
}

pub(crate) fn we_ended(buddy: &str) -> String {
    format!(
        "You ended the private conversation with {}. Messages are now sent unencrypted.",
        esc(buddy)
    )
}

pub(crate) fn peer_ended(buddy: &str) -> String {
    let b = esc(buddy);
    format!(
        "{b} has ended the private conversation. Nothing you type is sent until you end it too \
         (“End private conversation”, /otr end) or start a new one (/otr start)."
    )
}

pub(crate) fn held(buddy: &str, pending: usize, starting: bool) -> String {
    let b = esc(buddy);
    let what = if pending == 1 {
        "Your message".to_string()
    } else {
        format!("Your {pending} messages")
    };
    if starting {
        format!("{what} will be sent once the private conversation with {b} is set up. Asking {b} to start one…")
    } else {
        format!("{what} will be sent once the private conversation with {b} is set up.")
    }
}

pub(crate) fn held_sent(count: usize) -> String {
    if count == 1 {
        "Your waiting message was sent privately.".to_string()
    } else {
        format!("Your {count} waiting messages were sent privately.")
    }
}

pub(crate) fn held_for_new_key(
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

pub(crate) fn not_sent(buddy: &str, text: &str, reason: &NotSentReason) -> String {
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

pub(crate) fn resent() -> &'static str {
    "Your last message was sent again in the new private conversation."
}

pub(crate) fn reflected() -> &'static str {
    "Your own OTR messages are coming back to you: either you are talking to yourself, or someone is reflecting them."
}

pub(crate) fn unreadable(buddy: &str) -> String {
    format!(
        "An encrypted message from {} could not be read (they have been told).",
        esc(buddy)
    )
}

pub(crate) fn malformed(buddy: &str) -> String {
    format!("A damaged OTR message from {} was ignored.", esc(buddy))
}

pub(crate) fn not_in_private(buddy: &str) -> String {
    let b = esc(buddy);
    format!(
        "{b} sent an encrypted message, but you have no private conversation with {b}, so it cannot be read. \
         Start one (/otr start) and ask {b} to send it again."
    )
}

pub(crate) fn for_other_instance(buddy: &str) -> String {
    format!(
        "{} sent a message meant for another place where you are logged in; it was not shown here.",
        esc(buddy)
    )
}

pub(crate) fn unencrypted(buddy: &str) -> String {
    format!(
        "<b>The next message from {} was not encrypted.</b>",
        esc(buddy)
    )
}

pub(crate) fn peer_error(buddy: &str, text: &str) -> String {
    format!(
        "{}'s OTR software reported an error: {}",
        esc(buddy),
        esc(text)
    )
}

pub(crate) fn key_being_generated(account: &str) -> String {
    format!(
        "Creating your private key for {} (this happens once and takes a moment). Messages you type meanwhile wait.",
        esc(account)
    )
}

pub(crate) fn key_ready(account: &str, fp: &Fingerprint) -> String {
    format!(
        "Your private key for {} is ready. Its fingerprint is {}.",
        esc(account),
        fp.human()
    )
}

/// What an SMP step means to the user; `None` for steps that need a dialog instead.
pub(crate) fn smp(buddy: &str, event: &SmpEvent, we_asked_question: bool) -> Option<String> {
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
pub(crate) fn smp_answered(buddy: &str, already_verified: bool) -> String {
    let b = esc(buddy);
    if already_verified {
        // Both directions are done: nothing left to ask of the user.
        format!(
            "{b} has verified your identity. You verified {b}'s earlier, so both of you are sure."
        )
    } else {
        format!("{b} has verified your identity. To verify {b}'s, ask a question of your own (“Authenticate buddy”, /otr smp).")
    }
}

pub(crate) fn not_private_for(action: &str) -> String {
    format!("{action} needs a private conversation; start one first (/otr start).")
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
}
