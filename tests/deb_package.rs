//! The installed Debian package (`make deb`): its files are where dpkg says, libpurple finds
//! the plugin in its own plugin directory with an empty ~/.purple (as Pidgin and Finch do at
//! start), and the plugin loaded from there works.
//!
//! It checks the system, so it runs only when asked: as root with PURPLE_OTR_DEB_TEST=1 and
//! the package installed, which `.ci/deb-check` arranges (build, install, this test, purge,
//! check nothing is left). Otherwise it says why and passes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::host::{flags, Host, Manifest};
use support::prosody::Prosody;

const ALICE: &str = "alice@localhost/home";
const BOB: &str = "bob@localhost";

/// stdout of a command that must succeed.
fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Why this run skips the test, if it does.
fn skip_reason() -> Option<&'static str> {
    if std::env::var("PURPLE_OTR_DEB_TEST").as_deref() != Ok("1") {
        return Some("set PURPLE_OTR_DEB_TEST=1 (done by .ci/deb-check)");
    }
    if output("id", &["-u"]).trim() != "0" {
        return Some("needs root");
    }
    None
}

/// Files of the source tree under `dir` whose names end in one of `suffixes`, relative.
fn tree_files(dir: &str, suffixes: &[&str]) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut found = Vec::new();
    let mut todo = vec![root.clone()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if suffixes.iter().any(|s| p.to_string_lossy().ends_with(s)) {
                found.push(p.strip_prefix(&root).expect("under root").to_path_buf());
            }
        }
    }
    found
}

#[test]
fn the_installed_package_is_found_and_works() {
    if let Some(why) = skip_reason() {
        eprintln!("deb_package: skipped: {why}");
        return;
    }
    // Installed, in this version.
    let status = output(
        "dpkg-query",
        &["-W", "-f=${db:Status-Abbrev}|${Version}", "purple-otr"],
    );
    let (abbrev, version) = status.split_once('|').expect("dpkg-query format");
    assert_eq!(abbrev.trim(), "ii", "purple-otr is not installed: {status}");
    assert!(
        version.starts_with(&format!("{}-", Manifest::version())),
        "installed {version}, Cargo.toml says {}",
        Manifest::version()
    );

    // Its files, where libpurple and Debian expect them, unmodified (md5sums).
    let plugindir = output("pkg-config", &["--variable=plugindir", "purple"]);
    let so = Path::new(plugindir.trim()).join("purple-otr.so");
    let listed = output("dpkg", &["-L", "purple-otr"]);
    let mut expected = vec![
        so.clone(),
        PathBuf::from("/usr/share/doc/purple-otr/copyright"),
        PathBuf::from("/usr/share/doc/purple-otr/changelog.Debian.gz"),
        PathBuf::from("/usr/share/doc/purple-otr/README.md.gz"),
    ];
    for icon in tree_files("icons", &[".png", ".svg"]) {
        expected.push(Path::new("/usr/share/pixmaps/purple-otr").join(icon));
    }
    for po in tree_files("po", &[".po"]) {
        let lang = po
            .file_stem()
            .expect("po name")
            .to_string_lossy()
            .into_owned();
        expected.push(PathBuf::from(format!(
            "/usr/share/locale/{lang}/LC_MESSAGES/purple-otr.mo"
        )));
    }
    for file in &expected {
        assert!(
            listed.lines().any(|l| Path::new(l) == file),
            "{} is not in the package:\n{listed}",
            file.display()
        );
        assert!(file.is_file(), "{} is missing", file.display());
    }
    let verify = output("dpkg", &["--verify", "purple-otr"]);
    assert!(verify.is_empty(), "dpkg --verify: {verify}");

    // A fresh client with an empty ~/.purple: libpurple's own probe of its plugin directory
    // at start found the plugin (known, not loaded), as Pidgin and Finch will.
    let (server, mut host) = (Prosody::alice_and_bob(), Host::start("system", &[]));
    assert!(
        !host.user_dir().join("plugins").exists(),
        "the user dir should be empty"
    );
    let manifest = Manifest::load();
    let probed = host
        .try_cmd(&["plugin_info", &manifest.id])
        .unwrap_or_else(|e| {
            panic!(
                "libpurple did not find {} in {}: {}",
                manifest.id,
                plugindir.trim(),
                e.raw
            )
        });
    assert_eq!(probed.int("loaded"), 0);
    assert_eq!(probed.get("version"), Manifest::version());
    assert_eq!(probed.get("name"), manifest.name);

    // Loaded from there, it works: /otr answers in a conversation.
    let so_text = so.to_str().expect("utf-8 path");
    let loaded = host
        .try_cmd(&["plugin_load", so_text])
        .unwrap_or_else(|e| panic!("{so_text} did not load: {}", e.get("reason")));
    assert_eq!(loaded.get("id"), manifest.id);
    assert_eq!(loaded.int("loaded"), 1);
    host.connect_xmpp(ALICE, server.password("alice"), server.port);
    host.cmd(&["conv_open", ALICE, BOB]);
    host.cmd(&["conv_cmd", ALICE, BOB, "/otr help"]);
    let help = host.wait_conv_line(ALICE, BOB, "fingerprint", Duration::from_secs(10));
    assert_ne!(help.int("flags") & flags::SYSTEM, 0, "{}", help.raw);
}
