//! The direct start between pinned peers (docs/modern-suite.md §15): when the host pinned the
//! buddy's identity, starting a private conversation sends MODERN_DIRECT_INIT instead of a
//! v3 query, and the hybrid handshake runs without a v3 session (no DSA, no 1536-bit DH):
//!
//! ```text
//! initiator                                   responder (holds a pin for the initiator)
//! start() ── DIRECT_INIT (receiver 0) ──▶     pin found, ours named → answers
//!         ◀──────── RESPONSE ─────────        (Answered, kept on the instance)
//! Active  ───────── CONFIRM ──────────▶       Active (or on the initiator's first DATA)
//! ```
//! No answer within [`DIRECT_TIMEOUT_SECS`] (a libotr peer, no pin, suite off, a changed
//! identity, a lost message): the initiator sends the v3 query it would have sent, and the
//! conversation goes the v3 way (AKE, then the upgrade of `upgrade`). Messages typed
//! meanwhile are held like during any start and go out on whichever private session comes
//! up first; nothing is ever sent in the clear because of a direct start. A responder that
//! does not answer says nothing to its user (a debug event only).

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::events::{Event, Suite};
use crate::otr::modern::handshake::{
    self, DirectParams, InitiatorAwaitingResponse, ResponderAwaitingConfirm,
};
use crate::otr::modern::ratchet::Ratchet;
use crate::otr::modern::wire::{DirectInit, Instances, ModernMessage};
use crate::otr::modern::ModernError;
use crate::otr::smp::Smp;
use crate::otr::wire::messages::ProtocolVersion;

use super::upgrade::{Opened, Upgrade, UPGRADE_TIMEOUT_SECS};
use super::{Env, MsgState, Outcome, Private, Session, Slot};

/// A direct start without an answer for this long falls back to the v3 query. Short: the
/// answer is one message away, and what the user typed waits for it.
pub const DIRECT_TIMEOUT_SECS: u64 = 10;

/// Pins kept per session (a buddy with several computers has one per v3 key).
pub const MAX_PINNED_PEERS: usize = 16;

/// Ephemeral keys of answered direct starts remembered, so a replayed one is not answered.
const MAX_SEEN: usize = 32;

/// A buddy's identity the host pinned (docs/modern-suite.md §8.2): the identity public key
/// and the buddy's v3 fingerprint it was learned with (and verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedPeer {
    /// The buddy's X25519 identity public key.
    pub identity: [u8; 32],
    /// The buddy's OTR v3 fingerprint the identity was pinned with.
    pub fingerprint: Fingerprint,
}

/// Our direct start, waiting for the answer.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub(super) struct Attempt {
    state: Box<InitiatorAwaitingResponse>,
    since: u64,
    peer: PinnedPeer,
}

/// The peer's direct start we answered, until it confirms.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub(super) struct Answered {
    state: Box<ResponderAwaitingConfirm>,
    since: u64,
    peer: PinnedPeer,
}

impl Session {
    /// The buddy's identities the host pinned (docs/modern-suite.md §8.2), newest first; at
    /// most [`MAX_PINNED_PEERS`] are kept. With one, [`Session::start`] tries the direct
    /// start (with the first) and a direct start from the buddy is answered (with the one
    /// it names). An empty list turns both off.
    pub fn set_pinned_peers(&mut self, mut pins: Vec<PinnedPeer>) {
        pins.truncate(MAX_PINNED_PEERS);
        self.pinned = pins;
    }

    /// The pins the host gave.
    pub fn pinned_peers(&self) -> &[PinnedPeer] {
        &self.pinned
    }

    /// Whether our direct start is waiting for an answer.
    pub fn direct_pending(&self) -> bool {
        self.direct.is_some()
    }

    /// What starting a private conversation sends: a direct start to a pinned buddy when
    /// nothing is private yet (docs/modern-suite.md §15.1), else the v3 query.
    pub(super) fn opening(&mut self, env: &mut Env<'_>) -> Vec<String> {
        let private = self
            .slots()
            .any(|s| matches!(self.inst_ref(s).msg, MsgState::Encrypted(_)));
        let ready =
            self.modern_ready() && !private && self.config.policy.allows(ProtocolVersion::V3);
        let (Some(peer), Some(our_key), Some(identity), true) = (
            self.pinned.first().copied(),
            env.our_key,
            self.modern_identity.clone(),
            ready,
        ) else {
            return vec![self.query_message()];
        };
        // To the buddy's instance we last heard from authentically, if any: libotr 4.1.1
        // takes a non-commit message addressed to every instance (0) for one meant for
        // another session and pidgin-otr says so, while one addressed to its own tag is an
        // unrecognised message it only logs (docs/modern-suite.md §15.5).
        let receiver = self
            .slots()
            .map(|s| self.inst_ref(s))
            .filter(|i| i.tag != 0 && i.last_authenticated > 0)
            .max_by_key(|i| i.last_authenticated)
            .map_or(0, |i| i.tag);
        let params = DirectParams {
            our_identity: identity,
            their_identity: peer.identity,
            initiator_fingerprint: our_key.public().fingerprint().0,
            responder_fingerprint: peer.fingerprint.0,
            instances: Instances {
                sender: self.config.our_instance,
                receiver,
            },
        };
        let (state, init) = handshake::start_direct(&mut env.rng, params);
        self.direct = Some(Attempt {
            state: Box::new(state),
            since: env.now,
            peer,
        });
        self.modern_wire(receiver, &init.encode())
    }

    /// A direct handshake's message, or a message a direct handshake waits for. Returns
    /// whether it was taken; if not, the upgrade path (`upgrade`) reads it.
    pub(super) fn receive_direct(
        &mut self,
        env: &mut Env<'_>,
        message: &ModernMessage,
        out: &mut Outcome,
    ) -> bool {
        match message {
            ModernMessage::DirectInit(init) => {
                self.direct_init(env, init, out);
                true
            }
            ModernMessage::Response(response) => {
                // Ours only while we wait, and never a response to a running upgrade.
                if self.direct.is_none() || self.upgrade_running(response.instances.sender) {
                    return false;
                }
                let tags = response.instances;
                let Some((slot, _)) = self.admit(tags.sender, tags.receiver, false, env.now, out)
                else {
                    return true;
                };
                let Some(attempt) = self.direct.take() else {
                    return true;
                };
                match attempt.state.receive_response(response) {
                    Ok((ratchet, confirm)) => {
                        let tag = self.inst_ref(slot).tag;
                        out.to_send.extend(self.modern_wire(tag, &confirm.encode()));
                        self.go_direct(env, slot, ratchet, attempt.peer, out);
                    }
                    Err(f) => {
                        // Keep waiting for the genuine answer (a forgery cannot end it).
                        self.direct = Some(Attempt {
                            state: f.state,
                            ..attempt
                        });
                        out.events.push(Event::ModernIgnored { reason: f.error });
                    }
                }
                true
            }
            ModernMessage::Confirm(confirm) => {
                let tags = confirm.instances;
                let Some(slot) = self.answered_slot(tags.sender, tags.receiver) else {
                    return false;
                };
                let Some(answered) = self.inst(slot).direct.take() else {
                    return false;
                };
                match answered.state.receive_confirm(confirm) {
                    Ok(ratchet) => {
                        self.go_direct(env, slot, ratchet, answered.peer, out);
                        true
                    }
                    Err(f) => {
                        self.inst(slot).direct = Some(Answered {
                            state: f.state,
                            ..answered
                        });
                        self.direct_refused(slot, f.error, out)
                    }
                }
            }
            ModernMessage::Data(data) => {
                let tags = data.instances;
                let Some(slot) = self.answered_slot(tags.sender, tags.receiver) else {
                    return false;
                };
                let Some(answered) = self.inst(slot).direct.take() else {
                    return false;
                };
                // The initiator's data confirms as well (its CONFIRM was lost or overtaken).
                match answered.state.receive_data(&mut env.rng, data) {
                    Ok((ratchet, received)) => {
                        self.go_direct(env, slot, ratchet, answered.peer, out);
                        let last_sent = env.now;
                        self.deliver_opened(
                            env,
                            slot,
                            &received.plaintext,
                            Opened::Modern,
                            last_sent,
                            out,
                        );
                        true
                    }
                    Err(f) => {
                        self.inst(slot).direct = Some(Answered {
                            state: f.state,
                            ..answered
                        });
                        // A private instance may still read it with its own keys.
                        if matches!(self.inst_ref(slot).msg, MsgState::Encrypted(_)) {
                            return false;
                        }
                        out.events.push(Event::ModernIgnored { reason: f.error });
                        true
                    }
                }
            }
            ModernMessage::Init(_) => false,
        }
    }

    /// A refused CONFIRM for a direct start we answered: a private instance may still take
    /// it (an upgrade of its own), else it is ignored here.
    fn direct_refused(&mut self, slot: Slot, error: ModernError, out: &mut Outcome) -> bool {
        if matches!(self.inst_ref(slot).msg, MsgState::Encrypted(_)) {
            return false;
        }
        out.events.push(Event::ModernIgnored { reason: error });
        true
    }

    /// The instance from `sender` with an answered direct start, if the message is for us.
    fn answered_slot(&self, sender: u32, receiver: u32) -> Option<Slot> {
        if receiver != self.config.our_instance {
            return None;
        }
        self.slots()
            .find(|&s| self.inst_ref(s).tag == sender && self.inst_ref(s).direct.is_some())
    }

    /// Whether the instance `tag` is private and its own upgrade waits for a RESPONSE.
    fn upgrade_running(&self, tag: u32) -> bool {
        self.slots().any(|s| {
            let i = self.inst_ref(s);
            i.tag == tag && matches!(&i.msg, MsgState::Encrypted(p) if p.modern.awaits_response())
        })
    }

    /// The peer's MODERN_DIRECT_INIT: answered when we have the suite on, an identity, our
    /// v3 key, and a pin for the initiator that matches what it names (docs/modern-suite.md
    /// §15.3); otherwise ignored with a debug event only, and the peer falls back to v3.
    fn direct_init(&mut self, env: &mut Env<'_>, init: &DirectInit, out: &mut Outcome) {
        let tags = init.instances;
        let Some((slot, _)) = self.admit(tags.sender, tags.receiver, true, env.now, out) else {
            return;
        };
        let ignored = |out: &mut Outcome, reason| out.events.push(Event::ModernIgnored { reason });
        let (Some(identity), Some(our_key), true) = (
            self.modern_identity.clone(),
            env.our_key,
            self.modern && !self.pinned.is_empty(),
        ) else {
            return ignored(out, ModernError::UnexpectedMessage);
        };
        let our_fingerprint = our_key.public().fingerprint();
        let peer = self
            .pinned
            .iter()
            .find(|p| p.fingerprint.0 == init.initiator_fingerprint)
            .copied();
        let Some(peer) = peer.filter(|p| {
            p.identity == init.initiator_identity
                && init.responder_fingerprint == our_fingerprint.0
                && init.responder_identity == *identity.public()
        }) else {
            // A pin for another identity or key, or ours is not the one named: refused. The
            // peer falls back to v3, where a changed identity gets the client's warning.
            return ignored(out, ModernError::UnexpectedIdentity);
        };
        // Both started at once: the smaller instance tag's start goes on (as in §5.3).
        if self.direct.is_some() {
            if self.config.our_instance < tags.sender {
                return ignored(out, ModernError::UnexpectedMessage);
            }
            self.direct = None;
        }
        if self.direct_seen.contains(&init.ephemeral) {
            return ignored(out, ModernError::NoKey);
        }
        let tag = tags.sender;
        let params = DirectParams {
            our_identity: identity,
            their_identity: peer.identity,
            initiator_fingerprint: peer.fingerprint.0,
            responder_fingerprint: our_fingerprint.0,
            instances: Instances {
                sender: self.config.our_instance,
                receiver: tag,
            },
        };
        match handshake::respond_direct(&mut env.rng, params, init) {
            Ok((state, response)) => {
                if self.direct_seen.len() >= MAX_SEEN {
                    self.direct_seen.pop_front();
                }
                self.direct_seen.push_back(init.ephemeral);
                let inst = self.inst(slot);
                inst.last_received = env.now;
                inst.direct = Some(Answered {
                    state: Box::new(state),
                    since: env.now,
                    peer,
                });
                out.to_send
                    .extend(self.modern_wire(tag, &response.encode()));
            }
            Err(reason) => ignored(out, reason),
        }
    }

    /// The direct handshake completed on `slot`: the instance is private on the modern
    /// suite, its v3 fingerprint the pinned one, and what waited goes out.
    fn go_direct(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        ratchet: Ratchet,
        peer: PinnedPeer,
        out: &mut Outcome,
    ) {
        // No v3 ssid: the first 8 bytes of TH stand in for it (SMP's input, the status).
        let mut ssid = [0u8; 8];
        ssid.copy_from_slice(&ratchet.transcript_hash()[..8]);
        let fingerprint = peer.fingerprint;
        let inst = self.inst(slot);
        let tag = inst.tag;
        inst.direct = None;
        inst.last_authenticated = env.now;
        inst.msg = MsgState::Encrypted(Box::new(Private {
            version: ProtocolVersion::V3,
            ratchet: None,
            their_long_term: None,
            fingerprint,
            ssid,
            ssid_first_half_bold: false,
            last_sent: env.now,
            modern: Upgrade::direct(ratchet, peer.identity),
        }));
        inst.smp = Smp::new();
        self.direct = None;
        self.asked_at = None;
        self.guard.went_private(fingerprint);
        out.events.push(Event::GoneSecure {
            instance: tag,
            fingerprint,
            version: ProtocolVersion::V3,
            ssid,
            ssid_first_half_bold: false,
        });
        out.events.push(Event::Upgraded {
            instance: tag,
            suite: Suite::Modern,
        });
        self.flush_held(slot, env.now, fingerprint, out);
    }

    /// Timeouts: our start without an answer falls back to the v3 query (docs/modern-suite.md
    /// §15.4); a start we answered and that was never confirmed is forgotten.
    pub(super) fn expire_direct(&mut self, env: &mut Env<'_>, out: &mut Outcome) {
        let now = env.now;
        if self
            .direct
            .as_ref()
            .is_some_and(|a| now > a.since.saturating_add(DIRECT_TIMEOUT_SECS))
        {
            self.direct = None;
            out.events.push(Event::DirectFallback);
            // The user asked for privacy: ask the v3 way, and what waits keeps waiting.
            let private = self
                .slots()
                .any(|s| matches!(self.inst_ref(s).msg, MsgState::Encrypted(_)));
            if !private {
                out.to_send.push(self.query_message());
                self.asked_at = Some(now);
            }
        }
        for slot in self.slots().collect::<Vec<_>>() {
            let inst = self.inst(slot);
            if inst
                .direct
                .as_ref()
                .is_some_and(|a| now > a.since.saturating_add(UPGRADE_TIMEOUT_SECS))
            {
                inst.direct = None;
            }
        }
    }

    /// The earliest direct-start deadline, for [`Session::next_timeout`].
    pub(super) fn next_direct_deadline(&self) -> Option<u64> {
        let answered = self.slots().filter_map(|s| {
            self.inst_ref(s)
                .direct
                .as_ref()
                .map(|a| a.since.saturating_add(UPGRADE_TIMEOUT_SECS))
        });
        self.direct
            .as_ref()
            .map(|a| a.since.saturating_add(DIRECT_TIMEOUT_SECS))
            .into_iter()
            .chain(answered)
            .min()
    }

    /// The user ended the conversation: no direct start goes on.
    pub(super) fn end_direct(&mut self) {
        self.direct = None;
        for slot in self.slots().collect::<Vec<_>>() {
            self.inst(slot).direct = None;
        }
    }
}
