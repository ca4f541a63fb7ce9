//! Pidgin in Persian, a right-to-left language: alice is a real Pidgin under Xvfb with
//! our plugin installed as `make install` installs it for one user (the catalogues in
//! plugins/purple-otr/locale next to the .so), run with LANGUAGE=fa; bob is the headless
//! test host. Alice starts a private conversation and asks for the fingerprints: the
//! plugin's notices are Persian, laid out right to left, and the fingerprints and account
//! names inside them stay left to right (the catalogue wraps them in Unicode isolates).
//!
//! Run: `cargo test --test i18n_pidgin_persian` (as root inside `unshare -n`, see the
//! Makefile; needs pidgin, xvfb, xdotool, imagemagick, gettext and a font with Arabic
//! script: fonts-dejavu-core). The screenshot goes to target/tmp/screenshots/; with
//! PURPLE_OTR_UPDATE_SCREENSHOTS=1 it also replaces docs/screenshots/pidgin-persian.png.

mod support;

use support::gui;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use gui::{
    client_dir, find_window, identify, pixels_differing, publish, screenshot, shots_dir,
    start_xvfb, wait_until, xdotool, Killed, XmppAccount, NO_BUS,
};
use support::host::Host;
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/pidgin";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(30);

/// Bob: the headless host with our plugin and a key already made, signed on.
fn bob(server: &Prosody) -> Host {
    let mut bob = Host::start("bob", &[]);
    let key = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr/bob.private_key"),
    )
    .expect("bob's key fixture")
    .replace("bob@localhost/peer", BOB);
    fs::write(bob.user_dir().join("otr.private_key"), key).expect("bob's key file");
    bob.load_plugin().expect("plugin loads in bob's host");
    bob.connect_xmpp(BOB, server.password("bob"), server.port);
    bob
}

fn type_line(display: &str, window: &str, line: &str) {
    xdotool(display, &["windowfocus", "--sync", window]);
    xdotool(display, &["type", "--delay", "30", line]);
    xdotool(display, &["key", "Return"]);
}

/// A screenshot once two in a row are alike (GTK paints after the event).
fn settled_screenshot(display: &str, path: &Path) {
    let previous = path.with_extension("previous.png");
    screenshot(display, &previous);
    wait_until("the screen to settle", WAIT, || {
        std::thread::sleep(Duration::from_millis(300));
        screenshot(display, path);
        if pixels_differing(&previous, path) == 0 {
            return Some(());
        }
        fs::copy(path, &previous).expect("keep the last screenshot");
        None
    });
    let _ = fs::remove_file(previous);
}

#[test]
fn pidgin_in_persian_keeps_fingerprints_left_to_right() {
    let server = Prosody::alice_and_bob();
    let mut bob = bob(&server);
    let dir = client_dir(
        "pidgin-persian",
        "pidgin",
        "gtk-gaim",
        &XmppAccount {
            jid: ALICE,
            password: server.password("alice"),
            port: server.port,
            buddies: &["bob@localhost"],
        },
    );
    // The Persian catalogue next to the plugin, as the per-user `make install` puts it.
    let locale = dir.path().join("plugins/purple-otr/locale");
    let mo_dir = locale.join("fa/LC_MESSAGES");
    fs::create_dir_all(&mo_dir).expect("locale dir");
    let status = Command::new("msgfmt")
        .arg("--check")
        .arg("-o")
        .arg(mo_dir.join("purple-otr.mo"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("po/fa.po"))
        .status()
        .expect("msgfmt not found: apt-get install gettext");
    assert!(status.success(), "msgfmt --check po/fa.po failed");

    let (_xvfb, display) = start_xvfb();
    let log_path = dir.path().join("pidgin.log");
    let log = fs::File::create(&log_path).expect("pidgin log");
    let _pidgin = Killed(
        Command::new("pidgin")
            .arg("-d") // debug log on stdout: our plugin's lines are in it
            .arg("-c")
            .arg(dir.path())
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", NO_BUS)
            .env("HOME", dir.path())
            // Persian through LANGUAGE in a UTF-8 locale that needs no generating; GTK
            // takes its right-to-left layout from its own Persian catalogue.
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            .env("LANGUAGE", "fa")
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pidgin ({e}): apt-get install pidgin")),
    );
    let pidgin_log = || fs::read_to_string(&log_path).unwrap_or_default();
    wait_until("the plugin loading in Pidgin", WAIT, || {
        pidgin_log().contains("purple-otr: loaded").then_some(())
    });
    // It bound its text domain to the catalogues next to its own .so.
    let bound = format!("translations from {}", locale.display());
    assert!(
        pidgin_log().contains(&bound),
        "no {bound:?} in Pidgin's log"
    );
    bob.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("alice@localhost"),
        WAIT,
    );

    // Bob greets alice in Persian: her conversation window opens.
    bob.cmd(&["conv_open", BOB, "alice@localhost"]);
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr policy manual"]);
    bob.cmd(&["send_im", BOB, "alice@localhost", "سلام آلیس، باب هستم"]);
    let conv = wait_until("alice's conversation window with bob", WAIT, || {
        find_window(&display, "^bob$")
    });
    // The whole screen, above the buddy list (Xvfb has no window manager to do it).
    xdotool(&display, &["windowmove", &conv, "0", "0"]);
    xdotool(&display, &["windowsize", &conv, "1024", "768"]);
    xdotool(&display, &["windowraise", &conv]);
    let shots = shots_dir();
    let before = shots.join("pidgin-persian-before.png");
    settled_screenshot(&display, &before);

    // Alice starts the private conversation and asks for both fingerprints.
    type_line(&display, &conv, "/otr start");
    bob.wait_event(
        "write_conv",
        |l| {
            l.get("account") == BOB
                && l.get("text")
                    .contains("Private conversation with alice@localhost started")
        },
        WAIT,
    );
    type_line(&display, &conv, "/otr fingerprint");
    let shot = shots.join("pidgin-persian.png");
    std::thread::sleep(Duration::from_secs(1));
    // Pidgin raises its buddy list again when the account's state changes.
    xdotool(&display, &["windowraise", &conv]);
    settled_screenshot(&display, &shot);

    let info = identify(&shot, "%m %w %h %k");
    let parts: Vec<&str> = info.split_whitespace().collect();
    assert_eq!(parts.get(..3), Some(&["PNG", "1024", "768"][..]), "{info}");
    let colours: u32 = parts.get(3).and_then(|c| c.parse().ok()).unwrap_or(0);
    assert!(colours > 50, "screenshot looks blank ({colours} colours)");
    // The notices (several lines of Persian with fingerprints) were drawn.
    let changed = pixels_differing(&before, &shot);
    assert!(changed > 5_000, "the notices changed only {changed} pixels");
    publish(&shot, "pidgin-persian.png");
}
