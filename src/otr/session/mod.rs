//! One conversation between one of our accounts and one buddy: the master context plus one
//! child per logged-in instance of the buddy (v3 instance tags), as libotr organises it.
//!
//! Sans-I/O: every call takes an [`Env`] (clock, RNG, long-term key) and returns an
//! [`Outcome`] — what to send, what to show, what happened.
//!
//! ```
//! use purple_otr::otr::session::{Env, Session, SessionConfig};
//! use purple_otr::otr::policy::Policy;
//! use purple_otr::otr::crypto::dsa::DsaPrivateKey;
//! use rand_chacha::ChaCha20Rng;
//! use rand_core::SeedableRng;
//!
//! let mut rng = ChaCha20Rng::seed_from_u64(7);
//! let alice_key = DsaPrivateKey::generate(&mut rng);
//! let bob_key = DsaPrivateKey::generate(&mut rng);
//! let config = |name: &str, tag| SessionConfig {
//!     account_name: name.into(), our_instance: tag, policy: Policy::MANUAL, max_message_size: 0,
//! };
//! let mut alice = Session::new(config("alice@example.org", 0x1000));
//! let mut bob = Session::new(config("bob@example.org", 0x2000));
//!
//! // Alice asks for a private conversation; the messages go back and forth until both are quiet.
//! let mut to_bob = alice.start(&mut Env { now: 0, rng: &mut rng, our_key: Some(&alice_key) }).to_send;
//! while !to_bob.is_empty() {
//!     let mut to_alice = Vec::new();
//!     for m in to_bob.drain(..) {
//!         to_alice.extend(bob.receive(&mut Env { now: 0, rng: &mut rng, our_key: Some(&bob_key) }, &m).to_send);
//!     }
//!     for m in to_alice {
//!         to_bob.extend(alice.receive(&mut Env { now: 0, rng: &mut rng, our_key: Some(&alice_key) }, &m).to_send);
//!     }
//! }
//! assert!(alice.status().is_private() && bob.status().is_private());
//!
//! let wire = alice.send(&mut Env { now: 1, rng: &mut rng, our_key: Some(&alice_key) }, "hello").to_send;
//! assert!(wire[0].starts_with("?OTR:"));
//! let shown = bob.receive(&mut Env { now: 1, rng: &mut rng, our_key: Some(&bob_key) }, &wire[0]).display;
//! assert_eq!(shown.map(|d| d.text.0.clone()), Some("hello".to_string()));
//! ```

mod crossed;
mod direct;
mod guard;
mod handshake;
mod held;
mod instances;
mod offer;
mod routing;
#[cfg(test)]
mod tests;
mod timers;
mod upgrade;

use std::collections::VecDeque;
use std::fmt;

use zeroize::Zeroizing;

use crate::otr::crypto::dsa::{DsaPrivateKey, DsaPublicKey};
use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::data;
use crate::otr::events::{Event, HoldReason, NotSentReason, Redacted, Suite};
use crate::otr::fragment;
use crate::otr::keys::KeyRatchet;
use crate::otr::modern::identity::IdentityKey;
use crate::otr::modern::wire::is_modern;
use crate::otr::policy::Policy;
use crate::otr::smp::{Smp, SmpContext, SmpError};
use crate::otr::wire::envelope::{self, Incoming};
use crate::otr::wire::messages::{
    peek_data_flags, EncodedMessage, Header, Message, ProtocolVersion, DATA, DH_COMMIT,
    IGNORE_UNREADABLE,
};
use crate::otr::wire::tlv::{self, Tlv};

use crossed::{CommitAnswer, CommitAnswers};
use guard::Guard;
use held::{Held, LastSent};
use instances::{Instance, Slot};
use offer::Offer;

pub use direct::{PinnedPeer, DIRECT_TIMEOUT_SECS, MAX_PINNED_PEERS};
pub use held::{MAX_HELD, RESEND_WINDOW_SECS};
pub use instances::{MAX_INSTANCES, REASSEMBLY_CAP};
pub use timers::{AKE_TIMEOUT_SECS, HEARTBEAT_SECS};
pub use upgrade::UPGRADE_TIMEOUT_SECS;

/// What a session needs from its host for one call.
pub struct Env<'a> {
    /// Seconds on any monotonic or wall clock; only differences matter.
    pub now: u64,
    pub rng: &'a mut dyn rand_core::CryptoRngCore,
    /// Our long-term DSA key for this account, if the host has one yet.
    pub our_key: Option<&'a DsaPrivateKey>,
}

impl fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("now", &self.now)
            .field("has_key", &self.our_key.is_some())
            .finish()
    }
}

/// Per-conversation settings from the host.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Our account name, shown to a peer without OTR in the query message.
    pub account_name: String,
    /// Our v3 instance tag (>= 0x100).
    pub our_instance: u32,
    pub policy: Policy,
    /// Split outgoing messages longer than this into fragments; 0 never splits.
    pub max_message_size: usize,
}

/// Wire text of a sealed message, and the v3 extra symmetric key of its key pair (none in
/// the modern suite).
type Sealed = (Vec<String>, Option<Zeroizing<[u8; 32]>>);

/// A message to show the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub text: Redacted<String>,
    /// Whether it arrived encrypted. A plaintext arriving while private is flagged with
    /// [`Event::UnencryptedReceived`] too.
    pub encrypted: bool,
    /// The sender's instance tag (0 for plaintext and v2).
    pub instance: u32,
}

/// The result of one call.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Messages to transmit to the buddy, in order (fragments already split).
    pub to_send: Vec<String>,
    /// A message to show in the conversation, if any.
    pub display: Option<Received>,
    pub events: Vec<Event>,
}

/// Why a user request could not be carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// The request needs a private conversation.
    NotPrivate,
    /// The request needs our long-term key.
    NoPrivateKey,
    /// SMP refused the request (nothing to answer, or a bad question).
    Smp(SmpError),
    /// Encryption failed.
    EncryptionFailed,
}

/// The spec's msgstate, as the host sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageState {
    Plaintext,
    Encrypted,
    Finished,
}

/// The state of the instance outgoing messages go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub state: MessageState,
    pub instance: u32,
    pub version: Option<ProtocolVersion>,
    /// Which protection our messages get when private: OTR's own, or the modern suite.
    pub suite: Option<Suite>,
    pub fingerprint: Option<Fingerprint>,
    /// The post-quantum identity public key the buddy announced in this private
    /// conversation (docs/modern-suite.md §4), once it did; the modern handshake runs with it.
    pub peer_identity: Option<[u8; 32]>,
    pub ssid: Option<[u8; 8]>,
    pub ssid_first_half_bold: bool,
    pub ake_in_progress: bool,
    pub smp_in_progress: bool,
    /// Messages waiting for a private conversation.
    pub held: usize,
    /// Instances of the buddy we know of (not counting the master).
    pub instances: usize,
    /// The conversation was private and must stay so, but is not private now (the buddy or
    /// we went offline, or the exchange is being redone): typed messages wait.
    pub paused: bool,
    /// The buddy (or our account) is offline, as the host last said.
    pub peer_offline: bool,
    /// We asked the buddy for a private conversation moments ago (a query is out).
    pub asking: bool,
}

impl Status {
    pub fn is_private(&self) -> bool {
        self.state == MessageState::Encrypted
    }
}

#[cfg_attr(feature = "fuzzing", derive(Clone))]
struct Private {
    version: ProtocolVersion,
    /// The v3 keys; `None` for a direct start (docs/modern-suite.md §15): such an instance
    /// has no v3 session, so every v3 data message to it is unreadable.
    ratchet: Option<KeyRatchet>,
    /// The buddy's DSA key from the v3 AKE; `None` for a direct start.
    their_long_term: Option<DsaPublicKey>,
    /// The buddy's v3 fingerprint: from the AKE, or for a direct start the one its pinned
    /// identity was learned with.
    fingerprint: Fingerprint,
    ssid: [u8; 8],
    ssid_first_half_bold: bool,
    last_sent: u64,
    /// The switch to the modern suite (see `upgrade`).
    modern: upgrade::Upgrade,
}

#[cfg_attr(feature = "fuzzing", derive(Clone))]
enum MsgState {
    Plaintext,
    Encrypted(Box<Private>),
    Finished,
}

impl MsgState {
    fn public(&self) -> MessageState {
        match self {
            MsgState::Plaintext => MessageState::Plaintext,
            MsgState::Encrypted(_) => MessageState::Encrypted,
            MsgState::Finished => MessageState::Finished,
        }
    }
}

/// A conversation with one buddy.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub struct Session {
    config: SessionConfig,
    master: Instance,
    children: Vec<Instance>,
    offer: Offer,
    held: VecDeque<Held>,
    /// A message to send again (with a "[resent]" prefix) once the session is re-established
    /// with the same key, after the peer reported an error.
    resend: Option<Held>,
    last_sent: Option<LastSent>,
    /// When the user last asked for a private conversation (we sent a query). Until the AKE
    /// completes or this times out, typed messages wait rather than go out in plaintext.
    asked_at: Option<u64>,
    /// Which DH-Keys took over the master's commit (see `crossed.rs`).
    commit_answers: CommitAnswers,
    /// What keeps a conversation private once it was (see `guard`).
    guard: Guard,
    /// Upgrade to the modern suite with a purple-otr peer (see `upgrade`).
    modern: bool,
    /// Our modern-suite identity key (see [`Session::set_modern_identity`]).
    modern_identity: Option<IdentityKey>,
    /// The buddy's identities the host pinned (see [`Session::set_pinned_peers`]).
    pinned: Vec<PinnedPeer>,
    /// Our direct start, while it waits for an answer (see `direct`).
    direct: Option<direct::Attempt>,
    /// The ephemeral keys of the last direct starts we answered (replays are not answered).
    direct_seen: VecDeque<[u8; 32]>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("account", &self.config.account_name)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// The text of the OTR errors we send. libotr shows the peer's text as is, so this is what
/// the other user reads.
const ERROR_UNREADABLE: &str = "You sent an encrypted message that could not be read.";
const ERROR_MALFORMED: &str = "You sent a malformed encrypted message.";

impl Session {
    pub fn new(config: SessionConfig) -> Self {
        Session {
            config,
            master: Instance::new(0),
            children: Vec::new(),
            offer: Offer::NotSent,
            held: VecDeque::new(),
            resend: None,
            last_sent: None,
            asked_at: None,
            commit_answers: CommitAnswers::default(),
            guard: Guard::default(),
            modern: true,
            modern_identity: None,
            pinned: Vec::new(),
            direct: None,
            direct_seen: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn set_policy(&mut self, policy: Policy) {
        self.config.policy = policy;
    }

    pub fn set_max_message_size(&mut self, size: usize) {
        self.config.max_message_size = size;
    }

    /// The state of the instance our messages go to.
    pub fn status(&self) -> Status {
        let slot = self.best();
        let i = self.inst_ref(slot);
        let private = match &i.msg {
            MsgState::Encrypted(p) => Some(p),
            _ => None,
        };
        Status {
            state: i.msg.public(),
            instance: i.tag,
            version: private.map(|p| p.version),
            suite: private.map(|p| p.modern.suite()),
            fingerprint: private.map(|p| p.fingerprint),
            peer_identity: private.and_then(|p| p.modern.their_identity()),
            ssid: private.map(|p| p.ssid),
            ssid_first_half_bold: private.is_some_and(|p| p.ssid_first_half_bold),
            ake_in_progress: self.any_ake_in_progress(),
            smp_in_progress: i.smp.is_in_progress(),
            held: self.held.len(),
            instances: self.children.len(),
            paused: self.guard.active
                && (self.guard.peer_offline || matches!(i.msg, MsgState::Plaintext)),
            peer_offline: self.guard.peer_offline,
            asking: self.asked_at.is_some(),
        }
    }

    /// The suite our messages to the instance in `slot` use, if it is private.
    fn suite_of(&self, slot: Slot) -> Option<Suite> {
        match &self.inst_ref(slot).msg {
            MsgState::Encrypted(p) => Some(p.modern.suite()),
            _ => None,
        }
    }

    /// The long-term key of the buddy in the private conversation, if any.
    pub fn their_long_term_key(&self) -> Option<&DsaPublicKey> {
        match &self.inst_ref(self.best()).msg {
            MsgState::Encrypted(p) => p.their_long_term.as_ref(),
            _ => None,
        }
    }

    // ---- sending -------------------------------------------------------------------------

    /// Splits a wire message for the instance it goes to.
    fn fragments(&self, version: ProtocolVersion, their_tag: u32, text: String) -> Vec<String> {
        let mms = self.config.max_message_size;
        if mms == 0 || text.len() <= mms {
            return vec![text];
        }
        let (sender, receiver) = match version {
            ProtocolVersion::V3 => (self.config.our_instance, their_tag),
            ProtocolVersion::V2 => (0, 0),
        };
        // A message too long for 65535 fragments goes whole; the server may refuse it, but it
        // is not silently cut.
        fragment::split(&text, mms, version, sender, receiver).unwrap_or_else(|_| vec![text])
    }

    fn encode(&self, version: ProtocolVersion, their_tag: u32, message: Message) -> Vec<String> {
        let (sender, receiver) = match version {
            ProtocolVersion::V3 => (self.config.our_instance, their_tag),
            ProtocolVersion::V2 => (0, 0),
        };
        let bytes = EncodedMessage::new(version, sender, receiver, message).encode();
        self.fragments(version, their_tag, envelope::encode(&bytes))
    }

    /// Encrypts `plaintext` (text, NUL, TLVs) for the private instance in `slot`.
    fn seal(
        &mut self,
        slot: Slot,
        now: u64,
        flags: u8,
        plaintext: &[u8],
    ) -> Result<Sealed, SessionError> {
        // After the upgrade everything goes through the ratchet; there is no extra key.
        if let Some(sealed) = self.seal_modern(slot, now, flags & IGNORE_UNREADABLE != 0, plaintext)
        {
            return sealed
                .map(|wire| (wire, None))
                .map_err(|_| SessionError::EncryptionFailed);
        }
        let our_instance = self.config.our_instance;
        let inst = self.inst(slot);
        let tag = inst.tag;
        let MsgState::Encrypted(p) = &mut inst.msg else {
            return Err(SessionError::NotPrivate);
        };
        let (sender, receiver) = match p.version {
            ProtocolVersion::V3 => (our_instance, tag),
            ProtocolVersion::V2 => (0, 0),
        };
        let header = Header {
            version: p.version,
            message_type: DATA,
            sender_instance: sender,
            receiver_instance: receiver,
        };
        // A direct instance has no v3 keys: nothing to seal with.
        let ratchet = p.ratchet.as_mut().ok_or(SessionError::EncryptionFailed)?;
        let sealed = data::seal(ratchet, &header, flags, plaintext)
            .map_err(|_| SessionError::EncryptionFailed)?;
        p.last_sent = now;
        let version = p.version;
        let extra_key = sealed.extra_key.clone();
        Ok((
            self.encode(version, tag, Message::Data(sealed.message)),
            Some(extra_key),
        ))
    }

    fn send_tlvs(
        &mut self,
        slot: Slot,
        now: u64,
        tlvs: &[Tlv],
        out: &mut Outcome,
    ) -> Result<(), SessionError> {
        let plaintext = Zeroizing::new(tlv::join_plaintext(b"", tlvs));
        let (wire, _) = self.seal(slot, now, IGNORE_UNREADABLE, &plaintext)?;
        out.to_send.extend(wire);
        Ok(())
    }

    fn send_private_text(
        &mut self,
        slot: Slot,
        now: u64,
        text: &str,
        out: &mut Outcome,
    ) -> Result<Fingerprint, SessionError> {
        let (wire, _) = self.seal(slot, now, 0, text.as_bytes())?;
        out.to_send.extend(wire);
        match &self.inst_ref(slot).msg {
            MsgState::Encrypted(p) => Ok(p.fingerprint),
            _ => Err(SessionError::NotPrivate),
        }
    }

    /// The user typed `text`. It goes out encrypted to an accepted key, or in the clear only
    /// where the policy allows it and the conversation never had to stay private (see
    /// `guard`); otherwise it waits (an [`Event::MessageHeld`]) or comes back
    /// ([`Event::NotSent`]).
    pub fn send(&mut self, env: &mut Env<'_>, text: &str) -> Outcome {
        let mut out = Outcome::default();
        let policy = self.config.policy;
        if !policy.enabled() && !self.guard.active {
            out.to_send.push(text.to_string());
            return out;
        }
        // A query typed by hand becomes our own query, never an encrypted or plain copy of it
        // (libotr does the same).
        if envelope::is_query(text) {
            return self.start(env);
        }
        let slot = self.best();
        let current = match &self.inst_ref(slot).msg {
            MsgState::Encrypted(p) => Some(p.fingerprint),
            _ => None,
        };
        // Keep order: nothing overtakes a message that is already waiting. A message typed
        // while private with an accepted key stays bound to that key. While the buddy is
        // away from a conversation that must stay private, everything waits.
        let paused = self.guard.active && self.guard.peer_offline;
        if !self.held.is_empty() || paused {
            let intended = current.filter(|fp| self.guard.is_accepted(fp));
            self.hold(text, intended, &mut out);
            let reason = match current {
                _ if paused => HoldReason::PeerOffline,
                Some(fp) => self.guard.why_not(&fp),
                None => self.plaintext_hold(env.now).0,
            };
            out.events.push(self.held_event(reason));
            return out;
        }
        match self.inst_ref(slot).msg.public() {
            MessageState::Encrypted => {
                let fingerprint = current.unwrap_or(Fingerprint([0; 20]));
                if !self.guard.may_send_to(&fingerprint, false) {
                    let reason = self.guard.why_not(&fingerprint);
                    self.hold(text, None, &mut out);
                    if reason == HoldReason::NewKey {
                        out.events.push(Event::HeldForNewFingerprint {
                            expected: self.guard.last_accepted().unwrap_or(fingerprint),
                            actual: fingerprint,
                            pending: self.held.len(),
                        });
                    }
                    out.events.push(self.held_event(reason));
                    return out;
                }
                match self.send_private_text(slot, env.now, text, &mut out) {
                    Ok(fingerprint) => {
                        self.last_sent = Some(LastSent {
                            text: Zeroizing::new(text.to_string()),
                            fingerprint,
                            at: env.now,
                        });
                    }
                    Err(_) => out.events.push(Event::NotSent {
                        text: Redacted(text.to_string()),
                        reason: NotSentReason::EncryptionFailed,
                    }),
                }
            }
            MessageState::Finished => out.events.push(Event::NotSent {
                text: Redacted(text.to_string()),
                reason: NotSentReason::PeerEndedSession,
            }),
            MessageState::Plaintext => {
                let must_wait = self.guard.active
                    || self.guard.only_verified
                    || policy.has(Policy::REQUIRE_ENCRYPTION)
                    || self.negotiating(env.now);
                if must_wait {
                    self.hold(text, None, &mut out);
                    let (reason, ask) = self.plaintext_hold(env.now);
                    if ask {
                        let opening = self.opening(env);
                        out.to_send.extend(opening);
                        self.asked_at = Some(env.now);
                    }
                    out.events.push(self.held_event(reason));
                } else {
                    let mut plain = text.to_string();
                    self.offer_whitespace_tag(&mut plain);
                    out.to_send.push(plain);
                }
            }
        }
        out
    }

    fn query_message(&self) -> String {
        let mut versions = self.config.policy.versions();
        if !versions.v2 && !versions.v3 {
            versions = Policy::MANUAL.versions();
        }
        envelope::query_message(versions, &self.config.account_name)
    }

    /// Starts (or refreshes) a private conversation: sends a query message, or, to a buddy
    /// whose identity is pinned, a direct start of the modern suite (see `direct`).
    pub fn start(&mut self, env: &mut Env<'_>) -> Outcome {
        self.asked_at = Some(env.now);
        Outcome {
            to_send: self.opening(env),
            ..Outcome::default()
        }
    }

    /// Ends the private conversation with every instance. The peer is told (disconnect TLV)
    /// only if `peer_online`, as libotr does.
    pub fn end(&mut self, env: &mut Env<'_>, peer_online: bool) -> Outcome {
        let mut out = Outcome::default();
        let slots: Vec<Slot> = self.slots().collect();
        for slot in slots {
            let state = self.inst_ref(slot).msg.public();
            if state == MessageState::Encrypted && peer_online {
                let disconnect = [Tlv::empty(tlv::DISCONNECTED)];
                // Best effort: failing to say goodbye must not keep the session alive.
                let _ = self.send_tlvs(slot, env.now, &disconnect, &mut out);
            }
            let inst = self.inst(slot);
            inst.ake.reset();
            inst.smp = Smp::new();
            if state != MessageState::Plaintext {
                inst.msg = MsgState::Plaintext;
                let tag = inst.tag;
                out.events.push(Event::GoneInsecure { instance: tag });
            }
        }
        self.resend = None;
        self.asked_at = None;
        self.end_direct();
        // The user's explicit choice: from now on plain text is allowed again.
        self.guard.release();
        out
    }

    // ---- SMP -------------------------------------------------------------------------------

    fn smp_context(
        &self,
        slot: Slot,
        our_key: Option<&DsaPrivateKey>,
    ) -> Result<SmpContext, SessionError> {
        let our_key = our_key.ok_or(SessionError::NoPrivateKey)?;
        match &self.inst_ref(slot).msg {
            MsgState::Encrypted(p) => Ok(SmpContext {
                our_fingerprint: our_key.public().fingerprint(),
                their_fingerprint: p.fingerprint,
                ssid: p.ssid,
            }),
            _ => Err(SessionError::NotPrivate),
        }
    }

    /// The instance with an SMP exchange matching `pred`, else the one we send to.
    fn smp_slot(&self, pred: impl Fn(&Instance) -> bool) -> Slot {
        self.slots()
            .find(|&s| pred(self.inst_ref(s)))
            .unwrap_or_else(|| self.best())
    }

    /// Starts SMP with the buddy, with an optional question.
    pub fn smp_start(
        &mut self,
        env: &mut Env<'_>,
        question: Option<&str>,
        secret: &[u8],
    ) -> Result<Outcome, SessionError> {
        let slot = self.best();
        let ctx = self.smp_context(slot, env.our_key)?;
        // The SMP1 goes in the suite we send on now, and the exchange keeps that binding
        // (docs/modern-suite.md §13 "SMP").
        let binding = match &self.inst_ref(slot).msg {
            MsgState::Encrypted(p) => p.modern.transcript_hash(),
            _ => None,
        };
        let bound = binding.map(|th| upgrade::modern_smp_secret(&th, secret));
        let secret = bound.as_deref().map_or(secret, |b| &b[..]);
        let tlv = self
            .inst(slot)
            .smp
            .start(env.rng, &ctx, secret, question)
            .map_err(SessionError::Smp)?;
        let mut out = Outcome::default();
        self.send_tlvs(slot, env.now, &[tlv], &mut out)?;
        Ok(out)
    }

    /// Answers the buddy's SMP request with our secret.
    pub fn smp_respond(
        &mut self,
        env: &mut Env<'_>,
        secret: &[u8],
    ) -> Result<Outcome, SessionError> {
        // Answer the instance that asked, which need not be the one we send to.
        let slot = self.smp_slot(|i| i.smp.is_awaiting_secret());
        let ctx = self.smp_context(slot, env.our_key)?;
        // The binding of the peer's SMP1, not of the suite we answer on.
        let binding = match &self.inst_ref(slot).msg {
            MsgState::Encrypted(p) => p.modern.smp_peer_binding,
            _ => None,
        };
        let bound = binding.map(|th| upgrade::modern_smp_secret(&th, secret));
        let secret = bound.as_deref().map_or(secret, |b| &b[..]);
        let tlv = self
            .inst(slot)
            .smp
            .respond(env.rng, &ctx, secret)
            .map_err(SessionError::Smp)?;
        let mut out = Outcome::default();
        self.send_tlvs(slot, env.now, &[tlv], &mut out)?;
        Ok(out)
    }

    /// Aborts SMP (also on the peer's side).
    pub fn smp_abort(&mut self, env: &mut Env<'_>) -> Outcome {
        let slot = self.smp_slot(|i| i.smp.is_in_progress());
        let tlv = self.inst(slot).smp.abort();
        let mut out = Outcome::default();
        // Not private: there is nothing to tell the peer.
        let _ = self.send_tlvs(slot, env.now, &[tlv], &mut out);
        out
    }

    /// Sends a message telling the peer to use the extra symmetric key, and returns the key.
    pub fn extra_symmetric_key(
        &mut self,
        env: &mut Env<'_>,
        usage: u32,
        usage_data: &[u8],
    ) -> Result<(Redacted<[u8; 32]>, Outcome), SessionError> {
        let slot = self.best();
        let mut value = usage.to_be_bytes().to_vec();
        value.extend_from_slice(usage_data);
        let tlv = Tlv::new(tlv::SYMKEY, value).ok_or(SessionError::EncryptionFailed)?;
        let plaintext = Zeroizing::new(tlv::join_plaintext(b"", &[tlv]));
        // The modern suite has no extra symmetric key (docs/modern-suite.md §13).
        if self.suite_of(slot) == Some(Suite::Modern) {
            return Err(SessionError::EncryptionFailed);
        }
        let (wire, key) = self.seal(slot, env.now, IGNORE_UNREADABLE, &plaintext)?;
        let key = key.ok_or(SessionError::EncryptionFailed)?;
        Ok((
            Redacted(*key),
            Outcome {
                to_send: wire,
                ..Outcome::default()
            },
        ))
    }

    // ---- receiving -------------------------------------------------------------------------

    /// A message arrived from the buddy.
    pub fn receive(&mut self, env: &mut Env<'_>, raw: &str) -> Outcome {
        let mut out = Outcome::default();
        if !self.config.policy.enabled() {
            out.display = Some(Received {
                text: Redacted(raw.to_string()),
                encrypted: false,
                instance: 0,
            });
            return out;
        }
        match envelope::classify(raw) {
            Incoming::Fragment(piece) => {
                if !self.config.policy.allows(piece.version) {
                    return out;
                }
                let slot = match piece.version {
                    ProtocolVersion::V2 => Slot::Master,
                    ProtocolVersion::V3 => {
                        // A fragment addressed to every instance may start anything: what it
                        // holds is admitted again once whole.
                        let admitted = self.admit(
                            piece.sender_instance,
                            piece.receiver_instance,
                            true,
                            env.now,
                            &mut out,
                        );
                        match admitted {
                            Some((slot, _)) => slot,
                            None => return out,
                        }
                    }
                };
                if let Some(whole) = self.inst(slot).fragments.accept(piece) {
                    // "You can't fragment a fragment" (spec 4.1.1): reassembled text is never
                    // taken for a fragment again.
                    let incoming = envelope::classify_reassembled(&whole);
                    self.receive_whole(env, incoming, &mut out);
                }
            }
            // libotr drops a broken fragment and keeps what it had gathered.
            Incoming::MalformedFragment => out.events.push(Event::Malformed),
            incoming => {
                // A whole OTR message ends a half-received fragmented one (libotr; plain text
                // does not, although the spec says so).
                if incoming.resets_fragment_buffer() {
                    for slot in self.slots().collect::<Vec<_>>() {
                        self.inst(slot).fragments.clear();
                    }
                }
                self.receive_whole(env, incoming, &mut out);
            }
        }
        out
    }

    fn receive_whole(&mut self, env: &mut Env<'_>, incoming: Incoming, out: &mut Outcome) {
        let policy = self.config.policy;
        self.note_offer_answer(&incoming);
        match incoming {
            Incoming::Plaintext { text, tag } => self.receive_plaintext(env, text, tag, out),
            Incoming::Query { versions } => {
                if let Some(version) = policy.best_common(versions) {
                    self.start_ake(env, version, out);
                }
            }
            Incoming::Error { text } => self.receive_error(env, text, out),
            Incoming::Encoded { bytes } => self.receive_encoded(env, &bytes, out),
            Incoming::Fragment(_) | Incoming::MalformedFragment => {
                out.events.push(Event::Malformed)
            }
            Incoming::Unknown => out.events.push(Event::Unrecognized),
        }
    }

    fn receive_plaintext(
        &mut self,
        env: &mut Env<'_>,
        text: String,
        tag: Option<envelope::Versions>,
        out: &mut Outcome,
    ) {
        let policy = self.config.policy;
        if let Some(versions) = tag {
            let private = matches!(self.inst_ref(self.best()).msg, MsgState::Encrypted(_));
            if policy.has(Policy::WHITESPACE_START_AKE) && !private {
                if let Some(version) = policy.best_common(versions) {
                    self.start_ake(env, version, out);
                }
            }
        }
        if text.is_empty() {
            return;
        }
        if self.any_private() || self.guard.active || policy.has(Policy::REQUIRE_ENCRYPTION) {
            out.events.push(Event::UnencryptedReceived);
        }
        out.display = Some(Received {
            text: Redacted(text),
            encrypted: false,
            instance: 0,
        });
    }

    fn receive_error(&mut self, env: &mut Env<'_>, text: String, out: &mut Outcome) {
        out.events.push(Event::PeerError {
            text: Redacted(text),
        });
        if self.config.policy.has(Policy::ERROR_START_AKE) {
            out.to_send.push(self.query_message());
        }
        self.remember_for_resend(env.now);
    }

    fn receive_encoded(&mut self, env: &mut Env<'_>, bytes: &[u8], out: &mut Outcome) {
        if is_modern(bytes) {
            if self.config.policy.allows(ProtocolVersion::V3) {
                self.receive_modern(env, bytes, out);
            }
            return;
        }
        let message = match EncodedMessage::decode(bytes) {
            Ok(m) => m,
            Err(_) => {
                out.events.push(Event::Malformed);
                // An unparseable data message in a private conversation gets an error, as in
                // libotr; a broken AKE message is just ignored.
                let is_data = bytes.get(2) == Some(&DATA.0);
                let ignorable = peek_data_flags(bytes).is_some_and(|f| f & IGNORE_UNREADABLE != 0);
                if is_data
                    && !ignorable
                    && matches!(self.inst_ref(self.best()).msg, MsgState::Encrypted(_))
                {
                    out.to_send.push(envelope::error_message(ERROR_MALFORMED));
                }
                return;
            }
        };
        let header = message.header;
        if !self.config.policy.allows(header.version) {
            return;
        }
        let message_type = message.message.message_type();
        let slot = match header.version {
            ProtocolVersion::V2 => Slot::Master,
            ProtocolVersion::V3 => {
                // Only a commit may be addressed to every instance (receiver tag 0).
                let to_all = message_type == DH_COMMIT;
                let admitted = self.admit(
                    header.sender_instance,
                    header.receiver_instance,
                    to_all,
                    env.now,
                    out,
                );
                let Some((slot, created)) = admitted else {
                    return;
                };
                let answer = self.answer_to_master_commit(slot, &message.message, env.now, out);
                if answer == CommitAnswer::StayResponder {
                    return;
                }
                if answer == CommitAnswer::NotOurs && created && message_type != DH_COMMIT {
                    // libotr ignores anything but an AKE start from an instance it never met.
                    if let Message::Data(d) = &message.message {
                        if d.flags & IGNORE_UNREADABLE == 0 {
                            out.events.push(Event::NotInPrivate);
                        }
                    }
                    return;
                }
                slot
            }
        };
        self.inst(slot).last_received = env.now;
        let version = header.version;
        match message.message {
            Message::DhCommit(commit) => self.receive_dh_commit(env, slot, version, &commit, out),
            Message::DhKey(key) => self.receive_dh_key(env, slot, version, &key, out),
            Message::RevealSignature(reveal) => {
                self.receive_reveal_signature(env, slot, version, &reveal, out)
            }
            Message::Signature(sig) => self.receive_signature(env, slot, version, &sig, out),
            Message::Data(data) => self.receive_data(env, slot, &header, &data, out),
        }
    }
}
