//! OTR policies, bit for bit as libotr defines them (proto.h), so a policy read from
//! pidgin-otr's settings means the same thing here.

use super::wire::envelope::Versions;
use super::wire::messages::ProtocolVersion;

/// A set of policy flags (libotr `OtrlPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Policy(pub u32);

impl Policy {
    pub const ALLOW_V1: u32 = 0x01;
    pub const ALLOW_V2: u32 = 0x02;
    pub const ALLOW_V3: u32 = 0x04;
    pub const REQUIRE_ENCRYPTION: u32 = 0x08;
    pub const SEND_WHITESPACE_TAG: u32 = 0x10;
    pub const WHITESPACE_START_AKE: u32 = 0x20;
    pub const ERROR_START_AKE: u32 = 0x40;

    /// OTR off: messages pass through untouched.
    pub const NEVER: Policy = Policy(0);
    /// OTR only when the user starts it.
    pub const MANUAL: Policy = Policy(Self::ALLOW_V2 | Self::ALLOW_V3);
    /// Advertise OTR with a whitespace tag and start it when the peer answers (the default).
    pub const OPPORTUNISTIC: Policy = Policy(
        Self::ALLOW_V2
            | Self::ALLOW_V3
            | Self::SEND_WHITESPACE_TAG
            | Self::WHITESPACE_START_AKE
            | Self::ERROR_START_AKE,
    );
    /// Never send plaintext.
    pub const ALWAYS: Policy = Policy(
        Self::ALLOW_V2
            | Self::ALLOW_V3
            | Self::REQUIRE_ENCRYPTION
            | Self::WHITESPACE_START_AKE
            | Self::ERROR_START_AKE,
    );

    pub fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }

    /// Whether OTR is on at all (libotr: `policy & VERSION_MASK`). We never speak v1.
    pub fn enabled(self) -> bool {
        self.allows(ProtocolVersion::V2) || self.allows(ProtocolVersion::V3)
    }

    pub fn allows(self, version: ProtocolVersion) -> bool {
        match version {
            ProtocolVersion::V2 => self.has(Self::ALLOW_V2),
            ProtocolVersion::V3 => self.has(Self::ALLOW_V3),
        }
    }

    /// The versions we offer in query messages and whitespace tags.
    pub fn versions(self) -> Versions {
        Versions {
            v1: false,
            v2: self.has(Self::ALLOW_V2),
            v3: self.has(Self::ALLOW_V3),
        }
    }

    /// The highest version both we and the peer allow (3 > 2; never 1).
    pub fn best_common(self, theirs: Versions) -> Option<ProtocolVersion> {
        if theirs.v3 && self.allows(ProtocolVersion::V3) {
            Some(ProtocolVersion::V3)
        } else if theirs.v2 && self.allows(ProtocolVersion::V2) {
            Some(ProtocolVersion::V2)
        } else {
            None
        }
    }

    /// The named presets, for settings and `/otr` commands.
    pub fn from_name(name: &str) -> Option<Policy> {
        match name {
            "never" => Some(Self::NEVER),
            "manual" => Some(Self::MANUAL),
            "opportunistic" => Some(Self::OPPORTUNISTIC),
            "always" => Some(Self::ALWAYS),
            _ => None,
        }
    }

    pub fn name(self) -> Option<&'static str> {
        [
            ("never", Self::NEVER),
            ("manual", Self::MANUAL),
            ("opportunistic", Self::OPPORTUNISTIC),
            ("always", Self::ALWAYS),
        ]
        .into_iter()
        .find(|(_, p)| *p == self)
        .map(|(n, _)| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_libotr_values() {
        assert_eq!(Policy::NEVER.0, 0x00);
        assert_eq!(Policy::MANUAL.0, 0x06);
        assert_eq!(Policy::OPPORTUNISTIC.0, 0x76);
        assert_eq!(Policy::ALWAYS.0, 0x6e);
    }

    #[test]
    fn best_common_version_prefers_v3_and_respects_policy() {
        let both = Versions {
            v1: true,
            v2: true,
            v3: true,
        };
        assert_eq!(Policy::MANUAL.best_common(both), Some(ProtocolVersion::V3));
        assert_eq!(
            Policy(Policy::ALLOW_V2).best_common(both),
            Some(ProtocolVersion::V2)
        );
        let only_v1 = Versions {
            v1: true,
            v2: false,
            v3: false,
        };
        assert_eq!(Policy::ALWAYS.best_common(only_v1), None);
        assert!(!Policy::NEVER.enabled());
        assert!(!Policy(Policy::ALLOW_V1).enabled());
    }

    #[test]
    fn names_round_trip() {
        for name in ["never", "manual", "opportunistic", "always"] {
            assert_eq!(Policy::from_name(name).and_then(Policy::name), Some(name));
        }
        assert_eq!(Policy::from_name("sometimes"), None);
        assert_eq!(Policy(0x02).name(), None);
    }
}
