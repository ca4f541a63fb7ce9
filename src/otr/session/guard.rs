//! The first rule (docs/security.md): once a conversation has been private, what the user
//! types leaves only encrypted, to a key the user accepted, until the user explicitly ends
//! it. Nothing unauthenticated and nothing from the host's presence (a buddy going offline,
//! our own reconnect, a closed window) clears that; only [`Session::end`] does.
//!
//! A key is accepted when the conversation first becomes private with it, when the user
//! sends held messages to it anyway ([`Session::send_held_anyway`]) or when the user
//! verified it ([`Session::set_trusted`]). With "only send to verified buddies" a key must
//! also be verified.

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::events::{Event, HoldReason};
use crate::otr::policy::Policy;

use super::{Env, MsgState, Outcome, Session};

/// At most this many keys are remembered as accepted or trusted (a buddy with many
/// devices); the oldest is forgotten first.
const MAX_KEYS: usize = 16;

#[derive(Clone, Debug, Default)]
pub(super) struct Guard {
    /// Set by the first private conversation; cleared only by the user's `end`.
    pub(super) active: bool,
    /// Keys typed messages may go to.
    accepted: Vec<Fingerprint>,
    /// Keys the user verified (by hand or SMP), as the host tells us.
    trusted: Vec<Fingerprint>,
    /// "Only send to verified buddies".
    pub(super) only_verified: bool,
    /// The buddy (or our account) is offline: a paused conversation waits for them.
    pub(super) peer_offline: bool,
    /// Keys whose post-quantum identity differs from the one the host pinned: not accepted
    /// until the user sends anyway or verifies again.
    doubted: Vec<Fingerprint>,
}

fn remember(list: &mut Vec<Fingerprint>, fp: Fingerprint) {
    if !list.contains(&fp) {
        if list.len() >= MAX_KEYS {
            list.remove(0);
        }
        list.push(fp);
    }
}

impl Guard {
    pub(super) fn is_accepted(&self, fp: &Fingerprint) -> bool {
        !self.active
            || ((self.accepted.contains(fp) || self.trusted.contains(fp))
                && !self.doubted.contains(fp))
    }

    /// Whether `fp` waits for the user because its post-quantum identity changed.
    pub(super) fn is_doubted(&self, fp: &Fingerprint) -> bool {
        self.active && self.doubted.contains(fp)
    }

    /// The buddy's post-quantum identity for `fp` is not the pinned one.
    pub(super) fn doubt(&mut self, fp: Fingerprint) {
        remember(&mut self.doubted, fp);
    }

    pub(super) fn is_trusted(&self, fp: &Fingerprint) -> bool {
        self.trusted.contains(fp)
    }

    /// A typed message may go to `fp` now (`unverified_ok`: the user sent it anyway).
    pub(super) fn may_send_to(&self, fp: &Fingerprint, unverified_ok: bool) -> bool {
        self.is_accepted(fp) && (!self.only_verified || unverified_ok || self.is_trusted(fp))
    }

    /// The key the conversation was last private with by the user's leave.
    pub(super) fn last_accepted(&self) -> Option<Fingerprint> {
        self.accepted.last().copied()
    }

    /// Why a message for `fp` must wait.
    pub(super) fn why_not(&self, fp: &Fingerprint) -> HoldReason {
        if self.is_doubted(fp) {
            HoldReason::NewIdentity
        } else if self.is_accepted(fp) {
            HoldReason::Unverified
        } else {
            HoldReason::NewKey
        }
    }

    pub(super) fn accept(&mut self, fp: Fingerprint) {
        self.doubted.retain(|d| *d != fp);
        remember(&mut self.accepted, fp);
    }

    /// A private conversation started with `fp`.
    pub(super) fn went_private(&mut self, fp: Fingerprint) {
        if !self.active {
            self.active = true;
            self.accepted.clear();
            self.accept(fp);
        }
        self.peer_offline = false;
    }

    /// The user ended privacy: plain text is their choice from now on.
    pub(super) fn release(&mut self) {
        self.active = false;
        self.accepted.clear();
        self.doubted.clear();
        self.peer_offline = false;
    }
}

impl Session {
    /// Whether what the user types must not go out in the clear (see the module docs).
    pub fn must_stay_private(&self) -> bool {
        self.guard.active
    }

    /// "Only send to verified buddies".
    pub fn set_only_verified(&mut self, on: bool) {
        self.guard.only_verified = on;
    }

    /// The buddy's keys the user trusts, as the host knows them (at start).
    pub fn set_trusted_keys(&mut self, keys: Vec<Fingerprint>) {
        self.guard.trusted.clear();
        for fp in keys {
            remember(&mut self.guard.trusted, fp);
        }
    }

    /// The user verified `fp` (or took it back). Messages waiting for it go out if the
    /// conversation is private with exactly that key.
    pub fn set_trusted(&mut self, env: &mut Env<'_>, fp: Fingerprint, trusted: bool) -> Outcome {
        let mut out = Outcome::default();
        if trusted {
            // Verifying again settles a changed post-quantum identity too.
            self.guard.doubted.retain(|d| *d != fp);
            remember(&mut self.guard.trusted, fp);
        } else {
            self.guard.trusted.retain(|t| *t != fp);
            return out;
        }
        let slot = self.best();
        let current = match &self.inst_ref(slot).msg {
            MsgState::Encrypted(p) => Some(p.fingerprint),
            _ => None,
        };
        if current == Some(fp) {
            self.flush_held(slot, env.now, fp, &mut out);
        }
        out
    }

    /// The buddy went offline, or our account did (or the server says so; it can lie). A
    /// private conversation is paused: nothing typed is sent, it waits. The keys are kept
    /// while the buddy is away, only to read what still arrives encrypted (an authenticated
    /// message from the buddy resumes the conversation: see `routing`). Returns whether a
    /// private conversation was paused.
    pub fn peer_offline(&mut self) -> bool {
        let was_paused = self.guard.peer_offline;
        self.guard.peer_offline = true;
        self.asked_at = None;
        let mut private = false;
        for slot in self.slots().collect::<Vec<_>>() {
            let inst = self.inst(slot);
            inst.ake.reset();
            inst.crossed_ake = None;
            private |= matches!(inst.msg, MsgState::Encrypted(_));
        }
        private && self.guard.active && !was_paused
    }

    /// The buddy is online again but nothing was paused: only forget that they were away.
    pub fn peer_back(&mut self) {
        self.guard.peer_offline = false;
    }

    /// The buddy is back. Their side of a paused conversation may be gone (a crash, a new
    /// login), so its keys are wiped now and a new AKE starts by itself where the policy
    /// starts conversations on its own (opportunistic, always); under manual it waits for
    /// the user. Held messages go out when it is private again with an accepted key.
    pub fn peer_online(&mut self, env: &mut Env<'_>) -> Outcome {
        let paused = self.guard.active && self.guard.peer_offline;
        self.guard.peer_offline = false;
        if !paused {
            return Outcome::default();
        }
        for slot in self.slots().collect::<Vec<_>>() {
            let inst = self.inst(slot);
            if matches!(inst.msg, MsgState::Encrypted(_)) {
                // Dropping the private state wipes its keys.
                inst.msg = MsgState::Plaintext;
                inst.smp = crate::otr::smp::Smp::new();
            }
        }
        if self.restarts_by_itself() && !self.negotiating(env.now) {
            return self.start(env);
        }
        Outcome::default()
    }

    /// Whether a paused conversation may ask the buddy for a new AKE without the user.
    pub(super) fn restarts_by_itself(&self) -> bool {
        let p = self.config.policy;
        p.has(Policy::WHITESPACE_START_AKE) || p.has(Policy::REQUIRE_ENCRYPTION)
    }

    /// The reason a message typed while not private waits, and whether to ask the buddy
    /// for a private conversation now.
    pub(super) fn plaintext_hold(&self, now: u64) -> (HoldReason, bool) {
        if self.negotiating(now) {
            (HoldReason::Negotiating, false)
        } else if self.guard.active && self.guard.peer_offline {
            (HoldReason::PeerOffline, false)
        } else if self.guard.active && !self.restarts_by_itself() {
            (HoldReason::WaitingForUser, false)
        } else {
            (HoldReason::Starting, true)
        }
    }

    pub(super) fn held_event(&self, reason: HoldReason) -> Event {
        Event::MessageHeld {
            pending: self.held.len(),
            starting: reason == HoldReason::Starting,
            reason,
        }
    }
}
