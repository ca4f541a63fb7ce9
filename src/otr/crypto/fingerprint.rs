//! Key fingerprints: the SHA-1 of a DSA public key's OTR encoding without its 2-byte type
//! (spec: "Public keys, signatures, and fingerprints"), shown to users in five
//! groups of eight upper-case hex digits and stored lower-case in pidgin-otr's fingerprint file.

use core::fmt;

/// A 20-byte key fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 20]);

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

impl Fingerprint {
    /// 40 lower-case hex digits, the form pidgin-otr's `otr.fingerprints` file stores.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(40);
        for b in self.0 {
            s.push(char::from(HEX_LOWER[usize::from(b >> 4)]));
            s.push(char::from(HEX_LOWER[usize::from(b & 0x0f)]));
        }
        s
    }

    /// Five space-separated groups of eight upper-case hex digits, the form users compare.
    pub fn human(&self) -> String {
        let mut s = String::with_capacity(44);
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                s.push(' ');
            }
            s.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            s.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
        s
    }

    /// Parses exactly 40 hex digits, either case (the file form). Anything else is `None`.
    pub fn from_hex(s: &str) -> Option<Self> {
        let digits = s.as_bytes();
        if digits.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            let hi = hex_value(pair[0])?;
            let lo = hex_value(pair[1])?;
            *o = (hi << 4) | lo;
        }
        Some(Fingerprint(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.human())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Fingerprints are public; printing them in full helps debugging.
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn a_to_t() -> Fingerprint {
        let mut b = [0u8; 20];
        for (i, v) in b.iter_mut().enumerate() {
            *v = b'A' + i as u8;
        }
        Fingerprint(b)
    }

    #[test]
    fn human_form_matches_libotr_layout() {
        assert_eq!(
            a_to_t().human(),
            "41424344 45464748 494A4B4C 4D4E4F50 51525354"
        );
        assert_eq!(a_to_t().to_string(), a_to_t().human());
    }

    #[test]
    fn hex_round_trip() {
        let fp = a_to_t();
        assert_eq!(fp.to_hex(), "4142434445464748494a4b4c4d4e4f5051525354");
        assert_eq!(Fingerprint::from_hex(&fp.to_hex()), Some(fp));
        assert_eq!(
            Fingerprint::from_hex("4142434445464748494A4B4C4D4E4F5051525354"),
            Some(fp)
        );
    }

    #[test]
    fn from_hex_rejects_malformed() {
        assert_eq!(Fingerprint::from_hex(""), None);
        assert_eq!(Fingerprint::from_hex("414243444546474849"), None);
        assert_eq!(
            Fingerprint::from_hex("4142434445464748494a4b4c4d4e4f505152535"),
            None
        );
        assert_eq!(
            Fingerprint::from_hex("4142434445464748494a4b4c4d4e4f50515253545"),
            None
        );
        assert_eq!(
            Fingerprint::from_hex("4142434445464748494a4b4c4d4e4f505152535g"),
            None
        );
        assert_eq!(
            Fingerprint::from_hex("41424344 45464748 494A4B4C 4D4E4F50 5152"),
            None
        );
        // Multi-byte UTF-8 of the right byte length must not panic.
        assert_eq!(Fingerprint::from_hex(&"é".repeat(20)), None);
    }
}
