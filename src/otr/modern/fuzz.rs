//! Fuzz body for the modern suite's parsers (feature `fuzzing`), one call per input from
//! `fuzz/fuzz_targets/modern_decode.rs`.
//!
//! [`modern_decode`] runs the input through every parser of the suite and states the
//! invariants: a message that decodes re-encodes to the same bytes; the discovery TLV and the
//! identity file likewise; a decoded message handed to the handshake and the ratchet is
//! refused without a panic and without changing the state (a genuine message still opens
//! afterwards); and the input XORed into a genuine data message opens only if nothing changed.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::Zeroizing;

use super::handshake::{self, DirectParams, HandshakeParams};
use super::identity::{IdentityFile, IdentityKey};
use super::ratchet::Ratchet;
use super::wire::{Announce, Data, Instances, ModernMessage};
use super::V3Binding;

fn params() -> (HandshakeParams, HandshakeParams) {
    let ia = IdentityKey::from_secret_bytes(&[1; 32]);
    let ib = IdentityKey::from_secret_bytes(&[2; 32]);
    let binding = || V3Binding {
        ssid: [3; 8],
        v3_key: Zeroizing::new([4; 32]),
        initiator_fingerprint: [5; 20],
        responder_fingerprint: [6; 20],
    };
    let ab = Instances {
        sender: 0x100,
        receiver: 0x200,
    };
    let ba = Instances {
        sender: 0x200,
        receiver: 0x100,
    };
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

/// The same two sides for a direct start (docs/modern-suite.md §15): the fingerprints of
/// `params` as the pinned ones; the initiator addresses every instance.
fn direct_params() -> (DirectParams, DirectParams) {
    let (pa, pb) = params();
    let d = |p: HandshakeParams| DirectParams {
        our_identity: p.our_identity,
        their_identity: p.their_identity,
        initiator_fingerprint: p.binding.initiator_fingerprint,
        responder_fingerprint: p.binding.responder_fingerprint,
        instances: p.instances,
    };
    let mut a = d(pa);
    a.instances.receiver = 0;
    (a, d(pb))
}

/// A completed session (initiator, responder) from fixed seeds.
fn session(rng: &mut ChaCha20Rng) -> (Ratchet, Ratchet) {
    let (pa, pb) = params();
    let (ia, init) = handshake::start(rng, pa);
    let (rb, resp) = handshake::respond(rng, pb, &init).unwrap();
    let (a, confirm) = ia.receive_response(&resp).unwrap();
    (a, rb.receive_confirm(&confirm).unwrap())
}

/// Every parser of the suite, and the handshake and ratchet, on arbitrary bytes.
pub fn modern_decode(data: &[u8]) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    if let Ok(m) = ModernMessage::decode(data) {
        assert_eq!(m.encode(), data, "re-encoding changed the bytes");
        assert!(super::wire::is_modern(data));
        check_against_states(&mut rng, &m);
    }
    if let Ok(a) = Announce::decode(data) {
        assert_eq!(a.encode(), data);
    }
    // (An empty file parses as an empty store, which writes back as the header line.)
    if let (Ok(f), false) = (IdentityFile::parse(data), data.is_empty()) {
        let again = f.serialize().unwrap();
        assert_eq!(
            again.as_slice(),
            data,
            "identity file did not write back the same"
        );
    }
    check_mutated_data(&mut rng, data);
}

fn check_against_states(rng: &mut ChaCha20Rng, m: &ModernMessage) {
    match m {
        ModernMessage::Init(init) => {
            // Any outcome but a panic; a success needs our identity named.
            let (_pa, pb) = params();
            let ours = *pb.our_identity.public();
            if handshake::respond(rng, pb, init).is_ok() {
                assert_eq!(init.responder_identity, ours);
            }
        }
        ModernMessage::DirectInit(init) => {
            // Any outcome but a panic; a success needs every pinned value named.
            let (pa, pb) = direct_params();
            let ours = *pb.our_identity.public();
            if handshake::respond_direct(rng, pb, init).is_ok() {
                assert_eq!(init.responder_identity, ours);
                assert_eq!(init.initiator_identity, *pa.our_identity.public());
                assert_eq!(init.initiator_fingerprint, pa.initiator_fingerprint);
                assert_eq!(init.responder_fingerprint, pa.responder_fingerprint);
            }
        }
        ModernMessage::Response(resp) => {
            let (pa, _pb) = params();
            let (ia, _init) = handshake::start(rng, pa);
            // Nobody but the responder of this very handshake can produce its MAC.
            assert!(ia.receive_response(resp).is_err());
            let (da, _db) = direct_params();
            let (ia, _init) = handshake::start_direct(rng, da);
            assert!(ia.receive_response(resp).is_err());
        }
        ModernMessage::Confirm(c) => {
            let (pa, pb) = params();
            let (_ia, init) = handshake::start(rng, pa);
            let (rb, _resp) = handshake::respond(rng, pb, &init).unwrap();
            assert!(rb.receive_confirm(c).is_err());
            let (da, db) = direct_params();
            let (_ia, init) = handshake::start_direct(rng, da);
            let (rb, _resp) = handshake::respond_direct(rng, db, &init).unwrap();
            assert!(rb.receive_confirm(c).is_err());
        }
        ModernMessage::Data(d) => {
            let (mut a, mut b) = session(rng);
            assert!(b.decrypt(rng, d).is_err(), "a forged data message opened");
            assert!(a.decrypt(rng, d).is_err(), "a forged data message opened");
            let genuine = a.encrypt(b"still works", false).unwrap();
            assert_eq!(
                b.decrypt(rng, &genuine).unwrap().plaintext.as_slice(),
                b"still works"
            );
        }
    }
}

fn check_mutated_data(rng: &mut ChaCha20Rng, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let (mut a, mut b) = session(rng);
    let genuine = a.encrypt(b"genuine", false).unwrap();
    let mut bytes = genuine.encode();
    for (i, x) in data.iter().enumerate().take(bytes.len() * 2) {
        let idx = i % bytes.len();
        bytes[idx] ^= x;
    }
    if let Ok(ModernMessage::Data(d)) = ModernMessage::decode(&bytes) {
        let changed = d != genuine;
        match b.decrypt(rng, &d) {
            Ok(r) => {
                // Only the revealed keys lie outside the MAC.
                let same = Data {
                    revealed: genuine.revealed.clone(),
                    ..d.clone()
                };
                assert!(same == genuine, "a modified message opened");
                assert_eq!(r.plaintext.as_slice(), b"genuine");
                return;
            }
            Err(_) => assert!(changed),
        }
    }
    assert_eq!(
        b.decrypt(rng, &genuine).unwrap().plaintext.as_slice(),
        b"genuine"
    );
}

/// Seed inputs for `fuzz/corpus/modern_decode/`: one genuine message of each kind, a data
/// message with KEM fields, an announcement and an identity file.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let (pa, pb) = params();
    let (ia, init) = handshake::start(&mut rng, pa);
    let (rb, resp) = handshake::respond(&mut rng, pb, &init).unwrap();
    let (mut a, confirm) = ia.receive_response(&resp).unwrap();
    let mut b = rb.receive_confirm(&confirm).unwrap();
    let mut out = vec![init.encode(), resp.encode(), confirm.encode()];
    // A direct start's three messages.
    let (da, db) = direct_params();
    let (dia, dinit) = handshake::start_direct(&mut rng, da);
    let (_drb, dresp) = handshake::respond_direct(&mut rng, db, &dinit).unwrap();
    let (_d, dconfirm) = dia.receive_response(&dresp).unwrap();
    out.extend([dinit.encode(), dresp.encode(), dconfirm.encode()]);
    // Turn until a chain opens a KEM round, keeping one data message of each shape.
    let (mut ek_seen, mut ct_seen) = (false, false);
    for turn in 0..(4 * super::KEM_INTERVAL) {
        let (s, r) = if turn % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        let m = s.encrypt(b"hello", false).unwrap();
        r.decrypt(&mut rng, &m).unwrap();
        let (ek, ct) = (m.header.kem_ek.is_some(), m.header.kem_ct.is_some());
        if turn < 2 || (ek && !ek_seen) || (ct && !ct_seen) {
            out.push(m.encode());
        }
        ek_seen |= ek;
        ct_seen |= ct;
    }
    out.push(
        Announce {
            suites: vec![super::SUITE_V1],
            identity: [9; 32],
        }
        .encode(),
    );
    let mut f = IdentityFile::default();
    f.set(
        "alice@example.org",
        "prpl-jabber",
        IdentityKey::from_secret_bytes(&[1; 32]),
    );
    out.push(f.serialize().unwrap().to_vec());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_pass_the_body_and_cover_kem_fields() {
        let seeds = super::seeds();
        assert!(seeds.len() >= 8);
        for s in &seeds {
            super::modern_decode(s);
        }
        // A few hostile shapes.
        super::modern_decode(&[]);
        super::modern_decode(&[0, 3, 0x33]);
        super::modern_decode(&[0, 3, 0x34]);
        super::modern_decode(&[0xff; 64]);
    }
}

/// `cargo test --no-default-features --features fuzzing --lib write_modern_corpus -- --ignored`
/// rewrites `fuzz/corpus/modern_decode/` (file names: SHA-256 prefixes of the contents).
#[cfg(test)]
#[test]
#[ignore = "writes the seed corpus"]
fn write_modern_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/modern_decode");
    std::fs::create_dir_all(&dir).unwrap();
    for s in seeds() {
        let name = super::prims::hex(&super::prims::sha256(&[&s])[..20]);
        std::fs::write(dir.join(name), s).unwrap();
    }
}
