//! The plugin's state while it is loaded.
//!
//! libpurple is single-threaded: every callback arrives on the thread that runs its main
//! loop, so the state is thread-local. It is borrowed only briefly and never across a call
//! into libpurple that could call back into us; unload takes it out and drops it, which
//! disconnects every signal and unregisters the command.

use std::cell::RefCell;

use super::cmds::CommandRegistration;
use super::ffi;
use super::objects::Plugin;
use super::signals::SignalConnection;

#[derive(Debug)]
pub(crate) struct PluginState {
    pub(crate) plugin: Plugin,
    /// Disconnected when the state goes.
    pub(crate) signals: Vec<SignalConnection>,
    /// `/otr`, unregistered when the state goes.
    pub(crate) command: Option<CommandRegistration>,
    /// Test-only: `/otr __panic` panics inside the command handler so tests can prove the
    /// guard. Set from PURPLE_OTR_TEST_PANIC=1 at load time, in debug builds only.
    pub(crate) test_panic: bool,
    /// Held for its `Drop`: the periodic timer (finished keys, AKE timeouts).
    #[allow(dead_code)]
    pub(crate) timer: Option<super::glue::Timer>,
}

impl Drop for PluginState {
    fn drop(&mut self) {
        // Each connection and the command undo themselves as they drop ...
        self.signals.clear();
        self.command = None;
        // ... and, as a safety net, nothing registered under our handle survives unload.
        // SAFETY: the handle is our live PurplePlugin; libpurple looks it up by address.
        unsafe { ffi::purple_signals_disconnect_by_handle(self.plugin.handle()) }
    }
}

thread_local! {
    static STATE: RefCell<Option<PluginState>> = const { RefCell::new(None) };
}

/// Installs the state of a freshly loaded plugin; returns any previous state (to drop
/// outside the borrow).
pub(crate) fn install(state: PluginState) -> Option<PluginState> {
    STATE.with(|s| s.borrow_mut().replace(state))
}

/// Takes the state out (unload).
pub(crate) fn take() -> Option<PluginState> {
    STATE.with(|s| s.borrow_mut().take())
}

/// Reads something from the state, if the plugin is loaded.
pub(crate) fn with<T>(f: impl FnOnce(&PluginState) -> T) -> Option<T> {
    STATE.with(|s| s.try_borrow().ok().and_then(|s| s.as_ref().map(f)))
}
