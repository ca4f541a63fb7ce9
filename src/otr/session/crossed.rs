//! The commit the master context sends to every instance of the buddy (receiver tag 0), taken
//! over by the instance that answers it, and what happens when that instance's own commit
//! crossed ours (spec "AKE: commit collisions", and libotr's behaviour).

use crate::otr::ake::Ake;
use crate::otr::events::Event;
use crate::otr::wire::messages::Message;

use super::{Instance, Outcome, Session, Slot};

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
        let master_waiting = self.master.ake.awaiting_dh_key();
        let taken = matches!(
            (&self.inst_ref(slot).took_commit, self.master.ake.our_commit_hash()),
            (Some((commit, gy)), Some(ours))
                if commit.as_slice() == ours && gy.as_slice() == dh_key
        );
        if !master_waiting || taken || self.inst_ref(slot).ake.awaiting_dh_key() {
            return CommitAnswer::NotOurs;
        }
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
            inst.took_commit = ours.map(|ours| (ours, dh_key.to_vec()));
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
