//! The first rule end to end (issue 10): once a conversation has been private, nothing the
//! user types leaves the machine readable — whatever happens to the buddy's client, to our
//! own connection or to the window. Real libpurple clients with our plugin, a real XMPP
//! server (prosody on 127.0.0.1) behind a recording proxy, and the real libotr 4.1.1 as the
//! other side in one test.
//!
//! In each scenario the user types three messages while the private conversation is
//! interrupted: none crosses the wire in the clear (the proxy saw every byte, both ways;
//! checked right after typing, so code that leaks fails there), all three arrive decrypted
//! at the buddy, in order, exactly once, and the user's window said what was happening.
//! Scenarios: the buddy's client killed (SIGKILL) and back with its files — against our
//! plugin and against libotr; our own connection cut by the proxy and restored; the window
//! closed and reopened while private (no new key exchange); messages waiting while the
//! window is closed; the manual policy (waits for the user's /otr start); the buddy back
//! with another key (nothing sent until the user accepts it). A last test covers logging
//! (issue 10, item 11): a message typed before the private conversation exists is never
//! written to the log, nor shown twice.
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
        assert_eq!(
            shown.len(),
            1,
            "{t:?} shown {} times: {shown:?}",
            shown.len()
        );
        let f = shown[0].int("flags");
        assert_ne!(f & flags::SEND, 0, "{}", shown[0].raw);
        assert_ne!(
            f & flags::NO_LOG,
            0,
            "a held message is never logged: {}",
            shown[0].raw
        );
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

/// None of `texts` crossed the wire in the clear, either way: neither as typed nor
/// XML-escaped, nor the part before any markup (XMPP's plain `<body>` drops the markup).
fn assert_never_in_clear(proxy: &Proxy, texts: &[String]) {
    let wire = proxy.recorded();
    for t in texts {
        let escaped = t
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let before_markup = t.split('<').next().unwrap_or(t);
        for form in [t.as_str(), &escaped, before_markup] {
            assert!(
                !wire.contains(form),
                "typed text on the wire in the clear: {form:?}"
            );
        }
    }
}

/// Every message body that crossed after byte `from` is OTR data (a query, an AKE or a
/// data message), never a readable text; at least `min` of them.
fn assert_only_otr_after(proxy: &Proxy, from: usize, min: usize) -> Vec<String> {
    let wire = proxy.recorded();
    let bodies = Proxy::bodies_of(&wire[from..]);
    assert!(
        bodies.len() >= min,
        "saw {} bodies: {bodies:?}",
        bodies.len()
    );
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
    assert_delivered_once_in_order(bob, mb, std::slice::from_ref(&hello));
    let reply = format!("{tag}-hello-from-bob");
    bob.cmd(&["send_im", BOB, "alice@localhost", &reply]);
    assert_delivered_once_in_order(alice, ma, std::slice::from_ref(&reply));
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
    let texts = typed("kill");
    for t in &texts {
        alice.cmd(&["send_im", ALICE, "bob@localhost", t]);
    }
    settle(&mut alice, Duration::from_millis(500));
    assert_never_in_clear(&proxy, &texts);
    alice_line(
        &mut alice,
        ma,
        "went offline: the private conversation is paused",
    );
    alice_line(&mut alice, ma, "waiting, not sent");

    // Bob's client starts again over the files it left (keys, fingerprints, instance tag).
    let bob2 = Host::start_from("bob-again", &[], &bob.user_dir());
    let mut bob2 = plugin_client(bob2, BOB, &server, &proxy, "opportunistic");
    alice_line(
        &mut alice,
        ma,
        "is back: starting the private conversation again",
    );
    assert_delivered_once_in_order(&mut bob2, 0, &texts);
    alice_line(
        &mut alice,
        ma,
        "Your 3 waiting messages were sent privately",
    );

    // Same keys on both sides: nobody was told about a new one.
    assert_no_new_key(&mut alice, ma);
    assert_no_new_key(&mut bob2, 0);
    assert_shown_once_as_held(&mut alice, ALICE, &texts);
    assert_never_in_clear(&proxy, &texts);
    assert_only_otr_after(&proxy, private_from, 2 + 3);
}

/// Our own connection is cut (the network goes away) while private, and comes back; what
/// alice types before the private conversation is back waits and then goes out privately.
#[test]
fn our_connection_cut_and_restored_keeps_it_private() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let (mut alice, mut bob) = both_online(&server, &proxy);
    let private_from = go_private(&mut alice, &mut bob, &proxy, "cut");

    let (ma, mb) = (alice.events.len(), bob.events.len());
    // Alice's connection is the one on which the server bound her full JID.
    assert_eq!(
        proxy.cut_where(&format!("<jid>{ALICE}</jid>")),
        1,
        "alice's connection"
    );
    wait_after(&mut alice, ma, "signed_off", |l| l.get("account") == ALICE);
    // Bob's side hears that alice left.
    wait_after(&mut bob, mb, "buddy_signed_off", |l| {
        l.get("buddy").starts_with("alice@localhost")
    });

    // Back online (what Pidgin's reconnect does); she types at once, before it is private
    // again (libpurple lets nobody type into an offline account).
    alice.cmd(&["account_connect", ALICE]);
    alice.cmd(&["wait_signed_on", ALICE, "20000"]);
    let texts = typed("cut");
    for t in &texts {
        alice.cmd(&["send_im", ALICE, "bob@localhost", t]);
    }
    settle(&mut alice, Duration::from_millis(500));
    assert_never_in_clear(&proxy, &texts);
    // Both windows said the conversation was paused, not over.
    alice_line(
        &mut alice,
        ma,
        "You went offline: the private conversation with bob@localhost is paused",
    );
    line_after(
        &mut bob,
        mb,
        BOB,
        "alice@localhost",
        "went offline: the private conversation is paused",
    );
    alice_line(&mut alice, ma, "waiting, not sent");
    assert_delivered_once_in_order(&mut bob, mb, &texts);
    alice_line(
        &mut alice,
        ma,
        "Private conversation with bob@localhost started",
    );
    assert_no_new_key(&mut alice, ma);
    assert_no_new_key(&mut bob, mb);
    assert_shown_once_as_held(&mut alice, ALICE, &texts);
    assert_never_in_clear(&proxy, &texts);
    assert_only_otr_after(&proxy, private_from, 2 + 3);

    // And it goes on privately afterwards.
    let more = vec!["cut-after-secret <i>on</i>".to_string()];
    let mb = bob.events.len();
    alice.cmd(&["send_im", ALICE, "bob@localhost", &more[0]]);
    assert_delivered_once_in_order(&mut bob, mb, &more);
    assert_never_in_clear(&proxy, &more);
}

/// The window is closed while private and opened again (by the buddy's next message, and
/// by the user): the private conversation survives it, no new key exchange happens, the new
/// window tells the state, and what is typed there goes out encrypted.
#[test]
fn closing_the_window_keeps_the_private_conversation() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let (mut alice, mut bob) = both_online(&server, &proxy);
    go_private(&mut alice, &mut bob, &proxy, "window");
    let (ma, mb) = (alice.events.len(), bob.events.len());
    let wire_mark = proxy.recorded().len();

    alice.cmd(&["conv_close", ALICE, "bob@localhost"]);
    // (libpurple has already freed the name when it tells the UI.)
    wait_after(&mut alice, ma, "conv_destroyed", |l| {
        l.get("account") == ALICE
    });
    // Bob writes: libpurple opens a new window for it, decrypted.
    let from_bob = vec!["window-secret-from-bob".to_string()];
    bob.cmd(&["send_im", BOB, "alice@localhost", &from_bob[0]]);
    assert_delivered_once_in_order(&mut alice, ma, &from_bob);
    wait_after(&mut alice, ma, "conv_created", |l| {
        l.get("conv").starts_with("bob@localhost")
    });

    // Closed again, opened by alice this time: the window tells the state.
    let ma2 = alice.events.len();
    alice.cmd(&["conv_close", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr status"]);
    alice_line(&mut alice, ma2, "bob@localhost's identity is not verified.");
    let menu = alice.cmd(&["conv_menu", ALICE, "bob@localhost"]);
    assert!(
        menu.all("item")
            .iter()
            .any(|i| i == "Refresh private conversation"),
        "{}",
        menu.raw
    );
    let texts = typed("window");
    for t in &texts {
        alice.cmd(&["send_im", ALICE, "bob@localhost", t]);
    }
    assert_delivered_once_in_order(&mut bob, mb, &texts);
    assert_never_in_clear(&proxy, &texts);
    assert_never_in_clear(&proxy, &from_bob);

    // No new key exchange: only data messages crossed, and nobody said "started" again.
    let bodies = assert_only_otr_after(&proxy, wire_mark, 1 + 3);
    for body in &bodies {
        // Protocol version 3, data: OTR v3's (type 0x03, base64 "AAMD") or, once two
        // purple-otr clients upgraded, the modern suite's (type 0x33, "AAMz").
        assert!(
            body.starts_with("?OTR:AAMD") || body.starts_with("?OTR:AAMz"),
            "not a data message: {body}"
        );
    }
    for (host, mark) in [(&mut alice, ma), (&mut bob, mb)] {
        host.sync();
        let again: Vec<&str> = host.events[mark..]
            .iter()
            .filter(|l| {
                l.name == "write_conv"
                    && (l.get("text").contains("Private conversation with")
                        || l.get("text").contains("waiting, not sent"))
            })
            .map(|l| l.raw.as_str())
            .collect();
        assert!(again.is_empty(), "{again:?}");
    }
    // What alice typed in the new window went out through libpurple, shown once.
    for t in &texts {
        let shown = lines_with(&mut alice, ALICE, t);
        assert_eq!(shown.len(), 1, "{shown:?}");
    }
}

/// Against the real libotr: bob's libotr client is killed while private and comes back
/// with the same files; alice's three messages typed meanwhile reach it privately, once.
#[test]
fn libotr_buddy_killed_and_back_gets_what_was_typed_privately_once() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let files = TempDir::new("libotr-bob");
    fs::copy(
        fixture("bob.private_key"),
        files.path().join("otr.private_key"),
    )
    .expect("copy key");
    fs::copy(
        fixture("bob.instance_tags"),
        files.path().join("otr.instance_tags"),
    )
    .expect("copy instance tags");
    let alice = Host::start("alice", &[]);
    let mut alice = plugin_client(alice, ALICE, &server, &proxy, "opportunistic");
    let mut bob = libotr_client("bob-libotr", &server, &proxy, files.path());
    alice.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("bob@localhost"),
        WAIT,
    );

    let (ma, mb) = (alice.events.len(), bob.events.len());
    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    alice_line(
        &mut alice,
        ma,
        "Private conversation with bob@localhost started",
    );
    wait_after(&mut bob, mb, "otr", |l| {
        l.get("kind") == "gone_secure" && l.get("who") == "alice@localhost"
    });
    let private_from = proxy.recorded().len();
    let hello = vec!["libotr-hello-from-alice".to_string()];
    alice.cmd(&["send_im", ALICE, "bob@localhost", &hello[0]]);
    assert_delivered_once_in_order(&mut bob, mb, &hello);

    let ma = alice.events.len();
    bob.kill();
    wait_after(&mut alice, ma, "buddy_signed_off", |l| {
        l.get("buddy").starts_with("bob@localhost")
    });
    let texts = typed("libotr");
    for t in &texts {
        alice.cmd(&["send_im", ALICE, "bob@localhost", t]);
    }
    settle(&mut alice, Duration::from_millis(500));
    assert_never_in_clear(&proxy, &texts);
    alice_line(
        &mut alice,
        ma,
        "went offline: the private conversation is paused",
    );
    alice_line(&mut alice, ma, "waiting, not sent");

    // libotr starts again from the same files.
    let mut bob2 = libotr_client("bob-libotr-again", &server, &proxy, files.path());
    alice_line(
        &mut alice,
        ma,
        "is back: starting the private conversation again",
    );
    wait_after(&mut bob2, 0, "otr", |l| {
        l.get("kind") == "gone_secure" && l.get("who") == "alice@localhost"
    });
    assert_delivered_once_in_order(&mut bob2, 0, &texts);
    alice_line(
        &mut alice,
        ma,
        "Your 3 waiting messages were sent privately",
    );
    assert_no_new_key(&mut alice, ma);
    assert_shown_once_as_held(&mut alice, ALICE, &texts);
    let status = bob2.cmd(&["otr_status", BOB_LIBOTR, "alice@localhost"]);
    assert_eq!(status.get("msgstate"), "encrypted", "{}", status.raw);
    assert_never_in_clear(&proxy, &texts);
    assert_never_in_clear(&proxy, &hello);
    assert_only_otr_after(&proxy, private_from, 1 + 3);
}

/// Issue 10, item 11: with "do not log private conversations" on (the default) and policy
/// Always, the first message — typed before any private conversation exists — waits, is
/// shown once, is never written to the log, and then goes out privately. A message sent in
/// the clear earlier (policy Never) is logged: the log check can fail.
#[test]
fn the_first_message_under_always_is_neither_logged_nor_shown_twice() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let alice = Host::start("alice", &[]);
    let mut alice = plugin_client(alice, ALICE, &server, &proxy, "never");
    let bob = Host::start("bob", &[]);
    let mut bob = plugin_client(bob, BOB, &server, &proxy, "opportunistic");
    alice.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("bob@localhost"),
        WAIT,
    );
    // The user logs IMs (the host turns that off by default), as plain text files.
    alice.cmd(&["pref_set", "/purple/logging/log_ims", "bool", "1"]);
    alice.cmd(&["pref_set", "/purple/logging/format", "string", "txt"]);
    alice.cmd(&[
        "pref_set",
        "/plugins/core/purple-otr/avoid_logging",
        "bool",
        "1",
    ]);

    // Alice's key exists before the first message (as it does for anyone who has used OTR
    // before): made for a conversation with someone else, not on this server at all.
    let mk = alice.events.len();
    alice.cmd(&["pref_set", POLICY, "string", "manual"]);
    alice.cmd(&["conv_cmd", ALICE, "carol@localhost", "/otr start"]);
    line_after(
        &mut alice,
        mk,
        ALICE,
        "carol@localhost",
        "Your private key for",
    );
    alice.cmd(&["pref_set", POLICY, "string", "never"]);

    // OTR off: a plain message, logged as the user chose.
    let mb = bob.events.len();
    let control = "logged-in-the-clear-control".to_string();
    alice.cmd(&["send_im", ALICE, "bob@localhost", &control]);
    assert_delivered_once_in_order(&mut bob, mb, std::slice::from_ref(&control));
    // The proxy sees what goes out in the clear (so its silence below means something).
    assert!(proxy.recorded().contains(&control));

    // Always: the next message waits for the private conversation.
    alice.cmd(&["pref_set", POLICY, "string", "always"]);
    let ma = alice.events.len();
    let first = vec!["first-secret-before-the-exchange".to_string()];
    alice.cmd(&["send_im", ALICE, "bob@localhost", &first[0]]);
    assert_delivered_once_in_order(&mut bob, mb, &first);
    alice_line(
        &mut alice,
        ma,
        "Private conversation with bob@localhost started",
    );
    let later = vec!["second-secret-while-private".to_string()];
    alice.cmd(&["send_im", ALICE, "bob@localhost", &later[0]]);
    assert_delivered_once_in_order(&mut bob, mb, &later);
    assert_shown_once_as_held(&mut alice, ALICE, &first);
    alice_line(&mut alice, ma, "waiting, not sent");
    assert_eq!(lines_with(&mut alice, ALICE, &later[0]).len(), 1);
    assert_never_in_clear(&proxy, &first);
    assert_never_in_clear(&proxy, &later);

    // The log, once alice's client has closed it.
    alice.quit_and_wait(Duration::from_secs(10));
    let log = read_all(&alice.user_dir().join("logs"));
    assert!(
        log.contains(&control),
        "the plain message was logged: {log:?}"
    );
    assert!(
        !log.contains(&first[0]),
        "private message in the log: {log}"
    );
    assert!(
        !log.contains(&later[0]),
        "private message in the log: {log}"
    );
}

/// Every file under `dir`, concatenated.
fn read_all(dir: &Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.push_str(&read_all(&path));
            } else {
                out.push_str(&fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    out
}

/// Messages waiting for a buddy who is away survive the window being closed (issue 10,
/// item 10): when bob is back they go out privately, once, in order.
#[test]
fn waiting_messages_survive_a_closed_window() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let (mut alice, mut bob) = both_online(&server, &proxy);
    let private_from = go_private(&mut alice, &mut bob, &proxy, "closed");

    let ma = alice.events.len();
    bob.kill();
    wait_after(&mut alice, ma, "buddy_signed_off", |l| {
        l.get("buddy").starts_with("bob@localhost")
    });
    let texts = typed("closed");
    for t in &texts {
        alice.cmd(&["send_im", ALICE, "bob@localhost", t]);
    }
    settle(&mut alice, Duration::from_millis(500));
    assert_never_in_clear(&proxy, &texts);
    alice_line(&mut alice, ma, "waiting, not sent");
    alice.cmd(&["conv_close", ALICE, "bob@localhost"]);
    wait_after(&mut alice, ma, "conv_destroyed", |l| {
        l.get("account") == ALICE
    });

    let bob2 = Host::start_from("bob-again", &[], &bob.user_dir());
    let mut bob2 = plugin_client(bob2, BOB, &server, &proxy, "opportunistic");
    assert_delivered_once_in_order(&mut bob2, 0, &texts);
    assert_never_in_clear(&proxy, &texts);
    assert_only_otr_after(&proxy, private_from, 2 + 3);
    // A window opens again to say so; the texts are shown once (when typed), not again.
    let closed_at = alice
        .events
        .iter()
        .rposition(|l| l.name == "conv_destroyed")
        .expect("closed");
    alice_line(
        &mut alice,
        closed_at,
        "Your 3 waiting messages were sent privately",
    );
    assert_shown_once_as_held(&mut alice, ALICE, &texts);
}

/// Under the manual policy a paused conversation does not restart by itself: what alice
/// typed waits (also after bob is back), she is told how to go on, and it goes out
/// privately once she starts the private conversation again.
#[test]
fn under_manual_waiting_messages_go_out_when_the_user_restarts() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let alice = Host::start("alice", &[]);
    let mut alice = plugin_client(alice, ALICE, &server, &proxy, "manual");
    let bob = Host::start("bob", &[]);
    let mut bob = plugin_client(bob, BOB, &server, &proxy, "manual");
    alice.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("bob@localhost"),
        WAIT,
    );
    let private_from = go_private(&mut alice, &mut bob, &proxy, "manual");

    let ma = alice.events.len();
    bob.kill();
    wait_after(&mut alice, ma, "buddy_signed_off", |l| {
        l.get("buddy").starts_with("bob@localhost")
    });
    let texts = typed("manual");
    alice.cmd(&["send_im", ALICE, "bob@localhost", &texts[0]]);
    settle(&mut alice, Duration::from_millis(500));
    assert_never_in_clear(&proxy, &texts);
    let bob2 = Host::start_from("bob-again", &[], &bob.user_dir());
    let mut bob2 = plugin_client(bob2, BOB, &server, &proxy, "manual");
    let back = alice_line(
        &mut alice,
        ma,
        "is back. 1 message waits: start the private conversation again",
    );
    assert!(back.get("text").contains("/otr start"), "{}", back.raw);
    // Typed while he is back but nothing is private: still waits.
    alice.cmd(&["send_im", ALICE, "bob@localhost", &texts[1]]);
    settle(&mut alice, Duration::from_millis(500));
    settle(&mut bob2, Duration::from_millis(500));
    assert_never_in_clear(&proxy, &texts);
    assert!(
        received_of(&bob2, 0, &texts).is_empty(),
        "{}",
        dump(&bob2, 0)
    );

    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    alice.cmd(&["send_im", ALICE, "bob@localhost", &texts[2]]);
    assert_delivered_once_in_order(&mut bob2, 0, &texts);
    assert_shown_once_as_held(&mut alice, ALICE, &texts);
    assert_never_in_clear(&proxy, &texts);
    assert_only_otr_after(&proxy, private_from, 2 + 3);
}

/// Bob's client dies and "bob" comes back with another key (a new computer, or someone
/// else): what alice typed for the old key is not sent to the new one until she says so;
/// she is warned; after `/otr send-held` it goes out privately, in order, once.
#[test]
fn buddy_back_with_another_key_gets_nothing_until_accepted() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let (mut alice, mut bob) = both_online(&server, &proxy);
    let private_from = go_private(&mut alice, &mut bob, &proxy, "newkey");

    let ma = alice.events.len();
    bob.kill();
    wait_after(&mut alice, ma, "buddy_signed_off", |l| {
        l.get("buddy").starts_with("bob@localhost")
    });
    let texts = typed("newkey");
    for t in &texts {
        alice.cmd(&["send_im", ALICE, "bob@localhost", t]);
    }
    settle(&mut alice, Duration::from_millis(500));
    assert_never_in_clear(&proxy, &texts);
    // A fresh user dir: bob's plugin makes a new key when alice asks.
    let bob2 = Host::start("bob-new-key", &[]);
    let mut bob2 = plugin_client(bob2, BOB, &server, &proxy, "opportunistic");
    alice_line(&mut alice, ma, "key you have not seen before");
    line_after(
        &mut bob2,
        0,
        BOB,
        "alice@localhost",
        "Private conversation with alice@localhost started",
    );
    settle(&mut alice, Duration::from_secs(1));
    settle(&mut bob2, Duration::from_millis(500));
    assert!(
        received_of(&bob2, 0, &texts).is_empty(),
        "sent to a key alice never accepted\n{}",
        dump(&bob2, 0)
    );
    alice_line(&mut alice, ma, "/otr send-held");
    assert_never_in_clear(&proxy, &texts);

    // Alice accepts the new key for these messages.
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr send-held"]);
    assert_delivered_once_in_order(&mut bob2, 0, &texts);
    assert_shown_once_as_held(&mut alice, ALICE, &texts);
    assert_never_in_clear(&proxy, &texts);
    assert_only_otr_after(&proxy, private_from, 2 + 3);
}

/// The server lies: it tells alice that bob went offline and came back, while both clients
/// stay connected and private (the attack of issue 10: a server downgrading a conversation
/// on demand). What alice types meanwhile never goes out in the clear; the conversation is
/// private again with the same key, and the three arrive once, in order.
#[test]
fn a_server_faking_offline_and_online_downgrades_nothing() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let (mut alice, mut bob) = both_online(&server, &proxy);
    let private_from = go_private(&mut alice, &mut bob, &proxy, "fake");
    let (ma, mb) = (alice.events.len(), bob.events.len());
    let alice_conn = format!("<jid>{ALICE}</jid>");

    let gone = format!("<presence from='{BOB}' to='{ALICE}' type='unavailable'/>");
    assert_eq!(proxy.inject_to_client(&alice_conn, &gone), 1);
    wait_after(&mut alice, ma, "buddy_signed_off", |l| {
        l.get("buddy").starts_with("bob@localhost")
    });
    let texts = typed("fake");
    for t in &texts {
        alice.cmd(&["send_im", ALICE, "bob@localhost", t]);
    }
    settle(&mut alice, Duration::from_millis(500));
    assert_never_in_clear(&proxy, &texts);
    alice_line(
        &mut alice,
        ma,
        "went offline: the private conversation is paused",
    );

    let back = format!("<presence from='{BOB}' to='{ALICE}'/>");
    assert_eq!(proxy.inject_to_client(&alice_conn, &back), 1);
    assert_delivered_once_in_order(&mut bob, mb, &texts);
    alice_line(
        &mut alice,
        ma,
        "Your 3 waiting messages were sent privately",
    );
    assert_no_new_key(&mut alice, ma);
    assert_no_new_key(&mut bob, mb);
    assert_shown_once_as_held(&mut alice, ALICE, &texts);
    assert_never_in_clear(&proxy, &texts);
    assert_only_otr_after(&proxy, private_from, 2 + 3);

    // Both still private with each other: a message each way.
    let more = vec!["fake-after-secret".to_string()];
    let reply = vec!["fake-reply-secret".to_string()];
    let (ma, mb) = (alice.events.len(), bob.events.len());
    alice.cmd(&["send_im", ALICE, "bob@localhost", &more[0]]);
    assert_delivered_once_in_order(&mut bob, mb, &more);
    bob.cmd(&["send_im", BOB, "alice@localhost", &reply[0]]);
    assert_delivered_once_in_order(&mut alice, ma, &reply);
    assert_never_in_clear(&proxy, &more);
    assert_never_in_clear(&proxy, &reply);
}

/// What bob sends while a lying server has made alice believe he is offline is not lost
/// silently: alice reads it (a paused conversation keeps its keys to read what arrives,
/// and an authenticated message resumes it), or bob is told it was not read.
#[test]
fn what_the_buddy_sends_during_a_faked_offline_is_not_lost_silently() {
    let server = Prosody::alice_and_bob();
    let proxy = Proxy::start(server.port);
    let (mut alice, mut bob) = both_online(&server, &proxy);
    go_private(&mut alice, &mut bob, &proxy, "lost");
    let (ma, mb) = (alice.events.len(), bob.events.len());
    let alice_conn = format!("<jid>{ALICE}</jid>");
    let gone = format!("<presence from='{BOB}' to='{ALICE}' type='unavailable'/>");
    assert_eq!(proxy.inject_to_client(&alice_conn, &gone), 1);
    wait_after(&mut alice, ma, "buddy_signed_off", |l| {
        l.get("buddy").starts_with("bob@localhost")
    });
    let from_bob = vec!["lost-secret-from-bob".to_string()];
    bob.cmd(&["send_im", BOB, "alice@localhost", &from_bob[0]]);
    settle(&mut alice, Duration::from_secs(2));
    let back = format!("<presence from='{BOB}' to='{ALICE}'/>");
    assert_eq!(proxy.inject_to_client(&alice_conn, &back), 1);
    settle(&mut alice, Duration::from_secs(2));
    settle(&mut bob, Duration::from_millis(500));
    let read = received_of(&alice, ma, &from_bob).len() == 1;
    let told = bob.events[mb..].iter().any(|l| {
        l.name == "write_conv"
            && l.int("flags") & flags::SYSTEM != 0
            && (l.get("text").contains("not read")
                || l.get("text").contains("could not be read")
                || l.get("text").contains("sent again")
                || l.get("text").contains("error"))
    });
    assert!(
        read || told,
        "bob's message was neither read by alice nor reported to bob\nALICE\n{}\nBOB\n{}",
        dump(&alice, ma),
        dump(&bob, mb)
    );
    assert_never_in_clear(&proxy, &from_bob);
}
