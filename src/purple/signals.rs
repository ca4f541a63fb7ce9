//! Signal connections (owned: dropping one disconnects it) and the signal handlers.
//!
//! The IM handlers hand every message to the bridge and never log message text.

use std::ffi::{c_char, c_void, CStr};
use std::mem;

use std::ptr;

use super::debug;
use super::ffi;
use super::guard::guard;
use super::host::SignalConnection;
use super::menus;
use super::objects::{Account, BlistNode, Buddy, Conversation, Plugin};
use super::prefs;
use super::runtime;
use super::text::{c_string, lossy};
use crate::client::wording;

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
    let (convs, blist, plugins, connections, core) = unsafe {
        (
            ffi::purple_conversations_get_handle(),
            ffi::purple_blist_get_handle(),
            ffi::purple_plugins_get_handle(),
            ffi::purple_connections_get_handle(),
            ffi::purple_get_core().cast::<c_void>(),
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
    type BuddyOnly = unsafe extern "C" fn(*mut ffi::PurpleBuddy, *mut c_void);
    type ConnectionOnly = unsafe extern "C" fn(*mut ffi::PurpleConnection, *mut c_void);
    type Quitting = unsafe extern "C" fn(*mut c_void);

    let table: [(*mut c_void, &'static CStr, ffi::PurpleCallback); 13] = [
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
        (
            blist,
            c"buddy-signed-off",
            callback!(buddy_signed_off, BuddyOnly),
        ),
        (blist, c"buddy-removed", callback!(buddy_removed, BuddyOnly)),
        (
            blist,
            c"buddy-signed-on",
            callback!(buddy_signed_on, BuddyOnly),
        ),
        (
            connections,
            c"signed-off",
            callback!(account_signed_off, ConnectionOnly),
        ),
        (
            connections,
            c"signed-on",
            callback!(account_signed_on, ConnectionOnly),
        ),
        (core, c"quitting", callback!(quitting, Quitting)),
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
    account: *mut ffi::PurpleAccount,
    receiver: *const c_char,
    message: *mut *mut c_char,
    _data: *mut c_void,
) {
    // SAFETY: libpurple passes the live sending account for the duration of the signal.
    let account = unsafe { Account::from_ptr(account) };
    guard("sending-im-msg", None, (), || {
        let Some(account) = account else { return };
        if message.is_null() {
            return;
        }
        // SAFETY: `receiver` is the conversation's name and `*message` the text to send,
        // both NUL-terminated for the duration of the signal.
        let (who, text) = unsafe { (lossy(receiver), lossy(*message)) };
        if text.is_empty() {
            return;
        }
        // Fail closed: the text is withheld before any work, and only what the client
        // decided goes back in. Whatever goes wrong below (a panic included), libpurple
        // then sends nothing.
        // SAFETY: `message` points at libpurple's g_malloc'd string, which we own now.
        unsafe { replace(message, None) };
        let key = runtime::conv_key(account, &who);
        let handled = guard("sending-im-msg (message)", None, false, || {
            if runtime::with(|r| r.test_panic).unwrap_or(false) && text.contains(TEST_PANIC_SEND) {
                panic!("test-only panic on the send path");
            }
            let settings = prefs::settings_of(&key);
            let Some(sent) =
                runtime::with_client(|c| c.outgoing(&key, &settings, &text, runtime::now()))
            else {
                return false;
            };
            debug::misc(&format!(
                "sending-im-msg: {} piece(s) to send, message {}",
                sent.wire.len(),
                if sent.carries_message {
                    "goes out"
                } else {
                    "held or refused"
                }
            ));
            // Fragments and protocol messages go out first, straight to the server, in
            // order. When the typed message itself goes out, libpurple sends its last piece,
            // so the window shows (and logs, as the user chose) what was typed. A held
            // message is shown by the client's effect, never logged, never shown twice.
            let mut wire = sent.wire;
            let last = if sent.carries_message {
                wire.pop()
            } else {
                None
            };
            for piece in &wire {
                account.send_im(&who, piece);
            }
            // SAFETY: as above; `*message` is NULL now.
            unsafe { replace(message, last.as_deref()) };
            runtime::apply(sent.effects);
            true
        });
        if !handled {
            debug::error("sending-im-msg: the message could not be processed; withheld");
            if let Some(c) = runtime::conversation(&key) {
                c.write_notice_markup(&wording::not_sent_internal_error(&text), true);
            }
        }
    });
}

/// In debug builds with PURPLE_OTR_TEST_PANIC=1, a message containing this panics on the
/// send path (tests prove it fails closed).
const TEST_PANIC_SEND: &str = "__purple_otr_test_panic_send__";

/// Replaces a libpurple-owned `char *` (g_malloc'd) with a copy of `text`, or NULL.
///
/// # Safety
/// `slot` points at a valid `char *` that is NULL or g_malloc'd and owned by the caller.
unsafe fn replace(slot: *mut *mut c_char, text: Option<&str>) {
    // SAFETY: per the contract; g_strdup copies our NUL-terminated string.
    unsafe {
        ffi::g_free((*slot).cast());
        *slot = match text {
            Some(t) => {
                let t = c_string(t);
                ffi::g_strdup(t.as_ptr())
            }
            None => ptr::null_mut(),
        };
    }
}

unsafe extern "C" fn receiving_im_msg(
    account: *mut ffi::PurpleAccount,
    sender: *mut *mut c_char,
    message: *mut *mut c_char,
    _conv: *mut ffi::PurpleConversation,
    _flags: *mut ffi::PurpleMessageFlags,
    _data: *mut c_void,
) -> ffi::gboolean {
    // SAFETY: libpurple passes the live receiving account for the duration of the signal.
    let account = unsafe { Account::from_ptr(account) };
    // On a panic the message is dropped (TRUE): it may be an OTR message that must not be
    // shown raw.
    guard("receiving-im-msg", None, 1, || {
        let Some(account) = account else { return 0 };
        if sender.is_null() || message.is_null() {
            return 0;
        }
        // SAFETY: both slots hold NUL-terminated strings (or NULL) for the signal.
        let (who, text) = unsafe { (lossy(*sender), lossy(*message)) };
        let key = runtime::conv_key(account, &who);
        let settings = prefs::settings_of(&key);
        let Some(arrived) =
            runtime::with_client(|b| b.incoming(&key, &settings, &text, runtime::now()))
        else {
            return 0;
        };
        let keep = arrived.display.is_some();
        if arrived.display.as_deref() != Some(text.as_str()) {
            // SAFETY: `*message` is libpurple's g_malloc'd string, ours to replace.
            unsafe { replace(message, arrived.display.as_deref()) };
        }
        runtime::apply(arrived.effects);
        ffi::gboolean::from(!keep)
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

/// The window closed. The private conversation survives it (as in pidgin-otr): a window
/// opened later, by us or by the buddy's next message, shows the same state, and messages
/// that wait keep waiting.
unsafe extern "C" fn deleting_conversation(conv: *mut ffi::PurpleConversation, _data: *mut c_void) {
    // SAFETY: libpurple passes a live conversation for the duration of the signal.
    let conv = unsafe { Conversation::from_ptr(conv) };
    guard("deleting-conversation", None, (), || {
        if conv.is_some_and(Conversation::is_im) {
            debug::misc("deleting-conversation: the session stays");
        }
    });
}

/// The buddy went offline: a private conversation is paused, never dropped to plain text.
unsafe extern "C" fn buddy_signed_off(buddy: *mut ffi::PurpleBuddy, _data: *mut c_void) {
    // SAFETY: libpurple passes the live buddy for the duration of the signal.
    let buddy = unsafe { Buddy::from_ptr(buddy) };
    guard("buddy-signed-off", None, (), || {
        let Some(buddy) = buddy else { return };
        let Some(account) = buddy.account() else {
            return;
        };
        let key = runtime::conv_key(account, &buddy.name());
        runtime::dispatch(|c, _| c.buddy_offline(&key));
    });
}

/// A buddy left the buddy list: a policy of their own (say Always) is kept, so their
/// conversations do not silently fall back to the default.
unsafe extern "C" fn buddy_removed(buddy: *mut ffi::PurpleBuddy, _data: *mut c_void) {
    // SAFETY: libpurple passes the buddy being removed, live (not freed yet) for the signal.
    let buddy = unsafe { Buddy::from_ptr(buddy) };
    guard("buddy-removed", None, (), || {
        let Some(buddy) = buddy else {
            return;
        };
        let (Some(account), Some(policy)) = (buddy.account(), prefs::buddy_policy(buddy.node()))
        else {
            return;
        };
        let key = runtime::conv_key(account, &buddy.name());
        prefs::keep_policy(&key, policy);
        if let Some(c) = runtime::conversation_if_open(&key) {
            let label = prefs::policy_label(Some(policy));
            c.write_notice_markup(&wording::policy_kept(&key.buddy, &label), false);
        }
    });
}

/// The buddy is online (again): a paused private conversation starts again.
unsafe extern "C" fn buddy_signed_on(buddy: *mut ffi::PurpleBuddy, _data: *mut c_void) {
    // SAFETY: libpurple passes the live buddy for the duration of the signal.
    let buddy = unsafe { Buddy::from_ptr(buddy) };
    guard("buddy-signed-on", None, (), || {
        let Some(buddy) = buddy else { return };
        let Some(account) = buddy.account() else {
            return;
        };
        let key = runtime::conv_key(account, &buddy.name());
        let settings = prefs::settings_of(&key);
        runtime::dispatch(|c, now| c.buddy_online(&key, &settings, now));
    });
}

/// Our account went offline: every private conversation of it is paused.
unsafe extern "C" fn account_signed_off(gc: *mut ffi::PurpleConnection, _data: *mut c_void) {
    // SAFETY: libpurple passes the live connection; its account outlives it.
    let account = unsafe { Account::from_ptr(ffi::purple_connection_get_account(gc)) };
    guard("signed-off", None, (), || {
        let Some(account) = account else { return };
        let id = runtime::account_id(account);
        runtime::dispatch(|c, _| c.account_offline(&id));
    });
}

/// Our account is back: buddies on the list announce themselves (buddy-signed-on); those
/// without presence (not on the list) are taken as back now.
unsafe extern "C" fn account_signed_on(gc: *mut ffi::PurpleConnection, _data: *mut c_void) {
    // SAFETY: libpurple passes the live connection; its account outlives it.
    let account = unsafe { Account::from_ptr(ffi::purple_connection_get_account(gc)) };
    guard("signed-on", None, (), || {
        let Some(account) = account else { return };
        let id = runtime::account_id(account);
        let keys = runtime::with_client(|c| c.conversations_of(&id)).unwrap_or_default();
        for key in keys {
            if account.buddy(&key.buddy).is_none() {
                let settings = prefs::settings_of(&key);
                runtime::dispatch(|c, now| c.buddy_online(&key, &settings, now));
            }
        }
    });
}

/// The client is quitting: say goodbye to every buddy we are private with (their window
/// would otherwise stay "private" with nobody on our side), as pidgin-otr does.
unsafe extern "C" fn quitting(_data: *mut c_void) {
    guard("quitting", None, (), end_everything);
}

/// Ends every private conversation, telling online buddies, and reports (quoted) every
/// message that waited and is now not sent; used at quit and unload.
pub(crate) fn end_everything() {
    let keys = runtime::with_client(|c| c.conversations()).unwrap_or_default();
    for key in keys {
        let settings = prefs::settings_of(&key);
        runtime::dispatch(|c, now| c.shut_down(&key, &settings, now));
    }
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
        if other.is_some_and(|p| p.id() == super::conflict::PIDGIN_OTR_ID) {
            super::conflict::warn_conflict_after_load();
        }
    });
}
