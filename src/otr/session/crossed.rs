//! The commit the master context sends to every instance of the buddy (receiver tag 0), taken
//! over by the instance that answers it, and what happens when that instance's own commit
//! crossed ours (spec "AKE: commit collisions", and libotr's behaviour).

use crate::otr::ake::{Ake, AkeError};
use crate::otr::events::Event;
use crate::otr::wire::messages::Message;

use super::{Instance, Outcome, Session, Slot, MAX_INSTANCES};

/// The DH-Keys (their g^y) that took over the master's current commit, whichever instance
/// sent them. The AKE does not authenticate instance tags, so a replayed DH-Key under a new
/// tag would otherwise start a second exchange with the same keys (and its replayed
/// Signature would complete it): a phantom private instance reusing the real one's
/// keystream. Bounded: once full, further answers to this commit are refused, never
/// forgotten.
#[derive(Default)]
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub(super) struct CommitAnswers {
    commit: Vec<u8>,
    answers: Vec<Vec<u8>>,
}

impl CommitAnswers {
    fn contains(&self, commit: &[u8], gy: &[u8]) -> bool {
        self.commit == commit && self.answers.iter().any(|a| a == gy)
    }

    fn is_full(&self, commit: &[u8]) -> bool {
        self.commit == commit && self.answers.len() >= MAX_INSTANCES
    }

    fn record(&mut self, commit: &[u8], gy: &[u8]) {
        if self.commit != commit {
            self.commit = commit.to_vec();
            self.answers.clear();
        }
        self.answers.push(gy.to_vec());
    }
}

/// What a message from a child means for the master's commit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum CommitAnswer {
    /// Not a DH-Key answering a pending commit of the master's (or one already taken).
    NotOurs,
    /// The child took the master's commit over and goes on with the DH-Key.
    Adopted,
    /// Commits crossed and ours is the lower: we stay responder and ignore the DH-Key.
    StayResponder,
}

impl Session {
    /// Whether `message` from the child in `slot` answers the commit the master sent to
    /// every instance; if so, the child takes that exchange over.
    pub(super) fn answer_to_master_commit(
        &mut self,
        slot: Slot,
        message: &Message,
        now: u64,
        out: &mut Outcome,
    ) -> CommitAnswer {
        let Message::DhKey(key) = message else {
            return CommitAnswer::NotOurs;
        };
        let dh_key = key.gy.as_slice();
        let Some(ours) = self.master.ake.our_commit_hash() else {
            return CommitAnswer::NotOurs;
        };
        // The same DH-Key never takes the commit over twice, from any instance; a repeat
        // from the instance that took it goes to that instance's exchange (which answers a
        // retransmission).
        if self.commit_answers.contains(ours, dh_key)
            || self.commit_answers.is_full(ours)
            || self.inst_ref(slot).ake.awaiting_dh_key()
        {
            return CommitAnswer::NotOurs;
        }
        // One of the buddy's instances answers the commit we sent to all of them.
        // If that instance's own commit crossed ours and we already answered it,
        // libotr switches to our commit regardless, and so would the peer: both
        // then wait for a Signature forever. The higher commit hash keeps the
        // initiator's role (the spec's collision rule), but also keeps the
        // exchange it answered, so a libotr peer (which always switches) still
        // completes through it; the lower one stays responder.
        let ours = ours.to_vec();
        let crossed = self
            .inst_ref(slot)
            .ake
            .their_commit_hash()
            .map(<[u8]>::to_vec);
        if let Some(theirs) = &crossed {
            if &ours <= theirs {
                out.events.push(Event::AkeIgnored {
                    reason: AkeError::CommitCollisionLost,
                });
                return CommitAnswer::StayResponder;
            }
        }
        if let Some(ake) = self.master.ake.copy_pending_commit() {
            let inst = self.inst(slot);
            // The exchange is alive from now on, even if answering this DH-Key
            // must wait for our key: a stale timestamp would let `poll` drop it.
            inst.ake_activity = now;
            let previous = std::mem::replace(&mut inst.ake, ake);
            inst.crossed_ake = crossed.map(|_| previous);
            self.commit_answers.record(&ours, dh_key);
        }
        CommitAnswer::Adopted
    }
}

impl Instance {
    /// The exchange a Reveal Signature belongs to: the one we answered before commits
    /// crossed, unless we are responder in our current one.
    pub(super) fn ake_for_reveal_signature(&mut self) -> &mut Ake {
        match self.crossed_ake.as_mut() {
            Some(crossed) if self.ake.their_commit_hash().is_none() => crossed,
            _ => &mut self.ake,
        }
    }
}
