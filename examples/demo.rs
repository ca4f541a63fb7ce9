//! `make demo`: a throwaway local XMPP server (prosody on 127.0.0.1) and two headless
//! libpurple clients, alice and bob, each running the plugin. Alice starts a private
//! conversation, they exchange a few messages, and the demo prints both fingerprints, each
//! side's window, and what the server saw (a recording proxy sits in front of it).
//!
//! Run with `make demo` (or `cargo run --example demo`; as root the Makefile runs it in a
//! private network namespace). Needs prosody and libpurple-dev.

#[path = "../tests/support/host.rs"]
mod host;
#[path = "../tests/support/prosody.rs"]
mod prosody;
#[path = "../tests/support/proxy.rs"]
#[allow(dead_code, unreachable_pub)]
mod proxy;

use std::time::Duration;

use host::{flags, Host};
use prosody::Prosody;
use proxy::Proxy;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(30);

/// Markup as a window would render it, roughly: line breaks, no tags, entities decoded.
fn plain(markup: &str) -> String {
    let with_breaks = markup.replace("<br>", "\n").replace("<br/>", "\n");
    let mut out = String::new();
    let mut in_tag = false;
    for c in with_breaks.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Every line written into `account`'s conversation, as the window shows it. (XMPP renames
/// a conversation to the buddy's full JID once a message arrives, so match the account.)
fn print_window(owner: &str, host: &mut Host, account: &str, buddy: &str) {
    println!("\n=== {owner}'s window: conversation with {buddy} ===");
    host.sync();
    let lines: Vec<(i64, String)> = host
        .events
        .iter()
        .filter(|l| l.name == "write_conv" && l.get("account") == account)
        .map(|l| (l.int("flags"), l.get("text").to_owned()))
        .collect();
    for (f, text) in lines {
        let who = if f & flags::SYSTEM != 0 {
            "    *".to_owned()
        } else if f & flags::SEND != 0 {
            format!("{owner:>5}")
        } else {
            format!("{:>5}", buddy.split('@').next().unwrap_or(buddy))
        };
        for (i, line) in wrap(&plain(&text), 88).iter().enumerate() {
            let prefix = if i == 0 {
                format!("{who}: ")
            } else {
                " ".repeat(who.len() + 2)
            };
            println!("{prefix}{line}");
        }
    }
}

/// Splits text into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

/// Waits for a notice containing `needle` in `account`'s conversation.
fn wait_notice(host: &mut Host, account: &str, needle: &str) -> String {
    let (account, needle) = (account.to_owned(), needle.to_owned());
    host.wait_event(
        "write_conv",
        move |l| l.get("account") == account && l.get("text").contains(&needle),
        WAIT,
    )
    .get("text")
    .to_owned()
}

/// The account's own fingerprint, as `/otr fingerprint` shows it.
fn own_fingerprint(host: &mut Host, account: &str, buddy: &str) -> String {
    host.cmd(&["conv_cmd", account, buddy, "/otr fingerprint"]);
    let marker = format!("Your fingerprint ({account}): ");
    let text = wait_notice(host, account, &marker);
    plain(&text)
        .split(&marker)
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or("?")
        .to_owned()
}

/// What an OTR v3 body is, from its message type (the third byte, base64's 4th char).
fn kind(body: &str) -> &'static str {
    if body.starts_with("?OTRv") {
        return "query: \"let's talk privately\" (with a note for clients without OTR)";
    }
    match body.strip_prefix("?OTR:AAM").and_then(|b| b.chars().next()) {
        Some('C') => "key exchange 1/4: DH-Commit",
        Some('K') => "key exchange 2/4: DH-Key",
        Some('R') => "key exchange 3/4: Reveal Signature",
        Some('S') => "key exchange 4/4: Signature",
        Some('D') => "an encrypted message",
        _ => "",
    }
}

fn send(from: &mut Host, account: &str, buddy: &str, to: &mut Host, text: &str) {
    from.cmd(&["send_im", account, buddy, text]);
    let t = text.to_owned();
    to.wait_event("received_im", move |l| l.get("text") == t, WAIT);
}

fn main() {
    println!("Starting a throwaway XMPP server on 127.0.0.1 ...");
    let server = Prosody::alice_and_bob();
    // Both clients connect through a proxy that records every byte the server sees.
    let proxy = Proxy::start(server.port);
    println!(
        "prosody is listening on 127.0.0.1:{}; the clients connect through a recording proxy on port {}",
        server.port, proxy.port
    );

    let mut alice = Host::start("alice", &[]);
    let mut bob = Host::start("bob", &[]);
    for (name, host, jid, user) in [
        ("alice", &mut alice, ALICE, "alice"),
        ("bob", &mut bob, BOB, "bob"),
    ] {
        let info = host
            .load_plugin()
            .unwrap_or_else(|e| panic!("{name}: plugin did not load: {}", e.get("reason")));
        host.connect_xmpp(jid, server.password(user), proxy.port);
        println!(
            "{name}: signed on as {jid} with \"{}\" {}",
            info.get("name"),
            info.get("version")
        );
    }
    alice.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("bob@"),
        WAIT,
    );

    // Alice types /otr start (in Pidgin: Conversation → More → Start private conversation).
    println!("\nalice types: /otr start   (each side creates its key on first use: a moment)");
    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    let started = |l: &host::Line| {
        l.get("text")
            .contains("Private conversation with bob@localhost started")
    };
    alice.wait_event("write_conv", started, WAIT);
    wait_notice(
        &mut bob,
        BOB,
        "Private conversation with alice@localhost started",
    );

    let messages: [(bool, &str); 4] = [
        (true, "Hi Bob! Is this thing on?"),
        (false, "Loud and clear, and private this time."),
        (true, "The key is under the third flowerpot."),
        (
            false,
            "Got it. Let's compare fingerprints on the phone later.",
        ),
    ];
    for (from_alice, text) in messages {
        if from_alice {
            send(&mut alice, ALICE, "bob@localhost", &mut bob, text);
        } else {
            send(&mut bob, BOB, "alice@localhost", &mut alice, text);
        }
    }

    let alice_fp = own_fingerprint(&mut alice, ALICE, "bob@localhost");
    let bob_fp = own_fingerprint(&mut bob, BOB, "alice@localhost");
    print_window("alice", &mut alice, ALICE, "bob@localhost");
    print_window("bob", &mut bob, BOB, "alice@localhost");

    println!("\n=== Fingerprints (compare them over the phone to verify each other) ===");
    println!("  alice: {alice_fp}");
    println!("  bob:   {bob_fp}");

    // Each body crosses twice (sender → server, server → recipient): show it once.
    println!("\n=== What the server saw: every message body that crossed it ===");
    let wire = proxy.recorded();
    let mut bodies = Proxy::bodies_of(&wire);
    bodies.dedup();
    for body in &bodies {
        let first_line = body.lines().next().unwrap_or("");
        let shown: String = first_line.chars().take(48).collect();
        let more = if shown.len() < body.len() { "…" } else { "" };
        println!("  {:<50} {}", format!("{shown}{more}"), kind(body));
    }
    let leaked: Vec<&str> = messages
        .iter()
        .map(|(_, t)| *t)
        .filter(|t| wire.contains(t))
        .collect();
    if leaked.is_empty() {
        println!(
            "\nNone of the {} messages crossed the server in readable form: only ?OTR data.",
            messages.len()
        );
    } else {
        println!("\nWARNING: readable on the wire: {leaked:?}");
        std::process::exit(1);
    }
}
