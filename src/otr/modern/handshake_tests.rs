//! The handshake between two of our own sides (known answers are in `kat`).
#![allow(clippy::unwrap_used)]
use super::*;
use crate::otr::modern::ratchet::tests::{pair, params_pair, TestRng};

#[test]
fn handshake_then_both_directions() {
    let (mut a, mut b) = pair(1);
    let mut rng = TestRng::new(9);
    let m = a.encrypt(b"hi bob", false).unwrap();
    assert_eq!(
        b.decrypt(&mut rng, &m).unwrap().plaintext.as_slice(),
        b"hi bob"
    );
    let m = b.encrypt(b"hi alice", false).unwrap();
    assert_eq!(
        a.decrypt(&mut rng, &m).unwrap().plaintext.as_slice(),
        b"hi alice"
    );
    assert_eq!(a.transcript_hash(), b.transcript_hash());
}

#[test]
fn responder_may_send_first_after_confirm() {
    let (mut a, mut b) = pair(2);
    let mut rng = TestRng::new(3);
    for i in 0..3u8 {
        let m = b.encrypt(&[i], false).unwrap();
        assert_eq!(a.decrypt(&mut rng, &m).unwrap().plaintext.as_slice(), &[i]);
    }
}

#[test]
fn wrong_identity_or_binding_fails() {
    let mut rng = TestRng::new(4);
    // The responder expected someone else.
    let (pa, mut pb) = params_pair(5);
    pb.their_identity = [9; 32];
    let (_ia, init) = start(&mut rng, pa);
    assert_eq!(
        respond(&mut rng, pb, &init).unwrap_err(),
        ModernError::UnexpectedIdentity
    );
    // Different v3 keys on the two sides: the responder's MAC does not verify.
    let (pa, mut pb) = params_pair(5);
    pb.binding.v3_key = Zeroizing::new([0xee; 32]);
    let (ia, init) = start(&mut rng, pa);
    let (_rb, resp) = respond(&mut rng, pb, &init).unwrap();
    let failure = ia.receive_response(&resp).unwrap_err();
    assert_eq!(failure.error, ModernError::BadMac);
    // A different ssid, likewise.
    let (pa, mut pb) = params_pair(5);
    pb.binding.ssid = [1; 8];
    let (ia, init) = start(&mut rng, pa);
    let (_rb, resp) = respond(&mut rng, pb, &init).unwrap();
    assert_eq!(
        ia.receive_response(&resp).unwrap_err().error,
        ModernError::BadMac
    );
}

#[test]
fn tampered_response_and_confirm_fail_and_keep_state() {
    let mut rng = TestRng::new(6);
    let (pa, pb) = params_pair(7);
    let (ia, init) = start(&mut rng, pa);
    let (rb, resp) = respond(&mut rng, pb, &init).unwrap();
    let mut bad = resp.clone();
    bad.kem_ct[10] ^= 1;
    let failure = ia.receive_response(&bad).unwrap_err();
    assert_eq!(failure.error, ModernError::BadMac);
    // The state came back and still accepts the genuine response.
    let (_ra, confirm) = failure.state.receive_response(&resp).unwrap();
    let mut bad = confirm.clone();
    bad.mac[0] ^= 1;
    let failure = rb.receive_confirm(&bad).unwrap_err();
    assert_eq!(failure.error, ModernError::BadMac);
    failure.state.receive_confirm(&confirm).unwrap();
}

#[test]
fn data_confirms_when_confirm_is_lost() {
    let mut rng = TestRng::new(8);
    let (pa, pb) = params_pair(9);
    let (ia, init) = start(&mut rng, pa);
    let (rb, resp) = respond(&mut rng, pb, &init).unwrap();
    let (mut ra, _lost_confirm) = ia.receive_response(&resp).unwrap();
    let m = ra.encrypt(b"first", false).unwrap();
    let mut forged = m.clone();
    forged.ciphertext[0] ^= 1;
    let failure = rb.receive_data(&mut rng, &forged).unwrap_err();
    assert_eq!(failure.error, ModernError::BadMac);
    let (_rb, got) = failure.state.receive_data(&mut rng, &m).unwrap();
    assert_eq!(got.plaintext.as_slice(), b"first");
}

#[test]
fn small_order_ephemeral_is_refused() {
    let mut rng = TestRng::new(10);
    let (pa, pb) = params_pair(11);
    let (_ia, mut init) = start(&mut rng, pa);
    init.ephemeral = [0; 32];
    assert_eq!(
        respond(&mut rng, pb, &init).unwrap_err(),
        ModernError::BadKey
    );
}

/// The adversary of the two tests below: it has the v3 binding (ssid, K_v3, fingerprints),
/// every message on the wire, and whichever X25519 values `dh` gives it; it derives the
/// responder's keys and tries the initiator's first data message.
fn adversary_opens(dh: [[u8; 32]; 3], ss: [u8; 32], e_r: X25519Secret) -> bool {
    let (pa, pb) = params_pair(20);
    let (mut rng_i, mut rng_r) = (TestRng::new(21), TestRng::new(22));
    let (ia, init) = start(&mut rng_i, pa);
    let (_rb, resp) = respond(&mut rng_r, pb, &init).unwrap();
    let (mut ra, _confirm) = ia.receive_response(&resp).unwrap();
    let secret_message = ra.encrypt(b"secret", false).unwrap();
    let binding = Binding::V3(crate::otr::modern::ratchet::tests::binding());
    let th = transcript_hash(&binding, &init.encode(), &resp.encode_unauthenticated());
    let keys = derive(th, &dh[0], &dh[1], &dh[2], &ss, &binding);
    let mut eve = Ratchet::new_responder(
        th,
        Instances {
            sender: 0x202,
            receiver: 0x101,
        },
        keys.root,
        keys.responder_chain,
        e_r,
    );
    eve.decrypt(&mut TestRng::new(0), &secret_message).is_ok()
}

/// The honest run's X25519 values, recomputed from the secrets (what an adversary who can
/// solve discrete logarithms on Curve25519 would have).
fn true_dh() -> [[u8; 32]; 3] {
    let (pa, pb) = params_pair(20);
    let e_i = X25519Secret::random(&mut TestRng::new(21));
    let e_r = X25519Secret::random(&mut TestRng::new(22));
    [
        *pa.our_identity
            .secret()
            .diffie_hellman(&e_r.public())
            .unwrap(),
        *e_i.diffie_hellman(pb.our_identity.public()).unwrap(),
        *e_i.diffie_hellman(&e_r.public()).unwrap(),
    ]
}

fn responder_ephemeral() -> X25519Secret {
    X25519Secret::random(&mut TestRng::new(22))
}

#[test]
fn v3_secrets_alone_do_not_decrypt() {
    // With K_v3 and the rest of the binding, but none of the new suite's secrets.
    assert!(!adversary_opens(
        [[0; 32]; 3],
        [0; 32],
        X25519Secret::from_bytes(&[0x42; 32])
    ));
}

#[test]
fn without_the_kem_secret_nothing_opens() {
    // A quantum adversary: every X25519 value and K_v3, but not the ML-KEM secret.
    assert!(!adversary_opens(true_dh(), [0; 32], responder_ephemeral()));
    // The harness is sound: with the KEM secret as well it does open.
    let mut rng_r = TestRng::new(22);
    let _e_r = X25519Secret::random(&mut rng_r);
    let m = prims::draw32(&mut rng_r);
    let (pa, _pb) = params_pair(20);
    let (_ia, init) = start(&mut TestRng::new(21), pa);
    let (_ct, ss) = prims::kem_encapsulate(&init.kem_ek, &m).unwrap();
    assert!(adversary_opens(true_dh(), *ss, responder_ephemeral()));
}

#[test]
fn debug_hides_secrets() {
    let (pa, _pb) = params_pair(12);
    let text = format!("{pa:?}");
    assert!(text.contains("<secret>"));
    assert!(!text.contains(&prims::hex(&pa.binding.v3_key[..])));
}

/// Direct-start parameters for both sides from the v3 ones: the same identities and tags,
/// the v3 fingerprints of the binding as the pinned ones; the initiator addresses every
/// instance (receiver 0).
fn direct_pair(seed: u8) -> (DirectParams, DirectParams) {
    let (pa, pb) = params_pair(seed);
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

#[test]
fn a_direct_start_completes_and_talks_both_ways() {
    let mut rng = TestRng::new(30);
    let (pa, pb) = direct_pair(31);
    let (ia, init) = start_direct(&mut rng, pa);
    assert_eq!(init.encode().len(), DirectInit::LEN);
    let (rb, resp) = respond_direct(&mut rng, pb, &init).unwrap();
    let (mut a, confirm) = ia.receive_response(&resp).unwrap();
    // The ratchet runs with the instance that answered.
    assert_eq!(confirm.instances.receiver, resp.instances.sender);
    let mut b = rb.receive_confirm(&confirm).unwrap();
    assert_eq!(a.transcript_hash(), b.transcript_hash());
    let m = a.encrypt(b"direct hi", false).unwrap();
    assert_eq!(
        b.decrypt(&mut rng, &m).unwrap().plaintext.as_slice(),
        b"direct hi"
    );
    let m = b.encrypt(b"direct ho", false).unwrap();
    assert_eq!(
        a.decrypt(&mut rng, &m).unwrap().plaintext.as_slice(),
        b"direct ho"
    );
}

#[test]
fn the_direct_transcript_is_the_documented_one_and_not_the_v3_one() {
    let mut rng = TestRng::new(32);
    let (pa, pb) = direct_pair(33);
    let (ia, init) = start_direct(&mut rng, pa);
    let (rb, resp) = respond_direct(&mut rng, pb, &init).unwrap();
    let th = crate::otr::modern::prims::sha256(&[
        b"purple-otr modern v1 direct transcript",
        &init.encode(),
        &resp.encode_unauthenticated(),
    ]);
    assert_eq!(rb.transcript_hash(), &th);
    let v3 = transcript_hash(
        &Binding::V3(crate::otr::modern::ratchet::tests::binding()),
        &init.encode(),
        &resp.encode_unauthenticated(),
    );
    assert_ne!(v3, th);
    assert!(ia.receive_response(&resp).is_ok());
}

#[test]
fn a_direct_start_naming_other_keys_or_tags_is_refused() {
    let mut rng = TestRng::new(34);
    let cases: [fn(&mut DirectParams); 5] = [
        |p| p.their_identity = [9; 32],
        |p| p.initiator_fingerprint = [9; 20],
        |p| p.responder_fingerprint = [9; 20],
        |p| p.our_identity = IdentityKey::from_secret_bytes(&[0x42; 32]),
        |p| p.instances.receiver = 0x999,
    ];
    for (i, change) in cases.iter().enumerate() {
        let (pa, mut pb) = direct_pair(35);
        change(&mut pb);
        let (_ia, init) = start_direct(&mut rng, pa);
        let err = respond_direct(&mut rng, pb, &init).unwrap_err();
        let expected = if i == 4 {
            ModernError::UnexpectedMessage
        } else {
            ModernError::UnexpectedIdentity
        };
        assert_eq!(err, expected, "case {i}");
    }
    // A response bound to v3 does not complete a direct start (and the other way round).
    let (pa, _) = direct_pair(36);
    let (va, vb) = params_pair(36);
    let (ia, _init) = start_direct(&mut rng, pa);
    let (_v_ia, v_init) = start(&mut rng, va);
    let (_rb, v_resp) = respond(&mut rng, vb, &v_init).unwrap();
    assert_eq!(
        ia.receive_response(&v_resp).unwrap_err().error,
        ModernError::BadMac
    );
}
