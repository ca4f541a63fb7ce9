//! The SMP hash and the three zero-knowledge proofs of the protocol (spec: "SMP Hash
//! function" and the proof steps under "The SMP state machine").
//!
//! Creating a proof uses secret exponents and goes through [`modp::pow_secret`]; checking one
//! only involves values the peer sent or we can recompute publicly (the D and c values, the
//! peer's group elements) and uses [`modp::pow_public`]. The one exception is that `g2` and
//! `g3` appear as *bases* while checking: `pow_public` is variable time in the exponent only
//! (the Montgomery multiplications themselves are constant time), so the base does not leak.
//!
//! The randomness is passed in explicitly so the known-answer tests can reproduce other
//! implementations' messages; callers draw it with [`modp::random_exponent`].

use zeroize::Zeroizing;

use crate::otr::crypto::mac;
use crate::otr::crypto::modp::{self, Int};

/// libotr draws every SMP random exponent as 192 random bytes (sm.c `randomExponent`), not
/// reduced mod q; the spec: "The random exponents are 1536-bit numbers".
pub(super) const EXPONENT_BITS: u32 = 1536;

/// The secrets x and y are SHA-256 digests, so they are below 2^256. The bound only fixes the
/// running time of `pow_secret`; it is public.
pub(super) const SECRET_BITS: u32 = 256;

/// A 32-byte big-endian digest as a group-sized integer.
pub(super) fn int_from_digest(digest: &[u8; 32]) -> Int {
    let mut buf = Zeroizing::new([0u8; modp::MODULUS_BYTES]);
    buf[modp::MODULUS_BYTES - 32..].copy_from_slice(digest);
    Int::from_be_slice(&buf[..])
}

/// The 4-byte big-endian length libotr writes before each hashed value.
fn len_prefix(bytes: &[u8]) -> [u8; 4] {
    // A magnitude is at most 192 bytes, so the conversion never saturates.
    u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes()
}

/// The SMP hash: SHA-256 over the version byte, then each value as a 4-byte length and its
/// minimal big-endian magnitude (libotr sm.c `otrl_sm_hash`, `GCRYMPI_FMT_USG`), read back as
/// an integer. The inputs are always values the verifier recomputes, never secrets.
pub(super) fn hash(version: u8, a: &Int, b: Option<&Int>) -> Int {
    let a_bytes = modp::to_mpi_bytes(a);
    let a_len = len_prefix(&a_bytes);
    let digest = match b {
        Some(b) => {
            let b_bytes = modp::to_mpi_bytes(b);
            let b_len = len_prefix(&b_bytes);
            mac::sha256_parts(&[&[version], &a_len, &a_bytes, &b_len, &b_bytes])
        }
        None => mac::sha256_parts(&[&[version], &a_len, &a_bytes]),
    };
    int_from_digest(&digest)
}

/// `g1^a * b^c mod p` for public exponents `a` and `c`.
fn g1_pow_times(d: &Int, base: &Int, c: &Int) -> Int {
    modp::mul_mod_p(&modp::pow_public(&modp::G, d), &modp::pow_public(base, c))
}

/// `r - x*c mod q`: the response of every proof. `x*c` depends on a secret and is wiped.
fn response(r: &Int, x: &Int, c: &Int) -> Int {
    let xc = Zeroizing::new(modp::mul_mod_q(x, c));
    modp::sub_mod_q(r, &xc)
}

/// Proof of knowledge of `x` with `g1^x` public: `c = h(version, g1^r)`, `d = r - x c mod q`.
pub(super) fn prove_know_log(x: &Int, r: &Int, version: u8) -> (Int, Int) {
    let commitment = Zeroizing::new(modp::pow_g_secret(r, EXPONENT_BITS));
    let c = hash(version, &commitment, None);
    let d = response(r, x, &c);
    (c, d)
}

/// Checks `c == h(version, g1^d * gx^c)`.
pub(super) fn check_know_log(c: &Int, d: &Int, gx: &Int, version: u8) -> bool {
    hash(version, &g1_pow_times(d, gx, c), None) == *c
}

/// The secret inputs of the coordinate proof: `P = g3^r`, `Q = g1^r g2^secret`, with
/// blinding exponents `r5` and `r6` (spec names).
pub(super) struct CoordsWitness<'a> {
    pub(super) r: &'a Int,
    pub(super) secret: &'a Int,
    pub(super) r5: &'a Int,
    pub(super) r6: &'a Int,
}

/// Proof that `P` and `Q` were built from the same `r` and our secret:
/// `c = h(version, g3^r5, g1^r5 g2^r6)`, `d5 = r5 - r c`, `d6 = r6 - secret c (mod q)`.
pub(super) fn prove_equal_coords(
    g2: &Int,
    g3: &Int,
    w: &CoordsWitness<'_>,
    version: u8,
) -> (Int, Int, Int) {
    let left = Zeroizing::new(modp::pow_secret(g3, w.r5, EXPONENT_BITS));
    let g1_r5 = Zeroizing::new(modp::pow_g_secret(w.r5, EXPONENT_BITS));
    let g2_r6 = Zeroizing::new(modp::pow_secret(g2, w.r6, EXPONENT_BITS));
    let right = Zeroizing::new(modp::mul_mod_p(&g1_r5, &g2_r6));
    let c = hash(version, &left, Some(&right));
    let d5 = response(w.r5, w.r, &c);
    let d6 = response(w.r6, w.secret, &c);
    (c, d5, d6)
}

/// The public inputs of a coordinate-proof check.
pub(super) struct CoordsProof<'a> {
    pub(super) c: &'a Int,
    pub(super) d5: &'a Int,
    pub(super) d6: &'a Int,
    pub(super) p: &'a Int,
    pub(super) q: &'a Int,
}

/// Checks `c == h(version, g3^d5 P^c, g1^d5 g2^d6 Q^c)`.
pub(super) fn check_equal_coords(g2: &Int, g3: &Int, proof: &CoordsProof<'_>, version: u8) -> bool {
    let left = modp::mul_mod_p(
        &modp::pow_public(g3, proof.d5),
        &modp::pow_public(proof.p, proof.c),
    );
    let g1_g2 = modp::mul_mod_p(
        &modp::pow_public(&modp::G, proof.d5),
        &modp::pow_public(g2, proof.d6),
    );
    let right = modp::mul_mod_p(&g1_g2, &modp::pow_public(proof.q, proof.c));
    hash(version, &left, Some(&right)) == *proof.c
}

/// Proof that `R = qab^x3` uses the same exponent as our `g1^x3` from the generator exchange:
/// `c = h(version, g1^r7, qab^r7)`, `d7 = r7 - x3 c mod q`.
pub(super) fn prove_equal_logs(qab: &Int, x3: &Int, r7: &Int, version: u8) -> (Int, Int) {
    let left = Zeroizing::new(modp::pow_g_secret(r7, EXPONENT_BITS));
    let right = Zeroizing::new(modp::pow_secret(qab, r7, EXPONENT_BITS));
    let c = hash(version, &left, Some(&right));
    let d = response(r7, x3, &c);
    (c, d)
}

/// Checks `c == h(version, g1^d g3o^c, qab^d R^c)`, where `g3o` is the peer's half of the g3
/// exchange.
pub(super) fn check_equal_logs(
    c: &Int,
    d: &Int,
    r: &Int,
    g3o: &Int,
    qab: &Int,
    version: u8,
) -> bool {
    let left = g1_pow_times(d, g3o, c);
    let right = modp::mul_mod_p(&modp::pow_public(qab, d), &modp::pow_public(r, c));
    hash(version, &left, Some(&right)) == *c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otr::test_util::unhex;

    fn hex(s: &str) -> Int {
        modp::from_be_bytes(&unhex(s)).expect("fits")
    }

    #[test]
    fn hash_serialises_like_libotr() {
        // h(5, 2) = SHA256(05 | 00000001 | 02), computed independently of `hash`.
        let expected = int_from_digest(&mac::sha256(&[5, 0, 0, 0, 1, 2]));
        assert_eq!(hash(5, &Int::from_u8(2), None), expected);
        // Two values, minimal magnitudes: 0x0100 is two bytes, 0x7f one.
        let expected = int_from_digest(&mac::sha256(&[7, 0, 0, 0, 2, 1, 0, 0, 0, 0, 1, 0x7f]));
        assert_eq!(
            hash(7, &Int::from_u16(0x100), Some(&Int::from_u8(0x7f))),
            expected
        );
        // The version byte separates the proofs.
        assert_ne!(
            hash(1, &Int::from_u8(2), None),
            hash(2, &Int::from_u8(2), None)
        );
    }

    #[test]
    fn know_log_round_trip_and_rejections() {
        let x = Int::from_u64(0x1234_5678_9abc_def0);
        let r = Int::from_u64(0x0fed_cba9_8765_4321);
        let gx = modp::pow_g_secret(&x, EXPONENT_BITS);
        let (c, d) = prove_know_log(&x, &r, 1);
        assert!(check_know_log(&c, &d, &gx, 1));
        assert!(!check_know_log(&c, &d, &gx, 2), "version is bound");
        assert!(!check_know_log(&c, &d.wrapping_add(&Int::ONE), &gx, 1));
        assert!(!check_know_log(&c.wrapping_add(&Int::ONE), &d, &gx, 1));
        assert!(!check_know_log(&c, &d, &modp::mul_mod_p(&gx, &modp::G), 1));
    }

    #[test]
    fn coords_and_logs_round_trip() {
        let g2 = modp::pow_g_secret(&Int::from_u64(11), EXPONENT_BITS);
        let g3 = modp::pow_g_secret(&Int::from_u64(13), EXPONENT_BITS);
        let (r, secret, r5, r6) = (
            Int::from_u64(17),
            Int::from_u64(19),
            Int::from_u64(23),
            Int::from_u64(29),
        );
        let p = modp::pow_public(&g3, &r);
        let q = modp::mul_mod_p(
            &modp::pow_public(&modp::G, &r),
            &modp::pow_public(&g2, &secret),
        );
        let w = CoordsWitness {
            r: &r,
            secret: &secret,
            r5: &r5,
            r6: &r6,
        };
        let (c, d5, d6) = prove_equal_coords(&g2, &g3, &w, 5);
        let ok = CoordsProof {
            c: &c,
            d5: &d5,
            d6: &d6,
            p: &p,
            q: &q,
        };
        assert!(check_equal_coords(&g2, &g3, &ok, 5));
        assert!(!check_equal_coords(&g2, &g3, &ok, 6));
        let wrong_q = modp::mul_mod_p(&q, &modp::G);
        let bad = CoordsProof { q: &wrong_q, ..ok };
        assert!(!check_equal_coords(&g2, &g3, &bad, 5));

        let x3 = Int::from_u64(31);
        let g3o = modp::pow_g_secret(&x3, EXPONENT_BITS);
        let qab = modp::pow_g_secret(&Int::from_u64(37), EXPONENT_BITS);
        let rr = modp::pow_public(&qab, &x3);
        let (c, d) = prove_equal_logs(&qab, &x3, &Int::from_u64(41), 7);
        assert!(check_equal_logs(&c, &d, &rr, &g3o, &qab, 7));
        assert!(!check_equal_logs(&c, &d, &rr, &g3o, &qab, 8));
        let other_r = modp::mul_mod_p(&rr, &modp::G);
        assert!(!check_equal_logs(&c, &d, &other_r, &g3o, &qab, 7));
    }

    /// coyim/otr3 smp_data_test.go `fixtureMessage1v3`: a2, r2 and a3, r3 are its fixed random
    /// draws `randData[0..4]`. otr3 interoperates with libotr, so matching it checks our hash
    /// serialisation and proof formulas independently of our own code.
    #[test]
    fn known_answer_smp1_proofs_match_otr3() {
        let long = |s: &str| hex(&s.repeat(96)[..384]);
        let a2 = long("ABCD");
        let a3 = hex(&format!("BBCD{}", "ABCD".repeat(95)));
        let r2 = hex(&format!("CBCD{}", "ABCD".repeat(95)));
        let r3 = hex(&format!("DBCD{}", "ABCD".repeat(95)));
        let (c2, d2) = prove_know_log(&a2, &r2, 1);
        let (c3, d3) = prove_know_log(&a3, &r3, 2);
        assert_eq!(
            c2,
            hex("59546ed0c65131c7e22b189bc691de7244c5967541cf4010b661bae2c0b167bc")
        );
        assert_eq!(
            c3,
            hex("f379724a5ab0f40c5f9e1791926c19e4654eee78f690a094c190754a08038bdf")
        );
        assert_eq!(
            d2,
            hex(concat!(
                "04e90a36d4c559b8fa132b314a1157448dda12d4fa2120b21155d29379101085fc91fca8cfa0aa58",
                "3e475fb4dd7adf1c88dbfc6adc3dbb4174cabc60bbb2e4f100aa9c452c7f2768d9249234872f413a",
                "6d30937c24f7bd422fc4b7d04c5044439c4dfb65b0a2452dfbc13e536d0ab7f38f38d3cc713647c4",
                "58dd83a7783b807c3f41721e7742b505ae65957332a9d0c5b39a4311177a53853fdd282ed17223d4",
                "2ec4c1803ef0d8e55df17bf673ea965ea2f8f4beb38279cbc6e727ec4fa2987b"
            ))
        );
        assert_eq!(
            d3,
            hex(concat!(
                "321cb850903ef002db66376a9aaa15293dacdac793c51063f970d2275d6334122428454c24aac2d0",
                "49f20df53ab56ef4680c3097a37e4d0b2a3d570ffebaa7a6bdde7308667e68398fa1edd2b8cd4952",
                "3a01911e25cbc5c836fb6095507ae23209dd3ad6fd0177f0e1288fb3e0334545fe85c55f8ea69b82",
                "477be1a5fc21d81db6cbfd27e12963ee8fd58d7d499b482d27f37004d8a1bb1c5e4bbdc9245230ba",
                "0b840b76aba57bc636b3da1240f491d35c75d98698ea1ef2ff209863b0735c0c"
            ))
        );
        let g2a = modp::pow_g_secret(&a2, EXPONENT_BITS);
        assert_eq!(
            g2a,
            hex(concat!(
                "ff4fb16e465739dff9297312090c2a0271d0579e5871746311b4b4b1cecb4404512f21936268f990",
                "3bf7b9ec21f9f68151ece99c892c3adbbccf4511e6d3ddba25f11cf15d140f5db7a2a8b1e4c17d46",
                "81ac9466e84c3e518e80c3c1a16c109951e9a4adf2818e7a6ccd6df9d1759065c6a43bb34c069208",
                "1619865dec358dba5a2e17cb7f69d998259f26965c794d013b15606e8503968836b284be3929438e",
                "46b845b19c0c724e8aee2aff162bbbd95a8195f83f4245f3281ce3a1d7872c92"
            ))
        );
        assert!(check_know_log(&c2, &d2, &g2a, 1));
    }
}
