//! Key and trust files shared with the real libotr 4.1.1 (through `tests/peer/otr_peer.c`),
//! both ways: what libotr writes we read, with the same fingerprints and tags; what we write
//! libotr reads; and a key we wrote works in an AKE.

mod support;

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use purple_otr::otr::crypto::dsa::DsaPrivateKey;
use purple_otr::otr::crypto::fingerprint::Fingerprint;
use purple_otr::otr::keystore::privkey::{
    find_key, parse_private_keys, put_key, write_private_keys, AccountKey,
};
use purple_otr::otr::keystore::{FingerprintStore, InstanceTags};
use purple_otr::otr::policy::Policy;
use purple_otr::otr::session::{Env, Session};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use support::libotr_peer::{self as peer, LibotrPeer, MsgState, ScratchDir};
use support::pair::{config, test_key};

const JABBER: &str = "prpl-jabber";

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A second handle on the same key (keys are not `Clone`).
fn copy(key: &DsaPrivateKey) -> DsaPrivateKey {
    let c = key.public().components();
    DsaPrivateKey::from_components(&c.p, &c.q, &c.g, &c.y, &key.x_bytes()).expect("valid key")
}

/// What libotr says the key for `account` in `path` is.
fn libotr_fingerprint(path: &Path, account: &str, protocol: &str) -> Option<String> {
    let mut p = LibotrPeer::spawn_labelled("reader");
    p.account(account, protocol);
    p.load_key(path)
}

// ---------------------------------------------------------------------------------------------
// libotr writes, we read

#[test]
fn fixture_keys_read_with_libotrs_fingerprints() {
    for (file, accounts) in [
        ("alice.private_key", vec!["alice@localhost/peer"]),
        ("bob.private_key", vec!["bob@localhost/peer"]),
        (
            "two-accounts.private_key",
            vec!["dave@localhost/peer", "dave@example.org/"],
        ),
    ] {
        let path = peer::fixture(file);
        let bytes = read(&path);
        let keys = parse_private_keys(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        let names: Vec<_> = keys.iter().map(|k| k.account_name.as_str()).collect();
        assert_eq!(names, accounts, "{file}");
        for k in &keys {
            assert_eq!(k.protocol, JABBER);
            let recorded = peer::fixture_fingerprint(file, &k.account_name).expect("recorded");
            assert_eq!(k.fingerprint().to_hex(), recorded, "{file}");
            assert_eq!(
                libotr_fingerprint(&path, &k.account_name, JABBER),
                Some(recorded)
            );
        }
        // Our rewrite is libotr's file, byte for byte.
        assert_eq!(&write_private_keys(&keys)[..], &bytes[..], "{file}");
    }
}

#[test]
fn fresh_libotr_keys_read_and_rewrite_byte_identical() {
    let dir = ScratchDir::new("ks-genkey");
    let path = dir.join("otr.private_key");
    // Names libgcrypt prints as a quoted string, as a token, and with escapes.
    let accounts = [
        "carol@example.org/Home",
        "carol",
        "we\"ird \\ name",
        "ünï@example.org/",
    ];
    let mut p = LibotrPeer::spawn_labelled("genkey");
    let mut expected = BTreeMap::new();
    for account in accounts {
        p.account(account, JABBER);
        let fp = p.generate_key(&path);
        assert_eq!(p.our_fingerprint().map(|f| f.hex), Some(fp.clone()));
        expected.insert(account.to_owned(), fp);
        // After every generation (libotr rewrites the whole file) we read all keys so far.
        let bytes = read(&path);
        let keys = parse_private_keys(&bytes).expect("libotr's file");
        let got: BTreeMap<_, _> = keys
            .iter()
            .map(|k| (k.account_name.clone(), k.fingerprint().to_hex()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(&write_private_keys(&keys)[..], &bytes[..]);
    }
    // The human form libotr shows is ours too.
    let keys = parse_private_keys(&read(&path)).expect("file");
    p.account(accounts[0], JABBER);
    let theirs = p.our_fingerprint().expect("key");
    let ours = find_key(&keys, accounts[0], JABBER).expect("ours");
    assert_eq!(ours.fingerprint().human(), theirs.human);
}

#[test]
fn libotr_test_suite_file_with_a_quoted_binary_q() {
    let path = peer::fixture("test_suite.private_key");
    let keys = parse_private_keys(&read(&path)).expect("test_suite file");
    assert_eq!(keys.len(), 3);
    let dir = ScratchDir::new("ks-testsuite");
    let rewritten = dir.join("otr.private_key");
    write(&rewritten, &write_private_keys(&keys));
    for k in &keys {
        let original = libotr_fingerprint(&path, &k.account_name, "prpl-aim");
        assert_eq!(
            original,
            Some(k.fingerprint().to_hex()),
            "{}",
            k.account_name
        );
        // Our rewrite (q now in hex) gives libotr the same key.
        assert_eq!(
            libotr_fingerprint(&rewritten, &k.account_name, "prpl-aim"),
            original
        );
    }
}

#[test]
fn libotr_instance_tags_read() {
    for (id, tag) in [(peer::ALICE, 0x72dc_9521), (peer::BOB, 0x5c1d_3536)] {
        let tags = InstanceTags::parse(&read(&peer::fixture(id.instag_file)));
        assert_eq!(tags.get(id.account, id.protocol), Some(tag));
    }
    let dir = ScratchDir::new("ks-geninstag");
    let path = dir.join("otr.instance_tags");
    let mut p = LibotrPeer::spawn_labelled("geninstag");
    let mut made = Vec::new();
    for account in ["a@example.org/x", "b@example.org/", "c"] {
        p.account(account, JABBER);
        made.push((account, p.generate_instag(&path)));
    }
    let tags = InstanceTags::parse(&read(&path));
    for (account, tag) in made {
        assert!(tag >= 0x100);
        assert_eq!(tags.get(account, JABBER), Some(tag));
    }
    assert_eq!(tags.entries().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// We write, libotr reads

#[test]
fn libotr_loads_keys_we_wrote() {
    let dir = ScratchDir::new("ks-ourkeys");
    let path = dir.join("otr.private_key");
    let accounts = ["us@example.org/Home", "plain", "sp ace \"q\""];
    let keys: Vec<AccountKey> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| AccountKey::new(a, JABBER, copy(test_key(i))))
        .collect();
    write(&path, &write_private_keys(&keys));
    for (i, a) in accounts.iter().enumerate() {
        assert_eq!(
            libotr_fingerprint(&path, a, JABBER),
            Some(test_key(i).public().fingerprint().to_hex()),
            "{a}"
        );
    }
    assert_eq!(libotr_fingerprint(&path, "nobody", JABBER), None);

    // libotr generating a key for another account keeps ours, and our reader still reads
    // the file it rewrote, byte-identical to what we would write for the same keys.
    let mut p = LibotrPeer::spawn_labelled("adds");
    p.account("new@example.org/", JABBER);
    assert_eq!(p.load_key(&path), None);
    let new_fp = p.generate_key(&path);
    let bytes = read(&path);
    let after = parse_private_keys(&bytes).expect("libotr's rewrite");
    assert_eq!(after.len(), 4);
    for (i, a) in accounts.iter().enumerate() {
        assert_eq!(
            find_key(&after, a, JABBER).map(AccountKey::fingerprint),
            Some(test_key(i).public().fingerprint())
        );
    }
    let new = find_key(&after, "new@example.org/", JABBER).expect("new key");
    assert_eq!(new.fingerprint().to_hex(), new_fp);
    assert_eq!(&write_private_keys(&after)[..], &bytes[..]);
}

#[test]
fn a_key_we_replace_is_what_libotr_loads() {
    let dir = ScratchDir::new("ks-replace");
    let path = dir.join("otr.private_key");
    let mut keys =
        parse_private_keys(&read(&peer::fixture("two-accounts.private_key"))).expect("fixture");
    put_key(
        &mut keys,
        AccountKey::new("dave@example.org/", JABBER, copy(test_key(2))),
    );
    put_key(
        &mut keys,
        AccountKey::new("eve@example.org/", JABBER, copy(test_key(1))),
    );
    write(&path, &write_private_keys(&keys));
    assert_eq!(
        libotr_fingerprint(&path, "dave@example.org/", JABBER),
        Some(test_key(2).public().fingerprint().to_hex())
    );
    assert_eq!(
        libotr_fingerprint(&path, "eve@example.org/", JABBER),
        Some(test_key(1).public().fingerprint().to_hex())
    );
    // The untouched account is still libotr's own key.
    assert_eq!(
        libotr_fingerprint(&path, "dave@localhost/peer", JABBER),
        peer::fixture_fingerprint("two-accounts.private_key", "dave@localhost/peer")
    );
}

#[test]
fn libotr_loads_instance_tags_we_wrote() {
    let dir = ScratchDir::new("ks-ourtags");
    let path = dir.join("otr.instance_tags");
    let mut tags = InstanceTags::new();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let wanted = [
        ("us@example.org/Home", 0x100),
        ("other@example.org/", 0xffff_ffff),
        (
            "third",
            purple_otr::otr::keystore::instags::generate(&mut rng),
        ),
    ];
    for (a, t) in wanted {
        tags.set(a, JABBER, t).expect("valid");
    }
    write(&path, &tags.to_file_bytes());
    for (a, t) in wanted {
        let mut p = LibotrPeer::spawn_labelled("tags");
        p.account(a, JABBER);
        assert_eq!(p.load_instag(&path), Some(t), "{a}");
    }
}

/// A fingerprint of no real key, for trust bookkeeping only.
fn fake_fp(n: u8) -> Fingerprint {
    let mut b = [0u8; 20];
    for (i, v) in b.iter_mut().enumerate() {
        *v = n
            .wrapping_mul(31)
            .wrapping_add(u8::try_from(i).unwrap_or(0));
    }
    Fingerprint(b)
}

#[test]
fn fingerprint_files_both_ways() {
    let dir = ScratchDir::new("ks-fps");
    let ours = dir.join("ours.fingerprints");
    let theirs = dir.join("theirs.fingerprints");
    let account = "us@localhost/home";
    let mut store = FingerprintStore::new();
    store
        .add_if_new(account, JABBER, "bob@localhost", &fake_fp(1))
        .expect("ok");
    store
        .set_trust(account, JABBER, "bob@localhost", &fake_fp(2), "verified")
        .expect("ok");
    store
        .set_trust(account, JABBER, "bob@localhost", &fake_fp(3), "smp")
        .expect("ok");
    store
        .set_trust(
            account,
            JABBER,
            "carol@localhost",
            &fake_fp(4),
            "my own words",
        )
        .expect("ok");
    store
        .add_if_new("other/", JABBER, "bob@localhost", &fake_fp(5))
        .expect("ok");
    write(&ours, &store.to_file_bytes());

    // libotr reads what we wrote: every fingerprint of the account, with its trust.
    let mut p = LibotrPeer::spawn_labelled("fps");
    p.account(account, JABBER);
    p.load_fingerprints(&ours);
    let listed: BTreeMap<String, Option<String>> =
        p.fingerprints("bob@localhost").into_iter().collect();
    let expected: BTreeMap<String, Option<String>> = [
        (fake_fp(1).to_hex(), None),
        (fake_fp(2).to_hex(), Some("verified".to_owned())),
        (fake_fp(3).to_hex(), Some("smp".to_owned())),
    ]
    .into_iter()
    .collect();
    // libotr keeps an empty trust column as "" (the column is there) or absent.
    let normalize = |m: BTreeMap<String, Option<String>>| -> BTreeMap<String, String> {
        m.into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect()
    };
    assert_eq!(normalize(listed), normalize(expected));
    let carol = p.fingerprints("carol@localhost");
    assert_eq!(
        carol,
        vec![(fake_fp(4).to_hex(), Some("my own words".to_owned()))]
    );

    // libotr writes, we read: the same entries (libotr reverses each buddy's order).
    p.write_fingerprints(&theirs);
    let back = FingerprintStore::parse(&read(&theirs));
    let as_set = |s: &FingerprintStore| {
        let mut v: Vec<_> = s
            .entries()
            .map(|e| {
                (
                    e.username.clone(),
                    e.accountname.clone(),
                    e.protocol.clone(),
                    e.fingerprint,
                    e.trust.clone(),
                )
            })
            .collect();
        v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        v
    };
    assert_eq!(as_set(&back), as_set(&store));
    // And what libotr wrote, we write back unchanged.
    assert_eq!(back.to_file_bytes(), read(&theirs));
}

// ---------------------------------------------------------------------------------------------
// AKE with a key we wrote

#[test]
fn libotr_uses_a_key_file_we_wrote_in_an_ake() {
    let dir = ScratchDir::new("ks-ake-peers");
    let key_path = dir.join("otr.private_key");
    let fps_path = dir.join("bob.fingerprints");
    let account = "alice@localhost/ours";
    write(
        &key_path,
        &write_private_keys(&[AccountKey::new(account, JABBER, copy(test_key(0)))]),
    );
    let mut alice = LibotrPeer::spawn_labelled("alice-our-key");
    alice.account(account, JABBER);
    assert!(alice.load_key(&key_path).is_some());
    alice.set_policy(peer::Policy::Manual);
    let mut bob = LibotrPeer::from_fixture(&peer::BOB);
    bob.set_policy(peer::Policy::Manual);
    bob.load_fingerprints(&fps_path);

    let query = alice.start(&bob.name.clone());
    peer::converse(&mut alice, &mut bob, query);
    let status = bob.expect_status("alice@localhost");
    assert_eq!(status.msgstate, MsgState::Encrypted);
    let our_fp = test_key(0).public().fingerprint().to_hex();
    assert_eq!(status.fingerprint.as_deref(), Some(our_fp.as_str()));

    // libotr recorded our fingerprint in its file; we read it there.
    bob.write_fingerprints(&fps_path);
    let fps = FingerprintStore::parse(&read(&fps_path));
    let seen: Vec<_> = fps
        .lookup(peer::BOB.account, JABBER, "alice@localhost")
        .map(|e| e.fingerprint.to_hex())
        .collect();
    assert_eq!(seen, vec![our_fp]);
}

#[test]
fn our_engine_uses_a_key_we_wrote_and_read_back_in_an_ake() {
    let file = write_private_keys(&[AccountKey::new(
        "us@localhost/test",
        JABBER,
        copy(test_key(1)),
    )]);
    let keys = parse_private_keys(&file).expect("our own file");
    let key = &find_key(&keys, "us@localhost/test", JABBER)
        .expect("key")
        .key;

    let mut bob = LibotrPeer::from_fixture(&peer::BOB);
    bob.set_policy(peer::Policy::Manual);
    let mut us = Session::new(config("us@localhost/test", 0x4242_4242, Policy::MANUAL));
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let mut to_bob: VecDeque<String> = VecDeque::new();
    let mut to_us: VecDeque<String> = VecDeque::new();
    {
        let mut env = Env {
            now: 1_000,
            rng: &mut rng,
            our_key: Some(key),
        };
        to_bob.extend(us.start(&mut env).to_send);
    }
    for _ in 0..1_000 {
        if let Some(m) = to_bob.pop_front() {
            to_us.extend(bob.receive("us@localhost", &m).injected);
        } else if let Some(m) = to_us.pop_front() {
            let mut env = Env {
                now: 1_000,
                rng: &mut rng,
                our_key: Some(key),
            };
            to_bob.extend(us.receive(&mut env, &m).to_send);
        } else {
            break;
        }
    }
    assert!(us.status().is_private());
    let status = bob.expect_status("us@localhost");
    assert_eq!(status.msgstate, MsgState::Encrypted);
    assert_eq!(
        status.fingerprint,
        Some(test_key(1).public().fingerprint().to_hex())
    );
    assert_eq!(
        us.status().fingerprint.map(|f| f.to_hex()),
        peer::fixture_fingerprint(peer::BOB.key_file, peer::BOB.account)
    );
}
