//! The fragment wire forms (spec "Fragmentation"): v3 `?OTR|sender|receiver,k,n,piece,`
//! (tags in hex) and v2 `?OTR,k,n,piece,`. Parsing one fragment's text
//! ([`FragmentPiece::parse`]) and cutting a message into fragments ([`split`]); deciding that
//! a text *is* a fragment is [`super::envelope::classify`]'s job, and reassembly (state) is
//! [`crate::otr::fragment`]'s.

use super::messages::ProtocolVersion;

/// libotr's allowance for the v3 fragment header `?OTR|%08x|%08x,%05hu,%05hu,` plus the
/// trailing `,` and the terminating NUL of its C string. Using the same allowance makes our
/// fragment boundaries identical to libotr's (each fragment is `max_size - 1` bytes at most).
const V3_HEADER_ALLOWANCE: usize = 37;
/// The same for v2's `?OTR,%05hu,%05hu,`.
const V2_HEADER_ALLOWANCE: usize = 19;

/// One parsed fragment. `k`/`n` satisfy `0 < k <= n` and `piece` is non-empty when it comes
/// from [`FragmentPiece::parse`]. Instance tags are kept as received (v2: 0): whether a
/// fragment is for us is the session's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentPiece {
    /// v3 for `?OTR|`, v2 for `?OTR,`.
    pub version: ProtocolVersion,
    /// v3 sender instance tag (v2: 0).
    pub sender_instance: u32,
    /// v3 receiver instance tag (v2: 0).
    pub receiver_instance: u32,
    /// This fragment's number, from 1.
    pub k: u16,
    /// Total number of fragments.
    pub n: u16,
    /// The text carried.
    pub piece: String,
}

impl FragmentPiece {
    /// Parse a fragment that starts at the beginning of `text` (`?OTR|...` or `?OTR,...`);
    /// anything after the trailing comma is ignored, as libotr does.
    ///
    /// Stricter than libotr's `sscanf` where that one is lax (it wraps): k and n must be decimal
    /// digits whose value fits a u16 (`%hu` silently wraps), tags hex digits fitting a u32;
    /// leading zeros are fine. The piece runs to the next comma, must be non-empty, and the
    /// comma ending it is required. `0 < k <= n` is required.
    pub fn parse(text: &str) -> Option<Self> {
        let (version, sender_instance, receiver_instance, rest) =
            if let Some(rest) = text.strip_prefix("?OTR|") {
                let (sender, rest) = rest.split_once('|')?;
                let (receiver, rest) = rest.split_once(',')?;
                (
                    ProtocolVersion::V3,
                    parse_hex_u32(sender)?,
                    parse_hex_u32(receiver)?,
                    rest,
                )
            } else {
                let rest = text.strip_prefix("?OTR,")?;
                (ProtocolVersion::V2, 0, 0, rest)
            };
        let (k, rest) = rest.split_once(',')?;
        let (n, rest) = rest.split_once(',')?;
        let (piece, _after) = rest.split_once(',')?;
        let (k, n) = (parse_dec_u16(k)?, parse_dec_u16(n)?);
        let piece = Self {
            version,
            sender_instance,
            receiver_instance,
            k,
            n,
            piece: piece.to_owned(),
        };
        piece.is_well_formed().then_some(piece)
    }

    /// `0 < k <= n` and a non-empty piece: the spec's conditions for a legal fragment.
    pub fn is_well_formed(&self) -> bool {
        self.k > 0 && self.n > 0 && self.k <= self.n && !self.piece.is_empty()
    }
}

fn parse_hex_u32(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.chars().try_fold(0u32, |acc, c| {
        acc.checked_mul(16)?.checked_add(c.to_digit(16)?)
    })
}

fn parse_dec_u16(s: &str) -> Option<u16> {
    if s.is_empty() {
        return None;
    }
    s.chars().try_fold(0u16, |acc, c| {
        let d = u16::try_from(c.to_digit(10)?).ok()?;
        acc.checked_mul(10)?.checked_add(d)
    })
}

/// Why a message could not be fragmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitError {
    /// `max_size` leaves no room for a piece after the fragment header.
    MaxSizeTooSmall,
    /// More than 65535 fragments would be needed.
    TooManyPieces,
    /// The message contains a comma (it would end a piece early on the receiving side) or
    /// a character longer than a whole piece; encoded OTR messages never do.
    Unsplittable,
}

impl core::fmt::Display for SplitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::MaxSizeTooSmall => "maximum message size too small for a fragment header",
            Self::TooManyPieces => "message needs more than 65535 fragments",
            Self::Unsplittable => "message cannot be cut into fragments",
        })
    }
}

impl std::error::Error for SplitError {}

/// Cut `message` into fragments no longer than `max_size` bytes each, like libotr: nothing is
/// done when the message fits (`len <= max_size`); otherwise every piece but the last is
/// `max_size - 37` (v3) or `max_size - 19` (v2) bytes. Pieces end on character boundaries, so
/// a non-ASCII message may need more, shorter, pieces than libotr would use. For v2 the tags
/// are ignored.
pub fn split(
    message: &str,
    max_size: usize,
    version: ProtocolVersion,
    sender: u32,
    receiver: u32,
) -> Result<Vec<String>, SplitError> {
    if message.len() <= max_size {
        return Ok(vec![message.to_owned()]);
    }
    let allowance = match version {
        ProtocolVersion::V3 => V3_HEADER_ALLOWANCE,
        ProtocolVersion::V2 => V2_HEADER_ALLOWANCE,
    };
    let piece_len = max_size
        .checked_sub(allowance)
        .filter(|&l| l > 0)
        .ok_or(SplitError::MaxSizeTooSmall)?;
    // Reject hopeless cases before allocating anything.
    if message.len().div_ceil(piece_len) > usize::from(u16::MAX) {
        return Err(SplitError::TooManyPieces);
    }
    if message.contains(',') {
        return Err(SplitError::Unsplittable);
    }
    let mut pieces = Vec::new();
    let mut rest = message;
    while !rest.is_empty() {
        let mut cut = piece_len.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1; // terminates: 0 is a char boundary
        }
        if cut == 0 {
            return Err(SplitError::Unsplittable);
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    let n = u16::try_from(pieces.len()).map_err(|_| SplitError::TooManyPieces)?;
    let mut out = Vec::with_capacity(pieces.len());
    for (k, piece) in (1..=n).zip(pieces) {
        out.push(match version {
            ProtocolVersion::V3 => {
                format!("?OTR|{sender:08x}|{receiver:08x},{k:05},{n:05},{piece},")
            }
            ProtocolVersion::V2 => format!("?OTR,{k:05},{n:05},{piece},"),
        });
    }
    Ok(out)
}
