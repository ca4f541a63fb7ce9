//! `otr.instance_tags`: the OTR v3 instance tag of each of our accounts on this computer.
//!
//! A first line without tabs (a comment), then `accountname<TAB>protocol<TAB>%08x<LF>` per
//! account. Reading follows libotr's `otrl_instag_read_FILEp`: lines without two tabs are
//! skipped; the value ends at the first CR or the LF and must be exactly 8 characters;
//! values below 0x100 (reserved) are skipped; when an account is listed twice, libotr uses
//! the last line.
//!
//! Differences: the 8 characters must all be hex digits (libotr's `sscanf("%08x")` would
//! also take `0x1234ab` or stop early at a non-digit); a line too long for libotr's
//! 1000-byte buffer, or with a NUL or invalid UTF-8, is skipped whole; a last line without
//! LF is read. Skipped lines are not written back, as with libotr: a tag is cheap to make
//! again, and only costs a buddy one stale instance.
//!
//! Writing puts our own comment line first, then the entries in order. libotr puts a new
//! account first and reverses the rest on each rewrite; we keep the order and append.

use super::{check_field, cut_at_cr, lines, split_tab, InvalidField};

/// Instance tags below this are reserved (spec: "Instance Tags").
pub const MIN_VALID_TAG: u32 = 0x100;

/// libotr reads this file with a 1000-byte `fgets` buffer.
const LINE_BUFFER: usize = 1000;

/// The comment line. libotr ignores every line without two tabs, so only its shape matters.
const HEADER: &str =
    "# OTR instance tags of the accounts on this computer; a copy on another computer would confuse buddies.\n";

/// One account's instance tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceTagEntry {
    /// libpurple's account username, not normalized.
    pub account_name: String,
    pub protocol: String,
    pub tag: u32,
}

/// The contents of `otr.instance_tags`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceTags {
    entries: Vec<InstanceTagEntry>,
}

impl InstanceTags {
    pub fn new() -> InstanceTags {
        InstanceTags::default()
    }

    /// Reads the file; never fails (unusable lines are skipped).
    pub fn parse(data: &[u8]) -> InstanceTags {
        let entries = lines(data)
            .filter(|line| !line.longer_than_fgets(LINE_BUFFER))
            .filter_map(|line| parse_entry(line.text))
            .collect();
        InstanceTags { entries }
    }

    pub fn entries(&self) -> &[InstanceTagEntry] {
        &self.entries
    }

    /// The account's tag: the last entry for it, as libotr picks.
    pub fn get(&self, account: &str, protocol: &str) -> Option<u32> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.account_name == account && e.protocol == protocol)
            .map(|e| e.tag)
    }

    /// Sets the account's tag: replaces its entry where it stands (dropping duplicates) or
    /// appends one. A tag below [`MIN_VALID_TAG`] is refused (it would be skipped when read
    /// back); make tags with [`generate`].
    pub fn set(&mut self, account: &str, protocol: &str, tag: u32) -> Result<(), InvalidField> {
        check_field("account", account)?;
        check_field("protocol", protocol)?;
        if tag < MIN_VALID_TAG {
            return Err(InvalidField { field: "tag" });
        }
        let is_this = |e: &InstanceTagEntry| e.account_name == account && e.protocol == protocol;
        let entry = InstanceTagEntry {
            account_name: account.to_owned(),
            protocol: protocol.to_owned(),
            tag,
        };
        match self.entries.iter().position(is_this) {
            Some(at) => {
                // Keep the first entry for the account (its place), drop later duplicates.
                let mut seen = false;
                self.entries
                    .retain(|e| !is_this(e) || !core::mem::replace(&mut seen, true));
                self.entries[at] = entry;
            }
            None => self.entries.push(entry),
        }
        Ok(())
    }

    /// The file's contents.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut out = String::from(HEADER);
        for e in &self.entries {
            out.push_str(&format!(
                "{}\t{}\t{:08x}\n",
                e.account_name, e.protocol, e.tag
            ));
        }
        out.into_bytes()
    }
}

fn parse_entry(text: &[u8]) -> Option<InstanceTagEntry> {
    if text.contains(&0) {
        return None;
    }
    let (account, rest) = split_tab(text)?;
    let (protocol, value) = split_tab(rest)?;
    let value = cut_at_cr(value);
    if value.len() != 8 || !value.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let tag = u32::from_str_radix(core::str::from_utf8(value).ok()?, 16).ok()?;
    if tag < MIN_VALID_TAG {
        return None;
    }
    Some(InstanceTagEntry {
        account_name: core::str::from_utf8(account).ok()?.to_owned(),
        protocol: core::str::from_utf8(protocol).ok()?.to_owned(),
        tag,
    })
}

/// A fresh instance tag: 32 random bits, drawn again while below [`MIN_VALID_TAG`] (as
/// libotr does; every value from 0x100 up is possible).
pub fn generate<R: rand_core::CryptoRngCore + ?Sized>(rng: &mut R) -> u32 {
    loop {
        let mut bytes = [0u8; 4];
        rng.fill_bytes(&mut bytes);
        let tag = u32::from_be_bytes(bytes);
        if tag >= MIN_VALID_TAG {
            return tag;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ALICE: &[u8] = include_bytes!("../../../tests/fixtures/libotr/alice.instance_tags");

    #[test]
    fn reads_libotr_file() {
        let t = InstanceTags::parse(ALICE);
        assert_eq!(
            t.get("alice@localhost/peer", "prpl-jabber"),
            Some(0x72dc_9521)
        );
        assert_eq!(t.get("alice@localhost/peer", "prpl-irc"), None);
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn reader_rules() {
        let file = b"# comment line\n\
                     a\tp\t000000ff\n\
                     b\tp\t00000100\n\
                     c\tp\t1234567\n\
                     d\tp\t123456789\n\
                     e\tp\t0x12345a\n\
                     f\tp\tABCDEF12\r\n\
                     g\tp\t1234567g\n\
                     h only one tab\t12345678\n\
                     i\tp\t12345678\textra\n\
                     b\tp\tdeadbeef\n\
                     j\tp\tffffffff";
        let t = InstanceTags::parse(file);
        assert_eq!(t.get("a", "p"), None);
        // The later line for b wins.
        assert_eq!(t.get("b", "p"), Some(0xdead_beef));
        assert_eq!(t.get("c", "p"), None);
        assert_eq!(t.get("d", "p"), None);
        assert_eq!(t.get("e", "p"), None);
        assert_eq!(t.get("f", "p"), Some(0xabcd_ef12));
        assert_eq!(t.get("g", "p"), None);
        assert_eq!(t.get("i", "p"), None);
        assert_eq!(t.get("j", "p"), Some(0xffff_ffff));
        assert_eq!(t.entries().len(), 4);
    }

    #[test]
    fn write_then_read() {
        let mut t = InstanceTags::new();
        t.set("alice@example.org/", "prpl-jabber", 0x05d1_acb1)
            .unwrap();
        t.set("bob", "prpl-irc", 0x100).unwrap();
        let bytes = t.to_file_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let mut lines = text.lines();
        assert!(!lines.next().unwrap().contains('\t'));
        assert_eq!(
            lines.next(),
            Some("alice@example.org/\tprpl-jabber\t05d1acb1")
        );
        assert_eq!(lines.next(), Some("bob\tprpl-irc\t00000100"));
        assert_eq!(lines.next(), None);
        assert_eq!(InstanceTags::parse(&bytes), t);
    }

    #[test]
    fn set_replaces_in_place() {
        let mut t = InstanceTags::parse(b"#\na\tp\t11111111\nb\tp\t22222222\na\tp\t33333333\n");
        t.set("a", "p", 0x4444_4444).unwrap();
        let got: Vec<_> = t
            .entries()
            .iter()
            .map(|e| (e.account_name.as_str(), e.tag))
            .collect();
        assert_eq!(got, vec![("a", 0x4444_4444), ("b", 0x2222_2222)]);
        assert_eq!(
            t.set("a\tb", "p", 0x1234),
            Err(InvalidField { field: "account" })
        );
        assert_eq!(
            t.set("a", "p\n", 0x1234),
            Err(InvalidField { field: "protocol" })
        );
        assert_eq!(t.set("a", "p", 0xff), Err(InvalidField { field: "tag" }));
        assert_eq!(t.get("a", "p"), Some(0x4444_4444));
    }

    /// Returns the given words, then zeros forever.
    struct Scripted(Vec<u32>);

    impl rand_core::RngCore for Scripted {
        fn next_u32(&mut self) -> u32 {
            if self.0.is_empty() {
                0
            } else {
                self.0.remove(0)
            }
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.next_u32())
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            for chunk in dst.chunks_mut(4) {
                let word = self.next_u32().to_be_bytes();
                chunk.copy_from_slice(&word[..chunk.len()]);
            }
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dst);
            Ok(())
        }
    }

    impl rand_core::CryptoRng for Scripted {}

    #[test]
    fn generate_redraws_reserved_values() {
        let mut rng = Scripted(vec![0, 0xff, 1, 0x100]);
        assert_eq!(generate(&mut rng), 0x100);
        let mut rng = Scripted(vec![0xffff_ffff]);
        assert_eq!(generate(&mut rng), 0xffff_ffff);
        let mut rng = Scripted(vec![0x12, 0x8000_0000]);
        assert_eq!(generate(&mut rng), 0x8000_0000);
    }
}
