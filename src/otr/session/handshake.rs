//! The AKE as the session drives it (spec "Authenticated Key Exchange"): starting one from
//! the master context, feeding each AKE message to the instance's exchange, and going
//! private when an exchange completes.

use crate::otr::ake::{AkeError, AkeSuccess, CommitReply};
use crate::otr::events::Event;
use crate::otr::keys::KeyRatchet;
use crate::otr::smp::Smp;
use crate::otr::wire::messages::{
    DhCommit, DhKey, Message, ProtocolVersion, RevealSignature, Signature,
};

use super::upgrade::Upgrade;
use super::{Env, MsgState, Outcome, Private, Session, Slot};

impl Session {
    /// Starts an AKE from the master context: a v3 commit is addressed to every instance of
    /// the buddy (receiver tag 0), whichever answers first gets the session.
    pub(super) fn start_ake(
        &mut self,
        env: &mut Env<'_>,
        version: ProtocolVersion,
        out: &mut Outcome,
    ) {
        let commit = self.master.ake.start(env.rng, version, env.now);
        self.master.ake_activity = env.now;
        out.to_send
            .extend(self.encode(version, 0, Message::DhCommit(commit)));
    }

    /// A DH-Commit: answered with a DH-Key, or with our own commit again if ours wins.
    pub(super) fn receive_dh_commit(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        version: ProtocolVersion,
        commit: &DhCommit,
        out: &mut Outcome,
    ) {
        let is_master = slot == Slot::Master;
        let inst = self.inst(slot);
        inst.ake_activity = env.now;
        let tag = inst.tag;
        match inst
            .ake
            .handle_dh_commit(env.rng, version, commit, is_master)
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

    /// A DH-Key: answered with a Reveal Signature (which needs our long-term key).
    pub(super) fn receive_dh_key(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        version: ProtocolVersion,
        key: &DhKey,
        out: &mut Outcome,
    ) {
        let Some(our_key) = env.our_key else {
            out.events.push(Event::PrivateKeyNeeded);
            return;
        };
        let inst = self.inst(slot);
        inst.ake_activity = env.now;
        let tag = inst.tag;
        match inst.ake.handle_dh_key(env.rng, version, key, our_key) {
            Ok(reveal) => {
                out.to_send
                    .extend(self.encode(version, tag, Message::RevealSignature(reveal)))
            }
            Err(e) => ake_ignored(e, out),
        }
    }

    /// A Reveal Signature: answered with a Signature, and the instance goes private.
    pub(super) fn receive_reveal_signature(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        version: ProtocolVersion,
        reveal: &RevealSignature,
        out: &mut Outcome,
    ) {
        let Some(our_key) = env.our_key else {
            out.events.push(Event::PrivateKeyNeeded);
            return;
        };
        let inst = self.inst(slot);
        inst.ake_activity = env.now;
        let tag = inst.tag;
        let ake = inst.ake_for_reveal_signature();
        match ake.handle_reveal_signature(env.rng, version, reveal, our_key) {
            Ok((signature, success)) => {
                out.to_send
                    .extend(self.encode(version, tag, Message::Signature(signature)));
                self.go_secure(env, slot, success, out);
            }
            Err(e) => ake_ignored(e, out),
        }
    }

    /// A Signature: the exchange we started completes and the instance goes private.
    pub(super) fn receive_signature(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        version: ProtocolVersion,
        signature: &Signature,
        out: &mut Outcome,
    ) {
        let inst = self.inst(slot);
        inst.ake_activity = env.now;
        match inst.ake.handle_signature(version, signature) {
            Ok(success) => self.go_secure(env, slot, success, out),
            Err(e) => ake_ignored(e, out),
        }
    }

    fn go_secure(&mut self, env: &mut Env<'_>, slot: Slot, success: AkeSuccess, out: &mut Outcome) {
        let fingerprint = success.their_long_term.fingerprint();
        // The same exchange (same shared secret, so the same ssid) already private on another
        // instance: a replay under an instance tag the AKE does not authenticate. A second
        // instance with the same keys would reuse the first one's keystream.
        let duplicate = self.slots().any(|s| {
            s != slot
                && matches!(&self.inst_ref(s).msg, MsgState::Encrypted(p) if p.ssid == success.ssid)
        });
        let inst = self.inst(slot);
        let tag = inst.tag;
        inst.ake.reset();
        inst.crossed_ake = None;
        if duplicate {
            out.events.push(Event::AkeIgnored {
                reason: AkeError::DuplicateExchange,
            });
            return;
        }
        let was_private_with_same_key =
            matches!(&inst.msg, MsgState::Encrypted(p) if p.fingerprint == fingerprint);
        if let MsgState::Encrypted(p) = &inst.msg {
            if p.fingerprint == fingerprint
                && p.ratchet.as_ref().is_some_and(|r| {
                    r.same_as_ake(
                        success.our_dh.public(),
                        success.our_keyid,
                        &success.their_public,
                        success.their_keyid,
                    )
                })
            {
                // The same exchange again (a replay, or a retransmission): nothing changes.
                out.events.push(Event::Refreshed {
                    instance: tag,
                    fingerprint,
                });
                return;
            }
        }
        let mut ratchet = KeyRatchet::after_ake(
            env.rng,
            success.our_dh,
            success.our_keyid,
            success.their_public,
            success.their_keyid,
        );
        // K_v3 for the modern suite, only where it may run (v3, setting on).
        let modern = match (success.version, self.modern_ready()) {
            (ProtocolVersion::V3, true) => ratchet.ake_extra_key().ok(),
            _ => None,
        };
        let announce = modern.is_some();
        let modern = modern.map_or_else(Upgrade::off, Upgrade::announced);
        let inst = self.inst(slot);
        inst.last_authenticated = env.now;
        inst.msg = MsgState::Encrypted(Box::new(Private {
            version: success.version,
            ratchet: Some(ratchet),
            their_long_term: Some(success.their_long_term),
            fingerprint,
            ssid: success.ssid,
            ssid_first_half_bold: success.ssid_first_half_bold,
            last_sent: env.now,
            modern,
        }));
        inst.smp = Smp::new();
        self.asked_at = None;
        // A v3 session came up: a direct start still waiting is moot.
        self.direct = None;
        self.guard.went_private(fingerprint);
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
        // Before the held messages: they go on v3 anyway (nothing waits for the upgrade).
        if announce {
            self.announce_modern(env, slot, out);
        }
        self.flush_held(slot, env.now, fingerprint, out);
    }
}

fn ake_ignored(e: AkeError, out: &mut Outcome) {
    out.events.push(if e == AkeError::Reflected {
        Event::Reflected
    } else {
        Event::AkeIgnored { reason: e }
    });
}
