//! Real Finch (under tmux, read with capture-pane) and real Pidgin (under Xvfb, driven with
//! xdotool, photographed with ImageMagick's `import`) with our plugin, connected to the
//! test prosody through an account written into their config dir. Used by the Finch and
//! Pidgin tests (finch_otr, finch_title, pidgin_otr_gui, pidgin_ui_states, plugin_gui).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::host::{plugin_path, TempDir};

/// An address where no session bus listens: the clients must not autolaunch one.
pub const NO_BUS: &str = "unix:path=/nonexistent/purple-otr-test-bus";

/// The locale every program a test starts runs in. Finch (ncurses) draws its frames with
/// UTF-8 line drawing only in a UTF-8 locale; under POSIX (LANG unset, as for a fresh CI
/// user) it switches to the terminal's alternate character set, and the test would read
/// `lqqk` for `┌──┐`. C.UTF-8 ships with libc on Debian, no `locales` package needed.
/// LANGUAGE goes too: the tests read English text.
pub fn set_test_locale(cmd: &mut Command) -> &mut Command {
    cmd.env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env_remove("LANGUAGE")
}

/// Runs a helper program; panics with the package to install when it is missing.
pub fn run(program: &str, package: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): apt-get install {package}"))
}

/// Polls `probe` until it gives a value or `timeout` passes.
pub fn wait_until_opt<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
}

pub fn wait_until<T>(what: &str, timeout: Duration, probe: impl FnMut() -> Option<T>) -> T {
    wait_until_opt(timeout, probe).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

/// An XMPP account on the test server, as a client's config files describe it.
#[derive(Debug, Clone)]
pub struct XmppAccount<'a> {
    /// With resource: `alice@localhost/finch`.
    pub jid: &'a str,
    pub password: &'a str,
    pub port: u16,
    /// Bare JIDs put on the buddy list (group "Buddies").
    pub buddies: &'a [&'a str],
}

/// A client config dir (`finch -c DIR` / `pidgin -c DIR`) with the plugin in `plugins/`,
/// enabled through `/<ui>/plugins/loaded`, the network prefs that keep libpurple on
/// loopback, and `account` set to sign on at start (`ui_id`: gnt-purple or gtk-gaim).
pub fn client_dir(prefix: &str, ui: &str, ui_id: &str, account: &XmppAccount<'_>) -> TempDir {
    let dir = TempDir::new(prefix);
    let plugins = dir.path().join("plugins");
    fs::create_dir_all(&plugins).expect("plugins dir");
    let so = plugins.join("purple-otr.so");
    fs::copy(plugin_path(), &so).expect("copy plugin");
    let jid = xml_escape(account.jid);
    fs::write(
        dir.path().join("accounts.xml"),
        format!(
            "<?xml version='1.0' encoding='UTF-8' ?>\n<account version='1.0'>\n <account>\n  \
             <protocol>prpl-jabber</protocol>\n  <name>{jid}</name>\n  <password>{pw}</password>\n  \
             <settings>\n   <setting name='connect_server' type='string'>127.0.0.1</setting>\n   \
             <setting name='port' type='int'>{port}</setting>\n   \
             <setting name='auth_plain_in_clear' type='bool'>1</setting>\n   \
             <setting name='connection_security' type='string'>opportunistic_tls</setting>\n  \
             </settings>\n  <settings ui='{ui_id}'>\n   \
             <setting name='auto-login' type='bool'>1</setting>\n  </settings>\n </account>\n</account>\n",
            pw = xml_escape(account.password),
            port = account.port,
        ),
    )
    .expect("accounts.xml");
    let buddies: String = account
        .buddies
        .iter()
        .map(|b| {
            format!(
                "<contact><buddy account='{jid}' proto='prpl-jabber'><name>{}</name></buddy></contact>\n",
                xml_escape(b)
            )
        })
        .collect();
    fs::write(
        dir.path().join("blist.xml"),
        format!(
            "<?xml version='1.0' encoding='UTF-8' ?>\n<purple version='1.0'>\n<blist>\n\
             <group name='Buddies'>\n{buddies}</group>\n</blist>\n</purple>\n"
        ),
    )
    .expect("blist.xml");
    fs::write(
        dir.path().join("prefs.xml"),
        format!(
            "<?xml version='1.0' encoding='UTF-8' ?>\n<pref version='1' name='/'>\n \
             <pref name='purple'>\n  <pref name='network'>\n   \
             <pref name='stun_server' type='string' value='127.0.0.1'/>\n   \
             <pref name='auto_ip' type='bool' value='0'/>\n   \
             <pref name='map_ports' type='bool' value='0'/>\n  </pref>\n  \
             <pref name='logging'>\n   <pref name='log_ims' type='bool' value='0'/>\n   \
             <pref name='log_system' type='bool' value='0'/>\n  </pref>\n </pref>\n \
             <pref name='{ui}'>\n  <pref name='plugins'>\n   \
             <pref name='loaded' type='pathlist'>\n    <item value='{so}'/>\n   </pref>\n  \
             </pref>\n </pref>\n</pref>\n",
            so = xml_escape(&so.to_string_lossy()),
        ),
    )
    .expect("prefs.xml");
    dir
}

// --- Finch under tmux -------------------------------------------------------------------

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A detached 160x50 session running `command` (a shell command line).
    /// The tmux server (a new one per session) passes its environment, with the test
    /// locale, to `command`.
    pub fn start(name: &str, command: &str) -> Tmux {
        let socket = format!("purple-otr-{name}-{}", std::process::id());
        let out = set_test_locale(&mut Command::new("tmux"))
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "finch",
                "-x",
                "160",
                "-y",
                "50",
                command,
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux ({e}): apt-get install tmux"));
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmux { socket }
    }

    /// The pane's text, frames always as Unicode line drawing (see [`decode_pane`]).
    pub fn screen(&self) -> String {
        let out = run(
            "tmux",
            "tmux",
            &[
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-e",
                "-t",
                "finch",
            ],
        );
        decode_pane(&String::from_utf8_lossy(&out.stdout))
    }

    /// `keys` as tmux key names (M-a, Enter, C-x) or, with `literal`, as raw bytes.
    pub fn send(&self, keys: &str, literal: bool) {
        let mut args = vec!["-L", self.socket.as_str(), "send-keys", "-t", "finch"];
        if literal {
            args.push("-l");
        }
        args.push(keys);
        assert!(run("tmux", "tmux", &args).status.success());
        // gnt reads an escape sequence as one key only if it arrives in one piece: keep
        // separate keys apart.
        std::thread::sleep(Duration::from_millis(120));
    }

    /// Cursor down/up as the terminal (tmux-256color) encodes them: gnt matches key
    /// sequences against terminfo, and tmux's own "Down" is the non-keypad form.
    pub fn down(&self, times: usize) {
        for _ in 0..times {
            self.send("\x1bOB", true);
        }
    }

    pub fn up(&self, times: usize) {
        for _ in 0..times {
            self.send("\x1bOA", true);
        }
    }

    pub fn try_wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        wait_until_opt(timeout, || {
            let s = self.screen();
            pred(&s).then_some(s)
        })
    }

    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.try_wait_for(Duration::from_secs(30), pred)
            .unwrap_or_else(|| {
                panic!(
                    "timed out waiting for {what}; the screen:\n{}",
                    self.screen()
                )
            })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// `capture-pane -e` output as plain text with Unicode frames. Escape sequences (colours)
/// are dropped. A client drawing with the terminal's alternate character set (ncurses in a
/// non-UTF-8 locale) shows as SO ... SI around its cells, the VT100 letters inside meaning
/// line drawing (`lqqk` = `┌──┐`, `a` = `▒`); they are mapped to the characters a UTF-8
/// client draws, so either form reads the same. The shift state carries across lines, as
/// tmux only writes changes.
pub fn decode_pane(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut acs = false;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x0e' => acs = true,
            '\x0f' => acs = false,
            '\x1b' => match chars.next() {
                // CSI: parameters up to a final byte in @..~.
                Some('[') => {
                    for p in chars.by_ref() {
                        if ('@'..='~').contains(&p) {
                            break;
                        }
                    }
                }
                // OSC (e.g. a hyperlink): up to BEL or ESC \.
                Some(']') => {
                    while let Some(p) = chars.next() {
                        if p == '\x07' || (p == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            c if acs => out.push(acs_char(c)),
            c => out.push(c),
        }
    }
    out
}

/// The VT100 special graphics character set (what `smacs` selects) as Unicode.
fn acs_char(c: char) -> char {
    match c {
        'j' => '┘',
        'k' => '┐',
        'l' => '┌',
        'm' => '└',
        'n' => '┼',
        'q' => '─',
        't' => '├',
        'u' => '┤',
        'v' => '┴',
        'w' => '┬',
        'x' => '│',
        'a' => '▒',
        '`' => '◆',
        'f' => '°',
        'g' => '±',
        '~' => '·',
        '0' => '█',
        ',' => '←',
        '+' => '→',
        '.' => '↓',
        '-' => '↑',
        other => other,
    }
}

/// Text inside gnt boxes with the frame characters and shading removed, one string per
/// screen line (so a label split over a box border still reads whole).
pub fn screen_text(screen: &str) -> String {
    screen
        .lines()
        .map(|l| {
            l.chars()
                .map(|c| {
                    if "│─┌┐└┘├┤▒".contains(c) {
                        ' '
                    } else {
                        c
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whitespace removed, to compare text that gnt wrapped at its own width.
pub fn squash(s: &str) -> String {
    s.split_whitespace().collect()
}

// --- Pidgin under Xvfb ------------------------------------------------------------------

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn xdotool(display: &str, args: &[&str]) -> std::process::Output {
    Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xdotool ({e}): apt-get install xdotool"))
}

/// Every window whose name matches the regular expression `name`.
pub fn find_windows(display: &str, name: &str) -> Vec<String> {
    let out = xdotool(display, &["search", "--onlyvisible", "--name", name]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn find_window(display: &str, name: &str) -> Option<String> {
    find_windows(display, name).into_iter().next()
}

/// Starts Xvfb on a free display (it picks one and writes the number to stdout).
pub fn start_xvfb() -> (Killed, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1024x768x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run Xvfb ({e}): apt-get install xvfb"));
    let mut stdout = child.stdout.take().expect("Xvfb stdout");
    let mut number = String::new();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).map(|n| n == 1).unwrap_or(false) && byte[0] != b'\n' {
        number.push(byte[0] as char);
    }
    let guard = Killed(child);
    assert!(!number.is_empty(), "Xvfb did not report a display");
    (guard, format!(":{}", number.trim()))
}

/// A screenshot of the whole display into `path` (PNG).
pub fn screenshot(display: &str, path: &Path) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("screenshot dir");
    }
    let out = Command::new("import")
        .args(["-window", "root"])
        .arg(path)
        .env("DISPLAY", display)
        .output()
        .unwrap_or_else(|e| panic!("cannot run import ({e}): apt-get install imagemagick"));
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ImageMagick's `identify -format FORMAT` of a file.
pub fn identify(path: &Path, format: &str) -> String {
    let out = Command::new("identify")
        .args(["-format", format])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run identify ({e}): apt-get install imagemagick"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The number of pixels that differ between two same-sized images.
pub fn pixels_differing(a: &Path, b: &Path) -> u64 {
    // `compare -metric AE` prints the count on stderr and exits 1 when they differ.
    let out = Command::new("compare")
        .args(["-metric", "AE"])
        .arg(a)
        .arg(b)
        .arg("null:")
        .output()
        .unwrap_or_else(|e| panic!("cannot run compare ({e}): apt-get install imagemagick"));
    let text = String::from_utf8_lossy(&out.stderr);
    text.split_whitespace()
        .next()
        // `compare -metric AE` prints a whole count (sometimes as "1.2e+03").
        .and_then(|n| n.parse::<f64>().ok())
        // A pixel count of one screenshot: far below u64's range.
        .map(|n| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let count = n.max(0.0).round() as u64;
            count
        })
        .unwrap_or_else(|| panic!("compare said {text:?}"))
}

/// Where screenshots go: target/tmp/screenshots; with PURPLE_OTR_UPDATE_SCREENSHOTS=1
/// `publish` also copies them into docs/screenshots.
pub fn shots_dir() -> PathBuf {
    crate::support::host::scratch_dir().join("screenshots")
}

pub fn publish(shot: &Path, name: &str) {
    if std::env::var_os("PURPLE_OTR_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        fs::create_dir_all(&docs).expect("docs/screenshots");
        fs::copy(shot, docs.join(name)).expect("update docs screenshot");
    }
}

#[test]
fn alternate_charset_frames_read_as_unicode() {
    // What capture-pane -e gives for a Finch title bar and two rows in the POSIX locale
    // (frames in the alternate set, colours around the title) and in a UTF-8 one.
    let acs = "\x0elqqu\x1b[37m\x1b[44m\x0fNew\x1b[39m\x1b[49m\x0etqqk\nx\x0fProtocol:\x0ex\n\
               x\x0f ax \x0ea\x1b[39mx\x0f\n";
    let utf8 = "┌──┤\x1b[37mNew\x1b[39m├──┐\n│Protocol:│\n│ ax ▒│\n";
    assert_eq!(decode_pane(acs), "┌──┤New├──┐\n│Protocol:│\n│ ax ▒│\n");
    assert_eq!(decode_pane(utf8), decode_pane(acs));
    assert_eq!(decode_pane("a\x1b]8;;http://x\x1b\\b\x1b]0;t\x07c"), "abc");
}
