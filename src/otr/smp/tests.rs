//! State-machine tests: Alice ↔ Bob runs, aborts, wrong states, tampering, malformed payloads,
//! and a known-answer run against coyim/otr3's fixed vectors.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::*;
use crate::otr::test_util::unhex;
use crate::otr::wire::writer::Writer;

#[path = "otr3_vectors.rs"]
mod otr3;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

const SSID: [u8; 8] = [0x5a, 0x11, 0xce, 0x0b, 0x0b, 0x1d, 0x2e, 0x77];

/// Alice's and Bob's view of the same session.
fn contexts() -> (SmpContext, SmpContext) {
    let a = Fingerprint([0xa1; 20]);
    let b = Fingerprint([0xb2; 20]);
    (
        SmpContext {
            our_fingerprint: a,
            their_fingerprint: b,
            ssid: SSID,
        },
        SmpContext {
            our_fingerprint: b,
            their_fingerprint: a,
            ssid: SSID,
        },
    )
}

fn hex(s: &str) -> Int {
    modp::from_be_bytes(&unhex(s)).expect("fits")
}

fn abort_tlv() -> Tlv {
    Tlv::empty(tlv::SMP_ABORT)
}

/// Asserts an exchange ended in `event` with an abort sent and the state reset.
fn assert_reset_with(smp: &Smp, out: &SmpOutcome, event: SmpEvent) {
    assert_eq!(out.event, Some(event));
    assert_eq!(out.reply, Some(abort_tlv()));
    assert_eq!(smp.state(), SmpState::Expect1);
    assert!(!smp.is_in_progress());
}

/// The messages of one complete exchange, and snapshots of each receiver just before it
/// processes the next message.
struct Transcript {
    smp1: Tlv,
    smp2: Tlv,
    smp3: Tlv,
    smp4: Tlv,
    bob_idle: Smp,
    alice_expect2: Smp,
    bob_expect3: Smp,
    alice_expect4: Smp,
    alice_end: SmpOutcome,
    bob_end: SmpOutcome,
}

fn run(
    r: &mut ChaCha20Rng,
    alice: &mut Smp,
    bob: &mut Smp,
    alice_secret: &[u8],
    bob_secret: &[u8],
    question: Option<&str>,
) -> Transcript {
    let (actx, bctx) = contexts();
    let bob_idle = bob.clone();
    let smp1 = alice
        .start(r, &actx, alice_secret, question)
        .expect("start");
    assert_eq!(
        smp1.kind,
        if question.is_some() {
            tlv::SMP1Q
        } else {
            tlv::SMP1
        }
    );
    assert_eq!(alice.state(), SmpState::Expect2);

    let out = bob.handle(r, &smp1);
    let expected = match question {
        Some(q) => SmpEvent::AskForAnswer {
            question: q.to_owned(),
        },
        None => SmpEvent::AskForSecret,
    };
    assert_eq!(out.event, Some(expected));
    assert_eq!(out.reply, None);
    assert!(bob.is_awaiting_secret());
    assert_eq!(bob.state(), SmpState::Expect1);

    let smp2 = bob.respond(r, &bctx, bob_secret).expect("respond");
    assert_eq!(smp2.kind, tlv::SMP2);
    assert_eq!(bob.state(), SmpState::Expect3);

    let alice_expect2 = alice.clone();
    let out = alice.handle(r, &smp2);
    assert_eq!(out.event, Some(SmpEvent::InProgress));
    let smp3 = out.reply.expect("SMP3");
    assert_eq!(smp3.kind, tlv::SMP3);
    assert_eq!(alice.state(), SmpState::Expect4);

    let bob_expect3 = bob.clone();
    let bob_end = bob.handle(r, &smp3);
    let smp4 = bob_end
        .reply
        .clone()
        .expect("SMP4 is sent on success and on failure");
    assert_eq!(smp4.kind, tlv::SMP4);
    assert_eq!(bob.state(), SmpState::Expect1);

    let alice_expect4 = alice.clone();
    let alice_end = alice.handle(r, &smp4);
    assert_eq!(alice_end.reply, None);
    assert_eq!(alice.state(), SmpState::Expect1);
    assert!(!alice.is_in_progress() && !bob.is_in_progress());

    Transcript {
        smp1,
        smp2,
        smp3,
        smp4,
        bob_idle,
        alice_expect2,
        bob_expect3,
        alice_expect4,
        alice_end,
        bob_end,
    }
}

fn fresh_run(seed: u64, a: &[u8], b: &[u8], question: Option<&str>) -> Transcript {
    run(
        &mut rng(seed),
        &mut Smp::new(),
        &mut Smp::new(),
        a,
        b,
        question,
    )
}

#[test]
fn equal_secrets_succeed_on_both_sides() {
    let t = fresh_run(1, b"open sesame", b"open sesame", None);
    assert_eq!(t.alice_end.event, Some(SmpEvent::Success));
    assert_eq!(t.bob_end.event, Some(SmpEvent::Success));
    assert!(t.alice_end.we_initiated && !t.bob_end.we_initiated);
    assert!(!t.alice_end.question && !t.bob_end.question);
    assert_eq!(t.alice_end.trust, Some(true));
    assert_eq!(t.bob_end.trust, Some(true));
}

#[test]
fn different_secrets_fail_on_both_sides() {
    let t = fresh_run(2, b"open sesame", b"open sesame!", None);
    assert_eq!(t.alice_end.event, Some(SmpEvent::Failure));
    assert_eq!(t.bob_end.event, Some(SmpEvent::Failure));
    assert_eq!(t.alice_end.trust, Some(false));
    assert_eq!(t.bob_end.trust, Some(false));
}

#[test]
fn question_reaches_responder_who_sets_no_trust() {
    let q = "Where did we first meet?";
    let t = fresh_run(3, b"in Lisbon", b"in Lisbon", Some(q));
    assert_eq!(t.alice_end.event, Some(SmpEvent::Success));
    assert_eq!(t.bob_end.event, Some(SmpEvent::Success));
    assert!(t.alice_end.question && t.bob_end.question);
    assert_eq!(t.alice_end.trust, Some(true), "the asker trusts");
    assert_eq!(
        t.bob_end.trust, None,
        "the answerer learns nothing about the asker's key"
    );

    let t = fresh_run(4, b"in Lisbon", b"in Porto", Some(q));
    assert_eq!(t.alice_end.event, Some(SmpEvent::Failure));
    assert_eq!(t.bob_end.event, Some(SmpEvent::Failure));
    assert_eq!(t.alice_end.trust, Some(false));
    assert_eq!(t.bob_end.trust, None);
}

#[test]
fn secret_is_bound_to_fingerprints_and_session() {
    let mut r = rng(5);
    let (actx, bctx) = contexts();
    // Bob sees another key for "Alice" (a man in the middle): same passphrase, still fails.
    let mitm_ctx = SmpContext {
        their_fingerprint: Fingerprint([0xee; 20]),
        ..bctx
    };
    // Bob's session id differs.
    let other_ssid = SmpContext {
        ssid: [0; 8],
        ..bctx
    };
    // Bob mixes up the roles (uses his fingerprint as the initiator's).
    let swapped = SmpContext {
        our_fingerprint: actx.our_fingerprint,
        their_fingerprint: bctx.our_fingerprint,
        ..bctx
    };
    for bob_ctx in [mitm_ctx, other_ssid, swapped] {
        let (mut alice, mut bob) = (Smp::new(), Smp::new());
        let smp1 = alice.start(&mut r, &actx, b"pass", None).expect("start");
        bob.handle(&mut r, &smp1);
        let smp2 = bob.respond(&mut r, &bob_ctx, b"pass").expect("respond");
        let smp3 = alice.handle(&mut r, &smp2).reply.expect("smp3");
        let bob_end = bob.handle(&mut r, &smp3);
        let alice_end = alice.handle(&mut r, &bob_end.reply.expect("smp4"));
        assert_eq!(bob_end.event, Some(SmpEvent::Failure));
        assert_eq!(alice_end.event, Some(SmpEvent::Failure));
    }
}

#[test]
fn combined_secret_matches_otr3() {
    // otr3 smp_test.go Test_generateSMPSecretGeneratesASecret.
    let alice = Fingerprint(
        *b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14",
    );
    let bob = Fingerprint(*b"123456789:;<=>?@ABCD");
    let ssid = [0xff, 0xf1, 0xd1, 0xe4, 0x12, 0x34, 0x56, 0x68];
    let x = combined_secret(&alice, &bob, &ssid, b"this is something secret");
    assert_eq!(*x, hex(otr3::SECRET));
    assert_ne!(
        *combined_secret(&bob, &alice, &ssid, b"this is something secret"),
        *x
    );
}

/// Each side aborts at each point; the other side sees Aborted; both can run again.
#[test]
fn abort_at_every_step_by_either_side() {
    let mut r = rng(6);
    let (actx, bctx) = contexts();
    for step in 0..3 {
        for alice_aborts in [true, false] {
            let (mut alice, mut bob) = (Smp::new(), Smp::new());
            let smp1 = alice.start(&mut r, &actx, b"s", None).expect("start");
            bob.handle(&mut r, &smp1);
            if step >= 1 {
                let smp2 = bob.respond(&mut r, &bctx, b"s").expect("respond");
                if step >= 2 {
                    let smp3 = alice.handle(&mut r, &smp2).reply.expect("smp3");
                    assert_eq!(smp3.kind, tlv::SMP3);
                    assert_eq!(alice.state(), SmpState::Expect4);
                    assert_eq!(bob.state(), SmpState::Expect3);
                }
            }
            let (aborter, other) = if alice_aborts {
                (&mut alice, &mut bob)
            } else {
                (&mut bob, &mut alice)
            };
            assert!(aborter.is_in_progress());
            let abort = aborter.abort();
            assert_eq!(abort, abort_tlv());
            assert!(!aborter.is_in_progress());
            let out = other.handle(&mut r, &abort);
            assert_eq!(out.event, Some(SmpEvent::Aborted));
            assert_eq!(out.reply, None, "an abort is never answered");
            assert!(!other.is_in_progress());
            assert_eq!(other.state(), SmpState::Expect1);

            let t = run(&mut r, &mut alice, &mut bob, b"again", b"again", None);
            assert_eq!(t.alice_end.event, Some(SmpEvent::Success), "step {step}");
            assert_eq!(t.bob_end.event, Some(SmpEvent::Success), "step {step}");
        }
    }
}

#[test]
fn message_in_flight_after_abort_is_an_error_not_a_panic() {
    let mut r = rng(7);
    let (actx, bctx) = contexts();
    let (mut alice, mut bob) = (Smp::new(), Smp::new());
    let smp1 = alice.start(&mut r, &actx, b"s", None).expect("start");
    bob.handle(&mut r, &smp1);
    let abort = alice.abort();
    // Bob answered before the abort reached him.
    let smp2 = bob.respond(&mut r, &bctx, b"s").expect("respond");
    let out = alice.handle(&mut r, &smp2);
    assert_reset_with(&alice, &out, SmpEvent::Error);
    assert_eq!(bob.handle(&mut r, &abort).event, Some(SmpEvent::Aborted));
    assert_eq!(
        bob.handle(&mut r, &abort_tlv()).event,
        Some(SmpEvent::Aborted)
    );
    assert!(!bob.is_in_progress());
}

#[test]
fn both_initiating_at_once_aborts_both_then_works() {
    let mut r = rng(8);
    let (actx, bctx) = contexts();
    let (mut alice, mut bob) = (Smp::new(), Smp::new());
    let from_alice = alice.start(&mut r, &actx, b"s", None).expect("start");
    let from_bob = bob.start(&mut r, &bctx, b"s", Some("q?")).expect("start");
    // libotr: an SMP1 outside EXPECT1 is an error, which pidgin-otr answers with an abort.
    let a_out = alice.handle(&mut r, &from_bob);
    let b_out = bob.handle(&mut r, &from_alice);
    assert_reset_with(&alice, &a_out, SmpEvent::Error);
    assert_reset_with(&bob, &b_out, SmpEvent::Error);
    assert!(a_out.we_initiated && b_out.we_initiated);
    assert!(b_out.question && !a_out.question);
    assert_eq!(
        alice.handle(&mut r, &b_out.reply.expect("abort")).event,
        Some(SmpEvent::Aborted)
    );
    assert_eq!(
        bob.handle(&mut r, &a_out.reply.expect("abort")).event,
        Some(SmpEvent::Aborted)
    );
    let t = run(&mut r, &mut bob, &mut alice, b"s", b"s", None);
    assert_eq!(t.alice_end.event, Some(SmpEvent::Success));
    assert_eq!(t.bob_end.event, Some(SmpEvent::Success));
}

#[test]
fn restart_overwrites_and_new_smp1_replaces_pending_one() {
    let mut r = rng(9);
    let (actx, bctx) = contexts();
    let (mut alice, mut bob) = (Smp::new(), Smp::new());
    let first = alice
        .start(&mut r, &actx, b"old", Some("first?"))
        .expect("start");
    let second = alice.start(&mut r, &actx, b"new", None).expect("restart");
    assert_eq!(alice.state(), SmpState::Expect2);

    // Bob answers the first SMP1: Alice's state no longer matches it, which she detects.
    let mut stale_bob = Smp::new();
    stale_bob.handle(&mut r, &first);
    let stale_smp2 = stale_bob.respond(&mut r, &bctx, b"old").expect("respond");
    let mut alice_copy = alice.clone();
    let out = alice_copy.handle(&mut r, &stale_smp2);
    assert_reset_with(&alice_copy, &out, SmpEvent::Cheated);

    // Bob sees both SMP1s; the later one replaces the earlier while he is asked.
    let out = bob.handle(&mut r, &first);
    assert_eq!(
        out.event,
        Some(SmpEvent::AskForAnswer {
            question: "first?".into()
        })
    );
    let out = bob.handle(&mut r, &second);
    assert_eq!(out.event, Some(SmpEvent::AskForSecret));
    assert!(!out.question);
    let smp2 = bob.respond(&mut r, &bctx, b"new").expect("respond");
    let smp3 = alice.handle(&mut r, &smp2).reply.expect("smp3");
    let bob_end = bob.handle(&mut r, &smp3);
    assert_eq!(bob_end.event, Some(SmpEvent::Success));
    let alice_end = alice.handle(&mut r, &bob_end.reply.expect("smp4"));
    assert_eq!(alice_end.event, Some(SmpEvent::Success));
}

#[test]
fn every_message_in_every_wrong_state_is_an_error() {
    let t = fresh_run(10, b"x", b"x", None);
    let smp1q = fresh_run(11, b"x", b"x", Some("q")).smp1;
    let mut r = rng(12);
    let (actx, _) = contexts();

    let mut awaiting = Smp::new();
    awaiting.handle(&mut r, &t.smp1);
    assert!(awaiting.is_awaiting_secret());
    let mut expect2 = Smp::new();
    expect2.start(&mut r, &actx, b"x", None).expect("start");

    let states: [(&str, Smp); 5] = [
        ("idle", Smp::new()),
        ("awaiting secret", awaiting),
        ("expect2", expect2),
        ("expect3", t.bob_expect3.clone()),
        ("expect4", t.alice_expect4.clone()),
    ];
    let messages = [&t.smp1, &smp1q, &t.smp2, &t.smp3, &t.smp4];
    let accepts = |state: &str, kind: tlv::TlvType| match state {
        "idle" | "awaiting secret" => kind == tlv::SMP1 || kind == tlv::SMP1Q,
        "expect2" => kind == tlv::SMP2,
        "expect3" => kind == tlv::SMP3,
        _ => kind == tlv::SMP4,
    };
    let mut checked = 0;
    for (name, state) in &states {
        for msg in messages {
            if accepts(name, msg.kind) {
                continue;
            }
            let mut smp = state.clone();
            let out = smp.handle(&mut r, msg);
            assert_reset_with(&smp, &out, SmpEvent::Error);
            assert_eq!(out.trust, None, "{name} / {}", msg.kind);
            checked += 1;
        }
        // An abort is accepted everywhere and never answered.
        let mut smp = state.clone();
        let out = smp.handle(&mut r, &abort_tlv());
        assert_eq!(out.event, Some(SmpEvent::Aborted));
        assert_eq!(out.reply, None);
        assert!(!smp.is_in_progress());
        // TLVs that are not SMP's leave the state alone.
        for kind in [
            tlv::PADDING,
            tlv::DISCONNECTED,
            tlv::SYMKEY,
            tlv::TlvType(9),
            tlv::TlvType(0xffff),
        ] {
            let mut smp = state.clone();
            let out = smp.handle(
                &mut r,
                &Tlv {
                    kind,
                    value: t.smp2.value.clone(),
                },
            );
            assert_eq!(out, SmpOutcome::default());
            assert_eq!(smp.state(), state.state());
            assert_eq!(smp.is_awaiting_secret(), state.is_awaiting_secret());
        }
    }
    assert_eq!(checked, 2 * 3 + 3 * 4);
}

#[test]
fn respond_without_pending_request_is_refused() {
    let mut r = rng(13);
    let (actx, bctx) = contexts();
    let mut smp = Smp::new();
    assert_eq!(
        smp.respond(&mut r, &bctx, b"s"),
        Err(SmpError::NotAwaitingSecret)
    );
    smp.start(&mut r, &actx, b"s", None).expect("start");
    assert_eq!(
        smp.respond(&mut r, &bctx, b"s"),
        Err(SmpError::NotAwaitingSecret)
    );
    assert_eq!(
        smp.state(),
        SmpState::Expect2,
        "a refused call changes nothing"
    );
    // After an abort the pending request is gone.
    let mut bob = Smp::new();
    let smp1 = smp.start(&mut r, &actx, b"s", None).expect("start");
    bob.handle(&mut r, &smp1);
    bob.handle(&mut r, &abort_tlv());
    assert_eq!(
        bob.respond(&mut r, &bctx, b"s"),
        Err(SmpError::NotAwaitingSecret)
    );
}

/// Splits an SMP payload into its MPI magnitudes (test helper, trusts its input).
fn mpis_of(value: &[u8]) -> Vec<Vec<u8>> {
    let mut r = crate::otr::wire::reader::Reader::new(value);
    let n = r.int().expect("count");
    (0..n).map(|_| r.mpi().expect("mpi").to_vec()).collect()
}

fn payload_of(count: u32, mpis: &[Vec<u8>]) -> Vec<u8> {
    let mut w = Writer::new();
    w.int(count);
    for m in mpis {
        w.mpi(m);
    }
    w.into_vec()
}

/// For each message, the receiver snapshot that expects it.
fn receivers(t: &Transcript) -> [(&Tlv, &Smp); 4] {
    [
        (&t.smp1, &t.bob_idle),
        (&t.smp2, &t.alice_expect2),
        (&t.smp3, &t.bob_expect3),
        (&t.smp4, &t.alice_expect4),
    ]
}

/// Replacing any MPI of any message with a degenerate, out-of-range, random or slightly
/// altered value is detected as cheating: every value is range-checked or covered by a proof.
#[test]
fn tampered_values_are_cheating() {
    let t = fresh_run(14, b"same", b"same", None);
    let mut r = rng(15);
    let p_minus_1 = modp::P.wrapping_sub(&Int::ONE);
    let mut random = [0u8; 192];
    r.fill_bytes(&mut random);
    for (msg, receiver) in receivers(&t) {
        // The untouched message is accepted by this snapshot.
        let mut ok = receiver.clone();
        let out = ok.handle(&mut r, msg);
        assert_ne!(out.event, Some(SmpEvent::Cheated));

        let mpis = mpis_of(&msg.value);
        for i in 0..mpis.len() {
            let original = modp::from_be_bytes(&mpis[i]).expect("valid");
            let variants = [
                Vec::new(),
                vec![1],
                modp::to_mpi_bytes(&p_minus_1),
                modp::to_mpi_bytes(&modp::P),
                modp::to_mpi_bytes(&modp::Q),
                random.to_vec(),
                modp::to_mpi_bytes(&original.wrapping_add(&Int::ONE)),
                modp::to_mpi_bytes(&original.wrapping_sub(&Int::ONE)),
            ];
            for v in variants {
                let mut tampered = mpis.clone();
                tampered[i] = v;
                let tlv = Tlv {
                    kind: msg.kind,
                    value: payload_of(u32::try_from(mpis.len()).expect("small"), &tampered),
                };
                let mut smp = receiver.clone();
                let out = smp.handle(&mut r, &tlv);
                assert_reset_with(&smp, &out, SmpEvent::Cheated);
                // libotr clears trust when the final step fails (message.c set_smp_trust).
                let expect_trust = if msg.kind == tlv::SMP3 || msg.kind == tlv::SMP4 {
                    Some(false)
                } else {
                    None
                };
                assert_eq!(out.trust, expect_trust, "message {} mpi {i}", msg.kind);
            }
        }
    }
}

#[test]
fn wrong_counts_truncation_and_trailing_bytes_are_cheating() {
    let t = fresh_run(16, b"same", b"same", None);
    let mut r = rng(17);
    for (msg, receiver) in receivers(&t) {
        let mpis = mpis_of(&msg.value);
        let n = u32::try_from(mpis.len()).expect("small");
        let mut extra = mpis.clone();
        extra.push(vec![2]);
        let mut bad_payloads = vec![
            payload_of(n + 1, &mpis),
            payload_of(n - 1, &mpis),
            payload_of(n + 1, &extra),
            payload_of(n - 1, &mpis[..mpis.len() - 1]),
            payload_of(0, &[]),
            Vec::new(),
        ];
        let mut trailing = msg.value.clone();
        trailing.push(0);
        bad_payloads.push(trailing);
        for cut in [1, 3, 4, 5, 8, msg.value.len() / 2, msg.value.len() - 1] {
            bad_payloads.push(msg.value[..cut].to_vec());
        }
        for payload in bad_payloads {
            let mut smp = receiver.clone();
            let out = smp.handle(
                &mut r,
                &Tlv {
                    kind: msg.kind,
                    value: payload,
                },
            );
            assert_reset_with(&smp, &out, SmpEvent::Cheated);
        }
    }
}

#[test]
fn non_minimal_mpis_are_accepted_like_gcrypt_does() {
    let t = fresh_run(18, b"same", b"same", None);
    let mut r = rng(19);
    let mpis: Vec<Vec<u8>> = mpis_of(&t.smp1.value)
        .into_iter()
        .map(|m| [vec![0, 0], m].concat())
        .collect();
    let mut bob = t.bob_idle.clone();
    let out = bob.handle(
        &mut r,
        &Tlv {
            kind: tlv::SMP1,
            value: payload_of(6, &mpis),
        },
    );
    assert_eq!(out.event, Some(SmpEvent::AskForSecret));
}

#[test]
fn smp1q_question_edge_cases() {
    let t = fresh_run(20, b"s", b"s", None);
    let mut r = rng(21);
    let payload = t.smp1.value.clone();
    let with_question = |q: &[u8]| Tlv {
        kind: tlv::SMP1Q,
        value: [q, &[0], &payload].concat(),
    };

    // Empty question: accepted, as libotr does (pidgin-otr's dialog refuses to send one).
    let mut bob = Smp::new();
    let out = bob.handle(&mut r, &with_question(b""));
    assert_eq!(
        out.event,
        Some(SmpEvent::AskForAnswer {
            question: String::new()
        })
    );
    assert!(out.question);

    // Non-UTF-8 question bytes are shown lossily, never rejected or panicking.
    let mut bob = Smp::new();
    let out = bob.handle(&mut r, &with_question(b"caf\xe9?"));
    assert_eq!(
        out.event,
        Some(SmpEvent::AskForAnswer {
            question: "caf\u{fffd}?".into()
        })
    );

    // No NUL at all: the payload is missing, which libotr calls cheating.
    let mut bob = Smp::new();
    let out = bob.handle(
        &mut r,
        &Tlv {
            kind: tlv::SMP1Q,
            value: b"question".to_vec(),
        },
    );
    assert_reset_with(&bob, &out, SmpEvent::Cheated);
    // Only the NUL.
    let mut bob = Smp::new();
    let out = bob.handle(
        &mut r,
        &Tlv {
            kind: tlv::SMP1Q,
            value: vec![0],
        },
    );
    assert_reset_with(&bob, &out, SmpEvent::Cheated);
    // The SMP1 payload without a question in front: its first NUL splits it wrongly.
    let mut bob = Smp::new();
    let out = bob.handle(
        &mut r,
        &Tlv {
            kind: tlv::SMP1Q,
            value: payload.clone(),
        },
    );
    assert_reset_with(&bob, &out, SmpEvent::Cheated);
    // Zero length: message.c reports an error, not cheating.
    let mut bob = Smp::new();
    let out = bob.handle(&mut r, &Tlv::empty(tlv::SMP1Q));
    assert_reset_with(&bob, &out, SmpEvent::Error);
}

#[test]
fn question_length_limits() {
    let mut r = rng(22);
    let (actx, _) = contexts();
    let longest = "?".repeat(MAX_QUESTION_LEN);
    let mut alice = Smp::new();
    let tlv = alice
        .start(&mut r, &actx, b"s", Some(&longest))
        .expect("longest question fits");
    assert!(tlv.value.len() <= tlv::MAX_VALUE_LEN);
    let mut bob = Smp::new();
    let out = bob.handle(&mut r, &tlv);
    assert_eq!(
        out.event,
        Some(SmpEvent::AskForAnswer {
            question: longest.clone()
        })
    );

    let mut idle = Smp::new();
    let too_long = "?".repeat(MAX_QUESTION_LEN + 1);
    assert_eq!(
        idle.start(&mut r, &actx, b"s", Some(&too_long)),
        Err(SmpError::QuestionTooLong)
    );
    assert_eq!(
        idle.start(&mut r, &actx, b"s", Some("a\0b")),
        Err(SmpError::QuestionContainsNul)
    );
    assert!(!idle.is_in_progress(), "a refused start changes nothing");
}

#[test]
fn garbage_in_every_state_never_panics_or_succeeds() {
    let t = fresh_run(23, b"s", b"s", None);
    let mut r = rng(24);
    let states = [
        t.bob_idle.clone(),
        t.alice_expect2.clone(),
        t.bob_expect3.clone(),
        t.alice_expect4.clone(),
    ];
    let kinds = [tlv::SMP1, tlv::SMP1Q, tlv::SMP2, tlv::SMP3, tlv::SMP4];
    for round in 0..40usize {
        let len = [0, 1, 4, 7, 40, 300, 2000][round % 7];
        let mut value = vec![0u8; len];
        r.fill_bytes(&mut value);
        if round % 3 == 0 && len >= 4 {
            // A plausible count so decoding gets further.
            value[..4].copy_from_slice(&[0, 0, 0, [6u8, 11, 8, 3][round % 4]]);
        }
        for state in &states {
            for kind in kinds {
                let mut smp = state.clone();
                let out = smp.handle(
                    &mut r,
                    &Tlv {
                        kind,
                        value: value.clone(),
                    },
                );
                assert!(matches!(
                    out.event,
                    Some(SmpEvent::Error | SmpEvent::Cheated)
                ));
                assert_eq!(out.reply, Some(abort_tlv()));
                assert!(!smp.is_in_progress());
            }
        }
    }
}

#[test]
fn debug_output_hides_secrets() {
    let mut r = rng(25);
    let (actx, _) = contexts();
    let mut smp = Smp::new();
    smp.start(&mut r, &actx, b"hunter2", None).expect("start");
    let shown = format!("{smp:?}");
    assert_eq!(
        shown,
        "Smp { state: \"SMPSTATE_EXPECT2\", awaiting_secret: false }"
    );
    assert_eq!(SmpState::Expect3.to_string(), "SMPSTATE_EXPECT3");
}

// --- Known answers: otr3's fixed-randomness run -------------------------------------------

fn short(i: usize) -> Int {
    hex(otr3::SHORT[i])
}

fn otr3_msg1() -> Smp1 {
    Smp1 {
        g2a: hex(otr3::M1_G2A),
        c2: hex(otr3::M1_C2),
        d2: hex(otr3::M1_D2),
        g3a: hex(otr3::M1_G3A),
        c3: hex(otr3::M1_C3),
        d3: hex(otr3::M1_D3),
    }
}

fn otr3_msg2() -> Smp2 {
    Smp2 {
        g2b: hex(otr3::M2_G2B),
        c2: hex(otr3::M2_C2),
        d2: hex(otr3::M2_D2),
        g3b: hex(otr3::M2_G3B),
        c3: hex(otr3::M2_C3),
        d3: hex(otr3::M2_D3),
        pb: hex(otr3::M2_PB),
        qb: hex(otr3::M2_QB),
        cp: hex(otr3::M2_CP),
        d5: hex(otr3::M2_D5),
        d6: hex(otr3::M2_D6),
    }
}

fn otr3_msg3() -> Smp3 {
    Smp3 {
        pa: hex(otr3::M3_PA),
        qa: hex(otr3::M3_QA),
        cp: hex(otr3::M3_CP),
        d5: hex(otr3::M3_D5),
        d6: hex(otr3::M3_D6),
        ra: hex(otr3::M3_RA),
        cr: hex(otr3::M3_CR),
        d7: hex(otr3::M3_D7),
    }
}

fn otr3_msg4() -> Smp4 {
    Smp4 {
        rb: hex(otr3::M4_RB),
        cr: hex(otr3::M4_CR),
        d7: hex(otr3::M4_D7),
    }
}

/// With otr3's draws (a2, a3, r2, r3 = randData[0..4]; b2, b3, r2..r6 = randData[0..7];
/// r4..r7 = randData[0..4]; r7 = randData[0]) and its secret, each of our steps reproduces
/// otr3's message exactly, and each of its messages verifies in our state machine.
#[test]
fn known_answer_run_matches_otr3() {
    let secret = hex(otr3::SECRET);

    let rnd1 = Smp1Random {
        a2: short(0),
        a3: short(1),
        r2: short(2),
        r3: short(3),
    };
    let (m1, alice2) = step1(&secret, &rnd1, false);
    assert_eq!(m1, otr3_msg1());

    let pending = step2a(&m1, false).expect("otr3's SMP1 verifies");
    let rnd2 = Smp2Random {
        b2: short(0),
        b3: short(1),
        r2: short(2),
        r3: short(3),
        r4: short(4),
        r5: short(5),
        r6: short(6),
    };
    let (m2, bob3) = step2b(&pending, &secret, &rnd2);
    assert_eq!(m2, otr3_msg2());
    assert_eq!(bob3.g2, hex(otr3::BOB2_G2));
    assert_eq!(bob3.g3, hex(otr3::BOB2_G3));

    let rnd3 = Smp3Random {
        r4: short(0),
        r5: short(1),
        r6: short(2),
        r7: short(3),
    };
    let (m3, alice4) = step3(&alice2, &otr3_msg2(), &rnd3).expect("otr3's SMP2 verifies");
    assert_eq!(m3, otr3_msg3());
    assert_eq!(alice4.pab, hex(otr3::ALICE3_PAPB));
    assert_eq!(alice4.qab, hex(otr3::ALICE3_QAQB));

    let (m4, equal) = step4(&bob3, &otr3_msg3(), &short(0)).expect("otr3's SMP3 verifies");
    assert_eq!(m4, otr3_msg4());
    assert!(equal);
    assert_eq!(step5(&alice4, &otr3_msg4()), Ok(true));

    // otr3's negative cases: each c lowered by one no longer verifies.
    let mut bad1 = otr3_msg1();
    bad1.c3 = bad1.c3.wrapping_sub(&Int::ONE);
    assert!(step2a(&bad1, false).is_err());
    let mut bad2 = otr3_msg2();
    bad2.cp = bad2.cp.wrapping_sub(&Int::ONE);
    assert!(step3(&alice2, &bad2, &rnd3).is_err());
    let mut bad3 = otr3_msg3();
    bad3.cr = bad3.cr.wrapping_sub(&Int::ONE);
    assert!(step4(&bob3, &bad3, &short(0)).is_err());
    let mut bad4 = otr3_msg4();
    bad4.cr = bad4.cr.wrapping_sub(&Int::ONE);
    assert!(step5(&alice4, &bad4).is_err());
    // A different secret on Alice's side: the proofs still verify, the result is a failure.
    let other = Initiator2 {
        x: secret.wrapping_add(&Int::ONE),
        ..(*alice2).clone()
    };
    let (m3x, alice4x) = step3(&other, &otr3_msg2(), &rnd3).expect("honest");
    let (m4x, equal) = step4(&bob3, &m3x, &short(0)).expect("honest");
    assert!(!equal);
    assert_eq!(step5(&alice4x, &m4x), Ok(false));
}

/// otr3's messages as TLVs through the public state machine.
#[test]
fn otr3_messages_verify_on_the_wire() {
    let mut r = rng(26);
    let mut bob = Smp::new();
    let out = bob.handle(
        &mut r,
        &Tlv {
            kind: tlv::SMP1,
            value: otr3_msg1().encode(),
        },
    );
    assert_eq!(out.event, Some(SmpEvent::AskForSecret));

    let q = b"What's the clue?";
    let value = [&q[..], &[0], &otr3_msg1().encode()].concat();
    let mut bob = Smp::new();
    let out = bob.handle(
        &mut r,
        &Tlv {
            kind: tlv::SMP1Q,
            value,
        },
    );
    assert_eq!(
        out.event,
        Some(SmpEvent::AskForAnswer {
            question: "What's the clue?".into()
        })
    );

    // Alice in EXPECT2 with otr3's a2, a3 accepts otr3's SMP2 and answers with SMP3.
    let rnd1 = Smp1Random {
        a2: short(0),
        a3: short(1),
        r2: short(2),
        r3: short(3),
    };
    let (_, alice2) = step1(&hex(otr3::SECRET), &rnd1, false);
    let mut alice = Smp {
        stage: Stage::Expect2(alice2),
    };
    let out = alice.handle(
        &mut r,
        &Tlv {
            kind: tlv::SMP2,
            value: otr3_msg2().encode(),
        },
    );
    assert_eq!(out.event, Some(SmpEvent::InProgress));
    assert_eq!(alice.state(), SmpState::Expect4);
}
