//! Every conversation of every account: one [`Session`] per (account, buddy), the key and
//! trust store, the RNG; engine outcomes become [`Effect`]s in plain words.
//!
//! The host calls in, then applies the returned effects after the client is no longer
//! borrowed (libpurple may call back into us while an effect runs, e.g. creating a
//! conversation emits `conversation-created`).

use std::collections::HashMap;
use std::fmt;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::rng::ClientRng;
use crate::otr::crypto::dsa::DsaPrivateKey;
use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::events::{Event, HoldReason, Suite};
use crate::otr::keystore::privkey::AccountKey;
use crate::otr::modern::identity::IdentityFingerprint;
use crate::otr::policy::Policy;
use crate::otr::session::{
    Env, MessageState, Outcome, PinnedPeer, Session, SessionConfig, Status, UPGRADE_TIMEOUT_SECS,
};
use crate::otr::smp::SmpEvent;

use super::markup::escape_markup;
use super::pins::Pin;
use super::store::Store;
use super::trust::TrustLevel;
use super::view::{self, ConvView};
use super::wording::{self, Trust};

/// An account as the key files name it: libpurple's username (with resource, not
/// normalised) and protocol id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountId {
    pub name: String,
    pub protocol: String,
}

/// One conversation: our account and the buddy's normalised name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvKey {
    pub account: AccountId,
    pub buddy: String,
}

/// How a notice looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
}

/// How far an authentication (SMP) the user started has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpProgress {
    /// The question or secret went out; the buddy must answer.
    Asked,
    /// The buddy answered; the last step is under way.
    Answered,
    Succeeded,
    /// The answers differ, or the exchange broke.
    Failed,
    /// Cancelled by either side.
    Cancelled,
}

/// Something the adapter must do in libpurple.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send a protocol message to the buddy (never shown in our window).
    Transmit { conv: ConvKey, text: String },
    /// Show a line in the conversation (created if needed).
    Notice {
        conv: ConvKey,
        text: String,
        level: Level,
    },
    /// Show a message the user typed that is not (yet) sent, so it does not vanish.
    ShowTyped { conv: ConvKey, text: String },
    /// Turn the conversation's logging off (private) or back to the user's default.
    Logging { conv: ConvKey, private: bool },
    /// Ask the user for the SMP answer/secret; `question` is the buddy's (untrusted) text.
    AskSecret {
        conv: ConvKey,
        question: Option<String>,
    },
    /// Open the "Verify fingerprint" dialog for `theirs` (the key it verifies).
    OpenVerify {
        conv: ConvKey,
        ours: Option<Fingerprint>,
        theirs: Fingerprint,
        verified: bool,
    },
    /// Open the "Authenticate buddy" (SMP) dialog.
    OpenAuthenticate { conv: ConvKey },
    /// Make a key for this account in the background; call [`Client::key_ready`] after.
    GenerateKey { account: AccountId },
    /// The conversation's state changed (menu labels, status).
    StateChanged { conv: ConvKey },
    /// An authentication the user started moved on (Pidgin's progress dialog).
    SmpProgress {
        conv: ConvKey,
        progress: SmpProgress,
    },
    /// Not for the user: a diagnostic line (holds no key material and no message text).
    Debug { text: String },
}

/// Settings that decide how a conversation behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSettings {
    pub policy: Policy,
    /// Keep private conversations out of the logs.
    pub avoid_logging: bool,
    /// Hold outgoing messages in a private conversation until the buddy is verified.
    pub only_verified: bool,
    /// Whether the account logs IMs when we don't interfere (to say so in the notice).
    pub logging_default: bool,
    /// Whether the buddy is known to be online (so a goodbye would reach them).
    pub peer_online: bool,
    /// Upgrade private conversations with purple-otr buddies to the post-quantum suite.
    pub modern: bool,
}

/// The result of the user sending a message.
#[derive(Debug, Default)]
pub struct Sent {
    /// What goes on the wire, in order.
    pub wire: Vec<String>,
    /// Whether `wire` carries the typed message itself (encrypted or, where allowed,
    /// plain); the host may then let its own send path carry the last piece, so its window
    /// shows what was typed. Otherwise the message was held or refused, and `wire` holds
    /// protocol messages only (a query).
    pub carries_message: bool,
    pub effects: Vec<Effect>,
}

/// The result of a message arriving.
#[derive(Debug, Default)]
pub struct Arrived {
    /// Text to show in place of what arrived; `None` swallows it.
    pub display: Option<String>,
    pub effects: Vec<Effect>,
}

/// XMPP servers refuse big stanzas (prosody: 256 KiB by default): split well below that.
/// The other sizes are what pidgin-otr uses, so peers see the same fragments.
pub fn default_max_message_size(protocol: &str) -> usize {
    match protocol {
        "prpl-jabber" => 65_536,
        "prpl-msn" => 1409,
        "prpl-icq" => 2346,
        "prpl-aim" | "prpl-oscar" => 2343,
        "prpl-yahoo" => 799,
        "prpl-gg" => 1999,
        "prpl-irc" => 417,
        "prpl-novell" => 1792,
        _ => 0,
    }
}

struct Conv {
    session: Session,
    /// What we last told the user the state was, so each change is said once.
    shown: (MessageState, Option<Fingerprint>),
    /// AKE messages that arrived while there was no key, to process once there is one
    /// (answering them then keeps both sides in the same exchange; starting a new one
    /// while the peer still answers the old one can leave both waiting).
    replay_after_key: Vec<String>,
    /// The buddy asked us an SMP question (so their success message reads differently).
    answering_question: bool,
    /// The policy last applied, to notice a switch to Never.
    policy: Policy,
    /// Why messages wait, as last told to the user.
    hold_said: Option<HoldReason>,
    /// The buddy's v3 key and post-quantum identity last compared with the pins, so a
    /// changed identity is said (and held for) once per conversation, not per message.
    identity_seen: Option<(Fingerprint, [u8; 32])>,
    /// A buddy whose identity is pinned went private with this v3 key: by this time the
    /// post-quantum suite must have been offered, else the user is warned.
    upgrade_due: Option<(u64, Fingerprint)>,
    /// The account's identity key was asked for (once: a damaged key file is not read
    /// again for every message).
    identity_asked: bool,
    /// Notices from making the conversation (the identity key could not be read or saved),
    /// shown with the next effects.
    deferred: Vec<Effect>,
}

/// One SMP step, as the engine reported it (`Event::Smp`).
struct SmpReport {
    event: SmpEvent,
    trust: Option<bool>,
    we_initiated: bool,
    question: bool,
    /// The key of the instance that ran the exchange.
    fingerprint: Fingerprint,
}

/// All conversations of all accounts, with the keys and trust behind them.
pub struct Client {
    store: Store,
    rng: ClientRng,
    convs: HashMap<ConvKey, Conv>,
    /// Accounts whose key is being made.
    generating: Vec<AccountId>,
    /// The clock of the call in progress (events handled inside it act at the same time).
    now: u64,
    /// TEST ONLY: an old defect put back on purpose, to prove the lifecycle oracle finds it.
    #[cfg(feature = "fuzzing")]
    regression: Regression,
}

/// TEST ONLY (`fuzzing` feature): old, insecure behaviours that
/// [`Client::reintroduce_insecure_regression_for_testing_only`] puts back, so the lifecycle
/// property test and fuzz target can show they catch them. Never in a plugin build.
#[cfg(feature = "fuzzing")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Regression {
    /// Today's behaviour.
    #[default]
    None,
    /// Issue 10, path 1 as it was: the buddy signing off forgets the conversation, so the
    /// next message starts from a fresh plain-text session (a silent downgrade).
    InsecureSignOffDropsSession,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("conversations", &self.convs.len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn notice(conv: &ConvKey, text: impl Into<String>) -> Effect {
    Effect::Notice {
        conv: conv.clone(),
        text: text.into(),
        level: Level::Info,
    }
}

pub(crate) fn warning(conv: &ConvKey, text: impl Into<String>) -> Effect {
    Effect::Notice {
        conv: conv.clone(),
        text: text.into(),
        level: Level::Warning,
    }
}

fn transmit(conv: &ConvKey, out: &mut Outcome, effects: &mut Vec<Effect>) {
    for text in out.to_send.drain(..) {
        effects.push(Effect::Transmit {
            conv: conv.clone(),
            text,
        });
    }
}

impl Client {
    /// A bridge over an opened store; the RNG is seeded from the OS.
    pub fn new(store: Store) -> Result<Client, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(Client::with_rng(store, ChaCha20Rng::from_seed(seed)))
    }

    pub fn with_rng(store: Store, rng: impl Into<ClientRng>) -> Client {
        Client {
            store,
            rng: rng.into(),
            convs: HashMap::new(),
            generating: Vec::new(),
            now: 0,
            #[cfg(feature = "fuzzing")]
            regression: Regression::None,
        }
    }

    /// TEST ONLY (`fuzzing` feature): re-introduces an old, INSECURE behaviour (see
    /// [`Regression`]) so a test can prove the lifecycle oracle catches it.
    #[cfg(feature = "fuzzing")]
    pub fn reintroduce_insecure_regression_for_testing_only(&mut self, regression: Regression) {
        self.regression = regression;
    }

    /// TEST ONLY: runs `f` on the conversation's session (a peer misbehaving, say) and
    /// returns what comes of it, as any other call does.
    #[cfg(test)]
    pub(super) fn act_for_testing_only(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
        f: impl FnOnce(&mut Session, &mut Env<'_>) -> Outcome,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Ok(out) = self.run(key, settings, now, f) {
            self.apply(key, settings, out, &mut effects);
        }
        effects
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    fn key(&self, account: &AccountId) -> Option<&DsaPrivateKey> {
        self.store
            .key_for(&account.name, &account.protocol)
            .map(|k| &k.key)
    }

    /// Our own fingerprint for an account, if it has a key.
    pub fn own_fingerprint(&self, account: &AccountId) -> Option<Fingerprint> {
        self.key(account).map(|k| k.public().fingerprint())
    }

    /// The conversation's session, made on first use.
    fn conv(&mut self, key: &ConvKey, settings: &ConvSettings) -> Result<&mut Conv, String> {
        if !self.convs.contains_key(key) {
            // An unsaved tag still works this run (the store retries the write later).
            let (tag, _saved) =
                self.store
                    .instance_tag(&key.account.name, &key.account.protocol, &mut self.rng);
            let mms = self
                .store
                .max_message_size(&key.account.protocol)
                .unwrap_or_else(|| default_max_message_size(&key.account.protocol));
            let session = Session::new(SessionConfig {
                account_name: key.account.name.clone(),
                our_instance: tag,
                policy: settings.policy,
                max_message_size: mms,
            });
            let mut session = session;
            session.set_trusted_keys(self.trusted_keys(key));
            self.convs.insert(
                key.clone(),
                Conv {
                    session,
                    shown: (MessageState::Plaintext, None),
                    replay_after_key: Vec::new(),
                    answering_question: false,
                    policy: settings.policy,
                    hold_said: None,
                    identity_seen: None,
                    upgrade_due: None,
                    identity_asked: false,
                    deferred: Vec::new(),
                },
            );
        }
        if settings.modern {
            self.give_identity(key);
        }
        let pins = self.pinned_peers(key);
        let conv = self
            .convs
            .get_mut(key)
            .ok_or_else(|| "conversation vanished".to_string())?;
        conv.session.set_policy(settings.policy);
        conv.session.set_only_verified(settings.only_verified);
        conv.session.set_modern(settings.modern);
        // As the pins file says now (a pin made or forgotten a moment ago counts).
        conv.session.set_pinned_peers(pins);
        Ok(conv)
    }

    /// The buddy's pinned identities (docs/modern-suite.md §8.2), newest first: what lets
    /// the session start directly on the post-quantum suite and answer such a start (§15).
    fn pinned_peers(&self, key: &ConvKey) -> Vec<PinnedPeer> {
        let (a, p, b) = (&key.account.name, &key.account.protocol, &key.buddy);
        self.store
            .pins()
            .entries()
            .iter()
            .rev()
            .filter(|pin| pin.account == *a && pin.protocol == *p && pin.buddy == *b)
            .map(|pin| PinnedPeer {
                identity: pin.identity,
                fingerprint: pin.fingerprint,
            })
            .collect()
    }

    /// Gives the conversation the account's identity key from `otr.modern_identity`, made and
    /// saved on first use (only once the suite is on, so a user who turned it off gets no
    /// file). Without one the conversation is plain OTR v3: a key file that cannot be read is
    /// never replaced by a new key, since buddies pinned the old one.
    fn give_identity(&mut self, key: &ConvKey) {
        if self.convs.get(key).is_none_or(|c| c.identity_asked) {
            return;
        }
        let (identity, saved) = self.store.modern_identity_or_new(
            &key.account.name,
            &key.account.protocol,
            &mut self.rng,
        );
        let said = match (&identity, saved) {
            (_, Ok(())) => None,
            (Some(_), Err(e)) => Some(warning(
                key,
                wording::modern_identity_not_saved(&e.to_string()),
            )),
            (None, Err(e)) => Some(notice(
                key,
                wording::modern_identity_unavailable(&e.to_string()),
            )),
        };
        if let Some(c) = self.convs.get_mut(key) {
            c.identity_asked = true;
            c.deferred.extend(said);
            if let Some(identity) = identity {
                c.session.set_modern_identity(identity);
            }
        }
    }

    /// The buddy's keys the user trusts (by hand or SMP), for the session's "only send to
    /// verified buddies" gate.
    fn trusted_keys(&self, key: &ConvKey) -> Vec<Fingerprint> {
        self.store
            .fingerprints()
            .lookup(&key.account.name, &key.account.protocol, &key.buddy)
            .filter(|e| e.is_trusted())
            .map(|e| e.fingerprint)
            .collect()
    }

    /// Applies settings that changed under a conversation. Turning OTR off (policy Never)
    /// while a conversation must stay private ends it first, with the usual notice, so it
    /// is never "private" and plain at once.
    /// Returns whether it ended a private conversation.
    fn sync_settings(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some(conv) = self.convs.get_mut(key) else {
            return false;
        };
        let was = conv.policy;
        conv.policy = settings.policy;
        if settings.policy.enabled() || !conv.session.must_stay_private() {
            return false;
        }
        effects.push(notice(key, wording::otr_turned_off(&key.buddy)));
        // The engine refuses plaintext while it must stay private, whatever the policy;
        // ending is the user's choice made by switching OTR off.
        let with_otr = ConvSettings {
            policy: was,
            ..*settings
        };
        if let Ok(out) = self.run(key, &with_otr, now, |s, env| {
            s.end(env, settings.peer_online)
        }) {
            self.apply(key, &with_otr, out, effects);
        }
        if let Some(conv) = self.convs.get_mut(key) {
            conv.session.set_policy(settings.policy);
        }
        true
    }

    /// Runs `f` on the conversation's session with the clock, RNG and key.
    fn run(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
        f: impl FnOnce(&mut Session, &mut Env<'_>) -> Outcome,
    ) -> Result<Outcome, String> {
        self.conv(key, settings)?;
        let our_key = self
            .store
            .key_for(&key.account.name, &key.account.protocol)
            .map(|k| &k.key);
        let conv = self
            .convs
            .get_mut(key)
            .ok_or_else(|| "conversation vanished".to_string())?;
        self.now = now;
        let mut env = Env {
            now,
            rng: &mut self.rng,
            our_key,
        };
        Ok(f(&mut conv.session, &mut env))
    }

    fn trust(&self, key: &ConvKey, fp: &Fingerprint) -> Trust {
        let trusted = self
            .store
            .fingerprints()
            .trust_of(&key.account.name, &key.account.protocol, &key.buddy, fp)
            .is_some_and(|t| !t.is_empty());
        if trusted {
            Trust::Verified
        } else {
            Trust::Unverified
        }
    }

    /// The state of a conversation, in words (`/otr status`): pidgin-otr's sentence on OTR
    /// v3; on the post-quantum suite the view's label ([`view::label_for`]) leads.
    pub fn describe(&self, key: &ConvKey) -> String {
        let view = self.view(key);
        let Some(c) = self.convs.get(key) else {
            return wording::state_line(&key.buddy, MessageState::Plaintext, Trust::Unverified);
        };
        let status = c.session.status();
        // A key whose post-quantum identity changed is not shown as verified until the user
        // settles it (as a changed v3 key would not be).
        let trust = status
            .fingerprint
            .filter(|fp| !c.session.holds_for_new_identity(fp))
            .map_or(Trust::Unverified, |fp| self.trust(key, &fp));
        if view.is_post_quantum() {
            wording::state_line_post_quantum(&key.buddy, trust, &view.state_label())
        } else {
            wording::state_line(&key.buddy, status.state, trust)
        }
    }

    /// What every interface shows about the conversation (Pidgin's button and menu, Finch's
    /// title, the label in `/otr status` and the notices).
    pub fn view(&self, key: &ConvKey) -> ConvView {
        let status = self.status(key);
        view::view_from(
            &key.buddy,
            status.as_ref(),
            self.is_verified(key),
            self.generating_key(&key.account),
        )
    }

    pub fn status(&self, key: &ConvKey) -> Option<Status> {
        self.convs.get(key).map(|c| c.session.status())
    }

    /// Whether a key for `account` is being made right now.
    pub fn generating_key(&self, account: &AccountId) -> bool {
        self.generating.contains(account)
    }

    /// Whether the conversation is private with a verified key.
    pub fn is_verified(&self, key: &ConvKey) -> bool {
        let doubted = |fp: &Fingerprint| {
            self.convs
                .get(key)
                .is_some_and(|c| c.session.holds_for_new_identity(fp))
        };
        self.status(key)
            .and_then(|s| s.fingerprint.filter(|_| s.is_private()))
            .is_some_and(|fp| self.trust(key, &fp) == Trust::Verified && !doubted(&fp))
    }

    fn needs_key(&mut self, key: &ConvKey, effects: &mut Vec<Effect>) -> bool {
        if self.key(&key.account).is_some() {
            return false;
        }
        if !self.generating.contains(&key.account) {
            self.generating.push(key.account.clone());
            effects.push(notice(key, wording::key_being_generated(&key.account.name)));
            effects.push(Effect::GenerateKey {
                account: key.account.clone(),
            });
        }
        true
    }

    /// The user changed a setting of this conversation (e.g. its policy).
    pub fn settings_changed(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.sync_settings(key, settings, now, &mut effects);
        effects.push(Effect::StateChanged { conv: key.clone() });
        effects
    }

    // ---- the user --------------------------------------------------------------------------

    /// The user typed `text` to the buddy.
    pub fn outgoing(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        text: &str,
        now: u64,
    ) -> Sent {
        let mut sent = Sent::default();
        if self.sync_settings(key, settings, now, &mut sent.effects) {
            // The notice that it is no longer private must come before anything in the clear.
            sent.effects.push(Effect::ShowTyped {
                conv: key.clone(),
                text: text.to_string(),
            });
            sent.effects
                .push(warning(key, wording::not_sent_otr_just_off(text)));
            return sent;
        }
        let out = match self.run(key, settings, now, |s, env| s.send(env, text)) {
            Ok(out) => out,
            Err(e) => {
                sent.effects
                    .push(warning(key, wording::not_sent_error(text, &e)));
                return sent;
            }
        };
        let mut out = out;
        let held = out
            .events
            .iter()
            .any(|e| matches!(e, Event::MessageHeld { .. }));
        let refused = out
            .events
            .iter()
            .any(|e| matches!(e, Event::NotSent { .. }));
        sent.carries_message = !held && !refused;
        sent.wire = std::mem::take(&mut out.to_send);
        if held {
            sent.effects.push(Effect::ShowTyped {
                conv: key.clone(),
                text: text.to_string(),
            });
            // A private conversation is being asked for: the key must exist by the time
            // the buddy answers.
            self.needs_key(key, &mut sent.effects);
        }
        self.apply(key, settings, out, &mut sent.effects);
        sent
    }

    /// "Start/Refresh private conversation". Without a key, one is made while the buddy
    /// answers (the AKE waits for it).
    pub fn start(&mut self, key: &ConvKey, settings: &ConvSettings, now: u64) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.sync_settings(key, settings, now, &mut effects) || !settings.policy.enabled() {
            effects.push(warning(key, wording::otr_is_off(&key.buddy)));
            return effects;
        }
        let refresh = self.status(key).is_some_and(|s| s.is_private());
        effects.push(notice(key, wording::starting(&key.buddy, refresh)));
        self.needs_key(key, &mut effects);
        match self.run(key, settings, now, |s, env| s.start(env)) {
            Ok(out) => self.apply(key, settings, out, &mut effects),
            Err(e) => effects.push(warning(key, escape_markup(&e))),
        }
        effects
    }

    /// "End private conversation": the user's explicit choice of plain text from now on.
    /// `settings.peer_online` decides whether the buddy is told.
    pub fn end(&mut self, key: &ConvKey, settings: &ConvSettings, now: u64) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.convs.contains_key(key) {
            if let Ok(out) = self.run(key, settings, now, |s, env| {
                s.end(env, settings.peer_online)
            }) {
                self.apply(key, settings, out, &mut effects);
            }
        }
        if effects.is_empty() {
            effects.push(notice(key, wording::not_private_now()));
        }
        effects
    }

    /// Marks a key of the buddy as verified by hand, or not: the key the dialog showed,
    /// which need not be the one in use now. Messages waiting for verification go out only
    /// if the conversation is private with exactly that key.
    pub fn set_verified(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        fp: &Fingerprint,
        verified: bool,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let level = if verified {
            TrustLevel::Verified
        } else {
            TrustLevel::None
        };
        let _ =
            self.store
                .record_fingerprint(&key.account.name, &key.account.protocol, &key.buddy, fp);
        match self.store.set_trust(
            &key.account.name,
            &key.account.protocol,
            &key.buddy,
            fp,
            level.as_file_str(),
        ) {
            Ok(()) => effects.push(notice(key, wording::marked(&key.buddy, fp, verified))),
            Err(e) => effects.push(warning(
                key,
                wording::not_saved_verification(&e.to_string()),
            )),
        }
        effects.push(Effect::StateChanged { conv: key.clone() });
        let fp = *fp;
        if let Ok(out) = self.run(key, settings, now, |s, env| {
            s.set_trusted(env, fp, verified)
        }) {
            self.apply(key, settings, out, &mut effects);
        }
        if verified {
            self.pin_verified(key, &fp, true, &mut effects);
        } else {
            // A pin stands for "learned while this key was verified".
            self.forget_pin(key, &fp, &mut effects);
        }
        effects
    }

    /// `/otr send-held`: send what waits (for verification, or for a key that changed)
    /// privately to the key in use now, if the conversation is private; otherwise keep
    /// holding and say why.
    pub fn send_held(&mut self, key: &ConvKey, settings: &ConvSettings, now: u64) -> Vec<Effect> {
        let mut effects = Vec::new();
        let private = self
            .status(key)
            .is_some_and(|s| s.is_private() && !s.paused);
        let held = self.status(key).map_or(0, |s| s.held);
        if held == 0 {
            effects.push(notice(key, wording::nothing_held()));
            return effects;
        }
        if !private {
            effects.push(warning(key, wording::held_needs_private(&key.buddy, held)));
            return effects;
        }
        if let Ok(out) = self.run(key, settings, now, |s, env| s.send_held_anyway(env)) {
            self.apply(key, settings, out, &mut effects);
        }
        effects
    }

    /// `/otr drop-held`: the user gives up the waiting messages.
    pub fn drop_held(&mut self, key: &ConvKey, settings: &ConvSettings) -> Vec<Effect> {
        let mut effects = Vec::new();
        let Some(conv) = self.convs.get_mut(key) else {
            effects.push(notice(key, wording::nothing_held()));
            return effects;
        };
        let out = conv.session.discard_held();
        let dropped = out.events.len();
        self.apply(
            key,
            settings,
            Outcome {
                events: Vec::new(),
                ..out
            },
            &mut effects,
        );
        effects.push(notice(key, wording::dropped(dropped)));
        effects
    }

    pub fn smp_start(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        question: Option<&str>,
        secret: &str,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let result = self.run(key, settings, now, |s, env| {
            s.smp_start(env, question, secret.as_bytes())
                .unwrap_or_default()
        });
        match result {
            Ok(out) if !out.to_send.is_empty() => {
                if let Some(c) = self.convs.get_mut(key) {
                    c.answering_question = false;
                }
                effects.push(notice(key, wording::smp_waiting(&key.buddy)));
                effects.push(Effect::SmpProgress {
                    conv: key.clone(),
                    progress: SmpProgress::Asked,
                });
                self.apply(key, settings, out, &mut effects);
            }
            _ => effects.push(warning(key, wording::not_private_for("Authentication"))),
        }
        effects
    }

    pub fn smp_respond(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        secret: &str,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let result = self.run(key, settings, now, |s, env| {
            s.smp_respond(env, secret.as_bytes()).unwrap_or_default()
        });
        match result {
            Ok(out) if !out.to_send.is_empty() => self.apply(key, settings, out, &mut effects),
            _ => effects.push(warning(key, wording::smp_nothing_to_answer())),
        }
        effects
    }

    pub fn smp_abort(&mut self, key: &ConvKey, settings: &ConvSettings, now: u64) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Ok(out) = self.run(key, settings, now, |s, env| s.smp_abort(env)) {
            effects.push(notice(key, wording::smp_cancelled()));
            effects.push(Effect::SmpProgress {
                conv: key.clone(),
                progress: SmpProgress::Cancelled,
            });
            self.apply(key, settings, out, &mut effects);
        }
        effects
    }

    /// Forgets a buddy's key (from the list of known keys); refused while it is in use.
    pub fn forget_fingerprint(
        &mut self,
        account: &AccountId,
        buddy: &str,
        fp: &Fingerprint,
    ) -> Vec<Effect> {
        let key = ConvKey {
            account: account.clone(),
            buddy: buddy.to_string(),
        };
        let in_use = self
            .status(&key)
            .is_some_and(|s| s.is_private() && s.fingerprint == Some(*fp));
        if in_use {
            return vec![warning(&key, wording::forget_in_use())];
        }
        let result = self
            .store
            .forget_fingerprint(&account.name, &account.protocol, buddy, fp);
        let mut effects = vec![match result {
            Ok(true) => notice(&key, wording::forgot(buddy, fp)),
            Ok(false) => warning(&key, wording::forget_unknown()),
            Err(e) => warning(&key, wording::forget_failed(&e.to_string())),
        }];
        // The post-quantum identity learned with that key goes with it.
        self.forget_pin(&key, fp, &mut effects);
        if let Some(c) = self.convs.get_mut(&key) {
            c.identity_seen = None;
        }
        effects
    }

    // ---- the network -----------------------------------------------------------------------

    /// A message arrived from the buddy.
    pub fn incoming(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        text: &str,
        now: u64,
    ) -> Arrived {
        let mut arrived = Arrived::default();
        if !settings.policy.enabled() {
            arrived.display = Some(text.to_string());
            return arrived;
        }
        match self.run(key, settings, now, |s, env| s.receive(env, text)) {
            Ok(mut out) => {
                if out
                    .events
                    .iter()
                    .any(|e| matches!(e, Event::PrivateKeyNeeded))
                {
                    if let Some(c) = self.convs.get_mut(key) {
                        // Bounded: the peer cannot make us keep more than a handful.
                        if c.replay_after_key.len() < 8 {
                            c.replay_after_key.push(text.to_string());
                        }
                    }
                }
                if let Some(d) = out.display.take() {
                    if !d.encrypted
                        && out
                            .events
                            .iter()
                            .any(|e| matches!(e, Event::UnencryptedReceived))
                    {
                        arrived
                            .effects
                            .push(warning(key, wording::unencrypted(&key.buddy)));
                    }
                    arrived.display = Some(d.text.0.clone());
                }
                self.apply(key, settings, out, &mut arrived.effects);
            }
            Err(e) => {
                arrived.display = Some(text.to_string());
                arrived.effects.push(Effect::Debug {
                    text: format!("no session: {e}"),
                });
            }
        }
        arrived
    }

    /// The background key generation finished.
    pub fn key_ready(
        &mut self,
        account: &AccountId,
        key: DsaPrivateKey,
        now: u64,
        settings_of: impl Fn(&ConvKey) -> ConvSettings,
    ) -> Vec<Effect> {
        self.generating.retain(|a| a != account);
        let fp = key.public().fingerprint();
        let entry = AccountKey::new(&account.name, &account.protocol, key);
        let mut effects = Vec::new();
        let waiting: Vec<ConvKey> = self
            .convs
            .keys()
            .filter(|k| &k.account == account)
            .cloned()
            .collect();
        // On a failed save the store still holds the key in memory (and retries on the
        // next write), so the conversation can go on; the user must know it is not on disk.
        if let Err(e) = self.store.add_key(entry) {
            for k in &waiting {
                effects.push(warning(k, wording::key_not_saved(&e.to_string())));
            }
        }
        for k in &waiting {
            effects.push(notice(k, wording::key_ready(&account.name, &fp)));
        }
        for k in waiting {
            let settings = settings_of(&k);
            let replay = match self.convs.get_mut(&k) {
                Some(c) => std::mem::take(&mut c.replay_after_key),
                None => continue,
            };
            // The exchange that waited for the key goes on where it stopped; held messages
            // go out when it completes.
            for text in replay {
                let arrived = self.incoming(&k, &settings, &text, now);
                effects.extend(arrived.effects);
            }
        }
        effects
    }

    /// Key generation failed: say so where it was waited for, and let the user try again
    /// (the next start or message asks for a key anew). Messages stay held.
    pub fn key_failed(&mut self, account: &AccountId, why: &str) -> Vec<Effect> {
        self.generating.retain(|a| a != account);
        self.conversations_of(account)
            .iter()
            .map(|k| warning(k, wording::key_failed(&account.name, why)))
            .collect()
    }

    /// When [`Client::poll`] next has work, if ever (the earliest session deadline).
    pub fn next_timeout(&self) -> Option<u64> {
        self.convs
            .values()
            .flat_map(|c| [c.session.next_timeout(), c.upgrade_due.map(|(at, _)| at)])
            .flatten()
            .min()
    }

    /// Timers: AKE timeouts, messages that could not be sent in time.
    pub fn poll(
        &mut self,
        now: u64,
        settings_of: impl Fn(&ConvKey) -> ConvSettings,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let keys: Vec<ConvKey> = self.convs.keys().cloned().collect();
        for key in keys {
            let settings = settings_of(&key);
            if let Ok(out) = self.run(&key, &settings, now, |s, env| s.poll(env)) {
                self.apply(&key, &settings, out, &mut effects);
            }
            self.upgrade_overdue(&key, now, &mut effects);
        }
        effects
    }

    // ---- presence and lifecycle -------------------------------------------------------------

    /// The buddy went offline (or the server says so; it can lie). A private conversation
    /// is paused, never dropped to plain text: its keys are wiped (the buddy's side is gone
    /// or soon will be), and what the user types waits, shown, until it is private again
    /// with the same key.
    pub fn buddy_offline(&mut self, key: &ConvKey) -> Vec<Effect> {
        let mut effects = Vec::new();
        #[cfg(feature = "fuzzing")]
        if self.regression == Regression::InsecureSignOffDropsSession {
            self.convs.remove(key);
            return effects;
        }
        self.pause(key, wording::paused_buddy_offline, &mut effects);
        effects
    }

    /// Pauses one conversation (see [`Client::buddy_offline`]), saying so with `words`.
    fn pause(
        &mut self,
        key: &ConvKey,
        words: fn(&str, usize) -> String,
        effects: &mut Vec<Effect>,
    ) {
        let Some(conv) = self.convs.get_mut(key) else {
            return;
        };
        if conv.session.peer_offline() {
            let held = conv.session.status().held;
            effects.push(notice(key, words(&key.buddy, held)));
            effects.push(Effect::StateChanged { conv: key.clone() });
        }
    }

    /// The buddy is (back) online. A paused private conversation starts again by itself
    /// under the opportunistic and always policies; under manual the user is told how.
    pub fn buddy_online(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let Some(status) = self.status(key) else {
            return effects;
        };
        if !status.paused {
            if let Some(conv) = self.convs.get_mut(key) {
                conv.session.peer_back();
            }
            return effects;
        }
        self.sync_settings(key, settings, now, &mut effects);
        match self.run(key, settings, now, |s, env| s.peer_online(env)) {
            Ok(out) => {
                let restarting = !out.to_send.is_empty();
                effects.push(notice(
                    key,
                    wording::buddy_back(&key.buddy, restarting, status.held),
                ));
                if restarting {
                    self.needs_key(key, &mut effects);
                }
                self.apply(key, settings, out, &mut effects);
            }
            Err(e) => effects.push(warning(key, escape_markup(&e))),
        }
        effects
    }

    /// Our account went offline (network lost, kicked): every conversation of it is paused
    /// like [`Client::buddy_offline`], with a notice in each one that was private.
    pub fn account_offline(&mut self, account: &AccountId) -> Vec<Effect> {
        let mut effects = Vec::new();
        for key in self.conversations_of(account) {
            self.pause(&key, wording::paused_we_offline, &mut effects);
        }
        effects
    }

    /// The client quits or the plugin is unloaded: say goodbye to buddies we are private
    /// with (if online), and report every message that waited and is now not sent, quoted.
    /// The session (and every key in it) is wiped.
    pub fn shut_down(&mut self, key: &ConvKey, settings: &ConvSettings, now: u64) -> Vec<Effect> {
        let mut effects = Vec::new();
        if !self.convs.contains_key(key) {
            return effects;
        }
        if self.status(key).is_some_and(|s| s.is_private()) && settings.peer_online {
            if let Ok(mut out) = self.run(key, settings, now, |s, env| s.end(env, true)) {
                transmit(key, &mut out, &mut effects);
            }
        }
        if let Some(mut conv) = self.convs.remove(key) {
            for event in conv.session.discard_held().events {
                if let Event::NotSent { text, .. } = event {
                    effects.push(warning(key, wording::not_sent_closing(&text.0)));
                }
            }
        }
        effects
    }

    /// Every conversation of an account (sign-off, account removed).
    pub fn conversations_of(&self, account: &AccountId) -> Vec<ConvKey> {
        self.convs
            .keys()
            .filter(|k| &k.account == account)
            .cloned()
            .collect()
    }

    pub fn conversations(&self) -> Vec<ConvKey> {
        self.convs.keys().cloned().collect()
    }

    // ---- events into effects ---------------------------------------------------------------

    fn apply(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        mut out: Outcome,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(c) = self.convs.get_mut(key) {
            effects.append(&mut c.deferred);
        }
        transmit(key, &mut out, effects);
        let mut state_changed = false;
        for event in out.events {
            self.event(key, settings, event, effects, &mut state_changed);
        }
        self.check_identity(key, effects);
        if let Some(conv) = self.convs.get_mut(key) {
            let status = conv.session.status();
            let now_shown = (status.state, status.fingerprint);
            if now_shown != conv.shown {
                conv.shown = now_shown;
                state_changed = true;
            }
        }
        if state_changed {
            effects.push(Effect::StateChanged { conv: key.clone() });
        }
    }

    fn event(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        event: Event,
        effects: &mut Vec<Effect>,
        changed: &mut bool,
    ) {
        let buddy = key.buddy.as_str();
        match event {
            Event::GoneSecure { fingerprint, .. } => {
                self.watch_upgrade(key, settings, fingerprint);
                self.note_fingerprint(key, &fingerprint, effects);
                let trust = self.trust(key, &fingerprint);
                let logging = settings.logging_default && !settings.avoid_logging;
                effects.push(notice(key, wording::gone_secure(buddy, trust, logging)));
                if settings.avoid_logging {
                    effects.push(Effect::Logging {
                        conv: key.clone(),
                        private: true,
                    });
                }
                *changed = true;
            }
            Event::Refreshed { fingerprint, .. } => {
                self.watch_upgrade(key, settings, fingerprint);
                let trust = self.trust(key, &fingerprint);
                effects.push(notice(key, wording::refreshed(buddy, trust)));
            }
            Event::GoneInsecure { .. } => {
                effects.push(notice(key, wording::we_ended(buddy)));
                effects.push(Effect::Logging {
                    conv: key.clone(),
                    private: false,
                });
                *changed = true;
            }
            Event::PeerEnded { .. } => {
                effects.push(warning(key, wording::peer_ended(buddy)));
                *changed = true;
            }
            // One line when the first message starts waiting (or waits for a new reason),
            // not one per message.
            Event::MessageHeld {
                pending, reason, ..
            } => {
                let said = self.convs.get_mut(key).map(|c| c.hold_said.replace(reason));
                if pending == 1 || said.flatten() != Some(reason) {
                    effects.push(notice(key, wording::held(buddy, pending, reason)));
                }
                *changed = true;
            }
            Event::HeldSent { count } => {
                if let Some(c) = self.convs.get_mut(key) {
                    c.hold_said = None;
                }
                effects.push(notice(key, wording::held_sent(count)));
                *changed = true;
            }
            Event::HeldForNewFingerprint {
                expected,
                actual,
                pending,
            } => {
                effects.push(warning(
                    key,
                    wording::held_for_new_key(buddy, &expected, &actual, pending),
                ));
            }
            Event::NotSent { text, reason } => {
                effects.push(warning(key, wording::not_sent(buddy, &text.0, &reason)))
            }
            Event::MessageResent => effects.push(notice(key, wording::resent())),
            Event::Reflected => effects.push(warning(key, wording::reflected())),
            Event::Unreadable { .. } => effects.push(warning(key, wording::unreadable(buddy))),
            Event::Malformed => effects.push(warning(key, wording::malformed(buddy))),
            Event::NotInPrivate => effects.push(warning(key, wording::not_in_private(buddy))),
            Event::ForOtherInstance => {
                effects.push(notice(key, wording::for_other_instance(buddy)))
            }
            // Shown with the message itself (see `incoming`).
            Event::UnencryptedReceived => {}
            Event::PeerError { text } => {
                effects.push(warning(key, wording::peer_error(buddy, &text.0)))
            }
            Event::Smp {
                event,
                trust,
                we_initiated,
                question,
                fingerprint,
                ..
            } => {
                let report = SmpReport {
                    event,
                    trust,
                    we_initiated,
                    question,
                    fingerprint,
                };
                self.smp_event(key, report, effects);
                if trust == Some(true) {
                    // Messages waiting for a verified buddy go out now, before newer ones.
                    let now = self.now;
                    if let Ok(out) = self.run(key, settings, now, |s, env| {
                        s.set_trusted(env, fingerprint, true)
                    }) {
                        self.apply(key, settings, out, effects);
                    }
                    self.pin_verified(key, &fingerprint, true, effects);
                }
            }
            Event::SymmetricKey { usage, .. } => effects.push(Effect::Debug {
                text: format!("buddy asked to use the extra symmetric key (use {usage})"),
            }),
            Event::HeartbeatReceived => effects.push(Effect::Debug {
                text: "heartbeat received".into(),
            }),
            Event::HeartbeatSent => effects.push(Effect::Debug {
                text: "heartbeat sent".into(),
            }),
            Event::Unrecognized => effects.push(Effect::Debug {
                text: "unrecognised OTR message ignored".into(),
            }),
            Event::AkeIgnored { reason } => effects.push(Effect::Debug {
                text: format!("AKE message ignored: {reason}"),
            }),
            // The message is kept for replay (see `incoming`).
            Event::PrivateKeyNeeded => {
                self.needs_key(key, effects);
            }
            Event::Upgraded { .. } => {
                let label = self.view(key).state_label();
                effects.push(notice(key, wording::upgraded(buddy, &label)));
                *changed = true;
            }
            Event::UpgradeFailed { reason, .. } => {
                // Between pinned peers a failed switch may be someone interfering: never
                // a quiet fallback.
                if self.current_pin(key).is_some() {
                    if let Some(c) = self.convs.get_mut(key) {
                        c.upgrade_due = None;
                    }
                    effects.push(warning(key, wording::pq_failed_pinned(buddy)));
                } else {
                    effects.push(notice(key, wording::upgrade_failed(buddy, reason)));
                }
            }
            Event::OldSuiteIgnored { .. } => {
                effects.push(warning(key, wording::old_suite_ignored(buddy)))
            }
            Event::ModernIgnored { reason } => effects.push(Effect::Debug {
                text: format!("modern-suite message ignored: {reason}"),
            }),
            Event::ModernReannounced {
                identity_changed,
                after_upgrade,
                ..
            } => {
                // A peer announces once per v3 session: between pinned peers another identity,
                // or any announcement after the switch, is a replay or interference, never
                // quiet. A duplicate during the handshake changes nothing and stays a note.
                if (identity_changed || after_upgrade) && self.current_pin(key).is_some() {
                    effects.push(warning(
                        key,
                        wording::pq_reannounced(buddy, identity_changed),
                    ));
                } else {
                    effects.push(Effect::Debug {
                        text: format!(
                            "post-quantum suite announced again (other identity: \
                             {identity_changed}, after the switch: {after_upgrade}); ignored"
                        ),
                    });
                }
            }
            Event::DirectFallback => effects.push(Effect::Debug {
                text: "no answer to the direct post-quantum start; asking for OTR v3".into(),
            }),
        }
    }

    // ---- post-quantum identities (docs/modern-suite.md §8) ----------------------------------

    /// The identity pinned for the buddy's v3 key in use now, if private.
    fn current_pin(&self, key: &ConvKey) -> Option<[u8; 32]> {
        let st = self.status(key)?;
        let fp = st.fingerprint.filter(|_| st.is_private())?;
        self.store
            .pin_for(&key.account.name, &key.account.protocol, &key.buddy, &fp)
    }

    /// A private conversation started with `fp`: if the buddy's identity for that key is
    /// pinned, the post-quantum suite is expected within the upgrade timeout.
    fn watch_upgrade(&mut self, key: &ConvKey, settings: &ConvSettings, fp: Fingerprint) {
        let pinned = self
            .store
            .pin_for(&key.account.name, &key.account.protocol, &key.buddy, &fp)
            .is_some();
        let now = self.now;
        if let Some(c) = self.convs.get_mut(key) {
            let expected = settings.modern && c.session.modern_identity().is_some() && pinned;
            c.upgrade_due = expected.then_some((now.saturating_add(UPGRADE_TIMEOUT_SECS), fp));
        }
    }

    /// The upgrade timeout passed: a pinned buddy that never announced the suite in this
    /// private conversation (lost, stripped or refused announcement) gets a warning; the
    /// conversation stays private on v3. A handshake that started and failed is reported by
    /// the engine (`UpgradeFailed`).
    fn upgrade_overdue(&mut self, key: &ConvKey, now: u64, effects: &mut Vec<Effect>) {
        let Some(c) = self.convs.get_mut(key) else {
            return;
        };
        let Some((at, fp)) = c.upgrade_due else {
            return;
        };
        if now < at {
            return;
        }
        c.upgrade_due = None;
        let st = c.session.status();
        let missing = st.is_private()
            && st.fingerprint == Some(fp)
            && st.suite != Some(Suite::Modern)
            && st.peer_identity.is_none()
            && c.session.modern();
        if missing && self.current_pin(key).is_some() {
            effects.push(warning(key, wording::pq_not_offered(&key.buddy)));
        }
    }

    /// After every outcome: compares the identity the buddy announced with the pin for its
    /// v3 key. A different one is warned about once and holds what the user types, like a
    /// changed v3 key; none pinned yet is pinned if the v3 key is verified and the suite is
    /// in use.
    fn check_identity(&mut self, key: &ConvKey, effects: &mut Vec<Effect>) {
        let Some(st) = self.status(key) else {
            return;
        };
        let (Some(fp), Some(id)) = (st.fingerprint.filter(|_| st.is_private()), st.peer_identity)
        else {
            return;
        };
        let pinned = self
            .store
            .pin_for(&key.account.name, &key.account.protocol, &key.buddy, &fp);
        let Some(pin) = pinned else {
            self.pin_verified(key, &fp, false, effects);
            return;
        };
        let Some(c) = self.convs.get_mut(key) else {
            return;
        };
        // It was offered: the watch for a missing announcement is over.
        c.upgrade_due = None;
        if c.identity_seen == Some((fp, id)) {
            return;
        }
        c.identity_seen = Some((fp, id));
        if pin != id {
            c.session.hold_for_new_identity(fp);
            effects.push(warning(
                key,
                wording::identity_changed(
                    &key.buddy,
                    &IdentityFingerprint::of(&pin).human(),
                    &IdentityFingerprint::of(&id).human(),
                ),
            ));
        }
    }

    /// Pins the buddy's identity when the conversation uses the suite with the v3 key `fp`
    /// and `fp` is verified. `replace`: the user has just verified `fp` (by hand or SMP), so
    /// a different pinned identity is replaced; otherwise a different pin is left alone
    /// (see [`Client::check_identity`]).
    fn pin_verified(
        &mut self,
        key: &ConvKey,
        fp: &Fingerprint,
        replace: bool,
        effects: &mut Vec<Effect>,
    ) {
        let Some(st) = self.status(key) else {
            return;
        };
        let Some(id) = st.peer_identity else {
            return;
        };
        let active =
            st.is_private() && st.fingerprint == Some(*fp) && st.suite == Some(Suite::Modern);
        if !active || self.trust(key, fp) != Trust::Verified {
            return;
        }
        let (a, p, b) = (&key.account.name, &key.account.protocol, &key.buddy);
        match self.store.pin_for(a, p, b, fp) {
            Some(pin) if pin == id => return,
            Some(_) if !replace => return,
            _ => {}
        }
        let pin = Pin {
            account: a.clone(),
            protocol: p.clone(),
            buddy: b.clone(),
            fingerprint: *fp,
            identity: id,
        };
        let human = IdentityFingerprint::of(&id).human();
        match self.store.pin_identity(pin) {
            Ok(_) => effects.push(notice(key, wording::identity_pinned(b, &human))),
            Err(e) => effects.push(warning(key, wording::pin_not_saved(b, &e.to_string()))),
        }
        if let Some(c) = self.convs.get_mut(key) {
            c.identity_seen = Some((*fp, id));
        }
    }

    /// Forgets the pin learned with the buddy's v3 key `fp` (the key was forgotten or is
    /// no longer verified).
    fn forget_pin(&mut self, key: &ConvKey, fp: &Fingerprint, effects: &mut Vec<Effect>) {
        let (a, p, b) = (&key.account.name, &key.account.protocol, &key.buddy);
        if let Err(e) = self.store.forget_pin(a, p, b, fp) {
            effects.push(warning(key, wording::pin_not_saved(b, &e.to_string())));
        }
    }

    /// First sight of a buddy's key, or a key that differs from the ones we know: recorded
    /// (unverified) and said plainly.
    fn note_fingerprint(&mut self, key: &ConvKey, fp: &Fingerprint, effects: &mut Vec<Effect>) {
        let known: Vec<Fingerprint> = self
            .store
            .fingerprints()
            .lookup(&key.account.name, &key.account.protocol, &key.buddy)
            .map(|e| e.fingerprint)
            .collect();
        if known.contains(fp) {
            return;
        }
        if known.is_empty() {
            effects.push(notice(key, wording::first_fingerprint(&key.buddy, fp)));
        } else {
            effects.push(warning(
                key,
                wording::fingerprint_changed(&key.buddy, &known, fp),
            ));
        }
        if let Err(e) =
            self.store
                .record_fingerprint(&key.account.name, &key.account.protocol, &key.buddy, fp)
        {
            effects.push(warning(
                key,
                wording::key_record_failed(&key.buddy, &e.to_string()),
            ));
        }
    }

    fn smp_event(&mut self, key: &ConvKey, smp: SmpReport, effects: &mut Vec<Effect>) {
        let SmpReport {
            event,
            trust,
            we_initiated,
            question,
            fingerprint: fp,
        } = smp;
        let answering = self.convs.get(key).is_some_and(|c| c.answering_question);
        match &event {
            SmpEvent::AskForAnswer { question } => {
                if let Some(c) = self.convs.get_mut(key) {
                    c.answering_question = true;
                }
                effects.push(Effect::AskSecret {
                    conv: key.clone(),
                    question: Some(question.clone()),
                });
                return;
            }
            SmpEvent::AskForSecret => {
                if let Some(c) = self.convs.get_mut(key) {
                    c.answering_question = false;
                }
                effects.push(Effect::AskSecret {
                    conv: key.clone(),
                    question: None,
                });
                return;
            }
            _ => {}
        }
        if we_initiated {
            let progress = match &event {
                SmpEvent::InProgress => Some(SmpProgress::Answered),
                SmpEvent::Success => Some(SmpProgress::Succeeded),
                SmpEvent::Failure | SmpEvent::Cheated | SmpEvent::Error => {
                    Some(SmpProgress::Failed)
                }
                SmpEvent::Aborted => Some(SmpProgress::Cancelled),
                SmpEvent::AskForSecret | SmpEvent::AskForAnswer { .. } => None,
            };
            if let Some(progress) = progress {
                effects.push(Effect::SmpProgress {
                    conv: key.clone(),
                    progress,
                });
            }
        }
        // The key of the instance that ran SMP, not whichever is "best" now.
        if let Some(t) = trust {
            let value = if t { TrustLevel::Smp } else { TrustLevel::None }.as_file_str();
            // A failed run does not take back a manual verification the user made.
            let keep_manual = !t && self.trust(key, &fp) == Trust::Verified;
            if !keep_manual {
                if let Err(e) = self.store.set_trust(
                    &key.account.name,
                    &key.account.protocol,
                    &key.buddy,
                    &fp,
                    value,
                ) {
                    effects.push(warning(key, wording::not_saved_smp(&e.to_string())));
                }
            }
            effects.push(Effect::StateChanged { conv: key.clone() });
        }
        if matches!(event, SmpEvent::Success)
            && !we_initiated
            && (question || answering)
            && trust.is_none()
        {
            let verified = self.is_verified(key);
            effects.push(notice(key, wording::smp_answered(&key.buddy, verified)));
            return;
        }
        let text = wording::smp(&key.buddy, &event, we_initiated && question);
        if let Some(text) = text {
            let bad = matches!(
                event,
                SmpEvent::Failure | SmpEvent::Cheated | SmpEvent::Error | SmpEvent::Aborted
            );
            effects.push(if bad {
                warning(key, text)
            } else {
                notice(key, text)
            });
        }
    }
}
