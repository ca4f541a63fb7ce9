//! The plugin speaks the user's language: installed the way `make install` installs it for
//! one user (~/.purple/plugins/purple-otr.so with its catalogues in
//! purple-otr/locale/<lang>/LC_MESSAGES/ next to it), loaded into the headless libpurple
//! host, it answers `/otr status` and `/otr help` in German under LANG=de_DE.UTF-8 (and
//! under LANGUAGE=de), and in English without either.
//!
//! Run: `cargo test --test i18n_plugin` (needs msgfmt from gettext, and the `locales`
//! package's de_DE definition for localedef; as root inside `unshare -n`, see the Makefile).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::host::{flags, plugin_path, Host, TempDir};
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost";

/// A per-user plugin directory as `make install` lays it out, German catalogue included.
fn installed_plugin(dir: &Path) -> PathBuf {
    let plugins = dir.join("plugins");
    let so = plugins.join("purple-otr.so");
    fs::create_dir_all(&plugins).expect("plugin dir");
    fs::copy(plugin_path(), &so).expect("copy the plugin");
    let mo_dir = plugins.join("purple-otr/locale/de/LC_MESSAGES");
    fs::create_dir_all(&mo_dir).expect("locale dir");
    let po = Path::new(env!("CARGO_MANIFEST_DIR")).join("po/de.po");
    let status = Command::new("msgfmt")
        .arg("--check")
        .arg("-o")
        .arg(mo_dir.join("purple-otr.mo"))
        .arg(&po)
        .status()
        .expect("msgfmt not found: apt-get install gettext (make test-deps)");
    assert!(status.success(), "msgfmt --check po/de.po failed");
    so
}

/// de_DE.UTF-8 compiled into a private directory (LOCPATH), so the test needs no
/// system-wide locale generation; only the `locales` package's definitions.
fn german_locale(dir: &Path) -> PathBuf {
    let locales = dir.join("locales");
    fs::create_dir_all(&locales).expect("locales dir");
    let out = Command::new("localedef")
        .args(["-i", "de_DE", "-f", "UTF-8"])
        .arg(locales.join("de_DE.UTF-8"))
        .output()
        .expect("localedef (libc-bin)");
    // localedef exits 1 for mere warnings; the compiled locale is what counts.
    assert!(
        locales.join("de_DE.UTF-8").join("LC_MESSAGES").exists(),
        "localedef -i de_DE -f UTF-8 failed (apt-get install locales): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    locales
}

/// alice signed on with the plugin from `so`, `/otr status` and `/otr help` typed in a
/// conversation with bob: what the plugin answered (status, help).
fn answers(server: &Prosody, so: &Path, label: &str, env: &[(&str, &str)]) -> (String, String) {
    let mut host = Host::start(label, env);
    if let Err(e) = host.try_cmd(&["plugin_load", so.to_str().expect("utf-8 path")]) {
        panic!("plugin did not load: {}", e.get("reason"));
    }
    host.connect_xmpp(ALICE, server.password("alice"), server.port);
    host.cmd(&["conv_open", ALICE, BOB]);
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr status"]);
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr help"]);
    host.sync();
    let lines: Vec<String> = host
        .conv_lines(ALICE, BOB)
        .into_iter()
        .filter(|(f, _)| f & flags::SYSTEM != 0)
        .map(|(_, t)| t)
        .collect();
    let status = lines
        .iter()
        .find(|t| t.contains(BOB))
        .cloned()
        .unwrap_or_else(|| panic!("no status answer: {lines:?}"));
    let help = lines
        .iter()
        .find(|t| t.contains("send-held"))
        .cloned()
        .unwrap_or_else(|| panic!("no help answer: {lines:?}"));
    (status, help)
}

#[test]
fn the_plugin_answers_in_the_users_language() {
    let dir = TempDir::new("i18n-plugin");
    let so = installed_plugin(dir.path());
    let locpath = german_locale(dir.path());
    let locpath = locpath.to_str().expect("utf-8 path");
    let server = Prosody::alice_and_bob();

    // LANG=de_DE.UTF-8 (LC_ALL and LANGUAGE empty: not set).
    let (status, help) = answers(
        &server,
        &so,
        "de-lang",
        &[
            ("LOCPATH", locpath),
            ("LANG", "de_DE.UTF-8"),
            ("LC_ALL", ""),
            ("LC_MESSAGES", ""),
            ("LANGUAGE", ""),
        ],
    );
    assert_eq!(
        status,
        format!("Nicht privat: Nachrichten an {BOB} werden unverschlüsselt gesendet.")
    );
    assert!(
        help.starts_with("Off-the-Record-Befehle (/otr &lt;Befehl&gt; eingeben):"),
        "{help}"
    );
    assert!(
        help.contains("send-held \u{2014} wartende Nachrichten senden"),
        "{help}"
    );

    // LANGUAGE=de in a locale without its own translations (C.UTF-8, what CI has).
    let (status, _) = answers(
        &server,
        &so,
        "de-language",
        &[("LC_ALL", "C.UTF-8"), ("LANGUAGE", "de")],
    );
    assert!(status.starts_with("Nicht privat: "), "{status}");

    // The same plugin and catalogues, nothing asking for German: English.
    let (status, help) = answers(
        &server,
        &so,
        "en",
        &[("LC_ALL", "C.UTF-8"), ("LANGUAGE", "")],
    );
    assert_eq!(
        status,
        format!("Not private: messages to {BOB} are sent unencrypted.")
    );
    assert!(
        help.starts_with("Off-the-Record commands (type /otr &lt;command&gt;):"),
        "{help}"
    );
}
