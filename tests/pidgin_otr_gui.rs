//! A private conversation as a Pidgin user has it: alice is a real Pidgin under Xvfb with
//! our plugin, her XMPP account written into her config dir; bob is the headless test host
//! with our plugin; both on a throwaway prosody. The test opens Conversation → More in
//! alice's conversation window with bob and photographs it, then starts the private
//! conversation from the window's entry (`/otr start`) and photographs the notices.
//!
//! Run: `cargo test --test pidgin_otr_gui` (as root inside `unshare -n`, see the Makefile).
//! Screenshots go to target/tmp/screenshots/; with PURPLE_OTR_UPDATE_SCREENSHOTS=1 they
//! also replace docs/screenshots/pidgin-conversation-menu.png and
//! docs/screenshots/pidgin-private-conversation.png.

mod support;

use support::gui;

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use gui::{
    client_dir, find_window, find_windows, identify, pixels_differing, publish, screenshot,
    shots_dir, start_xvfb, wait_until, wait_until_opt, xdotool, Killed, XmppAccount, NO_BUS,
};
use support::host::Host;
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/pidgin";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(30);

/// Bob: the headless host with our plugin and a key already made (libotr's fixture,
/// renamed to his account), signed on.
fn bob(server: &Prosody) -> Host {
    let mut bob = Host::start("bob", &[]);
    let key = fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/libotr/bob.private_key"),
    )
    .expect("bob's key fixture")
    .replace("bob@localhost/peer", BOB);
    fs::write(bob.user_dir().join("otr.private_key"), key).expect("bob's key file");
    bob.load_plugin().expect("plugin loads in bob's host");
    bob.connect_xmpp(BOB, server.password("bob"), server.port);
    bob
}

fn key(display: &str, window: &str, keys: &str) {
    xdotool(display, &["windowfocus", "--sync", window]);
    xdotool(display, &["key", "--clearmodifiers", keys]);
}

#[test]
fn pidgin_conversation_menu_and_private_conversation() {
    let server = Prosody::alice_and_bob();
    let mut bob = bob(&server);
    let dir = client_dir(
        "pidgin-alice",
        "pidgin",
        "gtk-gaim",
        &XmppAccount {
            jid: ALICE,
            password: server.password("alice"),
            port: server.port,
            buddies: &["bob@localhost"],
        },
    );
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
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pidgin ({e}): apt-get install pidgin")),
    );
    let pidgin_log = || fs::read_to_string(&log_path).unwrap_or_default();
    wait_until("Pidgin's buddy list", WAIT, || {
        find_window(&display, "^Buddy List$")
    });
    wait_until("the plugin loading in Pidgin", WAIT, || {
        pidgin_log().contains("purple-otr: loaded").then_some(())
    });
    bob.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("alice@localhost"),
        WAIT,
    );

    // Bob's client does not offer OTR on its own (no whitespace tag on his hello), so
    // alice's conversation starts not private and she starts it herself.
    bob.cmd(&["conv_open", BOB, "alice@localhost"]);
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr policy manual"]);

    // Bob says hello: Pidgin opens alice's conversation window with him.
    bob.cmd(&["conv_open", BOB, "alice@localhost"]);
    bob.cmd(&["send_im", BOB, "alice@localhost", "Hi Alice, it's Bob"]);
    let conv = wait_until("alice's conversation window with bob", WAIT, || {
        find_window(&display, "^bob$")
    });
    xdotool(&display, &["windowmove", &conv, "0", "0"]);
    xdotool(&display, &["windowsize", &conv, "700", "520"]);
    // Pidgin's debug log shows the XMPP traffic: his hello arrived in the clear.
    wait_until("bob's hello in Pidgin", WAIT, || {
        pidgin_log()
            .contains("Hi Alice, it&apos;s Bob")
            .then_some(())
    });

    // Conversation (Alt+C) → More (its mnemonic, o): the plugin's items.
    let shots = shots_dir();
    let before = shots.join("pidgin-conversation-before-menu.png");
    screenshot(&display, &before);
    let windows_before = find_windows(&display, ".*").len();
    let menus = wait_until_opt(Duration::from_secs(20), || {
        key(&display, &conv, "alt+c");
        std::thread::sleep(Duration::from_millis(400));
        xdotool(&display, &["key", "o"]);
        wait_until_opt(Duration::from_secs(2), || {
            let n = find_windows(&display, ".*").len();
            (n >= windows_before + 2).then_some(n)
        })
        .or_else(|| {
            xdotool(&display, &["key", "Escape", "Escape"]);
            None
        })
    })
    .expect("Conversation → More did not open");
    let menu_shot = shots.join("pidgin-conversation-menu.png");
    settled_screenshot(&display, &menu_shot);
    check_screenshot(&menu_shot);
    assert!(menus >= windows_before + 2);
    // The two menus drawn over the window: thousands of pixels changed.
    let changed = pixels_differing(&before, &menu_shot);
    assert!(changed > 5_000, "the menus changed only {changed} pixels");
    publish(&menu_shot, "pidgin-conversation-menu.png");
    xdotool(&display, &["key", "Escape", "Escape"]);
    wait_until("the menus to close", WAIT, || {
        (find_windows(&display, ".*").len() <= windows_before).then_some(())
    });

    // Start from the entry, as a user can in any libpurple client: /otr start.
    key(&display, &conv, "ctrl+a"); // no-op in an empty entry; makes sure it has focus
    xdotool(&display, &["type", "--delay", "30", "/otr start"]);
    xdotool(&display, &["key", "Return"]);
    bob.wait_event(
        "write_conv",
        |l| {
            l.get("account") == BOB
                && l.get("text")
                    .contains("Private conversation with alice@localhost started")
        },
        WAIT,
    );
    let typed = "Hello Bob, this is Pidgin speaking privately";
    xdotool(&display, &["type", "--delay", "20", typed]);
    xdotool(&display, &["key", "Return"]);
    bob.wait_event("received_im", |l| l.get("text") == typed, WAIT);
    let answer = "Loud and clear, and private";
    bob.cmd(&["send_im", BOB, "alice@localhost", answer]);
    wait_until("bob's answer in Pidgin's log", WAIT, || {
        pidgin_log()
            .lines()
            .any(|l| l.contains("jabber: Recv") && l.contains("?OTR:AAMD"))
            .then_some(())
    });

    // What alice's Pidgin sent (its debug log has every stanza): the query, then only OTR
    // data; never what she typed.
    let log = pidgin_log();
    assert!(
        !log.contains(typed),
        "alice's message went out in the clear"
    );
    let sent: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("jabber: Sending") && l.contains("<body>"))
        .filter_map(|l| l.split("<body>").nth(1))
        .collect();
    assert!(sent.len() >= 3, "{sent:?}");
    assert!(sent[0].starts_with("?OTRv"), "{sent:?}");
    for body in &sent[1..] {
        assert!(body.starts_with("?OTR:"), "non-OTR body: {body}");
    }

    let private_shot = shots.join("pidgin-private-conversation.png");
    settled_screenshot(&display, &private_shot);
    check_screenshot(&private_shot);
    publish(&private_shot, "pidgin-private-conversation.png");
}

/// A screenshot once the screen stopped changing (GTK paints after the event that
/// caused it): two shots in a row alike.
fn settled_screenshot(display: &str, path: &std::path::Path) {
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

/// A real picture of the screen: a 1024x768 PNG with many colours (text, icons), not a
/// blank frame.
fn check_screenshot(shot: &std::path::Path) {
    let info = identify(shot, "%m %w %h %k");
    let parts: Vec<&str> = info.split_whitespace().collect();
    assert_eq!(parts.get(..3), Some(&["PNG", "1024", "768"][..]), "{info}");
    let colours: u32 = parts.get(3).and_then(|c| c.parse().ok()).unwrap_or(0);
    assert!(colours > 50, "screenshot looks blank ({colours} colours)");
}
