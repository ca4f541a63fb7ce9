//! TLV records carried after the NUL in a decrypted data message (spec "Data Message").
//!
//! Plaintext = human-readable message, optionally a NUL and zero or more
//! `type (SHORT) | length (SHORT) | value` records without padding.

/// A TLV record type (spec "Data Message"): the known types as named constants; any other
/// value is still a `TlvType`, kept and printed as its number (callers ignore it).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlvType(pub u16);

impl TlvType {
    /// Padding; ignored.
    pub const PADDING: Self = Self(0);
    /// The peer closed its private connection.
    pub const DISCONNECTED: Self = Self(1);
    /// SMP message 1.
    pub const SMP1: Self = Self(2);
    /// SMP message 2.
    pub const SMP2: Self = Self(3);
    /// SMP message 3.
    pub const SMP3: Self = Self(4);
    /// SMP message 4.
    pub const SMP4: Self = Self(5);
    /// SMP abort.
    pub const SMP_ABORT: Self = Self(6);
    /// SMP message 1 with a NUL-terminated question in front.
    pub const SMP1Q: Self = Self(7);
    /// Use of the extra symmetric key.
    pub const SYMKEY: Self = Self(8);

    /// The spec's name of a known type.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::PADDING => "PADDING",
            Self::DISCONNECTED => "DISCONNECTED",
            Self::SMP1 => "SMP1",
            Self::SMP2 => "SMP2",
            Self::SMP3 => "SMP3",
            Self::SMP4 => "SMP4",
            Self::SMP_ABORT => "SMP_ABORT",
            Self::SMP1Q => "SMP1Q",
            Self::SYMKEY => "SYMKEY",
            _ => return None,
        })
    }
}

impl core::fmt::Debug for TlvType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "TlvType({})", self.0),
        }
    }
}

impl core::fmt::Display for TlvType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Padding; ignored.
pub const PADDING: TlvType = TlvType::PADDING;
/// The peer closed its private connection.
pub const DISCONNECTED: TlvType = TlvType::DISCONNECTED;
/// SMP message 1.
pub const SMP1: TlvType = TlvType::SMP1;
/// SMP message 2.
pub const SMP2: TlvType = TlvType::SMP2;
/// SMP message 3.
pub const SMP3: TlvType = TlvType::SMP3;
/// SMP message 4.
pub const SMP4: TlvType = TlvType::SMP4;
/// SMP abort.
pub const SMP_ABORT: TlvType = TlvType::SMP_ABORT;
/// SMP message 1 with a NUL-terminated question in front.
pub const SMP1Q: TlvType = TlvType::SMP1Q;
/// Use of the extra symmetric key.
pub const SYMKEY: TlvType = TlvType::SYMKEY;

/// Largest value a TLV can carry: its length field is a SHORT.
pub const MAX_VALUE_LEN: usize = u16::MAX as usize;

/// One type/length/value record. The length is implied by `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    /// Record type (see the constants in this module; unknown types are kept, callers ignore
    /// them).
    pub kind: TlvType,
    /// Record value, at most [`MAX_VALUE_LEN`] bytes to be serialisable.
    pub value: Vec<u8>,
}

impl Tlv {
    /// A record; `None` if `value` is too long for the SHORT length field.
    pub fn new(kind: TlvType, value: Vec<u8>) -> Option<Self> {
        (value.len() <= MAX_VALUE_LEN).then_some(Self { kind, value })
    }

    /// A record with an empty value (DISCONNECTED, SMP_ABORT).
    pub fn empty(kind: TlvType) -> Self {
        Self {
            kind,
            value: Vec::new(),
        }
    }

    /// Serialise onto `out`; `Err` if the value is too long.
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), TlvTooLong> {
        let len = u16::try_from(self.value.len()).map_err(|_| TlvTooLong)?;
        out.extend_from_slice(&self.kind.0.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.value);
        Ok(())
    }
}

/// A TLV value exceeded [`MAX_VALUE_LEN`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlvTooLong;

impl core::fmt::Display for TlvTooLong {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TLV value longer than 65535 bytes")
    }
}

impl std::error::Error for TlvTooLong {}

/// Parse a TLV chain. Like libotr, a record whose declared length runs past the end, and
/// fewer than 4 leftover bytes, end the chain silently rather than failing the message.
/// Every record holds at most 65535 bytes and no more than the input, so this is bounded.
pub fn parse_tlvs(mut bytes: &[u8]) -> Vec<Tlv> {
    let mut out = Vec::new();
    while let [t0, t1, l0, l1, rest @ ..] = bytes {
        let kind = TlvType(u16::from_be_bytes([*t0, *t1]));
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let Some((value, tail)) = rest.split_at_checked(len) else {
            break;
        };
        out.push(Tlv {
            kind,
            value: value.to_vec(),
        });
        bytes = tail;
    }
    out
}

/// Split a decrypted plaintext into the human-readable message (everything before the first
/// NUL, or all of it) and the TLVs after that NUL.
pub fn split_plaintext(plaintext: &[u8]) -> (Vec<u8>, Vec<Tlv>) {
    match plaintext.iter().position(|&b| b == 0) {
        Some(nul) => {
            let (message, rest) = plaintext.split_at(nul);
            // `rest` starts with the NUL.
            (message.to_vec(), parse_tlvs(rest.get(1..).unwrap_or(&[])))
        }
        None => (plaintext.to_vec(), Vec::new()),
    }
}

/// Build a plaintext: message, NUL, TLVs. The NUL is always written, as libotr does.
///
/// The message is cut at its first NUL (libotr treats it as a C string): otherwise text after
/// an embedded NUL would be read by the peer as TLVs.
pub fn try_join_plaintext(message: &[u8], tlvs: &[Tlv]) -> Result<Vec<u8>, TlvTooLong> {
    let message = match message.iter().position(|&b| b == 0) {
        Some(nul) => message.get(..nul).unwrap_or(message),
        None => message,
    };
    let tlv_len: usize = tlvs
        .iter()
        .map(|t| t.value.len().saturating_add(4))
        .fold(0, usize::saturating_add);
    let mut out = Vec::with_capacity(message.len().saturating_add(1).saturating_add(tlv_len));
    out.extend_from_slice(message);
    out.push(0);
    for tlv in tlvs {
        tlv.write_to(&mut out)?;
    }
    Ok(out)
}

/// [`try_join_plaintext`] for TLVs known to fit (all the engine builds itself: SMP values are
/// at most a few KiB). A TLV whose value is too long is left out whole rather than truncated
/// into something that would parse differently; use [`try_join_plaintext`] when a value may
/// be large (e.g. a user-supplied SMP question).
pub fn join_plaintext(message: &[u8], tlvs: &[Tlv]) -> Vec<u8> {
    let fitting: Vec<Tlv> = tlvs
        .iter()
        .filter(|t| t.value.len() <= MAX_VALUE_LEN)
        .cloned()
        .collect();
    // Cannot fail: every remaining value fits.
    try_join_plaintext(message, &fitting).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            parse_tlvs(b"\x00\x01\x00\x00"),
            vec![Tlv::empty(DISCONNECTED)]
        );
        assert_eq!(
            parse_tlvs(b"\x00\x00\x00\x05hello"),
            vec![Tlv {
                kind: PADDING,
                value: b"hello".to_vec()
            }]
        );
    }

    #[test]
    fn split_without_nul_is_all_message() {
        let (m, t) = split_plaintext(b"just text");
        assert_eq!(m, b"just text");
        assert!(t.is_empty());
    }

    #[test]
    fn split_with_nul_and_tlvs() {
        let pt = b"hi\x00\x00\x01\x00\x00\x00\x08\x00\x06abcdef\x12\x34\x00\x01z";
        let (m, t) = split_plaintext(pt);
        assert_eq!(m, b"hi");
        assert_eq!(
            t,
            vec![
                Tlv::empty(DISCONNECTED),
                Tlv {
                    kind: SYMKEY,
                    value: b"abcdef".to_vec()
                },
                Tlv {
                    kind: TlvType(0x1234),
                    value: b"z".to_vec()
                },
            ]
        );
    }

    #[test]
    fn tlv_types_print_by_name_and_unknown_ones_by_number() {
        assert_eq!(format!("{SMP1Q:?} {DISCONNECTED}"), "SMP1Q DISCONNECTED");
        assert_eq!(format!("{:?} {}", TlvType(9), TlvType(9)), "TlvType(9) 9");
        assert_eq!(TlvType(8), SYMKEY);
        // An unknown type survives a round trip.
        let pt = join_plaintext(b"", &[Tlv::empty(TlvType(0xbeef))]);
        assert_eq!(split_plaintext(&pt).1, vec![Tlv::empty(TlvType(0xbeef))]);
    }

    #[test]
    fn heartbeat_forms() {
        assert_eq!(split_plaintext(b""), (Vec::new(), Vec::new()));
        assert_eq!(split_plaintext(b"\x00"), (Vec::new(), Vec::new()));
        assert_eq!(
            split_plaintext(b"\x00\x00\x01\x00\x00"),
            (Vec::new(), vec![Tlv::empty(DISCONNECTED)])
        );
    }

    #[test]
    fn truncated_trailing_tlv_is_dropped() {
        // Declared length 5, only 3 bytes present: dropped, earlier records kept.
        let (_, t) = split_plaintext(b"m\x00\x00\x06\x00\x00\x00\x02\x00\x05abc");
        assert_eq!(t, vec![Tlv::empty(SMP_ABORT)]);
        // Fewer than 4 bytes left: ignored.
        for tail in [&b"\x00"[..], b"\x00\x01", b"\x00\x01\x00"] {
            let mut pt = b"m\x00".to_vec();
            pt.extend_from_slice(tail);
            assert_eq!(split_plaintext(&pt).1, vec![], "tail {tail:?}");
        }
        // Maximal declared length with nothing behind it.
        assert_eq!(parse_tlvs(b"\x00\x02\xff\xff"), vec![]);
    }

    #[test]
    fn nul_inside_tlv_values_is_data() {
        let pt = b"a\x00\x00\x07\x00\x03q\x00r";
        let (m, t) = split_plaintext(pt);
        assert_eq!(m, b"a");
        assert_eq!(
            t,
            vec![Tlv {
                kind: SMP1Q,
                value: b"q\x00r".to_vec()
            }]
        );
    }

    #[test]
    fn join_round_trips() {
        let tlvs = vec![
            Tlv::empty(SMP_ABORT),
            Tlv {
                kind: SMP1,
                value: vec![0xaa; 300],
            },
            Tlv {
                kind: TlvType(0xffff),
                value: vec![0; MAX_VALUE_LEN],
            },
        ];
        let pt = join_plaintext("héllo".as_bytes(), &tlvs);
        assert_eq!(split_plaintext(&pt), ("héllo".as_bytes().to_vec(), tlvs));
        // Always a NUL, even without TLVs.
        assert_eq!(join_plaintext(b"x", &[]), b"x\x00");
        assert_eq!(
            join_plaintext(b"", &[Tlv::empty(DISCONNECTED)]),
            b"\x00\x00\x01\x00\x00"
        );
    }

    #[test]
    fn join_cuts_message_at_embedded_nul() {
        // Text after a NUL must not turn into TLVs on the other side.
        let pt = join_plaintext(b"ok\x00\x00\x01\x00\x00", &[]);
        assert_eq!(pt, b"ok\x00");
        assert_eq!(split_plaintext(&pt).1, vec![]);
    }

    #[test]
    fn overlong_values_are_refused() {
        let big = vec![0u8; MAX_VALUE_LEN + 1];
        assert_eq!(Tlv::new(SMP1Q, big.clone()), None);
        assert!(Tlv::new(SMP1Q, vec![0u8; MAX_VALUE_LEN]).is_some());
        let tlvs = [
            Tlv::empty(DISCONNECTED),
            Tlv {
                kind: SMP1Q,
                value: big,
            },
        ];
        assert_eq!(try_join_plaintext(b"m", &tlvs), Err(TlvTooLong));
        // The infallible form drops the oversized record whole.
        assert_eq!(join_plaintext(b"m", &tlvs), b"m\x00\x00\x01\x00\x00");
    }
}
