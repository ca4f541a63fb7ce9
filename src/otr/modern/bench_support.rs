//! Timing-free callables for `benches/compare.rs` (the bench measures, this only does the
//! work): a full handshake, a round trip and a one-way message, each through the wire codec
//! as a real session would (encode, decode, process).
//!
//! ```ignore
//! use purple_otr::otr::modern::bench_support as m;
//! let t = time(|| { m::handshake(seed); });                 // 3 messages, both sides
//! let mut pair = m::BenchPair::new(1);
//! let t = time(|| pair.round_trip(b"hello"));               // A→B, B→A: two DH ratchet turns
//! let t = time(|| pair.one_way(b"hello"));                  // A→B in one chain: no DH
//! println!("modern session state ≤ {} bytes", m::max_session_bytes());
//! ```
#![allow(clippy::unwrap_used)]

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::Zeroizing;

use super::handshake::{self, HandshakeParams};
use super::identity::IdentityKey;
use super::ratchet::Ratchet;
use super::wire::{Instances, ModernMessage};
use super::V3Binding;

fn params() -> (HandshakeParams, HandshakeParams) {
    let ia = IdentityKey::from_secret_bytes(&[0x11; 32]);
    let ib = IdentityKey::from_secret_bytes(&[0x22; 32]);
    let binding = || V3Binding {
        ssid: [1; 8],
        v3_key: Zeroizing::new([2; 32]),
        initiator_fingerprint: [3; 20],
        responder_fingerprint: [4; 20],
    };
    let (ab, ba) = (
        Instances {
            sender: 0x100,
            receiver: 0x200,
        },
        Instances {
            sender: 0x200,
            receiver: 0x100,
        },
    );
    (
        HandshakeParams {
            their_identity: *ib.public(),
            our_identity: ia.clone(),
            binding: binding(),
            instances: ab,
        },
        HandshakeParams {
            their_identity: *ia.public(),
            our_identity: ib,
            binding: binding(),
            instances: ba,
        },
    )
}

fn through_wire(bytes: &[u8]) -> ModernMessage {
    ModernMessage::decode(bytes).unwrap()
}

fn handshake_with(rng: &mut ChaCha20Rng) -> (Ratchet, Ratchet) {
    let (pa, pb) = params();
    let (ia, init) = handshake::start(rng, pa);
    let ModernMessage::Init(init) = through_wire(&init.encode()) else {
        unreachable!()
    };
    let (rb, resp) = handshake::respond(rng, pb, &init).unwrap();
    let ModernMessage::Response(resp) = through_wire(&resp.encode()) else {
        unreachable!()
    };
    let (a, confirm) = ia.receive_response(&resp).unwrap();
    let ModernMessage::Confirm(confirm) = through_wire(&confirm.encode()) else {
        unreachable!()
    };
    (a, rb.receive_confirm(&confirm).unwrap())
}

/// One complete handshake, both sides, through the codec (identity keys are fixed, as a
/// real account's are; every ephemeral is fresh).
pub fn handshake(seed: u64) -> (Ratchet, Ratchet) {
    handshake_with(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// Two sessions' ends and their randomness.
#[derive(Debug)]
pub struct BenchPair {
    a: Ratchet,
    b: Ratchet,
    rng: ChaCha20Rng,
}

impl BenchPair {
    /// A fresh pair after a handshake.
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (a, b) = handshake_with(&mut rng);
        Self { a, b, rng }
    }

    fn deliver(from: &mut Ratchet, to: &mut Ratchet, rng: &mut ChaCha20Rng, msg: &[u8]) {
        let wire = from.encrypt(msg, false).unwrap().encode();
        let ModernMessage::Data(d) = through_wire(&wire) else {
            unreachable!()
        };
        let got = to.decrypt(rng, &d).unwrap();
        assert_eq!(got.plaintext.len(), msg.len());
    }

    /// A→B then B→A: each side turns the DH ratchet once (and now and then a KEM round).
    pub fn round_trip(&mut self, msg: &[u8]) {
        Self::deliver(&mut self.a, &mut self.b, &mut self.rng, msg);
        Self::deliver(&mut self.b, &mut self.a, &mut self.rng, msg);
    }

    /// A→B only: the symmetric chain, no DH.
    pub fn one_way(&mut self, msg: &[u8]) {
        Self::deliver(&mut self.a, &mut self.b, &mut self.rng, msg);
    }
}

/// Upper bound of one modern session's state in bytes (skipped keys and reveal queue full).
pub fn max_session_bytes() -> usize {
    Ratchet::max_state_bytes()
}

/// A session's state right after the handshake with a KEM round open (no skipped keys).
pub fn fresh_session_bytes() -> usize {
    Ratchet::fresh_state_bytes()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn callables_work() {
        let (a, b) = handshake(1);
        assert_eq!(a.transcript_hash(), b.transcript_hash());
        let mut p = BenchPair::new(2);
        for _ in 0..20 {
            p.round_trip(b"hello");
            p.one_way(b"hello");
        }
        assert!(max_session_bytes() > 32 * 1000);
        assert!(fresh_session_bytes() < max_session_bytes());
        println!(
            "modern session: fresh {} bytes, at most {} bytes",
            fresh_session_bytes(),
            max_session_bytes()
        );
    }

    /// Figures for docs/modern-suite.md §10:
    /// `cargo test --release --no-default-features --lib modern_timings -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, run by hand in release"]
    fn modern_timings() {
        use super::super::prims::{kem_encapsulate, KemDecapsulationKey, X25519Secret};
        // The best of 15 batches: on a shared machine the minimum is the least disturbed.
        fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
            let batch = (n / 15).max(1);
            (0..15)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..batch {
                        f();
                    }
                    t.elapsed().as_secs_f64() * 1e6 / f64::from(batch)
                })
                .fold(f64::INFINITY, f64::min)
        }
        let mut i = 0;
        let hs = per_op(300, || {
            i += 1;
            handshake(i);
        });
        let mut p = BenchPair::new(3);
        let rt = per_op(2000, || p.round_trip(b"hello, this is a typical chat line"));
        let mut p = BenchPair::new(4);
        let ow = per_op(20000, || p.one_way(b"hello, this is a typical chat line"));
        let x = X25519Secret::from_bytes(&[5; 32]);
        let pubk = X25519Secret::from_bytes(&[6; 32]).public();
        let dh = per_op(5000, || {
            x.diffie_hellman(&pubk);
        });
        let kg = per_op(2000, || {
            KemDecapsulationKey::from_seed(&[1; 32], &[2; 32]);
        });
        let k = KemDecapsulationKey::from_seed(&[1; 32], &[2; 32]);
        let enc = per_op(2000, || {
            kem_encapsulate(k.encapsulation_key(), &[3; 32]);
        });
        let (ct, _) = kem_encapsulate(k.encapsulation_key(), &[3; 32]).unwrap();
        let dec = per_op(2000, || {
            k.decapsulate(&ct);
        });
        println!(
            "handshake {hs:.1} µs; round trip {rt:.1} µs; one way {ow:.2} µs; \
             X25519 {dh:.1} µs; ML-KEM-768 keygen {kg:.1} µs, encaps {enc:.1} µs, decaps {dec:.1} µs; \
             state ≤ {} bytes",
            max_session_bytes()
        );
    }
}
