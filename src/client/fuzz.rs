//! Fuzz bodies for the files the client reads that are not the engine's own (feature
//! `fuzzing`; see `src/otr/fuzz.rs` for the engine's and `lifecycle_check` for the
//! conversation logic): another client's OTR files offered for import.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::pins::PinFile;
use super::store::{no_lock_for_testing_only, Store};
use super::transfer::{plan_import, Format, ImportSource, TransferError};
use super::AccountId;

/// An empty store (no key, no trust) to plan imports against, one per process.
fn empty_store_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("purple-otr-fuzz-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// Splits `len(2) bytes…` off the front: the part and the rest.
fn part(data: &[u8]) -> (&[u8], &[u8]) {
    let (len, rest) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => (0, &[][..]),
    };
    rest.split_at(len.min(rest.len()))
}

/// `selector key_len(2) key… plist_len(2) plist… trust…`: the selector's bit 0 names the key
/// file irssi's way (`otr.key`), bit 1 says an `Accounts.plist` was there, bit 2 a trust file.
/// With bit 3 the trust part is length-prefixed and a purple-otr profile's files follow:
/// `… trust_len(2) trust… identity_len(2) identity… pins…` (`otr.modern_identity` and
/// `otr.modern_pins`, both there; inputs without bit 3 read as before). With bit 4 the rest
/// is instead one `otr.modern_pins` file, checked on its own (see [`pin_file`]).
/// What is read must list every key once, count trusted buddies within the buddies, plan an
/// import to an empty account only from a key the file holds, never replace a key (the
/// store has none), and bring pins only for buddy keys that come verified.
pub fn key_import(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector & 0x10 != 0 {
        pin_file(rest);
        return;
    }
    let (key_file, rest) = part(rest);
    let (plist, rest) = part(rest);
    let modern = selector & 8 != 0;
    let (trust, rest) = if modern { part(rest) } else { (rest, &[][..]) };
    let (identity_file, pins_file) = part(rest);
    let name = if selector & 1 != 0 {
        "otr.key"
    } else {
        "otr.private_key"
    };
    let key_path = Path::new("/nonexistent/import").join(name);
    let plist = (selector & 2 != 0).then_some(plist);
    let trust = (selector & 4 != 0).then(|| Zeroizing::new(trust.to_vec()));
    let mut asked = None;
    let source = ImportSource::from_bytes(&key_path, key_file, plist, |f: Format| {
        asked = Some(f);
        trust
    });
    let source = match source {
        Ok(source) if modern => source.with_modern(Some(identity_file), Some(pins_file)),
        other => other,
    };
    let source = match source {
        Ok(source) => source,
        Err(TransferError::Damaged(path, _)) => {
            let dir = key_path.parent().unwrap();
            assert!(
                path == key_path
                    || path == dir.join("otr.modern_identity")
                    || path == dir.join("otr.modern_pins"),
                "a damaged file is named"
            );
            return;
        }
        Err(e) => panic!("reading bytes can only find them damaged: {e:?}"),
    };
    assert_eq!(
        asked,
        Some(source.format),
        "the trust file is the format's own"
    );
    let candidates = source.candidates();
    for c in &candidates {
        assert!(c.trusted <= c.buddy_keys);
    }
    let store = Store::open(empty_store_dir(), no_lock_for_testing_only);
    for c in candidates.iter().take(4) {
        let Some(protocol) = c.purple_protocol.clone() else {
            continue;
        };
        let target = AccountId {
            name: c.label.clone(),
            protocol,
        };
        for wanted in [None, Some(c.name_in_file.as_str())] {
            if let Ok(plan) = plan_import(&source, &store, &target, wanted, true) {
                assert!(
                    candidates
                        .iter()
                        .any(|k| k.fingerprint == plan.from.fingerprint),
                    "a plan imports a key the file holds"
                );
                assert!(plan.current.is_none() && !plan.replaces());
                assert!(plan.trust.len() <= plan.from.buddy_keys);
                assert!(plan.current_identity.is_none());
                assert!(
                    plan.identity.is_none() || (modern && source.format == Format::Pidgin),
                    "an identity comes only from a purple-otr profile"
                );
                for pin in &plan.pins {
                    assert!(
                        plan.trust.iter().any(|e| e.username == pin.buddy
                            && e.fingerprint == pin.fingerprint
                            && e.is_trusted()),
                        "a pin comes only with its verified buddy key"
                    );
                }
            }
        }
    }
}

/// The pins file (`otr.modern_pins`, strict): what reads writes back byte for byte, and
/// forgetting then setting every pin again gives the same file.
pub fn pin_file(data: &[u8]) {
    let Ok(file) = PinFile::parse(data) else {
        return;
    };
    let written = file
        .to_file_bytes()
        .expect("names that were read can be written");
    if data.is_empty() {
        // An empty file has no pins; written, it has its header.
        assert!(file.entries().is_empty());
        assert_eq!(PinFile::parse(&written).as_ref(), Ok(&file));
    } else {
        assert_eq!(written, data, "the pins file is rewritten differently");
    }
    let mut again = file.clone();
    for p in file.entries() {
        assert_eq!(
            again.get(&p.account, &p.protocol, &p.buddy, &p.fingerprint),
            Some(p.identity)
        );
        assert!(again.forget(&p.account, &p.protocol, &p.buddy, &p.fingerprint));
    }
    assert!(again.entries().is_empty());
    for p in file.entries() {
        assert_eq!(again.set(p.clone()), Ok(true));
    }
    assert_eq!(again.to_file_bytes(), Some(written));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed seed with bit 3 reaches the purple-otr files: the plan brings the
    /// identity and only the verified buddy's pin (so the fuzzer starts from there).
    #[test]
    fn the_modern_seed_plans_an_identity_and_one_pin() {
        let seed =
            include_bytes!("../../fuzz/corpus/key_import/240c6a482a0ef51700aa63270b4d5aed9088cf01");
        key_import(seed);
        let (&selector, rest) = seed.split_first().unwrap();
        assert_eq!(selector, 0x0c);
        let (key_file, rest) = part(rest);
        let (_, rest) = part(rest);
        let (trust, rest) = part(rest);
        let (identity, pins) = part(rest);
        let path = Path::new("/nonexistent/import/otr.private_key");
        let trust = Zeroizing::new(trust.to_vec());
        let source = ImportSource::from_bytes(path, key_file, None, |_| Some(trust))
            .unwrap()
            .with_modern(Some(identity), Some(pins))
            .unwrap();
        let store = Store::open(empty_store_dir(), no_lock_for_testing_only);
        let target = AccountId {
            name: "alice@localhost/peer".to_owned(),
            protocol: "prpl-jabber".to_owned(),
        };
        let plan = plan_import(&source, &store, &target, None, true).unwrap();
        assert!(plan.identity.is_some());
        assert_eq!(plan.pins.len(), 1);
        assert_eq!(plan.pins[0].buddy, "bob@localhost");
    }
}
