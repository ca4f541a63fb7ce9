//! Data messages (spec: "Data Message"): AES-128-CTR encryption, HMAC-SHA1 authentication,
//! the counter rules and the key ratchet they drive.

use zeroize::Zeroizing;

use super::keys::{KeyError, KeyRatchet};
use super::wire::messages::{DataMessage, Header, DATA};

/// An opened (verified and decrypted) data message.
pub struct Opened {
    /// The plaintext: message text, then optionally a NUL and TLVs.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The extra symmetric key of the key pair this message used (for a SYMKEY TLV).
    pub extra_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opened { .. }")
    }
}

/// A sealed outgoing data message, with the extra symmetric key of the keys it used.
pub struct Sealed {
    pub message: DataMessage,
    pub extra_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

/// Encrypts and authenticates `plaintext` under the ratchet's current sending keys.
pub fn seal(
    ratchet: &mut KeyRatchet,
    header: &Header,
    flags: u8,
    plaintext: &[u8],
) -> Result<Sealed, KeyError> {
    debug_assert_eq!(header.message_type, DATA);
    // The MAC keys due for reveal are taken only once nothing can fail any more: taken
    // before a failing step, they would be dropped and never published (deniability).
    let keys = ratchet.next_send()?;
    let ctr_top = keys.ctr_top.to_be_bytes();
    let mut encrypted = plaintext.to_vec();
    keys.aes.apply(&ctr_top, &mut encrypted);
    let mut message = DataMessage {
        flags,
        sender_keyid: keys.sender_keyid,
        recipient_keyid: keys.recipient_keyid,
        next_dh: keys.next_dh.to_vec(),
        ctr_top,
        encrypted,
        mac: [0; 20],
        // Not covered by the MAC (spec: "Old MAC keys to be revealed" follow it).
        old_mac_keys: Vec::new(),
    };
    message.mac = keys.mac.compute(&message.authenticated_bytes(header));
    let extra_key = Zeroizing::new(*keys.extra_key);
    message.old_mac_keys = ratchet.take_mac_keys_to_reveal();
    Ok(Sealed { message, extra_key })
}

/// Verifies, decrypts and, only if everything checked out, advances the ratchet.
///
/// Key ids, MAC and counter are all checked before any state changes (so a forged or replayed
/// message cannot knock the session off its keys; otr3's "should not rotate keys when decrypt
/// fails").
pub fn open(
    ratchet: &mut KeyRatchet,
    rng: &mut dyn rand_core::CryptoRngCore,
    header: &Header,
    message: &DataMessage,
) -> Result<Opened, KeyError> {
    let ctr_top = u64::from_be_bytes(message.ctr_top);
    let authenticated = message.authenticated_bytes(header);
    let their_next = ratchet.check_next_key(message.sender_keyid, &message.next_dh);
    let keys = ratchet.check_incoming(
        message.sender_keyid,
        message.recipient_keyid,
        ctr_top,
        |mac_key| mac_key.verify(&authenticated, &message.mac),
    )?;
    // Only an authenticated message may complain about its next key.
    let their_next = their_next?;
    let mut plaintext = Zeroizing::new(message.encrypted.clone());
    keys.aes.apply(&message.ctr_top, &mut plaintext);
    let extra_key = Zeroizing::new(*keys.extra_key);
    ratchet.accept_incoming(
        rng,
        message.sender_keyid,
        message.recipient_keyid,
        ctr_top,
        their_next,
    );
    Ok(Opened {
        plaintext,
        extra_key,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::otr::keys::DhKeyPair;
    use crate::otr::wire::messages::ProtocolVersion;

    const HEADER: Header = Header {
        version: ProtocolVersion::V3,
        message_type: DATA,
        sender_instance: 0x100,
        receiver_instance: 0x101,
    };

    fn ratchets(rng: &mut ChaCha20Rng) -> (KeyRatchet, KeyRatchet) {
        let a = DhKeyPair::generate(rng);
        let b = DhKeyPair::generate(rng);
        let (a_pub, b_pub) = (*a.public(), *b.public());
        (
            KeyRatchet::after_ake(rng, a, 1, b_pub, 1),
            KeyRatchet::after_ake(rng, b, 1, a_pub, 1),
        )
    }

    fn deliver(from: &mut KeyRatchet, to: &mut KeyRatchet, rng: &mut ChaCha20Rng) -> Vec<u8> {
        let sealed = seal(from, &HEADER, 0, b"turn").unwrap();
        open(to, rng, &HEADER, &sealed.message).unwrap();
        sealed.message.old_mac_keys
    }

    #[test]
    fn mac_keys_due_for_reveal_survive_a_failed_seal() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (mut alice, mut bob) = ratchets(&mut rng);
        // Back and forth until one of Alice's receiving pairs retires.
        for _ in 0..3 {
            deliver(&mut alice, &mut bob, &mut rng);
            deliver(&mut bob, &mut alice, &mut rng);
        }
        let due = alice.mac_keys_due_for_testing_only();
        assert!(due > 0 && due % 20 == 0, "{due}");
        let ctr = alice.set_send_counter_for_testing_only(u64::MAX);
        assert_eq!(
            seal(&mut alice, &HEADER, 0, b"fails").err(),
            Some(KeyError::CounterExhausted)
        );
        assert_eq!(alice.mac_keys_due_for_testing_only(), due, "keys lost");
        // The next message that goes out publishes them.
        alice.set_send_counter_for_testing_only(ctr);
        let revealed = deliver(&mut alice, &mut bob, &mut rng);
        assert_eq!(revealed.len(), due);
    }
}
