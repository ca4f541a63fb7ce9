//! The plugin while it is loaded: one value, [`Runtime`], in one thread-local slot.
//!
//! libpurple is single-threaded: every callback arrives on the thread that runs its main
//! loop. The runtime is borrowed only briefly and never across a call into libpurple that
//! could call back into us: handlers ask the [`Client`] for what to do ([`with_client`]),
//! then carry out the returned effects with nothing borrowed ([`apply`]). Unload takes the
//! runtime out and drops it, which disconnects every signal, unregisters `/otr`, removes the
//! timer and wipes every session.

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{SystemTime, UNIX_EPOCH};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::client::{AccountId, Client, ConvKey, Effect};
use crate::otr::crypto::dsa::DsaPrivateKey;

use super::debug;
use super::ffi;
use super::guard::guard;
use super::host::{CommandRegistration, Requests, SignalConnection, Timer};
use super::objects::{Account, Conversation, Plugin};
use super::prefs;

/// Carries out effects; set by the top layer at load (it opens dialogs, which sit above
/// this module).
pub(crate) type Apply = fn(Vec<Effect>);

/// A key made on a worker thread, or why none could be made.
pub(crate) type KeyResult = (AccountId, Result<DsaPrivateKey, String>);

pub(crate) struct Runtime {
    pub(crate) plugin: Plugin,
    client: Client,
    apply: Apply,
    pub(crate) registrations: Registrations,
    pub(crate) requests: Requests,
    keys_done: Receiver<KeyResult>,
    keys_tx: Sender<KeyResult>,
    /// Accounts whose key a worker thread is making.
    making_keys: usize,
    /// Test-only: `/otr __panic` and the send-path panic. Set from PURPLE_OTR_TEST_PANIC=1
    /// at load time, in debug builds only.
    pub(crate) test_panic: bool,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("client", &self.client)
            .field("signals", &self.registrations.signals.len())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    pub(crate) fn new(plugin: Plugin, client: Client, apply: Apply, test_panic: bool) -> Self {
        let (keys_tx, keys_done) = channel();
        Runtime {
            plugin,
            client,
            apply,
            registrations: Registrations {
                plugin,
                signals: Vec::new(),
                command: None,
                timer: None,
            },
            requests: Requests::default(),
            keys_done,
            keys_tx,
            making_keys: 0,
            test_panic,
        }
    }

    /// Gives up the client (unload: a last save, then it is dropped and wipes every
    /// session).
    pub(crate) fn into_client(self) -> Client {
        self.client
    }
}

/// What the plugin registered with libpurple; undone when dropped.
#[derive(Debug)]
pub(crate) struct Registrations {
    plugin: Plugin,
    /// Disconnected when dropped.
    pub(crate) signals: Vec<SignalConnection>,
    /// `/otr`, unregistered when dropped.
    pub(crate) command: Option<CommandRegistration>,
    /// The next call of the client's timers (AKE timeouts, held messages, finished keys)
    /// and when it is due.
    timer: Option<(Timer, u64)>,
}

impl Drop for Registrations {
    fn drop(&mut self) {
        // Each connection, the command and the timer undo themselves as they drop ...
        self.signals.clear();
        self.command = None;
        self.timer = None;
        // ... and, as a safety net, nothing registered under our handle survives unload.
        // SAFETY: the handle is our live PurplePlugin; libpurple looks it up by address.
        unsafe { ffi::purple_signals_disconnect_by_handle(self.plugin.handle()) }
    }
}

thread_local! {
    static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
}

/// Installs the runtime of a freshly loaded plugin; returns any previous one (to drop
/// outside the borrow).
pub(crate) fn install(runtime: Runtime) -> Option<Runtime> {
    RUNTIME.with(|r| r.borrow_mut().replace(runtime))
}

/// Takes the runtime out (unload).
pub(crate) fn take() -> Option<Runtime> {
    RUNTIME.with(|r| r.borrow_mut().take())
}

/// Runs `f` on the runtime. `None` if the plugin is not loaded, or if the runtime is
/// already borrowed further up the stack (which the effects design prevents; logged).
pub(crate) fn with<T>(f: impl FnOnce(&mut Runtime) -> T) -> Option<T> {
    RUNTIME.with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else {
            debug::error("runtime re-entered; request ignored");
            return None;
        };
        r.as_mut().map(f)
    })
}

/// Runs `f` on the client.
pub(crate) fn with_client<T>(f: impl FnOnce(&mut Client) -> T) -> Option<T> {
    with(|r| f(&mut r.client))
}

/// Asks the client, then carries out what it returned: the one way handlers change a
/// conversation.
pub(crate) fn dispatch(f: impl FnOnce(&mut Client, u64) -> Vec<Effect>) {
    let now = now();
    let effects = with_client(|c| f(c, now)).unwrap_or_default();
    apply(effects);
}

/// Carries out effects with nothing borrowed, then sets the timer for the client's next
/// deadline.
pub(crate) fn apply(effects: Vec<Effect>) {
    let mut keygen = Vec::new();
    let mut rest = Vec::with_capacity(effects.len());
    for e in effects {
        match e {
            Effect::GenerateKey { account } => keygen.push(account),
            other => rest.push(other),
        }
    }
    for account in keygen {
        spawn_keygen(account);
    }
    if let Some(apply) = with(|r| r.apply) {
        if !rest.is_empty() {
            apply(rest);
        }
    }
    reschedule();
}

/// Seconds on the wall clock (only differences matter to the engine).
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The conversation key for an account and a buddy name as libpurple gives it.
pub(crate) fn conv_key(account: Account, who: &str) -> ConvKey {
    ConvKey {
        account: account_id(account),
        buddy: account.normalize(who),
    }
}

/// An account as the key files name it.
pub(crate) fn account_id(account: Account) -> AccountId {
    AccountId {
        name: account.username(),
        protocol: account.protocol_id(),
    }
}

pub(crate) fn key_of(conv: Conversation) -> Option<ConvKey> {
    conv.account().map(|a| conv_key(a, &conv.name()))
}

/// The open conversation window of `key`, if any.
pub(crate) fn conversation(key: &ConvKey) -> Option<Conversation> {
    account(&key.account).and_then(|a| a.conversation(&key.buddy))
}

/// The conversation window of `key` if one is open (never opens one).
pub(crate) fn conversation_if_open(key: &ConvKey) -> Option<Conversation> {
    account(&key.account).and_then(|a| a.open_conversation(&key.buddy))
}

pub(crate) fn account(id: &AccountId) -> Option<Account> {
    Account::find(&id.name, &id.protocol)
}

/// Writes a plain-text notice into the conversation of `key` (if its window is open).
pub(crate) fn notice(key: &ConvKey, text: &str, warning: bool) {
    if let Some(c) = conversation(key) {
        c.write_notice_markup(&crate::client::markup::escape_markup(text), warning);
    }
}

/// Our plugin handle (dialogs and notifications are opened under it).
pub(crate) fn plugin_handle() -> *mut c_void {
    with(|r| r.plugin.handle()).unwrap_or(std::ptr::null_mut())
}

/// Makes a key on a worker thread (a 1024-bit DSA key takes a moment; pidgin-otr froze the
/// whole UI for it); the timer hands it to the client.
fn spawn_keygen(account: AccountId) {
    let Some(tx) = with(|r| {
        r.making_keys += 1;
        r.keys_tx.clone()
    }) else {
        return;
    };
    let mut seed = [0u8; 32];
    let spawned = if getrandom::fill(&mut seed).is_err() {
        Err("the system gave no randomness".to_string())
    } else {
        debug::info("generating a private key in the background");
        let worker_tx = tx.clone();
        let worker_account = account.clone();
        std::thread::Builder::new()
            .name("purple-otr-keygen".into())
            .spawn(move || {
                let mut rng = ChaCha20Rng::from_seed(seed);
                let key = DsaPrivateKey::generate(&mut rng);
                // The plugin may have been unloaded meanwhile: then nobody listens, and the
                // key is simply dropped (and wiped).
                let _ = worker_tx.send((worker_account, Ok(key)));
            })
            .map(|_| ())
            .map_err(|e| format!("no worker thread could be started ({e})"))
    };
    if let Err(why) = spawned {
        debug::error("could not start key generation");
        let _ = tx.send((account, Err(why)));
    }
}

/// Keys the worker threads finished (or failed to make).
fn finished_keys() -> Vec<KeyResult> {
    with(|r| {
        let done: Vec<KeyResult> = r.keys_done.try_iter().collect();
        r.making_keys = r.making_keys.saturating_sub(done.len());
        done
    })
    .unwrap_or_default()
}

/// The timer's work: finished keys, then the client's deadlines.
fn tick() {
    for (account, key) in finished_keys() {
        dispatch(|c, now| match key {
            Ok(key) => c.key_ready(&account, key, now, prefs::settings_of),
            Err(why) => c.key_failed(&account, &why),
        });
    }
    dispatch(|c, now| c.poll(now, prefs::settings_of));
}

/// While a key is being made, the timer looks for it this often.
const KEYGEN_POLL_MS: u32 = 250;

/// Sets the one timer for the earliest deadline of any session (`Session::next_timeout`),
/// or for the next look at the key workers; no timer when nothing waits.
fn reschedule() {
    unsafe extern "C" fn fire(_data: *mut c_void) -> ffi::gboolean {
        guard("timer", None, 0, || {
            if let Some(Some((timer, _))) = with(|r| r.registrations.timer.take()) {
                timer.fired();
            }
            tick();
            0
        })
    }
    let now = now();
    let plan = with(|r| {
        let due = r.client.next_timeout();
        let ms = if r.making_keys > 0 {
            Some(KEYGEN_POLL_MS)
        } else {
            due.map(|t| {
                let secs = t.saturating_sub(now).min(3600);
                u32::try_from(secs * 1000).unwrap_or(u32::MAX)
            })
        };
        let due_at = ms.map(|ms| now + u64::from(ms / 1000));
        let keep = matches!((&r.registrations.timer, due_at), (Some((_, at)), Some(d)) if *at <= d);
        (keep, ms, due_at)
    });
    let Some((keep, ms, due_at)) = plan else {
        return;
    };
    if keep {
        return;
    }
    let timer = ms.and_then(|ms| Timer::after(ms, fire)).zip(due_at);
    let old = with(|r| std::mem::replace(&mut r.registrations.timer, timer));
    drop(old);
}
