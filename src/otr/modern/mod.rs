//! The modern suite between two purple-otr users: a hybrid X25519 + ML-KEM-768 handshake bound
//! to an authenticated OTR v3 session, then the Double Ratchet with a sparse ML-KEM ratchet.
//! `docs/modern-suite.md` is the specification; names here follow it.
//!
//! Sans-I/O like the rest of the engine: bytes in, bytes out, randomness injected. The session
//! (not this module) decides when to announce, whom to upgrade, and what the user is told.
//!
//! - [`wire`]: every message of the suite and the discovery TLV, encoded and decoded.
//! - [`handshake`]: initiator and responder states, each consumed by the next step.
//! - [`ratchet`]: the Double Ratchet, skipped keys bounded, MAC keys revealed.
//! - [`identity`]: the long-term X25519 identity key, its fingerprint and its file format.
//! - [`bench_support`]: timing-free callables for `benches/compare.rs`.
#![forbid(unsafe_code)]

pub mod bench_support;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod handshake;
pub mod identity;
pub mod prims;
pub mod ratchet;
pub mod wire;

#[cfg(test)]
mod kat;

#[cfg(test)]
mod tests {
    #[test]
    fn exactly_one_side_initiates() {
        for (a, b) in [(0x100u32, 0x200u32), (0xffff_ffff, 0x100), (0x1234, 0x1235)] {
            assert_eq!(super::we_initiate(a, b), Some(a < b));
            assert_eq!(super::we_initiate(b, a), Some(b < a));
        }
        assert_eq!(super::we_initiate(0x500, 0x500), None);
    }
}

use core::fmt;

use super::wire::DecodeError;

/// The randomness the suite needs: a cryptographic RNG (rand_core 0.6's traits, the family of
/// x25519-dalek 2 and ml-kem 0.2).
pub trait Rng: rand_core::RngCore + rand_core::CryptoRng {}
impl<T: rand_core::RngCore + rand_core::CryptoRng + ?Sized> Rng for T {}

/// The one suite defined so far (docs/modern-suite.md §3).
pub const SUITE_V1: u8 = 0x01;

/// How far ahead in one receiving chain a message may be (messages skipped, keys kept).
pub const MAX_SKIP: u32 = 500;
/// Skipped message keys kept in all, over every chain; the oldest are dropped beyond it.
pub const MAX_SKIPPED_KEYS: usize = 1000;
/// Closed receiving chains whose ratchet keys are remembered (to call their replays replays).
pub const MAX_OLD_RATCHET_KEYS: usize = 16;
/// A party starts an ML-KEM ratchet round on every `KEM_INTERVAL`-th sending chain it opens.
pub const KEM_INTERVAL: u32 = 4;
/// MAC keys revealed on one outgoing message at most; the rest wait for the next.
pub const MAX_REVEAL_PER_MESSAGE: usize = 64;
/// MAC keys waiting to be revealed; beyond it the oldest are dropped unrevealed.
pub const MAX_PENDING_REVEAL: usize = 1000;

/// What binds the modern session to the authenticated OTR v3 session it grew out of
/// (docs/modern-suite.md §5.1). Both sides must give identical values.
#[derive(Clone)]
pub struct V3Binding {
    /// The v3 AKE's secure session id.
    pub ssid: [u8; 8],
    /// SHA-256(0xFF ‖ MPI(s)) for the v3 AKE's shared secret s: the extra symmetric key of
    /// the key pair the AKE established. Secret.
    pub v3_key: prims::Secret32,
    /// The v3 (DSA) fingerprint of the modern handshake's initiator.
    pub initiator_fingerprint: [u8; 20],
    /// The v3 (DSA) fingerprint of the modern handshake's responder.
    pub responder_fingerprint: [u8; 20],
}

impl fmt::Debug for V3Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V3Binding")
            .field("ssid", &prims::hex(&self.ssid))
            .field("v3_key", &"<secret>")
            .field(
                "initiator_fingerprint",
                &prims::hex(&self.initiator_fingerprint),
            )
            .field(
                "responder_fingerprint",
                &prims::hex(&self.responder_fingerprint),
            )
            .finish()
    }
}

/// Whether this side starts the modern handshake once both announcements were exchanged
/// (docs/modern-suite.md §5.3): the side with the numerically smaller v3 instance tag. `None`
/// when the tags are equal (impossible between two instances): nobody starts, v3 stays.
pub fn we_initiate(our_instance_tag: u32, their_instance_tag: u32) -> Option<bool> {
    match our_instance_tag.cmp(&their_instance_tag) {
        core::cmp::Ordering::Less => Some(true),
        core::cmp::Ordering::Greater => Some(false),
        core::cmp::Ordering::Equal => None,
    }
}

/// Why a modern-suite operation failed. No strings: the session chooses what anyone is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModernError {
    /// The bytes did not parse.
    Decode(DecodeError),
    /// A suite version we do not speak.
    UnsupportedSuite(u8),
    /// The peer's identity key is not the one announced (or pinned), or a message names
    /// someone else as its recipient.
    UnexpectedIdentity,
    /// A public key contributes nothing (small-order X25519 point) or is not a valid
    /// ML-KEM-768 encapsulation key.
    BadKey,
    /// A key-confirmation or message MAC did not verify. Nothing changed.
    BadMac,
    /// The message is further ahead than [`MAX_SKIP`] in its chain. Nothing changed.
    TooFarAhead,
    /// No key for this message: already received, or its skipped key was dropped.
    NoKey,
    /// A header field the protocol forbids here (an acknowledgement of a KEM round that is
    /// not open, a ciphertext for a key we never sent).
    ProtocolViolation,
    /// The sending chain's counter reached its end; the peer must turn the ratchet first.
    CounterExhausted,
    /// A message of the wrong kind for this state.
    UnexpectedMessage,
}

impl From<DecodeError> for ModernError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl fmt::Display for ModernError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "malformed modern-suite message: {e}"),
            Self::UnsupportedSuite(s) => write!(f, "unsupported modern suite {s:#04x}"),
            Self::UnexpectedIdentity => f.write_str("unexpected identity key"),
            Self::BadKey => f.write_str("invalid public key"),
            Self::BadMac => f.write_str("authentication failed"),
            Self::TooFarAhead => f.write_str("message too far ahead in its chain"),
            Self::NoKey => f.write_str("no key for this message (replayed or expired)"),
            Self::ProtocolViolation => f.write_str("protocol violation"),
            Self::CounterExhausted => f.write_str("message counter exhausted"),
            Self::UnexpectedMessage => f.write_str("unexpected message"),
        }
    }
}

impl std::error::Error for ModernError {}

/// Every label the suite feeds to HKDF, HMAC and SHA-256 (docs/modern-suite.md §5–§6).
pub mod labels {
    /// Prefix of the transcript hash.
    pub const TRANSCRIPT: &[u8] = b"purple-otr modern v1 transcript";
    /// Prefix of the transcript hash of a direct start between pinned peers (§15).
    pub const DIRECT_TRANSCRIPT: &[u8] = b"purple-otr modern v1 direct transcript";
    /// HKDF info: the first root key.
    pub const ROOT: &[u8] = b"purple-otr modern v1 root";
    /// HKDF info: the responder's first sending chain.
    pub const RESPONDER_CHAIN: &[u8] = b"purple-otr modern v1 responder chain";
    /// HKDF info: the responder's key-confirmation key.
    pub const RESPONDER_CONFIRM: &[u8] = b"purple-otr modern v1 responder confirm";
    /// HKDF info: the initiator's key-confirmation key.
    pub const INITIATOR_CONFIRM: &[u8] = b"purple-otr modern v1 initiator confirm";
    /// HKDF info: the root KDF of the ratchet.
    pub const RATCHET: &[u8] = b"purple-otr modern v1 ratchet";
    /// HKDF info: a message key's encryption key, MAC key and IV.
    pub const MESSAGE_KEYS: &[u8] = b"purple-otr modern v1 message keys";
    /// Prefix of the identity fingerprint.
    pub const IDENTITY: &[u8] = b"purple-otr modern v1 identity";
}
