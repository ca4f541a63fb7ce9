//! What the user interfaces show about a conversation (Pidgin's button and OTR menu, Finch's
//! window title): one value computed in one place, so every surface says the same thing.

use crate::otr::events::Suite;
use crate::otr::session::{MessageState, Status};

use std::borrow::Cow;

use super::i18n::{fill, tr, trn};

/// The state a conversation is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewState {
    NotPrivate,
    /// Keys are being exchanged with the buddy.
    SettingUp,
    /// Our own long-term key is being made (the first private conversation of an account).
    CreatingKey,
    PrivateUnverified,
    PrivateVerified,
    /// The buddy ended the private conversation; what the user types is held until they
    /// end it too or start again.
    Finished,
    /// The conversation was private and must stay so, but is not right now (the buddy or
    /// we went offline, or it is being set up again): what the user types waits.
    Paused,
}

/// Everything the interfaces show about one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvView {
    pub state: ViewState,
    pub buddy: String,
    /// Messages typed but not sent yet (waiting for privacy, a key or verification).
    pub held: usize,
    /// An authentication (SMP) run is under way.
    pub smp_in_progress: bool,
    /// The private conversation uses the post-quantum suite (docs/modern-suite.md), not
    /// OTR v3. Only meaningful while [`ViewState::is_private`].
    pub post_quantum: bool,
}

/// The words on Pidgin's button (and the menu's state line, the notices that quote it) for
/// `state`: the one place that decides how the protection in use is named. OTR v3 keeps the
/// plain labels pidgin-otr users know; the post-quantum suite says so inside the brackets.
pub fn label_for(state: ViewState, post_quantum: bool) -> Cow<'static, str> {
    match (state, post_quantum) {
        (ViewState::PrivateUnverified, true) => tr("Private (post-quantum, not verified)"),
        (ViewState::PrivateVerified, true) => tr("Private (post-quantum, verified)"),
        _ => state.label(),
    }
}

impl ViewState {
    /// The words on Pidgin's button (never colour alone).
    pub fn label(self) -> Cow<'static, str> {
        // One literal per arm: the catalogue extractor (tests/i18n_catalogs.rs) reads only
        // `tr("…")`, so `tr(match …)` would leave these untranslated.
        match self {
            ViewState::NotPrivate => tr("Not private"),
            ViewState::SettingUp => tr("Setting up…"),
            ViewState::CreatingKey => tr("Creating your key…"),
            ViewState::PrivateUnverified => tr("Private (not verified)"),
            ViewState::PrivateVerified => tr("Private (verified)"),
            ViewState::Finished => tr("Finished"),
            ViewState::Paused => tr("Paused"),
        }
    }

    /// A sentence for tooltips and the state line of the OTR menu.
    pub fn explanation(self) -> Cow<'static, str> {
        match self {
            ViewState::NotPrivate => tr("Messages go out as plain text."),
            ViewState::SettingUp => tr("Setting up a private conversation with your buddy."),
            ViewState::CreatingKey => tr("Making your private key; this takes a moment, once."),
            ViewState::PrivateUnverified => {
                tr("Encrypted, but you have not checked that the key is really your buddy's.")
            }
            ViewState::PrivateVerified => tr("Encrypted, and you checked your buddy's key."),
            ViewState::Finished => tr(
                "Your buddy ended the private conversation. Nothing you type is sent until you \
                 end it too or start again.",
            ),
            ViewState::Paused => tr(
                "The private conversation is paused. Nothing you type is sent in the clear; it \
                 waits until the conversation is private again.",
            ),
        }
    }

    /// Lower-case words for Finch's title line.
    pub fn title_words(self) -> Cow<'static, str> {
        match self {
            ViewState::NotPrivate => tr("not private"),
            ViewState::SettingUp => tr("setting up private conversation"),
            ViewState::CreatingKey => tr("creating your key"),
            ViewState::PrivateUnverified => tr("private, not verified"),
            ViewState::PrivateVerified => tr("private, verified"),
            ViewState::Finished => tr("finished by buddy"),
            ViewState::Paused => tr("private conversation paused"),
        }
    }

    /// The icon's base name (icons/<name>-<size>.png).
    pub fn icon(self) -> &'static str {
        match self {
            ViewState::NotPrivate | ViewState::SettingUp | ViewState::CreatingKey => "not-private",
            ViewState::Paused => "private-unverified",
            ViewState::PrivateUnverified => "private-unverified",
            ViewState::PrivateVerified => "private-verified",
            ViewState::Finished => "finished",
        }
    }

    pub fn is_private(self) -> bool {
        matches!(
            self,
            ViewState::PrivateUnverified | ViewState::PrivateVerified
        )
    }
}

impl ConvView {
    /// Whether the conversation is private on the post-quantum suite right now.
    pub fn is_post_quantum(&self) -> bool {
        self.post_quantum && self.state.is_private()
    }

    /// The state alone, as the button says it ([`label_for`]).
    pub fn state_label(&self) -> Cow<'static, str> {
        label_for(self.state, self.post_quantum)
    }

    /// The button's text: the state, then what waits.
    pub fn label(&self) -> String {
        match self.held {
            0 => self.state_label().into_owned(),
            n => format!("{} · {}", self.state_label(), waiting(n)),
        }
    }

    /// The sentence for tooltips: [`ViewState::explanation`], naming the post-quantum suite
    /// when it is in use.
    pub fn explanation(&self) -> Cow<'static, str> {
        match (self.state, self.is_post_quantum()) {
            (ViewState::PrivateUnverified, true) => tr(
                "Encrypted with post-quantum protection, but you have not checked that the key \
                 is really your buddy's.",
            ),
            (ViewState::PrivateVerified, true) => {
                tr("Encrypted with post-quantum protection, and you checked your buddy's key.")
            }
            (state, _) => state.explanation(),
        }
    }

    /// Lower-case words for Finch's title line ([`ViewState::title_words`], naming the
    /// post-quantum suite when it is in use).
    pub fn title_words(&self) -> Cow<'static, str> {
        match (self.state, self.is_post_quantum()) {
            (ViewState::PrivateUnverified, true) => tr("private, post-quantum, not verified"),
            (ViewState::PrivateVerified, true) => tr("private, post-quantum, verified"),
            (state, _) => state.title_words(),
        }
    }

    /// Finch's title from the name the UI gave the conversation (the buddy's alias):
    /// "bob — private, not verified".
    pub fn title_for(&self, name: &str) -> String {
        match self.held {
            0 => format!("{name} — {}", self.title_words()),
            n => format!("{name} — {}, {}", self.title_words(), waiting(n)),
        }
    }
}

fn waiting(n: usize) -> String {
    fill(
        &trn("{count} message waiting", "{count} messages waiting", n),
        &[("count", &n.to_string())],
    )
}

/// The view of a conversation from what the engine reports (`status`, `None` when there is no
/// conversation yet), whether its key is verified and whether our own key is being made.
/// The client calls it ([`crate::client::Client::view`]); nothing else decides a view.
pub fn view_from(
    buddy: &str,
    status: Option<&Status>,
    verified: bool,
    generating_key: bool,
) -> ConvView {
    let held = status.map_or(0, |s| s.held);
    let state = match status {
        Some(s) if s.paused && (s.peer_offline || !s.ake_in_progress) => ViewState::Paused,
        Some(s) if s.state == MessageState::Encrypted => {
            if verified {
                ViewState::PrivateVerified
            } else {
                ViewState::PrivateUnverified
            }
        }
        Some(s) if s.state == MessageState::Finished => ViewState::Finished,
        _ if generating_key => ViewState::CreatingKey,
        Some(s) if s.ake_in_progress || s.asking => ViewState::SettingUp,
        _ => ViewState::NotPrivate,
    };
    ConvView {
        state,
        buddy: buddy.to_owned(),
        held,
        smp_in_progress: status.is_some_and(|s| s.smp_in_progress),
        post_quantum: status.is_some_and(|s| s.suite == Some(Suite::Modern)),
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use crate::otr::crypto::dsa::DsaPrivateKey;
    use crate::otr::policy::Policy;

    use super::super::store::Store;
    use super::super::{AccountId, ConvKey, ConvSettings};
    use super::*;
    use crate::client::Client;

    fn view_of(bridge: &Client, key: &ConvKey) -> ConvView {
        bridge.view(key)
    }

    /// The view follows a real bridge: no key yet, a message typed meanwhile, the key made
    /// and the buddy asked.
    #[test]
    fn view_of_follows_the_bridge() {
        let dir = std::env::temp_dir().join(format!("purple-otr-view-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut bridge = Client::with_rng(
            Store::open(&dir, crate::client::store::no_lock_for_testing_only),
            ChaCha20Rng::seed_from_u64(7),
        );
        let key = ConvKey {
            account: AccountId {
                name: "alice@example.org/home".into(),
                protocol: "prpl-jabber".into(),
            },
            buddy: "bob@example.org".into(),
        };
        let settings = ConvSettings {
            policy: Policy::ALWAYS,
            avoid_logging: true,
            only_verified: false,
            logging_default: false,
            peer_online: true,
            modern: true,
        };
        let view = view_of(&bridge, &key);
        assert_eq!((view.state, view.held), (ViewState::NotPrivate, 0));
        assert_eq!(view.buddy, "bob@example.org");

        bridge.start(&key, &settings, 100);
        assert_eq!(view_of(&bridge, &key).state, ViewState::CreatingKey);
        let _ = bridge.outgoing(&key, &settings, "hello", 101);
        let view = view_of(&bridge, &key);
        assert_eq!((view.state, view.held), (ViewState::CreatingKey, 1));
        assert_eq!(view.label(), "Creating your key… · 1 message waiting");

        let made = DsaPrivateKey::generate(&mut ChaCha20Rng::seed_from_u64(8));
        bridge.key_ready(&key.account, made, 102, |_| settings);
        // The query went out at Start; until the buddy answers nothing is private, and the
        // typed message still waits.
        let view = view_of(&bridge, &key);
        assert_eq!(view.state, ViewState::SettingUp, "{view:?}");
        assert_eq!(view.label(), "Setting up… · 1 message waiting");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn labels_are_words_and_count_what_waits() {
        let mut v = ConvView {
            state: ViewState::PrivateUnverified,
            buddy: "bob@example.org".into(),
            held: 0,
            smp_in_progress: false,
            post_quantum: false,
        };
        assert_eq!(v.label(), "Private (not verified)");
        assert_eq!(v.title_for("bob"), "bob — private, not verified");
        v.state = ViewState::SettingUp;
        v.held = 2;
        assert_eq!(v.label(), "Setting up… · 2 messages waiting");
        assert_eq!(
            v.title_for("bob"),
            "bob — setting up private conversation, 2 messages waiting"
        );
        v.held = 1;
        assert!(v.label().ends_with("1 message waiting"));
    }

    /// The post-quantum suite is named on every surface while private, and only then; OTR v3
    /// keeps pidgin-otr's labels word for word.
    #[test]
    fn post_quantum_is_named_only_while_private_on_the_modern_suite() {
        let mut v = ConvView {
            state: ViewState::PrivateUnverified,
            buddy: "bob@example.org".into(),
            held: 0,
            smp_in_progress: false,
            post_quantum: true,
        };
        assert_eq!(v.label(), "Private (post-quantum, not verified)");
        assert_eq!(
            v.title_for("bob"),
            "bob — private, post-quantum, not verified"
        );
        assert!(v.explanation().contains("post-quantum"));
        v.state = ViewState::PrivateVerified;
        v.held = 2;
        assert_eq!(
            v.label(),
            "Private (post-quantum, verified) · 2 messages waiting"
        );
        assert_eq!(
            v.title_for("bob"),
            "bob — private, post-quantum, verified, 2 messages waiting"
        );
        // The same state on OTR v3: exactly the labels the v3 tests read back.
        v.post_quantum = false;
        v.held = 0;
        assert_eq!(v.label(), "Private (verified)");
        assert_eq!(v.title_for("bob"), "bob — private, verified");
        assert_eq!(v.explanation(), ViewState::PrivateVerified.explanation());
        // Not private (paused, finished, ended): no suite is claimed, whatever was used.
        v.post_quantum = true;
        for state in [
            ViewState::NotPrivate,
            ViewState::SettingUp,
            ViewState::CreatingKey,
            ViewState::Finished,
            ViewState::Paused,
        ] {
            v.state = state;
            assert_eq!(v.label(), state.label(), "{state:?}");
            assert_eq!(v.title_words(), state.title_words(), "{state:?}");
            assert_eq!(v.explanation(), state.explanation(), "{state:?}");
            assert!(!v.label().contains("post-quantum"));
        }
        assert_ne!(
            label_for(ViewState::PrivateVerified, true),
            label_for(ViewState::PrivateUnverified, true)
        );
    }
}
