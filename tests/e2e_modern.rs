//! Two of our plugins over a real XMPP server (prosody on 127.0.0.1, a recording proxy in
//! front): they go private on OTR v3, upgrade to the post-quantum suite by themselves
//! (docs/modern-suite.md), say so, and talk both ways; after the upgrade the server sees only
//! the suite's data messages (`?OTR:AAMz…`).
//!
//! Run: `cargo test --test e2e_modern` (as root inside `unshare -n`, see the Makefile).

mod support;

use std::time::Duration;

use support::host::Host;
use support::prosody::Prosody;
use support::proxy::Proxy;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(30);

fn client(label: &str, jid: &str, server: &Prosody, proxy: &Proxy, user: &str) -> Host {
    let mut host = Host::start(label, &[]);
    host.load_plugin().expect("plugin loads");
    host.connect_xmpp(jid, server.password(user), proxy.port);
    host
}

fn wait_line(host: &mut Host, account: &str, buddy: &str, needle: &str) {
    let (account, buddy, needle) = (account.to_owned(), buddy.to_owned(), needle.to_owned());
    host.wait_event(
        "write_conv",
        move |l| {
            l.get("account") == account
                && l.get("conv").starts_with(&buddy)
                && l.get("text").contains(&needle)
        },
        WAIT,
    );
}

fn received(host: &mut Host, text: &str) {
    let text = text.to_owned();
    host.wait_event("received_im", move |l| l.get("text") == text, WAIT);
}

#[test]
fn two_plugins_upgrade_to_post_quantum_over_xmpp() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let mut alice = client("alice", ALICE, &server, &proxy, "alice");
    let mut bob = client("bob", BOB, &server, &proxy, "bob");
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

    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    // Both sides go private on v3, then both say the switch happened.
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "now uses post-quantum encryption",
    );
    wait_line(
        &mut bob,
        BOB,
        "alice@localhost",
        "now uses post-quantum encryption",
    );
    // The upgrade is complete once a message from each side has been read by the other
    // (the responder switches on the initiator's CONFIRM or first data message).
    let upgraded_at = proxy.recorded().len();

    for i in 0..20 {
        let a = format!("alice-secret-{i} <b>bold</b>");
        alice.cmd(&["send_im", ALICE, "bob@localhost", &a]);
        received(&mut bob, &a);
        let b = format!("bob-secret-{i}");
        bob.cmd(&["send_im", BOB, "alice@localhost", &b]);
        received(&mut alice, &b);
    }
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr status"]);
    wait_line(&mut alice, ALICE, "bob@localhost", "(post-quantum)");
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr status"]);
    wait_line(&mut bob, BOB, "alice@localhost", "(post-quantum)");

    let wire = proxy.recorded();
    assert!(wire.contains("?OTR:AAMw"), "no INIT on the wire");
    assert!(wire.contains("?OTR:AAMx"), "no RESPONSE on the wire");
    for i in 0..20 {
        assert!(!wire.contains(&format!("alice-secret-{i} ")));
        assert!(!wire.contains(&format!("bob-secret-{i}<")));
    }
    let bodies = Proxy::bodies_of(&wire[upgraded_at..]);
    assert!(bodies.len() >= 40, "saw {} bodies", bodies.len());
    // A CONFIRM may still be on its way when Alice says "now uses": nothing else but modern
    // data after it.
    for body in &bodies {
        assert!(
            body.starts_with("?OTR:AAMz") || body.starts_with("?OTR:AAMy"),
            "not a modern-suite message after the upgrade: {body}"
        );
    }
    assert!(bodies.iter().filter(|b| b.starts_with("?OTR:AAMz")).count() >= 40);
}
