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
    let reveal = ratchet.take_mac_keys_to_reveal();
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
        old_mac_keys: reveal,
    };
    message.mac = keys.mac.compute(&message.authenticated_bytes(header));
    Ok(Sealed {
        message,
        extra_key: Zeroizing::new(*keys.extra_key),
    })
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
