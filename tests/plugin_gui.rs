//! The plugin as a person sees it: in Finch's plugin list (a real Finch under tmux, read
//! with capture-pane) and in Pidgin's plugin dialog (a real Pidgin under Xvfb, driven with
//! xdotool, photographed with ImageMagick's `import`).
//!
//! Run: `cargo test --test plugin_gui` (as root inside `unshare -n`, see the Makefile).
//! Needs tmux, finch, pidgin, xvfb, xdotool, xauth and imagemagick (installed by .ci/run).
//! The Pidgin screenshot is written to target/tmp/screenshots/pidgin-plugins.png; with
//! PURPLE_OTR_UPDATE_SCREENSHOTS=1 it also replaces docs/screenshots/pidgin-plugins.png.

mod support;

use support::gui;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use gui::{find_window, squash, start_xvfb, wait_until, wait_until_opt, xdotool, Killed, Tmux};
use support::host::{plugin_path, Manifest, TempDir};

const NAME_IN_LISTS: &str = "Off-the-Record Messaging";

fn client_dir(prefix: &str, ui: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(prefix);
    let plugins = dir.path().join("plugins");
    fs::create_dir_all(&plugins).expect("plugins dir");
    let so = plugins.join("purple-otr.so");
    fs::copy(plugin_path(), &so).expect("copy plugin");
    fs::write(
        dir.path().join("accounts.xml"),
        "<?xml version='1.0' encoding='UTF-8' ?>\n<account version='1.0'>\n <account>\n  \
         <protocol>prpl-jabber</protocol>\n  <name>nobody@localhost/gui-test</name>\n </account>\n</account>\n",
    )
    .expect("accounts.xml");
    fs::write(
        dir.path().join("prefs.xml"),
        format!(
            "<?xml version='1.0' encoding='UTF-8' ?>\n<pref version='1' name='/'>\n <pref name='{ui}'>\n  \
             <pref name='plugins'>\n   <pref name='loaded' type='pathlist'>\n    <item value='{}'/>\n   \
             </pref>\n  </pref>\n </pref>\n</pref>\n",
            so.display()
        ),
    )
    .expect("prefs.xml");
    (dir, so)
}

// --- Finch under tmux -------------------------------------------------------------------

/// Rows of a gnt list (lines starting with "│[ ]" / "│[X]"), trimmed after the label.
fn list_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter_map(|l| l.strip_prefix('│'))
        .filter(|l| l.starts_with('['))
        .map(|l| {
            l.split('▒')
                .next()
                .unwrap_or(l)
                .split('│')
                .next()
                .unwrap_or(l)
                .trim_end()
                .to_owned()
        })
        .collect()
}

/// The details pane of Finch's plugin window (right of the list), its lines joined.
fn details_pane(screen: &str) -> String {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    // The pane starts after the list's right border: the second '│' of a row line.
    let start = lines
        .iter()
        .filter(|l| l.get(1) == Some(&'[') && l.iter().filter(|c| **c == '│').count() >= 3)
        .find_map(|l| {
            l.iter()
                .enumerate()
                .filter(|(_, c)| **c == '│')
                .nth(1)
                .map(|(i, _)| i + 1)
        })
        .unwrap_or(0);
    let mut text = String::new();
    for l in lines
        .iter()
        .filter(|l| l.get(1) == Some(&'[') && l.len() > start + 2)
    {
        let pane: String = l[start..l.len() - 2].iter().collect();
        text.push_str(pane.trim_end());
        text.push(' ');
    }
    text
}

#[test]
fn finch_lists_the_plugin() {
    let manifest = Manifest::load();
    let (dir, _so) = client_dir("finch", "finch");
    let tmux = Tmux::start(
        "finch",
        &format!(
            "env DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/purple-otr-test-bus finch -c '{}'",
            dir.path().display()
        ),
    );
    tmux.wait_for("Finch's buddy list", |s| s.contains("Buddy List"));

    // Actions menu (Alt+A), then down to "Plugins".
    let menu = (0..5)
        .find_map(|_| {
            tmux.send("M-a", false);
            wait_until_opt(Duration::from_secs(3), || {
                let s = tmux.screen();
                s.contains("Actions").then_some(s)
            })
        })
        .expect("the Actions menu opens on Alt+A");
    let entries: Vec<String> = menu
        .lines()
        .skip_while(|l| !l.contains("Actions"))
        .skip(1)
        .filter_map(|l| l.strip_prefix('│'))
        .map(|l| {
            l.trim_end_matches('│')
                .trim_end_matches('▒')
                .trim()
                .to_owned()
        })
        .take_while(|l| !l.is_empty())
        .collect();
    let index = entries
        .iter()
        .position(|e| e == "Plugins")
        .expect("Actions menu has Plugins");
    tmux.down(index);
    tmux.send("Enter", false);
    let screen = tmux.wait_for("the Plugins window", |s| {
        s.contains("load plugins from the following list")
    });

    // The plugin is listed, ticked (Finch loaded it from its pref at start-up).
    let rows = list_rows(&screen);
    let row = rows
        .iter()
        .position(|r| r.ends_with(NAME_IN_LISTS))
        .unwrap_or_else(|| panic!("not listed:\n{screen}"));
    assert!(
        rows[row].starts_with("[X]"),
        "not enabled: {:?}\n{screen}",
        rows[row]
    );

    // Select it: the details pane shows its description, author and file.
    tmux.down(row);
    let screen = tmux.wait_for("the plugin's details", |s| s.contains("purple-otr.so"));
    let details = squash(&details_pane(&screen));
    let first_sentence = manifest.description.split(':').next().expect("description");
    assert!(
        details.contains(&squash(first_sentence)),
        "description missing from {details:?}:\n{screen}"
    );
    assert!(
        details.contains(&squash(&format!("Author: {}", manifest.author))),
        "author missing:\n{screen}"
    );
    // Finch's plugin window shows no summary (Pidgin's dialog does: see below); the name,
    // version and summary libpurple reports are checked in plugin_host.rs.
}

// --- Pidgin under Xvfb ------------------------------------------------------------------

#[test]
fn pidgin_shows_the_plugin_in_its_plugin_dialog() {
    let manifest = Manifest::load();
    let (dir, _so) = client_dir("pidgin", "pidgin");
    let (_xvfb, display) = start_xvfb();
    let log_path = dir.path().join("pidgin.log");
    let log = fs::File::create(&log_path).expect("pidgin log");
    let _pidgin = Killed(
        gui::set_test_locale(&mut Command::new("pidgin"))
            .arg("-d") // debug log on stdout: shows our plugin loading
            .arg("-c")
            .arg(dir.path())
            .env("DISPLAY", &display)
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/purple-otr-test-bus",
            )
            .env("HOME", dir.path())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pidgin ({e}): apt-get install pidgin")),
    );

    let blist = wait_until("Pidgin's buddy list", Duration::from_secs(30), || {
        find_window(&display, "^Buddy List$")
    });
    // Pidgin loaded the plugin from its pref, like a user's ticked box.
    let pidgin_log = wait_until(
        "the plugin loading in Pidgin",
        Duration::from_secs(10),
        || {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            log.contains("purple-otr: loaded").then_some(log)
        },
    );
    assert!(!pidgin_log.contains("refusing to load"), "{pidgin_log}");

    // Tools -> Plugins is Ctrl+U in the buddy list. No window manager: focus by hand, and
    // retry in case the first key press beats the window's mapping.
    let plugins = wait_until("the Plugins dialog", Duration::from_secs(30), || {
        xdotool(&display, &["windowfocus", "--sync", &blist]);
        xdotool(&display, &["key", "--clearmodifiers", "ctrl+u"]);
        std::thread::sleep(Duration::from_millis(500));
        find_window(&display, "^Plugins$")
    });
    xdotool(&display, &["windowmove", &plugins, "0", "0"]);
    xdotool(&display, &["windowsize", &plugins, "1024", "768"]);
    std::thread::sleep(Duration::from_millis(500));
    xdotool(&display, &["windowfocus", "--sync", &plugins]);
    // The list's type-ahead search selects (and scrolls to) our row.
    xdotool(&display, &["type", "--delay", "40", NAME_IN_LISTS]);
    std::thread::sleep(Duration::from_millis(1200));

    let shots = support::host::scratch_dir().join("screenshots");
    fs::create_dir_all(&shots).expect("screenshot dir");
    let shot = shots.join("pidgin-plugins.png");
    let out = Command::new("import")
        .args(["-window", "root"])
        .arg(&shot)
        .env("DISPLAY", &display)
        .output()
        .unwrap_or_else(|e| panic!("cannot run import ({e}): apt-get install imagemagick"));
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_screenshot(&shot);
    if std::env::var_os("PURPLE_OTR_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        fs::create_dir_all(&docs).expect("docs/screenshots");
        fs::copy(&shot, docs.join("pidgin-plugins.png")).expect("update docs screenshot");
    }
    // The summary shown under the name in that dialog comes from the manifest.
    assert!(!manifest.summary.is_empty());
}

/// A real picture of the screen: a 1024x768 PNG with many colours (text, icons), not a
/// blank frame.
fn check_screenshot(shot: &Path) {
    let out = Command::new("identify")
        .args(["-format", "%m %w %h %k"])
        .arg(shot)
        .output()
        .unwrap_or_else(|e| panic!("cannot run identify ({e}): apt-get install imagemagick"));
    let info = String::from_utf8_lossy(&out.stdout).into_owned();
    let parts: Vec<&str> = info.split_whitespace().collect();
    assert_eq!(parts.get(..3), Some(&["PNG", "1024", "768"][..]), "{info}");
    let colours: u32 = parts.get(3).and_then(|c| c.parse().ok()).unwrap_or(0);
    assert!(colours > 50, "screenshot looks blank ({colours} colours)");
}
