//! Signal connections (owned: dropping one disconnects it) and the signal handlers.
//!
//! At this stage messages pass through unchanged: the IM handlers only leave a debug line,
//! which never contains message text.

use std::ffi::{c_char, c_void, CStr};
use std::mem;

use super::debug;
use super::ffi;
use super::guard::guard;
use super::menus;
use super::objects::{BlistNode, Conversation, Plugin};

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
    unsafe fn connect(
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

/// Erases a handler's signature into libpurple's generic `PurpleCallback`
/// (what the C macro PURPLE_CALLBACK does).
macro_rules! callback {
    ($f:expr, $ty:ty) => {{
        let f: $ty = $f;
        // SAFETY: only the pointer's type changes; libpurple's marshaller calls it back with
        // the signal's real argument list, which `$ty` spells out.
        Some(unsafe { mem::transmute::<$ty, unsafe extern "C" fn()>(f) })
    }};
}

/// Connects every signal the plugin listens to. `None` if any connection failed (the ones
/// already made are disconnected as the vector drops).
pub(crate) fn connect_all(plugin: Plugin) -> Option<Vec<SignalConnection>> {
    // SAFETY: the subsystem handles are static libpurple objects, valid while it runs.
    let (convs, blist, plugins) = unsafe {
        (
            ffi::purple_conversations_get_handle(),
            ffi::purple_blist_get_handle(),
            ffi::purple_plugins_get_handle(),
        )
    };
    type ImSending =
        unsafe extern "C" fn(*mut ffi::PurpleAccount, *const c_char, *mut *mut c_char, *mut c_void);
    type ImReceiving = unsafe extern "C" fn(
        *mut ffi::PurpleAccount,
        *mut *mut c_char,
        *mut *mut c_char,
        *mut ffi::PurpleConversation,
        *mut ffi::PurpleMessageFlags,
        *mut c_void,
    ) -> ffi::gboolean;
    type ConvOnly = unsafe extern "C" fn(*mut ffi::PurpleConversation, *mut c_void);
    type ConvMenu =
        unsafe extern "C" fn(*mut ffi::PurpleConversation, *mut *mut ffi::GList, *mut c_void);
    type BlistMenu =
        unsafe extern "C" fn(*mut ffi::PurpleBlistNode, *mut *mut ffi::GList, *mut c_void);
    type PluginOnly = unsafe extern "C" fn(*mut ffi::PurplePlugin, *mut c_void);

    let table: [(*mut c_void, &'static CStr, ffi::PurpleCallback); 7] = [
        (
            convs,
            c"sending-im-msg",
            callback!(sending_im_msg, ImSending),
        ),
        (
            convs,
            c"receiving-im-msg",
            callback!(receiving_im_msg, ImReceiving),
        ),
        (
            convs,
            c"conversation-created",
            callback!(conversation_created, ConvOnly),
        ),
        (
            convs,
            c"deleting-conversation",
            callback!(deleting_conversation, ConvOnly),
        ),
        (
            convs,
            c"conversation-extended-menu",
            callback!(conversation_extended_menu, ConvMenu),
        ),
        (
            blist,
            c"blist-node-extended-menu",
            callback!(blist_node_extended_menu, BlistMenu),
        ),
        (
            plugins,
            c"plugin-load",
            callback!(plugin_loaded, PluginOnly),
        ),
    ];
    let mut connections = Vec::with_capacity(table.len());
    for (instance, signal, func) in table {
        // SAFETY: each handler's type above is the signal's documented signature
        // (libpurple 2.x signals reference) plus the user-data pointer.
        connections.push(unsafe { SignalConnection::connect(instance, signal, plugin, func) }?);
    }
    Some(connections)
}

unsafe extern "C" fn sending_im_msg(
    _account: *mut ffi::PurpleAccount,
    _receiver: *const c_char,
    _message: *mut *mut c_char,
    _data: *mut c_void,
) {
    guard("sending-im-msg", None, (), || {
        // Never log the message or who it goes to.
        debug::misc("sending-im-msg: outgoing IM passed through unchanged");
    });
}

unsafe extern "C" fn receiving_im_msg(
    _account: *mut ffi::PurpleAccount,
    _sender: *mut *mut c_char,
    _message: *mut *mut c_char,
    _conv: *mut ffi::PurpleConversation,
    _flags: *mut ffi::PurpleMessageFlags,
    _data: *mut c_void,
) -> ffi::gboolean {
    // FALSE: keep the message (TRUE would drop it).
    guard("receiving-im-msg", None, 0, || {
        debug::misc("receiving-im-msg: incoming IM passed through unchanged");
        0
    })
}

unsafe extern "C" fn conversation_created(conv: *mut ffi::PurpleConversation, _data: *mut c_void) {
    // SAFETY: libpurple passes a live conversation for the duration of the signal.
    let conv = unsafe { Conversation::from_ptr(conv) };
    guard("conversation-created", None, (), || {
        if conv.is_some_and(Conversation::is_im) {
            debug::misc("conversation-created: IM conversation");
        }
    });
}

unsafe extern "C" fn deleting_conversation(conv: *mut ffi::PurpleConversation, _data: *mut c_void) {
    // SAFETY: libpurple passes a live conversation for the duration of the signal.
    let conv = unsafe { Conversation::from_ptr(conv) };
    guard("deleting-conversation", None, (), || {
        if conv.is_some_and(Conversation::is_im) {
            debug::misc("deleting-conversation: IM conversation");
        }
    });
}

unsafe extern "C" fn conversation_extended_menu(
    conv: *mut ffi::PurpleConversation,
    list: *mut *mut ffi::GList,
    _data: *mut c_void,
) {
    // SAFETY: libpurple passes a live conversation for the duration of the signal.
    let conv = unsafe { Conversation::from_ptr(conv) };
    guard("conversation-extended-menu", None, (), || {
        if let Some(conv) = conv {
            // SAFETY: `list` is the GList** the signal passes, valid during the signal.
            unsafe { menus::append_conversation_items(conv, list) };
        }
    });
}

unsafe extern "C" fn blist_node_extended_menu(
    node: *mut ffi::PurpleBlistNode,
    list: *mut *mut ffi::GList,
    _data: *mut c_void,
) {
    // SAFETY: libpurple passes a live node for the duration of the signal.
    let node = unsafe { BlistNode::from_ptr(node) };
    guard("blist-node-extended-menu", None, (), || {
        if let Some(node) = node {
            // SAFETY: `list` is the GList** the signal passes, valid during the signal.
            unsafe { menus::append_blist_items(node, list) };
        }
    });
}

/// Another plugin was loaded. If it is pidgin-otr, both plugins would now process every
/// message; we cannot unload it, so we tell the user.
unsafe extern "C" fn plugin_loaded(other: *mut ffi::PurplePlugin, _data: *mut c_void) {
    // SAFETY: libpurple passes the live plugin it just loaded.
    let other = unsafe { Plugin::from_ptr(other) };
    guard("plugin-load", None, (), || {
        if other.is_some_and(|p| p.id() == super::entry::PIDGIN_OTR_ID) {
            super::entry::warn_conflict_after_load();
        }
    });
}
