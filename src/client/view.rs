//! What the user interfaces show about a conversation (Pidgin's button and OTR menu, Finch's
//! window title): one value computed in one place, so every surface says the same thing.

use crate::otr::session::MessageState;

use std::borrow::Cow;

use super::conversations::Client;
use super::i18n::{fill, tr, trn};
use super::ConvKey;

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
}

impl ViewState {
    /// The words on Pidgin's button (never colour alone).
    pub fn label(self) -> Cow<'static, str> {
        tr(match self {
            ViewState::NotPrivate => "Not private",
            ViewState::SettingUp => "Setting up…",
            ViewState::CreatingKey => "Creating your key…",
            ViewState::PrivateUnverified => "Private (not verified)",
            ViewState::PrivateVerified => "Private (verified)",
            ViewState::Finished => "Finished",
            ViewState::Paused => "Paused",
        })
    }

    /// A sentence for tooltips and the state line of the OTR menu.
    pub fn explanation(self) -> Cow<'static, str> {
        tr(match self {
            ViewState::NotPrivate => "Messages go out as plain text.",
            ViewState::SettingUp => "Setting up a private conversation with your buddy.",
            ViewState::CreatingKey => "Making your private key; this takes a moment, once.",
            ViewState::PrivateUnverified => {
                "Encrypted, but you have not checked that the key is really your buddy's."
            }
            ViewState::PrivateVerified => "Encrypted, and you checked your buddy's key.",
            ViewState::Finished => {
                "Your buddy ended the private conversation. Nothing you type is sent until you \
                 end it too or start again."
            }
            ViewState::Paused => {
                "The private conversation is paused. Nothing you type is sent in the clear; it \
                 waits until the conversation is private again."
            }
        })
    }

    /// Lower-case words for Finch's title line.
    pub fn title_words(self) -> Cow<'static, str> {
        tr(match self {
            ViewState::NotPrivate => "not private",
            ViewState::SettingUp => "setting up private conversation",
            ViewState::CreatingKey => "creating your key",
            ViewState::PrivateUnverified => "private, not verified",
            ViewState::PrivateVerified => "private, verified",
            ViewState::Finished => "finished by buddy",
            ViewState::Paused => "private conversation paused",
        })
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
    /// The button's text: the state, then what waits.
    pub fn label(&self) -> String {
        match self.held {
            0 => self.state.label().into_owned(),
            n => format!("{} · {}", self.state.label(), waiting(n)),
        }
    }

    /// Finch's title from the name the UI gave the conversation (the buddy's alias):
    /// "bob — private, not verified".
    pub fn title_for(&self, name: &str) -> String {
        match self.held {
            0 => format!("{name} — {}", self.state.title_words()),
            n => format!("{name} — {}, {}", self.state.title_words(), waiting(n)),
        }
    }
}

fn waiting(n: usize) -> String {
    fill(
        &trn("{count} message waiting", "{count} messages waiting", n),
        &[("count", &n.to_string())],
    )
}

/// The view of a conversation.
pub fn view_of(bridge: &Client, key: &ConvKey) -> ConvView {
    let status = bridge.status(key);
    let held = status.as_ref().map_or(0, |s| s.held);
    let state = match &status {
        Some(s) if s.paused && (s.peer_offline || !s.ake_in_progress) => ViewState::Paused,
        Some(s) if s.state == MessageState::Encrypted => {
            if bridge.is_verified(key) {
                ViewState::PrivateVerified
            } else {
                ViewState::PrivateUnverified
            }
        }
        Some(s) if s.state == MessageState::Finished => ViewState::Finished,
        _ if bridge.generating_key(&key.account) => ViewState::CreatingKey,
        Some(s) if s.ake_in_progress || s.asking => ViewState::SettingUp,
        _ => ViewState::NotPrivate,
    };
    ConvView {
        state,
        buddy: key.buddy.clone(),
        held,
        smp_in_progress: status.is_some_and(|s| s.smp_in_progress),
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use crate::otr::crypto::dsa::DsaPrivateKey;
    use crate::otr::policy::Policy;

    use super::super::store::Store;
    use super::super::{AccountId, ConvSettings};
    use super::*;

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
}
