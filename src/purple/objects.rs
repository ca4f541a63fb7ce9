//! libpurple's objects as `NonNull` newtypes.
//!
//! A wrapper is only built (through an `unsafe fn from_ptr`) from a pointer libpurple just
//! handed us, and is used while libpurple keeps that object alive: within the callback that
//! received it. Nothing here stores a wrapper beyond that, except [`Plugin`], which
//! libpurple keeps alive for as long as the plugin is loaded.

use std::ffi::{c_char, c_void};
use std::ptr::{self, NonNull};

use super::ffi;
use super::text::{c_string, escape_markup, lossy};

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
    let (t, p, s) = (c_string(title), c_string(primary), c_string(secondary));
    // SAFETY: all strings are NUL-terminated and outlive the call (libpurple copies them);
    // no callback is passed; `handle` only groups the dialog for closing on unload.
    unsafe {
        ffi::purple_notify_message(
            handle,
            ffi::PURPLE_NOTIFY_MSG_ERROR,
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

    fn write(self, text: &str, flags: ffi::PurpleMessageFlags) {
        let markup = c_string(&escape_markup(text));
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
