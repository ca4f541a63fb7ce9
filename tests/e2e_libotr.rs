//! Our plugin against the real libotr 4.1.1, over a real XMPP server (prosody on 127.0.0.1)
//! through a recording proxy. Alice is a libpurple client with our plugin; bob is a
//! libpurple client without it, running libotr the way pidgin-otr does (the glue in
//! `tests/host/libotr_glue.c`) with the key libotr made for `bob@localhost/peer`
//! (`tests/fixtures/libotr/`).
//!
//! Covered: we start, libotr starts, 20+ messages each way, fingerprints on both sides,
//! SMP both ways (question, shared secret, a wrong secret), libotr ends, we end, the
//! opportunistic start by whitespace tag — and on the wire, nothing typed after the
//! conversation went private, only `?OTR` bodies.
//!
//! Run: `cargo test --test e2e_libotr` (as root inside `unshare -n`, see the Makefile).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::host::{flags, Host, Line, TempDir};
use support::prosody::Prosody;
use support::proxy::Proxy;

const ALICE: &str = "alice@localhost/home";
/// The account name in `tests/fixtures/libotr/bob.private_key`, exactly.
const BOB: &str = "bob@localhost/peer";
const WAIT: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/libotr")
        .join(name)
}

/// Bob's libotr fingerprint as libotr reported it when the fixture was made.
fn bob_fixture_fingerprint() -> String {
    let text = fs::read_to_string(fixture("fingerprints.txt")).expect("fingerprints.txt");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f.len() == 4 && f[0] == "bob.private_key" && f[1] == BOB)
        .map(|f| f[3].to_owned())
        .expect("bob's line in fingerprints.txt")
}

/// The 40-hex-digit fingerprint following `marker` in a line of text.
fn fingerprint_after(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {text}"));
    let hex: String = text[at + marker.len()..]
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(40)
        .collect();
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{text}");
    hex.to_ascii_lowercase()
}

fn alice_client(server: &Prosody, proxy: &Proxy) -> Host {
    let mut host = Host::start("alice", &[]);
    host.load_plugin().expect("plugin loads");
    host.connect_xmpp(ALICE, server.password("alice"), proxy.port);
    host
}

/// Bob: no plugin, libotr on his account with copies of the fixture files (libotr may
/// write them). Returns the host and the dir holding his files.
fn libotr_client(server: &Prosody, proxy: &Proxy, policy: &str) -> (Host, TempDir) {
    let files = TempDir::new("libotr-bob");
    let key = files.path().join("otr.private_key");
    let instags = files.path().join("otr.instance_tags");
    let fps = files.path().join("otr.fingerprints");
    fs::copy(fixture("bob.private_key"), &key).expect("copy key");
    fs::copy(fixture("bob.instance_tags"), &instags).expect("copy instance tags");
    let mut host = Host::start("bob-libotr", &[]);
    host.cmd(&[
        "account_add",
        BOB,
        server.password("bob"),
        "127.0.0.1",
        &proxy.port.to_string(),
    ]);
    let enabled = host.cmd(&[
        "otr_enable",
        BOB,
        path_str(&key),
        path_str(&instags),
        path_str(&fps),
        policy,
    ]);
    assert_eq!(
        enabled.get("fp"),
        bob_fixture_fingerprint(),
        "{}",
        enabled.raw
    );
    assert_eq!(enabled.get("instag"), "5c1d3536", "{}", enabled.raw);
    host.cmd(&["account_connect", BOB]);
    host.cmd(&["wait_signed_on", BOB, "20000"]);
    (host, files)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

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

/// Waits for an event named `name` matching `pred` that arrived after event number `mark`.
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

/// A libotr event of `kind` (and matching `pred`) after `mark`.
fn wait_otr(host: &mut Host, mark: usize, kind: &str, pred: impl Fn(&Line) -> bool) -> Line {
    let kind = kind.to_owned();
    wait_after(host, mark, "otr", move |l| l.get("kind") == kind && pred(l))
}

/// A line written into alice's conversation with bob (any resource) after `mark`.
fn alice_line(alice: &mut Host, mark: usize, needle: &str) -> Line {
    let needle = needle.to_owned();
    wait_after(alice, mark, "write_conv", move |l| {
        l.get("account") == ALICE
            && l.get("conv").starts_with("bob@localhost")
            && l.get("text").contains(&needle)
    })
}

fn received(host: &mut Host, mark: usize, text: &str) -> Line {
    let text = text.to_owned();
    wait_after(host, mark, "received_im", move |l| l.get("text") == text)
}

/// Answers the next `fields` request after `mark` whose title or primary text has
/// `needle`, filling in `values` and pressing OK.
fn answer_dialog(host: &mut Host, mark: usize, needle: &str, values: &[(&str, &str)]) -> Line {
    let n = needle.to_owned();
    let request = wait_after(host, mark, "request", move |l| {
        l.get("kind") == "fields" && (l.get("title").contains(&n) || l.get("primary").contains(&n))
    });
    let id = request.get("id").to_owned();
    for (field, value) in values {
        host.cmd(&["request_field", &id, field, value]);
    }
    host.cmd(&["request_answer", &id, "0"]);
    request
}

fn bob_status(bob: &mut Host) -> Line {
    bob.cmd(&["otr_status", BOB, "alice@localhost"])
}

fn alice_fingerprints(alice: &Host) -> String {
    fs::read_to_string(alice.user_dir().join("otr.fingerprints")).unwrap_or_default()
}

/// Alternating messages both ways; each arrives intact (and decrypted) on the other side.
fn exchange(alice: &mut Host, bob: &mut Host, tag: &str, count: usize, typed: &mut Vec<String>) {
    for i in 0..count {
        let a = format!("alice-secret-{tag}-{i} <b>bold</b> & more");
        let (ma, mb) = (alice.events.len(), bob.events.len());
        alice.cmd(&["send_im", ALICE, "bob@localhost", &a]);
        let got = received(bob, mb, &a);
        assert_eq!(got.get("sender"), "alice@localhost/home", "{}", got.raw);
        let b = format!("bob-secret-{tag}-{i} <i>x</i>");
        bob.cmd(&["send_im", BOB, "alice@localhost", &b]);
        received(alice, ma, &b);
        typed.push(format!("alice-secret-{tag}-{i} "));
        typed.push(format!("bob-secret-{tag}-{i} "));
    }
}

/// The wire after `private_from`: none of `typed` anywhere, every body an OTR message.
fn assert_wire(proxy: &Proxy, private_from: usize, typed: &[String], min_bodies: usize) {
    let wire = proxy.recorded();
    for t in typed {
        assert!(!wire.contains(t.as_str()), "typed text on the wire: {t}");
        let escaped = t.replace('&', "&amp;").replace('<', "&lt;");
        assert!(!wire.contains(&escaped), "typed text on the wire: {t}");
    }
    let bodies = Proxy::bodies_of(&wire[private_from..]);
    assert!(bodies.len() >= min_bodies, "saw {} bodies", bodies.len());
    for body in &bodies {
        assert!(
            body.starts_with("?OTR"),
            "non-OTR body while private: {body}"
        );
    }
}

#[test]
fn our_plugin_and_libotr_over_xmpp() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let mut alice = alice_client(&server, &proxy);
    // Manual: bob's libotr answers queries but starts nothing on its own.
    let (mut bob, _bob_files) = libotr_client(&server, &proxy, "manual");
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
    let bob_fp = bob_fixture_fingerprint();
    let mut typed: Vec<String> = Vec::new();

    // (a) We start. Alice has no key yet: the plugin makes one first.
    let (ma, mb) = (alice.events.len(), bob.events.len());
    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    let key_ready = alice_line(&mut alice, ma, "Your private key for");
    let alice_fp = fingerprint_after(key_ready.get("text"), "Its fingerprint is");
    let started = alice_line(
        &mut alice,
        ma,
        "Private conversation with bob@localhost started",
    );
    assert_ne!(started.int("flags") & flags::SYSTEM, 0, "{}", started.raw);
    assert!(
        started.get("text").contains("not verified yet"),
        "{}",
        started.raw
    );
    let secure = wait_otr(&mut bob, mb, "gone_secure", |l| {
        l.get("who") == "alice@localhost"
    });
    assert_ne!(
        secure.get("their"),
        "00000000",
        "v3: a real instance: {}",
        secure.raw
    );
    let private_from = proxy.recorded().len();
    // Each side has the other's real key.
    let first = alice_line(
        &mut alice,
        ma,
        "first time you talk privately with bob@localhost",
    );
    assert_eq!(
        fingerprint_after(first.get("text"), "Their key's fingerprint is"),
        bob_fp,
        "{}",
        first.raw
    );
    let new_fp = wait_otr(&mut bob, mb, "new_fingerprint", |_| true);
    assert_eq!(new_fp.get("fp"), alice_fp, "{}", new_fp.raw);
    let status = bob_status(&mut bob);
    assert_eq!(status.get("msgstate"), "encrypted", "{}", status.raw);
    assert_eq!(status.get("version"), "3", "{}", status.raw);
    assert_eq!(status.get("fp"), alice_fp, "{}", status.raw);

    exchange(&mut alice, &mut bob, "a", 25, &mut typed);

    // pidgin-otr's file format, with the key libotr made for bob.
    let fps = alice_fingerprints(&alice);
    let want = format!("bob@localhost\t{ALICE}\tprpl-jabber\t{bob_fp}");
    assert!(fps.lines().any(|l| l.starts_with(&want)), "{fps}");
    // …and libotr wrote alice's key into bob's file.
    let bob_fps =
        fs::read_to_string(_bob_files.path().join("otr.fingerprints")).unwrap_or_default();
    assert!(
        bob_fps.contains(&format!("alice@localhost\t{BOB}\tprpl-jabber\t{alice_fp}")),
        "{bob_fps}"
    );

    // We end: libotr learns it (disconnect TLV) and stays out of plaintext.
    let (ma, mb) = (alice.events.len(), bob.events.len());
    alice.cmd(&[
        "conv_menu_invoke",
        ALICE,
        "bob@localhost",
        "End private conversation",
    ]);
    alice_line(&mut alice, ma, "You ended the private conversation");
    wait_otr(&mut bob, mb, "finished", |l| {
        l.get("who") == "alice@localhost"
    });
    let status = bob_status(&mut bob);
    assert_eq!(status.get("msgstate"), "finished", "{}", status.raw);
    // libotr refuses to send in FINISHED (nothing leaves; CONNECTION_ENDED).
    bob.cmd(&[
        "send_im",
        BOB,
        "alice@localhost",
        "bob-secret-while-finished",
    ]);
    wait_otr(&mut bob, mb, "msg", |l| {
        l.get("event") == "connection_ended"
    });
    typed.push("bob-secret-while-finished".into());
    let ended = bob.cmd(&["otr_end", BOB, "alice@localhost"]);
    assert_eq!(ended.get("msgstate"), "plaintext", "{}", ended.raw);

    // (b) libotr starts (its query); private again with the same keys.
    let (ma, mb) = (alice.events.len(), bob.events.len());
    bob.cmd(&["otr_start", BOB, "alice@localhost"]);
    alice_line(
        &mut alice,
        ma,
        "Private conversation with bob@localhost started",
    );
    wait_otr(&mut bob, mb, "gone_secure", |l| {
        l.get("who") == "alice@localhost"
    });
    assert!(
        !bob.events[mb..]
            .iter()
            .any(|l| l.name == "otr" && l.get("kind") == "new_fingerprint"),
        "same key, no new fingerprint\n{}",
        dump(&bob, mb)
    );
    exchange(&mut alice, &mut bob, "b", 5, &mut typed);

    // (c) SMP, alice asks a question; libotr answers it.
    let (ma, mb) = (alice.events.len(), bob.events.len());
    alice.cmd(&[
        "conv_menu_invoke",
        ALICE,
        "bob@localhost",
        "Authenticate buddy",
    ]);
    answer_dialog(
        &mut alice,
        ma,
        "Authenticate buddy",
        &[
            ("method", "0"),
            ("question", "Where did we meet?"),
            ("secret", "the zoo"),
        ],
    );
    let ask = wait_otr(&mut bob, mb, "smp", |l| l.get("event") == "ask_for_answer");
    assert_eq!(ask.get("question"), "Where did we meet?", "{}", ask.raw);
    bob.cmd(&["otr_smp_respond", BOB, "alice@localhost", "the zoo"]);
    wait_otr(&mut bob, mb, "smp", |l| l.get("event") == "success");
    alice_line(&mut alice, ma, "answered your question correctly");
    let fps = alice_fingerprints(&alice);
    assert!(fps.contains(&format!("{bob_fp}\tsmp\n")), "{fps}");
    // libotr's answerer to a question sets no trust of its own (message.c).
    let status = bob_status(&mut bob);
    assert_eq!(status.get("trust"), "", "{}", status.raw);

    // libotr asks with a shared secret; alice answers through the dialog.
    let (ma, mb) = (alice.events.len(), bob.events.len());
    bob.cmd(&["otr_smp_start", BOB, "alice@localhost", "-", "blue-42"]);
    answer_dialog(&mut alice, ma, "wants to check", &[("secret", "blue-42")]);
    let ok = wait_otr(&mut bob, mb, "smp", |l| l.get("event") == "success");
    assert_eq!(ok.get("trust"), "smp", "{}", ok.raw);
    alice_line(
        &mut alice,
        ma,
        "you and bob@localhost share the same secret",
    );
    assert_eq!(bob_status(&mut bob).get("trust"), "smp");

    // A wrong secret fails on both sides.
    let (ma, mb) = (alice.events.len(), bob.events.len());
    bob.cmd(&["otr_smp_start", BOB, "alice@localhost", "-", "green-7"]);
    answer_dialog(&mut alice, ma, "wants to check", &[("secret", "green-8")]);
    wait_otr(&mut bob, mb, "smp", |l| l.get("event") == "failure");
    alice_line(&mut alice, ma, "failed:</b> the answers did not match");
    assert_eq!(
        bob_status(&mut bob).get("trust"),
        "",
        "failure clears trust"
    );
    typed.extend(
        [
            "Where did we meet",
            "the zoo",
            "blue-42",
            "green-7",
            "green-8",
        ]
        .map(String::from),
    );

    // (d) libotr ends: alice is told, and what she types next is not sent.
    let (ma, mb) = (alice.events.len(), bob.events.len());
    let ended = bob.cmd(&["otr_end", BOB, "alice@localhost"]);
    assert_eq!(ended.get("msgstate"), "plaintext", "{}", ended.raw);
    alice_line(&mut alice, ma, "has ended the private conversation");
    alice.cmd(&["send_im", ALICE, "bob@localhost", "alice-secret-after-end"]);
    alice_line(&mut alice, ma, "Not sent");
    typed.push("alice-secret-after-end".into());
    // Alice ends too: both plain, and bob never got her refused message.
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr end"]);
    bob.sync();
    assert_eq!(bob_status(&mut bob).get("msgstate"), "plaintext");
    assert!(
        !bob.events[mb..].iter().any(|l| l.name == "received_im"),
        "{}",
        dump(&bob, mb)
    );

    // (f) The server never saw what was typed once private; only ?OTR bodies.
    assert_wire(&proxy, private_from, &typed, 2 * 30);
}

#[test]
fn libotr_answers_our_whitespace_tag() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let mut alice = alice_client(&server, &proxy);
    let (mut bob, _bob_files) = libotr_client(&server, &proxy, "opportunistic");
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

    // (e) Alice (default policy: opportunistic) just says hello; the tag rides along, libotr
    // strips it, shows the text and starts the AKE.
    let (ma, mb) = (alice.events.len(), bob.events.len());
    alice.cmd(&["send_im", ALICE, "bob@localhost", "hello-in-the-clear"]);
    let got = received(&mut bob, mb, "hello-in-the-clear");
    assert_eq!(
        got.get("text"),
        "hello-in-the-clear",
        "tag stripped: {}",
        got.raw
    );
    let hello = Proxy::bodies_of(&proxy.recorded())
        .into_iter()
        .find(|b| b.starts_with("hello-in-the-clear"))
        .expect("the plain hello crossed the wire");
    let base_tag = " \t  \t\t\t\t \t \t \t  ";
    assert!(hello.contains(base_tag), "no whitespace tag: {hello:?}");
    alice_line(
        &mut alice,
        ma,
        "Private conversation with bob@localhost started",
    );
    let secure = wait_otr(&mut bob, mb, "gone_secure", |l| {
        l.get("who") == "alice@localhost"
    });
    assert_ne!(secure.get("their"), "00000000", "{}", secure.raw);
    let private_from = proxy.recorded().len();
    assert_eq!(bob_status(&mut bob).get("msgstate"), "encrypted");

    let mut typed = Vec::new();
    exchange(&mut alice, &mut bob, "e", 20, &mut typed);
    assert_wire(&proxy, private_from, &typed, 40);
}
