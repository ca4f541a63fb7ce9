//! Finch shows the conversation's state in the window's title line, redrawn on every
//! change; and neither Finch nor a plain libpurple host ever maps GTK when running the
//! plugin (the Pidgin part is resolved at run time only inside Pidgin).
//!
//! Finch is real (under tmux, read with capture-pane), alice's client; bob is the headless
//! test host; both with our plugin on a throwaway prosody.
//!
//! Run: `cargo test --test finch_title` (as root inside `unshare -n`, see the Makefile).

mod support;

use support::gui;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use gui::{client_dir, Tmux, XmppAccount, NO_BUS};
use support::host::Host;
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/finch";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(40);

/// The pid of the process whose command line has `arg` (a unique temp path) and whose
/// program is `program`.
fn pid_of(program: &str, arg: &str) -> Option<u32> {
    fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let exe = args.first()?;
        (Path::new(exe).file_name()?.to_str()? == program && args.iter().any(|a| a.contains(arg)))
            .then_some(pid)
    })
}

/// The shared objects a process has mapped (/proc/PID/maps, the path column).
fn mapped(pid: u32) -> Vec<String> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    let mut libs: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.contains(".so"))
        .map(str::to_owned)
        .collect();
    libs.dedup();
    libs
}

fn assert_no_gtk(who: &str, libs: &[String]) {
    // The positive control: the plugin itself is mapped, so the list is the real one.
    assert!(
        libs.iter()
            .any(|l| l.contains("purple-otr.so") || l.contains("libpurple_otr.so")),
        "{who}: the plugin is not mapped: {libs:?}"
    );
    let gtk: Vec<&String> = libs
        .iter()
        .filter(|l| l.contains("libgtk") || l.contains("libgdk-x11") || l.contains("libgdk-3"))
        .collect();
    assert!(gtk.is_empty(), "{who} maps GTK: {gtk:?}");
}

/// Bob's host with our plugin; `modern`: the post-quantum upgrade setting (off keeps the
/// conversation on OTR v3, whose titles the first test reads).
fn bob_with(server: &Prosody, modern: bool) -> Host {
    let mut bob = Host::start("bob-title", &[]);
    let key = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr/bob.private_key"),
    )
    .expect("bob's key fixture")
    .replace("bob@localhost/peer", BOB);
    fs::write(bob.user_dir().join("otr.private_key"), key).expect("bob's key file");
    bob.load_plugin().expect("plugin loads in bob's host");
    let on = if modern { "1" } else { "0" };
    bob.cmd(&["pref_set", "/plugins/core/purple-otr/modern", "bool", on]);
    bob.connect_xmpp(BOB, server.password("bob"), server.port);
    bob
}

fn bob(server: &Prosody) -> Host {
    bob_with(server, false)
}

/// Finch's line that shows `want`: the conversation window's top border or the task bar
/// at the bottom of the screen (both drawn from the window's title).
fn title_line(screen: &str, want: &str) -> Option<String> {
    screen
        .lines()
        .flat_map(|l| l.split('│'))
        .find(|part| part.contains(want))
        .map(|part| part.trim_matches(|c: char| "┌┐─├┤ ".contains(c)).to_owned())
}

fn wait_title(finch: &Tmux, words: &str) -> String {
    let want = format!("bob — {words} (alice@localhost/finch -- XMPP)");
    match finch.try_wait_for(WAIT, |s| title_line(s, &want).is_some()) {
        Some(screen) => title_line(&screen, &want).unwrap_or_default(),
        None => panic!(
            "the title never read {want:?}; the screen:\n{}",
            finch.screen()
        ),
    }
}

fn type_line(finch: &Tmux, text: &str) {
    finch.send(text, true);
    finch.send("Enter", false);
}

#[test]
fn finch_title_follows_every_state() {
    let started = Instant::now();
    let server = Prosody::alice_and_bob();
    let mut bob = bob(&server);
    let dir = client_dir(
        "finch-title",
        "finch",
        "gnt-purple",
        &XmppAccount {
            jid: ALICE,
            password: server.password("alice"),
            port: server.port,
            buddies: &["bob@localhost"],
        },
    );
    let finch = Tmux::start(
        "finch-title",
        &format!(
            "env HOME='{d}' TERM=tmux-256color DBUS_SESSION_BUS_ADDRESS={NO_BUS} finch -c '{d}'",
            d = dir.path().display()
        ),
    );
    finch.wait_for("bob online in Finch's buddy list", |s| {
        s.contains("Buddy List") && s.lines().any(|l| l.contains(" bob "))
    });
    bob.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("alice@localhost"),
        WAIT,
    );
    bob.cmd(&["conv_open", BOB, "alice@localhost"]);
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr policy manual"]);
    bob.cmd(&["send_im", BOB, "alice@localhost", "Hi Alice, it's Bob"]);

    // The window opens with the state in its title ...
    let mut titles = vec![wait_title(&finch, "not private")];
    // ... and follows: alice starts, authenticates bob, bob ends, alice ends. (The window
    // opened without focus: Enter on bob's row in the buddy list brings it forward.)
    finch.down(1);
    finch.send("Enter", false);
    std::thread::sleep(Duration::from_millis(500));
    type_line(&finch, "/otr start");
    titles.push(wait_title(&finch, "private, not verified"));
    type_line(&finch, "/otr smp the blue boat");
    let request = bob.wait_event("request", |l| l.get("kind") == "fields", WAIT);
    bob.cmd(&[
        "request_field",
        request.get("id"),
        "secret",
        "the blue boat",
    ]);
    bob.cmd(&["request_answer", request.get("id"), "0"]);
    titles.push(wait_title(&finch, "private, verified"));
    // With PURPLE_OTR_UPDATE_SCREENSHOTS=1 the screen (text) goes to the docs.
    if std::env::var_os("PURPLE_OTR_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        fs::create_dir_all(&docs).expect("docs/screenshots");
        let screen: String = finch
            .screen()
            .lines()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect();
        fs::write(docs.join("finch-title.txt"), screen.trim_end()).expect("finch-title.txt");
    }
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr end"]);
    titles.push(wait_title(&finch, "finished by buddy"));
    type_line(&finch, "/otr end");
    titles.push(wait_title(&finch, "not private"));
    println!("Finch's title line, state by state:\n{}", titles.join("\n"));

    // Finch never mapped GTK, with the plugin loaded and every state drawn.
    let pid = pid_of("finch", &dir.path().to_string_lossy()).expect("finch's pid");
    assert_no_gtk("Finch", &mapped(pid));
    eprintln!("finch_title: {:.1} s", started.elapsed().as_secs_f64());
}

/// Both clients with the post-quantum upgrade on (the default): once private they switch to
/// the modern suite, and Finch's title says so, read from the real screen; SMP over the new
/// suite (bound to its transcript) verifies bob and the title follows.
#[test]
fn finch_title_names_the_post_quantum_suite() {
    let server = Prosody::alice_and_bob();
    let mut bob = bob_with(&server, true);
    let dir = client_dir(
        "finch-title-pq",
        "finch",
        "gnt-purple",
        &XmppAccount {
            jid: ALICE,
            password: server.password("alice"),
            port: server.port,
            buddies: &["bob@localhost"],
        },
    );
    let finch = Tmux::start(
        "finch-title-pq",
        &format!(
            "env HOME='{d}' TERM=tmux-256color DBUS_SESSION_BUS_ADDRESS={NO_BUS} finch -c '{d}'",
            d = dir.path().display()
        ),
    );
    finch.wait_for("bob online in Finch's buddy list", |s| {
        s.contains("Buddy List") && s.lines().any(|l| l.contains(" bob "))
    });
    bob.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("alice@localhost"),
        WAIT,
    );
    bob.cmd(&["conv_open", BOB, "alice@localhost"]);
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr policy manual"]);
    bob.cmd(&["send_im", BOB, "alice@localhost", "Hi Alice, it's Bob"]);
    let mut titles = vec![wait_title(&finch, "not private")];
    finch.down(1);
    finch.send("Enter", false);
    std::thread::sleep(Duration::from_millis(500));
    type_line(&finch, "/otr start");
    // v3 first, then the switch: the title is redrawn for it.
    titles.push(wait_title(&finch, "private, post-quantum, not verified"));
    bob.wait_event(
        "write_conv",
        |l| l.get("text").contains("now uses post-quantum encryption"),
        WAIT,
    );
    type_line(&finch, "/otr smp the blue boat");
    let request = bob.wait_event("request", |l| l.get("kind") == "fields", WAIT);
    bob.cmd(&[
        "request_field",
        request.get("id"),
        "secret",
        "the blue boat",
    ]);
    bob.cmd(&["request_answer", request.get("id"), "0"]);
    titles.push(wait_title(&finch, "private, post-quantum, verified"));
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr status"]);
    bob.wait_event(
        "write_conv",
        |l| l.get("text").contains("Private (post-quantum, "),
        WAIT,
    );
    println!(
        "Finch's title line on the post-quantum suite:\n{}",
        titles.join("\n")
    );
}

/// A plain libpurple UI (the headless host: ui id "purple-otr-test-host") loads the plugin
/// and runs a private conversation without GTK in its address space.
#[test]
fn headless_host_never_maps_gtk() {
    let server = Prosody::alice_and_bob();
    let mut alice = Host::start("alice-nogtk", &[]);
    alice.load_plugin().expect("plugin loads");
    alice.connect_xmpp(
        "alice@localhost/host",
        server.password("alice"),
        server.port,
    );
    let mut bob = bob(&server);
    bob.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("alice@localhost"),
        WAIT,
    );
    alice.cmd(&["conv_open", "alice@localhost/host", "bob@localhost/laptop"]);
    alice.cmd(&[
        "conv_cmd",
        "alice@localhost/host",
        "bob@localhost/laptop",
        "/otr start",
    ]);
    alice.wait_event(
        "write_conv",
        |l| {
            l.get("text")
                .contains("Private conversation with bob@localhost")
        },
        Duration::from_secs(60),
    );
    let dir = alice.user_dir();
    let pid = pid_of(
        Path::new(&support::host::host_binary())
            .file_name()
            .and_then(|n| n.to_str())
            .expect("host binary name"),
        &dir.to_string_lossy(),
    )
    .expect("the host's pid");
    assert_no_gtk("the headless host", &mapped(pid));
}
