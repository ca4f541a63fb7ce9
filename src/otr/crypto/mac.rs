//! Hashes and MACs: SHA-1 and SHA-256, HMAC over both, and the truncated HMAC-SHA256-160 the
//! AKE uses (spec: "MAC_{m2}(...)" is HMAC-SHA256 keyed with m2 and truncated to 160 bits).
//!
//! MACs a peer sends are checked with [`verify`], which takes the same time whatever bytes
//! differ.

use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 of the concatenation of `parts`, without building the concatenation (so secret
/// inputs are not copied into a temporary buffer).
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// SHA-1 of the concatenation of `parts`.
pub fn sha1_parts(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC-SHA1 (the data-message MAC).
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    // HMAC is defined for keys of every length (longer ones are hashed), so this cannot fail.
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// An HMAC-SHA1 key with its inner and outer hash states already keyed, for a key that
/// authenticates many messages (one data-message key pair): each MAC then costs only the
/// message's own SHA-1 blocks, as with libotr's per-pair MAC handles. The keyed states are
/// wiped on drop (the `sha1` crate's `zeroize` feature), and so is each per-message copy.
#[derive(Clone)]
pub struct HmacSha1Key {
    keyed: Hmac<Sha1>,
}

impl HmacSha1Key {
    /// Keys the HMAC once.
    pub fn new(key: &[u8]) -> Self {
        HmacSha1Key {
            keyed: <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length"),
        }
    }

    /// The MAC of the concatenation of `parts`.
    pub fn compute_parts(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// The MAC of `data`.
    pub fn compute(&self, data: &[u8]) -> [u8; 20] {
        self.compute_parts(&[data])
    }

    /// Whether `tag` is the MAC of `data`, in time independent of where they differ.
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        verify(&self.compute(data), tag)
    }
}

impl fmt::Debug for HmacSha1Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacSha1Key { <secret> }")
    }
}

/// HMAC-SHA256.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 truncated to its first 160 bits: the AKE's `MAC_{m1}`/`MAC_{m2}` (spec:
/// "Authenticated Key Exchange", and libotr's auth.c which keeps the first 20 bytes).
pub fn hmac_sha256_160(key: &[u8], data: &[u8]) -> [u8; 20] {
    let full = hmac_sha256(key, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(&full[..20]);
    out
}

/// Constant-time equality of two MACs. Lengths are public, so a length mismatch returns
/// `false` at once; equal-length inputs take the same time whatever their contents.
pub fn verify(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha_known_answers() {
        // FIPS 180-2 appendix examples.
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_parts(&[b"a", b"", b"bc"]), sha256(b"abc"));
        assert_eq!(sha1_parts(&[b"ab", b"c"]), sha1(b"abc"));
    }

    #[test]
    fn hmac_sha1_rfc2202() {
        // Test cases 1, 2 and 6 (a key longer than the block size).
        assert_eq!(
            hex(&hmac_sha1(&[0x0b; 20], b"Hi There")),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        assert_eq!(
            hex(&hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex(&hmac_sha1(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    #[test]
    fn prepared_hmac_sha1_matches_one_shot() {
        // RFC 2202 case 2, then reuse of the same key on other data (the keyed state is
        // cloned per message, never consumed).
        let key = HmacSha1Key::new(b"Jefe");
        assert_eq!(
            hex(&key.compute(b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            key.compute_parts(&[b"what do ya ", b"", b"want for nothing?"]),
            key.compute(b"what do ya want for nothing?")
        );
        let long = [0x5a; 200];
        assert_eq!(key.compute(&long), hmac_sha1(b"Jefe", &long));
        assert_eq!(key.compute(b""), hmac_sha1(b"Jefe", b""));
        let big = HmacSha1Key::new(&[0xaa; 80]);
        let msg = b"Test Using Larger Than Block-Size Key - Hash Key First";
        assert_eq!(
            hex(&big.compute(msg)),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
        let mut tag = key.compute(b"m");
        assert!(key.verify(b"m", &tag));
        assert!(!key.verify(b"n", &tag));
        assert!(!key.verify(b"m", &tag[..19]));
        tag[0] ^= 0x80;
        assert!(!key.verify(b"m", &tag));
        assert_eq!(format!("{key:?}"), "HmacSha1Key { <secret> }");
    }

    #[test]
    fn hmac_sha256_rfc4231() {
        // Test cases 1 and 2; case 5 checks truncation (RFC 4231 truncates to 128 bits; our
        // 160-bit truncation is its prefix extended by 4 bytes of the full tag).
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let t = hmac_sha256_160(&[0x0c; 20], b"Test With Truncation");
        assert_eq!(hex(&t[..16]), "a3b6167473100ee06e0c796c2955552b");
        assert_eq!(
            t[..],
            hmac_sha256(&[0x0c; 20], b"Test With Truncation")[..20]
        );
    }

    #[test]
    fn verify_compares_contents_and_length() {
        let a = hmac_sha1(b"k", b"m");
        let mut b = a;
        assert!(verify(&a, &b));
        b[19] ^= 1;
        assert!(!verify(&a, &b));
        assert!(!verify(&a, &a[..19]));
        assert!(verify(&[], &[]));
    }
}
