//! What the plugin does when the user asks for something, whether through a menu item
//! or an `/otr` subcommand: one function per action, each given the IM conversation it
//! concerns. Nothing is wired to the OTR engine yet, so each one says so honestly.

use super::objects::Conversation;

fn not_available(conv: Conversation, action: &str) {
    conv.write_system(&format!("{action}: not available in this build yet."));
}

/// Start (or restart) an encrypted, private conversation with this buddy.
pub(crate) fn start_private(conv: Conversation) {
    not_available(conv, "Start private conversation");
}

/// End the private conversation and go back to plain messages.
pub(crate) fn end_private(conv: Conversation) {
    not_available(conv, "End private conversation");
}

/// Renegotiate the session keys of the private conversation.
pub(crate) fn refresh_private(conv: Conversation) {
    not_available(conv, "Refresh private conversation");
}

/// Say whether the conversation is private and whether the buddy is verified.
pub(crate) fn show_status(conv: Conversation) {
    not_available(conv, "Privacy status");
}

/// Show our own fingerprint and the buddy's.
pub(crate) fn show_fingerprint(conv: Conversation) {
    not_available(conv, "Fingerprints");
}

/// Mark the buddy's fingerprint as verified after comparing it out of band.
pub(crate) fn verify_fingerprint(conv: Conversation) {
    not_available(conv, "Verify fingerprint");
}

/// Authenticate the buddy with a shared secret or a question (SMP).
pub(crate) fn authenticate_buddy(conv: Conversation) {
    not_available(conv, "Authenticate buddy");
}
