//! libpurple's objects as `NonNull` newtypes.
//!
//! A wrapper is only built (through an `unsafe fn from_ptr`) from a pointer libpurple just
//! handed us, and is used while libpurple keeps that object alive: within the callback that
//! received it. Nothing here stores a wrapper beyond that, except [`Plugin`], which
//! libpurple keeps alive for as long as the plugin is loaded.

use std::ffi::{c_char, c_void};
use std::ptr::{self, NonNull};

use super::ffi;
use super::text::{c_string, lossy};
use crate::client::markup::escape_markup;

/// Our own `PurplePlugin`: also the handle every signal, command and notification is
/// registered under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plugin(NonNull<ffi::PurplePlugin>);

impl Plugin {
    /// # Safety
    /// `p` is NULL or a `PurplePlugin` that stays alive while the wrapper is used.
    pub(crate) unsafe fn from_ptr(p: *mut ffi::PurplePlugin) -> Option<Self> {
        NonNull::new(p).map(Self)
    }

    /// The opaque handle libpurple uses to group our registrations.
    pub(crate) fn handle(self) -> *mut c_void {
        self.0.as_ptr().cast()
    }

    /// Sets (or clears) the error text Pidgin shows for this plugin in its plugin dialog.
    pub(crate) fn set_error(self, message: Option<&str>) {
        let new = match message {
            // SAFETY: g_strdup copies the NUL-terminated string; the copy is owned by the
            // plugin struct and freed by libpurple (or by the next call here).
            Some(m) => unsafe { ffi::g_strdup(c_string(m).as_ptr()) },
            None => ptr::null_mut(),
        };
        // SAFETY: `self` points to a live PurplePlugin (constructor contract); `error` is a
        // g_malloc'd string or NULL, owned by the plugin struct, so we free the old one.
        unsafe {
            let plugin = self.0.as_ptr();
            let old = (*plugin).error;
            (*plugin).error = new;
            ffi::g_free(old.cast());
        }
    }

    /// Whether a plugin with this id is loaded right now (e.g. pidgin-otr, id "otr").
    pub(crate) fn is_loaded_with_id(id: &str) -> bool {
        let id = c_string(id);
        // SAFETY: `id` is NUL-terminated and outlives both calls; the returned plugin
        // pointer (if any) is owned by libpurple and only passed straight back to it.
        unsafe {
            let p = ffi::purple_plugins_find_with_id(id.as_ptr());
            !p.is_null() && ffi::purple_plugin_is_loaded(p) != 0
        }
    }

    /// The plugin's id, read lossily.
    pub(crate) fn id(self) -> String {
        // SAFETY: live plugin; the id string belongs to it and is copied at once.
        unsafe { lossy(ffi::purple_plugin_get_id(self.0.as_ptr())) }
    }
}

/// Shows an error dialog (Pidgin, Finch: both implement libpurple's notify UI).
pub(crate) fn notify_error(handle: *mut c_void, title: &str, primary: &str, secondary: &str) {
    notify(
        handle,
        ffi::PURPLE_NOTIFY_MSG_ERROR,
        title,
        primary,
        secondary,
    );
}

/// Shows an information dialog.
pub(crate) fn notify_info(handle: *mut c_void, title: &str, primary: &str, secondary: &str) {
    notify(
        handle,
        ffi::PURPLE_NOTIFY_MSG_INFO,
        title,
        primary,
        secondary,
    );
}

fn notify(
    handle: *mut c_void,
    kind: ffi::PurpleNotifyMsgType,
    title: &str,
    primary: &str,
    secondary: &str,
) {
    let (t, p, s) = (c_string(title), c_string(primary), c_string(secondary));
    // SAFETY: all strings are NUL-terminated and outlive the call (libpurple copies them);
    // no callback is passed; `handle` only groups the dialog for closing on unload.
    unsafe {
        ffi::purple_notify_message(
            handle,
            kind,
            t.as_ptr(),
            p.as_ptr(),
            s.as_ptr(),
            None,
            ptr::null_mut(),
        );
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Conversation(NonNull<ffi::PurpleConversation>);

impl Conversation {
    /// # Safety
    /// `p` is NULL or a live `PurpleConversation` for as long as the wrapper is used.
    pub(crate) unsafe fn from_ptr(p: *mut ffi::PurpleConversation) -> Option<Self> {
        NonNull::new(p).map(Self)
    }

    /// One-to-one (IM) conversation, the only kind OTR protects.
    pub(crate) fn is_im(self) -> bool {
        // SAFETY: live conversation (constructor contract).
        unsafe { ffi::purple_conversation_get_type(self.0.as_ptr()) == ffi::PURPLE_CONV_TYPE_IM }
    }

    /// Writes a line from the plugin (not from either person) into the conversation.
    /// `text` is plain text; it is escaped here.
    pub(crate) fn write_system(self, text: &str) {
        self.write(
            text,
            ffi::PURPLE_MESSAGE_SYSTEM | ffi::PURPLE_MESSAGE_NO_LOG,
        );
    }

    /// Like [`Self::write_system`], flagged as an error.
    pub(crate) fn write_error(self, text: &str) {
        self.write(
            text,
            ffi::PURPLE_MESSAGE_SYSTEM | ffi::PURPLE_MESSAGE_ERROR | ffi::PURPLE_MESSAGE_NO_LOG,
        );
    }

    /// Writes a notice that is already markup (see `wording`: names and peer text escaped
    /// there). Warnings are flagged as errors so UIs show them prominently.
    pub(crate) fn write_notice_markup(self, markup: &str, warning: bool) {
        let mut flags = ffi::PURPLE_MESSAGE_SYSTEM | ffi::PURPLE_MESSAGE_NO_LOG;
        if warning {
            flags |= ffi::PURPLE_MESSAGE_ERROR;
        }
        self.write_raw(markup, flags);
    }

    /// Shows a message the user typed that was not sent (yet), as their own line but never
    /// logged, so it does not silently disappear from the window.
    pub(crate) fn write_typed(self, text: &str) {
        let markup = c_string(text);
        // SAFETY: live conversation; for an IM conversation the IM data is live with it;
        // libpurple copies the text; `who` NULL means our own account's name.
        unsafe {
            let im = ffi::purple_conversation_get_im_data(self.0.as_ptr());
            if im.is_null() {
                return;
            }
            ffi::purple_conv_im_write(
                im,
                ptr::null(),
                markup.as_ptr(),
                ffi::PURPLE_MESSAGE_SEND | ffi::PURPLE_MESSAGE_NO_LOG,
                libc::time(ptr::null_mut()),
            );
        }
    }

    /// The account the conversation belongs to.
    pub(crate) fn account(self) -> Option<Account> {
        // SAFETY: live conversation; its account outlives it.
        unsafe { Account::from_ptr(ffi::purple_conversation_get_account(self.0.as_ptr())) }
    }

    /// The conversation's name (for IMs: the buddy as the protocol names them).
    pub(crate) fn name(self) -> String {
        // SAFETY: live conversation; the name is copied at once.
        unsafe { lossy(ffi::purple_conversation_get_name(self.0.as_ptr())) }
    }

    pub(crate) fn set_logging(self, on: bool) {
        // SAFETY: live conversation.
        unsafe { ffi::purple_conversation_set_logging(self.0.as_ptr(), ffi::gboolean::from(on)) }
    }

    fn write(self, text: &str, flags: ffi::PurpleMessageFlags) {
        self.write_raw(&escape_markup(text), flags);
    }

    fn write_raw(self, markup: &str, flags: ffi::PurpleMessageFlags) {
        let markup = c_string(markup);
        // SAFETY: live conversation; `markup` is NUL-terminated and libpurple copies it;
        // `who` NULL means "no sender" for a system line.
        unsafe {
            ffi::purple_conversation_write(
                self.0.as_ptr(),
                ptr::null(),
                markup.as_ptr(),
                flags,
                libc::time(ptr::null_mut()),
            );
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlistNode(NonNull<ffi::PurpleBlistNode>);

impl BlistNode {
    /// # Safety
    /// `p` is NULL or a live `PurpleBlistNode` for as long as the wrapper is used.
    pub(crate) unsafe fn from_ptr(p: *mut ffi::PurpleBlistNode) -> Option<Self> {
        NonNull::new(p).map(Self)
    }

    /// The buddy this row stands for: a buddy row itself, or a contact row's priority
    /// buddy (Finch asks for the contact row's menu, Pidgin for the buddy row's).
    pub(crate) fn buddy(self) -> Option<Buddy> {
        let node = self.0.as_ptr();
        // SAFETY: live node. A node of type BUDDY is a PurpleBuddy and one of type CONTACT a
        // PurpleContact (libpurple's own PURPLE_BUDDY()/PURPLE_CONTACT() casts); the
        // priority buddy is a live child of the contact (or NULL).
        unsafe {
            match ffi::purple_blist_node_get_type(node) {
                ffi::PURPLE_BLIST_BUDDY_NODE => Buddy::from_ptr(node.cast()),
                ffi::PURPLE_BLIST_CONTACT_NODE => {
                    Buddy::from_ptr(ffi::purple_contact_get_priority_buddy(node.cast()))
                }
                _ => None,
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Buddy(NonNull<ffi::PurpleBuddy>);

impl Buddy {
    /// # Safety
    /// `p` is NULL or a live `PurpleBuddy` for as long as the wrapper is used.
    pub(crate) unsafe fn from_ptr(p: *mut ffi::PurpleBuddy) -> Option<Self> {
        NonNull::new(p).map(Self)
    }

    /// The IM conversation with this buddy, opened if there is none yet.
    pub(crate) fn im_conversation(self) -> Option<Conversation> {
        // SAFETY: live buddy; its account and name are owned by libpurple and passed
        // straight back to it; the conversation returned is live (libpurple owns it).
        unsafe {
            let account = ffi::purple_buddy_get_account(self.0.as_ptr());
            let name: *const c_char = ffi::purple_buddy_get_name(self.0.as_ptr());
            if account.is_null() || name.is_null() {
                return None;
            }
            let existing =
                ffi::purple_find_conversation_with_account(ffi::PURPLE_CONV_TYPE_IM, name, account);
            let conv = if existing.is_null() {
                ffi::purple_conversation_new(ffi::PURPLE_CONV_TYPE_IM, account, name)
            } else {
                existing
            };
            Conversation::from_ptr(conv)
        }
    }
}

/// A libpurple account. Looked up again by name whenever work is deferred (a timer, a
/// dialog), since the user may delete an account at any time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Account(NonNull<ffi::PurpleAccount>);

impl Account {
    /// # Safety
    /// `p` is NULL or a live `PurpleAccount` for as long as the wrapper is used.
    pub(crate) unsafe fn from_ptr(p: *mut ffi::PurpleAccount) -> Option<Self> {
        NonNull::new(p).map(Self)
    }

    /// The account the key files call `name` on `protocol`, if it still exists.
    pub(crate) fn find(name: &str, protocol: &str) -> Option<Self> {
        let (n, p) = (c_string(name), c_string(protocol));
        // SAFETY: NUL-terminated strings for the duration of the call.
        unsafe { Self::from_ptr(ffi::purple_accounts_find(n.as_ptr(), p.as_ptr())) }
    }

    pub(crate) fn as_ptr(self) -> *mut ffi::PurpleAccount {
        self.0.as_ptr()
    }

    /// libpurple's username (with the XMPP resource, not normalised: the key files'
    /// account name, as pidgin-otr uses it).
    pub(crate) fn username(self) -> String {
        // SAFETY: live account; string copied at once.
        unsafe { lossy(ffi::purple_account_get_username(self.0.as_ptr())) }
    }

    pub(crate) fn protocol_id(self) -> String {
        // SAFETY: live account; string copied at once.
        unsafe { lossy(ffi::purple_account_get_protocol_id(self.0.as_ptr())) }
    }

    /// The protocol's normal form of a buddy name (XMPP: lower-case bare JID), as pidgin-otr
    /// stores buddies in otr.fingerprints.
    pub(crate) fn normalize(self, who: &str) -> String {
        let w = c_string(who);
        // SAFETY: live account, NUL-terminated name; libpurple returns a static buffer (or
        // NULL), copied at once before anything else can overwrite it.
        let n = unsafe { ffi::purple_normalize(self.0.as_ptr(), w.as_ptr()) };
        if n.is_null() {
            who.to_string()
        } else {
            // SAFETY: non-NULL, NUL-terminated.
            unsafe { lossy(n) }
        }
    }

    pub(crate) fn is_connected(self) -> bool {
        // SAFETY: live account.
        unsafe { ffi::purple_account_is_connected(self.0.as_ptr()) != 0 }
    }

    /// Sends `text` to `who` straight to the server: no signals, nothing shown (protocol
    /// messages). False when the account is offline or the protocol refused.
    pub(crate) fn send_im(self, who: &str, text: &str) -> bool {
        let (w, t) = (c_string(who), c_string(text));
        // SAFETY: live account; a NULL connection is checked; strings outlive the call.
        unsafe {
            let gc = ffi::purple_account_get_connection(self.0.as_ptr());
            if gc.is_null() {
                return false;
            }
            ffi::serv_send_im(gc, w.as_ptr(), t.as_ptr(), 0) > 0
        }
    }

    /// The IM conversation with `who`, opened if there is none.
    pub(crate) fn conversation(self, who: &str) -> Option<Conversation> {
        if let Some(open) = self.open_conversation(who) {
            return Some(open);
        }
        let w = c_string(who);
        // SAFETY: live account, NUL-terminated name; libpurple owns the conversation.
        unsafe {
            Conversation::from_ptr(ffi::purple_conversation_new(
                ffi::PURPLE_CONV_TYPE_IM,
                self.0.as_ptr(),
                w.as_ptr(),
            ))
        }
    }

    /// The IM conversation with `who`, if one is open.
    pub(crate) fn open_conversation(self, who: &str) -> Option<Conversation> {
        let w = c_string(who);
        // SAFETY: live account, NUL-terminated name; libpurple owns the conversation.
        unsafe {
            Conversation::from_ptr(ffi::purple_find_conversation_with_account(
                ffi::PURPLE_CONV_TYPE_IM,
                w.as_ptr(),
                self.0.as_ptr(),
            ))
        }
    }

    /// The buddy-list entry for `who`, if the buddy is on the list.
    pub(crate) fn buddy(self, who: &str) -> Option<Buddy> {
        let w = c_string(who);
        // SAFETY: live account, NUL-terminated name.
        unsafe { Buddy::from_ptr(ffi::purple_find_buddy(self.0.as_ptr(), w.as_ptr())) }
    }
}

impl Buddy {
    /// Online per their presence. pidgin-otr tells a buddy the session ended only when
    /// they are on the list and online; libotr sends nothing otherwise.
    pub(crate) fn is_online(self) -> bool {
        // SAFETY: live buddy; its presence lives as long as it.
        unsafe {
            let presence = ffi::purple_buddy_get_presence(self.0.as_ptr());
            !presence.is_null() && ffi::purple_presence_is_online(presence) != 0
        }
    }

    pub(crate) fn account(self) -> Option<Account> {
        // SAFETY: live buddy; its account outlives it.
        unsafe { Account::from_ptr(ffi::purple_buddy_get_account(self.0.as_ptr())) }
    }

    pub(crate) fn name(self) -> String {
        // SAFETY: live buddy; string copied at once.
        unsafe { lossy(ffi::purple_buddy_get_name(self.0.as_ptr())) }
    }

    pub(crate) fn node(self) -> BlistNode {
        BlistNode(self.0.cast())
    }
}

impl BlistNode {
    /// A string setting stored on this node in blist.xml.
    pub(crate) fn get_string(self, key: &str) -> Option<String> {
        let k = c_string(key);
        // SAFETY: live node, NUL-terminated key; the value is copied at once.
        let v = unsafe { ffi::purple_blist_node_get_string(self.0.as_ptr(), k.as_ptr()) };
        // SAFETY: NULL or a NUL-terminated string owned by the node.
        (!v.is_null()).then(|| unsafe { lossy(v) })
    }

    pub(crate) fn set_string(self, key: &str, value: Option<&str>) {
        let k = c_string(key);
        // SAFETY: live node; libpurple copies key and value.
        unsafe {
            match value {
                Some(v) => {
                    let v = c_string(v);
                    ffi::purple_blist_node_set_string(self.0.as_ptr(), k.as_ptr(), v.as_ptr());
                }
                None => ffi::purple_blist_node_remove_setting(self.0.as_ptr(), k.as_ptr()),
            }
        }
    }

    pub(crate) fn get_bool(self, key: &str) -> bool {
        let k = c_string(key);
        // SAFETY: live node, NUL-terminated key.
        unsafe { ffi::purple_blist_node_get_bool(self.0.as_ptr(), k.as_ptr()) != 0 }
    }
}
