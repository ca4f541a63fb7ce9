//! The OTR button and menu in a real Pidgin (under Xvfb, driven with xdotool), through
//! every state a user meets: alice is Pidgin with our plugin, bob the headless host with
//! our plugin, both on a throwaway prosody.
//!
//! What is checked is what GTK shows: the debug build of the plugin, given
//! PURPLE_OTR_TEST_UI_PROBE=<file>, appends the text it reads back from the live label
//! (`gtk_label_get_text`) after every update, and the first line of the rebuilt menus.
//! The test waits for: not private → private (not verified) → private (verified, after an
//! SMP run alice asked for) → finished (bob ended) → not private (alice ended), and
//! photographs the window in each state and with each menu open.
//!
//! Run: `cargo test --test pidgin_ui_states` (as root inside `unshare -n`, see the Makefile).
//! Screenshots go to target/tmp/screenshots/; with PURPLE_OTR_UPDATE_SCREENSHOTS=1 they also
//! replace docs/screenshots/pidgin-otr-*.png (cropped to the window, stripped).

mod support;

use support::gui;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gui::{
    client_dir, find_window, shots_dir, start_xvfb, wait_until, xdotool, Killed, XmppAccount,
    NO_BUS,
};
use support::host::Host;
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/pidgin";
const BOB: &str = "bob@localhost/laptop";
const WAIT: Duration = Duration::from_secs(40);
/// The conversation window is moved to the corner and sized so crops are simple.
const WIN_W: u32 = 800;
const WIN_H: u32 = 460;

fn bob(server: &Prosody) -> Host {
    bob_with(server, false)
}

/// Bob's host; `modern`: the post-quantum upgrade setting.
fn bob_with(server: &Prosody, modern: bool) -> Host {
    let mut bob = Host::start("bob-ui", &[]);
    let key = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr/bob.private_key"),
    )
    .expect("bob's key fixture")
    .replace("bob@localhost/peer", BOB);
    fs::write(bob.user_dir().join("otr.private_key"), key).expect("bob's key file");
    bob.load_plugin().expect("plugin loads in bob's host");
    // Off: OTR v3, whose labels are pidgin-otr's (the post-quantum upgrade, on by default
    // between our plugins, has its own test).
    let on = if modern { "1" } else { "0" };
    bob.cmd(&["pref_set", "/plugins/core/purple-otr/modern", "bool", on]);
    bob.connect_xmpp(BOB, server.password("bob"), server.port);
    bob
}

/// The probe's lines of one kind ("button", "menu", "popup", "where") for bob.
fn probed(probe: &Path, kind: &str) -> Vec<String> {
    fs::read_to_string(probe)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            (parts.next() == Some(kind) && parts.next() == Some("bob@localhost"))
                .then(|| parts.next().unwrap_or("").to_owned())
        })
        .collect()
}

fn wait_label(probe: &Path, label: &str) {
    wait_until(&format!("the button to read {label:?}"), WAIT, || {
        (probed(probe, "button").last().map(String::as_str) == Some(label)).then_some(())
    });
}

/// A screenshot of the conversation window's corner of the screen (menus included),
/// stripped of metadata; taken once two shots in a row are alike (GTK paints late).
fn shot(display: &str, name: &str) -> PathBuf {
    raise(display);
    shot_sized(display, name, WIN_W, WIN_H)
}

/// No window manager: put the conversation window on top of whatever Pidgin raised (not
/// while a menu is open: the window would cover it).
fn raise(display: &str) {
    if let Some(conv) = find_window(display, "^bob$") {
        xdotool(display, &["windowraise", &conv]);
    }
}

fn shot_sized(display: &str, name: &str, w: u32, h: u32) -> PathBuf {
    let path = shots_dir().join(name);
    fs::create_dir_all(path.parent().expect("dir")).expect("screenshot dir");
    let crop = format!("{w}x{h}+0+0");
    let take = |to: &Path| {
        let out = Command::new("import")
            .args(["-window", "root", "-crop", &crop, "+repage", "-strip"])
            .arg(to)
            .env("DISPLAY", display)
            .output()
            .expect("import (apt-get install imagemagick)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let previous = path.with_extension("previous.png");
    take(&previous);
    wait_until("the screen to settle", WAIT, || {
        std::thread::sleep(Duration::from_millis(300));
        take(&path);
        // A blinking text cursor (one thin line) is not a change.
        if gui::pixels_differing(&previous, &path) < 40 {
            return Some(());
        }
        fs::copy(&path, &previous).expect("keep the last screenshot");
        None
    });
    let _ = fs::remove_file(previous);
    let info = gui::identify(&path, "%m %w %h %k");
    let parts: Vec<&str> = info.split_whitespace().collect();
    let (w, h) = (w.to_string(), h.to_string());
    assert_eq!(
        parts.get(..3),
        Some(&["PNG", w.as_str(), h.as_str()][..]),
        "{info}"
    );
    let colours: u32 = parts.get(3).and_then(|c| c.parse().ok()).unwrap_or(0);
    assert!(colours > 50, "{name} looks blank ({colours} colours)");
    if std::env::var_os("PURPLE_OTR_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        fs::create_dir_all(&docs).expect("docs/screenshots");
        // 128 colours are plenty for a GTK 2 window and halve the file.
        let out = Command::new("convert")
            .arg(&path)
            .args(["-strip", "-colors", "128"])
            .arg(format!("PNG8:{}", docs.join(name).display()))
            .output()
            .expect("convert (apt-get install imagemagick)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    path
}

/// Waits for one more of our menus to pop up than the `shown` seen before.
fn wait_menu_open(probe: &Path, shown: usize) {
    wait_until("an OTR menu to open", WAIT, || {
        (probed(probe, "shown").len() > shown).then_some(())
    });
}

fn configure_dialog(display: &str) {
    let list = find_window(display, "^Buddy List$").expect("the buddy list");
    xdotool(display, &["windowmove", &list, "0", "0"]);
    xdotool(display, &["windowraise", &list]);
    xdotool(display, &["windowfocus", "--sync", &list]);
    xdotool(display, &["key", "ctrl+u"]);
    let plugins = wait_until("the Plugins dialog", WAIT, || {
        find_window(display, "^Plugins$")
    });
    xdotool(display, &["windowmove", &plugins, "0", "0"]);
    xdotool(display, &["windowraise", &plugins]);
    xdotool(display, &["windowfocus", "--sync", &plugins]);
    // Type-ahead in the list finds our row; then the Configure button.
    xdotool(display, &["type", "--delay", "40", "Off-the"]);
    std::thread::sleep(Duration::from_millis(400));
    xdotool(display, &["key", "Escape"]);
    std::thread::sleep(Duration::from_millis(400));
    // "Configure Plugin" (no mnemonic): its place in the dialog's button row.
    xdotool(
        display,
        &[
            "mousemove",
            "--window",
            &plugins,
            "208",
            "505",
            "click",
            "1",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    shot_sized(display, "pidgin-otr-configure.png", 440, 540);
    // Its Close button (where the picture shows it).
    xdotool(display, &["mousemove", "367", "463", "click", "1"]);
    std::thread::sleep(Duration::from_millis(500));
}

/// Disables and enables the plugin in the Plugins dialog (left open by `configure_dialog`,
/// our row selected) by clicking its checkbox: the button goes and comes back, and Pidgin
/// keeps running.
fn toggle_plugin(display: &str, probe: &Path, pidgin: &mut std::process::Child) {
    let plugins = find_window(display, "^Plugins$").expect("the Plugins dialog");
    let click = || {
        xdotool(display, &["windowraise", &plugins]);
        xdotool(
            display,
            &["mousemove", "--window", &plugins, "45", "245", "click", "1"],
        );
    };
    let removed = probed(probe, "removed").len();
    let buttons = probed(probe, "button").len();
    click();
    wait_until("the button to be taken out", WAIT, || {
        (probed(probe, "removed").len() > removed).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        pidgin.try_wait().expect("pidgin").is_none(),
        "Pidgin died on unload"
    );
    click();
    wait_until("the button to come back", WAIT, || {
        probed(probe, "button")[buttons..]
            .iter()
            .any(|l| l == "Not private")
            .then_some(())
    });
    assert!(
        pidgin.try_wait().expect("pidgin").is_none(),
        "Pidgin died on reload"
    );
}

/// Escape until every menu that popped up is down again (GTK's own show/hide of the menu
/// widget, reported by the probe).
fn close_menu(display: &str, probe: &Path) {
    wait_until("the menu to close", WAIT, || {
        xdotool(display, &["key", "Escape"]);
        std::thread::sleep(Duration::from_millis(300));
        (probed(probe, "hidden").len() >= probed(probe, "shown").len()).then_some(())
    });
}

fn type_line(display: &str, conv: &str, line: &str) {
    xdotool(display, &["windowfocus", "--sync", conv]);
    xdotool(display, &["type", "--delay", "25", line]);
    xdotool(display, &["key", "Return"]);
}

#[test]
fn pidgin_button_and_menu_follow_every_state() {
    let started = Instant::now();
    let server = Prosody::alice_and_bob();
    let mut bob = bob(&server);
    let dir = client_dir(
        "pidgin-ui",
        "pidgin",
        "gtk-gaim",
        &XmppAccount {
            jid: ALICE,
            password: server.password("alice"),
            port: server.port,
            buddies: &["bob@localhost"],
        },
    );
    // The icons where `make install` puts them: next to the plugin.
    let icons = dir.path().join("plugins/purple-otr/icons");
    fs::create_dir_all(&icons).expect("icons dir");
    for entry in fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("icons")).expect("icons/")
    {
        let path = entry.expect("icon").path();
        if path.extension().is_some_and(|e| e == "png") {
            fs::copy(&path, icons.join(path.file_name().expect("name"))).expect("copy icon");
        }
    }
    // The buddy list below the pictures' area: no window manager stacks windows here, and
    // Pidgin puts it back where its prefs say whenever it shows it.
    let prefs = dir.path().join("prefs.xml");
    let text = fs::read_to_string(&prefs).expect("prefs.xml");
    let blist = "<pref name='blist'><pref name='x' type='int' value='0'/>\
                 <pref name='y' type='int' value='660'/><pref name='width' type='int' value='300'/>\
                 <pref name='height' type='int' value='100'/></pref>";
    let text = text.replacen(
        "<pref name='plugins'>",
        &format!("{blist}<pref name='plugins'>"),
        1,
    );
    assert!(text.contains("name='blist'"), "{text}");
    fs::write(&prefs, text).expect("prefs.xml");
    let probe = dir.path().join("ui-probe.txt");
    let (_xvfb, display) = start_xvfb();
    let log_path = dir.path().join("pidgin.log");
    let log = fs::File::create(&log_path).expect("pidgin log");
    let mut pidgin = Killed(
        Command::new("pidgin")
            .arg("-d")
            .arg("-c")
            .arg(dir.path())
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", NO_BUS)
            .env("HOME", dir.path())
            .env("PURPLE_OTR_TEST_UI_PROBE", &probe)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pidgin ({e}): apt-get install pidgin")),
    );
    let pidgin_log = || fs::read_to_string(&log_path).unwrap_or_default();
    wait_until("the plugin loading in Pidgin", WAIT, || {
        pidgin_log().contains("purple-otr: loaded").then_some(())
    });
    bob.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("alice@localhost"),
        WAIT,
    );
    bob.cmd(&["conv_open", BOB, "alice@localhost"]);
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr policy manual"]);
    bob.cmd(&["send_im", BOB, "alice@localhost", "Hi Alice, it's Bob"]);
    let conv = wait_until("alice's conversation window with bob", WAIT, || {
        find_window(&display, "^bob$")
    });
    xdotool(&display, &["windowmove", &conv, "0", "0"]);
    xdotool(
        &display,
        &["windowsize", &conv, &WIN_W.to_string(), &WIN_H.to_string()],
    );

    // 1. Not private: the button says so from the start, and the window's OTR menu too.
    wait_label(&probe, "Not private");
    wait_until("the OTR menu's state line", WAIT, || {
        probed(&probe, "menu")
            .iter()
            .any(|m| m == "bob@localhost: Not private")
            .then_some(())
    });
    shot(&display, "pidgin-otr-not-private.png");

    // The menu bar's OTR menu (Alt+T), open.
    raise(&display);
    let shown = probed(&probe, "shown").len();
    xdotool(&display, &["windowfocus", "--sync", &conv]);
    xdotool(&display, &["key", "alt+t"]);
    wait_menu_open(&probe, shown);
    shot_sized(&display, "pidgin-otr-menu.png", WIN_W, WIN_H);
    close_menu(&display, &probe);

    // 2. Alice starts from the entry: her first key is made, then keys are exchanged.
    type_line(&display, &conv, "/otr start");
    wait_label(&probe, "Private (not verified)");
    shot(&display, "pidgin-otr-private-unverified.png");

    // Clicking the button opens the same menu, for this state.
    let place: Vec<i64> = probed(&probe, "where")
        .last()
        .expect("the button's place")
        .split('\t')
        .map(|n| n.parse().expect("number"))
        .collect();
    let (x, y, w, h) = (place[0], place[1], place[2], place[3]);
    assert!(w > 20 && h > 10, "button size {w}x{h}");
    raise(&display);
    let popups_before = probed(&probe, "popup").len();
    let shown = probed(&probe, "shown").len();
    xdotool(
        &display,
        &[
            "mousemove",
            "--window",
            &conv,
            &(x + w - 6).to_string(),
            &(y + h / 2).to_string(),
        ],
    );
    xdotool(&display, &["click", "1"]);
    // The pointer away again, or the button's tooltip would be in every later picture.
    xdotool(&display, &["mousemove", "1000", "750"]);
    let popup = wait_until("the button's menu", WAIT, || {
        probed(&probe, "popup").get(popups_before).cloned()
    });
    assert_eq!(popup, "bob@localhost: Private (not verified)");
    wait_menu_open(&probe, shown);
    // The menu opens at the pointer, right of the window's corner.
    shot_sized(&display, "pidgin-otr-button-menu.png", 1024, 640);
    close_menu(&display, &probe);

    // The OTR menu's Verify item opens the Verify dialog: fingerprints as copyable text.
    raise(&display);
    let shown = probed(&probe, "shown").len();
    xdotool(&display, &["windowfocus", "--sync", &conv]);
    xdotool(&display, &["key", "alt+t"]);
    wait_menu_open(&probe, shown);
    xdotool(&display, &["key", "v"]); // _Verify fingerprint…
    let verify = wait_until("the Verify dialog", WAIT, || {
        find_window(&display, "^Verify fingerprint$")
    });
    xdotool(&display, &["windowmove", &verify, "0", "0"]);
    xdotool(&display, &["windowraise", &verify]);
    shot_sized(&display, "pidgin-otr-verify.png", 1024, 240);
    xdotool(&display, &["windowfocus", "--sync", &verify]);
    xdotool(&display, &["key", "Escape"]);
    wait_until("the Verify dialog to close", WAIT, || {
        find_window(&display, "^Verify fingerprint$")
            .is_none()
            .then_some(())
    });

    // 3. Alice authenticates bob with a shared secret; bob answers in his dialog.
    type_line(&display, &conv, "/otr smp the blue boat");
    let request = bob.wait_event("request", |l| l.get("kind") == "fields", WAIT);
    bob.cmd(&[
        "request_field",
        request.get("id"),
        "secret",
        "the blue boat",
    ]);
    bob.cmd(&["request_answer", request.get("id"), "0"]);
    wait_label(&probe, "Private (verified)");
    // Alice, who asked, saw the run in a progress window, read back through GTK.
    let done = "Done: bob@localhost gave the same answer. bob@localhost is verified.";
    wait_until("the progress window's result", WAIT, || {
        probed(&probe, "smp")
            .iter()
            .any(|l| l == done)
            .then_some(())
    });
    let smp = probed(&probe, "smp");
    assert_eq!(
        smp.first().map(String::as_str),
        Some("Waiting for bob@localhost to answer…"),
        "{smp:?}"
    );
    let progress = wait_until("the progress window", WAIT, || {
        find_window(&display, "^Authenticating bob@localhost$")
    });
    xdotool(&display, &["windowmove", &progress, "40", "120"]);
    xdotool(&display, &["windowraise", &progress]);
    shot_sized(&display, "pidgin-otr-smp-progress.png", WIN_W, WIN_H);
    // Close (the run is over: this must not cancel anything).
    xdotool(&display, &["windowfocus", "--sync", &progress]);
    xdotool(&display, &["key", "Escape"]);
    wait_until("the progress window to close", WAIT, || {
        (probed(&probe, "smp").last().map(String::as_str) == Some("(closed)")).then_some(())
    });
    shot(&display, "pidgin-otr-private-verified.png");

    // Another run, cancelled from the progress window: bob is told, alice stays verified.
    type_line(&display, &conv, "/otr smp the red car");
    let first = request.get("id").to_owned();
    bob.wait_event(
        "request",
        move |l| l.get("kind") == "fields" && l.get("id") != first,
        WAIT,
    );
    let progress = wait_until("the progress window", WAIT, || {
        find_window(&display, "^Authenticating bob@localhost$")
    });
    xdotool(&display, &["windowfocus", "--sync", &progress]);
    xdotool(&display, &["key", "Return"]); // the Cancel button has the focus
    bob.wait_event(
        "write_conv",
        |l| {
            l.get("account") == BOB
                && l.get("text")
                    .contains("alice@localhost cancelled the authentication")
        },
        WAIT,
    );
    // Pidgin's main loop may still be closing the window when bob's notice arrives.
    wait_until("the cancelled progress window to close", WAIT, || {
        (probed(&probe, "smp").last().map(String::as_str) == Some("(closed)")).then_some(())
    });
    assert_eq!(
        probed(&probe, "button").last().map(String::as_str),
        Some("Private (verified)")
    );

    // 4. Bob ends: alice is left in Finished (what she types is held).
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr end"]);
    wait_label(&probe, "Finished");
    shot(&display, "pidgin-otr-finished.png");

    // 5. Alice ends too: back to not private, from the OTR menu's End item.
    raise(&display);
    let shown = probed(&probe, "shown").len();
    xdotool(&display, &["windowfocus", "--sync", &conv]);
    xdotool(&display, &["key", "alt+t"]);
    wait_menu_open(&probe, shown);
    xdotool(&display, &["key", "e"]); // _End private conversation
    wait_label(&probe, "Not private");
    shot(&display, "pidgin-otr-ended.png");

    // The whole sequence, as GTK showed it, in order (waiting states may come between).
    let labels = probed(&probe, "button");
    let wanted = [
        "Not private",
        "Private (not verified)",
        "Private (verified)",
        "Finished",
        "Not private",
    ];
    let mut at = 0;
    for label in &labels {
        if at < wanted.len() && label == wanted[at] {
            at += 1;
        }
    }
    assert_eq!(at, wanted.len(), "button labels seen: {labels:?}");
    // The window's menu followed every state too.
    let menus = probed(&probe, "menu");
    for state in &wanted[1..4] {
        let line = format!("bob@localhost: {state}");
        assert!(
            menus.contains(&line),
            "menu never showed {line:?}: {menus:?}"
        );
    }
    // A second conversation opens as a tab in the same window: it gets its own button, and
    // the window's OTR menu follows the active tab (Pidgin's "conversation-switched").
    let list = find_window(&display, "^Buddy List$").expect("the buddy list");
    xdotool(&display, &["windowfocus", "--sync", &list]);
    xdotool(&display, &["key", "ctrl+m"]);
    let ask = wait_until("the New Instant Message dialog", WAIT, || {
        find_window(&display, "^New Instant Message$")
    });
    xdotool(&display, &["windowfocus", "--sync", &ask]);
    xdotool(&display, &["type", "--delay", "25", "carol@localhost"]);
    xdotool(&display, &["key", "Return"]);
    let carol = |kind: &str| -> Vec<String> {
        fs::read_to_string(&probe)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{kind}\tcarol@localhost\t")))
            .map(str::to_owned)
            .collect()
    };
    wait_until("carol's button", WAIT, || {
        carol("button")
            .iter()
            .any(|l| l == "Not private")
            .then_some(())
    });
    wait_until("the window's menu for carol's tab", WAIT, || {
        carol("menu")
            .iter()
            .any(|l| l == "carol@localhost: Not private")
            .then_some(())
    });
    // Back to bob's tab: the menu speaks for bob again.
    let bob_menus = probed(&probe, "menu").len();
    let window = wait_until("the conversation window", WAIT, || {
        find_window(&display, "^(bob|carol@localhost)$")
    });
    xdotool(&display, &["windowfocus", "--sync", &window]);
    xdotool(&display, &["key", "ctrl+Page_Up"]);
    wait_until("the window's menu for bob's tab", WAIT, || {
        (probed(&probe, "menu").len() > bob_menus).then_some(())
    });
    assert_eq!(
        probed(&probe, "menu").last().map(String::as_str),
        Some("bob@localhost: Not private")
    );

    // The plugin's Configure dialog (Tools → Plugins, Ctrl+U in the buddy list): it shows
    // alice's own fingerprint (made above) and where the others are.
    configure_dialog(&display);
    toggle_plugin(&display, &probe, &mut pidgin.0);

    // Inside Pidgin, GTK is there (the other tests check that Finch and a plain host never
    // map it): the check reads the real maps.
    let maps = fs::read_to_string(format!("/proc/{}/maps", pidgin.0.id())).expect("pidgin's maps");
    assert!(maps.contains("libgtk-x11-2.0"), "Pidgin without GTK?");
    eprintln!(
        "pidgin_ui_states: labels {labels:?}; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Between two of our plugins the conversation switches to the post-quantum suite: Pidgin's
/// button and its OTR menu say "Private (post-quantum, …)", read back from GTK, redrawn at
/// the switch and again when SMP over the new suite verifies bob.
#[test]
fn pidgin_button_names_the_post_quantum_suite() {
    let server = Prosody::alice_and_bob();
    let mut bob = bob_with(&server, true);
    let dir = client_dir(
        "pidgin-ui-pq",
        "pidgin",
        "gtk-gaim",
        &XmppAccount {
            jid: ALICE,
            password: server.password("alice"),
            port: server.port,
            buddies: &["bob@localhost"],
        },
    );
    let probe = dir.path().join("ui-probe.txt");
    let (_xvfb, display) = start_xvfb();
    let log_path = dir.path().join("pidgin.log");
    let log = fs::File::create(&log_path).expect("pidgin log");
    let _pidgin = Killed(
        Command::new("pidgin")
            .arg("-d")
            .arg("-c")
            .arg(dir.path())
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", NO_BUS)
            .env("HOME", dir.path())
            .env("PURPLE_OTR_TEST_UI_PROBE", &probe)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pidgin ({e}): apt-get install pidgin")),
    );
    wait_until("the plugin loading in Pidgin", WAIT, || {
        fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains("purple-otr: loaded")
            .then_some(())
    });
    bob.wait_event(
        "buddy_signed_on",
        |l| l.get("buddy").starts_with("alice@localhost"),
        WAIT,
    );
    bob.cmd(&["conv_open", BOB, "alice@localhost"]);
    bob.cmd(&["conv_cmd", BOB, "alice@localhost", "/otr policy manual"]);
    bob.cmd(&["send_im", BOB, "alice@localhost", "Hi Alice, it's Bob"]);
    let conv = wait_until("alice's conversation window with bob", WAIT, || {
        find_window(&display, "^bob$")
    });
    xdotool(&display, &["windowmove", &conv, "0", "0"]);
    xdotool(
        &display,
        &["windowsize", &conv, &WIN_W.to_string(), &WIN_H.to_string()],
    );
    wait_label(&probe, "Not private");
    type_line(&display, &conv, "/otr start");
    let pq = "Private (post-quantum, not verified)";
    wait_label(&probe, pq);
    wait_until("the OTR menu's state line", WAIT, || {
        probed(&probe, "menu")
            .iter()
            .any(|m| *m == format!("bob@localhost: {pq}"))
            .then_some(())
    });
    shot(&display, "pidgin-otr-private-post-quantum.png");
    // SMP inside the new suite, bound to its transcript: bob verified, the label follows.
    type_line(&display, &conv, "/otr smp the blue boat");
    let request = bob.wait_event("request", |l| l.get("kind") == "fields", WAIT);
    bob.cmd(&[
        "request_field",
        request.get("id"),
        "secret",
        "the blue boat",
    ]);
    bob.cmd(&["request_answer", request.get("id"), "0"]);
    wait_label(&probe, "Private (post-quantum, verified)");
    let labels = probed(&probe, "button");
    eprintln!("pidgin post-quantum labels: {labels:?}");
}
