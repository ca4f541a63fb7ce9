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

use std::collections::VecDeque;
use std::fmt;

use zeroize::Zeroizing;

use super::ake::{Ake, AkeError, AkeSuccess, CommitReply};
use super::crypto::dsa::{DsaPrivateKey, DsaPublicKey};
use super::crypto::fingerprint::Fingerprint;
use super::data;
use super::events::{Event, NotSentReason, Redacted};
use super::fragment::{self, Reassembler};
use super::keys::KeyRatchet;
use super::policy::Policy;
use super::smp::{Smp, SmpContext, SmpError};
use super::wire::envelope::{self, Incoming};
use super::wire::messages::{
    is_valid_instance_tag, DataMessage, EncodedMessage, Header, Message, ProtocolVersion, DATA,
    DH_COMMIT, DH_KEY, IGNORE_UNREADABLE,
};
use super::wire::tlv::{self, Tlv};

/// At most this many instances of one buddy are tracked; a peer inventing instance tags cannot
/// make us hold more (the least recently active non-private one is dropped first).
pub const MAX_INSTANCES: usize = 16;
/// A message is sent again after a peer's error only if it was sent this recently (libotr's
/// `RESEND_INTERVAL`).
pub const RESEND_WINDOW_SECS: u64 = 60;
/// After receiving a message, if we sent nothing for this long, send an empty one so the
/// peer's keys keep turning (libotr's `HEARTBEAT_INTERVAL`).
pub const HEARTBEAT_SECS: u64 = 60;
/// An AKE with no progress for this long is abandoned.
pub const AKE_TIMEOUT_SECS: u64 = 60;
/// Messages the user typed that wait for a private conversation; beyond this the oldest are
/// handed back as not sent rather than dropped.
pub const MAX_HELD: usize = 1000;
/// Bytes of fragments one instance may have pending.
pub const REASSEMBLY_CAP: usize = fragment::DEFAULT_REASSEMBLY_CAP;

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
    pub fingerprint: Option<Fingerprint>,
    pub ssid: Option<[u8; 8]>,
    pub ssid_first_half_bold: bool,
    pub ake_in_progress: bool,
    pub smp_in_progress: bool,
    /// Messages waiting for a private conversation.
    pub held: usize,
    /// Instances of the buddy we know of (not counting the master).
    pub instances: usize,
}

impl Status {
    pub fn is_private(&self) -> bool {
        self.state == MessageState::Encrypted
    }
}

struct Private {
    version: ProtocolVersion,
    ratchet: KeyRatchet,
    their_long_term: DsaPublicKey,
    fingerprint: Fingerprint,
    ssid: [u8; 8],
    ssid_first_half_bold: bool,
    last_sent: u64,
}

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

/// libotr's ConnContext, minus what lives in [`Session`].
struct Instance {
    /// The buddy's instance tag; 0 for the master context.
    tag: u32,
    ake: Ake,
    /// When our commit and the peer's crossed, the exchange we answered as responder, kept
    /// while we also run our own (see `receive_encoded`).
    crossed_ake: Option<Ake>,
    ake_activity: u64,
    msg: MsgState,
    smp: Smp,
    fragments: Reassembler,
    last_received: u64,
    /// The master's commit (its hash) this instance took over, and the DH-Key (g^y) it took
    /// it over for (see `receive_encoded`). The same pair never restarts an exchange: a
    /// replayed DH-Key would rebuild the AKE's keys, and a replayed Signature would then
    /// reset a running private conversation to them.
    took_commit: Option<(Vec<u8>, Vec<u8>)>,
}

impl Instance {
    fn new(tag: u32) -> Self {
        Instance {
            tag,
            ake: Ake::new(),
            crossed_ake: None,
            ake_activity: 0,
            msg: MsgState::Plaintext,
            smp: Smp::new(),
            fragments: Reassembler::new(REASSEMBLY_CAP),
            last_received: 0,
            took_commit: None,
        }
    }
}

/// A message the user typed that waits for a private conversation.
struct Held {
    text: Zeroizing<String>,
    /// The key it was meant for; `None` if typed before any private conversation.
    intended: Option<Fingerprint>,
}

/// The last message sent privately, in case the peer reports it unreadable.
struct LastSent {
    text: Zeroizing<String>,
    fingerprint: Fingerprint,
    at: u64,
}

/// Whether our whitespace-tag offer was taken up (libotr `OtrlOfferState`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Offer {
    NotSent,
    Sent,
    Rejected,
    Accepted,
}

/// A conversation with one buddy.
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
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("account", &self.config.account_name)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// Which instance a call concerns: the master (v2, plaintext, our commits) or a child.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Slot {
    Master,
    Child(usize),
}

const RESENT_PREFIX: &str = "[resent]";

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

    fn inst(&mut self, slot: Slot) -> &mut Instance {
        match slot {
            Slot::Master => &mut self.master,
            Slot::Child(i) => &mut self.children[i],
        }
    }

    fn inst_ref(&self, slot: Slot) -> &Instance {
        match slot {
            Slot::Master => &self.master,
            Slot::Child(i) => &self.children[i],
        }
    }

    fn slots(&self) -> impl Iterator<Item = Slot> {
        std::iter::once(Slot::Master).chain((0..self.children.len()).map(Slot::Child))
    }

    /// libotr's OTRL_INSTAG_BEST: encrypted before finished before plaintext, then the most
    /// recently heard from.
    fn best(&self) -> Slot {
        let rank = |i: &Instance| match i.msg {
            MsgState::Encrypted(_) => 2,
            MsgState::Finished => 1,
            MsgState::Plaintext => 0,
        };
        self.slots()
            .max_by_key(|&s| {
                let i = self.inst_ref(s);
                (rank(i), i.last_received, s == Slot::Master)
            })
            .unwrap_or(Slot::Master)
    }

    fn any_private(&self) -> bool {
        self.slots()
            .any(|s| !matches!(self.inst_ref(s).msg, MsgState::Plaintext))
    }

    fn any_ake_in_progress(&self) -> bool {
        self.slots().any(|s| self.inst_ref(s).ake.in_progress())
    }

    /// An AKE is running, or the user asked for one moments ago.
    fn negotiating(&self, now: u64) -> bool {
        self.any_ake_in_progress()
            || self
                .asked_at
                .is_some_and(|t| now.saturating_sub(t) <= AKE_TIMEOUT_SECS)
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
            fingerprint: private.map(|p| p.fingerprint),
            ssid: private.map(|p| p.ssid),
            ssid_first_half_bold: private.is_some_and(|p| p.ssid_first_half_bold),
            ake_in_progress: self.any_ake_in_progress(),
            smp_in_progress: i.smp.is_in_progress(),
            held: self.held.len(),
            instances: self.children.len(),
        }
    }

    /// The long-term key of the buddy in the private conversation, if any.
    pub fn their_long_term_key(&self) -> Option<&DsaPublicKey> {
        match &self.inst_ref(self.best()).msg {
            MsgState::Encrypted(p) => Some(&p.their_long_term),
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
    ) -> Result<(Vec<String>, Zeroizing<[u8; 32]>), SessionError> {
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
        let sealed = data::seal(&mut p.ratchet, &header, flags, plaintext)
            .map_err(|_| SessionError::EncryptionFailed)?;
        p.last_sent = now;
        let version = p.version;
        let extra_key = sealed.extra_key.clone();
        Ok((
            self.encode(version, tag, Message::Data(sealed.message)),
            extra_key,
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

    fn hold(&mut self, text: &str, intended: Option<Fingerprint>, out: &mut Outcome) {
        if self.held.len() >= MAX_HELD {
            if let Some(oldest) = self.held.pop_front() {
                out.events.push(Event::NotSent {
                    text: Redacted(oldest.text.to_string()),
                    reason: NotSentReason::NotPrivateInTime,
                });
            }
        }
        self.held.push_back(Held {
            text: Zeroizing::new(text.to_string()),
            intended,
        });
    }

    /// The user typed `text`.
    pub fn send(&mut self, env: &mut Env<'_>, text: &str) -> Outcome {
        let mut out = Outcome::default();
        let policy = self.config.policy;
        if !policy.enabled() {
            out.to_send.push(text.to_string());
            return out;
        }
        // A query typed by hand becomes our own query, never an encrypted or plain copy of it
        // (libotr does the same).
        if envelope::is_query(text) {
            return self.start(env);
        }
        let slot = self.best();
        let fingerprint = match &self.inst_ref(slot).msg {
            MsgState::Encrypted(p) => Some(p.fingerprint),
            _ => None,
        };
        // Keep order: nothing overtakes a message that is already waiting.
        if !self.held.is_empty() {
            self.hold(text, fingerprint, &mut out);
            out.events.push(Event::MessageHeld {
                pending: self.held.len(),
                starting: false,
            });
            return out;
        }
        match self.inst_ref(slot).msg.public() {
            MessageState::Encrypted => {
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
                let negotiating = self.negotiating(env.now);
                if policy.has(Policy::REQUIRE_ENCRYPTION) || negotiating {
                    self.hold(text, None, &mut out);
                    if !negotiating {
                        out.to_send.push(self.query_message());
                    }
                    out.events.push(Event::MessageHeld {
                        pending: self.held.len(),
                        starting: !negotiating,
                    });
                } else {
                    let mut plain = text.to_string();
                    if policy.has(Policy::SEND_WHITESPACE_TAG) && self.offer != Offer::Rejected {
                        plain.push_str(&envelope::whitespace_tag(policy.versions()));
                        self.offer = Offer::Sent;
                    }
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

    /// Starts (or refreshes) a private conversation: sends a query message.
    pub fn start(&mut self, env: &mut Env<'_>) -> Outcome {
        self.asked_at = Some(env.now);
        Outcome {
            to_send: vec![self.query_message()],
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
        out
    }

    /// Sends held messages that were meant for another key anyway (the user confirmed the
    /// new key), if the conversation is private.
    pub fn send_held_anyway(&mut self, env: &mut Env<'_>) -> Outcome {
        let mut out = Outcome::default();
        let slot = self.best();
        if let MsgState::Encrypted(p) = &self.inst_ref(slot).msg {
            let fingerprint = p.fingerprint;
            for held in self.held.iter_mut() {
                held.intended = Some(fingerprint);
            }
            if let Some(r) = self.resend.as_mut() {
                r.intended = Some(fingerprint);
            }
            self.flush_held(slot, env.now, fingerprint, &mut out);
        }
        out
    }

    /// Drops held messages; each comes back in a [`Event::NotSent`] so the host can show it.
    pub fn discard_held(&mut self) -> Outcome {
        let mut out = Outcome::default();
        for held in self.held.drain(..) {
            out.events.push(Event::NotSent {
                text: Redacted(held.text.to_string()),
                reason: NotSentReason::Discarded,
            });
        }
        self.resend = None;
        out
    }

    fn flush_held(&mut self, slot: Slot, now: u64, fingerprint: Fingerprint, out: &mut Outcome) {
        if let Some(resend) = self.resend.take() {
            if resend.intended == Some(fingerprint) {
                let text = format!("{RESENT_PREFIX} {}", resend.text.as_str());
                if self.send_private_text(slot, now, &text, out).is_ok() {
                    out.events.push(Event::MessageResent);
                }
            } else if let Some(expected) = resend.intended {
                // The libotr weakness: never re-send to a key it was not meant for.
                out.events.push(Event::HeldForNewFingerprint {
                    expected,
                    actual: fingerprint,
                    pending: 1 + self.held.len(),
                });
                self.held.push_front(resend);
                return;
            }
        }
        let mut sent = 0;
        while let Some(front) = self.held.front() {
            if let Some(expected) = front.intended.filter(|e| *e != fingerprint) {
                out.events.push(Event::HeldForNewFingerprint {
                    expected,
                    actual: fingerprint,
                    pending: self.held.len(),
                });
                break;
            }
            let Some(held) = self.held.pop_front() else {
                break;
            };
            match self.send_private_text(slot, now, &held.text, out) {
                Ok(fp) => {
                    sent += 1;
                    self.last_sent = Some(LastSent {
                        text: held.text,
                        fingerprint: fp,
                        at: now,
                    });
                }
                Err(_) => {
                    self.held.push_front(held);
                    break;
                }
            }
        }
        if sent > 0 {
            out.events.push(Event::HeldSent { count: sent });
        }
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
        let (wire, key) = self.seal(slot, env.now, IGNORE_UNREADABLE, &plaintext)?;
        Ok((
            Redacted(*key),
            Outcome {
                to_send: wire,
                ..Outcome::default()
            },
        ))
    }

    // ---- timers ----------------------------------------------------------------------------

    /// Call about once a second or so (or when [`Session::next_timeout`] says): expires stale
    /// AKEs, and hands back messages that could not be sent privately in time.
    pub fn poll(&mut self, env: &mut Env<'_>) -> Outcome {
        let mut out = Outcome::default();
        let now = env.now;
        for slot in self.slots().collect::<Vec<_>>() {
            let inst = self.inst(slot);
            if slot == Slot::Master {
                inst.ake.expire(now);
            }
            if inst.ake.in_progress() && now.saturating_sub(inst.ake_activity) > AKE_TIMEOUT_SECS {
                inst.ake.reset();
            }
        }
        if !self.negotiating(now) {
            self.asked_at = None;
        }
        if !self.negotiating(now)
            && !self.any_private()
            && !self.config.policy.has(Policy::REQUIRE_ENCRYPTION)
        {
            // Held only because an AKE was running, which has now failed: give them back
            // rather than send them in plaintext behind the user's back.
            for held in self.held.drain(..) {
                out.events.push(Event::NotSent {
                    text: Redacted(held.text.to_string()),
                    reason: NotSentReason::NotPrivateInTime,
                });
            }
        }
        out
    }

    /// When [`Session::poll`] next has work, if ever.
    pub fn next_timeout(&self) -> Option<u64> {
        self.slots()
            .map(|s| self.inst_ref(s))
            .filter(|i| i.ake.in_progress())
            .map(|i| i.ake_activity)
            .chain(self.asked_at)
            .map(|t| t.saturating_add(AKE_TIMEOUT_SECS + 1))
            .min()
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
                        if piece.receiver_instance != 0
                            && piece.receiver_instance != self.config.our_instance
                        {
                            out.events.push(Event::ForOtherInstance);
                            return out;
                        }
                        if !is_valid_instance_tag(piece.sender_instance) {
                            out.events.push(Event::Malformed);
                            return out;
                        }
                        if piece.sender_instance == self.config.our_instance {
                            out.events.push(Event::Reflected);
                            return out;
                        }
                        match self.child(piece.sender_instance, env.now) {
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
        if policy.has(Policy::SEND_WHITESPACE_TAG) {
            match &incoming {
                Incoming::Plaintext { tag: None, .. } => {
                    if self.offer == Offer::Sent {
                        self.offer = Offer::Rejected;
                    }
                }
                _ => self.offer = Offer::Accepted,
            }
        }
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

    /// Starts an AKE from the master context: a v3 commit is addressed to every instance of
    /// the buddy (receiver tag 0), whichever answers first gets the session.
    fn start_ake(&mut self, env: &mut Env<'_>, version: ProtocolVersion, out: &mut Outcome) {
        let commit = self.master.ake.start(env.rng, version, env.now);
        self.master.ake_activity = env.now;
        out.to_send
            .extend(self.encode(version, 0, Message::DhCommit(commit)));
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
        if self.any_private() || policy.has(Policy::REQUIRE_ENCRYPTION) {
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
        // libotr re-sends the last message after the next AKE; we do too, but only to the key
        // it was sent to (see flush_held).
        let current = match &self.inst_ref(self.best()).msg {
            MsgState::Encrypted(p) => Some(p.fingerprint),
            _ => None,
        };
        if let Some(last) = self.last_sent.take() {
            if current == Some(last.fingerprint)
                && env.now.saturating_sub(last.at) <= RESEND_WINDOW_SECS
            {
                self.resend = Some(Held {
                    text: last.text,
                    intended: Some(last.fingerprint),
                });
            }
        }
    }

    /// The child for `tag`, created if new. `None` when the table is full of private
    /// instances.
    fn child(&mut self, tag: u32, now: u64) -> Option<(Slot, bool)> {
        if let Some(i) = self.children.iter().position(|c| c.tag == tag) {
            return Some((Slot::Child(i), false));
        }
        if self.children.len() >= MAX_INSTANCES {
            let victim = self
                .children
                .iter()
                .enumerate()
                .filter(|(_, c)| !matches!(c.msg, MsgState::Encrypted(_)))
                .min_by_key(|(_, c)| c.last_received)
                .map(|(i, _)| i)?;
            self.children.swap_remove(victim);
        }
        let mut child = Instance::new(tag);
        child.last_received = now;
        child.ake_activity = now;
        if matches!(self.master.msg, MsgState::Finished) {
            child.msg = MsgState::Finished;
        }
        self.children.push(child);
        Some((Slot::Child(self.children.len() - 1), true))
    }

    fn receive_encoded(&mut self, env: &mut Env<'_>, bytes: &[u8], out: &mut Outcome) {
        let message = match EncodedMessage::decode(bytes) {
            Ok(m) => m,
            Err(_) => {
                out.events.push(Event::Malformed);
                // An unparseable data message in a private conversation gets an error, as in
                // libotr; a broken AKE message is just ignored.
                let is_data = bytes.get(2) == Some(&DATA);
                let ignorable = super::wire::messages::peek_data_flags(bytes)
                    .is_some_and(|f| f & IGNORE_UNREADABLE != 0);
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
                let ours = self.config.our_instance;
                let for_us = header.receiver_instance == ours
                    || (message_type == DH_COMMIT && header.receiver_instance == 0);
                if !for_us {
                    out.events.push(Event::ForOtherInstance);
                    return;
                }
                if !is_valid_instance_tag(header.sender_instance) {
                    out.events.push(Event::Malformed);
                    return;
                }
                if header.sender_instance == ours {
                    // Our own instance tag as sender: our messages are coming back to us.
                    out.events.push(Event::Reflected);
                    return;
                }
                let Some((slot, created)) = self.child(header.sender_instance, env.now) else {
                    return;
                };
                let master_waiting = self.master.ake.awaiting_dh_key();
                let dh_key = match &message.message {
                    Message::DhKey(k) => Some(k.gy.as_slice()),
                    _ => None,
                };
                let taken = matches!(
                    (&self.inst_ref(slot).took_commit, self.master.ake.our_commit_hash(), dh_key),
                    (Some((commit, gy)), Some(ours), Some(theirs))
                        if commit.as_slice() == ours && gy.as_slice() == theirs
                );
                if message_type == DH_KEY
                    && master_waiting
                    && !taken
                    && !self.inst_ref(slot).ake.awaiting_dh_key()
                {
                    // One of the buddy's instances answers the commit we sent to all of them.
                    // If that instance's own commit crossed ours and we already answered it,
                    // libotr switches to our commit regardless, and so would the peer: both
                    // then wait for a Signature forever. The higher commit hash keeps the
                    // initiator's role (the spec's collision rule), but also keeps the
                    // exchange it answered, so a libotr peer (which always switches) still
                    // completes through it; the lower one stays responder.
                    let ours = self.master.ake.our_commit_hash().map(<[u8]>::to_vec);
                    let crossed = self
                        .inst_ref(slot)
                        .ake
                        .their_commit_hash()
                        .map(<[u8]>::to_vec);
                    if let (Some(ours), Some(theirs)) = (&ours, &crossed) {
                        if ours <= theirs {
                            out.events.push(Event::AkeIgnored {
                                reason: "crossed commits: staying responder",
                            });
                            return;
                        }
                    }
                    if let Some(ake) = self.master.ake.copy_pending_commit() {
                        let inst = self.inst(slot);
                        // The exchange is alive from now on, even if answering this DH-Key
                        // must wait for our key: a stale timestamp would let `poll` drop it.
                        inst.ake_activity = env.now;
                        let previous = std::mem::replace(&mut inst.ake, ake);
                        inst.crossed_ake = crossed.map(|_| previous);
                        inst.took_commit = ours.zip(dh_key.map(<[u8]>::to_vec));
                    }
                } else if created && message_type != DH_COMMIT {
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
            Message::DhCommit(commit) => {
                let is_master = slot == Slot::Master;
                let inst = self.inst(slot);
                inst.ake_activity = env.now;
                let tag = inst.tag;
                match inst
                    .ake
                    .handle_dh_commit(env.rng, version, &commit, is_master)
                {
                    Ok(CommitReply::DhKey(key)) => {
                        out.to_send
                            .extend(self.encode(version, tag, Message::DhKey(key)))
                    }
                    Ok(CommitReply::DhCommit(c)) => {
                        out.to_send
                            .extend(self.encode(version, tag, Message::DhCommit(c)))
                    }
                    Err(e) => ake_ignored(e, out),
                }
            }
            Message::DhKey(key) => {
                let Some(our_key) = env.our_key else {
                    out.events.push(Event::PrivateKeyNeeded);
                    return;
                };
                let inst = self.inst(slot);
                inst.ake_activity = env.now;
                let tag = inst.tag;
                match inst.ake.handle_dh_key(env.rng, version, &key, our_key) {
                    Ok(reveal) => out.to_send.extend(self.encode(
                        version,
                        tag,
                        Message::RevealSignature(reveal),
                    )),
                    Err(e) => ake_ignored(e, out),
                }
            }
            Message::RevealSignature(reveal) => {
                let Some(our_key) = env.our_key else {
                    out.events.push(Event::PrivateKeyNeeded);
                    return;
                };
                let inst = self.inst(slot);
                inst.ake_activity = env.now;
                let tag = inst.tag;
                // A Reveal Signature for the exchange we answered before commits crossed.
                let ake = match inst.crossed_ake.as_mut() {
                    Some(crossed) if !inst.ake.their_commit_hash().is_some() => crossed,
                    _ => &mut inst.ake,
                };
                match ake.handle_reveal_signature(env.rng, version, &reveal, our_key) {
                    Ok((signature, success)) => {
                        out.to_send.extend(self.encode(
                            version,
                            tag,
                            Message::Signature(signature),
                        ));
                        self.go_secure(env, slot, success, out);
                    }
                    Err(e) => ake_ignored(e, out),
                }
            }
            Message::Signature(signature) => {
                let inst = self.inst(slot);
                inst.ake_activity = env.now;
                match inst.ake.handle_signature(version, &signature) {
                    Ok(success) => self.go_secure(env, slot, success, out),
                    Err(e) => ake_ignored(e, out),
                }
            }
            Message::Data(data) => self.receive_data(env, slot, &header, &data, out),
        }
    }

    fn go_secure(&mut self, env: &mut Env<'_>, slot: Slot, success: AkeSuccess, out: &mut Outcome) {
        let fingerprint = success.their_long_term.fingerprint();
        let inst = self.inst(slot);
        let tag = inst.tag;
        inst.ake.reset();
        inst.crossed_ake = None;
        let was_private_with_same_key =
            matches!(&inst.msg, MsgState::Encrypted(p) if p.fingerprint == fingerprint);
        if let MsgState::Encrypted(p) = &inst.msg {
            if p.fingerprint == fingerprint
                && p.ratchet.same_as_ake(
                    success.our_dh.public(),
                    success.our_keyid,
                    &success.their_public,
                    success.their_keyid,
                )
            {
                // The same exchange again (a replay, or a retransmission): nothing changes.
                out.events.push(Event::Refreshed {
                    instance: tag,
                    fingerprint,
                });
                return;
            }
        }
        let ratchet = KeyRatchet::after_ake(
            env.rng,
            success.our_dh,
            success.our_keyid,
            success.their_public,
            success.their_keyid,
        );
        inst.msg = MsgState::Encrypted(Box::new(Private {
            version: success.version,
            ratchet,
            their_long_term: success.their_long_term,
            fingerprint,
            ssid: success.ssid,
            ssid_first_half_bold: success.ssid_first_half_bold,
            last_sent: env.now,
        }));
        inst.smp = Smp::new();
        self.asked_at = None;
        out.events.push(if was_private_with_same_key {
            Event::Refreshed {
                instance: tag,
                fingerprint,
            }
        } else {
            Event::GoneSecure {
                instance: tag,
                fingerprint,
                version: success.version,
                ssid: success.ssid,
                ssid_first_half_bold: success.ssid_first_half_bold,
            }
        });
        self.flush_held(slot, env.now, fingerprint, out);
    }

    fn receive_data(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        header: &Header,
        data: &DataMessage,
        out: &mut Outcome,
    ) {
        let ignorable = data.flags & IGNORE_UNREADABLE != 0;
        let other_private = self
            .slots()
            .any(|s| s != slot && matches!(self.inst_ref(s).msg, MsgState::Encrypted(_)));
        let inst = self.inst(slot);
        let tag = inst.tag;
        let MsgState::Encrypted(p) = &mut inst.msg else {
            // libotr sends no error here: the message may be for another v2 instance.
            if !ignorable {
                out.events.push(if other_private {
                    Event::ForOtherInstance
                } else {
                    Event::NotInPrivate
                });
            }
            return;
        };
        let opened = if p.version == header.version {
            data::open(&mut p.ratchet, env.rng, header, data).ok()
        } else {
            None
        };
        let Some(opened) = opened else {
            if !ignorable {
                out.events.push(Event::Unreadable { instance: tag });
                out.to_send.push(envelope::error_message(ERROR_UNREADABLE));
            }
            return;
        };
        let last_sent = p.last_sent;
        let (text, tlvs) = tlv::split_plaintext(&opened.plaintext);
        let mut text = Zeroizing::new(text);
        let mut replies = Vec::new();
        let mut finished = false;
        for t in &tlvs {
            match t.kind {
                tlv::DISCONNECTED => finished = true,
                tlv::SMP1 | tlv::SMP1Q | tlv::SMP2 | tlv::SMP3 | tlv::SMP4 | tlv::SMP_ABORT => {
                    let outcome = inst.smp.handle(env.rng, t);
                    replies.extend(outcome.reply);
                    if let Some(event) = outcome.event {
                        out.events.push(Event::Smp {
                            instance: tag,
                            event,
                            trust: outcome.trust,
                            we_initiated: outcome.we_initiated,
                            question: outcome.question,
                        });
                    }
                }
                tlv::SYMKEY => {
                    if let (Some(usage), Some(usage_data)) = (t.value.get(..4), t.value.get(4..)) {
                        let mut u = [0u8; 4];
                        u.copy_from_slice(usage);
                        out.events.push(Event::SymmetricKey {
                            instance: tag,
                            usage: u32::from_be_bytes(u),
                            usage_data: Redacted(usage_data.to_vec()),
                            key: Redacted(*opened.extra_key),
                        });
                    }
                }
                _ => {}
            }
        }
        if !replies.is_empty() {
            // An SMP reply can only fail to go out if we are no longer private.
            let _ = self.send_tlvs(slot, env.now, &replies, out);
        }
        if text.is_empty() {
            out.events.push(Event::HeartbeatReceived);
        } else {
            out.display = Some(Received {
                // Valid UTF-8 (nearly always) moves into the event without another copy.
                text: Redacted(match String::from_utf8(std::mem::take(&mut *text)) {
                    Ok(s) => s,
                    Err(e) => {
                        let bytes = Zeroizing::new(e.into_bytes());
                        String::from_utf8_lossy(&bytes).into_owned()
                    }
                }),
                encrypted: true,
                instance: tag,
            });
            if !finished
                && env.now.saturating_sub(last_sent) >= HEARTBEAT_SECS
                && self.send_tlvs(slot, env.now, &[], out).is_ok()
            {
                out.events.push(Event::HeartbeatSent);
            }
        }
        if finished {
            let inst = self.inst(slot);
            inst.msg = MsgState::Finished;
            inst.smp = Smp::new();
            out.events.push(Event::PeerEnded { instance: tag });
        }
    }
}

fn ake_ignored(e: AkeError, out: &mut Outcome) {
    out.events.push(if e == AkeError::Reflected {
        Event::Reflected
    } else {
        Event::AkeIgnored {
            reason: ake_error_name(e),
        }
    });
}

fn ake_error_name(e: AkeError) -> &'static str {
    match e {
        AkeError::WrongState => "message not expected in this AKE state",
        AkeError::VersionMismatch => "protocol version differs from the exchange in progress",
        AkeError::Malformed => "malformed AKE message",
        AkeError::BadCommitment => "revealed key does not match the commitment",
        AkeError::BadGroupElement => "DH value out of range",
        AkeError::BadMac => "AKE MAC does not verify",
        AkeError::BadSignature => "AKE signature does not verify",
        AkeError::Reflected => "our own AKE message reflected back",
    }
}
