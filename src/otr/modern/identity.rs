//! The long-term X25519 identity key of an account, its fingerprint, and the file that keeps
//! them beside pidgin-otr's `otr.private_key` (docs/modern-suite.md §8). Format only: the
//! host does the file I/O (`src/client/store/modern.rs`) with the same protections as the v3
//! key file (0600, atomic, locked).
//!
//! File `otr.modern_identity`, UTF-8, lines ending in LF:
//! ```text
//! # purple-otr modern identity keys v1
//! <account>\t<protocol>\tx25519\t<64 lower-case hex digits: the private key>
//! ```
//! The first line is exactly that comment; then one line per account, at most one per
//! (account, protocol). Account and protocol are taken as given (like `otr.private_key`) and
//! may hold neither tab, CR, LF nor NUL.

use core::fmt;

use zeroize::Zeroizing;

use super::labels;
use super::prims::{self, X25519Secret};
use super::Rng;

/// First line of the identity file.
pub const FILE_HEADER: &str = "# purple-otr modern identity keys v1";
/// The key-type field.
const KEY_TYPE: &str = "x25519";

/// An account's identity key pair.
#[derive(Clone)]
pub struct IdentityKey {
    secret: X25519Secret,
    public: [u8; 32],
}

impl IdentityKey {
    /// A new identity key (32 bytes drawn).
    pub fn generate(rng: &mut impl Rng) -> Self {
        Self::from_secret_bytes(&prims::draw32(rng))
    }

    /// From the stored private key.
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Self {
        let secret = X25519Secret::from_bytes(bytes);
        let public = secret.public();
        Self { secret, public }
    }

    /// The public key (what the discovery TLV and the handshake carry).
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    /// Its fingerprint.
    pub fn fingerprint(&self) -> IdentityFingerprint {
        IdentityFingerprint::of(&self.public)
    }

    pub(crate) fn secret(&self) -> &X25519Secret {
        &self.secret
    }

    /// The private key bytes, for the key file.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.secret.to_bytes()
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", self.fingerprint())
    }
}

/// SHA-256("purple-otr modern v1 identity" ‖ public key): what users compare and what a pin
/// stores.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityFingerprint(pub [u8; 32]);

impl IdentityFingerprint {
    /// The fingerprint of an identity public key.
    pub fn of(public: &[u8; 32]) -> Self {
        Self(prims::sha256(&[labels::IDENTITY, public]))
    }

    /// 64 upper-case hex digits in eight groups of eight, as shown to users.
    pub fn human(&self) -> String {
        let hex = prims::hex(&self.0).to_uppercase();
        let groups: Vec<&str> = (0..8).map(|i| &hex[i * 8..i * 8 + 8]).collect();
        groups.join(" ")
    }
}

impl fmt::Display for IdentityFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.human())
    }
}

impl fmt::Debug for IdentityFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityFingerprint({})", self.human())
    }
}

/// One line of the identity file.
#[derive(Clone, Debug)]
pub struct IdentityEntry {
    /// libpurple account name, as given.
    pub account: String,
    /// Protocol id (`prpl-jabber`, ...).
    pub protocol: String,
    /// The key.
    pub key: IdentityKey,
}

/// Why an identity file did not parse: the 1-based line and what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdentityFileError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong with it.
    pub kind: IdentityFileErrorKind,
}

/// What was wrong with a line of the identity file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityFileErrorKind {
    /// Not valid UTF-8.
    NotUtf8,
    /// The first line is not [`FILE_HEADER`].
    BadHeader,
    /// Not four tab-separated fields.
    FieldCount,
    /// An empty account or protocol, or one holding CR or NUL.
    BadName,
    /// A key type other than `x25519`.
    UnknownKeyType,
    /// The key is not 64 lower-case hex digits.
    BadKey,
    /// A second line for the same account and protocol.
    Duplicate,
    /// The last line has no LF (a torn write).
    MissingNewline,
}

/// The identity file: entries in file order.
#[derive(Clone, Debug, Default)]
pub struct IdentityFile {
    /// The accounts' keys.
    pub entries: Vec<IdentityEntry>,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(['\t', '\r', '\n', '\0'])
}

fn parse_key(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 || !b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let pair = s.get(2 * i..2 * i + 2)?;
        *o = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

impl IdentityFile {
    /// Parse the file's bytes. An empty file is an empty store.
    pub fn parse(bytes: &[u8]) -> Result<Self, IdentityFileError> {
        let err = |line, kind| IdentityFileError { line, kind };
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        let text =
            core::str::from_utf8(bytes).map_err(|_| err(1, IdentityFileErrorKind::NotUtf8))?;
        let Some(body) = text.strip_suffix('\n') else {
            let line = text.split('\n').count();
            return Err(err(line, IdentityFileErrorKind::MissingNewline));
        };
        let mut lines = body.split('\n');
        if lines.next() != Some(FILE_HEADER) {
            return Err(err(1, IdentityFileErrorKind::BadHeader));
        }
        let mut entries: Vec<IdentityEntry> = Vec::new();
        for (i, line) in lines.enumerate() {
            let no = i + 2;
            let fields: Vec<&str> = line.split('\t').collect();
            let [account, protocol, key_type, key] = fields[..] else {
                return Err(err(no, IdentityFileErrorKind::FieldCount));
            };
            if !valid_name(account) || !valid_name(protocol) {
                return Err(err(no, IdentityFileErrorKind::BadName));
            }
            if key_type != KEY_TYPE {
                return Err(err(no, IdentityFileErrorKind::UnknownKeyType));
            }
            let secret =
                Zeroizing::new(parse_key(key).ok_or(err(no, IdentityFileErrorKind::BadKey))?);
            if entries
                .iter()
                .any(|e| e.account == account && e.protocol == protocol)
            {
                return Err(err(no, IdentityFileErrorKind::Duplicate));
            }
            entries.push(IdentityEntry {
                account: account.to_owned(),
                protocol: protocol.to_owned(),
                key: IdentityKey::from_secret_bytes(&secret),
            });
        }
        Ok(Self { entries })
    }

    /// The file's bytes (secret: wiped when dropped). `None` if a name cannot be stored.
    pub fn serialize(&self) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::with_capacity(64 + 128 * self.entries.len()));
        out.extend_from_slice(FILE_HEADER.as_bytes());
        out.push(b'\n');
        for e in &self.entries {
            if !valid_name(&e.account) || !valid_name(&e.protocol) {
                return None;
            }
            let key = Zeroizing::new(prims::hex(&e.key.secret_bytes()[..]));
            for field in [&e.account, &e.protocol, KEY_TYPE, key.as_str()] {
                out.extend_from_slice(field.as_bytes());
                out.push(b'\t');
            }
            // Replace the last tab with the line end.
            out.pop();
            out.push(b'\n');
        }
        Some(out)
    }

    /// The key of an account.
    pub fn get(&self, account: &str, protocol: &str) -> Option<&IdentityKey> {
        self.entries
            .iter()
            .find(|e| e.account == account && e.protocol == protocol)
            .map(|e| &e.key)
    }

    /// Add or replace an account's key.
    pub fn set(&mut self, account: &str, protocol: &str, key: IdentityKey) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.account == account && e.protocol == protocol)
        {
            Some(e) => e.key = key,
            None => self.entries.push(IdentityEntry {
                account: account.to_owned(),
                protocol: protocol.to_owned(),
                key,
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sha256_of_label_and_key() {
        // RFC 7748 §6.1's Alice as the identity.
        let mut k = [0u8; 32];
        k.copy_from_slice(&crate::otr::test_util::unhex(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let id = IdentityKey::from_secret_bytes(&k);
        let mut input = b"purple-otr modern v1 identity".to_vec();
        input.extend_from_slice(id.public());
        assert_eq!(id.fingerprint().0, prims::sha256(&[&input]));
        let human = id.fingerprint().human();
        assert_eq!(human.len(), 64 + 7);
        assert!(human.split(' ').all(|g| g.len() == 8));
        assert!(!format!("{id:?}").contains(&prims::hex(&k)));
    }

    #[test]
    fn file_round_trip() {
        let mut f = IdentityFile::default();
        f.set(
            "alice@example.org/Home",
            "prpl-jabber",
            IdentityKey::from_secret_bytes(&[1; 32]),
        );
        f.set("bob", "prpl-irc", IdentityKey::from_secret_bytes(&[2; 32]));
        f.set("bob", "prpl-irc", IdentityKey::from_secret_bytes(&[3; 32]));
        let bytes = f.serialize().unwrap();
        let text = core::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with("# purple-otr modern identity keys v1\n"));
        assert!(text.contains(&format!("bob\tprpl-irc\tx25519\t{}\n", "03".repeat(32))));
        let g = IdentityFile::parse(&bytes).unwrap();
        assert_eq!(g.entries.len(), 2);
        assert_eq!(
            g.get("bob", "prpl-irc").unwrap().public(),
            IdentityKey::from_secret_bytes(&[3; 32]).public()
        );
        assert!(g.get("bob", "prpl-jabber").is_none());
        assert_eq!(g.serialize().unwrap().as_slice(), bytes.as_slice());
        assert!(IdentityFile::parse(b"").unwrap().entries.is_empty());
    }

    #[test]
    fn file_errors() {
        use IdentityFileErrorKind as K;
        let key = "ab".repeat(32);
        let h = FILE_HEADER;
        let cases: Vec<(String, usize, K)> = vec![
            (format!("{h}\na\tp\tx25519\t{key}"), 2, K::MissingNewline),
            ("# other\n".to_owned(), 1, K::BadHeader),
            (format!("{h}\na\tp\tx25519\n"), 2, K::FieldCount),
            (format!("{h}\n\tp\tx25519\t{key}\n"), 2, K::BadName),
            (format!("{h}\na\tp\ted25519\t{key}\n"), 2, K::UnknownKeyType),
            (
                format!("{h}\na\tp\tx25519\t{}\n", key.to_uppercase()),
                2,
                K::BadKey,
            ),
            (format!("{h}\na\tp\tx25519\t{}\n", &key[1..]), 2, K::BadKey),
            (
                format!("{h}\na\tp\tx25519\t{key}\na\tp\tx25519\t{key}\n"),
                3,
                K::Duplicate,
            ),
        ];
        for (text, line, kind) in cases {
            assert_eq!(
                IdentityFile::parse(text.as_bytes()).unwrap_err(),
                IdentityFileError { line, kind },
                "{text:?}"
            );
        }
        assert_eq!(
            IdentityFile::parse(&[0xff, b'\n']).unwrap_err().kind,
            K::NotUtf8
        );
        let mut f = IdentityFile::default();
        f.set("a\tb", "p", IdentityKey::from_secret_bytes(&[1; 32]));
        assert!(f.serialize().is_none());
    }
}
