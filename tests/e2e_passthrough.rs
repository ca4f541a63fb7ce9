//! End to end through a real XMPP server: alice's and bob's libpurple clients (one host
//! process each, each with its own user dir) both run the plugin, and at this stage a
//! message passes through unchanged, in both directions.
//!
//! Run: `cargo test --test e2e_passthrough` (as root inside `unshare -n`, see the Makefile).

mod support;

use std::time::Duration;

use support::host::{Host, Line};
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(15);

fn client(label: &str, jid: &str, server: &Prosody, user: &str) -> Host {
    let mut host = Host::start(label, &[]);
    host.load_plugin().expect("plugin loads");
    host.cmd(&["debug_events", "on"]);
    host.connect_xmpp(jid, server.password(user), server.port);
    host
}

fn plugin_debug_lines(host: &Host) -> Vec<&Line> {
    host.events
        .iter()
        .filter(|l| l.name == "debug" && l.get("category") == "purple-otr")
        .collect()
}

#[test]
fn a_message_passes_through_the_plugin_both_ways() {
    let server = Prosody::alice_and_bob();
    let mut alice = client("alice", ALICE, &server, "alice");
    let mut bob = client("bob", BOB, &server, "bob");
    // Presence from the shared roster: each sees the other online.
    alice.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("bob@localhost"),
        WAIT,
    );
    bob.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("alice@localhost"),
        WAIT,
    );

    let hello = "hello bob: 1 < 2 & \"quotes\" stay";
    alice.cmd(&["send_im", ALICE, "bob@localhost", hello]);
    let got = bob.wait_event("received_im", |l| l.get("text").contains("hello bob"), WAIT);
    assert!(
        got.get("sender").starts_with("alice@localhost"),
        "{}",
        got.raw
    );
    // libpurple sends markup: the text arrives as alice's client escaped it, unchanged by
    // either plugin.
    assert_eq!(
        got.get("text"),
        "hello bob: 1 &lt; 2 &amp; &quot;quotes&quot; stay"
    );

    let reply = "hi alice";
    bob.cmd(&["send_im", BOB, "alice@localhost", reply]);
    let back = alice.wait_event("received_im", |l| l.get("text").contains("hi alice"), WAIT);
    assert_eq!(back.get("text"), reply);

    // The plugin saw both messages (its handlers ran) but never logged their text.
    alice.sync();
    bob.sync();
    for (who, host) in [("alice", &alice), ("bob", &bob)] {
        let lines = plugin_debug_lines(host);
        assert!(
            lines
                .iter()
                .any(|l| l.get("text").contains("sending-im-msg")),
            "{who}: no sending-im-msg line"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.get("text").contains("receiving-im-msg")),
            "{who}: no receiving-im-msg line"
        );
        for l in lines {
            let t = l.get("text");
            assert!(
                !t.contains("hello") && !t.contains("hi alice"),
                "{who}: message text in debug log: {t}"
            );
        }
    }
}
