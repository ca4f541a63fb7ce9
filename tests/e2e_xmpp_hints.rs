//! XEP-0364 §4.3 over a real XMPP server: every OTR stanza our plugin sends carries the
//! carbons-private and no-copy / no-permanent-store hints; plain messages carry none. The
//! recording proxy shows what crossed.
//!
//! Run: `cargo test --test e2e_xmpp_hints` (as root inside `unshare -n`, see the Makefile).

mod support;

use std::time::{Duration, Instant};

use support::host::Host;
use support::prosody::Prosody;
use support::proxy::Proxy;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(30);
const HINTS: [&str; 3] = [
    "<private xmlns='urn:xmpp:carbons:2'/>",
    "<no-copy xmlns='urn:xmpp:hints'/>",
    "<no-permanent-store xmlns='urn:xmpp:hints'/>",
];

fn client(label: &str, jid: &str, server: &Prosody, proxy: &Proxy, user: &str) -> Host {
    let mut host = Host::start(label, &[]);
    host.load_plugin().expect("plugin loads");
    host.connect_xmpp(jid, server.password(user), proxy.port);
    host
}

/// Every `<message …>…</message>` stanza in the recording, whole.
fn message_stanzas(recorded: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = recorded;
    while let Some(start) = rest.find("<message") {
        let tail = &rest[start..];
        let Some(end) = tail.find("</message>") else {
            break;
        };
        out.push(tail[..end + "</message>".len()].to_owned());
        rest = &tail[end..];
    }
    out
}

fn body_of(stanza: &str) -> Option<&str> {
    let start = stanza.find("<body>")? + "<body>".len();
    let end = stanza[start..].find("</body>")?;
    Some(&stanza[start..start + end])
}

/// A line written into `account`'s conversation with `buddy` (any of their resources).
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

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn otr_stanzas_carry_the_hints_and_plain_ones_do_not() {
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

    // A plain message first (opportunistic: no private conversation yet).
    alice.cmd(&["send_im", ALICE, "bob@localhost", "plain-hello"]);
    bob.wait_event(
        "received_im",
        |l| l.get("text").contains("plain-hello"),
        WAIT,
    );
    // Then private: query, AKE, data both ways, the end.
    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    wait_line(
        &mut alice,
        ALICE,
        "bob@localhost",
        "Private conversation with bob@localhost started",
    );
    alice.cmd(&["send_im", ALICE, "bob@localhost", "secret-one"]);
    bob.wait_event("received_im", |l| l.get("text") == "secret-one", WAIT);
    bob.cmd(&["send_im", BOB, "alice@localhost", "secret-two"]);
    alice.wait_event("received_im", |l| l.get("text") == "secret-two", WAIT);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr end"]);
    wait_line(
        &mut bob,
        BOB,
        "alice@localhost",
        "has ended the private conversation",
    );

    wait_until("the data messages on the wire", || {
        message_stanzas(&proxy.recorded())
            .iter()
            .filter(|s| body_of(s).is_some_and(|b| b.starts_with("?OTR:AAM")))
            .count()
            >= 3
    });
    let stanzas = message_stanzas(&proxy.recorded());
    let mut otr = 0;
    let mut plain = 0;
    for s in &stanzas {
        let Some(body) = body_of(s) else { continue };
        if body.starts_with("?OTR") {
            otr += 1;
            for hint in HINTS {
                assert!(s.contains(hint), "OTR stanza without {hint}: {s}");
            }
        } else {
            plain += 1;
            for hint in HINTS {
                assert!(!s.contains(hint), "plain stanza with {hint}: {s}");
            }
        }
    }
    // Query, AKE (4), at least three data messages; the plain hello.
    assert!(otr >= 8, "only {otr} OTR stanzas seen");
    assert!(plain >= 1, "the plain message was not seen");
}
