//! Our half of the side-by-side benchmark against libotr (`benches/libotr_bench.c` is the other
//! half; `benches/run.sh` runs both and prints the comparison). This binary links nothing of
//! libotr: it drives two engine sessions, Alice and Bob, in one process, exactly as the C
//! harness drives two libotr user states, and prints `ours <name> <value> <unit>` lines.
//!
//! Modes (the first argument; cargo's trailing `--bench` is ignored):
//! - `time [workload]`: the timed workloads (`keygen`, `ake`, `roundtrip`, `oneway`, `smp`,
//!   `fragments`; all by default), medians of repeated samples;
//! - `mem <n>`: heap and RSS growth for `n` idle private sessions (run in its own process);
//! - `cg <workload>`: one run of `ake`, `roundtrip` (200 messages), `smp`, `oneway` (200
//!   messages, after 20 uncounted ones) or `fragments` (likewise), inside a function named `cg_workload_*` so that
//!   `valgrind --tool=callgrind --toggle-collect=*cg_workload*` counts only the workload.
//!
//! The workloads, sample plans and message sizes are the same numbers as in the C harness;
//! change both together.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use purple_otr::otr::crypto::dsa::DsaPrivateKey;
use purple_otr::otr::events::{Event, Suite};
use purple_otr::otr::modern::bench_support as modern;
use purple_otr::otr::modern::identity::IdentityKey;
use purple_otr::otr::policy::Policy;
use purple_otr::otr::session::{Env, Outcome, PinnedPeer, Session, SessionConfig};
use purple_otr::otr::smp::SmpEvent;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// The user message of the round-trip and one-way workloads (an SMS-sized chat line).
const MSG_LEN: usize = 140;
/// The large message of the fragmentation workload and the fragment size limit.
const BIG_LEN: usize = 20 * 1024;
const FRAGMENT_MMS: usize = 1000;
/// Round trips (one message each way) and one-way messages per timed sample.
const ROUND_TRIPS_PER_SAMPLE: u32 = 10;
const ONE_WAY_PER_SAMPLE: u32 = 50;
/// Messages in the callgrind round-trip and one-way runs.
const CG_MESSAGES: usize = 200;
/// One-way messages sent before the callgrind one-way and fragment runs start counting.
const CG_WARM_UP: usize = 20;
const SMP_SECRET: &[u8] = b"the name of our first cat";

/// The libotr test keys and instance tags (tests/fixtures/libotr), used by both harnesses so
/// both sign with the same DSA parameters.
const ALICE_ACCOUNT: &str = "alice@localhost/peer";
const BOB_ACCOUNT: &str = "bob@localhost/peer";
const ALICE_TAG: u32 = 0x72dc_9521;
const BOB_TAG: u32 = 0x5c1d_3536;

/// How long to sample a workload: at least `min` samples, then more until `budget` is spent
/// or `max` samples are taken.
#[derive(Clone, Copy)]
struct Plan {
    min: usize,
    max: usize,
    budget: Duration,
}

const fn plan(min: usize, max: usize, budget_ms: u64) -> Plan {
    Plan {
        min,
        max,
        budget: Duration::from_millis(budget_ms),
    }
}

const PLAN_KEYGEN: Plan = plan(9, 101, 6_000);
const PLAN_AKE: Plan = plan(21, 2_001, 3_000);
const PLAN_ROUNDTRIP: Plan = plan(21, 2_001, 3_000);
const PLAN_ONEWAY: Plan = plan(21, 2_001, 2_000);
const PLAN_SMP: Plan = plan(15, 2_001, 3_000);
const PLAN_FRAGMENTS: Plan = plan(21, 2_001, 2_000);

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mode = args.first().map(String::as_str).unwrap_or("time");
    let mut bench = Bench::new();
    match mode {
        "time" => {
            let only = args.get(1).map(String::as_str);
            if !time_all(&mut bench, only) {
                eprintln!("compare: unknown workload {only:?}");
                std::process::exit(2);
            }
        }
        "mem" => {
            let n = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
            mem(&mut bench, n);
        }
        "cg" => {
            let workload = args.get(1).map(String::as_str).unwrap_or("");
            if !callgrind(&mut bench, workload) {
                eprintln!("compare: unknown callgrind workload {workload:?}");
                std::process::exit(2);
            }
        }
        other => {
            eprintln!("compare: unknown mode {other:?} (time | mem <n> | cg <workload>)");
            std::process::exit(2);
        }
    }
}

// ---- the two parties --------------------------------------------------------------------------

/// What the host supplies: the clock, the RNG (ChaCha20, as the plugin uses) and both keys.
struct Bench {
    rng: ChaCha20Rng,
    now: u64,
    keys: [DsaPrivateKey; 2],
}

impl Bench {
    fn new() -> Bench {
        Bench {
            rng: ChaCha20Rng::seed_from_u64(0xbe9c_4a11),
            now: 1_000_000,
            keys: [load_key("alice"), load_key("bob")],
        }
    }
}

const A: usize = 0;
const B: usize = 1;

/// Alice and Bob, with the link between them: a FIFO of (recipient, message), delivered until
/// empty — the same order the C harness's inject queue gives libotr.
struct Duo {
    s: [Session; 2],
    queue: VecDeque<(usize, String)>,
    /// Length of the last message each side displayed, and how many it displayed.
    last_shown: [usize; 2],
    shown: [usize; 2],
    /// The last SMP event each side saw.
    smp: [Option<SmpEvent>; 2],
}

fn config(account: &str, tag: u32) -> SessionConfig {
    SessionConfig {
        account_name: account.to_string(),
        our_instance: tag,
        policy: Policy::MANUAL,
        max_message_size: 0,
    }
}

impl Duo {
    /// Two sessions that upgrade to the modern suite once private (fixed identity keys, as
    /// an account's are).
    fn new_modern() -> Duo {
        let mut duo = Duo::new();
        for (who, byte) in [(A, 0xa1u8), (B, 0xb0)] {
            duo.s[who].set_modern_identity(IdentityKey::from_secret_bytes(&[byte; 32]));
        }
        duo
    }

    /// [`Duo::new_modern`] with each side's identity pinned by the other, as after a first
    /// verified session: a start goes directly on the suite (docs/modern-suite.md §15).
    fn new_direct(bench: &Bench) -> Duo {
        let mut duo = Duo::new_modern();
        for (who, other, byte) in [(A, B, 0xb0u8), (B, A, 0xa1)] {
            duo.s[who].set_pinned_peers(vec![PinnedPeer {
                identity: *IdentityKey::from_secret_bytes(&[byte; 32]).public(),
                fingerprint: bench.keys[other].public().fingerprint(),
            }]);
        }
        duo
    }

    fn modern(&self) -> bool {
        self.s
            .iter()
            .all(|s| s.status().suite == Some(Suite::Modern))
    }

    fn new() -> Duo {
        Duo {
            s: [
                Session::new(config(ALICE_ACCOUNT, ALICE_TAG)),
                Session::new(config(BOB_ACCOUNT, BOB_TAG)),
            ],
            queue: VecDeque::new(),
            last_shown: [0; 2],
            shown: [0; 2],
            smp: [None, None],
        }
    }

    /// Runs `f` on `who`'s session and queues what it sends.
    fn act(
        &mut self,
        bench: &mut Bench,
        who: usize,
        f: impl FnOnce(&mut Session, &mut Env<'_>) -> Outcome,
    ) {
        let mut env = Env {
            now: bench.now,
            rng: &mut bench.rng,
            our_key: Some(&bench.keys[who]),
        };
        let out = f(&mut self.s[who], &mut env);
        self.take(who, out);
    }

    fn take(&mut self, who: usize, out: Outcome) {
        if let Some(d) = &out.display {
            self.last_shown[who] = d.text.0.len();
            self.shown[who] += 1;
        }
        for e in &out.events {
            if let Event::Smp { event, .. } = e {
                self.smp[who] = Some(event.clone());
            }
        }
        for m in out.to_send {
            self.queue.push_back((1 - who, m));
        }
    }

    /// Delivers until nothing is in flight.
    fn run(&mut self, bench: &mut Bench) {
        while let Some((to, m)) = self.queue.pop_front() {
            self.act(bench, to, |s, env| s.receive(env, &m));
        }
    }

    fn private(&self) -> bool {
        self.s[A].status().is_private() && self.s[B].status().is_private()
    }

    /// From Alice's query message to both sides private.
    fn ake(&mut self, bench: &mut Bench) {
        self.act(bench, A, |s, env| s.start(env));
        self.run(bench);
    }

    fn send(&mut self, bench: &mut Bench, who: usize, text: &str) {
        self.act(bench, who, |s, env| s.send(env, text));
    }

    /// One full SMP exchange (shared secret, no question), Alice asking.
    fn smp(&mut self, bench: &mut Bench) {
        self.smp = [None, None];
        self.act(bench, A, |s, env| {
            s.smp_start(env, None, SMP_SECRET).unwrap_or_default()
        });
        self.run(bench);
        self.act(bench, B, |s, env| {
            s.smp_respond(env, SMP_SECRET).unwrap_or_default()
        });
        self.run(bench);
    }

    fn smp_succeeded(&self) -> bool {
        self.smp == [Some(SmpEvent::Success), Some(SmpEvent::Success)]
    }
}

fn established(bench: &mut Bench) -> Duo {
    established_with(bench, Duo::new())
}

/// Private and upgraded to the modern suite.
fn established_modern(bench: &mut Bench) -> Duo {
    let duo = established_with(bench, Duo::new_modern());
    check(
        duo.modern(),
        "the sessions did not upgrade to the modern suite",
    );
    duo
}

fn established_with(bench: &mut Bench, mut duo: Duo) -> Duo {
    duo.ake(bench);
    check(duo.private(), "the AKE did not make both sides private");
    duo.shown = [0; 2];
    duo.last_shown = [0; 2];
    duo
}

fn check(ok: bool, what: &str) {
    if !ok {
        eprintln!("compare: {what}");
        std::process::exit(1);
    }
}

/// A chat line of `len` printable characters (the C harness builds the same text).
fn text(len: usize) -> String {
    (0..len)
        .map(|i| {
            if i % 7 == 6 {
                ' '
            } else {
                char::from(b"abcdefghijklmnopqrstuvwxyz"[i % 26])
            }
        })
        .collect()
}

// ---- timing -----------------------------------------------------------------------------------

/// Measures the CPU time of this thread, not wall time: on a shared machine a busy neighbour
/// steals time slices, which wall time would charge to whichever side was running. The C
/// harness measures the same clock.
struct CpuTimer(Duration);

impl CpuTimer {
    fn start() -> CpuTimer {
        CpuTimer(thread_cpu_time())
    }

    fn elapsed(&self) -> Duration {
        thread_cpu_time().saturating_sub(self.0)
    }
}

#[allow(unsafe_code)]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec that clock_gettime only writes to.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        eprintln!("compare: clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        std::process::exit(1);
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Takes samples per `plan` (the budget is wall time); each call of `f` returns the CPU time
/// of one operation (it may do a batch and divide, and keeps its setup out of the time).
fn sample(plan: Plan, mut f: impl FnMut() -> Duration) -> f64 {
    let start = Instant::now();
    let mut samples = Vec::new();
    while samples.len() < plan.min || (samples.len() < plan.max && start.elapsed() < plan.budget) {
        samples.push(f().as_secs_f64());
    }
    median(&mut samples)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn report(name: &str, value: f64, unit: &str) {
    println!("ours {name} {value:.3} {unit}");
}

/// The timed workloads, in the order `run.sh` prints them.
const WORKLOADS: [&str; 6] = ["keygen", "ake", "roundtrip", "oneway", "smp", "fragments"];

fn time_all(bench: &mut Bench, only: Option<&str>) -> bool {
    let mut known = false;
    for w in WORKLOADS.iter().filter(|w| only.is_none_or(|o| o == **w)) {
        known = true;
        time_workload(bench, w);
    }
    known
}

fn time_workload(bench: &mut Bench, workload: &str) {
    let msg = text(MSG_LEN);
    match workload {
        "keygen" => {
            let keygen = sample(PLAN_KEYGEN, || {
                let t = CpuTimer::start();
                black_box(DsaPrivateKey::generate(&mut bench.rng));
                t.elapsed()
            });
            report("keygen", keygen * 1e3, "ms");
        }
        "ake" => {
            let ake = sample(PLAN_AKE, || {
                let mut duo = Duo::new();
                let t = CpuTimer::start();
                duo.ake(bench);
                let d = t.elapsed();
                check(duo.private(), "the AKE did not make both sides private");
                d
            });
            report("ake", ake * 1e3, "ms");
            // The modern handshake alone (3 messages through the codec, both sides), and the
            // whole way from the query to both sides upgraded (v3 AKE + announcements +
            // modern handshake), as two purple-otr users go.
            let mut seed = 0u64;
            let handshake = sample(PLAN_AKE, || {
                seed += 1;
                let t = CpuTimer::start();
                black_box(modern::handshake(seed));
                t.elapsed()
            });
            report("modern_handshake", handshake * 1e3, "ms");
            let upgrade = sample(PLAN_AKE, || {
                let mut duo = Duo::new_modern();
                let t = CpuTimer::start();
                duo.ake(bench);
                let d = t.elapsed();
                check(
                    duo.modern(),
                    "the sessions did not upgrade to the modern suite",
                );
                d
            });
            report("modern_ake_and_upgrade", upgrade * 1e3, "ms");
            // Pinned peers: DIRECT_INIT, RESPONSE, CONFIRM through the sessions.
            let direct = sample(PLAN_AKE, || {
                let mut duo = Duo::new_direct(bench);
                let t = CpuTimer::start();
                duo.ake(bench);
                let d = t.elapsed();
                check(duo.modern(), "the direct start did not complete");
                d
            });
            report("modern_direct_start", direct * 1e3, "ms");
            println!(
                "info modern_session_state max={}B fresh={}B",
                modern::max_session_bytes(),
                modern::fresh_session_bytes()
            );
        }
        "roundtrip" => {
            let v3 = established(bench);
            roundtrip(bench, &msg, v3, "");
            let upgraded = established_modern(bench);
            roundtrip(bench, &msg, upgraded, "modern_");
        }
        "oneway" => {
            let v3 = established(bench);
            oneway(bench, &msg, v3, "");
            let upgraded = established_modern(bench);
            oneway(bench, &msg, upgraded, "modern_");
        }
        "smp" => {
            let mut duo = established(bench);
            let smp = sample(PLAN_SMP, || {
                let t = CpuTimer::start();
                duo.smp(bench);
                let d = t.elapsed();
                check(duo.smp_succeeded(), "SMP did not succeed on both sides");
                d
            });
            report("smp", smp * 1e3, "ms");
        }
        "fragments" => {
            let big = text(BIG_LEN);
            let mut duo = established(bench);
            duo.s[A].set_max_message_size(FRAGMENT_MMS);
            let fragments = sample(PLAN_FRAGMENTS, || {
                let before = duo.shown[B];
                let t = CpuTimer::start();
                duo.send(bench, A, &big);
                duo.run(bench);
                let d = t.elapsed();
                check(
                    duo.shown[B] == before + 1 && duo.last_shown[B] == BIG_LEN,
                    "the fragmented message was not reassembled",
                );
                d
            });
            report("fragments_20k", fragments * 1e6, "us");
        }
        _ => {}
    }
}

/// Alternating directions: every message answers the last one, so each carries a fresh DH key
/// and both ratchets turn. The send call alone is timed too (the plugin's latency on the send
/// path). `prefix` names the suite in the report ("" for OTR v3, "modern_").
fn roundtrip(bench: &mut Bench, msg: &str, mut duo: Duo, prefix: &str) {
    let mut sends = Vec::new();
    let roundtrip = sample(PLAN_ROUNDTRIP, || {
        let t = CpuTimer::start();
        for _ in 0..ROUND_TRIPS_PER_SAMPLE {
            for who in [A, B] {
                let s = CpuTimer::start();
                duo.send(bench, who, msg);
                sends.push(s.elapsed().as_secs_f64());
                duo.run(bench);
            }
        }
        t.elapsed() / ROUND_TRIPS_PER_SAMPLE
    });
    check(
        duo.last_shown == [MSG_LEN, MSG_LEN],
        "round-trip messages did not arrive",
    );
    report(&format!("{prefix}roundtrip"), roundtrip * 1e6, "us");
    report(
        &format!("{prefix}send_140b"),
        median(&mut sends) * 1e6,
        "us",
    );
}

/// One direction only: the symmetric chain (v3: the same key pair until the peer answers).
fn oneway(bench: &mut Bench, msg: &str, mut duo: Duo, prefix: &str) {
    let oneway = sample(PLAN_ONEWAY, || {
        let t = CpuTimer::start();
        for _ in 0..ONE_WAY_PER_SAMPLE {
            duo.send(bench, A, msg);
            duo.run(bench);
        }
        t.elapsed() / ONE_WAY_PER_SAMPLE
    });
    check(
        duo.last_shown[B] == MSG_LEN,
        "one-way messages did not arrive",
    );
    report(&format!("{prefix}oneway"), oneway * 1e6, "us");
}

// ---- memory -----------------------------------------------------------------------------------

/// Heap bytes in use according to glibc (both harnesses use the same malloc and ask it the
/// same way, so allocator overhead counts alike).
#[allow(unsafe_code)]
fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics; it has no preconditions.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks + info.hblkhd
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// `n` sessions of Alice's, each private with its own Bob (whose side is dropped after the
/// AKE, as if remote): what a gateway holding `n` idle conversations pays.
fn mem(bench: &mut Bench, n: usize) {
    // Warm up once so lazily built constants are not charged to the sessions.
    drop(established(bench));
    let heap0 = heap_in_use();
    let rss0 = rss_bytes();
    let mut kept: Vec<Session> = Vec::with_capacity(n);
    for _ in 0..n {
        let duo = established(bench);
        let [alice, bob] = duo.s;
        drop(bob);
        kept.push(alice);
    }
    let heap1 = heap_in_use();
    let rss1 = rss_bytes();
    check(
        kept.iter().all(|s| s.status().is_private()),
        "a kept session is not private",
    );
    report(
        "session_heap",
        heap1.saturating_sub(heap0) as f64 / n as f64,
        "B",
    );
    report(
        "rss_sessions",
        rss1.saturating_sub(rss0) as f64 / 1024.0,
        "KiB",
    );
    black_box(&kept);
}

// ---- callgrind --------------------------------------------------------------------------------

fn callgrind(bench: &mut Bench, workload: &str) -> bool {
    let msg = text(MSG_LEN);
    match workload {
        "ake" => {
            let mut duo = Duo::new();
            cg_workload_ake(bench, &mut duo);
            check(duo.private(), "the AKE did not make both sides private");
        }
        "roundtrip" => {
            let mut duo = established(bench);
            cg_workload_roundtrip(bench, &mut duo, &msg);
            check(duo.shown == [CG_MESSAGES / 2; 2], "messages did not arrive");
        }
        "oneway" => {
            let mut duo = established(bench);
            warm_up(bench, &mut duo, &msg);
            cg_workload_oneway(bench, &mut duo, &msg);
            check(duo.shown[B] == CG_MESSAGES, "messages did not arrive");
        }
        "smp" => {
            let mut duo = established(bench);
            cg_workload_smp(bench, &mut duo);
            check(duo.smp_succeeded(), "SMP did not succeed on both sides");
        }
        "fragments" => {
            let mut duo = established(bench);
            warm_up(bench, &mut duo, &msg);
            duo.s[A].set_max_message_size(FRAGMENT_MMS);
            cg_workload_fragments(bench, &mut duo, &text(BIG_LEN));
            check(
                duo.last_shown[B] == BIG_LEN,
                "the message was not reassembled",
            );
        }
        _ => return false,
    }
    true
}

/// One-way messages before a one-way run is counted, so the count is the steady state (as
/// in the timed runs) rather than the first key derivations after the AKE.
fn warm_up(bench: &mut Bench, duo: &mut Duo, msg: &str) {
    for _ in 0..CG_WARM_UP {
        duo.send(bench, A, msg);
        duo.run(bench);
    }
    duo.shown = [0; 2];
}

#[inline(never)]
fn cg_workload_ake(bench: &mut Bench, duo: &mut Duo) {
    duo.ake(bench);
}

#[inline(never)]
fn cg_workload_roundtrip(bench: &mut Bench, duo: &mut Duo, msg: &str) {
    for i in 0..CG_MESSAGES {
        duo.send(bench, i % 2, msg);
        duo.run(bench);
    }
}

#[inline(never)]
fn cg_workload_oneway(bench: &mut Bench, duo: &mut Duo, msg: &str) {
    for _ in 0..CG_MESSAGES {
        duo.send(bench, A, msg);
        duo.run(bench);
    }
}

#[inline(never)]
fn cg_workload_smp(bench: &mut Bench, duo: &mut Duo) {
    duo.smp(bench);
}

#[inline(never)]
fn cg_workload_fragments(bench: &mut Bench, duo: &mut Duo, big: &str) {
    duo.send(bench, A, big);
    duo.run(bench);
}

// ---- keys -------------------------------------------------------------------------------------

/// Reads one of libotr's test keys: the five `(name #HEX#)` values of its S-expression file.
fn load_key(who: &str) -> DsaPrivateKey {
    let path = format!(
        "{}/tests/fixtures/libotr/{who}.private_key",
        env!("CARGO_MANIFEST_DIR")
    );
    let file = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("compare: cannot read {path}: {e}");
        std::process::exit(1)
    });
    let field = |name: &str| -> Vec<u8> {
        let open = format!("({name} #");
        let Some(start) = file.find(&open).map(|i| i + open.len()) else {
            eprintln!("compare: no {name} in {path}");
            std::process::exit(1)
        };
        let hex = file[start..].split('#').next().unwrap_or("");
        (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect()
    };
    DsaPrivateKey::from_components(
        &field("p"),
        &field("q"),
        &field("g"),
        &field("y"),
        &field("x"),
    )
    .unwrap_or_else(|e| {
        eprintln!("compare: bad key in {path}: {e:?}");
        std::process::exit(1)
    })
}
