//! Every sentence the plugin shows a person, in one place: what an engine event or a state
//! means, in plain words ("private, but bob's identity is not verified" rather than a bare
//! "Unverified"). Names and anything a peer sent are escaped, since libpurple renders
//! conversation text as markup.
//!
//! Each sentence is a template translated first ([`tr`], [`trn`]) and filled after
//! ([`fill`]), so translators can put `{buddy}` or `{fingerprint}` where their language
//! needs them; escaping applies to the values, as before. The right-to-left catalogues (fa,
//! ar) wrap fingerprints and names in left-to-right isolates in their own templates
//! (tests/i18n_catalogs.rs checks it), which leaves English text byte for byte as it was.

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::events::{HoldReason, NotSentReason, UpgradeFailure};
use crate::otr::session::MessageState;
use crate::otr::smp::SmpEvent;

use super::i18n::{fill, tr, trn};
use super::markup::escape_markup as esc;

/// How much we know about who is on the other end of a private conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    Unverified,
    Verified,
}

/// One escaped buddy name, the most common filling.
fn with_buddy(template: &str, buddy: &str) -> String {
    fill(template, &[("buddy", &esc(buddy))])
}

/// The one-line state of a conversation (status command, menus, the state line).
pub fn state_line(buddy: &str, state: MessageState, trust: Trust) -> String {
    let template = match (state, trust) {
        (MessageState::Plaintext, _) => {
            tr("Not private: messages to {buddy} are sent unencrypted.")
        }
        (MessageState::Encrypted, Trust::Unverified) => {
            tr("Private, but {buddy}'s identity is not verified.")
        }
        (MessageState::Encrypted, Trust::Verified) => {
            tr("Private, and {buddy}'s identity is verified.")
        }
        (MessageState::Finished, _) => tr("{buddy} has ended the private conversation; nothing you type is sent until you end or restart it."),
    };
    with_buddy(&template, buddy)
}

/// The one-line state of a private conversation on the post-quantum suite: `label` is what
/// the button says ([`crate::client::view::label_for`], e.g. "Private (post-quantum, not
/// verified)"), then the sentence. OTR v3 keeps [`state_line`] as pidgin-otr users know it.
pub fn state_line_post_quantum(buddy: &str, trust: Trust, label: &str) -> String {
    let template = match trust {
        Trust::Unverified => tr(
            "{label}: messages to {buddy} are encrypted, but {buddy}'s identity is not verified.",
        ),
        Trust::Verified => {
            tr("{label}: messages to {buddy} are encrypted, and {buddy}'s identity is verified.")
        }
    };
    fill(&template, &[("label", &esc(label)), ("buddy", &esc(buddy))])
}

/// The conversation switched to the post-quantum suite; `label` is the state it is now
/// shown in (the button's words).
pub fn upgraded(buddy: &str, label: &str) -> String {
    fill(
        &tr(
            "The private conversation with {buddy} now uses post-quantum encryption \
             (both of you use purple-otr). Now: {label}.",
        ),
        &[("buddy", &esc(buddy)), ("label", &esc(label))],
    )
}

/// The switch to the post-quantum suite did not happen; still private on OTR v3.
pub fn upgrade_failed(buddy: &str, reason: UpgradeFailure) -> String {
    let template = match reason {
        UpgradeFailure::Timeout => tr(
            "Switching to post-quantum encryption failed ({buddy}'s client did not answer in \
             time); the conversation stays private with OTR v3.",
        ),
        UpgradeFailure::EqualInstanceTags => tr(
            "Switching to post-quantum encryption failed ({buddy}'s client could not be told \
             apart from you); the conversation stays private with OTR v3.",
        ),
    };
    with_buddy(&template, buddy)
}

/// A buddy whose post-quantum identity was pinned (learned while their key was verified)
/// announced another one. What the user types waits (see [`held`], `NewIdentity`).
pub fn identity_changed(buddy: &str, pinned: &str, announced: &str) -> String {
    fill(
        &tr(
            "<b>Warning: {buddy}'s post-quantum identity key has changed.</b> Verified before: \
             {expected}. Now: {actual}. It may be a reinstalled purple-otr, or someone else. \
             Nothing you type is sent until you verify {buddy} again (“Authenticate buddy”) or \
             send anyway with /otr send-held.",
        ),
        &[
            ("buddy", &esc(buddy)),
            ("expected", pinned),
            ("actual", announced),
        ],
    )
}

/// A buddy's post-quantum identity was pinned as verified.
pub fn identity_pinned(buddy: &str, identity: &str) -> String {
    fill(
        &tr(
            "{buddy}'s post-quantum identity key {fingerprint} is now remembered as verified; \
             you will be warned if it changes.",
        ),
        &[("buddy", &esc(buddy)), ("fingerprint", identity)],
    )
}

/// A buddy with a pinned post-quantum identity went private on OTR v3 but did not offer
/// the post-quantum suite in time (the announcement was lost, stripped or refused).
pub fn pq_not_offered(buddy: &str) -> String {
    with_buddy(
        &tr(
            "<b>Warning: post-quantum protection with {buddy} did not start.</b> {buddy} used it \
             before, but did not offer it this time. The conversation is private, protected by \
             OTR v3 only; someone may be interfering. Verify {buddy} again if in doubt.",
        ),
        buddy,
    )
}

/// The switch to the post-quantum suite failed with a buddy whose identity is pinned.
pub fn pq_failed_pinned(buddy: &str) -> String {
    with_buddy(
        &tr(
            "<b>Warning: post-quantum protection with {buddy} did not start</b> (the switch \
             failed). {buddy} used it before. The conversation is private, protected by OTR v3 \
             only; someone may be interfering. Verify {buddy} again if in doubt.",
        ),
        buddy,
    )
}

/// Between pinned peers, the buddy's post-quantum announcement came again: with another
/// identity (`identity_changed`), or after the switch. Nothing changed; the user is told.
pub fn pq_reannounced(buddy: &str, identity_changed: bool) -> String {
    let text = if identity_changed {
        tr(
            "<b>Warning: a second post-quantum announcement from {buddy}, with a different \
            identity key</b>, arrived in this private conversation. {buddy}'s software sends \
            only one; someone may be replaying messages or interfering. It was ignored: the \
            conversation keeps the identity it started with. Verify {buddy} again if in doubt.",
        )
    } else {
        tr(
            "<b>Warning: {buddy}'s post-quantum announcement arrived again</b> after the \
            switch was made. {buddy}'s software sends only one; someone may be replaying \
            messages or interfering. It was ignored: the protection in use is unchanged. \
            Verify {buddy} again if in doubt.",
        )
    };
    with_buddy(&text, buddy)
}

/// Our account's post-quantum identity key cannot be used: no upgrade for this account.
pub fn modern_identity_unavailable(why: &str) -> String {
    fill(
        &tr(
            "Post-quantum encryption is off for this account: its identity key could not be \
             read or made ({reason}). Conversations stay private with OTR v3.",
        ),
        &[("reason", &esc(why))],
    )
}

/// Our account's new post-quantum identity key was made but not saved.
pub fn modern_identity_not_saved(why: &str) -> String {
    fill(
        &tr(
            "Your new post-quantum identity key could not be saved ({reason}); it is used for \
             now, but fix the problem before you quit or buddies will see a changed identity.",
        ),
        &[("reason", &esc(why))],
    )
}

/// A pin could not be saved or forgotten on disk.
pub fn pin_not_saved(buddy: &str, why: &str) -> String {
    fill(
        &tr("Could not save {buddy}'s post-quantum identity: {reason}"),
        &[("buddy", &esc(buddy)), ("reason", &esc(why))],
    )
}

/// A message protected only by OTR v3 arrived after the switch: not shown.
pub fn old_suite_ignored(buddy: &str) -> String {
    with_buddy(
        &tr(
            "A message that claimed to be from {buddy} but used the older OTR v3 protection \
             after the switch to post-quantum encryption was not shown.",
        ),
        buddy,
    )
}

pub fn starting(buddy: &str, refresh: bool) -> String {
    let template = if refresh {
        tr("Refreshing the private conversation with {buddy}…")
    } else {
        tr("Asking {buddy} to start a private conversation…")
    };
    with_buddy(&template, buddy)
}

fn logging_note(logging: bool) -> String {
    let note = if logging {
        tr("Your client is logging this conversation.")
    } else {
        tr("This conversation is not being logged.")
    };
    format!(" {note}")
}

pub fn gone_secure(buddy: &str, trust: Trust, logging: bool) -> String {
    let template = match trust {
        Trust::Verified => {
            tr("Private conversation with {buddy} started; {buddy}'s identity is verified.")
        }
        Trust::Unverified => tr(
            "Private conversation with {buddy} started, but {buddy}'s identity is not verified yet. \
             Check it with “Authenticate buddy” or “Verify fingerprint” (or /otr smp, /otr verify)."
        ),
    };
    format!("{}{}", with_buddy(&template, buddy), logging_note(logging))
}

pub fn refreshed(buddy: &str, trust: Trust) -> String {
    let template = match trust {
        Trust::Verified => {
            tr("Private conversation with {buddy} refreshed; {buddy}'s identity is verified.")
        }
        Trust::Unverified => tr(
            "Private conversation with {buddy} refreshed; {buddy}'s identity is still not verified.",
        ),
    };
    with_buddy(&template, buddy)
}

pub fn first_fingerprint(buddy: &str, fp: &Fingerprint) -> String {
    fill(
        &tr("This is the first time you talk privately with {buddy}. Their key's fingerprint is {fingerprint}."),
        &[("buddy", &esc(buddy)), ("fingerprint", &fp.human())],
    )
}

pub fn fingerprint_changed(buddy: &str, known: &[Fingerprint], new: &Fingerprint) -> String {
    let known: Vec<String> = known.iter().map(Fingerprint::human).collect();
    fill(
        &tr("<b>Warning: {buddy} is using a key you have not seen before.</b> New key: {fingerprint}. \
             Known: {known}. It may be a new computer, or someone else. Verify it before you say \
             anything sensitive."),
        &[
            ("buddy", &esc(buddy)),
            ("fingerprint", &new.human()),
            ("known", &known.join(", ")),
        ],
    )
}

pub fn we_ended(buddy: &str) -> String {
    with_buddy(
        &tr("You ended the private conversation with {buddy}. Messages are now sent unencrypted."),
        buddy,
    )
}

pub fn peer_ended(buddy: &str) -> String {
    with_buddy(
        &tr("{buddy} has ended the private conversation. Nothing you type is sent until you end it \
             too (“End private conversation”, /otr end) or start a new one (/otr start)."),
        buddy,
    )
}

pub fn held(buddy: &str, pending: usize, reason: HoldReason) -> String {
    let template = match reason {
        HoldReason::Starting => trn(
            "Your message is waiting, not sent: it goes out once the private conversation with \
             {buddy} is set up. Asking {buddy} to start one…",
            "Your {count} messages are waiting, not sent: they go out once the private \
             conversation with {buddy} is set up. Asking {buddy} to start one…",
            pending,
        ),
        HoldReason::Negotiating => trn(
            "Your message is waiting, not sent: it goes out once the private conversation with \
             {buddy} is set up.",
            "Your {count} messages are waiting, not sent: they go out once the private \
             conversation with {buddy} is set up.",
            pending,
        ),
        HoldReason::PeerOffline => trn(
            "Your message is waiting, not sent: the private conversation with {buddy} is paused \
             while {buddy} is offline. It goes out privately when {buddy} is back.",
            "Your {count} messages are waiting, not sent: the private conversation with {buddy} \
             is paused while {buddy} is offline. They go out privately when {buddy} is back.",
            pending,
        ),
        HoldReason::WaitingForUser => trn(
            "Your message is waiting, not sent: the private conversation with {buddy} was \
             interrupted. Start it again (“Start private conversation”, /otr start) to send \
             privately, or end it (/otr end) to send in the clear from now on.",
            "Your {count} messages are waiting, not sent: the private conversation with {buddy} \
             was interrupted. Start it again (“Start private conversation”, /otr start) to send \
             privately, or end it (/otr end) to send in the clear from now on.",
            pending,
        ),
        HoldReason::NewKey => trn(
            "Your message is waiting, not sent: {buddy} is using a key this conversation was not \
             private with before. Check it (“Verify fingerprint”, “Authenticate buddy”); send \
             anyway to the new key with /otr send-held, or drop with /otr drop-held.",
            "Your {count} messages are waiting, not sent: {buddy} is using a key this \
             conversation was not private with before. Check it (“Verify fingerprint”, \
             “Authenticate buddy”); send anyway to the new key with /otr send-held, or drop \
             with /otr drop-held.",
            pending,
        ),
        HoldReason::NewIdentity => trn(
            "Your message is waiting, not sent: {buddy}'s post-quantum identity key is not the \
             one you verified before. Verify {buddy} again (“Authenticate buddy”, “Verify \
             fingerprint”); send anyway with /otr send-held, or drop with /otr drop-held.",
            "Your {count} messages are waiting, not sent: {buddy}'s post-quantum identity key is \
             not the one you verified before. Verify {buddy} again (“Authenticate buddy”, \
             “Verify fingerprint”); send anyway with /otr send-held, or drop with /otr drop-held.",
            pending,
        ),
        HoldReason::Unverified => trn(
            "Your message is waiting, not sent: {buddy}'s identity is not verified, and you \
             chose to send only to verified buddies. Verify {buddy} (“Authenticate buddy”, \
             “Verify fingerprint”), or send anyway with /otr send-held.",
            "Your {count} messages are waiting, not sent: {buddy}'s identity is not verified, \
             and you chose to send only to verified buddies. Verify {buddy} (“Authenticate \
             buddy”, “Verify fingerprint”), or send anyway with /otr send-held.",
            pending,
        ),
    };
    fill(
        &template,
        &[("buddy", &esc(buddy)), ("count", &pending.to_string())],
    )
}

pub fn held_sent(count: usize) -> String {
    fill(
        &trn(
            "Your waiting message was sent privately.",
            "Your {count} waiting messages were sent privately.",
            count,
        ),
        &[("count", &count.to_string())],
    )
}

pub fn held_for_new_key(
    buddy: &str,
    expected: &Fingerprint,
    actual: &Fingerprint,
    pending: usize,
) -> String {
    fill(
        &trn(
            "<b>{count} message waits, not sent yet.</b> You wrote it for {buddy}'s key \
             {expected}, but the private conversation is now with key {actual}. Verify the new \
             key, then send it with /otr send-held, or drop it with /otr drop-held.",
            "<b>{count} messages wait, not sent yet.</b> You wrote them for {buddy}'s key \
             {expected}, but the private conversation is now with key {actual}. Verify the new \
             key, then send them with /otr send-held, or drop them with /otr drop-held.",
            pending,
        ),
        &[
            ("count", &pending.to_string()),
            ("buddy", &esc(buddy)),
            ("expected", &expected.human()),
            ("actual", &actual.human()),
        ],
    )
}

pub fn not_sent(buddy: &str, text: &str, reason: &NotSentReason) -> String {
    let template = match reason {
        NotSentReason::PeerEndedSession => tr(
            "<b>Not sent:</b> “{text}” — {buddy} has ended the private conversation; end it too \
             or restart it, then send again.",
        ),
        NotSentReason::NotPrivateInTime => tr(
            "<b>Not sent:</b> “{text}” — the private conversation with {buddy} could not be set up.",
        ),
        NotSentReason::EncryptionFailed => {
            tr("<b>Not sent:</b> “{text}” — it could not be encrypted.")
        }
        NotSentReason::Discarded => tr("<b>Not sent:</b> “{text}” — you dropped it."),
    };
    fill(&template, &[("buddy", &esc(buddy)), ("text", &esc(text))])
}

pub fn resent() -> String {
    tr("Your last message was sent again in the new private conversation.").into_owned()
}

pub fn reflected() -> String {
    tr("Your own OTR messages are coming back to you: either you are talking to yourself, or someone is reflecting them.").into_owned()
}

pub fn unreadable(buddy: &str) -> String {
    with_buddy(
        &tr("An encrypted message from {buddy} could not be read (they have been told)."),
        buddy,
    )
}

pub fn malformed(buddy: &str) -> String {
    with_buddy(
        &tr("A damaged OTR message from {buddy} was ignored."),
        buddy,
    )
}

pub fn not_in_private(buddy: &str) -> String {
    with_buddy(
        &tr("{buddy} sent an encrypted message, but you have no private conversation with {buddy}, \
             so it cannot be read. Start one (/otr start) and ask {buddy} to send it again."),
        buddy,
    )
}

pub fn for_other_instance(buddy: &str) -> String {
    with_buddy(
        &tr(
            "{buddy} sent a message meant for another place where you are logged in; it was not \
             shown here.",
        ),
        buddy,
    )
}

pub fn unencrypted(buddy: &str) -> String {
    with_buddy(
        &tr("<b>The next message from {buddy} was not encrypted.</b>"),
        buddy,
    )
}

pub fn peer_error(buddy: &str, text: &str) -> String {
    fill(
        &tr("{buddy}'s OTR software reported an error: {text}"),
        &[("buddy", &esc(buddy)), ("text", &esc(text))],
    )
}

pub fn key_being_generated(account: &str) -> String {
    fill(
        &tr(
            "Creating your private key for {account} (this happens once and takes a moment). \
             Messages you type meanwhile wait.",
        ),
        &[("account", &esc(account))],
    )
}

pub fn key_ready(account: &str, fp: &Fingerprint) -> String {
    fill(
        &tr("Your private key for {account} is ready. Its fingerprint is {fingerprint}."),
        &[("account", &esc(account)), ("fingerprint", &fp.human())],
    )
}

/// What an SMP step means to the user; `None` for steps that need a dialog instead.
pub fn smp(buddy: &str, event: &SmpEvent, we_asked_question: bool) -> Option<String> {
    let template = match event {
        SmpEvent::AskForSecret | SmpEvent::AskForAnswer { .. } => return None,
        SmpEvent::InProgress => tr("Authenticating {buddy}: waiting for {buddy}…"),
        SmpEvent::Success if we_asked_question => {
            tr("{buddy} answered your question correctly: {buddy}'s identity is verified.")
        }
        SmpEvent::Success => tr("Authentication succeeded: you and {buddy} share the same secret."),
        SmpEvent::Failure => tr(
            "<b>Authentication of {buddy} failed:</b> the answers did not match. You may be \
             talking to an impostor.",
        ),
        SmpEvent::Cheated => {
            tr("<b>Authentication of {buddy} failed:</b> {buddy}'s software sent invalid data.")
        }
        SmpEvent::Aborted => tr("{buddy} cancelled the authentication."),
        SmpEvent::Error => {
            tr("Authentication got out of step and was cancelled; please try again.")
        }
    };
    Some(with_buddy(&template, buddy))
}

/// After we answered the buddy's question correctly: they know who we are, we don't yet
/// know who they are.
pub fn smp_answered(buddy: &str, already_verified: bool) -> String {
    if already_verified {
        // Both directions are done: nothing left to ask of the user.
        return with_buddy(
            &tr("{buddy} has verified your identity. You verified {buddy}'s earlier, so both of you are sure."),
            buddy,
        );
    }
    with_buddy(
        &tr(
            "{buddy} has verified your identity. To verify {buddy}'s, ask a question of your own \
             (“Authenticate buddy”, /otr smp).",
        ),
        buddy,
    )
}

/// `action` names what needs privacy; the callers' "Authentication" has its own sentence.
pub fn not_private_for(action: &str) -> String {
    if action == "Authentication" {
        return tr("Authentication needs a private conversation; start one first (/otr start).")
            .into_owned();
    }
    fill(
        &tr("{action} needs a private conversation; start one first (/otr start)."),
        &[("action", action)],
    )
}

pub fn forget_in_use() -> String {
    tr("That key is in use in the private conversation; end it first.").into_owned()
}

pub fn forgot(buddy: &str, fp: &Fingerprint) -> String {
    fill(
        &tr("Forgot {buddy}'s key {fingerprint}."),
        &[("buddy", &esc(buddy)), ("fingerprint", &fp.human())],
    )
}

pub fn forget_unknown() -> String {
    tr("That key was not known.").into_owned()
}

pub fn forget_failed(why: &str) -> String {
    fill(
        &tr("Could not forget the key: {reason}"),
        &[("reason", &esc(why))],
    )
}

pub fn key_failed(account: &str, why: &str) -> String {
    fill(
        &tr(
            "Your private key for {account} could not be made ({reason}). Messages you typed stay \
             waiting; try again with “Start private conversation” (or /otr start).",
        ),
        &[("account", &esc(account)), ("reason", &esc(why))],
    )
}

/// `typed` is the user's own markup, shown as they typed it.
pub fn not_sent_internal_error(typed: &str) -> String {
    fill(
        &tr(
            "<b>Not sent:</b> “{text}”. The OTR plugin hit an internal error while handling it \
             (details in the debug log); nothing was sent. Try again, or restart the private \
             conversation.",
        ),
        &[("text", &esc(typed))],
    )
}

pub fn not_sent_error(typed: &str, why: &str) -> String {
    fill(
        &tr("<b>Not sent:</b> “{text}” — {reason}"),
        &[("text", &esc(typed)), ("reason", &esc(why))],
    )
}

/// Said when the client quits or the plugin is unloaded with messages still waiting.
pub fn not_sent_closing(typed: &str) -> String {
    fill(
        &tr(
            "<b>Not sent:</b> “{text}” — it was still waiting for a private conversation when OTR \
             was closed.",
        ),
        &[("text", &esc(typed))],
    )
}

pub fn otr_turned_off(buddy: &str) -> String {
    with_buddy(
        &tr(
            "Off-the-Record is now off for {buddy}: the private conversation is ended first. From \
             now on what you type is sent in the clear.",
        ),
        buddy,
    )
}

pub fn not_sent_otr_just_off(typed: &str) -> String {
    fill(
        &tr(
            "<b>Not sent:</b> “{text}” — it was typed for the private conversation, which ended \
             just now because OTR was turned off. Type it again to send it in the clear.",
        ),
        &[("text", &esc(typed))],
    )
}

pub fn otr_is_off(buddy: &str) -> String {
    with_buddy(
        &tr(
            "Off-the-Record is off for {buddy}. Choose another setting (/otr policy, or the \
             buddy's OTR settings) to talk privately.",
        ),
        buddy,
    )
}

pub fn marked(buddy: &str, fp: &Fingerprint, verified: bool) -> String {
    let template = if verified {
        tr("You marked {buddy}'s key {fingerprint} as verified.")
    } else {
        tr("You marked {buddy}'s key {fingerprint} as not verified.")
    };
    fill(
        &template,
        &[("buddy", &esc(buddy)), ("fingerprint", &fp.human())],
    )
}

pub fn not_saved_verification(why: &str) -> String {
    fill(
        &tr("Could not save the verification: {reason}"),
        &[("reason", &esc(why))],
    )
}

pub fn not_saved_smp(why: &str) -> String {
    fill(
        &tr("Could not save the result: {reason}"),
        &[("reason", &esc(why))],
    )
}

pub fn key_not_saved(why: &str) -> String {
    fill(
        &tr(
            "Your new key could not be saved ({reason}); it is used for now, but fix the problem \
             before you quit or it is lost.",
        ),
        &[("reason", &esc(why))],
    )
}

pub fn nothing_held() -> String {
    tr("No message is waiting to be sent.").into_owned()
}

pub fn held_needs_private(buddy: &str, held: usize) -> String {
    fill(
        &trn(
            "{count} message still waits: it goes out only privately, and the conversation with \
             {buddy} is not private now. Start it (/otr start), or end it (/otr end) and type \
             again to send in the clear.",
            "{count} messages still wait: they go out only privately, and the conversation with \
             {buddy} is not private now. Start it (/otr start), or end it (/otr end) and type \
             again to send in the clear.",
            held,
        ),
        &[("count", &held.to_string()), ("buddy", &esc(buddy))],
    )
}

pub fn dropped(count: usize) -> String {
    fill(
        &trn(
            "Dropped {count} waiting message.",
            "Dropped {count} waiting messages.",
            count,
        ),
        &[("count", &count.to_string())],
    )
}

/// " N message(s) are waiting." after a pause notice, or nothing.
fn waiting_note(held: usize) -> String {
    if held == 0 {
        return String::new();
    }
    let note = fill(
        &trn(
            "{count} message is waiting.",
            "{count} messages are waiting.",
            held,
        ),
        &[("count", &held.to_string())],
    );
    format!(" {note}")
}

pub fn paused_buddy_offline(buddy: &str, held: usize) -> String {
    let text = with_buddy(
        &tr(
            "{buddy} went offline: the private conversation is paused. Nothing you type is sent \
             in the clear; it waits and goes out privately when {buddy} is back.",
        ),
        buddy,
    );
    format!("{text}{}", waiting_note(held))
}

pub fn paused_we_offline(buddy: &str, held: usize) -> String {
    let text = with_buddy(
        &tr(
            "You went offline: the private conversation with {buddy} is paused. Nothing you type \
             is sent in the clear; it waits and goes out privately once you and {buddy} are back.",
        ),
        buddy,
    );
    format!("{text}{}", waiting_note(held))
}

pub fn buddy_back(buddy: &str, restarting: bool, held: usize) -> String {
    let template = if restarting {
        tr("{buddy} is back: starting the private conversation again…")
    } else if held > 0 {
        trn(
            "{buddy} is back. {count} message waits: start the private conversation again \
             (“Start private conversation”, /otr start) to send it privately.",
            "{buddy} is back. {count} messages wait: start the private conversation again \
             (“Start private conversation”, /otr start) to send them privately.",
            held,
        )
    } else {
        tr(
            "{buddy} is back. Start the private conversation again (“Start private \
             conversation”, /otr start) to keep talking privately.",
        )
    };
    fill(
        &template,
        &[("buddy", &esc(buddy)), ("count", &held.to_string())],
    )
}

/// `label` is the setting's name as the settings show it.
pub fn policy_kept(buddy: &str, label: &str) -> String {
    fill(
        &tr(
            "{buddy} was removed from your buddy list; their Off-the-Record setting ({setting}) \
             stays in effect for this conversation.",
        ),
        &[("buddy", &esc(buddy)), ("setting", &esc(label))],
    )
}

pub fn not_private_now() -> String {
    tr("This conversation is not private.").into_owned()
}

pub fn status_extra(held: usize, instances: usize, paused: bool) -> String {
    let mut text = String::new();
    if paused {
        text.push(' ');
        text.push_str(&tr(
            "The private conversation is paused; nothing is sent in the clear.",
        ));
    }
    if held > 0 {
        text.push(' ');
        text.push_str(&fill(
            &trn(
                "{count} message waits to be sent.",
                "{count} messages wait to be sent.",
                held,
            ),
            &[("count", &held.to_string())],
        ));
    }
    if instances > 1 {
        text.push(' ');
        text.push_str(&fill(
            &trn(
                "Your buddy is logged in {count} time.",
                "Your buddy is logged in {count} times.",
                instances,
            ),
            &[("count", &instances.to_string())],
        ));
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
        || tr("none yet (made on your first private conversation)").into_owned(),
        Fingerprint::human,
    );
    let theirs = theirs.map_or_else(
        || tr("unknown until a private conversation starts").into_owned(),
        Fingerprint::human,
    );
    let mine = fill(
        &tr("Your fingerprint ({account}): {fingerprint}"),
        &[("account", &esc(account)), ("fingerprint", &ours)],
    );
    let buddys = fill(
        &tr("{buddy}'s fingerprint: {fingerprint}"),
        &[("buddy", &esc(buddy)), ("fingerprint", &theirs)],
    );
    format!("{mine}<br>{buddys}")
}

pub fn known_keys(buddy: &str, keys: &[(Fingerprint, bool)]) -> String {
    if keys.is_empty() {
        return with_buddy(&tr("No key of {buddy} is known yet."), buddy);
    }
    let lines: Vec<String> = keys
        .iter()
        .map(|(fp, trusted)| {
            let template = if *trusted {
                tr("{fingerprint} (verified)")
            } else {
                tr("{fingerprint} (not verified)")
            };
            format!("  {}", fill(&template, &[("fingerprint", &fp.human())]))
        })
        .collect();
    format!(
        "{}<br>{}",
        with_buddy(&tr("Known keys of {buddy}:"), buddy),
        lines.join("<br>")
    )
}

pub fn own_fingerprints(keys: &[(String, String, Fingerprint)]) -> String {
    if keys.is_empty() {
        return tr("No account has a key yet. One is made on your first private conversation.")
            .into_owned();
    }
    let template = tr("{account} ({protocol}): {fingerprint}");
    keys.iter()
        .map(|(account, protocol, fp)| {
            fill(
                &template,
                &[
                    ("account", account),
                    ("protocol", protocol),
                    ("fingerprint", &fp.human()),
                ],
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn verify_needs_private() -> String {
    tr("Verifying needs a private conversation, so that your buddy's key is known: start one first.")
        .into_owned()
}

pub fn forget_usage() -> String {
    tr("Give the whole fingerprint (40 hex digits, spaces allowed); /otr fingerprints lists them.")
        .into_owned()
}

pub fn smp_waiting(buddy: &str) -> String {
    with_buddy(
        &tr("Authenticating {buddy}: waiting for their answer…"),
        buddy,
    )
}

pub fn smp_nothing_to_answer() -> String {
    tr("There is no authentication request to answer.").into_owned()
}

pub fn smp_cancelled() -> String {
    tr("Authentication cancelled.").into_owned()
}

pub fn no_account() -> String {
    tr("This conversation has no account.").into_owned()
}

pub fn own_setting_needs_buddy_list() -> String {
    tr("Only buddies on your buddy list can have their own setting; the default applies.")
        .into_owned()
}

pub fn policy_is(buddy: &str, label: &str) -> String {
    fill(
        &tr("Private conversations with {buddy}: {setting}"),
        &[("buddy", &esc(buddy)), ("setting", &esc(label))],
    )
}

pub fn policy_usage() -> String {
    tr("Use one of: default, never, manual, opportunistic, always.").into_owned()
}

pub fn key_record_failed(buddy: &str, why: &str) -> String {
    fill(
        &tr("Could not save {buddy}'s key: {reason}"),
        &[("buddy", &esc(buddy)), ("reason", &esc(why))],
    )
}

// ---- moving keys between clients (plain text: the adapter escapes it) --------------------

/// One key in a file being imported: "alice@example.org (libpurple-Jabber): FINGERPRINT".
pub fn transfer_candidate(c: &super::transfer::Candidate) -> String {
    let name = if c.label == c.name_in_file {
        c.label.clone()
    } else {
        format!("{} [{}]", c.label, c.name_in_file)
    };
    let count = c.buddy_keys.to_string();
    let verified = c.trusted.to_string();
    fill(
        &trn(
            "{account} ({protocol}): {fingerprint}, {count} buddy key, {verified} verified",
            "{account} ({protocol}): {fingerprint}, {count} buddy keys, {verified} verified",
            c.buddy_keys,
        ),
        &[
            ("account", &name),
            ("protocol", &c.protocol_in_file),
            ("fingerprint", &c.fingerprint.human()),
            ("count", &count),
            ("verified", &verified),
        ],
    )
}

/// What an import would do, fingerprint first; `how_to_confirm` says what to type or click.
pub fn import_preview(plan: &super::transfer::ImportPlan, how_to_confirm: &str) -> String {
    let path = plan.key_path.display().to_string();
    let mut text = fill(
        &tr(
            "The key of {name} ({protocol}) in {path} has the fingerprint\n  {fingerprint}\n\
             Compare it with what the other program shows for that account. \
             Imported, it becomes the key of your account {account} ({account_protocol}).",
        ),
        &[
            ("name", &plan.from.label),
            ("protocol", &plan.from.protocol_in_file),
            ("path", &path),
            ("fingerprint", &plan.from.fingerprint.human()),
            ("account", &plan.target.name),
            ("account_protocol", &plan.target.protocol),
        ],
    );
    match plan.current {
        Some(current) if current == plan.from.fingerprint => {
            text.push('\n');
            text.push_str(&tr("That account already has this key."));
        }
        Some(current) => {
            text.push('\n');
            text.push_str(&fill(
                &tr("It REPLACES that account's current key\n  {fingerprint}\n\
                     Buddies who verified the current key will see a new, unverified key. \
                     A copy of your key file is kept next to it (otr.private_key.bak-…)."),
                &[("fingerprint", &current.human())],
            ));
        }
        None => {}
    }
    if let Some(identity) = plan.identity {
        text.push('\n');
        text.push_str(&match plan.current_identity {
            Some(now) if now == identity => {
                tr("That account already has its post-quantum identity key too.").into_owned()
            }
            Some(now) => fill(
                &tr(
                    "It also REPLACES that account's post-quantum identity key\n  {old}\nwith\n  \
                     {fingerprint}\nBuddies who pinned the current one will be warned that it \
                     changed. A copy of your identity file is kept next to it \
                     (otr.modern_identity.bak-…).",
                ),
                &[("old", &now.human()), ("fingerprint", &identity.human())],
            ),
            None => fill(
                &tr("Its post-quantum identity key comes with it:\n  {fingerprint}"),
                &[("fingerprint", &identity.human())],
            ),
        });
    }
    if !plan.pins.is_empty() {
        text.push('\n');
        text.push_str(&fill(
            &trn(
                "{count} buddy's pinned post-quantum identity comes with it; identities pinned \
                 here stay as they are.",
                "{count} buddies' pinned post-quantum identities come with it; identities \
                 pinned here stay as they are.",
                plan.pins.len(),
            ),
            &[("count", &plan.pins.len().to_string())],
        ));
    }
    let trusted = plan.trust.iter().filter(|e| !e.trust.is_empty()).count();
    if !plan.trust.is_empty() {
        text.push('\n');
        text.push_str(&fill(
            &trn(
                "{count} buddy key comes with it ({verified} verified); keys you verified here \
                 stay verified.",
                "{count} buddy key(s) come with it ({verified} verified); keys you verified here \
                 stay verified.",
                plan.trust.len(),
            ),
            &[
                ("count", &plan.trust.len().to_string()),
                ("verified", &trusted.to_string()),
            ],
        ));
    }
    if !how_to_confirm.is_empty() {
        text.push('\n');
        text.push_str(how_to_confirm);
    }
    text
}

/// After an import.
pub fn import_done(
    plan: &super::transfer::ImportPlan,
    done: &super::transfer::ImportDone,
) -> String {
    use super::store::KeyImport;
    let account = &plan.target.name;
    let protocol = &plan.target.protocol;
    use super::store::IdentityImport;
    let new_key = plan.from.fingerprint.human();
    let identity_refused = |current: &crate::otr::modern::identity::IdentityFingerprint| {
        fill(
            &tr(
                "The post-quantum identity key was not imported: {account} ({protocol}) has \
                 another one ({fingerprint}). Confirm replacing it to import it.",
            ),
            &[
                ("account", account),
                ("protocol", protocol),
                ("fingerprint", &current.human()),
            ],
        )
    };
    let Some(key) = &done.key else {
        return match &done.identity {
            Some(IdentityImport::NeedsConfirmation { current }) => identity_refused(current),
            // Not produced by `apply_import`; said plainly all the same.
            _ => tr("Nothing was imported.").into_owned(),
        };
    };
    let mut key = match key {
        KeyImport::Added => fill(
            &tr("Imported: {account} ({protocol}) now uses the key {fingerprint}."),
            &[
                ("account", account),
                ("protocol", protocol),
                ("fingerprint", &new_key),
            ],
        ),
        KeyImport::Unchanged => fill(
            &tr("{account} ({protocol}) already had this key; it is unchanged."),
            &[("account", account), ("protocol", protocol)],
        ),
        KeyImport::Replaced { old, backup } => {
            let mut text = fill(
                &tr(
                    "Imported: {account} ({protocol}) now uses the key {fingerprint} instead \
                     of {old}.",
                ),
                &[
                    ("account", account),
                    ("protocol", protocol),
                    ("fingerprint", &new_key),
                    ("old", &old.human()),
                ],
            );
            if let Some(b) = backup {
                text.push(' ');
                text.push_str(&fill(
                    &tr("The previous key file is saved as {path}."),
                    &[("path", &b.display().to_string())],
                ));
            }
            text
        }
        KeyImport::NeedsConfirmation { current } => {
            return fill(
                &tr(
                    "Not imported: {account} ({protocol}) has another key ({fingerprint}). \
                     Confirm replacing it to import.",
                ),
                &[
                    ("account", account),
                    ("protocol", protocol),
                    ("fingerprint", &current.human()),
                ],
            )
        }
    };
    let identity = plan.identity.map(|f| f.human()).unwrap_or_default();
    let identity_text = match &done.identity {
        None => None,
        Some(IdentityImport::Added) => Some(fill(
            &tr("Its post-quantum identity key {fingerprint} came too."),
            &[("fingerprint", &identity)],
        )),
        Some(IdentityImport::Unchanged) => {
            Some(tr("Its post-quantum identity key was already there.").into_owned())
        }
        Some(IdentityImport::Replaced { old, backup }) => {
            let mut text = fill(
                &tr("Its post-quantum identity key {fingerprint} replaced {old}."),
                &[("fingerprint", &identity), ("old", &old.human())],
            );
            if let Some(b) = backup {
                text.push(' ');
                text.push_str(&fill(
                    &tr("The previous identity file is saved as {path}."),
                    &[("path", &b.display().to_string())],
                ));
            }
            Some(text)
        }
        Some(IdentityImport::NeedsConfirmation { current }) => Some(identity_refused(current)),
    };
    if let Some(t) = identity_text {
        key.push(' ');
        key.push_str(&t);
    }
    if done.trust_changed > 0 {
        let more = fill(
            &trn(
                "{count} buddy key was added or marked verified.",
                "{count} buddy keys were added or marked verified.",
                done.trust_changed,
            ),
            &[("count", &done.trust_changed.to_string())],
        );
        key.push(' ');
        key.push_str(&more);
    }
    if done.pins_changed > 0 {
        let more = fill(
            &trn(
                "{count} buddy's post-quantum identity was pinned.",
                "{count} buddies' post-quantum identities were pinned.",
                done.pins_changed,
            ),
            &[("count", &done.pins_changed.to_string())],
        );
        key.push(' ');
        key.push_str(&more);
    }
    key
}

/// Why an import or export did not happen.
pub fn transfer_error(e: &super::transfer::TransferError) -> String {
    use super::transfer::TransferError as E;
    let list = |c: &[super::transfer::Candidate]| -> String {
        if c.is_empty() {
            return format!(" {}", tr("The file holds no key."));
        }
        let lines: Vec<String> = c
            .iter()
            .map(|c| format!("\n  {}", transfer_candidate(c)))
            .collect();
        format!(" {}{}", tr("Keys in the file:"), lines.concat())
    };
    let path = |p: &std::path::Path| p.display().to_string();
    match e {
        E::NoKeyFile(p) => fill(
            &tr(
                "No OTR key file found at {path} (looked for otr.private_key, otr.key and \
                 otr/otr.key).",
            ),
            &[("path", &path(p))],
        ),
        E::Unreadable(p, err) => fill(
            &tr("Cannot read {path}: {reason}."),
            &[("path", &path(p)), ("reason", &err.to_string())],
        ),
        E::Damaged(p, why) => fill(
            &tr("{path} is not a key file OTR can use: {reason}."),
            &[("path", &path(p)), ("reason", why.as_str())],
        ),
        E::NoMatch(c) => format!(
            "{}{}",
            tr(
                "No key in the file fits this account; name the one to import (its name as \
                listed)."
            ),
            list(c)
        ),
        E::Ambiguous(c) => format!(
            "{}{}",
            tr("More than one key in the file fits; name the one to import."),
            list(c)
        ),
        E::NoKey(a) => fill(
            &tr(
                "{account} ({protocol}) has no key yet: one is made on its first private \
                 conversation.",
            ),
            &[("account", &a.name), ("protocol", &a.protocol)],
        ),
        E::Exists(p) => fill(
            &tr("{path} already exists; nothing was written. Choose an empty folder."),
            &[("path", &path(p))],
        ),
        E::Write(p, err) => fill(
            &tr("Cannot write {path}: {reason}."),
            &[("path", &path(p)), ("reason", &err.to_string())],
        ),
        E::Store(err) => fill(
            &tr("Saving failed: {reason}."),
            &[("reason", &err.to_string())],
        ),
    }
}

/// After an export.
pub fn export_done(export: &super::transfer::Export, files: &[std::path::PathBuf]) -> String {
    use super::transfer::Format;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let files = match names.as_slice() {
        [one, two] => fill(
            &tr("{file} and {other_file}"),
            &[("file", one), ("other_file", two)],
        ),
        _ => names.join(" "),
    };
    let mut text = fill(
        &trn(
            "Exported the key {fingerprint} as account {account} ({protocol}) with {count} buddy \
             key to {files}. The key file is secret: copy it only to your own devices, then \
             delete it.",
            "Exported the key {fingerprint} as account {account} ({protocol}) with {count} buddy \
             keys to {files}. The key file is secret: copy it only to your own devices, then \
             delete it.",
            export.buddy_keys,
        ),
        &[
            ("fingerprint", &export.fingerprint.human()),
            ("account", &export.account_name),
            ("protocol", &export.protocol),
            ("count", &export.buddy_keys.to_string()),
            ("files", &files),
        ],
    );
    if let Some((identity, _)) = &export.identity {
        text.push(' ');
        text.push_str(&fill(
            &trn(
                "The post-quantum identity key {fingerprint} (secret too) and {count} pinned \
                 buddy identity went with it.",
                "The post-quantum identity key {fingerprint} (secret too) and {count} pinned \
                 buddy identities went with it.",
                export.pinned,
            ),
            &[
                ("fingerprint", &identity.human()),
                ("count", &export.pinned.to_string()),
            ],
        ));
    }
    match export.format {
        Format::Adium if export.account_name.parse::<u32>().is_err() => {
            text.push(' ');
            text.push_str(&tr(
                "Adium names accounts by number: replace the account name in both files with \
                 the account's ObjectID from Adium's Accounts.plist, or export again giving the \
                 number.",
            ));
        }
        Format::Irssi => {
            text.push(' ');
            text.push_str(&tr(
                "irssi expects these as ~/.irssi/otr/otr.key and otr.fp, with the account named \
                 nick@server.",
            ));
        }
        _ => {}
    }
    text
}

/// A program to export for, as the export dialog lists it.
pub fn format_label(format: super::transfer::Format) -> std::borrow::Cow<'static, str> {
    use super::transfer::Format;
    match format {
        Format::Pidgin => tr("Pidgin or Finch"),
        Format::Adium => tr("Adium"),
        Format::Irssi => tr("irssi"),
        Format::Generic => tr("Another libotr program (names as here)"),
    }
}

pub fn import_usage() -> String {
    tr(
        "Use: /otr import PATH [NAME-IN-FILE] — PATH is the other program's OTR folder or key \
        file (quote it if it has spaces); the key is shown first, then add yes (or replace) to \
        import it into this conversation's account.",
    )
    .into_owned()
}

pub fn export_usage() -> String {
    tr(
        "Use: /otr export FOLDER [pidgin|adium|irssi|generic] [ACCOUNT-NAME-THERE] — writes \
        this conversation's account's key and buddy keys into new files in FOLDER.",
    )
    .into_owned()
}

pub fn key_move_usage() -> String {
    tr(
        "Use: /otr key move OLD-ACCOUNT-NAME — gives this account the key (and buddy keys) your \
        account had under its old name; the key is shown first, then add yes (or replace).",
    )
    .into_owned()
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
    fn the_post_quantum_state_line_leads_with_the_label() {
        let label = "Private (post-quantum, verified)";
        let pq = state_line_post_quantum("bob", Trust::Verified, label);
        assert!(pq.starts_with(label), "{pq}");
        assert!(pq.contains("is verified"), "{pq}");
        let pq = state_line_post_quantum("<b>bob</b>", Trust::Unverified, "<i>x</i>");
        assert!(pq.contains("not verified") && !pq.contains('<'), "{pq}");
        assert_ne!(
            state_line_post_quantum("bob", Trust::Verified, label),
            state_line_post_quantum("bob", Trust::Unverified, label)
        );
    }

    #[test]
    fn upgrade_notices_escape_the_name_and_say_it_stays_private() {
        let evil = "<b>x</b>";
        for text in [
            upgraded(evil, "Private (post-quantum, not verified)"),
            upgrade_failed(evil, UpgradeFailure::Timeout),
            upgrade_failed(evil, UpgradeFailure::EqualInstanceTags),
            old_suite_ignored(evil),
        ] {
            assert!(!text.contains("<b>"), "{text}");
        }
        assert!(upgrade_failed("bob", UpgradeFailure::Timeout).contains("stays private"));
    }

    #[test]
    fn identity_notices_escape_the_name_and_say_what_to_do() {
        let evil = "<b>x</b>";
        for text in [
            identity_changed(evil, "AAAA", "BBBB"),
            identity_pinned(evil, "AAAA"),
            pq_not_offered(evil),
            pq_failed_pinned(evil),
            pin_not_saved(evil, "<i>disk</i>"),
            held(evil, 2, HoldReason::NewIdentity),
        ] {
            assert!(!text.contains("<b>x"), "{text}");
            assert!(!text.contains("<i>"), "{text}");
        }
        let changed = identity_changed("bob", "AAAA", "BBBB");
        assert!(changed.contains("AAAA") && changed.contains("BBBB"));
        assert!(changed.contains("/otr send-held"));
        for text in [pq_not_offered("bob"), pq_failed_pinned("bob")] {
            assert!(text.contains("OTR v3 only") && text.contains("interfering"));
        }
        assert!(held("bob", 1, HoldReason::NewIdentity).starts_with("Your message is waiting"));
    }
}
