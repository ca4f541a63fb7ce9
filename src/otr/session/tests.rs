//! Checks that need the session's insides; conversations as seen from outside live in
//! `tests/engine_pair.rs` and `tests/hostile_input.rs`.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::otr::ake::AkeError;
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
