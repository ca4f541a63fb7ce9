//! Helpers shared by the engine's unit tests (hex and base64 fixtures). Deliberately
//! independent of the code under test: the armour here is the base64 crate itself, not the
//! envelope, so a test of the message codec does not lean on the envelope (and the module
//! graph keeps `wire::messages` below `wire::envelope`).
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Bytes from a hex string (even length, any case); panics on anything else.
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `?OTR:<base64>.` of `bytes`.
pub(crate) fn armor(bytes: &[u8]) -> String {
    format!("?OTR:{}.", STANDARD.encode(bytes))
}

/// The bytes inside `?OTR:<base64>.`; panics if `text` is not exactly that.
pub(crate) fn dearmor(text: &str) -> Vec<u8> {
    let body = text
        .strip_prefix("?OTR:")
        .and_then(|t| t.strip_suffix('.'))
        .expect("an ?OTR:...  message");
    STANDARD.decode(body).unwrap()
}

#[test]
fn helpers_round_trip() {
    assert_eq!(unhex("00ff10Ab"), vec![0, 0xff, 0x10, 0xab]);
    assert_eq!(hex(&[0, 0xff, 0x10, 0xab]), "00ff10ab");
    assert_eq!(armor(&[0, 3, 2]), "?OTR:AAMC.");
    assert_eq!(dearmor("?OTR:AAMC."), vec![0, 3, 2]);
}
