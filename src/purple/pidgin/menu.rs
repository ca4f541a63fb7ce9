//! The OTR menu: in the conversation window's menu bar (for the active tab) and as the
//! button's popup. Built anew for the conversation's current state, so it is never stale;
//! its items call the same actions as `/otr` and Conversation → More.

use std::ffi::{c_void, CStr};
use std::ptr;

use super::super::actions;
use super::super::guard::guard;
use super::super::objects::Account;
use super::super::text::c_string;
use super::{api, probe, read, Api, MENU_KEY, W};
use crate::client::view::{ConvView, ViewState};
use crate::client::ConvKey;

const POPUP_KEY: &CStr = c"purple-otr-popup";
/// Conversation, Options, Send To, then ours (before the menu tray at the right end).
const MENU_BAR_POSITION: i32 = 3;

#[derive(Debug, Clone, Copy)]
enum Act {
    Start,
    End,
    Verify,
    Authenticate,
    Settings,
}

/// What a menu item does, for which conversation (owned by the item's signal handler and
/// freed with it).
#[derive(Debug)]
struct Target {
    key: ConvKey,
    act: Act,
}

fn item(api: &Api, menu: W, label: &str, sensitive: bool) -> W {
    let text = c_string(label);
    // SAFETY: a fresh menu item appended to our live menu (which then owns it).
    unsafe {
        let item = (api.gtk_menu_item_new_with_mnemonic)(text.as_ptr());
        (api.gtk_widget_set_sensitive)(item, i32::from(sensitive));
        (api.gtk_menu_shell_append)(menu, item);
        item
    }
}

fn action(api: &Api, menu: W, label: &str, sensitive: bool, key: &ConvKey, act: Act) {
    let item = item(api, menu, label, sensitive);
    type Activated = unsafe extern "C" fn(W, *mut c_void);
    let target = Box::into_raw(Box::new(Target {
        key: key.clone(),
        act,
    }));
    // SAFETY: `activated` has GtkMenuItem::activate's signature (erased as G_CALLBACK does);
    // the boxed target is freed by `free_target` when the handler goes with the item.
    unsafe {
        (api.g_signal_connect_data)(
            item,
            c"activate".as_ptr(),
            Some(std::mem::transmute::<Activated, unsafe extern "C" fn()>(
                activated,
            )),
            target.cast(),
            Some(free_target),
            0,
        );
    }
}

fn separator(api: &Api, menu: W) {
    // SAFETY: a fresh separator appended to our live menu.
    unsafe { (api.gtk_menu_shell_append)(menu, (api.gtk_separator_menu_item_new)()) };
}

/// The menu's first line, read back from GTK for the test probe.
fn state_line(view: &ConvView) -> String {
    format!("{}: {}", view.buddy, view.label())
}

/// A new OTR menu for the conversation `key` as `view` shows it.
fn build(api: &Api, key: &ConvKey, view: &ConvView) -> (W, W) {
    // SAFETY: a fresh menu, owned by whoever attaches it.
    let menu = unsafe { (api.gtk_menu_new)() };
    let line = state_line(view);
    // The state, in words, as a line that cannot be clicked (underscores doubled: the
    // buddy's name is no mnemonic).
    let first = item(api, menu, &line.replace('_', "__"), false);
    separator(api, menu);
    let private = view.state.is_private();
    let start = if private {
        "_Refresh private conversation"
    } else {
        "_Start private conversation"
    };
    action(
        api,
        menu,
        start,
        view.state != ViewState::CreatingKey,
        key,
        Act::Start,
    );
    action(
        api,
        menu,
        "_End private conversation",
        private || matches!(view.state, ViewState::Finished | ViewState::SettingUp),
        key,
        Act::End,
    );
    separator(api, menu);
    action(api, menu, "_Verify fingerprint…", private, key, Act::Verify);
    action(
        api,
        menu,
        "_Authenticate buddy…",
        private && !view.smp_in_progress,
        key,
        Act::Authenticate,
    );
    separator(api, menu);
    let on_list = Account::find(&key.account.name, &key.account.protocol)
        .and_then(|a| a.buddy(&key.buddy))
        .is_some();
    action(
        api,
        menu,
        "OTR _setting for this buddy…",
        on_list,
        key,
        Act::Settings,
    );
    if super::probing() {
        watch(api, menu, &view.buddy);
    }
    (menu, first)
}

/// Test probe: "shown"/"hidden" lines as the menu pops up and down.
fn watch(api: &Api, menu: W, buddy: &str) {
    type Handler = unsafe extern "C" fn(W, *mut c_void);
    for (signal, handler) in [(c"show", shown as Handler), (c"hide", hidden as Handler)] {
        let name = Box::into_raw(Box::new(buddy.to_string()));
        // SAFETY: GtkWidget::show/hide handlers (erased as G_CALLBACK does); the boxed
        // name is freed by `free_name` with the handler.
        unsafe {
            (api.g_signal_connect_data)(
                menu,
                signal.as_ptr(),
                Some(std::mem::transmute::<Handler, unsafe extern "C" fn()>(
                    handler,
                )),
                name.cast(),
                Some(free_name),
                0,
            );
        }
    }
}

unsafe extern "C" fn free_name(data: *mut c_void, _closure: *mut c_void) {
    if !data.is_null() {
        // SAFETY: the Box made in `watch`, freed once.
        drop(unsafe { Box::from_raw(data.cast::<String>()) });
    }
}

unsafe extern "C" fn shown(_menu: W, data: *mut c_void) {
    // SAFETY: the boxed name from `watch`, alive while the handler is.
    let name = unsafe { &*data.cast::<String>() };
    guard("OTR menu shown", None, (), || {
        probe(&format!("shown\t{name}\t"))
    });
}

unsafe extern "C" fn hidden(_menu: W, data: *mut c_void) {
    // SAFETY: the boxed name from `watch`, alive while the handler is.
    let name = unsafe { &*data.cast::<String>() };
    guard("OTR menu hidden", None, (), || {
        probe(&format!("hidden\t{name}\t"))
    });
}

/// Whether the window's menu bar has our menu.
pub(super) fn exists(api: &Api, bar: W) -> bool {
    // SAFETY: the window's live menu bar; a static key.
    !bar.is_null() && !unsafe { (api.g_object_get_data)(bar, MENU_KEY.as_ptr()) }.is_null()
}

/// Puts the OTR menu into a window's menu bar (once) and fills it for its active tab.
pub(super) fn rebuild(api: &Api, bar: W, target: Option<&(ConvKey, ConvView)>) {
    if bar.is_null() {
        return;
    }
    // SAFETY: the window's live menu bar; the item we add is owned by it.
    let top = unsafe {
        let mut top = (api.g_object_get_data)(bar, MENU_KEY.as_ptr());
        if top.is_null() {
            top = (api.gtk_menu_item_new_with_mnemonic)(c"O_TR".as_ptr());
            (api.gtk_menu_shell_insert)(bar, top, MENU_BAR_POSITION);
            (api.gtk_widget_show)(top);
            (api.g_object_set_data)(bar, MENU_KEY.as_ptr(), top);
        }
        top
    };
    match target {
        Some((key, view)) => {
            let (menu, first) = build(api, key, view);
            // SAFETY: the submenu replaces (and so frees) the previous one.
            unsafe {
                (api.gtk_widget_show_all)(menu);
                (api.gtk_menu_item_set_submenu)(top, menu);
                (api.gtk_widget_set_sensitive)(top, 1);
            }
            probe(&format!("menu\t{}\t{}", view.buddy, item_text(api, first)));
        }
        // A chat: OTR protects one-to-one conversations only.
        // SAFETY: our live item.
        None => unsafe { (api.gtk_widget_set_sensitive)(top, 0) },
    }
}

/// The text GTK shows on a menu item.
fn item_text(api: &Api, item: W) -> String {
    // SAFETY: a live menu item; its child is the label GTK made for it.
    unsafe { read((api.gtk_label_get_text)((api.gtk_bin_get_child)(item))) }
}

/// Takes the OTR menu out of a window's menu bar (unload).
pub(super) fn remove(api: &Api, win: *mut super::PidginWindowPrefix) {
    let bar = super::menubar_of(win);
    if !exists(api, bar) {
        return;
    }
    // SAFETY: our item in the live menu bar; the bar forgets it first.
    unsafe {
        let top = (api.g_object_get_data)(bar, MENU_KEY.as_ptr());
        (api.g_object_set_data)(bar, MENU_KEY.as_ptr(), ptr::null_mut());
        (api.gtk_widget_destroy)(top);
    }
}

/// The button's click: the same menu, popped up under the pointer.
pub(super) fn popup(api: &Api, button: W, key: &ConvKey, view: &ConvView) {
    let (menu, first) = build(api, key, view);
    // SAFETY: the previous popup (if any) is ours and destroyed; the new one is attached
    // to the live button, so it goes when the button goes.
    unsafe {
        let old = (api.g_object_get_data)(button, POPUP_KEY.as_ptr());
        if !old.is_null() {
            (api.gtk_widget_destroy)(old);
        }
        (api.gtk_menu_attach_to_widget)(menu, button, ptr::null_mut());
        (api.g_object_set_data)(button, POPUP_KEY.as_ptr(), menu);
        (api.gtk_widget_show_all)(menu);
        (api.gtk_menu_popup)(
            menu,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            0,
            (api.gtk_get_current_event_time)(),
        );
    }
    probe(&format!("popup\t{}\t{}", view.buddy, item_text(api, first)));
}

unsafe extern "C" fn free_target(data: *mut c_void, _closure: *mut c_void) {
    if !data.is_null() {
        // SAFETY: the Box made in `action`, freed once, when GTK drops the handler.
        drop(unsafe { Box::from_raw(data.cast::<Target>()) });
    }
}

unsafe extern "C" fn activated(_item: W, data: *mut c_void) {
    guard("OTR menu", None, (), || {
        if data.is_null() || api().is_none() {
            return;
        }
        // SAFETY: the Target boxed in `action`, alive while the handler is connected.
        let target = unsafe { &*data.cast::<Target>() };
        let Some(account) = Account::find(&target.key.account.name, &target.key.account.protocol)
        else {
            return;
        };
        if let Act::Settings = target.act {
            if let Some(buddy) = account.buddy(&target.key.buddy) {
                actions::buddy_settings(buddy.node());
            }
            return;
        }
        let Some(conv) = account.conversation(&target.key.buddy) else {
            return;
        };
        match target.act {
            Act::Start => actions::start_private(conv),
            Act::End => actions::end_private(conv),
            Act::Verify => actions::verify_fingerprint(conv),
            Act::Authenticate => actions::authenticate_buddy(conv),
            Act::Settings => {}
        }
    });
}
