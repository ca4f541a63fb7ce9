//! Finch: the conversation's state in its window title ("bob@example.org — private, not
//! verified"), visible without scrolling and kept current.
//!
//! Finch 2.14 sets a window's title when it makes the window and otherwise only from its
//! typing handler (gntconv.c `update_buddy_typing`, connected to "buddy-typing" and
//! "buddy-typing-stopped"), which renames the window after `purple_conversation_get_title`.
//! So we set the conversation's title and then emit "buddy-typing-stopped" for it: Finch
//! redraws the title with ours (and, as the buddy's real typing state is read from the
//! conversation, a buddy still typing keeps Finch's typing mark). No GTK, no gnt symbol.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::mem;

use super::ffi;
use super::guard::guard;
use super::objects::{Account, Plugin};
use super::runtime;
use super::text::{c_string, lossy};
use crate::client::ConvKey;

/// A conversation's title as the UI made it, and the one we made from it.
struct Titles {
    base: String,
    ours: String,
}

thread_local! {
    static TITLES: RefCell<Option<HashMap<ConvKey, Titles>>> = const { RefCell::new(None) };
}

#[repr(C)]
struct GListNode {
    data: *mut c_void,
    next: *mut GListNode,
    prev: *mut GListNode,
}

/// Every open IM conversation.
fn ims() -> Vec<*mut ffi::PurpleConversation> {
    let mut out = Vec::new();
    // SAFETY: libpurple's own list of IM conversations, walked without keeping it.
    unsafe {
        let mut node = ffi::purple_get_ims().cast::<GListNode>();
        while !node.is_null() {
            out.push((*node).data.cast());
            node = (*node).next;
        }
    }
    out
}

fn key_of(conv: *mut ffi::PurpleConversation) -> Option<ConvKey> {
    // SAFETY: a live conversation from libpurple's list or a signal.
    unsafe { super::objects::Conversation::from_ptr(conv) }
        .filter(|c| c.is_im())
        .and_then(runtime::key_of)
}

fn find(key: &ConvKey) -> Option<*mut ffi::PurpleConversation> {
    let account = Account::find(&key.account.name, &key.account.protocol)?;
    let name = c_string(&key.buddy);
    // SAFETY: live account, NUL-terminated name; finds, never opens, a conversation.
    let conv = unsafe {
        ffi::purple_find_conversation_with_account(
            ffi::PURPLE_CONV_TYPE_IM,
            name.as_ptr(),
            account.as_ptr(),
        )
    };
    (!conv.is_null()).then_some(conv)
}

pub(crate) fn init(plugin: Plugin) {
    TITLES.with(|t| *t.borrow_mut() = Some(HashMap::new()));
    type Created = unsafe extern "C" fn(*mut ffi::PurpleConversation, *mut c_void);
    type Updated = unsafe extern "C" fn(*mut ffi::PurpleConversation, u32, *mut c_void);
    type Deleting = unsafe extern "C" fn(*mut ffi::PurpleConversation, *mut c_void);
    // SAFETY: libpurple's conversations handle; the handlers have the signals' signatures
    // (conversation.c: "conversation-created" (conv), "conversation-updated" (conv, type)),
    // erased as PURPLE_CALLBACK does; they go with the plugin handle on unload.
    unsafe {
        let handle = ffi::purple_conversations_get_handle();
        ffi::purple_signal_connect(
            handle,
            c"conversation-created".as_ptr(),
            plugin.handle(),
            Some(mem::transmute::<Created, unsafe extern "C" fn()>(created)),
            std::ptr::null_mut(),
        );
        ffi::purple_signal_connect(
            handle,
            c"conversation-updated".as_ptr(),
            plugin.handle(),
            Some(mem::transmute::<Updated, unsafe extern "C" fn()>(updated)),
            std::ptr::null_mut(),
        );
        ffi::purple_signal_connect(
            handle,
            c"deleting-conversation".as_ptr(),
            plugin.handle(),
            Some(mem::transmute::<Deleting, unsafe extern "C" fn()>(deleting)),
            std::ptr::null_mut(),
        );
    }
    // Conversations already open have their windows.
    for conv in ims() {
        if let Some(key) = key_of(conv) {
            show(conv, &key, true);
        }
    }
}

/// Gives every window back the title Finch would give it.
pub(crate) fn uninit() {
    if TITLES.with(|t| t.borrow_mut().take()).is_none() {
        return;
    }
    for conv in ims() {
        // SAFETY: a live IM conversation; libpurple recomputes its usual title.
        unsafe { ffi::purple_conversation_autoset_title(conv) };
        redraw(conv);
    }
}

pub(crate) fn state_changed(key: &ConvKey) {
    if let Some(conv) = find(key) {
        show(conv, key, false);
    }
}

pub(crate) fn refresh_all() {
    for conv in ims() {
        if let Some(key) = key_of(conv) {
            show(conv, &key, false);
        }
    }
}

/// Sets the title for the conversation's view if it differs from what it shows. The UI's
/// own title (the buddy's alias) stays in front; a title libpurple set since ours (the
/// alias changed) becomes the new front part.
fn show(conv: *mut ffi::PurpleConversation, key: &ConvKey, ready: bool) {
    let Some(view) = runtime::with_client(|b| b.view(key)) else {
        return;
    };
    // SAFETY: a live conversation; libpurple owns the returned title.
    let current = unsafe { lossy(ffi::purple_conversation_get_title(conv)) };
    let wanted = TITLES.with(|t| {
        let mut t = t.borrow_mut();
        let t = t.as_mut()?;
        // Only conversations Finch has a window for: libpurple sets a new conversation's
        // title (and so calls "conversation-updated") before the UI made its window, and
        // Finch's typing handler would then find no window.
        if ready {
            t.entry(key.clone()).or_insert_with(|| Titles {
                base: current.clone(),
                ours: String::new(),
            });
        }
        let entry = t.get_mut(key)?;
        if current != entry.ours {
            entry.base = current.clone();
        }
        entry.ours = view.title_for(&entry.base);
        Some(entry.ours.clone())
    });
    let Some(title) = wanted else { return }; // not loaded, or no window yet
    if current == title {
        return;
    }
    let t = c_string(&title);
    // SAFETY: live conversation; libpurple copies the title.
    unsafe { ffi::purple_conversation_set_title(conv, t.as_ptr()) };
    redraw(conv);
}

/// Makes Finch rename the window after the conversation's title (see the module comment).
fn redraw(conv: *mut ffi::PurpleConversation) {
    // SAFETY: a live conversation; the signal's arguments are (PurpleAccount *, const char
    // *name), as libpurple registers "buddy-typing-stopped"; the name outlives the call.
    unsafe {
        let account = ffi::purple_conversation_get_account(conv);
        let name = ffi::purple_conversation_get_name(conv);
        if account.is_null() || name.is_null() {
            return;
        }
        ffi::purple_signal_emit(
            ffi::purple_conversations_get_handle(),
            c"buddy-typing-stopped".as_ptr(),
            account,
            name,
        );
    }
}

unsafe extern "C" fn created(conv: *mut ffi::PurpleConversation, _data: *mut c_void) {
    guard("conversation-created (title)", None, (), || {
        if let Some(key) = key_of(conv) {
            show(conv, &key, true);
        }
    });
}

unsafe extern "C" fn deleting(conv: *mut ffi::PurpleConversation, _data: *mut c_void) {
    guard("deleting-conversation (title)", None, (), || {
        if let Some(key) = key_of(conv) {
            TITLES.with(|t| t.borrow_mut().as_mut().map(|t| t.remove(&key)));
        }
    });
}

/// libpurple resets the title when the buddy's alias changes: put ours back.
unsafe extern "C" fn updated(conv: *mut ffi::PurpleConversation, what: u32, _data: *mut c_void) {
    guard("conversation-updated (title)", None, (), || {
        if what == ffi::PURPLE_CONV_UPDATE_TITLE {
            if let Some(key) = key_of(conv) {
                show(conv, &key, false);
            }
        }
    });
}
