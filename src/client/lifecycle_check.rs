//! The first rule under random lifecycles (issue 10, issue 13): a deterministic world of two
//! [`Client`]s, alice and bob, a wire between them that can deliver, drop, duplicate,
//! reorder and replay, a clock, a forging peer, and the oracle checked after every step.
//! Shared by `tests/lifecycle_property.rs` (seeded random sequences) and the
//! `fuzz/fuzz_targets/lifecycle.rs` target (libFuzzer bytes decoded into steps).
//!
//! The oracle:
//! - no panic (the caller sees it);
//! - what a peer controls stays bounded: held messages and instances of either side;
//! - the first rule: once alice has been private (or while her policy is Always), no text she
//!   typed appears readable on the wire unless, after the last time she was private and
//!   before it was typed, she ended the conversation or switched OTR off for bob;
//! - nothing typed is silently lost (at the end): each typed text reached bob, went out in the
//!   clear (where allowed), was reported in a notice quoting it, still waits, or can be
//!   accounted for by a data message that did not arrive or a `/otr drop-held`.
//!
//! Alice quitting (shut down, then a fresh client over the same files) counts as ending: the
//! engine keeps no "was private" mark across restarts, as pidgin-otr keeps none. [`Strict`]
//! holds stricter readings (used by ignored tests that ask the design questions).
//!
//! Input format ([`decode`], [`encode`]): one config byte, then (op, arg) byte pairs; the
//! op table is weighted towards traffic. Runs are deterministic (seeded RNGs, fixed keys and
//! instance tags, the clock a counter); `PURPLE_OTR_LIFECYCLE_TRACE=1` prints every step and
//! effect.
#![allow(clippy::cast_possible_truncation)]

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::conversations::{AccountId, Client, ConvKey, ConvSettings, Effect, Regression};
use super::store::{Store, INSTANCE_TAGS_FILE, PRIVATE_KEY_FILE};
use crate::otr::events::Suite;
use crate::otr::fuzz::PoolRng;
use crate::otr::keystore::fingerprints::FingerprintEntry;
use crate::otr::keystore::privkey::{parse_private_keys, write_private_keys, AccountKey};
use crate::otr::policy::Policy;
use crate::otr::session::{MAX_HELD, MAX_INSTANCES};
use crate::otr::wire::envelope::{self, classify, whitespace_tag, Incoming};

const ALICE: &str = "alice@localhost/peer";
const BOB: &str = "bob@localhost/peer";
const PROTOCOL: &str = "prpl-jabber";
/// The wire keeps at most this many messages per direction (the world's own memory).
const WIRE_CAP: usize = 64;
/// Old messages kept per direction for replays.
const HISTORY_CAP: usize = 32;
/// Deliveries per "settle" step (two engines can ping-pong, e.g. after errors).
const SETTLE_CAP: usize = 64;
const SECRET: &str = "the-right-secret";
/// Streams of each client's [`PoolRng`]: a world runs many AKEs and SMP exchanges, whose
/// exponents combine, so two streams keep the combinations (and so the exponentiations to
/// remember) few.
const RNG_POOL: u64 = 2;

/// Which way a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ToBob,
    ToAlice,
}

/// A policy the user can pick for bob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyChoice {
    Never,
    Manual,
    Opportunistic,
    Always,
}

impl PolicyChoice {
    fn policy(self) -> Policy {
        match self {
            PolicyChoice::Never => Policy::NEVER,
            PolicyChoice::Manual => Policy::MANUAL,
            PolicyChoice::Opportunistic => Policy::OPPORTUNISTIC,
            PolicyChoice::Always => Policy::ALWAYS,
        }
    }
}

/// One thing that happens. Alice is the user under test; bob is the other side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    // alice, the user
    Type,
    End,
    Start,
    SmpStart {
        right: bool,
        question: bool,
    },
    SmpAnswer {
        right: bool,
    },
    SmpAbort,
    SetPolicy(PolicyChoice),
    OnlyVerified(bool),
    SendHeld,
    DropHeld,
    /// Marks bob's current key verified (or not), as the Verify dialog does.
    Verify(bool),
    // bob, the user on the other side
    BobTypes,
    BobStart,
    BobEnd,
    BobSmpStart,
    BobSmpAnswer {
        right: bool,
    },
    // the host
    BuddyOffline,
    BuddyOnline,
    BobSeesAliceOffline,
    BobSeesAliceOnline,
    AccountOffline,
    AccountOnline,
    /// Bob's client crashes and comes back over the same files (or with a new key).
    BobRestarts {
        new_key: bool,
    },
    /// Alice quits (shut down) and starts her client again.
    AliceQuits,
    WindowClose,
    /// Alice's background key generation finishes (if one was asked for).
    KeyReady,
    /// Alice's background key generation fails (if one was asked for).
    KeyFailed,
    TimePasses(u64),
    // the network and a hostile server
    Deliver(Dir),
    DeliverAll,
    Drop(Dir),
    Duplicate(Dir),
    Reorder(Dir),
    Replay(Dir, u8),
    Garbage(u8),
    ForgedFragment(u8),
    ReplayRetagged(u8),
    InjectPlain(u8),
}

/// How a world starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub alice_policy: PolicyChoice,
    pub bob_policy: PolicyChoice,
    /// Alice has no key yet: one is "generated" at a [`Step::KeyReady`].
    pub alice_keyless: bool,
    /// Both clients have the post-quantum upgrade on (docs/modern-suite.md): once private on
    /// OTR v3 they switch to the modern suite by themselves, so the sequence runs upgraded
    /// conversations too.
    pub modern: bool,
}

/// Decodes fuzzer bytes: the first byte is the [`Config`], then each byte pair a step.
pub fn decode(data: &[u8]) -> (Config, Vec<Step>) {
    let c = data.first().copied().unwrap_or(0);
    let config = Config {
        alice_policy: [
            PolicyChoice::Opportunistic,
            PolicyChoice::Manual,
            PolicyChoice::Always,
            PolicyChoice::Opportunistic,
        ][usize::from(c & 3)],
        bob_policy: if c & 4 == 0 {
            PolicyChoice::Opportunistic
        } else {
            PolicyChoice::Always
        },
        alice_keyless: c & 8 != 0,
        modern: c & 16 != 0,
    };
    let steps = data
        .get(1..)
        .unwrap_or(&[])
        .chunks_exact(2)
        .map(|p| step(p[0], p[1]))
        .collect();
    (config, steps)
}

fn dir(arg: u8) -> Dir {
    if arg & 1 == 0 {
        Dir::ToBob
    } else {
        Dir::ToAlice
    }
}

/// One step from an (op, arg) byte pair; the table is weighted towards traffic so random
/// sequences get private often.
fn step(op: u8, arg: u8) -> Step {
    match op % 64 {
        0..=7 => Step::Type,
        8 => Step::End,
        9 | 10 => Step::Start,
        11 => Step::SmpStart {
            right: arg & 1 == 0,
            question: arg & 2 == 0,
        },
        12 => Step::SmpAnswer {
            right: arg & 1 == 0,
        },
        13 => Step::SmpAbort,
        14 => Step::SetPolicy(
            [
                PolicyChoice::Never,
                PolicyChoice::Manual,
                PolicyChoice::Opportunistic,
                PolicyChoice::Always,
            ][usize::from(arg & 3)],
        ),
        15 => Step::OnlyVerified(arg & 1 == 0),
        16 => Step::SendHeld,
        17 => Step::DropHeld,
        18 => Step::Verify(arg & 3 != 0),
        19 => Step::BobTypes,
        20 => Step::BobStart,
        21 => Step::BobEnd,
        22 => Step::BobSmpStart,
        23 => Step::BobSmpAnswer {
            right: arg & 1 == 0,
        },
        24 | 25 => Step::BuddyOffline,
        26 | 27 => Step::BuddyOnline,
        28 => Step::BobSeesAliceOffline,
        29 => Step::BobSeesAliceOnline,
        30 => Step::AccountOffline,
        31 => Step::AccountOnline,
        32 | 33 => Step::BobRestarts {
            new_key: arg % 4 == 0,
        },
        34 => Step::AliceQuits,
        35 => Step::WindowClose,
        36 => Step::KeyReady,
        37 => Step::TimePasses([1, 30, 61, 400][usize::from(arg & 3)]),
        38 => Step::KeyFailed,
        39..=44 => Step::Deliver(dir(arg)),
        45..=51 => Step::DeliverAll,
        52 => Step::Drop(dir(arg)),
        53 => Step::Duplicate(dir(arg)),
        54 => Step::Reorder(dir(arg)),
        55 | 56 => Step::Replay(dir(arg), arg >> 1),
        57 | 58 => Step::Garbage(arg),
        59 | 60 => Step::ForgedFragment(arg),
        61 | 62 => Step::ReplayRetagged(arg),
        _ => Step::InjectPlain(arg),
    }
}

/// Stricter readings of the rules than today's design, to ask questions with (see the
/// ignored tests in `tests/lifecycle_property.rs`). The default is today's reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strict {
    /// Alice quitting and starting again does not end the rule (the default treats a quit
    /// as ending, as the engine keeps no mark across restarts).
    pub quit_keeps_rule: bool,
    /// A data message bob received but could not read counts as lost, not as the network's
    /// loss (the default budget counts every data message bob did not show).
    pub unreadable_is_lost: bool,
}

/// What the oracle found, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Index of the step after which it was seen (`steps.len()` for the final checks).
    pub step: usize,
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "after step {}: {}", self.step, self.what)
    }
}

// ---- keys, made once per process ------------------------------------------------------------

struct Keys {
    /// `otr.private_key` contents for alice, bob, and bob's second key.
    alice: Vec<u8>,
    bob: Vec<u8>,
    bob_new: Vec<u8>,
}

/// Fixed DSA keys (libotr's own test keys, renamed to our accounts): generating DSA-1024
/// parameters takes seconds, too slow per world and per fuzz input.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let file = |bytes: &[u8], account: &str| -> Vec<u8> {
            let key = parse_private_keys(bytes)
                .ok()
                .and_then(|mut k| (!k.is_empty()).then(|| k.remove(0)))
                .expect("fixture key parses");
            write_private_keys(&[AccountKey::new(account, PROTOCOL, key.key)]).to_vec()
        };
        Keys {
            alice: file(
                include_bytes!("../../tests/fixtures/libotr/alice.private_key"),
                ALICE,
            ),
            bob: file(
                include_bytes!("../../tests/fixtures/libotr/bob.private_key"),
                BOB,
            ),
            bob_new: file(
                include_bytes!("../../tests/fixtures/libotr/two-accounts.private_key"),
                BOB,
            ),
        }
    })
}

/// `PURPLE_OTR_LIFECYCLE_TRACE=1` prints every step and effect (to read a failure).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("PURPLE_OTR_LIFECYCLE_TRACE").is_some_and(|v| v == "1"))
}

/// This process's directory for stores: `<shm or tmp>/purple-otr-life/<pid>`. Directories
/// left by processes that are gone (a fuzzer stops at the first crash, without unwinding)
/// are removed the first time.
fn base_dir() -> &'static PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let root = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
        .join("purple-otr-life");
        // Only where /proc tells which processes live.
        let entries = std::path::Path::new("/proc/self")
            .exists()
            .then(|| std::fs::read_dir(&root).ok())
            .flatten();
        if let Some(entries) = entries {
            for e in entries.flatten() {
                let pid = e.file_name().to_string_lossy().parse::<u32>().ok();
                let alive =
                    pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
                if !alive {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        root.join(std::process::id().to_string())
    })
}

fn temp_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = base_dir().join(format!("{label}-{}", N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

// ---- the world ------------------------------------------------------------------------------

struct Peer {
    client: Client,
    conv: ConvKey,
    dir: PathBuf,
    /// An SMP question or secret request waits for this side's answer.
    asked: bool,
    /// Restarts so far (each client gets its own RNG stream).
    incarnation: u64,
}

impl Peer {
    fn open(name: &str, buddy: &str, store: Store, seed: u64, regression: Regression) -> Peer {
        let dir = store.dir().to_path_buf();
        let mut client = Client::with_rng(store, PoolRng::with_pool(seed, RNG_POOL));
        client.reintroduce_insecure_regression_for_testing_only(regression);
        Peer {
            client,
            conv: ConvKey {
                account: AccountId {
                    name: name.into(),
                    protocol: PROTOCOL.into(),
                },
                buddy: buddy.into(),
            },
            dir,
            asked: false,
            incarnation: 0,
        }
    }

    /// The client restarts over the same files. The store is taken over rather than read
    /// again: it writes every change through, so it is what the files say, and reading a
    /// private key again checks its primes (half the time of a fuzz input).
    fn restart(&mut self, seed: u64, regression: Regression, reread: bool) {
        self.incarnation += 1;
        let store = if reread {
            Store::open(&self.dir, crate::client::store::no_lock_for_testing_only)
        } else {
            self.take_store()
        };
        let mut client = Client::with_rng(
            store,
            // Two streams alternate across restarts: enough to tell incarnations apart,
            // few enough that their exponentiations are remembered (`PoolRng`).
            PoolRng::with_pool(
                seed ^ (self.incarnation % 2).wrapping_mul(0x9e37_79b9),
                RNG_POOL,
            ),
        );
        client.reintroduce_insecure_regression_for_testing_only(regression);
        self.client = client;
        self.asked = false;
    }

    /// The store, leaving an empty one (over no directory) in its place.
    fn take_store(&mut self) -> Store {
        let void = self.dir.join("void");
        std::mem::replace(
            self.client.store_mut(),
            Store::open(&void, crate::client::store::no_lock_for_testing_only),
        )
    }
}

/// Stores with the usual keys already read, reused between worlds of one thread (reading a
/// key checks its primes: it is most of a short world's time). Each comes back with every
/// fingerprint forgotten, so a world starts the same whatever ran before it.
struct Pool {
    alice: Vec<Store>,
    bob: Vec<Store>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        for s in self.alice.iter().chain(&self.bob) {
            let _ = std::fs::remove_dir_all(s.dir());
        }
    }
}

thread_local! {
    static POOL: std::cell::RefCell<Pool> = const {
        std::cell::RefCell::new(Pool {
            alice: Vec::new(),
            bob: Vec::new(),
        })
    };
}

/// A store for `account` with `key` (a fresh directory if none is pooled).
fn pooled_store(account: &str, key: Option<&[u8]>, tag: u32) -> Store {
    let pooled = key.and_then(|_| {
        POOL.with(|p| {
            let mut p = p.borrow_mut();
            if account == ALICE {
                p.alice.pop()
            } else {
                p.bob.pop()
            }
        })
    });
    if let Some(store) = pooled {
        return store;
    }
    let dir = temp_dir(account.split('@').next().unwrap_or("x"));
    // Fixed instance tags, so worlds do not depend on which one made the tag.
    let _ = std::fs::write(
        dir.join(INSTANCE_TAGS_FILE),
        format!("{account}\t{PROTOCOL}\t{tag:08x}\n"),
    );
    if let Some(key) = key {
        std::fs::write(dir.join(PRIVATE_KEY_FILE), key).expect("key written");
    }
    Store::open(&dir, crate::client::store::no_lock_for_testing_only)
}

/// Gives a store back to the pool if it is as [`pooled_store`] makes it (the usual key),
/// with its fingerprints forgotten; otherwise removes its files.
fn return_store(mut store: Store, account: &str, reusable: bool) {
    let reusable = reusable && store.key_for(account, PROTOCOL).is_some();
    let entries: Vec<FingerprintEntry> = store.fingerprints().entries().cloned().collect();
    let mut clean = reusable;
    for e in entries {
        clean &= store
            .forget_fingerprint(&e.accountname, &e.protocol, &e.username, &e.fingerprint)
            .is_ok();
    }
    // Pins too: a pin makes the next start a direct one (docs/modern-suite.md §15).
    let pins: Vec<_> = store.pins().entries().to_vec();
    for p in pins {
        clean &= store
            .forget_pin(&p.account, &p.protocol, &p.buddy, &p.fingerprint)
            .is_ok();
    }
    clean &= store.fingerprints().entries().next().is_none()
        && store.pins().entries().is_empty()
        // The store never drops an identity key: one would carry a world's keys into
        // the next, so such a store is not reused.
        && store.modern_identity(account, PROTOCOL).is_none()
        && !store.has_unsaved_changes();
    if !clean {
        let _ = std::fs::remove_dir_all(store.dir());
        return;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if account == ALICE {
            p.alice.push(store);
        } else {
            p.bob.push(store);
        }
    });
}

#[derive(Clone, Debug)]
struct Packet {
    id: u64,
    text: String,
    /// The binary message `text` carries, if any: decoded once, on first use (replays and
    /// mutations pick from the whole history, which is decoded again and again otherwise).
    encoded: std::cell::OnceCell<Option<Vec<u8>>>,
}

impl Packet {
    fn new(id: u64, text: String) -> Packet {
        Packet {
            id,
            text,
            encoded: std::cell::OnceCell::new(),
        }
    }

    fn encoded(&self) -> Option<&Vec<u8>> {
        self.encoded
            .get_or_init(|| match classify(&self.text) {
                Incoming::Encoded { bytes } => Some(bytes),
                _ => None,
            })
            .as_ref()
    }
}

struct Typed {
    marker: String,
    /// Typed while the first rule applied: it may never appear in the clear.
    protected: bool,
}

/// Two clients, the wire, the clock and the oracle's records.
pub struct World {
    alice: Peer,
    bob: Peer,
    now: u64,
    to_bob: VecDeque<Packet>,
    to_alice: VecDeque<Packet>,
    sent_to_bob: VecDeque<Packet>,
    sent_to_alice: VecDeque<Packet>,
    next_id: u64,
    regression: Regression,
    // alice's settings and presence as her host knows them
    policy: PolicyChoice,
    only_verified: bool,
    alice_sees_bob: bool,
    alice_online: bool,
    bob_sees_alice: bool,
    bob_policy: PolicyChoice,
    /// Both sides upgrade to the modern suite ([`Config::modern`]).
    modern: bool,
    key_asked: bool,
    /// Bob's store holds another key than the pooled ones.
    bob_key_changed: bool,
    forged: u32,
    // the oracle
    step_no: usize,
    /// Alice has been private and has not ended since (the first rule applies).
    guard: bool,
    /// Alice's conversation used the modern suite at some step.
    upgraded: bool,
    typed: Vec<Typed>,
    bob_typed: usize,
    /// Typed texts bob was shown.
    displayed: HashSet<usize>,
    /// Typed texts a notice quoted (reported, not sent).
    reported: HashSet<usize>,
    /// Typed texts seen readable on the wire.
    in_clear: HashSet<usize>,
    /// Alice's data messages, and those whose delivery showed bob a typed text.
    data_packets: HashSet<u64>,
    data_displayed: HashSet<u64>,
    /// Messages the user dropped with `/otr drop-held`.
    user_dropped: usize,
    /// Alice's data messages that reached bob (shown or not).
    data_delivered: HashSet<u64>,
    strict: Strict,
    violation: Option<Violation>,
    /// FNV-1a of everything put on the wire and alice's notices (to check runs are
    /// reproducible).
    digest: u64,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("step", &self.step_no)
            .field("typed", &self.typed.len())
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // After a panic the stores may be half-way through a change: not reused.
        let ok = !std::thread::panicking();
        return_store(self.alice.take_store(), ALICE, ok);
        return_store(self.bob.take_store(), BOB, ok && !self.bob_key_changed);
    }
}

/// What every typed text starts with.
const MARKER_PREFIX: &str = "typed-7f3a-";

fn marker(i: usize) -> String {
    format!("{MARKER_PREFIX}{i:04}")
}

/// A data message (or a fragment of one) of either suite: OTR v3/v2 DATA, or the modern
/// suite's MODERN_DATA (type 0x33, `?OTR:AAMz`, docs/modern-suite.md §3.4). The modern
/// handshake messages (0x30–0x32) carry no text and are not counted.
fn is_data(text: &str) -> bool {
    text.starts_with("?OTR:AAMD")
        || text.starts_with("?OTR:AAID")
        || text.starts_with("?OTR:AAMz")
        || text.starts_with("?OTR|")
}

impl World {
    pub fn new(config: Config, regression: Regression) -> World {
        let keys = keys();
        let alice_key = (!config.alice_keyless).then_some(&keys.alice[..]);
        let astore = pooled_store(ALICE, alice_key, 0x0a11_ce01);
        let bstore = pooled_store(BOB, Some(&keys.bob), 0x0b0b_0b01);
        World {
            alice: Peer::open(ALICE, "bob@localhost", astore, 1, regression),
            bob: Peer::open(BOB, "alice@localhost", bstore, 2, Regression::None),
            now: 1000,
            to_bob: VecDeque::new(),
            to_alice: VecDeque::new(),
            sent_to_bob: VecDeque::new(),
            sent_to_alice: VecDeque::new(),
            next_id: 0,
            regression,
            policy: config.alice_policy,
            only_verified: false,
            alice_sees_bob: true,
            alice_online: true,
            bob_sees_alice: true,
            bob_policy: config.bob_policy,
            modern: config.modern,
            key_asked: false,
            bob_key_changed: false,
            forged: 0,
            step_no: 0,
            guard: false,
            upgraded: false,
            typed: Vec::new(),
            bob_typed: 0,
            displayed: HashSet::new(),
            reported: HashSet::new(),
            in_clear: HashSet::new(),
            data_packets: HashSet::new(),
            data_displayed: HashSet::new(),
            user_dropped: 0,
            data_delivered: HashSet::new(),
            strict: Strict::default(),
            violation: None,
            digest: 0xcbf2_9ce4_8422_2325,
        }
    }

    fn alice_settings(&self) -> ConvSettings {
        ConvSettings {
            policy: self.policy.policy(),
            avoid_logging: true,
            only_verified: self.only_verified,
            logging_default: true,
            peer_online: self.alice_sees_bob && self.alice_online,
            modern: self.modern,
        }
    }

    fn bob_settings(&self) -> ConvSettings {
        ConvSettings {
            policy: self.bob_policy.policy(),
            avoid_logging: true,
            only_verified: false,
            logging_default: true,
            peer_online: self.bob_sees_alice,
            modern: self.modern,
        }
    }

    fn fail(&mut self, what: String) {
        if self.violation.is_none() {
            self.violation = Some(Violation {
                step: self.step_no,
                what,
            });
        }
    }

    /// Whether nothing alice typed may go out readable right now.
    fn rule_applies(&self) -> bool {
        self.guard || self.policy == PolicyChoice::Always
    }

    // ---- alice's output: the first rule ----

    fn digest(&mut self, text: &str) {
        for b in text.bytes() {
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn alice_wire(&mut self, text: String) {
        self.digest(&text);
        let id = self.next_id;
        self.next_id += 1;
        let rule = self.rule_applies();
        let mut failures = Vec::new();
        // One scan for the common prefix first: most of what goes out (OTR messages) holds
        // no typed text, and each marker would be another scan.
        let typed = if text.contains(MARKER_PREFIX) {
            &self.typed[..]
        } else {
            &[]
        };
        for (i, t) in typed.iter().enumerate() {
            if text.contains(&t.marker) {
                self.in_clear.insert(i);
                if rule || t.protected {
                    let why = if t.protected {
                        "typed while the conversation had to stay private"
                    } else {
                        "sent while the conversation had to stay private"
                    };
                    let what = format!(
                        "FIRST RULE: {:?} ({why}) went out readable: {:?}",
                        t.marker,
                        text.chars().take(200).collect::<String>()
                    );
                    failures.push(what);
                }
            }
        }
        for what in failures {
            self.fail(what);
        }
        if is_data(&text) {
            self.data_packets.insert(id);
        }
        push(
            &mut self.to_bob,
            &mut self.sent_to_bob,
            Packet::new(id, text),
        );
    }

    fn alice_effects(&mut self, effects: Vec<Effect>) {
        for e in effects {
            if trace() {
                eprintln!("    alice: {e:?}");
            }
            match e {
                Effect::Transmit { text, .. } => self.alice_wire(text),
                Effect::Notice { text, .. } => {
                    self.digest(&text);
                    for (i, t) in self.typed.iter().enumerate() {
                        if text.contains(&t.marker) {
                            self.reported.insert(i);
                        }
                    }
                }
                Effect::AskSecret { .. } => self.alice.asked = true,
                Effect::GenerateKey { .. } => self.key_asked = true,
                _ => {}
            }
        }
    }

    fn bob_wire(&mut self, text: String) {
        self.digest(&text);
        let id = self.next_id;
        self.next_id += 1;
        push(
            &mut self.to_alice,
            &mut self.sent_to_alice,
            Packet::new(id, text),
        );
    }

    fn bob_effects(&mut self, effects: Vec<Effect>) {
        for e in effects {
            if trace() {
                eprintln!("    bob: {e:?}");
            }
            match e {
                Effect::Transmit { text, .. } => self.bob_wire(text),
                Effect::AskSecret { .. } => self.bob.asked = true,
                _ => {}
            }
        }
    }

    // ---- deliveries ----

    fn give_alice(&mut self, text: &str) {
        let (conv, s, now) = (self.alice.conv.clone(), self.alice_settings(), self.now);
        let arrived = self.alice.client.incoming(&conv, &s, text, now);
        self.alice_effects(arrived.effects);
    }

    fn give_bob(&mut self, packet: &Packet) {
        let (conv, s, now) = (self.bob.conv.clone(), self.bob_settings(), self.now);
        let arrived = self.bob.client.incoming(&conv, &s, &packet.text, now);
        self.data_delivered.insert(packet.id);
        if trace() {
            eprintln!("    bob shows {:?}", arrived.display);
        }
        if let Some(shown) = arrived.display {
            for (i, t) in self.typed.iter().enumerate() {
                if shown.contains(&t.marker) {
                    self.displayed.insert(i);
                    self.data_displayed.insert(packet.id);
                }
            }
        }
        self.bob_effects(arrived.effects);
    }

    fn deliver(&mut self, d: Dir) -> bool {
        match d {
            Dir::ToBob => match self.to_bob.pop_front() {
                Some(p) => {
                    self.give_bob(&p);
                    true
                }
                None => false,
            },
            Dir::ToAlice => match self.to_alice.pop_front() {
                Some(p) => {
                    self.give_alice(&p.text);
                    true
                }
                None => false,
            },
        }
    }

    fn queue(&mut self, d: Dir) -> &mut VecDeque<Packet> {
        match d {
            Dir::ToBob => &mut self.to_bob,
            Dir::ToAlice => &mut self.to_alice,
        }
    }

    /// An old message of bob's, as bytes, if it was an encoded one.
    fn old_encoded_from_bob(&self, pick: u8) -> Option<Vec<u8>> {
        let encoded: Vec<&Vec<u8>> = self
            .sent_to_alice
            .iter()
            .filter_map(Packet::encoded)
            .collect();
        (!encoded.is_empty()).then(|| encoded[usize::from(pick) % encoded.len()].clone())
    }

    fn fresh_tag(&mut self) -> u32 {
        self.forged += 1;
        0x4000_0000 | self.forged.wrapping_mul(0x0101)
    }

    /// Alice's own instance tag, as bob's session knows it (0 if it does not yet).
    fn alice_tag(&self) -> u32 {
        self.bob
            .client
            .status(&self.bob.conv)
            .map_or(0, |s| s.instance)
    }

    // ---- one step ----

    /// Runs one step and checks the oracle; the first violation is kept.
    pub fn step(&mut self, step: Step) {
        if trace() {
            eprintln!("step {}: {step:?}", self.step_no);
        }
        let conv = self.alice.conv.clone();
        let bconv = self.bob.conv.clone();
        let now = self.now;
        match step {
            Step::Type => {
                let i = self.typed.len();
                let text = marker(i);
                self.typed.push(Typed {
                    marker: text.clone(),
                    protected: self.rule_applies(),
                });
                let s = self.alice_settings();
                let sent = self.alice.client.outgoing(&conv, &s, &text, now);
                // The notices first: one saying it is no longer private comes before the
                // message in the clear.
                let wire = sent.wire;
                self.alice_effects(sent.effects);
                for w in wire {
                    self.alice_wire(w);
                }
            }
            Step::End => {
                // The user's explicit choice of plain text.
                self.guard = false;
                let s = self.alice_settings();
                let e = self.alice.client.end(&conv, &s, now);
                self.alice_effects(e);
            }
            Step::Start => {
                let s = self.alice_settings();
                let e = self.alice.client.start(&conv, &s, now);
                self.alice_effects(e);
            }
            Step::SmpStart { right, question } => {
                let s = self.alice_settings();
                let secret = if right { SECRET } else { "wrong" };
                let q = question.then_some("our secret?");
                let e = self.alice.client.smp_start(&conv, &s, q, secret, now);
                self.alice_effects(e);
            }
            Step::SmpAnswer { right } => {
                if std::mem::take(&mut self.alice.asked) {
                    let s = self.alice_settings();
                    let secret = if right { SECRET } else { "wrong" };
                    let e = self.alice.client.smp_respond(&conv, &s, secret, now);
                    self.alice_effects(e);
                }
            }
            Step::SmpAbort => {
                let s = self.alice_settings();
                let e = self.alice.client.smp_abort(&conv, &s, now);
                self.alice_effects(e);
            }
            Step::SetPolicy(p) => {
                if p == PolicyChoice::Never {
                    // Switching OTR off for bob is the user's choice of plain text.
                    self.guard = false;
                }
                self.policy = p;
                let s = self.alice_settings();
                let e = self.alice.client.settings_changed(&conv, &s, now);
                self.alice_effects(e);
            }
            Step::OnlyVerified(on) => {
                self.only_verified = on;
                let s = self.alice_settings();
                let e = self.alice.client.settings_changed(&conv, &s, now);
                self.alice_effects(e);
            }
            Step::SendHeld => {
                let s = self.alice_settings();
                let e = self.alice.client.send_held(&conv, &s, now);
                self.alice_effects(e);
            }
            Step::DropHeld => {
                let before = self.alice_held();
                let s = self.alice_settings();
                let e = self.alice.client.drop_held(&conv, &s);
                self.user_dropped += before.saturating_sub(self.alice_held());
                self.alice_effects(e);
            }
            Step::Verify(yes) => {
                let fp = self.bob.client.own_fingerprint(&bconv.account);
                if let Some(fp) = fp {
                    let s = self.alice_settings();
                    let e = self.alice.client.set_verified(&conv, &s, &fp, yes, now);
                    self.alice_effects(e);
                }
            }
            Step::BobTypes => {
                self.bob_typed += 1;
                let text = format!("from-bob-{}", self.bob_typed);
                let s = self.bob_settings();
                let sent = self.bob.client.outgoing(&bconv, &s, &text, now);
                let wire = sent.wire;
                self.bob_effects(sent.effects);
                for w in wire {
                    self.bob_wire(w);
                }
            }
            Step::BobStart => {
                let s = self.bob_settings();
                let e = self.bob.client.start(&bconv, &s, now);
                self.bob_effects(e);
            }
            Step::BobEnd => {
                let s = self.bob_settings();
                let e = self.bob.client.end(&bconv, &s, now);
                self.bob_effects(e);
            }
            Step::BobSmpStart => {
                let s = self.bob_settings();
                let e = self.bob.client.smp_start(&bconv, &s, None, SECRET, now);
                self.bob_effects(e);
            }
            Step::BobSmpAnswer { right } => {
                if std::mem::take(&mut self.bob.asked) {
                    let s = self.bob_settings();
                    let secret = if right { SECRET } else { "wrong" };
                    let e = self.bob.client.smp_respond(&bconv, &s, secret, now);
                    self.bob_effects(e);
                }
            }
            Step::BuddyOffline => {
                self.alice_sees_bob = false;
                let e = self.alice.client.buddy_offline(&conv);
                self.alice_effects(e);
            }
            Step::BuddyOnline => {
                self.alice_sees_bob = true;
                if self.alice_online {
                    let s = self.alice_settings();
                    let e = self.alice.client.buddy_online(&conv, &s, now);
                    self.alice_effects(e);
                }
            }
            Step::BobSeesAliceOffline => {
                self.bob_sees_alice = false;
                let e = self.bob.client.buddy_offline(&bconv);
                self.bob_effects(e);
            }
            Step::BobSeesAliceOnline => {
                self.bob_sees_alice = true;
                let s = self.bob_settings();
                let e = self.bob.client.buddy_online(&bconv, &s, now);
                self.bob_effects(e);
            }
            Step::AccountOffline => {
                self.alice_online = false;
                let account = conv.account.clone();
                let e = self.alice.client.account_offline(&account);
                self.alice_effects(e);
            }
            Step::AccountOnline => {
                self.alice_online = true;
                if self.alice_sees_bob {
                    let s = self.alice_settings();
                    let e = self.alice.client.buddy_online(&conv, &s, now);
                    self.alice_effects(e);
                }
            }
            Step::BobRestarts { new_key } => {
                if new_key {
                    self.bob_key_changed = true;
                    let _ = std::fs::write(self.bob.dir.join(PRIVATE_KEY_FILE), &keys().bob_new);
                }
                self.bob.restart(2, Regression::None, new_key);
            }
            Step::AliceQuits => {
                let s = self.alice_settings();
                let e = self.alice.client.shut_down(&conv, &s, now);
                self.alice_effects(e);
                // A new start of the client: no memory of this conversation (see the
                // module docs).
                if !self.strict.quit_keeps_rule {
                    self.guard = false;
                }
                self.key_asked = false;
                self.alice.restart(1, self.regression, false);
            }
            Step::WindowClose => {}
            Step::KeyReady => {
                if std::mem::take(&mut self.key_asked) {
                    let key = parse_private_keys(&keys().alice)
                        .ok()
                        .and_then(|mut k| (!k.is_empty()).then(|| k.remove(0)));
                    if let Some(k) = key {
                        let s = self.alice_settings();
                        let account = conv.account.clone();
                        let e = self.alice.client.key_ready(&account, k.key, now, |_| s);
                        self.alice_effects(e);
                    }
                }
            }
            Step::KeyFailed => {
                if std::mem::take(&mut self.key_asked) {
                    let account = conv.account.clone();
                    let e = self.alice.client.key_failed(&account, "no entropy today");
                    self.alice_effects(e);
                }
            }
            Step::TimePasses(secs) => {
                self.now += secs;
                let now = self.now;
                let s = self.alice_settings();
                let e = self.alice.client.poll(now, |_| s);
                self.alice_effects(e);
                let s = self.bob_settings();
                let e = self.bob.client.poll(now, |_| s);
                self.bob_effects(e);
            }
            Step::Deliver(d) => {
                self.deliver(d);
            }
            Step::DeliverAll => {
                for _ in 0..SETTLE_CAP {
                    let a = self.deliver(Dir::ToBob);
                    let b = self.deliver(Dir::ToAlice);
                    if !a && !b {
                        break;
                    }
                }
            }
            Step::Drop(d) => {
                self.queue(d).pop_front();
            }
            Step::Duplicate(d) => {
                let q = self.queue(d);
                if let Some(p) = q.front().cloned() {
                    q.push_front(p);
                }
            }
            Step::Reorder(d) => {
                let q = self.queue(d);
                if q.len() >= 2 {
                    q.swap(0, 1);
                }
            }
            Step::Replay(d, pick) => {
                let old = match d {
                    Dir::ToBob => &self.sent_to_bob,
                    Dir::ToAlice => &self.sent_to_alice,
                };
                if !old.is_empty() {
                    let p = old[usize::from(pick) % old.len()].clone();
                    match d {
                        Dir::ToBob => self.give_bob(&p),
                        Dir::ToAlice => self.give_alice(&p.text),
                    }
                }
            }
            Step::Garbage(pick) => {
                let text = match pick % 8 {
                    0 => "?OTR:AAMDAAAA.".to_string(),
                    1 => format!("?OTR:AAMD{}.", "QUFB".repeat(usize::from(pick))),
                    2 => "?OTR Error: you have been hacked".to_string(),
                    3 => "?OTRv3?".to_string(),
                    4 => "?OTR|1234|".to_string(),
                    5 => "?OTR:AAMC////.".to_string(),
                    _ => match self.old_encoded_from_bob(pick / 8) {
                        Some(mut bytes) => {
                            let at = usize::from(pick) % bytes.len().max(1);
                            if let Some(b) = bytes.get_mut(at) {
                                *b ^= 1 << (pick % 7);
                            }
                            envelope::encode(&bytes)
                        }
                        None => "?OTR:.".to_string(),
                    },
                };
                self.give_alice(&text);
            }
            Step::ForgedFragment(pick) => {
                let sender = self.fresh_tag();
                let receiver = if pick & 1 == 0 { self.alice_tag() } else { 0 };
                let text = format!(
                    "?OTR|{sender:08x}|{receiver:08x},00001,00002,?OTR:AAMD{},",
                    "QUJD".repeat(1 + usize::from(pick >> 1))
                );
                self.give_alice(&text);
            }
            Step::ReplayRetagged(pick) => {
                if let Some(mut bytes) = self.old_encoded_from_bob(pick) {
                    // v3: version (2), type (1), sender instance tag (4), receiver tag (4).
                    if bytes.len() > 7 && bytes[1] == 3 {
                        let tag = self.fresh_tag();
                        bytes[3..7].copy_from_slice(&tag.to_be_bytes());
                    }
                    let text = envelope::encode(&bytes);
                    self.give_alice(&text);
                }
            }
            Step::InjectPlain(pick) => {
                let mut text = format!("injected-{pick}");
                if pick & 1 == 0 {
                    text.push_str(&whitespace_tag(Policy::OPPORTUNISTIC.versions()));
                }
                self.give_alice(&text);
            }
        }
        self.after_step();
        self.step_no += 1;
    }

    /// Messages alice's conversation holds now.
    fn alice_held(&self) -> usize {
        self.alice
            .client
            .status(&self.alice.conv)
            .map_or(0, |s| s.held)
    }

    fn after_step(&mut self) {
        if let Some(s) = self.alice.client.status(&self.alice.conv) {
            if s.is_private() {
                self.guard = true;
                self.upgraded |= s.suite == Some(Suite::Modern);
            }
        }
        let mut failures = Vec::new();
        for (name, p) in [("alice", &self.alice), ("bob", &self.bob)] {
            if let Some(s) = p.client.status(&p.conv) {
                if s.held > MAX_HELD || s.instances > MAX_INSTANCES {
                    let what = format!(
                        "UNBOUNDED: {name} holds {} messages and knows {} instances",
                        s.held, s.instances
                    );
                    failures.push(what);
                }
            }
        }
        for what in failures {
            self.fail(what);
        }
    }

    /// The final check: nothing typed was silently lost.
    pub fn finish(&mut self) {
        let missing: Vec<&str> = (0..self.typed.len())
            .filter(|i| {
                !self.displayed.contains(i)
                    && !self.reported.contains(i)
                    && !self.in_clear.contains(i)
            })
            .map(|i| self.typed[i].marker.as_str())
            .collect();
        let lost_in_transit = self
            .data_packets
            .iter()
            .filter(|id| !self.data_displayed.contains(id))
            .filter(|id| !self.strict.unreadable_is_lost || !self.data_delivered.contains(id))
            .count();
        let budget = self.alice_held() + self.user_dropped + lost_in_transit;
        if missing.len() > budget {
            let what = format!(
                "SILENTLY LOST: {} typed texts neither reached bob, nor were reported, nor \
                 wait ({} held, {} dropped by the user, {} data messages lost): {missing:?}",
                missing.len(),
                self.alice_held(),
                self.user_dropped,
                lost_in_transit
            );
            self.fail(what);
        }
    }

    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    /// Whether alice was private at some point (for coverage statistics).
    pub fn was_private(&self) -> bool {
        self.guard
    }
}

fn push(queue: &mut VecDeque<Packet>, history: &mut VecDeque<Packet>, p: Packet) {
    if history.len() >= HISTORY_CAP {
        history.pop_front();
    }
    history.push_back(p.clone());
    if queue.len() >= WIRE_CAP {
        queue.pop_front();
    }
    queue.push_back(p);
}

/// Statistics of one run, for the property test's coverage report.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// Alice was private at some step.
    pub reached_private: bool,
    /// Alice was private on the modern (post-quantum) suite at some step.
    pub reached_modern: bool,
    pub typed: usize,
    /// Typed texts bob was shown.
    pub delivered: usize,
    /// Typed texts a notice reported as not sent.
    pub reported: usize,
    /// Typed texts that went out in the clear (where that was allowed).
    pub in_clear: usize,
    /// Messages alice's conversation holds at the end.
    pub held: usize,
    /// A digest of all wire traffic: equal for equal inputs.
    pub digest: u64,
}

/// Runs the steps with the oracle; the first violation, if any.
pub fn run(config: Config, steps: &[Step], regression: Regression) -> Result<Outcome, Violation> {
    run_with(config, steps, regression, Strict::default())
}

/// [`run`] with a stricter reading of the rules.
pub fn run_with(
    config: Config,
    steps: &[Step],
    regression: Regression,
    strict: Strict,
) -> Result<Outcome, Violation> {
    let mut world = World::new(config, regression);
    world.strict = strict;
    let mut reached_private = false;
    for &s in steps {
        world.step(s);
        reached_private |= world.guard;
        if let Some(v) = world.violation() {
            return Err(v.clone());
        }
    }
    world.finish();
    match world.violation() {
        Some(v) => Err(v.clone()),
        None => Ok(Outcome {
            reached_private,
            reached_modern: world.upgraded,
            typed: world.typed.len(),
            delivered: world.displayed.len(),
            reported: world.reported.len(),
            in_clear: world.in_clear.len(),
            held: world.alice_held(),
            digest: world.digest,
        }),
    }
}

/// The fuzz body: bytes to steps, the oracle, a panic on any violation.
pub fn fuzz(data: &[u8], regression: Regression) {
    let (config, steps) = decode(data);
    if let Err(v) = run(config, &steps, regression) {
        panic!("lifecycle oracle: {v}\nconfig: {config:?}\nsteps: {steps:?}");
    }
}

/// A shorter step list that still fails in a way `wanted` accepts (greedy: drop one step at
/// a time while it does).
pub fn shrink(
    config: Config,
    steps: &[Step],
    regression: Regression,
    strict: Strict,
    wanted: fn(&Violation) -> bool,
) -> Vec<Step> {
    let fails = |s: &[Step]| {
        std::panic::catch_unwind(|| {
            run_with(config, s, regression, strict)
                .err()
                .is_some_and(|v| wanted(&v))
        })
        .unwrap_or(true)
    };
    let mut cur = steps.to_vec();
    loop {
        let before = cur.len();
        let mut i = cur.len();
        while i > 0 {
            i -= 1;
            let mut shorter = cur.clone();
            shorter.remove(i);
            if fails(&shorter) {
                cur = shorter;
            }
        }
        if cur.len() == before {
            return cur;
        }
    }
}

/// The bytes [`decode`] reads back as `config` and `steps` (to write seed inputs).
pub fn encode(config: Config, steps: &[Step]) -> Vec<u8> {
    let policy = |p: PolicyChoice| match p {
        PolicyChoice::Never => 0u8,
        PolicyChoice::Manual => 1,
        PolicyChoice::Opportunistic => 2,
        PolicyChoice::Always => 3,
    };
    let d = |d: Dir| u8::from(d == Dir::ToAlice);
    let mut out = vec![
        match config.alice_policy {
            PolicyChoice::Manual => 1,
            PolicyChoice::Always => 2,
            _ => 0,
        } | if config.bob_policy == PolicyChoice::Always {
            4
        } else {
            0
        } | if config.alice_keyless { 8 } else { 0 }
            | if config.modern { 16 } else { 0 },
    ];
    for s in steps {
        let (op, arg) = match *s {
            Step::Type => (0, 0),
            Step::End => (8, 0),
            Step::Start => (9, 0),
            Step::SmpStart { right, question } => (11, u8::from(!right) | u8::from(!question) << 1),
            Step::SmpAnswer { right } => (12, u8::from(!right)),
            Step::SmpAbort => (13, 0),
            Step::SetPolicy(p) => (14, policy(p)),
            Step::OnlyVerified(on) => (15, u8::from(!on)),
            Step::SendHeld => (16, 0),
            Step::DropHeld => (17, 0),
            Step::Verify(yes) => (18, u8::from(yes)),
            Step::BobTypes => (19, 0),
            Step::BobStart => (20, 0),
            Step::BobEnd => (21, 0),
            Step::BobSmpStart => (22, 0),
            Step::BobSmpAnswer { right } => (23, u8::from(!right)),
            Step::BuddyOffline => (24, 0),
            Step::BuddyOnline => (26, 0),
            Step::BobSeesAliceOffline => (28, 0),
            Step::BobSeesAliceOnline => (29, 0),
            Step::AccountOffline => (30, 0),
            Step::AccountOnline => (31, 0),
            Step::BobRestarts { new_key } => (32, u8::from(!new_key)),
            Step::AliceQuits => (34, 0),
            Step::WindowClose => (35, 0),
            Step::KeyReady => (36, 0),
            Step::KeyFailed => (38, 0),
            Step::TimePasses(secs) => (
                37,
                match secs {
                    0..=1 => 0,
                    2..=30 => 1,
                    31..=61 => 2,
                    _ => 3,
                },
            ),
            Step::Deliver(x) => (39, d(x)),
            Step::DeliverAll => (45, 0),
            Step::Drop(x) => (52, d(x)),
            Step::Duplicate(x) => (53, d(x)),
            Step::Reorder(x) => (54, d(x)),
            Step::Replay(x, pick) => (55, (pick & 0x7f) << 1 | d(x)),
            Step::Garbage(a) => (57, a),
            Step::ForgedFragment(a) => (59, a),
            Step::ReplayRetagged(a) => (61, a),
            Step::InjectPlain(a) => (63, a),
        };
        out.extend([op, arg]);
    }
    out
}
