//! Diffie-Hellman key pairs and the data-phase key ratchet (spec: "Data exchange", "Key
//! management").
//!
//! Each side keeps its two newest DH key pairs and the peer's two newest public keys, each with
//! a serial key id. libotr derives the session keys for all four combinations eagerly after
//! every rotation (five exponentiations per received message); we derive a pair's keys only
//! when a message needs them and keep at most the four live pairs.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use super::crypto::aes_ctr::AesCtrKey;
use super::crypto::kdf::{session_keys, SessionKeys};
use super::crypto::mac::HmacSha1Key;
use super::crypto::modp::{self, Int};

/// A DH key pair in the 1536-bit group. The private exponent is wiped on drop.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub struct DhKeyPair {
    private: Zeroizing<Int>,
    public: Int,
}

impl DhKeyPair {
    /// A fresh key pair with a 320-bit private exponent, as libotr makes.
    pub fn generate(rng: &mut dyn rand_core::CryptoRngCore) -> Self {
        let private = modp::random_exponent(rng, modp::DH_EXPONENT_BITS);
        let public = modp::pow_g_secret(&private, modp::DH_EXPONENT_BITS);
        DhKeyPair { private, public }
    }

    /// Our public value g^x.
    pub fn public(&self) -> &Int {
        &self.public
    }

    /// The shared secret (their_public)^x, constant time in x.
    pub fn shared_secret(&self, their_public: &Int) -> Zeroizing<Int> {
        Zeroizing::new(modp::pow_secret(
            their_public,
            &self.private,
            modp::DH_EXPONENT_BITS,
        ))
    }

    /// A second copy of this key pair, for the one place a pending AKE is shared between the
    /// master context and a new instance.
    pub(crate) fn clone_secret(&self) -> Self {
        DhKeyPair {
            private: self.private.clone(),
            public: self.public,
        }
    }

    /// Only for known-answer tests: a key pair from a fixed exponent.
    pub fn from_private_for_testing_only(private: Int) -> Self {
        let public = modp::pow_g_secret(&private, modp::DH_EXPONENT_BITS);
        DhKeyPair {
            private: Zeroizing::new(private),
            public,
        }
    }
}

impl fmt::Debug for DhKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DhKeyPair")
            .field("private", &"<secret>")
            .finish_non_exhaustive()
    }
}

/// One direction's keys, prepared once per key pair (AES key schedule, keyed HMAC states)
/// so that each message pays only for its own blocks.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
struct PreparedKeys {
    aes: AesCtrKey,
    mac: HmacSha1Key,
}

/// The session keys of one (our key id, their key id) pair and their counters.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
struct KeyPairState {
    our_keyid: u32,
    their_keyid: u32,
    keys: SessionKeys,
    send: PreparedKeys,
    recv: PreparedKeys,
    /// The top half of the last counter we sent with these keys.
    send_ctr: u64,
    /// The top half of the last counter we accepted with these keys.
    recv_ctr: u64,
    /// Whether a received message was authenticated with the receiving MAC key; only such
    /// keys are revealed when the pair retires (libotr reveals exactly these).
    recv_mac_used: bool,
}

/// Why an incoming data message cannot be read. No state has changed when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// A key id is zero or names a key we no longer (or never) had.
    UnknownKeyId,
    /// The MAC does not verify.
    BadMac,
    /// The counter did not increase: a replay or a reordering attack.
    CounterNotIncreasing,
    /// The peer's advertised next DH key is outside [2, p-2].
    BadNextKey,
    /// We sent 2^64 messages with one key pair (never in practice: the ratchet turns first).
    CounterExhausted,
}

/// The keys used to send one message.
pub(crate) struct SendKeys<'a> {
    pub(crate) sender_keyid: u32,
    pub(crate) recipient_keyid: u32,
    /// MPI magnitude of our newest public key, the message's "next" key.
    pub(crate) next_dh: &'a [u8],
    pub(crate) ctr_top: u64,
    pub(crate) aes: &'a AesCtrKey,
    pub(crate) mac: &'a HmacSha1Key,
    pub(crate) extra_key: &'a [u8; 32],
}

/// The keys that decrypt one verified incoming message.
pub(crate) struct RecvKeys<'a> {
    pub(crate) aes: &'a AesCtrKey,
    pub(crate) extra_key: &'a [u8; 32],
}

/// Our and the peer's current DH keys after an AKE, and the live session keys.
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub struct KeyRatchet {
    /// Id of `our_current`; `our_previous` has id `our_keyid - 1`.
    our_keyid: u32,
    our_current: DhKeyPair,
    /// `to_mpi_bytes(our_current.public())`, sent in every message until the key turns.
    our_current_mpi: Vec<u8>,
    our_previous: DhKeyPair,
    /// Id of `their_current`; `their_previous`, when present, has id `their_keyid - 1`.
    their_keyid: u32,
    their_current: Int,
    their_previous: Option<Int>,
    pairs: Vec<KeyPairState>,
    /// Receiving MAC keys of retired pairs, to publish on the next message (deniability).
    mac_keys_to_reveal: Zeroizing<Vec<u8>>,
}

impl KeyRatchet {
    /// The state right after an AKE: our AKE key becomes the acknowledged ("previous") key and
    /// a fresh one is made to advertise, as libotr does, so our first message already offers
    /// a new key.
    pub fn after_ake(
        rng: &mut dyn rand_core::CryptoRngCore,
        ake_key: DhKeyPair,
        ake_keyid: u32,
        their_public: Int,
        their_keyid: u32,
    ) -> Self {
        let our_current = DhKeyPair::generate(rng);
        KeyRatchet {
            our_keyid: ake_keyid.wrapping_add(1),
            our_current_mpi: modp::to_mpi_bytes(our_current.public()),
            our_current,
            our_previous: ake_key,
            their_keyid,
            their_current: their_public,
            their_previous: None,
            pairs: Vec::with_capacity(4),
            mac_keys_to_reveal: Zeroizing::new(Vec::new()),
        }
    }

    /// Whether an AKE produced exactly the keys this ratchet already holds (libotr treats
    /// that as a refresh of the same session rather than a new one).
    pub fn same_as_ake(
        &self,
        ake_public: &Int,
        ake_keyid: u32,
        their_public: &Int,
        their_keyid: u32,
    ) -> bool {
        let ours =
            self.our_keyid.wrapping_sub(1) == ake_keyid && self.our_previous.public() == ake_public;
        let theirs_current = self.their_keyid == their_keyid && &self.their_current == their_public;
        let theirs_previous = self.their_keyid > 1
            && self.their_keyid - 1 == their_keyid
            && self.their_previous.as_ref() == Some(their_public);
        ours && (theirs_current || theirs_previous)
    }

    fn our_key(&self, keyid: u32) -> Option<&DhKeyPair> {
        if keyid == 0 {
            None
        } else if keyid == self.our_keyid {
            Some(&self.our_current)
        } else if keyid == self.our_keyid.wrapping_sub(1) {
            Some(&self.our_previous)
        } else {
            None
        }
    }

    fn their_key(&self, keyid: u32) -> Option<&Int> {
        if keyid == 0 {
            None
        } else if keyid == self.their_keyid {
            Some(&self.their_current)
        } else if keyid == self.their_keyid.wrapping_sub(1) {
            self.their_previous.as_ref()
        } else {
            None
        }
    }

    /// The live pair state for these ids, deriving its keys on first use.
    fn pair(&mut self, our_keyid: u32, their_keyid: u32) -> Result<&mut KeyPairState, KeyError> {
        let i = self.pair_index(our_keyid, their_keyid)?;
        Ok(&mut self.pairs[i])
    }

    /// Where the live pair for these ids is, deriving its keys on first use.
    fn pair_index(&mut self, our_keyid: u32, their_keyid: u32) -> Result<usize, KeyError> {
        if let Some(i) = self
            .pairs
            .iter()
            .position(|p| p.our_keyid == our_keyid && p.their_keyid == their_keyid)
        {
            return Ok(i);
        }
        let ours = self.our_key(our_keyid).ok_or(KeyError::UnknownKeyId)?;
        let theirs = self.their_key(their_keyid).ok_or(KeyError::UnknownKeyId)?;
        let secret = ours.shared_secret(theirs);
        let keys = session_keys(ours.public(), theirs, &secret);
        let send = PreparedKeys {
            aes: AesCtrKey::new(&keys.send_aes),
            mac: HmacSha1Key::new(&keys.send_mac),
        };
        let recv = PreparedKeys {
            aes: AesCtrKey::new(&keys.recv_aes),
            mac: HmacSha1Key::new(&keys.recv_mac),
        };
        self.pairs.push(KeyPairState {
            our_keyid,
            their_keyid,
            keys,
            send,
            recv,
            send_ctr: 0,
            recv_ctr: 0,
            recv_mac_used: false,
        });
        Ok(self.pairs.len() - 1)
    }

    /// Keys for the next outgoing message: our most recent key the peer has acknowledged and
    /// the peer's most recent key (spec: "When you send a Data Message").
    pub(crate) fn next_send(&mut self) -> Result<SendKeys<'_>, KeyError> {
        let sender_keyid = self.our_keyid.wrapping_sub(1);
        let recipient_keyid = self.their_keyid;
        // An index, not a reference: the pair is borrowed alongside `our_current_mpi`.
        let i = self.pair_index(sender_keyid, recipient_keyid)?;
        let pair = &mut self.pairs[i];
        pair.send_ctr = pair
            .send_ctr
            .checked_add(1)
            .ok_or(KeyError::CounterExhausted)?;
        Ok(SendKeys {
            sender_keyid,
            recipient_keyid,
            next_dh: &self.our_current_mpi,
            ctr_top: pair.send_ctr,
            aes: &pair.send.aes,
            mac: &pair.send.mac,
            extra_key: &pair.keys.extra_key,
        })
    }

    /// The extra symmetric key of the pair the AKE established (our AKE key, their AKE key):
    /// SHA-256(0xFF ‖ MPI(s)) of the AKE's shared secret s, the modern suite's `K_v3`
    /// (docs/modern-suite.md §5.1). Only meaningful right after [`KeyRatchet::after_ake`],
    /// before any key turns; the pair is the one the first message uses, so deriving it here
    /// costs nothing extra.
    pub fn ake_extra_key(&mut self) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let pair = self.pair(self.our_keyid.wrapping_sub(1), self.their_keyid)?;
        Ok(Zeroizing::new(pair.keys.extra_key))
    }

    /// Takes the MAC keys waiting to be revealed on the next outgoing message.
    pub fn take_mac_keys_to_reveal(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.mac_keys_to_reveal)
    }

    /// Checks an incoming message's key ids and counter and verifies its MAC, without changing
    /// any state. On success returns the pair's keys for decryption.
    pub(crate) fn check_incoming(
        &mut self,
        sender_keyid: u32,
        recipient_keyid: u32,
        ctr_top: u64,
        verify_mac: impl FnOnce(&HmacSha1Key) -> bool,
    ) -> Result<RecvKeys<'_>, KeyError> {
        let pair = self.pair(recipient_keyid, sender_keyid)?;
        if !verify_mac(&pair.recv.mac) {
            return Err(KeyError::BadMac);
        }
        if ctr_top <= pair.recv_ctr {
            return Err(KeyError::CounterNotIncreasing);
        }
        Ok(RecvKeys {
            aes: &pair.recv.aes,
            extra_key: &pair.keys.extra_key,
        })
    }

    /// After a message verified and decrypted: record its counter, then turn the ratchet
    /// (spec: "When you receive a Data Message").
    pub(crate) fn accept_incoming(
        &mut self,
        rng: &mut dyn rand_core::CryptoRngCore,
        sender_keyid: u32,
        recipient_keyid: u32,
        ctr_top: u64,
        their_next: Option<Int>,
    ) {
        if let Some(p) = self
            .pairs
            .iter_mut()
            .find(|p| p.our_keyid == recipient_keyid && p.their_keyid == sender_keyid)
        {
            p.recv_ctr = ctr_top;
            p.recv_mac_used = true;
        }
        if recipient_keyid == self.our_keyid {
            // The peer has seen our newest key: make a newer one to offer.
            let fresh = DhKeyPair::generate(rng);
            self.our_current_mpi = modp::to_mpi_bytes(fresh.public());
            self.our_previous = std::mem::replace(&mut self.our_current, fresh);
            self.our_keyid = self.our_keyid.wrapping_add(1);
        }
        if let Some(next) = their_next.filter(|_| sender_keyid == self.their_keyid) {
            self.their_previous = Some(std::mem::replace(&mut self.their_current, next));
            self.their_keyid = self.their_keyid.wrapping_add(1);
        }
        self.retire_stale_pairs();
        // Derive the keys our next message will use now, while receiving, rather than in
        // `next_send`: the exponentiation they cost (needed once per key turn either way)
        // then never delays the user's send. A lookup when the pair already exists.
        let _ = self.pair(self.our_keyid.wrapping_sub(1), self.their_keyid);
    }

    fn retire_stale_pairs(&mut self) {
        let our_min = self.our_keyid.wrapping_sub(1);
        let their_min = if self.their_previous.is_some() {
            self.their_keyid.wrapping_sub(1)
        } else {
            self.their_keyid
        };
        let mut i = 0;
        while i < self.pairs.len() {
            let p = &self.pairs[i];
            let live = (p.our_keyid == our_min || p.our_keyid == self.our_keyid)
                && (p.their_keyid == their_min || p.their_keyid == self.their_keyid);
            if live {
                i += 1;
                continue;
            }
            let retired = self.pairs.swap_remove(i);
            if retired.recv_mac_used {
                self.mac_keys_to_reveal
                    .extend_from_slice(&retired.keys.recv_mac);
            }
        }
    }

    /// Validates a peer's advertised next key before it is accepted. libotr does not check
    /// this range in the data phase; we do, since 0, 1 and p-1 would make the secret known.
    pub(crate) fn check_next_key(
        &self,
        sender_keyid: u32,
        next_dh: &[u8],
    ) -> Result<Option<Int>, KeyError> {
        if sender_keyid != self.their_keyid {
            return Ok(None);
        }
        let value = modp::from_be_bytes(next_dh).ok_or(KeyError::BadNextKey)?;
        if !modp::is_valid_element(&value) {
            return Err(KeyError::BadNextKey);
        }
        Ok(Some(value))
    }

    /// Our newest public key id, for tests and diagnostics.
    pub fn our_keyid(&self) -> u32 {
        self.our_keyid
    }

    /// The peer's newest public key id.
    pub fn their_keyid(&self) -> u32 {
        self.their_keyid
    }
}

#[cfg(test)]
impl KeyRatchet {
    /// Sets the last counter sent with the pair the next message would use; returns the
    /// previous one. `u64::MAX` makes the next send fail.
    pub(crate) fn set_send_counter_for_testing_only(&mut self, ctr: u64) -> u64 {
        let (ours, theirs) = (self.our_keyid.wrapping_sub(1), self.their_keyid);
        let i = self.pair_index(ours, theirs).expect("a live sending pair");
        std::mem::replace(&mut self.pairs[i].send_ctr, ctr)
    }

    /// Bytes of MAC keys waiting to be revealed.
    pub(crate) fn mac_keys_due_for_testing_only(&self) -> usize {
        self.mac_keys_to_reveal.len()
    }
}

impl Drop for KeyRatchet {
    fn drop(&mut self) {
        self.mac_keys_to_reveal.zeroize();
    }
}

impl fmt::Debug for KeyRatchet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRatchet")
            .field("our_keyid", &self.our_keyid)
            .field("their_keyid", &self.their_keyid)
            .field("live_pairs", &self.pairs.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn alice_mpi(r: &KeyRatchet) -> Vec<u8> {
        modp::to_mpi_bytes(r.our_current.public())
    }

    fn has_pair(r: &KeyRatchet, ours: u32, theirs: u32) -> bool {
        r.pairs
            .iter()
            .any(|p| p.our_keyid == ours && p.their_keyid == theirs)
    }

    /// Receiving a message that turns the ratchet derives the keys of our next message, so
    /// that `next_send` finds them; a message whose MAC fails turns nothing.
    #[test]
    fn receiving_prepares_the_next_sending_pair() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let a_ake = DhKeyPair::generate(&mut rng);
        let b_ake = DhKeyPair::generate(&mut rng);
        let (a_pub, b_pub) = (*a_ake.public(), *b_ake.public());
        let mut alice = KeyRatchet::after_ake(&mut rng, a_ake, 1, b_pub, 1);
        let mut bob = KeyRatchet::after_ake(&mut rng, b_ake, 1, a_pub, 1);

        let alice_next = alice_mpi(&alice);
        let sent = alice.next_send().unwrap();
        let (s, r, ctr) = (sent.sender_keyid, sent.recipient_keyid, sent.ctr_top);
        let tag = sent.mac.compute(b"probe");
        let extra = *sent.extra_key;
        assert_eq!(sent.next_dh, &alice_next[..]);
        let next = *alice.our_current.public();

        // A forged MAC: refused, and the ratchet does not turn.
        let err = bob.check_incoming(s, r, ctr, |_| false).err();
        assert_eq!(err, Some(KeyError::BadMac));
        assert_eq!((bob.our_keyid(), bob.their_keyid()), (2, 1));

        // Bob's prepared receiving keys are Alice's sending keys.
        let mut verified = false;
        let recv = bob
            .check_incoming(s, r, ctr, |mac| {
                verified = mac.verify(b"probe", &tag);
                verified
            })
            .unwrap();
        assert_eq!(*recv.extra_key, extra);
        assert!(verified);
        bob.accept_incoming(&mut rng, s, r, ctr, Some(next));
        assert_eq!(bob.their_keyid(), 2);
        assert!(has_pair(&bob, bob.our_keyid() - 1, bob.their_keyid()));
        let live = bob.pairs.len();
        let reply = bob.next_send().unwrap();
        assert_eq!((reply.sender_keyid, reply.recipient_keyid), (1, 2));
        let (s, r, ctr) = (reply.sender_keyid, reply.recipient_keyid, reply.ctr_top);
        let tag = reply.mac.compute(b"reply");
        assert_eq!(bob.pairs.len(), live, "the send derived nothing new");

        // Bob's reply is to Alice's newest key: her key turns, and the cached encoding of
        // her newest public key turns with it.
        let before_mpi = alice.our_current_mpi.clone();
        assert!(alice
            .check_incoming(s, r, ctr, |mac| mac.verify(b"reply", &tag))
            .is_ok());
        alice.accept_incoming(&mut rng, s, r, ctr, None);
        assert_eq!(alice.our_keyid(), 3);
        assert_ne!(alice.our_current_mpi, before_mpi);
        assert_eq!(
            alice.our_current_mpi,
            modp::to_mpi_bytes(alice.our_current.public())
        );
        let expected = alice_mpi(&alice);
        assert_eq!(alice.next_send().unwrap().next_dh, &expected[..]);
    }

    /// K_v3 is the same on both ends, is the extra key of the AKE pair (what the first
    /// message carries), and is SHA-256(0xFF ‖ MPI(s)) of the AKE secret.
    #[test]
    fn ake_extra_key_is_shared_and_is_the_first_pairs_extra_key() {
        use sha2::Digest;
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let a_ake = DhKeyPair::generate(&mut rng);
        let b_ake = DhKeyPair::generate(&mut rng);
        let s = a_ake.shared_secret(b_ake.public());
        let (a_pub, b_pub) = (*a_ake.public(), *b_ake.public());
        let mut alice = KeyRatchet::after_ake(&mut rng, a_ake, 1, b_pub, 1);
        let mut bob = KeyRatchet::after_ake(&mut rng, b_ake, 1, a_pub, 1);
        let ka = *alice.ake_extra_key().unwrap();
        assert_eq!(ka, *bob.ake_extra_key().unwrap());
        assert_eq!(ka, *alice.next_send().unwrap().extra_key);
        let magnitude = modp::to_mpi_bytes(&s);
        let mut h = sha2::Sha256::new();
        h.update([0xff]);
        h.update(u32::try_from(magnitude.len()).unwrap().to_be_bytes());
        h.update(&magnitude);
        assert_eq!(ka, <[u8; 32]>::from(h.finalize()));
    }
}
