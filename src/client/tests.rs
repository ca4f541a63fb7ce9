//! The client with two of itself talking, no libpurple: every path of the first rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::conversations::*;
use super::store::Store;
use crate::otr::crypto::dsa::DsaPrivateKey;
use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::keystore::privkey::AccountKey;
use crate::otr::policy::Policy;
use crate::otr::session::MessageState;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn temp_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "purple-otr-client-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn settings(policy: Policy) -> ConvSettings {
    ConvSettings {
        policy,
        avoid_logging: true,
        only_verified: false,
        logging_default: true,
        peer_online: true,
        // These tests are about OTR v3 between two clients; the upgrade has its own.
        modern: false,
    }
}

struct Side {
    bridge: Client,
    conv: ConvKey,
    dir: PathBuf,
    effects: Vec<Effect>,
    shown: Vec<String>,
}

fn side(name: &str, peer: &str, seed: u64, with_key: bool) -> Side {
    let dir = temp_dir(name);
    let mut bridge = Client::with_rng(
        Store::open(&dir, crate::client::store::no_lock_for_testing_only),
        ChaCha20Rng::seed_from_u64(seed),
    );
    let account = AccountId {
        name: format!("{name}@localhost/home"),
        protocol: "prpl-jabber".into(),
    };
    if with_key {
        let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0xfeed);
        let key = DsaPrivateKey::generate(&mut rng);
        bridge
            .store_mut()
            .add_key(AccountKey::new(&account.name, &account.protocol, key))
            .expect("key saved");
    }
    Side {
        bridge,
        conv: ConvKey {
            account,
            buddy: format!("{peer}@localhost"),
        },
        dir,
        effects: vec![],
        shown: vec![],
    }
}

/// Delivers Transmit effects between the two sides until quiet; keeps the rest.
fn settle(a: &mut Side, b: &mut Side, mut pending: Vec<(bool, String)>, s: ConvSettings) {
    let mut guard = 0;
    while let Some((to_b, text)) = (!pending.is_empty()).then(|| pending.remove(0)) {
        guard += 1;
        assert!(guard < 1000, "does not settle");
        let (dst, from_a) = if to_b {
            (&mut *b, true)
        } else {
            (&mut *a, false)
        };
        let arrived = dst.bridge.incoming(&dst.conv.clone(), &s, &text, 100);
        if let Some(d) = arrived.display {
            dst.shown.push(d);
        }
        for e in arrived.effects {
            match e {
                Effect::Transmit { text, .. } => pending.push((!from_a, text)),
                other => dst.effects.push(other),
            }
        }
    }
}

fn route(from_a: bool, effects: Vec<Effect>, keep: &mut Vec<Effect>) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    for e in effects {
        match e {
            Effect::Transmit { text, .. } => out.push((from_a, text)),
            other => keep.push(other),
        }
    }
    out
}

fn notices(s: &Side) -> Vec<String> {
    s.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notice { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn private_pair(policy: Policy) -> (Side, Side) {
    let mut a = side("alice", "bob", 1, true);
    let mut b = side("bob", "alice", 2, true);
    let s = settings(policy);
    let conv = a.conv.clone();
    let effects = a.bridge.start(&conv, &s, 100);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    assert!(
        a.bridge.status(&a.conv).is_some_and(|st| st.is_private()),
        "{:?}",
        a.effects
    );
    assert!(
        b.bridge.status(&b.conv).is_some_and(|st| st.is_private()),
        "{:?}",
        b.effects
    );
    (a, b)
}

#[test]
fn start_goes_private_says_so_once_and_records_the_key() {
    let (a, b) = private_pair(Policy::MANUAL);
    let n = notices(&a);
    assert!(n
        .iter()
        .any(|t| t.starts_with("Asking bob@localhost to start")));
    assert_eq!(
        n.iter()
            .filter(|t| t.contains("first time you talk privately"))
            .count(),
        1
    );
    assert_eq!(
        n.iter()
            .filter(|t| t.contains("identity is not verified yet"))
            .count(),
        1
    );
    assert!(a.effects.contains(&Effect::Logging {
        conv: a.conv.clone(),
        private: true
    }));
    // The key is in otr.fingerprints, unverified, as pidgin-otr writes it.
    let file = std::fs::read_to_string(a.dir.join("otr.fingerprints")).expect("written");
    let bob_fp = b
        .bridge
        .own_fingerprint(&b.conv.account)
        .expect("bob has a key");
    assert_eq!(
        file,
        format!(
            "bob@localhost\talice@localhost/home\tprpl-jabber\t{}\t\n",
            bob_fp.to_hex()
        )
    );
    assert_eq!(
        a.bridge.describe(&a.conv),
        "Private, but bob@localhost's identity is not verified."
    );
}

#[test]
fn messages_are_private_and_shown() {
    let (mut a, mut b) = private_pair(Policy::OPPORTUNISTIC);
    let s = settings(Policy::OPPORTUNISTIC);
    let conv = a.conv.clone();
    let sent = a.bridge.outgoing(&conv, &s, "hi <b>bob</b>", 200);
    assert_eq!(sent.wire.len(), 1);
    assert!(sent.wire[0].starts_with("?OTR:AAMD"));
    settle(&mut a, &mut b, vec![(true, sent.wire[0].clone())], s);
    assert_eq!(b.shown, vec!["hi <b>bob</b>"]);
}

#[test]
fn manual_verification_is_saved_and_changes_the_state() {
    let (mut a, b) = private_pair(Policy::MANUAL);
    let fp = b.bridge.own_fingerprint(&b.conv.account).expect("key");
    let conv = a.conv.clone();
    a.bridge
        .set_verified(&conv, &settings(Policy::MANUAL), &fp, true, 300);
    assert!(a.bridge.is_verified(&a.conv));
    assert_eq!(
        a.bridge.describe(&a.conv),
        "Private, and bob@localhost's identity is verified."
    );
    let file = std::fs::read_to_string(a.dir.join("otr.fingerprints")).expect("written");
    assert!(file.ends_with("\tverified\n"), "{file}");
    // A fresh store sees it too (persisted at once).
    let again = Store::open(&a.dir, crate::client::store::no_lock_for_testing_only);
    let trust =
        again
            .fingerprints()
            .trust_of("alice@localhost/home", "prpl-jabber", "bob@localhost", &fp);
    assert_eq!(trust, Some("verified"));
}

#[test]
fn smp_with_a_question_sets_smp_trust_on_the_asker_only() {
    let (mut a, mut b) = private_pair(Policy::MANUAL);
    let s = settings(Policy::MANUAL);
    let conv = a.conv.clone();
    let effects = a
        .bridge
        .smp_start(&conv, &s, Some("our first city?"), "lyon", 400);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    let asked = b.effects.iter().find_map(|e| match e {
        Effect::AskSecret { question, .. } => Some(question.clone()),
        _ => None,
    });
    assert_eq!(asked, Some(Some("our first city?".to_string())));
    let bconv = b.conv.clone();
    let effects = b.bridge.smp_respond(&bconv, &s, "lyon", 400);
    let pending = route(false, effects, &mut b.effects);
    settle(&mut a, &mut b, pending, s);
    assert!(a.bridge.is_verified(&a.conv), "{:?}", notices(&a));
    assert!(
        !b.bridge.is_verified(&b.conv),
        "answering proves nothing about the asker"
    );
    assert!(notices(&a)
        .iter()
        .any(|t| t.contains("answered your question correctly")));
    assert!(notices(&b)
        .iter()
        .any(|t| t.contains("has verified your identity")));
    let file = std::fs::read_to_string(a.dir.join("otr.fingerprints")).expect("written");
    assert!(file.ends_with("\tsmp\n"), "{file}");
}

#[test]
fn a_new_key_for_a_known_buddy_is_a_loud_warning() {
    let (mut a, _) = private_pair(Policy::MANUAL);
    let s = settings(Policy::MANUAL);
    // "bob" again, from another computer with another key.
    let mut b2 = side("bob", "alice", 9, true);
    let conv = a.conv.clone();
    a.bridge.end(&conv, &s, 500);
    let effects = a.bridge.start(&conv, &s, 500);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b2, pending, s);
    assert!(a.bridge.status(&a.conv).is_some_and(|st| st.is_private()));
    let warned = a.effects.iter().any(|e| {
        matches!(e, Effect::Notice { text, level: Level::Warning, .. } if text.contains("key you have not seen before"))
    });
    assert!(warned, "{:?}", notices(&a));
    assert!(!a.bridge.is_verified(&a.conv));
}

#[test]
fn a_missing_key_is_made_in_the_background_and_nothing_typed_is_lost() {
    let mut a = side("alice", "bob", 3, false);
    let mut b = side("bob", "alice", 4, true);
    let s = settings(Policy::ALWAYS);
    let conv = a.conv.clone();
    let sent = a.bridge.outgoing(&conv, &s, "first words", 100);
    assert!(!sent.carries_message);
    assert!(
        sent.wire.iter().all(|w| w.starts_with("?OTRv")),
        "only a query: {:?}",
        sent.wire
    );
    // Bob answers at once; alice's side of the exchange waits for her key.
    let first_wire: Vec<(bool, String)> = sent.wire.iter().map(|w| (true, w.clone())).collect();
    assert!(sent.effects.contains(&Effect::GenerateKey {
        account: a.conv.account.clone()
    }));
    assert!(sent.effects.contains(&Effect::ShowTyped {
        conv: a.conv.clone(),
        text: "first words".into()
    }));
    let sent = a.bridge.outgoing(&conv, &s, "second words", 101);
    assert!(
        !sent
            .effects
            .iter()
            .any(|e| matches!(e, Effect::GenerateKey { .. })),
        "only one generation"
    );
    settle(&mut a, &mut b, first_wire, s);
    assert!(b.shown.is_empty());
    // The key arrives from the background thread.
    let key = DsaPrivateKey::generate(&mut ChaCha20Rng::seed_from_u64(33));
    let account = a.conv.account.clone();
    let effects = a.bridge.key_ready(&account, key, 102, |_| s);
    assert!(
        Store::open(&a.dir, crate::client::store::no_lock_for_testing_only)
            .key_for(&account.name, &account.protocol)
            .is_some(),
        "key saved"
    );
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    assert_eq!(b.shown, vec!["first words", "second words"]);
}

#[test]
fn both_without_keys_meet_in_one_exchange() {
    // Alice's key is ready first; bob's only once alice's DH-Key reached him. The
    // message that needed bob's key is answered when it exists, not replaced by a new
    // exchange that alice would not follow.
    let mut a = side("alice", "bob", 5, false);
    let mut b = side("bob", "alice", 6, false);
    let s = settings(Policy::OPPORTUNISTIC);
    let conv = a.conv.clone();
    let effects = a.bridge.start(&conv, &s, 100);
    assert!(effects.contains(&Effect::GenerateKey {
        account: a.conv.account.clone()
    }));
    // The query goes out at once; the exchange waits where a key is needed.
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    let account = a.conv.account.clone();
    let effects = a.bridge.key_ready(
        &account,
        DsaPrivateKey::generate(&mut ChaCha20Rng::seed_from_u64(51)),
        101,
        |_| s,
    );
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    assert!(
        b.effects.contains(&Effect::GenerateKey {
            account: b.conv.account.clone()
        }),
        "{:?}",
        b.effects
    );
    assert!(!a.bridge.status(&a.conv).is_some_and(|st| st.is_private()));
    // The plugin's timer keeps running while bob's key is made.
    for t in 102..110 {
        assert!(b.bridge.poll(t, |_| s).is_empty());
    }
    let account = b.conv.account.clone();
    let effects = b.bridge.key_ready(
        &account,
        DsaPrivateKey::generate(&mut ChaCha20Rng::seed_from_u64(52)),
        102,
        |_| s,
    );
    let pending = route(false, effects, &mut b.effects);
    settle(&mut a, &mut b, pending, s);
    assert!(
        a.bridge.status(&a.conv).is_some_and(|st| st.is_private()),
        "{:?}",
        notices(&a)
    );
    assert!(
        b.bridge.status(&b.conv).is_some_and(|st| st.is_private()),
        "{:?}",
        notices(&b)
    );
}

#[test]
fn after_the_peer_ended_ending_and_restarting_holds_what_is_typed() {
    let (mut a, mut b) = private_pair(Policy::OPPORTUNISTIC);
    let s = settings(Policy::OPPORTUNISTIC);
    let conv = a.conv.clone();
    let effects = a.bridge.end(&conv, &s, 700);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    let bconv = b.conv.clone();
    let refused = b.bridge.outgoing(&bconv, &s, "after end", 701);
    assert!(refused.wire.is_empty());
    b.bridge.end(&bconv, &s, 702);
    let effects = b.bridge.start(&bconv, &s, 703);
    let mut pending = route(false, effects, &mut b.effects);
    let typed = b.bridge.outgoing(&bconv, &s, "typed at once", 703);
    assert!(typed.wire.is_empty(), "not in plaintext: {:?}", typed.wire);
    assert!(
        typed.effects.contains(&Effect::ShowTyped {
            conv: bconv.clone(),
            text: "typed at once".into()
        }),
        "{:?}",
        typed.effects
    );
    pending.extend(route(false, typed.effects, &mut b.effects));
    settle(&mut a, &mut b, pending, s);
    assert_eq!(a.shown, vec!["typed at once"]);
}

#[test]
fn only_verified_holds_messages_until_verification() {
    let (mut a, mut b) = private_pair(Policy::MANUAL);
    let s = ConvSettings {
        only_verified: true,
        ..settings(Policy::MANUAL)
    };
    let conv = a.conv.clone();
    let sent = a.bridge.outgoing(&conv, &s, "for bob only", 600);
    assert!(sent.wire.is_empty());
    let fp = b.bridge.own_fingerprint(&b.conv.account).expect("key");
    let effects = a.bridge.set_verified(&conv, &s, &fp, true, 601);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    assert_eq!(b.shown, vec!["for bob only"]);
}

#[test]
fn ending_tells_the_peer_and_the_peer_sees_it() {
    let (mut a, mut b) = private_pair(Policy::MANUAL);
    let s = settings(Policy::MANUAL);
    let conv = a.conv.clone();
    let effects = a.bridge.end(&conv, &s, 700);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    assert!(notices(&a).iter().any(|t| t.starts_with("You ended")));
    assert_eq!(
        b.bridge.status(&b.conv).map(|st| st.state),
        Some(MessageState::Finished)
    );
    assert!(b.effects.iter().any(|e| matches!(e, Effect::Notice { text, .. } if text.contains("has ended the private conversation"))));
    let bconv = b.conv.clone();
    let sent = b.bridge.outgoing(&bconv, &s, "hello?", 701);
    assert!(sent.wire.is_empty(), "nothing sent while finished");
    assert!(
        sent.effects
            .iter()
            .any(|e| matches!(e, Effect::Notice { text, .. } if text.contains("hello?"))),
        "the text comes back"
    );
}

// ---- the first rule: every path where a private conversation could fall back ----------------

/// What one side put on the wire, and the pending deliveries it makes.
fn typed(
    side: &mut Side,
    from_a: bool,
    text: &str,
    s: ConvSettings,
    now: u64,
) -> Vec<(bool, String)> {
    let conv = side.conv.clone();
    let sent = side.bridge.outgoing(&conv, &s, text, now);
    let mut pending: Vec<(bool, String)> = sent.wire.into_iter().map(|w| (from_a, w)).collect();
    pending.extend(route(from_a, sent.effects, &mut side.effects));
    pending
}

/// Nothing in `pending` carries any of `texts` readable.
fn assert_none_in_clear(pending: &[(bool, String)], texts: &[&str]) {
    for (_, wire) in pending {
        for t in texts {
            assert!(!wire.contains(t), "{t:?} went out in the clear: {wire:?}");
        }
    }
}

/// The buddy's client crashed and came back: a fresh client over the same files (same key,
/// same instance tag), with no session.
fn restarted(old: Side, seed: u64) -> Side {
    let bridge = Client::with_rng(
        Store::open(&old.dir, crate::client::store::no_lock_for_testing_only),
        ChaCha20Rng::seed_from_u64(seed),
    );
    Side {
        bridge,
        conv: old.conv,
        dir: old.dir,
        effects: vec![],
        shown: vec![],
    }
}

fn held(side: &Side) -> usize {
    side.bridge.status(&side.conv).map_or(0, |s| s.held)
}

const TYPED: [&str; 3] = [
    "typed-while-away-1",
    "typed-while-away-2",
    "typed-while-away-3",
];

#[test]
fn buddy_offline_pauses_and_what_is_typed_goes_out_privately_when_they_are_back() {
    let (mut a, b) = private_pair(Policy::OPPORTUNISTIC);
    let s = settings(Policy::OPPORTUNISTIC);
    let conv = a.conv.clone();
    let effects = a.bridge.buddy_offline(&conv);
    assert!(route(true, effects, &mut a.effects).is_empty());
    assert!(
        notices(&a).iter().any(|n| n.contains("paused")),
        "{:?}",
        notices(&a)
    );
    assert!(a.bridge.status(&conv).is_some_and(|st| st.paused));
    // Bob's client died without a goodbye and starts again.
    let mut b = restarted(b, 22);
    let mut wire = Vec::new();
    for t in TYPED {
        wire.extend(typed(&mut a, true, t, s, 200));
    }
    assert_none_in_clear(&wire, &TYPED);
    assert!(
        wire.is_empty(),
        "nothing goes to a buddy who is offline: {wire:?}"
    );
    assert_eq!(held(&a), 3);
    // Bob is back: the conversation starts again by itself, and the three go out once.
    let effects = a.bridge.buddy_online(&conv, &s, 210);
    let pending = route(true, effects, &mut a.effects);
    assert!(
        pending.iter().any(|(_, w)| w.starts_with("?OTR")),
        "{pending:?}"
    );
    assert_none_in_clear(&pending, &TYPED);
    settle(&mut a, &mut b, pending, s);
    assert_eq!(b.shown, TYPED.to_vec());
    assert_eq!(held(&a), 0);
}

#[test]
fn under_manual_a_paused_conversation_waits_for_the_user() {
    let (mut a, b) = private_pair(Policy::MANUAL);
    let s = settings(Policy::MANUAL);
    let conv = a.conv.clone();
    a.bridge.buddy_offline(&conv);
    let mut b = restarted(b, 23);
    let wire = typed(&mut a, true, TYPED[0], s, 200);
    assert!(wire.is_empty(), "{wire:?}");
    let effects = a.bridge.buddy_online(&conv, &s, 210);
    let pending = route(true, effects, &mut a.effects);
    assert!(pending.is_empty(), "manual: no automatic start");
    assert!(notices(&a).iter().any(|n| n.contains("/otr start")));
    // Typed again while back: still waits (the user has not chosen plain text).
    let wire = typed(&mut a, true, TYPED[1], s, 211);
    assert_none_in_clear(&wire, &TYPED);
    assert_eq!(held(&a), 2);
    let effects = a.bridge.start(&conv, &s, 212);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    assert_eq!(b.shown, TYPED[..2].to_vec());
}

#[test]
fn a_buddy_back_with_another_key_gets_nothing_until_the_user_accepts_it() {
    let (mut a, _b) = private_pair(Policy::OPPORTUNISTIC);
    let s = settings(Policy::OPPORTUNISTIC);
    let conv = a.conv.clone();
    a.bridge.buddy_offline(&conv);
    let wire = typed(&mut a, true, TYPED[0], s, 200);
    assert!(wire.is_empty());
    // "Bob" comes back from a computer with another key.
    let mut b2 = side("bob", "alice", 9, true);
    let effects = a.bridge.buddy_online(&conv, &s, 210);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b2, pending, s);
    assert!(a.bridge.status(&conv).is_some_and(|st| st.is_private()));
    assert!(
        b2.shown.is_empty(),
        "sent to an unaccepted key: {:?}",
        b2.shown
    );
    assert_eq!(held(&a), 1);
    // Typed now: waits behind, not to the new key either.
    let pending = typed(&mut a, true, TYPED[1], s, 211);
    settle(&mut a, &mut b2, pending, s);
    assert!(b2.shown.is_empty(), "{:?}", b2.shown);
    // The user accepts the new key: both go, in order.
    let effects = a.bridge.send_held(&conv, &s, 212);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b2, pending, s);
    assert_eq!(b2.shown, TYPED[..2].to_vec());
    // From now on the new key is the conversation's key.
    let pending = typed(&mut a, true, TYPED[2], s, 213);
    settle(&mut a, &mut b2, pending, s);
    assert_eq!(b2.shown, TYPED.to_vec());
}

#[test]
fn our_own_sign_off_pauses_every_private_conversation_of_the_account() {
    let (mut a, b) = private_pair(Policy::ALWAYS);
    let s = settings(Policy::ALWAYS);
    let conv = a.conv.clone();
    let account = conv.account.clone();
    let effects = a.bridge.account_offline(&account);
    assert!(route(true, effects, &mut a.effects).is_empty());
    assert!(
        notices(&a).iter().any(|n| n.contains("You went offline")),
        "{:?}",
        notices(&a)
    );
    // The server forgets bob's session too (his client reconnects as well).
    let mut b = restarted(b, 24);
    let mut wire = Vec::new();
    for t in TYPED {
        wire.extend(typed(&mut a, true, t, s, 300));
    }
    assert_none_in_clear(&wire, &TYPED);
    // Back online; bob announces himself.
    let effects = a.bridge.buddy_online(&conv, &s, 310);
    let mut pending = wire;
    pending.extend(route(true, effects, &mut a.effects));
    settle(&mut a, &mut b, pending, s);
    assert_eq!(b.shown, TYPED.to_vec());
}

#[test]
fn switching_otr_off_ends_first_and_only_then_sends_in_the_clear() {
    let (mut a, mut b) = private_pair(Policy::OPPORTUNISTIC);
    let never = settings(Policy::NEVER);
    let conv = a.conv.clone();
    let sent = a.bridge.outgoing(&conv, &never, "meant-privately", 400);
    assert!(!sent.carries_message);
    assert!(
        sent.wire.iter().all(|w| w.starts_with("?OTR")),
        "{:?}",
        sent.wire
    );
    assert!(!sent.wire.iter().any(|w| w.contains("meant-privately")));
    let told = sent
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Notice { text, .. } if text.contains("ended first")));
    assert!(told, "{:?}", sent.effects);
    assert!(!a.bridge.status(&conv).is_some_and(|st| st.is_private()));
    // Bob learns it (the disconnect TLV).
    let mut pending: Vec<(bool, String)> = sent.wire.into_iter().map(|w| (true, w)).collect();
    pending.extend(route(true, sent.effects, &mut a.effects));
    assert_none_in_clear(&pending, &["meant-privately"]);
    settle(&mut a, &mut b, pending, settings(Policy::OPPORTUNISTIC));
    assert_eq!(
        b.bridge.status(&b.conv).map(|st| st.state),
        Some(MessageState::Finished)
    );
    // Now, told, the user types again: plain text, by choice.
    let sent = a.bridge.outgoing(&conv, &never, "now-in-the-clear", 401);
    assert!(sent.carries_message);
    assert_eq!(sent.wire, vec!["now-in-the-clear".to_string()]);
}

#[test]
fn only_verified_holds_when_not_private_and_releases_in_order_after_smp() {
    let mut a = side("alice", "bob", 1, true);
    let mut b = side("bob", "alice", 2, true);
    let s = ConvSettings {
        only_verified: true,
        ..settings(Policy::OPPORTUNISTIC)
    };
    // Not private: it behaves like Always (hold and start), never plain text.
    let pending = typed(&mut a, true, "first", s, 100);
    assert_none_in_clear(&pending, &["first"]);
    assert!(
        pending.iter().any(|(_, w)| w.starts_with("?OTR")),
        "{pending:?}"
    );
    settle(&mut a, &mut b, pending, s);
    assert!(a.bridge.status(&a.conv).is_some_and(|st| st.is_private()));
    assert!(
        b.shown.is_empty(),
        "went to an unverified key: {:?}",
        b.shown
    );
    let pending = typed(&mut a, true, "second", s, 101);
    settle(&mut a, &mut b, pending, s);
    assert!(b.shown.is_empty());
    // SMP succeeds: the waiting messages go, in order, before anything newer.
    let conv = a.conv.clone();
    let effects = a.bridge.smp_start(&conv, &s, None, "our secret", 102);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    let bconv = b.conv.clone();
    let effects = b.bridge.smp_respond(&bconv, &s, "our secret", 103);
    let pending = route(false, effects, &mut b.effects);
    settle(&mut a, &mut b, pending, s);
    assert!(a.bridge.is_verified(&conv), "{:?}", notices(&a));
    let pending = typed(&mut a, true, "third", s, 104);
    settle(&mut a, &mut b, pending, s);
    assert_eq!(b.shown, vec!["first", "second", "third"]);
}

#[test]
fn verifying_another_key_than_the_one_in_use_releases_nothing() {
    let (mut a, mut b) = private_pair(Policy::MANUAL);
    let s = ConvSettings {
        only_verified: true,
        ..settings(Policy::MANUAL)
    };
    let conv = a.conv.clone();
    let pending = typed(&mut a, true, "wait-for-me", s, 500);
    assert!(pending.is_empty());
    let other = Fingerprint([7; 20]);
    let effects = a.bridge.set_verified(&conv, &s, &other, true, 501);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    assert!(b.shown.is_empty(), "{:?}", b.shown);
    assert_eq!(held(&a), 1);
    let fp = b.bridge.own_fingerprint(&b.conv.account).expect("key");
    let effects = a.bridge.set_verified(&conv, &s, &fp, true, 502);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    assert_eq!(b.shown, vec!["wait-for-me"]);
}

#[test]
fn send_held_never_sends_outside_a_private_conversation() {
    let (mut a, _b) = private_pair(Policy::OPPORTUNISTIC);
    let s = settings(Policy::OPPORTUNISTIC);
    let conv = a.conv.clone();
    a.bridge.buddy_offline(&conv);
    let wire = typed(&mut a, true, "still-mine", s, 600);
    assert!(wire.is_empty());
    let effects = a.bridge.send_held(&conv, &s, 601);
    let pending = route(true, effects, &mut a.effects);
    assert_none_in_clear(&pending, &["still-mine"]);
    assert!(pending.is_empty(), "{pending:?}");
    assert_eq!(held(&a), 1);
    assert!(
        notices(&a).iter().any(|n| n.contains("still wait")),
        "{:?}",
        notices(&a)
    );
}

#[test]
fn quitting_reports_every_waiting_message_quoted() {
    let (mut a, _b) = private_pair(Policy::OPPORTUNISTIC);
    let s = settings(Policy::OPPORTUNISTIC);
    let conv = a.conv.clone();
    a.bridge.buddy_offline(&conv);
    typed(&mut a, true, "never-delivered", s, 700);
    let effects = a.bridge.shut_down(&conv, &s, 701);
    let reported = effects.iter().any(|e| {
        matches!(e, Effect::Notice { text, level: Level::Warning, .. } if text.contains("never-delivered"))
    });
    assert!(reported, "{effects:?}");
    assert!(a.bridge.status(&conv).is_none(), "the session is wiped");
}

#[test]
fn a_failed_key_generation_is_reported_and_can_be_retried() {
    let mut a = side("alice", "bob", 3, false);
    let s = settings(Policy::ALWAYS);
    let conv = a.conv.clone();
    let sent = a.bridge.outgoing(&conv, &s, "needs-a-key", 100);
    assert!(!sent.carries_message);
    assert!(sent
        .effects
        .iter()
        .any(|e| matches!(e, Effect::GenerateKey { .. })));
    let account = conv.account.clone();
    let effects = a.bridge.key_failed(&account, "no randomness");
    assert!(effects.iter().any(
        |e| matches!(e, Effect::Notice { text, level: Level::Warning, .. } if text.contains("could not be made"))
    ));
    assert_eq!(held(&a), 1, "the message still waits");
    let effects = a.bridge.start(&conv, &s, 101);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::GenerateKey { .. })),
        "a new attempt: {effects:?}"
    );
}

#[test]
fn two_clients_upgrade_to_post_quantum_and_say_so() {
    let mut a = side("alice-pq", "bob", 11, true);
    let mut b = side("bob-pq", "alice", 12, true);
    let s = ConvSettings {
        modern: true,
        ..settings(Policy::MANUAL)
    };
    let conv = a.conv.clone();
    let effects = a.bridge.start(&conv, &s, 100);
    let pending = route(true, effects, &mut a.effects);
    settle(&mut a, &mut b, pending, s);
    for side in [&a, &b] {
        let st = side.bridge.status(&side.conv).expect("conversation");
        assert_eq!(st.suite, Some(crate::otr::events::Suite::Modern));
        // Every surface names the suite: the view (button, menu, title), `/otr status`,
        // and the notice; and the interfaces were told to redraw after the switch.
        let view = side.bridge.view(&side.conv);
        assert_eq!(view.label(), "Private (post-quantum, not verified)");
        assert_eq!(
            view.title_for("x"),
            "x — private, post-quantum, not verified"
        );
        let line = side.bridge.describe(&side.conv);
        assert!(
            line.starts_with("Private (post-quantum, not verified): "),
            "{line}"
        );
        let upgraded = side
            .effects
            .iter()
            .position(|e| {
                matches!(e, Effect::Notice { text, .. }
                    if text.contains("now uses post-quantum encryption")
                        && text.contains("Now: Private (post-quantum, not verified)."))
            })
            .expect("the upgrade notice with the new label");
        assert!(
            side.effects[upgraded..]
                .iter()
                .any(|e| matches!(e, Effect::StateChanged { .. })),
            "no redraw after the upgrade"
        );
    }
    let sent = a.bridge.outgoing(&conv, &s, "hi bob", 200);
    assert!(sent.wire[0].starts_with("?OTR:AAMz"), "{:?}", sent.wire);
    settle(&mut a, &mut b, vec![(true, sent.wire[0].clone())], s);
    assert_eq!(b.shown, vec!["hi bob"]);
}

// ---- post-quantum identities: key file, pins, changed and missing identities -----------------

fn pq(policy: Policy) -> ConvSettings {
    ConvSettings {
        modern: true,
        ..settings(policy)
    }
}

/// [`settle`] with each side's own settings, dropping what `lose` says the network loses.
fn settle_with(
    a: &mut Side,
    b: &mut Side,
    mut pending: Vec<(bool, String)>,
    (sa, sb): (ConvSettings, ConvSettings),
    lose: impl Fn(&str) -> bool,
) {
    let mut guard = 0;
    while let Some((to_b, text)) = (!pending.is_empty()).then(|| pending.remove(0)) {
        guard += 1;
        assert!(guard < 1000, "does not settle");
        if lose(&text) {
            continue;
        }
        let (dst, s) = if to_b { (&mut *b, sb) } else { (&mut *a, sa) };
        let arrived = dst.bridge.incoming(&dst.conv.clone(), &s, &text, 100);
        if let Some(d) = arrived.display {
            dst.shown.push(d);
        }
        for e in arrived.effects {
            match e {
                Effect::Transmit { text, .. } => pending.push((!to_b, text)),
                other => dst.effects.push(other),
            }
        }
    }
}

fn start_pq(
    a: &mut Side,
    b: &mut Side,
    sa: ConvSettings,
    sb: ConvSettings,
    lose: fn(&str) -> bool,
) {
    let conv = a.conv.clone();
    let effects = a.bridge.start(&conv, &sa, 100);
    let pending = route(true, effects, &mut a.effects);
    settle_with(a, b, pending, (sa, sb), lose);
    if a.bridge.status(&a.conv).is_some_and(|st| !st.is_private()) {
        // A direct start to a pinned buddy that did not answer (docs/modern-suite.md §15):
        // the timeout sends the v3 query.
        let effects = a
            .bridge
            .poll(100 + crate::otr::session::DIRECT_TIMEOUT_SECS + 1, |_| sa);
        let pending = route(true, effects, &mut a.effects);
        settle_with(a, b, pending, (sa, sb), lose);
    }
    assert!(a.bridge.status(&a.conv).is_some_and(|st| st.is_private()));
}

fn keep_all(_: &str) -> bool {
    false
}

fn suite(side: &Side) -> Option<crate::otr::events::Suite> {
    side.bridge.status(&side.conv).and_then(|st| st.suite)
}

fn our_identity(side: &Side) -> [u8; 32] {
    let acct = &side.conv.account;
    *side
        .bridge
        .store()
        .modern_identity(&acct.name, &acct.protocol)
        .expect("identity made")
        .public()
}

fn pin_of(side: &Side, peer: &Side) -> Option<[u8; 32]> {
    let fp = peer
        .bridge
        .own_fingerprint(&peer.conv.account)
        .expect("key");
    let acct = &side.conv.account;
    // A fresh store: what is on disk.
    Store::open(&side.dir, crate::client::store::no_lock_for_testing_only).pin_for(
        &acct.name,
        &acct.protocol,
        &side.conv.buddy,
        &fp,
    )
}

fn warnings(s: &Side) -> Vec<String> {
    s.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notice {
                text,
                level: Level::Warning,
                ..
            } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Alice and bob upgraded, and alice verified bob's key: bob's identity is pinned.
fn pinned_pair(tag: &str) -> (Side, Side) {
    let mut a = side(&format!("alice-{tag}"), "bob", 31, true);
    let mut b = side(&format!("bob-{tag}"), "alice", 32, true);
    let s = pq(Policy::MANUAL);
    start_pq(&mut a, &mut b, s, s, keep_all);
    assert_eq!(suite(&a), Some(crate::otr::events::Suite::Modern));
    let fp = b.bridge.own_fingerprint(&b.conv.account).expect("key");
    let conv = a.conv.clone();
    let effects = a.bridge.set_verified(&conv, &s, &fp, true, 150);
    a.effects.extend(effects);
    assert_eq!(pin_of(&a, &b), Some(our_identity(&b)));
    (a, b)
}

#[test]
fn pinned_buddies_start_directly_on_the_post_quantum_suite_after_a_restart() {
    let (a, b) = pinned_pair("direct");
    // Bob pinned alice too (both verified each other), then both restart.
    let mut b = b;
    let s = pq(Policy::MANUAL);
    let fp_a = fp_of(&a);
    let bconv = b.conv.clone();
    let effects = b.bridge.set_verified(&bconv, &s, &fp_a, true, 160);
    b.effects.extend(effects);
    assert_eq!(pin_of(&b, &a), Some(our_identity(&a)));
    let mut a = restarted(a, 71);
    let mut b = restarted(b, 72);
    let conv = a.conv.clone();
    let effects = a.bridge.start(&conv, &s, 300);
    let pending = route(true, effects, &mut a.effects);
    assert_eq!(pending.len(), 1);
    assert!(pending[0].1.starts_with("?OTR:AAM0"), "{pending:?}");
    let typed_now = typed(&mut a, true, "typed-during-direct-start", s, 301);
    assert!(typed_now.is_empty(), "held: {typed_now:?}");
    let mut wire = Vec::new();
    let mut pending = pending;
    pending.extend(typed_now);
    // Count what crosses: a DIRECT_INIT, a RESPONSE, a CONFIRM, then the held message.
    let mut guard = 0;
    while let Some((to_b, text)) = (!pending.is_empty()).then(|| pending.remove(0)) {
        guard += 1;
        assert!(guard < 100);
        wire.push(text.clone());
        let dst = if to_b { &mut b } else { &mut a };
        let arrived = dst.bridge.incoming(&dst.conv.clone(), &s, &text, 302);
        dst.shown.extend(arrived.display);
        for e in arrived.effects {
            match e {
                Effect::Transmit { text, .. } => pending.push((!to_b, text)),
                other => dst.effects.push(other),
            }
        }
    }
    assert!(wire.iter().all(|m| m.starts_with("?OTR:AAM")), "{wire:?}");
    assert!(!wire
        .iter()
        .any(|m| m.starts_with("?OTR:AAMC") || m.starts_with("?OTRv")));
    assert_eq!(b.shown, vec!["typed-during-direct-start"]);
    for side in [&a, &b] {
        assert_eq!(suite(side), Some(crate::otr::events::Suite::Modern));
    }
    // Trusted through the pin: alice verified bob's key, so it shows verified.
    assert!(a.bridge.is_verified(&a.conv), "{:?}", notices(&a));
    assert!(warnings(&a).is_empty(), "{:?}", warnings(&a));
    assert!(warnings(&b).is_empty(), "{:?}", warnings(&b));
    // No missing-upgrade warning later either.
    let later = a
        .bridge
        .poll(302 + crate::otr::session::UPGRADE_TIMEOUT_SECS + 5, |_| s);
    assert!(
        later.iter().all(|e| !matches!(
            e,
            Effect::Notice {
                level: Level::Warning,
                ..
            }
        )),
        "{later:?}"
    );
}

#[test]
fn the_identity_key_is_in_its_file_and_survives_a_restart() {
    let mut a = side("alice-idfile", "bob", 41, true);
    let mut b = side("bob-idfile", "alice", 42, true);
    let s = pq(Policy::MANUAL);
    start_pq(&mut a, &mut b, s, s, keep_all);
    let path = a.dir.join("otr.modern_identity");
    let text = std::fs::read_to_string(&path).expect("saved at first use");
    assert!(text.starts_with(
        "# purple-otr modern identity keys v1\nalice-idfile@localhost/home\tprpl-jabber\tx25519\t"
    ));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let announced = b.bridge.status(&b.conv).and_then(|st| st.peer_identity);
    assert_eq!(announced, Some(our_identity(&a)));
    // Alice's client restarts (another RNG): the same identity reaches bob.
    let mut a = restarted(a, 99);
    let conv = b.conv.clone();
    b.bridge.end(&conv, &s, 200);
    start_pq(&mut a, &mut b, s, s, keep_all);
    assert_eq!(suite(&b), Some(crate::otr::events::Suite::Modern));
    assert_eq!(
        b.bridge.status(&b.conv).and_then(|st| st.peer_identity),
        announced
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "not rewritten"
    );
}

#[test]
fn a_verified_buddy_is_pinned_whether_verified_before_or_after_the_upgrade() {
    // After: by hand (pinned_pair), and the notice says so.
    let (a, b) = pinned_pair("after");
    assert!(notices(&a)
        .iter()
        .any(|n| n.contains("post-quantum identity key") && n.contains("remembered as verified")));
    let file = std::fs::read_to_string(a.dir.join("otr.modern_pins")).expect("pins saved");
    let fp = b.bridge.own_fingerprint(&b.conv.account).unwrap();
    let hex: String = our_identity(&b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    assert_eq!(
        file,
        format!(
            "# purple-otr modern identity pins v1\nalice-after@localhost/home\tprpl-jabber\tbob@localhost\t{}\tx25519\t{hex}\tverified\n",
            fp.to_hex()
        )
    );

    // Before: bob's key verified by hand before any conversation; pinned at the upgrade.
    let mut a = side("alice-before", "bob", 43, true);
    let mut b = side("bob-before", "alice", 44, true);
    let s = pq(Policy::MANUAL);
    let conv = a.conv.clone();
    a.bridge.set_verified(&conv, &s, &fp_of(&b), true, 90);
    assert_eq!(pin_of(&a, &b), None, "nothing learned yet");
    start_pq(&mut a, &mut b, s, s, keep_all);
    assert_eq!(pin_of(&a, &b), Some(our_identity(&b)));

    // By SMP, after the upgrade (SMP runs inside the new suite).
    let mut a = side("alice-smp", "bob", 45, true);
    let mut b = side("bob-smp", "alice", 46, true);
    start_pq(&mut a, &mut b, s, s, keep_all);
    assert_eq!(pin_of(&a, &b), None, "not verified: not pinned");
    let conv = a.conv.clone();
    let effects = a.bridge.smp_start(&conv, &s, None, "shared", 120);
    let pending = route(true, effects, &mut a.effects);
    settle_with(&mut a, &mut b, pending, (s, s), keep_all);
    let bconv = b.conv.clone();
    let effects = b.bridge.smp_respond(&bconv, &s, "shared", 121);
    let pending = route(false, effects, &mut b.effects);
    settle_with(&mut a, &mut b, pending, (s, s), keep_all);
    assert!(a.bridge.is_verified(&a.conv), "{:?}", notices(&a));
    assert_eq!(pin_of(&a, &b), Some(our_identity(&b)));
    assert_eq!(
        pin_of(&b, &a),
        Some(our_identity(&a)),
        "both verified each other"
    );
}

fn fp_of(side: &Side) -> Fingerprint {
    side.bridge
        .own_fingerprint(&side.conv.account)
        .expect("key")
}

/// Bob's purple-otr lost its identity file (same OTR key): a new identity.
fn bob_with_a_new_identity(b: Side, seed: u64) -> Side {
    std::fs::remove_file(b.dir.join("otr.modern_identity")).expect("bob had one");
    restarted(b, seed)
}

#[test]
fn a_changed_identity_for_a_pinned_buddy_warns_and_holds_until_sent_anyway() {
    let (mut a, b) = pinned_pair("changed");
    let s = pq(Policy::MANUAL);
    let old = our_identity(&b);
    let mut b = bob_with_a_new_identity(b, 51);
    let conv = a.conv.clone();
    a.bridge.end(&conv, &s, 200);
    a.effects.clear();
    start_pq(&mut a, &mut b, s, s, keep_all);
    assert_ne!(our_identity(&b), old);
    let w = warnings(&a);
    assert_eq!(
        w.iter()
            .filter(|t| t.contains("post-quantum identity key has changed"))
            .count(),
        1,
        "{w:?}"
    );
    // Still private, but no longer shown as verified, and nothing typed leaves.
    assert!(a.bridge.status(&conv).is_some_and(|st| st.is_private()));
    assert!(!a.bridge.is_verified(&a.conv));
    assert!(
        a.bridge.describe(&a.conv).contains("not verified"),
        "{}",
        a.bridge.describe(&a.conv)
    );
    let secret = "typed-after-identity-change";
    let pending = typed(&mut a, true, secret, s, 210);
    assert_none_in_clear(&pending, &[secret]);
    settle_with(&mut a, &mut b, pending, (s, s), keep_all);
    assert!(b.shown.is_empty(), "{:?}", b.shown);
    assert_eq!(held(&a), 1);
    assert!(notices(&a)
        .iter()
        .any(|n| n.contains("post-quantum identity key is not the one you verified")));
    // A second message waits behind it, said once.
    let pending = typed(&mut a, true, "second", s, 211);
    assert!(pending.is_empty(), "{pending:?}");
    assert_eq!(held(&a), 2);
    // The user sends anyway: both go, encrypted, in order; the pin stays the verified one.
    let effects = a.bridge.send_held(&conv, &s, 212);
    let pending = route(true, effects, &mut a.effects);
    assert!(
        pending.iter().all(|(_, w)| w.starts_with("?OTR:")),
        "{pending:?}"
    );
    assert_none_in_clear(&pending, &[secret, "second"]);
    settle_with(&mut a, &mut b, pending, (s, s), keep_all);
    assert_eq!(b.shown, vec![secret, "second"]);
    assert_eq!(pin_of(&a, &b), Some(old));
    assert!(a.bridge.is_verified(&a.conv), "accepted for this run");
    let pending = typed(&mut a, true, "third", s, 213);
    settle_with(&mut a, &mut b, pending, (s, s), keep_all);
    assert_eq!(b.shown.len(), 3);
}

#[test]
fn a_changed_identity_is_settled_by_verifying_again_which_pins_the_new_one() {
    let (mut a, b) = pinned_pair("reverify");
    let s = pq(Policy::MANUAL);
    let mut b = bob_with_a_new_identity(b, 52);
    let conv = a.conv.clone();
    a.bridge.end(&conv, &s, 200);
    start_pq(&mut a, &mut b, s, s, keep_all);
    assert_eq!(suite(&a), Some(crate::otr::events::Suite::Modern));
    let pending = typed(&mut a, true, "waits-for-verification", s, 210);
    assert_none_in_clear(&pending, &["waits-for-verification"]);
    assert_eq!(held(&a), 1);
    let fp = fp_of(&b);
    let effects = a.bridge.set_verified(&conv, &s, &fp, true, 220);
    let pending = route(true, effects, &mut a.effects);
    assert_none_in_clear(&pending, &["waits-for-verification"]);
    settle_with(&mut a, &mut b, pending, (s, s), keep_all);
    assert_eq!(b.shown, vec!["waits-for-verification"]);
    assert!(a.bridge.is_verified(&a.conv));
    assert_eq!(pin_of(&a, &b), Some(our_identity(&b)), "re-pinned");
}

#[test]
fn a_changed_identity_for_a_pinned_buddy_holds_even_without_the_upgrade() {
    // Alice has the suite off this time: bob's announcement still shows the new identity.
    let (mut a, b) = pinned_pair("changed-v3");
    let s = pq(Policy::MANUAL);
    let off = ConvSettings { modern: false, ..s };
    let mut b = bob_with_a_new_identity(b, 53);
    let conv = a.conv.clone();
    a.bridge.end(&conv, &off, 200);
    start_pq(&mut a, &mut b, off, s, keep_all);
    // Alice does not announce, so nothing of bob's is compared, nor warned about: v3 as asked.
    assert_eq!(suite(&a), Some(crate::otr::events::Suite::Otr));
    assert!(warnings(&a)
        .iter()
        .all(|w| !w.contains("identity key has changed")));
}

#[test]
fn a_pinned_buddy_that_does_not_offer_the_suite_is_a_warning_not_silence() {
    let (mut a, b) = pinned_pair("stripped");
    let s = pq(Policy::MANUAL);
    // Bob's client comes back without offering the suite (as if the offer were stripped).
    let mut b = restarted(b, 54);
    let b_off = ConvSettings { modern: false, ..s };
    let conv = a.conv.clone();
    a.bridge.end(&conv, &s, 200);
    a.effects.clear();
    start_pq(&mut a, &mut b, s, b_off, keep_all);
    assert_eq!(suite(&a), Some(crate::otr::events::Suite::Otr));
    let due = a.bridge.next_timeout().expect("the watch is timed");
    assert!(
        due <= 100 + crate::otr::session::UPGRADE_TIMEOUT_SECS,
        "{due}"
    );
    assert!(a.bridge.poll(due - 1, |_| s).iter().all(|e| !matches!(
        e,
        Effect::Notice {
            level: Level::Warning,
            ..
        }
    )));
    let effects = a.bridge.poll(due + 1, |_| s);
    let warned: Vec<&Effect> = effects
        .iter()
        .filter(|e| matches!(e, Effect::Notice { text, level: Level::Warning, .. } if text.contains("post-quantum protection with bob@localhost did not start") && text.contains("OTR v3 only")))
        .collect();
    assert_eq!(warned.len(), 1, "{effects:?}");
    assert!(
        a.bridge.poll(due + 100, |_| s).iter().all(|e| !matches!(
            e,
            Effect::Notice {
                level: Level::Warning,
                ..
            }
        )),
        "once"
    );
    // Still private on v3, and what is typed goes out encrypted (no hold by default).
    let sent = a.bridge.outgoing(&conv, &s, "on v3", due + 2);
    assert!(sent.carries_message);
    assert!(sent.wire[0].starts_with("?OTR:AAMD"), "{:?}", sent.wire);
}

#[test]
fn an_unpinned_buddy_on_v3_only_gets_no_warning() {
    let mut a = side("alice-nopin", "bob", 61, true);
    let mut b = side("bob-nopin", "alice", 62, true);
    let s = pq(Policy::MANUAL);
    start_pq(
        &mut a,
        &mut b,
        s,
        ConvSettings { modern: false, ..s },
        keep_all,
    );
    let effects = a
        .bridge
        .poll(100 + 2 * crate::otr::session::UPGRADE_TIMEOUT_SECS, |_| s);
    assert!(
        effects.iter().all(|e| !matches!(
            e,
            Effect::Notice {
                level: Level::Warning,
                ..
            }
        )),
        "{effects:?}"
    );
}

#[test]
fn a_failed_switch_between_pinned_peers_is_a_warning() {
    let (mut a, b) = pinned_pair("failed");
    let s = pq(Policy::MANUAL);
    let mut b = restarted(b, 55);
    let conv = a.conv.clone();
    a.bridge.end(&conv, &s, 200);
    a.effects.clear();
    // Both announce, but the handshake messages are lost.
    fn lose_handshake(w: &str) -> bool {
        ["?OTR:AAMw", "?OTR:AAMx", "?OTR:AAMy"]
            .iter()
            .any(|p| w.starts_with(p))
    }
    start_pq(&mut a, &mut b, s, s, lose_handshake);
    assert_eq!(suite(&a), Some(crate::otr::events::Suite::Otr));
    let effects = a
        .bridge
        .poll(100 + crate::otr::session::UPGRADE_TIMEOUT_SECS + 1, |_| s);
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Notice { text, level: Level::Warning, .. } if text.contains("did not start") && text.contains("switch failed"))),
        "{effects:?}"
    );
    assert!(a.bridge.status(&conv).is_some_and(|st| st.is_private()));
}

#[test]
fn forgetting_the_buddys_key_forgets_the_pin_and_unverifying_too() {
    let (mut a, b) = pinned_pair("forget");
    let s = pq(Policy::MANUAL);
    let conv = a.conv.clone();
    let fp = fp_of(&b);
    let account = conv.account.clone();
    // Refused while in use; the pin stays.
    a.bridge.forget_fingerprint(&account, "bob@localhost", &fp);
    assert!(pin_of(&a, &b).is_some());
    a.bridge.end(&conv, &s, 300);
    a.bridge.forget_fingerprint(&account, "bob@localhost", &fp);
    assert_eq!(pin_of(&a, &b), None);

    let (mut a, b) = pinned_pair("unverify");
    let conv = a.conv.clone();
    a.bridge.set_verified(&conv, &s, &fp_of(&b), false, 300);
    assert_eq!(pin_of(&a, &b), None);
}

#[test]
fn a_damaged_identity_file_means_otr_v3_said_once_and_the_file_is_kept() {
    let a = side("alice-damagedid", "bob", 71, true);
    let damaged = "# purple-otr modern identity keys v1\nalice\tprpl-jabber\tx25519\tnot-a-key\n";
    std::fs::write(a.dir.join("otr.modern_identity"), damaged).unwrap();
    let mut a = restarted(a, 72);
    let mut b = side("bob-damagedid", "alice", 73, true);
    let s = pq(Policy::MANUAL);
    start_pq(&mut a, &mut b, s, s, keep_all);
    let pending = typed(&mut a, true, "still private", s, 120);
    settle_with(&mut a, &mut b, pending, (s, s), keep_all);
    assert_eq!(b.shown, vec!["still private"]);
    assert_eq!(suite(&a), Some(crate::otr::events::Suite::Otr));
    let said = notices(&a)
        .iter()
        .filter(|n| n.contains("Post-quantum encryption is off for this account"))
        .count();
    assert_eq!(said, 1, "{:?}", notices(&a));
    assert_eq!(
        std::fs::read_to_string(a.dir.join("otr.modern_identity")).unwrap(),
        damaged
    );
}

#[test]
fn with_the_suite_off_no_identity_file_is_made() {
    let (a, _b) = private_pair(Policy::MANUAL);
    assert!(!a.dir.join("otr.modern_identity").exists());
}

fn debug_texts(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Debug { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Bob's session announces the suite again (with `identity`, if given); what reaches alice.
fn bob_announces_again(
    a: &mut Side,
    b: &mut Side,
    identity: Option<[u8; 32]>,
    lose: fn(&str) -> bool,
    now: u64,
) {
    let s = pq(Policy::MANUAL);
    let conv = b.conv.clone();
    let effects = b
        .bridge
        .act_for_testing_only(&conv, &s, now, |session, env| {
            if let Some(secret) = identity {
                session.set_modern_identity(
                    crate::otr::modern::identity::IdentityKey::from_secret_bytes(&secret),
                );
            }
            session.announce_modern_again_for_testing_only(env)
        });
    let pending = route(false, effects, &mut b.effects);
    assert!(!pending.is_empty(), "bob sent it");
    settle_with(a, b, pending, (s, s), lose);
}

#[test]
fn a_second_announcement_between_pinned_peers_is_a_warning_not_silence() {
    let (mut a, mut b) = pinned_pair("again");
    let pinned = pin_of(&a, &b);
    a.effects.clear();
    // After the switch, the same announcement again: a replay or interference.
    bob_announces_again(&mut a, &mut b, None, keep_all, 160);
    let w = warnings(&a);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("announcement arrived again") && w[0].contains("replaying"));
    // Another identity: warned as such; the conversation keeps the one it started with.
    a.effects.clear();
    bob_announces_again(&mut a, &mut b, Some([0x77; 32]), keep_all, 170);
    let w = warnings(&a);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("different identity key"), "{w:?}");
    assert_eq!(suite(&a), Some(crate::otr::events::Suite::Modern));
    assert_eq!(pin_of(&a, &b), pinned, "the pin is untouched");
    assert_eq!(
        a.bridge.status(&a.conv).and_then(|st| st.peer_identity),
        pinned
    );
    assert!(a.shown.is_empty(), "{:?}", a.shown);
    let pending = typed(&mut a, true, "still-private", pq(Policy::MANUAL), 180);
    assert_none_in_clear(&pending, &["still-private"]);
    let s = pq(Policy::MANUAL);
    settle_with(&mut a, &mut b, pending, (s, s), keep_all);
    assert_eq!(b.shown.last().map(String::as_str), Some("still-private"));
}

#[test]
fn a_duplicate_announcement_during_the_handshake_or_when_unpinned_is_only_a_debug_note() {
    // Pinned, but the handshake has not completed (its messages are lost): a duplicate of
    // the same announcement changes nothing and is no warning.
    fn lose_handshake(w: &str) -> bool {
        ["?OTR:AAMw", "?OTR:AAMx", "?OTR:AAMy"]
            .iter()
            .any(|p| w.starts_with(p))
    }
    let (mut a, b) = pinned_pair("dup");
    let s = pq(Policy::MANUAL);
    let mut b = restarted(b, 57);
    let conv = a.conv.clone();
    a.bridge.end(&conv, &s, 200);
    start_pq(&mut a, &mut b, s, s, lose_handshake);
    assert_eq!(suite(&a), Some(crate::otr::events::Suite::Otr));
    a.effects.clear();
    bob_announces_again(&mut a, &mut b, None, lose_handshake, 210);
    assert!(warnings(&a).is_empty(), "{:?}", a.effects);
    assert!(
        debug_texts(&a.effects)
            .iter()
            .any(|t| t.contains("announced again")),
        "{:?}",
        a.effects
    );

    // Not pinned (never verified): even after the switch, a note for the debug log only.
    let mut a = side("alice-unpinned-again", "bob", 61, true);
    let mut b = side("bob-unpinned-again", "alice", 62, true);
    start_pq(&mut a, &mut b, s, s, keep_all);
    assert_eq!(suite(&a), Some(crate::otr::events::Suite::Modern));
    a.effects.clear();
    bob_announces_again(&mut a, &mut b, Some([0x78; 32]), keep_all, 150);
    assert!(warnings(&a).is_empty(), "{:?}", a.effects);
    assert!(debug_texts(&a.effects)
        .iter()
        .any(|t| t.contains("announced again")));
}
