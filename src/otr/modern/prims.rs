//! The modern suite's primitives, and the only file here that names crypto crates or the
//! engine's hashes: X25519, ML-KEM-768, SHA-256, HMAC-SHA256, HKDF-SHA256 and AES-256-CTR.
//!
//! SHA-256 and HMAC-SHA256 are the engine's (`crypto::mac`, whose hash states are wiped on
//! drop); HKDF (RFC 5869) is built here on that HMAC for the same reason.

use aes::cipher::{KeyIvInit, StreamCipher};
use ml_kem::kem::{Decapsulate, DecapsulationKey, EncapsulationKey};
use ml_kem::{EncapsulateDeterministic, EncodedSizeUser, KemCore, MlKem768, MlKem768Params};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::otr::crypto::{mac, memo};

use super::Rng;

/// Length of every symmetric key, chain key, hash and MAC in the suite.
pub const KEY_LEN: usize = 32;
/// An X25519 public key or shared secret.
pub const X25519_LEN: usize = 32;
/// ML-KEM-768 encapsulation key (FIPS 203, k = 3).
pub const KEM_EK_LEN: usize = 1184;
/// ML-KEM-768 ciphertext.
pub const KEM_CT_LEN: usize = 1088;
/// ML-KEM-768 decapsulation key (only for the known-answer tests).
pub const KEM_DK_LEN: usize = 2400;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// A 32-byte secret that is wiped when dropped.
pub type Secret32 = Zeroizing<[u8; 32]>;

/// Draw 32 bytes: every random value of the suite is drawn in 32-byte units, in the order
/// docs/modern-suite.md §9 fixes, so a recorded RNG replays in a second implementation.
pub fn draw32(rng: &mut impl Rng) -> Secret32 {
    let mut out = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(out.as_mut());
    out
}

// ---- hashes and MACs ----------------------------------------------------------------------

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    mac::sha256_parts(parts)
}

/// HMAC-SHA256(key, concatenation of `parts`). The concatenation is wiped after use (the
/// parts may be secret, e.g. an HKDF block).
pub fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    if let [one] = parts {
        return mac::hmac_sha256(key, one);
    }
    let mut data = Zeroizing::new(Vec::with_capacity(parts.iter().map(|p| p.len()).sum()));
    for p in parts {
        data.extend_from_slice(p);
    }
    mac::hmac_sha256(key, &data)
}

/// Constant-time equality of two MACs.
pub fn mac_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a.ct_eq(b))
}

/// HKDF-SHA256 (RFC 5869): PRK = HMAC(salt, ikm); T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i); `out`
/// takes the first bytes of T(1) ‖ T(2) ‖ …. At most 255·32 bytes (ours are 32..=80).
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) {
    debug_assert!(out.len() <= 255 * 32);
    let prk = Zeroizing::new(mac::hmac_sha256(salt, ikm));
    let mut t = Zeroizing::new([0u8; 32]);
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        // At most 255 chunks, so the counter fits a byte.
        let counter = [u8::try_from(i + 1).unwrap_or(u8::MAX)];
        let previous: &[u8] = if i == 0 { &[] } else { &t[..] };
        *t = hmac_sha256(&prk, &[previous, info, &counter]);
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}

/// HKDF-SHA256 giving one 32-byte key.
pub fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Secret32 {
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf_sha256(salt, ikm, info, out.as_mut());
    out
}

/// AES-256 in counter mode, the 16-byte `iv` being the initial counter block, incremented as
/// one 128-bit big-endian integer (NIST SP 800-38A).
pub fn aes256_ctr(key: &[u8; 32], iv: &[u8; 16], data: &mut [u8]) {
    let mut c = Aes256Ctr::new(key.into(), iv.into());
    c.apply_keystream(data);
}

// ---- X25519 -------------------------------------------------------------------------------

/// An X25519 private key (clamped by the function itself, RFC 7748), wiped on drop, with its
/// public key computed once.
pub struct X25519Secret {
    secret: x25519_dalek::StaticSecret,
    public: [u8; 32],
}

impl X25519Secret {
    /// From 32 secret bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let secret = x25519_dalek::StaticSecret::from(*bytes);
        // Remembered in fuzzing builds only (`memo`): same answer, computed once per key.
        let public = memo::cached(
            || memo::key("x25519_public", &[bytes]),
            || x25519_dalek::PublicKey::from(&secret).to_bytes(),
        );
        Self { secret, public }
    }

    /// From 32 fresh random bytes.
    pub fn random(rng: &mut impl Rng) -> Self {
        Self::from_bytes(&draw32(rng))
    }

    /// The public key X25519(k, 9).
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The secret bytes as given (for the key file).
    pub fn to_bytes(&self) -> Secret32 {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// X25519(k, their_public). `None` when the result is all zero: their key is a
    /// small-order point and contributes nothing (RFC 7748 §6.1's check).
    pub fn diffie_hellman(&self, their_public: &[u8; 32]) -> Option<Secret32> {
        memo::cached(
            || memo::key("x25519", &[&self.secret.to_bytes(), their_public]),
            || {
                let shared = self
                    .secret
                    .diffie_hellman(&x25519_dalek::PublicKey::from(*their_public));
                shared
                    .was_contributory()
                    .then(|| Zeroizing::new(shared.to_bytes()))
            },
        )
    }
}

impl Clone for X25519Secret {
    fn clone(&self) -> Self {
        Self {
            secret: self.secret.clone(),
            public: self.public,
        }
    }
}

impl core::fmt::Debug for X25519Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "X25519Secret(public {})", hex(&self.public()))
    }
}

// ---- ML-KEM-768 ---------------------------------------------------------------------------

/// An ML-KEM-768 decapsulation key with its encapsulation key; wiped on drop.
#[cfg_attr(any(test, feature = "fuzzing"), derive(Clone))]
pub struct KemDecapsulationKey {
    dk: DecapsulationKey<MlKem768Params>,
    ek: [u8; KEM_EK_LEN],
    /// d ‖ z, which name the key pair in `memo` keys (fuzzing builds only: encoding `dk`
    /// for every lookup cost more than the lookup saved).
    #[cfg(feature = "fuzzing")]
    seed: Zeroizing<[u8; 64]>,
}

impl KemDecapsulationKey {
    /// ML-KEM.KeyGen_internal(d, z) (FIPS 203 Algorithm 16).
    pub fn from_seed(d: &[u8; 32], z: &[u8; 32]) -> Self {
        let keygen = || {
            let (dk, ek) = MlKem768::generate_deterministic(&(*d).into(), &(*z).into());
            let mut ek_bytes = [0u8; KEM_EK_LEN];
            ek_bytes.copy_from_slice(ek.as_bytes().as_slice());
            Self {
                dk,
                ek: ek_bytes,
                #[cfg(feature = "fuzzing")]
                seed: {
                    let mut seed = Zeroizing::new([0u8; 64]);
                    seed[..32].copy_from_slice(d);
                    seed[32..].copy_from_slice(z);
                    seed
                },
            }
        };
        memo::cached(|| memo::key("mlkem_keygen", &[d, z]), keygen)
    }

    /// A fresh key pair from two 32-byte draws, d then z.
    pub fn random(rng: &mut impl Rng) -> Self {
        let d = draw32(rng);
        let z = draw32(rng);
        Self::from_seed(&d, &z)
    }

    /// The encapsulation key the peer needs.
    pub fn encapsulation_key(&self) -> &[u8; KEM_EK_LEN] {
        &self.ek
    }

    /// The decapsulation key bytes (known-answer tests only).
    pub fn dk_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.dk.as_bytes().to_vec())
    }

    /// ML-KEM.Decaps. A ciphertext of the right length always yields a key (implicit
    /// rejection); a wrong one simply gives keys the sender does not have.
    pub fn decapsulate(&self, ct: &[u8; KEM_CT_LEN]) -> Secret32 {
        memo::cached(
            || {
                #[cfg(feature = "fuzzing")]
                let name = &self.seed[..];
                #[cfg(not(feature = "fuzzing"))]
                let name: &[u8] = &[];
                memo::key("mlkem_decaps", &[name, ct])
            },
            || {
                let ct = ml_kem::Ciphertext::<MlKem768>::from(*ct);
                // Infallible for ML-KEM (implicit rejection); the `Err` type is `()` only by
                // trait.
                let mut ss = self.dk.decapsulate(&ct).unwrap_or_default();
                let mut out = Zeroizing::new([0u8; 32]);
                out.copy_from_slice(ss.as_slice());
                ss.as_mut_slice().zeroize();
                out
            },
        )
    }
}

impl core::fmt::Debug for KemDecapsulationKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KemDecapsulationKey(ek {}…)", hex(&self.ek[..8]))
    }
}

/// ML-KEM.Encaps_internal(ek, m) (FIPS 203 Algorithm 17), after the encapsulation-key
/// modulus check of §7.2: `None` when `ek` is not canonical.
pub fn kem_encapsulate(
    ek: &[u8; KEM_EK_LEN],
    m: &[u8; 32],
) -> Option<([u8; KEM_CT_LEN], Secret32)> {
    memo::cached(
        || memo::key("mlkem_encaps", &[ek, m]),
        || encapsulate(ek, m),
    )
}

fn encapsulate(ek: &[u8; KEM_EK_LEN], m: &[u8; 32]) -> Option<([u8; KEM_CT_LEN], Secret32)> {
    let enc = ml_kem::Encoded::<EncapsulationKey<MlKem768Params>>::from(*ek);
    let key = EncapsulationKey::<MlKem768Params>::from_bytes(&enc);
    // Decoding reduces every coefficient mod q; a key that does not re-encode to itself held
    // a coefficient >= q.
    if key.as_bytes().as_slice() != ek.as_slice() {
        return None;
    }
    let (ct, mut ss) = key.encapsulate_deterministic(&(*m).into()).ok()?;
    let mut ct_bytes = [0u8; KEM_CT_LEN];
    ct_bytes.copy_from_slice(ct.as_slice());
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(ss.as_slice());
    ss.as_mut_slice().zeroize();
    Some((ct_bytes, out))
}

/// Lower-case hex (for Debug output of public values and the tests).
pub fn hex(bytes: &[u8]) -> String {
    use core::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn arr32(s: &str) -> [u8; 32] {
        unhex(s).try_into().unwrap()
    }

    /// RFC 7748 §5.2, the two single-call vectors.
    #[test]
    fn x25519_rfc7748_5_2() {
        let k = X25519Secret::from_bytes(&arr32(
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        ));
        let u = arr32("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
        assert_eq!(
            *k.diffie_hellman(&u).unwrap(),
            arr32("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
        );
        let k = X25519Secret::from_bytes(&arr32(
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        ));
        let u = arr32("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
        assert_eq!(
            *k.diffie_hellman(&u).unwrap(),
            arr32("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")
        );
    }

    /// RFC 7748 §6.1: both public keys and the shared secret.
    #[test]
    fn x25519_rfc7748_6_1() {
        let a = X25519Secret::from_bytes(&arr32(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let b = X25519Secret::from_bytes(&arr32(
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
        ));
        assert_eq!(
            a.public(),
            arr32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            b.public(),
            arr32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        let shared = arr32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(*a.diffie_hellman(&b.public()).unwrap(), shared);
        assert_eq!(*b.diffie_hellman(&a.public()).unwrap(), shared);
    }

    /// A small-order public key gives the all-zero output, which we refuse.
    #[test]
    fn x25519_small_order_is_refused() {
        let k = X25519Secret::from_bytes(&[7u8; 32]);
        assert!(k.diffie_hellman(&[0u8; 32]).is_none());
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(k.diffie_hellman(&one).is_none());
    }

    fn hkdf_case(ikm: &str, salt: &str, info: &str, okm: &str) {
        let okm = unhex(okm);
        let mut out = vec![0u8; okm.len()];
        hkdf_sha256(&unhex(salt), &unhex(ikm), &unhex(info), &mut out);
        assert_eq!(hex(&out), hex(&okm));
    }

    /// RFC 5869 Appendix A, test cases 1–3 (SHA-256).
    #[test]
    fn hkdf_rfc5869_cases_1_to_3() {
        hkdf_case(
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        );
        let ikm: String = (0x00..=0x4fu8).map(|b| format!("{b:02x}")).collect();
        let salt: String = (0x60..=0xafu8).map(|b| format!("{b:02x}")).collect();
        let info: String = (0xb0..=0xffu8).map(|b| format!("{b:02x}")).collect();
        hkdf_case(
            &ikm,
            &salt,
            &info,
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
             59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
             cc30c58179ec3e87c14c01d5c1f3434f1d87",
        );
        hkdf_case(
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "",
            "",
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        );
    }

    /// NIST SP 800-38A F.5.5 (CTR-AES256.Encrypt), first two blocks.
    #[test]
    fn aes256_ctr_sp800_38a() {
        let key = arr32("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let iv: [u8; 16] = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .try_into()
            .unwrap();
        let mut data = unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        aes256_ctr(&key, &iv, &mut data);
        assert_eq!(
            hex(&data),
            "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
        );
    }

    /// RFC 4231 test case 2 (HMAC-SHA256 with a short key), through the 32-byte-key API by
    /// zero padding, which HMAC defines as the same key.
    #[test]
    fn hmac_sha256_rfc4231_case_2() {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        assert_eq!(
            hex(&hmac_sha256(&key, &[b"what do ya want ", b"for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// A non-canonical encapsulation key (a coefficient >= q) is refused.
    #[test]
    fn kem_rejects_non_canonical_ek() {
        let kp = KemDecapsulationKey::from_seed(&[1; 32], &[2; 32]);
        let mut ek = *kp.encapsulation_key();
        assert!(kem_encapsulate(&ek, &[3; 32]).is_some());
        // First coefficient := 0xfff (> q = 3329).
        ek[0] = 0xff;
        ek[1] |= 0x0f;
        assert!(kem_encapsulate(&ek, &[3; 32]).is_none());
    }

    #[test]
    fn kem_round_trip_and_implicit_rejection() {
        let kp = KemDecapsulationKey::from_seed(&[9; 32], &[8; 32]);
        let (ct, ss) = kem_encapsulate(kp.encapsulation_key(), &[7; 32]).unwrap();
        assert_eq!(*kp.decapsulate(&ct), *ss);
        let mut bad = ct;
        bad[5] ^= 1;
        assert_ne!(*kp.decapsulate(&bad), *ss);
    }
}
