//! `otr.private_key`: our long-term DSA keys, one per (account name, protocol), in
//! libotr's S-expression layout.
//!
//! ```text
//! (privkeys
//!  (account
//! (name "alice@example.org/")
//! (protocol prpl-jabber)
//! (private-key
//!  (dsa
//!   (p #00C78D...#)
//!   (q #00CF13...#)
//!   (g #29B3FD...#)
//!   (y #00A81C...#)
//!   (x #7269B1...#)
//!   )
//!  )
//!  )
//! )
//! ```
//! (with a space after `private-key` and `dsa`: libgcrypt's printer puts one after every
//! atom not followed by `)`).
//!
//! Reading follows libotr's `otrl_privkey_read_FILEp`: the first element must be the token
//! `privkeys`; every other element must be a list starting with `account`; in it the first
//! lists (in document order, at any depth, as `gcry_sexp_find_token` finds them) named
//! `name`, `protocol` and `private-key` supply the account name, the protocol and the key;
//! in the key, the first `dsa` list and in it the first `p`, `q`, `g`, `y`, `x` lists. Other
//! elements are tolerated as libotr tolerates them. Every number is taken as an unsigned
//! big-endian magnitude.
//!
//! Stricter than libotr, on purpose: a file with any entry we cannot use is an error as a
//! whole (libotr keeps the entries before the bad one), so that a later rewrite can never
//! drop a key we did not understand; the key is validated when read (libotr only finds a bad
//! key when it first signs); a name or protocol must be UTF-8 without NUL (libpurple never
//! makes others, and libotr would cut at a NUL).
//!
//! Writing reproduces `otrl_privkey_generate_finish_FILEp`: `(privkeys\n`, then per account
//! ` (account\n`, the printed `(name ...)`, `(protocol ...)` and `(private-key ...)`, and
//! ` )\n`, then `)\n`; each expression printed as libgcrypt's `GCRYSEXP_FMT_ADVANCED` does.
//! For a key we read, its `(private-key ...)` expression is written back as read (libotr
//! also keeps that expression and reprints it), so anything else in it survives; a key made
//! here is written with each number in libgcrypt's standard form (minimal big-endian, a
//! leading zero byte when the top bit is set), which is what libotr's freshly generated keys
//! look like. The same key therefore comes out byte for byte as libotr writes it. libotr
//! reverses the order of the other accounts each time it rewrites the file; we keep the
//! order.

use core::fmt;

use zeroize::Zeroizing;

use super::sexp::{self, Sexp, SexpErrorKind};
use crate::otr::crypto::dsa::{DsaKeyError, DsaPrivateKey};
use crate::otr::crypto::fingerprint::Fingerprint;

/// One account's key.
pub struct AccountKey {
    /// libpurple's account username, not normalized (`alice@example.org/Home`).
    pub account_name: String,
    /// libpurple's protocol id (`prpl-jabber`).
    pub protocol: String,
    pub key: DsaPrivateKey,
    /// The `(private-key ...)` expression this key was read from, to write back unchanged,
    /// with the fingerprint it describes: if `key` is replaced, the expression no longer
    /// matches and is not used.
    source: Option<(Fingerprint, Sexp)>,
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKey")
            .field("account_name", &self.account_name)
            .field("protocol", &self.protocol)
            .field("fingerprint", &self.key.public().fingerprint().human())
            .finish_non_exhaustive()
    }
}

impl AccountKey {
    pub fn new(account_name: &str, protocol: &str, key: DsaPrivateKey) -> AccountKey {
        AccountKey {
            account_name: account_name.to_owned(),
            protocol: protocol.to_owned(),
            key,
            source: None,
        }
    }

    /// The fingerprint of the public key.
    pub fn fingerprint(&self) -> Fingerprint {
        self.key.public().fingerprint()
    }

    /// Whether this entry is for the given account.
    pub fn is_for(&self, account_name: &str, protocol: &str) -> bool {
        self.account_name == account_name && self.protocol == protocol
    }

    /// The `(private-key ...)` expression to write: the one read, if it still describes
    /// `key`, else one built from the key's numbers.
    fn private_key_sexp(&self) -> Sexp {
        if let Some((fp, sexp)) = &self.source {
            if *fp == self.fingerprint() {
                return sexp.clone();
            }
        }
        let c = self.key.public().components();
        let x = self.key.x_bytes();
        let param = |name: &[u8], value: Zeroizing<Vec<u8>>| {
            Sexp::list(vec![Sexp::atom(name), Sexp::atom_owned(value)])
        };
        Sexp::list(vec![
            Sexp::atom(b"private-key"),
            Sexp::list(vec![
                Sexp::atom(b"dsa"),
                param(b"p", std_mpi(&c.p)),
                param(b"q", std_mpi(&c.q)),
                param(b"g", std_mpi(&c.g)),
                param(b"y", std_mpi(&c.y)),
                param(b"x", std_mpi(&x)),
            ]),
        ])
    }
}

/// libgcrypt's `GCRYMPI_FMT_STD` for a non-negative number: the minimal big-endian bytes,
/// with a zero byte in front when the top bit is set (so it does not read as negative).
fn std_mpi(magnitude: &[u8]) -> Zeroizing<Vec<u8>> {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let digits = &magnitude[start..];
    let pad = digits.first().is_some_and(|&b| b & 0x80 != 0);
    let mut out = Zeroizing::new(Vec::with_capacity(digits.len() + 1));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(digits);
    out
}

/// What is wrong with a key file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyFileErrorKind {
    /// Not a well-formed S-expression.
    Syntax(SexpErrorKind),
    /// The first element is not the token `privkeys`.
    NotPrivkeys,
    /// An element after `privkeys` is not an `(account ...)` list.
    NotAnAccount,
    /// An account has no `(name ...)`, `(protocol ...)` or `(private-key ...)` list.
    MissingField(&'static str),
    /// The account's name or protocol is missing its value, is a list, is not UTF-8 or
    /// contains NUL.
    BadField(&'static str),
    /// The private key has no `(dsa ...)` list (another algorithm, or none).
    NotDsa,
    /// The DSA key lacks one of p, q, g, y, x, or it is not a single value.
    MissingComponent(char),
    /// The numbers do not make a valid DSA-1024/160 key pair.
    BadKey(DsaKeyError),
}

impl fmt::Display for KeyFileErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(kind) => write!(f, "syntax error: {kind}"),
            Self::NotPrivkeys => f.write_str("the file does not start with (privkeys"),
            Self::NotAnAccount => f.write_str("expected an (account ...) entry"),
            Self::MissingField(field) => write!(f, "account entry without ({field} ...)"),
            Self::BadField(field) => write!(f, "unusable {field} value"),
            Self::NotDsa => f.write_str("the private key is not a DSA key"),
            Self::MissingComponent(c) => write!(f, "the DSA key has no value for {c}"),
            Self::BadKey(reason) => write!(f, "invalid key: {reason}"),
        }
    }
}

/// Why a key file was refused, and where. The message never contains key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFileError {
    /// Byte offset of the problem (for an entry-level problem, of the entry's start).
    pub offset: usize,
    /// 1-based line and column (in bytes) of `offset`.
    pub line: usize,
    pub column: usize,
    /// The account entry concerned, when its name and protocol were read.
    pub account: Option<(String, String)>,
    pub kind: KeyFileErrorKind,
}

impl KeyFileError {
    fn new(input: &[u8], offset: usize, kind: KeyFileErrorKind) -> KeyFileError {
        let offset = offset.min(input.len());
        let before = &input[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |n| n + 1);
        KeyFileError {
            offset,
            line,
            column: offset - line_start + 1,
            account: None,
            kind,
        }
    }
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)?;
        if let Some((name, protocol)) = &self.account {
            write!(f, ", account {name:?} ({protocol})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for KeyFileError {}

/// Reads a whole `otr.private_key`. An empty (or whitespace-only) file holds no keys.
/// Accounts come back in file order; libotr uses the last entry when an account appears
/// twice (see [`find_key`]).
pub fn parse_private_keys(input: &[u8]) -> Result<Vec<AccountKey>, KeyFileError> {
    if input
        .iter()
        .all(|&b| matches!(b, b' ' | b'\t' | 0x0b | 0x0c | b'\r' | b'\n'))
    {
        return Ok(Vec::new());
    }
    let top = sexp::parse(input)
        .map_err(|e| KeyFileError::new(input, e.offset, KeyFileErrorKind::Syntax(e.kind)))?;
    let items = top.as_list().unwrap_or(&[]);
    if items.first().and_then(Sexp::as_atom) != Some(&b"privkeys"[..]) {
        return Err(KeyFileError::new(
            input,
            top.offset(),
            KeyFileErrorKind::NotPrivkeys,
        ));
    }
    items[1..]
        .iter()
        .map(|account| read_account(input, account))
        .collect()
}

fn read_account(input: &[u8], account: &Sexp) -> Result<AccountKey, KeyFileError> {
    let at = account.offset();
    let error = |kind| KeyFileError::new(input, at, kind);
    if account.nth_atom(0) != Some(&b"account"[..]) {
        return Err(error(KeyFileErrorKind::NotAnAccount));
    }
    let field = |name: &'static str| -> Result<&Sexp, KeyFileError> {
        account
            .find_token(name.as_bytes())
            .ok_or_else(|| error(KeyFileErrorKind::MissingField(name)))
    };
    let names = field("name")?;
    let protocols = field("protocol")?;
    let private_key = field("private-key")?;
    let text = |list: &Sexp, name: &'static str| -> Result<String, KeyFileError> {
        list.nth_atom(1)
            .filter(|v| !v.contains(&0))
            .and_then(|v| core::str::from_utf8(v).ok())
            .map(str::to_owned)
            .ok_or_else(|| {
                KeyFileError::new(input, list.offset(), KeyFileErrorKind::BadField(name))
            })
    };
    let account_name = text(names, "name")?;
    let protocol = text(protocols, "protocol")?;
    let with_account = |mut e: KeyFileError| {
        e.account = Some((account_name.clone(), protocol.clone()));
        e
    };

    let dsa = private_key.find_token(b"dsa").ok_or_else(|| {
        with_account(KeyFileError::new(
            input,
            private_key.offset(),
            KeyFileErrorKind::NotDsa,
        ))
    })?;
    let component = |c: char| -> Result<&[u8], KeyFileError> {
        let mut token = [0u8; 4];
        dsa.find_token(c.encode_utf8(&mut token).as_bytes())
            .and_then(|list| list.nth_atom(1))
            .ok_or_else(|| {
                with_account(KeyFileError::new(
                    input,
                    dsa.offset(),
                    KeyFileErrorKind::MissingComponent(c),
                ))
            })
    };
    let (p, q, g, y, x) = (
        component('p')?,
        component('q')?,
        component('g')?,
        component('y')?,
        component('x')?,
    );
    let key = DsaPrivateKey::from_components(p, q, g, y, x).map_err(|reason| {
        with_account(KeyFileError::new(
            input,
            dsa.offset(),
            KeyFileErrorKind::BadKey(reason),
        ))
    })?;
    let fingerprint = key.public().fingerprint();
    Ok(AccountKey {
        account_name,
        protocol,
        key,
        source: Some((fingerprint, private_key.clone())),
    })
}

/// The whole file for `keys`, in order, as libotr lays it out. Zeroized on drop: it holds
/// the private exponents.
pub fn write_private_keys(keys: &[AccountKey]) -> Zeroizing<Vec<u8>> {
    const HEAD: &[u8] = b"(privkeys\n";
    const ACCOUNT_OPEN: &[u8] = b" (account\n";
    const ACCOUNT_CLOSE: &[u8] = b" )\n";
    const TAIL: &[u8] = b")\n";
    let parts: Vec<[Sexp; 3]> = keys
        .iter()
        .map(|k| {
            [
                Sexp::list(vec![
                    Sexp::atom(b"name"),
                    Sexp::atom(k.account_name.as_bytes()),
                ]),
                Sexp::list(vec![
                    Sexp::atom(b"protocol"),
                    Sexp::atom(k.protocol.as_bytes()),
                ]),
                k.private_key_sexp(),
            ]
        })
        .collect();
    // Sized exactly, so growing never leaves a stray copy of a key behind.
    let len = HEAD.len()
        + TAIL.len()
        + parts
            .iter()
            .map(|p| {
                ACCOUNT_OPEN.len()
                    + ACCOUNT_CLOSE.len()
                    + p.iter().map(Sexp::advanced_len).sum::<usize>()
            })
            .sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.extend_from_slice(HEAD);
    for p in &parts {
        out.extend_from_slice(ACCOUNT_OPEN);
        for s in p {
            s.write_advanced(&mut out);
        }
        out.extend_from_slice(ACCOUNT_CLOSE);
    }
    out.extend_from_slice(TAIL);
    out
}

/// The key libotr would use for an account: the last entry for it in the file (libotr
/// reads entries into a list front-first and takes the first match).
pub fn find_key<'a>(
    keys: &'a [AccountKey],
    account_name: &str,
    protocol: &str,
) -> Option<&'a AccountKey> {
    keys.iter().rev().find(|k| k.is_for(account_name, protocol))
}

/// Sets an account's key: replaces its entry where it stands (dropping any duplicate
/// entries for the same account, which libotr also drops on rewrite), or appends one.
/// Returns the replaced entries.
pub fn put_key(keys: &mut Vec<AccountKey>, new: AccountKey) -> Vec<AccountKey> {
    let position = keys
        .iter()
        .position(|k| k.is_for(&new.account_name, &new.protocol));
    let (replaced, kept): (Vec<AccountKey>, Vec<AccountKey>) = core::mem::take(keys)
        .into_iter()
        .partition(|k| k.is_for(&new.account_name, &new.protocol));
    *keys = kept;
    match position {
        Some(at) => keys.insert(at.min(keys.len()), new),
        None => keys.push(new),
    }
    replaced
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::otr::crypto::dsa::DsaPrivateKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use std::sync::OnceLock;

    /// libotr-generated files (tests/fixtures/libotr), embedded so the unit tests need no I/O.
    const ALICE: &[u8] = include_bytes!("../../../tests/fixtures/libotr/alice.private_key");
    const TWO: &[u8] = include_bytes!("../../../tests/fixtures/libotr/two-accounts.private_key");
    const TEST_SUITE: &[u8] =
        include_bytes!("../../../tests/fixtures/libotr/test_suite.private_key");
    const ALICE_FP: &str = "cc407d4d64f46fb557677faa7c6415a5809340d5";

    fn generated(i: usize) -> &'static DsaPrivateKey {
        static KEYS: OnceLock<Vec<DsaPrivateKey>> = OnceLock::new();
        &KEYS.get_or_init(|| {
            let mut rng = ChaCha20Rng::seed_from_u64(0x6b65_7973);
            (0..2).map(|_| DsaPrivateKey::generate(&mut rng)).collect()
        })[i]
    }

    fn copy(k: &DsaPrivateKey) -> DsaPrivateKey {
        let c = k.public().components();
        DsaPrivateKey::from_components(&c.p, &c.q, &c.g, &c.y, &k.x_bytes()).unwrap()
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn kind(input: &[u8]) -> KeyFileErrorKind {
        parse_private_keys(input).unwrap_err().kind
    }

    /// The alice fixture with `from` replaced by `to`.
    fn alice_with(from: &str, to: &str) -> Vec<u8> {
        let t = text(ALICE);
        assert!(t.contains(from), "{from:?} not in the fixture");
        t.replacen(from, to, 1).into_bytes()
    }

    #[test]
    fn reads_libotr_files() {
        let keys = parse_private_keys(ALICE).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].account_name, "alice@localhost/peer");
        assert_eq!(keys[0].protocol, "prpl-jabber");
        assert_eq!(keys[0].fingerprint().to_hex(), ALICE_FP);

        let keys = parse_private_keys(TWO).unwrap();
        let got: Vec<_> = keys
            .iter()
            .map(|k| (k.account_name.as_str(), k.fingerprint().to_hex()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "dave@localhost/peer",
                    "4ce97b63d48d64ed80bdf98cb3473bf80e5d3878".to_owned()
                ),
                (
                    "dave@example.org/",
                    "d9d51f4f757b9f46d4ab4bdd8ce4e34bfbc68186".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn reads_libotr_test_suite_file_with_quoted_binary_q() {
        let keys = parse_private_keys(TEST_SUITE).unwrap();
        let names: Vec<_> = keys.iter().map(|k| k.account_name.as_str()).collect();
        assert_eq!(names, ["otrtest2", "otrtest1", "otrtest3"]);
        assert!(keys.iter().all(|k| k.protocol == "prpl-aim"));
        // The quoted q decodes to a 160-bit prime (from_components checked it); its first
        // bytes are the escaped NUL and raw high bytes.
        let q = keys[0].key.public().components().q;
        assert_eq!(q.len(), 20);
        assert_eq!(&q[..3], &[0xa7, 0xd5, 0xbb]);
    }

    #[test]
    fn rewriting_a_libotr_file_is_byte_identical() {
        for file in [ALICE, TWO] {
            let keys = parse_private_keys(file).unwrap();
            assert_eq!(&write_private_keys(&keys)[..], file);
        }
    }

    #[test]
    fn a_key_made_here_is_written_like_libotr_writes_the_same_key() {
        // Rebuild alice's key from its numbers (no source expression): the output must
        // still be libotr's bytes.
        let keys = parse_private_keys(ALICE).unwrap();
        let fresh = AccountKey::new("alice@localhost/peer", "prpl-jabber", copy(&keys[0].key));
        assert!(fresh.source.is_none());
        assert_eq!(&write_private_keys(&[fresh])[..], ALICE);
    }

    #[test]
    fn test_suite_file_is_rewritten_as_libgcrypt_would() {
        // libgcrypt reprints the quoted q as hex; the rest is unchanged.
        let keys = parse_private_keys(TEST_SUITE).unwrap();
        let out = write_private_keys(&keys);
        let out_text = String::from_utf8_lossy(&out);
        assert!(out_text.contains("(q #00A7D5BBC72AC2DD6923FB62A7557EF57B55A9F671#)"));
        assert!(out_text.contains("(name otrtest2)"));
        let again = parse_private_keys(&out).unwrap();
        for (a, b) in keys.iter().zip(&again) {
            assert_eq!(a.fingerprint(), b.fingerprint());
            assert_eq!(a.account_name, b.account_name);
        }
        let original = String::from_utf8_lossy(TEST_SUITE);
        let lines_changed = original
            .lines()
            .zip(out_text.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(lines_changed, 1);
    }

    #[test]
    fn generated_keys_round_trip() {
        let keys = vec![
            AccountKey::new("me@example.org/", "prpl-jabber", copy(generated(0))),
            AccountKey::new("Some One", "prpl-irc", copy(generated(1))),
        ];
        let file = write_private_keys(&keys);
        let t = text(&file);
        assert!(t.starts_with("(privkeys\n (account\n(name \"me@example.org/\")\n(protocol prpl-jabber)\n(private-key \n (dsa \n  (p #"));
        assert!(t.contains("(name \"Some One\")\n(protocol prpl-irc)\n"));
        assert!(t.ends_with("  )\n )\n )\n)\n"));
        let back = parse_private_keys(&file).unwrap();
        assert_eq!(back.len(), 2);
        for (a, b) in keys.iter().zip(&back) {
            assert_eq!(a.account_name, b.account_name);
            assert_eq!(a.protocol, b.protocol);
            assert_eq!(a.fingerprint(), b.fingerprint());
            assert_eq!(a.key.x_bytes(), b.key.x_bytes());
        }
        assert_eq!(write_private_keys(&back), file);
    }

    #[test]
    fn names_print_as_libgcrypt_chooses() {
        let keys = vec![
            AccountKey::new("plain-token", "prpl-x", copy(generated(0))),
            AccountKey::new("with \"quote\"", "prpl-x", copy(generated(0))),
            AccountKey::new("ümlaut", "prpl-x", copy(generated(0))),
            AccountKey::new("", "prpl-x", copy(generated(0))),
        ];
        let file = write_private_keys(&keys);
        let t = String::from_utf8_lossy(&file);
        assert!(t.contains("(name plain-token)\n"));
        assert!(t.contains("(name \"with \\\"quote\\\"\")\n"));
        assert!(t.contains("(name #C3BC6D6C617574#)\n"));
        assert!(t.contains("(name \"\")\n"));
        let back = parse_private_keys(&file).unwrap();
        let names: Vec<_> = back.iter().map(|k| k.account_name.as_str()).collect();
        assert_eq!(names, ["plain-token", "with \"quote\"", "ümlaut", ""]);
    }

    #[test]
    fn other_atom_forms_read_the_same_key() {
        let reference = parse_private_keys(ALICE).unwrap();
        let fp = reference[0].fingerprint();
        let x = reference[0].key.x_bytes();
        // x as base64, as a verbatim atom, as a quoted string with \x escapes, and the name
        // as a verbatim atom; no whitespace at all elsewhere.
        let b64 = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(&x[..])
        };
        let mut verbatim = format!("{}:", x.len()).into_bytes();
        verbatim.extend_from_slice(&x);
        let quoted: String = x.iter().map(|b| format!("\\x{b:02x}")).collect();
        let x_hex = "#6FFE517BA4A20B1F585C0A5A6C27F085C0AE067A#";
        for replacement in [
            format!("|{b64}|").into_bytes(),
            verbatim,
            format!("\"{quoted}\"").into_bytes(),
            b"#6F FE 51 7B A4 A2 0B 1F 58 5C\n 0A 5A 6C 27 F0 85 C0 AE 06 7A#".to_vec(),
        ] {
            let t = text(ALICE);
            let at = t.find(x_hex).unwrap();
            let mut file = t.as_bytes()[..at].to_vec();
            file.extend_from_slice(&replacement);
            file.extend_from_slice(&t.as_bytes()[at + x_hex.len()..]);
            let keys = parse_private_keys(&file).unwrap();
            assert_eq!(keys[0].fingerprint(), fp);
            assert_eq!(keys[0].key.x_bytes(), x);
        }
        let compact = alice_with(
            "(name \"alice@localhost/peer\")",
            "(name 20:alice@localhost/peer)",
        );
        let compact: Vec<u8> = text(&compact)
            .replace("\n", "")
            .replace("(private-key  (dsa   ", "(private-key(dsa")
            .into_bytes();
        let keys = parse_private_keys(&compact).unwrap();
        assert_eq!(keys[0].account_name, "alice@localhost/peer");
        assert_eq!(keys[0].fingerprint(), fp);
    }

    #[test]
    fn extra_elements_are_tolerated_and_kept_in_the_key() {
        let file = alice_with(
            "(private-key \n (dsa \n",
            "(comment \"made by hand\")\n(private-key \n (dsa \n  (extra 1:z)\n",
        );
        let keys = parse_private_keys(&file).unwrap();
        assert_eq!(keys[0].fingerprint().to_hex(), ALICE_FP);
        let out = text(&write_private_keys(&keys));
        // libotr keeps the private-key expression as read (so do we) but rebuilds the
        // account entry from name, protocol and key, dropping the comment.
        assert!(out.contains("(extra z)"));
        assert!(!out.contains("comment"));
        // Fields in another order.
        let file = alice_with(
            "(name \"alice@localhost/peer\")\n(protocol prpl-jabber)\n",
            "(protocol prpl-jabber)\n(name \"alice@localhost/peer\" ignored)\n",
        );
        let keys = parse_private_keys(&file).unwrap();
        assert_eq!(keys[0].account_name, "alice@localhost/peer");
    }

    #[test]
    fn empty_files_hold_no_keys() {
        assert!(parse_private_keys(b"").unwrap().is_empty());
        assert!(parse_private_keys(b" \n\t\r\n").unwrap().is_empty());
        assert!(parse_private_keys(b"(privkeys)").unwrap().is_empty());
        assert_eq!(&write_private_keys(&[])[..], b"(privkeys\n)\n");
        assert!(parse_private_keys(&write_private_keys(&[]))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn truncated_files_are_refused_with_a_location() {
        for cut in [1, 10, 60, 300, ALICE.len() / 2, ALICE.len() - 3] {
            let e = parse_private_keys(&ALICE[..cut]).unwrap_err();
            assert!(
                matches!(e.kind, KeyFileErrorKind::Syntax(_)),
                "cut {cut}: {e}"
            );
        }
        let e = parse_private_keys(&ALICE[..ALICE.len() - 3]).unwrap_err();
        assert_eq!(
            e.kind,
            KeyFileErrorKind::Syntax(SexpErrorKind::UnclosedList)
        );
        let e = parse_private_keys(&alice_with("(x #6FFE", "(x #6FXE")).unwrap_err();
        assert_eq!(e.kind, KeyFileErrorKind::Syntax(SexpErrorKind::BadHexChar));
        assert_eq!((e.line, e.column), (11, 9));
        assert_eq!(
            e.to_string(),
            "line 11, column 9: syntax error: invalid character in a hex value"
        );
        let e = parse_private_keys(&alice_with("  )\n )\n )\n)", "  )\n )\n )\n))")).unwrap_err();
        assert_eq!(
            e.kind,
            KeyFileErrorKind::Syntax(SexpErrorKind::UnmatchedClose)
        );
    }

    #[test]
    fn structure_errors() {
        assert_eq!(kind(b"(keys (account))"), KeyFileErrorKind::NotPrivkeys);
        assert_eq!(kind(b"((privkeys))"), KeyFileErrorKind::NotPrivkeys);
        assert_eq!(kind(b"(privkeys junk)"), KeyFileErrorKind::NotAnAccount);
        assert_eq!(kind(b"(privkeys (acct))"), KeyFileErrorKind::NotAnAccount);
        assert_eq!(
            kind(&alice_with("(name", "(nom")),
            KeyFileErrorKind::MissingField("name")
        );
        assert_eq!(
            kind(&alice_with("(protocol", "(proto")),
            KeyFileErrorKind::MissingField("protocol")
        );
        assert_eq!(
            kind(&alice_with("(private-key", "(public-key")),
            KeyFileErrorKind::MissingField("private-key")
        );
        assert_eq!(
            kind(&alice_with("(name \"alice@localhost/peer\")", "(name)")),
            KeyFileErrorKind::BadField("name")
        );
        assert_eq!(
            kind(&alice_with("(name \"alice@localhost/peer\")", "(name (x))")),
            KeyFileErrorKind::BadField("name")
        );
        assert_eq!(
            kind(&alice_with(
                "(name \"alice@localhost/peer\")",
                "(name \"al\\x00ice\")"
            )),
            KeyFileErrorKind::BadField("name")
        );
        assert_eq!(
            kind(&alice_with(
                "(name \"alice@localhost/peer\")",
                "(name #FF00#)"
            )),
            KeyFileErrorKind::BadField("name")
        );
        assert_eq!(
            kind(&alice_with(
                "(protocol prpl-jabber)",
                "(protocol \"\\xff\")"
            )),
            KeyFileErrorKind::BadField("protocol")
        );
        assert_eq!(kind(&alice_with("(dsa", "(rsa")), KeyFileErrorKind::NotDsa);
        for c in ['p', 'q', 'g', 'y', 'x'] {
            let from = format!("  ({c} #");
            let to = format!("  (z{c} #");
            assert_eq!(
                kind(&alice_with(&from, &to)),
                KeyFileErrorKind::MissingComponent(c)
            );
        }
        assert_eq!(
            kind(&alice_with(
                "  (x #6FFE517BA4A20B1F585C0A5A6C27F085C0AE067A#)",
                "  (x (nested))"
            )),
            KeyFileErrorKind::MissingComponent('x')
        );
    }

    #[test]
    fn one_bad_account_rejects_the_whole_file() {
        let t = text(TWO);
        let second = t.rfind("(dsa").unwrap();
        let broken = format!("{}(rsa{}", &t[..second], &t[second + 4..]);
        let e = parse_private_keys(broken.as_bytes()).unwrap_err();
        assert_eq!(e.kind, KeyFileErrorKind::NotDsa);
        assert_eq!(
            e.account,
            Some(("dave@example.org/".to_owned(), "prpl-jabber".to_owned()))
        );
        assert!(e
            .to_string()
            .contains("account \"dave@example.org/\" (prpl-jabber)"));
    }

    #[test]
    fn wrong_key_values_are_refused() {
        let x_hex = "6FFE517BA4A20B1F585C0A5A6C27F085C0AE067A";
        // Another x: y no longer matches.
        let e = parse_private_keys(&alice_with(
            x_hex,
            "6FFE517BA4A20B1F585C0A5A6C27F085C0AE067B",
        ))
        .unwrap_err();
        assert_eq!(e.kind, KeyFileErrorKind::BadKey(DsaKeyError::KeyMismatch));
        // x = 0, x = q.
        assert_eq!(
            kind(&alice_with(x_hex, "00")),
            KeyFileErrorKind::BadKey(DsaKeyError::BadPrivateValue)
        );
        assert_eq!(
            kind(&alice_with(
                x_hex,
                "0083B893008395D15627948F3E10656BC298108391"
            )),
            KeyFileErrorKind::BadKey(DsaKeyError::BadPrivateValue)
        );
        // A 2048-bit p; a 168-bit q; an even q.
        let p_hex = "00D6EDE1C64101A2633C7340695307D33E75B82361C9D0971ADEF6D6AB5DBBE842D7AC3B466FA7772C21C11859A681403399CD8D55D8235C9B2A48E43FD99446C2CEAE10AA3F9568883AAEAEDDA60027B38EEF778C63FD8F78F27450A22F26517225430648198ED5EA41450E5DB16549D82E2964EA0900622A39D9123D35252CCF";
        let long_p = format!("{}{}", p_hex, &p_hex[2..]);
        assert_eq!(
            kind(&alice_with(p_hex, &long_p)),
            KeyFileErrorKind::BadKey(DsaKeyError::TooLarge)
        );
        let q_hex = "0083B893008395D15627948F3E10656BC298108391";
        assert_eq!(
            kind(&alice_with(
                q_hex,
                "0083B893008395D15627948F3E10656BC29810839101"
            )),
            KeyFileErrorKind::BadKey(DsaKeyError::BadOrder)
        );
        assert!(matches!(
            kind(&alice_with(
                q_hex,
                "0083B893008395D15627948F3E10656BC298108390"
            )),
            KeyFileErrorKind::BadKey(_)
        ));
        // No key material in any message.
        let e = parse_private_keys(&alice_with(x_hex, "00")).unwrap_err();
        assert!(!e.to_string().contains("6FFE"));
        assert!(!format!("{e:?}").contains("6FFE"));
    }

    #[test]
    fn find_and_put_follow_libotr() {
        let mut keys = vec![
            AccountKey::new("a", "prpl-x", copy(generated(0))),
            AccountKey::new("b", "prpl-x", copy(generated(0))),
            AccountKey::new("a", "prpl-x", copy(generated(1))),
        ];
        // Duplicates: the last one counts.
        assert_eq!(
            find_key(&keys, "a", "prpl-x").unwrap().fingerprint(),
            generated(1).public().fingerprint()
        );
        assert!(find_key(&keys, "a", "prpl-y").is_none());
        // Replacing keeps the first entry's place and drops the duplicate.
        let old = put_key(
            &mut keys,
            AccountKey::new("a", "prpl-x", copy(generated(1))),
        );
        assert_eq!(old.len(), 2);
        let order: Vec<_> = keys.iter().map(|k| k.account_name.as_str()).collect();
        assert_eq!(order, ["a", "b"]);
        // Adding appends.
        let old = put_key(
            &mut keys,
            AccountKey::new("c", "prpl-x", copy(generated(0))),
        );
        assert!(old.is_empty());
        let order: Vec<_> = keys.iter().map(|k| k.account_name.as_str()).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn a_replaced_key_does_not_reuse_the_old_expression() {
        let mut keys = parse_private_keys(ALICE).unwrap();
        keys[0].key = copy(generated(0));
        let back = parse_private_keys(&write_private_keys(&keys)).unwrap();
        assert_eq!(back[0].fingerprint(), generated(0).public().fingerprint());
    }

    #[test]
    fn debug_hides_the_key() {
        let keys = parse_private_keys(ALICE).unwrap();
        let shown = format!("{keys:?}");
        assert!(shown.contains("alice@localhost/peer"));
        assert!(shown.contains("CC407D4D"));
        assert!(!shown.contains("6FFE") && !shown.contains("6ffe"));
    }

    #[test]
    fn std_mpi_form() {
        assert_eq!(&std_mpi(&[0, 0, 0x7f, 1])[..], &[0x7f, 1]);
        assert_eq!(&std_mpi(&[0x80, 1])[..], &[0, 0x80, 1]);
        assert_eq!(&std_mpi(&[0, 0x80])[..], &[0, 0x80]);
        assert!(std_mpi(&[0, 0]).is_empty());
    }
}
