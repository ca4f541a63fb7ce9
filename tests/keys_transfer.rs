//! Moving keys between clients, checked against the real libotr 4.1.1 (through
//! `tests/peer/otr_peer.c`): what we export for Pidgin, Adium, irssi or any libotr client,
//! libotr loads with the same fingerprint and trust; a key libotr made under Adium's
//! naming (tests/fixtures/adium) imports into one of our accounts with the fingerprint
//! libotr computes; a key is never replaced without confirmation, and the replaced file is
//! kept as a backup libotr still reads.

mod support;

use std::fs::File;
use std::io;
use std::path::Path;

use purple_otr::client::store::{KeyImport, Store, FINGERPRINTS_FILE, PRIVATE_KEY_FILE};
use purple_otr::client::transfer::{
    apply_import, export, plan_import, write_export, Confirm, Format, ImportSource,
};
use purple_otr::client::{wording, AccountId};
use purple_otr::otr::crypto::fingerprint::Fingerprint;
use purple_otr::otr::keystore::privkey::{parse_private_keys, AccountKey};
use purple_otr::otr::keystore::FingerprintStore;
use support::libotr_peer::{self as peer, LibotrPeer, ScratchDir};

const JABBER: &str = "prpl-jabber";
/// The Adium fixture: account number 3, Adium's XMPP service code.
const ADIUM_ACCOUNT: &str = "3";
const ADIUM_JABBER: &str = "libpurple-Jabber";

fn adium_fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/adium")
}

/// Each test uses its own store; the lock itself is tested in tests/store_locking.rs.
fn no_lock(_: &File) -> io::Result<bool> {
    Ok(true)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn libotr_fingerprint(path: &Path, account: &str, protocol: &str) -> Option<String> {
    let mut p = LibotrPeer::spawn_labelled("transfer");
    p.account(account, protocol);
    p.load_key(path)
}

fn me() -> AccountId {
    AccountId {
        name: "alice@example.org/Home".to_owned(),
        protocol: JABBER.to_owned(),
    }
}

fn fake_fp(n: u8) -> Fingerprint {
    Fingerprint([n.wrapping_mul(37); 20])
}

/// A store whose account `me()` has a key libotr made (the alice fixture) and trust.
fn store_with_libotr_key(dir: &Path) -> Store {
    std::fs::create_dir_all(dir).expect("purple dir");
    let keys = parse_private_keys(&read(&peer::fixture("alice.private_key"))).expect("fixture");
    let key = keys.into_iter().next().expect("one key");
    let mut store = Store::open(dir, no_lock);
    store
        .add_key(AccountKey::new(&me().name, JABBER, key.key))
        .expect("saved");
    store
        .set_trust(&me().name, JABBER, "bob@example.net", &fake_fp(1), "smp")
        .expect("saved");
    store
        .record_fingerprint(&me().name, JABBER, "carol@example.net", &fake_fp(2))
        .expect("saved");
    store
}

#[test]
fn libotr_reads_every_export() {
    let scratch = ScratchDir::new("xfer-export");
    let store = store_with_libotr_key(&scratch.join("purple"));
    let ours = store
        .key_for(&me().name, JABBER)
        .expect("key")
        .fingerprint()
        .to_hex();
    assert_eq!(
        Some(ours.clone()),
        peer::fixture_fingerprint("alice.private_key", "alice@localhost/peer")
    );
    for (format, name, account, protocol) in [
        (Format::Pidgin, None, me().name, JABBER.to_owned()),
        (
            Format::Adium,
            Some(ADIUM_ACCOUNT),
            ADIUM_ACCOUNT.to_owned(),
            ADIUM_JABBER.to_owned(),
        ),
        (
            Format::Irssi,
            Some("alice@irc.example.org"),
            "alice@irc.example.org".to_owned(),
            "IRC".to_owned(),
        ),
        (Format::Generic, None, me().name, JABBER.to_owned()),
    ] {
        let e = export(&store, &me(), format, name).expect("export");
        let dir = scratch.join(format.name());
        let files = write_export(&dir, &e).expect("written");
        // libotr loads the key under the target's names, with our fingerprint …
        assert_eq!(
            libotr_fingerprint(&files[0], &account, &protocol),
            Some(ours.clone()),
            "{format:?}"
        );
        // … and not under ours (the names really changed).
        if account != me().name {
            assert_eq!(libotr_fingerprint(&files[0], &me().name, JABBER), None);
        }
        // libotr reads the trust file: the buddies' keys with their trust.
        let mut p = LibotrPeer::spawn_labelled("transfer-fps");
        p.account(&account, &protocol);
        p.load_fingerprints(&files[1]);
        assert_eq!(
            p.fingerprints("bob@example.net"),
            vec![(fake_fp(1).to_hex(), Some("smp".to_owned()))],
            "{format:?}"
        );
        let carol = p.fingerprints("carol@example.net");
        assert_eq!(carol.len(), 1, "{format:?}");
        assert_eq!(carol[0].0, fake_fp(2).to_hex());
        assert!(carol[0].1.as_deref().unwrap_or("").is_empty());
    }
}

#[test]
fn an_adium_key_imports_with_libotrs_fingerprint() {
    let dir = adium_fixture_dir();
    let key_file = dir.join(PRIVATE_KEY_FILE);
    // What libotr says the fixture's key is, under Adium's names.
    let theirs = libotr_fingerprint(&key_file, ADIUM_ACCOUNT, ADIUM_JABBER).expect("libotr key");

    let scratch = ScratchDir::new("xfer-adium");
    let purple = scratch.join("purple");
    std::fs::create_dir_all(&purple).expect("purple dir");
    let mut store = Store::open(&purple, no_lock);
    let source = ImportSource::read(&dir).expect("adium files");
    assert_eq!(source.format, Format::Adium);
    // Adium's number maps to our account through Accounts.plist: no name needed.
    let plan = plan_import(&source, &store, &me(), None, true).expect("plan");
    assert_eq!(plan.from.name_in_file, ADIUM_ACCOUNT);
    assert_eq!(plan.from.label, "alice@example.org");
    // The fingerprint shown before importing is libotr's.
    assert_eq!(plan.from.fingerprint.to_hex(), theirs);
    let done = apply_import(&source, &plan, &mut store, Confirm::Yes, "t").expect("import");
    assert_eq!(done.key, Some(KeyImport::Added));
    assert_eq!(done.trust_changed, 2);

    // libotr loads our key file for our account name: the same key.
    assert_eq!(
        libotr_fingerprint(&purple.join(PRIVATE_KEY_FILE), &me().name, JABBER),
        Some(theirs)
    );
    // And our trust file, with the buddies renamed to libpurple's normalized names.
    let mut p = LibotrPeer::spawn_labelled("transfer-fps");
    p.account(&me().name, JABBER);
    p.load_fingerprints(&purple.join(FINGERPRINTS_FILE));
    let trusted = FingerprintStore::parse(&read(&dir.join(FINGERPRINTS_FILE)))
        .entries()
        .find(|e| e.username == "Bob@Example.net")
        .map(|e| (e.fingerprint.to_hex(), Some(e.trust.clone())))
        .expect("fixture's bob");
    assert_eq!(p.fingerprints("bob@example.net"), vec![trusted]);
}

#[test]
fn no_replacement_without_confirmation_and_the_backup_is_readable() {
    let scratch = ScratchDir::new("xfer-replace");
    let purple = scratch.join("purple");
    let mut store = store_with_libotr_key(&purple);
    let key_file = purple.join(PRIVATE_KEY_FILE);
    let before = read(&key_file);
    let old = libotr_fingerprint(&key_file, &me().name, JABBER).expect("old key");

    let source = ImportSource::read(&adium_fixture_dir()).expect("adium files");
    let plan = plan_import(&source, &store, &me(), None, false).expect("plan");
    assert!(plan.replaces());
    assert_eq!(plan.needs(), Confirm::Replace);
    let new = plan.from.fingerprint.to_hex();
    assert_ne!(new, old);

    let done =
        apply_import(&source, &plan, &mut store, Confirm::Yes, "20261205T150000Z").expect("asked");
    assert!(matches!(
        done.key,
        Some(KeyImport::NeedsConfirmation { .. })
    ));
    assert_eq!(
        read(&key_file),
        before,
        "unconfirmed: the file is untouched"
    );
    assert!(!purple.join("otr.private_key.bak-20261205T150000Z").exists());

    let done = apply_import(
        &source,
        &plan,
        &mut store,
        Confirm::Replace,
        "20261205T150000Z",
    )
    .expect("replaced");
    let backup = purple.join("otr.private_key.bak-20261205T150000Z");
    assert_eq!(
        done.key,
        Some(KeyImport::Replaced {
            old: Fingerprint::from_hex(&old).expect("hex"),
            backup: Some(backup.clone())
        })
    );
    assert_eq!(read(&backup), before);
    // libotr: the new key in the file, the old one in the backup.
    assert_eq!(libotr_fingerprint(&key_file, &me().name, JABBER), Some(new));
    assert_eq!(libotr_fingerprint(&backup, &me().name, JABBER), Some(old));
}

/// What the user reads: the fingerprint before importing, the key it would replace, the
/// keys in the file when none fits, and Adium's account number on export.
#[test]
fn the_user_sees_the_fingerprint_and_what_is_replaced() {
    let scratch = ScratchDir::new("xfer-words");
    let source = ImportSource::read(&adium_fixture_dir()).expect("adium files");
    let empty = scratch.join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    let store = Store::open(&empty, no_lock);
    let plan = plan_import(&source, &store, &me(), None, true).expect("plan");
    let text = wording::import_preview(&plan, "type yes");
    assert!(
        text.contains("CAD1CA65 B0195C2A B9BA0A33 655F56DF 245EC274"),
        "{text}"
    );
    assert!(
        text.contains("alice@example.org (libpurple-Jabber)"),
        "{text}"
    );
    assert!(
        text.contains("2 buddy key(s) come with it (1 verified)"),
        "{text}"
    );
    assert!(text.ends_with("type yes"), "{text}");
    assert!(!text.contains("REPLACES"), "{text}");

    let store = store_with_libotr_key(&scratch.join("full"));
    let plan = plan_import(&source, &store, &me(), None, false).expect("plan");
    let text = wording::import_preview(&plan, "");
    assert!(text.contains("REPLACES"), "{text}");
    assert!(
        text.contains("CC407D4D 64F46FB5 57677FAA 7C6415A5 809340D5"),
        "{text}"
    );

    let irc = AccountId {
        name: "alice@irc.example.org".to_owned(),
        protocol: "prpl-irc".to_owned(),
    };
    let err = plan_import(&source, &store, &irc, None, false).expect_err("no IRC key");
    let text = wording::transfer_error(&err);
    assert!(
        text.contains("alice@example.org [3] (libpurple-Jabber): CAD1CA65"),
        "{text}"
    );

    let e = export(&store, &me(), Format::Adium, None).expect("export");
    assert!(wording::export_done(&e, &[]).contains("ObjectID"));
    let e = export(&store, &me(), Format::Adium, Some("3")).expect("export");
    assert!(!wording::export_done(&e, &[]).contains("ObjectID"));
}

/// Re-creates tests/fixtures/adium/otr.private_key with libotr (a new key each time: update
/// the fingerprint in tests/fixtures/adium/README.md). Run with
/// `cargo test --test keys_transfer -- --ignored record_adium_fixture`.
#[test]
#[ignore]
fn record_adium_fixture() {
    let path = adium_fixture_dir().join(PRIVATE_KEY_FILE);
    let _ = std::fs::remove_file(&path);
    let mut p = LibotrPeer::spawn_labelled("adium");
    p.account(ADIUM_ACCOUNT, ADIUM_JABBER);
    let fp = p.generate_key(&path);
    println!("{ADIUM_ACCOUNT} {ADIUM_JABBER} {fp}");
}

// ---- purple-otr's own files: the post-quantum identity key and the pins ------------------

use purple_otr::client::pins::Pin;
use purple_otr::client::store::IdentityImport;
use purple_otr::otr::modern::identity::IdentityKey;

const BOB: &str = "bob@example.net";
const CAROL: &str = "carol@example.net";

fn identity(n: u8) -> IdentityKey {
    IdentityKey::from_secret_bytes(&[n; 32])
}

fn pin(account: &str, buddy: &str, fp: Fingerprint, id: [u8; 32]) -> Pin {
    Pin {
        account: account.to_owned(),
        protocol: JABBER.to_owned(),
        buddy: buddy.to_owned(),
        fingerprint: fp,
        identity: id,
    }
}

/// A purple-otr profile: `me()`'s key and trust (bob verified, carol not), an identity
/// key, and pins for both buddies' keys (carol's, unverified, must never come over).
fn profile_with_identity(dir: &Path, id: u8) -> Store {
    let mut store = store_with_libotr_key(dir);
    store
        .import_identity(&me().name, JABBER, identity(id), false, "x")
        .expect("identity saved");
    store
        .pin_identity(pin(&me().name, BOB, fake_fp(1), [0x11; 32]))
        .expect("pinned");
    store
        .pin_identity(pin(&me().name, CAROL, fake_fp(2), [0x12; 32]))
        .expect("pinned");
    store
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("exists").permissions().mode() & 0o777
}

fn backups(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.contains(".bak-"))
        .collect();
    v.sort();
    v
}

#[test]
fn another_purple_otr_profile_brings_the_identity_key_and_the_verified_pins() {
    let scratch = ScratchDir::new("xfer-identity");
    let other = scratch.join("other");
    profile_with_identity(&other, 0xa1);
    let purple = scratch.join("purple");
    std::fs::create_dir_all(&purple).expect("dir");
    let mut store = Store::open(&purple, no_lock);

    let source = ImportSource::read(&other).expect("profile");
    assert_eq!(source.format, Format::Pidgin);
    let plan = plan_import(&source, &store, &me(), None, true).expect("plan");
    let id_fp = identity(0xa1).fingerprint();
    assert_eq!(plan.identity, Some(id_fp));
    assert_eq!(plan.current_identity, None);
    assert_eq!(
        plan.pins,
        vec![pin(&me().name, BOB, fake_fp(1), [0x11; 32])]
    );
    assert_eq!(plan.needs(), Confirm::Yes);
    // The plan shows the identity's fingerprint and the pins before anything happens.
    let preview = wording::import_preview(&plan, "");
    assert!(preview.contains(&id_fp.human()), "{preview}");
    assert!(
        preview.contains("1 buddy's pinned post-quantum identity"),
        "{preview}"
    );

    let done = apply_import(&source, &plan, &mut store, Confirm::Yes, "20261205T160000Z")
        .expect("imported");
    assert_eq!(done.key, Some(KeyImport::Added));
    assert_eq!(done.identity, Some(IdentityImport::Added));
    assert_eq!(done.pins_changed, 1);
    let said = wording::import_done(&plan, &done);
    assert!(
        said.contains(&id_fp.human()) && said.contains("pinned"),
        "{said}"
    );
    // On disk, as the store reads it at the next start; mode 0600.
    let again = Store::open(&purple, no_lock);
    assert_eq!(
        again
            .modern_identity(&me().name, JABBER)
            .map(|k| *k.public()),
        Some(*identity(0xa1).public())
    );
    assert_eq!(
        again.pin_for(&me().name, JABBER, BOB, &fake_fp(1)),
        Some([0x11; 32])
    );
    assert_eq!(again.pin_for(&me().name, JABBER, CAROL, &fake_fp(2)), None);
    assert_eq!(mode(&purple.join("otr.modern_identity")), 0o600);
    assert_eq!(mode(&purple.join("otr.modern_pins")), 0o600);
    // Importing again changes nothing.
    let plan = plan_import(&source, &store, &me(), None, true).expect("plan");
    let done = apply_import(&source, &plan, &mut store, Confirm::Yes, "20261205T160001Z")
        .expect("imported");
    assert_eq!(done.identity, Some(IdentityImport::Unchanged));
    assert_eq!(done.pins_changed, 0);
}

#[test]
fn a_different_identity_of_ours_is_replaced_only_when_confirmed_and_after_a_backup() {
    let scratch = ScratchDir::new("xfer-identity-replace");
    let other = scratch.join("other");
    profile_with_identity(&other, 0xa1);
    // Our profile: the same OTR key, but another identity, and our own pin for bob.
    let purple = scratch.join("purple");
    let mut store = store_with_libotr_key(&purple);
    store
        .import_identity(&me().name, JABBER, identity(0xa2), false, "x")
        .expect("ours");
    store
        .pin_identity(pin(&me().name, BOB, fake_fp(1), [0x22; 32]))
        .expect("pinned here");
    let id_file = purple.join("otr.modern_identity");
    let before = read(&id_file);

    let source = ImportSource::read(&other).expect("profile");
    let plan = plan_import(&source, &store, &me(), None, true).expect("plan");
    assert!(plan.replaces_identity() && plan.replaces());
    assert_eq!(plan.needs(), Confirm::Replace);
    let preview = wording::import_preview(&plan, "");
    assert!(
        preview.contains("REPLACES that account's post-quantum identity key")
            && preview.contains(&identity(0xa2).fingerprint().human()),
        "{preview}"
    );
    // "yes" is not enough: nothing at all changes, no backup.
    let done = apply_import(&source, &plan, &mut store, Confirm::Yes, "20261205T160000Z")
        .expect("answered");
    assert_eq!(done.key, None);
    assert_eq!(
        done.identity,
        Some(IdentityImport::NeedsConfirmation {
            current: identity(0xa2).fingerprint()
        })
    );
    assert!(wording::import_done(&plan, &done).contains("not imported"));
    assert_eq!(read(&id_file), before);
    assert!(backups(&purple, "otr.modern_identity").is_empty());
    assert_eq!(done.trust_changed + done.pins_changed, 0);

    // "replace": the identity file is copied first (0600), then replaced; our pin stays.
    let done = apply_import(
        &source,
        &plan,
        &mut store,
        Confirm::Replace,
        "20261205T160000Z",
    )
    .expect("replaced");
    let backup = purple.join("otr.modern_identity.bak-20261205T160000Z");
    assert_eq!(
        done.identity,
        Some(IdentityImport::Replaced {
            old: identity(0xa2).fingerprint(),
            backup: Some(backup.clone())
        })
    );
    assert_eq!(done.key, Some(KeyImport::Unchanged));
    assert_eq!(read(&backup), before);
    assert_eq!(mode(&backup), 0o600);
    let again = Store::open(&purple, no_lock);
    assert_eq!(
        again
            .modern_identity(&me().name, JABBER)
            .map(|k| *k.public()),
        Some(*identity(0xa1).public())
    );
    assert_eq!(
        again.pin_for(&me().name, JABBER, BOB, &fake_fp(1)),
        Some([0x22; 32]),
        "a pin made here is never re-pinned by an import"
    );
}

#[test]
fn an_export_for_pidgin_carries_the_identity_and_pins_and_imports_back() {
    let scratch = ScratchDir::new("xfer-identity-export");
    let store = profile_with_identity(&scratch.join("purple"), 0xa1);
    let e = export(&store, &me(), Format::Pidgin, None).expect("export");
    assert_eq!(e.pinned, 2);
    let dir = scratch.join("out");
    let files = write_export(&dir, &e).expect("written");
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            PRIVATE_KEY_FILE,
            FINGERPRINTS_FILE,
            "otr.modern_identity",
            "otr.modern_pins"
        ]
    );
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    let said = wording::export_done(&e, &files);
    assert!(
        said.contains(&identity(0xa1).fingerprint().human()),
        "{said}"
    );
    // Never over an existing file: the identity file alone blocks it, and nothing is left.
    let blocked = scratch.join("blocked");
    std::fs::create_dir_all(&blocked).expect("dir");
    std::fs::write(blocked.join("otr.modern_identity"), b"mine").expect("written");
    assert!(write_export(&blocked, &e).is_err());
    assert!(!blocked.join(PRIVATE_KEY_FILE).exists());
    assert_eq!(read(&blocked.join("otr.modern_identity")), b"mine");

    // What was exported imports into a fresh profile: same key, identity and verified pins.
    let fresh = scratch.join("fresh");
    std::fs::create_dir_all(&fresh).expect("dir");
    let mut target = Store::open(&fresh, no_lock);
    let source = ImportSource::read(&dir).expect("exported files");
    let plan = plan_import(&source, &target, &me(), None, true).expect("plan");
    apply_import(&source, &plan, &mut target, Confirm::Yes, "s").expect("imported");
    assert_eq!(
        target
            .modern_identity(&me().name, JABBER)
            .map(|k| *k.public()),
        Some(*identity(0xa1).public())
    );
    assert_eq!(
        target.pin_for(&me().name, JABBER, BOB, &fake_fp(1)),
        Some([0x11; 32])
    );

    // Other clients have no such files.
    for format in [Format::Adium, Format::Irssi, Format::Generic] {
        let e = export(&store, &me(), format, Some("3")).expect("export");
        assert!(e.identity.is_none() && e.pins.is_none(), "{format:?}");
        let files = write_export(&scratch.join(format.name()), &e).expect("written");
        assert_eq!(files.len(), 2);
    }
}

#[test]
fn key_move_copies_the_identity_and_pins_to_the_new_name() {
    let scratch = ScratchDir::new("xfer-identity-move");
    let purple = scratch.join("purple");
    let mut store = profile_with_identity(&purple, 0xa1);
    let new_name = AccountId {
        name: "alice@example.org/Laptop".to_owned(),
        protocol: JABBER.to_owned(),
    };
    let source = ImportSource::from_store(&store);
    let plan = plan_import(&source, &store, &new_name, Some(&me().name), true).expect("plan");
    assert_eq!(plan.identity, Some(identity(0xa1).fingerprint()));
    assert_eq!(
        plan.pins,
        vec![pin(&new_name.name, BOB, fake_fp(1), [0x11; 32])]
    );
    let done = apply_import(&source, &plan, &mut store, Confirm::Yes, "s").expect("moved");
    assert_eq!(done.identity, Some(IdentityImport::Added));
    let again = Store::open(&purple, no_lock);
    for name in [&me().name, &new_name.name] {
        assert_eq!(
            again.modern_identity(name, JABBER).map(|k| *k.public()),
            Some(*identity(0xa1).public()),
            "{name}: the old name keeps its identity too"
        );
        assert_eq!(
            again.pin_for(name, JABBER, BOB, &fake_fp(1)),
            Some([0x11; 32])
        );
    }
}

#[test]
fn a_damaged_identity_file_stops_the_import_and_is_named() {
    let scratch = ScratchDir::new("xfer-identity-damaged");
    let other = scratch.join("other");
    profile_with_identity(&other, 0xa1);
    std::fs::write(other.join("otr.modern_identity"), b"not an identity file\n").expect("w");
    match ImportSource::read(&other) {
        Err(purple_otr::client::transfer::TransferError::Damaged(path, _)) => {
            assert_eq!(path, other.join("otr.modern_identity"))
        }
        other => panic!("{other:?}"),
    }
}
