//! The buddies' post-quantum identity keys the user vouched for, `otr.modern_pins` beside
//! `otr.fingerprints` (docs/modern-suite.md §8). Format only; [`super::store`] reads and
//! writes the file with the same protections as the others.
//!
//! ```text
//! # purple-otr modern identity pins v1
//! <account>\t<protocol>\t<buddy>\t<v3 fingerprint, 40 lower-case hex>\tx25519\t<public key, 64 lower-case hex>\tverified
//! ```
//! A pin binds the identity key to the buddy's OTR v3 key it was learned with, so a buddy
//! with several computers (several v3 keys) has one pin per key, and forgetting a v3 key
//! forgets its pin. The reader is strict: a line it does not fully understand makes the whole
//! file unreadable (the store then never writes it), since a pin dropped silently would turn a
//! warning off.

use std::fmt;

use crate::otr::crypto::fingerprint::Fingerprint;

/// First line of the pins file.
pub const PINS_HEADER: &str = "# purple-otr modern identity pins v1";
const KEY_TYPE: &str = "x25519";
/// The only status so far: learned in a session whose v3 key the user verified.
const VERIFIED: &str = "verified";

/// One pinned identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub account: String,
    pub protocol: String,
    pub buddy: String,
    /// The buddy's OTR v3 key the identity was learned with.
    pub fingerprint: Fingerprint,
    /// The buddy's X25519 identity public key.
    pub identity: [u8; 32],
}

/// What was wrong with a line of the pins file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinsErrorKind {
    NotUtf8,
    BadHeader,
    /// Not seven tab-separated fields.
    FieldCount,
    /// An empty name, or one holding CR or NUL.
    BadName,
    /// The v3 fingerprint is not 40 lower-case hex digits.
    BadFingerprint,
    UnknownKeyType,
    /// The identity key is not 64 lower-case hex digits.
    BadKey,
    UnknownStatus,
    /// A second pin for the same account, protocol, buddy and v3 key.
    Duplicate,
    /// The last line has no LF (a torn write).
    MissingNewline,
}

/// Why a pins file did not parse: the 1-based line and what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinsError {
    pub line: usize,
    pub kind: PinsErrorKind,
}

impl fmt::Display for PinsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            PinsErrorKind::NotUtf8 => "it is not UTF-8",
            PinsErrorKind::BadHeader => "its first line is not the pins header",
            PinsErrorKind::FieldCount => "a line does not have seven fields",
            PinsErrorKind::BadName => "a name is empty or holds a control character",
            PinsErrorKind::BadFingerprint => "a fingerprint is not 40 lower-case hex digits",
            PinsErrorKind::UnknownKeyType => "a key type is not x25519",
            PinsErrorKind::BadKey => "a key is not 64 lower-case hex digits",
            PinsErrorKind::UnknownStatus => "a status is not \"verified\"",
            PinsErrorKind::Duplicate => "a pin is listed twice",
            PinsErrorKind::MissingNewline => "the last line is cut off",
        };
        write!(f, "line {}: {what}", self.line)
    }
}

/// The pins, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinFile {
    entries: Vec<Pin>,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(['\t', '\r', '\n', '\0'])
}

fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_key(s: &str) -> Option<[u8; 32]> {
    if !lower_hex(s, 64) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Pin {
    fn same_place(&self, account: &str, protocol: &str, buddy: &str, fp: &Fingerprint) -> bool {
        self.account == account
            && self.protocol == protocol
            && self.buddy == buddy
            && self.fingerprint == *fp
    }
}

impl PinFile {
    /// Reads the file's bytes; an empty file has no pins.
    pub fn parse(bytes: &[u8]) -> Result<PinFile, PinsError> {
        let err = |line, kind| PinsError { line, kind };
        if bytes.is_empty() {
            return Ok(PinFile::default());
        }
        let text = std::str::from_utf8(bytes).map_err(|_| err(1, PinsErrorKind::NotUtf8))?;
        let Some(body) = text.strip_suffix('\n') else {
            return Err(err(text.split('\n').count(), PinsErrorKind::MissingNewline));
        };
        let mut lines = body.split('\n');
        if lines.next() != Some(PINS_HEADER) {
            return Err(err(1, PinsErrorKind::BadHeader));
        }
        let mut file = PinFile::default();
        for (i, line) in lines.enumerate() {
            let no = i + 2;
            let fields: Vec<&str> = line.split('\t').collect();
            let [account, protocol, buddy, fp, key_type, key, status] = fields[..] else {
                return Err(err(no, PinsErrorKind::FieldCount));
            };
            if ![account, protocol, buddy].into_iter().all(valid_name) {
                return Err(err(no, PinsErrorKind::BadName));
            }
            let fingerprint = Fingerprint::from_hex(fp)
                .filter(|_| lower_hex(fp, 40))
                .ok_or(err(no, PinsErrorKind::BadFingerprint))?;
            if key_type != KEY_TYPE {
                return Err(err(no, PinsErrorKind::UnknownKeyType));
            }
            let identity = parse_key(key).ok_or(err(no, PinsErrorKind::BadKey))?;
            if status != VERIFIED {
                return Err(err(no, PinsErrorKind::UnknownStatus));
            }
            if file.get(account, protocol, buddy, &fingerprint).is_some() {
                return Err(err(no, PinsErrorKind::Duplicate));
            }
            file.entries.push(Pin {
                account: account.to_owned(),
                protocol: protocol.to_owned(),
                buddy: buddy.to_owned(),
                fingerprint,
                identity,
            });
        }
        Ok(file)
    }

    /// The file's bytes. `None` if a name cannot be stored (checked by [`PinFile::set`]).
    pub fn to_file_bytes(&self) -> Option<Vec<u8>> {
        let mut out = format!("{PINS_HEADER}\n");
        for p in &self.entries {
            if ![&p.account, &p.protocol, &p.buddy]
                .into_iter()
                .all(|n| valid_name(n))
            {
                return None;
            }
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{KEY_TYPE}\t{}\t{VERIFIED}\n",
                p.account,
                p.protocol,
                p.buddy,
                p.fingerprint.to_hex(),
                hex(&p.identity)
            ));
        }
        Some(out.into_bytes())
    }

    pub fn entries(&self) -> &[Pin] {
        &self.entries
    }

    /// The identity pinned for the buddy's v3 key `fp`.
    pub fn get(
        &self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fp: &Fingerprint,
    ) -> Option<[u8; 32]> {
        self.entries
            .iter()
            .find(|p| p.same_place(account, protocol, buddy, fp))
            .map(|p| p.identity)
    }

    /// Pins (or re-pins) an identity. `Ok(false)`: it was pinned already. `Err`: a name the
    /// file cannot hold (the field's name).
    pub fn set(&mut self, pin: Pin) -> Result<bool, &'static str> {
        for (field, value) in [
            ("account", &pin.account),
            ("protocol", &pin.protocol),
            ("buddy", &pin.buddy),
        ] {
            if !valid_name(value) {
                return Err(field);
            }
        }
        match self
            .entries
            .iter_mut()
            .find(|p| p.same_place(&pin.account, &pin.protocol, &pin.buddy, &pin.fingerprint))
        {
            Some(p) if p.identity == pin.identity => Ok(false),
            Some(p) => {
                p.identity = pin.identity;
                Ok(true)
            }
            None => {
                self.entries.push(pin);
                Ok(true)
            }
        }
    }

    /// Forgets the pin of the buddy's v3 key `fp`; whether there was one.
    pub fn forget(&mut self, account: &str, protocol: &str, buddy: &str, fp: &Fingerprint) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|p| !p.same_place(account, protocol, buddy, fp));
        self.entries.len() != before
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pin(buddy: &str, fp: u8, key: u8) -> Pin {
        Pin {
            account: "alice@example.org/Home".into(),
            protocol: "prpl-jabber".into(),
            buddy: buddy.into(),
            fingerprint: Fingerprint([fp; 20]),
            identity: [key; 32],
        }
    }

    #[test]
    fn round_trip_in_the_documented_form() {
        let mut f = PinFile::default();
        assert_eq!(f.set(pin("bob@example.org", 1, 0xab)), Ok(true));
        assert_eq!(f.set(pin("bob@example.org", 1, 0xab)), Ok(false));
        assert_eq!(f.set(pin("bob@example.org", 2, 0xcd)), Ok(true));
        assert_eq!(
            f.set(pin("bob@example.org", 1, 0xef)),
            Ok(true),
            "re-pinned"
        );
        let bytes = f.to_file_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text,
            format!(
                "# purple-otr modern identity pins v1\n\
                 alice@example.org/Home\tprpl-jabber\tbob@example.org\t{}\tx25519\t{}\tverified\n\
                 alice@example.org/Home\tprpl-jabber\tbob@example.org\t{}\tx25519\t{}\tverified\n",
                "01".repeat(20),
                "ef".repeat(32),
                "02".repeat(20),
                "cd".repeat(32)
            )
        );
        let again = PinFile::parse(&bytes).unwrap();
        assert_eq!(again, f);
        assert_eq!(
            again.get(
                "alice@example.org/Home",
                "prpl-jabber",
                "bob@example.org",
                &Fingerprint([2; 20])
            ),
            Some([0xcd; 32])
        );
        assert!(PinFile::parse(b"").unwrap().entries().is_empty());
        let mut g = again;
        assert!(g.forget(
            "alice@example.org/Home",
            "prpl-jabber",
            "bob@example.org",
            &Fingerprint([1; 20])
        ));
        assert_eq!(g.entries().len(), 1);
    }

    /// Hostile or damaged lines: each one is refused with its line and reason, never
    /// skipped (a pin dropped silently would switch a warning off), and never a panic.
    #[test]
    fn hostile_lines_are_refused_whole() {
        use PinsErrorKind as K;
        let h = PINS_HEADER;
        let fp = "0a".repeat(20);
        let key = "0b".repeat(32);
        let good = format!("a\tp\tb\t{fp}\tx25519\t{key}\tverified");
        let cases: Vec<(String, usize, K)> = vec![
            (format!("{h}\n{good}"), 2, K::MissingNewline),
            (
                "# purple-otr modern identity keys v1\n".into(),
                1,
                K::BadHeader,
            ),
            (format!("{h}\r\n{good}\n"), 1, K::BadHeader),
            (format!("{h}\n{good}\tmore\n"), 2, K::FieldCount),
            (format!("{h}\n\n"), 2, K::FieldCount),
            (
                format!("{h}\na\tp\tb\t{fp}\tx25519\t{key}\n"),
                2,
                K::FieldCount,
            ),
            (
                format!("{h}\n\tp\tb\t{fp}\tx25519\t{key}\tverified\n"),
                2,
                K::BadName,
            ),
            (
                format!("{h}\na\tp\tb\0c\t{fp}\tx25519\t{key}\tverified\n"),
                2,
                K::BadName,
            ),
            (
                format!("{h}\na\tp\tb\r\t{fp}\tx25519\t{key}\tverified\n"),
                2,
                K::BadName,
            ),
            (
                format!(
                    "{h}\na\tp\tb\t{}\tx25519\t{key}\tverified\n",
                    fp.to_uppercase()
                ),
                2,
                K::BadFingerprint,
            ),
            (
                format!("{h}\na\tp\tb\t{}\tx25519\t{key}\tverified\n", &fp[1..]),
                2,
                K::BadFingerprint,
            ),
            (
                format!("{h}\na\tp\tb\t{fp}\ted25519\t{key}\tverified\n"),
                2,
                K::UnknownKeyType,
            ),
            (
                format!("{h}\na\tp\tb\t{fp}\tx25519\t{}\tverified\n", &key[2..]),
                2,
                K::BadKey,
            ),
            (
                format!(
                    "{h}\na\tp\tb\t{fp}\tx25519\t{}\tverified\n",
                    key.replace('b', "g")
                ),
                2,
                K::BadKey,
            ),
            (
                format!("{h}\na\tp\tb\t{fp}\tx25519\t{}é\tverified\n", &key[2..]),
                2,
                K::BadKey,
            ),
            (
                format!("{h}\na\tp\tb\t{fp}\tx25519\t{key}\tVERIFIED\n"),
                2,
                K::UnknownStatus,
            ),
            (
                format!("{h}\na\tp\tb\t{fp}\tx25519\t{key}\t\n"),
                2,
                K::UnknownStatus,
            ),
            (format!("{h}\n{good}\n{good}\n"), 3, K::Duplicate),
        ];
        for (text, line, kind) in cases {
            assert_eq!(
                PinFile::parse(text.as_bytes()),
                Err(PinsError { line, kind }),
                "{text:?}"
            );
        }
        assert_eq!(PinFile::parse(&[0xff, b'\n']).unwrap_err().kind, K::NotUtf8);
        // Every prefix and every single-byte change of a good file parses or is refused,
        // never panics; what parses writes back the same.
        let file = format!("{h}\n{good}\n");
        for cut in 0..file.len() {
            if let Ok(f) = PinFile::parse(&file.as_bytes()[..cut]) {
                assert_eq!(PinFile::parse(&f.to_file_bytes().unwrap()).unwrap(), f);
            }
        }
        for at in 0..file.len() {
            for b in [0u8, b'\t', b'\n', b'\r', 0x80, b'A', b'0'] {
                let mut bytes = file.clone().into_bytes();
                bytes[at] = b;
                if let Ok(f) = PinFile::parse(&bytes) {
                    assert_eq!(PinFile::parse(&f.to_file_bytes().unwrap()).unwrap(), f);
                }
            }
        }
        let mut f = PinFile::default();
        let mut bad = pin("b\tc", 1, 1);
        assert_eq!(f.set(bad.clone()), Err("buddy"));
        bad.buddy = "b".into();
        bad.account = String::new();
        assert_eq!(f.set(bad), Err("account"));
    }
}
