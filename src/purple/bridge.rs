//! The link between libpurple's conversations and the engine: one [`Session`] per (account,
//! buddy), the key and trust store, the RNG and the clock; engine outcomes become
//! [`Effect`]s in plain words.
//!
//! Safe Rust with no FFI: the signal handlers call in, then apply the returned effects
//! after the bridge is no longer borrowed (libpurple may call back into us while an effect
//! runs, e.g. creating a conversation emits `conversation-created`).

use std::collections::HashMap;
use std::fmt;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::otr::crypto::dsa::DsaPrivateKey;
use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::events::Event;
use crate::otr::keystore::privkey::AccountKey;
use crate::otr::policy::Policy;
use crate::otr::session::{Env, MessageState, Outcome, Session, SessionConfig, Status};
use crate::otr::smp::SmpEvent;

use super::store::Store;
use super::wording::{self, Trust};

/// An account as the key files name it: libpurple's username (with resource, not
/// normalised) and protocol id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AccountId {
    pub(crate) name: String,
    pub(crate) protocol: String,
}

/// One conversation: our account and the buddy's normalised name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ConvKey {
    pub(crate) account: AccountId,
    pub(crate) buddy: String,
}

/// How a notice looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Info,
    Warning,
}

/// How far an authentication (SMP) the user started has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SmpProgress {
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
pub(crate) enum Effect {
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
    /// Make a key for this account in the background; call [`Bridge::key_ready`] after.
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
pub(crate) struct ConvSettings {
    pub(crate) policy: Policy,
    /// Keep private conversations out of the logs.
    pub(crate) avoid_logging: bool,
    /// Hold outgoing messages in a private conversation until the buddy is verified.
    pub(crate) only_verified: bool,
    /// Whether the account logs IMs when we don't interfere (to say so in the notice).
    pub(crate) logging_default: bool,
}

/// The result of the user sending a message.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// What goes on the wire, in order (the adapter lets libpurple send the last one, so
    /// it is echoed as the typed text).
    pub(crate) wire: Vec<String>,
    pub(crate) effects: Vec<Effect>,
}

/// The result of a message arriving.
#[derive(Debug, Default)]
pub(crate) struct Arrived {
    /// Text to show in place of what arrived; `None` swallows it.
    pub(crate) display: Option<String>,
    pub(crate) effects: Vec<Effect>,
}

/// XMPP servers refuse big stanzas (prosody: 256 KiB by default): split well below that.
/// The other sizes are what pidgin-otr uses, so peers see the same fragments.
pub(crate) fn default_max_message_size(protocol: &str) -> usize {
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
    /// Typed while the account's key was being made.
    waiting_for_key: Vec<String>,
    /// The user asked to start (or a message needs privacy) while there was no key.
    start_after_key: bool,
    /// AKE messages that arrived while there was no key, to process once there is one
    /// (answering them then keeps both sides in the same exchange; starting a new one
    /// while the peer still answers the old one can leave both waiting).
    replay_after_key: Vec<String>,
    /// Typed while private but unverified, with "only send to verified buddies" on.
    waiting_for_verification: Vec<String>,
    /// The buddy asked us an SMP question (so their success message reads differently).
    answering_question: bool,
}

/// All conversations of all accounts, with the keys and trust behind them.
pub(crate) struct Bridge {
    store: Store,
    rng: ChaCha20Rng,
    convs: HashMap<ConvKey, Conv>,
    /// Accounts whose key is being made.
    generating: Vec<AccountId>,
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge")
            .field("conversations", &self.convs.len())
            .finish_non_exhaustive()
    }
}

fn notice(conv: &ConvKey, text: impl Into<String>) -> Effect {
    Effect::Notice {
        conv: conv.clone(),
        text: text.into(),
        level: Level::Info,
    }
}

fn warning(conv: &ConvKey, text: impl Into<String>) -> Effect {
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

impl Bridge {
    /// A bridge over an opened store; the RNG is seeded from the OS.
    pub(crate) fn new(store: Store) -> Result<Bridge, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(Bridge::with_rng(store, ChaCha20Rng::from_seed(seed)))
    }

    pub(crate) fn with_rng(store: Store, rng: ChaCha20Rng) -> Bridge {
        Bridge {
            store,
            rng,
            convs: HashMap::new(),
            generating: Vec::new(),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    fn key(&self, account: &AccountId) -> Option<&DsaPrivateKey> {
        self.store
            .key_for(&account.name, &account.protocol)
            .map(|k| &k.key)
    }

    /// Our own fingerprint for an account, if it has a key.
    pub(crate) fn own_fingerprint(&self, account: &AccountId) -> Option<Fingerprint> {
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
            self.convs.insert(
                key.clone(),
                Conv {
                    session,
                    shown: (MessageState::Plaintext, None),
                    waiting_for_key: Vec::new(),
                    start_after_key: false,
                    replay_after_key: Vec::new(),
                    waiting_for_verification: Vec::new(),
                    answering_question: false,
                },
            );
        }
        let conv = self
            .convs
            .get_mut(key)
            .ok_or_else(|| "conversation vanished".to_string())?;
        conv.session.set_policy(settings.policy);
        Ok(conv)
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

    /// The state of a conversation, in words.
    pub(crate) fn describe(&self, key: &ConvKey) -> String {
        match self.convs.get(key) {
            None => wording::state_line(&key.buddy, MessageState::Plaintext, Trust::Unverified),
            Some(c) => {
                let status = c.session.status();
                let trust = status
                    .fingerprint
                    .map_or(Trust::Unverified, |fp| self.trust(key, &fp));
                wording::state_line(&key.buddy, status.state, trust)
            }
        }
    }

    pub(crate) fn status(&self, key: &ConvKey) -> Option<Status> {
        self.convs.get(key).map(|c| c.session.status())
    }

    /// Whether the conversation is private with a verified key.
    pub(crate) fn is_verified(&self, key: &ConvKey) -> bool {
        self.status(key)
            .and_then(|s| s.fingerprint.filter(|_| s.is_private()))
            .is_some_and(|fp| self.trust(key, &fp) == Trust::Verified)
    }

    /// Whether a key for `account` is being made right now (read by `view::view_of`).
    pub(crate) fn generating_key(&self, account: &AccountId) -> bool {
        self.generating.contains(account)
    }

    /// Messages the bridge itself holds for the conversation (waiting for our key or for
    /// verification), on top of the session's own `Status::held` (read by `view::view_of`).
    pub(crate) fn waiting(&self, key: &ConvKey) -> usize {
        self.convs.get(key).map_or(0, |c| {
            c.waiting_for_key.len() + c.waiting_for_verification.len()
        })
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

    // ---- the user --------------------------------------------------------------------------

    /// The user typed `text` to the buddy.
    pub(crate) fn outgoing(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        text: &str,
        now: u64,
    ) -> Sent {
        let mut sent = Sent::default();
        let policy = settings.policy;
        if !policy.enabled() {
            sent.wire.push(text.to_string());
            return sent;
        }
        // Privacy is wanted but the key is still being made: keep the message for later.
        let wants_private = policy.has(Policy::REQUIRE_ENCRYPTION)
            || self
                .convs
                .get(key)
                .is_some_and(|c| c.start_after_key || !c.waiting_for_key.is_empty());
        if wants_private && self.needs_key(key, &mut sent.effects) {
            if let Ok(conv) = self.conv(key, settings) {
                conv.waiting_for_key.push(text.to_string());
                conv.start_after_key = true;
            }
            sent.effects.push(Effect::ShowTyped {
                conv: key.clone(),
                text: text.to_string(),
            });
            return sent;
        }
        if settings.only_verified {
            let private = self.status(key).is_some_and(|s| s.is_private());
            if private && !self.is_verified(key) {
                if let Ok(conv) = self.conv(key, settings) {
                    conv.waiting_for_verification.push(text.to_string());
                }
                sent.effects.push(Effect::ShowTyped {
                    conv: key.clone(),
                    text: text.to_string(),
                });
                sent.effects.push(warning(
                    key,
                    format!(
                        "Not sent yet: {} is not verified, and you chose to send only to verified buddies. \
                         Verify them, or send anyway with /otr send-held.",
                        super::text::escape_markup(&key.buddy)
                    ),
                ));
                return sent;
            }
        }
        match self.run(key, settings, now, |s, env| s.send(env, text)) {
            Ok(mut out) => {
                sent.wire = std::mem::take(&mut out.to_send);
                let held = out
                    .events
                    .iter()
                    .any(|e| matches!(e, Event::MessageHeld { .. }));
                if held {
                    sent.effects.push(Effect::ShowTyped {
                        conv: key.clone(),
                        text: text.to_string(),
                    });
                }
                self.apply(key, settings, out, &mut sent.effects);
            }
            Err(e) => sent.effects.push(warning(
                key,
                format!("Not sent: {}", super::text::escape_markup(&e)),
            )),
        }
        sent
    }

    /// "Start/Refresh private conversation".
    pub(crate) fn start(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.needs_key(key, &mut effects) {
            if let Ok(conv) = self.conv(key, settings) {
                conv.start_after_key = true;
            }
            return effects;
        }
        let refresh = self.status(key).is_some_and(|s| s.is_private());
        effects.push(notice(key, wording::starting(&key.buddy, refresh)));
        match self.run(key, settings, now, |s, env| s.start(env)) {
            Ok(out) => self.apply(key, settings, out, &mut effects),
            Err(e) => effects.push(warning(key, super::text::escape_markup(&e))),
        }
        effects
    }

    /// "End private conversation". `peer_online` decides whether the buddy is told.
    pub(crate) fn end(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
        peer_online: bool,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if !self.convs.contains_key(key) {
            return effects;
        }
        if let Ok(out) = self.run(key, settings, now, |s, env| s.end(env, peer_online)) {
            self.apply(key, settings, out, &mut effects);
        }
        effects
    }

    /// Marks the buddy's current key as verified by hand, or not.
    pub(crate) fn set_verified(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        fp: &Fingerprint,
        verified: bool,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let trust = if verified { "verified" } else { "" };
        let _ =
            self.store
                .record_fingerprint(&key.account.name, &key.account.protocol, &key.buddy, fp);
        match self.store.set_trust(
            &key.account.name,
            &key.account.protocol,
            &key.buddy,
            fp,
            trust,
        ) {
            Ok(()) => effects.push(notice(
                key,
                if verified {
                    format!(
                        "You marked {}'s key {} as verified.",
                        super::text::escape_markup(&key.buddy),
                        fp.human()
                    )
                } else {
                    format!(
                        "You marked {}'s key {} as not verified.",
                        super::text::escape_markup(&key.buddy),
                        fp.human()
                    )
                },
            )),
            Err(e) => effects.push(warning(
                key,
                format!(
                    "Could not save the verification: {}",
                    super::text::escape_markup(&e.to_string())
                ),
            )),
        }
        effects.push(Effect::StateChanged { conv: key.clone() });
        if verified {
            effects.extend(self.release_for_verification(key, settings, now));
        }
        effects
    }

    fn release_for_verification(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
    ) -> Vec<Effect> {
        let waiting = self
            .convs
            .get_mut(key)
            .map(|c| std::mem::take(&mut c.waiting_for_verification))
            .unwrap_or_default();
        let mut effects = Vec::new();
        for text in waiting {
            let unrestricted = ConvSettings {
                only_verified: false,
                ..*settings
            };
            self.send_later(key, &unrestricted, &text, now, &mut effects);
        }
        effects
    }

    /// Sends a message the user typed earlier (it was already shown when typed), turning
    /// what goes on the wire into effects.
    fn send_later(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        text: &str,
        now: u64,
        effects: &mut Vec<Effect>,
    ) {
        let sent = self.outgoing(key, settings, text, now);
        effects.extend(sent.wire.into_iter().map(|text| Effect::Transmit {
            conv: key.clone(),
            text,
        }));
        effects.extend(
            sent.effects
                .into_iter()
                .filter(|e| !matches!(e, Effect::ShowTyped { .. })),
        );
    }

    /// `/otr send-held`: send what waits for verification or for a key the user now accepts.
    pub(crate) fn send_held(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = self.release_for_verification(key, settings, now);
        if let Ok(out) = self.run(key, settings, now, |s, env| s.send_held_anyway(env)) {
            self.apply(key, settings, out, &mut effects);
        }
        effects
    }

    /// `/otr drop-held`.
    pub(crate) fn drop_held(&mut self, key: &ConvKey, settings: &ConvSettings) -> Vec<Effect> {
        let mut effects = Vec::new();
        let Some(conv) = self.convs.get_mut(key) else {
            return effects;
        };
        let dropped = conv.waiting_for_verification.len() + conv.waiting_for_key.len();
        conv.waiting_for_verification.clear();
        conv.waiting_for_key.clear();
        let out = conv.session.discard_held();
        let dropped = dropped + out.events.len();
        self.apply(
            key,
            settings,
            Outcome {
                events: Vec::new(),
                ..out
            },
            &mut effects,
        );
        effects.push(notice(
            key,
            format!("Dropped {dropped} waiting message(s)."),
        ));
        effects
    }

    pub(crate) fn smp_start(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        question: Option<&str>,
        secret: &str,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let result = self.run(key, settings, now, |s, env| {
            match s.smp_start(env, question, secret.as_bytes()) {
                Ok(out) => out,
                Err(_) => Outcome::default(),
            }
        });
        match result {
            Ok(out) if !out.to_send.is_empty() => {
                if let Some(c) = self.convs.get_mut(key) {
                    c.answering_question = false;
                }
                effects.push(notice(
                    key,
                    format!(
                        "Authenticating {}: waiting for their answer…",
                        super::text::escape_markup(&key.buddy)
                    ),
                ));
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

    pub(crate) fn smp_respond(
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
            _ => effects.push(warning(
                key,
                "There is no authentication request to answer.",
            )),
        }
        effects
    }

    pub(crate) fn smp_abort(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Ok(out) = self.run(key, settings, now, |s, env| s.smp_abort(env)) {
            effects.push(notice(key, "Authentication cancelled."));
            effects.push(Effect::SmpProgress {
                conv: key.clone(),
                progress: SmpProgress::Cancelled,
            });
            self.apply(key, settings, out, &mut effects);
        }
        effects
    }

    // ---- the network -----------------------------------------------------------------------

    /// A message arrived from the buddy.
    pub(crate) fn incoming(
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
    pub(crate) fn key_ready(
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
                effects.push(warning(
                    k,
                    format!(
                        "Your new key could not be saved ({}); it is used for now, but fix the problem \
                         before you quit or it is lost.",
                        super::text::escape_markup(&e.to_string())
                    ),
                ));
            }
        }
        for k in &waiting {
            effects.push(notice(k, wording::key_ready(&account.name, &fp)));
        }
        for k in waiting {
            let settings = settings_of(&k);
            let (typed, start, replay) = match self.convs.get_mut(&k) {
                Some(c) => (
                    std::mem::take(&mut c.waiting_for_key),
                    std::mem::take(&mut c.start_after_key),
                    std::mem::take(&mut c.replay_after_key),
                ),
                None => continue,
            };
            let replaying = !replay.is_empty();
            for text in replay {
                let arrived = self.incoming(&k, &settings, &text, now);
                effects.extend(arrived.effects);
            }
            if !replaying && (start || !typed.is_empty()) {
                effects.extend(self.start(&k, &settings, now));
            }
            for text in typed {
                self.send_later(&k, &settings, &text, now, &mut effects);
            }
        }
        effects
    }

    /// Timers: AKE timeouts, messages that could not be sent in time.
    pub(crate) fn poll(
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
        }
        effects
    }

    /// The conversation window closed, the buddy signed off or the account went away: end
    /// privately (telling the peer only if `peer_online`) and wipe the session's keys.
    pub(crate) fn forget(
        &mut self,
        key: &ConvKey,
        settings: &ConvSettings,
        now: u64,
        peer_online: bool,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Some(status) = self.status(key) {
            if status.is_private() && peer_online {
                if let Ok(mut out) = self.run(key, settings, now, |s, env| s.end(env, true)) {
                    transmit(key, &mut out, &mut effects);
                }
            }
        }
        // Dropping the session wipes every key it held.
        self.convs.remove(key);
        effects
    }

    /// Every conversation of an account (sign-off, account removed).
    pub(crate) fn conversations_of(&self, account: &AccountId) -> Vec<ConvKey> {
        self.convs
            .keys()
            .filter(|k| &k.account == account)
            .cloned()
            .collect()
    }

    pub(crate) fn conversations(&self) -> Vec<ConvKey> {
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
        transmit(key, &mut out, effects);
        let mut state_changed = false;
        for event in out.events {
            self.event(key, settings, event, effects, &mut state_changed);
        }
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
            // One line when the first message starts waiting, not one per message.
            Event::MessageHeld { pending, starting } => {
                if pending == 1 {
                    effects.push(notice(key, wording::held(buddy, pending, starting)));
                }
            }
            Event::HeldSent { count } => effects.push(notice(key, wording::held_sent(count))),
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
                ..
            } => self.smp_event(key, event, trust, we_initiated, question, effects),
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
                format!(
                    "Could not save {}'s key: {}",
                    super::text::escape_markup(&key.buddy),
                    super::text::escape_markup(&e.to_string())
                ),
            ));
        }
    }

    fn smp_event(
        &mut self,
        key: &ConvKey,
        event: SmpEvent,
        trust: Option<bool>,
        we_initiated: bool,
        question: bool,
        effects: &mut Vec<Effect>,
    ) {
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
        if let (Some(t), Some(fp)) = (trust, self.status(key).and_then(|s| s.fingerprint)) {
            let value = if t { "smp" } else { "" };
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
                    effects.push(warning(
                        key,
                        format!(
                            "Could not save the result: {}",
                            super::text::escape_markup(&e.to_string())
                        ),
                    ));
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn temp_dir(label: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "purple-otr-bridge-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn settings(policy: Policy) -> ConvSettings {
        ConvSettings {
            policy,
            avoid_logging: true,
            only_verified: false,
            logging_default: true,
        }
    }

    struct Side {
        bridge: Bridge,
        conv: ConvKey,
        dir: PathBuf,
        effects: Vec<Effect>,
        shown: Vec<String>,
    }

    fn side(name: &str, peer: &str, seed: u64, with_key: bool) -> Side {
        let dir = temp_dir(name);
        let mut bridge = Bridge::with_rng(Store::open(&dir), ChaCha20Rng::seed_from_u64(seed));
        let account = AccountId {
            name: format!("{name}@localhost/home"),
            protocol: "prpl-jabber".into(),
        };
        if with_key {
            let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0xfeed);
            let key = DsaPrivateKey::generate(&mut rng);
            bridge
                .store_mut()
                .add_key(AccountKey::new(&account.name, &account.protocol, key))
                .expect("key saved");
        }
        Side {
            bridge,
            conv: ConvKey {
                account,
                buddy: format!("{peer}@localhost"),
            },
            dir,
            effects: vec![],
            shown: vec![],
        }
    }

    /// Delivers Transmit effects between the two sides until quiet; keeps the rest.
    fn settle(a: &mut Side, b: &mut Side, mut pending: Vec<(bool, String)>, s: ConvSettings) {
        let mut guard = 0;
        while let Some((to_b, text)) = (!pending.is_empty()).then(|| pending.remove(0)) {
            guard += 1;
            assert!(guard < 1000, "does not settle");
            let (dst, from_a) = if to_b {
                (&mut *b, true)
            } else {
                (&mut *a, false)
            };
            let arrived = dst.bridge.incoming(&dst.conv.clone(), &s, &text, 100);
            if let Some(d) = arrived.display {
                dst.shown.push(d);
            }
            for e in arrived.effects {
                match e {
                    Effect::Transmit { text, .. } => pending.push((!from_a, text)),
                    other => dst.effects.push(other),
                }
            }
        }
    }

    fn route(from_a: bool, effects: Vec<Effect>, keep: &mut Vec<Effect>) -> Vec<(bool, String)> {
        let mut out = Vec::new();
        for e in effects {
            match e {
                Effect::Transmit { text, .. } => out.push((from_a, text)),
                other => keep.push(other),
            }
        }
        out
    }

    fn notices(s: &Side) -> Vec<String> {
        s.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Notice { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn private_pair(policy: Policy) -> (Side, Side) {
        let mut a = side("alice", "bob", 1, true);
        let mut b = side("bob", "alice", 2, true);
        let s = settings(policy);
        let conv = a.conv.clone();
        let effects = a.bridge.start(&conv, &s, 100);
        let pending = route(true, effects, &mut a.effects);
        settle(&mut a, &mut b, pending, s);
        assert!(
            a.bridge.status(&a.conv).is_some_and(|st| st.is_private()),
            "{:?}",
            a.effects
        );
        assert!(
            b.bridge.status(&b.conv).is_some_and(|st| st.is_private()),
            "{:?}",
            b.effects
        );
        (a, b)
    }

    #[test]
    fn start_goes_private_says_so_once_and_records_the_key() {
        let (a, b) = private_pair(Policy::MANUAL);
        let n = notices(&a);
        assert!(n
            .iter()
            .any(|t| t.starts_with("Asking bob@localhost to start")));
        assert_eq!(
            n.iter()
                .filter(|t| t.contains("first time you talk privately"))
                .count(),
            1
        );
        assert_eq!(
            n.iter()
                .filter(|t| t.contains("identity is not verified yet"))
                .count(),
            1
        );
        assert!(a.effects.contains(&Effect::Logging {
            conv: a.conv.clone(),
            private: true
        }));
        // The key is in otr.fingerprints, unverified, as pidgin-otr writes it.
        let file = std::fs::read_to_string(a.dir.join("otr.fingerprints")).expect("written");
        let bob_fp = b
            .bridge
            .own_fingerprint(&b.conv.account)
            .expect("bob has a key");
        assert_eq!(
            file,
            format!(
                "bob@localhost\talice@localhost/home\tprpl-jabber\t{}\t\n",
                bob_fp.to_hex()
            )
        );
        assert_eq!(
            a.bridge.describe(&a.conv),
            "Private, but bob@localhost's identity is not verified."
        );
    }

    #[test]
    fn messages_are_private_and_shown() {
        let (mut a, mut b) = private_pair(Policy::OPPORTUNISTIC);
        let s = settings(Policy::OPPORTUNISTIC);
        let conv = a.conv.clone();
        let sent = a.bridge.outgoing(&conv, &s, "hi <b>bob</b>", 200);
        assert_eq!(sent.wire.len(), 1);
        assert!(sent.wire[0].starts_with("?OTR:AAMD"));
        settle(&mut a, &mut b, vec![(true, sent.wire[0].clone())], s);
        assert_eq!(b.shown, vec!["hi <b>bob</b>"]);
    }

    #[test]
    fn manual_verification_is_saved_and_changes_the_state() {
        let (mut a, b) = private_pair(Policy::MANUAL);
        let fp = b.bridge.own_fingerprint(&b.conv.account).expect("key");
        let conv = a.conv.clone();
        a.bridge
            .set_verified(&conv, &settings(Policy::MANUAL), &fp, true, 300);
        assert!(a.bridge.is_verified(&a.conv));
        assert_eq!(
            a.bridge.describe(&a.conv),
            "Private, and bob@localhost's identity is verified."
        );
        let file = std::fs::read_to_string(a.dir.join("otr.fingerprints")).expect("written");
        assert!(file.ends_with("\tverified\n"), "{file}");
        // A fresh store sees it too (persisted at once).
        let again = Store::open(&a.dir);
        let trust = again.fingerprints().trust_of(
            "alice@localhost/home",
            "prpl-jabber",
            "bob@localhost",
            &fp,
        );
        assert_eq!(trust.as_deref(), Some("verified"));
    }

    #[test]
    fn smp_with_a_question_sets_smp_trust_on_the_asker_only() {
        let (mut a, mut b) = private_pair(Policy::MANUAL);
        let s = settings(Policy::MANUAL);
        let conv = a.conv.clone();
        let effects = a
            .bridge
            .smp_start(&conv, &s, Some("our first city?"), "lyon", 400);
        let pending = route(true, effects, &mut a.effects);
        settle(&mut a, &mut b, pending, s);
        let asked = b.effects.iter().find_map(|e| match e {
            Effect::AskSecret { question, .. } => Some(question.clone()),
            _ => None,
        });
        assert_eq!(asked, Some(Some("our first city?".to_string())));
        let bconv = b.conv.clone();
        let effects = b.bridge.smp_respond(&bconv, &s, "lyon", 400);
        let pending = route(false, effects, &mut b.effects);
        settle(&mut a, &mut b, pending, s);
        assert!(a.bridge.is_verified(&a.conv), "{:?}", notices(&a));
        assert!(
            !b.bridge.is_verified(&b.conv),
            "answering proves nothing about the asker"
        );
        assert!(notices(&a)
            .iter()
            .any(|t| t.contains("answered your question correctly")));
        assert!(notices(&b)
            .iter()
            .any(|t| t.contains("has verified your identity")));
        let file = std::fs::read_to_string(a.dir.join("otr.fingerprints")).expect("written");
        assert!(file.ends_with("\tsmp\n"), "{file}");
    }

    #[test]
    fn a_new_key_for_a_known_buddy_is_a_loud_warning() {
        let (mut a, _) = private_pair(Policy::MANUAL);
        let s = settings(Policy::MANUAL);
        // "bob" again, from another computer with another key.
        let mut b2 = side("bob", "alice", 9, true);
        let conv = a.conv.clone();
        a.bridge.end(&conv, &s, 500, false);
        let effects = a.bridge.start(&conv, &s, 500);
        let pending = route(true, effects, &mut a.effects);
        settle(&mut a, &mut b2, pending, s);
        assert!(a.bridge.status(&a.conv).is_some_and(|st| st.is_private()));
        let warned = a.effects.iter().any(|e| {
            matches!(e, Effect::Notice { text, level: Level::Warning, .. } if text.contains("key you have not seen before"))
        });
        assert!(warned, "{:?}", notices(&a));
        assert!(!a.bridge.is_verified(&a.conv));
    }

    #[test]
    fn a_missing_key_is_made_in_the_background_and_nothing_typed_is_lost() {
        let mut a = side("alice", "bob", 3, false);
        let mut b = side("bob", "alice", 4, true);
        let s = settings(Policy::ALWAYS);
        let conv = a.conv.clone();
        let sent = a.bridge.outgoing(&conv, &s, "first words", 100);
        assert!(sent.wire.is_empty());
        assert!(sent.effects.contains(&Effect::GenerateKey {
            account: a.conv.account.clone()
        }));
        assert!(sent.effects.contains(&Effect::ShowTyped {
            conv: a.conv.clone(),
            text: "first words".into()
        }));
        let sent = a.bridge.outgoing(&conv, &s, "second words", 101);
        assert!(
            !sent
                .effects
                .iter()
                .any(|e| matches!(e, Effect::GenerateKey { .. })),
            "only one generation"
        );
        // The key arrives from the background thread.
        let key = DsaPrivateKey::generate(&mut ChaCha20Rng::seed_from_u64(33));
        let account = a.conv.account.clone();
        let effects = a.bridge.key_ready(&account, key, 102, |_| s);
        assert!(
            Store::open(&a.dir)
                .key_for(&account.name, &account.protocol)
                .is_some(),
            "key saved"
        );
        let pending = route(true, effects, &mut a.effects);
        settle(&mut a, &mut b, pending, s);
        assert_eq!(b.shown, vec!["first words", "second words"]);
    }

    #[test]
    fn both_without_keys_meet_in_one_exchange() {
        // Alice's key is ready first; bob's only once alice's DH-Key reached him. The
        // message that needed bob's key is answered when it exists, not replaced by a new
        // exchange that alice would not follow.
        let mut a = side("alice", "bob", 5, false);
        let mut b = side("bob", "alice", 6, false);
        let s = settings(Policy::OPPORTUNISTIC);
        let conv = a.conv.clone();
        let effects = a.bridge.start(&conv, &s, 100);
        assert!(effects.contains(&Effect::GenerateKey {
            account: a.conv.account.clone()
        }));
        let account = a.conv.account.clone();
        let effects = a.bridge.key_ready(
            &account,
            DsaPrivateKey::generate(&mut ChaCha20Rng::seed_from_u64(51)),
            101,
            |_| s,
        );
        let pending = route(true, effects, &mut a.effects);
        settle(&mut a, &mut b, pending, s);
        assert!(
            b.effects.contains(&Effect::GenerateKey {
                account: b.conv.account.clone()
            }),
            "{:?}",
            b.effects
        );
        assert!(!a.bridge.status(&a.conv).is_some_and(|st| st.is_private()));
        // The plugin's timer keeps running while bob's key is made.
        for t in 102..110 {
            assert!(b.bridge.poll(t, |_| s).is_empty());
        }
        let account = b.conv.account.clone();
        let effects = b.bridge.key_ready(
            &account,
            DsaPrivateKey::generate(&mut ChaCha20Rng::seed_from_u64(52)),
            102,
            |_| s,
        );
        let pending = route(false, effects, &mut b.effects);
        settle(&mut a, &mut b, pending, s);
        assert!(
            a.bridge.status(&a.conv).is_some_and(|st| st.is_private()),
            "{:?}",
            notices(&a)
        );
        assert!(
            b.bridge.status(&b.conv).is_some_and(|st| st.is_private()),
            "{:?}",
            notices(&b)
        );
    }

    #[test]
    fn after_the_peer_ended_ending_and_restarting_holds_what_is_typed() {
        let (mut a, mut b) = private_pair(Policy::OPPORTUNISTIC);
        let s = settings(Policy::OPPORTUNISTIC);
        let conv = a.conv.clone();
        let effects = a.bridge.end(&conv, &s, 700, true);
        let pending = route(true, effects, &mut a.effects);
        settle(&mut a, &mut b, pending, s);
        let bconv = b.conv.clone();
        let refused = b.bridge.outgoing(&bconv, &s, "after end", 701);
        assert!(refused.wire.is_empty());
        b.bridge.end(&bconv, &s, 702, true);
        let effects = b.bridge.start(&bconv, &s, 703);
        let mut pending = route(false, effects, &mut b.effects);
        let typed = b.bridge.outgoing(&bconv, &s, "typed at once", 703);
        assert!(typed.wire.is_empty(), "not in plaintext: {:?}", typed.wire);
        assert!(
            typed.effects.contains(&Effect::ShowTyped {
                conv: bconv.clone(),
                text: "typed at once".into()
            }),
            "{:?}",
            typed.effects
        );
        pending.extend(route(false, typed.effects, &mut b.effects));
        settle(&mut a, &mut b, pending, s);
        assert_eq!(a.shown, vec!["typed at once"]);
    }

    #[test]
    fn only_verified_holds_messages_until_verification() {
        let (mut a, mut b) = private_pair(Policy::MANUAL);
        let s = ConvSettings {
            only_verified: true,
            ..settings(Policy::MANUAL)
        };
        let conv = a.conv.clone();
        let sent = a.bridge.outgoing(&conv, &s, "for bob only", 600);
        assert!(sent.wire.is_empty());
        let fp = b.bridge.own_fingerprint(&b.conv.account).expect("key");
        let effects = a.bridge.set_verified(&conv, &s, &fp, true, 601);
        let pending = route(true, effects, &mut a.effects);
        settle(&mut a, &mut b, pending, s);
        assert_eq!(b.shown, vec!["for bob only"]);
    }

    #[test]
    fn ending_tells_the_peer_and_the_peer_sees_it() {
        let (mut a, mut b) = private_pair(Policy::MANUAL);
        let s = settings(Policy::MANUAL);
        let conv = a.conv.clone();
        let effects = a.bridge.end(&conv, &s, 700, true);
        let pending = route(true, effects, &mut a.effects);
        settle(&mut a, &mut b, pending, s);
        assert!(notices(&a).iter().any(|t| t.starts_with("You ended")));
        assert_eq!(
            b.bridge.status(&b.conv).map(|st| st.state),
            Some(MessageState::Finished)
        );
        assert!(b.effects.iter().any(|e| matches!(e, Effect::Notice { text, .. } if text.contains("has ended the private conversation"))));
        let bconv = b.conv.clone();
        let sent = b.bridge.outgoing(&bconv, &s, "hello?", 701);
        assert!(sent.wire.is_empty(), "nothing sent while finished");
        assert!(
            sent.effects
                .iter()
                .any(|e| matches!(e, Effect::Notice { text, .. } if text.contains("hello?"))),
            "the text comes back"
        );
    }
}
