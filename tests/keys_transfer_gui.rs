//! Importing a key as a Pidgin user does it: a real Pidgin under Xvfb, driven with xdotool:
//! Tools → Off-the-Record Messaging → Import keys…, the file dialog (a copy of the Adium
//! fixture's otr.private_key), the choice of key and account, and the confirmation that shows the
//! fingerprint; then libotr reads Pidgin's key file and finds that key. The confirmation
//! dialog is photographed to target/tmp/screenshots/pidgin-import-keys.png.
//!
//! Run: `cargo test --test keys_transfer_gui` (as root inside `unshare -n`, see the
//! Makefile). Needs pidgin, xvfb, xdotool and imagemagick (installed by .ci/run).

// On a main whose tests/support/mod.rs has `pub mod gui`, replace these two lines with
// `use support::gui;` (as the other GUI tests there do).
mod support;

use support::gui;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use gui::{
    client_dir, find_window, screenshot, shots_dir, start_xvfb, wait_until, wait_until_opt,
    xdotool, Killed, XmppAccount,
};
use support::libotr_peer::LibotrPeer;
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/pidgin";
const WAIT: Duration = Duration::from_secs(60);
const NO_BUS: &str = "unix:path=/nonexistent/purple-otr-test-bus";
const ADIUM_HEX: &str = "cad1ca65b0195c2ab9ba0a33655f56df245ec274";
const ALICE_HEX: &str = "cc407d4d64f46fb557677faa7c6415a5809340d5";

/// One real Pidgin at a time: two starting at once under load can miss their deadlines.
static ONE_PIDGIN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn key(display: &str, window: &str, keys: &str) {
    xdotool(display, &["windowfocus", "--sync", window]);
    xdotool(display, &["key", "--clearmodifiers", keys]);
}

#[test]
fn pidgin_imports_an_adium_key_after_showing_its_fingerprint() {
    let _one = ONE_PIDGIN.lock().unwrap_or_else(|e| e.into_inner());
    let server = Prosody::alice_and_bob();
    let dir = client_dir(
        "pidgin-keys",
        "pidgin",
        "gtk-gaim",
        &XmppAccount {
            jid: ALICE,
            password: server.password("alice"),
            port: server.port,
            buddies: &["bob@localhost"],
        },
    );
    // Adium's files in the home folder, typed as ~/… (short, and nothing to complete it
    // to something else).
    let adium_dir = dir.path().join("zq-adium");
    fs::create_dir_all(&adium_dir).expect("adium dir");
    for f in ["otr.private_key", "otr.fingerprints", "Accounts.plist"] {
        fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/adium")
                .join(f),
            adium_dir.join(f),
        )
        .expect("copy fixture");
    }
    let adium = "zq-adium/otr.private_key";
    let key_file = dir.path().join("otr.private_key");
    let (_xvfb, display) = start_xvfb();
    let log_path = dir.path().join("pidgin.log");
    let log = fs::File::create(&log_path).expect("pidgin log");
    let _pidgin = Killed(
        gui::set_test_locale(&mut Command::new("pidgin"))
            .arg("-d")
            .arg("-c")
            .arg(dir.path())
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", NO_BUS)
            .env("HOME", dir.path())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pidgin ({e}): apt-get install pidgin")),
    );
    let pidgin_log = || fs::read_to_string(&log_path).unwrap_or_default();
    let blist = wait_until("Pidgin's buddy list", WAIT, || {
        find_window(&display, "^Buddy List$")
    });
    wait_until("the plugin loading in Pidgin", WAIT, || {
        pidgin_log().contains("purple-otr: loaded").then_some(())
    });
    let shots = shots_dir();

    // Tools (Alt+T); the plugin's submenu is the menu's last item (Up from the top wraps
    // to it); Right opens it on "Known fingerprints…"; two down is "Import keys…".
    let chooser = wait_until("the file dialog", WAIT, || {
        key(&display, &blist, "alt+t");
        std::thread::sleep(Duration::from_millis(500));
        xdotool(&display, &["key", "Up", "Right"]);
        std::thread::sleep(Duration::from_millis(500));
        xdotool(&display, &["key", "Down", "Down", "Return"]);
        let found = wait_until_opt(Duration::from_secs(3), || {
            find_window(&display, "^Import OTR keys: choose")
        });
        if found.is_none() {
            screenshot(&display, &shots.join("pidgin-import-keys-menu.png"));
            xdotool(&display, &["key", "Escape", "Escape", "Escape"]);
        }
        found
    });
    // Typing a path opens the file dialog's location entry.
    xdotool(&display, &["windowfocus", "--sync", &chooser]);
    std::thread::sleep(Duration::from_millis(500));
    // Alt+Home: the home folder (the dialog opens on "Recently Used"); then the path
    // relative to it, in the location entry.
    xdotool(&display, &["key", "--clearmodifiers", "alt+Home"]);
    std::thread::sleep(Duration::from_millis(700));
    xdotool(&display, &["key", "--clearmodifiers", "ctrl+l"]);
    std::thread::sleep(Duration::from_millis(700));
    xdotool(&display, &["type", "--delay", "60", adium]);
    std::thread::sleep(Duration::from_millis(500));
    screenshot(&display, &shots.join("pidgin-import-keys-file.png"));
    xdotool(&display, &["key", "Return"]);

    // Which key, for which account: the defaults (the file's only key, the only account).
    let choose = wait_until("the key and account dialog", WAIT, || {
        find_window(&display, "^Import OTR keys$")
    });
    std::thread::sleep(Duration::from_millis(800));
    screenshot(&display, &shots.join("pidgin-import-keys-choose.png"));
    key(&display, &choose, "Return");

    // The confirmation shows the fingerprint; nothing is written before it is answered.
    let confirm = wait_until("the confirmation", WAIT, || {
        find_window(&display, "^Import OTR keys$").filter(|w| *w != choose)
    });
    xdotool(&display, &["windowmove", &confirm, "0", "0"]);
    std::thread::sleep(Duration::from_millis(800));
    screenshot(&display, &shots.join("pidgin-import-keys.png"));
    assert!(!key_file.exists(), "written before the confirmation");
    key(&display, &confirm, "Return");

    wait_until("the imported key in Pidgin's key file", WAIT, || {
        key_file.exists().then_some(())
    });
    // And Pidgin says so.
    wait_until("the import's report", WAIT, || {
        find_window(&display, "^Import OTR keys$")
    });
    let mut p = LibotrPeer::spawn_labelled("pidgin-keys");
    p.account(ALICE, "prpl-jabber");
    assert_eq!(p.load_key(&key_file).as_deref(), Some(ADIUM_HEX));
}

#[test]
fn pidgin_exports_a_key_libotr_reads() {
    let _one = ONE_PIDGIN.lock().unwrap_or_else(|e| e.into_inner());
    let server = Prosody::alice_and_bob();
    let dir = client_dir(
        "pidgin-export",
        "pidgin",
        "gtk-gaim",
        &XmppAccount {
            jid: ALICE,
            password: server.password("alice"),
            port: server.port,
            buddies: &["bob@localhost"],
        },
    );
    // Alice's key (made by libotr), under this account's name.
    let alice_key = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr/alice.private_key"),
    )
    .expect("fixture")
    .replace("alice@localhost/peer", ALICE);
    fs::write(dir.path().join("otr.private_key"), alice_key).expect("key file");
    let out = dir.path().join("zq-out");
    fs::create_dir_all(&out).expect("empty folder");

    let (_xvfb, display) = start_xvfb();
    let log_path = dir.path().join("pidgin.log");
    let log = fs::File::create(&log_path).expect("pidgin log");
    let _pidgin = Killed(
        gui::set_test_locale(&mut Command::new("pidgin"))
            .arg("-d")
            .arg("-c")
            .arg(dir.path())
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", NO_BUS)
            .env("HOME", dir.path())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pidgin ({e}): apt-get install pidgin")),
    );
    let pidgin_log = || fs::read_to_string(&log_path).unwrap_or_default();
    let blist = wait_until("Pidgin's buddy list", WAIT, || {
        find_window(&display, "^Buddy List$")
    });
    wait_until("the plugin loading in Pidgin", WAIT, || {
        pidgin_log().contains("purple-otr: loaded").then_some(())
    });
    let shots = shots_dir();

    // Tools → Off-the-Record Messaging → Export keys… (the fourth item).
    let form = wait_until("the export dialog", WAIT, || {
        key(&display, &blist, "alt+t");
        std::thread::sleep(Duration::from_millis(500));
        xdotool(&display, &["key", "Up", "Right"]);
        std::thread::sleep(Duration::from_millis(500));
        xdotool(&display, &["key", "Down", "Down", "Down", "Return"]);
        let found = wait_until_opt(Duration::from_secs(3), || {
            find_window(&display, "^Export OTR keys$")
        });
        if found.is_none() {
            xdotool(&display, &["key", "Escape", "Escape", "Escape"]);
        }
        found
    });
    // The defaults: the only account, for Pidgin, named as here.
    std::thread::sleep(Duration::from_millis(800));
    screenshot(&display, &shots.join("pidgin-export-keys.png"));
    key(&display, &form, "Return");

    let chooser = wait_until("the folder dialog", WAIT, || {
        find_window(&display, "^Export OTR keys: choose")
    });
    xdotool(&display, &["windowfocus", "--sync", &chooser]);
    std::thread::sleep(Duration::from_millis(500));
    xdotool(&display, &["key", "--clearmodifiers", "alt+Home"]);
    std::thread::sleep(Duration::from_millis(700));
    xdotool(&display, &["key", "--clearmodifiers", "ctrl+l"]);
    std::thread::sleep(Duration::from_millis(700));
    xdotool(&display, &["type", "--delay", "60", "zq-out"]);
    std::thread::sleep(Duration::from_millis(500));
    screenshot(&display, &shots.join("pidgin-export-keys-folder.png"));
    xdotool(&display, &["key", "Return"]);

    let exported = out.join("otr.private_key");
    let found = wait_until_opt(WAIT, || exported.exists().then_some(()));
    screenshot(&display, &shots.join("pidgin-export-keys-done.png"));
    assert!(found.is_some(), "nothing exported");
    let mut p = LibotrPeer::spawn_labelled("pidgin-export");
    p.account(ALICE, "prpl-jabber");
    assert_eq!(p.load_key(&exported).as_deref(), Some(ALICE_HEX));
}
