//! Messages the user typed that wait for a private conversation, and the one re-sent after
//! the buddy reported it unreadable (libotr's resend, restricted to the key it was meant for).

use zeroize::Zeroizing;

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::events::{Event, HoldReason, NotSentReason, Redacted};

use super::{Env, MsgState, Outcome, Session, Slot};

/// A message is sent again after a peer's error only if it was sent this recently (libotr's
/// `RESEND_INTERVAL`).
pub const RESEND_WINDOW_SECS: u64 = 60;
/// Messages the user typed that wait for a private conversation; beyond this the oldest are
/// handed back as not sent rather than dropped.
pub const MAX_HELD: usize = 1000;

const RESENT_PREFIX: &str = "[resent]";

/// A message the user typed that waits for a private conversation.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub(super) struct Held {
    pub(super) text: Zeroizing<String>,
    /// The key it was meant for; `None` if typed while not private with an accepted key
    /// (it may go to any key the guard accepts).
    pub(super) intended: Option<Fingerprint>,
    /// The user chose to send it to an unverified key ("only send to verified buddies").
    pub(super) unverified_ok: bool,
}

/// The last message sent privately, in case the peer reports it unreadable.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub(super) struct LastSent {
    pub(super) text: Zeroizing<String>,
    pub(super) fingerprint: Fingerprint,
    pub(super) at: u64,
}

impl Session {
    pub(super) fn hold(&mut self, text: &str, intended: Option<Fingerprint>, out: &mut Outcome) {
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
            unverified_ok: false,
        });
    }

    /// Sends held messages to the key in use now although they were meant for another, or
    /// it is not verified: the user accepted this key. Only ever privately: when the
    /// conversation is not private nothing happens.
    pub fn send_held_anyway(&mut self, env: &mut Env<'_>) -> Outcome {
        let mut out = Outcome::default();
        if self.guard.peer_offline {
            // Paused: the buddy's side may be gone.
            return out;
        }
        let slot = self.best();
        if let MsgState::Encrypted(p) = &self.inst_ref(slot).msg {
            let fingerprint = p.fingerprint;
            self.guard.accept(fingerprint);
            for held in self.held.iter_mut() {
                held.intended = Some(fingerprint);
                held.unverified_ok = true;
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

    pub(super) fn flush_held(
        &mut self,
        slot: Slot,
        now: u64,
        fingerprint: Fingerprint,
        out: &mut Outcome,
    ) {
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
            let expected = match front.intended {
                Some(e) if e != fingerprint => Some(e),
                Some(_) => None,
                None if !self.guard.is_accepted(&fingerprint)
                    && !self.guard.is_doubted(&fingerprint) =>
                {
                    Some(self.guard.last_accepted().unwrap_or(fingerprint))
                }
                None => None,
            };
            if let Some(expected) = expected {
                out.events.push(Event::HeldForNewFingerprint {
                    expected,
                    actual: fingerprint,
                    pending: self.held.len(),
                });
                break;
            }
            if !self.guard.may_send_to(&fingerprint, front.unverified_ok) {
                let reason = if self.guard.is_doubted(&fingerprint) {
                    HoldReason::NewIdentity
                } else {
                    HoldReason::Unverified
                };
                out.events.push(self.held_event(reason));
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

    /// The buddy reported an error: libotr re-sends the last message after the next AKE; we
    /// do too, but only to the key it was sent to (see `flush_held`).
    pub(super) fn remember_for_resend(&mut self, now: u64) {
        let current = match &self.inst_ref(self.best()).msg {
            MsgState::Encrypted(p) => Some(p.fingerprint),
            _ => None,
        };
        if let Some(last) = self.last_sent.take() {
            if current == Some(last.fingerprint)
                && now.saturating_sub(last.at) <= RESEND_WINDOW_SECS
            {
                self.resend = Some(Held {
                    text: last.text,
                    intended: Some(last.fingerprint),
                    unverified_ok: true,
                });
            }
        }
    }

    /// Hands every held message back as not sent in time.
    pub(super) fn give_back_held(&mut self, out: &mut Outcome) {
        for held in self.held.drain(..) {
            out.events.push(Event::NotSent {
                text: Redacted(held.text.to_string()),
                reason: NotSentReason::NotPrivateInTime,
            });
        }
    }
}
