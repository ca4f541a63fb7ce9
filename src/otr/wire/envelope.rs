//! The text envelope: how OTR travels inside ordinary IM messages.
//!
//! [`classify`] recognises incoming text the way libotr 4.1.1 does (`otrl_message_receiving`,
//! `otrl_proto_message_type`, `otrl_base64_otr_decode`): the first `?OTR` anywhere in the text
//! decides, so a message wrapped in HTML by the peer's client (`<p>?OTR:AAMD…</p>`) is still
//! recognised. The output functions build the query, whitespace tag, error and `?OTR:` forms.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};

use super::fragment::FragmentPiece;
use super::messages::ProtocolVersion;

/// The whitespace tag's fixed 16-byte start.
pub const TAG_BASE: &str = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20";
/// Whitespace tag group for version 1 (recognised, never sent).
pub const TAG_V1: &str = "\x20\x09\x20\x09\x20\x20\x09\x20";
/// Whitespace tag group for version 2.
pub const TAG_V2: &str = "\x20\x20\x09\x09\x20\x20\x09\x20";
/// Whitespace tag group for version 3.
pub const TAG_V3: &str = "\x20\x20\x09\x09\x20\x20\x09\x09";

const ERROR_PREFIX: &str = "?OTR Error:";

/// Where the OTR web site is mentioned in our query message.
const OTR_URL: &str = "https://otr.cypherpunks.ca/";

/// Protocol versions offered in a query message or whitespace tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Versions {
    /// Version 1 (recognised so it can be ignored; we never speak it).
    pub v1: bool,
    /// Version 2.
    pub v2: bool,
    /// Version 3.
    pub v3: bool,
}

impl Versions {
    /// Versions 2 and 3, what we normally offer.
    pub const V2_V3: Self = Self {
        v1: false,
        v2: true,
        v3: true,
    };

    /// Whether `version` is offered.
    pub fn contains(self, version: ProtocolVersion) -> bool {
        match version {
            ProtocolVersion::V2 => self.v2,
            ProtocolVersion::V3 => self.v3,
        }
    }

    /// The best version offered by both `self` and `ours` (3 over 2; 1 never).
    pub fn best_common(self, ours: Versions) -> Option<ProtocolVersion> {
        if self.v3 && ours.v3 {
            Some(ProtocolVersion::V3)
        } else if self.v2 && ours.v2 {
            Some(ProtocolVersion::V2)
        } else {
            None
        }
    }
}

/// What an incoming IM message is, for OTR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Not OTR. `tag` is `Some` when a whitespace tag was found; `text` then has the tag
    /// removed (the rest of the text is kept as is).
    Plaintext {
        /// Text to deliver.
        text: String,
        /// Versions advertised by a whitespace tag, if one was present.
        tag: Option<Versions>,
    },
    /// A query message (`?OTR?`, `?OTRv23?`, ...).
    Query {
        /// Versions asked for; unknown version characters are ignored.
        versions: Versions,
    },
    /// `?OTR Error:`; `text` follows the prefix, minus one leading space.
    Error {
        /// The peer's error text (untrusted; escape before showing it as markup).
        text: String,
    },
    /// A v2/v3 encoded message (`?OTR:AAM`/`?OTR:AAI` + type letter): the decoded bytes, to be
    /// parsed by [`super::messages::EncodedMessage::decode`].
    Encoded {
        /// Binary message.
        bytes: Vec<u8>,
    },
    /// A well-formed fragment (`?OTR|…` v3 or `?OTR,…` v2).
    Fragment(FragmentPiece),
    /// Text that libotr would treat as a fragment but whose header or piece is illegal
    /// (k = 0, n = 0, k > n, bad numbers, empty piece, no trailing comma). libotr drops it
    /// silently and leaves its stored fragment untouched.
    MalformedFragment,
    /// Any other `?OTR…` text, including v1 messages: not for us.
    Unknown,
}

impl Incoming {
    /// Whether libotr forgets its partially reassembled message on receiving this: any message
    /// containing `?OTR` that is not a fragment does (`otrl_proto_fragment_accumulate` is only
    /// reached for such text). Plain text, tagged or not, does not, although the spec says so.
    pub fn resets_fragment_buffer(&self) -> bool {
        matches!(
            self,
            Self::Query { .. } | Self::Error { .. } | Self::Encoded { .. } | Self::Unknown
        )
    }
}

/// Classify incoming text. Fragments are recognised first, as libotr and the spec require.
pub fn classify(raw: &str) -> Incoming {
    classify_inner(raw, true)
}

/// Whether [`classify`] would call `raw` a query message, without copying plain text (the
/// send path asks this of every message the user types).
pub fn is_query(raw: &str) -> bool {
    find_otr(raw, 0).is_some() && matches!(classify(raw), Incoming::Query { .. })
}

/// Classify a message produced by reassembly. Identical to [`classify`] except that fragment
/// forms are not recognised (they come out as [`Incoming::Unknown`], as in libotr): a
/// fragment carried inside fragments is never reassembled a second time.
pub fn classify_reassembled(raw: &str) -> Incoming {
    classify_inner(raw, false)
}

fn classify_inner(raw: &str, allow_fragments: bool) -> Incoming {
    let Some(start) = find_otr(raw, 0) else {
        return plaintext(raw);
    };
    if allow_fragments {
        // libotr looks for `?OTR|` anywhere in the text, then for `?OTR,` anywhere, not only
        // at the first `?OTR`. One pass over the `?OTR` occurrences finds both.
        let mut comma_at = None;
        let mut at = Some(start);
        let mut fragment_at = None;
        while let Some(i) = at {
            match raw.as_bytes().get(i + 4) {
                Some(b'|') => {
                    fragment_at = Some(i);
                    break;
                }
                Some(b',') if comma_at.is_none() => comma_at = Some(i),
                _ => {}
            }
            at = find_otr(raw, i + 4);
        }
        if let Some(at) = fragment_at.or(comma_at) {
            return match raw.get(at..).and_then(FragmentPiece::parse) {
                Some(piece) => Incoming::Fragment(piece),
                None => Incoming::MalformedFragment,
            };
        }
    }
    let Some(otr) = raw.get(start..) else {
        return Incoming::Unknown;
    };
    if otr.starts_with("?OTR:AAM") || otr.starts_with("?OTR:AAI") {
        return match otr.as_bytes().get(8) {
            Some(&kind @ (b'C' | b'K' | b'R' | b'S' | b'D')) => decode_encoded(otr, kind == b'D'),
            // The modern suite's types 0x30..0x34 (docs/modern-suite.md §3, §15), v3 framing
            // only; the `.` is required for all five (we always write it). The session tells
            // them apart from v3 messages by their type byte.
            Some(b'w' | b'x' | b'y' | b'z' | b'0') if otr.starts_with("?OTR:AAM") => {
                decode_encoded(otr, false)
            }
            _ => Incoming::Unknown,
        };
    }
    if otr.starts_with("?OTR?") || otr.starts_with("?OTRv") {
        return Incoming::Query {
            versions: parse_query(otr),
        };
    }
    if let Some(text) = otr.strip_prefix(ERROR_PREFIX) {
        let text = text.strip_prefix(' ').unwrap_or(text);
        return Incoming::Error {
            text: text.to_owned(),
        };
    }
    // v1 (`?OTR:AAE…`) and everything else.
    Incoming::Unknown
}

/// The index of the first `?OTR` at or after `from`. Looks for the `?` with `memchr` (what
/// `str::find(char)` uses) and checks the three bytes after it, which is much cheaper than
/// building a substring searcher on every call.
fn find_otr(raw: &str, from: usize) -> Option<usize> {
    let bytes = raw.as_bytes();
    let mut pos = from;
    loop {
        let rest = raw.get(pos..)?;
        let q = pos + rest.find('?')?;
        if bytes.get(q + 1..q + 4) == Some(b"OTR".as_slice()) {
            return Some(q);
        }
        pos = q + 1;
    }
}

/// `otr` starts with `?OTR?` or `?OTRv`. A leading `?` offers v1; after `v`, every character
/// up to the next `?` (or the end) is a version identifier, unknown ones ignored.
fn parse_query(otr: &str) -> Versions {
    let mut versions = Versions::default();
    let mut rest = otr.get(4..).unwrap_or("");
    if let Some(r) = rest.strip_prefix('?') {
        versions.v1 = true;
        rest = r;
    }
    if let Some(r) = rest.strip_prefix('v') {
        for c in r.chars().take_while(|&c| c != '?') {
            match c {
                '2' => versions.v2 = true,
                '3' => versions.v3 = true,
                _ => {}
            }
        }
    }
    versions
}

/// `otr` starts with `?OTR:`. The payload ends at the first `.`; libotr accepts a data
/// message without the `.` (decoding to the end of the text) but not an AKE message.
fn decode_encoded(otr: &str, is_data: bool) -> Incoming {
    let body = otr.get(5..).unwrap_or("");
    // Fast path, taken by every message libotr or we produce: base64 characters, then `=`
    // padding or the `.` (or the end). The run of alphabet characters is then exactly what
    // libotr's decoder keeps, and is decoded in place without the filtering copy.
    let run = alphabet_run(body.as_bytes());
    let clean_stop = match body.as_bytes().get(run) {
        None => Some(false),
        Some(b'.') => Some(false),
        Some(b'=') => Some(true),
        Some(_) => None,
    };
    if let (Some(padded), Some(run_text)) = (clean_stop, body.get(..run)) {
        // The `.` must exist somewhere for an AKE message, as in the general path.
        let has_dot = body.as_bytes().get(run) == Some(&b'.')
            || body.get(run..).is_some_and(|r| r.contains('.'));
        if !has_dot && !is_data {
            return Incoming::Unknown;
        }
        return match decode_clean_base64(run_text.as_bytes(), padded) {
            Some(bytes) => Incoming::Encoded { bytes },
            None => Incoming::Unknown,
        };
    }
    let payload = match body.find('.') {
        Some(dot) => body.get(..dot).unwrap_or(""),
        None if is_data => body,
        None => return Incoming::Unknown,
    };
    match decode_base64_like_libotr(payload) {
        Some(bytes) => Incoming::Encoded { bytes },
        None => Incoming::Unknown,
    }
}

fn is_base64_alphabet(b: u8) -> bool {
    matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/')
}

/// Length of the leading run of base64 alphabet characters. Whole 32-byte blocks are checked
/// with a branch-free test the compiler turns into vector code (a reassembled message is
/// tens of KB of base64); the block holding the first other character is scanned byte by byte.
fn alphabet_run(bytes: &[u8]) -> usize {
    const BLOCK: usize = 32;
    let mut done = 0;
    for block in bytes.chunks_exact(BLOCK) {
        let all = block.iter().fold(true, |ok, &b| {
            ok & ((b.wrapping_sub(b'A') < 26)
                | (b.wrapping_sub(b'a') < 26)
                | (b.wrapping_sub(b'0') < 10)
                | (b == b'+')
                | (b == b'/'))
        });
        if !all {
            break;
        }
        done += BLOCK;
    }
    let rest = bytes.get(done..).unwrap_or(&[]);
    done + rest.iter().take_while(|&&b| is_base64_alphabet(b)).count()
}

/// Decoding engine for the normalised payload: no padding (a final partial group is decoded
/// as if padded, which is what libotr's flush does), and non-zero trailing bits tolerated as
/// libotr's decoder does not check them.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Decodes `clean`, which holds only base64 alphabet characters, with libotr's end rules:
/// `padded` (an `=` ended it) flushes a partial group of 2 or 3 characters; without `=` a
/// partial group at the end is discarded; a lone character carries no whole byte either way.
fn decode_clean_base64(clean: &[u8], padded: bool) -> Option<Vec<u8>> {
    let partial = clean.len() % 4;
    let keep = if !padded || partial == 1 {
        clean.len() - partial
    } else {
        clean.len()
    };
    LENIENT.decode(clean.get(..keep)?).ok()
}

/// libotr's base64 decoding (`otrl_base64_decode`): characters outside the alphabet
/// (whitespace, newlines, markup punctuation) are skipped; the first `=` ends the payload and
/// flushes a partial group of 2 or 3 characters; without `=` a partial group at the end is
/// discarded. Hence `?OTR:===.` or an empty payload decode to no bytes, harmlessly.
fn decode_base64_like_libotr(payload: &str) -> Option<Vec<u8>> {
    let mut clean = Vec::with_capacity(payload.len());
    let mut padded = false;
    for b in payload.bytes() {
        if is_base64_alphabet(b) {
            clean.push(b);
        } else if b == b'=' {
            padded = true;
            break;
        }
    }
    decode_clean_base64(&clean, padded)
}

/// `?OTR:` + base64 + `.`: the envelope of a binary message.
pub fn encode(bytes: &[u8]) -> String {
    // Encoding straight into the final buffer (one allocation, one pass) is several times
    // cheaper than `encode_string`'s chunked path; an ASCII check is all `from_utf8` adds.
    let Some(b64_len) = base64::encoded_len(bytes.len(), true) else {
        return encode_chunked(bytes);
    };
    let mut out = Vec::with_capacity(b64_len.saturating_add(6));
    out.extend_from_slice(b"?OTR:");
    out.resize(b64_len.saturating_add(5), 0);
    let Some(Ok(written)) = out
        .get_mut(5..)
        .map(|dst| STANDARD.encode_slice(bytes, dst))
    else {
        return encode_chunked(bytes);
    };
    out.truncate(written.saturating_add(5));
    out.push(b'.');
    String::from_utf8(out).unwrap_or_else(|_| encode_chunked(bytes))
}

/// The same envelope through `encode_string`: only reached if the fast path above could not
/// size its buffer, which no message that fits in memory triggers.
fn encode_chunked(bytes: &[u8]) -> String {
    let mut out =
        String::with_capacity(bytes.len().div_ceil(3).saturating_mul(4).saturating_add(6));
    out.push_str("?OTR:");
    STANDARD.encode_string(bytes, &mut out);
    out.push('.');
    out
}

/// The version part of a query message: `?OTRv23?`, `?OTRv2?` or `?OTRv3?` (we never offer
/// v1). With neither version this is `?OTRv?`, the spec's "no version" claim.
pub fn query_tag(versions: Versions) -> String {
    let mut out = String::from("?OTRv");
    if versions.v2 {
        out.push('2');
    }
    if versions.v3 {
        out.push('3');
    }
    out.push('?');
    out
}

/// A query message: the version tag, a newline, and an explanation for a peer without OTR
/// (HTML, as IM clients render it; `account` is escaped).
pub fn query_message(versions: Versions, account: &str) -> String {
    format!(
        "{}\n<b>{}</b> would like to talk privately using Off-the-Record Messaging (OTR) \
         but your chat program does not seem to support it. \
         OTR plugins for many programs are listed at <a href=\"{OTR_URL}\">{OTR_URL}</a>.",
        query_tag(versions),
        escape_html(account)
    )
}

/// The whitespace tag advertising `versions` (v2, v3; never v1). Empty when neither is
/// offered, since a tag without versions announces nothing.
pub fn whitespace_tag(versions: Versions) -> String {
    if !versions.v2 && !versions.v3 {
        return String::new();
    }
    let mut out = String::from(TAG_BASE);
    if versions.v2 {
        out.push_str(TAG_V2);
    }
    if versions.v3 {
        out.push_str(TAG_V3);
    }
    out
}

/// Plaintext with the whitespace tag appended, as libotr sends it.
pub fn tag_plaintext(text: &str, versions: Versions) -> String {
    let mut out = String::from(text);
    out.push_str(&whitespace_tag(versions));
    out
}

/// `?OTR Error: ` + text.
pub fn error_message(text: &str) -> String {
    format!("{ERROR_PREFIX} {text}")
}

/// Escape text for inclusion in HTML markup.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Untagged, unencoded text: plaintext, with a whitespace tag located (anywhere) and removed.
/// The tag is the 16-byte base followed by any number of 8-byte groups of spaces and tabs;
/// only the v1/v2/v3 groups count as offers.
fn plaintext(raw: &str) -> Incoming {
    let Some(start) = raw.find(TAG_BASE) else {
        return Incoming::Plaintext {
            text: raw.to_owned(),
            tag: None,
        };
    };
    let bytes = raw.as_bytes();
    let mut end = start + TAG_BASE.len();
    let mut versions = Versions::default();
    while let Some(group) = end.checked_add(8).and_then(|stop| bytes.get(end..stop)) {
        if !group.iter().all(|&b| b == b' ' || b == b'\t') {
            break;
        }
        match group {
            g if g == TAG_V1.as_bytes() => versions.v1 = true,
            g if g == TAG_V2.as_bytes() => versions.v2 = true,
            g if g == TAG_V3.as_bytes() => versions.v3 = true,
            _ => {}
        }
        end += 8;
    }
    // `start` and `end` sit next to ASCII whitespace, so both are char boundaries.
    let mut text = String::with_capacity(raw.len());
    text.push_str(raw.get(..start).unwrap_or(""));
    text.push_str(raw.get(end..).unwrap_or(""));
    Incoming::Plaintext {
        text,
        tag: Some(versions),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::otr::wire::messages::{EncodedMessage, Message, DATA};

    const SPEC_DATA: &str = "?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8vjPEWAJ6gBXvZrY6ZQrx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjScajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAAAAAEAAAAHwNiIi5Ms+4PsY/L2ipkTtquknfx6HodLvk3RAAAAAA==.";

    fn encoded(raw: &str) -> Vec<u8> {
        match classify(raw) {
            Incoming::Encoded { bytes } => bytes,
            other => panic!("{raw:?} classified as {other:?}"),
        }
    }

    fn v(v1: bool, v2: bool, v3: bool) -> Versions {
        Versions { v1, v2, v3 }
    }

    #[test]
    fn encode_fast_path_matches_chunked_encoder() {
        // Every length modulo 3 (padding 0, 1 and 2), empty input, and inputs longer than the
        // chunked encoder's internal 1 KiB buffer.
        for len in [0usize, 1, 2, 3, 4, 5, 140, 767, 768, 769, 3000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let fast = encode(&bytes);
            assert_eq!(fast, encode_chunked(&bytes), "length {len}");
            assert!(fast.starts_with("?OTR:") && fast.ends_with('.'));
            assert_eq!(fast.len(), 6 + len.div_ceil(3) * 4);
        }
        assert_eq!(encode(b"\x00\x03\x02"), "?OTR:AAMC.");
        assert_eq!(encode(b"ab"), "?OTR:YWI=.");
    }

    #[test]
    fn encode_classify_round_trip() {
        for len in [3usize, 4, 5, 6, 100, 1000] {
            let mut bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            bytes[..3].copy_from_slice(&[0, 3, DATA.0]);
            let text = encode(&bytes);
            assert!(text.starts_with("?OTR:AAMD") && text.ends_with('.'));
            assert_eq!(encoded(&text), bytes, "len {len}");
        }
        assert_eq!(encode(&[0, 2, 0x0a]), "?OTR:AAIK.");
        assert_eq!(encode(&[]), "?OTR:.");
    }

    #[test]
    fn spec_example_decodes_and_reencodes() {
        let bytes = encoded(SPEC_DATA);
        assert_eq!(encode(&bytes), SPEC_DATA);
        let m = EncodedMessage::decode(&bytes).unwrap();
        assert!(matches!(m.message, Message::Data(_)));
    }

    #[test]
    fn every_type_letter_both_versions() {
        for (letter, ty) in [
            ('C', 0x02u8),
            ('K', 0x0a),
            ('R', 0x11),
            ('S', 0x12),
            ('D', 0x03),
        ] {
            for (prefix, version) in [("AAM", 3u8), ("AAI", 2)] {
                let text = format!("?OTR:{prefix}{letter}AAAA.");
                let bytes = encoded(&text);
                assert_eq!(&bytes[..3], &[0, version, ty], "{text}");
            }
        }
        assert_eq!(classify("?OTR:AAMXAAAA."), Incoming::Unknown);
        assert_eq!(classify("?OTR:AAM"), Incoming::Unknown);
    }

    #[test]
    fn modern_types_are_encoded_in_v3_framing_only() {
        for (letter, ty) in [('w', 0x30u8), ('x', 0x31), ('y', 0x32), ('z', 0x33)] {
            let bytes = encoded(&format!("?OTR:AAM{letter}AAAA."));
            assert_eq!(&bytes[..3], &[0, 3, ty], "{letter}");
            assert_eq!(encode(&bytes[..3]), format!("?OTR:AAM{letter}."));
            // v2 framing, or no `.`, is not ours.
            assert_eq!(
                classify(&format!("?OTR:AAI{letter}AAAA.")),
                Incoming::Unknown
            );
            assert_eq!(
                classify(&format!("?OTR:AAM{letter}AAAA")),
                Incoming::Unknown
            );
        }
        assert_eq!(classify("?OTR:AAMvAAAA."), Incoming::Unknown);
        assert_eq!(classify("?OTR:AAN"), Incoming::Unknown);
    }

    #[test]
    fn html_wrapped_messages_are_recognised() {
        let expected = encoded(SPEC_DATA);
        for wrapped in [
            format!("<p>{SPEC_DATA}</p>"),
            format!("<html><body><span style=\"x\">{SPEC_DATA}</span></body></html>"),
            format!("hello {SPEC_DATA} world"),
            // Newlines and spaces inside the base64 are skipped, as libotr does.
            SPEC_DATA
                .replacen("J+MV", "J+\nMV", 1)
                .replacen("AAAA", "AA \r\n\tAA", 1),
        ] {
            assert_eq!(encoded(&wrapped), expected, "{wrapped:?}");
        }
        // Text between the last base64 character and the dot is skipped when not base64.
        let body = SPEC_DATA.strip_suffix('.').unwrap();
        assert_eq!(encoded(&format!("{body}  </span>.")), expected);
        // Anything after the first `=` is ignored up to the dot.
        assert_eq!(encoded(&format!("{body}garbageXYZ.")), expected);
    }

    #[test]
    fn data_without_dot_decodes_to_the_end_but_ake_does_not() {
        let body = SPEC_DATA.strip_suffix('.').unwrap();
        assert_eq!(encoded(body), encoded(SPEC_DATA));
        assert_eq!(classify("?OTR:AAMKAAAA"), Incoming::Unknown);
        assert!(matches!(
            classify("?OTR:AAMKAAAA."),
            Incoming::Encoded { .. }
        ));
    }

    #[test]
    fn base64_edge_cases_are_harmless() {
        // CVE-2012-3461 shapes: padding only, empty, junk.
        assert_eq!(classify("?OTR:===."), Incoming::Unknown);
        assert_eq!(classify("?OTR:."), Incoming::Unknown);
        assert_eq!(classify("?OTR:"), Incoming::Unknown);
        assert_eq!(encoded("?OTR:AAMD===."), vec![0, 3, 3]);
        assert_eq!(encoded("?OTR:AAMD=."), vec![0, 3, 3]);
        assert_eq!(encoded("?OTR:AAMD."), vec![0, 3, 3]);
        assert_eq!(encoded("?OTR:AAMDA."), vec![0, 3, 3]); // short group dropped
        assert_eq!(encoded("?OTR:AAMDA=."), vec![0, 3, 3]); // one char flushes nothing
        assert_eq!(encoded("?OTR:AAMDAB=."), vec![0, 3, 3, 0]);
        assert_eq!(encoded("?OTR:AAMDABC=."), vec![0, 3, 3, 0, 0x10]);
        assert_eq!(encoded("?OTR:AAMDAB."), vec![0, 3, 3]); // no '=' → dropped
                                                            // Non-zero trailing bits are tolerated like libotr.
        assert_eq!(encoded("?OTR:AAMDAP=."), vec![0, 3, 3, 0]);
        assert_eq!(encoded("?OTR:AAMD!!!@@@###~~~é€."), vec![0, 3, 3]);
        // The decoded bytes then fail to parse, without panicking.
        assert!(EncodedMessage::decode(&encoded("?OTR:AAMD===.")).is_err());
        assert!(EncodedMessage::decode(&encoded("?OTR:AAMDAAAA////.")).is_err());
    }

    /// The in-place fast path (pure alphabet, then `=`, `.` or the end) must decode exactly
    /// what the filtering path decodes once junk is sprinkled in.
    #[test]
    fn fast_and_filtering_base64_paths_agree() {
        for len in 0..40usize {
            let bytes: Vec<u8> = [0u8, 3, 3]
                .into_iter()
                .chain((0..len).map(|i| (i * 37 + 11) as u8))
                .collect();
            let full = encode(&bytes);
            let body = &full[5..full.len() - 1];
            let unpadded = body.trim_end_matches('=');
            for tail in ["", "=", "==", "==="] {
                for dot in [".", ""] {
                    let fast = format!("?OTR:{unpadded}{tail}{dot}");
                    // Junk (skipped by libotr) after the type letter forces the filtering path.
                    let slow = format!("?OTR:{}\n <{}{tail}{dot}", &unpadded[..4], &unpadded[4..]);
                    assert_eq!(classify(&fast), classify(&slow), "{fast:?}");
                }
            }
            assert_eq!(encoded(&full), bytes);
            // An AKE message needs its `.`, whichever path decodes it.
            let ake = format!("?OTR:AAMK{}", &unpadded[4..]);
            assert_eq!(classify(&ake), Incoming::Unknown);
            assert_eq!(classify(&format!("{ake}==")), Incoming::Unknown);
        }
    }

    #[test]
    fn v1_and_unknown_are_unknown() {
        for text in [
            "?OTR:AAEK1234.",
            "?OTR:AAED1234.",
            "?OTR:AAEC1234.",
            "?OTR",
            "?OTR is great",
            "hi ?OTRx",
            "?OTR:",
        ] {
            assert_eq!(classify(text), Incoming::Unknown, "{text:?}");
        }
    }

    #[test]
    fn queries() {
        let cases = [
            ("?OTR?", v(true, false, false)),
            ("?OTRv2?", v(false, true, false)),
            ("?OTRv3?", v(false, false, true)),
            ("?OTRv23?", v(false, true, true)),
            ("?OTRv32?", v(false, true, true)),
            ("?OTR?v2?", v(true, true, false)),
            ("?OTR?v23?", v(true, true, true)),
            ("?OTRv24x?", v(false, true, false)),
            ("?OTR?v24x?", v(true, true, false)),
            ("?OTR?v?", v(true, false, false)),
            ("?OTRv?", v(false, false, false)),
            ("?OTRv2", v(false, true, false)),
            ("?OTRv?3?", v(false, false, false)),
            ("Please talk OTR ?OTRv23? with me", v(false, true, true)),
            ("<b>x</b>?OTRv3?\n<b>bob</b> wants", v(false, false, true)),
        ];
        for (text, versions) in cases {
            assert_eq!(classify(text), Incoming::Query { versions }, "{text:?}");
        }
        // Only the first `?OTR` counts.
        assert_eq!(classify("?OTR is nice; ?OTRv3?"), Incoming::Unknown);
        assert!(is_query("?OTRv3?") && is_query("<p>?OTR?v2?</p>"));
        assert!(!is_query("?OTR is nice; ?OTRv3?") && !is_query("plain ?OTR"));
        assert!(!is_query("?OTRv3? ?OTR,1,1,x,") && !is_query("hello"));
    }

    #[test]
    fn our_query_message_is_a_query() {
        for versions in [
            Versions::V2_V3,
            v(false, true, false),
            v(false, false, true),
            v(true, true, true),
        ] {
            let q = query_message(versions, "alice<&>\"'@example.org");
            let expected = Versions {
                v1: false,
                ..versions
            };
            assert_eq!(classify(&q), Incoming::Query { versions: expected });
            assert!(q.contains("alice&lt;&amp;&gt;&quot;&#39;@example.org"));
            assert!(!q.contains("alice<"));
        }
        assert!(query_message(Versions::V2_V3, "a").starts_with("?OTRv23?\n"));
        assert!(query_message(v(false, true, false), "a").starts_with("?OTRv2?\n"));
        assert!(query_message(v(false, false, true), "a").starts_with("?OTRv3?\n"));
        assert_eq!(query_tag(Versions::default()), "?OTRv?");
        // No commas, so a long query can still be fragmented.
        assert!(!query_message(Versions::V2_V3, "a").contains(','));
    }

    #[test]
    fn errors() {
        assert_eq!(
            classify("?OTR Error: You sent junk."),
            Incoming::Error {
                text: "You sent junk.".into()
            }
        );
        assert_eq!(
            classify("?OTR Error:  two"),
            Incoming::Error {
                text: " two".into()
            }
        );
        assert_eq!(
            classify("?OTR Error:x"),
            Incoming::Error { text: "x".into() }
        );
        assert_eq!(
            classify("?OTR Error:"),
            Incoming::Error {
                text: String::new()
            }
        );
        assert_eq!(
            classify("<p>?OTR Error: bad</p>"),
            Incoming::Error {
                text: "bad</p>".into()
            }
        );
        assert_eq!(classify("?OTR Error"), Incoming::Unknown);
        let e = error_message("Something broke");
        assert_eq!(e, "?OTR Error: Something broke");
        assert_eq!(
            classify(&e),
            Incoming::Error {
                text: "Something broke".into()
            }
        );
    }

    #[test]
    fn whitespace_tags() {
        let tag = whitespace_tag(Versions::V2_V3);
        assert_eq!(tag.len(), 32);
        let sent = tag_plaintext("hello", Versions::V2_V3);
        assert_eq!(
            classify(&sent),
            Incoming::Plaintext {
                text: "hello".into(),
                tag: Some(v(false, true, true))
            }
        );
        // Anywhere in the text; the rest kept.
        let mid = format!("one{TAG_BASE}{TAG_V1}{TAG_V3}two");
        assert_eq!(
            classify(&mid),
            Incoming::Plaintext {
                text: "onetwo".into(),
                tag: Some(v(true, false, true))
            }
        );
        // Unknown 8-byte whitespace groups are consumed but offer nothing.
        let odd = format!("a{TAG_BASE}        {TAG_V2}\t\t\t\t\t\t\t\tb");
        assert_eq!(
            classify(&odd),
            Incoming::Plaintext {
                text: "ab".into(),
                tag: Some(v(false, true, false))
            }
        );
        // Base only.
        assert_eq!(
            classify(&format!("x{TAG_BASE}")),
            Incoming::Plaintext {
                text: "x".into(),
                tag: Some(Versions::default())
            }
        );
        // A short trailing group is left in the text.
        let short = format!("{TAG_BASE}{TAG_V2}   ");
        assert_eq!(
            classify(&short),
            Incoming::Plaintext {
                text: "   ".into(),
                tag: Some(v(false, true, false))
            }
        );
        // Non-ASCII around the tag survives.
        let u = format!("héllo{}wörld", whitespace_tag(v(false, false, true)));
        assert_eq!(
            classify(&u),
            Incoming::Plaintext {
                text: "héllowörld".into(),
                tag: Some(v(false, false, true))
            }
        );
        // A `?OTR` anywhere wins over the tag (libotr checks the tag only without one).
        assert!(matches!(
            classify(&tag_plaintext("?OTRv3?", Versions::V2_V3)),
            Incoming::Query { .. }
        ));
        assert_eq!(whitespace_tag(Versions::default()), "");
        assert_eq!(whitespace_tag(v(true, false, false)), "");
        assert_eq!(
            whitespace_tag(v(false, false, true)),
            format!("{TAG_BASE}{TAG_V3}")
        );
    }

    #[test]
    fn plain_text() {
        for text in ["", "hello", "<b>hi</b>", "OTR? no", "?OT R", "?otr?"] {
            assert_eq!(
                classify(text),
                Incoming::Plaintext {
                    text: text.into(),
                    tag: None
                }
            );
        }
    }

    #[test]
    fn fragments_are_detected_first_and_anywhere() {
        let Incoming::Fragment(p) = classify("?OTR|00000100|00000200,00001,00002,?OTR:AAMD,")
        else {
            panic!()
        };
        assert_eq!(
            (p.version, p.sender_instance, p.receiver_instance, p.k, p.n),
            (ProtocolVersion::V3, 0x100, 0x200, 1, 2)
        );
        assert_eq!(p.piece, "?OTR:AAMD");
        let Incoming::Fragment(p) = classify("<p>?OTR,1,3,abc,</p>") else {
            panic!()
        };
        assert_eq!(
            (p.version, p.k, p.n, p.piece.as_str()),
            (ProtocolVersion::V2, 1, 3, "abc")
        );
        // As in libotr, a fragment marker later in the text is still found.
        assert!(matches!(
            classify("?OTRv3? and ?OTR,1,1,x,"),
            Incoming::Fragment(_)
        ));
        for bad in [
            "?OTR,0,1,x,",
            "?OTR,1,2,,",
            "?OTR,1,2,x",
            "?OTR|100|100,2,1,x,",
            "?OTR,65536,1,x,",
            "?OTR|zz|0,1,1,x,",
        ] {
            assert_eq!(classify(bad), Incoming::MalformedFragment, "{bad:?}");
        }
        // Reassembled text never yields a fragment.
        assert_eq!(classify_reassembled("?OTR,1,1,x,"), Incoming::Unknown);
        assert_eq!(classify_reassembled("?OTR|100|0,1,1,x,"), Incoming::Unknown);
        assert_eq!(classify_reassembled("?OTR,0,1,x,"), Incoming::Unknown);
        assert_eq!(classify_reassembled(SPEC_DATA), classify(SPEC_DATA));
    }

    #[test]
    fn fragment_buffer_reset_rule() {
        assert!(classify("?OTRv3?").resets_fragment_buffer());
        assert!(classify(SPEC_DATA).resets_fragment_buffer());
        assert!(classify("?OTR Error: x").resets_fragment_buffer());
        assert!(classify("?OTR:AAEK.").resets_fragment_buffer());
        assert!(!classify("plain").resets_fragment_buffer());
        assert!(!classify("?OTR,1,2,x,").resets_fragment_buffer());
        assert!(!classify("?OTR,0,2,x,").resets_fragment_buffer());
    }

    #[test]
    fn versions_best_common() {
        assert_eq!(
            Versions::V2_V3.best_common(Versions::V2_V3),
            Some(ProtocolVersion::V3)
        );
        assert_eq!(
            v(false, true, false).best_common(Versions::V2_V3),
            Some(ProtocolVersion::V2)
        );
        assert_eq!(
            Versions::V2_V3.best_common(v(false, true, false)),
            Some(ProtocolVersion::V2)
        );
        assert_eq!(v(true, false, false).best_common(Versions::V2_V3), None);
        assert!(Versions::V2_V3.contains(ProtocolVersion::V3));
        assert!(!v(false, true, false).contains(ProtocolVersion::V3));
    }

    #[test]
    fn classify_never_panics_on_odd_input() {
        let seeds = [
            "?OTR", "?OTR:", "?OTR:AAM", "?OTR|", "?OTR,", "?OTR?", "?OTRv", TAG_BASE, "é", "=",
            ".", ",", "|",
        ];
        for a in seeds {
            for b in seeds {
                for c in seeds {
                    let s = format!("{a}{b}{c}");
                    let _ = classify(&s);
                    let _ = classify_reassembled(&s);
                }
            }
        }
    }
}
