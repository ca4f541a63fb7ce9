//! File formats of pidgin-otr/libotr key and trust files (parsing and writing; no file I/O).
//!
//! These are the files pidgin-otr keeps in the purple user directory; reading and writing
//! them the way libotr 4.1.1 does lets users switch between pidgin-otr and this plugin:
//!
//! | File | Module |
//! |---|---|
//! | `otr.private_key` (libgcrypt S-expressions) | [`privkey`], on top of [`sexp`] |
//! | `otr.fingerprints` (tab-separated) | [`fingerprints`] |
//! | `otr.instance_tags` (tab-separated) | [`instags`] |
//! | `otr.max_message_size` (optional, tab-separated) | [`MaxMessageSizes`] here |
//!
//! Everything here works on byte slices and returns bytes; the adapter does the file I/O.
//!
//! Identity strings are used exactly as given: the account name is libpurple's account
//! username, not normalized (`alice@example.org/Home`); the buddy name is the normalized name
//! (`purple_normalize`, for XMPP the lower-case bare JID). None of these functions
//! normalizes anything.
//!
//! The line-based readers follow libotr's, which reads with `fgets` into a fixed buffer
//! and then cuts fields with `strchr`; where that would produce a record out of the middle
//! of a line, or where libotr silently ignores a last line without a newline, each module
//! documents what it does instead.

pub mod fingerprints;
pub mod instags;
pub mod privkey;
pub mod sexp;

use core::fmt;

pub use fingerprints::{FingerprintEntry, FingerprintStore};
pub use instags::{InstanceTagEntry, InstanceTags};
pub use privkey::{AccountKey, KeyFileError, KeyFileErrorKind};

/// A value the line-based files cannot hold: a name or trust string with a tab, CR, LF or
/// NUL (which would change the meaning of the line, or cut it for libotr's C strings), or a
/// reserved instance tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidField {
    /// Which argument: "account", "protocol", "buddy", "trust" or "tag".
    pub field: &'static str,
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == "tag" {
            return f.write_str("instance tags below 0x100 are reserved");
        }
        write!(
            f,
            "the {} contains a tab, line break or NUL character, which the file cannot store",
            self.field
        )
    }
}

impl std::error::Error for InvalidField {}

/// Checks that `value` can be stored as one tab-separated field.
pub fn check_field(field: &'static str, value: &str) -> Result<(), InvalidField> {
    if value
        .bytes()
        .any(|b| matches!(b, b'\t' | b'\r' | b'\n' | 0))
    {
        Err(InvalidField { field })
    } else {
        Ok(())
    }
}

/// One line of a text file: its bytes without the final LF, and whether the LF was there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    pub(crate) text: &'a [u8],
    pub(crate) terminated: bool,
}

impl Line<'_> {
    /// Whether libotr's `fgets(buf, buf_size)` would read this line in more than one piece
    /// (it keeps at most `buf_size - 1` bytes, LF included).
    pub(crate) fn longer_than_fgets(&self, buf_size: usize) -> bool {
        self.text.len() + usize::from(self.terminated) > buf_size.saturating_sub(1)
    }
}

/// Splits at LF only, as `fgets` does (a lone CR does not end a line); a last line without
/// LF is returned too, marked unterminated.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut rest = data;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(n) => {
                let text = &rest[..n];
                rest = &rest[n + 1..];
                Some(Line {
                    text,
                    terminated: true,
                })
            }
            None => {
                let text = rest;
                rest = &[];
                Some(Line {
                    text,
                    terminated: false,
                })
            }
        }
    })
}

/// The part of a last field up to the first CR (libotr ends the line at the first CR, or at
/// the LF when there is none).
pub(crate) fn cut_at_cr(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == b'\r') {
        Some(n) => &field[..n],
        None => field,
    }
}

/// Splits at the first tab.
pub(crate) fn split_tab(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = s.iter().position(|&b| b == b'\t')?;
    Some((&s[..n], &s[n + 1..]))
}

// ---------------------------------------------------------------------------------------------
// otr.max_message_size

/// pidgin-otr's built-in maximum message sizes per protocol (bytes), used when
/// `otr.max_message_size` does not name the protocol. XMPP (`prpl-jabber`) is absent on
/// purpose: pidgin-otr does not fragment there.
pub const DEFAULT_MAX_MESSAGE_SIZES: [(&str, usize); 8] = [
    ("prpl-msn", 1409),
    ("prpl-icq", 2346),
    ("prpl-aim", 2343),
    ("prpl-yahoo", 799),
    ("prpl-gg", 1999),
    ("prpl-irc", 417),
    ("prpl-oscar", 2343),
    ("prpl-novell", 1792),
];

/// pidgin-otr reads this file with a 50-byte `fgets` buffer.
const MMS_LINE_BUFFER: usize = 50;

/// The optional `otr.max_message_size` file: lines `protocol<TAB>size`.
///
/// Read as pidgin-otr reads it: a line needs one tab and no second one; the size ends at
/// the first CR and is converted like C's `atoi` (leading whitespace, optional sign,
/// digits, anything after ignored, garbage = 0); a later line for the same protocol
/// replaces an earlier one. A line too long for pidgin-otr's buffer (49 bytes with its LF)
/// is skipped whole, where pidgin-otr would read its tail as a line of its own; a last line
/// without LF is used, where pidgin-otr drops it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaxMessageSizes {
    entries: Vec<(String, i64)>,
}

impl MaxMessageSizes {
    pub fn parse(data: &[u8]) -> MaxMessageSizes {
        let mut entries = Vec::new();
        for line in lines(data) {
            if line.longer_than_fgets(MMS_LINE_BUFFER) {
                continue;
            }
            let Some((protocol, size)) = split_tab(line.text) else {
                continue;
            };
            if size.contains(&b'\t') || protocol.contains(&0) {
                continue;
            }
            let Ok(protocol) = core::str::from_utf8(protocol) else {
                continue;
            };
            entries.push((protocol.to_owned(), atoi(cut_at_cr(size))));
        }
        MaxMessageSizes { entries }
    }

    /// The size the file sets for `protocol` (the last line naming it); 0 (or a negative
    /// or unparsable value, which count as 0) means "never fragment".
    pub fn from_file(&self, protocol: &str) -> Option<usize> {
        self.entries
            .iter()
            .rev()
            .find(|(p, _)| p == protocol)
            .map(|&(_, v)| usize::try_from(v).unwrap_or(0))
    }

    /// What pidgin-otr uses for `protocol`: the file's value, else its built-in default,
    /// else `None` (no fragmentation).
    pub fn lookup(&self, protocol: &str) -> Option<usize> {
        self.from_file(protocol).or_else(|| {
            DEFAULT_MAX_MESSAGE_SIZES
                .iter()
                .find(|(p, _)| *p == protocol)
                .map(|&(_, v)| v)
        })
    }
}

/// C's `atoi`, saturating at the `int` range instead of overflowing.
fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while s
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        i += 1;
    }
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        v = (v * 10 + i64::from(d - b'0')).min(i64::from(i32::MAX) + 1);
        i += 1;
    }
    let v = if negative { -v } else { v };
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn line_splitting_is_lf_only() {
        let got: Vec<_> = lines(b"a\r\nb\rc\n\nlast").collect();
        assert_eq!(
            got,
            vec![
                Line {
                    text: b"a\r",
                    terminated: true
                },
                Line {
                    text: b"b\rc",
                    terminated: true
                },
                Line {
                    text: b"",
                    terminated: true
                },
                Line {
                    text: b"last",
                    terminated: false
                },
            ]
        );
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"x\n").count(), 1);
    }

    #[test]
    fn fgets_length_limit() {
        let fits = Line {
            text: &[b'a'; 998],
            terminated: true,
        };
        assert!(!fits.longer_than_fgets(1000));
        let too_long = Line {
            text: &[b'a'; 999],
            terminated: true,
        };
        assert!(too_long.longer_than_fgets(1000));
        let unterminated = Line {
            text: &[b'a'; 999],
            terminated: false,
        };
        assert!(!unterminated.longer_than_fgets(1000));
    }

    #[test]
    fn field_check() {
        assert!(check_field("account", "alice@example.org/Home").is_ok());
        assert!(check_field("account", "").is_ok());
        for bad in ["a\tb", "a\nb", "a\rb", "a\0b"] {
            assert_eq!(
                check_field("buddy", bad),
                Err(InvalidField { field: "buddy" })
            );
        }
    }

    #[test]
    fn max_message_size_file() {
        let file = b"prpl-jabber\t10000\nprpl-irc\t  300xyz\r\nprpl-msn\t-5\n\
                     bad line\nprpl-aim\t1\t2\nprpl-gg\tnope\nprpl-jabber\t12000\nprpl-x\t77";
        let m = MaxMessageSizes::parse(file);
        // The later line wins.
        assert_eq!(m.from_file("prpl-jabber"), Some(12000));
        assert_eq!(m.from_file("prpl-irc"), Some(300));
        // Negative and garbage values mean "no fragmentation".
        assert_eq!(m.from_file("prpl-msn"), Some(0));
        assert_eq!(m.from_file("prpl-gg"), Some(0));
        // A line with a second tab is ignored; the unterminated last line is used.
        assert_eq!(m.from_file("prpl-aim"), None);
        assert_eq!(m.from_file("prpl-x"), Some(77));
        // Defaults fill in what the file does not set.
        assert_eq!(m.lookup("prpl-aim"), Some(2343));
        assert_eq!(m.lookup("prpl-msn"), Some(0));
        assert_eq!(m.lookup("prpl-unknown"), None);
        assert_eq!(MaxMessageSizes::default().lookup("prpl-jabber"), None);
        assert_eq!(MaxMessageSizes::default().lookup("prpl-irc"), Some(417));
    }

    #[test]
    fn max_message_size_long_lines_are_skipped() {
        let long = format!("prpl-{}\t100\nprpl-a\t5\n", "x".repeat(60));
        let m = MaxMessageSizes::parse(long.as_bytes());
        assert_eq!(m.entries.len(), 1);
        assert_eq!(m.from_file("prpl-a"), Some(5));
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b"42"), 42);
        assert_eq!(atoi(b"  \t+42abc"), 42);
        assert_eq!(atoi(b"-7"), -7);
        assert_eq!(atoi(b""), 0);
        assert_eq!(atoi(b"x1"), 0);
        assert_eq!(atoi(b"99999999999999999999"), i64::from(i32::MAX));
        assert_eq!(atoi(b"-99999999999999999999"), i64::from(i32::MIN));
    }
}
