//! The plugin's menu items, built from one table, for two places: a conversation's
//! extended menu (Pidgin: Conversation -> More) and the buddy list's context menu (buddy
//! rows in Pidgin, contact rows in Finch).

use std::ffi::{c_void, CStr};
use std::mem;
use std::ptr;

use super::actions;
use super::ffi;
use super::guard::guard;
use super::objects::{BlistNode, Conversation};

struct MenuItem {
    label: &'static CStr,
    action: fn(Conversation),
}

/// The one table both menus are built from. A menu item's user data is its index here.
const ITEMS: [MenuItem; 4] = [
    MenuItem {
        label: c"Start private conversation",
        action: actions::start_private,
    },
    MenuItem {
        label: c"End private conversation",
        action: actions::end_private,
    },
    MenuItem {
        label: c"Verify fingerprint",
        action: actions::verify_fingerprint,
    },
    MenuItem {
        label: c"Authenticate buddy",
        action: actions::authenticate_buddy,
    },
];

type Activated<T> = unsafe extern "C" fn(*mut T, *mut c_void);

/// Appends every item to `*list`; each action is called back with the object the UI built
/// the menu for (the conversation or the buddy-list node) and the item's index.
///
/// # Safety
/// `list` is the valid `GList **` a menu signal passes; `T` is the object type the UI
/// passes to actions of that menu.
unsafe fn append_items<T>(list: *mut *mut ffi::GList, on_activate: Activated<T>) {
    if list.is_null() {
        return;
    }
    // SAFETY: PURPLE_CALLBACK: only the pointer type is erased; the UI calls it back as
    // `void (*)(object, gpointer data)`, which `Activated<T>` spells out.
    let callback =
        Some(unsafe { mem::transmute::<Activated<T>, unsafe extern "C" fn()>(on_activate) });
    for (index, item) in ITEMS.iter().enumerate() {
        // SAFETY: the label is static and copied by libpurple; the user data is a small
        // integer (GINT_TO_POINTER), never dereferenced; no children. The new action is
        // handed to the list, whose owner (the UI) frees it after showing the menu.
        unsafe {
            let action = ffi::purple_menu_action_new(
                item.label.as_ptr(),
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
        // SAFETY: per this function's contract; conversation menus call back with the
        // PurpleConversation.
        unsafe { append_items::<ffi::PurpleConversation>(list, conversation_item_activated) };
    }
}

/// `blist-node-extended-menu`: buddy rows and contact rows (via the priority buddy).
///
/// # Safety
/// `list` is the `GList **` the signal passes.
pub(crate) unsafe fn append_blist_items(node: BlistNode, list: *mut *mut ffi::GList) {
    if node.buddy().is_some() {
        // SAFETY: per this function's contract; buddy-list menus call back with the node.
        unsafe { append_items::<ffi::PurpleBlistNode>(list, blist_item_activated) };
    }
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
        if let (Some(conv), Some(item)) = (conv, item(data)) {
            (item.action)(conv);
        }
    });
}

unsafe extern "C" fn blist_item_activated(node: *mut ffi::PurpleBlistNode, data: *mut c_void) {
    // SAFETY: the UI passes the live buddy-list node whose menu was shown.
    let node = unsafe { BlistNode::from_ptr(node) };
    guard("buddy list menu", None, (), || {
        let conv = node
            .and_then(BlistNode::buddy)
            .and_then(|b| b.im_conversation());
        if let (Some(conv), Some(item)) = (conv, item(data)) {
            (item.action)(conv);
        }
    });
}
