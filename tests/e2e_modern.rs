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
        "Now: Private (post-quantum, not verified).",
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
    // `/otr status` leads with the label the button and title show on the new suite.
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr status"]);
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "Private (post-quantum, not verified): ",
    );
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr status"]);
    wait_line(
        &mut bob,
        BOB,
        "alice@localhost",
        "Private (post-quantum, not verified): ",
    );

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

/// The setting (`/plugins/core/purple-otr/modern`, "Post-quantum when both use purple-otr"
/// in the configure frame) off in Bob's client: Bob never announces the suite, so
/// after the AKE only Alice's announcement crosses, nobody starts the handshake, and both
/// stay on OTR v3 with pidgin-otr's wording.
#[test]
fn with_the_setting_off_a_plugin_does_not_announce_and_stays_on_v3() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let mut alice = client("alice-off", ALICE, &server, &proxy, "alice");
    let mut bob = client("bob-off", BOB, &server, &proxy, "bob");
    bob.cmd(&["pref_set", "/plugins/core/purple-otr/modern", "bool", "0"]);
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
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "Private conversation with bob@localhost",
    );
    wait_line(
        &mut bob,
        BOB,
        "alice@localhost",
        "Private conversation with alice@localhost",
    );
    // Both announcements would have gone at once; give them time to cross.
    std::thread::sleep(Duration::from_secs(3));
    // Each stanza crosses the proxy twice (sender → server → receiver): count distinct ones.
    let bodies = proxy.bodies();
    let data: std::collections::BTreeSet<&String> = bodies
        .iter()
        .filter(|b| b.starts_with("?OTR:AAMD"))
        .collect();
    assert_eq!(
        data.len(),
        1,
        "only Alice's announcement may cross before anyone types: {bodies:?}"
    );
    alice.cmd(&["send_im", ALICE, "bob@localhost", "v3-secret-a"]);
    received(&mut bob, "v3-secret-a");
    bob.cmd(&["send_im", BOB, "alice@localhost", "v3-secret-b"]);
    received(&mut alice, "v3-secret-b");
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr status"]);
    wait_line(
        &mut bob,
        BOB,
        "alice@localhost",
        "Private, but alice@localhost",
    );
    let wire = proxy.recorded();
    for modern in ["?OTR:AAMw", "?OTR:AAMx", "?OTR:AAMy", "?OTR:AAMz"] {
        assert!(!wire.contains(modern), "{modern} on the wire");
    }
    assert!(!wire.contains("v3-secret-"), "plain text on the wire");
    let lines: Vec<String> = alice
        .events
        .iter()
        .chain(&bob.events)
        .filter(|l| l.name == "write_conv")
        .map(|l| l.get("text").to_owned())
        .collect();
    assert!(
        !lines.iter().any(|t| t.contains("post-quantum")),
        "{lines:?}"
    );
}

/// A first session upgrades and each user verifies the other's key (`/otr verify yes`), which
/// pins the post-quantum identities; after `/otr end` the next `/otr start` goes directly on
/// the suite (docs/modern-suite.md §15): DIRECT_INIT, RESPONSE, CONFIRM, no query, no v3 AKE,
/// shown verified through the pin, and messages cross both ways as modern data only.
#[test]
fn pinned_plugins_start_the_next_session_directly_on_post_quantum() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let mut alice = client("alice-direct", ALICE, &server, &proxy, "alice");
    let mut bob = client("bob-direct", BOB, &server, &proxy, "bob");
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
        "Now: Private (post-quantum, not verified).",
    );
    // Each verifies the other's key by hand: the identities are pinned.
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr verify yes"]);
    wait_line(&mut alice, ALICE, "bob@localhost", "remembered as verified");
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr verify yes"]);
    wait_line(&mut bob, BOB, "alice@localhost", "remembered as verified");
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr end"]);
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr end"]);
    std::thread::sleep(Duration::from_secs(2));

    let restart_at = proxy.recorded().len();
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "Now: Private (post-quantum, verified).",
    );
    wait_line(
        &mut bob,
        BOB,
        "alice@localhost",
        "Now: Private (post-quantum, verified).",
    );
    for i in 0..5 {
        let a = format!("alice-direct-secret-{i}");
        alice.cmd(&["send_im", ALICE, "bob@localhost", &a]);
        received(&mut bob, &a);
        let b = format!("bob-direct-secret-{i}");
        bob.cmd(&["send_im", BOB, "alice@localhost", &b]);
        received(&mut alice, &b);
    }
    let wire = proxy.recorded();
    let after = &wire[restart_at..];
    assert!(after.contains("?OTR:AAM0"), "no DIRECT_INIT on the wire");
    assert!(after.contains("?OTR:AAMx"), "no RESPONSE on the wire");
    assert!(!after.contains("?OTRv"), "a v3 query was sent");
    for v3 in [
        "?OTR:AAMC",
        "?OTR:AAMK",
        "?OTR:AAMR",
        "?OTR:AAMS",
        "?OTR:AAMD",
    ] {
        assert!(!after.contains(v3), "{v3} after the direct start");
    }
    assert!(!wire.contains("direct-secret-"), "plain text on the wire");
}
