//! The wire format: binary message codec, the `?OTR` text envelope, TLVs.
//!
//! Layering: [`envelope`] turns IM text into one of the message kinds (query, error, encoded
//! bytes, fragment, plaintext), with a fragment's own syntax in [`fragment`]; [`messages`] parses the encoded bytes with the checked cursor in
//! [`reader`] and serialises with [`writer`]; [`tlv`] splits a decrypted data message's
//! plaintext. Nothing here decides what a message *means* for a session.

pub mod envelope;
pub mod fragment;
pub mod messages;
pub mod reader;
pub mod tlv;
pub mod writer;

use core::fmt;

/// Why bytes did not parse. Deliberately without strings: what the peer or the user is told
/// is chosen by the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended in the middle of a fixed-size field.
    Truncated,
    /// A complete message was followed by more bytes.
    TrailingBytes,
    /// A DATA/MPI length field claims more bytes than remain.
    LengthTooLarge,
    /// A protocol version we do not speak (v1 included).
    BadVersion(u16),
    /// A message type not defined for the version.
    BadMessageType(messages::MessageType),
    /// The `?OTR:` envelope's base64 could not be decoded.
    BadBase64,
    /// An instance tag that is structurally impossible where it appears.
    BadInstanceTag,
    /// A fixed-size field (e.g. a public-key type) holds a value we do not support.
    BadValue,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("message truncated"),
            Self::TrailingBytes => f.write_str("trailing bytes after message"),
            Self::LengthTooLarge => f.write_str("length field exceeds remaining bytes"),
            Self::BadVersion(v) => write!(f, "unsupported protocol version {v}"),
            Self::BadMessageType(t) => write!(f, "unknown message type {t}"),
            Self::BadBase64 => f.write_str("invalid base64 payload"),
            Self::BadInstanceTag => f.write_str("invalid instance tag"),
            Self::BadValue => f.write_str("unsupported field value"),
        }
    }
}

impl std::error::Error for DecodeError {}
