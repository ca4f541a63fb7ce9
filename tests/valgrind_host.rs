//! The plugin inside libpurple under valgrind memcheck: load, a private conversation over
//! XMPP (keys from libotr-made fixture files, so no key generation under valgrind), a few
//! messages, /otr commands, end, unload, quit. Fails on any invalid read or write, use of
//! uninitialised memory, or memory definitely lost with the plugin in the allocation stack.
//!
//! Run: `cargo test --test valgrind_host` (as root inside `unshare -n`, see the Makefile).

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use support::host::Host;
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/peer";
const BOB: &str = "bob@localhost/peer";
const WAIT: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/libotr")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn with_key(file: &'static str) -> impl FnOnce(&Path) {
    move |dir: &Path| fs::write(dir.join("otr.private_key"), fixture(file)).expect("key file")
}

#[test]
fn plugin_runs_clean_under_memcheck() {
    if std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_err()
    {
        // CI installs valgrind; a developer machine without it says so loudly.
        panic!("valgrind is not installed: apt-get install valgrind");
    }
    let server = Prosody::alice_and_bob();
    let valgrind = [
        "valgrind",
        "--tool=memcheck",
        "--leak-check=full",
        "--show-leak-kinds=definite",
        "--num-callers=40",
        "--log-file={dir}/valgrind.log",
    ];
    let mut alice = Host::start_wrapped("vg-alice", &[], &valgrind, with_key("alice.private_key"));
    alice.load_plugin().expect("plugin loads under valgrind");
    alice.connect_xmpp(ALICE, server.password("alice"), server.port);
    let mut bob = Host::start_wrapped("vg-bob", &[], &[], with_key("bob.private_key"));
    bob.load_plugin().expect("plugin loads");
    bob.connect_xmpp(BOB, server.password("bob"), server.port);
    alice.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("bob@localhost"),
        WAIT,
    );

    alice.cmd(&["conv_open", ALICE, "bob@localhost"]);
    alice.cmd(&["conv_cmd", ALICE, "bob@localhost", "/otr start"]);
    alice.wait_event(
        "write_conv",
        |l| {
            l.get("text")
                .contains("Private conversation with bob@localhost started")
        },
        WAIT,
    );
    for i in 0..5 {
        alice.cmd(&["send_im", ALICE, "bob@localhost", &format!("to bob {i}")]);
        bob.wait_event(
            "received_im",
            move |l| l.get("text") == format!("to bob {i}"),
            WAIT,
        );
        bob.cmd(&["send_im", BOB, "alice@localhost", &format!("to alice {i}")]);
        alice.wait_event(
            "received_im",
            move |l| l.get("text") == format!("to alice {i}"),
            WAIT,
        );
    }
    for cmd in [
        "/otr status",
        "/otr fingerprint",
        "/otr fingerprints",
        "/otr help",
        "/otr end",
    ] {
        alice.cmd(&["conv_cmd", ALICE, "bob@localhost", cmd]);
    }
    alice.wait_event(
        "write_conv",
        |l| l.get("text").contains("You ended the private conversation"),
        WAIT,
    );
    alice.cmd(&["plugin_unload", "core-purple-otr"]);
    let status = alice.quit_and_wait(Duration::from_secs(180));
    assert!(status.is_some(), "the host under valgrind did not exit");

    let log = fs::read_to_string(alice.dir().join("valgrind.log")).expect("valgrind log");
    assert!(
        log.contains("ERROR SUMMARY"),
        "valgrind did not finish:\n{log}"
    );
    // libpurple's own start-up (GStreamer/Vulkan probing through the dynamic loader) and
    // glib keep memory and trip memcheck on their own; only records with the plugin in
    // their stack are the plugin's.
    let errors = records(
        &log,
        &[
            "Invalid read",
            "Invalid write",
            "Invalid free",
            "uninitialised",
            "Mismatched free",
        ],
    );
    let leaks = records(&log, &["definitely lost in loss record"]);
    for record in errors.iter().chain(&leaks) {
        assert!(
            !record.contains("purple_otr") && !record.contains("libpurple_otr.so"),
            "valgrind blames the plugin:\n{record}"
        );
    }
}

/// The records of a valgrind log whose first line contains one of `kinds`, each as one block
/// of text (a record runs until the next line with nothing after the `==pid==` prefix).
fn records(log: &str, kinds: &[&str]) -> Vec<String> {
    let mut records = Vec::new();
    let mut current: Option<String> = None;
    for line in log.lines() {
        let body = line.splitn(3, "==").nth(2).unwrap_or(line).trim();
        if current.is_none() && kinds.iter().any(|k| body.contains(k)) {
            current = Some(String::new());
        }
        if let Some(r) = current.as_mut() {
            if body.is_empty() {
                records.push(std::mem::take(r));
                current = None;
            } else {
                r.push_str(line);
                r.push('\n');
            }
        }
    }
    records.extend(current);
    records
}

#[test]
fn the_record_parser_finds_blamed_records() {
    let log = "==1== Invalid read of size 8\n==1==    at 0x1: purple_otr::purple::x\n==1== \n\
               ==1== 16 bytes in 1 blocks are definitely lost in loss record 1 of 2\n\
               ==1==    at 0x2: malloc\n==1==    by 0x3: g_strdup\n==1== \n";
    let errors = records(log, &["Invalid read"]);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("purple_otr"));
    let leaks = records(log, &["definitely lost in loss record"]);
    assert_eq!(leaks.len(), 1);
    assert!(leaks[0].contains("g_strdup") && !leaks[0].contains("purple_otr"));
}
