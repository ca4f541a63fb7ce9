//! The first rule end to end (issue 10): once a conversation has been private, nothing the
//! user types leaves the machine readable — whatever happens to the buddy's client, to our
//! own connection or to the window. Real libpurple clients with our plugin, a real XMPP
//! server (prosody on 127.0.0.1) behind a recording proxy, and the real libotr 4.1.1 as the
//! other side in one test.
//!
//! In each scenario the user types three messages while the private conversation is
//! interrupted: none crosses the wire in the clear (the proxy saw every byte, both ways),
//! all three arrive decrypted at the buddy, in order, exactly once, and the user's window
//! said what was happening. A last test covers logging (issue 10, item 11): a message typed
//! before the private conversation exists is never written to the log, nor shown twice.
//!
//! Run: `cargo test --test e2e_never_silent` (as root inside `unshare -n`, see the Makefile).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::host::{flags, Host, Line, TempDir};
use support::prosody::Prosody;
use support::proxy::Proxy;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost/laptop";
/// The account name in `tests/fixtures/libotr/bob.private_key`, exactly.
const BOB_LIBOTR: &str = "bob@localhost/peer";
const WAIT: Duration = Duration::from_secs(30);
const POLICY: &str = "/plugins/core/purple-otr/policy";

// --- clients ----------------------------------------------------------------------------

/// A client with our plugin (policy set explicitly), signed on through the proxy.
fn plugin_client(host: Host, jid: &str, server: &Prosody, proxy: &Proxy, policy: &str) -> Host {
    let mut host = host;
    host.load_plugin().expect("plugin loads");
    host.cmd(&["pref_set", POLICY, "string", policy]);
    let user = jid.split('@').next().expect("user@domain");
    host.connect_xmpp(jid, server.password(user), proxy.port);
    host
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/libotr")
        .join(name)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Bob without our plugin, running libotr (the glue) on his account with the key, instance
/// tag and fingerprint files in `files` (which outlive the process).
fn libotr_client(label: &str, server: &Prosody, proxy: &Proxy, files: &Path) -> Host {
    let mut host = Host::start(label, &[]);
    host.cmd(&[
        "account_add",
        BOB_LIBOTR,
        server.password("bob"),
        "127.0.0.1",
        &proxy.port.to_string(),
    ]);
    // Manual: libotr answers a query (v2/v3 allowed) but starts nothing on its own.
    let enabled = host.cmd(&[
        "otr_enable",
        BOB_LIBOTR,
        path_str(&files.join("otr.private_key")),
        path_str(&files.join("otr.instance_tags")),
        path_str(&files.join("otr.fingerprints")),
        "manual",
    ]);
    assert_eq!(enabled.get("instag"), "5c1d3536", "{}", enabled.raw);
    host.cmd(&["account_connect", BOB_LIBOTR]);
    host.cmd(&["wait_signed_on", BOB_LIBOTR, "20000"]);
    host
}

// --- waiting ----------------------------------------------------------------------------

fn dump(host: &Host, from: usize) -> String {
    let lines: Vec<&str> = host.events[from.min(host.events.len())..]
        .iter()
        .map(|l| l.raw.as_str())
        .collect();
    format!(
        "--- events ---\n{}\n--- stderr ---\n{}",
        lines.join("\n"),
        host.stderr()
    )
}

/// An event named `name` matching `pred` that arrived after event number `mark`.
fn wait_after(host: &mut Host, mark: usize, name: &str, pred: impl Fn(&Line) -> bool) -> Line {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(l) = host.events[mark.min(host.events.len())..]
            .iter()
            .find(|l| l.name == name && pred(l))
        {
            return l.clone();
        }
        if Instant::now() > deadline {
            panic!(
                "no new `{name}` event within {WAIT:?}\n{}",
                dump(host, mark)
            );
        }
        let _ = host.try_wait_event("", |_| false, Duration::from_millis(100));
    }
}

/// A line written into `account`'s conversation with `buddy` (any resource) after `mark`.
fn line_after(host: &mut Host, mark: usize, account: &str, buddy: &str, needle: &str) -> Line {
    let (account, buddy, needle) = (account.to_owned(), buddy.to_owned(), needle.to_owned());
    wait_after(host, mark, "write_conv", move |l| {
        l.get("account") == account
            && l.get("conv").starts_with(&buddy)
            && l.get("text").contains(&needle)
    })
}

fn alice_line(alice: &mut Host, mark: usize, needle: &str) -> Line {
    line_after(alice, mark, ALICE, "bob@localhost", needle)
}

/// Lets events already on their way arrive (a little longer than a ping round trip).
fn settle(host: &mut Host, time: Duration) {
    let _ = host.try_wait_event("", |_| false, time);
    host.sync();
}

/// The `received_im` texts after `mark` that are among `texts`, in arrival order.
fn received_of(host: &Host, mark: usize, texts: &[String]) -> Vec<String> {
    host.events[mark.min(host.events.len())..]
        .iter()
        .filter(|l| l.name == "received_im" && texts.iter().any(|t| t == l.get("text")))
        .map(|l| l.get("text").to_owned())
        .collect()
}

/// All of `texts` arrive (decrypted) after `mark`, in order, each exactly once — checked
/// again after a pause, so a late duplicate is caught too.
fn assert_delivered_once_in_order(host: &mut Host, mark: usize, texts: &[String]) {
    let deadline = Instant::now() + WAIT;
    while received_of(host, mark, texts).len() < texts.len() && Instant::now() < deadline {
        let _ = host.try_wait_event("", |_| false, Duration::from_millis(100));
    }
    settle(host, Duration::from_secs(1));
    assert_eq!(
        received_of(host, mark, texts),
        texts,
        "not delivered in order exactly once\n{}",
        dump(host, mark)
    );
}

/// How many lines of `account`'s window contain `needle`.
fn lines_with(host: &mut Host, account: &str, needle: &str) -> Vec<Line> {
    host.sync();
    host.events
        .iter()
        .filter(|l| {
            l.name == "write_conv" && l.get("account") == account && l.get("text").contains(needle)
        })
        .cloned()
        .collect()
}

/// Each typed text was shown exactly once in the user's window, as their own line and
/// never for the log (it was held, not sent by libpurple's own path).
fn assert_shown_once_as_held(host: &mut Host, account: &str, texts: &[String]) {
    for t in texts {
        let shown = lines_with(host, account, t);
        assert_eq!(shown.len(), 1, "{t:?} shown {} times: {shown:?}", shown.len());
        let f = shown[0].int("flags");
        assert_ne!(f & flags::SEND, 0, "{}", shown[0].raw);
        assert_ne!(f & flags::NO_LOG, 0, "a held message is never logged: {}", shown[0].raw);
    }
}

/// No line after `mark` announces a key not seen before (a restart with the same files
/// brings the same keys).
fn assert_no_new_key(host: &mut Host, mark: usize) {
    host.sync();
    for needle in ["first time you talk privately", "key you have not seen"] {
        let seen: Vec<&str> = host.events[mark.min(host.events.len())..]
            .iter()
            .filter(|l| l.name == "write_conv" && l.get("text").contains(needle))
            .map(|l| l.raw.as_str())
            .collect();
        assert!(seen.is_empty(), "{needle:?}: {seen:?}");
    }
}

// --- the wire ---------------------------------------------------------------------------

/// None of `texts` crossed the wire in the clear (raw or XML-escaped), either way.
fn assert_never_in_clear(proxy: &Proxy, texts: &[String]) {
    let wire = proxy.recorded();
    for t in texts {
        let escaped = t
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(
            !wire.contains(t.as_str()) && !wire.contains(&escaped),
            "typed text on the wire in the clear: {t}"
        );
    }
}

/// Every message body that crossed after byte `from` is OTR data (a query, an AKE or a
/// data message), never a readable text; at least `min` of them.
fn assert_only_otr_after(proxy: &Proxy, from: usize, min: usize) -> Vec<String> {
    let wire = proxy.recorded();
    let bodies = Proxy::bodies_of(&wire[from..]);
    assert!(bodies.len() >= min, "saw {} bodies: {bodies:?}", bodies.len());
    for body in &bodies {
        assert!(body.starts_with("?OTR"), "non-OTR body: {body}");
    }
    bodies
}

fn typed(tag: &str) -> Vec<String> {
    (1..=3)
        .map(|i| format!("{tag}-secret-{i} of 3 <b>held</b> & kept"))
        .collect()
}

// --- setting up a private conversation between two plugins -----------------------------

/// Alice starts; both sides say it is private; one message each way gets through. The
/// proxy's recording length once it was private.
fn go_private(alice: &mut Host, bob: &mut Host, proxy: &Proxy, tag: &str) -> usize {
    let (ma, mb) = (alice.events.len(), bob.events.len());
    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    alice_line(alice, ma, "Private conversation with bob@localhost started");
    line_after(
        bob,
        mb,
        BOB,
        "alice@localhost",
        "Private conversation with alice@localhost started",
    );
    let private_from = proxy.recorded().len();
    let hello = format!("{tag}-hello-from-alice");
    alice.cmd(&["send_im", ALICE, "bob@localhost", &hello]);
    assert_delivered_once_in_order(bob, mb, &[hello.clone()]);
    let reply = format!("{tag}-hello-from-bob");
    bob.cmd(&["send_im", BOB, "alice@localhost", &reply]);
    assert_delivered_once_in_order(alice, ma, &[reply.clone()]);
    assert_never_in_clear(proxy, &[hello, reply]);
    private_from
}

fn both_online(server: &Prosody, proxy: &Proxy) -> (Host, Host) {
    let alice = Host::start("alice", &[]);
    let mut alice = plugin_client(alice, ALICE, server, proxy, "opportunistic");
    let bob = Host::start("bob", &[]);
    let mut bob = plugin_client(bob, BOB, server, proxy, "opportunistic");
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
    (alice, bob)
}

// --- the tests --------------------------------------------------------------------------

/// Bob's client crashes (SIGKILL, no goodbye) while private and comes back with the same
/// files; what alice typed meanwhile waits and then goes out privately, to the same key.
#[test]
fn buddy_killed_and_back_gets_what_was_typed_privately_once() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let (mut alice, mut bob) = both_online(&server, &proxy);
    let private_from = go_private(&mut alice, &mut bob, &proxy, "kill");

    let ma = alice.events.len();
    bob.kill();
    // The server notices the dropped connection and tells alice: paused, not plain.
    wait_after(&mut alice, ma, "buddy_signed_off", |l| {
        l.get("buddy").starts_with("bob@localhost")
    });
    alice_line(
        &mut alice,
        ma,
        "went offline: the private conversation is paused",
    );
    let texts = typed("kill");
    for t in &texts {
        alice.cmd(&["send_im", ALICE, "bob@localhost", t]);
    }
    alice_line(&mut alice, ma, "waiting, not sent");
    settle(&mut alice, Duration::from_millis(500));
    assert_never_in_clear(&proxy, &texts);

    // Bob's client starts again over the files it left (keys, fingerprints, instance tag).
    let bob2 = Host::start_from("bob-again", &[], &bob.user_dir());
    let mut bob2 = plugin_client(bob2, BOB, &server, &proxy, "opportunistic");
    alice_line(&mut alice, ma, "is back: starting the private conversation again");
    assert_delivered_once_in_order(&mut bob2, 0, &texts);
    alice_line(&mut alice, ma, "Your 3 waiting messages were sent privately");

    // Same keys on both sides: nobody was told about a new one.
    assert_no_new_key(&mut alice, ma);
    assert_no_new_key(&mut bob2, 0);
    assert_shown_once_as_held(&mut alice, ALICE, &texts);
    assert_never_in_clear(&proxy, &texts);
    assert_only_otr_after(&proxy, private_from, 2 + 3);
}
