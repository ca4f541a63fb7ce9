//! Wire format of the modern suite (docs/modern-suite.md §3–§4).
//!
//! Each message is an OTR v3 message as far as the envelope is concerned: protocol version 3,
//! a message type libotr does not define, sender and receiver instance tags; so `?OTR:` base64,
//! `?OTR|…` fragmentation and instance routing carry it unchanged. Every field after the
//! header is fixed-size except the data message's ciphertext and revealed MAC keys (DATA
//! fields), so decoding is strict and re-encoding reproduces the input byte for byte.

use crate::otr::wire::reader::Reader;
use crate::otr::wire::writer::Writer;
use crate::otr::wire::DecodeError;

use super::prims::{KEM_CT_LEN, KEM_EK_LEN};

/// Protocol version in the header: OTR v3's, so the v3 envelope and fragmenter apply.
pub const VERSION: u16 = 3;
/// Modern handshake, first message (initiator → responder). Base64 `?OTR:AAMw`.
pub const MODERN_INIT: u8 = 0x30;
/// Modern handshake, second message (responder → initiator). `?OTR:AAMx`.
pub const MODERN_RESPONSE: u8 = 0x31;
/// Modern handshake, third message (initiator → responder). `?OTR:AAMy`.
pub const MODERN_CONFIRM: u8 = 0x32;
/// Double Ratchet data message. `?OTR:AAMz`.
pub const MODERN_DATA: u8 = 0x33;
/// Direct start between pinned peers, without a v3 session (docs/modern-suite.md §15).
/// `?OTR:AAM0`.
pub const MODERN_DIRECT_INIT: u8 = 0x34;

/// The discovery TLV's type, inside an encrypted v3 data message (libotr 4.1.1 knows 0–8 and
/// ignores the rest).
pub const TLV_MODERN_ANNOUNCE: u16 = 0x5051;

/// Data message flag: like v3's IGNORE_UNREADABLE, the receiver says nothing if it fails.
pub const FLAG_IGNORE_UNREADABLE: u8 = 0x01;
/// Data message flag: this chain mixes in the KEM secret of the peer's last ciphertext.
pub const FLAG_KEM_ACK: u8 = 0x02;
/// Data message flag: an ML-KEM encapsulation key follows the counters.
pub const FLAG_KEM_EK: u8 = 0x04;
/// Data message flag: an ML-KEM ciphertext follows (after the key, if both).
pub const FLAG_KEM_CT: u8 = 0x08;
const KNOWN_FLAGS: u8 = FLAG_IGNORE_UNREADABLE | FLAG_KEM_ACK | FLAG_KEM_EK | FLAG_KEM_CT;

/// Bytes of the header: version, type, two instance tags.
pub const HEADER_LEN: usize = 2 + 1 + 4 + 4;
/// Bytes of a data message's MAC.
pub const MAC_LEN: usize = 32;

/// Instance tags of a modern message (the type is implied by the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instances {
    /// Sender instance tag.
    pub sender: u32,
    /// Receiver instance tag.
    pub receiver: u32,
}

/// The discovery announcement (TLV [`TLV_MODERN_ANNOUNCE`]): suites spoken and the sender's
/// identity key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// Suite ids the sender speaks, 1 to 16 of them.
    pub suites: Vec<u8>,
    /// The sender's X25519 identity public key.
    pub identity: [u8; 32],
}

impl Announce {
    /// The TLV value. At most the first 16 suites are written (what `decode` accepts).
    pub fn encode(&self) -> Vec<u8> {
        let suites = self.suites.get(..16).unwrap_or(&self.suites);
        let mut w = Writer::with_capacity(1 + suites.len() + 32);
        // At most 16, so the count fits a byte.
        w.byte(u8::try_from(suites.len()).unwrap_or(16));
        w.bytes(suites).bytes(&self.identity);
        w.into_vec()
    }

    /// Parse a TLV value.
    pub fn decode(value: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(value);
        let count = r.byte()?;
        if count == 0 || count > 16 {
            return Err(DecodeError::BadValue);
        }
        let suites = r.take(usize::from(count))?.to_vec();
        let identity = r.fixed::<32>()?;
        r.finish()?;
        Ok(Self { suites, identity })
    }
}

/// MODERN_INIT body.
#[derive(Clone, PartialEq, Eq)]
pub struct Init {
    /// Instance tags.
    pub instances: Instances,
    /// Suite id.
    pub suite: u8,
    /// The initiator's identity public key.
    pub initiator_identity: [u8; 32],
    /// The identity key the initiator expects the responder to hold.
    pub responder_identity: [u8; 32],
    /// The initiator's ephemeral X25519 public key.
    pub ephemeral: [u8; 32],
    /// The initiator's ephemeral ML-KEM-768 encapsulation key.
    pub kem_ek: Box<[u8; KEM_EK_LEN]>,
}

/// MODERN_DIRECT_INIT body: a MODERN_INIT plus the two v3 fingerprints the pins were learned
/// with, so the responder finds its pin (docs/modern-suite.md §15.2).
#[derive(Clone, PartialEq, Eq)]
pub struct DirectInit {
    /// Instance tags (the receiver is 0 or the responder's tag).
    pub instances: Instances,
    /// Suite id.
    pub suite: u8,
    /// The initiator's own v3 fingerprint (the key its identity was pinned with).
    pub initiator_fingerprint: [u8; 20],
    /// The responder's v3 fingerprint the initiator pinned the responder's identity with.
    pub responder_fingerprint: [u8; 20],
    /// The initiator's identity public key.
    pub initiator_identity: [u8; 32],
    /// The identity key the initiator pinned for the responder.
    pub responder_identity: [u8; 32],
    /// The initiator's ephemeral X25519 public key.
    pub ephemeral: [u8; 32],
    /// The initiator's ephemeral ML-KEM-768 encapsulation key.
    pub kem_ek: Box<[u8; KEM_EK_LEN]>,
}

/// MODERN_RESPONSE body.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Instance tags.
    pub instances: Instances,
    /// Suite id.
    pub suite: u8,
    /// The responder's ephemeral X25519 public key (also its first ratchet key).
    pub ephemeral: [u8; 32],
    /// ML-KEM-768 ciphertext to the initiator's encapsulation key.
    pub kem_ct: Box<[u8; KEM_CT_LEN]>,
    /// The responder's key confirmation.
    pub mac: [u8; 32],
}

/// MODERN_CONFIRM body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirm {
    /// Instance tags.
    pub instances: Instances,
    /// Suite id.
    pub suite: u8,
    /// The initiator's key confirmation.
    pub mac: [u8; 32],
}

/// The ratchet header of a data message.
#[derive(Clone, PartialEq, Eq)]
pub struct RatchetHeader {
    /// IGNORE_UNREADABLE and KEM_ACK (the KEM_EK/KEM_CT bits follow the options below).
    pub flags: u8,
    /// The sender's current ratchet public key.
    pub ratchet_key: [u8; 32],
    /// Messages in the sender's previous sending chain.
    pub pn: u32,
    /// This message's number in its chain.
    pub n: u32,
    /// A new ML-KEM encapsulation key (first message of a chain opening a KEM round).
    pub kem_ek: Option<Box<[u8; KEM_EK_LEN]>>,
    /// A ciphertext to the peer's last encapsulation key (first message of the answer chain).
    pub kem_ct: Option<Box<[u8; KEM_CT_LEN]>>,
}

/// MODERN_DATA body.
#[derive(Clone, PartialEq, Eq)]
pub struct Data {
    /// Instance tags.
    pub instances: Instances,
    /// Suite id.
    pub suite: u8,
    /// The ratchet header.
    pub header: RatchetHeader,
    /// AES-256-CTR ciphertext of the plaintext (text, optional NUL and v3 TLVs).
    pub ciphertext: Vec<u8>,
    /// HMAC-SHA256 over the transcript hash and every byte before this field.
    pub mac: [u8; 32],
    /// Old MAC keys, published for deniability (not covered by the MAC).
    pub revealed: Vec<[u8; 32]>,
}

/// Any message of the suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModernMessage {
    /// MODERN_INIT.
    Init(Init),
    /// MODERN_RESPONSE.
    Response(Response),
    /// MODERN_CONFIRM.
    Confirm(Confirm),
    /// MODERN_DATA.
    Data(Data),
    /// MODERN_DIRECT_INIT.
    DirectInit(DirectInit),
}

/// True if `bytes` start like a modern message (version 3, one of our types): what a
/// session checks before handing a decoded `?OTR:` payload here.
pub fn is_modern(bytes: &[u8]) -> bool {
    matches!(
        bytes,
        [0x00, 0x03, t, ..] if (MODERN_INIT..=MODERN_DIRECT_INIT).contains(t)
    )
}

fn write_header(w: &mut Writer, message_type: u8, i: Instances, suite: u8) {
    w.short(VERSION)
        .byte(message_type)
        .int(i.sender)
        .int(i.receiver)
        .byte(suite);
}

fn read_instances(r: &mut Reader<'_>) -> Result<Instances, DecodeError> {
    let sender = r.int()?;
    let receiver = r.int()?;
    // v3's rule: a sender tag is never below 0x100; a receiver tag is 0 or >= 0x100.
    if sender < 0x100 || (receiver != 0 && receiver < 0x100) {
        return Err(DecodeError::BadInstanceTag);
    }
    Ok(Instances { sender, receiver })
}

fn fixed_box<const N: usize>(r: &mut Reader<'_>) -> Result<Box<[u8; N]>, DecodeError> {
    let bytes = r.take(N)?;
    let mut out = Box::new([0u8; N]);
    out.copy_from_slice(bytes);
    Ok(out)
}

impl Init {
    /// Serialise.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 1 + 96 + KEM_EK_LEN);
        write_header(&mut w, MODERN_INIT, self.instances, self.suite);
        w.bytes(&self.initiator_identity)
            .bytes(&self.responder_identity)
            .bytes(&self.ephemeral)
            .bytes(&self.kem_ek[..]);
        w.into_vec()
    }
}

impl DirectInit {
    /// Bytes of an encoded MODERN_DIRECT_INIT.
    pub const LEN: usize = HEADER_LEN + 1 + 40 + 96 + KEM_EK_LEN;

    /// Serialise.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::LEN);
        write_header(&mut w, MODERN_DIRECT_INIT, self.instances, self.suite);
        w.bytes(&self.initiator_fingerprint)
            .bytes(&self.responder_fingerprint)
            .bytes(&self.initiator_identity)
            .bytes(&self.responder_identity)
            .bytes(&self.ephemeral)
            .bytes(&self.kem_ek[..]);
        w.into_vec()
    }
}

impl Response {
    /// Serialise.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = self.encode_unauthenticated();
        w.extend_from_slice(&self.mac);
        w
    }

    /// Every byte before the MAC (what the transcript hash covers).
    pub fn encode_unauthenticated(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 1 + 32 + KEM_CT_LEN + 32);
        write_header(&mut w, MODERN_RESPONSE, self.instances, self.suite);
        w.bytes(&self.ephemeral).bytes(&self.kem_ct[..]);
        w.into_vec()
    }
}

impl Confirm {
    /// Serialise.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 1 + 32);
        write_header(&mut w, MODERN_CONFIRM, self.instances, self.suite);
        w.bytes(&self.mac);
        w.into_vec()
    }
}

impl RatchetHeader {
    /// The flags byte as sent: the stored flags plus the KEM_EK/KEM_CT bits.
    pub fn wire_flags(&self) -> u8 {
        let mut f = self.flags & (FLAG_IGNORE_UNREADABLE | FLAG_KEM_ACK);
        if self.kem_ek.is_some() {
            f |= FLAG_KEM_EK;
        }
        if self.kem_ct.is_some() {
            f |= FLAG_KEM_CT;
        }
        f
    }

    fn write(&self, w: &mut Writer) {
        w.byte(self.wire_flags())
            .bytes(&self.ratchet_key)
            .int(self.pn)
            .int(self.n);
        if let Some(ek) = &self.kem_ek {
            w.bytes(&ek[..]);
        }
        if let Some(ct) = &self.kem_ct {
            w.bytes(&ct[..]);
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.byte()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(DecodeError::BadValue);
        }
        let ratchet_key = r.fixed::<32>()?;
        let pn = r.int()?;
        let n = r.int()?;
        let kem_ek = if flags & FLAG_KEM_EK != 0 {
            Some(fixed_box::<KEM_EK_LEN>(r)?)
        } else {
            None
        };
        let kem_ct = if flags & FLAG_KEM_CT != 0 {
            Some(fixed_box::<KEM_CT_LEN>(r)?)
        } else {
            None
        };
        Ok(Self {
            flags: flags & (FLAG_IGNORE_UNREADABLE | FLAG_KEM_ACK),
            ratchet_key,
            pn,
            n,
            kem_ek,
            kem_ct,
        })
    }
}

impl Data {
    /// Every byte the MAC covers (after the transcript hash): header to ciphertext.
    pub fn encode_authenticated(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 1 + 41 + 4 + self.ciphertext.len());
        write_header(&mut w, MODERN_DATA, self.instances, self.suite);
        self.header.write(&mut w);
        w.data(&self.ciphertext);
        w.into_vec()
    }

    /// Serialise.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.encode_authenticated();
        v.extend_from_slice(&self.mac);
        let mut w = Writer::with_capacity(4 + 32 * self.revealed.len());
        let flat: Vec<u8> = self.revealed.iter().flatten().copied().collect();
        w.data(&flat);
        v.extend_from_slice(w.as_slice());
        v
    }

    /// True if the sender asked for silence on failure.
    pub fn ignore_unreadable(&self) -> bool {
        self.header.flags & FLAG_IGNORE_UNREADABLE != 0
    }
}

impl ModernMessage {
    /// Parse one complete message; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.short()?;
        if version != VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        let message_type = r.byte()?;
        let instances = read_instances(&mut r)?;
        let suite = r.byte()?;
        let message = match message_type {
            MODERN_INIT => Self::Init(Init {
                instances,
                suite,
                initiator_identity: r.fixed()?,
                responder_identity: r.fixed()?,
                ephemeral: r.fixed()?,
                kem_ek: fixed_box(&mut r)?,
            }),
            MODERN_DIRECT_INIT => Self::DirectInit(DirectInit {
                instances,
                suite,
                initiator_fingerprint: r.fixed()?,
                responder_fingerprint: r.fixed()?,
                initiator_identity: r.fixed()?,
                responder_identity: r.fixed()?,
                ephemeral: r.fixed()?,
                kem_ek: fixed_box(&mut r)?,
            }),
            MODERN_RESPONSE => Self::Response(Response {
                instances,
                suite,
                ephemeral: r.fixed()?,
                kem_ct: fixed_box(&mut r)?,
                mac: r.fixed()?,
            }),
            MODERN_CONFIRM => Self::Confirm(Confirm {
                instances,
                suite,
                mac: r.fixed()?,
            }),
            MODERN_DATA => {
                let header = RatchetHeader::read(&mut r)?;
                let ciphertext = r.data()?.to_vec();
                let mac = r.fixed()?;
                let flat = r.data()?;
                if flat.len() % 32 != 0 {
                    return Err(DecodeError::BadValue);
                }
                let revealed = flat
                    .chunks_exact(32)
                    .map(|c| {
                        let mut k = [0u8; 32];
                        k.copy_from_slice(c);
                        k
                    })
                    .collect();
                Self::Data(Data {
                    instances,
                    suite,
                    header,
                    ciphertext,
                    mac,
                    revealed,
                })
            }
            other => {
                return Err(DecodeError::BadMessageType(
                    crate::otr::wire::messages::MessageType(other),
                ))
            }
        };
        r.finish()?;
        Ok(message)
    }

    /// Serialise.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Init(m) => m.encode(),
            Self::Response(m) => m.encode(),
            Self::Confirm(m) => m.encode(),
            Self::Data(m) => m.encode(),
            Self::DirectInit(m) => m.encode(),
        }
    }

    /// The instance tags.
    pub fn instances(&self) -> Instances {
        match self {
            Self::Init(m) => m.instances,
            Self::Response(m) => m.instances,
            Self::Confirm(m) => m.instances,
            Self::Data(m) => m.instances,
            Self::DirectInit(m) => m.instances,
        }
    }
}

// Public values only, but 1–2 KB of them: print sizes and a prefix.
impl core::fmt::Debug for Init {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Init")
            .field("instances", &self.instances)
            .field("suite", &self.suite)
            .field("ephemeral", &super::prims::hex(&self.ephemeral))
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for DirectInit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DirectInit")
            .field("instances", &self.instances)
            .field("suite", &self.suite)
            .field("ephemeral", &super::prims::hex(&self.ephemeral))
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for Response {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Response")
            .field("instances", &self.instances)
            .field("suite", &self.suite)
            .field("ephemeral", &super::prims::hex(&self.ephemeral))
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for RatchetHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RatchetHeader")
            .field("flags", &self.wire_flags())
            .field("ratchet_key", &super::prims::hex(&self.ratchet_key))
            .field("pn", &self.pn)
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for Data {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Data")
            .field("instances", &self.instances)
            .field("header", &self.header)
            .field("ciphertext_len", &self.ciphertext.len())
            .field("revealed", &self.revealed.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const I: Instances = Instances {
        sender: 0x1234_5678,
        receiver: 0x0000_0100,
    };

    pub(crate) fn samples() -> Vec<ModernMessage> {
        let data = |ek: bool, ct: bool, revealed: usize| {
            ModernMessage::Data(Data {
                instances: I,
                suite: 1,
                header: RatchetHeader {
                    flags: FLAG_KEM_ACK,
                    ratchet_key: [5; 32],
                    pn: 7,
                    n: 9,
                    kem_ek: ek.then(|| Box::new([6; KEM_EK_LEN])),
                    kem_ct: ct.then(|| Box::new([7; KEM_CT_LEN])),
                },
                ciphertext: b"hello".to_vec(),
                mac: [8; 32],
                revealed: vec![[9; 32]; revealed],
            })
        };
        vec![
            ModernMessage::Init(Init {
                instances: I,
                suite: 1,
                initiator_identity: [1; 32],
                responder_identity: [2; 32],
                ephemeral: [3; 32],
                kem_ek: Box::new([4; KEM_EK_LEN]),
            }),
            ModernMessage::Response(Response {
                instances: I,
                suite: 1,
                ephemeral: [3; 32],
                kem_ct: Box::new([4; KEM_CT_LEN]),
                mac: [5; 32],
            }),
            ModernMessage::Confirm(Confirm {
                instances: I,
                suite: 1,
                mac: [6; 32],
            }),
            data(false, false, 0),
            data(true, false, 1),
            data(false, true, 2),
            data(true, true, 0),
            ModernMessage::DirectInit(DirectInit {
                instances: Instances {
                    sender: 0x1234_5678,
                    receiver: 0,
                },
                suite: 1,
                initiator_fingerprint: [0x0a; 20],
                responder_fingerprint: [0x0b; 20],
                initiator_identity: [1; 32],
                responder_identity: [2; 32],
                ephemeral: [3; 32],
                kem_ek: Box::new([4; KEM_EK_LEN]),
            }),
        ]
    }

    #[test]
    fn direct_init_layout_is_the_documented_one() {
        let Some(ModernMessage::DirectInit(d)) = samples().pop() else {
            unreachable!()
        };
        let bytes = d.encode();
        assert_eq!(bytes.len(), 1332);
        assert_eq!(bytes.len(), DirectInit::LEN);
        assert_eq!(&bytes[..3], &[0x00, 0x03, MODERN_DIRECT_INIT]);
        assert_eq!(&bytes[3..11], &[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]);
        assert_eq!(bytes[11], 1, "suite");
        assert_eq!(&bytes[12..32], &[0x0a; 20]);
        assert_eq!(&bytes[32..52], &[0x0b; 20]);
        assert_eq!(&bytes[52..84], &[1; 32]);
        assert_eq!(&bytes[84..116], &[2; 32]);
        assert_eq!(&bytes[116..148], &[3; 32]);
        assert_eq!(&bytes[148..], &[4; KEM_EK_LEN][..]);
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert!(text.starts_with("AAM0"), "{}", &text[..4]);
    }

    #[test]
    fn round_trip_and_sizes() {
        let sizes = [
            HEADER_LEN + 1 + 96 + KEM_EK_LEN,
            HEADER_LEN + 1 + 32 + KEM_CT_LEN + 32,
            HEADER_LEN + 1 + 32,
        ];
        for (i, m) in samples().iter().enumerate() {
            let bytes = m.encode();
            assert!(is_modern(&bytes));
            if let Some(size) = sizes.get(i) {
                assert_eq!(bytes.len(), *size);
            }
            assert_eq!(&ModernMessage::decode(&bytes).unwrap(), m);
            // Every strict prefix fails, and so does one more byte.
            for cut in 0..bytes.len() {
                assert!(ModernMessage::decode(&bytes[..cut]).is_err(), "cut {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(
                ModernMessage::decode(&longer),
                Err(DecodeError::TrailingBytes)
            );
        }
    }

    #[test]
    fn data_layout_is_the_documented_one() {
        let m = &samples()[4];
        let ModernMessage::Data(d) = m else {
            unreachable!()
        };
        let bytes = d.encode();
        assert_eq!(&bytes[..3], &[0x00, 0x03, MODERN_DATA]);
        assert_eq!(&bytes[3..11], &[0x12, 0x34, 0x56, 0x78, 0, 0, 1, 0]);
        assert_eq!(bytes[11], 1, "suite");
        assert_eq!(bytes[12], FLAG_KEM_ACK | FLAG_KEM_EK, "flags");
        assert_eq!(&bytes[13..45], &[5; 32]);
        assert_eq!(&bytes[45..53], &[0, 0, 0, 7, 0, 0, 0, 9]);
        let after_ek = 53 + KEM_EK_LEN;
        assert_eq!(&bytes[after_ek..after_ek + 4], &[0, 0, 0, 5]);
        let auth = d.encode_authenticated();
        assert_eq!(auth.len(), after_ek + 4 + 5);
        assert_eq!(&bytes[auth.len()..auth.len() + 32], &[8; 32]);
        assert_eq!(&bytes[auth.len() + 32..auth.len() + 36], &[0, 0, 0, 32]);
    }

    #[test]
    fn rejects_bad_fields() {
        let good = samples()[3].encode();
        let mut b = good.clone();
        b[1] = 2;
        assert_eq!(ModernMessage::decode(&b), Err(DecodeError::BadVersion(2)));
        let mut b = good.clone();
        b[2] = 0x03;
        assert_eq!(
            ModernMessage::decode(&b),
            Err(DecodeError::BadMessageType(
                crate::otr::wire::messages::MessageType(3)
            ))
        );
        assert!(!is_modern(&b));
        let mut b = good.clone();
        b[12] |= 0x10;
        assert_eq!(ModernMessage::decode(&b), Err(DecodeError::BadValue));
        let mut b = good.clone();
        b[3..7].copy_from_slice(&[0, 0, 0, 0xff]);
        assert_eq!(ModernMessage::decode(&b), Err(DecodeError::BadInstanceTag));
        // Revealed keys must be whole 32-byte keys.
        let mut b = good;
        let n = b.len();
        b[n - 1] = 1;
        b.push(0);
        assert_eq!(ModernMessage::decode(&b), Err(DecodeError::BadValue));
    }

    #[test]
    fn libotr_sees_an_unknown_v3_type() {
        // libotr classifies by the characters after "?OTR:AAM": C D K R S are its types.
        use base64::Engine;
        for m in samples() {
            let text = base64::engine::general_purpose::STANDARD.encode(m.encode());
            assert!(text.starts_with("AAM"));
            let c = text.as_bytes()[3];
            assert!(!b"CDKRS".contains(&c), "{}", c as char);
        }
    }

    #[test]
    fn announce_round_trip_and_limits() {
        let a = Announce {
            suites: vec![SUITE_V1_FOR_TESTS],
            identity: [7; 32],
        };
        let v = a.encode();
        assert_eq!(v.len(), 34);
        assert_eq!(Announce::decode(&v).unwrap(), a);
        assert_eq!(Announce::decode(&[0]), Err(DecodeError::BadValue));
        assert_eq!(Announce::decode(&[17]), Err(DecodeError::BadValue));
        let mut long = v.clone();
        long.push(0);
        assert_eq!(Announce::decode(&long), Err(DecodeError::TrailingBytes));
        assert!(Announce::decode(&v[..33]).is_err());
        // More than 16 suites: the first 16 are announced.
        let many = Announce {
            suites: (1..=20).collect(),
            identity: [7; 32],
        };
        let back = Announce::decode(&many.encode()).unwrap();
        assert_eq!(back.suites, (1..=16).collect::<Vec<u8>>());
    }

    const SUITE_V1_FOR_TESTS: u8 = super::super::SUITE_V1;
}
