//! Ratchet behaviour: both directions, loss, reordering, bounds, forward secrecy,
//! post-compromise recovery (classical and through the KEM ratchet), MAC-key reveal.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use zeroize::Zeroizing;

use super::*;
use crate::otr::modern::handshake::{self, HandshakeParams};
use crate::otr::modern::identity::IdentityKey;
use crate::otr::modern::V3Binding;

/// A seeded ChaCha20 (rand_core 0.6).
#[derive(Debug)]
pub(crate) struct TestRng(ChaCha20Rng);

impl TestRng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(ChaCha20Rng::seed_from_u64(seed))
    }
}

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}
impl CryptoRng for TestRng {}

pub(crate) fn binding() -> V3Binding {
    V3Binding {
        ssid: [0x55; 8],
        v3_key: Zeroizing::new([0x33; 32]),
        initiator_fingerprint: [0xa1; 20],
        responder_fingerprint: [0xb2; 20],
    }
}

pub(crate) fn params_pair(seed: u8) -> (HandshakeParams, HandshakeParams) {
    let ia = IdentityKey::from_secret_bytes(&[seed; 32]);
    let ib = IdentityKey::from_secret_bytes(&[seed.wrapping_add(100); 32]);
    let a = HandshakeParams {
        their_identity: *ib.public(),
        our_identity: ia.clone(),
        binding: binding(),
        instances: Instances {
            sender: 0x101,
            receiver: 0x202,
        },
    };
    let b = HandshakeParams {
        their_identity: *ia.public(),
        our_identity: ib,
        binding: binding(),
        instances: Instances {
            sender: 0x202,
            receiver: 0x101,
        },
    };
    (a, b)
}

/// Initiator and responder ratchets after a complete handshake.
pub(crate) fn pair(seed: u8) -> (Ratchet, Ratchet) {
    let mut rng = TestRng::new(u64::from(seed) + 1000);
    let (pa, pb) = params_pair(seed);
    let (ia, init) = handshake::start(&mut rng, pa);
    let (rb, resp) = handshake::respond(&mut rng, pb, &init).unwrap();
    let (a, confirm) = ia.receive_response(&resp).unwrap();
    let b = rb.receive_confirm(&confirm).unwrap();
    (a, b)
}

fn send(r: &mut Ratchet, text: &[u8]) -> Data {
    r.encrypt(text, false).unwrap()
}

fn recv(r: &mut Ratchet, rng: &mut TestRng, d: &Data) -> Vec<u8> {
    r.decrypt(rng, d).unwrap().plaintext.to_vec()
}

#[test]
fn long_conversation_with_kem_rounds() {
    let (mut a, mut b) = pair(1);
    let mut rng = TestRng::new(1);
    let (mut eks, mut cts, mut acks) = (0, 0, 0);
    for turn in 0..40u32 {
        let (s, r) = if turn % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        for k in 0..(turn % 3 + 1) {
            let text = format!("turn {turn} message {k}");
            let m = send(s, text.as_bytes());
            eks += usize::from(m.header.kem_ek.is_some());
            cts += usize::from(m.header.kem_ct.is_some());
            acks += usize::from(m.header.flags & FLAG_KEM_ACK != 0 && k == 0);
            // Re-encoding and decoding is the identity (what the wire does).
            let m = match crate::otr::modern::wire::ModernMessage::decode(&m.encode()).unwrap() {
                crate::otr::modern::wire::ModernMessage::Data(d) => d,
                _ => unreachable!(),
            };
            assert_eq!(recv(r, &mut rng, &m), text.as_bytes());
        }
    }
    // 40 turns, a round every KEM_INTERVAL chains per side: several complete rounds.
    assert!(eks >= 8, "eks {eks}");
    assert!(cts >= 7, "cts {cts}");
    assert!(acks >= 6, "acks {acks}");
}

#[test]
fn out_of_order_and_lost_messages_within_max_skip() {
    let (mut a, mut b) = pair(2);
    let mut rng = TestRng::new(2);
    let msgs: Vec<Data> = (0..10u8).map(|i| send(&mut a, &[i])).collect();
    // Deliver 9, 3, 0, 5; lose the rest.
    for i in [9usize, 3, 0, 5] {
        assert_eq!(recv(&mut b, &mut rng, &msgs[i]), vec![i as u8]);
    }
    // Replays are refused.
    assert_eq!(
        b.decrypt(&mut rng, &msgs[3]).unwrap_err(),
        ModernError::NoKey
    );
    assert_eq!(
        b.decrypt(&mut rng, &msgs[9]).unwrap_err(),
        ModernError::NoKey
    );
    // Turn the ratchet: B answers, A sends a new chain; A's old chain's stragglers still open.
    let m = send(&mut b, b"back");
    assert_eq!(recv(&mut a, &mut rng, &m), b"back");
    let late: Vec<Data> = (0..3u8).map(|i| send(&mut a, &[100 + i])).collect();
    assert_eq!(recv(&mut b, &mut rng, &late[2]), vec![102]);
    assert_eq!(recv(&mut b, &mut rng, &msgs[7]), vec![7]);
    assert_eq!(recv(&mut b, &mut rng, &late[0]), vec![100]);
    assert_eq!(recv(&mut b, &mut rng, &msgs[1]), vec![1]);
    // Still skipped: msgs 2, 4, 6, 8 and late[1].
    assert_eq!(b.skipped_keys(), 5);
}

#[test]
fn pn_skips_the_rest_of_the_closed_chain() {
    let (mut a, mut b) = pair(3);
    let mut rng = TestRng::new(3);
    let m0 = send(&mut a, b"0");
    recv(&mut b, &mut rng, &m0);
    let lost: Vec<Data> = (1..4u8).map(|i| send(&mut a, &[i])).collect();
    let r = send(&mut b, b"r");
    recv(&mut a, &mut rng, &r);
    // A's new chain says pn = 4: B keeps keys for 1..=3 before stepping.
    let n = send(&mut a, b"new chain");
    assert_eq!(n.header.pn, 4);
    recv(&mut b, &mut rng, &n);
    assert_eq!(b.skipped_keys(), 3);
    for (i, m) in lost.iter().enumerate().rev() {
        assert_eq!(recv(&mut b, &mut rng, m), vec![i as u8 + 1]);
    }
    assert_eq!(b.skipped_keys(), 0);
}

#[test]
fn beyond_max_skip_is_a_clear_error_and_changes_nothing() {
    let (mut a, mut b) = pair(4);
    let mut rng = TestRng::new(4);
    let first = send(&mut a, b"first");
    recv(&mut b, &mut rng, &first);
    let mut msgs = Vec::new();
    for i in 0..=MAX_SKIP + 1 {
        msgs.push(send(&mut a, &i.to_be_bytes()));
    }
    // msgs[k] has n = k + 1; from nr = 1, msgs[MAX_SKIP + 1] is MAX_SKIP + 1 ahead.
    let far = msgs.last().unwrap();
    assert_eq!(
        b.decrypt(&mut rng, far).unwrap_err(),
        ModernError::TooFarAhead
    );
    assert_eq!(b.skipped_keys(), 0);
    // Exactly MAX_SKIP ahead is fine.
    let edge = &msgs[MAX_SKIP as usize];
    assert_eq!(recv(&mut b, &mut rng, edge), MAX_SKIP.to_be_bytes());
    assert_eq!(b.skipped_keys(), MAX_SKIP as usize);
    // A forged n far ahead in a new chain: refused before any work.
    let mut forged = send(&mut a, b"x");
    forged.header.ratchet_key = [9; 32];
    forged.header.n = MAX_SKIP + 1;
    assert_eq!(
        b.decrypt(&mut rng, &forged).unwrap_err(),
        ModernError::TooFarAhead
    );
    forged.header.n = 0;
    forged.header.pn = u32::MAX;
    assert_eq!(
        b.decrypt(&mut rng, &forged).unwrap_err(),
        ModernError::TooFarAhead
    );
}

#[test]
fn skipped_keys_are_capped_in_total() {
    let (mut a, mut b) = pair(5);
    let mut rng = TestRng::new(5);
    // Each round A sends MAX_SKIP + 1 messages of which B sees only the last.
    for _ in 0..3 {
        let mut last = None;
        for _ in 0..=MAX_SKIP {
            last = Some(send(&mut a, b"."));
        }
        recv(&mut b, &mut rng, &last.unwrap());
        assert!(b.skipped_keys() <= MAX_SKIPPED_KEYS);
        let r = send(&mut b, b"r");
        recv(&mut a, &mut rng, &r);
    }
    assert_eq!(b.skipped_keys(), MAX_SKIPPED_KEYS);
}

#[test]
fn tampering_fails_and_changes_nothing() {
    let (mut a, mut b) = pair(6);
    let mut rng = TestRng::new(6);
    let m = send(&mut a, b"genuine");
    let mut variants = Vec::new();
    let mut t = m.clone();
    t.ciphertext[0] ^= 1;
    variants.push(t);
    let mut t = m.clone();
    t.header.flags ^= FLAG_IGNORE_UNREADABLE;
    variants.push(t);
    let mut t = m.clone();
    t.header.pn += 1;
    variants.push(t);
    let mut t = m.clone();
    t.mac[31] ^= 1;
    variants.push(t);
    let mut t = m.clone();
    t.header.n = 1;
    variants.push(t);
    for v in &variants {
        let before = b.skipped_keys();
        assert_eq!(
            b.decrypt(&mut rng, v).unwrap_err(),
            ModernError::BadMac,
            "{v:?}"
        );
        assert_eq!(b.skipped_keys(), before);
    }
    // A KEM ack nobody asked for.
    let mut t = m.clone();
    t.header.flags |= FLAG_KEM_ACK;
    assert_eq!(
        b.decrypt(&mut rng, &t).unwrap_err(),
        ModernError::ProtocolViolation
    );
    // Revealed keys are outside the MAC: changing them does not matter.
    let mut t = m.clone();
    t.revealed.push([1; 32]);
    assert_eq!(recv(&mut b, &mut rng, &t), b"genuine");
    // Wrong instance tags or suite.
    let mut t = send(&mut a, b"y");
    t.instances.sender = 0x999;
    assert_eq!(
        b.decrypt(&mut rng, &t).unwrap_err(),
        ModernError::UnexpectedMessage
    );
    t.instances.sender = 0x101;
    t.suite = 2;
    assert_eq!(
        b.decrypt(&mut rng, &t).unwrap_err(),
        ModernError::UnsupportedSuite(2)
    );
}

#[test]
fn forward_secrecy_exposed_state_does_not_open_earlier_messages() {
    let (mut a, mut b) = pair(7);
    let mut rng = TestRng::new(7);
    let mut history = Vec::new();
    for turn in 0..6 {
        let (s, r) = if turn % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        for k in 0..3u8 {
            let m = send(s, &[turn, k]);
            recv(r, &mut rng, &m);
            history.push((turn % 2 == 0, m));
        }
    }
    // The adversary takes both complete states now.
    let mut exposed_a = a.clone();
    let mut exposed_b = b.clone();
    for (to_b, m) in &history {
        let target = if *to_b {
            &mut exposed_b
        } else {
            &mut exposed_a
        };
        let err = target.decrypt(&mut rng, m).unwrap_err();
        assert!(
            matches!(err, ModernError::NoKey | ModernError::BadMac),
            "{err:?}"
        );
    }
    // Nor do the chain keys the states hold walk back to an earlier message key: every key
    // the exposed receiving chain yields from here differs from every earlier one.
    let ckr = exposed_b.ckr.clone().unwrap();
    let mut chain = ckr;
    let mut future = Vec::new();
    for _ in 0..50 {
        let (mk, next) = kdf_ck(&chain);
        chain = next;
        future.push(message_keys(&mk).auth);
    }
    for (_, m) in &history {
        for auth in &future {
            let mac = data_mac(auth, exposed_b.transcript_hash(), &m.encode_authenticated());
            assert!(!mac_eq(&mac, &m.mac));
        }
    }
}

#[test]
fn post_compromise_recovery_after_the_next_turn() {
    let (mut a, mut b) = pair(8);
    let mut rng = TestRng::new(8);
    let m = send(&mut a, b"before");
    recv(&mut b, &mut rng, &m);
    // The adversary copies B's whole state; it runs with its own randomness.
    let mut eve = b.clone();
    let mut eve_rng = TestRng::new(666);
    // Until the ratchet turns, A's messages are readable to the adversary: the exposure is real.
    let m = send(&mut a, b"still exposed");
    assert_eq!(recv(&mut eve, &mut eve_rng, &m), b"still exposed");
    recv(&mut b, &mut rng, &m);
    // B answers under the ratchet key it had when copied; A turns with a fresh key, but the
    // DH with B's exposed key still gives the adversary A's new chain.
    let r = send(&mut b, b"turn 1");
    recv(&mut a, &mut rng, &r);
    let m = send(&mut a, b"exposed new chain");
    assert_eq!(recv(&mut eve, &mut eve_rng, &m), b"exposed new chain");
    recv(&mut b, &mut rng, &m);
    // B has now turned too, with a key drawn after the exposure; once A answers that key,
    // everything is secret again.
    let r = send(&mut b, b"turn 2");
    recv(&mut a, &mut rng, &r);
    for text in [&b"healed 1"[..], b"healed 2"] {
        let m = send(&mut a, text);
        assert_eq!(recv(&mut b, &mut rng, &m), text);
        assert!(eve.decrypt(&mut eve_rng, &m).is_err());
    }
    // And B's following chain as well (the adversary's copy of A cannot read it either).
    let r = send(&mut b, b"healed 3");
    assert_eq!(recv(&mut a, &mut rng, &r), b"healed 3");
}

/// The KEM ratchet matters: an adversary who can compute every X25519 secret (a quantum
/// adversary, modelled here by giving it B's complete state at the start of a KEM round,
/// DH secrets and all) but not the ML-KEM secret is locked out once the round completes.
#[test]
fn kem_round_mixes_a_secret_the_dh_ratchet_does_not_have() {
    let (mut a, mut b) = pair(9);
    let mut rng = TestRng::new(9);
    // Turn until A's next chain opens a KEM round.
    let mut turns = 0;
    loop {
        let m = send(&mut a, b"a");
        let opens = m.header.kem_ek.is_some();
        recv(&mut b, &mut rng, &m);
        if opens {
            break;
        }
        let r = send(&mut b, b"b");
        recv(&mut a, &mut rng, &r);
        turns += 1;
        assert!(turns < 2 * KEM_INTERVAL, "no KEM round opened");
    }
    // B answers with the ciphertext; A's next chain acknowledges it.
    let r = send(&mut b, b"ct");
    assert!(r.header.kem_ct.is_some());
    recv(&mut a, &mut rng, &r);
    let ack = send(&mut a, b"ack");
    assert!(ack.header.flags & FLAG_KEM_ACK != 0);
    // The adversary knows B's state but its pending KEM secret is replaced by a guess.
    let mut eve = b.clone();
    eve.pending_ss = Some(Zeroizing::new([0; 32]));
    let mut eve_rng = TestRng::new(9);
    assert_eq!(
        eve.decrypt(&mut eve_rng, &ack).unwrap_err(),
        ModernError::BadMac
    );
    assert_eq!(recv(&mut b, &mut rng, &ack), b"ack");
}

#[test]
fn lost_kem_messages_only_delay_the_round() {
    let (mut a, mut b) = pair(10);
    let mut rng = TestRng::new(10);
    for _ in 0..(4 * KEM_INTERVAL) {
        // Every chain's first message is lost: no KEM field ever arrives.
        let _lost = send(&mut a, b"lost");
        let m = send(&mut a, b"a");
        assert_eq!(recv(&mut b, &mut rng, &m), b"a");
        let _lost = send(&mut b, b"lost");
        let r = send(&mut b, b"b");
        assert_eq!(recv(&mut a, &mut rng, &r), b"b");
        assert!(m.header.flags & FLAG_KEM_ACK == 0);
    }
}

#[test]
fn mac_keys_are_revealed_and_useless() {
    let (mut a, mut b) = pair(11);
    let mut rng = TestRng::new(11);
    let ms: Vec<Data> = (0..3u8).map(|i| send(&mut a, &[i])).collect();
    for m in &ms {
        recv(&mut b, &mut rng, m);
    }
    let r = send(&mut b, b"reply");
    assert_eq!(r.revealed.len(), 3);
    assert_eq!(a.decrypt(&mut rng, &r).unwrap().revealed, 3);
    // With a revealed MAC key anyone can forge message 0's MAC — and B refuses it anyway.
    let mut forged = ms[0].clone();
    forged.ciphertext = b"forged".to_vec();
    forged.mac = data_mac(
        &r.revealed[0],
        b.transcript_hash(),
        &forged.encode_authenticated(),
    );
    assert_eq!(
        b.decrypt(&mut rng, &forged).unwrap_err(),
        ModernError::NoKey
    );
    // Nothing left to reveal.
    assert!(send(&mut b, b"again").revealed.is_empty());
}

#[test]
fn reveal_queue_is_bounded_and_paced() {
    let (mut a, mut b) = pair(12);
    let mut rng = TestRng::new(12);
    for _ in 0..(MAX_PENDING_REVEAL + 10) {
        let m = send(&mut a, b".");
        recv(&mut b, &mut rng, &m);
    }
    assert_eq!(b.reveal.len(), MAX_PENDING_REVEAL);
    assert_eq!(send(&mut b, b"r").revealed.len(), MAX_REVEAL_PER_MESSAGE);
}

#[test]
fn counter_exhaustion_is_an_error() {
    let (mut a, mut b) = pair(13);
    let mut rng = TestRng::new(13);
    a.ns = u32::MAX - 1;
    let m = a.encrypt(b"last", false).unwrap();
    assert_eq!(
        a.encrypt(b"one too many", false).unwrap_err(),
        ModernError::CounterExhausted
    );
    // The receiver refuses a message that far ahead rather than walk to it.
    assert_eq!(
        b.decrypt(&mut rng, &m).unwrap_err(),
        ModernError::TooFarAhead
    );
}

#[test]
fn debug_shows_no_key_material() {
    let (a, _b) = pair(14);
    let text = format!("{a:?}");
    assert!(!text.contains(&prims::hex(&a.rk[..])));
    assert!(!text.contains(&prims::hex(&a.cks[..])));
    assert!(text.contains("Ratchet"));
}

#[test]
fn state_memory_is_bounded() {
    // Printed by the bench; here only its order of magnitude.
    let bytes = Ratchet::max_state_bytes();
    assert!(bytes < 200 * 1024, "{bytes}");
}

/// A link that reorders, drops and duplicates, driven by seeded randomness: every delivered
/// message opens to exactly what was sent, or is refused as a replay (never a wrong
/// plaintext, never a panic); both sides keep talking afterwards.
#[test]
fn random_lossy_reordering_link() {
    for seed in 0..6u64 {
        let (mut a, mut b) = pair(20 + seed as u8);
        let mut rng = TestRng::new(seed);
        let mut link = TestRng::new(seed + 100);
        // In flight: (to_b, plaintext, message).
        let mut flight: Vec<(bool, Vec<u8>, Data)> = Vec::new();
        let mut opened = 0;
        for step in 0..400u32 {
            let r = link.next_u32();
            if r % 3 == 0 || flight.is_empty() {
                let to_b = link.next_u32() % 2 == 0;
                let text = format!("{seed}/{step}").into_bytes();
                let s = if to_b { &mut a } else { &mut b };
                let m = send(s, &text);
                flight.push((to_b, text, m));
                continue;
            }
            // Deliver a random in-flight message; sometimes keep it to deliver again.
            let i = (link.next_u32() as usize) % flight.len();
            let (to_b, text, m) = if link.next_u32() % 8 == 0 {
                flight[i].clone()
            } else {
                flight.swap_remove(i)
            };
            if link.next_u32() % 10 == 0 {
                continue; // lost
            }
            let target = if to_b { &mut b } else { &mut a };
            match target.decrypt(&mut rng, &m) {
                Ok(got) => {
                    assert_eq!(got.plaintext.as_slice(), text.as_slice());
                    opened += 1;
                }
                Err(e) => assert!(
                    matches!(e, ModernError::NoKey | ModernError::TooFarAhead),
                    "seed {seed} step {step}: {e:?}"
                ),
            }
        }
        assert!(opened > 100, "seed {seed}: only {opened} opened");
        // Still talking both ways.
        let m = send(&mut a, b"end a");
        assert_eq!(recv(&mut b, &mut rng, &m), b"end a");
        let m = send(&mut b, b"end b");
        assert_eq!(recv(&mut a, &mut rng, &m), b"end b");
    }
}
