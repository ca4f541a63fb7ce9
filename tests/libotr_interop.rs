//! Our engine against the real libotr 4.1.1 (through `tests/peer/otr_peer.c`), both
//! directions: every way to start, the ratchet over many messages, lost AKE messages,
//! fragments, a v2-only peer, one account logged in twice, SMP and endings.

mod support;

use std::collections::VecDeque;

use purple_otr::otr::events::Event;
use purple_otr::otr::policy::Policy;
use purple_otr::otr::session::{Env, Outcome, Received, Session};
use purple_otr::otr::smp::SmpEvent;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use support::libotr_peer::{self as peer, LibotrPeer, MsgState, PeerEvent};
use support::pair::{config, test_key};

/// What libotr calls us.
const US: &str = "us@localhost";
const OUR_TAG: u32 = 0x4242_4242;

struct Link {
    us: Session,
    rng: ChaCha20Rng,
    now: u64,
    peers: Vec<LibotrPeer>,
    /// (peer index, message) for libotr; plain messages for us.
    to_peer: VecDeque<(usize, String)>,
    to_us: VecDeque<String>,
    shown: Vec<Received>,
    events: Vec<Event>,
    peer_shown: Vec<(usize, String)>,
    peer_events: Vec<PeerEvent>,
    /// Every message that crossed, true when we sent it.
    wire: Vec<(bool, String)>,
}

impl Link {
    fn new(policy: Policy, peer_policy: peer::Policy) -> Link {
        let mut p = LibotrPeer::from_fixture(&peer::BOB);
        p.set_policy(peer_policy);
        Link::with_peers(policy, vec![p])
    }

    fn with_peers(policy: Policy, peers: Vec<LibotrPeer>) -> Link {
        Link {
            us: Session::new(config("us@localhost/test", OUR_TAG, policy)),
            rng: ChaCha20Rng::seed_from_u64(7),
            now: 10_000,
            peers,
            to_peer: VecDeque::new(),
            to_us: VecDeque::new(),
            shown: vec![],
            events: vec![],
            peer_shown: vec![],
            peer_events: vec![],
            wire: vec![],
        }
    }

    fn ours(&mut self, f: impl FnOnce(&mut Session, &mut Env<'_>) -> Outcome) -> Outcome {
        let mut env = Env {
            now: self.now,
            rng: &mut self.rng,
            our_key: Some(test_key(0)),
        };
        let out = f(&mut self.us, &mut env);
        self.events.extend(out.events.iter().cloned());
        if let Some(d) = &out.display {
            self.shown.push(d.clone());
        }
        for m in &out.to_send {
            self.wire.push((true, m.clone()));
            // IM servers deliver to every logged-in instance of the account.
            for i in 0..self.peers.len() {
                self.to_peer.push_back((i, m.clone()));
            }
        }
        out
    }

    fn queue_from_peer(&mut self, messages: Vec<String>) {
        for m in messages {
            self.wire.push((false, m.clone()));
            self.to_us.push_back(m);
        }
    }

    fn peer_send(&mut self, i: usize, text: &str) {
        let out = self.peers[i].send(US, text);
        self.queue_from_peer(out);
    }

    fn peer_start(&mut self, i: usize) {
        let out = self.peers[i].start(US);
        self.queue_from_peer(out);
    }

    fn deliver_to_peer(&mut self, i: usize, m: &str) {
        let r = self.peers[i].receive(US, m);
        if let Some(d) = r.display {
            self.peer_shown.push((i, d));
        }
        self.peer_events.extend(r.events);
        self.queue_from_peer(r.injected);
    }

    /// Delivers everything in flight, `keep` deciding per message (false drops it).
    fn run_filtered(&mut self, mut keep: impl FnMut(bool, &str) -> bool) {
        for _ in 0..100_000 {
            if let Some(m) = self.to_us.pop_front() {
                if keep(false, &m) {
                    self.ours(|s, env| s.receive(env, &m));
                }
            } else if let Some((i, m)) = self.to_peer.pop_front() {
                if keep(true, &m) {
                    self.deliver_to_peer(i, &m);
                }
            } else {
                return;
            }
        }
        panic!("the conversation does not settle");
    }

    fn run(&mut self) {
        self.run_filtered(|_, _| true);
    }

    fn peer_state(&mut self, i: usize) -> MsgState {
        self.peers[i].expect_status(US).msgstate
    }

    fn both_private(&mut self) -> bool {
        self.us.status().is_private() && self.peer_state(0) == MsgState::Encrypted
    }

    fn our_texts(&self) -> Vec<String> {
        self.shown.iter().map(|r| r.text.0.clone()).collect()
    }

    fn peer_texts(&self) -> Vec<String> {
        self.peer_shown.iter().map(|(_, t)| t.clone()).collect()
    }

    fn assert_private_and_talking(&mut self) {
        assert!(
            self.both_private(),
            "not private: our events {:?}, theirs {:?}",
            self.events,
            self.peer_events
        );
        // Both sides see the right long-term keys.
        let theirs = peer::fixture_fingerprint(peer::BOB.key_file, peer::BOB.account)
            .expect("fixture fingerprint");
        assert_eq!(
            self.us.status().fingerprint.map(|f| f.to_hex()),
            Some(theirs)
        );
        let status = self.peers[0].expect_status(US);
        assert_eq!(
            status.fingerprint,
            Some(test_key(0).public().fingerprint().to_hex())
        );
        assert_eq!(
            status.session_id.as_deref(),
            self.us.status().ssid.as_ref().map(|s| &s[..])
        );
        let n = self.shown.len();
        let m = self.peer_shown.len();
        self.ours(|s, env| s.send(env, "ping from us"));
        self.run();
        self.peer_send(0, "pong from libotr");
        self.run();
        assert_eq!(self.peer_texts()[m..], ["ping from us".to_string()]);
        assert_eq!(self.our_texts()[n..], ["pong from libotr".to_string()]);
        assert!(self.shown.last().is_some_and(|r| r.encrypted));
    }
}

fn has(events: &[Event], pred: impl Fn(&Event) -> bool) -> bool {
    events.iter().any(pred)
}

#[test]
fn we_start_with_a_query() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.ours(|s, env| s.start(env));
    l.run();
    l.assert_private_and_talking();
    assert_eq!(l.us.status().version.map(|v| v.as_u16()), Some(3));
}

#[test]
fn libotr_starts_with_a_query() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.peer_start(0);
    l.run();
    l.assert_private_and_talking();
}

#[test]
fn our_whitespace_tag_makes_libotr_start() {
    let mut l = Link::new(Policy::OPPORTUNISTIC, peer::Policy::Opportunistic);
    l.ours(|s, env| s.send(env, "hello, plainly"));
    l.run();
    assert_eq!(l.peer_texts(), vec!["hello, plainly"]);
    l.assert_private_and_talking();
}

#[test]
fn libotr_whitespace_tag_makes_us_start() {
    let mut l = Link::new(Policy::OPPORTUNISTIC, peer::Policy::Opportunistic);
    l.peer_send(0, "hello from libotr");
    l.run();
    assert_eq!(l.our_texts(), vec!["hello from libotr"]);
    l.assert_private_and_talking();
}

#[test]
fn an_error_message_makes_libotr_start() {
    let mut l = Link::new(Policy::OPPORTUNISTIC, peer::Policy::Opportunistic);
    l.to_peer
        .push_back((0, "?OTR Error: please start over".into()));
    l.run();
    l.assert_private_and_talking();
}

#[test]
fn a_libotr_error_message_makes_us_start() {
    let mut l = Link::new(Policy::OPPORTUNISTIC, peer::Policy::Manual);
    l.to_us.push_back("?OTR Error: please start over".into());
    l.run();
    assert!(has(&l.events, |e| matches!(e, Event::PeerError { .. })));
    l.assert_private_and_talking();
}

#[test]
fn both_start_at_once() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.ours(|s, env| s.start(env));
    l.peer_start(0);
    l.run();
    l.assert_private_and_talking();
}

#[test]
fn thousand_alternating_messages_with_the_ratchet_turning() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.ours(|s, env| s.start(env));
    l.run();
    let mut expect_ours = Vec::new();
    let mut expect_theirs = Vec::new();
    for i in 0..1000 {
        let text = format!("message {i}: <b>ü</b> {}", "x".repeat(i % 140));
        if i % 2 == 0 {
            l.ours(|s, env| s.send(env, &text));
            expect_theirs.push(text);
        } else {
            l.peer_send(0, &text);
            expect_ours.push(text);
        }
        l.run();
    }
    assert_eq!(l.peer_texts(), expect_theirs);
    assert_eq!(l.our_texts(), expect_ours);
    assert!(
        l.peer_events
            .iter()
            .all(|e| e.msg_event().is_none_or(|m| !m.contains("UNREADABLE"))),
        "{:?}",
        l.peer_events
    );
    assert!(!has(&l.events, |e| matches!(e, Event::Unreadable { .. })));
}

#[test]
fn lost_reveal_signature_libotr_resends_it_for_a_repeated_dh_key() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.ours(|s, env| s.start(env));
    // query -> libotr commit -> our DH-Key (keep a copy) -> libotr Reveal Signature (lost)
    let mut our_dh_key = None;
    l.run_filtered(|from_us, m| {
        if from_us && m.starts_with("?OTR:AAMK") {
            our_dh_key = Some(m.to_string());
        }
        from_us || !m.starts_with("?OTR:AAMR")
    });
    assert!(!l.us.status().is_private());
    l.to_peer
        .push_back((0, our_dh_key.expect("we sent a DH-Key")));
    l.run();
    l.assert_private_and_talking();
}

#[test]
fn lost_reveal_signature_we_resend_it_for_a_repeated_dh_key() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.peer_start(0);
    let mut their_dh_key = None;
    l.run_filtered(|from_us, m| {
        if !from_us && m.starts_with("?OTR:AAMK") {
            their_dh_key = Some(m.to_string());
        }
        !(from_us && m.starts_with("?OTR:AAMR"))
    });
    assert!(!l.us.status().is_private());
    l.to_us
        .push_back(their_dh_key.expect("libotr sent a DH-Key"));
    l.run();
    l.assert_private_and_talking();
}

#[test]
fn lost_commit_then_a_new_start() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.ours(|s, env| s.start(env));
    l.run_filtered(|from_us, m| from_us || !m.starts_with("?OTR:AAMC"));
    assert!(!l.us.status().is_private());
    l.ours(|s, env| s.start(env));
    l.run();
    l.assert_private_and_talking();
}

#[test]
fn twenty_kilobytes_fragmented_at_a_thousand_bytes_both_ways() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.us.set_max_message_size(1000);
    l.peers[0].set_mms(1000);
    l.ours(|s, env| s.start(env));
    l.run();
    assert!(l.both_private());
    let text: String = (0..20_000)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    let before = l.wire.len();
    l.ours(|s, env| s.send(env, &text));
    assert!(l.wire[before..]
        .iter()
        .all(|(_, m)| m.len() <= 1000 && m.starts_with("?OTR|")));
    assert!(l.wire.len() - before > 20);
    l.run();
    assert_eq!(l.peer_texts(), vec![text.clone()]);
    let before = l.wire.len();
    l.peer_send(0, &text);
    assert!(l.wire.len() - before > 20, "libotr fragmented too");
    l.run();
    assert_eq!(l.our_texts(), vec![text]);
}

#[test]
fn v2_only_libotr_peer() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Flags(peer::Policy::ALLOW_V2));
    l.ours(|s, env| s.start(env));
    l.run();
    assert_eq!(l.us.status().version.map(|v| v.as_u16()), Some(2));
    assert_eq!(l.peers[0].expect_status(US).protocol_version, 2);
    l.assert_private_and_talking();
    // And v2 fragments.
    l.us.set_max_message_size(300);
    let text = "v2 fragment test ".repeat(100);
    l.ours(|s, env| s.send(env, &text));
    assert!(l.wire.iter().any(|(us, m)| *us && m.starts_with("?OTR,")));
    l.run();
    assert_eq!(l.peer_texts().last(), Some(&text));
}

#[test]
fn one_account_logged_in_twice() {
    let first = LibotrPeer::from_fixture(&peer::BOB);
    let scratch = peer::ScratchDir::new("second-instance");
    let mut second = LibotrPeer::spawn_labelled("bob-2");
    second.account(peer::BOB.account, peer::BOB.protocol);
    second
        .load_key(&peer::fixture(peer::BOB.key_file))
        .expect("same key");
    let second_tag = second.generate_instag(&scratch.join("instags"));
    let mut l = Link::with_peers(Policy::MANUAL, vec![first, second]);
    l.ours(|s, env| s.start(env));
    l.run();
    assert_eq!(l.peer_state(0), MsgState::Encrypted);
    assert_eq!(l.peer_state(1), MsgState::Encrypted);
    assert_eq!(l.us.status().instances, 2);
    // Each instance can talk to us.
    l.peer_send(0, "from the first login");
    l.run();
    l.peer_send(1, "from the second login");
    l.run();
    assert_eq!(
        l.our_texts(),
        vec!["from the first login", "from the second login"]
    );
    // Our reply goes to the instance we heard from last, and only it can read it.
    l.ours(|s, env| s.send(env, "to the second"));
    l.run();
    assert_eq!(l.peer_shown, vec![(1, "to the second".to_string())]);
    assert_eq!(l.us.status().instance, second_tag);
}

#[test]
fn smp_with_libotr_both_ways() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.ours(|s, env| s.start(env));
    l.run();
    // We ask, libotr answers correctly: both succeed; libotr, asked a question, sets no trust
    // but we do.
    l.ours(|s, env| {
        s.smp_start(env, Some("Where did we meet?"), b"the zoo")
            .expect("private")
    });
    l.run();
    assert!(
        l.peer_events
            .iter()
            .any(|e| e.smp_event() == Some("ASK_FOR_ANSWER")),
        "{:?}",
        l.peer_events
    );
    let out = l.peers[0].smp_respond(US, b"the zoo");
    l.queue_from_peer(out);
    l.run();
    assert!(
        has(&l.events, |e| matches!(
            e,
            Event::Smp {
                event: SmpEvent::Success,
                trust: Some(true),
                ..
            }
        )),
        "{:?}",
        l.events
    );
    assert!(l
        .peer_events
        .iter()
        .any(|e| e.smp_event() == Some("SUCCESS")));

    // libotr asks with a shared secret, we answer wrongly: both fail.
    l.events.clear();
    l.peer_events.clear();
    let out = l.peers[0].smp_start(US, None, b"blue");
    l.queue_from_peer(out);
    l.run();
    assert!(has(&l.events, |e| matches!(
        e,
        Event::Smp {
            event: SmpEvent::AskForSecret,
            ..
        }
    )));
    l.ours(|s, env| s.smp_respond(env, b"green").expect("asked"));
    l.run();
    assert!(
        has(&l.events, |e| matches!(
            e,
            Event::Smp {
                event: SmpEvent::Failure,
                trust: Some(false),
                ..
            }
        )),
        "{:?}",
        l.events
    );
    assert!(l
        .peer_events
        .iter()
        .any(|e| e.smp_event() == Some("FAILURE")));

    // libotr asks, we answer correctly: both succeed, and libotr trusts us.
    l.events.clear();
    l.peer_events.clear();
    let out = l.peers[0].smp_start(US, None, b"same secret");
    l.queue_from_peer(out);
    l.run();
    l.ours(|s, env| s.smp_respond(env, b"same secret").expect("asked"));
    l.run();
    assert!(has(&l.events, |e| matches!(
        e,
        Event::Smp {
            event: SmpEvent::Success,
            ..
        }
    )));
    assert!(l.peers[0].expect_status(US).trusted());

    // An abort midway leaves both able to run again.
    l.events.clear();
    l.ours(|s, env| s.smp_start(env, None, b"abc").expect("private"));
    l.run();
    l.ours(|s, env| s.smp_abort(env));
    l.run();
    let out = l.peers[0].smp_start(US, None, b"again");
    l.queue_from_peer(out);
    l.run();
    l.ours(|s, env| s.smp_respond(env, b"again").expect("asked"));
    l.run();
    assert!(
        has(&l.events, |e| matches!(
            e,
            Event::Smp {
                event: SmpEvent::Success,
                ..
            }
        )),
        "{:?}",
        l.events
    );
}

#[test]
fn libotr_ends_and_we_end() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.ours(|s, env| s.start(env));
    l.run();
    let out = l.peers[0].disconnect(US);
    l.queue_from_peer(out);
    l.run();
    assert!(has(&l.events, |e| matches!(e, Event::PeerEnded { .. })));
    // We refresh; then we end and libotr sees it.
    l.ours(|s, env| s.end(env, true));
    l.ours(|s, env| s.start(env));
    l.run();
    assert!(l.both_private());
    l.ours(|s, env| s.end(env, true));
    l.run();
    assert_eq!(l.peer_state(0), MsgState::Finished);
}

#[test]
fn require_encryption_against_libotr_never_leaks() {
    let mut l = Link::new(Policy::ALWAYS, peer::Policy::Manual);
    l.ours(|s, env| s.send(env, "first secret"));
    l.ours(|s, env| s.send(env, "second secret"));
    l.run();
    assert_eq!(l.peer_texts(), vec!["first secret", "second secret"]);
    assert!(l.wire.iter().all(|(_, m)| !m.contains("secret")));
}

#[test]
fn extra_symmetric_key_matches_libotr() {
    let mut l = Link::new(Policy::MANUAL, peer::Policy::Manual);
    l.ours(|s, env| s.start(env));
    l.run();
    let (key, out) = {
        let mut env = Env {
            now: l.now,
            rng: &mut l.rng,
            our_key: Some(test_key(0)),
        };
        l.us.extra_symmetric_key(&mut env, 7, b"file transfer")
            .expect("private")
    };
    for m in out.to_send {
        l.deliver_to_peer(0, &m);
    }
    let got = l.peer_events.iter().find_map(|e| match e {
        PeerEvent::ReceivedSymkey {
            usage,
            usedata,
            key,
            ..
        } => Some((*usage, usedata.clone(), key.clone())),
        _ => None,
    });
    assert_eq!(got, Some((7, b"file transfer".to_vec(), key.0.to_vec())));
}
