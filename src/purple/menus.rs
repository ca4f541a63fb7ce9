//! The plugin's menu items, built from one table, for two places: a conversation's
//! extended menu (Pidgin: Conversation -> More) and the buddy list's context menu (buddy
//! rows in Pidgin, contact rows in Finch).

use std::ffi::{c_void, CStr};
use std::mem;
use std::ptr;

use super::actions;
use super::dialogs;
use super::ffi;
use super::guard::guard;
use super::i18n::{n_c, tr_c};
use super::objects::{BlistNode, Conversation};
use super::runtime;
use crate::client::ConvKey;

enum Action {
    Conversation(fn(Conversation)),
    Node(fn(BlistNode)),
}

struct MenuItem {
    label: &'static CStr,
    /// The label while the conversation is private, if different.
    private_label: Option<&'static CStr>,
    action: Action,
}

/// The one table both menus are built from. A menu item's user data is its index here.
const ITEMS: [MenuItem; 5] = [
    MenuItem {
        label: n_c(c"Start private conversation"),
        private_label: Some(n_c(c"Refresh private conversation")),
        action: Action::Conversation(actions::start_private),
    },
    MenuItem {
        label: n_c(c"End private conversation"),
        private_label: None,
        action: Action::Conversation(actions::end_private),
    },
    MenuItem {
        label: n_c(c"Verify fingerprint"),
        private_label: None,
        action: Action::Conversation(actions::verify_fingerprint),
    },
    MenuItem {
        label: n_c(c"Authenticate buddy"),
        private_label: None,
        action: Action::Conversation(actions::authenticate_buddy),
    },
    // Buddy list only: settings belong to the buddy, not to one conversation.
    MenuItem {
        label: n_c(c"OTR settings for this buddy"),
        private_label: None,
        action: Action::Node(actions::buddy_settings),
    },
];

type Activated<T> = unsafe extern "C" fn(*mut T, *mut c_void);

/// Appends every item to `*list`; each action is called back with the object the UI built
/// the menu for (the conversation or the buddy-list node) and the item's index.
///
/// # Safety
/// `list` is the valid `GList **` a menu signal passes; `T` is the object type the UI
/// passes to actions of that menu.
unsafe fn append_items<T>(
    list: *mut *mut ffi::GList,
    on_activate: Activated<T>,
    private: bool,
    with_node_items: bool,
) {
    if list.is_null() {
        return;
    }
    // SAFETY: PURPLE_CALLBACK: only the pointer type is erased; the UI calls it back as
    // `void (*)(object, gpointer data)`, which `Activated<T>` spells out.
    let callback =
        Some(unsafe { mem::transmute::<Activated<T>, unsafe extern "C" fn()>(on_activate) });
    for (index, item) in ITEMS.iter().enumerate() {
        if matches!(item.action, Action::Node(_)) && !with_node_items {
            continue;
        }
        let label = tr_c(if private {
            item.private_label.unwrap_or(item.label)
        } else {
            item.label
        });
        // SAFETY: the label is static and copied by libpurple; the user data is a small
        // integer (GINT_TO_POINTER), never dereferenced; no children. The new action is
        // handed to the list, whose owner (the UI) frees it after showing the menu.
        unsafe {
            let action = ffi::purple_menu_action_new(
                label.as_ptr(),
                callback,
                index as *mut c_void,
                ptr::null_mut(),
            );
            *list = ffi::g_list_append(*list, action.cast());
        }
    }
}

/// `conversation-extended-menu`: only IM conversations get the items.
///
/// # Safety
/// `list` is the `GList **` the signal passes.
pub(crate) unsafe fn append_conversation_items(conv: Conversation, list: *mut *mut ffi::GList) {
    if conv.is_im() {
        let private = is_private(runtime::key_of(conv));
        // SAFETY: per this function's contract; conversation menus call back with the
        // PurpleConversation.
        unsafe {
            append_items::<ffi::PurpleConversation>(
                list,
                conversation_item_activated,
                private,
                false,
            )
        };
    }
}

/// `blist-node-extended-menu`: buddy rows and contact rows (via the priority buddy).
///
/// # Safety
/// `list` is the `GList **` the signal passes.
pub(crate) unsafe fn append_blist_items(node: BlistNode, list: *mut *mut ffi::GList) {
    if let Some(buddy) = node.buddy() {
        let private = is_private(buddy.account().map(|a| runtime::conv_key(a, &buddy.name())));
        // SAFETY: per this function's contract; buddy-list menus call back with the node.
        unsafe { append_items::<ffi::PurpleBlistNode>(list, blist_item_activated, private, true) };
    }
}

fn is_private(key: Option<ConvKey>) -> bool {
    key.and_then(|k| runtime::with_client(|b| b.status(&k).is_some_and(|s| s.is_private())))
        .unwrap_or(false)
}

fn item(data: *mut c_void) -> Option<&'static MenuItem> {
    ITEMS.get(data as usize)
}

unsafe extern "C" fn conversation_item_activated(
    conv: *mut ffi::PurpleConversation,
    data: *mut c_void,
) {
    // SAFETY: the UI passes the live conversation whose menu was shown.
    let conv = unsafe { Conversation::from_ptr(conv) };
    guard("conversation menu", conv, (), || {
        if let (
            Some(conv),
            Some(MenuItem {
                action: Action::Conversation(f),
                ..
            }),
        ) = (conv, item(data))
        {
            f(conv);
        }
    });
}

unsafe extern "C" fn blist_item_activated(node: *mut ffi::PurpleBlistNode, data: *mut c_void) {
    // SAFETY: the UI passes the live buddy-list node whose menu was shown.
    let node = unsafe { BlistNode::from_ptr(node) };
    guard("buddy list menu", None, (), || {
        let Some(node) = node else { return };
        match item(data).map(|i| &i.action) {
            Some(Action::Node(f)) => f(node),
            Some(Action::Conversation(f)) => {
                if let Some(conv) = node.buddy().and_then(|b| b.im_conversation()) {
                    f(conv);
                }
            }
            None => {}
        }
    });
}

/// The plugin's actions (Pidgin: Tools → Off-the-Record Messaging; Finch: the buddy list's
/// Plugins menu).
pub(crate) unsafe extern "C" fn plugin_actions(
    _plugin: *mut ffi::PurplePlugin,
    _context: *mut c_void,
) -> *mut ffi::GList {
    type ActionCb = unsafe extern "C" fn(*mut ffi::PurplePluginAction);
    unsafe extern "C" fn known(_a: *mut ffi::PurplePluginAction) {
        guard("known fingerprints", None, (), || {
            dialogs::known_fingerprints(actions::known_fingerprints())
        });
    }
    unsafe extern "C" fn mine(_a: *mut ffi::PurplePluginAction) {
        guard("my fingerprints", None, (), actions::show_own_fingerprints);
    }
    unsafe extern "C" fn import(_a: *mut ffi::PurplePluginAction) {
        guard("import keys", None, (), dialogs::import_keys);
    }
    unsafe extern "C" fn export(_a: *mut ffi::PurplePluginAction) {
        guard("export keys", None, (), dialogs::export_keys);
    }
    guard("plugin actions", None, ptr::null_mut(), || {
        let mut list: *mut ffi::GList = ptr::null_mut();
        for (label, cb) in [
            (tr_c(c"Known fingerprints…"), known as ActionCb),
            (tr_c(c"My fingerprints"), mine as ActionCb),
            (tr_c(c"Import keys…"), import as ActionCb),
            (tr_c(c"Export keys…"), export as ActionCb),
        ] {
            // SAFETY: static label (copied), a callback of PurplePluginAction's signature;
            // the UI owns the returned list and actions.
            unsafe {
                let action = ffi::purple_plugin_action_new(label.as_ptr(), Some(cb));
                list = ffi::g_list_append(list, action.cast());
            }
        }
        list
    })
}
