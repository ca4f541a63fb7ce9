//! Key derivation from a Diffie-Hellman shared secret `s` (spec: "Computing AES keys, MAC
//! keys, and the secure session id" and "Extra symmetric key"; libotr dh.c).
//!
//! Both derivations start from `secbytes`, the minimal-length MPI encoding of `s` (4-byte
//! big-endian length, then the magnitude without leading zeros). The AKE hashes it with
//! SHA-256 (`h2`), the data phase with SHA-1 (`h1`).

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::mac::{sha1, sha1_parts, sha256_parts};
use super::modp::{self, Int};

/// The seven values the AKE derives from its shared secret.
///
/// `c`, `m1`, `m2` protect the Reveal Signature message; `c_prime`, `m1_prime`, `m2_prime`
/// the Signature message.
#[derive(Zeroize, ZeroizeOnDrop)]
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub struct AkeKeys {
    /// Secure session id: the first 64 bits of h2(0x00).
    pub ssid: [u8; 8],
    /// First 128 bits of h2(0x01).
    pub c: [u8; 16],
    /// Second 128 bits of h2(0x01).
    pub c_prime: [u8; 16],
    /// h2(0x02).
    pub m1: [u8; 32],
    /// h2(0x03).
    pub m2: [u8; 32],
    /// h2(0x04).
    pub m1_prime: [u8; 32],
    /// h2(0x05).
    pub m2_prime: [u8; 32],
}

impl fmt::Debug for AkeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AkeKeys { .. }")
    }
}

/// The keys protecting data messages exchanged under one pair of DH keys.
#[derive(Zeroize, ZeroizeOnDrop)]
#[cfg_attr(feature = "fuzzing", derive(Clone))]
pub struct SessionKeys {
    /// AES key for messages we send: the first 16 bytes of h1(sendbyte).
    pub send_aes: [u8; 16],
    /// HMAC-SHA1 key for messages we send: SHA-1 of `send_aes`.
    pub send_mac: [u8; 20],
    /// AES key for messages we receive: the first 16 bytes of h1(recvbyte).
    pub recv_aes: [u8; 16],
    /// HMAC-SHA1 key for messages we receive: SHA-1 of `recv_aes`.
    pub recv_mac: [u8; 20],
    /// The extra symmetric key, h2(0xFF) (OTR v3 only; harmless to compute for v2).
    pub extra_key: [u8; 32],
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKeys { .. }")
    }
}

/// `secbytes`: MPI(s) with a minimal magnitude, kept out of freed memory.
fn secbytes(s: &Int) -> Zeroizing<Vec<u8>> {
    let magnitude = modp::to_mpi_bytes_secret(s);
    // At most 192 bytes, so the length always fits the 4-byte prefix.
    let len = u32::try_from(magnitude.len()).unwrap_or(u32::MAX);
    let mut out = Zeroizing::new(Vec::with_capacity(4 + magnitude.len()));
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&magnitude);
    out
}

fn h2(b: u8, secbytes: &[u8]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(sha256_parts(&[&[b], secbytes]))
}

fn h1(b: u8, secbytes: &[u8]) -> Zeroizing<[u8; 20]> {
    Zeroizing::new(sha1_parts(&[&[b], secbytes]))
}

/// Derives the AKE's keys from the shared secret `s = g^(xy)`.
pub fn ake_keys(s: &Int) -> AkeKeys {
    let sb = secbytes(s);
    let mut keys = AkeKeys {
        ssid: [0; 8],
        c: [0; 16],
        c_prime: [0; 16],
        m1: *h2(0x02, &sb),
        m2: *h2(0x03, &sb),
        m1_prime: *h2(0x04, &sb),
        m2_prime: *h2(0x05, &sb),
    };
    keys.ssid.copy_from_slice(&h2(0x00, &sb)[..8]);
    let cc = h2(0x01, &sb);
    keys.c.copy_from_slice(&cc[..16]);
    keys.c_prime.copy_from_slice(&cc[16..]);
    keys
}

/// Derives the data-message keys for one (our key, their key) pair.
///
/// `our_pub` and `their_pub` are public, so comparing them in variable time leaks nothing;
/// the end whose public value is numerically greater is the "high" end and uses sendbyte
/// 0x01, recvbyte 0x02.
pub fn session_keys(our_pub: &Int, their_pub: &Int, s: &Int) -> SessionKeys {
    let (sendbyte, recvbyte) = if our_pub > their_pub {
        (0x01, 0x02)
    } else {
        (0x02, 0x01)
    };
    let sb = secbytes(s);
    let mut keys = SessionKeys {
        send_aes: [0; 16],
        send_mac: [0; 20],
        recv_aes: [0; 16],
        recv_mac: [0; 20],
        extra_key: *h2(0xff, &sb),
    };
    keys.send_aes.copy_from_slice(&h1(sendbyte, &sb)[..16]);
    keys.recv_aes.copy_from_slice(&h1(recvbyte, &sb)[..16]);
    keys.send_mac = sha1(&keys.send_aes);
    keys.recv_mac = sha1(&keys.recv_aes);
    keys
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn int(s: &str) -> Int {
        modp::from_be_bytes(&unhex(s)).unwrap()
    }

    // Public test data from coyim/otr3 (fixtures_test.go, ake_test.go,
    // key_management_test.go); the session keys were cross-checked there against libotr's
    // otr_sesskeys tool.
    const FIXED_X: &str =
        "bbcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd";
    const FIXED_GX: &str = concat!(
        "075dfab5a1eab059052d0ad881c4938d52669630d61833a367155d67d03a457f619683d0fa829781e974fd24f6",
        "865e8128a9312a167b77326a87dea032fc31784d05b18b9cbafebe162ae9b5369f8b0c5911cf1be757f45f2a67",
        "4be5126a714a6366c28086b3c7088911dcc4e5fb1481ad70a5237b8e4a6aff4954c2ca6df338b9f08691e4c0de",
        "fe12689b37d4df30ddef2687f789fcf623c5d0cf6f09b7e5e69f481d5fd1b24a77636fb676e6d733d129eb93e8",
        "1189340233044766a36eb07d",
    );
    const FIXED_GY: &str = concat!(
        "2cdacabb00e63d8949aa85f7e6a095b1ee81a60779e58f8938ff1a7ed1e651d954bd739162e699cc73b82072",
        "8af53aae60a46d529620792ddf839c5d03d2d4e92137a535b27500e3b3d34d59d0cd460d1f386b5eb46a7404",
        "b15c1ef84840697d2d3d2405dcdda351014d24a8717f7b9c51f6c84de365fea634737ae18ba22253a8e15249",
        "d9beb2dded640c6c0d74e4f7e19161cf828ce3ffa9d425fb68c0fddcaa7cbe81a7a5c2c595cce69a255059d9",
        "e5c04b49fb15901c087e225da850ff27",
    );
    const SHARED_SECRET: &str = concat!(
        "b15e9eb80f16f4beabcf7ac44c06f0b69b9f890a86a11b6cc2fd29e0f7cd15d9af7c052c4c55dfce929783e3",
        "39ef094eedcfcaeb9edf896b7e201d46f16ba42dbec0a9738daa37c47a598849735b8b9ac8c98578431f8c7a",
        "6a54944ec6d830cb0ffcdf31d39cb8414bd3ddae0c483daf4e80a5990f7618edf648e68935126639d1752f49",
        "b2b8a83b170f39dd7d2a2c4ab99cb28684df2c6ee1feff9d171c25059eb6920bdf4cdab2fc0aed4aafeb66a5",
        "1e938db8ca80881ad219413ecf7e0257",
    );

    #[test]
    fn fixtures_are_consistent() {
        // The vectors below only mean something if the fixtures are a real DH exchange.
        let x = int(FIXED_X);
        assert_eq!(
            modp::pow_g_secret(&x, modp::DH_EXPONENT_BITS),
            int(FIXED_GX)
        );
        assert_eq!(
            modp::pow_secret(&int(FIXED_GY), &x, modp::DH_EXPONENT_BITS),
            int(SHARED_SECRET)
        );
    }

    #[test]
    fn ake_keys_match_otr3() {
        let k = ake_keys(&int(SHARED_SECRET));
        assert_eq!(k.ssid.to_vec(), unhex("9cee5d2c7edbc86d"));
        assert_eq!(k.c.to_vec(), unhex("5745340b350364a02a0ac1467a318dcc"));
        assert_eq!(
            k.c_prime.to_vec(),
            unhex("d942cc80b66503414c05e3752d9ba5c4")
        );
        assert_eq!(
            k.m1.to_vec(),
            unhex("d3251498fb9d977d07392a96eafb8c048d6bc67064bd7da72aa38f20f87a2e3d")
        );
        assert_eq!(
            k.m2.to_vec(),
            unhex("79c101a78a6c5819547a36b4813c84a8ac553d27a5d4b58be45dd0f3a67d3ca6")
        );
        assert_eq!(
            k.m1_prime.to_vec(),
            unhex("b6254b8eab0ad98152949454d23c8c9b08e4e9cf423b27edc09b1975a76eb59c")
        );
        assert_eq!(
            k.m2_prime.to_vec(),
            unhex("954be27015eeb0455250144d906e83e7d329c49581aea634c4189a3c981184f5")
        );
    }

    #[test]
    fn session_keys_match_otr3_low_end() {
        // Our public value g^x (0x075d…) is below theirs (0x2cda…): we are the low end.
        let k = session_keys(&int(FIXED_GX), &int(FIXED_GY), &int(SHARED_SECRET));
        assert_eq!(
            k.send_aes.to_vec(),
            unhex("42e258bebf031acf442f52d6ef52d6f1")
        );
        assert_eq!(
            k.send_mac.to_vec(),
            unhex("a45e2b122f58bbe2042f73f092329ad9b5dfe23e")
        );
        assert_eq!(
            k.recv_aes.to_vec(),
            unhex("c778c71cb63161e8e06d245e77ff6430")
        );
        assert_eq!(
            k.recv_mac.to_vec(),
            unhex("03f8034b891b1e843db5bba9a41ec68a1f5f8bbf")
        );
        assert_eq!(
            k.extra_key.to_vec(),
            unhex("0e1810c7c62c3bace6450dcbef16af8a271b5ac93030b83e9d0d80e0641e3c18")
        );
    }

    #[test]
    fn high_end_swaps_directions() {
        let low = session_keys(&int(FIXED_GX), &int(FIXED_GY), &int(SHARED_SECRET));
        let high = session_keys(&int(FIXED_GY), &int(FIXED_GX), &int(SHARED_SECRET));
        assert_eq!(high.send_aes, low.recv_aes);
        assert_eq!(high.recv_aes, low.send_aes);
        assert_eq!(high.send_mac, low.recv_mac);
        assert_eq!(high.recv_mac, low.send_mac);
        assert_eq!(high.extra_key, low.extra_key);
        assert_ne!(low.send_aes, low.recv_aes);
    }

    #[test]
    fn secbytes_is_minimal_mpi() {
        assert_eq!(
            secbytes(&Int::from_u16(0x0102)).to_vec(),
            vec![0, 0, 0, 2, 1, 2]
        );
        assert_eq!(secbytes(&Int::ZERO).to_vec(), vec![0, 0, 0, 0]);
        // A leading-zero secret must hash differently from a padded encoding.
        let s = Int::from_u16(0x00ff);
        let k = ake_keys(&s);
        assert_eq!(k.m1, sha256_parts(&[&[0x02], &[0, 0, 0, 1, 0xff]]));
    }

    #[test]
    fn debug_hides_secrets() {
        let k = ake_keys(&int(SHARED_SECRET));
        assert_eq!(format!("{k:?}"), "AkeKeys { .. }");
        let s = session_keys(&Int::ONE, &Int::from_u8(2), &int(SHARED_SECRET));
        let shown = format!("{s:?}");
        assert!(!shown.contains("42") && shown.starts_with("SessionKeys"));
    }
}
