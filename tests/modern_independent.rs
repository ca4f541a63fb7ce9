//! The modern suite against a second, independent implementation: the Rust code records a
//! conversation (handshake, both directions, reordering, a lost message, KEM rounds) with a
//! recording RNG; `tests/modern_py/verify.py`, written from docs/modern-suite.md alone,
//! re-derives the handshake from the parties' keys and recorded draws, checks every handshake
//! message byte for byte and decrypts every data message as its receiver.
//!
//! Needs python3 with `cryptography` and `kyber-py` (`pip install cryptography kyber-py`).
//! Without them this test FAILS, unless PURPLE_OTR_SKIP_PY=1.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use purple_otr::otr::modern::handshake::{self, HandshakeParams};
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

    // (receiver, wire) in the order the receivers processed them.
    let mut log: Vec<(&str, String)> = Vec::new();
    let mut expected = Vec::new();
    let mut deliver = |to_b: bool, r: &mut Ratchet, rng: &mut RecordingRng, text: &str| {
        let got = r.decrypt(rng, &data_of(text)).unwrap();
        log.push((
            if to_b { "responder" } else { "initiator" },
            text.to_owned(),
        ));
        expected.push(got.plaintext.to_vec());
    };
    let mut held = Vec::new();
    for turn in 0..24u32 {
        let from_a = turn % 2 == 0;
        let msgs: Vec<String> = (0..(turn % 4 + 1))
            .map(|k| {
                let text = format!(
                    "tour {turn} · message {k} «{}»",
                    if from_a { "A" } else { "B" }
                );
                let s = if from_a { &mut a } else { &mut b };
                wire(&s.encrypt(text.as_bytes(), k == 3).unwrap().encode())
            })
            .collect();
        let (r, rng) = if from_a {
            (&mut b, &mut rng_r)
        } else {
            (&mut a, &mut rng_i)
        };
        for (k, m) in msgs.into_iter().enumerate().rev() {
            match (turn, k) {
                (5, 1) => continue, // lost for good
                (6, 0) => held.push(m),
                _ => deliver(from_a, r, rng, &m),
            }
        }
        if turn == 9 {
            // Turn 6's first message arrives three turns late.
            let m = held.pop().unwrap();
            deliver(true, &mut b, &mut rng_r, &m);
        }
    }

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
    let items: Vec<String> = log
        .iter()
        .map(|(to, w)| format!(r#"  {{"to": "{to}", "wire": "{w}"}}"#))
        .collect();
    json.push_str(&items.join(",\n"));
    json.push_str("\n ]\n}\n");
    Recorded { json, expected }
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

#[test]
fn python_implementation_decrypts_a_recorded_conversation() {
    let rec = record();
    assert!(rec.expected.len() > 40);
    if std::env::var("PURPLE_OTR_SKIP_PY").as_deref() == Ok("1") {
        eprintln!("PURPLE_OTR_SKIP_PY=1: not running the Python implementation");
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join("modern_transcript.json");
    std::fs::write(&path, &rec.json).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modern_py/verify.py");
    let out = match Command::new(python()).arg(&script).arg(&path).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run python3 ({e}): install Python 3 and `pip install cryptography kyber-py` \
             (or set PURPLE_OTR_SKIP_PY=1 to skip)"
        ),
    };
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

/// The transcript really depends on every secret: change one recorded draw and the Python side
/// must refuse (the test above cannot pass by accident).
#[test]
fn python_implementation_refuses_a_wrong_key() {
    if std::env::var("PURPLE_OTR_SKIP_PY").as_deref() == Ok("1") {
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
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("modern_transcript_bad.json");
    std::fs::write(&path, bad).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modern_py/verify.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
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
