//! The modern suite's files in the store: `otr.modern_identity` (each account's X25519
//! identity key, [`IdentityFile`]) and `otr.modern_pins` (the buddies' identities the user
//! vouched for, [`PinFile`]); docs/modern-suite.md §8. Same protections as pidgin-otr's files
//! (see the parent module): read at open, a file that cannot be read or does not parse is
//! reported and never written, every change is a read-modify-write under the lock, written
//! atomically with mode 0600.

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::keystore::InvalidField;
use crate::otr::modern::identity::{IdentityFile, IdentityKey};

use super::super::pins::{Pin, PinFile};
use super::{block, read_file, Store, StoreError, StoreErrorKind, MODERN_PINS_FILE};

/// An identity file holds a few accounts (~130 bytes each).
const IDENTITY_LIMIT: u64 = 1 << 20;
/// A pin line is under 1000 bytes.
const PINS_LIMIT: u64 = 16 << 20;

/// A pin change waiting to be applied to the file's current contents (idempotent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum PinChange {
    Pin(Pin),
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
            Self::Forget {
                account,
                protocol,
                buddy,
                fingerprint,
            } => Ok(pins.forget(account, protocol, buddy, fingerprint)),
        }
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

    fn read_identities(&self) -> Result<IdentityFile, StoreError> {
        let path = &self.identities.path;
        match read_file(path, IDENTITY_LIMIT)? {
            None => Ok(IdentityFile::default()),
            Some(bytes) => IdentityFile::parse(&bytes).map_err(|e| {
                let what = format!("line {}: {:?}", e.line, e.kind);
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
