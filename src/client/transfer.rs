//! Moving an account's OTR key, and the trust it gave buddies' keys, between clients that
//! keep libotr's files: another Pidgin or Finch profile (`~/.purple`), Adium
//! (`~/Library/Application Support/Adium 2.0/Users/Default`) and irssi's OTR module
//! (`~/.irssi/otr`). The files are the same formats ([`crate::otr::keystore`]); what differs
//! is how each client names an account and a protocol:
//!
//! | Client | key file, trust file | account name | protocol id |
//! |---|---|---|---|
//! | Pidgin, Finch | `otr.private_key`, `otr.fingerprints` | libpurple's username (`alice@example.org/Home`) | `prpl-jabber`, `prpl-irc`, … |
//! | Adium | the same | the account's number (`ObjectID` in `Accounts.plist`, which maps it to the `UID`, `alice@example.org`) | `libpurple-Jabber`, `libpurple-oscar-AIM`, … (`libgaim-…` in old versions) |
//! | irssi | `otr.key`, `otr.fp` | `nick@server` | `IRC` |
//!
//! Import: [`ImportSource::read`] reads a directory (or a key file) of any of them,
//! [`plan_import`] picks the entry for one of our accounts (by the name in the file, or by
//! the same identity under the other client's naming, or the only key for that protocol)
//! and says what would change, fingerprint first, so the user confirms what they see;
//! [`apply_import`] then stores it. A different key of ours is replaced only with
//! [`Confirm::Replace`], and only after the key file was backed up
//! (`otr.private_key.bak-<stamp>`, mode 0600; see [`Store::import_key`]).
//!
//! Export: [`export`] writes one account's key and the trust it gave, named for the target
//! client; [`write_export`] puts them in new files (mode 0600, never over an existing file).
//!
//! purple-otr's own files come along between libpurple profiles: the account's post-quantum
//! identity key (`otr.modern_identity`) and the buddies' identities pinned for it
//! (`otr.modern_pins`; docs/modern-suite.md §8, §14). An import from another Pidgin profile
//! brings them when they are there (a different identity of ours, too, is replaced only with
//! [`Confirm::Replace`] and after a backup, see [`Store::import_identity`]); an export for
//! Pidgin writes them beside the key; `/otr key move` copies them to the new name. Pins come
//! with the trust, only for buddies' keys the file marks verified, and never replace a pin
//! made here. Adium and irssi have no such files.
//!
//! Renamed accounts: libpurple tells plugins nothing when an account's username changes,
//! so the old name keeps the key. [`ImportSource::from_store`] lets the same import path
//! copy the key and trust of the old name to the new one (`/otr key move OLDNAME`); the
//! old entry stays in the file (the store never drops a key).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::otr::crypto::dsa::DsaPrivateKey;
use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::keystore::privkey::{parse_private_keys, write_private_keys};
use crate::otr::keystore::{AccountKey, FingerprintEntry, FingerprintStore};
use crate::otr::modern::identity::{IdentityFile, IdentityFingerprint, IdentityKey};

use super::pins::{Pin, PinFile};
use super::store::{
    self, IdentityImport, KeyImport, Store, StoreError, FINGERPRINTS_FILE, MODERN_IDENTITY_FILE,
    MODERN_PINS_FILE, PRIVATE_KEY_FILE,
};
use super::AccountId;

/// irssi's file names (in `~/.irssi/otr/`).
pub const IRSSI_KEY_FILE: &str = "otr.key";
pub const IRSSI_FINGERPRINTS_FILE: &str = "otr.fp";
/// Adium's list of accounts, next to its OTR files.
pub const ADIUM_ACCOUNTS_FILE: &str = "Accounts.plist";

const KEY_FILE_LIMIT: u64 = crate::otr::keystore::sexp::MAX_INPUT_LEN as u64;
const FINGERPRINTS_LIMIT: u64 = 64 << 20;
const PLIST_LIMIT: u64 = 4 << 20;
/// As the store reads them (`store/modern.rs`).
const IDENTITY_LIMIT: u64 = 1 << 20;
const PINS_LIMIT: u64 = 16 << 20;

/// A client whose files we read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Pidgin, Finch or any libpurple client: our own naming.
    Pidgin,
    Adium,
    Irssi,
    /// Names and protocol ids exactly as here, in `otr.private_key`/`otr.fingerprints`.
    Generic,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Pidgin,
        Format::Adium,
        Format::Irssi,
        Format::Generic,
    ];

    /// The word the user types or picks.
    pub fn name(self) -> &'static str {
        match self {
            Format::Pidgin => "pidgin",
            Format::Adium => "adium",
            Format::Irssi => "irssi",
            Format::Generic => "generic",
        }
    }

    pub fn parse(word: &str) -> Option<Format> {
        match word.to_ascii_lowercase().as_str() {
            "pidgin" | "finch" | "purple" | "libpurple" => Some(Format::Pidgin),
            "adium" => Some(Format::Adium),
            "irssi" | "irssi-otr" => Some(Format::Irssi),
            "generic" | "libotr" => Some(Format::Generic),
            _ => None,
        }
    }

    fn key_file(self) -> &'static str {
        match self {
            Format::Irssi => IRSSI_KEY_FILE,
            _ => PRIVATE_KEY_FILE,
        }
    }

    fn fingerprints_file(self) -> &'static str {
        match self {
            Format::Irssi => IRSSI_FINGERPRINTS_FILE,
            _ => FINGERPRINTS_FILE,
        }
    }

    /// The protocol id this client writes for a libpurple protocol id.
    pub fn protocol_for(self, purple: &str) -> String {
        match self {
            Format::Pidgin | Format::Generic => purple.to_owned(),
            Format::Irssi => "IRC".to_owned(),
            Format::Adium => PROTOCOLS
                .iter()
                .find(|(_, p)| *p == purple)
                .map(|(a, _)| format!("libpurple-{a}"))
                .unwrap_or_else(|| purple.to_owned()),
        }
    }

    /// The account name this client uses for one of ours, when the user gives none.
    /// Adium names accounts by number; without one, the bare address is the best guess
    /// (it is Adium's `UID`), and the user is told to put in the number.
    pub fn account_name_for(self, account: &AccountId) -> String {
        match self {
            Format::Adium if account.protocol == "prpl-jabber" => bare_jid(&account.name),
            _ => account.name.clone(),
        }
    }
}

/// Adium's service codes (after `libpurple-`/`libgaim-`) and libpurple's protocol ids. The
/// first entry for a protocol id is the one written on export.
const PROTOCOLS: [(&str, &str); 13] = [
    ("Jabber", "prpl-jabber"),
    ("jabber-gtalk", "prpl-jabber"),
    ("oscar-AIM", "prpl-aim"),
    ("oscar-ICQ", "prpl-icq"),
    ("oscar-Mac", "prpl-aim"),
    ("Yahoo!", "prpl-yahoo"),
    ("Yahoo!-Japan", "prpl-yahoojp"),
    ("MSN", "prpl-msn"),
    ("IRC", "prpl-irc"),
    ("GroupWise", "prpl-novell"),
    ("Gadu-Gadu", "prpl-gg"),
    ("Sametime", "prpl-meanwhile"),
    ("zephyr", "prpl-zephyr"),
];

/// The libpurple protocol id for a protocol id found in any client's file, if we know it.
pub fn purple_protocol(in_file: &str) -> Option<String> {
    if in_file.starts_with("prpl-") {
        return Some(in_file.to_owned());
    }
    if in_file.eq_ignore_ascii_case("irc") {
        return Some("prpl-irc".to_owned());
    }
    let code = in_file
        .strip_prefix("libpurple-")
        .or_else(|| in_file.strip_prefix("libgaim-"))?;
    if let Some((_, p)) = PROTOCOLS.iter().find(|(a, _)| a.eq_ignore_ascii_case(code)) {
        return Some((*p).to_owned());
    }
    // Adium's other XMPP services (Facebook chat, LiveJournal…) are XMPP accounts too.
    code.to_ascii_lowercase()
        .contains("jabber")
        .then(|| "prpl-jabber".to_owned())
}

/// `alice@example.org/Home` → `alice@example.org`.
fn bare_jid(name: &str) -> String {
    name.split('/').next().unwrap_or(name).to_owned()
}

/// An account or buddy name in the form two clients agree on, for comparison only: XMPP
/// without the resource, AIM/ICQ without spaces, all lower case.
fn comparable(purple_protocol: &str, name: &str) -> String {
    match purple_protocol {
        "prpl-jabber" => bare_jid(name).to_lowercase(),
        "prpl-aim" | "prpl-icq" => name.replace(' ', "").to_lowercase(),
        _ => name.to_lowercase(),
    }
}

/// A buddy's name as libpurple's `purple_normalize` would store it, from another client's
/// spelling (Adium writes the contact's UID as typed).
fn normalize_buddy(purple_protocol: &str, name: &str) -> String {
    match purple_protocol {
        // Our buddy names are bare, lower-case JIDs; a full JID (MUC private chat) keeps its
        // resource as it is.
        "prpl-jabber" => match name.split_once('/') {
            Some((bare, resource)) => format!("{}/{resource}", bare.to_lowercase()),
            None => name.to_lowercase(),
        },
        "prpl-aim" | "prpl-icq" => name.replace(' ', "").to_lowercase(),
        "prpl-irc" => name.to_lowercase(),
        _ => name.to_owned(),
    }
}

/// Why an import or export cannot go on.
#[derive(Debug)]
pub enum TransferError {
    /// Nothing to read there: no key file in the directory, or the path does not exist.
    NoKeyFile(PathBuf),
    /// The file could not be read.
    Unreadable(PathBuf, io::Error),
    /// Read, but not a key file we can use (the parser's reason).
    Damaged(PathBuf, String),
    /// No key in the file fits the account; the entries that are there.
    NoMatch(Vec<Candidate>),
    /// More than one key fits; the user must name one.
    Ambiguous(Vec<Candidate>),
    /// Our account has no key to export.
    NoKey(AccountId),
    /// An export would overwrite this file.
    Exists(PathBuf),
    /// A file or directory could not be written.
    Write(PathBuf, io::Error),
    /// Our store refused (it says why).
    Store(StoreError),
}

impl From<StoreError> for TransferError {
    fn from(e: StoreError) -> TransferError {
        TransferError::Store(e)
    }
}

/// One key in a file being imported, as the user sees it before choosing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The account name in the file (Adium: its number).
    pub name_in_file: String,
    pub protocol_in_file: String,
    /// What to call it: Adium's address for the number when `Accounts.plist` says,
    /// otherwise the name in the file.
    pub label: String,
    /// The libpurple protocol it maps to, if known.
    pub purple_protocol: Option<String>,
    pub fingerprint: Fingerprint,
    /// Buddies' fingerprints the file records for this account, and how many are trusted.
    pub buddy_keys: usize,
    pub trusted: usize,
}

/// Another client's key and trust files, read.
pub struct ImportSource {
    pub format: Format,
    /// The key file read.
    pub key_path: PathBuf,
    keys: Vec<AccountKey>,
    fingerprints: FingerprintStore,
    /// Adium's account numbers → (address, service code), from `Accounts.plist`.
    adium_accounts: HashMap<String, (String, String)>,
    /// A purple-otr profile's identity keys and pins (empty for other clients).
    identities: IdentityFile,
    pins: PinFile,
}

impl std::fmt::Debug for ImportSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportSource")
            .field("format", &self.format)
            .field("key_path", &self.key_path)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

fn read_limited(path: &Path, limit: u64) -> Result<Option<Zeroizing<Vec<u8>>>, TransferError> {
    let unreadable = |e| TransferError::Unreadable(path.to_path_buf(), e);
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(TransferError::Damaged(
            path.to_path_buf(),
            "it is not a regular file".to_owned(),
        ));
    }
    let mut data = Zeroizing::new(Vec::with_capacity(
        usize::try_from(meta.len().min(limit)).unwrap_or(0) + 1,
    ));
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(unreadable)?;
    if data.len() as u64 > limit {
        return Err(TransferError::Damaged(
            path.to_path_buf(),
            format!("it is larger than {limit} bytes"),
        ));
    }
    Ok(Some(data))
}

impl ImportSource {
    /// Reads a client's OTR files: `path` is their directory (`~/.purple`, Adium's user
    /// directory, `~/.irssi/otr` or `~/.irssi`) or the key file itself; the trust file and
    /// Adium's `Accounts.plist` are taken from beside the key file when they are there.
    pub fn read(path: &Path) -> Result<ImportSource, TransferError> {
        let key_path = if path.is_dir() {
            [
                path.join(PRIVATE_KEY_FILE),
                path.join(IRSSI_KEY_FILE),
                path.join("otr").join(IRSSI_KEY_FILE),
            ]
            .into_iter()
            .find(|p| p.exists())
            .ok_or_else(|| TransferError::NoKeyFile(path.to_path_buf()))?
        } else {
            path.to_path_buf()
        };
        let bytes = read_limited(&key_path, KEY_FILE_LIMIT)?
            .ok_or_else(|| TransferError::NoKeyFile(key_path.clone()))?;
        let dir = key_path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let plist = read_limited(&dir.join(ADIUM_ACCOUNTS_FILE), PLIST_LIMIT).unwrap_or(None);
        let read_trust = |format: Format| {
            // Without a readable trust file the key alone can still come over.
            read_limited(&dir.join(format.fingerprints_file()), FINGERPRINTS_LIMIT).unwrap_or(None)
        };
        let source = Self::from_bytes(
            &key_path,
            &bytes,
            plist.as_ref().map(|p| p.as_slice()),
            read_trust,
        )?;
        if source.format != Format::Pidgin {
            return Ok(source);
        }
        // Unlike the trust file, these are not skipped when unreadable: a key imported
        // without its identity would look like a new identity to every pinned buddy.
        let identity = read_limited(&dir.join(MODERN_IDENTITY_FILE), IDENTITY_LIMIT)?;
        let pins = read_limited(&dir.join(MODERN_PINS_FILE), PINS_LIMIT)?;
        source.with_modern(
            identity.as_deref().map(|v| v.as_slice()),
            pins.as_deref().map(|v| v.as_slice()),
        )
    }

    /// The second parsing half of [`ImportSource::read`], for a purple-otr profile (format
    /// [`Format::Pidgin`]; others have no such files and are returned unchanged): the
    /// identity file's and the pins file's bytes, each if there was one, read from beside
    /// the key file. A file that does not parse stops the import (named, with the reason).
    pub fn with_modern(
        mut self,
        identity_file: Option<&[u8]>,
        pins_file: Option<&[u8]>,
    ) -> Result<ImportSource, TransferError> {
        if self.format != Format::Pidgin {
            return Ok(self);
        }
        let dir = self
            .key_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        if let Some(bytes) = identity_file {
            self.identities = IdentityFile::parse(bytes).map_err(|e| {
                let what = format!("line {}: {}", e.line, store::identity_problem(e.kind));
                TransferError::Damaged(dir.join(MODERN_IDENTITY_FILE), what)
            })?;
        }
        if let Some(bytes) = pins_file {
            self.pins = PinFile::parse(bytes)
                .map_err(|e| TransferError::Damaged(dir.join(MODERN_PINS_FILE), e.to_string()))?;
        }
        Ok(self)
    }

    /// The parsing half of [`ImportSource::read`]: the key file's bytes (read from
    /// `key_path`), Adium's `Accounts.plist` if there was one, and the trust file of the
    /// format the key file turns out to be, if readable.
    pub fn from_bytes(
        key_path: &Path,
        key_file: &[u8],
        plist: Option<&[u8]>,
        trust_file: impl FnOnce(Format) -> Option<Zeroizing<Vec<u8>>>,
    ) -> Result<ImportSource, TransferError> {
        let keys = parse_private_keys(key_file)
            .map_err(|e| TransferError::Damaged(key_path.to_path_buf(), e.to_string()))?;
        let irssi = key_path.file_name().is_some_and(|n| n == IRSSI_KEY_FILE)
            || keys.iter().any(|k| k.protocol.eq_ignore_ascii_case("irc"));
        let adium = plist.is_some()
            || keys.iter().any(|k| {
                k.protocol.starts_with("libpurple-") || k.protocol.starts_with("libgaim-")
            });
        let format = if irssi {
            Format::Irssi
        } else if adium {
            Format::Adium
        } else {
            Format::Pidgin
        };
        let fingerprints = trust_file(format)
            .map(|data| FingerprintStore::parse(&data))
            .unwrap_or_default();
        let adium_accounts = plist
            .map(|p| adium_accounts(&String::from_utf8_lossy(p)))
            .unwrap_or_default();
        Ok(ImportSource {
            format,
            key_path: key_path.to_path_buf(),
            keys,
            fingerprints,
            adium_accounts,
            identities: IdentityFile::default(),
            pins: PinFile::default(),
        })
    }

    /// Our own files as a source: for an account whose name changed, the old name's key.
    pub fn from_store(store: &Store) -> ImportSource {
        ImportSource {
            format: Format::Pidgin,
            key_path: store.dir().join(PRIVATE_KEY_FILE),
            keys: store
                .keys()
                .iter()
                .filter_map(|k| {
                    copy_key(&k.key).map(|c| AccountKey::new(&k.account_name, &k.protocol, c))
                })
                .collect(),
            fingerprints: store.fingerprints().clone(),
            adium_accounts: HashMap::new(),
            identities: store.modern_identities().clone(),
            pins: store.pins().clone(),
        }
    }

    /// The identity key the file holds for the account of `k` (purple-otr profiles only).
    fn identity_of(&self, k: &AccountKey) -> Option<&IdentityKey> {
        self.identities.get(&k.account_name, &k.protocol)
    }

    /// The pins the file holds for the account of `k` whose buddy key the trust file marks
    /// verified (a pin stands for a verified key; without that, it does not come over).
    fn pins_of<'a>(&'a self, k: &'a AccountKey) -> impl Iterator<Item = &'a Pin> {
        self.pins.entries().iter().filter(move |p| {
            p.account == k.account_name
                && p.protocol == k.protocol
                && self.trust_entries(k).any(|e| {
                    e.username == p.buddy && e.fingerprint == p.fingerprint && e.is_trusted()
                })
        })
    }

    /// Every key in the file, in file order.
    pub fn candidates(&self) -> Vec<Candidate> {
        self.keys.iter().map(|k| self.candidate(k)).collect()
    }

    fn candidate(&self, k: &AccountKey) -> Candidate {
        let label = self
            .adium_accounts
            .get(&k.account_name)
            .map(|(uid, _)| uid.clone())
            .unwrap_or_else(|| k.account_name.clone());
        let buddies: Vec<&FingerprintEntry> = self.trust_entries(k).collect();
        Candidate {
            name_in_file: k.account_name.clone(),
            protocol_in_file: k.protocol.clone(),
            label,
            purple_protocol: purple_protocol(&k.protocol),
            fingerprint: k.fingerprint(),
            buddy_keys: buddies.len(),
            trusted: buddies.iter().filter(|e| e.is_trusted()).count(),
        }
    }

    fn trust_entries<'a>(
        &'a self,
        k: &'a AccountKey,
    ) -> impl Iterator<Item = &'a FingerprintEntry> {
        self.fingerprints
            .entries()
            .filter(move |e| e.accountname == k.account_name && e.protocol == k.protocol)
    }

    /// The entry for `target`: the one named `wanted` (its name in the file, or Adium's
    /// address for it) if given; otherwise the one with the same identity under the other
    /// client's naming, or else the only key in the file for the target's protocol.
    fn choose(
        &self,
        target: &AccountId,
        wanted: Option<&str>,
    ) -> Result<&AccountKey, TransferError> {
        let label = |k: &AccountKey| self.candidate(k).label;
        let found: Vec<&AccountKey> = match wanted {
            Some(w) => {
                let exact: Vec<&AccountKey> = self
                    .keys
                    .iter()
                    .filter(|k| k.account_name == w || label(k) == w)
                    .collect();
                if exact.is_empty() {
                    self.keys
                        .iter()
                        .filter(|k| {
                            let p = purple_protocol(&k.protocol).unwrap_or_default();
                            comparable(&p, &label(k)) == comparable(&p, w)
                        })
                        .collect()
                } else {
                    exact
                }
            }
            None => {
                let same_protocol: Vec<&AccountKey> = self
                    .keys
                    .iter()
                    .filter(|k| {
                        purple_protocol(&k.protocol).as_deref() == Some(target.protocol.as_str())
                    })
                    .collect();
                let same_identity: Vec<&AccountKey> = same_protocol
                    .iter()
                    .copied()
                    .filter(|k| {
                        comparable(&target.protocol, &label(k))
                            == comparable(&target.protocol, &target.name)
                    })
                    .collect();
                if same_identity.is_empty() && same_protocol.len() == 1 {
                    same_protocol
                } else {
                    same_identity
                }
            }
        };
        // libotr uses the last entry of an account listed twice; so do we.
        let mut distinct: Vec<&AccountKey> = Vec::new();
        for k in found.into_iter().rev() {
            if !distinct
                .iter()
                .any(|d| d.is_for(&k.account_name, &k.protocol))
            {
                distinct.push(k);
            }
        }
        match distinct.as_slice() {
            [one] => Ok(one),
            [] => Err(TransferError::NoMatch(self.candidates())),
            _ => Err(TransferError::Ambiguous(
                distinct.iter().rev().map(|k| self.candidate(k)).collect(),
            )),
        }
    }
}

/// Reads Adium's `Accounts.plist` (XML form): each account's `ObjectID` → (`UID`, `Type`).
/// A binary plist (`bplist00…`) gives nothing: the accounts then show by number.
fn adium_accounts(xml: &str) -> HashMap<String, (String, String)> {
    let mut out = HashMap::new();
    for dict in xml.split("<dict>").skip(1) {
        let dict = dict.split("</dict>").next().unwrap_or("");
        let value = |key: &str| -> Option<String> {
            let after = dict.split(&format!("<key>{key}</key>")).nth(1)?;
            let after = after.trim_start().strip_prefix("<string>")?;
            Some(xml_unescape(after.split("</string>").next()?))
        };
        if let (Some(id), Some(uid)) = (value("ObjectID"), value("UID")) {
            out.insert(id, (uid, value("Type").unwrap_or_default()));
        }
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// A second handle on a key (keys are not `Clone`, on purpose). The components come from a
/// valid key, so this does not fail in practice; if it did, the key is not copied.
fn copy_key(key: &DsaPrivateKey) -> Option<DsaPrivateKey> {
    let c = key.public().components();
    DsaPrivateKey::from_components(&c.p, &c.q, &c.g, &c.y, &key.x_bytes()).ok()
}

fn copy_failed(path: &Path) -> TransferError {
    TransferError::Damaged(path.to_path_buf(), "the key could not be copied".to_owned())
}

/// The user's answer to what [`plan_import`] showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    /// Import; if the account has another key by now, stop and ask again.
    Yes,
    /// Import, replacing the account's other key (after a backup of the key file).
    Replace,
}

/// What an import would do, to show before it is done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportPlan {
    pub target: AccountId,
    pub from: Candidate,
    /// The format the file was read as, and the file.
    pub format: Format,
    pub key_path: PathBuf,
    /// Our account's key now, if it has one.
    pub current: Option<Fingerprint>,
    /// Buddies' fingerprints that come with it, named for our account.
    pub trust: Vec<FingerprintEntry>,
    /// The post-quantum identity key that comes with it (from a purple-otr profile), and
    /// our account's now, if it has one.
    pub identity: Option<IdentityFingerprint>,
    pub current_identity: Option<IdentityFingerprint>,
    /// Buddies' pinned identities that come with the trust, named for our account.
    pub pins: Vec<Pin>,
}

impl ImportPlan {
    /// Whether it would replace a different key of ours (the OTR key or the identity key).
    pub fn replaces(&self) -> bool {
        self.current.is_some_and(|c| c != self.from.fingerprint) || self.replaces_identity()
    }

    /// Whether it would replace a different post-quantum identity key of ours.
    pub fn replaces_identity(&self) -> bool {
        matches!((self.identity, self.current_identity), (Some(new), Some(now)) if new != now)
    }

    /// The confirmation it needs.
    pub fn needs(&self) -> Confirm {
        if self.replaces() {
            Confirm::Replace
        } else {
            Confirm::Yes
        }
    }
}

/// Picks the key for `target` in `source` (see [`ImportSource::choose`]) and says what
/// importing it would change. With `with_trust`, the buddies' fingerprints recorded for
/// that key's account come too, renamed for `target`.
pub fn plan_import(
    source: &ImportSource,
    store: &Store,
    target: &AccountId,
    wanted: Option<&str>,
    with_trust: bool,
) -> Result<ImportPlan, TransferError> {
    let key = source.choose(target, wanted)?;
    let trust = if with_trust {
        source
            .trust_entries(key)
            .map(|e| FingerprintEntry {
                username: normalize_buddy(&target.protocol, &e.username),
                accountname: target.name.clone(),
                protocol: target.protocol.clone(),
                fingerprint: e.fingerprint,
                trust: e.trust.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let pins = if with_trust {
        source
            .pins_of(key)
            .map(|p| Pin {
                account: target.name.clone(),
                protocol: target.protocol.clone(),
                buddy: normalize_buddy(&target.protocol, &p.buddy),
                fingerprint: p.fingerprint,
                identity: p.identity,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ImportPlan {
        target: target.clone(),
        from: source.candidate(key),
        format: source.format,
        key_path: source.key_path.clone(),
        current: store
            .key_for(&target.name, &target.protocol)
            .map(AccountKey::fingerprint),
        trust,
        identity: source.identity_of(key).map(IdentityKey::fingerprint),
        current_identity: store
            .modern_identity(&target.name, &target.protocol)
            .map(IdentityKey::fingerprint),
        pins,
    })
}

/// What [`apply_import`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportDone {
    /// What happened to the OTR key; `None`: nothing was done, because the identity key
    /// needs the confirmation to replace ours (`identity` says which one we have).
    pub key: Option<KeyImport>,
    /// What happened to the post-quantum identity key, if one came with it.
    pub identity: Option<IdentityImport>,
    /// Buddies' fingerprints added or newly trusted.
    pub trust_changed: usize,
    /// Buddies' identities newly pinned.
    pub pins_changed: usize,
}

/// Carries out a plan the user confirmed. The key is taken from `source` again and must
/// still be the one shown; a replacement needs [`Confirm::Replace`] (checked against the
/// store as it is now, not as it was when the plan was shown). Trust comes over only with
/// the key: when the key is not stored, nothing is.
pub fn apply_import(
    source: &ImportSource,
    plan: &ImportPlan,
    store: &mut Store,
    confirm: Confirm,
    stamp: &str,
) -> Result<ImportDone, TransferError> {
    let key = source
        .keys
        .iter()
        .rev()
        .find(|k| k.is_for(&plan.from.name_in_file, &plan.from.protocol_in_file))
        .filter(|k| k.fingerprint() == plan.from.fingerprint)
        .ok_or_else(|| TransferError::NoMatch(source.candidates()))?;
    // The identity, too, must still be the one shown.
    let identity = match plan.identity {
        None => None,
        Some(shown) => Some(
            source
                .identity_of(key)
                .filter(|k| k.fingerprint() == shown)
                .cloned()
                .ok_or_else(|| TransferError::NoMatch(source.candidates()))?,
        ),
    };
    let (name, protocol) = (&plan.target.name, &plan.target.protocol);
    let replace = confirm == Confirm::Replace;
    // Nothing is stored while an unconfirmed replacement of the identity is pending (the
    // store checks again under its lock when the identity is written).
    if let (Some(new), Some(now), false) =
        (&identity, store.modern_identity(name, protocol), replace)
    {
        if new.public() != now.public() {
            return Ok(ImportDone {
                key: None,
                identity: Some(IdentityImport::NeedsConfirmation {
                    current: now.fingerprint(),
                }),
                trust_changed: 0,
                pins_changed: 0,
            });
        }
    }
    let copied = copy_key(&key.key).ok_or_else(|| copy_failed(&plan.key_path))?;
    let new = AccountKey::new(name, protocol, copied);
    let outcome = store.import_key(new, replace, stamp)?;
    if matches!(outcome, KeyImport::NeedsConfirmation { .. }) {
        return Ok(ImportDone {
            key: Some(outcome),
            identity: None,
            trust_changed: 0,
            pins_changed: 0,
        });
    }
    let identity = match identity {
        Some(k) => Some(store.import_identity(name, protocol, k, replace, stamp)?),
        None => None,
    };
    let trust_changed = store.import_fingerprints(&plan.trust)?;
    let pins_changed = store.import_pins(&plan.pins)?;
    Ok(ImportDone {
        key: Some(outcome),
        identity,
        trust_changed,
        pins_changed,
    })
}

/// One account's key and trust, named for another client.
pub struct Export {
    pub format: Format,
    pub account_name: String,
    pub protocol: String,
    pub fingerprint: Fingerprint,
    /// The key file's contents (zeroized on drop).
    pub private_key: Zeroizing<Vec<u8>>,
    /// The trust file's contents.
    pub fingerprints: Vec<u8>,
    pub buddy_keys: usize,
    /// For Pidgin (purple-otr), when the account has one: the identity file holding the
    /// account's post-quantum identity key (secret, zeroized on drop) and its fingerprint.
    pub identity: Option<(IdentityFingerprint, Zeroizing<Vec<u8>>)>,
    /// For Pidgin, with the identity: the pins file of the account's pinned buddies.
    pub pins: Option<Vec<u8>>,
    pub pinned: usize,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("format", &self.format)
            .field("account_name", &self.account_name)
            .field("protocol", &self.protocol)
            .field("fingerprint", &self.fingerprint.human())
            .finish_non_exhaustive()
    }
}

/// `account`'s key and the buddies' fingerprints it recorded, for `format`; `name` is the
/// account's name in the target client (Adium's account number), else
/// [`Format::account_name_for`].
pub fn export(
    store: &Store,
    account: &AccountId,
    format: Format,
    name: Option<&str>,
) -> Result<Export, TransferError> {
    let key = store
        .key_for(&account.name, &account.protocol)
        .ok_or_else(|| TransferError::NoKey(account.clone()))?;
    let account_name = name
        .map(str::to_owned)
        .unwrap_or_else(|| format.account_name_for(account));
    let protocol = format.protocol_for(&account.protocol);
    let copied = copy_key(&key.key).ok_or_else(|| copy_failed(store.dir()))?;
    let out_key = AccountKey::new(&account_name, &protocol, copied);
    let private_key = write_private_keys(std::slice::from_ref(&out_key));
    let mut trust = FingerprintStore::new();
    let mut buddy_keys = 0;
    for e in store
        .fingerprints()
        .entries()
        .filter(|e| e.accountname == account.name && e.protocol == account.protocol)
    {
        let done = if e.trust.is_empty() {
            trust.add_if_new(&account_name, &protocol, &e.username, &e.fingerprint)
        } else {
            trust.set_trust(
                &account_name,
                &protocol,
                &e.username,
                &e.fingerprint,
                &e.trust,
            )
        };
        if done.is_ok() {
            buddy_keys += 1;
        }
    }
    let (identity, pins, pinned) = match (
        format,
        store.modern_identity(&account.name, &account.protocol),
    ) {
        (Format::Pidgin, Some(id)) => {
            let mut file = IdentityFile::default();
            file.set(&account_name, &protocol, id.clone());
            let bytes = file.serialize().ok_or_else(|| copy_failed(store.dir()))?;
            let mut pins = PinFile::default();
            for p in store
                .pins()
                .entries()
                .iter()
                .filter(|p| p.account == account.name && p.protocol == account.protocol)
            {
                let renamed = Pin {
                    account: account_name.clone(),
                    protocol: protocol.clone(),
                    ..p.clone()
                };
                pins.set(renamed).map_err(|_| copy_failed(store.dir()))?;
            }
            let pinned = pins.entries().len();
            let pins = pins
                .to_file_bytes()
                .ok_or_else(|| copy_failed(store.dir()))?;
            (Some((id.fingerprint(), bytes)), Some(pins), pinned)
        }
        _ => (None, None, 0),
    };
    Ok(Export {
        format,
        account_name,
        protocol,
        fingerprint: key.fingerprint(),
        private_key,
        fingerprints: trust.to_file_bytes(),
        buddy_keys,
        identity,
        pins,
        pinned,
    })
}

/// Writes an export into `dir` (made, mode 0700, if missing) under the target client's file
/// names, each a new file with mode 0600. Nothing is overwritten: if either file exists,
/// nothing is written. Returns the files written.
pub fn write_export(dir: &Path, export: &Export) -> Result<Vec<PathBuf>, TransferError> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| TransferError::Write(dir.to_path_buf(), e))?;
    }
    let mut files: Vec<(PathBuf, &[u8])> = vec![
        (dir.join(export.format.key_file()), &export.private_key),
        (
            dir.join(export.format.fingerprints_file()),
            &export.fingerprints,
        ),
    ];
    if let Some((_, identity)) = &export.identity {
        files.push((dir.join(MODERN_IDENTITY_FILE), identity));
    }
    if let Some(pins) = &export.pins {
        files.push((dir.join(MODERN_PINS_FILE), pins));
    }
    for (p, _) in &files {
        if p.exists() || fs::symlink_metadata(p).is_ok() {
            return Err(TransferError::Exists(p.clone()));
        }
    }
    let mut written = Vec::new();
    for (path, bytes) in files {
        if let Err((_, e)) = store::write_new(&path, bytes) {
            // All or nothing: what this export wrote goes again.
            for w in &written {
                let _ = fs::remove_file(w);
            }
            return Err(TransferError::Write(path, e));
        }
        written.push(path);
    }
    Ok(written)
}

/// A UTC time stamp for backup names: `20261205T142000Z`.
pub fn backup_stamp(unix_secs: u64) -> String {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(0);
    let rem = unix_secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// ---- command arguments -----------------------------------------------------------------

/// Splits a command line into words; `"…"` or `\ ` keep spaces in a word (Adium's
/// directory is "Application Support").
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// `~` or `~/…` from the home directory.
pub fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix('~'), home) {
        (Some(""), Some(h)) => h.to_path_buf(),
        (Some(rest), Some(h)) if rest.starts_with('/') => h.join(&rest[1..]),
        _ => PathBuf::from(path),
    }
}

/// `/otr import PATH [NAME-IN-FILE] [yes|replace]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportArgs {
    pub path: String,
    pub name_in_file: Option<String>,
    pub confirm: Option<Confirm>,
}

pub fn parse_import_args(line: &str) -> Option<ImportArgs> {
    let mut w = words(line);
    let confirm = match w.last().map(String::as_str) {
        Some("yes") if w.len() > 1 => Some(Confirm::Yes),
        Some("replace") if w.len() > 1 => Some(Confirm::Replace),
        _ => None,
    };
    if confirm.is_some() {
        w.pop();
    }
    match w.as_slice() {
        [path] => Some(ImportArgs {
            path: path.clone(),
            name_in_file: None,
            confirm,
        }),
        [path, name] => Some(ImportArgs {
            path: path.clone(),
            name_in_file: Some(name.clone()),
            confirm,
        }),
        _ => None,
    }
}

/// `/otr export PATH [pidgin|adium|irssi|generic] [NAME-IN-TARGET]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportArgs {
    pub path: String,
    pub format: Format,
    pub name: Option<String>,
}

pub fn parse_export_args(line: &str) -> Option<ExportArgs> {
    let w = words(line);
    let (path, rest) = w.split_first()?;
    let (format, name) = match rest {
        [] => (Format::Generic, None),
        [f] => (Format::parse(f)?, None),
        [f, n] => (Format::parse(f)?, Some(n.clone())),
        _ => return None,
    };
    Some(ExportArgs {
        path: path.clone(),
        format,
        name,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::otr::keystore::privkey::find_key;
    use std::os::unix::fs::PermissionsExt;

    /// libotr-generated keys (tests/fixtures/libotr).
    const ALICE_KEY: &[u8] = include_bytes!("../../tests/fixtures/libotr/alice.private_key");
    const TWO_KEYS: &[u8] = include_bytes!("../../tests/fixtures/libotr/two-accounts.private_key");
    const ALICE_FP: &str = "cc407d4d64f46fb557677faa7c6415a5809340d5";
    const DAVE_FP: &str = "4ce97b63d48d64ed80bdf98cb3473bf80e5d3878";
    const J: &str = "prpl-jabber";

    use crate::client::test_dir::TempDir;

    fn key_of(file: &[u8], account: &str) -> DsaPrivateKey {
        let keys = parse_private_keys(file).unwrap();
        copy_key(&find_key(&keys, account, J).unwrap().key).unwrap()
    }

    fn alice() -> DsaPrivateKey {
        key_of(ALICE_KEY, "alice@localhost/peer")
    }

    fn dave() -> DsaPrivateKey {
        key_of(TWO_KEYS, "dave@localhost/peer")
    }

    fn fp(n: u8) -> Fingerprint {
        Fingerprint([n; 20])
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn me() -> AccountId {
        AccountId {
            name: "alice@example.org/Home".to_owned(),
            protocol: J.to_owned(),
        }
    }

    const PLIST: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n\
        <key>Accounts</key>\n<array>\n\
        <dict>\n<key>ObjectID</key>\n<string>3</string>\n<key>Service</key>\n<string>Jabber</string>\n\
        <key>Type</key>\n<string>libpurple-Jabber</string>\n<key>UID</key>\n<string>Alice@Example.org</string>\n</dict>\n\
        <dict>\n<key>ObjectID</key>\n<string>7</string>\n<key>Type</key>\n<string>libpurple-oscar-AIM</string>\n\
        <key>UID</key>\n<string>alice &amp; co</string>\n</dict>\n\
        </array>\n</dict>\n</plist>\n";

    /// An Adium user directory: alice's key as account 3 (XMPP), dave's as 7 (AIM).
    fn adium_dir(t: &TempDir) -> PathBuf {
        let dir = t.sub("Adium 2.0/Users/Default");
        let keys = vec![
            AccountKey::new("3", "libpurple-Jabber", alice()),
            AccountKey::new("7", "libpurple-oscar-AIM", dave()),
        ];
        fs::write(dir.join(PRIVATE_KEY_FILE), &*write_private_keys(&keys)).unwrap();
        let mut fps = FingerprintStore::new();
        fps.set_trust(
            "3",
            "libpurple-Jabber",
            "Bob@Example.net",
            &fp(1),
            "verified",
        )
        .unwrap();
        fps.add_if_new("3", "libpurple-Jabber", "carol@example.net", &fp(2))
            .unwrap();
        fps.add_if_new("7", "libpurple-oscar-AIM", "Some Buddy", &fp(3))
            .unwrap();
        fs::write(dir.join(FINGERPRINTS_FILE), fps.to_file_bytes()).unwrap();
        fs::write(dir.join(ADIUM_ACCOUNTS_FILE), PLIST).unwrap();
        dir
    }

    #[test]
    fn protocol_ids_map_both_ways() {
        assert_eq!(purple_protocol("libpurple-Jabber").as_deref(), Some(J));
        assert_eq!(
            purple_protocol("libpurple-jabber-gtalk").as_deref(),
            Some(J)
        );
        assert_eq!(
            purple_protocol("libpurple-jabber-facebook").as_deref(),
            Some(J)
        );
        assert_eq!(
            purple_protocol("libgaim-oscar-AIM").as_deref(),
            Some("prpl-aim")
        );
        assert_eq!(
            purple_protocol("libpurple-oscar-ICQ").as_deref(),
            Some("prpl-icq")
        );
        assert_eq!(purple_protocol("IRC").as_deref(), Some("prpl-irc"));
        assert_eq!(purple_protocol("irc").as_deref(), Some("prpl-irc"));
        assert_eq!(purple_protocol("prpl-foo").as_deref(), Some("prpl-foo"));
        assert_eq!(purple_protocol("libpurple-Unheard"), None);
        assert_eq!(purple_protocol("something"), None);
        assert_eq!(Format::Adium.protocol_for(J), "libpurple-Jabber");
        assert_eq!(
            Format::Adium.protocol_for("prpl-aim"),
            "libpurple-oscar-AIM"
        );
        assert_eq!(Format::Irssi.protocol_for("prpl-irc"), "IRC");
        assert_eq!(Format::Pidgin.protocol_for(J), J);
        assert_eq!(Format::Generic.protocol_for("prpl-x"), "prpl-x");
        // Every export id reads back as the protocol it came from.
        for (_, p) in PROTOCOLS {
            assert_eq!(
                purple_protocol(&Format::Adium.protocol_for(p)).as_deref(),
                Some(p)
            );
        }
        assert_eq!(Format::Adium.account_name_for(&me()), "alice@example.org");
        assert_eq!(
            Format::Pidgin.account_name_for(&me()),
            "alice@example.org/Home"
        );
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Some(f));
        }
        assert_eq!(Format::parse("Finch"), Some(Format::Pidgin));
        assert_eq!(Format::parse("nope"), None);
    }

    #[test]
    fn adium_files_map_to_our_account_with_trust() {
        let t = TempDir::new("adium");
        let dir = adium_dir(&t);
        let source = ImportSource::read(&dir).unwrap();
        assert_eq!(source.format, Format::Adium);
        let c = source.candidates();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].label, "Alice@Example.org");
        assert_eq!(c[0].name_in_file, "3");
        assert_eq!(c[0].fingerprint.to_hex(), ALICE_FP);
        assert_eq!((c[0].buddy_keys, c[0].trusted), (2, 1));
        assert_eq!(c[1].label, "alice & co");
        assert_eq!(c[1].purple_protocol.as_deref(), Some("prpl-aim"));

        let mut store = Store::open(
            &t.sub("purple"),
            crate::client::store::no_lock_for_testing_only,
        );
        // Chosen by identity: Adium's UID is our account without its resource.
        let plan = plan_import(&source, &store, &me(), None, true).unwrap();
        assert_eq!(plan.from.name_in_file, "3");
        assert_eq!(plan.current, None);
        assert!(!plan.replaces());
        assert_eq!(plan.needs(), Confirm::Yes);
        let buddies: Vec<(&str, &str, &str)> = plan
            .trust
            .iter()
            .map(|e| {
                (
                    e.username.as_str(),
                    e.accountname.as_str(),
                    e.trust.as_str(),
                )
            })
            .collect();
        assert_eq!(
            buddies,
            vec![
                ("bob@example.net", "alice@example.org/Home", "verified"),
                ("carol@example.net", "alice@example.org/Home", ""),
            ]
        );

        let done = apply_import(&source, &plan, &mut store, Confirm::Yes, "s").unwrap();
        assert_eq!(done.key, Some(KeyImport::Added));
        assert_eq!(done.trust_changed, 2);
        // Saved: a new store reads the key under our name and the trust.
        let again = Store::open(store.dir(), crate::client::store::no_lock_for_testing_only);
        let k = again.key_for(&me().name, J).unwrap();
        assert_eq!(k.fingerprint().to_hex(), ALICE_FP);
        assert_eq!(
            again
                .fingerprints()
                .trust_of(&me().name, J, "bob@example.net", &fp(1)),
            Some("verified")
        );
        assert_eq!(mode(&store.dir().join(PRIVATE_KEY_FILE)), 0o600);
        // Importing again changes nothing.
        let plan = plan_import(&source, &again, &me(), None, true).unwrap();
        let mut again = again;
        let done = apply_import(&source, &plan, &mut again, Confirm::Yes, "s").unwrap();
        assert_eq!(done.key, Some(KeyImport::Unchanged));
        assert_eq!(done.trust_changed, 0);
    }

    #[test]
    fn an_existing_key_is_replaced_only_when_confirmed_and_after_a_backup() {
        let t = TempDir::new("replace");
        let source = ImportSource::read(&adium_dir(&t)).unwrap();
        let purple = t.sub("purple");
        let mut store = Store::open(&purple, crate::client::store::no_lock_for_testing_only);
        store
            .add_key(AccountKey::new(&me().name, J, dave()))
            .unwrap();
        let before = fs::read(purple.join(PRIVATE_KEY_FILE)).unwrap();

        let plan = plan_import(&source, &store, &me(), None, true).unwrap();
        assert!(plan.replaces());
        assert_eq!(plan.needs(), Confirm::Replace);

        // "yes" is not enough: nothing changes, no backup, no trust.
        let done =
            apply_import(&source, &plan, &mut store, Confirm::Yes, "20261205T142000Z").unwrap();
        assert_eq!(
            done.key,
            Some(KeyImport::NeedsConfirmation {
                current: Fingerprint::from_hex(DAVE_FP).unwrap()
            })
        );
        assert_eq!(done.trust_changed, 0);
        assert_eq!(fs::read(purple.join(PRIVATE_KEY_FILE)).unwrap(), before);
        assert_eq!(store.fingerprints().entries().count(), 0);
        let backups = |dir: &Path| -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".bak-"))
                .collect();
            v.sort();
            v
        };
        assert!(backups(&purple).is_empty());

        // "replace": the old file is copied first, then replaced.
        let done = apply_import(
            &source,
            &plan,
            &mut store,
            Confirm::Replace,
            "20261205T142000Z",
        )
        .unwrap();
        let backup = purple.join("otr.private_key.bak-20261205T142000Z");
        assert_eq!(
            done.key,
            Some(KeyImport::Replaced {
                old: Fingerprint::from_hex(DAVE_FP).unwrap(),
                backup: Some(backup.clone())
            })
        );
        assert_eq!(fs::read(&backup).unwrap(), before);
        assert_eq!(mode(&backup), 0o600);
        let again = Store::open(&purple, crate::client::store::no_lock_for_testing_only);
        assert_eq!(
            again.key_for(&me().name, J).unwrap().fingerprint().to_hex(),
            ALICE_FP
        );
        // A second replacement in the same second keeps the first backup.
        let mut again = again;
        again
            .add_key(AccountKey::new(&me().name, J, dave()))
            .unwrap();
        apply_import(
            &source,
            &plan,
            &mut again,
            Confirm::Replace,
            "20261205T142000Z",
        )
        .unwrap();
        assert_eq!(
            backups(&purple),
            vec![
                "otr.private_key.bak-20261205T142000Z".to_owned(),
                "otr.private_key.bak-20261205T142000Z-2".to_owned()
            ]
        );
        assert_eq!(fs::read(&backup).unwrap(), before);
    }

    #[test]
    fn imported_trust_never_withdraws_ours() {
        let t = TempDir::new("trust");
        let source = ImportSource::read(&adium_dir(&t)).unwrap();
        let mut store = Store::open(
            &t.sub("purple"),
            crate::client::store::no_lock_for_testing_only,
        );
        // We verified carol's key; bob's we know unverified.
        store
            .set_trust(&me().name, J, "carol@example.net", &fp(2), "smp")
            .unwrap();
        store
            .record_fingerprint(&me().name, J, "bob@example.net", &fp(1))
            .unwrap();
        let plan = plan_import(&source, &store, &me(), None, true).unwrap();
        let done = apply_import(&source, &plan, &mut store, Confirm::Yes, "s").unwrap();
        assert_eq!(done.trust_changed, 1);
        let f = store.fingerprints();
        assert_eq!(
            f.trust_of(&me().name, J, "carol@example.net", &fp(2)),
            Some("smp")
        );
        assert_eq!(
            f.trust_of(&me().name, J, "bob@example.net", &fp(1)),
            Some("verified")
        );
        // Without trust, only the key.
        let t2 = TempDir::new("notrust");
        let mut store = Store::open(
            &t2.sub("purple"),
            crate::client::store::no_lock_for_testing_only,
        );
        let plan = plan_import(&source, &store, &me(), None, false).unwrap();
        assert!(plan.trust.is_empty());
        apply_import(&source, &plan, &mut store, Confirm::Yes, "s").unwrap();
        assert_eq!(store.fingerprints().entries().count(), 0);
    }

    #[test]
    fn choosing_an_entry() {
        let t = TempDir::new("choose");
        let dir = t.sub("other-purple");
        let keys = vec![
            AccountKey::new("alice@example.org/Work", J, alice()),
            AccountKey::new("alice@example.org/Home2", J, dave()),
            AccountKey::new("someone@example.org/", J, dave()),
        ];
        fs::write(dir.join(PRIVATE_KEY_FILE), &*write_private_keys(&keys)).unwrap();
        let source = ImportSource::read(&dir.join(PRIVATE_KEY_FILE)).unwrap();
        assert_eq!(source.format, Format::Pidgin);
        let store = Store::open(
            &t.sub("purple"),
            crate::client::store::no_lock_for_testing_only,
        );
        // Two resources of the same address: the user must say which.
        match plan_import(&source, &store, &me(), None, false) {
            Err(TransferError::Ambiguous(c)) => assert_eq!(c.len(), 2),
            other => panic!("{other:?}"),
        }
        let plan = plan_import(
            &source,
            &store,
            &me(),
            Some("alice@example.org/Work"),
            false,
        )
        .unwrap();
        assert_eq!(plan.from.fingerprint.to_hex(), ALICE_FP);
        // Any entry can be named, whatever its name.
        let plan =
            plan_import(&source, &store, &me(), Some("someone@example.org/"), false).unwrap();
        assert_eq!(plan.from.fingerprint.to_hex(), DAVE_FP);
        // Nothing for another protocol.
        let irc = AccountId {
            name: "alice@irc.example.org".to_owned(),
            protocol: "prpl-irc".to_owned(),
        };
        match plan_import(&source, &store, &irc, None, false) {
            Err(TransferError::NoMatch(c)) => assert_eq!(c.len(), 3),
            other => panic!("{other:?}"),
        }
        // A missing path and a damaged file are errors, not panics.
        assert!(matches!(
            ImportSource::read(&t.file("nothing-here")),
            Err(TransferError::NoKeyFile(_))
        ));
        fs::write(dir.join("bad"), b"(privkeys (account (name x)").unwrap();
        assert!(matches!(
            ImportSource::read(&dir.join("bad")),
            Err(TransferError::Damaged(..))
        ));
    }

    #[test]
    fn irssi_files_are_recognised() {
        let t = TempDir::new("irssi");
        let otr = t.sub("irssi/otr");
        let keys = vec![AccountKey::new("alice@irc.example.org", "IRC", alice())];
        fs::write(otr.join(IRSSI_KEY_FILE), &*write_private_keys(&keys)).unwrap();
        let mut fps = FingerprintStore::new();
        fps.set_trust("alice@irc.example.org", "IRC", "Bob", &fp(4), "smp")
            .unwrap();
        fs::write(otr.join(IRSSI_FINGERPRINTS_FILE), fps.to_file_bytes()).unwrap();
        // Given ~/.irssi, the otr folder is found.
        let source = ImportSource::read(&t.file("irssi")).unwrap();
        assert_eq!(source.format, Format::Irssi);
        let store = Store::open(
            &t.sub("purple"),
            crate::client::store::no_lock_for_testing_only,
        );
        let irc = AccountId {
            name: "Alice@irc.example.org".to_owned(),
            protocol: "prpl-irc".to_owned(),
        };
        let plan = plan_import(&source, &store, &irc, None, true).unwrap();
        assert_eq!(plan.from.fingerprint.to_hex(), ALICE_FP);
        assert_eq!(plan.trust[0].username, "bob");
        assert_eq!(plan.trust[0].protocol, "prpl-irc");
    }

    #[test]
    fn export_names_for_the_target_and_never_overwrites() {
        let t = TempDir::new("export");
        let mut store = Store::open(
            &t.sub("purple"),
            crate::client::store::no_lock_for_testing_only,
        );
        store
            .add_key(AccountKey::new(&me().name, J, alice()))
            .unwrap();
        store
            .add_key(AccountKey::new("other@x/", J, dave()))
            .unwrap();
        store
            .set_trust(&me().name, J, "bob@example.net", &fp(1), "verified")
            .unwrap();
        store
            .record_fingerprint(&me().name, J, "carol@example.net", &fp(2))
            .unwrap();
        store
            .record_fingerprint("other@x/", J, "zed@example.net", &fp(3))
            .unwrap();

        let e = export(&store, &me(), Format::Adium, Some("3")).unwrap();
        assert_eq!(
            (e.account_name.as_str(), e.protocol.as_str()),
            ("3", "libpurple-Jabber")
        );
        assert_eq!(e.buddy_keys, 2);
        let keys = parse_private_keys(&e.private_key).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].is_for("3", "libpurple-Jabber"));
        assert_eq!(keys[0].fingerprint().to_hex(), ALICE_FP);
        let fps = FingerprintStore::parse(&e.fingerprints);
        assert_eq!(
            fps.trust_of("3", "libpurple-Jabber", "bob@example.net", &fp(1)),
            Some("verified")
        );
        assert_eq!(fps.entries().count(), 2);

        let out = t.file("to-adium/sub");
        let files = write_export(&out, &e).unwrap();
        assert_eq!(
            files,
            vec![out.join(PRIVATE_KEY_FILE), out.join(FINGERPRINTS_FILE)]
        );
        for f in &files {
            assert_eq!(mode(f), 0o600);
        }
        assert_eq!(
            fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // Read back as an Adium import, it is the same key.
        let back = ImportSource::read(&out).unwrap();
        assert_eq!(back.format, Format::Adium);
        assert_eq!(back.candidates()[0].fingerprint.to_hex(), ALICE_FP);
        // A second export into the same folder writes nothing.
        let before = fs::read(&files[0]).unwrap();
        let e2 = export(
            &store,
            &AccountId {
                name: "other@x/".into(),
                protocol: J.into(),
            },
            Format::Adium,
            Some("3"),
        )
        .unwrap();
        assert!(matches!(
            write_export(&out, &e2),
            Err(TransferError::Exists(_))
        ));
        assert_eq!(fs::read(&files[0]).unwrap(), before);

        // Without a number for Adium, the bare address, and the user is told.
        let e = export(&store, &me(), Format::Adium, None).unwrap();
        assert_eq!(e.account_name, "alice@example.org");
        let e = export(&store, &me(), Format::Irssi, None).unwrap();
        assert_eq!(e.protocol, "IRC");
        let files = write_export(&t.file("to-irssi"), &e).unwrap();
        assert!(files[0].ends_with("otr.key") && files[1].ends_with("otr.fp"));
        let e = export(&store, &me(), Format::Generic, None).unwrap();
        assert_eq!(
            (e.account_name.as_str(), e.protocol.as_str()),
            (me().name.as_str(), J)
        );

        let none = AccountId {
            name: "nokey@x/".into(),
            protocol: J.into(),
        };
        assert!(matches!(
            export(&store, &none, Format::Pidgin, None),
            Err(TransferError::NoKey(_))
        ));
    }

    #[test]
    fn a_renamed_account_takes_the_old_names_key() {
        let t = TempDir::new("rename");
        let mut store = Store::open(
            &t.sub("purple"),
            crate::client::store::no_lock_for_testing_only,
        );
        store
            .add_key(AccountKey::new("old@example.org/Home", J, alice()))
            .unwrap();
        store
            .set_trust("old@example.org/Home", J, "bob@example.net", &fp(1), "smp")
            .unwrap();
        let new = AccountId {
            name: "new@example.org/Home".into(),
            protocol: J.into(),
        };
        let source = ImportSource::from_store(&store);
        let plan = plan_import(&source, &store, &new, Some("old@example.org/Home"), true).unwrap();
        let done = apply_import(&source, &plan, &mut store, Confirm::Yes, "s").unwrap();
        assert_eq!(done.key, Some(KeyImport::Added));
        assert_eq!(
            store.key_for(&new.name, J).unwrap().fingerprint().to_hex(),
            ALICE_FP
        );
        // The old entry stays: a key is never dropped.
        assert!(store.key_for("old@example.org/Home", J).is_some());
        assert_eq!(
            store
                .fingerprints()
                .trust_of(&new.name, J, "bob@example.net", &fp(1)),
            Some("smp")
        );
    }

    #[test]
    fn stamps_and_arguments() {
        assert_eq!(backup_stamp(0), "19700101T000000Z");
        assert_eq!(backup_stamp(1_796_480_400), "20261205T142000Z");
        assert_eq!(backup_stamp(951_868_799), "20000229T235959Z");
        assert_eq!(
            words(r#""~/Library/Application Support/Adium 2.0" 3 yes"#),
            vec!["~/Library/Application Support/Adium 2.0", "3", "yes"]
        );
        assert_eq!(words(r"a\ b  c"), vec!["a b", "c"]);
        assert_eq!(words(r#""""#), vec![""]);
        assert!(words("   ").is_empty());
        assert_eq!(
            parse_import_args("~/x 3 replace"),
            Some(ImportArgs {
                path: "~/x".into(),
                name_in_file: Some("3".into()),
                confirm: Some(Confirm::Replace)
            })
        );
        assert_eq!(
            parse_import_args("/p yes"),
            Some(ImportArgs {
                path: "/p".into(),
                name_in_file: None,
                confirm: Some(Confirm::Yes)
            })
        );
        // A path named "yes" is a path.
        assert_eq!(parse_import_args("yes").unwrap().confirm, None);
        assert_eq!(parse_import_args(""), None);
        assert_eq!(parse_import_args("a b c d"), None);
        assert_eq!(
            parse_export_args("/tmp/out adium 3"),
            Some(ExportArgs {
                path: "/tmp/out".into(),
                format: Format::Adium,
                name: Some("3".into())
            })
        );
        assert_eq!(
            parse_export_args("/tmp/out").unwrap().format,
            Format::Generic
        );
        assert_eq!(parse_export_args("/tmp/out nonsense"), None);
        assert_eq!(parse_export_args(""), None);
        let home = Path::new("/home/u");
        assert_eq!(
            expand_home("~/.purple", Some(home)),
            PathBuf::from("/home/u/.purple")
        );
        assert_eq!(expand_home("~", Some(home)), PathBuf::from("/home/u"));
        assert_eq!(expand_home("~x", Some(home)), PathBuf::from("~x"));
        assert_eq!(expand_home("/abs", Some(home)), PathBuf::from("/abs"));
    }

    #[test]
    fn adium_plist_reading_is_tolerant() {
        let m = adium_accounts(PLIST);
        assert_eq!(m.get("3").map(|v| v.0.as_str()), Some("Alice@Example.org"));
        assert_eq!(
            m.get("7").map(|v| v.1.as_str()),
            Some("libpurple-oscar-AIM")
        );
        assert!(adium_accounts("bplist00\u{0}\u{1}garbage").is_empty());
        assert!(adium_accounts("<dict><key>ObjectID</key>").is_empty());
    }
}
