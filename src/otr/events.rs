//! What a session tells its host. Events carry facts, never wording: the host chooses the
//! text a user sees.

use super::ake::AkeError;
use super::crypto::fingerprint::Fingerprint;
use super::modern::ModernError;
use super::smp::SmpEvent;
use super::wire::messages::ProtocolVersion;

/// A value that must never reach a log: message text, keys. `Debug` shows only its size, so
/// an event printed with `{:?}` cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted<T: zeroize::Zeroize>(pub T);

impl<T: AsRef<[u8]> + zeroize::Zeroize> std::fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.as_ref().len())
    }
}

impl<T: zeroize::Zeroize> Drop for Redacted<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Why a message the user typed was not sent. The text comes back so nothing is lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotSentReason {
    /// The peer ended the private conversation; the user must end or refresh it first.
    PeerEndedSession,
    /// A private conversation could not be started in time and the policy forbids plaintext.
    NotPrivateInTime,
    /// Encryption failed (key counter exhausted, or no long-term key).
    EncryptionFailed,
    /// The user chose to drop messages that were held.
    Discarded,
}

/// Why a typed message waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldReason {
    /// We just asked the buddy for a private conversation.
    Starting,
    /// A key exchange is running.
    Negotiating,
    /// The conversation was private and is paused while the buddy (or we) are offline.
    PeerOffline,
    /// The conversation was private and stopped; the policy starts none by itself: the
    /// user must start it again (or end it to send in the clear).
    WaitingForUser,
    /// Private, but with a key the user has not verified ("only send to verified buddies").
    Unverified,
    /// Private, but with another key than the one(s) the conversation was private with.
    NewKey,
    /// Private with a known key, but the buddy's post-quantum identity key is not the one
    /// pinned for it (docs/modern-suite.md §8): the host said so with
    /// `Session::hold_for_new_identity`.
    NewIdentity,
}

/// Which protection a private conversation's messages use (what the user is told, decided in
/// `client::view::label_for`: "Private (post-quantum, …)", or pidgin-otr's labels on OTR v3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// OTR's own data messages (v3, or v2 with an old peer).
    Otr,
    /// The modern suite (docs/modern-suite.md): hybrid X25519 + ML-KEM-768 handshake bound
    /// to the v3 session, then the Double Ratchet.
    Modern,
}

/// Why the switch to the modern suite did not happen. The conversation stays private on
/// OTR v3 whatever the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpgradeFailure {
    /// The other side stopped answering during the handshake.
    Timeout,
    /// Both sides have the same instance tag, so neither may start (§5.3).
    EqualInstanceTags,
}

/// Something the host should know about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An AKE completed: the conversation with this instance is now private.
    GoneSecure {
        instance: u32,
        fingerprint: Fingerprint,
        version: ProtocolVersion,
        ssid: [u8; 8],
        ssid_first_half_bold: bool,
    },
    /// An AKE completed again with the same key: still private (libotr "still_secure").
    Refreshed {
        instance: u32,
        fingerprint: Fingerprint,
    },
    /// We ended the private conversation.
    GoneInsecure {
        instance: u32,
    },
    /// The peer ended the private conversation (disconnect TLV); sending is refused until the
    /// user ends or refreshes.
    PeerEnded {
        instance: u32,
    },
    /// A message was held until the conversation is private (REQUIRE_ENCRYPTION, typed while
    /// an AKE was running, or the conversation must stay private: see `session::guard`).
    /// `starting` is true when we just asked the peer to start OTR.
    MessageHeld {
        pending: usize,
        starting: bool,
        reason: HoldReason,
    },
    /// Held messages were sent, encrypted.
    HeldSent {
        count: usize,
    },
    /// Held messages were meant for another key than the one now on the other end; they wait
    /// for the user (send or discard) instead of going to a possibly different person.
    HeldForNewFingerprint {
        expected: Fingerprint,
        actual: Fingerprint,
        pending: usize,
    },
    /// A message was not sent.
    NotSent {
        text: Redacted<String>,
        reason: NotSentReason,
    },
    /// After the peer reported an error, our last message was sent again in the new session.
    MessageResent,
    /// Our own AKE messages came back to us.
    Reflected,
    /// An encrypted message could not be read; the peer was sent an OTR error.
    Unreadable {
        instance: u32,
    },
    /// A message that claims to be OTR did not parse.
    Malformed,
    /// An encrypted message arrived while no private conversation exists.
    NotInPrivate,
    /// A message for another of our logged-in instances.
    ForOtherInstance,
    /// A plaintext message arrived while private or while policy requires encryption; it is
    /// shown, flagged as not encrypted.
    UnencryptedReceived,
    /// The peer sent an OTR error message.
    PeerError {
        text: Redacted<String>,
    },
    /// An SMP step happened on this instance. `trust` is what to record for the peer's
    /// fingerprint: `Some(true)` "smp", `Some(false)` not trusted, `None` unchanged (the side
    /// that answered a question learns nothing about the asker). `we_initiated` and
    /// `question` say which exchange it was.
    Smp {
        instance: u32,
        /// The key of the instance that ran the exchange: trust lands on it.
        fingerprint: Fingerprint,
        event: SmpEvent,
        trust: Option<bool>,
        we_initiated: bool,
        question: bool,
    },
    /// The peer asked to use the extra symmetric key.
    SymmetricKey {
        instance: u32,
        usage: u32,
        usage_data: Redacted<Vec<u8>>,
        key: Redacted<[u8; 32]>,
    },
    /// Keep-alive traffic (debug only).
    HeartbeatReceived,
    HeartbeatSent,
    /// A `?OTR` message we do not understand (v1, or unknown).
    Unrecognized,
    /// The AKE needs our long-term key and the host has none yet.
    PrivateKeyNeeded,
    /// An AKE step was ignored (diagnostics only), and why.
    AkeIgnored {
        reason: AkeError,
    },
    /// This instance's messages now go with `suite` (the modern handshake completed).
    Upgraded {
        instance: u32,
        suite: Suite,
    },
    /// The switch to the modern suite failed; the conversation stays private on OTR v3.
    UpgradeFailed {
        instance: u32,
        reason: UpgradeFailure,
    },
    /// An OTR v3 data message arrived after the peer had switched to the modern suite: not
    /// shown (a peer that switched never sends one; it is a replay or an injection).
    OldSuiteIgnored {
        instance: u32,
    },
    /// A modern-suite message was ignored (diagnostics only), and why.
    ModernIgnored {
        reason: ModernError,
    },
    /// The peer announced the suite again in a v3 session whose first announcement already
    /// counted (docs/modern-suite.md §8). Nothing changes: the session keeps the identity and
    /// the handshake of the first. `identity_changed`: with another identity key than the
    /// session uses; `after_upgrade`: after the switch completed. A peer never does either, so
    /// either is a replay or someone interfering (the host warns between pinned peers); an
    /// identical one during the handshake is a duplicate.
    ModernReannounced {
        instance: u32,
        identity_changed: bool,
        after_upgrade: bool,
    },
    /// Our direct start to a pinned buddy got no answer in time (docs/modern-suite.md §15):
    /// the v3 query went out instead (diagnostics only; nothing was lost or sent in clear).
    DirectFallback,
}
