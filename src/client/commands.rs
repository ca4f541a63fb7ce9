//! What the user asks for by name — the `/otr` subcommands and the menu items that show
//! something — as client calls that return effects. The adapter only parses nothing and
//! shows what comes back.

use crate::otr::crypto::fingerprint::Fingerprint;

use super::conversations::{notice, warning, Client};
use super::wording;
use super::{AccountId, ConvKey, ConvSettings, Effect};

/// A known key of some buddy: who, whose, and whether the user trusts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownKey {
    pub account: AccountId,
    pub buddy: String,
    pub fingerprint: Fingerprint,
    pub trusted: bool,
}

impl Client {
    /// `/otr status`: the state in words, with what waits.
    pub fn status_report(&self, key: &ConvKey) -> Vec<Effect> {
        let mut text = self.describe(key);
        if let Some(st) = self.status(key) {
            text.push_str(&wording::status_extra(st.held, st.instances, st.paused));
        }
        vec![notice(key, text)]
    }

    /// `/otr fingerprint`: ours and the buddy's.
    pub fn fingerprint_report(&self, key: &ConvKey) -> Vec<Effect> {
        let ours = self.own_fingerprint(&key.account);
        let theirs = self.status(key).and_then(|s| s.fingerprint);
        vec![notice(
            key,
            wording::fingerprints(
                &key.account.name,
                &key.buddy,
                ours.as_ref(),
                theirs.as_ref(),
            ),
        )]
    }

    /// Every known buddy key (the list dialog, `/otr fingerprints`).
    pub fn known_keys(&self) -> Vec<KnownKey> {
        self.store()
            .fingerprints()
            .entries()
            .map(|e| KnownKey {
                account: AccountId {
                    name: e.accountname.clone(),
                    protocol: e.protocol.clone(),
                },
                buddy: e.username.clone(),
                fingerprint: e.fingerprint,
                trusted: e.is_trusted(),
            })
            .collect()
    }

    /// `/otr fingerprints`: this buddy's known keys.
    pub fn known_keys_report(&self, key: &ConvKey) -> Vec<Effect> {
        let keys: Vec<(Fingerprint, bool)> = self
            .known_keys()
            .into_iter()
            .filter(|k| k.account == key.account && k.buddy == key.buddy)
            .map(|k| (k.fingerprint, k.trusted))
            .collect();
        vec![notice(key, wording::known_keys(&key.buddy, &keys))]
    }

    /// Our own fingerprint for every account that has a key.
    pub fn own_fingerprints(&self) -> Vec<(AccountId, Fingerprint)> {
        self.store()
            .keys()
            .iter()
            .map(|k| {
                (
                    AccountId {
                        name: k.account_name.clone(),
                        protocol: k.protocol.clone(),
                    },
                    k.fingerprint(),
                )
            })
            .collect()
    }

    /// "Verify fingerprint": the dialog, if there is a key to verify.
    pub fn ask_verify(&self, key: &ConvKey) -> Vec<Effect> {
        let theirs = self
            .status(key)
            .and_then(|s| s.fingerprint.filter(|_| s.is_private()));
        match theirs {
            Some(theirs) => vec![Effect::OpenVerify {
                conv: key.clone(),
                ours: self.own_fingerprint(&key.account),
                theirs,
                verified: self.is_verified(key),
            }],
            None => vec![warning(key, wording::verify_needs_private())],
        }
    }

    /// "Authenticate buddy": the dialog, if the conversation is private.
    pub fn ask_authenticate(&self, key: &ConvKey) -> Vec<Effect> {
        if self.status(key).is_some_and(|s| s.is_private()) {
            vec![Effect::OpenAuthenticate { conv: key.clone() }]
        } else {
            vec![warning(key, wording::not_private_for("Authentication"))]
        }
    }

    /// `/otr smp [abort | question? answer | secret]`: abort; ask a question; answer the
    /// buddy's request or start with a shared secret; the dialog without arguments.
    pub fn smp_command(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        args: &str,
        now: u64,
    ) -> Vec<Effect> {
        let args = args.trim();
        if args == "abort" {
            return self.smp_abort(key, settings, now);
        }
        if args.is_empty() {
            return self.ask_authenticate(key);
        }
        let awaiting = self.status(key).is_some_and(|s| s.smp_in_progress);
        match args.split_once('?') {
            Some((q, a)) if !awaiting && !a.trim().is_empty() => {
                let question = format!("{}?", q.trim());
                self.smp_start(key, settings, Some(&question), a.trim(), now)
            }
            _ if awaiting => self.smp_respond(key, settings, args, now),
            _ => self.smp_start(key, settings, None, args, now),
        }
    }

    /// `/otr verify yes|no`: the key in use now, if private.
    pub fn verify_command(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        verdict: bool,
        now: u64,
    ) -> Vec<Effect> {
        let theirs = self
            .status(key)
            .and_then(|s| s.fingerprint.filter(|_| s.is_private()));
        match theirs {
            Some(fp) => self.set_verified(key, settings, &fp, verdict, now),
            None => vec![warning(key, wording::verify_needs_private())],
        }
    }

    /// `/otr forget <fingerprint>` (hex, spaces allowed).
    pub fn forget_command(&mut self, key: &ConvKey, arg: &str) -> Vec<Effect> {
        let hex: String = arg.chars().filter(|c| !c.is_whitespace()).collect();
        match Fingerprint::from_hex(&hex) {
            Some(fp) => {
                let (account, buddy) = (key.account.clone(), key.buddy.clone());
                self.forget_fingerprint(&account, &buddy, &fp)
            }
            None => vec![warning(key, wording::forget_usage())],
        }
    }
}
