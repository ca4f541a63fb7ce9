//! Two of our sessions upgrade from OTR v3 to the modern suite (docs/modern-suite.md §4–§6,
//! "Integration"): automatically, fragmented when needed, and — whatever is lost, stripped
//! or replayed — never out of private and never losing a message.

mod support;

use purple_otr::otr::events::{Event, Suite, UpgradeFailure};
use purple_otr::otr::modern::identity::IdentityKey;
use purple_otr::otr::policy::Policy;
use purple_otr::otr::session::{MessageState, UPGRADE_TIMEOUT_SECS};
use purple_otr::otr::smp::SmpEvent;
use purple_otr::otr::wire::envelope::{classify, Incoming};
use support::pair::{config, Fate, Pair, Who};

/// Alice's instance tag is the smaller one: she initiates the modern handshake.
fn pair_with(mms: usize) -> Pair {
    let mut alice = config("alice@localhost/a", 0x1111_1111, Policy::MANUAL);
    let mut bob = config("bob@localhost/b", 0x2222_2222, Policy::MANUAL);
    alice.max_message_size = mms;
    bob.max_message_size = mms;
    let mut p = Pair::with_configs(alice, bob);
    p.alice
        .session
        .set_modern_identity(IdentityKey::from_secret_bytes(&[0xa1; 32]));
    p.bob
        .session
        .set_modern_identity(IdentityKey::from_secret_bytes(&[0xb0; 32]));
    p
}

fn pair() -> Pair {
    pair_with(0)
}

/// The message type byte of a whole encoded OTR message (None for anything else).
fn message_type(m: &str) -> Option<u8> {
    match classify(m) {
        Incoming::Encoded { bytes } => bytes.get(2).copied(),
        _ => None,
    }
}

fn count(events: &[Event], pred: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| pred(e)).count()
}

fn suite(p: &Pair, who: Who) -> Option<Suite> {
    match who {
        Who::Alice => p.alice.session.status().suite,
        Who::Bob => p.bob.session.status().suite,
    }
}

fn upgraded(events: &[Event]) -> usize {
    count(events, |e| {
        matches!(
            e,
            Event::Upgraded {
                suite: Suite::Modern,
                ..
            }
        )
    })
}

fn timeout(p: &mut Pair) {
    p.now += UPGRADE_TIMEOUT_SECS + 2;
    p.act(Who::Alice, |s, env| s.poll(env));
    p.act(Who::Bob, |s, env| s.poll(env));
}

/// Messages both ways; every text arrives, nothing readable crosses the link.
fn talk(p: &mut Pair, tag: &str) {
    let before = (p.alice.shown.len(), p.bob.shown.len());
    for i in 0..3 {
        p.send(Who::Alice, &format!("{tag} secret a{i}"));
        p.run();
        p.send(Who::Bob, &format!("{tag} secret b{i}"));
        p.send(Who::Bob, &format!("{tag} secret b{i}'"));
        p.run();
    }
    assert_eq!(p.bob.shown.len() - before.1, 3, "{:?}", p.bob.events);
    assert_eq!(p.alice.shown.len() - before.0, 6, "{:?}", p.alice.events);
    assert!(p
        .alice
        .shown
        .iter()
        .chain(&p.bob.shown)
        .all(|r| r.encrypted));
    for (_, m) in &p.wire {
        assert!(!m.contains("secret"), "plaintext on the wire: {m}");
    }
}

#[test]
fn two_sessions_upgrade_by_themselves_and_then_send_only_modern_data() {
    let mut p = pair();
    p.establish(Who::Bob);
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    assert_eq!(upgraded(&p.alice.events), 1);
    assert_eq!(upgraded(&p.bob.events), 1);
    // The handshake crossed the link: INIT and CONFIRM from Alice, RESPONSE from Bob.
    let types: Vec<(Who, Option<u8>)> = p.wire.iter().map(|(w, m)| (*w, message_type(m))).collect();
    assert!(types.contains(&(Who::Alice, Some(0x30))), "{types:?}");
    assert!(types.contains(&(Who::Bob, Some(0x31))), "{types:?}");
    assert!(types.contains(&(Who::Alice, Some(0x32))), "{types:?}");

    let upgraded_at = p.wire.len();
    talk(&mut p, "after");
    let after: Vec<Option<u8>> = p.wire[upgraded_at..]
        .iter()
        .map(|(_, m)| message_type(m))
        .collect();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|t| *t == Some(0x33)),
        "only modern data after the upgrade: {after:?}"
    );
    assert_eq!(p.shown_texts(Who::Bob)[0], "after secret a0");
    assert_eq!(p.shown_texts(Who::Alice)[1], "after secret b0'");
}

#[test]
fn without_an_identity_key_or_with_the_setting_off_nothing_is_announced() {
    // The setting off on both sides: after the AKE, no data message at all (no announcement).
    let mut p = pair();
    p.alice.session.set_modern(false);
    p.bob.session.set_modern(false);
    p.establish(Who::Alice);
    assert!(p.wire.iter().all(|(_, m)| message_type(m) != Some(0x03)));
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    talk(&mut p, "v3");
    assert!(p
        .wire
        .iter()
        .all(|(_, m)| !matches!(message_type(m), Some(0x30..=0x33))));

    // Off on one side only: the other announces, but nobody starts the handshake.
    let mut p = pair();
    p.bob.session.set_modern(false);
    p.establish(Who::Alice);
    let data: Vec<Who> = p
        .wire
        .iter()
        .filter(|(_, m)| message_type(m) == Some(0x03))
        .map(|(w, _)| *w)
        .collect();
    assert_eq!(data, vec![Who::Alice], "only Alice announces");
    assert!(p.wire.iter().all(|(_, m)| message_type(m) != Some(0x30)));
    timeout(&mut p);
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Otr));
    talk(&mut p, "v3");

    // A session without an identity key is plain OTR v3.
    let mut p = Pair::new(Policy::MANUAL);
    assert!(p.alice.session.modern());
    p.establish(Who::Alice);
    assert_eq!(
        p.wire
            .iter()
            .filter(|(_, m)| message_type(m) == Some(0x03))
            .count(),
        0
    );
}

#[test]
fn large_handshake_messages_are_fragmented_and_still_upgrade() {
    let mut p = pair_with(400);
    p.establish(Who::Alice);
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    assert!(p.wire.iter().all(|(_, m)| m.len() <= 400));
    assert!(p.wire.iter().any(|(_, m)| m.starts_with("?OTR|")));
    talk(&mut p, "frag");
}

/// Every way to lose one handshake message leaves both sides private, reading each other,
/// and never shows plain text.
#[test]
fn a_lost_init_leaves_both_on_v3_and_a_held_message_is_not_lost() {
    let mut p = pair();
    // Only send to verified buddies: Alice's message waits for verification, whatever the
    // upgrade does.
    p.alice.session.set_only_verified(true);
    p.start(Who::Alice);
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x30) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert!(p.both_private());
    p.send(Who::Alice, "held secret");
    p.run();
    assert_eq!(p.alice.session.status().held, 1);
    timeout(&mut p);
    let failed = |e: &Event| {
        matches!(
            e,
            Event::UpgradeFailed {
                reason: UpgradeFailure::Timeout,
                ..
            }
        )
    };
    assert_eq!(count(&p.alice.events, failed), 1);
    assert_eq!(count(&p.bob.events, failed), 1);
    assert_eq!(p.alice.session.status().state, MessageState::Encrypted);
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Otr));
    // Still held, then sent on v3 when the user verifies.
    assert_eq!(p.alice.session.status().held, 1);
    let fp = p.alice.session.status().fingerprint.expect("private");
    p.act(Who::Alice, |s, env| s.set_trusted(env, fp, true));
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["held secret"]);
    talk(&mut p, "fallback");
    // Nothing after the failure was modern.
    assert!(p.wire.iter().all(|(_, m)| message_type(m) != Some(0x33)));
    // A late poll changes nothing more.
    let before = p.alice.events.len();
    timeout(&mut p);
    assert_eq!(count(&p.alice.events[before..], failed), 0);
}

#[test]
fn a_lost_response_leaves_both_on_v3() {
    let mut p = pair();
    p.start(Who::Alice);
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x31) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert!(p.both_private());
    // Bob answered but is not confirmed: he keeps sending on v3, which Alice reads.
    talk(&mut p, "waiting");
    timeout(&mut p);
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Otr));
    talk(&mut p, "fallback");
    assert!(p.wire.iter().all(|(_, m)| message_type(m) != Some(0x33)));
}

#[test]
fn a_lost_confirm_is_made_up_for_by_the_initiators_first_data_message() {
    let mut p = pair();
    p.start(Who::Alice);
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x32) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Otr));
    // Bob still sends on v3 and Alice, upgraded, still reads it.
    p.send(Who::Bob, "secret from bob on v3");
    p.run();
    assert_eq!(p.shown_texts(Who::Alice), vec!["secret from bob on v3"]);
    // Alice's first modern message confirms Bob.
    p.send(Who::Alice, "secret from alice, modern");
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["secret from alice, modern"]);
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    assert_eq!(upgraded(&p.bob.events), 1);
    talk(&mut p, "after");
}

#[test]
fn messages_typed_during_the_upgrade_go_on_v3_and_arrive() {
    let mut p = pair();
    p.start(Who::Alice);
    // Deliver until Alice has sent her INIT, then type on both sides before anything more.
    while !p.wire.iter().any(|(_, m)| message_type(m) == Some(0x30)) {
        p.deliver_one().expect("the INIT comes");
    }
    p.send(Who::Alice, "secret during the upgrade (alice)");
    p.send(Who::Bob, "secret during the upgrade (bob)");
    p.run();
    assert_eq!(
        p.shown_texts(Who::Bob),
        vec!["secret during the upgrade (alice)"]
    );
    assert_eq!(
        p.shown_texts(Who::Alice),
        vec!["secret during the upgrade (bob)"]
    );
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    talk(&mut p, "after");
}

#[test]
fn stripping_the_announcement_keeps_v3() {
    // Every v3 data message right after the AKE is an announcement: strip them all.
    let mut p = pair();
    p.start(Who::Alice);
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x03) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert!(p.both_private());
    assert!(p.wire.iter().all(|(_, m)| message_type(m) != Some(0x30)));
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Otr));
    talk(&mut p, "v3");

    // Only Alice's stripped: Alice heard Bob's and sends INIT, which Bob, who heard no
    // announcement, does not answer. Alice times out and stays on v3 with a notice.
    let mut p = pair();
    p.start(Who::Alice);
    p.run_with(|_, to, m| {
        if message_type(m) == Some(0x03) && to == Who::Bob {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert!(p.wire.iter().any(|(_, m)| message_type(m) == Some(0x30)));
    assert!(p.wire.iter().all(|(_, m)| message_type(m) != Some(0x31)));
    timeout(&mut p);
    assert_eq!(
        count(&p.alice.events, |e| matches!(
            e,
            Event::UpgradeFailed { .. }
        )),
        1
    );
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Otr));
    talk(&mut p, "v3");
}

#[test]
fn replayed_announcement_and_handshake_messages_change_nothing() {
    let mut p = pair();
    p.establish(Who::Alice);
    talk(&mut p, "before");
    let recorded: Vec<(Who, String)> = p
        .wire
        .iter()
        .filter(|(_, m)| matches!(message_type(m), Some(0x03 | 0x30..=0x32)))
        .cloned()
        .collect();
    assert!(recorded.len() >= 5, "{recorded:?}");
    let wire_before = p.wire.len();
    for (from, m) in &recorded {
        p.in_flight.push_back((from.other(), m.clone()));
    }
    p.run();
    // No new handshake started, no text shown, both still on the modern suite.
    assert!(p.wire[wire_before..]
        .iter()
        .all(|(_, m)| !matches!(message_type(m), Some(0x30..=0x32))));
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    assert_eq!(upgraded(&p.alice.events), 1);
    assert_eq!(upgraded(&p.bob.events), 1);
    // A replayed v3 data message is refused (its counter) before its announcement is read.
    assert!(reannounced(&p.alice.events).is_empty());
    assert!(reannounced(&p.bob.events).is_empty());
    talk(&mut p, "after");
}

#[test]
fn a_v3_data_message_after_the_peer_switched_is_not_shown() {
    let mut p = pair();
    p.start(Who::Alice);
    while !p.wire.iter().any(|(_, m)| message_type(m) == Some(0x30)) {
        p.deliver_one().expect("the INIT comes");
    }
    // A v3 message from Alice, held back by the network until after the switch.
    let out = p.send(Who::Alice, "secret late v3");
    p.in_flight.retain(|(_, m)| !out.to_send.contains(m));
    p.run();
    p.send(Who::Alice, "secret modern");
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["secret modern"]);
    for m in out.to_send {
        p.in_flight.push_back((Who::Bob, m));
    }
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["secret modern"]);
    assert_eq!(
        count(&p.bob.events, |e| matches!(
            e,
            Event::OldSuiteIgnored { .. }
        )),
        1
    );
}

#[test]
fn smp_runs_inside_the_modern_suite() {
    let mut p = pair();
    p.establish(Who::Alice);
    let upgraded_at = p.wire.len();
    p.act(Who::Alice, |s, env| {
        s.smp_start(env, None, b"shared secret").expect("private")
    });
    p.run();
    assert!(p.bob.events.iter().any(|e| matches!(
        e,
        Event::Smp {
            event: SmpEvent::AskForSecret,
            ..
        }
    )));
    p.act(Who::Bob, |s, env| {
        s.smp_respond(env, b"shared secret").expect("asked")
    });
    p.run();
    for party in [&p.alice, &p.bob] {
        assert!(
            party.events.iter().any(|e| matches!(
                e,
                Event::Smp {
                    event: SmpEvent::Success,
                    ..
                }
            )),
            "{:?}",
            party.events
        );
    }
    assert!(p.wire[upgraded_at..]
        .iter()
        .all(|(_, m)| message_type(m) == Some(0x33)));
}

#[test]
fn ending_after_the_upgrade_reaches_the_peer_and_nothing_goes_out_in_the_clear() {
    let mut p = pair();
    p.establish(Who::Alice);
    p.act(Who::Alice, |s, env| s.end(env, true));
    p.run();
    assert_eq!(p.bob.session.status().state, MessageState::Finished);
    // Bob's typing is refused, not sent in the clear.
    let out = p.send(Who::Bob, "secret after end");
    assert!(out.to_send.is_empty());

    // The buddy going offline: paused, and typed messages wait (the first rule).
    let mut p = pair();
    p.establish(Who::Alice);
    assert!(p.alice.session.peer_offline());
    let out = p.send(Who::Alice, "secret while offline");
    assert!(out.to_send.iter().all(|m| !m.contains("secret")));
    assert_eq!(p.alice.session.status().held, 1);
}

#[test]
fn a_forged_response_does_not_break_a_running_handshake() {
    let mut p = pair();
    p.start(Who::Alice);
    // Hold Bob's RESPONSE back; a forgery (MAC flipped) arrives first, then the real one.
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x31) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let genuine = p
        .wire
        .iter()
        .find(|(_, m)| message_type(m) == Some(0x31))
        .map(|(_, m)| m.clone())
        .expect("Bob answered");
    let Incoming::Encoded { mut bytes } = classify(&genuine) else {
        unreachable!()
    };
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let forged = purple_otr::otr::wire::envelope::encode(&bytes);
    p.in_flight.push_back((Who::Alice, forged));
    p.run();
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    assert!(p.alice.events.iter().any(|e| matches!(
        e,
        Event::ModernIgnored {
            reason: purple_otr::otr::modern::ModernError::BadMac
        }
    )));
    p.in_flight.push_back((Who::Alice, genuine));
    p.run();
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    talk(&mut p, "after");
}

/// libotr 4.1.1 (pidgin-otr) gets our announcement inside a v3 data message: it shows
/// nothing, answers nothing, reports no error, and the conversation goes on exactly as with
/// any OTR v3 client; we never send it a modern message.
#[test]
fn libotr_ignores_the_announcement_and_stays_on_v3() {
    use purple_otr::otr::session::{Env, Session};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use support::libotr_peer::{self as peer, LibotrPeer};
    use support::pair::test_key;

    const US: &str = "us@localhost";
    let mut us = Session::new(config("us@localhost/test", 0x4242_4242, Policy::MANUAL));
    us.set_modern_identity(IdentityKey::from_secret_bytes(&[0x5a; 32]));
    let mut lib = LibotrPeer::from_fixture(&peer::BOB);
    lib.set_policy(peer::Policy::Manual);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut events = Vec::new();
    let mut shown = Vec::new();
    let mut sent_by_us: Vec<String> = Vec::new();
    let mut lib_received = Vec::new();

    let mut to_us: Vec<String> = lib.start(US);
    let mut to_lib: Vec<String> = Vec::new();
    for _ in 0..50 {
        for m in to_us.drain(..) {
            let mut env = Env {
                now: 100,
                rng: &mut rng,
                our_key: Some(test_key(0)),
            };
            let out = us.receive(&mut env, &m);
            events.extend(out.events);
            shown.extend(out.display.map(|d| d.text.0.clone()));
            sent_by_us.extend(out.to_send.iter().cloned());
            to_lib.extend(out.to_send);
        }
        for m in to_lib.drain(..) {
            let r = lib.receive(US, &m);
            to_us.extend(r.injected.iter().cloned());
            lib_received.push(r);
        }
        if to_us.is_empty() {
            break;
        }
    }
    assert!(us.status().is_private());
    assert_eq!(us.status().suite, Some(Suite::Otr));
    // The announcement reached libotr, which took it as an unknown TLV and did nothing.
    let announced: Vec<_> = lib_received.iter().filter(|r| r.has_tlv(0x5051)).collect();
    assert_eq!(announced.len(), 1, "{lib_received:?}");
    assert_eq!(announced[0].display, None);
    assert!(announced[0].injected.is_empty());
    assert!(
        // An empty data message is what libotr calls a heartbeat: logged, nothing more.
        announced[0]
            .events
            .iter()
            .all(|e| matches!(e.msg_event(), None | Some("LOG_HEARTBEAT_RCVD"))),
        "{:?}",
        announced[0].events
    );
    assert!(sent_by_us
        .iter()
        .all(|m| !matches!(message_type(m), Some(0x30..=0x33))));

    // Both ways, as with any v3 client; no upgrade, no failure notice, after the timeout too.
    let mut env = Env {
        now: 100 + UPGRADE_TIMEOUT_SECS + 5,
        rng: &mut rng,
        our_key: Some(test_key(0)),
    };
    let polled = us.poll(&mut env);
    assert!(polled.events.is_empty(), "{:?}", polled.events);
    let out = us.send(&mut env, "ping from us");
    let r = lib.receive(US, &out.to_send[0]);
    assert_eq!(r.display.as_deref(), Some("ping from us"));
    for m in lib.send(US, "pong from libotr") {
        let got = us.receive(&mut env, &m);
        shown.extend(got.display.map(|d| d.text.0.clone()));
    }
    assert_eq!(shown, vec!["pong from libotr"]);
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::Upgraded { .. } | Event::UpgradeFailed { .. })));
}

/// The CONFIRM is lost and the initiator stays silent past the timeout: the responder
/// reports the failure but keeps what it needs, so the initiator's modern messages, when they
/// come, are still read (nothing is lost), and the upgrade completes late.
#[test]
fn a_responder_that_timed_out_still_reads_the_initiators_messages() {
    let mut p = pair();
    p.start(Who::Alice);
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x32) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    timeout(&mut p);
    assert_eq!(
        count(&p.bob.events, |e| matches!(
            e,
            Event::UpgradeFailed {
                reason: UpgradeFailure::Timeout,
                ..
            }
        )),
        1
    );
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Otr));
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    p.send(Who::Alice, "secret late but modern");
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["secret late but modern"]);
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    talk(&mut p, "after");
}

#[test]
fn status_names_the_identity_the_peer_announced() {
    let mut p = pair();
    assert_eq!(p.alice.session.status().peer_identity, None);
    p.establish(Who::Alice);
    let bob_id = *IdentityKey::from_secret_bytes(&[0xb0; 32]).public();
    let alice_id = *IdentityKey::from_secret_bytes(&[0xa1; 32]).public();
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert_eq!(p.alice.session.status().peer_identity, Some(bob_id));
    assert_eq!(p.bob.session.status().peer_identity, Some(alice_id));
    // Known from the announcement on, before the handshake completes.
    let mut p = pair();
    p.start(Who::Alice);
    p.run_with(|_, _, m| {
        if matches!(message_type(m), Some(0x30..=0x32)) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    assert_eq!(p.alice.session.status().peer_identity, Some(bob_id));
}

/// The host found the announced identity differs from its pin (docs/modern-suite.md §8):
/// what is typed waits, said as NewIdentity, never in the clear; sending anyway or verifying
/// again releases it, in order, encrypted.
#[test]
fn a_doubted_identity_holds_typed_messages_until_accepted_or_verified() {
    use purple_otr::otr::events::HoldReason;
    for release_by_verifying in [false, true] {
        let mut p = pair();
        p.establish(Who::Alice);
        assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
        let fp = p.alice.session.status().fingerprint.expect("private");
        p.alice.session.hold_for_new_identity(fp);
        let sent = p.wire.len();
        let out = p.send(Who::Alice, "secret one");
        assert!(out.to_send.is_empty(), "{:?}", out.to_send);
        assert!(out.events.iter().any(|e| matches!(
            e,
            Event::MessageHeld {
                reason: HoldReason::NewIdentity,
                ..
            }
        )));
        p.send(Who::Alice, "secret two");
        p.run();
        assert_eq!(p.wire.len(), sent, "nothing left alice");
        assert_eq!(p.alice.session.status().held, 2);
        assert!(p.bob.shown.is_empty());
        // Bob's messages are still read.
        p.send(Who::Bob, "secret from bob");
        p.run();
        assert_eq!(p.shown_texts(Who::Alice), vec!["secret from bob"]);
        if release_by_verifying {
            p.act(Who::Alice, |s, env| s.set_trusted(env, fp, true));
        } else {
            p.act(Who::Alice, |s, env| s.send_held_anyway(env));
        }
        p.run();
        assert_eq!(
            p.shown_texts(Who::Bob),
            vec!["secret one", "secret two"],
            "verify: {release_by_verifying}"
        );
        assert!(p.bob.shown.iter().all(|r| r.encrypted));
        p.send(Who::Alice, "secret three");
        p.run();
        assert_eq!(p.bob.shown.len(), 3);
        for (_, m) in &p.wire {
            assert!(!m.contains("secret"), "plaintext on the wire: {m}");
        }
    }
}

#[test]
fn ending_clears_a_doubted_identity_and_withdrawing_trust_does_not() {
    let mut p = pair();
    p.establish(Who::Alice);
    let fp = p.alice.session.status().fingerprint.expect("private");
    p.alice.session.hold_for_new_identity(fp);
    // Taking trust back is no release.
    p.act(Who::Alice, |s, env| s.set_trusted(env, fp, false));
    let out = p.send(Who::Alice, "secret waits");
    assert!(out.to_send.is_empty());
    // The user ends: plain text is their choice from now on, nothing is doubted.
    p.act(Who::Alice, |s, env| s.end(env, true));
    p.run();
    // What waited is never sent in the clear by ending; the user drops it.
    assert!(p.wire.iter().all(|(_, m)| !m.contains("secret")));
    assert_eq!(p.alice.session.discard_held().events.len(), 1);
    let out = p.send(Who::Alice, "plain now");
    assert_eq!(out.to_send, vec!["plain now".to_string()]);
}

// ---- direct start between pinned peers (docs/modern-suite.md §15) ------------------------

use purple_otr::otr::session::{PinnedPeer, DIRECT_TIMEOUT_SECS};

fn identity_public(secret: u8) -> [u8; 32] {
    *IdentityKey::from_secret_bytes(&[secret; 32]).public()
}

fn dsa_fp(p: &Pair, who: Who) -> purple_otr::otr::crypto::fingerprint::Fingerprint {
    match who {
        Who::Alice => p.alice.key.public().fingerprint(),
        Who::Bob => p.bob.key.public().fingerprint(),
    }
}

/// `pair()` where each side pinned the other's identity with the other's v3 key, as after a
/// first verified session that upgraded.
fn pinned_pair() -> Pair {
    pinned_pair_with(0)
}

fn pinned_pair_with(mms: usize) -> Pair {
    let mut p = pair_with(mms);
    let (fa, fb) = (dsa_fp(&p, Who::Alice), dsa_fp(&p, Who::Bob));
    p.alice.session.set_pinned_peers(vec![PinnedPeer {
        identity: identity_public(0xb0),
        fingerprint: fb,
    }]);
    p.bob.session.set_pinned_peers(vec![PinnedPeer {
        identity: identity_public(0xa1),
        fingerprint: fa,
    }]);
    p
}

fn fell_back(events: &[Event]) -> usize {
    count(events, |e| matches!(e, Event::DirectFallback))
}

/// Past the direct timeout: Alice's poll falls back to the v3 query.
fn direct_timeout(p: &mut Pair) {
    p.now += DIRECT_TIMEOUT_SECS + 1;
    p.act(Who::Alice, |s, env| s.poll(env));
    p.act(Who::Bob, |s, env| s.poll(env));
}

fn no_plaintext_on_the_wire(p: &Pair) {
    for (_, m) in &p.wire {
        assert!(!m.contains("secret"), "plaintext on the wire: {m}");
    }
}

#[test]
fn a_direct_start_between_pinned_peers_takes_one_round_trip_and_a_confirm() {
    let mut p = pinned_pair();
    p.start(Who::Alice);
    p.run();
    assert!(p.both_private(), "{:?} {:?}", p.alice.events, p.bob.events);
    let types: Vec<(Who, Option<u8>)> = p.wire.iter().map(|(w, m)| (*w, message_type(m))).collect();
    // DIRECT_INIT, RESPONSE, CONFIRM: no query, no DSA, no v3 AKE, no announcement.
    assert_eq!(
        types,
        vec![
            (Who::Alice, Some(0x34)),
            (Who::Bob, Some(0x31)),
            (Who::Alice, Some(0x32))
        ]
    );
    assert!(p.wire[0].1.starts_with("?OTR:AAM0"));
    for who in [Who::Alice, Who::Bob] {
        assert_eq!(suite(&p, who), Some(Suite::Modern));
        assert_eq!(upgraded(&p.party(who).events), 1);
    }
    let (a, b) = (p.alice.session.status(), p.bob.session.status());
    // Each side's fingerprint is the pinned v3 key of the other; the identity the pinned one.
    assert_eq!(a.fingerprint, Some(dsa_fp(&p, Who::Bob)));
    assert_eq!(b.fingerprint, Some(dsa_fp(&p, Who::Alice)));
    assert_eq!(a.peer_identity, Some(identity_public(0xb0)));
    assert_eq!(b.peer_identity, Some(identity_public(0xa1)));
    assert_eq!(a.instance, 0x2222_2222);
    assert_eq!(b.instance, 0x1111_1111);
    assert_eq!(a.ssid, b.ssid);
    assert!(p.alice.session.their_long_term_key().is_none());
    assert!(!p.alice.session.direct_pending());
    let at = p.wire.len();
    talk(&mut p, "direct");
    assert!(p.wire[at..]
        .iter()
        .all(|(_, m)| message_type(m) == Some(0x33)));
    assert_eq!(fell_back(&p.alice.events), 0);
    // No extra symmetric key without v3.
    p.act(Who::Alice, |s, env| {
        assert!(s.extra_symmetric_key(env, 1, b"").is_err());
        purple_otr::otr::session::Outcome::default()
    });
}

#[test]
fn the_responder_also_confirms_on_the_initiators_first_data_when_the_confirm_is_lost() {
    let mut p = pinned_pair();
    p.start(Who::Alice);
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x32) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert!(p.alice.session.status().is_private());
    assert!(!p.bob.session.status().is_private());
    p.send(Who::Alice, "first secret");
    p.run();
    assert!(p.both_private());
    assert_eq!(p.shown_texts(Who::Bob), vec!["first secret"]);
    talk(&mut p, "late");
}

#[test]
fn messages_typed_during_a_direct_start_are_held_then_delivered_in_order() {
    let mut p = pinned_pair();
    p.start(Who::Alice);
    let typed = ["one secret", "two secret", "three secret"];
    for t in typed {
        let out = p.send(Who::Alice, t);
        assert!(
            out.events
                .iter()
                .any(|e| matches!(e, Event::MessageHeld { .. })),
            "{:?}",
            out.events
        );
    }
    assert_eq!(p.alice.session.status().held, 3);
    p.run();
    assert!(p.both_private());
    assert_eq!(p.shown_texts(Who::Bob), typed.to_vec());
    assert!(p.bob.shown.iter().all(|r| r.encrypted));
    assert_eq!(p.alice.session.status().held, 0);
    no_plaintext_on_the_wire(&p);
}

/// Runs a direct start that Bob does not answer (the setup decides why), checks the
/// fallback: held messages, the v3 query after the timeout, v3 AKE, then whatever the
/// upgrade gives; nothing is lost and nothing goes in the clear.
fn falls_back(mut p: Pair, drop_direct: bool) -> Pair {
    p.start(Who::Alice);
    p.send(Who::Alice, "early secret");
    p.run_with(|_, _, m| {
        if drop_direct && message_type(m) == Some(0x34) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    // Bob said nothing (and showed nothing); Alice waits with her message held.
    assert!(p.wire.iter().all(|(w, _)| *w == Who::Alice), "{:?}", p.wire);
    assert!(p.bob.shown.is_empty());
    let noisy = |e: &Event| {
        matches!(
            e,
            Event::Malformed | Event::NotInPrivate | Event::Unreadable { .. } | Event::Unrecognized
        )
    };
    assert_eq!(count(&p.bob.events, noisy), 0, "{:?}", p.bob.events);
    assert!(!p.alice.session.status().is_private());
    assert_eq!(p.alice.session.status().held, 1);
    // Before the timeout, polling changes nothing.
    p.now += DIRECT_TIMEOUT_SECS - 1;
    let out = p.act(Who::Alice, |s, env| s.poll(env));
    assert!(out.to_send.is_empty());
    assert!(p.alice.session.direct_pending());
    direct_timeout(&mut p);
    assert_eq!(fell_back(&p.alice.events), 1);
    assert!(!p.alice.session.direct_pending());
    p.run();
    assert!(p.both_private(), "{:?} {:?}", p.alice.events, p.bob.events);
    assert_eq!(p.shown_texts(Who::Bob), vec!["early secret"]);
    assert!(p.bob.shown.iter().all(|r| r.encrypted));
    no_plaintext_on_the_wire(&p);
    p
}

#[test]
fn a_direct_start_to_a_buddy_without_our_pin_falls_back_to_v3_and_upgrades() {
    let mut p = pinned_pair();
    p.bob.session.set_pinned_peers(Vec::new());
    let mut p = falls_back(p, false);
    assert!(p.bob.events.iter().any(|e| matches!(
        e,
        Event::ModernIgnored {
            reason: purple_otr::otr::modern::ModernError::UnexpectedMessage
        }
    )));
    // The v3 session upgraded the usual way.
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    assert!(p.alice.session.their_long_term_key().is_some());
    talk(&mut p, "upgraded");
}

#[test]
fn a_direct_start_to_a_buddy_with_the_suite_off_falls_back_to_v3() {
    let mut p = pinned_pair();
    p.bob.session.set_modern(false);
    let mut p = falls_back(p, false);
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Otr));
    talk(&mut p, "v3");
}

#[test]
fn an_unanswered_direct_start_falls_back_to_v3() {
    let p = falls_back(pinned_pair(), true);
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
}

#[test]
fn a_changed_identity_is_refused_and_shows_up_in_the_v3_session() {
    // Bob pinned an older identity of Alice (she has a new key now).
    let mut p = pinned_pair();
    let fa = dsa_fp(&p, Who::Alice);
    p.bob.session.set_pinned_peers(vec![PinnedPeer {
        identity: identity_public(0xa0),
        fingerprint: fa,
    }]);
    let p = falls_back(p, false);
    assert!(p.bob.events.iter().any(|e| matches!(
        e,
        Event::ModernIgnored {
            reason: purple_otr::otr::modern::ModernError::UnexpectedIdentity
        }
    )));
    // In the v3 session Alice announces her new identity: what the client compares with
    // the pin (and warns and holds about, `client::tests`).
    let st = p.bob.session.status();
    assert_eq!(st.peer_identity, Some(identity_public(0xa1)));
    assert_ne!(st.peer_identity, Some(identity_public(0xa0)));
    assert_eq!(st.fingerprint, Some(fa));

    // Alice pinned an older identity of Bob: refused the same way.
    let mut p = pinned_pair();
    let fb = dsa_fp(&p, Who::Bob);
    p.alice.session.set_pinned_peers(vec![PinnedPeer {
        identity: identity_public(0xbb),
        fingerprint: fb,
    }]);
    let p = falls_back(p, false);
    assert_eq!(
        p.alice.session.status().peer_identity,
        Some(identity_public(0xb0))
    );
}

#[test]
fn replayed_direct_messages_are_ignored() {
    let mut p = pinned_pair();
    p.start(Who::Alice);
    p.run();
    assert!(p.both_private());
    let recorded = p.wire.clone();
    let bob_events = p.bob.events.len();
    for (from, m) in &recorded {
        p.in_flight.push_back((from.other(), m.clone()));
    }
    p.run();
    // Nothing answered, nothing shown, both still private on the same session.
    assert_eq!(p.wire.len(), recorded.len());
    assert!(p.bob.events[bob_events..]
        .iter()
        .all(|e| matches!(e, Event::ModernIgnored { .. })));
    assert!(p.both_private());
    assert_eq!(upgraded(&p.bob.events), 1);
    talk(&mut p, "after replay");
}

#[test]
fn a_v3_data_message_to_a_direct_instance_is_unreadable_not_a_panic() {
    // A v3 session between the same keys and instance tags gives a genuine v3 data message.
    let mut v3 = pair();
    v3.alice.session.set_modern(false);
    v3.establish(Who::Alice);
    let wire = v3.send(Who::Alice, "v3 secret").to_send;
    assert_eq!(message_type(&wire[0]), Some(0x03));

    let mut p = pinned_pair();
    p.start(Who::Alice);
    p.run();
    assert!(p.both_private());
    let out = p.act(Who::Bob, |s, env| s.receive(env, &wire[0]));
    assert!(out.display.is_none());
    assert!(out
        .events
        .iter()
        .any(|e| matches!(e, Event::Unreadable { .. })));
    assert!(out.to_send.iter().any(|m| m.starts_with("?OTR Error:")));
    p.in_flight.clear();
    assert!(p.both_private());
    talk(&mut p, "still");
}

#[test]
fn smp_over_a_direct_session_is_bound_to_its_transcript() {
    let mut p = pinned_pair();
    p.start(Who::Alice);
    p.run();
    let at = p.wire.len();
    let smp = |p: &mut Pair, a: &'static [u8], b: &'static [u8]| {
        p.act(Who::Alice, |s, env| {
            s.smp_start(env, None, a).expect("private")
        });
        p.run();
        p.act(Who::Bob, |s, env| s.smp_respond(env, b).expect("asked"));
        p.run();
    };
    smp(&mut p, b"shared secret", b"shared secret");
    let ok = |e: &Event| {
        matches!(
            e,
            Event::Smp {
                event: SmpEvent::Success,
                ..
            }
        )
    };
    assert_eq!(count(&p.alice.events, ok), 1, "{:?}", p.alice.events);
    assert_eq!(count(&p.bob.events, ok), 1);
    smp(&mut p, b"shared secret", b"other secret");
    assert_eq!(count(&p.alice.events, ok), 1);
    assert!(p.wire[at..]
        .iter()
        .all(|(_, m)| message_type(m) == Some(0x33)));
}

#[test]
fn both_starting_directly_at_once_ends_in_one_session() {
    let mut p = pinned_pair();
    p.start(Who::Alice);
    p.start(Who::Bob);
    p.run();
    assert!(p.both_private(), "{:?} {:?}", p.alice.events, p.bob.events);
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    talk(&mut p, "crossed");
    direct_timeout(&mut p);
    assert_eq!(fell_back(&p.alice.events) + fell_back(&p.bob.events), 0);
}

#[test]
fn without_pins_or_identity_start_sends_the_v3_query() {
    let mut p = pair();
    let out = p.start(Who::Alice);
    assert!(out.to_send[0].starts_with("?OTRv"));
    let mut p = pinned_pair();
    p.alice.session.set_modern(false);
    let out = p.start(Who::Alice);
    assert!(out.to_send[0].starts_with("?OTRv"));
}

/// A direct start reaches a libotr 4.1.1 peer only if we wrongly hold a pin for it (say the
/// buddy moved its purple-otr key to pidgin-otr). libotr takes `?OTR:AAM0…` for an
/// unrecognised OTR message: nothing shown, nothing answered; our timeout sends the v3 query,
/// and the conversation is OTR v3 as with any libotr peer, the held message delivered.
#[test]
fn a_direct_start_to_a_libotr_peer_shows_nothing_and_falls_back_to_v3() {
    use purple_otr::otr::crypto::fingerprint::Fingerprint;
    use purple_otr::otr::session::{Env, Session};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use support::libotr_peer::{self as peer, LibotrPeer};
    use support::pair::test_key;

    const US: &str = "us@localhost";
    let mut us = Session::new(config("us@localhost/test", 0x4242_4242, Policy::MANUAL));
    us.set_modern_identity(IdentityKey::from_secret_bytes(&[0x5a; 32]));
    us.set_pinned_peers(vec![PinnedPeer {
        identity: identity_public(0x77),
        fingerprint: Fingerprint([0x11; 20]),
    }]);
    let mut lib = LibotrPeer::from_fixture(&peer::BOB);
    lib.set_policy(peer::Policy::Manual);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut now = 100;
    let mut env = Env {
        now,
        rng: &mut rng,
        our_key: Some(test_key(0)),
    };
    let started = us.start(&mut env);
    assert_eq!(started.to_send.len(), 1);
    assert!(started.to_send[0].starts_with("?OTR:AAM0"));
    let held = us.send(&mut env, "typed while starting");
    assert!(held.to_send.is_empty());
    let r = lib.receive(US, &started.to_send[0]);
    assert_eq!(r.display, None, "{r:?}");
    assert!(r.injected.is_empty(), "{r:?}");
    // We never talked to this instance, so the start goes to every instance (receiver 0):
    // libotr takes it for a message meant for another session (pidgin-otr shows its notice
    // about that, nothing else) and drops it.
    assert!(
        r.events
            .iter()
            .all(|e| matches!(e.msg_event(), None | Some("RCVDMSG_FOR_OTHER_INSTANCE"))),
        "{:?}",
        r.events
    );

    now += DIRECT_TIMEOUT_SECS + 1;
    let mut env = Env {
        now,
        rng: &mut rng,
        our_key: Some(test_key(0)),
    };
    let polled = us.poll(&mut env);
    assert_eq!(polled.events, vec![Event::DirectFallback]);
    assert_eq!(polled.to_send.len(), 1);
    assert!(
        polled.to_send[0].starts_with("?OTRv"),
        "{:?}",
        polled.to_send
    );
    let mut to_lib = polled.to_send;
    let mut lib_shown = Vec::new();
    for _ in 0..50 {
        let mut to_us = Vec::new();
        for m in to_lib.drain(..) {
            assert!(!m.contains("typed while"), "plaintext: {m}");
            let r = lib.receive(US, &m);
            lib_shown.extend(r.display.clone());
            to_us.extend(r.injected);
        }
        for m in to_us {
            let mut env = Env {
                now,
                rng: &mut rng,
                our_key: Some(test_key(0)),
            };
            to_lib.extend(us.receive(&mut env, &m).to_send);
        }
        if to_lib.is_empty() {
            break;
        }
    }
    assert!(us.status().is_private());
    assert_eq!(us.status().suite, Some(Suite::Otr));
    assert!(us.their_long_term_key().is_some());
    assert_eq!(lib_shown, vec!["typed while starting".to_string()]);

    // Ended and started again: now the start is addressed to libotr's instance, which
    // takes it for an unrecognised OTR message (debug log only in pidgin-otr) and drops it.
    let mut env = Env {
        now,
        rng: &mut rng,
        our_key: Some(test_key(0)),
    };
    for m in us.end(&mut env, true).to_send {
        lib.receive(US, &m);
    }
    let started = us.start(&mut env);
    assert!(started.to_send[0].starts_with("?OTR:AAM0"));
    let r = lib.receive(US, &started.to_send[0]);
    assert_eq!(r.display, None, "{r:?}");
    assert!(r.injected.is_empty(), "{r:?}");
    assert!(
        r.events
            .iter()
            .all(|e| matches!(e.msg_event(), None | Some("RCVDMSG_UNRECOGNIZED"))),
        "{:?}",
        r.events
    );
    assert!(r
        .events
        .iter()
        .any(|e| e.msg_event() == Some("RCVDMSG_UNRECOGNIZED")));
    let mut env = Env {
        now: now + DIRECT_TIMEOUT_SECS + 1,
        rng: &mut rng,
        our_key: Some(test_key(0)),
    };
    let polled = us.poll(&mut env);
    assert_eq!(polled.events, vec![Event::DirectFallback]);
    assert!(polled.to_send[0].starts_with("?OTRv"));
}

#[test]
fn ending_and_starting_again_goes_direct_to_the_known_instance() {
    let mut p = pinned_pair();
    p.start(Who::Alice);
    p.run();
    assert!(p.both_private());
    p.act(Who::Alice, |s, env| s.end(env, true));
    p.run();
    p.act(Who::Bob, |s, env| s.end(env, true));
    p.in_flight.clear();
    assert!(!p.alice.session.status().is_private());
    let at = p.wire.len();
    p.start(Who::Alice);
    match classify(&p.wire[at].1) {
        // Receiver tag (bytes 7..11): Bob's instance this time.
        Incoming::Encoded { bytes } => {
            assert_eq!(bytes[2], 0x34);
            assert_eq!(&bytes[7..11], &0x2222_2222u32.to_be_bytes());
        }
        other => panic!("{other:?}"),
    }
    p.run();
    assert!(p.both_private());
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    talk(&mut p, "again");
}

#[test]
fn a_policy_that_must_encrypt_opens_with_a_direct_start_and_holds_the_message() {
    let alice = config("alice@localhost/a", 0x1111_1111, Policy::ALWAYS);
    let bob = config("bob@localhost/b", 0x2222_2222, Policy::ALWAYS);
    let mut p = Pair::with_configs(alice, bob);
    p.alice
        .session
        .set_modern_identity(IdentityKey::from_secret_bytes(&[0xa1; 32]));
    p.bob
        .session
        .set_modern_identity(IdentityKey::from_secret_bytes(&[0xb0; 32]));
    let (fa, fb) = (dsa_fp(&p, Who::Alice), dsa_fp(&p, Who::Bob));
    p.alice.session.set_pinned_peers(vec![PinnedPeer {
        identity: identity_public(0xb0),
        fingerprint: fb,
    }]);
    p.bob.session.set_pinned_peers(vec![PinnedPeer {
        identity: identity_public(0xa1),
        fingerprint: fa,
    }]);
    let out = p.send(Who::Alice, "policy secret");
    assert_eq!(out.to_send.len(), 1, "{:?}", out.to_send);
    assert_eq!(message_type(&out.to_send[0]), Some(0x34));
    p.run();
    assert!(p.both_private());
    assert_eq!(p.shown_texts(Who::Bob), vec!["policy secret"]);
    assert_eq!(suite(&p, Who::Bob), Some(Suite::Modern));
    no_plaintext_on_the_wire(&p);
}

#[test]
fn a_direct_start_is_fragmented_where_the_network_needs_it() {
    let mut p = pinned_pair_with(300);
    p.start(Who::Alice);
    p.run();
    assert!(p.both_private());
    assert!(p.wire.len() > 3, "fragments: {}", p.wire.len());
    assert!(p.wire.iter().all(|(_, m)| m.len() <= 300));
    assert!(p.wire[0].1.starts_with("?OTR|"));
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    talk(&mut p, "fragmented");
}

fn reannounced(events: &[Event]) -> Vec<(bool, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ModernReannounced {
                identity_changed,
                after_upgrade,
                ..
            } => Some((*identity_changed, *after_upgrade)),
            _ => None,
        })
        .collect()
}

/// A second announcement in the same v3 session changes nothing, but is reported
/// (docs/modern-suite.md §8): with another identity, or after the switch, the host warns
/// between pinned peers; an identical one during the handshake is only a duplicate.
#[test]
fn a_second_announcement_is_reported_and_changes_nothing() {
    let bob_id = *IdentityKey::from_secret_bytes(&[0xb0; 32]).public();
    // During the handshake (Alice holds back her INIT): the same identity, then another.
    let mut p = pair();
    p.start(Who::Alice);
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x30) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Otr));
    assert!(
        reannounced(&p.alice.events).is_empty(),
        "the first one counts"
    );
    p.act(Who::Bob, |s, env| {
        s.announce_modern_again_for_testing_only(env)
    });
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x30) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert_eq!(reannounced(&p.alice.events), vec![(false, false)]);
    p.bob
        .session
        .set_modern_identity(IdentityKey::from_secret_bytes(&[0xb1; 32]));
    p.act(Who::Bob, |s, env| {
        s.announce_modern_again_for_testing_only(env)
    });
    p.run_with(|_, _, m| {
        if message_type(m) == Some(0x30) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    assert_eq!(
        reannounced(&p.alice.events),
        vec![(false, false), (true, false)]
    );
    assert_eq!(p.alice.session.status().peer_identity, Some(bob_id));
    assert!(p.alice.session.status().is_private());

    // After the switch: the same identity, then another; the session keeps the first and
    // goes on, private on the modern suite.
    let mut p = pair();
    p.establish(Who::Alice);
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert!(reannounced(&p.alice.events).is_empty());
    p.act(Who::Bob, |s, env| {
        s.announce_modern_again_for_testing_only(env)
    });
    p.run();
    p.bob
        .session
        .set_modern_identity(IdentityKey::from_secret_bytes(&[0xb1; 32]));
    p.act(Who::Bob, |s, env| {
        s.announce_modern_again_for_testing_only(env)
    });
    p.run();
    assert_eq!(
        reannounced(&p.alice.events),
        vec![(false, true), (true, true)]
    );
    assert_eq!(p.alice.session.status().peer_identity, Some(bob_id));
    assert_eq!(suite(&p, Who::Alice), Some(Suite::Modern));
    assert_eq!(upgraded(&p.alice.events), 1);
    assert!(p.shown_texts(Who::Alice).is_empty(), "nothing shown");
    talk(&mut p, "after");
}
