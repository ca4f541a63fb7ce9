//! `make demo`: a throwaway local XMPP server (prosody on 127.0.0.1) and two headless
//! libpurple clients, alice and bob, each running the plugin. They chat a little, and the
//! conversation is printed as each side's window shows it.
//!
//! Run with `make demo` (or `cargo run --example demo`; as root the Makefile runs it in a
//! private network namespace). Needs prosody and libpurple-dev.

#[path = "../tests/support/host.rs"]
mod host;
#[path = "../tests/support/prosody.rs"]
mod prosody;

use std::time::Duration;

use host::{flags, Host};
use prosody::Prosody;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(15);

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

/// Every line written into `account`'s one conversation. (XMPP renames a conversation to
/// the buddy's full JID once a message from one resource arrives, so match the account.)
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
            "  *".to_owned()
        } else if f & flags::SEND != 0 {
            format!("{owner:>5}")
        } else {
            format!("{:>5}", buddy.split('@').next().unwrap_or(buddy))
        };
        for (i, line) in plain(&text).lines().enumerate() {
            let prefix = if i == 0 {
                format!("{who}: ")
            } else {
                " ".repeat(who.len() + 2)
            };
            println!("{prefix}{line}");
        }
    }
}

fn main() {
    println!("Starting a throwaway XMPP server on 127.0.0.1 ...");
    let server = Prosody::alice_and_bob();
    println!("prosody is listening on 127.0.0.1:{}", server.port);

    let mut alice = Host::start("alice", &[]);
    let mut bob = Host::start("bob", &[]);
    for (name, host, jid, user) in [
        ("alice", &mut alice, ALICE, "alice"),
        ("bob", &mut bob, BOB, "bob"),
    ] {
        let info = host
            .load_plugin()
            .unwrap_or_else(|e| panic!("{name}: plugin did not load: {}", e.get("reason")));
        println!(
            "{name}: loaded \"{}\" {}",
            info.get("name"),
            info.get("version")
        );
        host.connect_xmpp(jid, server.password(user), server.port);
        println!("{name}: signed on as {jid}");
    }
    alice.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("bob@"),
        WAIT,
    );

    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr help"]);
    alice.cmd(&[
        "send_im",
        ALICE,
        "bob@localhost",
        "Hi Bob! Is this thing on?",
    ]);
    bob.wait_event("received_im", |l| l.get("text").contains("thing on"), WAIT);
    bob.cmd(&[
        "send_im",
        BOB,
        "alice@localhost",
        "Loud and clear. Not private yet, though.",
    ]);
    alice.wait_event(
        "received_im",
        |l| l.get("text").contains("Loud and clear"),
        WAIT,
    );
    alice.cmd(&[
        "conv_menu_invoke",
        ALICE,
        "bob@localhost",
        "Start private conversation",
    ]);
    alice.sync();

    print_window("alice", &mut alice, ALICE, "bob@localhost");
    print_window("bob", &mut bob, BOB, "alice@localhost");
    println!(
        "\n(The plugin passes messages through unchanged at this stage: encryption comes later.)"
    );
}
