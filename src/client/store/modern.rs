//! The modern suite's files in the store: `otr.modern_identity` (each account's X25519
//! identity key, [`IdentityFile`]) and `otr.modern_pins` (the buddies' identities the user
//! vouched for, [`PinFile`]); docs/modern-suite.md §8. Same protections as pidgin-otr's files
//! (see the parent module): read at open, a file that cannot be read or does not parse is
//! reported and never written, every change is a read-modify-write under the lock, written
//! atomically with mode 0600.

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::keystore::InvalidField;
use std::path::PathBuf;

use crate::otr::modern::identity::{
    IdentityFile, IdentityFileErrorKind, IdentityFingerprint, IdentityKey,
};

use super::super::pins::{Pin, PinFile};
use super::{
    block, read_file, Store, StoreError, StoreErrorKind, MODERN_IDENTITY_FILE, MODERN_PINS_FILE,
};

/// An identity file holds a few accounts (~130 bytes each).
const IDENTITY_LIMIT: u64 = 1 << 20;
/// A pin line is under 1000 bytes.
const PINS_LIMIT: u64 = 16 << 20;

/// What [`Store::import_identity`] did (the identity key's counterpart of
/// [`super::KeyImport`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityImport {
    /// The account had no identity key; it has this one now.
    Added,
    /// The account already had this very identity key.
    Unchanged,
    /// The account's other identity key was replaced, after the identity file was backed up
    /// (`otr.modern_identity.bak-<stamp>`; `None`: the old key was only in memory).
    Replaced {
        old: IdentityFingerprint,
        backup: Option<PathBuf>,
    },
    /// Nothing changed: the account has another identity key, and replacing it was not
    /// confirmed.
    NeedsConfirmation { current: IdentityFingerprint },
}

/// A pin change waiting to be applied to the file's current contents (idempotent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum PinChange {
    Pin(Pin),
    /// Pins only where nothing is pinned yet (an import never re-pins what the user pinned
    /// here).
    Add(Pin),
    Forget {
        account: String,
        protocol: String,
        buddy: String,
        fingerprint: Fingerprint,
    },
}

impl PinChange {
    fn apply(&self, pins: &mut PinFile) -> Result<bool, &'static str> {
        match self {
            Self::Pin(p) => pins.set(p.clone()),
            Self::Add(p) => match pins.get(&p.account, &p.protocol, &p.buddy, &p.fingerprint) {
                Some(_) => Ok(false),
                None => pins.set(p.clone()),
            },
            Self::Forget {
                account,
                protocol,
                buddy,
                fingerprint,
            } => Ok(pins.forget(account, protocol, buddy, fingerprint)),
        }
    }
}

/// What was wrong with a line of the identity file, in the words of the store's errors.
pub(crate) fn identity_problem(kind: IdentityFileErrorKind) -> &'static str {
    use IdentityFileErrorKind as K;
    match kind {
        K::NotUtf8 => "it is not UTF-8",
        K::BadHeader => "its first line is not the identity file header",
        K::FieldCount => "a line does not have four fields",
        K::BadName => "a name is empty or holds a control character",
        K::UnknownKeyType => "a key type is not x25519",
        K::BadKey => "a key is not 64 lower-case hex digits",
        K::Duplicate => "an account is listed twice",
        K::MissingNewline => "the last line is cut off",
    }
}

impl Store {
    /// Part of [`Store::reload`]: reads both files again, applying what is not saved yet.
    pub(super) fn reload_modern(&mut self) {
        match self.read_identities() {
            Ok(disk) => {
                self.identities.data = self.merge_identities(disk);
                self.identities.blocked = None;
            }
            Err(e) => self.identities.blocked = Some(e),
        }
        match self.read_pins() {
            Ok(mut disk) => {
                for change in &self.pins_pending {
                    let _ = change.apply(&mut disk);
                }
                self.pins.data = disk;
                self.pins.blocked = None;
            }
            Err(e) => self.pins.blocked = Some(e),
        }
    }

    /// Part of [`Store::flush`].
    pub(super) fn flush_modern(&mut self) -> Result<(), StoreError> {
        let identities = if self.identities_pending.is_empty() {
            Ok(())
        } else {
            self.save_identities(None).map(|_| ())
        };
        let pins = if self.pins_pending.is_empty() {
            Ok(())
        } else {
            self.save_pins()
        };
        identities.and(pins)
    }

    // ---- identity keys --------------------------------------------------------------------

    /// Every account's identity key (for `/otr key move`).
    pub fn modern_identities(&self) -> &IdentityFile {
        &self.identities.data
    }

    /// The account's identity key, if it has one (in the file or made here).
    pub fn modern_identity(&self, account: &str, protocol: &str) -> Option<&IdentityKey> {
        self.identities.data.get(account, protocol)
    }

    /// The account's identity key, made and saved at once if it has none (one made meanwhile
    /// by another client sharing the directory wins, so both use the same). `None` when the
    /// identity file cannot be read or does not parse (it is then never written, and a new
    /// key would be a different identity from the one peers pinned), or the names cannot be
    /// stored; the error says why. A key that was made but not saved is returned with the
    /// error: it is used this run and saved with the next write.
    pub fn modern_identity_or_new(
        &mut self,
        account: &str,
        protocol: &str,
        rng: &mut dyn rand_core::CryptoRngCore,
    ) -> (Option<IdentityKey>, Result<(), StoreError>) {
        if let Some(key) = self.modern_identity(account, protocol) {
            return (Some(key.clone()), Ok(()));
        }
        if let Err(e) = self.identities.check_writable() {
            return (None, Err(e));
        }
        for (field, value) in [("account", account), ("protocol", protocol)] {
            if value.is_empty() || value.contains(['\t', '\r', '\n', '\0']) {
                let e = StoreErrorKind::Invalid(InvalidField { field });
                return (None, Err(StoreError::new(&self.identities.path, e)));
            }
        }
        let result = self.save_identities(Some((account, protocol, rng)));
        let key = self.modern_identity(account, protocol).cloned();
        (key, result.map(|_| ()))
    }

    /// Sets an account's identity key brought from elsewhere (an import, or a renamed
    /// account), under the lock against the file as it is now: a different key already
    /// there is replaced only when `replace` is true, and only after the identity file was
    /// copied to `otr.modern_identity.bak-<stamp>` (mode 0600) — the rule
    /// [`Store::import_key`] keeps for the DSA key; without the backup, nothing changes.
    pub fn import_identity(
        &mut self,
        account: &str,
        protocol: &str,
        key: IdentityKey,
        replace: bool,
        stamp: &str,
    ) -> Result<IdentityImport, StoreError> {
        for (field, value) in [("account", account), ("protocol", protocol)] {
            if value.is_empty() || value.contains(['\t', '\r', '\n', '\0']) {
                let e = StoreErrorKind::Invalid(InvalidField { field });
                return Err(StoreError::new(&self.identities.path, e));
            }
        }
        self.identities.check_writable()?;
        let _lock = self.lock()?;
        let disk = match self.read_identities() {
            Ok(disk) => disk,
            Err(e) => return Err(block(&mut self.identities.blocked, e)),
        };
        let mut merged = self.merge_identities(disk);
        let outcome = match merged.get(account, protocol) {
            None => IdentityImport::Added,
            Some(old) if old.public() == key.public() => IdentityImport::Unchanged,
            Some(old) if !replace => IdentityImport::NeedsConfirmation {
                current: old.fingerprint(),
            },
            Some(old) => {
                let old = old.fingerprint();
                // No backup, no replacement.
                let backup = self.backup_locked(MODERN_IDENTITY_FILE, IDENTITY_LIMIT, stamp);
                match backup {
                    Ok(backup) => IdentityImport::Replaced { old, backup },
                    Err(e) => {
                        self.identities.data = merged;
                        return Err(e);
                    }
                }
            }
        };
        let before = merged.clone();
        if matches!(
            outcome,
            IdentityImport::Added | IdentityImport::Replaced { .. }
        ) {
            merged.set(account, protocol, key);
        }
        self.identities.data = merged;
        let changed = matches!(
            outcome,
            IdentityImport::Added | IdentityImport::Replaced { .. }
        );
        if !changed && self.identities_pending.is_empty() {
            return Ok(outcome);
        }
        let Some(bytes) = self.identities.data.serialize() else {
            return Err(StoreError::new(
                &self.identities.path,
                StoreErrorKind::Invalid(InvalidField { field: "account" }),
            ));
        };
        if let Err(e) = self.write(&self.identities.path, &bytes) {
            // Not saved: the account keeps the key it had (the file is unchanged).
            if changed {
                self.identities.data = before;
            }
            return Err(e);
        }
        self.identities_pending.clear();
        Ok(outcome)
    }

    fn read_identities(&self) -> Result<IdentityFile, StoreError> {
        let path = &self.identities.path;
        match read_file(path, IDENTITY_LIMIT)? {
            None => Ok(IdentityFile::default()),
            Some(bytes) => IdentityFile::parse(&bytes).map_err(|e| {
                let what = format!("line {}: {}", e.line, identity_problem(e.kind));
                StoreError::new(path, StoreErrorKind::Damaged(what))
            }),
        }
    }

    /// What is on disk, plus our unsaved keys for accounts the disk has none for.
    fn merge_identities(&mut self, mut disk: IdentityFile) -> IdentityFile {
        let pending = std::mem::take(&mut self.identities_pending);
        for (account, protocol) in pending {
            if disk.get(&account, &protocol).is_some() {
                // Another client's key won; ours was never saved.
                continue;
            }
            if let Some(key) = self.identities.data.get(&account, &protocol) {
                disk.set(&account, &protocol, key.clone());
                self.identities_pending.push((account, protocol));
            }
        }
        disk
    }

    /// Under the lock: re-reads the file, adds our unsaved keys and, for `new`, a fresh key
    /// if the file has none for that account; writes if anything was added.
    fn save_identities(
        &mut self,
        new: Option<(&str, &str, &mut dyn rand_core::CryptoRngCore)>,
    ) -> Result<bool, StoreError> {
        self.identities.check_writable()?;
        let lock = self.lock();
        let disk = lock.and_then(|lock| match self.read_identities() {
            Ok(disk) => Ok((lock, disk)),
            Err(e) => Err(block(&mut self.identities.blocked, e)),
        });
        let (_lock, disk) = match disk {
            Ok(v) => v,
            Err(e) => {
                // Not readable now: a key made here would be a guess; with the lock merely
                // busy, the key is made and kept in memory, saved with the next write.
                if let (Some((account, protocol, rng)), None) = (new, &self.identities.blocked) {
                    let key = IdentityKey::generate(&mut { rng });
                    self.identities.data.set(account, protocol, key);
                    self.identities_pending
                        .push((account.to_owned(), protocol.to_owned()));
                }
                return Err(e);
            }
        };
        let mut merged = self.merge_identities(disk);
        if let Some((account, protocol, rng)) = new {
            if merged.get(account, protocol).is_none() {
                merged.set(account, protocol, IdentityKey::generate(&mut { rng }));
                self.identities_pending
                    .push((account.to_owned(), protocol.to_owned()));
            }
        }
        self.identities.data = merged;
        if self.identities_pending.is_empty() {
            return Ok(false);
        }
        let Some(bytes) = self.identities.data.serialize() else {
            return Err(StoreError::new(
                &self.identities.path,
                StoreErrorKind::Invalid(InvalidField { field: "account" }),
            ));
        };
        self.write(&self.identities.path, &bytes)?;
        self.identities_pending.clear();
        Ok(true)
    }

    // ---- pins ----------------------------------------------------------------------------

    pub fn pins(&self) -> &PinFile {
        &self.pins.data
    }

    /// The identity pinned for the buddy's v3 key `fp`.
    pub fn pin_for(
        &self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fp: &Fingerprint,
    ) -> Option<[u8; 32]> {
        self.pins.data.get(account, protocol, buddy, fp)
    }

    /// Pins (or re-pins) a buddy's identity and saves. Returns whether it changed.
    pub fn pin_identity(&mut self, pin: Pin) -> Result<bool, StoreError> {
        self.change_pins(PinChange::Pin(pin))
    }

    /// Forgets the pin of the buddy's v3 key `fp` and saves. Returns whether there was one.
    pub fn forget_pin(
        &mut self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fp: &Fingerprint,
    ) -> Result<bool, StoreError> {
        self.change_pins(PinChange::Forget {
            account: account.to_owned(),
            protocol: protocol.to_owned(),
            buddy: buddy.to_owned(),
            fingerprint: *fp,
        })
    }

    /// Adds pins brought from elsewhere, with one save: a place (account, buddy, v3 key)
    /// with nothing pinned gets the pin; one pinned here keeps its pin, even a different
    /// one (an import never re-pins, as it never withdraws trust). Returns how many were
    /// added.
    pub fn import_pins(&mut self, pins: &[Pin]) -> Result<usize, StoreError> {
        let mut added = 0;
        for pin in pins {
            let change = PinChange::Add(pin.clone());
            let applied = change.apply(&mut self.pins.data).map_err(|field| {
                StoreError::new(
                    &self.pins.path,
                    StoreErrorKind::Invalid(InvalidField { field }),
                )
            })?;
            if applied {
                self.pins_pending.push(change);
                added += 1;
            }
        }
        if added > 0 {
            self.save_pins()?;
        }
        Ok(added)
    }

    fn change_pins(&mut self, change: PinChange) -> Result<bool, StoreError> {
        let changed = change.apply(&mut self.pins.data).map_err(|field| {
            StoreError::new(
                &self.pins.path,
                StoreErrorKind::Invalid(InvalidField { field }),
            )
        })?;
        if !changed {
            return Ok(false);
        }
        self.pins_pending.push(change);
        self.save_pins().map(|()| true)
    }

    fn read_pins(&self) -> Result<PinFile, StoreError> {
        let path = &self.pins.path;
        match read_file(path, PINS_LIMIT)? {
            None => Ok(PinFile::default()),
            Some(bytes) => PinFile::parse(&bytes)
                .map_err(|e| StoreError::new(path, StoreErrorKind::Damaged(e.to_string()))),
        }
    }

    fn save_pins(&mut self) -> Result<(), StoreError> {
        self.pins.check_writable()?;
        let _lock = self.lock()?;
        let mut disk = match self.read_pins() {
            Ok(disk) => disk,
            Err(e) => return Err(block(&mut self.pins.blocked, e)),
        };
        for change in &self.pins_pending {
            let _ = change.apply(&mut disk);
        }
        self.pins.data = disk;
        let Some(bytes) = self.pins.data.to_file_bytes() else {
            return Err(StoreError::new(
                &self.dir.join(MODERN_PINS_FILE),
                StoreErrorKind::Invalid(InvalidField { field: "buddy" }),
            ));
        };
        self.write(&self.pins.path, &bytes)?;
        self.pins_pending.clear();
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::super::{no_lock_for_testing_only, WriteStep, MODERN_IDENTITY_FILE};
    use super::*;

    const J: &str = "prpl-jabber";
    const ME: &str = "me@example.org/Home";

    use crate::client::test_dir::TempDir;

    fn open(dir: &Path) -> Store {
        Store::open(dir, no_lock_for_testing_only)
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn pin(buddy: &str, fp: u8, key: u8) -> Pin {
        Pin {
            account: ME.into(),
            protocol: J.into(),
            buddy: buddy.into(),
            fingerprint: Fingerprint([fp; 20]),
            identity: [key; 32],
        }
    }

    #[test]
    fn an_identity_is_made_once_saved_at_once_and_read_back() {
        let dir = TempDir::new("identity");
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut store = open(dir.path());
        assert!(store.modern_identity(ME, J).is_none());
        let (key, saved) = store.modern_identity_or_new(ME, J, &mut rng);
        saved.unwrap();
        let key = key.unwrap();
        let path = dir.file(MODERN_IDENTITY_FILE);
        assert_eq!(mode(&path), 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# purple-otr modern identity keys v1\n"),
            "{text}"
        );
        assert!(text.contains(&format!("{ME}\t{J}\tx25519\t")));
        // Asked again: the same key, nothing rewritten.
        let (again, _) = store.modern_identity_or_new(ME, J, &mut rng);
        assert_eq!(again.unwrap().public(), key.public());
        // A second store over the directory (a restart) has it.
        let mut other = open(dir.path());
        let (read, saved) = other.modern_identity_or_new(ME, J, &mut rng);
        saved.unwrap();
        assert_eq!(read.unwrap().public(), key.public());
        // Another account gets its own, and the first stays.
        let (second, _) = other.modern_identity_or_new(ME, "prpl-irc", &mut rng);
        assert_ne!(second.unwrap().public(), key.public());
        let third = open(dir.path());
        assert_eq!(third.modern_identity(ME, J).unwrap().public(), key.public());
        assert!(third.modern_identity(ME, "prpl-irc").is_some());
        let temp_left = fs::read_dir(dir.path())
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp-"));
        assert!(!temp_left);
    }

    #[test]
    fn one_made_meanwhile_by_another_client_wins() {
        let dir = TempDir::new("race");
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut late = open(dir.path());
        let mut early = open(dir.path());
        let (first, _) = early.modern_identity_or_new(ME, J, &mut rng);
        let (second, saved) = late.modern_identity_or_new(ME, J, &mut rng);
        saved.unwrap();
        assert_eq!(first.unwrap().public(), second.unwrap().public());
    }

    #[test]
    fn a_damaged_identity_file_is_reported_never_overwritten_and_no_key_is_made() {
        let dir = TempDir::new("damaged");
        let path = dir.file(MODERN_IDENTITY_FILE);
        let damaged = b"# purple-otr modern identity keys v1\nme\tprpl-jabber\tx25519\tzz\n";
        fs::write(&path, damaged).unwrap();
        let mut store = open(dir.path());
        let problem = store
            .problems()
            .into_iter()
            .find(|p| p.path == path && p.blocks_writes())
            .map(|p| p.to_string())
            .expect("reported");
        assert!(
            problem.contains("line 2: a key is not 64 lower-case hex digits"),
            "{problem}"
        );
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (key, saved) = store.modern_identity_or_new(ME, J, &mut rng);
        assert!(key.is_none(), "a new key would be a different identity");
        assert!(saved.is_err());
        assert!(store.flush().is_ok());
        assert_eq!(fs::read(&path).unwrap(), damaged);
        // Repaired: usable again.
        fs::remove_file(&path).unwrap();
        assert!(store.reload().is_empty());
        let (key, saved) = store.modern_identity_or_new(ME, J, &mut rng);
        assert!(key.is_some() && saved.is_ok());
    }

    #[test]
    fn a_failed_identity_write_keeps_the_key_in_memory_and_saves_it_later() {
        let dir = TempDir::new("failwrite");
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let mut store = open(dir.path());
        store.fail_writes_at_for_testing_only(Some(WriteStep::Rename));
        let (key, saved) = store.modern_identity_or_new(ME, J, &mut rng);
        let key = key.expect("used this run");
        assert!(matches!(
            saved.unwrap_err().kind,
            StoreErrorKind::Write(WriteStep::Rename, _)
        ));
        assert!(!dir.file(MODERN_IDENTITY_FILE).exists());
        assert!(store.has_unsaved_changes());
        store.fail_writes_at_for_testing_only(None);
        store.flush().unwrap();
        let again = open(dir.path());
        assert_eq!(again.modern_identity(ME, J).unwrap().public(), key.public());
    }

    #[test]
    fn unstorable_names_get_no_identity() {
        let dir = TempDir::new("names");
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mut store = open(dir.path());
        for (account, protocol) in [("a\tb", J), (ME, ""), ("a\nb", J)] {
            let (key, saved) = store.modern_identity_or_new(account, protocol, &mut rng);
            assert!(key.is_none());
            assert!(matches!(
                saved.unwrap_err().kind,
                StoreErrorKind::Invalid(_)
            ));
        }
        assert!(!dir.file(MODERN_IDENTITY_FILE).exists());
    }

    #[test]
    fn pins_are_saved_merged_with_the_disk_and_forgotten() {
        let dir = TempDir::new("pins");
        let mut a = open(dir.path());
        let mut b = open(dir.path());
        assert!(a.pin_identity(pin("bob", 1, 0xaa)).unwrap());
        assert!(!a.pin_identity(pin("bob", 1, 0xaa)).unwrap());
        // Another client pins carol without having seen bob's pin: both stay.
        assert!(b.pin_identity(pin("carol", 2, 0xbb)).unwrap());
        let path = dir.file(MODERN_PINS_FILE);
        assert_eq!(mode(&path), 0o600);
        let c = open(dir.path());
        assert_eq!(
            c.pin_for(ME, J, "bob", &Fingerprint([1; 20])),
            Some([0xaa; 32])
        );
        assert_eq!(
            c.pin_for(ME, J, "carol", &Fingerprint([2; 20])),
            Some([0xbb; 32])
        );
        assert_eq!(c.pin_for(ME, J, "bob", &Fingerprint([2; 20])), None);
        assert!(a.forget_pin(ME, J, "bob", &Fingerprint([1; 20])).unwrap());
        assert!(!a.forget_pin(ME, J, "bob", &Fingerprint([1; 20])).unwrap());
        let c = open(dir.path());
        assert_eq!(c.pin_for(ME, J, "bob", &Fingerprint([1; 20])), None);
        assert!(c.pin_for(ME, J, "carol", &Fingerprint([2; 20])).is_some());
        let err = a.pin_identity(pin("bad\tname", 1, 1)).unwrap_err();
        assert!(matches!(err.kind, StoreErrorKind::Invalid(_)));
    }

    #[test]
    fn a_damaged_pins_file_is_reported_and_never_overwritten() {
        let dir = TempDir::new("pins-damaged");
        let path = dir.file(MODERN_PINS_FILE);
        let damaged = b"# purple-otr modern identity pins v1\nme\tp\tbob\tnot-hex\n";
        fs::write(&path, damaged).unwrap();
        let mut store = open(dir.path());
        let problem = store
            .problems()
            .into_iter()
            .find(|p| p.path == path)
            .map(|p| p.to_string())
            .expect("reported");
        assert!(problem.contains("line 2"), "{problem}");
        // The pin holds in memory, the file is left as it was.
        assert!(store.pin_identity(pin("bob", 1, 1)).is_err());
        assert_eq!(
            store.pin_for(ME, J, "bob", &Fingerprint([1; 20])),
            Some([1; 32])
        );
        assert!(store.flush().is_err());
        assert_eq!(fs::read(&path).unwrap(), damaged);
    }

    #[test]
    fn an_imported_identity_replaces_only_when_asked_after_a_backup_and_a_failed_write_keeps_ours()
    {
        let dir = TempDir::new("import-identity");
        let mut store = open(dir.path());
        let ours = IdentityKey::from_secret_bytes(&[1; 32]);
        let theirs = IdentityKey::from_secret_bytes(&[2; 32]);
        let r = store.import_identity(ME, J, ours.clone(), false, "s1");
        assert_eq!(r.unwrap(), IdentityImport::Added);
        let path = dir.file(MODERN_IDENTITY_FILE);
        let before = fs::read(&path).unwrap();
        let r = store.import_identity(ME, J, ours.clone(), false, "s1");
        assert_eq!(r.unwrap(), IdentityImport::Unchanged);
        // Another key without `replace`: nothing changes, no backup.
        let r = store.import_identity(ME, J, theirs.clone(), false, "s1");
        assert_eq!(
            r.unwrap(),
            IdentityImport::NeedsConfirmation {
                current: ours.fingerprint()
            }
        );
        assert_eq!(fs::read(&path).unwrap(), before);
        assert!(!dir.file("otr.modern_identity.bak-s1").exists());
        // The write fails: our key stays, in memory and on disk (the backup was made).
        store.fail_writes_at_for_testing_only(Some(WriteStep::Rename));
        assert!(store
            .import_identity(ME, J, theirs.clone(), true, "s2")
            .is_err());
        store.fail_writes_at_for_testing_only(None);
        assert_eq!(
            store.modern_identity(ME, J).unwrap().public(),
            ours.public()
        );
        assert_eq!(fs::read(&path).unwrap(), before);
        // Replaced: the old file is kept (0600), the new key is on disk.
        let r = store.import_identity(ME, J, theirs.clone(), true, "s3");
        let backup = dir.file("otr.modern_identity.bak-s3");
        assert_eq!(
            r.unwrap(),
            IdentityImport::Replaced {
                old: ours.fingerprint(),
                backup: Some(backup.clone())
            }
        );
        assert_eq!(fs::read(&backup).unwrap(), before);
        assert_eq!(mode(&backup), 0o600);
        assert_eq!(mode(&path), 0o600);
        let again = open(dir.path());
        assert_eq!(
            again.modern_identity(ME, J).unwrap().public(),
            theirs.public()
        );
        // A damaged file is never written over.
        fs::write(&path, b"damaged").unwrap();
        let mut store = open(dir.path());
        assert!(store.import_identity(ME, J, ours, true, "s4").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"damaged");
    }

    #[test]
    fn imported_pins_never_replace_ours() {
        let dir = TempDir::new("import-pins");
        let mut store = open(dir.path());
        store.pin_identity(pin("bob", 1, 0x11)).unwrap();
        let added = store
            .import_pins(&[pin("bob", 1, 0x22), pin("carol", 2, 0x33)])
            .unwrap();
        assert_eq!(added, 1);
        let again = open(dir.path());
        assert_eq!(
            again.pin_for(ME, J, "bob", &Fingerprint([1; 20])),
            Some([0x11; 32])
        );
        assert_eq!(
            again.pin_for(ME, J, "carol", &Fingerprint([2; 20])),
            Some([0x33; 32])
        );
        assert_eq!(mode(&dir.file(MODERN_PINS_FILE)), 0o600);
        let mut store = open(dir.path());
        assert_eq!(store.import_pins(&[pin("carol", 2, 0x33)]).unwrap(), 0);
    }
}
