//! Our engine against itself: AKE paths, the ratchet, fragments, held messages, endings and
//! the hard cases of the state machine. Interop with the real libotr is in `libotr_interop.rs`.

mod support;

use purple_otr::otr::events::{Event, NotSentReason};
use purple_otr::otr::policy::Policy;
use purple_otr::otr::session::{Env, MessageState, Session};
use support::pair::{config, test_key, Fate, Pair, Who};

fn has(events: &[Event], pred: impl Fn(&Event) -> bool) -> bool {
    events.iter().any(pred)
}

#[test]
fn ake_by_query_then_messages_both_ways() {
    let mut p = Pair::new(Policy::MANUAL);
    p.establish(Who::Alice);
    assert!(has(&p.alice.events, |e| matches!(
        e,
        Event::GoneSecure { .. }
    )));
    assert!(has(&p.bob.events, |e| matches!(
        e,
        Event::GoneSecure { .. }
    )));
    // Each side sees the other's long-term key, and both agree on the session id.
    let (a, b) = (p.alice.session.status(), p.bob.session.status());
    assert_eq!(a.fingerprint, Some(test_key(1).public().fingerprint()));
    assert_eq!(b.fingerprint, Some(test_key(0).public().fingerprint()));
    assert_eq!(a.ssid, b.ssid);
    // Each side bolds the other half, so each reads the other one half over the phone.
    assert_ne!(a.ssid_first_half_bold, b.ssid_first_half_bold);

    p.send(Who::Alice, "hello bob");
    p.run();
    p.send(Who::Bob, "hello <b>alice</b>");
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["hello bob"]);
    assert_eq!(p.shown_texts(Who::Alice), vec!["hello <b>alice</b>"]);
    assert!(p.bob.shown.iter().all(|r| r.encrypted));
    // Nothing the users typed crossed the link in the clear once private.
    for (_, m) in &p.wire {
        assert!(!m.contains("hello"), "plaintext on the wire: {m}");
    }
}

#[test]
fn thousand_alternating_messages_turn_the_ratchet() {
    let mut p = Pair::new(Policy::MANUAL);
    p.establish(Who::Bob);
    for i in 0..1000 {
        let who = if i % 2 == 0 { Who::Alice } else { Who::Bob };
        p.send(who, &format!("message {i}"));
        p.run();
    }
    let to_bob: Vec<String> = (0..1000)
        .step_by(2)
        .map(|i| format!("message {i}"))
        .collect();
    let to_alice: Vec<String> = (1..1000)
        .step_by(2)
        .map(|i| format!("message {i}"))
        .collect();
    assert_eq!(p.shown_texts(Who::Bob), to_bob);
    assert_eq!(p.shown_texts(Who::Alice), to_alice);
    assert!(!has(&p.alice.events, |e| matches!(
        e,
        Event::Unreadable { .. }
    )));
    assert!(!has(&p.bob.events, |e| matches!(
        e,
        Event::Unreadable { .. }
    )));
}

#[test]
fn one_way_burst_then_reply() {
    let mut p = Pair::new(Policy::MANUAL);
    p.establish(Who::Alice);
    for i in 0..50 {
        p.send(Who::Alice, &format!("a{i}"));
    }
    p.run();
    p.send(Who::Bob, "ok");
    p.run();
    p.send(Who::Alice, "again");
    p.run();
    assert_eq!(p.shown_texts(Who::Bob).len(), 51);
    assert_eq!(p.shown_texts(Who::Alice), vec!["ok"]);
}

#[test]
fn whitespace_tag_starts_the_ake_opportunistically() {
    let mut p = Pair::new(Policy::OPPORTUNISTIC);
    let out = p.send(Who::Alice, "hi there");
    assert!(
        out.to_send[0].starts_with("hi there \t  \t\t\t\t \t \t \t  "),
        "tagged plaintext"
    );
    p.run();
    assert_eq!(
        p.shown_texts(Who::Bob),
        vec!["hi there"],
        "the tag is stripped"
    );
    assert!(p.both_private());
}

#[test]
fn peer_error_starts_the_ake_with_error_start_ake() {
    let mut p = Pair::new(Policy::OPPORTUNISTIC);
    p.in_flight
        .push_back((Who::Bob, "?OTR Error: something broke".to_string()));
    p.run();
    assert!(has(
        &p.bob.events,
        |e| matches!(e, Event::PeerError { text } if text.0 == "something broke")
    ));
    assert!(p.both_private());
}

#[test]
fn both_sides_start_at_once() {
    let mut p = Pair::new(Policy::MANUAL);
    p.start(Who::Alice);
    p.start(Who::Bob);
    p.run();
    assert!(p.both_private());
    p.send(Who::Bob, "after the race");
    p.run();
    assert_eq!(p.shown_texts(Who::Alice), vec!["after the race"]);
}

#[test]
fn every_ake_message_duplicated_still_completes() {
    let mut p = Pair::new(Policy::MANUAL);
    p.start(Who::Alice);
    p.run_with(|_, _, _| Fate::Duplicate);
    assert!(p.both_private());
}

#[test]
fn lost_dh_key_then_a_fresh_start_completes() {
    let mut p = Pair::new(Policy::MANUAL);
    p.start(Who::Alice);
    // query -> Bob; commit -> Alice... drop the third message (the DH-Key).
    p.run_with(|i, _, _| if i == 2 { Fate::Drop } else { Fate::Deliver });
    assert!(!p.both_private());
    p.start(Who::Alice);
    p.run();
    assert!(p.both_private());
}

#[test]
fn lost_reveal_signature_is_resent_on_repeated_dh_key() {
    let mut p = Pair::new(Policy::MANUAL);
    p.start(Who::Alice); // query to Bob
    p.deliver_one(); // Bob gets query, sends commit
    p.deliver_one(); // Alice gets commit, sends DH-Key
    let (_, dh_key) = p.in_flight.front().cloned().expect("dh key in flight");
    p.deliver_one(); // Bob gets DH-Key, sends Reveal Signature
    p.in_flight.clear(); // ... which is lost
    p.in_flight.push_back((Who::Bob, dh_key)); // Alice's DH-Key arrives again
    p.run();
    assert!(p.both_private());
}

#[test]
fn fragments_at_a_thousand_bytes_carry_a_twenty_kilobyte_message() {
    let mut alice = config("alice@localhost/a", 0x1111_1111, Policy::MANUAL);
    alice.max_message_size = 1000;
    let mut bob = config("bob@localhost/b", 0x2222_2222, Policy::MANUAL);
    bob.max_message_size = 1000;
    let mut p = Pair::with_configs(alice, bob);
    p.establish(Who::Alice);
    let text: String = (0..20_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let out = p.send(Who::Alice, &text);
    assert!(out.to_send.len() > 20, "split into many fragments");
    assert!(out
        .to_send
        .iter()
        .all(|f| f.len() <= 1000 && f.starts_with("?OTR|")));
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec![text.clone()]);
    p.send(Who::Bob, &text);
    p.run();
    assert_eq!(p.shown_texts(Who::Alice), vec![text]);
}

#[test]
fn require_encryption_holds_every_message_and_sends_them_in_order_once_private() {
    let mut p = Pair::new(Policy::ALWAYS);
    let first = p.send(Who::Alice, "one");
    assert!(
        first.to_send.iter().all(|m| m.starts_with("?OTRv")),
        "only a query goes out"
    );
    assert!(has(&first.events, |e| matches!(
        e,
        Event::MessageHeld {
            pending: 1,
            starting: true,
            ..
        }
    )));
    let second = p.send(Who::Alice, "two");
    assert!(second.to_send.is_empty());
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["one", "two"]);
    for (from, m) in &p.wire {
        if *from == Who::Alice {
            assert!(
                !m.contains("one") && !m.contains("two"),
                "plaintext leaked: {m}"
            );
        }
    }
}

#[test]
fn messages_typed_during_the_ake_wait_for_it() {
    let mut p = Pair::new(Policy::MANUAL);
    p.start(Who::Alice);
    p.deliver_one(); // Bob: query -> commit
    p.deliver_one(); // Alice: commit -> DH-Key; an AKE is now running on Alice's side
    let out = p.send(Who::Alice, "typed mid-AKE");
    assert!(out.to_send.is_empty(), "held, not sent in plaintext");
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["typed mid-AKE"]);
    assert!(p.bob.shown[0].encrypted);
}

#[test]
fn peer_ending_finishes_our_side_and_sending_is_refused() {
    let mut p = Pair::new(Policy::MANUAL);
    p.establish(Who::Alice);
    p.act(Who::Bob, |s, env| s.end(env, true));
    p.run();
    assert_eq!(p.alice.session.status().state, MessageState::Finished);
    assert!(has(&p.alice.events, |e| matches!(
        e,
        Event::PeerEnded { .. }
    )));
    let out = p.send(Who::Alice, "into the void");
    assert!(out.to_send.is_empty());
    assert!(has(
        &out.events,
        |e| matches!(e, Event::NotSent { text, reason: NotSentReason::PeerEndedSession } if text.0 == "into the void")
    ));
    // Ending on our side too returns to plaintext; a refresh makes it private again.
    p.act(Who::Alice, |s, env| s.end(env, true));
    assert_eq!(p.alice.session.status().state, MessageState::Plaintext);
    p.establish(Who::Alice);
}

#[test]
fn refresh_keeps_the_conversation_private_with_the_same_key() {
    let mut p = Pair::new(Policy::MANUAL);
    p.establish(Who::Alice);
    let before = p.alice.session.status().ssid;
    p.establish(Who::Bob);
    assert!(has(&p.alice.events, |e| matches!(
        e,
        Event::Refreshed { .. }
    )));
    assert_ne!(
        p.alice.session.status().ssid,
        before,
        "a new AKE gives a new session id"
    );
    p.send(Who::Alice, "still here");
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["still here"]);
}

#[test]
fn replayed_data_message_is_rejected_and_the_session_survives() {
    let mut p = Pair::new(Policy::MANUAL);
    p.establish(Who::Alice);
    let out = p.send(Who::Alice, "once");
    let captured = out.to_send[0].clone();
    p.run();
    let replay = p.act(Who::Bob, |s, env| s.receive(env, &captured));
    assert!(replay.display.is_none());
    assert!(has(&replay.events, |e| matches!(
        e,
        Event::Unreadable { .. }
    )));
    assert!(p.bob.session.status().is_private());
    p.in_flight.clear();
    p.send(Who::Alice, "twice");
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["once", "twice"]);
}

#[test]
fn replayed_old_ake_neither_revives_nor_knocks_down() {
    let mut p = Pair::new(Policy::MANUAL);
    p.establish(Who::Alice);
    let old_ake: Vec<(Who, String)> = p.wire.clone();
    p.act(Who::Alice, |s, env| s.end(env, true));
    p.run();
    p.act(Who::Bob, |s, env| s.end(env, true));
    // The old session does not come back from captured AKE messages.
    for (from, m) in &old_ake {
        let to = from.other();
        p.act(to, |s, env| s.receive(env, m));
    }
    p.in_flight.clear();
    assert!(!p.alice.session.status().is_private() || !p.bob.session.status().is_private());
    // A live private session is not knocked down by them either.
    p.establish(Who::Alice);
    for (from, m) in &old_ake {
        let to = from.other();
        p.act(to, |s, env| s.receive(env, m));
    }
    p.in_flight.clear();
    assert!(p.both_private());
    p.send(Who::Alice, "unshaken");
    p.run();
    assert!(p.shown_texts(Who::Bob).contains(&"unshaken".to_string()));
}

#[test]
fn a_new_key_after_an_injected_error_does_not_get_the_resent_message() {
    // Alice and Bob are private; Mallory injects an error to Alice, then completes an AKE with
    // her own key. libotr would re-send Alice's last message to Mallory.
    let mut p = Pair::new(Policy::OPPORTUNISTIC);
    p.establish(Who::Alice);
    p.send(Who::Alice, "secret plans");
    p.run();
    let bob_fp = p.alice.session.status().fingerprint;

    let mut mallory = Session::new(config(
        "bob@localhost/b",
        0x3333_3333,
        Policy::OPPORTUNISTIC,
    ));
    let mallory_key = test_key(2);
    let mut to_alice = vec!["?OTR Error: you sent garbage".to_string()];
    let mut guard = 0;
    while !to_alice.is_empty() && guard < 20 {
        guard += 1;
        let mut to_mallory = Vec::new();
        for m in to_alice.drain(..) {
            let out = p.act(Who::Alice, |s, env| s.receive(env, &m));
            to_mallory.extend(out.to_send);
        }
        p.in_flight.clear();
        for m in to_mallory {
            let mut env = Env {
                now: p.now,
                rng: &mut p.rng,
                our_key: Some(mallory_key),
            };
            let out = mallory.receive(&mut env, &m);
            assert!(
                out.display
                    .as_ref()
                    .map_or(true, |d| !d.text.0.contains("secret plans")),
                "Mallory read the resent message"
            );
            to_alice.extend(out.to_send);
        }
    }
    assert_ne!(
        p.alice.session.status().fingerprint,
        bob_fp,
        "Mallory's AKE completed"
    );
    assert!(has(&p.alice.events, |e| matches!(
        e,
        Event::HeldForNewFingerprint { .. }
    )));
    assert!(!has(&p.alice.events, |e| matches!(e, Event::MessageResent)));
}

#[test]
fn the_resent_message_goes_to_the_same_key_with_a_prefix() {
    let mut p = Pair::new(Policy::OPPORTUNISTIC);
    p.establish(Who::Alice);
    p.send(Who::Alice, "did you get this?");
    p.in_flight.clear(); // lost on the way
    p.in_flight.push_back((
        Who::Alice,
        "?OTR Error: You sent an encrypted message that could not be read.".into(),
    ));
    p.run();
    assert!(has(&p.alice.events, |e| matches!(e, Event::MessageResent)));
    assert_eq!(p.shown_texts(Who::Bob), vec!["[resent] did you get this?"]);
}

#[test]
fn reflected_ake_is_noticed() {
    let mut p = Pair::new(Policy::MANUAL);
    let query = p.start(Who::Alice).to_send;
    p.in_flight.clear();
    // Alice receives her own query back: she answers with a commit; reflect that too.
    let commit = p
        .act(Who::Alice, |s, env| s.receive(env, &query[0]))
        .to_send;
    assert_eq!(commit.len(), 1);
    p.in_flight.clear();
    let reply = p.act(Who::Alice, |s, env| s.receive(env, &commit[0]));
    assert!(has(&reply.events, |e| matches!(e, Event::Reflected)));
    assert!(reply.to_send.is_empty(), "no answer to our own commit");
    assert!(!p.alice.session.status().is_private());
}

#[test]
fn v2_only_peer_gets_a_v2_session() {
    let mut p = Pair::with_configs(
        config("alice@localhost/a", 0x1111_1111, Policy::MANUAL),
        config("bob@localhost/b", 0x2222_2222, Policy(Policy::ALLOW_V2)),
    );
    p.establish(Who::Alice);
    assert_eq!(
        p.alice.session.status().version.map(|v| v.as_u16()),
        Some(2)
    );
    p.send(Who::Bob, "v2 works");
    p.run();
    assert_eq!(p.shown_texts(Who::Alice), vec!["v2 works"]);
    assert!(
        p.wire.iter().any(|(_, m)| m.starts_with("?OTR:AAID")),
        "v2 data messages"
    );
}

#[test]
fn plaintext_while_private_is_flagged() {
    let mut p = Pair::new(Policy::MANUAL);
    p.establish(Who::Alice);
    let out = p.act(Who::Bob, |s, env| s.receive(env, "sneaky plain text"));
    assert!(has(&out.events, |e| matches!(
        e,
        Event::UnencryptedReceived
    )));
    assert_eq!(out.display.map(|d| d.encrypted), Some(false));
}

#[test]
fn policy_never_passes_everything_through() {
    let mut p = Pair::new(Policy::NEVER);
    let out = p.send(Who::Alice, "?OTRv23? not a query to us");
    assert_eq!(out.to_send, vec!["?OTRv23? not a query to us".to_string()]);
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["?OTRv23? not a query to us"]);
}

#[test]
fn smp_between_two_engines() {
    let mut p = Pair::new(Policy::MANUAL);
    p.establish(Who::Alice);
    p.act(Who::Alice, |s, env| {
        s.smp_start(env, Some("first pet?"), b"rex")
            .expect("private")
    });
    p.run();
    assert!(has(&p.bob.events, |e| matches!(
        e,
        Event::Smp {
            event: purple_otr::otr::smp::SmpEvent::AskForAnswer { .. },
            ..
        }
    )));
    p.act(Who::Bob, |s, env| {
        s.smp_respond(env, b"rex").expect("asked")
    });
    p.run();
    assert!(has(&p.alice.events, |e| matches!(
        e,
        Event::Smp {
            event: purple_otr::otr::smp::SmpEvent::Success { .. },
            ..
        }
    )));
    assert!(has(&p.bob.events, |e| matches!(
        e,
        Event::Smp {
            event: purple_otr::otr::smp::SmpEvent::Success { .. },
            ..
        }
    )));
}

#[test]
fn ake_timeout_hands_back_messages_held_for_it() {
    let mut p = Pair::new(Policy::MANUAL);
    p.start(Who::Alice);
    p.deliver_one(); // Bob: query -> commit
    p.deliver_one(); // Alice: AKE running
    p.in_flight.clear(); // Bob vanishes
    let out = p.send(Who::Alice, "are you there");
    assert!(out.to_send.is_empty());
    p.now += 200;
    let polled = p.act(Who::Alice, |s, env| s.poll(env));
    assert!(has(
        &polled.events,
        |e| matches!(e, Event::NotSent { text, reason: NotSentReason::NotPrivateInTime } if text.0 == "are you there")
    ));
    assert!(polled.to_send.is_empty());
}

#[test]
fn typing_right_after_asking_for_privacy_waits_for_it() {
    // Opportunistic policy, but the user just clicked "Start private conversation": what
    // they type next must not go out in plaintext while the peer is still answering.
    let mut p = Pair::new(Policy::OPPORTUNISTIC);
    p.start(Who::Alice);
    let out = p.send(Who::Alice, "right after start");
    assert!(out.to_send.is_empty(), "held: {:?}", out.to_send);
    p.run();
    assert_eq!(p.shown_texts(Who::Bob), vec!["right after start"]);
    assert!(p.bob.shown[0].encrypted);
    // If the peer never answers, the message comes back as not sent.
    let mut q = Pair::new(Policy::OPPORTUNISTIC);
    q.start(Who::Alice);
    q.in_flight.clear();
    assert!(q.send(Who::Alice, "lost cause").to_send.is_empty());
    q.now += 120;
    let polled = q.act(Who::Alice, |s, env| s.poll(env));
    assert!(has(
        &polled.events,
        |e| matches!(e, Event::NotSent { text, .. } if text.0 == "lost cause")
    ));
    // Afterwards plain messages flow again under this policy.
    assert_eq!(q.send(Who::Alice, "plain now").to_send.len(), 1);
}
