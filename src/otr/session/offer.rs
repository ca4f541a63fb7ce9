//! The whitespace-tag offer (spec "Tagged plaintext messages", libotr `OtrlOfferState`):
//! plaintext we send carries the tag until the buddy shows they do not speak OTR.

use crate::otr::policy::Policy;
use crate::otr::wire::envelope::{self, Incoming};

use super::Session;

/// Whether our whitespace-tag offer was taken up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Offer {
    NotSent,
    Sent,
    Rejected,
    Accepted,
}

impl Session {
    /// Appends the whitespace tag to outgoing plaintext, if the policy offers it and the buddy
    /// has not declined.
    pub(super) fn offer_whitespace_tag(&mut self, plain: &mut String) {
        let policy = self.config.policy;
        if policy.has(Policy::SEND_WHITESPACE_TAG) && self.offer != Offer::Rejected {
            plain.push_str(&envelope::whitespace_tag(policy.versions()));
            self.offer = Offer::Sent;
        }
    }

    /// Reads the buddy's answer to our offer from any whole message: untagged plaintext
    /// declines it, anything OTR accepts it.
    pub(super) fn note_offer_answer(&mut self, incoming: &Incoming) {
        if !self.config.policy.has(Policy::SEND_WHITESPACE_TAG) {
            return;
        }
        match incoming {
            Incoming::Plaintext { tag: None, .. } => {
                if self.offer == Offer::Sent {
                    self.offer = Offer::Rejected;
                }
            }
            _ => self.offer = Offer::Accepted,
        }
    }
}
