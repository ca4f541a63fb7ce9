//! Moving keys from Finch's point of view: `/otr import`, `/otr export` and `/otr key move`
//! typed in a conversation of the plugin inside a real (headless) libpurple, with the
//! result checked against the real libotr 4.1.1. (Pidgin's dialogs use the same
//! `crate::client::transfer` calls, tested in tests/keys_transfer.rs.)
//!
//! Run: `cargo test --test keys_transfer_plugin` (as root inside `unshare -n`, see the
//! Makefile).

mod support;

use std::path::Path;
use std::time::Duration;

use support::host::{flags, Host};
use support::libotr_peer::{LibotrPeer, ScratchDir};
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost";
const JABBER: &str = "prpl-jabber";
const WAIT: Duration = Duration::from_secs(10);
/// tests/fixtures/adium: libotr's key for Adium's account 3 (see its README).
const ADIUM_FP: &str = "CAD1CA65 B0195C2A B9BA0A33 655F56DF 245EC274";
const ADIUM_HEX: &str = "cad1ca65b0195c2ab9ba0a33655f56df245ec274";
const ALICE_FIXTURE_HEX: &str = "cc407d4d64f46fb557677faa7c6415a5809340d5";

fn libotr_fingerprint(path: &Path, account: &str, protocol: &str) -> Option<String> {
    let mut p = LibotrPeer::spawn_labelled("finch-keys");
    p.account(account, protocol);
    p.load_key(path)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("readdir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

#[test]
fn finch_imports_exports_and_moves_keys() {
    let server = Prosody::alice_and_bob();
    let mut host = Host::start("keys", &[]);
    host.load_plugin().expect("plugin loads");
    host.connect_xmpp(ALICE, server.password("alice"), server.port);
    host.cmd(&["conv_open", ALICE, BOB]);
    let key_file = host.user_dir().join("otr.private_key");

    // Adium's folder, with the space in its name.
    let scratch = ScratchDir::new("finch-keys");
    let adium = scratch.join("Application Support/Adium 2.0/Users/Default");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/adium"),
        &adium,
    );
    let path = format!("\"{}\"", adium.display());

    // First the key is shown, and nothing is written: even a "yes" typed straight away
    // only shows it (a confirmation stands for a key the user has seen).
    host.cmd(&["conv_cmd", ALICE, BOB, &format!("/otr import {path} yes")]);
    let shown = host.wait_conv_line(ALICE, BOB, "has the fingerprint", WAIT);
    assert!(shown.get("text").contains(ADIUM_FP), "{}", shown.raw);
    assert!(shown.get("text").contains(" yes"), "{}", shown.raw);
    assert_ne!(shown.int("flags") & flags::SYSTEM, 0);
    assert!(!key_file.exists());

    host.cmd(&["conv_cmd", ALICE, BOB, &format!("/otr import {path} yes")]);
    host.wait_conv_line(ALICE, BOB, "Imported:", WAIT);
    assert_eq!(
        libotr_fingerprint(&key_file, ALICE, JABBER).as_deref(),
        Some(ADIUM_HEX)
    );

    // A different key: "yes" is not enough, "replace" keeps a backup.
    let other = scratch.join("other-pidgin");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr/alice.private_key"),
        other.join("otr.private_key"),
    )
    .expect("copy");
    let before = std::fs::read(&key_file).expect("key file");
    host.cmd(&[
        "conv_cmd",
        ALICE,
        BOB,
        &format!("/otr import {} yes", other.display()),
    ]);
    let asked = host.wait_conv_line(ALICE, BOB, "REPLACES", WAIT);
    assert!(asked.get("text").contains(" replace"), "{}", asked.raw);
    assert_eq!(std::fs::read(&key_file).expect("key file"), before);
    host.cmd(&[
        "conv_cmd",
        ALICE,
        BOB,
        &format!("/otr import {} replace", other.display()),
    ]);
    host.wait_conv_line(ALICE, BOB, "previous key file is saved", WAIT);
    let backups: Vec<_> = std::fs::read_dir(host.user_dir())
        .expect("readdir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains("otr.private_key.bak-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read(&backups[0]).expect("backup"), before);
    assert_eq!(
        libotr_fingerprint(&key_file, ALICE, JABBER).as_deref(),
        Some(ALICE_FIXTURE_HEX)
    );

    // Export for Adium's account 5: libotr reads it under Adium's names.
    let out = scratch.join("for-adium");
    host.cmd(&[
        "conv_cmd",
        ALICE,
        BOB,
        &format!("/otr export {} adium 5", out.display()),
    ]);
    host.wait_conv_line(ALICE, BOB, "Exported the key", WAIT);
    assert_eq!(
        libotr_fingerprint(&out.join("otr.private_key"), "5", "libpurple-Jabber").as_deref(),
        Some(ALICE_FIXTURE_HEX)
    );
    // Never over an existing file.
    host.cmd(&[
        "conv_cmd",
        ALICE,
        BOB,
        &format!("/otr export {}", out.display()),
    ]);
    host.wait_conv_line(ALICE, BOB, "already exists", WAIT);

    // After a rename the old name is given; an unknown one lists the keys there are.
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr key move nobody@localhost/old"]);
    let listed = host.wait_conv_line(ALICE, BOB, "No key in the file fits", WAIT);
    assert!(listed.get("text").contains(ALICE), "{}", listed.raw);
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr key move"]);
    host.wait_conv_line(ALICE, BOB, "Use: /otr key move", WAIT);

    // Nothing typed went out as a message.
    assert!(!host
        .conv_lines(ALICE, BOB)
        .iter()
        .any(|(f, _)| f & flags::SEND != 0));
}
