//! AES-128 in counter mode as OTR uses it (spec: "Data Message" and the AKE's encrypted
//! g^x and signature): the 16-byte initial counter block is the 8-byte "top half" followed by
//! eight zero bytes, incremented as one big-endian 128-bit integer per block. The AKE uses a
//! top half of zero; data messages carry theirs on the wire.

use std::fmt;

use aes::cipher::{BlockEncrypt, KeyInit};
use zeroize::{Zeroize, Zeroizing};

/// Counter blocks encrypted per call of the block cipher: a 140-byte message takes one call.
const CHUNK_BLOCKS: usize = 64;

/// An AES-128 key with its key schedule already expanded, for a key that encrypts many
/// messages (one data-message key pair). libotr likewise keeps one cipher handle per key
/// pair. Only the encryption schedule is kept (counter mode never decrypts a block), half the
/// memory of `aes::Aes128`. The schedule is wiped on drop (the `aes` crate's `zeroize`
/// feature); the per-message keystream buffer is wiped by [`AesCtrKey::apply`].
#[derive(Clone)]
pub struct AesCtrKey {
    cipher: aes::Aes128Enc,
}

impl AesCtrKey {
    /// Expands `key` once.
    pub fn new(key: &[u8; 16]) -> Self {
        let key = Zeroizing::new(*key);
        AesCtrKey {
            cipher: aes::Aes128Enc::new(&(*key).into()),
        }
    }

    /// Encrypts or decrypts `data` in place with the initial counter block `ctr_top` || 0^64,
    /// counting over the whole 128-bit block (as the `ctr` crate's `Ctr128BE` and libotr do).
    ///
    /// The counter blocks of up to [`CHUNK_BLOCKS`] blocks, partial last block included, go
    /// to the cipher in one call. The `ctr` crate makes two calls for a message that does not
    /// end on a block boundary, and on CPUs with VAES-512 every call first spreads the round
    /// keys over the wide registers, which for a short message costs as much as the AES.
    pub fn apply(&self, ctr_top: &[u8; 8], data: &mut [u8]) {
        let mut keystream = [aes::Block::default(); CHUNK_BLOCKS];
        let mut counter = u128::from(u64::from_be_bytes(*ctr_top)) << 64;
        let mut used = 0;
        for chunk in data.chunks_mut(CHUNK_BLOCKS * 16) {
            let n = chunk.len().div_ceil(16).min(CHUNK_BLOCKS);
            used = used.max(n);
            let blocks = &mut keystream[..n];
            for block in blocks.iter_mut() {
                *block = counter.to_be_bytes().into();
                counter = counter.wrapping_add(1);
            }
            self.cipher.encrypt_blocks(blocks);
            for (byte, k) in chunk.iter_mut().zip(blocks.iter().flatten()) {
                *byte ^= k;
            }
        }
        for block in &mut keystream[..used] {
            block.as_mut_slice().zeroize();
        }
    }
}

impl fmt::Debug for AesCtrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesCtrKey { <secret> }")
    }
}

/// Encrypts or decrypts `data` in place (the two are the same operation in CTR mode).
///
/// The low 64 bits of the counter start at zero, so a message would have to exceed 2^68 bytes
/// before the carry reached `ctr_top`; the 128-bit counter makes even that case match libotr,
/// which also counts over the full block.
pub fn aes128_ctr(key: &[u8; 16], ctr_top: &[u8; 8], data: &mut [u8]) {
    AesCtrKey::new(key).apply(ctr_top, data);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use aes::cipher::{KeyIvInit, StreamCipher};

    /// The `ctr` crate's AES-128-CTR with a 128-bit big-endian counter, as a reference.
    fn reference(key: &[u8; 16], iv: [u8; 16], data: &mut [u8]) {
        let mut c = ctr::Ctr128BE::<aes::Aes128>::new(&(*key).into(), &iv.into());
        c.apply_keystream(data);
    }

    #[test]
    fn matches_ctr_crate_across_chunks_and_counter_carries() {
        let key: [u8; 16] = core::array::from_fn(|i| (i as u8).wrapping_mul(91) ^ 0x33);
        let prepared = AesCtrKey::new(&key);
        let lens = [0usize, 1, 15, 16, 17, 140, 1023, 1024, 1025, 2048 + 5, 5000];
        // The last top half makes the low 64 bits irrelevant but checks a top of all ones;
        // the 128-bit carry itself needs 2^64 blocks and is left to the reference's word.
        let tops = [[0u8; 8], [0, 0, 0, 0, 0, 0, 0, 1], [0xff; 8]];
        for top in tops {
            let mut iv = [0u8; 16];
            iv[..8].copy_from_slice(&top);
            for len in lens {
                let plain: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
                let mut ours = plain.clone();
                let mut theirs = plain.clone();
                prepared.apply(&top, &mut ours);
                reference(&key, iv, &mut theirs);
                assert_eq!(ours, theirs, "length {len} top {top:?}");
            }
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn matches_openssl_with_otr_counter_layout() {
        // Computed independently with
        // `openssl enc -aes-128-ctr -K 000102…0f -iv 0123456789abcdef0000000000000000`
        // over the bytes 0..40 (three blocks, the last partial), and cross-checked with
        // python `cryptography`.
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let top = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        let mut data: Vec<u8> = (0u8..40).collect();
        aes128_ctr(&key, &top, &mut data);
        assert_eq!(
            data,
            unhex(
                "e2c910110a7f4207ef05c81d9f587351e0f2fa20334d3cd2\
                 a93537d4e7eaa0214c1530fadd8bdffd"
            )
        );
        aes128_ctr(&key, &top, &mut data);
        assert_eq!(data, (0u8..40).collect::<Vec<u8>>());
    }

    #[test]
    fn counter_top_and_key_matter() {
        let key = [7u8; 16];
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        aes128_ctr(&key, &[0; 8], &mut a);
        aes128_ctr(&key, &[0, 0, 0, 0, 0, 0, 0, 1], &mut b);
        assert_ne!(a, b);
        // Two blocks of keystream differ (the counter advances per block).
        assert_ne!(a[..16], a[16..]);
        let mut c = [0u8; 32];
        aes128_ctr(&[8u8; 16], &[0; 8], &mut c);
        assert_ne!(a, c);
        // Empty input is fine.
        aes128_ctr(&key, &[0; 8], &mut []);
    }

    #[test]
    fn otr3_encrypted_commit_value() {
        // otr3 fixtures: AES-CTR under r = abcd…abcd (16 bytes), counter 0, of MPI(fixedGX)
        // gives encryptedFixedGX (the DH-Commit's first field).
        let r: [u8; 16] = unhex("abcdabcdabcdabcdabcdabcdabcdabcd")
            .try_into()
            .unwrap();
        let mut mpi = unhex(OTR3_MPI_GX);
        let expected = unhex(OTR3_ENCRYPTED_GX);
        aes128_ctr(&r, &[0; 8], &mut mpi);
        assert_eq!(mpi, expected);
    }

    #[test]
    fn prepared_key_matches_one_shot_and_is_reusable() {
        let key: [u8; 16] = core::array::from_fn(|i| (i as u8).wrapping_mul(29));
        let prepared = AesCtrKey::new(&key);
        for (top, len) in [
            ([0u8; 8], 0usize),
            ([0, 0, 0, 0, 0, 0, 0, 1], 17),
            ([9; 8], 140),
        ] {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut a = plain.clone();
            let mut b = plain.clone();
            aes128_ctr(&key, &top, &mut a);
            prepared.apply(&top, &mut b);
            assert_eq!(a, b);
            if len > 0 {
                assert_ne!(a, plain);
            }
            // Using the prepared key again starts from the same counter: it decrypts.
            prepared.apply(&top, &mut b);
            assert_eq!(b, plain);
        }
        assert_eq!(format!("{prepared:?}"), "AesCtrKey { <secret> }");
    }

    const OTR3_MPI_GX: &str = concat!(
        "000000c0",
        "075dfab5a1eab059052d0ad881c4938d52669630d61833a367155d67d03a457f619683d0fa829781e974fd24f6",
        "865e8128a9312a167b77326a87dea032fc31784d05b18b9cbafebe162ae9b5369f8b0c5911cf1be757f45f2a67",
        "4be5126a714a6366c28086b3c7088911dcc4e5fb1481ad70a5237b8e4a6aff4954c2ca6df338b9f08691e4c0de",
        "fe12689b37d4df30ddef2687f789fcf623c5d0cf6f09b7e5e69f481d5fd1b24a77636fb676e6d733d129eb93e8",
        "1189340233044766a36eb07d",
    );
    const OTR3_ENCRYPTED_GX: &str = concat!(
        "5dd6a5999be73a99b80bdb78194a125f3067bd79e69c648b76a068117a8c4d0f36f275305423a933541937145d",
        "85ab4618094cbafbe4db0c0081614c1ff0f516c3dc4f352e9c92f88e4883166f12324d82240a8f32874c3d6bc3",
        "5acedb8d501aa0111937a4859f33aa9b43ec342d78c3a45a5939c1e58e6b4f02725c1922f3df8754d1e1ab7648",
        "f558e9043ad118e63603b3ba2d8cbfea99a481835e42e73e6cd6019840f4470b606e168b1cd4a1f401c3dc5252",
        "5d79fa6b959a80d4e11f1ec3a7984cf9",
    );
}
