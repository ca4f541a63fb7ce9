//! Fuzz bodies, one per target (feature `fuzzing`; the rustls habit). Each `fuzz/fuzz_targets`
//! binary is a single call into this module, and `tests/fuzz_smoke.rs` replays the committed
//! corpus through the same functions, so CI exercises every target without libFuzzer.
//!
//! Every body takes arbitrary bytes and must never panic except on a broken invariant, which
//! is what the assertions here state:
//! - [`message_decode`]: the envelope and the binary codec. decode → encode reproduces the
//!   input bytes, decode(encode(m)) == m, and the `?OTR:` envelope carries bytes unchanged.
//! - [`fragment_reassembly`]: a sequence of fragments against a declarative model of the
//!   spec's rules; the reassembly cap always holds; split → reassemble is the identity.
//! - [`session_receive`]: two real sessions driven into one of thirteen states (plaintext,
//!   each AKE state, private, finished, each SMP stage, several instances, a nearly full
//!   reassembly buffer, a held message), then the input as a script of hostile messages,
//!   replays, tampering, deliveries and user actions. No private text ever leaves in the
//!   clear (also checked by a final send once the session was private), a private (or
//!   finished) session never falls back to plaintext, memory stays bounded (held messages,
//!   instances, reassembly).
//! - [`smp_tlv`]: an SMP state machine in each state fed arbitrary TLVs, mutated genuine
//!   ones and user actions. Every failure aborts and resets; success needs equal secrets.
//! - [`keystore`]: the private-key, S-expression, fingerprint, instance-tag and
//!   max-message-size file readers; what they read writes back and reads back the same.
//!
//! The deep targets' start states are built once per process with deterministic keys and
//! RNGs and cloned for each input (`Clone` on the engine's state exists only with the
//! `fuzzing` feature). A prefix cache ([`PrefixCache`]) also keeps the state after each slow
//! step (an exponentiation) of an input, so libFuzzer's mutants of a deep input continue from
//! there. The `seeds` functions build the seed corpora (see `fuzz/README.md`).
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

use super::crypto::dsa::DsaPrivateKey;
use super::crypto::fingerprint::Fingerprint;
use super::events::Event;
use super::events::Suite;
use super::fragment::{self, FragmentPiece, Reassembler};
use super::modern::identity::IdentityKey;
use super::policy::Policy;
use super::session::{
    Env, MessageState, Outcome, PinnedPeer, Session, SessionConfig, MAX_HELD, MAX_INSTANCES,
    REASSEMBLY_CAP,
};
use super::smp::{Smp, SmpContext, SmpEvent, SmpState};
use super::wire::envelope::{self, classify, classify_reassembled, Incoming};
use super::wire::messages::{peek_data_flags, EncodedMessage, Header, Message, ProtocolVersion};
use super::wire::tlv::{self, Tlv};

// ---- the fuzzing RNG ------------------------------------------------------------------------

/// Streams of a [`PoolRng`] by default: the n-th draw of `len` bytes is stream `n mod POOL`
/// of the seed, cut to `len`.
pub const POOL: u64 = 8;

/// The deep targets' RNG: deterministic, and for the long draws — exponents of the 1536-bit
/// group (40 and 192 bytes) and DSA nonces (28 bytes) — drawing from a small pool of streams,
/// so that those exponents come from a finite set whatever path an input took, and their
/// exponentiations are remembered (`crypto::memo`) rather than recomputed: the difference
/// between a hundred and several thousand inputs per second. A repeated exponent is legal for
/// every OTR v3 step (keys are named by their ids, never compared by value), and values still
/// differ from one draw to the next within a run of `pool` draws. Draws of 32 bytes (X25519
/// keys, ML-KEM seeds: microseconds) and of up to 16 bytes (AES keys, instance tags) never
/// repeat: the Double Ratchet compares keys by value (a repeated ratchet key would read as no
/// ratchet step). A test RNG only.
#[derive(Clone, Debug)]
pub struct PoolRng {
    seed: u64,
    draws: u64,
    pool: u64,
    fresh: ChaCha20Rng,
}

impl PoolRng {
    pub fn new(seed: u64) -> Self {
        Self::with_pool(seed, POOL)
    }

    /// With `pool` streams (at least 2, so that two consecutive long draws differ).
    pub fn with_pool(seed: u64, pool: u64) -> Self {
        PoolRng {
            seed,
            draws: 0,
            pool: pool.max(2),
            fresh: ChaCha20Rng::seed_from_u64(seed ^ 0xf4e5_4f4e_5e5e_d001),
        }
    }

    fn pooled(len: usize) -> bool {
        len > 16 && len != 32
    }
}

impl RngCore for PoolRng {
    fn next_u32(&mut self) -> u32 {
        self.fresh.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.fresh.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if !Self::pooled(dest.len()) {
            self.fresh.fill_bytes(dest);
            return;
        }
        let stream = self.draws % self.pool;
        self.draws = self.draws.wrapping_add(1);
        let mut chacha = ChaCha20Rng::seed_from_u64(self.seed);
        chacha.set_stream(stream);
        chacha.fill_bytes(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for PoolRng {}

// ---- message_decode ---------------------------------------------------------------------------

/// The text envelope, the binary codec and the TLV codec on arbitrary input.
pub fn message_decode(data: &[u8]) {
    check_encoded(data);
    let text = String::from_utf8_lossy(data);
    check_incoming(&text, classify(&text));
    check_incoming(&text, classify_reassembled(&text));
    check_tlvs(data);
}

/// decode → encode → decode, and the envelope round trip, for bytes that decode.
fn check_encoded(bytes: &[u8]) {
    let Ok(message) = EncodedMessage::decode(bytes) else {
        return;
    };
    let again = message.encode();
    assert_eq!(
        again, bytes,
        "re-encoding a decoded message changed its bytes"
    );
    assert_eq!(EncodedMessage::decode(&again).as_ref(), Ok(&message));
    assert_eq!(Header::peek(bytes), Ok(message.header));
    assert_eq!(message.header.message_type, message.message.message_type());
    if let Message::Data(d) = &message.message {
        assert_eq!(peek_data_flags(bytes), Some(d.flags));
        assert!(
            bytes.starts_with(&d.authenticated_bytes(&message.header)),
            "the MAC must cover exactly the bytes as sent"
        );
    }
    assert_eq!(
        classify(&envelope::encode(bytes)),
        Incoming::Encoded {
            bytes: bytes.to_vec()
        },
        "the ?OTR: envelope must carry the bytes unchanged"
    );
}

fn check_incoming(raw: &str, incoming: Incoming) {
    match incoming {
        Incoming::Encoded { bytes } => {
            // Whatever the leniency of the base64 reader, what it produced travels unchanged.
            assert_eq!(
                classify(&envelope::encode(&bytes)),
                Incoming::Encoded {
                    bytes: bytes.clone()
                }
            );
            check_encoded(&bytes);
        }
        Incoming::Query { versions } => {
            let again = classify(&envelope::query_tag(versions));
            let Incoming::Query { versions: v } = again else {
                panic!("our own query tag is not a query: {again:?}");
            };
            assert_eq!((v.v2, v.v3), (versions.v2, versions.v3));
        }
        Incoming::Error { text } => {
            let again = classify_reassembled(&envelope::error_message(&text));
            assert_eq!(again, Incoming::Error { text });
        }
        Incoming::Fragment(piece) => {
            assert!(piece.is_well_formed());
            assert_eq!(FragmentPiece::parse(&format_piece(&piece)), Some(piece));
        }
        Incoming::Plaintext { text, tag } => {
            if tag.is_none() {
                assert_eq!(text, raw, "untagged plaintext is delivered as is");
            }
            assert!(text.len() <= raw.len());
        }
        Incoming::MalformedFragment | Incoming::Unknown => {}
    }
}

/// TLVs: what parses re-serialises to a prefix of the input (the parser stops silently at a
/// truncated record, as libotr does).
fn check_tlvs(data: &[u8]) {
    let (message, tlvs) = tlv::split_plaintext(data);
    assert!(tlvs.iter().all(|t| t.value.len() <= tlv::MAX_VALUE_LEN));
    let joined = tlv::try_join_plaintext(&message, &tlvs).expect("parsed TLVs fit");
    if data.contains(&0) {
        assert!(data.starts_with(&joined), "TLV re-serialisation differs");
    } else {
        assert_eq!(joined.len(), data.len() + 1);
        assert!(tlvs.is_empty());
    }
}

fn format_piece(p: &FragmentPiece) -> String {
    match p.version {
        ProtocolVersion::V3 => format!(
            "?OTR|{:x}|{:x},{},{},{},",
            p.sender_instance, p.receiver_instance, p.k, p.n, p.piece
        ),
        ProtocolVersion::V2 => format!("?OTR,{},{},{},", p.k, p.n, p.piece),
    }
}

// ---- fragment_reassembly --------------------------------------------------------------------

/// Small enough that fuzz inputs reach it.
const FUZZ_REASSEMBLY_CAP: usize = 256;

/// Lines of the input are IM messages fed to a reassembler with a small cap. A line starting
/// with 0xFF is a structured fragment `FF origin k(2) n(2) piece…` (so the fuzzer need not
/// type decimal numbers); one starting with 0xFE is `FE version mms(2) text…`, split with
/// [`fragment::split`] and reassembled whole.
pub fn fragment_reassembly(data: &[u8]) {
    let mut reassembler = Reassembler::new(FUZZ_REASSEMBLY_CAP);
    // The fragments accepted since the last message that resets the buffer.
    let mut history: Vec<FragmentPiece> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let text = match line {
            [0xff, origin, k0, k1, n0, n1, piece @ ..] => {
                let (k, n) = (
                    u16::from_be_bytes([*k0, *k1]),
                    u16::from_be_bytes([*n0, *n1]),
                );
                let piece = String::from_utf8_lossy(piece);
                match origin % 3 {
                    0 => format!("?OTR,{k},{n},{piece},"),
                    1 => format!("?OTR|{:08x}|{:08x},{k:05},{n:05},{piece},", 0x100, 0x200),
                    _ => format!("?OTR|{:x}|{:x},{k},{n},{piece},", 0x300, 0x200),
                }
            }
            [0xfe, version, m0, m1, text @ ..] => {
                check_split(
                    &String::from_utf8_lossy(text),
                    usize::from(u16::from_be_bytes([*m0, *m1])),
                    *version,
                );
                continue;
            }
            _ => String::from_utf8_lossy(line).into_owned(),
        };
        match classify(&text) {
            Incoming::Fragment(piece) => {
                history.push(piece.clone());
                if history.len() > usize::from(u16::MAX) {
                    history.remove(0);
                }
                let got = reassembler.accept(piece);
                let expected = completed_run(&history, FUZZ_REASSEMBLY_CAP);
                assert_eq!(got, expected, "reassembly differs from the spec's rules");
                if got.is_some() {
                    history.clear();
                }
            }
            Incoming::MalformedFragment => {}
            other => {
                if other.resets_fragment_buffer() {
                    reassembler.clear();
                    history.clear();
                }
            }
        }
        assert!(reassembler.pending_bytes() <= FUZZ_REASSEMBLY_CAP);
    }
}

/// The spec's rules, stated over the history instead of as a state machine: the newest
/// fragment completes a message iff the last `n` fragments are numbered 1..=n, all say `n`,
/// come from the same origin, and fit the cap together.
fn completed_run(history: &[FragmentPiece], cap: usize) -> Option<String> {
    let last = history.last()?;
    let n = usize::from(last.n);
    let run = history.get(history.len().checked_sub(n)?..)?;
    let first = run.first()?;
    let valid = run.iter().enumerate().all(|(i, p)| {
        usize::from(p.k) == i + 1
            && p.n == last.n
            && p.version == first.version
            && p.sender_instance == first.sender_instance
            && p.receiver_instance == first.receiver_instance
    });
    let total: usize = run.iter().map(|p| p.piece.len()).sum();
    (valid && total <= cap).then(|| run.iter().map(|p| p.piece.as_str()).collect())
}

/// split → classify → reassemble gives the text back.
fn check_split(text: &str, max_size: usize, version: u8) {
    let version = if version & 1 == 0 {
        ProtocolVersion::V2
    } else {
        ProtocolVersion::V3
    };
    let Ok(pieces) = fragment::split(text, max_size, version, 0x1234, 0x5678) else {
        return;
    };
    assert!(pieces.iter().all(|p| p.len() <= max_size.max(text.len())));
    if pieces.len() == 1 || text.contains("?OTR") {
        return;
    }
    let mut r = Reassembler::new(usize::MAX);
    let mut whole = None;
    for p in &pieces {
        let Incoming::Fragment(piece) = classify(p) else {
            panic!("our own fragment does not classify as one: {p:?}");
        };
        assert!(
            whole.is_none(),
            "a message completed before its last fragment"
        );
        whole = r.accept(piece);
    }
    assert_eq!(whole.as_deref(), Some(text));
}

// ---- session_receive ------------------------------------------------------------------------

const ALICE_TAG: u32 = 0x1234_5678;
const BOB_TAG: u32 = 0x8765_4321;
/// Private text of the conversation under attack: it must never appear on the wire in the
/// clear.
pub const CANARY: &str = "canary-7d1e-private-text";
const LINK_STEPS: usize = 64;
const MAX_SEEN: usize = 256;

/// The two long-term keys: libotr's own test keys (`tests/fixtures/libotr`), read once per
/// process (generating DSA parameters would cost seconds in an instrumented build).
fn keys() -> &'static [DsaPrivateKey; 2] {
    static KEYS: OnceLock<[DsaPrivateKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        use super::keystore::privkey::parse_private_keys;
        let read = |file: &[u8]| parse_private_keys(file).unwrap().remove(0).key;
        [
            read(include_bytes!(
                "../../tests/fixtures/libotr/alice.private_key"
            )),
            read(include_bytes!(
                "../../tests/fixtures/libotr/bob.private_key"
            )),
        ]
    })
}

/// Where the session under attack (Bob) starts. Each is built once per process (per
/// version choice) and cloned for every input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Plaintext,
    AwaitingDhKey,
    AwaitingRevealSig,
    AwaitingSig,
    Private,
    Finished,
    /// Private; Bob started SMP (his SMP1 is on the link, unseen by Alice).
    SmpSent,
    /// Private; Alice's SMP1 (with a question) reached Bob, who has not answered.
    SmpAwaitingSecret,
    /// Private; Bob answered with SMP2 (on the link), expecting SMP3.
    SmpExpect3,
    /// Private; Bob sent SMP3 (on the link), expecting SMP4.
    SmpExpect4,
    /// Private with Alice, and two more instances of her account: one private, one in the
    /// middle of its AKE (master + three children).
    Instances,
    /// Private; all but the last of the fragments of a long message from Alice reached Bob,
    /// so his reassembly buffer is nearly full; the last fragment is on the link.
    FragmentsPending,
    /// Bob asked for a private conversation (his query is on the link) and typed private
    /// text meanwhile: it is held.
    Held,
    /// Private, then both upgraded to the post-quantum suite (docs/modern-suite.md §13): what
    /// follows travels in the ratchet.
    Upgraded,
    /// Private on v3, both announced the suite; the handshake's first message is on the link.
    Upgrading,
    /// Each has the other's identity pinned; Bob started directly on the post-quantum suite
    /// (§15): his DIRECT_INIT is on the link and his canary waits, held.
    DirectPending,
}

impl Start {
    pub const ALL: [Start; 16] = [
        Start::Plaintext,
        Start::AwaitingDhKey,
        Start::AwaitingRevealSig,
        Start::AwaitingSig,
        Start::Private,
        Start::Finished,
        Start::SmpSent,
        Start::SmpAwaitingSecret,
        Start::SmpExpect3,
        Start::SmpExpect4,
        Start::Instances,
        Start::FragmentsPending,
        Start::Held,
        Start::Upgraded,
        Start::Upgrading,
        Start::DirectPending,
    ];

    fn is_post_quantum(self) -> bool {
        matches!(
            self,
            Start::Upgraded | Start::Upgrading | Start::DirectPending
        )
    }
}

/// The first input byte: bits 0-3 the start state, 4-5 the policy (modulo 3),
/// 6 v2 only, 7 fragmenting (a 300-byte maximum message size).
pub fn session_selector(start: Start, policy: u8, v2_only: bool, fragments: bool) -> u8 {
    let s = Start::ALL.iter().position(|&x| x == start).unwrap_or(0) as u8;
    s | ((policy % 3) << 4) | (u8::from(v2_only) << 6) | (u8::from(fragments) << 7)
}

/// The selector with the same meaning and the smallest fields (the cache key).
fn canonical_selector(selector: u8) -> u8 {
    ((selector & 0x0f) % Start::ALL.len() as u8)
        | ((((selector >> 4) & 3) % 3) << 4)
        | (selector & 0xc0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Alice,
    Bob,
}

/// Two more instances of Alice's account (other devices) in [`Start::Instances`].
const ALICE2_TAG: u32 = 0x2222_2222;
const ALICE3_TAG: u32 = 0x3333_3333;
/// Alice's text in [`Start::FragmentsPending`]: its data message, base64-encoded, comes to
/// about 94% of the reassembly cap.
const LONG_TEXT_LEN: usize = 740_000;
const LONG_FRAGMENTS: usize = 16;

/// Bob (under attack) and Alice (his real peer) with a link between them.
#[derive(Clone)]
struct Harness {
    alice: Session,
    bob: Session,
    rng: PoolRng,
    now: u64,
    link: VecDeque<(Side, String)>,
    /// Everything that crossed the link, for replays.
    seen: Vec<String>,
    /// Messages Alice sent Bob, as the seed generator records them.
    alice_to_bob: Vec<String>,
    /// Bob's conversation has been private: from then on nothing he types may leave in the
    /// clear (the harness never lets his user end it).
    bob_was_private: bool,
}

fn fuzz_config(name: &str, tag: u32, policy: Policy, mms: usize) -> SessionConfig {
    SessionConfig {
        account_name: name.into(),
        our_instance: tag,
        policy,
        max_message_size: mms,
    }
}

impl Harness {
    fn new(policy: Policy, mms: usize) -> Harness {
        Harness {
            alice: Session::new(fuzz_config("alice@fuzz.example", ALICE_TAG, policy, mms)),
            bob: Session::new(fuzz_config("bob@fuzz.example", BOB_TAG, policy, mms)),
            rng: PoolRng::new(0x5e55_1011),
            now: 10_000,
            link: VecDeque::new(),
            seen: Vec::new(),
            alice_to_bob: Vec::new(),
            bob_was_private: false,
        }
    }

    /// Runs `f` on one side with a fresh Env; what it sends goes on the link. Checks the
    /// invariants of both sessions around the call.
    fn act(&mut self, side: Side, f: impl FnOnce(&mut Session, &mut Env<'_>) -> Outcome) {
        let (session, key) = match side {
            Side::Alice => (&mut self.alice, &keys()[0]),
            Side::Bob => (&mut self.bob, &keys()[1]),
        };
        let before = session.status().state;
        let mut env = Env {
            now: self.now,
            rng: &mut self.rng,
            our_key: Some(key),
        };
        let out = f(session, &mut env);
        check_session(session, before, &out, side == Side::Bob);
        if side == Side::Bob && session.status().state == MessageState::Encrypted {
            self.bob_was_private = true;
        }
        let to = match side {
            Side::Alice => Side::Bob,
            Side::Bob => Side::Alice,
        };
        for m in out.to_send {
            if self.seen.len() < MAX_SEEN {
                self.seen.push(m.clone());
            }
            if side == Side::Alice {
                self.alice_to_bob.push(m.clone());
            }
            self.link.push_back((to, m));
        }
    }

    fn receive(&mut self, side: Side, text: &str) {
        self.act(side, |s, env| s.receive(env, text));
    }

    fn deliver_next(&mut self) -> bool {
        let Some((to, text)) = self.link.pop_front() else {
            return false;
        };
        self.receive(to, &text);
        true
    }

    fn deliver_all(&mut self) {
        for _ in 0..LINK_STEPS {
            if !self.deliver_next() {
                break;
            }
        }
    }

    /// Another device of Alice's account (instance `tag`) answers `query` and talks to Bob
    /// directly (not over the link) for `steps` messages each way.
    fn other_device(&mut self, tag: u32, query: &str, steps: usize) {
        let config = self.alice.config().clone();
        let mut other = Session::new(SessionConfig {
            our_instance: tag,
            ..config
        });
        let mut env = Env {
            now: self.now,
            rng: &mut self.rng,
            our_key: Some(&keys()[0]),
        };
        let mut to_bob = other.receive(&mut env, query).to_send;
        for _ in 0..steps {
            let mut to_other = Vec::new();
            for m in &to_bob {
                let mut env = Env {
                    now: self.now,
                    rng: &mut self.rng,
                    our_key: Some(&keys()[1]),
                };
                to_other.extend(self.bob.receive(&mut env, m).to_send);
            }
            to_bob.clear();
            for m in &to_other {
                let mut env = Env {
                    now: self.now,
                    rng: &mut self.rng,
                    our_key: Some(&keys()[0]),
                };
                to_bob.extend(other.receive(&mut env, m).to_send);
            }
        }
    }

    /// Gives both their post-quantum identity keys (fixed), and with `pins` each the other's
    /// identity pinned with the other's v3 fingerprint.
    fn post_quantum(&mut self, pins: bool) {
        let ids = [
            IdentityKey::from_secret_bytes(&[0xa1; 32]),
            IdentityKey::from_secret_bytes(&[0xb0; 32]),
        ];
        if pins {
            let pin = |i: usize| PinnedPeer {
                identity: *ids[i].public(),
                fingerprint: keys()[i].public().fingerprint(),
            };
            self.alice.set_pinned_peers(vec![pin(1)]);
            self.bob.set_pinned_peers(vec![pin(0)]);
        }
        let [a, b] = ids;
        self.alice.set_modern_identity(a);
        self.bob.set_modern_identity(b);
    }

    /// Delivers until the next message on the link is a post-quantum handshake message
    /// (type 0x30..=0x34) or the link is empty.
    fn deliver_until_modern_handshake(&mut self) {
        for _ in 0..LINK_STEPS {
            let next = self.link.front().map(|(_, m)| classify(m));
            match next {
                None => return,
                Some(Incoming::Encoded { bytes })
                    if bytes.len() > 2 && (0x30..=0x34).contains(&bytes[2]) =>
                {
                    return
                }
                Some(_) => {
                    self.deliver_next();
                }
            }
        }
    }

    /// Drives Bob into `start` deterministically.
    fn setup(&mut self, start: Start, versions: &str) {
        let query = format!("?OTRv{versions}?");
        if start.is_post_quantum() && versions.contains('3') {
            self.post_quantum(start == Start::DirectPending);
        }
        let private = |h: &mut Harness| {
            h.receive(Side::Bob, &query);
            h.deliver_all();
            h.act(Side::Bob, |s, env| s.send(env, CANARY));
            h.act(Side::Alice, |s, env| s.send(env, "hello bob"));
            h.deliver_all();
        };
        match start {
            // Under policy Always Bob's canary is held per input (see `harness_for`).
            Start::Plaintext => {}
            Start::AwaitingDhKey => {
                // Bob answers a query with his commit, which stays on the link.
                self.receive(Side::Bob, &query);
            }
            Start::AwaitingRevealSig => {
                self.receive(Side::Alice, &query);
                self.deliver_next(); // Alice's commit to Bob; his DH-Key stays on the link
            }
            Start::AwaitingSig => {
                self.receive(Side::Bob, &query);
                self.deliver_next(); // commit to Alice
                self.deliver_next(); // DH-Key to Bob; his Reveal Signature stays on the link
            }
            Start::Private => private(self),
            Start::Finished => {
                private(self);
                self.act(Side::Alice, |s, env| s.end(env, true));
                self.deliver_all();
            }
            Start::Held => {
                self.act(Side::Bob, |s, env| s.start(env));
                self.act(Side::Bob, |s, env| s.send(env, CANARY));
                assert!(self.bob.status().held > 0, "fuzz harness setup: not held");
            }
            Start::SmpSent => {
                private(self);
                self.act(Side::Bob, |s, env| {
                    s.smp_start(env, None, b"shared").unwrap_or_default()
                });
            }
            Start::SmpAwaitingSecret | Start::SmpExpect3 => {
                private(self);
                self.act(Side::Alice, |s, env| {
                    s.smp_start(env, Some("what is the secret?"), b"shared")
                        .unwrap_or_default()
                });
                self.deliver_all();
                if start == Start::SmpExpect3 {
                    self.act(Side::Bob, |s, env| {
                        s.smp_respond(env, b"shared").unwrap_or_default()
                    });
                }
            }
            Start::SmpExpect4 => {
                private(self);
                self.act(Side::Bob, |s, env| {
                    s.smp_start(env, None, b"shared").unwrap_or_default()
                });
                self.deliver_next(); // SMP1 to Alice
                self.act(Side::Alice, |s, env| {
                    s.smp_respond(env, b"shared").unwrap_or_default()
                });
                self.deliver_next(); // SMP2 to Bob; his SMP3 stays on the link
            }
            Start::Instances => {
                private(self);
                self.other_device(ALICE2_TAG, &query, 3); // a complete AKE
                self.other_device(ALICE3_TAG, &query, 0); // Bob answered its commit
            }
            Start::Upgraded => {
                private(self);
                self.act(Side::Bob, |s, env| s.send(env, CANARY));
                self.deliver_all();
                self.act(Side::Alice, |s, env| s.send(env, "hello again"));
                self.deliver_all();
            }
            Start::Upgrading => {
                self.receive(Side::Bob, &query);
                self.deliver_until_modern_handshake();
                self.act(Side::Bob, |s, env| s.send(env, CANARY));
                self.act(Side::Alice, |s, env| s.send(env, "hello bob"));
            }
            Start::DirectPending => {
                self.act(Side::Bob, |s, env| s.start(env));
                self.act(Side::Bob, |s, env| s.send(env, CANARY));
            }
            Start::FragmentsPending => {
                private(self);
                let mms = self.alice.config().max_message_size;
                let long = "x".repeat(LONG_TEXT_LEN);
                let size = LONG_TEXT_LEN * 4 / 3 / (LONG_FRAGMENTS - 1);
                self.alice.set_max_message_size(size);
                self.act(Side::Alice, |s, env| s.send(env, &long));
                self.alice.set_max_message_size(mms);
                while self.link.len() > 1 {
                    self.deliver_next();
                }
                assert!(
                    self.bob.max_pending_fragment_bytes() > REASSEMBLY_CAP / 2,
                    "fuzz harness setup: fragment buffer"
                );
            }
        }
        let expected = match start {
            Start::Plaintext
            | Start::AwaitingDhKey
            | Start::AwaitingRevealSig
            | Start::AwaitingSig
            | Start::Held => MessageState::Plaintext,
            // Waiting for the answer (or, v2 only, for the AKE its plain query asks for).
            Start::DirectPending => MessageState::Plaintext,
            Start::Finished => MessageState::Finished,
            _ => MessageState::Encrypted,
        };
        assert_eq!(self.bob.status().state, expected, "fuzz harness setup");
        if versions.contains('3') {
            match start {
                Start::Upgraded => assert_eq!(self.bob.status().suite, Some(Suite::Modern)),
                Start::Upgrading => {
                    assert_eq!(self.bob.status().suite, Some(Suite::Otr));
                    assert!(!self.link.is_empty(), "fuzz harness setup: no handshake");
                }
                Start::DirectPending => {
                    assert!(self.bob.status().held > 0, "fuzz harness setup: not held");
                    assert!(!self.link.is_empty(), "fuzz harness setup: no direct start");
                }
                _ => {}
            }
        }
    }
}

/// The invariants that hold after any call on a session in the fuzz harness.
fn check_session(session: &Session, before: MessageState, out: &Outcome, is_bob: bool) {
    let status = session.status();
    // Never silently back to plaintext: only `end()` does that, and the harness never calls it
    // on Bob after setup (nor on Alice, whose setup `end` happens before any input).
    if before != MessageState::Plaintext && status.state == MessageState::Plaintext {
        let ended_by_us = out
            .events
            .iter()
            .any(|e| matches!(e, Event::GoneInsecure { .. }));
        assert!(
            ended_by_us,
            "a private session fell back to plaintext: {out:?}"
        );
    }
    if before == MessageState::Encrypted && status.state == MessageState::Finished {
        assert!(
            out.events
                .iter()
                .any(|e| matches!(e, Event::PeerEnded { .. })),
            "a private session finished without the peer's disconnect: {out:?}"
        );
    }
    assert!(status.held <= MAX_HELD);
    assert!(status.instances <= MAX_INSTANCES);
    assert!(session.max_pending_fragment_bytes() <= REASSEMBLY_CAP);
    if is_bob {
        for m in &out.to_send {
            assert!(!m.contains(CANARY), "private text sent in the clear: {m:?}");
            if let Incoming::Encoded { bytes } = classify(m) {
                assert!(
                    !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
                    "private text inside an OTR message in the clear"
                );
            }
        }
    }
}
/// One step of the hostile script, from `op`.
fn session_op(h: &mut Harness, op: u8, payload: &[u8]) {
    let text = || String::from_utf8_lossy(payload).into_owned();
    match op % 10 {
        // Text from the network, as is.
        0 => h.receive(Side::Bob, &text()),
        // A binary message in the ?OTR: envelope.
        1 => h.receive(Side::Bob, &envelope::encode(payload)),
        // The same with the v3 instance tags set right, to get past the tag checks.
        2 => {
            let mut bytes = payload.to_vec();
            if bytes.len() >= 11 && bytes[..2] == [0, 3] {
                bytes[3..7].copy_from_slice(&ALICE_TAG.to_be_bytes());
                bytes[7..11].copy_from_slice(&BOB_TAG.to_be_bytes());
            }
            h.receive(Side::Bob, &envelope::encode(&bytes));
        }
        3 => {
            h.deliver_next();
        }
        4 => h.deliver_all(),
        // The real peer types something (NULs make TLVs, authenticated by the real keys).
        5 => {
            let t = text();
            h.act(Side::Alice, |s, env| s.send(env, &t));
        }
        // A replay of anything that crossed the link, to Bob.
        6 => {
            if !h.seen.is_empty() {
                let i = usize::from(payload.first().copied().unwrap_or(0)) % h.seen.len();
                let m = h.seen[i].clone();
                h.receive(Side::Bob, &m);
            }
        }
        // The next message for Bob on the link, tampered with: (offset, xor) byte pairs.
        7 => {
            let Some(pos) = h.link.iter().position(|(to, _)| *to == Side::Bob) else {
                return;
            };
            let Some((_, m)) = h.link.remove(pos) else {
                return;
            };
            let tampered = match classify(&m) {
                Incoming::Encoded { mut bytes } if !bytes.is_empty() => {
                    for pair in payload.chunks_exact(2) {
                        let len = bytes.len();
                        bytes[usize::from(pair[0]) % len] ^= pair[1];
                    }
                    envelope::encode(&bytes)
                }
                _ => m,
            };
            h.receive(Side::Bob, &tampered);
        }
        // Time passes; the hosts poll.
        8 => {
            let secs = payload.first().map_or(1, |&b| u64::from(b) * 4);
            h.now += secs;
            h.act(Side::Bob, |s, env| s.poll(env));
            h.act(Side::Alice, |s, env| s.poll(env));
        }
        // Bob's user does something (never `end`: that one may go to plaintext).
        _ => {
            let what = payload.first().copied().unwrap_or(0);
            let secret: &[u8] = if what & 0x80 != 0 {
                b"wrong"
            } else {
                b"shared"
            };
            match what % 6 {
                0 => {
                    let status = h.bob.status();
                    let private = status.is_private()
                        || h.bob.config().policy.has(Policy::REQUIRE_ENCRYPTION);
                    // The canary only where the user has a right to expect privacy.
                    let t = if private { CANARY } else { "public words" };
                    h.act(Side::Bob, |s, env| s.send(env, t));
                }
                1 => h.act(Side::Bob, |s, env| {
                    s.smp_start(env, Some("what is the secret?"), secret)
                        .unwrap_or_default()
                }),
                2 => h.act(Side::Bob, |s, env| {
                    s.smp_respond(env, secret).unwrap_or_default()
                }),
                3 => h.act(Side::Bob, |s, env| s.smp_abort(env)),
                4 => h.act(Side::Bob, |s, env| s.send_held_anyway(env)),
                _ => h.act(Side::Bob, |s, env| s.start(env)),
            }
            // Alice answers SMP questions with the shared secret.
            h.act(Side::Alice, |s, env| {
                s.smp_respond(env, b"shared").unwrap_or_default()
            });
        }
    }
}

/// Splits the script into `(op, payload, end)` records: `op len_hi len_lo payload…` (a short
/// last record takes what is left); `end` is where the record ends in `data`.
fn records(data: &[u8]) -> impl Iterator<Item = (u8, &[u8], usize)> {
    let mut rest_all = data;
    std::iter::from_fn(move || {
        let (&op, rest) = rest_all.split_first()?;
        let len = match rest {
            [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
            _ => 0,
        };
        let rest = rest.get(2..).unwrap_or(&[]);
        let (payload, tail) = rest.split_at(len.min(rest.len()));
        rest_all = tail;
        Some((op, payload, data.len() - tail.len()))
    })
}

// ---- prefix cache -------------------------------------------------------------------------

/// A step slower than this (a 1536-bit exponentiation, in an instrumented build) leaves its
/// resulting state in the [`PrefixCache`].
const SLOW_STEP: Duration = Duration::from_micros(200);
const PREFIX_CACHE_BYTES: usize = 256 << 20;
const PREFIX_CACHE_ENTRIES: usize = 4096;

/// The state a deterministic body reached after a slow prefix of an input (the selector and
/// the first steps), so that inputs sharing the prefix — most of libFuzzer's mutants of a
/// deep input — continue from a clone instead of repeating its exponentiations. Everything
/// in the state (sessions, RNG, clock) is a function of the prefix, so the result of an
/// input is the same with or without the cache; only the work differs. The invariants were
/// checked when the prefix first ran. Bounded: cleared when full.
struct PrefixCache<T> {
    map: HashMap<(u64, usize), (Vec<u8>, T)>,
    bytes: usize,
}

impl<T: Clone> PrefixCache<T> {
    fn new() -> Self {
        PrefixCache {
            map: HashMap::new(),
            bytes: 0,
        }
    }

    /// The longest cached prefix among `ends` (prefix lengths of `data`, increasing, with
    /// their hashes): its index in `ends` and a copy of its state.
    fn longest(&self, data: &[u8], ends: &[(usize, u64)]) -> Option<(usize, T)> {
        ends.iter().enumerate().rev().find_map(|(i, &(end, hash))| {
            let (key, state) = self.map.get(&(hash, end))?;
            (key.as_slice() == &data[..end]).then(|| (i, state.clone()))
        })
    }

    fn insert(&mut self, prefix: &[u8], hash: u64, state: T, size: usize) {
        if self.map.len() >= PREFIX_CACHE_ENTRIES || self.bytes + size > PREFIX_CACHE_BYTES {
            self.map.clear();
            self.bytes = 0;
        }
        self.bytes += size + prefix.len();
        self.map
            .insert((hash, prefix.len()), (prefix.to_vec(), state));
    }
}

/// FNV-1a hashes of `data[..end]` for each of `ends` (increasing).
fn prefix_hashes(data: &[u8], ends: impl Iterator<Item = usize>) -> Vec<(usize, u64)> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut at = 0;
    ends.map(|end| {
        for &b in &data[at..end] {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        at = end;
        (end, hash)
    })
    .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Harness {
    /// Roughly the bytes a copy of this harness holds.
    fn approx_size(&self) -> usize {
        let texts: usize = self
            .seen
            .iter()
            .chain(&self.alice_to_bob)
            .map(String::len)
            .sum();
        let link: usize = self.link.iter().map(|(_, m)| m.len()).sum();
        64 * 1024 + texts + link + self.bob.max_pending_fragment_bytes()
    }
}

/// One record, encoded for [`records`].
pub fn record(op: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut out = vec![op];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload[..usize::from(len)]);
    out
}

/// Bob and Alice in the state `selector` names, built once per process and per start and
/// version choice (deterministic keys and RNG, policy Manual), then cloned for each input:
/// the 1536-bit exchanges that set the state up are paid once, not per input.
fn base_harness(selector: u8) -> &'static Harness {
    static BASES: [OnceLock<Harness>; 32] = [const { OnceLock::new() }; 32];
    let start = usize::from(selector & 0x0f) % Start::ALL.len();
    let v2_only = selector & 0x40 != 0;
    BASES[start * 2 + usize::from(v2_only)].get_or_init(|| {
        let mut h = Harness::new(base_policy(Policy::MANUAL, v2_only), 0);
        h.setup(Start::ALL[start], if v2_only { "2" } else { "23" });
        h
    })
}

fn base_policy(policy: Policy, v2_only: bool) -> Policy {
    if v2_only {
        Policy(policy.0 & !Policy::ALLOW_V3)
    } else {
        policy
    }
}

/// A copy of the base state, with the selector's policy and maximum message size.
fn harness_for(selector: u8) -> Harness {
    let mut h = base_harness(selector).clone();
    let policy = [Policy::MANUAL, Policy::OPPORTUNISTIC, Policy::ALWAYS]
        [usize::from((selector >> 4) & 3) % 3];
    let policy = base_policy(policy, selector & 0x40 != 0);
    let mms = if selector & 0x80 != 0 { 300 } else { 0 };
    for s in [&mut h.alice, &mut h.bob] {
        s.set_policy(policy);
        s.set_max_message_size(mms);
    }
    let start = Start::ALL[usize::from(selector & 0x0f) % Start::ALL.len()];
    if start == Start::Plaintext && policy.has(Policy::REQUIRE_ENCRYPTION) {
        // Held until private; the query goes on the link.
        h.act(Side::Bob, |s, env| s.send(env, CANARY));
    }
    h
}

/// The whole receive path of a session, in the state the first byte selects, under a script
/// of hostile steps (see [`session_op`]). Afterwards, if Bob's conversation was ever private,
/// his user types the canary: it must not leave in the clear (checked by `check_session`).
pub fn session_receive(data: &[u8]) {
    run_session(data, true);
}

/// For a test of the prefix cache: what an input leaves behind (Bob's status, what is in
/// flight, the clock), run without the cache, then twice with it.
pub fn session_results_for_testing(data: &[u8]) -> [String; 3] {
    let show = |h: Option<Harness>| {
        h.map(|h| {
            format!(
                "{:?} {:?} {} {:?}",
                h.bob.status(),
                h.link,
                h.now,
                h.alice.status()
            )
        })
        .unwrap_or_default()
    };
    [
        show(run_session(data, false)),
        show(run_session(data, true)),
        show(run_session(data, true)),
    ]
}

fn run_session(data: &[u8], use_cache: bool) -> Option<Harness> {
    let (&selector, script) = data.split_first()?;
    static CACHE: OnceLock<Mutex<PrefixCache<Harness>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(PrefixCache::new()));
    let steps: Vec<(u8, &[u8], usize)> = records(script).take(64).collect();
    // The cache key of prefix k (k = 0..=steps.len()): the selector and the first k records
    // as `session_op` reads them (the op, and only the payload bytes it uses), so that
    // mutants differing in bytes a step ignores share its state.
    let mut key = vec![canonical_selector(selector)];
    let mut ends = vec![key.len()];
    for &(op, payload, _) in &steps {
        let used = match op % 10 {
            3 | 4 => &[][..],
            6 | 8 | 9 => payload.get(..1).unwrap_or(&[]),
            _ => payload,
        };
        key.push(op % 10);
        key.extend_from_slice(&(used.len() as u32).to_be_bytes());
        key.extend_from_slice(used);
        ends.push(key.len());
    }
    let ends = prefix_hashes(&key, ends.into_iter());
    let cached = if use_cache {
        lock(cache).longest(&key, &ends)
    } else {
        None
    };
    let (done, mut h) = cached.unwrap_or_else(|| (0, harness_for(selector)));
    for (k, &(op, payload, _)) in steps.iter().enumerate().skip(done) {
        let t = Instant::now();
        session_op(&mut h, op, payload);
        if use_cache && t.elapsed() > SLOW_STEP {
            let (end, hash) = ends[k + 1];
            lock(cache).insert(&key[..end], hash, h.clone(), h.approx_size());
        }
    }
    if h.bob_was_private {
        h.act(Side::Bob, |s, env| s.send(env, CANARY));
    }
    Some(h)
}

/// Builds every start state (both version choices) and applies every policy and fragmenting
/// choice: for a test that the setups hold. Returns the number of selectors tried.
pub fn build_all_session_states() -> usize {
    (0..=255u8)
        .filter(|&s| canonical_selector(s) == s)
        .inspect(|&s| drop(harness_for(s)))
        .count()
}

// ---- smp_tlv --------------------------------------------------------------------------------

/// Alice's and Bob's views of one session.
fn smp_contexts() -> (SmpContext, SmpContext) {
    let (a, b) = (Fingerprint([0xa5; 20]), Fingerprint([0x5b; 20]));
    let ssid = [0x0f, 0x22, 0x01, 0x5e, 0xed, 0x00, 0x11, 0x99];
    (
        SmpContext {
            our_fingerprint: a,
            their_fingerprint: b,
            ssid,
        },
        SmpContext {
            our_fingerprint: b,
            their_fingerprint: a,
            ssid,
        },
    )
}

const SMP_QUESTION: &str = "Where did we meet?";
const ALICE_SMP_SEED: u64 = 0xa11c_e5e5;
const BOB_SMP_SEED: u64 = 0xb0b5_e5e5;

fn bob_secret(same: bool) -> &'static [u8] {
    if same {
        b"in Bruges"
    } else {
        b"in Ghent"
    }
}

/// The four TLVs of one complete exchange with the fixed seeds: SMP1(Q), SMP2, SMP3, SMP4.
fn smp_transcript(question: bool, same_secret: bool) -> &'static [Tlv; 4] {
    static CACHE: [OnceLock<[Tlv; 4]>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    CACHE[usize::from(question) * 2 + usize::from(same_secret)].get_or_init(|| {
        let (ctx_a, ctx_b) = smp_contexts();
        let mut rng_a = PoolRng::new(ALICE_SMP_SEED);
        let mut rng_b = PoolRng::new(BOB_SMP_SEED);
        let (mut alice, mut bob) = (Smp::new(), Smp::new());
        let q = question.then_some(SMP_QUESTION);
        let t1 = alice.start(&mut rng_a, &ctx_a, b"in Bruges", q).unwrap();
        bob.handle(&mut rng_b, &t1);
        let t2 = bob
            .respond(&mut rng_b, &ctx_b, bob_secret(same_secret))
            .unwrap();
        let t3 = alice.handle(&mut rng_a, &t2).reply.unwrap();
        let t4 = bob.handle(&mut rng_b, &t3).reply.unwrap();
        [t1, t2, t3, t4]
    })
}

/// An SMP state machine in `state`, rebuilt with the same seeds as [`smp_transcript`], so the
/// transcript's next message is genuine for it. Returns it and its RNG.
fn smp_in_state(stage: u8, question: bool, same: bool) -> (Smp, PoolRng) {
    let (ctx_a, ctx_b) = smp_contexts();
    let t = smp_transcript(question, same);
    let mut rng_a = PoolRng::new(ALICE_SMP_SEED);
    let mut rng_b = PoolRng::new(BOB_SMP_SEED);
    let q = question.then_some(SMP_QUESTION);
    let mut smp = Smp::new();
    match stage % 5 {
        0 => (smp, rng_b),
        // Bob with Alice's SMP1 waiting for his secret.
        1 => {
            smp.handle(&mut rng_b, &t[0]);
            assert!(smp.is_awaiting_secret());
            (smp, rng_b)
        }
        // Alice after sending SMP1.
        2 => {
            smp.start(&mut rng_a, &ctx_a, b"in Bruges", q).unwrap();
            assert_eq!(smp.state(), SmpState::Expect2);
            (smp, rng_a)
        }
        // Bob after sending SMP2.
        3 => {
            smp.handle(&mut rng_b, &t[0]);
            smp.respond(&mut rng_b, &ctx_b, bob_secret(same)).unwrap();
            assert_eq!(smp.state(), SmpState::Expect3);
            (smp, rng_b)
        }
        // Alice after sending SMP3.
        _ => {
            smp.start(&mut rng_a, &ctx_a, b"in Bruges", q).unwrap();
            smp.handle(&mut rng_a, &t[1]);
            assert_eq!(smp.state(), SmpState::Expect4);
            (smp, rng_a)
        }
    }
}

/// [`smp_in_state`] built once per process for each choice, cloned for each input.
fn base_smp(stage: u8, question: bool, same: bool) -> &'static (Smp, PoolRng) {
    static BASES: [OnceLock<(Smp, PoolRng)>; 20] = [const { OnceLock::new() }; 20];
    let i = usize::from(stage % 5) * 4 + usize::from(question) * 2 + usize::from(same);
    BASES[i].get_or_init(|| smp_in_state(stage, question, same))
}

/// Kind of a pseudo-TLV that stands for a user action rather than a message: bits 0-1
/// respond (0), start (1) or abort (2, 3); bit 2 as Bob rather than Alice; bit 3 the value as
/// the secret instead of Alice's; bit 4 with a question.
pub const USER_TLV: u16 = 0xfe00;

/// The first input byte: bits 0-2 the state (EXPECT1, awaiting the user's secret, EXPECT2,
/// EXPECT3, EXPECT4), bit 3 a question, bit 4 equal secrets.
pub fn smp_selector(stage: u8, question: bool, same_secret: bool) -> u8 {
    (stage % 5) | (u8::from(question) << 3) | (u8::from(same_secret) << 4)
}

/// Kind of a pseudo-TLV that stands for a genuine transcript message: the low two bits pick
/// SMP1..SMP4; the value is `offset(2) xor-bytes…` applied to the genuine value.
pub const GENUINE_TLV: u16 = 0xff00;

/// An SMP state machine in the state the first byte selects, fed the TLV chain that follows.
pub fn smp_tlv(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    static CACHE: OnceLock<Mutex<PrefixCache<(Smp, PoolRng, bool)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(PrefixCache::new()));
    let (question, same) = (selector & 0x08 != 0, selector & 0x10 != 0);
    let transcript = smp_transcript(question, same);
    // What each step handles: genuine messages substituted, user actions normalised. The
    // cache key of prefix k is the state choice and the first k of these, so mutants that
    // come to the same steps share their state.
    let steps: Vec<Tlv> = tlv::parse_tlvs(rest)
        .into_iter()
        .take(32)
        .map(|t| effective_tlv(t, transcript))
        .collect();
    let mut key = vec![smp_selector(selector & 7, question, same)];
    let mut ends = vec![key.len()];
    for t in &steps {
        key.extend_from_slice(&t.kind.0.to_be_bytes());
        key.extend_from_slice(&(t.value.len() as u32).to_be_bytes());
        key.extend_from_slice(&t.value);
        ends.push(key.len());
    }
    let ends = prefix_hashes(&key, ends.into_iter());
    let base = || {
        let (smp, rng) = base_smp(selector & 7, question, same).clone();
        // Whether the secrets of this side and of the transcript's peer are equal.
        (0, (smp, rng, same))
    };
    let (done, (mut smp, mut rng, mut secrets_equal)) =
        lock(cache).longest(&key, &ends).unwrap_or_else(base);
    for (k, t) in steps.into_iter().enumerate().skip(done) {
        let started = Instant::now();
        smp_step(&mut smp, &mut rng, &mut secrets_equal, t, same);
        if started.elapsed() > SLOW_STEP {
            let (end, hash) = ends[k + 1];
            let state = (smp.clone(), rng.clone(), secrets_equal);
            lock(cache).insert(&key[..end], hash, state, 16 * 1024);
        }
    }
}

/// The TLV a step of [`smp_tlv`] handles: a [`GENUINE_TLV`] becomes the transcript's
/// message with its XOR applied; a [`USER_TLV`] keeps only the bits and value it uses.
fn effective_tlv(t: Tlv, transcript: &[Tlv; 4]) -> Tlv {
    match t.kind.0 & 0xff00 {
        GENUINE_TLV => {
            let mut genuine = transcript[usize::from(t.kind.0 & 3)].clone();
            if let [o0, o1, xor @ ..] = t.value.as_slice() {
                let offset = usize::from(u16::from_be_bytes([*o0, *o1]));
                for (b, x) in genuine.value.iter_mut().skip(offset).zip(xor) {
                    *b ^= x;
                }
            }
            genuine
        }
        USER_TLV => {
            let mut kind = t.kind.0 & 0xff1f;
            if kind & 3 == 3 {
                kind &= !1; // both mean abort
            }
            let value = if kind & 8 != 0 { t.value } else { Vec::new() };
            Tlv {
                kind: tlv::TlvType(kind),
                value,
            }
        }
        _ => t,
    }
}

/// One TLV (or user action) of [`smp_tlv`], with the oracle.
fn smp_step(smp: &mut Smp, rng: &mut PoolRng, secrets_equal: &mut bool, t: Tlv, same: bool) {
    let (ctx_a, ctx_b) = smp_contexts();
    {
        if t.kind.0 & 0xff00 == USER_TLV {
            // The user acts: the machine was in whatever state, and must stay consistent.
            let ctx = if t.kind.0 & 4 == 0 { &ctx_a } else { &ctx_b };
            let secret: &[u8] = if t.kind.0 & 8 == 0 {
                b"in Bruges"
            } else {
                &t.value
            };
            match t.kind.0 & 3 {
                0 => {
                    if let Ok(reply) = smp.respond(rng, ctx, secret) {
                        // The initiator of the transcript is Alice.
                        *secrets_equal = secret == b"in Bruges";
                        assert_eq!(reply.kind, tlv::SMP2);
                        assert_eq!(smp.state(), SmpState::Expect3);
                    }
                }
                1 => {
                    let q = (t.kind.0 & 0x10 != 0).then_some(SMP_QUESTION);
                    let reply = smp.start(rng, ctx, secret, q).unwrap();
                    // The responder of the transcript is Bob.
                    *secrets_equal = secret == bob_secret(same);
                    assert_eq!(reply.kind, if q.is_some() { tlv::SMP1Q } else { tlv::SMP1 });
                    assert_eq!(smp.state(), SmpState::Expect2);
                }
                _ => {
                    assert_eq!(smp.abort(), Tlv::empty(tlv::SMP_ABORT));
                    assert!(!smp.is_in_progress());
                }
            }
            return;
        }
        let out = smp.handle(rng, &t);
        if let Some(reply) = &out.reply {
            assert!(reply.value.len() <= tlv::MAX_VALUE_LEN);
        }
        match &out.event {
            Some(SmpEvent::Cheated | SmpEvent::Error) => {
                assert_eq!(out.reply, Some(Tlv::empty(tlv::SMP_ABORT)));
                assert_eq!(smp.state(), SmpState::Expect1);
                assert!(!smp.is_in_progress());
                assert_ne!(out.trust, Some(true));
            }
            Some(SmpEvent::Success) => {
                assert!(*secrets_equal, "SMP succeeded with different secrets");
                assert!(!smp.is_in_progress());
            }
            Some(SmpEvent::Failure) => assert!(!smp.is_in_progress()),
            Some(SmpEvent::Aborted) => assert!(!smp.is_in_progress()),
            _ => {}
        }
        if out.trust == Some(true) {
            assert_eq!(out.event, Some(SmpEvent::Success));
        }
        if !tlv_is_smp(t.kind) {
            assert_eq!(out, Default::default(), "a non-SMP TLV changed SMP");
        }
    }
}

fn tlv_is_smp(kind: tlv::TlvType) -> bool {
    matches!(
        kind,
        tlv::SMP1 | tlv::SMP2 | tlv::SMP3 | tlv::SMP4 | tlv::SMP_ABORT | tlv::SMP1Q
    )
}

// ---- keystore ---------------------------------------------------------------------------------

/// The key and trust file parsers (pidgin-otr's files, possibly damaged or hostile). The first
/// byte picks the parser: 0 `otr.private_key`, 1 the S-expression reader alone, 2
/// `otr.fingerprints`, 3 `otr.instance_tags`, 4 `otr.max_message_size`. What parses must
/// write out and read back the same (and a second write is byte-identical).
pub fn keystore(data: &[u8]) {
    use super::keystore::{privkey, sexp, FingerprintStore, InstanceTags, MaxMessageSizes};
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => {
            let Ok(keys) = privkey::parse_private_keys(file) else {
                return;
            };
            let written = privkey::write_private_keys(&keys);
            let again = privkey::parse_private_keys(&written).expect("our own key file reads back");
            let ids = |k: &[privkey::AccountKey]| -> Vec<(String, String, Fingerprint)> {
                k.iter()
                    .map(|a| {
                        (
                            a.account_name.clone(),
                            a.protocol.clone(),
                            a.key.public().fingerprint(),
                        )
                    })
                    .collect()
            };
            assert_eq!(ids(&keys), ids(&again));
            assert_eq!(*privkey::write_private_keys(&again), *written);
        }
        1 => {
            let Ok(tree) = sexp::parse(file) else {
                return;
            };
            let printed = tree.to_advanced();
            assert_eq!(printed.len(), tree.advanced_len());
            let again = sexp::parse(&printed).expect("printed S-expression reads back");
            assert_eq!(*again.to_advanced(), *printed);
        }
        2 => {
            let store = FingerprintStore::parse(file);
            let written = store.to_file_bytes();
            let again = FingerprintStore::parse(&written);
            assert!(
                store.entries().eq(again.entries()),
                "fingerprints changed on rewrite"
            );
            assert_eq!(again.to_file_bytes(), written);
        }
        3 => {
            let tags = InstanceTags::parse(file);
            assert!(tags.entries().iter().all(|e| e.tag >= 0x100));
            let written = tags.to_file_bytes();
            let again = InstanceTags::parse(&written);
            assert_eq!(again, tags);
            assert_eq!(again.to_file_bytes(), written);
        }
        _ => {
            let sizes = MaxMessageSizes::parse(file);
            for protocol in ["prpl-jabber", "prpl-irc", "prpl-icq", ""] {
                let _ = sizes.lookup(protocol);
            }
        }
    }
}

// ---- seed corpora -----------------------------------------------------------------------------

/// Seed inputs built from our own engine's traffic, for each target. Real libotr traffic is
/// added by the generator in `tests/fuzz_smoke.rs` from the recorded transcripts.
pub mod seeds {
    use super::*;

    /// Every wire message of a session between two of our engines (AKE, data, SMP, a
    /// fragmented message, disconnect), plus their binary forms, for [`message_decode`].
    pub fn engine_traffic() -> Vec<String> {
        let mut h = harness_for(session_selector(Start::Private, 0, false, false));
        h.act(Side::Bob, |s, env| {
            s.smp_start(env, Some("q?"), b"x").unwrap_or_default()
        });
        h.deliver_all();
        h.act(Side::Alice, |s, env| {
            s.smp_respond(env, b"x").unwrap_or_default()
        });
        h.deliver_all();
        h.alice.set_max_message_size(200);
        h.act(Side::Alice, |s, env| s.send(env, &"long ".repeat(100)));
        h.deliver_all();
        h.act(Side::Alice, |s, env| s.end(env, true));
        h.deliver_all();
        h.seen
    }

    /// Scripts for [`session_receive`]: for every start state, the real peer's genuine
    /// messages (binary, so mutations hit fields rather than base64), deliveries, replays,
    /// tampering and user actions; plus `extra` IM messages (e.g. libotr transcripts).
    pub fn session_scripts(extra: &[String]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for start in Start::ALL {
            let sel = session_selector(start, 0, false, false);
            // Genuine continuation: deliver everything, then the peer talks and SMP runs.
            let mut s = vec![sel];
            s.extend(record(4, &[]));
            s.extend(record(5, b"hi bob"));
            s.extend(record(3, &[]));
            s.extend(record(9, &[1]));
            s.extend(record(4, &[]));
            s.extend(record(6, &[0]));
            s.extend(record(7, &[5, 1, 40, 0x80]));
            s.extend(record(8, &[20]));
            out.push(s);
            // What the real peer sends Bob in this state, recorded and offered as binary.
            let mut h = harness_for(sel);
            h.alice_to_bob.clear();
            h.deliver_all();
            h.act(Side::Alice, |s, env| s.send(env, "hi\0\x00\x01\x00\x00"));
            let mut s = vec![sel];
            for m in &h.alice_to_bob {
                match classify(m) {
                    Incoming::Encoded { bytes } => s.extend(record(2, &bytes)),
                    _ => s.extend(record(0, m.as_bytes())),
                }
            }
            out.push(s);
        }
        for sel in [
            session_selector(Start::Plaintext, 2, false, true),
            session_selector(Start::Private, 1, true, true),
            session_selector(Start::AwaitingSig, 1, false, false),
        ] {
            let mut s = vec![sel];
            s.extend(record(4, &[]));
            s.extend(record(9, &[0]));
            s.extend(record(4, &[]));
            out.push(s);
        }
        for start in [Start::Plaintext, Start::Private] {
            let mut s = vec![session_selector(start, 0, false, false)];
            for m in extra.iter().take(60) {
                s.extend(record(0, m.as_bytes()));
            }
            out.push(s);
        }
        out
    }

    /// Inputs for [`smp_tlv`]: in each state, the genuine next message, the others, a
    /// tampered one and the raw transcript TLVs.
    pub fn smp_inputs() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for stage in 0..5u8 {
            for (question, same) in [(false, true), (true, false)] {
                let mut s = vec![smp_selector(stage, question, same)];
                let next = match stage {
                    0 | 1 => 0,
                    2 => 1,
                    3 => 2,
                    _ => 3,
                };
                s.extend(raw_tlv(GENUINE_TLV | next, &[]));
                s.extend(raw_tlv(GENUINE_TLV | ((next + 1) % 4), &[0, 9, 1]));
                out.push(s);
                let mut s = vec![smp_selector(stage, question, same)];
                for t in smp_transcript(question, same) {
                    s.extend(raw_tlv(t.kind.0, &t.value));
                }
                s.extend(raw_tlv(tlv::SMP_ABORT.0, &[]));
                out.push(s);
                // The user answers (or starts over, or gives up) between messages.
                let mut s = vec![smp_selector(stage, question, same)];
                s.extend(raw_tlv(USER_TLV, &[]));
                s.extend(raw_tlv(GENUINE_TLV | 2, &[]));
                s.extend(raw_tlv(USER_TLV | 0x1d, b"other secret"));
                s.extend(raw_tlv(GENUINE_TLV | 1, &[]));
                s.extend(raw_tlv(USER_TLV | 2, &[]));
                out.push(s);
            }
        }
        out
    }

    fn raw_tlv(kind: u16, value: &[u8]) -> Vec<u8> {
        tlv::try_join_plaintext(
            b"",
            &[Tlv::new(tlv::TlvType(kind), value.to_vec()).unwrap()],
        )
        .unwrap()[1..]
            .to_vec()
    }

    /// Inputs for [`fragment_reassembly`]: our own fragments of a data message, structured
    /// lines, and split round trips.
    pub fn fragment_inputs(extra: &[String]) -> Vec<Vec<u8>> {
        let traffic = engine_traffic();
        let frags: Vec<&String> = traffic.iter().filter(|m| m.starts_with("?OTR|")).collect();
        let mut out = vec![frags
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()];
        let mut structured = Vec::new();
        for (k, n) in [(1u16, 3u16), (2, 3), (3, 3), (1, 1), (2, 2)] {
            structured.push(0xff);
            structured.push(1);
            structured.extend(k.to_be_bytes());
            structured.extend(n.to_be_bytes());
            structured.extend(b"piece");
            structured.push(b'\n');
        }
        out.push(structured);
        let mut split = vec![0xfe, 1, 0, 60];
        split.extend("AAMD".repeat(40).bytes());
        out.push(split);
        if !extra.is_empty() {
            out.push(extra.join("\n").into_bytes());
        }
        out
    }

    /// Inputs for [`keystore`]: each `(selector, file)` of `files` as given.
    pub fn keystore_inputs(files: &[(u8, Vec<u8>)]) -> Vec<Vec<u8>> {
        files
            .iter()
            .map(|(which, file)| {
                let mut input = vec![*which];
                input.extend_from_slice(file);
                input
            })
            .collect()
    }
}
