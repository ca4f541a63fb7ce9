//! Time-driven work (quinn-proto's "the host asks when to call back"): AKE timeouts, the
//! window after the user asked for a private conversation, and heartbeats.

use crate::otr::events::Event;
use crate::otr::policy::Policy;

use super::{Env, Outcome, Session, Slot};

/// After receiving a message, if we sent nothing for this long, send an empty one so the
/// peer's keys keep turning (libotr's `HEARTBEAT_INTERVAL`).
pub const HEARTBEAT_SECS: u64 = 60;
/// An AKE with no progress for this long is abandoned.
pub const AKE_TIMEOUT_SECS: u64 = 60;

impl Session {
    /// An AKE is running, or the user asked for one moments ago.
    pub(super) fn negotiating(&self, now: u64) -> bool {
        self.any_ake_in_progress()
            || self
                .asked_at
                .is_some_and(|t| now.saturating_sub(t) <= AKE_TIMEOUT_SECS)
    }

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
        self.expire_upgrades(now, &mut out);
        self.expire_direct(env, &mut out);
        if !self.negotiating(now) {
            self.asked_at = None;
        }
        if !self.negotiating(now)
            && !self.any_private()
            && !self.guard.active
            && !self.guard.only_verified
            && !self.config.policy.has(Policy::REQUIRE_ENCRYPTION)
        {
            // Held only because an AKE was running, which has now failed: give them back
            // rather than send them in plaintext behind the user's back. (A conversation that
            // must stay private keeps them until it is private again or the user decides.)
            self.give_back_held(&mut out);
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
            .chain(self.next_upgrade_deadline().map(|d| d.saturating_add(1)))
            .chain(self.next_direct_deadline().map(|d| d.saturating_add(1)))
            .min()
    }

    /// After a message with text arrived on `slot`: if we sent nothing there since
    /// `last_sent`, an empty message keeps the peer's keys turning.
    pub(super) fn heartbeat_if_due(
        &mut self,
        slot: Slot,
        last_sent: u64,
        now: u64,
        out: &mut Outcome,
    ) {
        if now.saturating_sub(last_sent) >= HEARTBEAT_SECS
            && self.send_tlvs(slot, now, &[], out).is_ok()
        {
            out.events.push(Event::HeartbeatSent);
        }
    }
}
