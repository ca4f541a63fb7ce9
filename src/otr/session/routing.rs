//! An incoming data message: opened with the instance's keys, its text shown, its TLVs
//! routed (disconnect, SMP, extra symmetric key), replies and heartbeats sent.

use zeroize::Zeroizing;

use crate::otr::data;
use crate::otr::events::{Event, Redacted};
use crate::otr::smp::{Smp, SmpState};
use crate::otr::wire::envelope;
use crate::otr::wire::messages::{DataMessage, Header, IGNORE_UNREADABLE};
use crate::otr::wire::tlv;

use super::upgrade::{Opened, ANNOUNCE_TLV};
use super::{Env, MsgState, Outcome, Received, Session, Slot, ERROR_UNREADABLE};

impl Session {
    /// A data message from the instance in `slot`: opened, then its text shown and its TLVs
    /// routed (disconnect, SMP, extra symmetric key).
    pub(super) fn receive_data(
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
        let guarded = self.guard.active;
        let inst = self.inst(slot);
        let MsgState::Encrypted(p) = &mut inst.msg else {
            if !ignorable {
                out.events.push(if other_private {
                    Event::ForOtherInstance
                } else {
                    Event::NotInPrivate
                });
                // libotr sends no error here (the message may be for another v2 instance,
                // and after Finished the peer knows). A conversation that must stay private
                // but lost its keys (the buddy went away and came back) tells the buddy, so their side learns the message was
                // not read (and libotr re-sends it after the next AKE) instead of losing it
                // silently.
                if guarded && !other_private && matches!(inst.msg, MsgState::Plaintext) {
                    out.to_send.push(envelope::error_message(ERROR_UNREADABLE));
                }
            }
            return;
        };
        if p.modern.peer_switched {
            // The peer moved to the modern suite and never sends v3 data again (see
            // `upgrade`): this is a replay or an injection, not shown.
            if !ignorable {
                out.events.push(Event::OldSuiteIgnored { instance: tag });
            }
            return;
        }
        // A direct instance (no v3 keys) reads no v3 data message.
        let opened = match p.ratchet.as_mut() {
            Some(ratchet) if p.version == header.version => {
                data::open(ratchet, env.rng, header, data).ok()
            }
            _ => None,
        };
        let Some(opened) = opened else {
            if !ignorable {
                out.events.push(Event::Unreadable { instance: tag });
                out.to_send.push(envelope::error_message(ERROR_UNREADABLE));
            }
            return;
        };
        let last_sent = p.last_sent;
        inst.last_authenticated = env.now;
        let extra_key = *opened.extra_key;
        self.deliver_opened(
            env,
            slot,
            &opened.plaintext,
            Opened::V3 { extra_key },
            last_sent,
            out,
        );
    }

    /// The plaintext of an authenticated data message (v3 or modern) from `slot`: its text
    /// shown, its TLVs routed. `via`: the suite that opened it (v3 has an extra symmetric
    /// key, the modern suite none; an SMP1 takes its binding from it); `last_sent`: when we
    /// last sent to this instance (for the heartbeat).
    pub(super) fn deliver_opened(
        &mut self,
        env: &mut Env<'_>,
        slot: Slot,
        plaintext: &[u8],
        via: Opened,
        last_sent: u64,
        out: &mut Outcome,
    ) {
        let inst = self.inst(slot);
        let tag = inst.tag;
        let MsgState::Encrypted(p) = &inst.msg else {
            return;
        };
        let fingerprint = p.fingerprint;
        let (extra_key, smp_binding) = match via {
            Opened::V3 { extra_key } => (Some(extra_key), None),
            Opened::Modern => (None, p.modern.transcript_hash()),
        };
        let (text, tlvs) = tlv::split_plaintext(plaintext);
        let mut text = Zeroizing::new(text);
        let mut replies = Vec::new();
        let mut finished = false;
        let mut announce = None;
        for t in &tlvs {
            match t.kind {
                tlv::DISCONNECTED => finished = true,
                tlv::SMP1 | tlv::SMP1Q | tlv::SMP2 | tlv::SMP3 | tlv::SMP4 | tlv::SMP_ABORT => {
                    let fresh = matches!(t.kind, tlv::SMP1 | tlv::SMP1Q)
                        && inst.smp.state() == SmpState::Expect1;
                    let outcome = inst.smp.handle(env.rng, t);
                    // A new exchange the peer started keeps the binding of the suite its
                    // SMP1 came in (docs/modern-suite.md §13 "SMP"), whatever carries the
                    // answer later.
                    if fresh && inst.smp.is_awaiting_secret() {
                        if let MsgState::Encrypted(p) = &mut inst.msg {
                            p.modern.smp_peer_binding = smp_binding;
                        }
                    }
                    replies.extend(outcome.reply);
                    if let Some(event) = outcome.event {
                        out.events.push(Event::Smp {
                            instance: tag,
                            fingerprint,
                            event,
                            trust: outcome.trust,
                            we_initiated: outcome.we_initiated,
                            question: outcome.question,
                        });
                    }
                }
                ANNOUNCE_TLV => announce = Some(&t.value),
                tlv::SYMKEY => {
                    if let (Some(usage), Some(usage_data), Some(key)) =
                        (t.value.get(..4), t.value.get(4..), extra_key)
                    {
                        let mut u = [0u8; 4];
                        u.copy_from_slice(usage);
                        out.events.push(Event::SymmetricKey {
                            instance: tag,
                            usage: u32::from_be_bytes(u),
                            usage_data: Redacted(usage_data.to_vec()),
                            key: Redacted(key),
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
        if let (Some(value), false) = (announce, finished) {
            self.modern_announced(env, slot, value, out);
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
            if !finished {
                self.heartbeat_if_due(slot, last_sent, env.now, out);
            }
        }
        if finished {
            let inst = self.inst(slot);
            inst.msg = MsgState::Finished;
            inst.smp = Smp::new();
            out.events.push(Event::PeerEnded { instance: tag });
        } else if self.guard.peer_offline {
            // An authenticated message from the buddy: they are there, and this private
            // conversation is alive (the server said otherwise). Resume it.
            self.guard.peer_offline = false;
            self.flush_held(slot, env.now, fingerprint, out);
        }
    }
}
