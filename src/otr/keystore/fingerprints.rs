//! `otr.fingerprints`: the buddies' key fingerprints we have seen, and how far we trust each.
//!
//! One line per (buddy, our account, protocol, fingerprint):
//! `username<TAB>accountname<TAB>protocol<TAB><40 hex><TAB><trust><LF>`, where `username`
//! is the buddy's normalized name, `accountname` our account's username (not normalized),
//! and trust is empty (not verified), `verified` (checked by hand), `smp` (checked with the
//! Socialist Millionaires' Protocol) or any other string; every non-empty trust counts as
//! trusted. A buddy's fingerprints are listed newest first.
//!
//! Reading follows libotr's `otrl_privkey_read_fingerprints_FILEp`: the first three fields
//! end at tabs; the fourth, the hex, ends at the next tab, or at the first CR or the LF when
//! there is no trust column; the trust is everything after that tab up to the first CR or
//! the LF (so it may hold tabs); a fingerprint that is not exactly 40 characters skips the
//! line; when a fingerprint is listed twice for the same buddy, the later line's trust wins.
//!
//! Differences, so that nothing is lost or invented:
//! - A line we do not read as an entry is kept as it is and written back in its place,
//!   where libotr would drop it on its next rewrite. That covers lines libotr skips too.
//! - A line longer than libotr's 1000-byte `fgets` buffer holds is not an entry (libotr
//!   would read its last part as a line of its own, an entry for a truncated name).
//! - A 40-character fingerprint with a non-hex character is not an entry (libotr reads
//!   such characters as 0); neither is a line with a NUL or invalid UTF-8 in a field.
//! - A last line without LF is read (libotr ignores it).
//!
//! New entries go where libotr's in-memory order would put them: first among the buddy's
//! fingerprints, and a new buddy before the first buddy that sorts after it by
//! (username, accountname, protocol) in byte order. libotr itself reverses each buddy's
//! fingerprints every time it reads and rewrites the file; we keep the file's order.

use std::collections::HashMap;

use super::{check_field, cut_at_cr, lines, split_tab, InvalidField};
use crate::otr::crypto::fingerprint::Fingerprint;

/// libotr reads this file with a 1000-byte `fgets` buffer.
const LINE_BUFFER: usize = 1000;

/// One known fingerprint of one buddy, as seen from one of our accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FingerprintEntry {
    /// The buddy's normalized name (`purple_normalize`: for XMPP the lower-case bare JID).
    pub username: String,
    /// Our account's username, not normalized.
    pub accountname: String,
    pub protocol: String,
    pub fingerprint: Fingerprint,
    /// Empty when not verified; `verified`, `smp` or any other non-empty string when trusted.
    pub trust: String,
}

impl FingerprintEntry {
    /// libotr's rule: any non-empty trust string is trust.
    pub fn is_trusted(&self) -> bool {
        !self.trust.is_empty()
    }

    fn is_for(&self, account: &str, protocol: &str, buddy: &str) -> bool {
        self.username == buddy && self.accountname == account && self.protocol == protocol
    }

    fn sort_key(&self) -> (&[u8], &[u8], &[u8]) {
        (
            self.username.as_bytes(),
            self.accountname.as_bytes(),
            self.protocol.as_bytes(),
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    Entry(FingerprintEntry),
    /// A line kept verbatim (without its LF).
    Other(Vec<u8>),
}

/// The contents of `otr.fingerprints`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FingerprintStore {
    lines: Vec<Line>,
}

type EntryKey = (String, String, String, [u8; 20]);

impl FingerprintStore {
    /// An empty store (no file yet).
    pub fn new() -> FingerprintStore {
        FingerprintStore::default()
    }

    /// Reads the file. Never fails: lines that are not entries are kept as they are.
    pub fn parse(data: &[u8]) -> FingerprintStore {
        let mut out: Vec<Line> = Vec::new();
        let mut seen: HashMap<EntryKey, usize> = HashMap::new();
        for line in lines(data) {
            let entry = if line.longer_than_fgets(LINE_BUFFER) {
                None
            } else {
                parse_entry(line.text)
            };
            match entry {
                Some(e) => {
                    let key = (
                        e.username.clone(),
                        e.accountname.clone(),
                        e.protocol.clone(),
                        e.fingerprint.0,
                    );
                    if let Some(&at) = seen.get(&key) {
                        // Listed again: libotr keeps one entry and sets its trust again.
                        if let Some(Line::Entry(first)) = out.get_mut(at) {
                            first.trust = e.trust;
                        }
                    } else {
                        seen.insert(key, out.len());
                        out.push(Line::Entry(e));
                    }
                }
                None => out.push(Line::Other(line.text.to_vec())),
            }
        }
        FingerprintStore { lines: out }
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> impl Iterator<Item = &FingerprintEntry> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry(e) => Some(e),
            Line::Other(_) => None,
        })
    }

    /// A buddy's fingerprints as seen from one of our accounts, newest first.
    pub fn lookup<'a>(
        &'a self,
        account: &'a str,
        protocol: &'a str,
        buddy: &'a str,
    ) -> impl Iterator<Item = &'a FingerprintEntry> + 'a {
        self.entries()
            .filter(move |e| e.is_for(account, protocol, buddy))
    }

    /// The entry for one fingerprint of a buddy.
    pub fn find(
        &self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fingerprint: &Fingerprint,
    ) -> Option<&FingerprintEntry> {
        self.entries()
            .find(|e| e.is_for(account, protocol, buddy) && e.fingerprint == *fingerprint)
    }

    /// The trust string of a buddy's fingerprint, `None` if the fingerprint is unknown.
    pub fn trust_of(
        &self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fingerprint: &Fingerprint,
    ) -> Option<&str> {
        self.find(account, protocol, buddy, fingerprint)
            .map(|e| e.trust.as_str())
    }

    /// Records a fingerprint seen for a buddy, untrusted. Returns whether it was new.
    pub fn add_if_new(
        &mut self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fingerprint: &Fingerprint,
    ) -> Result<bool, InvalidField> {
        check_names(account, protocol, buddy)?;
        if self.find(account, protocol, buddy, fingerprint).is_some() {
            return Ok(false);
        }
        self.insert(FingerprintEntry {
            username: buddy.to_owned(),
            accountname: account.to_owned(),
            protocol: protocol.to_owned(),
            fingerprint: *fingerprint,
            trust: String::new(),
        });
        Ok(true)
    }

    /// Sets a fingerprint's trust (`""` to withdraw it), recording the fingerprint first if
    /// it is not known. Returns whether anything changed.
    pub fn set_trust(
        &mut self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fingerprint: &Fingerprint,
        trust: &str,
    ) -> Result<bool, InvalidField> {
        check_names(account, protocol, buddy)?;
        // The trust is the last column: a tab in it is read back (libotr reads it too).
        if trust.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(InvalidField { field: "trust" });
        }
        let existing = self.lines.iter_mut().find_map(|l| match l {
            Line::Entry(e)
                if e.is_for(account, protocol, buddy) && e.fingerprint == *fingerprint =>
            {
                Some(e)
            }
            _ => None,
        });
        if let Some(e) = existing {
            if e.trust == trust {
                return Ok(false);
            }
            e.trust = trust.to_owned();
            return Ok(true);
        }
        self.insert(FingerprintEntry {
            username: buddy.to_owned(),
            accountname: account.to_owned(),
            protocol: protocol.to_owned(),
            fingerprint: *fingerprint,
            trust: trust.to_owned(),
        });
        Ok(true)
    }

    /// Forgets one fingerprint of a buddy. Returns whether it was known.
    pub fn forget(
        &mut self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fingerprint: &Fingerprint,
    ) -> bool {
        let before = self.lines.len();
        self.lines.retain(|l| match l {
            Line::Entry(e) => {
                !(e.is_for(account, protocol, buddy) && e.fingerprint == *fingerprint)
            }
            Line::Other(_) => true,
        });
        self.lines.len() != before
    }

    /// The file's contents. Bytes rather than a string: lines kept verbatim may not be
    /// UTF-8.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for line in &self.lines {
            match line {
                Line::Entry(e) => {
                    let start = out.len();
                    for field in [&e.username, &e.accountname, &e.protocol] {
                        out.extend_from_slice(field.as_bytes());
                        out.push(b'\t');
                    }
                    out.extend_from_slice(e.fingerprint.to_hex().as_bytes());
                    // libotr writes a tab before the (possibly empty) trust. An untrusted
                    // entry read from a line one byte short of libotr's line buffer had no
                    // tab; adding one would make the line too long to read back (libotr and
                    // we would drop the entry), so there the tab is left out, which both
                    // read as "not trusted" (found by the keystore fuzz target).
                    let fits_with_tab = out.len() - start + 2 < LINE_BUFFER;
                    if !e.trust.is_empty() || fits_with_tab {
                        out.push(b'\t');
                        out.extend_from_slice(e.trust.as_bytes());
                    }
                }
                Line::Other(raw) => out.extend_from_slice(raw),
            }
            out.push(b'\n');
        }
        out
    }

    /// Puts a new entry where libotr's order puts it (see the module comment).
    fn insert(&mut self, entry: FingerprintEntry) {
        let key = entry.sort_key();
        let position = |pred: &dyn Fn(&FingerprintEntry) -> bool| {
            self.lines
                .iter()
                .position(|l| matches!(l, Line::Entry(e) if pred(e)))
        };
        // The buddy's group even if the file is not sorted, else the sorted place.
        let at = position(&|e| e.sort_key() == key)
            .or_else(|| position(&|e| e.sort_key() > key))
            .unwrap_or(self.lines.len());
        self.lines.insert(at, Line::Entry(entry));
    }
}

fn check_names(account: &str, protocol: &str, buddy: &str) -> Result<(), InvalidField> {
    check_field("account", account)?;
    check_field("protocol", protocol)?;
    check_field("buddy", buddy)
}

fn parse_entry(text: &[u8]) -> Option<FingerprintEntry> {
    if text.contains(&0) {
        return None;
    }
    let (username, rest) = split_tab(text)?;
    let (accountname, rest) = split_tab(rest)?;
    let (protocol, rest) = split_tab(rest)?;
    let (hex, trust) = match split_tab(rest) {
        Some((hex, trust)) => (hex, cut_at_cr(trust)),
        None => (cut_at_cr(rest), &b""[..]),
    };
    let utf8 = |b: &[u8]| core::str::from_utf8(b).ok().map(str::to_owned);
    Some(FingerprintEntry {
        username: utf8(username)?,
        accountname: utf8(accountname)?,
        protocol: utf8(protocol)?,
        fingerprint: Fingerprint::from_hex(core::str::from_utf8(hex).ok()?)?,
        trust: utf8(trust)?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fp(byte: u8) -> Fingerprint {
        Fingerprint([byte; 20])
    }

    const A: &str = "alice@example.org/Home";
    const J: &str = "prpl-jabber";

    #[test]
    fn reads_the_reference_example() {
        let file = b"bob@example.net\talice@example.org/\tprpl-jabber\tff0d1a2734414e5b6875828f9ca9b6c3d0ddeaf7\t\n\
                     bob@example.net\talice@example.org/\tprpl-jabber\t000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7\tsmp\n";
        let s = FingerprintStore::parse(file);
        let got: Vec<_> = s
            .lookup("alice@example.org/", J, "bob@example.net")
            .map(|e| (e.fingerprint.to_hex(), e.trust.clone(), e.is_trusted()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "ff0d1a2734414e5b6875828f9ca9b6c3d0ddeaf7".to_owned(),
                    String::new(),
                    false
                ),
                (
                    "000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7".to_owned(),
                    "smp".to_owned(),
                    true
                ),
            ]
        );
        // Written back byte for byte.
        assert_eq!(s.to_file_bytes(), file.to_vec());
    }

    #[test]
    fn trust_column_variants() {
        let hex = "0123456789abcdef0123456789ABCDEF01234567";
        let file = format!(
            "b1\t{A}\t{J}\t{hex}\n\
             b2\t{A}\t{J}\t{hex}\r\n\
             b3\t{A}\t{J}\t{hex}\tverified\r\n\
             b4\t{A}\t{J}\t{hex}\tmy\ttabbed trust\n\
             b5\t{A}\t{J}\t{hex}\tcut\rhere\n\
             b6\t{A}\t{J}\t{hex}\tlast line"
        );
        let s = FingerprintStore::parse(file.as_bytes());
        let f = Fingerprint::from_hex(hex).unwrap();
        let trust = |b: &str| s.trust_of(A, J, b, &f).map(str::to_owned);
        assert_eq!(trust("b1").as_deref(), Some(""));
        assert_eq!(trust("b2").as_deref(), Some(""));
        assert_eq!(trust("b3").as_deref(), Some("verified"));
        assert_eq!(trust("b4").as_deref(), Some("my\ttabbed trust"));
        assert_eq!(trust("b5").as_deref(), Some("cut"));
        assert_eq!(trust("b6").as_deref(), Some("last line"));
        // Rewritten in libotr's form: lower-case hex, trust column always present, LF.
        let out = String::from_utf8(s.to_file_bytes()).unwrap();
        assert!(out.starts_with(&format!("b1\t{A}\t{J}\t{}\t\n", hex.to_lowercase())));
        assert!(out.contains("\tverified\n"));
        assert!(out.ends_with("\tlast line\n"));
        assert!(!out.contains('\r'));
    }

    #[test]
    fn an_untrusted_entry_at_the_line_limit_is_written_so_that_it_reads_back() {
        // A line of 998 bytes plus LF is the longest libotr's fgets buffer reads whole; this
        // one has no tab before the (empty) trust, so a tab added on writing would push it
        // over the limit and the entry would be lost at the next read.
        let head = format!("b\t{A}\t");
        let protocol = "p".repeat(998 - head.len() - 1 - 40);
        let line = format!("{head}{protocol}\t{}", fp(7).to_hex());
        assert_eq!(line.len(), 998);
        let store = FingerprintStore::parse(format!("{line}\n").as_bytes());
        assert_eq!(store.entries().count(), 1);
        let written = store.to_file_bytes();
        let again = FingerprintStore::parse(&written);
        assert!(
            store.entries().eq(again.entries()),
            "the entry was lost on rewrite"
        );
        assert_eq!(again.to_file_bytes(), written);
        // One byte shorter, the usual tab is written.
        let short = FingerprintStore::parse(format!("{}\n", &line[1..]).as_bytes());
        assert!(short.to_file_bytes().ends_with(b"\t\n"));
    }

    #[test]
    fn lines_that_are_not_entries_are_kept_verbatim() {
        let good = format!("b\t{A}\t{J}\t{}\t\n", fp(1).to_hex());
        let long_name = "x".repeat(1000);
        let junk: Vec<Vec<u8>> = vec![
            b"# a comment".to_vec(),
            b"".to_vec(),
            format!("b\t{A}\t{J}\t0123").into_bytes(),
            format!("b\t{A}\t{J}\t{}0\t", fp(2).to_hex()).into_bytes(),
            format!("b\t{A}\t{J}\tzz{}\t", &fp(2).to_hex()[2..]).into_bytes(),
            format!("b\t{A}\t{J}").into_bytes(),
            format!("{long_name}\t{A}\t{J}\t{}\t", fp(3).to_hex()).into_bytes(),
            [
                b"b\xff\t",
                A.as_bytes(),
                b"\t",
                J.as_bytes(),
                b"\t",
                fp(4).to_hex().as_bytes(),
                b"\t",
            ]
            .concat(),
            [
                b"b\0\t",
                A.as_bytes(),
                b"\t",
                J.as_bytes(),
                b"\t",
                fp(5).to_hex().as_bytes(),
                b"\t",
            ]
            .concat(),
        ];
        let mut file = good.clone().into_bytes();
        for j in &junk {
            file.extend_from_slice(j);
            file.push(b'\n');
        }
        let s = FingerprintStore::parse(&file);
        assert_eq!(s.entries().count(), 1);
        assert_eq!(s.to_file_bytes(), file);
    }

    #[test]
    fn a_line_just_under_libotr_buffer_is_an_entry() {
        let suffix = format!("\t{A}\t{J}\t{}\t", fp(1).to_hex());
        // 998 bytes + LF fit in fgets' 999.
        let name = "n".repeat(998 - suffix.len());
        let line = format!("{name}{suffix}\n");
        assert_eq!(line.len(), 999);
        assert_eq!(
            FingerprintStore::parse(line.as_bytes()).entries().count(),
            1
        );
        let line = format!("n{name}{suffix}\n");
        assert_eq!(
            FingerprintStore::parse(line.as_bytes()).entries().count(),
            0
        );
    }

    #[test]
    fn duplicates_merge_with_the_later_trust() {
        let h = fp(7).to_hex();
        let file =
            format!("b\t{A}\t{J}\t{h}\tsmp\nc\t{A}\t{J}\t{h}\t\nb\t{A}\t{J}\t{h}\tverified\n");
        let s = FingerprintStore::parse(file.as_bytes());
        assert_eq!(s.entries().count(), 2);
        assert_eq!(s.trust_of(A, J, "b", &fp(7)), Some("verified"));
        assert_eq!(
            String::from_utf8(s.to_file_bytes()).unwrap(),
            format!("b\t{A}\t{J}\t{h}\tverified\nc\t{A}\t{J}\t{h}\t\n")
        );
    }

    #[test]
    fn lookups_are_per_buddy_account_and_protocol() {
        let mut s = FingerprintStore::new();
        s.add_if_new(A, J, "bob@x", &fp(1)).unwrap();
        s.add_if_new(A, "prpl-irc", "bob@x", &fp(2)).unwrap();
        s.add_if_new("other/", J, "bob@x", &fp(3)).unwrap();
        s.add_if_new(A, J, "carol@x", &fp(4)).unwrap();
        let only: Vec<_> = s.lookup(A, J, "bob@x").map(|e| e.fingerprint).collect();
        assert_eq!(only, vec![fp(1)]);
        assert_eq!(s.trust_of(A, J, "bob@x", &fp(2)), None);
        assert_eq!(s.trust_of(A, "prpl-irc", "bob@x", &fp(2)), Some(""));
        // Names are compared exactly: no normalization here.
        assert_eq!(s.lookup(A, J, "Bob@x").count(), 0);
    }

    #[test]
    fn new_entries_go_where_libotr_puts_them() {
        let mut s = FingerprintStore::new();
        assert!(s.add_if_new(A, J, "m@x", &fp(1)).unwrap());
        assert!(!s.add_if_new(A, J, "m@x", &fp(1)).unwrap());
        // Newest first within a buddy.
        assert!(s.add_if_new(A, J, "m@x", &fp(2)).unwrap());
        // New buddies in (username, account, protocol) byte order.
        s.add_if_new(A, J, "z@x", &fp(3)).unwrap();
        s.add_if_new(A, J, "a@x", &fp(4)).unwrap();
        s.add_if_new("0-account", J, "m@x", &fp(5)).unwrap();
        let order: Vec<_> = s
            .entries()
            .map(|e| (e.username.as_str(), e.fingerprint.0[0]))
            .collect();
        assert_eq!(
            order,
            vec![("a@x", 4), ("m@x", 5), ("m@x", 2), ("m@x", 1), ("z@x", 3)]
        );
    }

    #[test]
    fn a_new_fingerprint_joins_its_buddy_in_an_unsorted_file() {
        let file = format!(
            "z\t{A}\t{J}\t{}\t\nm\t{A}\t{J}\t{}\tsmp\n",
            fp(1).to_hex(),
            fp(2).to_hex()
        );
        let mut s = FingerprintStore::parse(file.as_bytes());
        s.add_if_new(A, J, "m", &fp(3)).unwrap();
        let order: Vec<_> = s.entries().map(|e| e.fingerprint.0[0]).collect();
        assert_eq!(order, vec![1, 3, 2]);
    }

    #[test]
    fn trust_changes() {
        let mut s = FingerprintStore::new();
        s.add_if_new(A, J, "b", &fp(1)).unwrap();
        assert!(s.set_trust(A, J, "b", &fp(1), "verified").unwrap());
        assert!(!s.set_trust(A, J, "b", &fp(1), "verified").unwrap());
        assert!(s.find(A, J, "b", &fp(1)).unwrap().is_trusted());
        assert!(s.set_trust(A, J, "b", &fp(1), "").unwrap());
        assert!(!s.find(A, J, "b", &fp(1)).unwrap().is_trusted());
        // Setting trust on an unknown fingerprint records it.
        assert!(s.set_trust(A, J, "b", &fp(2), "smp").unwrap());
        assert_eq!(s.trust_of(A, J, "b", &fp(2)), Some("smp"));
        assert_eq!(s.lookup(A, J, "b").next().unwrap().fingerprint, fp(2));
        // Forget.
        assert!(s.forget(A, J, "b", &fp(1)));
        assert!(!s.forget(A, J, "b", &fp(1)));
        assert_eq!(s.entries().count(), 1);
    }

    #[test]
    fn fields_that_would_break_the_file_are_refused() {
        let mut s = FingerprintStore::new();
        assert_eq!(
            s.add_if_new("a\tb", J, "b", &fp(1)),
            Err(InvalidField { field: "account" })
        );
        assert_eq!(
            s.add_if_new(A, "p\n", "b", &fp(1)),
            Err(InvalidField { field: "protocol" })
        );
        assert_eq!(
            s.add_if_new(A, J, "b\r", &fp(1)),
            Err(InvalidField { field: "buddy" })
        );
        assert_eq!(
            s.set_trust(A, J, "b", &fp(1), "x\ny"),
            Err(InvalidField { field: "trust" })
        );
        assert_eq!(s.entries().count(), 0);
        // A trust with a tab is fine: it is the last column.
        assert!(s.set_trust(A, J, "b", &fp(1), "x\ty").unwrap());
        let back = FingerprintStore::parse(&s.to_file_bytes());
        assert_eq!(back.trust_of(A, J, "b", &fp(1)), Some("x\ty"));
    }

    #[test]
    fn round_trip_after_changes() {
        let mut s = FingerprintStore::parse(b"# kept\n");
        s.add_if_new(A, J, "bob", &fp(9)).unwrap();
        s.set_trust(A, J, "bob", &fp(9), "verified").unwrap();
        let bytes = s.to_file_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            format!("# kept\nbob\t{A}\t{J}\t{}\tverified\n", fp(9).to_hex())
        );
        assert_eq!(FingerprintStore::parse(&bytes), s);
    }
}
