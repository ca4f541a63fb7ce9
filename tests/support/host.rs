//! Drives `tests/host/purple_host.c`, a headless libpurple client, over its line protocol
//! (see the comment at the top of that file). The C host is compiled here with the system
//! C compiler and pkg-config's flags, so `cargo test` needs nothing else.

#![allow(unreachable_pub, dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long one host command may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

// --- paths and builds -----------------------------------------------------------------

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Scratch space: cargo's CARGO_TARGET_TMPDIR (target/tmp) for integration tests; the
/// system temp dir for the demo example, which cargo gives no such directory.
pub fn scratch_dir() -> PathBuf {
    match option_env!("CARGO_TARGET_TMPDIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join("purple-otr"),
    }
}

/// The plugin cargo built together with this test binary. `cargo test` leaves it in
/// target/<profile>/deps/ (only `cargo build` copies it up to target/<profile>/).
pub fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("target/<profile>/deps");
    let profile = deps.parent().unwrap_or(deps);
    // Next to a test binary (deps/); for the demo example (examples/): the profile dir.
    let candidates = [
        deps.join("libpurple_otr.so"),
        profile.join("libpurple_otr.so"),
        profile.join("deps").join("libpurple_otr.so"),
    ];
    match candidates.iter().find(|p| p.exists()) {
        Some(so) => {
            // cargo names the cdylib the same with and without the `plugin` feature, so a
            // `--no-default-features` build (yours, or a colleague's in a shared target
            // dir) can replace the plugin with the bare engine. Say so instead of letting
            // libpurple report a mysterious probe failure.
            let bytes = fs::read(so).unwrap_or_default();
            let entry = b"purple_init_plugin";
            assert!(
                bytes.windows(entry.len()).any(|w| w == entry),
                "{} has no purple_init_plugin: it was overwritten by a --no-default-features \
                 build. Rebuild with the plugin feature (`touch src/lib.rs && cargo test`).",
                so.display()
            );
            so.clone()
        }
        None => panic!(
            "libpurple_otr.so not built next to {} (build with the `plugin` feature)",
            exe.display()
        ),
    }
}

fn pkg_config_flags() -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", "purple", "glib-2.0"])
        .output()
        .expect("pkg-config (apt-get install pkg-config libpurple-dev libglib2.0-dev)");
    assert!(
        out.status.success(),
        "pkg-config purple glib-2.0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// With libotr's development files installed, the host also links the libotr glue
/// (`tests/host/libotr_glue.c`, its `otr_*` commands, and the callback table it shares with the
/// interop peer, `tests/libotr_common/`): the extra sources it depends on and
/// the extra compiler arguments. Without libotr: nothing, and the host builds as before.
fn libotr_glue() -> (Vec<PathBuf>, Vec<String>) {
    let flags = |pkg: &str| -> Option<Vec<String>> {
        let out = Command::new("pkg-config")
            .args(["--cflags", "--libs", pkg])
            .output()
            .ok()?;
        out.status.success().then(|| {
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
    };
    let Some(otr) = flags("libotr") else {
        return (Vec::new(), Vec::new());
    };
    let host = crate_dir().join("tests/host");
    let (glue, header) = (host.join("libotr_glue.c"), host.join("libotr_glue.h"));
    // The libotr callback table the glue shares with the interop peer (tests/peer).
    let common = crate_dir().join("tests/libotr_common");
    let (common_c, common_h) = (common.join("otr_common.c"), common.join("otr_common.h"));
    let mut args = vec![
        "-DWITH_LIBOTR".to_owned(),
        glue.to_string_lossy().into_owned(),
        common_c.to_string_lossy().into_owned(),
    ];
    args.extend(otr);
    // libotr's .pc does not always list libgcrypt, which the glue calls directly.
    args.extend(flags("libgcrypt").unwrap_or_else(|| vec!["-lgcrypt".to_owned()]));
    (vec![glue, header, common_c, common_h], args)
}

/// Compiles `tests/host/<source>` into target/tmp/purple-host/<output> when missing or
/// older than the source (atomic rename, so concurrent test binaries never see half a file).
fn compile_c(source: &str, output: &str, shared: bool) -> PathBuf {
    compile_c_with(source, output, shared, (Vec::new(), Vec::new()))
}

/// [`compile_c`] with extra files the output depends on and extra compiler arguments.
fn compile_c_with(
    source: &str,
    output: &str,
    shared: bool,
    (deps, extra_args): (Vec<PathBuf>, Vec<String>),
) -> PathBuf {
    let src = crate_dir().join("tests/host").join(source);
    let dir = scratch_dir().join("purple-host");
    fs::create_dir_all(&dir).expect("create target/tmp/purple-host");
    let out = dir.join(output);
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified());
    let fresh = match modified(&out) {
        Ok(o) => std::iter::once(&src)
            .chain(&deps)
            .all(|d| modified(d).is_ok_and(|s| o >= s)),
        Err(_) => false,
    };
    if fresh {
        return out;
    }
    let tmp = dir.join(format!("{output}.{}.tmp", std::process::id()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=gnu99", "-O1", "-g", "-Wall"]);
    if shared {
        cmd.args(["-shared", "-fPIC"]);
    }
    cmd.arg("-o")
        .arg(&tmp)
        .arg(&src)
        .args(&extra_args)
        .args(pkg_config_flags());
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(status.success(), "compiling {} failed", src.display());
    fs::rename(&tmp, &out).expect("rename compiled host");
    out
}

/// The headless libpurple host (compiled once per test binary).
pub fn host_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| compile_c_with("purple_host.c", "purple_host", false, libotr_glue()))
        .clone()
}

/// A do-nothing plugin with pidgin-otr's id ("otr").
pub fn fake_pidgin_otr() -> PathBuf {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| compile_c("fake_otr.c", "fake_otr.so", true))
        .clone()
}

// --- temp dirs ------------------------------------------------------------------------

/// A directory under target/tmp removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = scratch_dir().join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("PURPLE_OTR_KEEP_TEMP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

// --- the manifest ---------------------------------------------------------------------

/// `plugin-manifest/plugin.toml`, read the same way build.rs reads it.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub summary: String,
    pub description: String,
    pub author: String,
    pub homepage: String,
}

impl Manifest {
    pub fn load() -> Manifest {
        let text = fs::read_to_string(crate_dir().join("plugin-manifest/plugin.toml"))
            .expect("read manifest");
        let get = |key: &str| -> String {
            for line in text.lines().map(str::trim) {
                if line.starts_with('#') {
                    continue;
                }
                if let Some((k, v)) = line.split_once('=') {
                    if k.trim() == key {
                        let v = v.trim();
                        let inner = &v[1..v.len() - 1];
                        return inner
                            .replace("\\\"", "\"")
                            .replace("\\n", "\n")
                            .replace("\\\\", "\\");
                    }
                }
            }
            panic!("manifest has no {key}");
        };
        Manifest {
            id: get("id"),
            name: get("name"),
            summary: get("summary"),
            description: get("description"),
            author: get("author"),
            homepage: get("homepage"),
        }
    }

    /// Cargo.toml's version, which the plugin reports.
    pub fn version() -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
}

// --- the line protocol ----------------------------------------------------------------

pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"._~-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let Some(b) = hex(bytes[i + 1])
                .zip(hex(bytes[i + 2]))
                .and_then(|(h, l)| u8::try_from(h * 16 + l).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Ok,
    Err,
    Event,
}

/// One line from the host: `ok|err|ev NAME key=value ...` (values decoded).
#[derive(Debug, Clone)]
pub struct Line {
    pub kind: Kind,
    pub name: String,
    pub fields: Vec<(String, String)>,
    pub raw: String,
}

impl Line {
    fn parse(raw: &str) -> Option<Line> {
        let mut parts = raw.split(' ');
        let kind = match parts.next()? {
            "ok" => Kind::Ok,
            "err" => Kind::Err,
            "ev" => Kind::Event,
            _ => return None,
        };
        let name = parts.next()?.to_owned();
        let fields = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), decode(v)))
            .collect();
        Some(Line {
            kind,
            name,
            fields,
            raw: raw.to_owned(),
        })
    }

    /// The first value of `key` ("" if absent).
    pub fn get(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of a repeated key, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn int(&self, key: &str) -> i64 {
        self.get(key)
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a number in {}", self.raw))
    }
}

/// libpurple's PurpleMessageFlags bits the tests look at.
pub mod flags {
    pub const SEND: i64 = 0x1;
    pub const RECV: i64 = 0x2;
    pub const SYSTEM: i64 = 0x4;
    pub const ERROR: i64 = 0x200;
    /// PURPLE_MESSAGE_NO_LOG: never written to the conversation log.
    pub const NO_LOG: i64 = 0x40;
    pub const DELAYED: i64 = 0x400;
}

/// A running headless libpurple client with its own user dir.
#[derive(Debug)]
pub struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    /// Every event seen so far, in order.
    pub events: Vec<Line>,
    stderr_path: PathBuf,
    dir: TempDir,
    label: String,
}

impl Host {
    /// Starts a host; `env` adds environment variables (e.g. PURPLE_OTR_TEST_PANIC=1).
    pub fn start(label: &str, env: &[(&str, &str)]) -> Host {
        Host::start_wrapped(label, env, &[], |_| {})
    }

    /// Like [`Host::start`], but runs the host under `wrapper` (e.g. valgrind and its
    /// options; the wrapper may name files in the host's dir via `{dir}`), after `prepare`
    /// has put files into the fresh user dir.
    pub fn start_wrapped(
        label: &str,
        env: &[(&str, &str)],
        wrapper: &[&str],
        prepare: impl FnOnce(&Path),
    ) -> Host {
        let dir = TempDir::new(&format!("host-{label}"));
        let user_dir = dir.path().join("purple");
        fs::create_dir_all(&user_dir).expect("user dir");
        prepare(&user_dir);
        let stderr_path = dir.path().join("stderr.log");
        let stderr = fs::File::create(&stderr_path).expect("stderr log");
        let dir_text = dir.path().to_string_lossy().into_owned();
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args.iter().map(|a| a.replace("{dir}", &dir_text)));
                c.arg(host_binary());
                c
            }
            None => Command::new(host_binary()),
        };
        cmd.arg(&user_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // No session bus and no display: libpurple must not autolaunch anything.
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/purple-otr-test-bus",
            )
            .env_remove("DISPLAY")
            .env("HOME", dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn purple_host");
        let stdout = child.stdout.take().expect("host stdout");
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(parsed) = Line::parse(&line) {
                    if tx.send(parsed).is_err() {
                        break;
                    }
                }
            }
        });
        let mut host = Host {
            child,
            stdin,
            lines: rx,
            events: Vec::new(),
            stderr_path,
            dir,
            label: label.to_owned(),
        };
        host.wait_event("ready", |_| true, COMMAND_TIMEOUT);
        host
    }

    /// The host's user dir (its ~/.purple).
    pub fn user_dir(&self) -> PathBuf {
        self.dir.path().join("purple")
    }

    /// What the host printed on stderr so far (libpurple warnings, debug log if enabled).
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "[{}] {what}\n--- events so far ---\n{}\n--- host stderr ---\n{}",
            self.label,
            self.events
                .iter()
                .map(|l| l.raw.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            self.stderr()
        );
    }

    fn recv(&mut self, deadline: Instant) -> Option<Line> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.try_wait().ok().flatten();
                self.fail(&format!("host exited ({status:?})"));
            }
        }
    }

    /// Sends one command (arguments are encoded here) and returns its `ok` line, or the
    /// `err` line as `Err`.
    pub fn try_cmd(&mut self, args: &[&str]) -> Result<Line, Line> {
        let name = args[0];
        let mut text = name.to_owned();
        for a in &args[1..] {
            text.push(' ');
            text.push_str(&encode(a));
        }
        text.push('\n');
        let written = self
            .stdin
            .as_mut()
            .map(|s| s.write_all(text.as_bytes()).and_then(|_| s.flush()));
        if !matches!(written, Some(Ok(()))) {
            self.fail(&format!("cannot write command {name}"));
        }
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let Some(line) = self.recv(deadline) else {
                self.fail(&format!("no reply to {name} within {COMMAND_TIMEOUT:?}"));
            };
            match line.kind {
                Kind::Event => self.events.push(line),
                Kind::Ok if line.name == name => return Ok(line),
                Kind::Err if line.name == name => return Err(line),
                _ => self.fail(&format!("unexpected reply {} to {name}", line.raw)),
            }
        }
    }

    /// Like [`Self::try_cmd`], failing the test on `err`.
    pub fn cmd(&mut self, args: &[&str]) -> Line {
        match self.try_cmd(args) {
            Ok(line) => line,
            Err(line) => self.fail(&format!("{} failed: {}", args[0], line.get("reason"))),
        }
    }

    /// Waits for an event named `name` matching `pred` (earlier events count too).
    pub fn wait_event(
        &mut self,
        name: &str,
        pred: impl Fn(&Line) -> bool,
        timeout: Duration,
    ) -> Line {
        match self.try_wait_event(name, pred, timeout) {
            Some(line) => line,
            None => self.fail(&format!("no `{name}` event within {timeout:?}")),
        }
    }

    pub fn try_wait_event(
        &mut self,
        name: &str,
        pred: impl Fn(&Line) -> bool,
        timeout: Duration,
    ) -> Option<Line> {
        if let Some(l) = self.events.iter().find(|l| l.name == name && pred(l)) {
            return Some(l.clone());
        }
        let deadline = Instant::now() + timeout;
        while let Some(line) = self.recv(deadline) {
            if line.kind == Kind::Event {
                self.events.push(line.clone());
                if line.name == name && pred(&line) {
                    return Some(line);
                }
            }
        }
        None
    }

    /// Gives events already on their way a moment to arrive (a `ping` round trip).
    pub fn sync(&mut self) {
        self.cmd(&["ping"]);
    }

    // --- conveniences -----------------------------------------------------------------

    /// Probes and loads the plugin under test.
    pub fn load_plugin(&mut self) -> Result<Line, Line> {
        let path = plugin_path();
        self.try_cmd(&["plugin_load", path.to_str().expect("utf-8 path")])
    }

    /// Lines written into the IM conversation `conv` of `account` so far: (flags, text).
    /// XMPP renames a conversation to the buddy's full JID (with resource) once a message
    /// from one of their resources arrives; match that name after receiving.
    pub fn conv_lines(&mut self, account: &str, conv: &str) -> Vec<(i64, String)> {
        self.sync();
        self.events
            .iter()
            .filter(|l| {
                l.name == "write_conv" && l.get("account") == account && l.get("conv") == conv
            })
            .map(|l| (l.int("flags"), l.get("text").to_owned()))
            .collect()
    }

    /// Waits for a line in the conversation whose text contains `needle`.
    pub fn wait_conv_line(
        &mut self,
        account: &str,
        conv: &str,
        needle: &str,
        timeout: Duration,
    ) -> Line {
        let (account, conv, needle) = (account.to_owned(), conv.to_owned(), needle.to_owned());
        self.wait_event(
            "write_conv",
            move |l| {
                l.get("account") == account
                    && l.get("conv") == conv
                    && l.get("text").contains(&needle)
            },
            timeout,
        )
    }

    /// Adds an XMPP account for `jid` (with resource) on the local server and connects it.
    pub fn connect_xmpp(&mut self, jid: &str, password: &str, port: u16) {
        self.cmd(&["account_add", jid, password, "127.0.0.1", &port.to_string()]);
        self.cmd(&["account_connect", jid]);
        if let Err(e) = self.try_cmd(&["wait_signed_on", jid, "20000"]) {
            self.fail(&format!("{jid} did not sign on: {}", e.get("reason")));
        }
    }
}

impl Host {
    /// Sends `quit` and waits up to `timeout` for the process to end (a host under valgrind
    /// needs time for its leak check). The exit status, if it ended.
    pub fn quit_and_wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"quit\n");
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The directory holding the user dir, the stderr log and anything a wrapper wrote.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the host at once (SIGKILL): no quit, no goodbye, nothing saved — a crash.
    /// Its user dir stays (until the `Host` is dropped), so a new host can start over a
    /// copy of it ([`Host::start_from`]).
    pub fn kill(&mut self) {
        // SIGKILL first: closing stdin first would make the host quit cleanly (and the
        // plugin say goodbye) if it saw the EOF before the signal.
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdin = None;
    }

    /// Starts a host over a copy of the files in `previous` (another host's user dir,
    /// e.g. one that was killed): the same keys, known fingerprints, instance tags,
    /// accounts and preferences, as a client restarted after a crash finds them.
    pub fn start_from(label: &str, env: &[(&str, &str)], previous: &Path) -> Host {
        let previous = previous.to_path_buf();
        Host::start_wrapped(label, env, &[], move |user_dir| {
            copy_dir(&previous, user_dir);
        })
    }
}

/// Copies the files (and subdirectories) of `from` into `to`.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create copy target");
    for entry in fs::read_dir(from)
        .expect("read previous user dir")
        .flatten()
    {
        let target = to.join(entry.file_name());
        match entry.file_type() {
            Ok(t) if t.is_dir() => copy_dir(&entry.path(), &target),
            Ok(t) if t.is_file() => {
                fs::copy(entry.path(), &target).expect("copy user dir file");
            }
            _ => {}
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"quit\n");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
