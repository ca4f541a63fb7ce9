//! Where the bridge meets libpurple: the loaded bridge, the effects it asks for, the
//! periodic timer, and key generation on a background thread (a 1024-bit DSA key takes a
//! moment; pidgin-otr froze the whole UI for it).

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{SystemTime, UNIX_EPOCH};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::otr::crypto::dsa::DsaPrivateKey;

use super::bridge::{AccountId, Bridge, ConvKey, Effect, Level};
use super::debug;
use super::dialogs;
use super::ffi;
use super::guard::guard;
use super::objects::{Account, Conversation};
use super::prefs;

struct Loaded {
    bridge: Option<Bridge>,
    keys_done: Receiver<(AccountId, DsaPrivateKey)>,
    keys_tx: Sender<(AccountId, DsaPrivateKey)>,
}

thread_local! {
    static LOADED: RefCell<Option<Loaded>> = const { RefCell::new(None) };
}

/// Seconds on the wall clock (only differences matter to the engine).
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn install(bridge: Bridge) {
    let (keys_tx, keys_done) = channel();
    LOADED.with(|l| {
        *l.borrow_mut() = Some(Loaded {
            bridge: Some(bridge),
            keys_done,
            keys_tx,
        })
    });
}

/// Takes the bridge out (unload). Dropping it wipes every session.
pub(crate) fn take() -> Option<Bridge> {
    LOADED.with(|l| l.borrow_mut().take().and_then(|mut s| s.bridge.take()))
}

/// Runs `f` on the bridge. `None` if the plugin is not loaded, or if the bridge is already
/// in use further up the stack (which the effects design prevents; logged if it happens).
pub(crate) fn with<T>(f: impl FnOnce(&mut Bridge) -> T) -> Option<T> {
    LOADED.with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else {
            debug::error("bridge re-entered; request ignored");
            return None;
        };
        l.as_mut().and_then(|s| s.bridge.as_mut()).map(f)
    })
}

/// The conversation key for an account and a buddy name as libpurple gives it.
pub(crate) fn conv_key(account: Account, who: &str) -> ConvKey {
    ConvKey {
        account: AccountId {
            name: account.username(),
            protocol: account.protocol_id(),
        },
        buddy: account.normalize(who),
    }
}

pub(crate) fn key_of(conv: Conversation) -> Option<ConvKey> {
    conv.account().map(|a| conv_key(a, &conv.name()))
}

fn conversation(key: &ConvKey) -> Option<Conversation> {
    Account::find(&key.account.name, &key.account.protocol).and_then(|a| a.conversation(&key.buddy))
}

/// Carries out what the bridge asked for. Called with the bridge released.
pub(crate) fn apply(effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Transmit { conv, text } => {
                let sent = Account::find(&conv.account.name, &conv.account.protocol)
                    .is_some_and(|a| a.send_im(&conv.buddy, &text));
                if !sent {
                    debug::warning("could not send an OTR protocol message (account offline?)");
                }
            }
            Effect::Notice { conv, text, level } => {
                if let Some(c) = conversation(&conv) {
                    let text = super::ui::decorate_notice(&conv, &text);
                    c.write_notice_markup(&text, level == Level::Warning);
                }
            }
            Effect::ShowTyped { conv, text } => {
                if let Some(c) = conversation(&conv) {
                    c.write_typed(&text);
                }
            }
            Effect::Logging { conv, private } => {
                if let Some(c) = conversation(&conv) {
                    c.set_logging(!private && prefs::logs_ims());
                }
            }
            Effect::AskSecret { conv, question } => {
                dialogs::ask_smp_secret(&conv, question.as_deref())
            }
            Effect::GenerateKey { account } => spawn_keygen(account),
            Effect::StateChanged { conv } => super::ui::state_changed(&conv),
            Effect::SmpProgress { conv, progress } => super::ui::smp_progress(&conv, progress),
            Effect::Debug { text } => debug::misc(&text),
        }
    }
    super::ui::refresh_all();
}

/// Makes a key on a worker thread; the timer hands it to the bridge.
fn spawn_keygen(account: AccountId) {
    let Some(tx) = LOADED.with(|l| l.borrow().as_ref().map(|s| s.keys_tx.clone())) else {
        return;
    };
    let mut seed = [0u8; 32];
    if getrandom::fill(&mut seed).is_err() {
        debug::error("no randomness from the OS: cannot make a key");
        return;
    }
    debug::info("generating a private key in the background");
    let spawned = std::thread::Builder::new()
        .name("purple-otr-keygen".into())
        .spawn(move || {
            let mut rng = ChaCha20Rng::from_seed(seed);
            let key = DsaPrivateKey::generate(&mut rng);
            // The plugin may have been unloaded meanwhile: then nobody listens, and the key
            // is simply dropped (and wiped).
            let _ = tx.send((account, key));
        });
    if spawned.is_err() {
        debug::error("could not start the key generation thread");
    }
}

/// Keys the worker threads finished.
fn finished_keys() -> Vec<(AccountId, DsaPrivateKey)> {
    LOADED.with(|l| {
        l.try_borrow()
            .ok()
            .and_then(|l| l.as_ref().map(|s| s.keys_done.try_iter().collect()))
            .unwrap_or_default()
    })
}

/// The timer's work: finished keys, AKE timeouts.
fn tick() {
    let now = now();
    for (account, key) in finished_keys() {
        let effects =
            with(|b| b.key_ready(&account, key, now, prefs::settings_of)).unwrap_or_default();
        apply(effects);
    }
    let effects = with(|b| b.poll(now, prefs::settings_of)).unwrap_or_default();
    apply(effects);
}

/// The periodic timer, removed when dropped.
#[derive(Debug)]
pub(crate) struct Timer(u32);

impl Timer {
    pub(crate) fn start() -> Option<Timer> {
        unsafe extern "C" fn fire(_data: *mut c_void) -> ffi::gboolean {
            guard("timer", None, 1, || {
                tick();
                1
            })
        }
        // SAFETY: `fire` has GSourceFunc's signature; no user data. Keys are picked up
        // within a second of being made; AKE timeouts need no finer grain.
        let id = unsafe { ffi::purple_timeout_add(1000, Some(fire), std::ptr::null_mut()) };
        (id != 0).then_some(Timer(id))
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: an id purple_timeout_add returned.
        unsafe { ffi::purple_timeout_remove(self.0) };
    }
}
