//! The switch from OTR v3 to the modern suite between two purple-otr users
//! (docs/modern-suite.md §4, §5, §13 "Integration").
//!
//! ```text
//! v3 private ──announce (TLV 0x5051, in v3 data)──▶  both announced
//!   smaller instance tag: INIT ──▶ ◀── RESPONSE ── CONFIRM ──▶   Active (ratchet)
//!   larger instance tag:  waits for INIT, answers; Active on CONFIRM or the first DATA
//! ```
//! Until an instance is Active, everything it sends goes on v3 (a message typed during the
//! upgrade is never held for it). v3 data messages from the peer are read until the peer's
//! first modern data message authenticates; after that they are ignored with an event. Any
//! failure (a refused message, a timeout) leaves the instance private on v3 with an event:
//! never plain text, and no message waits on the upgrade, so none can be lost by it.

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::events::{Event, Suite, UpgradeFailure};
use crate::otr::modern::handshake::{
    self, HandshakeParams, InitiatorAwaitingResponse, ResponderAwaitingConfirm,
};
use crate::otr::modern::identity::IdentityKey;
use crate::otr::modern::prims::{sha256, Secret32};
use crate::otr::modern::ratchet::Ratchet;
use crate::otr::modern::wire::{Announce, Instances, ModernMessage, TLV_MODERN_ANNOUNCE};
use crate::otr::modern::{we_initiate, ModernError, V3Binding, SUITE_V1};
use crate::otr::wire::envelope;
use crate::otr::wire::messages::ProtocolVersion;
use crate::otr::wire::tlv::{Tlv, TlvType};

use super::{Env, MsgState, Outcome, Session, Slot, ERROR_UNREADABLE};

/// A handshake with no progress for this long is abandoned (the INIT or RESPONSE was lost,
/// or the peer stopped answering); the instance stays on v3.
pub const UPGRADE_TIMEOUT_SECS: u64 = 60;

/// The discovery TLV (docs/modern-suite.md §4), as the v3 TLV code spells types.
pub(super) const ANNOUNCE_TLV: TlvType = TlvType(TLV_MODERN_ANNOUNCE);

/// Which suite opened a data message: v3 (with its extra symmetric key) or the modern one.
#[derive(Clone, Copy)]
pub(super) enum Opened {
    V3 { extra_key: [u8; 32] },
    Modern,
}

/// The label of the SMP secret's binding to a modern session (docs/modern-suite.md §13 "SMP").
const SMP_SECRET_LABEL: &[u8] = b"purple-otr modern v1 smp secret";

/// The secret an SMP exchange bound to the modern session with transcript hash `th` puts in
/// place of the user's: `SHA256("purple-otr modern v1 smp secret" ‖ TH ‖ secret)`. SMP then
/// hashes it with the v3 fingerprints and `ssid` as always (the exchange itself is v3's).
pub(super) fn modern_smp_secret(th: &[u8; 32], secret: &[u8]) -> Secret32 {
    Secret32::new(sha256(&[SMP_SECRET_LABEL, th, secret]))
}

/// Where one private instance is on the way to the modern suite.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub(super) enum Phase {
    /// The suite is off for this session (setting off, or an OTR v2 session): v3 only.
    Off,
    /// We announced; the peer has not (a libotr peer never will).
    Announced,
    /// Both announced; the peer (smaller instance tag) is to send INIT.
    AwaitingInit { since: u64 },
    /// We sent INIT.
    Initiating {
        state: Box<InitiatorAwaitingResponse>,
        since: u64,
    },
    /// We answered INIT; we keep sending on v3 until the initiator confirms. `timed_out`:
    /// the failure was reported, but the state stays to read the initiator's data.
    Responding {
        state: Box<ResponderAwaitingConfirm>,
        since: u64,
        timed_out: bool,
    },
    /// Our messages go through the ratchet.
    Active(Box<Ratchet>),
    /// The upgrade failed for this v3 session; v3 stays until the next AKE.
    Failed,
}

/// The modern-suite side of one private instance.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub(super) struct Upgrade {
    /// `K_v3` of the v3 AKE (docs/modern-suite.md §5.1); `None` when the suite is off.
    v3_key: Option<Secret32>,
    /// The identity key the peer announced in this v3 session.
    their_identity: Option<[u8; 32]>,
    pub(super) phase: Phase,
    /// A modern data message from the peer authenticated: it has switched, so v3 data
    /// messages from it are no longer read.
    pub(super) peer_switched: bool,
    /// The binding of the SMP exchange the peer started and we have not answered yet: the
    /// transcript hash when its SMP1 came in a modern data message, `None` when it came on
    /// v3 (docs/modern-suite.md §13 "SMP": an exchange keeps the binding of its SMP1).
    pub(super) smp_peer_binding: Option<[u8; 32]>,
}

impl Upgrade {
    pub(super) fn off() -> Self {
        Upgrade {
            v3_key: None,
            their_identity: None,
            phase: Phase::Off,
            peer_switched: false,
            smp_peer_binding: None,
        }
    }

    pub(super) fn announced(v3_key: Secret32) -> Self {
        Upgrade {
            v3_key: Some(v3_key),
            their_identity: None,
            phase: Phase::Announced,
            peer_switched: false,
            smp_peer_binding: None,
        }
    }

    /// An instance that started directly on the modern suite between pinned peers (see
    /// `direct`): Active from the start, with the pinned identity, and no `K_v3`.
    pub(super) fn direct(ratchet: Ratchet, their_identity: [u8; 32]) -> Self {
        Upgrade {
            v3_key: None,
            their_identity: Some(their_identity),
            phase: Phase::Active(Box::new(ratchet)),
            peer_switched: false,
            smp_peer_binding: None,
        }
    }

    /// The upgrade is over (Active or Failed): `K_v3` is no longer needed, so it goes.
    fn settle(&mut self, phase: Phase) {
        self.phase = phase;
        self.v3_key = None;
    }

    /// The identity public key the peer announced in this v3 session (the one its
    /// handshake runs with), once its announcement arrived.
    pub(super) fn their_identity(&self) -> Option<[u8; 32]> {
        self.their_identity
    }

    /// The suite our messages use now.
    pub(super) fn suite(&self) -> Suite {
        match self.phase {
            Phase::Active(_) => Suite::Modern,
            _ => Suite::Otr,
        }
    }

    /// The transcript hash `TH` of the modern session, once Active: what an SMP exchange
    /// whose SMP1 travels in modern data is bound to.
    pub(super) fn transcript_hash(&self) -> Option<[u8; 32]> {
        match &self.phase {
            Phase::Active(r) => Some(*r.transcript_hash()),
            _ => None,
        }
    }

    pub(super) fn ratchet(&mut self) -> Option<&mut Ratchet> {
        match &mut self.phase {
            Phase::Active(r) => Some(r),
            _ => None,
        }
    }

    /// We sent INIT and wait for the RESPONSE.
    pub(super) fn awaits_response(&self) -> bool {
        matches!(self.phase, Phase::Initiating { .. })
    }

    /// When the running handshake times out, if one runs.
    fn deadline(&self) -> Option<u64> {
        match self.phase {
            Phase::AwaitingInit { since }
            | Phase::Initiating { since, .. }
            | Phase::Responding {
                since,
                timed_out: false,
                ..
            } => Some(since.saturating_add(UPGRADE_TIMEOUT_SECS)),
            _ => None,
        }
    }
}

impl Session {
    /// Turns the upgrade to the modern suite on or off (default on). Takes effect for the
    /// next private conversation (announcements are sent when it starts); an upgrade that
    /// already happened stays.
    pub fn set_modern(&mut self, on: bool) {
        self.modern = on;
    }

    /// Whether the upgrade to the modern suite is on.
    pub fn modern(&self) -> bool {
        self.modern
    }

    /// The X25519 identity key to announce (the account's). The host owns key files, as for
    /// the DSA key: without an identity key the session never announces the suite and stays
    /// on v3 (so a bare engine behaves exactly like OTR v3).
    pub fn set_modern_identity(&mut self, key: IdentityKey) {
        self.modern_identity = Some(key);
    }

    /// The identity key announced in this session, if any yet.
    pub fn modern_identity(&self) -> Option<&IdentityKey> {
        self.modern_identity.as_ref()
    }

    /// The host found that the buddy's post-quantum identity (`Status::peer_identity`) is not
    /// the one it pinned for the key `fp` (docs/modern-suite.md §8): like a changed v3 key,
    /// nothing typed goes to `fp` until the user sends anyway ([`Session::send_held_anyway`])
    /// or verifies `fp` again ([`Session::set_trusted`]). The upgrade itself goes on: the
    /// conversation stays private either way, only sending waits.
    pub fn hold_for_new_identity(&mut self, fp: Fingerprint) {
        self.guard.doubt(fp);
    }

    /// Whether typed messages to `fp` wait because of [`Session::hold_for_new_identity`].
    pub fn holds_for_new_identity(&self, fp: &Fingerprint) -> bool {
        self.guard.is_doubted(fp)
    }

    /// Whether a new private conversation announces the suite.
    pub(super) fn modern_ready(&self) -> bool {
        self.modern && self.modern_identity.is_some()
    }

    /// Right after going private on v3 (`go_secure`): announce the suite, in a v3 data
    /// message the peer's libotr ignores (unknown TLV type, IGNORE_UNREADABLE).
    pub(super) fn announce_modern(&mut self, env: &mut Env<'_>, slot: Slot, out: &mut Outcome) {
        let Some(identity) = self.modern_identity.clone() else {
            return;
        };
        let announce = Announce {
            suites: vec![SUITE_V1],
            identity: *identity.public(),
        };
        let Some(tlv) = Tlv::new(ANNOUNCE_TLV, announce.encode()) else {
            return;
        };
        if self.send_tlvs(slot, env.now, &[tlv], out).is_err() {
            // Not private after all: nothing to upgrade.
            if let MsgState::Encrypted(p) = &mut self.inst(slot).msg {
                p.modern = Upgrade::off();
            }
        }
    }

    /// The peer's announcement arrived inside an authenticated v3 data message.
    pub(super) fn modern_announced(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        value: &[u8],
        out: &mut Outcome,
    ) {
        let Some(identity) = self.modern_identity.clone().filter(|_| self.modern) else {
            return;
        };
        let Ok(announce) = Announce::decode(value) else {
            out.events.push(Event::ModernIgnored {
                reason: ModernError::Decode(crate::otr::wire::DecodeError::BadValue),
            });
            return;
        };
        if !announce.suites.contains(&SUITE_V1) {
            return;
        }
        let our_instance = self.config.our_instance;
        let now = env.now;
        let our_fingerprint = match env.our_key {
            Some(k) => k.public().fingerprint(),
            None => return,
        };
        let inst = self.inst(slot);
        let tag = inst.tag;
        let MsgState::Encrypted(p) = &mut inst.msg else {
            return;
        };
        // Only the first announcement of a v3 session counts: a replay, or a second one with
        // another key, changes nothing (the handshake already runs with the first). The host
        // hears of it: between pinned peers it is a warning (docs/modern-suite.md §8).
        if p.version != ProtocolVersion::V3 {
            return;
        }
        if !matches!(p.modern.phase, Phase::Announced) {
            if !matches!(p.modern.phase, Phase::Off) {
                out.events.push(Event::ModernReannounced {
                    instance: tag,
                    identity_changed: p.modern.their_identity != Some(announce.identity),
                    after_upgrade: matches!(p.modern.phase, Phase::Active(_)),
                });
            }
            return;
        }
        let Some(v3_key) = p.modern.v3_key.clone() else {
            return;
        };
        p.modern.their_identity = Some(announce.identity);
        match we_initiate(our_instance, tag) {
            Some(true) => {
                let params = HandshakeParams {
                    our_identity: identity,
                    their_identity: announce.identity,
                    binding: V3Binding {
                        ssid: p.ssid,
                        v3_key,
                        initiator_fingerprint: our_fingerprint.0,
                        responder_fingerprint: p.fingerprint.0,
                    },
                    instances: Instances {
                        sender: our_instance,
                        receiver: tag,
                    },
                };
                let (state, init) = handshake::start(&mut env.rng, params);
                p.modern.phase = Phase::Initiating {
                    state: Box::new(state),
                    since: now,
                };
                let wire = self.modern_wire(tag, &init.encode());
                out.to_send.extend(wire);
            }
            Some(false) => p.modern.phase = Phase::AwaitingInit { since: now },
            None => {
                p.modern.settle(Phase::Failed);
                out.events.push(Event::UpgradeFailed {
                    instance: tag,
                    reason: UpgradeFailure::EqualInstanceTags,
                });
            }
        }
    }

    /// TEST ONLY: announces the suite again on every private v3 instance, as a peer that
    /// misbehaves (or someone holding the v3 session's keys) could; what the other side does
    /// with it is [`Event::ModernReannounced`].
    #[doc(hidden)]
    pub fn announce_modern_again_for_testing_only(&mut self, env: &mut Env<'_>) -> Outcome {
        let mut out = Outcome::default();
        for slot in self.slots().collect::<Vec<_>>() {
            if matches!(&self.inst_ref(slot).msg, MsgState::Encrypted(p)
                if p.version == ProtocolVersion::V3)
            {
                self.announce_modern(env, slot, &mut out);
            }
        }
        out
    }

    /// A modern message, already framed and fragmented like a v3 one.
    pub(super) fn modern_wire(&self, tag: u32, bytes: &[u8]) -> Vec<String> {
        self.fragments(ProtocolVersion::V3, tag, envelope::encode(bytes))
    }

    /// Seals with the ratchet when the instance in `slot` is Active. `None`: not Active
    /// (the caller seals on v3).
    pub(super) fn seal_modern(
        &mut self,
        slot: Slot,
        now: u64,
        ignore_unreadable: bool,
        plaintext: &[u8],
    ) -> Option<Result<Vec<String>, ModernError>> {
        let inst = self.inst(slot);
        let tag = inst.tag;
        let MsgState::Encrypted(p) = &mut inst.msg else {
            return None;
        };
        let ratchet = p.modern.ratchet()?;
        let data = match ratchet.encrypt(plaintext, ignore_unreadable) {
            Ok(d) => d,
            Err(e) => return Some(Err(e)),
        };
        p.last_sent = now;
        Some(Ok(self.modern_wire(tag, &data.encode())))
    }

    /// A decoded `?OTR:AAMw…z` payload (types 0x30–0x33).
    pub(super) fn receive_modern(&mut self, env: &mut Env<'_>, bytes: &[u8], out: &mut Outcome) {
        let message = match ModernMessage::decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                out.events.push(Event::Malformed);
                out.events.push(Event::ModernIgnored {
                    reason: ModernError::Decode(e),
                });
                return;
            }
        };
        // A direct start, or a message of a direct handshake (see `direct`).
        if self.receive_direct(env, &message, out) {
            return;
        }
        let readable_needed = matches!(&message, ModernMessage::Data(d) if !d.ignore_unreadable());
        let tags = message.instances();
        let Some((slot, created)) = self.admit(tags.sender, tags.receiver, false, env.now, out)
        else {
            return;
        };
        let enabled = self.modern;
        let private = matches!(&self.inst_ref(slot).msg, MsgState::Encrypted(p)
            if p.version == ProtocolVersion::V3);
        if created || !private {
            // Nothing to read it with; as for a v3 data message outside a private session.
            if readable_needed {
                out.events.push(Event::NotInPrivate);
            }
            return;
        }
        self.inst(slot).last_received = env.now;
        match message {
            ModernMessage::Init(init) if enabled => self.modern_init(env, slot, &init, out),
            ModernMessage::Init(_) => {}
            ModernMessage::Response(r) => self.modern_response(env, slot, &r, out),
            ModernMessage::Confirm(c) => self.modern_confirm(env, slot, &c, out),
            ModernMessage::Data(d) => self.modern_data(env, slot, &d, out),
            // Taken by `receive_direct`.
            ModernMessage::DirectInit(_) => {}
        }
    }

    fn modern_init(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        init: &crate::otr::modern::wire::Init,
        out: &mut Outcome,
    ) {
        let our_instance = self.config.our_instance;
        let now = env.now;
        let Some(our_fingerprint) = env.our_key.map(|k| k.public().fingerprint()) else {
            return;
        };
        let Some(identity) = self.modern_identity.clone() else {
            return;
        };
        let inst = self.inst(slot);
        let tag = inst.tag;
        let MsgState::Encrypted(p) = &mut inst.msg else {
            return;
        };
        let answer = match p.modern.phase {
            Phase::AwaitingInit { .. } | Phase::Responding { .. } => true,
            // Both sides initiating (cannot happen with §5.3): the larger tag gives way.
            Phase::Initiating { .. } => our_instance > tag,
            _ => false,
        };
        let (Some(their_identity), Some(v3_key), true) =
            (p.modern.their_identity, p.modern.v3_key.clone(), answer)
        else {
            out.events.push(Event::ModernIgnored {
                reason: ModernError::UnexpectedMessage,
            });
            return;
        };
        let params = HandshakeParams {
            our_identity: identity,
            their_identity,
            binding: V3Binding {
                ssid: p.ssid,
                v3_key,
                initiator_fingerprint: p.fingerprint.0,
                responder_fingerprint: our_fingerprint.0,
            },
            instances: Instances {
                sender: our_instance,
                receiver: tag,
            },
        };
        match handshake::respond(&mut env.rng, params, init) {
            Ok((state, response)) => {
                p.modern.phase = Phase::Responding {
                    state: Box::new(state),
                    since: now,
                    timed_out: false,
                };
                let wire = self.modern_wire(tag, &response.encode());
                out.to_send.extend(wire);
            }
            // Not answered; whatever ran before goes on (a forged INIT cannot end a real
            // handshake). The timeout reports the failure if nothing better comes.
            Err(reason) => out.events.push(Event::ModernIgnored { reason }),
        }
    }

    fn modern_response(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        response: &crate::otr::modern::wire::Response,
        out: &mut Outcome,
    ) {
        let inst = self.inst(slot);
        let tag = inst.tag;
        let MsgState::Encrypted(p) = &mut inst.msg else {
            return;
        };
        let Phase::Initiating { since, .. } = p.modern.phase else {
            out.events.push(Event::ModernIgnored {
                reason: ModernError::UnexpectedMessage,
            });
            return;
        };
        let Phase::Initiating { state, .. } = std::mem::replace(&mut p.modern.phase, Phase::Failed)
        else {
            return;
        };
        match state.receive_response(response) {
            Ok((ratchet, confirm)) => {
                p.modern.settle(Phase::Active(Box::new(ratchet)));
                inst.last_authenticated = env.now;
                let wire = self.modern_wire(tag, &confirm.encode());
                out.to_send.extend(wire);
                out.events.push(Event::Upgraded {
                    instance: tag,
                    suite: Suite::Modern,
                });
            }
            Err(f) => {
                // Keep waiting for the genuine RESPONSE (§11: BadMac keeps waiting).
                p.modern.phase = Phase::Initiating {
                    state: f.state,
                    since,
                };
                out.events.push(Event::ModernIgnored { reason: f.error });
            }
        }
    }

    fn modern_confirm(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        confirm: &crate::otr::modern::wire::Confirm,
        out: &mut Outcome,
    ) {
        let inst = self.inst(slot);
        let tag = inst.tag;
        let MsgState::Encrypted(p) = &mut inst.msg else {
            return;
        };
        let Phase::Responding {
            since, timed_out, ..
        } = p.modern.phase
        else {
            out.events.push(Event::ModernIgnored {
                reason: ModernError::UnexpectedMessage,
            });
            return;
        };
        let Phase::Responding { state, .. } = std::mem::replace(&mut p.modern.phase, Phase::Failed)
        else {
            return;
        };
        match state.receive_confirm(confirm) {
            Ok(ratchet) => {
                p.modern.settle(Phase::Active(Box::new(ratchet)));
                inst.last_authenticated = env.now;
                out.events.push(Event::Upgraded {
                    instance: tag,
                    suite: Suite::Modern,
                });
            }
            Err(f) => {
                p.modern.phase = Phase::Responding {
                    state: f.state,
                    since,
                    timed_out,
                };
                out.events.push(Event::ModernIgnored { reason: f.error });
            }
        }
    }

    fn modern_data(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        data: &crate::otr::modern::wire::Data,
        out: &mut Outcome,
    ) {
        let inst = self.inst(slot);
        let tag = inst.tag;
        let MsgState::Encrypted(p) = &mut inst.msg else {
            return;
        };
        let mut upgraded = false;
        let opened = match std::mem::replace(&mut p.modern.phase, Phase::Failed) {
            Phase::Active(mut ratchet) => {
                let r = ratchet.decrypt(&mut env.rng, data);
                p.modern.phase = Phase::Active(ratchet);
                r
            }
            // The initiator's data confirms as well (its CONFIRM was lost or overtaken).
            Phase::Responding {
                state,
                since,
                timed_out,
            } => match state.receive_data(&mut env.rng, data) {
                Ok((ratchet, received)) => {
                    p.modern.settle(Phase::Active(Box::new(ratchet)));
                    upgraded = true;
                    Ok(received)
                }
                Err(f) => {
                    p.modern.phase = Phase::Responding {
                        state: f.state,
                        since,
                        timed_out,
                    };
                    Err(f.error)
                }
            },
            other => {
                p.modern.phase = other;
                Err(ModernError::UnexpectedMessage)
            }
        };
        let received = match opened {
            Ok(r) => r,
            Err(reason) => {
                out.events.push(Event::ModernIgnored { reason });
                if !data.ignore_unreadable() {
                    out.events.push(Event::Unreadable { instance: tag });
                    out.to_send.push(envelope::error_message(ERROR_UNREADABLE));
                }
                return;
            }
        };
        p.modern.peer_switched = true;
        let last_sent = p.last_sent;
        inst.last_authenticated = env.now;
        if upgraded {
            out.events.push(Event::Upgraded {
                instance: tag,
                suite: Suite::Modern,
            });
        }
        self.deliver_opened(
            env,
            slot,
            &received.plaintext,
            Opened::Modern,
            last_sent,
            out,
        );
    }

    /// Handshakes without progress for [`UPGRADE_TIMEOUT_SECS`] end: the instance stays on
    /// v3 (a responder keeps its state to read the initiator's data, which may still come).
    pub(super) fn expire_upgrades(&mut self, now: u64, out: &mut Outcome) {
        for slot in self.slots().collect::<Vec<_>>() {
            let inst = self.inst(slot);
            let tag = inst.tag;
            let MsgState::Encrypted(p) = &mut inst.msg else {
                continue;
            };
            if p.modern.deadline().is_none_or(|d| now <= d) {
                continue;
            }
            match &mut p.modern.phase {
                Phase::Responding { timed_out, .. } => *timed_out = true,
                _ => p.modern.settle(Phase::Failed),
            }
            out.events.push(Event::UpgradeFailed {
                instance: tag,
                reason: UpgradeFailure::Timeout,
            });
        }
    }

    /// The earliest upgrade deadline, for [`Session::next_timeout`].
    pub(super) fn next_upgrade_deadline(&self) -> Option<u64> {
        self.slots()
            .filter_map(|s| match &self.inst_ref(s).msg {
                MsgState::Encrypted(p) => p.modern.deadline(),
                _ => None,
            })
            .min()
    }
}
