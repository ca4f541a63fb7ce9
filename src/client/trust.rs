//! How the user came to trust a buddy's key, as `otr.fingerprints` records it in its fifth
//! column (pidgin-otr writes "verified" for a manual check, libotr "smp" after a successful
//! SMP; libotr counts any non-empty value as trusted).

/// The trust recorded for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustLevel {
    /// Not verified (an empty column).
    None,
    /// Compared by hand.
    Verified,
    /// Proven by the socialist millionaires' protocol.
    Smp,
}

impl TrustLevel {
    /// The file's spelling.
    pub fn as_file_str(self) -> &'static str {
        match self {
            TrustLevel::None => "",
            TrustLevel::Verified => "verified",
            TrustLevel::Smp => "smp",
        }
    }

    /// Reads the file's column; an unknown non-empty word is trusted, as in libotr.
    pub fn from_file_str(s: &str) -> TrustLevel {
        match s {
            "" => TrustLevel::None,
            "smp" => TrustLevel::Smp,
            _ => TrustLevel::Verified,
        }
    }

    pub fn is_trusted(self) -> bool {
        self != TrustLevel::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_spellings_round_trip_and_unknown_words_are_trusted() {
        for t in [TrustLevel::None, TrustLevel::Verified, TrustLevel::Smp] {
            assert_eq!(TrustLevel::from_file_str(t.as_file_str()), t);
        }
        assert!(TrustLevel::from_file_str("yes").is_trusted());
        assert!(!TrustLevel::from_file_str("").is_trusted());
    }
}
