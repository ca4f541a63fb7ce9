//! What the plugin registers with libpurple, each as an owned value that undoes its
//! registration when dropped: signal connections, the `/otr` command, timers, and the table
//! of open request dialogs (answered through integer tokens, never pointers).

use std::any::Any;
use std::collections::HashMap;
use std::ffi::{c_void, CStr};

use super::debug;
use super::ffi;
use super::objects::Plugin;

/// One `purple_signal_connect` registration, disconnected when dropped.
#[derive(Debug)]
pub(crate) struct SignalConnection {
    instance: *mut c_void,
    signal: &'static CStr,
    handle: *mut c_void,
    func: ffi::PurpleCallback,
}

impl SignalConnection {
    /// Connects `func` to `signal` on `instance` (a libpurple subsystem handle).
    ///
    /// # Safety
    /// `func` is an `extern "C"` function whose real signature matches what libpurple
    /// passes for `signal` (its arguments plus the trailing user-data pointer).
    pub(crate) unsafe fn connect(
        instance: *mut c_void,
        signal: &'static CStr,
        plugin: Plugin,
        func: ffi::PurpleCallback,
    ) -> Option<Self> {
        // SAFETY: `instance` is a live subsystem handle, `signal` a static C string and
        // `func` matches the signal per this function's contract; no user data.
        let id = unsafe {
            ffi::purple_signal_connect(
                instance,
                signal.as_ptr(),
                plugin.handle(),
                func,
                std::ptr::null_mut(),
            )
        };
        if id == 0 {
            debug::error(&format!(
                "could not connect to signal {}",
                signal.to_string_lossy()
            ));
            return None;
        }
        Some(Self {
            instance,
            signal,
            handle: plugin.handle(),
            func,
        })
    }
}

impl Drop for SignalConnection {
    fn drop(&mut self) {
        // SAFETY: the same (instance, signal, handle, func) that was connected; libpurple
        // ignores a connection that is already gone (e.g. after disconnect_by_handle).
        unsafe {
            ffi::purple_signal_disconnect(
                self.instance,
                self.signal.as_ptr(),
                self.handle,
                self.func,
            );
        }
    }
}

/// A registered command, unregistered when dropped.
#[derive(Debug)]
pub(crate) struct CommandRegistration(ffi::PurpleCmdId);

impl CommandRegistration {
    /// Wraps an id `purple_cmd_register` returned (0 means it failed: `None`).
    pub(crate) fn from_id(id: ffi::PurpleCmdId) -> Option<Self> {
        (id != 0).then_some(CommandRegistration(id))
    }
}

impl Drop for CommandRegistration {
    fn drop(&mut self) {
        // SAFETY: an id purple_cmd_register returned; unregistering twice is harmless.
        unsafe { ffi::purple_cmd_unregister(self.0) }
    }
}

/// A one-shot timer, removed when dropped unless it already fired ([`Timer::fired`]: GLib
/// complains about removing a source that is gone).
#[derive(Debug)]
pub(crate) struct Timer(u32);

impl Timer {
    /// Calls `fire` once after `ms` milliseconds (it returns FALSE to stop).
    pub(crate) fn after(
        ms: u32,
        fire: unsafe extern "C" fn(*mut c_void) -> ffi::gboolean,
    ) -> Option<Timer> {
        // SAFETY: `fire` has GSourceFunc's signature; no user data.
        let id = unsafe { ffi::purple_timeout_add(ms, Some(fire), std::ptr::null_mut()) };
        (id != 0).then_some(Timer(id))
    }
}

impl Timer {
    /// The timer ran and returned FALSE: GLib removed it already.
    pub(crate) fn fired(self) {
        std::mem::forget(self);
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: an id purple_timeout_add returned.
        unsafe { ffi::purple_timeout_remove(self.0) };
    }
}

/// Open request dialogs: each callback gets a token naming an entry here, so a dialog
/// answered after its conversation closed (or twice, or after unload) finds nothing and
/// does nothing — pidgin-otr's SMP dialog once used freed memory.
#[derive(Default)]
pub(crate) struct Requests {
    open: HashMap<usize, Box<dyn Any>>,
    /// The UI's handle of each open dialog, by token (to close one on its own).
    ui_handles: HashMap<usize, usize>,
    next: usize,
}

impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests")
            .field("open", &self.open.len())
            .finish()
    }
}

impl Requests {
    /// Remembers what a dialog is about; the token goes to libpurple as user data.
    pub(crate) fn remember(&mut self, what: Box<dyn Any>) -> usize {
        self.next = self.next.wrapping_add(1).max(1);
        self.open.insert(self.next, what);
        self.next
    }

    /// What the dialog with this token was about, once.
    pub(crate) fn take(&mut self, token: usize) -> Option<Box<dyn Any>> {
        self.ui_handles.remove(&token);
        self.open.remove(&token)
    }

    /// Remembers the UI's handle of a dialog that is still open (a UI may answer at once).
    pub(crate) fn set_ui_handle(&mut self, token: usize, ui: usize) {
        if self.open.contains_key(&token) {
            self.ui_handles.insert(token, ui);
        }
    }

    /// Forgets every open dialog `about` matches; returns their UI handles (to close them).
    pub(crate) fn take_matching(&mut self, about: impl Fn(&dyn Any) -> bool) -> Vec<usize> {
        let tokens: Vec<usize> = self
            .open
            .iter()
            .filter(|(_, what)| about(what.as_ref()))
            .map(|(t, _)| *t)
            .collect();
        tokens
            .into_iter()
            .filter_map(|t| {
                self.open.remove(&t);
                self.ui_handles.remove(&t)
            })
            .collect()
    }

    pub(crate) fn clear(&mut self) {
        self.open.clear();
        self.ui_handles.clear();
    }
}
