//! A private conversation as a Finch user has it: alice is a real Finch (under tmux, read
//! with capture-pane) with our plugin, her XMPP account written into her config dir; bob is
//! the headless test host with our plugin; both on a throwaway prosody, through a recording
//! proxy. Finch has no conversation menus for plugins, so alice uses the buddy list's
//! context menu and `/otr` typed in the conversation.
//!
//! Run: `cargo test --test finch_otr` (as root inside `unshare -n`, see the Makefile).

mod support;

use support::gui;

use std::time::Duration;

use gui::{client_dir, screen_text, squash, Tmux, XmppAccount, NO_BUS};
use support::host::Host;
use support::prosody::Prosody;
use support::proxy::Proxy;

const ALICE: &str = "alice@localhost/finch";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(30);

#[test]
fn finch_user_starts_a_private_conversation() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let mut bob = Host::start("bob", &[]);
    // Bob already has a key (libotr's fixture, renamed to his account): the test is about
    // what alice sees, and it keeps bob's key generation out of the timing.
    let key = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/libotr/bob.private_key"),
    )
    .expect("bob's key fixture")
    .replace("bob@localhost/peer", BOB);
    std::fs::write(bob.user_dir().join("otr.private_key"), key).expect("bob's key file");
    bob.load_plugin().expect("plugin loads in bob's host");
    bob.connect_xmpp(BOB, server.password("bob"), proxy.port);

    let dir = client_dir(
        "finch-alice",
        "finch",
        "gnt-purple",
        &XmppAccount {
            jid: ALICE,
            password: server.password("alice"),
            port: proxy.port,
            buddies: &["bob@localhost"],
        },
    );
    let finch = Tmux::start(
        "finch-otr",
        &format!(
            "env HOME='{d}' TERM=tmux-256color DBUS_SESSION_BUS_ADDRESS={NO_BUS} finch -c '{d}'",
            d = dir.path().display()
        ),
    );
    // Finch lists only buddies who are online: bob's row means both are signed on.
    finch.wait_for("bob online in Finch's buddy list", |s| {
        s.contains("Buddy List") && s.lines().any(|l| l.contains(" bob "))
    });

    // (a) The context menu of bob's row (Finch asks for the contact row's menu).
    let menu = contact_menu(&finch);
    let items = menu_items(&menu);
    for label in [
        "Start private conversation",
        "End private conversation",
        "Verify fingerprint",
        "Authenticate buddy",
        "OTR settings for this buddy",
    ] {
        assert!(
            items.iter().any(|i| i == label),
            "{label:?} missing from {items:?}:\n{menu}"
        );
    }
    assert!(
        !items.iter().any(|i| i == "Refresh private conversation"),
        "not private yet, but the menu offers a refresh:\n{menu}"
    );
    finch.send("Escape", false);
    finch.wait_for("the menu to close", |s| !s.contains("Verify fingerprint"));

    // (b) Open the conversation (Enter on the row) and type /otr start.
    let conv_title = "bob — not private (alice@localhost/finch -- XMPP)";
    retry("the conversation window", || {
        finch.send("Enter", false);
        finch
            .try_wait_for(Duration::from_secs(5), |s| s.contains(conv_title))
            .is_some()
    });
    type_line(&finch, "/otr start");
    // Bob's side reports it (and, failing, shows everything bob's client saw).
    bob.wait_event(
        "write_conv",
        |l| {
            l.get("account") == BOB
                && l.get("text")
                    .contains("Private conversation with alice@localhost started")
        },
        WAIT,
    );
    let started = "Private conversation with bob@localhost started, but bob@localhost's identity \
                   is not verified yet.";
    let screen = wait_text(
        &finch,
        "alice's notice that the conversation is private",
        started,
    );
    println!("Finch after /otr start:\n{screen}");
    assert!(
        has_text(
            &screen,
            "This is the first time you talk privately with bob@localhost"
        ),
        "{screen}"
    );
    assert!(
        !has_text(&screen, "/otr start"),
        "the command was sent as a message:\n{screen}"
    );
    // The fingerprint alice is shown is bob's own, as his client reports it.
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr fingerprint"]);
    let own = bob.wait_event(
        "write_conv",
        |l| {
            l.get("text")
                .contains("Your fingerprint (bob@localhost/laptop): ")
        },
        WAIT,
    );
    let bob_fp: String = own
        .get("text")
        .split("Your fingerprint (bob@localhost/laptop): ")
        .nth(1)
        .and_then(|rest| rest.split(['\n', '<']).next())
        .expect("bob's fingerprint")
        .to_owned();
    assert_eq!(squash(&bob_fp).len(), 40, "{}", own.raw);
    assert!(
        has_text(&screen, &format!("Their key's fingerprint is {bob_fp}.")),
        "bob's fingerprint {bob_fp} not shown to alice:\n{screen}"
    );
    let private_from = proxy.recorded().len();

    // (c) What alice types arrives decrypted at bob; his answer shows in her window.
    let typed = "Hello Bob, this is Finch speaking privately";
    type_line(&finch, typed);
    bob.wait_event("received_im", |l| l.get("text") == typed, WAIT);
    let answer = "Loud and clear, Finch";
    bob.cmd(&["send_im", BOB, "alice@localhost", answer]);
    wait_text(&finch, "bob's answer in alice's window", answer);

    // Once private, the menu offers a refresh instead of a start.
    finch.send("M-1", false); // the buddy list is Finch's first window
    let menu = contact_menu(&finch);
    let items = menu_items(&menu);
    assert!(
        items.iter().any(|i| i == "Refresh private conversation")
            && !items.iter().any(|i| i == "Start private conversation"),
        "{items:?}:\n{menu}"
    );
    finch.send("Escape", false);

    // What the server saw: neither message in the clear; only OTR data once private.
    let wire = proxy.recorded();
    assert!(
        !wire.contains(typed) && !wire.contains(answer),
        "plaintext on the wire"
    );
    let bodies = Proxy::bodies_of(&wire[private_from..]);
    assert!(bodies.len() >= 2, "saw {bodies:?}");
    for body in &bodies {
        assert!(
            body.starts_with("?OTR"),
            "non-OTR body while private: {body}"
        );
    }
}

/// Runs `attempt` until it reports success, up to five times (a key can beat a window's
/// focus on a slow machine).
fn retry(what: &str, mut attempt: impl FnMut() -> bool) {
    assert!((0..5).any(|_| attempt()), "gave up on {what}");
}

/// Types a line into the focused conversation's entry and presses Enter.
fn type_line(finch: &Tmux, text: &str) {
    finch.send(text, true);
    finch.send("Enter", false);
}

/// Whether `text` is on the screen, ignoring gnt's line wrapping and frames.
fn has_text(screen: &str, text: &str) -> bool {
    squash(&screen_text(screen)).contains(&squash(text))
}

fn wait_text(finch: &Tmux, what: &str, text: &str) -> String {
    finch
        .try_wait_for(WAIT, |s| has_text(s, text))
        .unwrap_or_else(|| {
            panic!(
                "timed out waiting for {what}; the screen:\n{}",
                finch.screen()
            )
        })
}

/// Selects bob's row in the buddy list and opens its context menu (Ctrl+X); the screen.
fn contact_menu(finch: &Tmux) -> String {
    finch.wait_for("the buddy list", |s| s.contains("Buddy List"));
    let mut screen = String::new();
    // The selection starts on the group row; move down until bob's menu opens (his menu
    // has "Get Info", a group's has not).
    for _ in 0..4 {
        finch.send("C-x", false);
        if let Some(s) = finch.try_wait_for(Duration::from_secs(5), |s| s.contains("Get Info")) {
            return s;
        }
        screen = finch.screen();
        finch.send("Escape", false);
        // An Escape read together with the next key would make it Alt+<key>.
        finch.wait_for("the group menu to close", |s| !s.contains("Add Group"));
        finch.down(1);
    }
    panic!("bob's context menu did not open; the screen:\n{screen}");
}

/// The labels of the open context menu, whose rows read `│Verify fingerprint   (v)  ▒│`
/// (the letter is the item's shortcut) in the box that holds "Get Info"; other windows may
/// show on either side of it.
fn menu_items(screen: &str) -> Vec<String> {
    let rows: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let Some(left) = rows.iter().find_map(|r| {
        let line: String = r.iter().collect();
        let at = line.find("│Get Info")?;
        Some(line[..at].chars().count() + 1)
    }) else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|r| {
            if left == 0 || r.get(left - 1) != Some(&'│') {
                return None;
            }
            let cell: String = r.get(left..)?.iter().take_while(|c| **c != '│').collect();
            let cell = cell.trim_end_matches(['▒', ' ']);
            let (label, _) = cell.strip_suffix(')')?.rsplit_once('(')?;
            let label = label.trim();
            let label = label
                .strip_prefix("[ ] ")
                .or_else(|| label.strip_prefix("[X] "))
                .unwrap_or(label);
            Some(label.to_owned())
        })
        .collect()
}
