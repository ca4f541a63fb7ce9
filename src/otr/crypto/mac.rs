//! Hashes and MACs: SHA-1 and SHA-256, HMAC over both, and the truncated HMAC-SHA256-160 the
//! AKE uses (spec: "MAC_{m2}(...)" is HMAC-SHA256 keyed with m2 and truncated to 160 bits).
//!
//! MACs a peer sends are checked with [`verify`], which takes the same time whatever bytes
//! differ.
//!
//! The hash states here are our own, over the `sha1`/`sha2` crates' block compression
//! functions, so that every state derived from a secret (a KDF input, an HMAC key's keyed
//! inner and outer states, a per-message copy of them) is wiped when dropped: the hash crates
//! of the generation Debian 13 ships (sha1/sha2 0.10, hmac 0.12) have no `zeroize` feature.

use std::fmt;

use sha1::digest::generic_array::GenericArray;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Bytes in a SHA-1 or SHA-256 block (and so in an HMAC pad).
const BLOCK: usize = 64;

/// The chaining state of one hash function and its compression function.
trait State: Copy + Zeroize {
    /// The initial state (FIPS 180-4).
    const IV: Self;
    /// Length of the digest: the state, big-endian.
    const OUT: usize;
    fn compress(&mut self, block: &[u8; BLOCK]);
    fn words(&self) -> &[u32];
}

impl State for [u32; 5] {
    const IV: Self = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    const OUT: usize = 20;
    fn compress(&mut self, block: &[u8; BLOCK]) {
        sha1::compress(self, core::slice::from_ref(GenericArray::from_slice(block)));
    }
    fn words(&self) -> &[u32] {
        self
    }
}

impl State for [u32; 8] {
    const IV: Self = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    const OUT: usize = 32;
    fn compress(&mut self, block: &[u8; BLOCK]) {
        sha2::compress256(self, core::slice::from_ref(GenericArray::from_slice(block)));
    }
    fn words(&self) -> &[u32] {
        self
    }
}

type Sha1State = [u32; 5];
type Sha256State = [u32; 8];

/// A running SHA-1 or SHA-256 (Merkle-Damgard: 64-byte blocks, a 0x80 byte, zeros and the
/// 64-bit big-endian bit count as padding). Wiped on drop, buffered input included.
#[derive(Clone)]
struct Hasher<S: State> {
    state: S,
    buffer: [u8; BLOCK],
    buffered: usize,
    /// Bytes hashed so far.
    length: u64,
}

impl<S: State> Hasher<S> {
    fn new() -> Self {
        Hasher {
            state: S::IV,
            buffer: [0; BLOCK],
            buffered: 0,
            length: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let take = (BLOCK - self.buffered).min(data.len());
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < BLOCK {
                return;
            }
            self.state.compress(&self.buffer);
            self.buffered = 0;
        }
        let mut blocks = data.chunks_exact(BLOCK);
        for block in &mut blocks {
            // Always a whole block; borrowed, not copied (the data may be secret).
            if let Ok(block) = <&[u8; BLOCK]>::try_from(block) {
                self.state.compress(block);
            }
        }
        let rest = blocks.remainder();
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// Writes the digest into `out` (`S::OUT` bytes).
    fn finish_into(mut self, out: &mut [u8]) {
        let bits = self.length.wrapping_mul(8);
        // 0x80, then zeros up to 8 bytes short of a block boundary.
        let zeros = (BLOCK + BLOCK - 9 - self.buffered) % BLOCK;
        let mut pad = [0u8; BLOCK];
        pad[0] = 0x80;
        self.update(&pad[..1 + zeros]);
        self.update(&bits.to_be_bytes());
        debug_assert_eq!(self.buffered, 0);
        for (o, w) in out[..S::OUT].chunks_exact_mut(4).zip(self.state.words()) {
            o.copy_from_slice(&w.to_be_bytes());
        }
    }
}

impl<S: State> Drop for Hasher<S> {
    fn drop(&mut self) {
        self.state.zeroize();
        self.buffer.zeroize();
        self.buffered.zeroize();
        self.length.zeroize();
    }
}

/// HMAC (RFC 2104) over [`Hasher`]: the inner and outer states keyed once, wiped on drop.
#[derive(Clone)]
struct Hmac<S: State> {
    inner: Hasher<S>,
    outer: Hasher<S>,
}

impl<S: State> Hmac<S> {
    fn new(key: &[u8]) -> Self {
        // Keys longer than a block are hashed first; shorter ones are padded with zeros.
        let mut block = Zeroizing::new([0u8; BLOCK]);
        if key.len() > BLOCK {
            let mut h = Hasher::<S>::new();
            h.update(key);
            h.finish_into(&mut block[..]);
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut pad = Zeroizing::new([0u8; BLOCK]);
        let mut keyed = |byte: u8| {
            for (p, k) in pad.iter_mut().zip(block.iter()) {
                *p = k ^ byte;
            }
            let mut h = Hasher::<S>::new();
            h.update(&pad[..]);
            h
        };
        let inner = keyed(0x36);
        let outer = keyed(0x5c);
        Hmac { inner, outer }
    }

    fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    fn finish_into(self, out: &mut [u8]) {
        let Hmac { inner, mut outer } = self;
        let mut inner_hash = Zeroizing::new([0u8; 32]);
        inner.finish_into(&mut inner_hash[..]);
        outer.update(&inner_hash[..S::OUT]);
        outer.finish_into(out);
    }
}

/// SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    sha1_parts(&[data])
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha256_parts(&[data])
}

/// SHA-256 of the concatenation of `parts`, without building the concatenation (so secret
/// inputs are not copied into a temporary buffer).
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Hasher::<Sha256State>::new();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 32];
    h.finish_into(&mut out);
    out
}

/// SHA-1 of the concatenation of `parts`.
pub fn sha1_parts(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Hasher::<Sha1State>::new();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 20];
    h.finish_into(&mut out);
    out
}

/// HMAC-SHA1 (the data-message MAC).
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    HmacSha1Key::new(key).compute(data)
}

/// An HMAC-SHA1 key with its inner and outer hash states already keyed, for a key that
/// authenticates many messages (one data-message key pair): each MAC then costs only the
/// message's own SHA-1 blocks, as with libotr's per-pair MAC handles. The keyed states are
/// wiped on drop, and so is each per-message copy.
#[derive(Clone)]
pub struct HmacSha1Key {
    keyed: Hmac<Sha1State>,
}

impl HmacSha1Key {
    /// Keys the HMAC once.
    pub fn new(key: &[u8]) -> Self {
        HmacSha1Key {
            keyed: Hmac::new(key),
        }
    }

    /// The MAC of the concatenation of `parts`.
    pub fn compute_parts(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
        }
        let mut out = [0u8; 20];
        mac.finish_into(&mut out);
        out
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
    let mut mac = Hmac::<Sha256State>::new(key);
    mac.update(data);
    let mut out = [0u8; 32];
    mac.finish_into(&mut out);
    out
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

    /// Our hash states over the crates' compression functions agree with the crates' own
    /// hashers for every length around the padding's block boundaries, however the input is
    /// split.
    #[test]
    fn hashers_match_the_crates_at_every_boundary() {
        use sha2::Digest;
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            let m = &data[..len];
            let want1: [u8; 20] = sha1::Sha1::digest(m).into();
            let want256: [u8; 32] = sha2::Sha256::digest(m).into();
            assert_eq!(sha1(m), want1, "sha1 length {len}");
            assert_eq!(sha256(m), want256, "sha256 length {len}");
            let cut = len / 3;
            assert_eq!(sha1_parts(&[&m[..cut], &m[cut..]]), want1);
            assert_eq!(sha256_parts(&[&m[..cut], b"", &m[cut..]]), want256);
        }
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
        // Case 6: a key longer than the block size is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
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
