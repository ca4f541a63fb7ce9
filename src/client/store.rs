//! Durable storage of the OTR files in the purple user directory (`~/.purple`), in
//! pidgin-otr's formats ([`crate::otr::keystore`]): `otr.private_key`, `otr.fingerprints` and
//! `otr.instance_tags` are read and written, `otr.max_message_size` only read; and our own
//! `otr.modern_identity` and `otr.modern_pins` (docs/modern-suite.md §8, in `store/modern.rs`)
//! with the same guarantees.
//!
//! What it guarantees:
//! - A missing file is empty. A file that cannot be read, or a key file we do not fully
//!   understand, is reported by [`Store::open`] and is never written afterwards: the store
//!   keeps changes for it in memory only, and every attempt to save says why, until
//!   [`Store::reload`] reads the file successfully.
//! - Every write replaces the whole file atomically: a temporary file
//!   (`.otr.private_key.tmp-<pid>-<n>`) in the same directory, created with mode 0600,
//!   written, flushed to disk, renamed over the target, then the directory flushed. If a
//!   step fails the temporary file is removed, the previous file is left as it was, and the
//!   error names the step. A file that is a symbolic link is replaced at the link's target.
//! - Every change is a read-modify-write under an advisory lock (`flock` on `.otr.lock` in
//!   the directory): the file is read again under the lock and the change applied to what is
//!   on disk, so two clients sharing the directory (two Pidgins, Pidgin and Finch) keep each
//!   other's records. Keys: an account on disk is never dropped; ours replaces it only when we
//!   are changing that account. Fingerprints: our change (add, trust, forget) is applied to
//!   the file's current records. Instance tags and identity keys: one already on disk wins.
//!   Pins: our change (pin, forget) is applied to the file's current pins. (pidgin-otr takes
//!   no such lock, so a pidgin-otr running at the same time can still overwrite us.)
//! - A change always takes effect in memory. If saving fails, the error is returned and the
//!   change is saved again with the next write of that file (or [`Store::flush`]).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::keystore::privkey::{find_key, parse_private_keys, put_key, write_private_keys};
use crate::otr::keystore::{
    instags, AccountKey, FingerprintStore, InstanceTags, InvalidField, MaxMessageSizes,
};
use crate::otr::modern::identity::IdentityFile;

use super::pins::PinFile;

mod modern;
pub(crate) use modern::identity_problem;
pub use modern::IdentityImport;

pub const PRIVATE_KEY_FILE: &str = "otr.private_key";
pub const FINGERPRINTS_FILE: &str = "otr.fingerprints";
pub const INSTANCE_TAGS_FILE: &str = "otr.instance_tags";
pub const MAX_MESSAGE_SIZE_FILE: &str = "otr.max_message_size";
/// The accounts' post-quantum identity keys (docs/modern-suite.md §8; see `store::modern`).
pub const MODERN_IDENTITY_FILE: &str = "otr.modern_identity";
/// The buddies' pinned post-quantum identities (docs/modern-suite.md §8).
pub const MODERN_PINS_FILE: &str = "otr.modern_pins";
/// The advisory lock file; it stays in the directory (removing it would race).
pub const LOCK_FILE: &str = ".otr.lock";

/// Largest files read. The key file's limit is the S-expression reader's; a fingerprint line
/// is under 1000 bytes, so 64 MiB is far beyond any real file.
const KEY_FILE_LIMIT: u64 = crate::otr::keystore::sexp::MAX_INPUT_LEN as u64;
const FINGERPRINTS_LIMIT: u64 = 64 << 20;
const INSTANCE_TAGS_LIMIT: u64 = 1 << 20;
const MAX_MESSAGE_SIZE_LIMIT: u64 = 64 << 10;

/// How long a save waits for another client holding the lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The steps of an atomic write, named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteStep {
    /// Following a symbolic link to the real file.
    ResolveLink,
    /// Creating the temporary file.
    Create,
    /// Writing the new contents.
    Write,
    /// Flushing the temporary file to disk.
    Sync,
    /// Renaming the temporary file over the target.
    Rename,
    /// Flushing the directory (the rename) to disk.
    SyncDir,
}

impl WriteStep {
    fn describe(self) -> &'static str {
        match self {
            Self::ResolveLink => "following the symbolic link",
            Self::Create => "creating a temporary file",
            Self::Write => "writing the new contents",
            Self::Sync => "flushing the new contents to disk",
            Self::Rename => "replacing the old file",
            Self::SyncDir => "flushing the directory to disk",
        }
    }
}

/// What went wrong with one file.
#[derive(Debug)]
pub enum StoreErrorKind {
    /// Reading failed (other than "not found").
    Unreadable(io::Error),
    /// Read, but not usable: a damaged key file, a file too large, not a regular file.
    Damaged(String),
    /// Not saved because the file could not be read earlier (the text says why).
    ReadOnly(String),
    /// The advisory lock could not be taken.
    Lock(io::Error),
    /// The atomic write failed at a step.
    Write(WriteStep, io::Error),
    /// The value cannot be stored in this file.
    Invalid(InvalidField),
}

/// An error about one file, with its path and what the store does about it.
#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub kind: StoreErrorKind,
}

impl StoreError {
    fn new(path: &Path, kind: StoreErrorKind) -> StoreError {
        StoreError {
            path: path.to_path_buf(),
            kind,
        }
    }

    /// Whether this error leaves the file read-only until [`Store::reload`].
    #[allow(dead_code)] // used by tests; the adapter reports errors as text
    pub fn blocks_writes(&self) -> bool {
        matches!(
            self.kind,
            StoreErrorKind::Unreadable(_) | StoreErrorKind::Damaged(_)
        )
    }

    /// The short reason, without the path (used when a later save is refused).
    fn reason(&self) -> String {
        match &self.kind {
            StoreErrorKind::Unreadable(e) => format!("it could not be read ({e})"),
            StoreErrorKind::Damaged(d) => format!("it is damaged ({d})"),
            StoreErrorKind::ReadOnly(r) => r.clone(),
            StoreErrorKind::Lock(e) => format!("it could not be locked ({e})"),
            StoreErrorKind::Write(step, e) => format!("{} failed ({e})", step.describe()),
            StoreErrorKind::Invalid(e) => e.to_string(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            StoreErrorKind::Unreadable(e) => write!(
                f,
                "cannot read {path}: {e}. OTR will not change this file until it can be read \
                 (changes are kept in memory until then)"
            ),
            StoreErrorKind::Damaged(d) => write!(
                f,
                "{path} is damaged: {d}. OTR will not change this file until it is repaired or \
                 moved away (changes are kept in memory until then)"
            ),
            StoreErrorKind::ReadOnly(r) => write!(
                f,
                "{path} was not saved: {r}, so it is left untouched; the change is kept in \
                 memory"
            ),
            StoreErrorKind::Lock(e) => write!(
                f,
                "cannot lock {path} to save OTR data: {e}; the change is kept in memory"
            ),
            StoreErrorKind::Write(WriteStep::SyncDir, e) => write!(
                f,
                "saving {path}: the new file is in place, but flushing the directory to disk \
                 failed: {e}; it will be saved again with the next change"
            ),
            StoreErrorKind::Write(step, e) => write!(
                f,
                "saving {path} failed while {}: {e}; the previous file is unchanged and the \
                 change is kept in memory",
                step.describe()
            ),
            StoreErrorKind::Invalid(e) => write!(f, "cannot save to {path}: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A fingerprint change waiting to be applied to the file's current contents.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FingerprintChange {
    Record(FpKey),
    Trust(FpKey, String),
    Forget(FpKey),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct FpKey {
    account: String,
    protocol: String,
    buddy: String,
    fingerprint: Fingerprint,
}

impl FingerprintChange {
    /// Applies the change; each one is idempotent, so applying it again after a failed save
    /// does no harm.
    fn apply(&self, store: &mut FingerprintStore) -> Result<bool, InvalidField> {
        match self {
            Self::Record(k) => store.add_if_new(&k.account, &k.protocol, &k.buddy, &k.fingerprint),
            Self::Trust(k, trust) => {
                store.set_trust(&k.account, &k.protocol, &k.buddy, &k.fingerprint, trust)
            }
            Self::Forget(k) => Ok(store.forget(&k.account, &k.protocol, &k.buddy, &k.fingerprint)),
        }
    }
}

/// One of the files the store writes, with its memory state.
struct Slot<T> {
    path: PathBuf,
    data: T,
    /// Why the file must not be written (it could not be read).
    blocked: Option<StoreError>,
}

impl<T> Slot<T> {
    fn check_writable(&self) -> Result<(), StoreError> {
        match &self.blocked {
            Some(e) => Err(StoreError::new(
                &self.path,
                StoreErrorKind::ReadOnly(e.reason()),
            )),
            None => Ok(()),
        }
    }
}

/// Marks a file read-only after a read failure under the lock; returns the error.
fn block(blocked: &mut Option<StoreError>, error: StoreError) -> StoreError {
    let kind = match &error.kind {
        StoreErrorKind::Unreadable(e) => {
            StoreErrorKind::Unreadable(io::Error::new(e.kind(), e.to_string()))
        }
        StoreErrorKind::Damaged(d) => StoreErrorKind::Damaged(d.clone()),
        _ => StoreErrorKind::ReadOnly(error.reason()),
    };
    *blocked = Some(StoreError::new(&error.path, kind));
    error
}

/// The OTR files of one purple user directory.
pub struct Store {
    dir: PathBuf,
    keys: Slot<Vec<AccountKey>>,
    /// Accounts whose key in memory must be written (changed here, not saved yet).
    keys_pending: Vec<(String, String)>,
    fingerprints: Slot<FingerprintStore>,
    fingerprints_pending: Vec<FingerprintChange>,
    tags: Slot<InstanceTags>,
    /// Tags made here and not saved yet: (account, protocol, tag).
    tags_pending: Vec<(String, String, u32)>,
    /// Tags for accounts the file cannot hold (a tab in the name): kept in memory only.
    tags_unstorable: Vec<(String, String, u32)>,
    max_message_sizes: MaxMessageSizes,
    max_message_sizes_problem: Option<StoreError>,
    /// The accounts' post-quantum identity keys (`otr.modern_identity`).
    identities: Slot<IdentityFile>,
    /// Accounts whose identity key was made here and is not saved yet.
    identities_pending: Vec<(String, String)>,
    /// The buddies' pinned identities (`otr.modern_pins`).
    pins: Slot<PinFile>,
    pins_pending: Vec<modern::PinChange>,
    /// Takes the directory's advisory lock (the host's `flock(2)`).
    try_lock: TryLock,
    /// Makes the atomic write fail at this step (tests of the failure paths).
    fail_at_step_for_testing_only: Option<WriteStep>,
}

/// What [`Store::import_key`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyImport {
    /// The account had no key; it has this one now.
    Added,
    /// The account already had this very key.
    Unchanged,
    /// The account's other key was replaced; the key file was backed up first (`None`:
    /// the old key was only in memory, there was no file to copy).
    Replaced {
        old: Fingerprint,
        backup: Option<PathBuf>,
    },
    /// Nothing changed: the account has another key, and replacing it was not confirmed.
    NeedsConfirmation { current: Fingerprint },
}

/// Tries once to take an exclusive advisory lock on an open file: `Ok(false)` while another
/// open file holds it. The host provides it (`flock(LOCK_EX | LOCK_NB)`): std has no safe
/// call for it before Rust 1.89, and this layer makes no raw system calls.
pub type TryLock = fn(&File) -> io::Result<bool>;

/// TEST ONLY: a [`TryLock`] that never waits, for tests and fuzzing that use one store at a
/// time (the real lock is tested with `flock` in tests/store_locking.rs).
#[cfg(any(test, feature = "fuzzing"))]
pub fn no_lock_for_testing_only(_: &File) -> io::Result<bool> {
    Ok(true)
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("keys", &self.keys.data)
            .field("fingerprints", &self.fingerprints.data.entries().count())
            .field("tags", &self.tags.data.entries().len())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Loads the files of `dir`. Never fails as a whole: problems with single files are in
    /// [`Store::problems`], and those files are then never written.
    pub fn open(dir: &Path, try_lock: TryLock) -> Store {
        fn slot<T>(dir: &Path, name: &str, data: T) -> Slot<T> {
            Slot {
                path: dir.join(name),
                data,
                blocked: None,
            }
        }
        let mut store = Store {
            dir: dir.to_path_buf(),
            keys: slot(dir, PRIVATE_KEY_FILE, Vec::new()),
            keys_pending: Vec::new(),
            fingerprints: slot(dir, FINGERPRINTS_FILE, FingerprintStore::new()),
            fingerprints_pending: Vec::new(),
            tags: slot(dir, INSTANCE_TAGS_FILE, InstanceTags::new()),
            tags_pending: Vec::new(),
            tags_unstorable: Vec::new(),
            max_message_sizes: MaxMessageSizes::default(),
            max_message_sizes_problem: None,
            identities: slot(dir, MODERN_IDENTITY_FILE, IdentityFile::default()),
            identities_pending: Vec::new(),
            pins: slot(dir, MODERN_PINS_FILE, PinFile::default()),
            pins_pending: Vec::new(),
            try_lock,
            fail_at_step_for_testing_only: None,
        };
        store.reload();
        store
    }

    /// Reads every file again (after the user repaired one, say). Pending changes are applied
    /// to what is read; files read successfully become writable again. Returns the problems.
    pub fn reload(&mut self) -> Vec<&StoreError> {
        match self.read_keys() {
            Ok(disk) => {
                self.keys.data = self.merge_keys(disk);
                self.keys.blocked = None;
            }
            Err(e) => self.keys.blocked = Some(e),
        }
        match self.read_fingerprints() {
            Ok(mut disk) => {
                for change in &self.fingerprints_pending {
                    // Pending changes were valid when made.
                    let _ = change.apply(&mut disk);
                }
                self.fingerprints.data = disk;
                self.fingerprints.blocked = None;
            }
            Err(e) => self.fingerprints.blocked = Some(e),
        }
        match self.read_tags() {
            Ok(disk) => {
                self.tags.data = self.merge_tags(disk);
                self.tags.blocked = None;
            }
            Err(e) => self.tags.blocked = Some(e),
        }
        self.reload_modern();
        let path = self.dir.join(MAX_MESSAGE_SIZE_FILE);
        match read_file(&path, MAX_MESSAGE_SIZE_LIMIT) {
            Ok(data) => {
                self.max_message_sizes =
                    MaxMessageSizes::parse(data.as_deref().map_or(&[][..], |d| &d[..]));
                self.max_message_sizes_problem = None;
            }
            Err(e) => {
                self.max_message_sizes = MaxMessageSizes::default();
                self.max_message_sizes_problem = Some(e);
            }
        }
        self.problems()
    }

    /// The files that could not be read (and are therefore not written).
    pub fn problems(&self) -> Vec<&StoreError> {
        [
            &self.keys.blocked,
            &self.fingerprints.blocked,
            &self.tags.blocked,
            &self.identities.blocked,
            &self.pins.blocked,
            &self.max_message_sizes_problem,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The purple user directory.
    #[allow(dead_code)] // used by tests
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether some change has not been saved yet.
    pub fn has_unsaved_changes(&self) -> bool {
        !self.keys_pending.is_empty()
            || !self.fingerprints_pending.is_empty()
            || !self.tags_pending.is_empty()
            || !self.identities_pending.is_empty()
            || !self.pins_pending.is_empty()
    }

    /// Saves whatever has not been saved yet. Returns the first error (all files are tried).
    pub fn flush(&mut self) -> Result<(), StoreError> {
        let keys = if self.keys_pending.is_empty() {
            Ok(())
        } else {
            self.save_keys()
        };
        let fingerprints = if self.fingerprints_pending.is_empty() {
            Ok(())
        } else {
            self.save_fingerprints()
        };
        let tags = if self.tags_pending.is_empty() {
            Ok(())
        } else {
            self.save_tags(None).map(|_| ())
        };
        let modern = self.flush_modern();
        keys.and(fingerprints).and(tags).and(modern)
    }

    // ---- keys ---------------------------------------------------------------------------

    /// Every key, in file order.
    pub fn keys(&self) -> &[AccountKey] {
        &self.keys.data
    }

    /// The key of an account (libotr's choice when the file lists it twice: the last).
    pub fn key_for(&self, account: &str, protocol: &str) -> Option<&AccountKey> {
        find_key(&self.keys.data, account, protocol)
    }

    /// Sets an account's key (a new account, or a new key replacing the old) and saves.
    pub fn add_key(&mut self, key: AccountKey) -> Result<(), StoreError> {
        // libotr keeps names as C strings: a NUL would cut them.
        if key.account_name.contains('\0') {
            return Err(self.invalid(PRIVATE_KEY_FILE, "account"));
        }
        if key.protocol.contains('\0') {
            return Err(self.invalid(PRIVATE_KEY_FILE, "protocol"));
        }
        let id = (key.account_name.clone(), key.protocol.clone());
        put_key(&mut self.keys.data, key);
        if !self.keys_pending.contains(&id) {
            self.keys_pending.push(id);
        }
        self.save_keys()
    }

    /// Copies the key file as it is on disk to `otr.private_key.bak-<stamp>` next to it
    /// (mode 0600; an existing backup is never overwritten: `-2`, `-3`… are tried). `None`
    /// when there is no key file to back up.
    pub fn backup_keys(&self, stamp: &str) -> Result<Option<PathBuf>, StoreError> {
        let _lock = self.lock()?;
        self.backup_locked(PRIVATE_KEY_FILE, KEY_FILE_LIMIT, stamp)
    }

    /// [`Store::backup_keys`] for any of the store's files (`name`), the lock already held.
    fn backup_locked(
        &self,
        name: &str,
        limit: u64,
        stamp: &str,
    ) -> Result<Option<PathBuf>, StoreError> {
        let Some(bytes) = read_file(&self.dir.join(name), limit)? else {
            return Ok(None);
        };
        let base = format!("{name}.bak-{stamp}");
        for n in 1..=100u32 {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let path = self.dir.join(name);
            match write_new(&path, &bytes) {
                Ok(()) => return Ok(Some(path)),
                Err((WriteStep::Create, e)) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err((step, e)) => {
                    return Err(StoreError::new(&path, StoreErrorKind::Write(step, e)))
                }
            }
        }
        Err(StoreError::new(
            &self.dir.join(base),
            StoreErrorKind::Write(
                WriteStep::Create,
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "too many backups with this name",
                ),
            ),
        ))
    }

    /// Sets an account's key brought from elsewhere (an import, or a renamed account).
    /// A different key already there is replaced only when `replace` is true, and only
    /// after the key file was backed up (see [`Store::backup_keys`]); otherwise nothing
    /// changes and the current fingerprint comes back.
    pub fn import_key(
        &mut self,
        key: AccountKey,
        replace: bool,
        stamp: &str,
    ) -> Result<KeyImport, StoreError> {
        let new = key.fingerprint();
        let backup = match self.key_for(&key.account_name, &key.protocol) {
            None => None,
            Some(old) if old.fingerprint() == new => return Ok(KeyImport::Unchanged),
            Some(old) if !replace => {
                return Ok(KeyImport::NeedsConfirmation {
                    current: old.fingerprint(),
                })
            }
            Some(old) => {
                let old = old.fingerprint();
                // No backup, no replacement.
                Some((old, self.backup_keys(stamp)?))
            }
        };
        self.add_key(key)?;
        Ok(match backup {
            None => KeyImport::Added,
            Some((old, backup)) => KeyImport::Replaced { old, backup },
        })
    }

    /// Adds buddies' fingerprints brought from elsewhere, with one save: an unknown one is
    /// recorded with its trust; a known one gains trust it lacks; trust here is never
    /// withdrawn. Returns how many entries changed.
    pub fn import_fingerprints(
        &mut self,
        entries: &[crate::otr::keystore::FingerprintEntry],
    ) -> Result<usize, StoreError> {
        let mut changed = 0;
        for e in entries {
            let key = fp_key(&e.accountname, &e.protocol, &e.username, &e.fingerprint);
            let known = self.fingerprints.data.trust_of(
                &e.accountname,
                &e.protocol,
                &e.username,
                &e.fingerprint,
            );
            let change = match known {
                None if e.trust.is_empty() => FingerprintChange::Record(key),
                None => FingerprintChange::Trust(key, e.trust.clone()),
                Some("") if !e.trust.is_empty() => FingerprintChange::Trust(key, e.trust.clone()),
                Some(_) => continue,
            };
            let applied = change.apply(&mut self.fingerprints.data).map_err(|err| {
                StoreError::new(&self.fingerprints.path, StoreErrorKind::Invalid(err))
            })?;
            if applied {
                self.fingerprints_pending.push(change);
                changed += 1;
            }
        }
        if changed > 0 {
            self.save_fingerprints()?;
        }
        Ok(changed)
    }

    fn read_keys(&self) -> Result<Vec<AccountKey>, StoreError> {
        let path = &self.keys.path;
        match read_file(path, KEY_FILE_LIMIT)? {
            None => Ok(Vec::new()),
            Some(bytes) => parse_private_keys(&bytes)
                .map_err(|e| StoreError::new(path, StoreErrorKind::Damaged(e.to_string()))),
        }
    }

    /// What is on disk, plus our unsaved keys, plus any account only we still know (a key
    /// is never dropped).
    fn merge_keys(&mut self, mut disk: Vec<AccountKey>) -> Vec<AccountKey> {
        let mut memory = std::mem::take(&mut self.keys.data);
        for (account, protocol) in &self.keys_pending {
            if let Some(at) = memory.iter().rposition(|k| k.is_for(account, protocol)) {
                put_key(&mut disk, memory.remove(at));
            }
        }
        for key in memory {
            if find_key(&disk, &key.account_name, &key.protocol).is_none() {
                disk.push(key);
            }
        }
        disk
    }

    fn save_keys(&mut self) -> Result<(), StoreError> {
        self.keys.check_writable()?;
        let _lock = self.lock()?;
        let disk = match self.read_keys() {
            Ok(disk) => disk,
            Err(e) => return Err(block(&mut self.keys.blocked, e)),
        };
        self.keys.data = self.merge_keys(disk);
        let bytes = write_private_keys(&self.keys.data);
        self.write(&self.keys.path, &bytes)?;
        self.keys_pending.clear();
        Ok(())
    }

    // ---- fingerprints -------------------------------------------------------------------

    pub fn fingerprints(&self) -> &FingerprintStore {
        &self.fingerprints.data
    }

    /// Records a buddy's fingerprint (untrusted) if it is new, and saves. Returns whether it
    /// was new.
    pub fn record_fingerprint(
        &mut self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fingerprint: &Fingerprint,
    ) -> Result<bool, StoreError> {
        let change = FingerprintChange::Record(fp_key(account, protocol, buddy, fingerprint));
        self.change_fingerprints(change)
    }

    /// Sets a fingerprint's trust (`""` = not verified; recorded if unknown) and saves.
    pub fn set_trust(
        &mut self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fingerprint: &Fingerprint,
        trust: &str,
    ) -> Result<(), StoreError> {
        let change = FingerprintChange::Trust(
            fp_key(account, protocol, buddy, fingerprint),
            trust.to_owned(),
        );
        self.change_fingerprints(change).map(|_| ())
    }

    /// Forgets a buddy's fingerprint and saves. Returns whether it was known.
    pub fn forget_fingerprint(
        &mut self,
        account: &str,
        protocol: &str,
        buddy: &str,
        fingerprint: &Fingerprint,
    ) -> Result<bool, StoreError> {
        let change = FingerprintChange::Forget(fp_key(account, protocol, buddy, fingerprint));
        self.change_fingerprints(change)
    }

    fn change_fingerprints(&mut self, change: FingerprintChange) -> Result<bool, StoreError> {
        let changed = change
            .apply(&mut self.fingerprints.data)
            .map_err(|e| StoreError::new(&self.fingerprints.path, StoreErrorKind::Invalid(e)))?;
        if !changed {
            return Ok(false);
        }
        self.fingerprints_pending.push(change);
        self.save_fingerprints().map(|()| true)
    }

    fn read_fingerprints(&self) -> Result<FingerprintStore, StoreError> {
        let data = read_file(&self.fingerprints.path, FINGERPRINTS_LIMIT)?;
        Ok(FingerprintStore::parse(
            data.as_deref().map_or(&[][..], |d| &d[..]),
        ))
    }

    fn save_fingerprints(&mut self) -> Result<(), StoreError> {
        self.fingerprints.check_writable()?;
        let _lock = self.lock()?;
        let mut disk = match self.read_fingerprints() {
            Ok(disk) => disk,
            Err(e) => return Err(block(&mut self.fingerprints.blocked, e)),
        };
        for change in &self.fingerprints_pending {
            let _ = change.apply(&mut disk);
        }
        self.fingerprints.data = disk;
        let bytes = self.fingerprints.data.to_file_bytes();
        self.write(&self.fingerprints.path, &bytes)?;
        self.fingerprints_pending.clear();
        Ok(())
    }

    // ---- instance tags ------------------------------------------------------------------

    /// The account's instance tag, made and saved if it has none. The tag is always
    /// returned; the `Result` says whether it is saved (if not, it is kept in memory and
    /// saved with the next write).
    pub fn instance_tag(
        &mut self,
        account: &str,
        protocol: &str,
        rng: &mut dyn rand_core::CryptoRngCore,
    ) -> (u32, Result<(), StoreError>) {
        if let Some(tag) = self.known_tag(account, protocol) {
            return (tag, Ok(()));
        }
        if let Err(e) = crate::otr::keystore::check_field("account", account)
            .and_then(|()| crate::otr::keystore::check_field("protocol", protocol))
        {
            let tag = instags::generate(rng);
            self.tags_unstorable
                .push((account.to_owned(), protocol.to_owned(), tag));
            return (
                tag,
                Err(StoreError::new(&self.tags.path, StoreErrorKind::Invalid(e))),
            );
        }
        let result = self.save_tags(Some((account, protocol, &mut *rng)));
        let tag = self.known_tag(account, protocol).unwrap_or_else(|| {
            // Saving failed before a tag was made: make one for memory now.
            let tag = instags::generate(rng);
            self.keep_tag_in_memory(account, protocol, tag);
            tag
        });
        (tag, result.map(|_| ()))
    }

    fn known_tag(&self, account: &str, protocol: &str) -> Option<u32> {
        self.tags.data.get(account, protocol).or_else(|| {
            self.tags_unstorable
                .iter()
                .find(|(a, p, _)| a == account && p == protocol)
                .map(|&(_, _, t)| t)
        })
    }

    fn keep_tag_in_memory(&mut self, account: &str, protocol: &str, tag: u32) {
        // Names were checked by the caller; a failure here cannot happen.
        let _ = self.tags.data.set(account, protocol, tag);
        self.tags_pending
            .push((account.to_owned(), protocol.to_owned(), tag));
    }

    fn read_tags(&self) -> Result<InstanceTags, StoreError> {
        let data = read_file(&self.tags.path, INSTANCE_TAGS_LIMIT)?;
        Ok(InstanceTags::parse(
            data.as_deref().map_or(&[][..], |d| &d[..]),
        ))
    }

    /// What is on disk, plus our unsaved tags for accounts the disk has none for.
    fn merge_tags(&self, mut disk: InstanceTags) -> InstanceTags {
        for (account, protocol, tag) in &self.tags_pending {
            if disk.get(account, protocol).is_none() {
                let _ = disk.set(account, protocol, *tag);
            }
        }
        disk
    }

    /// Under the lock: re-reads the file, adds our unsaved tags for accounts it has none
    /// for and, for `new`, a fresh tag if the file has none for that account; writes if
    /// anything was added. Returns whether it wrote.
    fn save_tags(
        &mut self,
        new: Option<(&str, &str, &mut dyn rand_core::CryptoRngCore)>,
    ) -> Result<bool, StoreError> {
        let (_lock, disk) = match self.lock_and_read_tags() {
            Ok(v) => v,
            Err(e) => {
                if let Some((account, protocol, rng)) = new {
                    self.keep_tag_in_memory(account, protocol, instags::generate(rng));
                }
                return Err(e);
            }
        };
        let mut merged = disk;
        let mut added = Vec::new();
        let mut wanted: Vec<(String, String, Option<u32>)> = self
            .tags_pending
            .iter()
            .map(|(a, p, t)| (a.clone(), p.clone(), Some(*t)))
            .collect();
        let mut rng = None;
        if let Some((account, protocol, r)) = new {
            wanted.push((account.to_owned(), protocol.to_owned(), None));
            rng = Some(r);
        }
        for (account, protocol, tag) in wanted {
            if merged.get(&account, &protocol).is_some() {
                continue;
            }
            let tag = match (tag, rng.as_mut()) {
                (Some(t), _) => t,
                (None, Some(r)) => instags::generate(&mut **r),
                (None, None) => continue,
            };
            // Names were checked before they got here.
            if merged.set(&account, &protocol, tag).is_ok() {
                added.push((account, protocol, tag));
            }
        }
        self.tags.data = merged;
        if added.is_empty() {
            self.tags_pending.clear();
            return Ok(false);
        }
        let bytes = self.tags.data.to_file_bytes();
        if let Err(e) = self.write(&self.tags.path, &bytes) {
            // What we made stays in memory and is written next time.
            self.tags_pending = added;
            return Err(e);
        }
        self.tags_pending.clear();
        Ok(true)
    }

    fn lock_and_read_tags(&mut self) -> Result<(DirLock, InstanceTags), StoreError> {
        self.tags.check_writable()?;
        let lock = self.lock()?;
        match self.read_tags() {
            Ok(disk) => Ok((lock, disk)),
            Err(e) => Err(block(&mut self.tags.blocked, e)),
        }
    }

    // ---- max message size ---------------------------------------------------------------

    /// The maximum message size for a protocol: `otr.max_message_size`, else pidgin-otr's
    /// built-in value, else `None` (do not fragment).
    pub fn max_message_size(&self, protocol: &str) -> Option<usize> {
        self.max_message_sizes.lookup(protocol)
    }

    // ---- plumbing -----------------------------------------------------------------------

    fn invalid(&self, file: &str, field: &'static str) -> StoreError {
        StoreError::new(
            &self.dir.join(file),
            StoreErrorKind::Invalid(InvalidField { field }),
        )
    }

    fn lock(&self) -> Result<DirLock, StoreError> {
        DirLock::acquire(&self.dir.join(LOCK_FILE), self.try_lock)
    }

    fn write(&self, path: &Path, data: &[u8]) -> Result<(), StoreError> {
        write_atomic(path, data, self.fail_at_step_for_testing_only)
            .map_err(|(step, e)| StoreError::new(path, StoreErrorKind::Write(step, e)))
    }

    #[cfg(test)]
    fn fail_writes_at_for_testing_only(&mut self, step: Option<WriteStep>) {
        self.fail_at_step_for_testing_only = step;
    }
}

fn fp_key(account: &str, protocol: &str, buddy: &str, fingerprint: &Fingerprint) -> FpKey {
    FpKey {
        account: account.to_owned(),
        protocol: protocol.to_owned(),
        buddy: buddy.to_owned(),
        fingerprint: *fingerprint,
    }
}

/// Reads a whole file of at most `limit` bytes; `None` if it does not exist. Zeroized on
/// drop (the key file holds private exponents); sized from the file's length so the buffer
/// is not reallocated while reading.
fn read_file(path: &Path, limit: u64) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
    let unreadable = |e| StoreError::new(path, StoreErrorKind::Unreadable(e));
    let damaged = |what: String| StoreError::new(path, StoreErrorKind::Damaged(what));
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(damaged("it is not a regular file".to_owned()));
    }
    if meta.len() > limit {
        return Err(damaged(format!("it is larger than {limit} bytes")));
    }
    let capacity = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
    let mut data = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(unreadable)?;
    if data.len() as u64 > limit {
        return Err(damaged(format!("it is larger than {limit} bytes")));
    }
    Ok(Some(data))
}

/// Writes `data` to `target` atomically (see the module comment). On failure returns the
/// step and the error; the temporary file is gone and `target` is as it was.
fn write_atomic(
    target: &Path,
    data: &[u8],
    fail_at: Option<WriteStep>,
) -> Result<(), (WriteStep, io::Error)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let injected = |step: WriteStep| -> io::Result<()> {
        if fail_at == Some(step) {
            Err(io::Error::other("failure injected by a test"))
        } else {
            Ok(())
        }
    };
    let at = |step: WriteStep| move |e: io::Error| (step, e);

    // Replace a symlinked file at its target, as writing through the link would.
    let real = match fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_symlink() => {
            injected(WriteStep::ResolveLink).map_err(at(WriteStep::ResolveLink))?;
            fs::canonicalize(target).map_err(at(WriteStep::ResolveLink))?
        }
        _ => target.to_path_buf(),
    };
    let dir = match real.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));

    injected(WriteStep::Create).map_err(at(WriteStep::Create))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(at(WriteStep::Create))?;
    let written = (|| {
        if let Err(e) = injected(WriteStep::Write) {
            // Like a full disk: part of the data goes out first.
            let _ = file.write_all(&data[..data.len() / 2]);
            return Err((WriteStep::Write, e));
        }
        file.write_all(data).map_err(at(WriteStep::Write))?;
        injected(WriteStep::Sync).map_err(at(WriteStep::Sync))?;
        file.sync_all().map_err(at(WriteStep::Sync))?;
        injected(WriteStep::Rename).map_err(at(WriteStep::Rename))?;
        fs::rename(&tmp, &real).map_err(at(WriteStep::Rename))
    })();
    drop(file);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    injected(WriteStep::SyncDir).map_err(at(WriteStep::SyncDir))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(at(WriteStep::SyncDir))
}

/// Writes a new file (never an existing one) with mode 0600 and flushes it to disk; a file
/// left half-written is removed.
pub(crate) fn write_new(path: &Path, data: &[u8]) -> Result<(), (WriteStep, io::Error)> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| (WriteStep::Create, e))?;
    let written = file
        .write_all(data)
        .map_err(|e| (WriteStep::Write, e))
        .and_then(|()| file.sync_all().map_err(|e| (WriteStep::Sync, e)));
    if written.is_err() {
        drop(file);
        let _ = fs::remove_file(path);
    }
    written
}

/// An exclusive `flock` on the directory's lock file, released when dropped (the file is
/// closed).
struct DirLock {
    _file: File,
}

impl DirLock {
    fn acquire(path: &Path, try_lock: TryLock) -> Result<DirLock, StoreError> {
        let error = |e| StoreError::new(path, StoreErrorKind::Lock(e));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(error)?;
        let start = Instant::now();
        loop {
            match try_lock(&file) {
                Ok(true) => return Ok(DirLock { _file: file }),
                Ok(false) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(false) => {
                    return Err(error(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "another program has held the lock for too long",
                    )))
                }
                Err(e) => return Err(error(e)),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::otr::crypto::dsa::DsaPrivateKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    const ALICE_KEY: &[u8] = include_bytes!("../../tests/fixtures/libotr/alice.private_key");
    const TWO_KEYS: &[u8] = include_bytes!("../../tests/fixtures/libotr/two-accounts.private_key");
    const J: &str = "prpl-jabber";
    const ME: &str = "me@example.org/Home";

    fn open_store(dir: &Path) -> Store {
        Store::open(dir, no_lock_for_testing_only)
    }

    use crate::client::test_dir::TempDir;

    /// libotr-made keys: alice's, then the two of the two-account fixture.
    fn fixture_key(i: usize) -> DsaPrivateKey {
        let mut keys = parse_private_keys(ALICE_KEY).unwrap();
        keys.extend(parse_private_keys(TWO_KEYS).unwrap());
        let k = &keys[i].key;
        let c = k.public().components();
        DsaPrivateKey::from_components(&c.p, &c.q, &c.g, &c.y, &k.x_bytes()).unwrap()
    }

    fn fp(n: u32) -> Fingerprint {
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&n.to_be_bytes());
        b[19] = 0x5a;
        Fingerprint(b)
    }

    fn temp_files(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn missing_files_are_empty_not_errors() {
        let dir = TempDir::new("missing");
        let store = open_store(dir.path());
        assert!(store.problems().is_empty());
        assert!(store.keys().is_empty());
        assert_eq!(store.fingerprints().entries().count(), 0);
        assert_eq!(store.max_message_size("prpl-irc"), Some(417));
        assert_eq!(store.max_message_size(J), None);
        // Opening writes nothing.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn everything_saved_is_read_back_with_mode_0600() {
        let dir = TempDir::new("roundtrip");
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut store = open_store(dir.path());
        store
            .add_key(AccountKey::new(ME, J, fixture_key(0)))
            .unwrap();
        assert!(store.record_fingerprint(ME, J, "bob@x", &fp(1)).unwrap());
        assert!(!store.record_fingerprint(ME, J, "bob@x", &fp(1)).unwrap());
        store.set_trust(ME, J, "bob@x", &fp(1), "verified").unwrap();
        store.set_trust(ME, J, "carol@x", &fp(2), "smp").unwrap();
        assert!(store.record_fingerprint(ME, J, "dave@x", &fp(3)).unwrap());
        assert!(store.forget_fingerprint(ME, J, "dave@x", &fp(3)).unwrap());
        assert!(!store.forget_fingerprint(ME, J, "dave@x", &fp(3)).unwrap());
        let (tag, saved) = store.instance_tag(ME, J, &mut rng);
        saved.unwrap();
        assert!(tag >= 0x100);
        assert_eq!(store.instance_tag(ME, J, &mut rng).0, tag);
        assert!(!store.has_unsaved_changes());

        for name in [
            PRIVATE_KEY_FILE,
            FINGERPRINTS_FILE,
            INSTANCE_TAGS_FILE,
            LOCK_FILE,
        ] {
            assert_eq!(mode(&dir.file(name)), 0o600, "{name}");
        }
        assert!(temp_files(dir.path()).is_empty());

        let again = open_store(dir.path());
        assert!(again.problems().is_empty());
        assert_eq!(
            again.key_for(ME, J).unwrap().fingerprint(),
            fixture_key(0).public().fingerprint()
        );
        assert!(again.key_for(ME, "prpl-irc").is_none());
        let fps = again.fingerprints();
        assert_eq!(fps.trust_of(ME, J, "bob@x", &fp(1)), Some("verified"));
        assert_eq!(fps.trust_of(ME, J, "carol@x", &fp(2)), Some("smp"));
        assert_eq!(fps.trust_of(ME, J, "dave@x", &fp(3)), None);
        let mut again = again;
        assert_eq!(again.instance_tag(ME, J, &mut rng).0, tag);
        // The key file is libotr's format.
        let text = fs::read_to_string(dir.file(PRIVATE_KEY_FILE)).unwrap();
        assert!(text.starts_with("(privkeys\n (account\n(name \"me@example.org/Home\")\n"));
    }

    #[test]
    fn replacing_a_key_keeps_other_accounts() {
        let dir = TempDir::new("replace");
        fs::write(dir.file(PRIVATE_KEY_FILE), TWO_KEYS).unwrap();
        let mut store = open_store(dir.path());
        assert_eq!(store.keys().len(), 2);
        store
            .add_key(AccountKey::new("dave@example.org/", J, fixture_key(0)))
            .unwrap();
        let back = parse_private_keys(&fs::read(dir.file(PRIVATE_KEY_FILE)).unwrap()).unwrap();
        let got: Vec<_> = back
            .iter()
            .map(|k| (k.account_name.clone(), k.fingerprint()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "dave@localhost/peer".to_owned(),
                    fixture_key(1).public().fingerprint()
                ),
                (
                    "dave@example.org/".to_owned(),
                    fixture_key(0).public().fingerprint()
                ),
            ]
        );
    }

    #[test]
    fn a_damaged_key_file_is_never_overwritten() {
        let dir = TempDir::new("damaged");
        let path = dir.file(PRIVATE_KEY_FILE);
        let damaged = &TWO_KEYS[..TWO_KEYS.len() - 40];
        fs::write(&path, damaged).unwrap();
        let mut store = open_store(dir.path());
        let problems = store.problems();
        assert_eq!(problems.len(), 1);
        let text = problems[0].to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("damaged") && text.contains("line"), "{text}");
        assert!(text.contains("will not change this file"), "{text}");
        assert!(problems[0].blocks_writes());

        let err = store
            .add_key(AccountKey::new(ME, J, fixture_key(0)))
            .unwrap_err();
        assert!(matches!(err.kind, StoreErrorKind::ReadOnly(_)), "{err}");
        assert!(err.to_string().contains("left untouched"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), damaged);
        // The key is usable in memory meanwhile, and other files still work.
        assert!(store.key_for(ME, J).is_some());
        store.record_fingerprint(ME, J, "bob@x", &fp(1)).unwrap();
        assert!(store.has_unsaved_changes());

        // Repaired (here: moved away): reload makes it writable, flush saves the key.
        fs::rename(&path, dir.file("otr.private_key.broken")).unwrap();
        assert!(store.reload().is_empty());
        store.flush().unwrap();
        let back = parse_private_keys(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].account_name, ME);
    }

    #[test]
    fn a_key_file_damaged_after_opening_is_not_overwritten() {
        let dir = TempDir::new("damaged-later");
        let path = dir.file(PRIVATE_KEY_FILE);
        fs::write(&path, ALICE_KEY).unwrap();
        let mut store = open_store(dir.path());
        assert!(store.problems().is_empty());
        fs::write(&path, b"(privkeys (account (name x)))").unwrap();
        let err = store
            .add_key(AccountKey::new(ME, J, fixture_key(1)))
            .unwrap_err();
        assert!(matches!(err.kind, StoreErrorKind::Damaged(_)), "{err}");
        assert!(
            err.to_string()
                .contains("account entry without (protocol ...)"),
            "{err}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"(privkeys (account (name x)))");
        // From now on the file is read-only.
        let err = store
            .add_key(AccountKey::new("x", J, fixture_key(2)))
            .unwrap_err();
        assert!(matches!(err.kind, StoreErrorKind::ReadOnly(_)), "{err}");
        assert_eq!(store.problems().len(), 1);
        // Both keys (and alice's from before) are still in memory.
        assert_eq!(store.keys().len(), 3);
    }

    #[test]
    fn a_file_that_is_not_a_file_is_reported_and_left_alone() {
        let dir = TempDir::new("notafile");
        fs::create_dir(dir.file(FINGERPRINTS_FILE)).unwrap();
        let mut store = open_store(dir.path());
        let problems = store.problems();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("not a regular file"));
        assert!(store.record_fingerprint(ME, J, "b", &fp(1)).is_err());
        assert!(dir.file(FINGERPRINTS_FILE).is_dir());
        assert_eq!(store.fingerprints().trust_of(ME, J, "b", &fp(1)), Some(""));
    }

    #[test]
    fn a_store_in_a_missing_or_bogus_directory_reports_every_save() {
        let dir = TempDir::new("nodir");
        let missing = dir.file("does-not-exist");
        let mut store = open_store(&missing);
        assert!(store.problems().is_empty());
        let err = store.record_fingerprint(ME, J, "b", &fp(1)).unwrap_err();
        assert!(matches!(err.kind, StoreErrorKind::Lock(_)), "{err}");
        assert!(err.to_string().contains("does-not-exist"), "{err}");
        assert!(!missing.exists());

        // A regular file where the directory should be: nothing can be read.
        let file = dir.file("plain-file");
        fs::write(&file, b"x").unwrap();
        let store = open_store(&file);
        // Keys, fingerprints, tags, modern identities, pins, max message size.
        assert_eq!(store.problems().len(), 6);
        assert_eq!(fs::read(&file).unwrap(), b"x");
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_retries_later() {
        for step in [
            WriteStep::Create,
            WriteStep::Write,
            WriteStep::Sync,
            WriteStep::Rename,
        ] {
            let dir = TempDir::new("fail");
            let path = dir.file(FINGERPRINTS_FILE);
            let mut store = open_store(dir.path());
            store.record_fingerprint(ME, J, "old@x", &fp(1)).unwrap();
            let before = fs::read(&path).unwrap();

            store.fail_writes_at_for_testing_only(Some(step));
            let err = store
                .record_fingerprint(ME, J, "new@x", &fp(2))
                .unwrap_err();
            match &err.kind {
                StoreErrorKind::Write(s, _) => assert_eq!(*s, step),
                other => panic!("{step:?}: {other:?}"),
            }
            assert!(err.to_string().contains(step.describe()), "{err}");
            assert!(
                err.to_string().contains("previous file is unchanged"),
                "{err}"
            );
            assert_eq!(fs::read(&path).unwrap(), before, "{step:?}");
            assert!(temp_files(dir.path()).is_empty(), "{step:?}");
            // In memory meanwhile.
            assert_eq!(
                store.fingerprints().trust_of(ME, J, "new@x", &fp(2)),
                Some("")
            );
            assert!(store.has_unsaved_changes());

            store.fail_writes_at_for_testing_only(None);
            store.flush().unwrap();
            assert!(!store.has_unsaved_changes());
            let back = open_store(dir.path());
            assert_eq!(
                back.fingerprints().trust_of(ME, J, "new@x", &fp(2)),
                Some("")
            );
            assert_eq!(
                back.fingerprints().trust_of(ME, J, "old@x", &fp(1)),
                Some("")
            );
        }
    }

    #[test]
    fn a_failed_directory_sync_is_reported_and_saved_again() {
        let dir = TempDir::new("syncdir");
        let mut store = open_store(dir.path());
        store.fail_writes_at_for_testing_only(Some(WriteStep::SyncDir));
        let err = store.record_fingerprint(ME, J, "b", &fp(1)).unwrap_err();
        assert!(
            err.to_string().contains("the new file is in place"),
            "{err}"
        );
        assert!(store.has_unsaved_changes());
        store.fail_writes_at_for_testing_only(None);
        store.flush().unwrap();
        let back = open_store(dir.path());
        assert_eq!(back.fingerprints().entries().count(), 1);
    }

    #[test]
    fn failed_key_and_tag_writes_keep_the_old_files() {
        let dir = TempDir::new("fail-keys");
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        fs::write(dir.file(PRIVATE_KEY_FILE), ALICE_KEY).unwrap();
        let mut store = open_store(dir.path());
        store.fail_writes_at_for_testing_only(Some(WriteStep::Write));
        assert!(store
            .add_key(AccountKey::new(ME, J, fixture_key(1)))
            .is_err());
        assert_eq!(fs::read(dir.file(PRIVATE_KEY_FILE)).unwrap(), ALICE_KEY);
        let (tag, saved) = store.instance_tag(ME, J, &mut rng);
        assert!(saved.is_err());
        assert!(!dir.file(INSTANCE_TAGS_FILE).exists());
        // The same tag is handed out again, and saved once writing works.
        assert_eq!(store.instance_tag(ME, J, &mut rng).0, tag);
        store.fail_writes_at_for_testing_only(None);
        store.flush().unwrap();
        let back = open_store(dir.path());
        assert_eq!(back.keys().len(), 2);
        let mut back = back;
        assert_eq!(back.instance_tag(ME, J, &mut rng).0, tag);
    }

    #[test]
    fn a_symlinked_file_is_replaced_at_its_target() {
        let dir = TempDir::new("symlink");
        let elsewhere = TempDir::new("symlink-target");
        let target = elsewhere.file("fps");
        fs::write(&target, b"").unwrap();
        std::os::unix::fs::symlink(&target, dir.file(FINGERPRINTS_FILE)).unwrap();
        let mut store = open_store(dir.path());
        store.record_fingerprint(ME, J, "b", &fp(1)).unwrap();
        assert!(fs::symlink_metadata(dir.file(FINGERPRINTS_FILE))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::read_to_string(&target).unwrap().starts_with("b\t"));
        assert!(temp_files(elsewhere.path()).is_empty());
    }

    #[test]
    fn unstorable_values_are_refused() {
        let dir = TempDir::new("invalid");
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut store = open_store(dir.path());
        let err = store.record_fingerprint(ME, J, "b\tc", &fp(1)).unwrap_err();
        assert!(matches!(err.kind, StoreErrorKind::Invalid(_)), "{err}");
        assert!(store.set_trust(ME, J, "b", &fp(1), "x\ny").is_err());
        assert!(store
            .add_key(AccountKey::new("a\0b", J, fixture_key(0)))
            .is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        // A tag for an account the file cannot hold is still stable in memory.
        let (tag, saved) = store.instance_tag("a\tb", J, &mut rng);
        assert!(matches!(
            saved.unwrap_err().kind,
            StoreErrorKind::Invalid(_)
        ));
        let (again, _) = store.instance_tag("a\tb", J, &mut rng);
        assert_eq!(again, tag);
        assert!(!dir.file(INSTANCE_TAGS_FILE).exists());
    }

    #[test]
    fn max_message_size_file_overrides_defaults() {
        let dir = TempDir::new("mms");
        fs::write(
            dir.file(MAX_MESSAGE_SIZE_FILE),
            b"prpl-jabber\t5000\nprpl-irc\t300\n",
        )
        .unwrap();
        let store = open_store(dir.path());
        assert_eq!(store.max_message_size(J), Some(5000));
        assert_eq!(store.max_message_size("prpl-irc"), Some(300));
        assert_eq!(store.max_message_size("prpl-aim"), Some(2343));
    }

    #[test]
    fn a_second_store_adopts_the_first_ones_instance_tag() {
        let dir = TempDir::new("tags");
        let mut a = open_store(dir.path());
        let mut b = open_store(dir.path());
        let mut rng_a = ChaCha20Rng::seed_from_u64(10);
        let mut rng_b = ChaCha20Rng::seed_from_u64(20);
        let (ta, ra) = a.instance_tag(ME, J, &mut rng_a);
        let (tb, rb) = b.instance_tag(ME, J, &mut rng_b);
        ra.unwrap();
        rb.unwrap();
        assert_eq!(ta, tb);
        let (other, _) = b.instance_tag("other", J, &mut rng_b);
        assert_ne!(other, ta);
        let back = InstanceTags::parse(&fs::read(dir.file(INSTANCE_TAGS_FILE)).unwrap());
        assert_eq!(back.get(ME, J), Some(ta));
        assert_eq!(back.get("other", J), Some(other));
    }

    /// A 16 KiB tmpfs mounted for one test (needs root and permission to mount).
    struct SmallFs(TempDir);

    impl SmallFs {
        fn mount() -> Result<SmallFs, String> {
            let dir = TempDir::new("tmpfs");
            let out = Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs"])
                .arg(dir.path())
                .output()
                .map_err(|e| format!("cannot run mount: {e}"))?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
            }
            Ok(SmallFs(dir))
        }

        fn remount(&self, options: &str) {
            let ok = Command::new("mount")
                .args(["-o", options])
                .arg(self.0.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "remount {options}");
        }
    }

    impl Drop for SmallFs {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0.path()).status();
        }
    }

    #[test]
    fn a_full_or_read_only_disk_keeps_the_old_file() {
        let fs_ = match SmallFs::mount() {
            Ok(f) => f,
            Err(why) => {
                println!("skipped: cannot mount a small tmpfs ({why})");
                return;
            }
        };
        let dir = fs_.0.path();
        let path = dir.join(FINGERPRINTS_FILE);
        let mut store = open_store(dir);
        for i in 0..10 {
            store
                .record_fingerprint(ME, J, &format!("b{i}@x"), &fp(i))
                .unwrap();
        }

        // Fill the file system.
        let mut filler = File::create(dir.join("filler")).unwrap();
        let chunk = [0x55u8; 1024];
        while filler
            .write_all(&chunk)
            .and_then(|()| filler.sync_all())
            .is_ok()
        {}
        let _ = filler.write_all(&[0u8; 1]);
        drop(filler);

        let mut failed = None;
        for i in 10..200 {
            let before = fs::read(&path).unwrap();
            if let Err(e) = store.record_fingerprint(ME, J, &format!("b{i}@x"), &fp(i)) {
                failed = Some((e, before));
                break;
            }
        }
        let (err, before) = failed.expect("a full disk never failed a write");
        assert!(
            matches!(
                err.kind,
                StoreErrorKind::Write(WriteStep::Create | WriteStep::Write | WriteStep::Sync, _)
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("previous file is unchanged"),
            "{err}"
        );
        assert_eq!(fs::read(&path).unwrap(), before);
        assert!(FingerprintStore::parse(&before).entries().count() >= 10);
        assert!(temp_files(dir).is_empty());

        // Space again: everything pending is saved.
        fs::remove_file(dir.join("filler")).unwrap();
        store.flush().unwrap();
        let saved = open_store(dir).fingerprints().entries().count();
        assert_eq!(saved, store.fingerprints().entries().count());

        // Read-only: refused, old file intact.
        let before = fs::read(&path).unwrap();
        fs_.remount("remount,ro");
        let err = store
            .record_fingerprint(ME, J, "late@x", &fp(999))
            .unwrap_err();
        assert!(err.to_string().contains("kept in memory"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
        fs_.remount("remount,rw");
        store.flush().unwrap();
        assert_eq!(
            open_store(dir)
                .fingerprints()
                .trust_of(ME, J, "late@x", &fp(999)),
            Some("")
        );
    }
}
