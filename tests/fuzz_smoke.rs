//! CI's fuzzing without libFuzzer: every committed seed in `fuzz/corpus/<target>/`, then a
//! fixed number of deterministic (seeded) mutations of them, through the same fuzz bodies the
//! `fuzz/` binaries call (`src/otr/fuzz.rs`). A failure prints the input in hex so it can be
//! saved as a file and replayed with `cargo fuzz run <target> <file>`.
//!
//! Needs the `fuzzing` feature; without it this file is empty:
//! `cargo test --no-default-features --features fuzzing --test fuzz_smoke`.
//! `-- --ignored regenerate_corpus` rewrites the seed corpora from the libotr transcripts in
//! `tests/fixtures/libotr/` and from our own engine's traffic.
#![cfg(feature = "fuzzing")]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use purple_otr::client::conversations::Regression;
use purple_otr::client::lifecycle_check;
use purple_otr::otr::crypto::mac::sha1;
use purple_otr::otr::fuzz;
use purple_otr::otr::wire::envelope::{classify, Incoming};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

type Body = fn(&[u8]);

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn load_corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// One deterministic mutation in the spirit of libFuzzer's: bit flips, interesting bytes,
/// insertions, deletions, duplicated ranges and splices with another input.
fn mutate(rng: &mut ChaCha20Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.next_u32() % 4;
    for _ in 0..rounds {
        let len = out.len().max(1);
        let at = rng.next_u32() as usize % len;
        match rng.next_u32() % 7 {
            0 if !out.is_empty() => out[at] ^= 1 << (rng.next_u32() % 8),
            1 if !out.is_empty() => {
                out[at] = [0, 1, 0x7f, 0x80, 0xff, b',', b'?', b'|'][rng.next_u32() as usize % 8]
            }
            2 => out.insert(at.min(out.len()), rng.next_u32() as u8),
            3 if !out.is_empty() => {
                let end = (at + 1 + rng.next_u32() as usize % 16).min(out.len());
                out.drain(at..end);
            }
            4 if !out.is_empty() => {
                let end = (at + 1 + rng.next_u32() as usize % 32).min(out.len());
                let copy = out[at..end].to_vec();
                let to = rng.next_u32() as usize % out.len();
                out.splice(to..to, copy);
            }
            5 if !other.is_empty() => {
                let from = rng.next_u32() as usize % other.len();
                let end = (from + 1 + rng.next_u32() as usize % 64).min(other.len());
                out.truncate(at);
                out.extend_from_slice(&other[from..end]);
            }
            _ if out.len() >= 4 => {
                // A 4-byte big-endian length field set to a boundary value.
                let at = at.min(out.len() - 4);
                let v: u32 =
                    [0, 1, 0x7fff_ffff, 0xffff_ffff, 0x100, 192, 193][rng.next_u32() as usize % 7];
                out[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
            _ => out.push(rng.next_u32() as u8),
        }
    }
    out
}

fn run_guarded(target: &str, body: Body, input: &[u8]) {
    let result = std::panic::catch_unwind(|| body(input));
    if let Err(e) = result {
        let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
        panic!("{target} failed on input {hex}: {e:?}");
    }
}

/// Replays the corpus, then `mutations` seeded mutations; returns the number of inputs run.
fn smoke(target: &str, body: Body, mutations: usize) -> usize {
    let corpus = load_corpus(target);
    assert!(!corpus.is_empty(), "no seed corpus for {target}");
    let start = Instant::now();
    for input in &corpus {
        run_guarded(target, body, input);
    }
    let seed = u64::from_be_bytes(sha1(target.as_bytes())[..8].try_into().unwrap());
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    for _ in 0..mutations {
        let a = &corpus[rng.next_u32() as usize % corpus.len()];
        let b = &corpus[rng.next_u32() as usize % corpus.len()];
        run_guarded(target, body, &mutate(&mut rng, a, b));
    }
    eprintln!(
        "{target}: {} seeds + {mutations} mutations in {:.1?}",
        corpus.len(),
        start.elapsed()
    );
    corpus.len() + mutations
}

#[test]
fn message_decode_smoke() {
    smoke("message_decode", fuzz::message_decode, 100_000);
}

#[test]
fn fragment_reassembly_smoke() {
    smoke("fragment_reassembly", fuzz::fragment_reassembly, 100_000);
}

#[test]
fn session_receive_smoke() {
    smoke("session_receive", fuzz::session_receive, 600);
}

#[test]
fn smp_tlv_smoke() {
    smoke("smp_tlv", fuzz::smp_tlv, 100);
}

/// The lifecycle target (`fuzz/fuzz_targets/lifecycle.rs`): steps through two clients with
/// the first-rule oracle of `purple_otr::client::lifecycle_check`.
fn lifecycle(data: &[u8]) {
    lifecycle_check::fuzz(data, Regression::None);
}

#[test]
fn lifecycle_smoke() {
    smoke("lifecycle", lifecycle, 60);
}

#[test]
fn keystore_smoke() {
    smoke("keystore", fuzz::keystore, 20_000);
}

#[test]
fn modern_decode_smoke() {
    smoke(
        "modern_decode",
        purple_otr::otr::modern::fuzz::modern_decode,
        2_000,
    );
}

/// Every start state of session_receive builds (the setups' own assertions hold), for every
/// policy, version and fragmenting choice.
#[test]
fn every_session_start_state_builds() {
    assert_eq!(
        fuzz::build_all_session_states(),
        fuzz::Start::ALL.len() * 3 * 4
    );
}

/// The prefix cache changes the work, not the result: a seed whose steps are slow (SMP and
/// AKE exponentiations, so they are cached) ends the same without the cache, with it when
/// the cache is filled, and when it is used.
#[test]
fn session_prefix_cache_is_transparent() {
    let corpus = load_corpus("session_receive");
    let mut compared = 0;
    for input in corpus.iter().filter(|i| i.len() < 4096).take(12) {
        let [plain, filling, cached] = fuzz::session_results_for_testing(input);
        assert_eq!(plain, filling);
        assert_eq!(plain, cached);
        compared += 1;
    }
    assert!(compared > 0);
}

/// The bodies' assertions are live: a broken input fails them (a smoke test of the smoke).
#[test]
fn key_import_smoke() {
    smoke("key_import", purple_otr::client::fuzz::key_import, 5_000);
}

#[test]
fn bodies_assert_their_invariants() {
    // A well-formed v3 DH-Key decodes, so the round trip is checked...
    let mut dh_key = vec![0, 3, 0x0a, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 5];
    fuzz::message_decode(&dh_key);
    // ...and a trailing byte makes it undecodable rather than a round-trip failure.
    dh_key.push(0);
    fuzz::message_decode(&dh_key);
    // Empty and one-byte inputs are fine everywhere.
    for body in [
        fuzz::message_decode as Body,
        fuzz::fragment_reassembly,
        fuzz::session_receive,
        fuzz::smp_tlv,
        fuzz::keystore,
        lifecycle,
        purple_otr::client::fuzz::key_import,
    ] {
        body(&[]);
        body(&[0]);
    }
}

// ---- corpus generation ----------------------------------------------------------------------

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('x') => {
                let h: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&h, 16).unwrap()));
            }
            other => panic!("bad escape {other:?}"),
        }
    }
    out
}

/// Every wire message of the recorded libotr transcripts.
fn libotr_messages() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr");
    let mut out = Vec::new();
    for name in [
        "transcript-v3.txt",
        "transcript-v2.txt",
        "transcript-whitespace.txt",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (_, wire) = line.split_once('\t').unwrap();
            out.push(unescape(wire));
        }
    }
    out
}

fn write_corpus(target: &str, inputs: &[Vec<u8>]) {
    let dir = corpus_dir(target);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for input in inputs {
        let name: String = sha1(input).iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(dir.join(name), input).unwrap();
    }
}

#[test]
#[ignore = "rewrites fuzz/corpus/*"]
fn regenerate_corpus() {
    let libotr = libotr_messages();
    let ours = fuzz::seeds::engine_traffic();

    // The decoder: every message as text, and each encoded one also as its binary form.
    let mut decode = Vec::new();
    for m in libotr.iter().chain(&ours) {
        decode.push(m.as_bytes().to_vec());
        if let Incoming::Encoded { bytes } = classify(m) {
            decode.push(bytes);
        }
    }
    decode.extend([
        b"?OTR:===.".to_vec(),
        b"?OTR:.".to_vec(),
        b"<p>?OTR:AAMD</p>".to_vec(),
        b"?OTR?v1234x?".to_vec(),
        b"?OTR Error: oops".to_vec(),
        b"?OTR:AAEDoldv1.".to_vec(),
        b"hello \x00\x01\x00\x00".to_vec(),
    ]);
    write_corpus("message_decode", &decode);

    let libotr_fragments: Vec<String> = libotr
        .iter()
        .filter(|m| m.starts_with("?OTR|") || m.starts_with("?OTR,"))
        .cloned()
        .collect();
    write_corpus(
        "fragment_reassembly",
        &fuzz::seeds::fragment_inputs(&libotr_fragments),
    );
    write_corpus("session_receive", &fuzz::seeds::session_scripts(&libotr));
    write_corpus("smp_tlv", &fuzz::seeds::smp_inputs());

    // Key and trust files: libotr's own, and small hand-made ones with the awkward cases.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr");
    let read = |name: &str| std::fs::read(fixtures.join(name)).unwrap();
    let fingerprints = b"bob@localhost\talice@localhost/peer\tprpl-jabber\t\
33f1b8eecc62fb855b3eb25fb57e90955e6b110e\tsmp\n\
bob@localhost\talice@localhost/peer\tprpl-jabber\tcc407d4d64f46fb557677faa7c6415a5809340d5\t\r\n\
carol\tdave@example.org/\tprpl-irc\t0123456789abcdef0123456789abcdef01234567\n\
not an entry\n"
        .to_vec();
    let key = read("alice.private_key");
    write_corpus(
        "keystore",
        &fuzz::seeds::keystore_inputs(&[
            (0, key.clone()),
            (0, read("two-accounts.private_key")),
            (1, key),
            (1, b"(a #00ff# \"q\\\"uoted\" |YWJj| 3:xyz (b))".to_vec()),
            (2, fingerprints),
            (3, read("alice.instance_tags")),
            (3, read("bob.instance_tags")),
            (
                4,
                b"prpl-irc\t400\r\nprpl-jabber\t -12x\nbad\tline\twith tabs\n".to_vec(),
            ),
        ]),
    );

    let total: u64 = [
        "message_decode",
        "fragment_reassembly",
        "session_receive",
        "smp_tlv",
    ]
    .iter()
    .flat_map(|t| std::fs::read_dir(corpus_dir(t)).unwrap())
    .map(|e| e.unwrap().metadata().unwrap().len())
    .sum();
    assert!(total < 2 << 20, "seed corpora too large: {total} bytes");
}
