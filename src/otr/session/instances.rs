//! The buddy's instances (spec "Instance tags"): the master context plus one child per
//! instance tag heard from, how a message is admitted to one, and which one we send to.

use crate::otr::ake::Ake;
use crate::otr::events::Event;
use crate::otr::fragment::{self, Reassembler};
use crate::otr::smp::Smp;
use crate::otr::wire::messages::is_valid_instance_tag;

use super::{MsgState, Outcome, Session};

/// At most this many instances of one buddy are tracked; a peer inventing instance tags cannot
/// make us hold more (the least recently active non-private one is dropped first).
pub const MAX_INSTANCES: usize = 16;
/// Bytes of fragments one instance may have pending.
pub const REASSEMBLY_CAP: usize = fragment::DEFAULT_REASSEMBLY_CAP;

/// libotr's ConnContext, minus what lives in [`Session`].
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub(super) struct Instance {
    /// The buddy's instance tag; 0 for the master context.
    pub(super) tag: u32,
    pub(super) ake: Ake,
    /// When our commit and the peer's crossed, the exchange we answered as responder, kept
    /// while we also run our own (see `crossed.rs`).
    pub(super) crossed_ake: Option<Ake>,
    pub(super) ake_activity: u64,
    pub(super) msg: MsgState,
    pub(super) smp: Smp,
    pub(super) fragments: Reassembler,
    /// When anything last arrived from this instance (authenticated or not): for choosing
    /// which idle instance to drop.
    pub(super) last_received: u64,
    /// When this instance last proved itself (an AKE completed, a data message opened): the
    /// only recency that may decide where the user's messages go.
    pub(super) last_authenticated: u64,
    /// A direct start of the peer we answered, until it confirms (see `direct`).
    pub(super) direct: Option<super::direct::Answered>,
}

impl Instance {
    pub(super) fn new(tag: u32) -> Self {
        Instance {
            tag,
            ake: Ake::new(),
            crossed_ake: None,
            ake_activity: 0,
            msg: MsgState::Plaintext,
            smp: Smp::new(),
            fragments: Reassembler::new(REASSEMBLY_CAP),
            last_received: 0,
            last_authenticated: 0,
            direct: None,
        }
    }
}

impl Instance {
    /// Whether dropping this instance could change what the user's next message does: it is
    /// private or finished (the next message is encrypted, or refused), or it runs an
    /// exchange we started (the messages held for it would be given back).
    fn matters(&self) -> bool {
        // (An answered direct start does not count: strangers could fill the table with them.)
        !matches!(self.msg, MsgState::Plaintext) || self.ake.we_started()
    }
}

/// Which instance a call concerns: the master (v2, plaintext, our commits) or a child.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Slot {
    Master,
    Child(usize),
}

impl Session {
    pub(super) fn inst(&mut self, slot: Slot) -> &mut Instance {
        match slot {
            Slot::Master => &mut self.master,
            Slot::Child(i) => &mut self.children[i],
        }
    }

    pub(super) fn inst_ref(&self, slot: Slot) -> &Instance {
        match slot {
            Slot::Master => &self.master,
            Slot::Child(i) => &self.children[i],
        }
    }

    pub(super) fn slots(&self) -> impl Iterator<Item = Slot> {
        std::iter::once(Slot::Master).chain((0..self.children.len()).map(Slot::Child))
    }

    /// libotr's OTRL_INSTAG_BEST: encrypted before finished before plaintext, then the most
    /// recently heard from, where only authenticated messages count: nothing a stranger can
    /// send changes where the user's next message goes.
    pub(super) fn best(&self) -> Slot {
        let rank = |i: &Instance| match i.msg {
            MsgState::Encrypted(_) => 2,
            MsgState::Finished => 1,
            MsgState::Plaintext => 0,
        };
        self.slots()
            .max_by_key(|&s| {
                let i = self.inst_ref(s);
                (rank(i), i.last_authenticated, s == Slot::Master)
            })
            .unwrap_or(Slot::Master)
    }

    pub(super) fn any_private(&self) -> bool {
        self.slots()
            .any(|s| !matches!(self.inst_ref(s).msg, MsgState::Plaintext))
    }

    pub(super) fn any_ake_in_progress(&self) -> bool {
        self.slots().any(|s| self.inst_ref(s).ake.in_progress())
    }

    /// Admits a v3 message (or fragment) from instance `sender` addressed to `receiver`: it
    /// must be for our instance tag (or for every instance, 0, when `to_all` allows that),
    /// from a valid tag that is not our own. Returns the sender's child and whether it is new.
    pub(super) fn admit(
        &mut self,
        sender: u32,
        receiver: u32,
        to_all: bool,
        now: u64,
        out: &mut Outcome,
    ) -> Option<(Slot, bool)> {
        let ours = self.config.our_instance;
        if receiver != ours && !(to_all && receiver == 0) {
            out.events.push(Event::ForOtherInstance);
            return None;
        }
        if !is_valid_instance_tag(sender) {
            out.events.push(Event::Malformed);
            return None;
        }
        if sender == ours {
            // Our own instance tag as sender: our messages are coming back to us.
            out.events.push(Event::Reflected);
            return None;
        }
        self.child(sender, now)
    }

    /// The child for `tag`, created if new. `None` when the table is full of instances that
    /// matter (see [`Instance::matters`]): a newcomer is then refused rather than let push
    /// one out.
    fn child(&mut self, tag: u32, now: u64) -> Option<(Slot, bool)> {
        if let Some(i) = self.children.iter().position(|c| c.tag == tag) {
            return Some((Slot::Child(i), false));
        }
        if self.children.len() >= MAX_INSTANCES {
            // Idle instances go first, then those answering a stranger's commit; the least
            // recently heard from among them.
            let victim = self
                .children
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.matters())
                .min_by_key(|(_, c)| (c.ake.in_progress(), c.last_received))
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
}

#[cfg(feature = "fuzzing")]
impl Session {
    /// The fragment bytes pending in the fullest instance (for the fuzz oracle: each stays
    /// within [`REASSEMBLY_CAP`]).
    pub fn max_pending_fragment_bytes(&self) -> usize {
        self.slots()
            .map(|s| self.inst_ref(s).fragments.pending_bytes())
            .max()
            .unwrap_or(0)
    }
}
