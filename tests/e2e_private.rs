//! The Pidgin user's path end to end, over a real XMPP server (prosody on 127.0.0.1) with
//! our plugin on both sides (two libpurple clients, each in its own process and user dir):
//! start a private conversation, 100 messages each way, manual verification, SMP, end and
//! refresh — while a recording proxy in front of the server shows that only `?OTR` data
//! crossed once the conversation was private.
//!
//! Run: `cargo test --test e2e_private` (as root inside `unshare -n`, see the Makefile).

mod support;

use std::time::Duration;

use support::host::{flags, Host, Line};
use support::prosody::Prosody;
use support::proxy::Proxy;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(30);

fn client(label: &str, jid: &str, server: &Prosody, proxy: &Proxy, user: &str) -> Host {
    // Every debug line libpurple produces is reported, so the test can check none of them
    // leaks a secret or a private message.
    let mut host = Host::start(label, &[("PURPLE_HOST_DEBUG", "1")]);
    host.load_plugin().expect("plugin loads");
    host.cmd(&["debug_events", "on"]);
    host.connect_xmpp(jid, server.password(user), proxy.port);
    host
}

/// A line written into `account`'s conversation with `buddy` (any of their resources).
fn wait_line(host: &mut Host, account: &str, buddy: &str, needle: &str) -> Line {
    let (account, buddy, needle) = (account.to_owned(), buddy.to_owned(), needle.to_owned());
    host.wait_event(
        "write_conv",
        move |l| {
            l.get("account") == account
                && l.get("conv").starts_with(&buddy)
                && l.get("text").contains(&needle)
        },
        WAIT,
    )
}

fn lines_with(host: &mut Host, needle: &str) -> usize {
    host.sync();
    host.events
        .iter()
        .filter(|l| l.name == "write_conv" && l.get("text").contains(needle))
        .count()
}

/// Waits until more than `before` conversation lines contain `needle`; the newest one.
fn wait_new_line(host: &mut Host, needle: &str, before: usize) -> Line {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if lines_with(host, needle) > before {
            return host
                .events
                .iter()
                .rev()
                .find(|l| l.name == "write_conv" && l.get("text").contains(needle))
                .cloned()
                .expect("counted");
        }
        // Waits (at most 200 ms) for the line after the `before` already seen.
        let n = needle.to_owned();
        let seen = std::cell::Cell::new(0);
        let _ = host.try_wait_event(
            "write_conv",
            move |l| {
                let hit = l.get("text").contains(&n);
                seen.set(seen.get() + usize::from(hit));
                hit && seen.get() > before
            },
            Duration::from_millis(200),
        );
    }
    panic!("no new line with {needle:?}");
}

fn received(host: &mut Host, text: &str) -> Line {
    let text = text.to_owned();
    host.wait_event("received_im", move |l| l.get("text") == text, WAIT)
}

/// Answers the next `fields` request with the given field values, pressing OK.
fn answer_dialog(host: &mut Host, title_has: &str, values: &[(&str, &str)]) -> Line {
    let t = title_has.to_owned();
    let request = host.wait_event(
        "request",
        move |l| {
            l.get("kind") == "fields"
                && (l.get("title").contains(&t) || l.get("primary").contains(&t))
        },
        WAIT,
    );
    let id = request.get("id").to_owned();
    for (field, value) in values {
        host.cmd(&["request_field", &id, field, value]);
    }
    host.cmd(&["request_answer", &id, "0"]);
    request
}

fn fingerprints_file(host: &Host) -> String {
    std::fs::read_to_string(host.user_dir().join("otr.fingerprints")).unwrap_or_default()
}

#[test]
fn private_conversation_between_two_plugins() {
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

    // Start. Neither has a key yet: each makes one in the background when first needed.
    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "Creating your private key",
    );
    let started = wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "Private conversation with bob@localhost started",
    );
    assert!(
        started.get("text").contains("not verified yet"),
        "{}",
        started.raw
    );
    assert_ne!(started.int("flags") & flags::SYSTEM, 0);
    wait_line(
        &mut bob,
        BOB,
        "alice@localhost",
        "Private conversation with alice@localhost started",
    );
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "first time you talk privately with bob@localhost",
    );
    let private_from = proxy.recorded().len();

    // 100 messages each way, alternating; every one arrives intact and decrypted.
    for i in 0..100 {
        let a = format!("alice-secret-{i} <b>bold</b> & more");
        alice.cmd(&["send_im", ALICE, "bob@localhost", &a]);
        // The markup the sender's client produced arrives as it was encrypted.
        received(&mut bob, &a);
        let b = format!("bob-secret-{i}");
        bob.cmd(&["send_im", BOB, "alice@localhost", &b]);
        received(&mut alice, &b);
    }

    // Manual verification: the dialog shows both fingerprints; nothing changes until Save.
    alice.cmd(&[
        "conv_menu_invoke",
        ALICE,
        "bob@localhost",
        "Verify fingerprint",
    ]);
    let dialog = answer_dialog(&mut alice, "Verify", &[("verdict", "1")]);
    assert!(
        dialog.all("field").contains(&"verdict".to_string()),
        "{}",
        dialog.raw
    );
    wait_line(&mut alice, ALICE, "bob@localhost", "as verified");
    assert!(
        fingerprints_file(&alice).contains("\tverified\n"),
        "{}",
        fingerprints_file(&alice)
    );
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr status"]);
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "bob@localhost's identity is verified.",
    );

    // SMP with a question, started by bob, answered by alice.
    bob.cmd(&[
        "conv_menu_invoke",
        BOB,
        "alice@localhost",
        "Authenticate buddy",
    ]);
    answer_dialog(
        &mut bob,
        "Authenticate",
        &[
            ("method", "0"),
            ("question", "Where did we meet?"),
            ("secret", "the zoo"),
        ],
    );
    let asked = answer_dialog(&mut alice, "Where did we meet", &[("secret", "the zoo")]);
    assert!(
        asked.raw.contains("Where%20did%20we%20meet"),
        "{}",
        asked.raw
    );
    wait_line(
        &mut bob,
        BOB,
        "alice@localhost",
        "answered your question correctly",
    );
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "has verified your identity",
    );
    assert!(
        fingerprints_file(&bob).contains("\tsmp\n"),
        "{}",
        fingerprints_file(&bob)
    );

    // End: bob learns it; what he types is not sent and comes back to him.
    alice.cmd(&[
        "conv_menu_invoke",
        ALICE,
        "bob@localhost",
        "End private conversation",
    ]);
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "You ended the private conversation",
    );
    wait_line(
        &mut bob,
        BOB,
        "alice@localhost",
        "has ended the private conversation",
    );
    bob.cmd(&["send_im", BOB, "alice@localhost", "bob-secret-after-end"]);
    wait_line(&mut bob, BOB, "alice@localhost", "Not sent");

    // Refresh: bob ends too and starts again; private once more, still the same keys.
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr end"]);
    let before = lines_with(
        &mut bob,
        "Private conversation with alice@localhost started",
    );
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr start"]);
    // Typed at once, before the new exchange even began: it waits; it is not sent plainly.
    bob.cmd(&["send_im", BOB, "alice@localhost", "bob-secret-refreshed"]);
    let again = wait_new_line(
        &mut bob,
        "Private conversation with alice@localhost started",
        before,
    );
    // Bob verified alice by SMP earlier, and the key did not change.
    assert!(
        again.get("text").contains("identity is verified"),
        "{}",
        again.raw
    );
    received(&mut alice, "bob-secret-refreshed");

    // Known keys: listed, not forgettable while in use, forgotten after the end.
    let bob_fp = fingerprints_file(&alice)
        .split('\t')
        .nth(3)
        .expect("bob's fingerprint")
        .to_string();
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr fingerprints"]);
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "Known keys of bob@localhost",
    );
    alice.cmd(&[
        "conv_cmd",
        ALICE,
        "bob@localhost",
        &format!("/otr forget {bob_fp}"),
    ]);
    wait_line(&mut alice, ALICE, "bob@localhost", "That key is in use");
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr end"]);
    alice.cmd(&[
        "conv_cmd",
        ALICE,
        "bob@localhost",
        &format!("/otr forget {bob_fp}"),
    ]);
    wait_line(&mut alice, ALICE, "bob@localhost", "Forgot bob@localhost");
    assert!(
        !fingerprints_file(&alice).contains(&bob_fp),
        "{}",
        fingerprints_file(&alice)
    );

    // What the server saw: no message the test typed, ever; once private, only OTR data.
    let wire = proxy.recorded();
    for i in 0..100 {
        assert!(
            !wire.contains(&format!("alice-secret-{i} ")),
            "plaintext on the wire"
        );
        assert!(
            !wire.contains(&format!("bob-secret-{i}<")),
            "plaintext on the wire"
        );
    }
    assert!(!wire.contains("bob-secret-after-end") && !wire.contains("bob-secret-refreshed"));
    assert!(!wire.contains("the zoo") && !wire.contains("Where did we meet"));
    let after = &wire[private_from..];
    let bodies: Vec<String> = Proxy::bodies_of(after);
    assert!(bodies.len() >= 200, "saw {} bodies", bodies.len());
    for body in &bodies {
        assert!(
            body.starts_with("?OTR"),
            "non-OTR body while private: {body}"
        );
    }

    // Nothing private reached the debug log: no message text, no SMP answer, no private key.
    alice.sync();
    bob.sync();
    for (who, host) in [("alice", &alice), ("bob", &bob)] {
        let key_file =
            std::fs::read_to_string(host.user_dir().join("otr.private_key")).expect("key written");
        let x = private_x(&key_file);
        assert!(x.len() >= 30, "{who}: x not found in the key file");
        let debug: Vec<&Line> = host.events.iter().filter(|l| l.name == "debug").collect();
        assert!(debug.len() > 100, "{who}: debug events were on");
        for l in debug {
            let t = l.get("text");
            assert!(
                !t.contains("-secret-"),
                "{who}: message text in the debug log: {t}"
            );
            assert!(
                !t.contains("the zoo"),
                "{who}: SMP secret in the debug log: {t}"
            );
            assert!(
                !t.to_uppercase().contains(&x),
                "{who}: private key in the debug log"
            );
        }
    }
}

/// The private exponent `x` of the (one) key in an otr.private_key file, upper-case hex.
fn private_x(key_file: &str) -> String {
    let start = key_file
        .find("(x #")
        .map(|i| i + 4)
        .unwrap_or(key_file.len());
    let rest = &key_file[start..];
    rest.split('#')
        .next()
        .unwrap_or("")
        .trim_start_matches("00")
        .to_uppercase()
}
