//! Checks that need the session's insides; conversations as seen from outside live in
//! `tests/engine_pair.rs` and `tests/hostile_input.rs`.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::otr::ake::AkeError;
use crate::otr::smp::SmpEvent;
use crate::otr::wire::envelope::{classify, Incoming};

fn config(name: &str, tag: u32) -> SessionConfig {
    SessionConfig {
        account_name: name.into(),
        our_instance: tag,
        policy: Policy::MANUAL,
        max_message_size: 0,
    }
}

fn decoded(m: &str) -> EncodedMessage {
    match classify(m) {
        Incoming::Encoded { bytes } => EncodedMessage::decode(&bytes).expect("decodes"),
        other => panic!("not an encoded message: {other:?}"),
    }
}

/// Alice asks, Bob commits, and so on until both are quiet; returns what Alice sent.
fn establish(
    rng: &mut ChaCha20Rng,
    alice: (&mut Session, &DsaPrivateKey),
    bob: (&mut Session, &DsaPrivateKey),
) -> Vec<String> {
    let (alice, alice_key) = alice;
    let (bob, bob_key) = bob;
    let mut sent_by_alice = Vec::new();
    let mut to_bob = alice
        .start(&mut Env {
            now: 0,
            rng,
            our_key: Some(alice_key),
        })
        .to_send;
    while !to_bob.is_empty() {
        sent_by_alice.extend(to_bob.iter().cloned());
        let mut to_alice = Vec::new();
        for m in to_bob.drain(..) {
            let mut env = Env {
                now: 0,
                rng,
                our_key: Some(bob_key),
            };
            to_alice.extend(bob.receive(&mut env, &m).to_send);
        }
        for m in to_alice {
            let mut env = Env {
                now: 0,
                rng,
                our_key: Some(alice_key),
            };
            to_bob.extend(alice.receive(&mut env, &m).to_send);
        }
    }
    assert!(alice.status().is_private() && bob.status().is_private());
    sent_by_alice
}

#[test]
fn the_same_exchange_never_goes_private_on_a_second_instance() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let alice_key = DsaPrivateKey::generate(&mut rng);
    let bob_key = DsaPrivateKey::generate(&mut rng);
    let mut alice = Session::new(config("alice@example.org", 0x1000));
    let mut bob = Session::new(config("bob@example.org", 0x2000));
    let sent = establish(&mut rng, (&mut alice, &alice_key), (&mut bob, &bob_key));
    // Even if the record of which DH-Keys took the master's commit were lost, Alice's
    // DH-Key and Signature replayed under another instance tag must not make a second
    // private instance with the same keys.
    bob.commit_answers = CommitAnswers::default();
    let mut events = Vec::new();
    for m in sent.iter().filter(|m| m.starts_with("?OTR:")) {
        let mut message = decoded(m);
        message.header.sender_instance = 0x5555;
        let replayed = envelope::encode(&message.encode());
        let mut env = Env {
            now: 0,
            rng: &mut rng,
            our_key: Some(&bob_key),
        };
        events.extend(bob.receive(&mut env, &replayed).events);
    }
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::AkeIgnored {
                reason: AkeError::DuplicateExchange
            }
        )),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Event::GoneSecure { .. })));
    let private = bob
        .children
        .iter()
        .filter(|c| matches!(c.msg, MsgState::Encrypted(_)))
        .count();
    assert_eq!(private, 1);
    assert_eq!(bob.status().instance, 0x1000);
}

// ---- SMP bound to the modern session (docs/modern-suite.md §13 "SMP") ------------------

/// Two sessions with identity keys, private on v3 and upgraded to the modern suite.
struct Upgraded {
    rng: ChaCha20Rng,
    keys: [DsaPrivateKey; 2],
    sessions: [Session; 2],
    events: [Vec<Event>; 2],
}

impl Upgraded {
    fn new(seed: u64) -> Self {
        use crate::otr::modern::identity::IdentityKey;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let keys = [
            DsaPrivateKey::generate(&mut rng),
            DsaPrivateKey::generate(&mut rng),
        ];
        let mut alice = Session::new(config("alice@example.org", 0x1000));
        let mut bob = Session::new(config("bob@example.org", 0x2000));
        alice.set_modern_identity(IdentityKey::from_secret_bytes(&[0xa1; 32]));
        bob.set_modern_identity(IdentityKey::from_secret_bytes(&[0xb0; 32]));
        establish(&mut rng, (&mut alice, &keys[0]), (&mut bob, &keys[1]));
        let mut u = Upgraded {
            rng,
            keys,
            sessions: [alice, bob],
            events: [Vec::new(), Vec::new()],
        };
        // The responder switches on the initiator's first data message.
        let out = u.act(0, |s, env| s.send(env, "hello"));
        u.deliver(1, out.to_send);
        for s in &u.sessions {
            assert_eq!(s.status().suite, Some(Suite::Modern));
        }
        u
    }

    fn th(&self, who: usize) -> [u8; 32] {
        let s = &self.sessions[who];
        match &s.inst_ref(s.best()).msg {
            MsgState::Encrypted(p) => p.modern.transcript_hash().expect("Active"),
            _ => panic!("not private"),
        }
    }

    fn act(
        &mut self,
        who: usize,
        f: impl FnOnce(&mut Session, &mut Env<'_>) -> Outcome,
    ) -> Outcome {
        let mut env = Env {
            now: 1,
            rng: &mut self.rng,
            our_key: Some(&self.keys[who]),
        };
        let out = f(&mut self.sessions[who], &mut env);
        self.events[who].extend(out.events.iter().cloned());
        out
    }

    /// Delivers `messages` to `to`, and every answer back and forth until quiet; returns
    /// the message types (byte 2 of the decoded message) that crossed.
    fn deliver(&mut self, to: usize, messages: Vec<String>) -> Vec<u8> {
        let mut types = Vec::new();
        let mut queue: Vec<(usize, String)> = messages.into_iter().map(|m| (to, m)).collect();
        while let Some((to, m)) = (!queue.is_empty()).then(|| queue.remove(0)) {
            if let Incoming::Encoded { bytes } = classify(&m) {
                types.extend(bytes.get(2).copied());
            }
            let out = self.act(to, |s, env| s.receive(env, &m));
            queue.extend(out.to_send.into_iter().map(|m| (1 - to, m)));
        }
        types
    }

    fn smp_result(&self, who: usize) -> Option<SmpEvent> {
        self.events[who].iter().rev().find_map(|e| match e {
            Event::Smp { event, .. }
                if matches!(
                    event,
                    SmpEvent::Success
                        | SmpEvent::Failure
                        | SmpEvent::Cheated
                        | SmpEvent::Aborted
                        | SmpEvent::Error
                ) =>
            {
                Some(event.clone())
            }
            _ => None,
        })
    }

    /// Alice asks with `a`, Bob answers with `b` (after `meddle` on Bob's session);
    /// returns both results and the message types of the exchange.
    fn smp(
        &mut self,
        a: &[u8],
        b: &[u8],
        meddle: impl FnOnce(&mut Session),
    ) -> (Option<SmpEvent>, Option<SmpEvent>, Vec<u8>) {
        let out = self.act(0, |s, env| s.smp_start(env, None, a).expect("private"));
        let mut types = self.deliver(1, out.to_send);
        meddle(&mut self.sessions[1]);
        let out = self.act(1, |s, env| s.smp_respond(env, b).expect("asked"));
        types.extend(self.deliver(0, out.to_send));
        (self.smp_result(0), self.smp_result(1), types)
    }
}

fn forget_the_binding(s: &mut Session) {
    let slot = s.best();
    if let MsgState::Encrypted(p) = &mut s.inst(slot).msg {
        p.modern.smp_peer_binding = None;
    }
}

#[test]
fn smp_over_the_modern_suite_agrees_and_a_wrong_secret_fails() {
    let mut u = Upgraded::new(21);
    assert_eq!(u.th(0), u.th(1), "both sides hold the same TH");
    let (a, b, types) = u.smp(b"the blue boat", b"the blue boat", |_| {});
    assert_eq!((a, b), (Some(SmpEvent::Success), Some(SmpEvent::Success)));
    assert!(types.iter().all(|&t| t == 0x33), "{types:x?}");
    let (a, b, _) = u.smp(b"the blue boat", b"the red boat", |_| {});
    assert_eq!((a, b), (Some(SmpEvent::Failure), Some(SmpEvent::Failure)));
}

/// The binding is exactly the documented one: a peer that binds the secret to the v3
/// session only (as before, or as libotr) does not match, and one that feeds the v3 rule
/// `SHA256("purple-otr modern v1 smp secret" ‖ TH ‖ secret)` does.
#[test]
fn smp_over_the_modern_suite_is_bound_to_the_transcript_hash() {
    let mut u = Upgraded::new(22);
    let (a, b, _) = u.smp(b"secret", b"secret", forget_the_binding);
    assert_eq!((a, b), (Some(SmpEvent::Failure), Some(SmpEvent::Failure)));
    let th = u.th(1);
    let mut documented = b"purple-otr modern v1 smp secret".to_vec();
    documented.extend_from_slice(&th);
    documented.extend_from_slice(b"secret");
    let bound = crate::otr::modern::prims::sha256(&[&documented]);
    let (a, b, _) = u.smp(b"secret", &bound, forget_the_binding);
    assert_eq!((a, b), (Some(SmpEvent::Success), Some(SmpEvent::Success)));
}

/// An exchange whose SMP1 went on v3 keeps the v3 binding when its answer comes after the
/// switch (the rule of §13): it still succeeds, and its later messages are modern data.
#[test]
fn an_smp_started_on_v3_finishes_after_the_switch() {
    use crate::otr::modern::identity::IdentityKey;
    let mut rng = ChaCha20Rng::seed_from_u64(23);
    let keys = [
        DsaPrivateKey::generate(&mut rng),
        DsaPrivateKey::generate(&mut rng),
    ];
    let mut alice = Session::new(config("alice@example.org", 0x1000));
    let mut bob = Session::new(config("bob@example.org", 0x2000));
    alice.set_modern_identity(IdentityKey::from_secret_bytes(&[0xa1; 32]));
    bob.set_modern_identity(IdentityKey::from_secret_bytes(&[0xb0; 32]));
    let mut u = Upgraded {
        rng,
        keys,
        sessions: [alice, bob],
        events: [Vec::new(), Vec::new()],
    };
    // The AKE, up to the moment both are private on v3 (the announcements still on the way).
    let out = u.act(0, |s, env| s.start(env));
    let mut queue: Vec<(usize, String)> = out.to_send.into_iter().map(|m| (1, m)).collect();
    while !(u.sessions[0].status().is_private() && u.sessions[1].status().is_private()) {
        let (to, m) = queue.remove(0);
        let out = u.act(to, |s, env| s.receive(env, &m));
        queue.extend(out.to_send.into_iter().map(|m| (1 - to, m)));
    }
    assert_eq!(u.sessions[0].status().suite, Some(Suite::Otr));
    // Alice asks now: her SMP1 goes on v3, behind her announcement.
    let out = u.act(0, |s, env| {
        s.smp_start(env, None, b"v3 secret").expect("private")
    });
    let smp1: Vec<u8> = out
        .to_send
        .iter()
        .filter_map(|m| match classify(m) {
            Incoming::Encoded { bytes } => bytes.get(2).copied(),
            _ => None,
        })
        .collect();
    assert_eq!(smp1, vec![0x03], "the SMP1 is a v3 data message");
    queue.extend(out.to_send.into_iter().map(|m| (1, m)));
    // Everything else: Bob reads the SMP1, both upgrade.
    while let Some((to, m)) = (!queue.is_empty()).then(|| queue.remove(0)) {
        let out = u.act(to, |s, env| s.receive(env, &m));
        queue.extend(out.to_send.into_iter().map(|m| (1 - to, m)));
    }
    let out = u.act(0, |s, env| s.send(env, "switch"));
    u.deliver(1, out.to_send);
    for s in &u.sessions {
        assert_eq!(s.status().suite, Some(Suite::Modern));
    }
    assert!(
        u.sessions[1].status().smp_in_progress,
        "Bob still has the question"
    );
    // Bob answers after the switch: the rest of the exchange is modern data, bound to v3.
    let out = u.act(1, |s, env| s.smp_respond(env, b"v3 secret").expect("asked"));
    let mut types = Vec::new();
    for m in &out.to_send {
        if let Incoming::Encoded { bytes } = classify(m) {
            types.extend(bytes.get(2).copied());
        }
    }
    types.extend(u.deliver(0, out.to_send));
    assert!(
        !types.is_empty() && types.iter().all(|&t| t == 0x33),
        "{types:x?}"
    );
    assert_eq!(
        (u.smp_result(0), u.smp_result(1)),
        (Some(SmpEvent::Success), Some(SmpEvent::Success))
    );
    // A new exchange after the switch is bound to TH on both sides and agrees as well.
    let (a, b, _) = u.smp(b"pq secret", b"pq secret", |_| {});
    assert_eq!((a, b), (Some(SmpEvent::Success), Some(SmpEvent::Success)));
}
