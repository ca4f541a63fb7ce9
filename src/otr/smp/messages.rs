//! The payloads of the SMP TLVs (spec: "SMP Message TLVs (types 2-5) all carry data sharing
//! the same general format"): an INT count, then that many MPIs.
//!
//! Decoding is strict: the count must be exactly the one for the message (6, 11, 8, 3, as
//! libotr's `unserialize_mpi_array` requires), every MPI must be complete, no magnitude may
//! exceed 192 significant bytes, and nothing may follow the last MPI. libotr ignores trailing
//! bytes, but it never sends any, so rejecting them costs no interoperability.
//! Range checks and proofs are the state machine's business, not the codec's.

use crate::otr::crypto::modp::{self, Int};
use crate::otr::wire::reader::Reader;
use crate::otr::wire::writer::Writer;

/// An SMP payload that does not parse. The peer sees the same reaction whatever the reason
/// (libotr reports it as cheating), so it carries no detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Malformed;

/// Reads exactly `N` MPIs after a count that must equal `N`.
fn decode_mpis<const N: usize>(bytes: &[u8]) -> Result<[Int; N], Malformed> {
    let mut r = Reader::new(bytes);
    let count = r.int().map_err(|_| Malformed)?;
    if usize::try_from(count).ok() != Some(N) {
        return Err(Malformed);
    }
    let mut out = [Int::ZERO; N];
    for slot in out.iter_mut() {
        let magnitude = r.mpi().map_err(|_| Malformed)?;
        // Leading zero bytes are accepted, as gcry_mpi_scan does.
        *slot = modp::from_be_bytes(magnitude).ok_or(Malformed)?;
    }
    r.finish().map_err(|_| Malformed)?;
    Ok(out)
}

/// Writes the count and each value as a minimal-magnitude MPI (libotr's
/// `serialize_mpi_array` with `GCRYMPI_FMT_USG`).
fn encode_mpis(values: &[&Int]) -> Vec<u8> {
    let mut w = Writer::with_capacity(4 + values.len() * (4 + modp::MODULUS_BYTES));
    w.int(u32::try_from(values.len()).unwrap_or(u32::MAX));
    for v in values {
        w.mpi(&modp::to_mpi_bytes(v));
    }
    w.into_vec()
}

/// SMP message 1 (and the payload of 1Q): Alice's halves of the generator exchange with
/// proofs of knowledge of their exponents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Smp1 {
    pub(super) g2a: Int,
    pub(super) c2: Int,
    pub(super) d2: Int,
    pub(super) g3a: Int,
    pub(super) c3: Int,
    pub(super) d3: Int,
}

impl Smp1 {
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let [g2a, c2, d2, g3a, c3, d3] = decode_mpis::<6>(bytes)?;
        Ok(Self {
            g2a,
            c2,
            d2,
            g3a,
            c3,
            d3,
        })
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        encode_mpis(&[&self.g2a, &self.c2, &self.d2, &self.g3a, &self.c3, &self.d3])
    }
}

/// SMP message 2: Bob's halves of the generators with proofs, and his `Pb`, `Qb` with a proof
/// that they are well formed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Smp2 {
    pub(super) g2b: Int,
    pub(super) c2: Int,
    pub(super) d2: Int,
    pub(super) g3b: Int,
    pub(super) c3: Int,
    pub(super) d3: Int,
    pub(super) pb: Int,
    pub(super) qb: Int,
    pub(super) cp: Int,
    pub(super) d5: Int,
    pub(super) d6: Int,
}

impl Smp2 {
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let [g2b, c2, d2, g3b, c3, d3, pb, qb, cp, d5, d6] = decode_mpis::<11>(bytes)?;
        Ok(Self {
            g2b,
            c2,
            d2,
            g3b,
            c3,
            d3,
            pb,
            qb,
            cp,
            d5,
            d6,
        })
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        encode_mpis(&[
            &self.g2b, &self.c2, &self.d2, &self.g3b, &self.c3, &self.d3, &self.pb, &self.qb,
            &self.cp, &self.d5, &self.d6,
        ])
    }
}

/// SMP message 3: Alice's `Pa`, `Qa` with their proof, and `Ra` with its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Smp3 {
    pub(super) pa: Int,
    pub(super) qa: Int,
    pub(super) cp: Int,
    pub(super) d5: Int,
    pub(super) d6: Int,
    pub(super) ra: Int,
    pub(super) cr: Int,
    pub(super) d7: Int,
}

impl Smp3 {
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let [pa, qa, cp, d5, d6, ra, cr, d7] = decode_mpis::<8>(bytes)?;
        Ok(Self {
            pa,
            qa,
            cp,
            d5,
            d6,
            ra,
            cr,
            d7,
        })
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        encode_mpis(&[
            &self.pa, &self.qa, &self.cp, &self.d5, &self.d6, &self.ra, &self.cr, &self.d7,
        ])
    }
}

/// SMP message 4: Bob's `Rb` with its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Smp4 {
    pub(super) rb: Int,
    pub(super) cr: Int,
    pub(super) d7: Int,
}

impl Smp4 {
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let [rb, cr, d7] = decode_mpis::<3>(bytes)?;
        Ok(Self { rb, cr, d7 })
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        encode_mpis(&[&self.rb, &self.cr, &self.d7])
    }
}

/// Splits an SMP1Q value into the question and the SMP1 payload. The question ends at the
/// first NUL within the first `len - 1` bytes (libotr message.c searches exactly there); with
/// no such NUL the whole value counts as the question and the payload is empty, which then
/// fails to decode — the same outcome libotr reaches. The caller handles an empty value.
pub(super) fn split_question(value: &[u8]) -> (&[u8], &[u8]) {
    let searched = value.len().saturating_sub(1);
    match value.iter().take(searched).position(|&b| b == 0) {
        Some(nul) => {
            let (question, rest) = value.split_at(nul);
            (question, rest.get(1..).unwrap_or(&[]))
        }
        None => (value, &[]),
    }
}

/// The largest SMP1 payload: the count, six length fields, four values below p or q
/// (at most 192 bytes) and two SHA-256 hashes.
pub(super) const SMP1_MAX_PAYLOAD_LEN: usize = 4 + 6 * 4 + 4 * modp::MODULUS_BYTES + 2 * 32;

#[cfg(test)]
mod tests {
    use super::*;

    fn sample4() -> Smp4 {
        Smp4 {
            rb: Int::from_u16(0x1234),
            cr: Int::ONE,
            d7: Int::ZERO,
        }
    }

    #[test]
    fn encoding_is_count_then_minimal_mpis() {
        assert_eq!(
            sample4().encode(),
            vec![0, 0, 0, 3, 0, 0, 0, 2, 0x12, 0x34, 0, 0, 0, 1, 1, 0, 0, 0, 0]
        );
    }

    #[test]
    fn round_trips() {
        let m4 = sample4();
        assert_eq!(Smp4::decode(&m4.encode()), Ok(m4));
        let v = |n: u64| Int::from_u64(n);
        let m1 = Smp1 {
            g2a: v(2),
            c2: v(3),
            d2: v(4),
            g3a: *modp::P,
            c3: v(6),
            d3: v(7),
        };
        assert_eq!(Smp1::decode(&m1.encode()), Ok(m1));
        let m2 = Smp2 {
            g2b: v(1),
            c2: v(2),
            d2: v(3),
            g3b: v(4),
            c3: v(5),
            d3: v(6),
            pb: v(7),
            qb: v(8),
            cp: v(9),
            d5: v(10),
            d6: v(11),
        };
        assert_eq!(Smp2::decode(&m2.encode()), Ok(m2));
        let m3 = Smp3 {
            pa: v(1),
            qa: v(2),
            cp: v(3),
            d5: v(4),
            d6: v(5),
            ra: v(6),
            cr: v(7),
            d7: v(8),
        };
        assert_eq!(Smp3::decode(&m3.encode()), Ok(m3));
    }

    #[test]
    fn wrong_counts_are_rejected() {
        let good = sample4().encode();
        for count in [0u32, 2, 4, 6, u32::MAX] {
            let mut bad = good.clone();
            bad[..4].copy_from_slice(&count.to_be_bytes());
            assert_eq!(Smp4::decode(&bad), Err(Malformed), "count {count}");
        }
        // The right number of MPIs for another message type.
        assert_eq!(Smp1::decode(&good), Err(Malformed));
        assert_eq!(Smp3::decode(&good), Err(Malformed));
    }

    #[test]
    fn truncation_and_trailing_bytes_are_rejected() {
        let good = sample4().encode();
        for len in 0..good.len() {
            assert_eq!(Smp4::decode(&good[..len]), Err(Malformed), "length {len}");
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(Smp4::decode(&long), Err(Malformed));
    }

    #[test]
    fn leading_zeros_accepted_but_oversized_values_rejected() {
        // rb with two leading zero bytes, as gcrypt would accept.
        let padded = [
            0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0x12, 0x34, 0, 0, 0, 1, 1, 0, 0, 0, 0,
        ];
        assert_eq!(Smp4::decode(&padded), Ok(sample4()));
        // 193 significant bytes cannot be a group element or exponent.
        let mut w = Writer::new();
        w.int(3).mpi(&[1u8; 193]).mpi(&[1]).mpi(&[1]);
        assert_eq!(Smp4::decode(w.as_slice()), Err(Malformed));
        // A length field pointing past the end.
        let huge = [0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 1];
        assert_eq!(Smp4::decode(&huge), Err(Malformed));
    }

    #[test]
    fn question_split_follows_libotr() {
        assert_eq!(split_question(b"why?\0rest"), (&b"why?"[..], &b"rest"[..]));
        assert_eq!(split_question(b"\0rest"), (&b""[..], &b"rest"[..]));
        // The last byte is not searched: a value ending in its only NUL has no payload.
        assert_eq!(split_question(b"why?\0"), (&b"why?\0"[..], &b""[..]));
        assert_eq!(split_question(b"no nul"), (&b"no nul"[..], &b""[..]));
        assert_eq!(split_question(b"\0"), (&b"\0"[..], &b""[..]));
        assert_eq!(split_question(b"a\0b\0c"), (&b"a"[..], &b"b\0c"[..]));
    }
}
