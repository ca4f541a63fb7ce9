//! Bounded reassembly of incoming fragments (spec "Fragmentation").
//!
//! The wire forms (parsing a fragment, splitting a message) live in
//! [`crate::otr::wire::fragment`] and are re-exported here; deciding that a text
//! *is* a fragment is [`crate::otr::wire::envelope::classify`]'s job. A message obtained by
//! reassembly must be classified with
//! [`crate::otr::wire::envelope::classify_reassembled`], which never yields a fragment: a
//! fragment of a fragment is not reassembled again (spec 4.1.1: "you can't fragment a
//! fragment"; libotr classifies the reassembled text without its fragment check).

pub use crate::otr::wire::fragment::{split, FragmentPiece, SplitError};

/// Suggested reassembly cap: far above any real OTR message (a few KiB), far below anything
/// that could hurt the host.
pub const DEFAULT_REASSEMBLY_CAP: usize = 1 << 20;

/// Reassembly of one stream of fragments with libotr's rules (spec "Receiving Fragments"):
/// an illegal piece (k = 0, n = 0, k > n, empty) is dropped and changes nothing; k = 1 starts
/// over; `n == N && k == K + 1` (from the same origin) appends; anything else forgets the
/// stored fragment. Unlike libotr the stored text is capped: a piece that would take it past
/// the cap forgets everything, so a peer can make us hold at most `max_bytes`.
///
/// libotr keeps one buffer per instance context, and forgets it when an unfragmented OTR
/// message arrives (see [`crate::otr::wire::envelope::Incoming::resets_fragment_buffer`]);
/// the session should do both with this type.
#[derive(Clone, Debug)]
pub struct Reassembler {
    max_bytes: usize,
    buffer: String,
    /// (K, N) of the stored fragment; (0, 0) when nothing is stored.
    k: u16,
    n: u16,
    /// The first piece's origin, for the append check.
    origin: Option<FragmentPiece>,
}

impl Reassembler {
    /// A reassembler that never holds more than `max_bytes` of fragment text.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            buffer: String::new(),
            k: 0,
            n: 0,
            origin: None,
        }
    }

    /// Feed one fragment; returns the whole message when `piece` completes it.
    pub fn accept(&mut self, piece: FragmentPiece) -> Option<String> {
        if !piece.is_well_formed() {
            return None;
        }
        if piece.k == 1 {
            self.clear();
            if piece.piece.len() > self.max_bytes {
                return None;
            }
            self.buffer.push_str(&piece.piece);
            self.k = 1;
            self.n = piece.n;
            self.origin = Some(FragmentPiece {
                piece: String::new(),
                ..piece
            });
        } else if self.n > 0
            && piece.n == self.n
            && Some(piece.k) == self.k.checked_add(1)
            && self.origin.as_ref().is_some_and(|o| same_origin(o, &piece))
        {
            let fits = self
                .buffer
                .len()
                .checked_add(piece.piece.len())
                .is_some_and(|total| total <= self.max_bytes);
            if !fits {
                self.clear();
                return None;
            }
            self.buffer.push_str(&piece.piece);
            self.k = piece.k;
        } else {
            self.clear();
            return None;
        }
        if self.n > 0 && self.k == self.n {
            let done = core::mem::take(&mut self.buffer);
            self.clear();
            return Some(done);
        }
        None
    }

    /// Forget any stored fragment.
    pub fn clear(&mut self) {
        self.buffer = String::new();
        self.k = 0;
        self.n = 0;
        self.origin = None;
    }

    /// Bytes of fragment text currently held.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// The cap given to [`Reassembler::new`].
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

/// Whether two pieces claim the same origin (version and instance tags).
fn same_origin(a: &FragmentPiece, b: &FragmentPiece) -> bool {
    a.version == b.version
        && a.sender_instance == b.sender_instance
        && a.receiver_instance == b.receiver_instance
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(DEFAULT_REASSEMBLY_CAP)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::otr::wire::envelope::{classify, classify_reassembled, Incoming};
    use crate::otr::wire::messages::ProtocolVersion;
    use ProtocolVersion::{V2, V3};

    const SPEC_MESSAGE: &str = "?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8vjPEWAJ6gBXvZrY6ZQrx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjScajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAAAAAEAAAAHwNiIi5Ms+4PsY/L2ipkTtquknfx6HodLvk3RAAAAAA==.";

    const SPEC_FRAGMENTS: [&str; 3] = [
        "?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8v,",
        "?OTR|5a73a599|27e31597,00002,00003,jPEWAJ6gBXvZrY6ZQrx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjScajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAAAAAEAAAAHwNiIi5Ms+4PsY/L2i,",
        "?OTR|5a73a599|27e31597,00003,00003,pkTtquknfx6HodLvk3RAAAAAA==.,",
    ];

    fn piece(version: ProtocolVersion, k: u16, n: u16, text: &str) -> FragmentPiece {
        let (s, r) = if version == V3 {
            (0x1111_1111, 0x2222_2222)
        } else {
            (0, 0)
        };
        FragmentPiece {
            version,
            sender_instance: s,
            receiver_instance: r,
            k,
            n,
            piece: text.to_owned(),
        }
    }

    fn fragment_of(text: &str) -> FragmentPiece {
        match classify(text) {
            Incoming::Fragment(p) => p,
            other => panic!("{text:?} classified as {other:?}"),
        }
    }

    #[test]
    fn reassembles_the_spec_example() {
        let mut r = Reassembler::default();
        let pieces: Vec<_> = SPEC_FRAGMENTS.iter().map(|f| fragment_of(f)).collect();
        assert_eq!(pieces[0].version, V3);
        assert_eq!(pieces[0].sender_instance, 0x5a73_a599);
        assert_eq!(pieces[0].receiver_instance, 0x27e3_1597);
        assert_eq!((pieces[2].k, pieces[2].n), (3, 3));
        assert_eq!(r.accept(pieces[0].clone()), None);
        assert_eq!(r.accept(pieces[1].clone()), None);
        assert!(r.pending_bytes() > 0);
        assert_eq!(r.accept(pieces[2].clone()).as_deref(), Some(SPEC_MESSAGE));
        assert_eq!(r.pending_bytes(), 0);
    }

    /// The v2 spec's example: three v2 fragments (no leading zeros) of a v1 data message.
    #[test]
    fn reassembles_the_v2_spec_example() {
        let frags = [
            "?OTR,1,3,?OTR:AAEDAAAAAQAAAAEAAADAVf3Ei72ZgFeKqWvLMnuVPVCwxktsOZ1QdjeLp6jn62mCVtlY9nS6sRkecpjuLYHRxyTdRu2iEVtSsjZqK55ovZ35SfkOPHeFYa9BIuxWi9djHMVKQ8KOVGAVLibjZ6P8LreDSKtWDv9YQjIEnkwFVGCPfpBq2SX4VTQfJAQXHggR8izKxPvluXUdG9rIPh4cac98++VLdIuFMiEXjUIoTX2rEzunaCLMy0VIfowlRsgsKGrwhCCv7hBWyglbzwz+AAAAAAAAAAQAAAF2SOr,",
            "?OTR,2,3,JvPUerB9mtf4bqQDFthfoz/XepysnYuReHHEXKe+BFkaEoMNGiBl4TCLZx72DvmZwKCewWRH1+W66ggrXKw2VdVl+vLsmzxNyWChGLfBTL5/3SUF09BfmCEl03Ckk7htAgyAQcBf90RJznZndv7HwVAi3syupi0sQDdOKNPyObR5FRtqyqudttWmSdmGCGFcZ/fZqxQNsHB8QuYaBiGL7CDusES+wwfn8Q7BGtoJzOPDDx6KyIyox/flPx2DZDJIZrMz9b0V70a9kqKLo/wcGhvHO6coCyMxenBAacLJ1DiI,",
            "?OTR,3,3,NLKoYOoJTM7zcxsGnvCxaDZCvsmjx3j8Yc5r3i3ylllCQH2/lpr/xCvXFarGtG7+wts+UqstS9SThLBQ9Ojq4oPsX7HBHKvq19XU3/ChIgWMy+bczc5gpkC/eLAIGfJ0D5DJsl68vMXSmCoFK0HTwzzNa7lnZK4IutYPBNBCv0pWORQqDpskEz96YOGyB8+gtpFgCrkuV1bSB9SRVmEBfDtKPQFhKowAAAAA=.,",
        ];
        let mut r = Reassembler::default();
        let mut out = None;
        for f in frags {
            let p = fragment_of(f);
            assert_eq!(p.version, V2);
            out = r.accept(p);
        }
        let whole = out.unwrap();
        assert!(
            whole.starts_with("?OTR:AAEDAAAAAQAAAAEAAADAVf3Ei72Z") && whole.ends_with("KowAAAAA=.")
        );
        assert_eq!(
            whole.len(),
            frags.iter().map(|f| f.len() - 10).sum::<usize>()
        );
        // A v1 message: not for us.
        assert_eq!(classify_reassembled(&whole), Incoming::Unknown);
    }

    #[test]
    fn split_reproduces_libotr_layout() {
        let frags = split(SPEC_MESSAGE, 200, V3, 0x5a73_a599, 0x27e3_1597).unwrap();
        // 163 bytes of message per fragment, like libotr with mms = 200.
        assert_eq!(frags.len(), SPEC_MESSAGE.len().div_ceil(163));
        for f in &frags {
            assert!(f.len() <= 199, "{} bytes", f.len());
        }
        assert!(frags[0].starts_with("?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMD"));
        assert_eq!(frags[0].len(), 36 + 163);
        let mut r = Reassembler::default();
        let out: Vec<_> = frags.iter().map(|f| r.accept(fragment_of(f))).collect();
        assert_eq!(out.last().unwrap().as_deref(), Some(SPEC_MESSAGE));
        assert!(out[..out.len() - 1].iter().all(Option::is_none));
    }

    #[test]
    fn split_v2_layout() {
        let msg = "?OTR:".to_owned() + &"A".repeat(95) + ".";
        let frags = split(&msg, 50, V2, 7, 9).unwrap();
        assert_eq!(frags.len(), 101usize.div_ceil(31));
        assert_eq!(frags[0], format!("?OTR,00001,00004,{},", &msg[..31]));
        assert!(frags.iter().all(|f| f.len() <= 49));
        let mut r = Reassembler::default();
        let mut done = None;
        for f in &frags {
            let p = fragment_of(f);
            assert_eq!(
                (p.version, p.sender_instance, p.receiver_instance),
                (V2, 0, 0)
            );
            done = r.accept(p);
        }
        assert_eq!(done, Some(msg));
    }

    #[test]
    fn no_split_when_it_fits() {
        assert_eq!(split("abc", 3, V3, 1, 2), Ok(vec!["abc".to_owned()]));
        assert_eq!(split("", 0, V2, 0, 0), Ok(vec![String::new()]));
    }

    #[test]
    fn twenty_kb_at_1000_bytes_both_versions() {
        let body: String = (0..20_000)
            .map(|i| char::from(b'A' + (i % 26) as u8))
            .collect();
        let msg = format!("?OTR:{body}.");
        for (version, allowance) in [(V3, 37), (V2, 19)] {
            let frags = split(&msg, 1000, version, 0x100, 0x200).unwrap();
            assert_eq!(frags.len(), msg.len().div_ceil(1000 - allowance));
            assert!(frags.iter().all(|f| f.len() <= 1000));
            let mut r = Reassembler::default();
            let mut result = None;
            for (i, f) in frags.iter().enumerate() {
                assert!(result.is_none(), "completed early at {i}");
                result = r.accept(fragment_of(f));
            }
            assert_eq!(result.as_deref(), Some(msg.as_str()));
        }
    }

    #[test]
    fn split_limits() {
        assert_eq!(
            split(&"x".repeat(100), 37, V3, 0, 0),
            Err(SplitError::MaxSizeTooSmall)
        );
        assert_eq!(
            split(&"x".repeat(100), 19, V2, 0, 0),
            Err(SplitError::MaxSizeTooSmall)
        );
        assert_eq!(
            split(&"x".repeat(100), 5, V2, 0, 0),
            Err(SplitError::MaxSizeTooSmall)
        );
        // One byte per piece: 65535 pieces is the most.
        let ok = "x".repeat(65_535);
        let frags = split(&ok, 20, V2, 0, 0).unwrap();
        assert_eq!(frags.len(), 65_535);
        assert_eq!(frags[65_534], "?OTR,65535,65535,x,");
        assert_eq!(
            split(&"x".repeat(65_536), 20, V2, 0, 0),
            Err(SplitError::TooManyPieces)
        );
        assert_eq!(
            split(&"x".repeat(1 << 30), 38, V3, 0, 0),
            Err(SplitError::TooManyPieces)
        );
        assert_eq!(
            split("a,b,c,d,e,f,g,h,i,j,k,l", 21, V2, 0, 0),
            Err(SplitError::Unsplittable)
        );
    }

    #[test]
    fn split_respects_char_boundaries() {
        let msg = "é".repeat(30); // 60 bytes
        let frags = split(&msg, 24, V2, 0, 0).unwrap(); // 5-byte pieces → 2 chars each
        assert_eq!(frags.len(), 15);
        assert!(frags.iter().all(|f| f.len() <= 24));
        let mut r = Reassembler::default();
        let out = frags.iter().filter_map(|f| r.accept(fragment_of(f))).next();
        assert_eq!(out, Some(msg));
        // A piece of 1 byte cannot carry a 2-byte character.
        assert_eq!(
            split(&"é".repeat(11), 1 + 19, V2, 0, 0),
            Err(SplitError::Unsplittable)
        );
    }

    #[test]
    fn parse_accepts_leading_zeros_and_ignores_trailing_text() {
        let p = FragmentPiece::parse("?OTR|00000100|0,0000001,000002,abc,tail text").unwrap();
        assert_eq!(
            (p.sender_instance, p.receiver_instance, p.k, p.n),
            (0x100, 0, 1, 2)
        );
        assert_eq!(p.piece, "abc");
        let p = FragmentPiece::parse("?OTR|ABCDEF01|ffffffff,1,1,x,").unwrap();
        assert_eq!(
            (p.sender_instance, p.receiver_instance),
            (0xabcd_ef01, u32::MAX)
        );
        let p = FragmentPiece::parse("?OTR,65535,65535,z,").unwrap();
        assert_eq!((p.k, p.n), (65_535, 65_535));
        // Tags < 0x100 and receiver 0 still parse: the session decides.
        let p = FragmentPiece::parse("?OTR|1|0,1,1,x,").unwrap();
        assert_eq!((p.sender_instance, p.receiver_instance), (1, 0));
    }

    #[test]
    fn parse_rejects_hard_cases() {
        for bad in [
            "?OTR,0,1,x,",         // k = 0
            "?OTR,1,0,x,",         // n = 0
            "?OTR,3,2,x,",         // k > n
            "?OTR,00000,00000,x,", //
            "?OTR,a,2,x,",         // non-numeric
            "?OTR,1,2b,x,",        //
            "?OTR,-1,2,x,",        // signs (sscanf would take them)
            "?OTR,+1,2,x,",        //
            "?OTR, 1,2,x,",        // whitespace
            "?OTR,,2,x,",          // empty number
            "?OTR,65536,65537,x,", // overlong: %hu would wrap to 0,1
            "?OTR,1,65537,x,",     // would wrap to n = 1
            "?OTR,1,99999999999999999999,x,",
            "?OTR,1,2,,",                // empty piece
            "?OTR,1,2,x",                // missing trailing comma
            "?OTR,1,2",                  //
            "?OTR|100|100,1,2,x",        // v3 missing trailing comma
            "?OTR|100|100,1,2,,",        // v3 empty piece
            "?OTR|100,1,2,x,",           // v3 missing a tag
            "?OTR|100|,1,2,x,",          // v3 empty tag
            "?OTR||100,1,2,x,",          //
            "?OTR|1g0|100,1,2,x,",       // non-hex
            "?OTR|0x100|100,1,2,x,",     // prefix
            "?OTR|100000000|100,1,1,x,", // tag overflows u32
            "?OTR|100|100,0,1,x,",       // v3 k = 0
            "?OTR|100|100,2,1,x,",       // v3 k > n
            "?OTR|100|100,1,70000,x,",   // v3 overlong n
            "?OTR:AAMD,1,1,x,",          // not a fragment at all
        ] {
            assert_eq!(FragmentPiece::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reassembly_rules() {
        let mut r = Reassembler::default();
        // Out of order: second piece first → nothing stored.
        assert_eq!(r.accept(piece(V3, 2, 3, "b")), None);
        assert_eq!(r.pending_bytes(), 0);
        // k = 1 restarts even mid-stream.
        r.accept(piece(V3, 1, 3, "a"));
        r.accept(piece(V3, 2, 3, "b"));
        assert_eq!(r.accept(piece(V3, 1, 3, "A")), None);
        assert_eq!(r.pending_bytes(), 1);
        assert_eq!(r.accept(piece(V3, 2, 3, "B")), None);
        assert_eq!(r.accept(piece(V3, 3, 3, "C")).as_deref(), Some("ABC"));
        // Changed n resets.
        r.accept(piece(V3, 1, 3, "a"));
        assert_eq!(r.accept(piece(V3, 2, 4, "b")), None);
        assert_eq!(r.pending_bytes(), 0);
        assert_eq!(r.accept(piece(V3, 3, 3, "c")), None);
        // Repeated k resets.
        r.accept(piece(V3, 1, 3, "a"));
        r.accept(piece(V3, 2, 3, "b"));
        assert_eq!(r.accept(piece(V3, 2, 3, "b")), None);
        assert_eq!(r.pending_bytes(), 0);
        // Skipped k resets.
        r.accept(piece(V3, 1, 4, "a"));
        assert_eq!(r.accept(piece(V3, 3, 4, "c")), None);
        assert_eq!(r.pending_bytes(), 0);
        // Single-piece message completes at once.
        assert_eq!(r.accept(piece(V2, 1, 1, "whole")).as_deref(), Some("whole"));
    }

    #[test]
    fn illegal_pieces_change_nothing() {
        let mut r = Reassembler::default();
        r.accept(piece(V3, 1, 3, "a"));
        for bad in [
            piece(V3, 0, 3, "x"),
            piece(V3, 2, 0, "x"),
            piece(V3, 4, 3, "x"),
            piece(V3, 2, 3, ""),
        ] {
            assert_eq!(r.accept(bad), None);
            assert_eq!(r.pending_bytes(), 1);
        }
        r.accept(piece(V3, 2, 3, "b"));
        assert_eq!(r.accept(piece(V3, 3, 3, "c")).as_deref(), Some("abc"));
    }

    #[test]
    fn interleaved_streams_do_not_mix() {
        // Two instances (or a v2 and a v3 sender) interleaving: a piece from another origin
        // never extends the stored message.
        let mut r = Reassembler::default();
        let mut other = piece(V3, 2, 2, "evil");
        other.sender_instance = 0x3333_3333;
        r.accept(piece(V3, 1, 2, "good"));
        assert_eq!(r.accept(other), None);
        assert_eq!(r.pending_bytes(), 0);
        r.accept(piece(V3, 1, 2, "good"));
        assert_eq!(r.accept(piece(V2, 2, 2, "evil")), None);
        r.accept(piece(V3, 1, 2, "good"));
        let mut retagged = piece(V3, 2, 2, "evil");
        retagged.receiver_instance = 0;
        assert_eq!(r.accept(retagged), None);
    }

    #[test]
    fn fragment_of_a_fragment_is_not_reassembled_again() {
        // Pieces end at commas, so reassembled text has none and can never be a complete
        // fragment; it can still start like one. It must not be treated as a fragment again.
        let mut r = Reassembler::default();
        // (A piece cannot contain `?OTR|` itself: classify would take that for a v3 fragment,
        // as libotr does.)
        let outer = [
            "?OTR,1,2,?OTR,",
            "?OTR,2,2,|5a73a599|27e31597|00001|00001|x,",
        ];
        let whole = outer
            .iter()
            .filter_map(|f| r.accept(fragment_of(f)))
            .next()
            .unwrap();
        assert_eq!(whole, "?OTR|5a73a599|27e31597|00001|00001|x");
        assert_eq!(classify(&whole), Incoming::MalformedFragment);
        assert_eq!(classify_reassembled(&whole), Incoming::Unknown);
        // And split refuses to wrap a fragment (it has commas) rather than garble it.
        let inner = format!("?OTR,1,1,{},", "A".repeat(100));
        assert_eq!(split(&inner, 30, V2, 0, 0), Err(SplitError::Unsplittable));
    }

    #[test]
    fn cap_bounds_endless_fragments() {
        let cap = 64 * 1024;
        let mut r = Reassembler::new(cap);
        let chunk = "A".repeat(1000);
        let mut max_seen = 0;
        // A peer streaming k = 1..=65535 of n = 65535: 64 MiB if unbounded.
        for k in 1..=u16::MAX {
            let out = r.accept(piece(V3, k, u16::MAX, &chunk));
            assert_eq!(out, None);
            max_seen = max_seen.max(r.pending_bytes());
            assert!(r.pending_bytes() <= cap);
        }
        assert!(
            max_seen > cap - 1000,
            "the cap, not something else, limited growth"
        );
        // Restarting with k = 1 over and over never accumulates either.
        for _ in 0..1000 {
            r.accept(piece(V3, 1, 2, &chunk));
            assert!(r.pending_bytes() <= 1000);
        }
        // A single piece above the cap is not stored.
        let mut small = Reassembler::new(10);
        assert_eq!(small.accept(piece(V2, 1, 1, &"x".repeat(11))), None);
        assert_eq!(small.pending_bytes(), 0);
        assert_eq!(
            small.accept(piece(V2, 1, 1, &"x".repeat(10))),
            Some("x".repeat(10))
        );
        // Exactly reaching the cap is fine; one byte more resets.
        small.accept(piece(V2, 1, 3, "xxxxx"));
        small.accept(piece(V2, 2, 3, "xxxxx"));
        assert_eq!(small.pending_bytes(), 10);
        assert_eq!(small.accept(piece(V2, 3, 3, "x")), None);
        assert_eq!(small.pending_bytes(), 0);
    }

    #[test]
    fn clear_forgets() {
        let mut r = Reassembler::new(100);
        r.accept(piece(V2, 1, 2, "a"));
        r.clear();
        assert_eq!(r.pending_bytes(), 0);
        assert_eq!(r.accept(piece(V2, 2, 2, "b")), None);
        assert_eq!(r.max_bytes(), 100);
    }
}
