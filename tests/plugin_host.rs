//! The plugin inside a real (headless) libpurple: identity, refusal next to pidgin-otr,
//! menus, `/otr`, load -> unload -> load, and the panic guard.
//!
//! Run: `cargo test --test plugin_host` (as root inside `unshare -n`, see the Makefile).

mod support;

use std::time::Duration;

use support::host::{flags, Host, Manifest};
use support::prosody::Prosody;

/// The items the plugin adds to conversation menus ...
const MENU_ITEMS: [&str; 4] = [
    "Start private conversation",
    "End private conversation",
    "Verify fingerprint",
    "Authenticate buddy",
];
/// ... and to buddy-list menus (plus the buddy's own settings).
const BLIST_ITEMS: [&str; 5] = [
    "Start private conversation",
    "End private conversation",
    "Verify fingerprint",
    "Authenticate buddy",
    "OTR settings for this buddy",
];

/// PurpleCmdStatus values (cmds.h).
const CMD_STATUS_OK: i64 = 0;
const CMD_STATUS_NOT_FOUND: i64 = 2;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost";
const WAIT: Duration = Duration::from_secs(10);

fn loaded_host(env: &[(&str, &str)]) -> Host {
    let mut host = Host::start("alice", env);
    if let Err(e) = host.load_plugin() {
        panic!("plugin did not load: {}", e.get("reason"));
    }
    host
}

/// A server with alice and bob, and alice's client signed on with the plugin loaded.
fn online_alice(env: &[(&str, &str)]) -> (Prosody, Host) {
    let server = Prosody::alice_and_bob();
    let mut host = loaded_host(env);
    host.connect_xmpp(ALICE, server.password("alice"), server.port);
    (server, host)
}

fn plugin_items(items: &[String]) -> Vec<&str> {
    items
        .iter()
        .map(String::as_str)
        .filter(|i| BLIST_ITEMS.contains(i))
        .collect()
}

#[test]
fn identity_matches_the_manifest() {
    let manifest = Manifest::load();
    let mut host = loaded_host(&[]);
    let info = host.cmd(&["plugin_info", &manifest.id]);
    assert_eq!(info.get("id"), manifest.id);
    assert_eq!(info.get("id"), "core-purple-otr");
    assert_eq!(info.get("name"), manifest.name);
    assert_eq!(info.get("version"), Manifest::version());
    assert_eq!(info.get("summary"), manifest.summary);
    assert_eq!(info.get("description"), manifest.description);
    assert_eq!(info.get("author"), manifest.author);
    assert_eq!(info.get("homepage"), manifest.homepage);
    assert_eq!(info.int("loaded"), 1);
    // PURPLE_PLUGIN_STANDARD, no UI requirement, built against libpurple 2.x.
    assert_eq!(info.int("type"), 0);
    assert_eq!(info.get("ui_requirement"), "");
    assert_eq!(info.int("magic"), 5);
    assert_eq!(info.int("major"), 2);
    assert_eq!(info.get("error"), "");
}

#[test]
fn refuses_to_load_next_to_pidgin_otr() {
    let fake = support::host::fake_pidgin_otr();
    let mut host = Host::start("alice", &[]);
    host.cmd(&["plugin_load", fake.to_str().expect("utf-8 path")]);

    host.load_plugin()
        .expect_err("must refuse while pidgin-otr is loaded");
    // The user is told why, in a dialog.
    let notice = host.wait_event("notify", |l| l.get("type") == "error", WAIT);
    assert!(
        notice.get("secondary").contains("pidgin-otr"),
        "{}",
        notice.raw
    );
    let info = host.cmd(&["plugin_info", &Manifest::load().id]);
    assert_eq!(info.int("loaded"), 0);
    // Not the plugin's error field: libpurple would then refuse every later load.
    assert_eq!(info.get("error"), "");

    // Once pidgin-otr is gone the plugin loads, in the same session.
    host.cmd(&["plugin_unload", "otr"]);
    let loaded = host
        .load_plugin()
        .expect("loads once pidgin-otr is unloaded");
    assert_eq!(loaded.int("loaded"), 1);
    assert_eq!(loaded.get("error"), "");
}

#[test]
fn warns_when_pidgin_otr_is_loaded_after_it() {
    let fake = support::host::fake_pidgin_otr();
    let mut host = loaded_host(&[]);
    host.sync();
    assert!(
        !host.events.iter().any(|l| l.name == "notify"),
        "no warning before pidgin-otr loads"
    );
    host.cmd(&["plugin_load", fake.to_str().expect("utf-8 path")]);
    let notice = host.wait_event("notify", |l| l.get("type") == "error", WAIT);
    assert!(
        notice.get("secondary").contains("pidgin-otr"),
        "{}",
        notice.raw
    );
}

#[test]
fn conversation_menu_carries_the_plugin_items() {
    let (_server, mut host) = online_alice(&[]);
    host.cmd(&["conv_open", ALICE, BOB]);
    let menu = host.cmd(&["conv_menu", ALICE, BOB]);
    assert_eq!(plugin_items(&menu.all("item")), MENU_ITEMS.to_vec());

    // Not private yet: the action explains what it needs instead of doing nothing.
    host.cmd(&["conv_menu_invoke", ALICE, BOB, "Verify fingerprint"]);
    let line = host.wait_conv_line(ALICE, BOB, "Verifying needs a private conversation", WAIT);
    assert_ne!(line.int("flags") & flags::SYSTEM, 0);

    let missing = host.try_cmd(&["conv_menu_invoke", ALICE, BOB, "No such item"]);
    assert!(missing.is_err());
}

#[test]
fn buddy_and_contact_menus_carry_the_plugin_items() {
    let (_server, mut host) = online_alice(&[]);
    host.cmd(&["buddy_add", ALICE, BOB]);
    for node in ["buddy", "contact"] {
        let menu = host.cmd(&["blist_menu", ALICE, BOB, node]);
        assert_eq!(
            plugin_items(&menu.all("item")),
            BLIST_ITEMS.to_vec(),
            "{node} row"
        );
    }
    // Finch's contact row: the action lands in the conversation with the priority buddy.
    host.cmd(&[
        "blist_menu_invoke",
        ALICE,
        BOB,
        "contact",
        "Authenticate buddy",
    ]);
    host.wait_conv_line(
        ALICE,
        BOB,
        "Authenticating needs a private conversation",
        WAIT,
    );
    host.cmd(&[
        "blist_menu_invoke",
        ALICE,
        BOB,
        "buddy",
        "End private conversation",
    ]);
    host.wait_conv_line(ALICE, BOB, "This conversation is not private", WAIT);
}

#[test]
fn otr_help_answers_in_the_conversation() {
    let (_server, mut host) = online_alice(&[]);
    host.cmd(&["conv_open", ALICE, BOB]);
    let done = host.cmd(&["conv_cmd", ALICE, BOB, "/otr help"]);
    assert_eq!(done.int("status"), CMD_STATUS_OK);
    let help = host.wait_conv_line(ALICE, BOB, "smp", WAIT);
    assert_ne!(help.int("flags") & flags::SYSTEM, 0);
    for sub in [
        "help",
        "start",
        "end",
        "refresh",
        "status",
        "fingerprint",
        "verify",
        "smp",
    ] {
        assert!(
            help.get("text").contains(sub),
            "help lacks {sub}: {}",
            help.get("text")
        );
    }

    // The first start of an account without a key makes one first, and says so.
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr start"]);
    host.wait_conv_line(ALICE, BOB, "Creating your private key", WAIT);

    // Unknown subcommands say so; markup in them is escaped, not rendered.
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr <b>bogus</b>"]);
    let unknown = host.wait_conv_line(ALICE, BOB, "Unknown command", WAIT);
    assert!(
        unknown.get("text").contains("&lt;b&gt;bogus"),
        "{}",
        unknown.raw
    );

    // Nothing typed as a command went out as a message.
    assert!(!host
        .conv_lines(ALICE, BOB)
        .iter()
        .any(|(f, _)| f & flags::SEND != 0));
}

#[test]
fn load_unload_load() {
    let (_server, mut host) = online_alice(&[]);
    host.cmd(&["buddy_add", ALICE, BOB]);
    host.cmd(&["conv_open", ALICE, BOB]);
    let id = Manifest::load().id;

    for round in 0..2 {
        host.cmd(&["plugin_unload", &id]);
        assert_eq!(host.cmd(&["plugin_info", &id]).int("loaded"), 0);
        // Everything is gone: no command, no menu items.
        let cmd = host.cmd(&["conv_cmd", ALICE, BOB, "/otr help"]);
        assert_eq!(cmd.int("status"), CMD_STATUS_NOT_FOUND, "round {round}");
        assert!(plugin_items(&host.cmd(&["conv_menu", ALICE, BOB]).all("item")).is_empty());
        assert!(
            plugin_items(&host.cmd(&["blist_menu", ALICE, BOB, "contact"]).all("item")).is_empty()
        );

        host.load_plugin().expect("reload");
        // Exactly one set of items and one /otr: nothing was left connected twice.
        assert_eq!(
            plugin_items(&host.cmd(&["conv_menu", ALICE, BOB]).all("item")),
            MENU_ITEMS.to_vec()
        );
        assert_eq!(
            plugin_items(&host.cmd(&["blist_menu", ALICE, BOB, "buddy"]).all("item")),
            BLIST_ITEMS.to_vec()
        );
        let before = host.conv_lines(ALICE, BOB).len();
        assert_eq!(
            host.cmd(&["conv_cmd", ALICE, BOB, "/otr help"])
                .int("status"),
            CMD_STATUS_OK
        );
        let after = host.conv_lines(ALICE, BOB);
        let helps = after[before..]
            .iter()
            .filter(|(_, t)| t.contains("smp"))
            .count();
        assert_eq!(helps, 1, "round {round}: one answer per /otr help");
    }
}

#[test]
fn a_panicking_handler_does_not_kill_the_client() {
    let (_server, mut host) = online_alice(&[("PURPLE_OTR_TEST_PANIC", "1")]);
    host.cmd(&["conv_open", ALICE, BOB]);
    let done = host.cmd(&["conv_cmd", ALICE, BOB, "/otr __panic"]);
    // Handled (so the text is not sent as a message) ...
    assert_eq!(done.int("status"), CMD_STATUS_OK);
    // ... the user is told ...
    let notice = host.wait_conv_line(ALICE, BOB, "internal error", WAIT);
    assert_ne!(notice.int("flags") & flags::ERROR, 0, "{}", notice.raw);
    // ... and the client and the plugin keep working.
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr help"]);
    host.wait_conv_line(ALICE, BOB, "smp", WAIT);
    assert!(
        host.stderr().contains("test-only panic"),
        "the panic is reported on stderr by Rust's hook"
    );
}

#[test]
fn the_panic_trigger_is_off_by_default() {
    let (_server, mut host) = online_alice(&[]);
    host.cmd(&["conv_open", ALICE, BOB]);
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr __panic"]);
    host.wait_conv_line(ALICE, BOB, "Unknown command", WAIT);
    assert!(!host
        .conv_lines(ALICE, BOB)
        .iter()
        .any(|(_, t)| t.contains("internal error")));
}

/// The host's request UI (what later OTR dialogs will use) reports a dialog, lets a test
/// fill it in and answer it: here libpurple's password prompt for an account saved
/// without one.
#[test]
fn host_answers_request_dialogs() {
    let server = Prosody::alice_and_bob();
    let mut host = loaded_host(&[]);
    let port = server.port.to_string();
    host.cmd(&["account_add", ALICE, "", "127.0.0.1", &port]);
    host.cmd(&["account_connect", ALICE]);
    let request = host.wait_event("request", |l| l.get("kind") == "fields", WAIT);
    assert_eq!(request.get("account"), ALICE);
    assert!(
        request.all("field").contains(&"password".to_owned()),
        "{}",
        request.raw
    );
    // Not signed on while the question is open.
    assert!(host.try_cmd(&["wait_signed_on", ALICE, "300"]).is_err());
    assert!(host
        .try_cmd(&["request_field", request.get("id"), "no-such-field", "x"])
        .is_err());

    host.cmd(&[
        "request_field",
        request.get("id"),
        "password",
        server.password("alice"),
    ]);
    host.cmd(&["request_answer", request.get("id"), "0"]);
    host.wait_event("request_closed", |l| l.get("id") == request.get("id"), WAIT);
    host.cmd(&["wait_signed_on", ALICE, "20000"]);
}

#[test]
fn pidgin_otr_settings_are_taken_over() {
    // A user coming from pidgin-otr: OTR enabled but not automatic (libotr's MANUAL), and
    // "don't log OTR conversations" off; a buddy with its own override (always).
    let prefs = "<?xml version='1.0' encoding='UTF-8' ?>\n<pref version='1' name='/'>\n\
        <pref name='OTR'>\n\
        <pref name='enabled' type='bool' value='1'/>\n\
        <pref name='automatic' type='bool' value='0'/>\n\
        <pref name='onlyprivate' type='bool' value='0'/>\n\
        <pref name='avoidloggingotr' type='bool' value='0'/>\n\
        </pref>\n</pref>\n";
    let mut host = Host::start_wrapped("prefs", &[], &[], |dir| {
        std::fs::write(dir.join("prefs.xml"), prefs).expect("prefs.xml");
    });
    host.load_plugin().expect("loads");
    assert_eq!(host.quit_and_wait(WAIT).map(|s| s.success()), Some(true));
    let saved = std::fs::read_to_string(host.user_dir().join("prefs.xml")).expect("saved prefs");
    let ours = &saved[saved.find("name='purple-otr'").expect("our prefs saved")..];
    assert!(
        ours.contains("name='policy' type='string' value='manual'"),
        "{ours}"
    );
    assert!(
        ours.contains("name='avoid_logging' type='bool' value='0'"),
        "{ours}"
    );
    assert!(
        ours.contains("name='imported_pidgin_otr' type='bool' value='1'"),
        "{ours}"
    );
}

/// A panic while an outgoing message is handled: the message is withheld (nothing crosses
/// the wire), the user sees it quoted as not sent, and the client keeps working.
#[test]
fn a_panic_on_the_send_path_fails_closed() {
    let server = Prosody::alice_and_bob();
    let proxy = support::proxy::Proxy::start(server.port);
    let mut host = loaded_host(&[("PURPLE_OTR_TEST_PANIC", "1")]);
    host.connect_xmpp(ALICE, server.password("alice"), proxy.port);
    host.cmd(&["conv_open", ALICE, BOB]);
    let secret = "my-secret-words __purple_otr_test_panic_send__";
    host.cmd(&["send_im", ALICE, BOB, secret]);
    let notice = host.wait_conv_line(ALICE, BOB, "Not sent", WAIT);
    assert!(
        notice.get("text").contains("my-secret-words"),
        "{}",
        notice.raw
    );
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr help"]);
    host.wait_conv_line(ALICE, BOB, "smp", WAIT);
    host.sync();
    let wire = proxy.recorded();
    assert!(
        !wire.contains("my-secret-words"),
        "the message crossed the wire"
    );
    // The same path without the trigger does send (the proxy sees plain text here: the
    // default policy is opportunistic and no private conversation was ever started).
    host.cmd(&["send_im", ALICE, BOB, "ordinary words"]);
    let deadline = std::time::Instant::now() + WAIT;
    while !proxy.recorded().contains("ordinary words") {
        assert!(
            std::time::Instant::now() < deadline,
            "the ordinary message never left"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A buddy with their own "always" setting leaves the buddy list: the setting stays in
/// effect (the user is told), so the next message is held, never sent in the clear.
#[test]
fn a_removed_buddys_always_setting_stays_in_effect() {
    let server = Prosody::alice_and_bob();
    let proxy = support::proxy::Proxy::start(server.port);
    let mut host = loaded_host(&[]);
    host.connect_xmpp(ALICE, server.password("alice"), proxy.port);
    host.cmd(&["buddy_add", ALICE, BOB]);
    host.cmd(&["conv_open", ALICE, BOB]);
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr policy always"]);
    host.wait_conv_line(ALICE, BOB, "Always", WAIT);
    host.cmd(&["buddy_remove", ALICE, BOB]);
    host.wait_conv_line(ALICE, BOB, "stays in effect", WAIT);
    host.cmd(&["send_im", ALICE, BOB, "only-privately-please"]);
    host.wait_conv_line(ALICE, BOB, "waiting, not sent", WAIT);
    // Give a wrongly sent message time to cross the proxy.
    std::thread::sleep(Duration::from_millis(500));
    let wire = proxy.recorded();
    assert!(
        !wire.contains("only-privately-please"),
        "sent in the clear after the buddy left the list"
    );
    assert!(
        wire.contains("?OTRv"),
        "a private conversation is asked for"
    );
}
