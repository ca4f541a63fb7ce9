//! The authentication (SMP) dialogs and notices, between two headless libpurple clients
//! with our plugin on a throwaway prosody:
//! - the "Authenticate to your buddy" dialog closes when the question is answered with
//!   `/otr smp <answer>` instead (it used to stay open, asking again);
//! - after the buddy verified us, the notice asks us to verify them only if we have not.
//!
//! Run: `cargo test --test smp_dialogs` (as root inside `unshare -n`, see the Makefile).

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use support::host::{Host, Line};
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(40);

/// A signed-on host whose key is libotr's fixture, renamed to its account.
fn client(label: &str, jid: &str, fixture: &str, server: &Prosody, user: &str) -> Host {
    let mut host = Host::start(label, &[]);
    let key = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/libotr/{fixture}")),
    )
    .expect("key fixture");
    let key = key
        .replace("alice@localhost/peer", jid)
        .replace("bob@localhost/peer", jid);
    fs::write(host.user_dir().join("otr.private_key"), key).expect("key file");
    host.load_plugin().expect("plugin loads");
    host.connect_xmpp(jid, server.password(user), server.port);
    host
}

fn wait_text(host: &mut Host, needle: &str) -> Line {
    let needle = needle.to_owned();
    host.wait_event("write_conv", move |l| l.get("text").contains(&needle), WAIT)
}

/// `asker` asks `answerer` a question; the answerer's dialog opens and is answered with
/// `/otr smp` typed in the conversation: the dialog must close by itself.
fn ask_and_answer_by_command(
    asker: &mut Host,
    asker_jid: &str,
    answerer: &mut Host,
    answerer_jid: &str,
) -> Line {
    let to_answerer = answerer_jid.split('/').next().expect("bare");
    let to_asker = asker_jid.split('/').next().expect("bare");
    // A new dialog (wait_event also sees earlier events: skip the requests seen before).
    answerer.sync();
    let earlier: Vec<String> = answerer
        .events
        .iter()
        .filter(|l| l.name == "request")
        .map(|l| l.get("id").to_owned())
        .collect();
    asker.cmd(&[
        "conv_cmd",
        asker_jid,
        to_answerer,
        "/otr smp Which boat? the blue one",
    ]);
    let request = answerer.wait_event(
        "request",
        move |l| {
            l.get("kind") == "fields"
                && l.all("field").contains(&"secret".to_owned())
                && !earlier.iter().any(|e| e == l.get("id"))
        },
        WAIT,
    );
    answerer.cmd(&["conv_cmd", answerer_jid, to_asker, "/otr smp the blue one"]);
    let id = request.get("id").to_owned();
    answerer.wait_event("request_closed", move |l| l.get("id") == id, WAIT);
    request
}

#[test]
fn answering_by_command_closes_the_dialog_and_notices_fit_what_was_done() {
    let server = Prosody::alice_and_bob();
    let mut alice = client("alice-smp", ALICE, "alice.private_key", &server, "alice");
    let mut bob = client("bob-smp", BOB, "bob.private_key", &server, "bob");
    alice.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("bob@localhost"),
        WAIT,
    );
    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    wait_text(
        &mut alice,
        "Private conversation with bob@localhost started",
    );
    wait_text(
        &mut bob,
        "Private conversation with alice@localhost started",
    );

    // Bob asks, alice answers with /otr smp: her dialog closes; she has not verified bob,
    // so she is told how.
    ask_and_answer_by_command(&mut bob, BOB, &mut alice, ALICE);
    let first = wait_text(&mut alice, "has verified your identity");
    assert!(
        first.get("text").contains("To verify bob@localhost's"),
        "{}",
        first.get("text")
    );

    // Alice asks, bob answers by command: alice has now verified bob.
    ask_and_answer_by_command(&mut alice, ALICE, &mut bob, BOB);
    wait_text(&mut alice, "answered your question correctly");

    // Bob asks again: alice already verified him, so nothing is asked of her.
    alice.sync();
    let seen = alice
        .events
        .iter()
        .filter(|l| l.name == "write_conv" && l.get("text").contains("has verified your identity"))
        .count();
    ask_and_answer_by_command(&mut bob, BOB, &mut alice, ALICE);
    let last = wait_until_more(&mut alice, seen);
    assert!(
        last.contains("You verified bob@localhost's earlier") && !last.contains("To verify"),
        "{last}"
    );
}

/// The next "has verified your identity" notice after `seen` of them.
fn wait_until_more(host: &mut Host, seen: usize) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        host.sync();
        let all: Vec<String> = host
            .events
            .iter()
            .filter(|l| {
                l.name == "write_conv" && l.get("text").contains("has verified your identity")
            })
            .map(|l| l.get("text").to_owned())
            .collect();
        if all.len() > seen {
            return all[seen].clone();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no new notice that bob verified alice");
}
