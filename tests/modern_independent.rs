//! The modern suite against a second, independent implementation: the Rust code records a
//! conversation (handshake, both directions, reordering, a lost message, KEM rounds) with a
//! recording RNG; `tests/modern_py/verify.py`, written from docs/modern-suite.md alone,
//! re-derives the handshake from the parties' keys and recorded draws, checks every handshake
//! message byte for byte and decrypts every data message as its receiver. The same for the
//! direct start between pinned peers (§15): DIRECT_INIT, RESPONSE, a lost CONFIRM, and a
//! conversation after it.
//!
//! Needs python3 with `cryptography` and `kyber-py` (`pip install cryptography kyber-py`).
//! Without them this test FAILS, unless PURPLE_OTR_SKIP_PY=1.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use purple_otr::otr::modern::handshake::{self, DirectParams, HandshakeParams};
use purple_otr::otr::modern::identity::IdentityKey;
use purple_otr::otr::modern::prims::hex;
use purple_otr::otr::modern::ratchet::Ratchet;
use purple_otr::otr::modern::wire::{Data, Instances, ModernMessage};
use purple_otr::otr::modern::V3Binding;
use purple_otr::otr::wire::envelope;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use zeroize::Zeroizing;

/// A seeded RNG that remembers every draw (the suite draws 32 bytes at a time).
struct RecordingRng {
    inner: ChaCha20Rng,
    draws: Vec<String>,
}

impl RecordingRng {
    fn new(seed: u64) -> Self {
        Self {
            inner: ChaCha20Rng::seed_from_u64(seed),
            draws: Vec::new(),
        }
    }
}

impl RngCore for RecordingRng {
    fn next_u32(&mut self) -> u32 {
        unreachable!("the suite draws bytes only")
    }
    fn next_u64(&mut self) -> u64 {
        unreachable!("the suite draws bytes only")
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert_eq!(
            dest.len(),
            32,
            "docs/modern-suite.md §9: draws are 32 bytes"
        );
        self.inner.fill_bytes(dest);
        self.draws.push(hex(dest));
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for RecordingRng {}

fn wire(bytes: &[u8]) -> String {
    envelope::encode(bytes)
}

/// The receiving side of the `?OTR:` envelope, decoded here by hand and checked against the
/// engine's `envelope::classify` (which knows types 0x30–0x33 since the session integration;
/// libotr still reports them as unrecognised).
fn data_of(text: &str) -> Data {
    use base64::Engine;
    let body = text
        .strip_prefix("?OTR:")
        .unwrap()
        .strip_suffix('.')
        .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    assert_eq!(
        envelope::classify(text),
        envelope::Incoming::Encoded {
            bytes: bytes.clone()
        },
        "the engine's envelope reads the same bytes"
    );
    match ModernMessage::decode(&bytes).unwrap() {
        ModernMessage::Data(d) => d,
        other => panic!("{other:?}"),
    }
}

/// The data messages of a recorded conversation, in the order their receivers processed them.
#[derive(Default)]
struct Conversation {
    /// (receiver, wire).
    log: Vec<(&'static str, String)>,
    /// What each receiver read, in the same order.
    expected: Vec<Vec<u8>>,
}

impl Conversation {
    fn deliver(&mut self, to_b: bool, r: &mut Ratchet, rng: &mut RecordingRng, text: &str) {
        let got = r.decrypt(rng, &data_of(text)).unwrap();
        self.record(to_b, text, got.plaintext.to_vec());
    }

    fn record(&mut self, to_b: bool, text: &str, plaintext: Vec<u8>) {
        let to = if to_b { "responder" } else { "initiator" };
        self.log.push((to, text.to_owned()));
        self.expected.push(plaintext);
    }

    /// 24 turns of 1–4 messages each, alternating (the initiator first); turn 5's second
    /// message is lost for good, turn 6's first arrives three turns late; every fourth message
    /// is IGNORE_UNREADABLE. Delivered newest first within a turn, or in order: newest first,
    /// a chain's message 0 (which carries `ek` or `c`) rarely triggers the DH step, so KEM
    /// rounds open and are cancelled (§7); in order they also complete (KEM_ACK, `SS` mixed).
    fn run(
        &mut self,
        a: &mut Ratchet,
        b: &mut Ratchet,
        rng_i: &mut RecordingRng,
        rng_r: &mut RecordingRng,
        newest_first: bool,
    ) {
        let mut held = Vec::new();
        for turn in 0..24u32 {
            let from_a = turn % 2 == 0;
            let msgs: Vec<String> = (0..(turn % 4 + 1))
                .map(|k| {
                    let text = format!(
                        "tour {turn} · message {k} «{}»",
                        if from_a { "A" } else { "B" }
                    );
                    let s = if from_a { &mut *a } else { &mut *b };
                    wire(&s.encrypt(text.as_bytes(), k == 3).unwrap().encode())
                })
                .collect();
            let (r, rng) = if from_a {
                (&mut *b, &mut *rng_r)
            } else {
                (&mut *a, &mut *rng_i)
            };
            let mut order: Vec<(usize, String)> = msgs.into_iter().enumerate().collect();
            if newest_first {
                order.reverse();
            }
            for (k, m) in order {
                match (turn, k) {
                    (5, 1) => continue, // lost for good
                    (6, 0) => held.push(m),
                    _ => self.deliver(from_a, r, rng, &m),
                }
            }
            if turn == 9 {
                // Turn 6's first message arrives three turns late.
                let m = held.pop().unwrap();
                self.deliver(true, b, rng_r, &m);
            }
        }
    }

    fn json_items(&self) -> String {
        let items: Vec<String> = self
            .log
            .iter()
            .map(|(to, w)| format!(r#"  {{"to": "{to}", "wire": "{w}"}}"#))
            .collect();
        items.join(",\n")
    }
}

struct Recorded {
    json: String,
    expected: Vec<Vec<u8>>,
}

fn record() -> Recorded {
    let ik_i = IdentityKey::from_secret_bytes(&[0x1a; 32]);
    let ik_r = IdentityKey::from_secret_bytes(&[0x2b; 32]);
    let binding = || V3Binding {
        ssid: *b"\x01\x02\x03\x04\x05\x06\x07\x08",
        v3_key: Zeroizing::new([0x77; 32]),
        initiator_fingerprint: [0x11; 20],
        responder_fingerprint: [0x22; 20],
    };
    let (tag_i, tag_r) = (0x0000_1111u32, 0x0ABC_DEF0u32);
    let mut rng_i = RecordingRng::new(1);
    let mut rng_r = RecordingRng::new(2);
    let (ia, init) = handshake::start(
        &mut rng_i,
        HandshakeParams {
            our_identity: ik_i.clone(),
            their_identity: *ik_r.public(),
            binding: binding(),
            instances: Instances {
                sender: tag_i,
                receiver: tag_r,
            },
        },
    );
    let init_text = wire(&init.encode());
    let (rb, resp) = handshake::respond(
        &mut rng_r,
        HandshakeParams {
            our_identity: ik_r.clone(),
            their_identity: *ik_i.public(),
            binding: binding(),
            instances: Instances {
                sender: tag_r,
                receiver: tag_i,
            },
        },
        &init,
    )
    .unwrap();
    let resp_text = wire(&resp.encode());
    let (mut a, confirm) = ia.receive_response(&resp).unwrap();
    let confirm_text = wire(&confirm.encode());
    let mut b = rb.receive_confirm(&confirm).unwrap();

    let mut conv = Conversation::default();
    conv.run(&mut a, &mut b, &mut rng_i, &mut rng_r, true);

    let mut json = String::from("{\n");
    let _ = write!(
        json,
        r#" "binding": {{"ssid": "{}", "v3_key": "{}", "fp_i": "{}", "fp_r": "{}"}},
 "instances": {{"initiator": {tag_i}, "responder": {tag_r}}},
 "initiator": {{"identity_secret": "{}", "draws": [{}]}},
 "responder": {{"identity_secret": "{}", "draws": [{}]}},
 "handshake": {{"init": "{init_text}", "response": "{resp_text}", "confirm": "{confirm_text}"}},
 "messages": [
"#,
        hex(&binding().ssid),
        hex(&binding().v3_key[..]),
        hex(&binding().initiator_fingerprint),
        hex(&binding().responder_fingerprint),
        hex(&ik_i.secret_bytes()[..]),
        quoted(&rng_i.draws),
        hex(&ik_r.secret_bytes()[..]),
        quoted(&rng_r.draws),
    );
    json.push_str(&conv.json_items());
    json.push_str("\n ]\n}\n");
    Recorded {
        json,
        expected: conv.expected,
    }
}

/// A direct start between pinned peers (docs/modern-suite.md §15), as after a restart: the
/// initiator names receiver 0 (it does not know the buddy's instance yet), the CONFIRM is
/// lost and the initiator's first data message confirms instead; then the conversation of
/// [`Conversation::run`].
fn record_direct() -> Recorded {
    let ik_i = IdentityKey::from_secret_bytes(&[0x3c; 32]);
    let ik_r = IdentityKey::from_secret_bytes(&[0x4d; 32]);
    let (fp_i, fp_r) = ([0x33u8; 20], [0x44u8; 20]);
    let (tag_i, tag_r) = (0x8000_0101u32, 0x0000_0200u32);
    let mut rng_i = RecordingRng::new(3);
    let mut rng_r = RecordingRng::new(4);
    let params = |ours: &IdentityKey, theirs: &IdentityKey, sender, receiver| DirectParams {
        our_identity: ours.clone(),
        their_identity: *theirs.public(),
        initiator_fingerprint: fp_i,
        responder_fingerprint: fp_r,
        instances: Instances { sender, receiver },
    };
    let (ia, init) = handshake::start_direct(&mut rng_i, params(&ik_i, &ik_r, tag_i, 0));
    let init_text = wire(&init.encode());
    let (rb, resp) =
        handshake::respond_direct(&mut rng_r, params(&ik_r, &ik_i, tag_r, tag_i), &init).unwrap();
    let resp_text = wire(&resp.encode());
    let (mut a, confirm) = ia.receive_response(&resp).unwrap();
    let confirm_text = wire(&confirm.encode());

    // The CONFIRM is lost: the initiator's first data message confirms (§5.2, §15.3).
    let mut conv = Conversation::default();
    let first = "d\u{e9}j\u{e0} l\u{e0}: the first message confirms";
    let text = wire(&a.encrypt(first.as_bytes(), false).unwrap().encode());
    let (mut b, got) = rb.receive_data(&mut rng_r, &data_of(&text)).unwrap();
    conv.record(true, &text, got.plaintext.to_vec());
    conv.run(&mut a, &mut b, &mut rng_i, &mut rng_r, false);

    let party = |ik: &IdentityKey,
                 fp: &[u8; 20],
                 pin: &IdentityKey,
                 pin_fp: &[u8; 20],
                 rng: &RecordingRng| {
        format!(
            r#"{{"identity_secret": "{}", "fingerprint": "{}", "pin": {{"identity": "{}", "fingerprint": "{}"}}, "draws": [{}]}}"#,
            hex(&ik.secret_bytes()[..]),
            hex(fp),
            hex(pin.public()),
            hex(pin_fp),
            quoted(&rng.draws)
        )
    };
    let mut json = String::from("{\n");
    let _ = write!(
        json,
        r#" "start": "direct",
 "instances": {{"initiator": {tag_i}, "responder": {tag_r}, "named": 0}},
 "initiator": {},
 "responder": {},
 "handshake": {{"direct_init": "{init_text}", "response": "{resp_text}", "confirm": "{confirm_text}", "confirm_delivered": false}},
 "messages": [
"#,
        party(&ik_i, &fp_i, &ik_r, &fp_r, &rng_i),
        party(&ik_r, &fp_r, &ik_i, &fp_i, &rng_r),
    );
    json.push_str(&conv.json_items());
    json.push_str("\n ]\n}\n");
    Recorded {
        json,
        expected: conv.expected,
    }
}

fn quoted(v: &[String]) -> String {
    v.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Python to run: `make test` prepares `target/py` (a venv with the packages) when the
/// system's python3 lacks them.
fn python() -> std::path::PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python3");
    if venv.is_file() {
        venv
    } else {
        "python3".into()
    }
}

fn skip_python() -> bool {
    if std::env::var("PURPLE_OTR_SKIP_PY").as_deref() == Ok("1") {
        eprintln!("PURPLE_OTR_SKIP_PY=1: not running the Python implementation");
        return true;
    }
    false
}

/// Run verify.py on a transcript written to `file` (under the test's temporary directory).
fn run_python(json: &str, file: &str) -> std::process::Output {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(file);
    std::fs::write(&path, json).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modern_py/verify.py");
    match Command::new(python()).arg(&script).arg(&path).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run python3 ({e}): install Python 3 and `pip install cryptography kyber-py` \
             (or set PURPLE_OTR_SKIP_PY=1 to skip)"
        ),
    }
}

/// verify.py must accept the transcript and print, for every data message in order, what the
/// Rust receiver read.
fn python_reads_all_of(rec: &Recorded, file: &str) {
    let out = run_python(&rec.json, file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("MISSING PYTHON PACKAGE"),
        "{stderr}\nrun: pip install cryptography kyber-py (or set PURPLE_OTR_SKIP_PY=1 to skip)"
    );
    assert!(out.status.success(), "verify.py failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), rec.expected.len(), "{stdout}");
    for (i, (line, want)) in lines.iter().zip(&rec.expected).enumerate() {
        let mut f = line.splitn(3, ' ');
        assert_eq!(f.next(), Some(i.to_string().as_str()));
        assert_eq!(f.next(), Some(hex(want).as_str()), "message {i}");
    }
}

/// verify.py must refuse `json` (exit status 1: the transcript does not check out), naming
/// `why` on stderr.
fn python_refuses(json: &str, file: &str, why: &str) {
    let out = run_python(json, file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(why), "expected {why:?}: {stderr}");
}

#[test]
fn python_implementation_decrypts_a_recorded_conversation() {
    let rec = record();
    assert!(rec.expected.len() > 40);
    if skip_python() {
        return;
    }
    python_reads_all_of(&rec, "modern_transcript.json");
}

/// The transcript really depends on every secret: change one recorded draw and the Python side
/// must refuse (the test above cannot pass by accident).
#[test]
fn python_implementation_refuses_a_wrong_key() {
    if skip_python() {
        return;
    }
    let rec = record();
    // The responder's identity secret, one digit changed.
    let needle = format!(r#""identity_secret": "{}""#, hex(&[0x2b; 32]));
    assert!(rec.json.contains(&needle));
    let bad = rec.json.replace(
        &needle,
        &format!(r#""identity_secret": "3b{}""#, hex(&[0x2b; 31])),
    );
    python_refuses(&bad, "modern_transcript_bad.json", "differs");
}

/// The direct start of §15, read by verify.py from its own §15 code: DIRECT_INIT to receiver
/// 0, RESPONSE and CONFIRM byte for byte, the lost CONFIRM replaced by the first data
/// message, and the whole conversation after it.
#[test]
fn python_implementation_decrypts_a_recorded_direct_start() {
    let rec = record_direct();
    assert!(rec.expected.len() > 40);
    // Delivered in order, the KEM rounds complete: `ek`, `c` and KEM_ACK all occur (§7).
    let headers: Vec<_> = rec
        .json
        .split(r#""wire": ""#)
        .skip(1)
        .map(|w| data_of(&w[..w.find('"').unwrap()]).header)
        .collect();
    let acks = headers.iter().filter(|h| h.flags & 0x02 != 0).count();
    let eks = headers.iter().filter(|h| h.kem_ek.is_some()).count();
    let cts = headers.iter().filter(|h| h.kem_ct.is_some()).count();
    assert!(acks >= 4 && eks >= 2 && cts >= 2, "{acks} {eks} {cts}");
    if skip_python() {
        return;
    }
    python_reads_all_of(&rec, "modern_direct_transcript.json");
}

/// The direct transcript depends on both identity secrets, the responder's draws (3DH, ML-KEM)
/// and the pins (a pin for another v3 key is not answered, §15.3 step 3): change any one and
/// verify.py refuses, for the documented reason.
#[test]
fn python_implementation_refuses_a_wrong_direct_key_draw_or_pin() {
    if skip_python() {
        return;
    }
    let rec = record_direct();
    let secret = |b: u8| format!(r#""identity_secret": "{}""#, hex(&[b; 32]));
    // The responder's first draw is e_R (§9).
    let resp_draws = rec
        .json
        .split(r#""responder": {"identity_secret""#)
        .nth(1)
        .unwrap();
    let e_r = resp_draws.split(r#""draws": [""#).nth(1).unwrap()[..64].to_owned();
    // Byte 1 (byte 0's low bits are cleared by X25519's clamping anyway).
    let mut e_r_bad = e_r.clone();
    let byte1 = if &e_r[2..4] == "00" { "01" } else { "00" };
    e_r_bad.replace_range(2..4, byte1);
    let pin = |b: u8| format!(r#""fingerprint": "{}"}}, "draws""#, hex(&[b; 20]));
    for (what, from, to, why) in [
        (
            "initiator secret",
            secret(0x3c),
            secret(0x3d),
            "DIRECT_INIT differs",
        ),
        (
            "responder secret",
            secret(0x4d),
            secret(0x4e),
            "UnexpectedIdentity",
        ),
        ("responder e_R", e_r.clone(), e_r_bad, "RESPONSE differs"),
        (
            "responder's pin",
            pin(0x33),
            pin(0x34),
            "UnexpectedIdentity",
        ),
    ] {
        assert_eq!(rec.json.matches(&from).count(), 1, "{what}");
        let bad = rec.json.replace(&from, &to);
        python_refuses(&bad, "modern_direct_bad.json", why);
    }
}

/// The largest modern messages (INIT 1292 bytes, a data message with a KEM key and a
/// ciphertext) go through the existing v3 fragmenter and reassembler unchanged, at the
/// message-size limits of small networks.
#[test]
fn largest_messages_fragment_and_reassemble() {
    use purple_otr::otr::fragment::{split, FragmentPiece, Reassembler};
    use purple_otr::otr::wire::messages::ProtocolVersion;
    let mut rng = RecordingRng::new(5);
    let ik = IdentityKey::from_secret_bytes(&[3; 32]);
    let (_ia, init) = handshake::start(
        &mut rng,
        HandshakeParams {
            our_identity: ik.clone(),
            their_identity: *ik.public(),
            binding: V3Binding {
                ssid: [0; 8],
                v3_key: Zeroizing::new([0; 32]),
                initiator_fingerprint: [0; 20],
                responder_fingerprint: [0; 20],
            },
            instances: Instances {
                sender: 0x100,
                receiver: 0x200,
            },
        },
    );
    let text = wire(&init.encode());
    for max in [256usize, 400, 1000] {
        let pieces = split(&text, max, ProtocolVersion::V3, 0x100, 0x200).unwrap();
        assert!(pieces.len() > 1 && pieces.iter().all(|p| p.len() <= max));
        let mut r = Reassembler::new(1 << 20);
        let mut whole = None;
        for p in &pieces {
            whole = r.accept(FragmentPiece::parse(p).unwrap());
        }
        assert_eq!(whole.as_deref(), Some(text.as_str()), "max {max}");
    }
}
