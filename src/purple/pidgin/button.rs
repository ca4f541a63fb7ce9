//! The OTR button in a conversation's toolbar: an icon and the state in words; a click
//! opens the OTR menu.

use std::ffi::{c_void, CStr};
use std::ptr;

use super::super::guard::guard;
use super::super::text::c_string;
use super::{
    api, gtkconvs, im_of, menu, probe, read, toolbar_of, view_for, windows, Api,
    PidginConversationPrefix, BUTTON_KEY, W,
};
use crate::client::view::ConvView;

const LABEL_KEY: &CStr = c"purple-otr-label";
const IMAGE_KEY: &CStr = c"purple-otr-image";
/// GTK_RELIEF_NONE: flat like the toolbar's other buttons until hovered.
const RELIEF_NONE: i32 = 2;

fn data(api: &Api, object: W, key: &CStr) -> W {
    // SAFETY: a live GObject; a static key.
    unsafe { (api.g_object_get_data)(object, key.as_ptr()) }
}

/// The conversation's button, made and packed into its toolbar the first time.
pub(super) fn ensure(api: &Api, gtkconv: *mut PidginConversationPrefix) -> Option<W> {
    let toolbar = toolbar_of(gtkconv);
    if toolbar.is_null() {
        return None;
    }
    let existing = data(api, toolbar, BUTTON_KEY);
    if !existing.is_null() {
        return Some(existing);
    }
    type Clicked = unsafe extern "C" fn(W, *mut c_void);
    // SAFETY: fresh widgets put into Pidgin's live toolbar, which owns them from then on;
    // `clicked` has the signature of GtkButton::clicked, erased as G_CALLBACK does.
    unsafe {
        let button = (api.gtk_button_new)();
        (api.gtk_button_set_relief)(button, RELIEF_NONE);
        // A click must leave the keyboard in the message entry (as the toolbar's other
        // buttons do): a focused button would take the next space typed as a click.
        (api.gtk_button_set_focus_on_click)(button, 0);
        let hbox = (api.gtk_hbox_new)(0, 4);
        let image = (api.gtk_image_new)();
        let label = (api.gtk_label_new)(c"".as_ptr());
        (api.gtk_box_pack_start)(hbox, image, 0, 0, 0);
        (api.gtk_box_pack_start)(hbox, label, 0, 0, 0);
        (api.gtk_container_add)(button, hbox);
        (api.g_object_set_data)(button, LABEL_KEY.as_ptr(), label);
        (api.g_object_set_data)(button, IMAGE_KEY.as_ptr(), image);
        (api.g_signal_connect_data)(
            button,
            c"clicked".as_ptr(),
            Some(std::mem::transmute::<Clicked, unsafe extern "C" fn()>(
                clicked,
            )),
            ptr::null_mut(),
            None,
            0,
        );
        (api.gtk_box_pack_end)(toolbar, button, 0, 0, 0);
        (api.gtk_widget_show_all)(button);
        (api.g_object_set_data)(toolbar, BUTTON_KEY.as_ptr(), button);
        Some(button)
    }
}

/// Shows `view` on the button, then reads the label back from GTK for the test probe.
pub(super) fn show(api: &Api, button: W, view: &ConvView) {
    let label = data(api, button, LABEL_KEY);
    let image = data(api, button, IMAGE_KEY);
    let text = c_string(&view.label());
    let tip = c_string(&format!(
        "{}: {} Click for the OTR menu.",
        view.label(),
        view.explanation()
    ));
    // SAFETY: the button's own live label and image; GTK copies the strings.
    unsafe {
        (api.gtk_label_set_text)(label, text.as_ptr());
        (api.gtk_widget_set_tooltip_text)(button, tip.as_ptr());
        if let Some(icon) = super::icon_path(view.state.icon()) {
            let icon = c_string(&icon.to_string_lossy());
            (api.gtk_image_set_from_file)(image, icon.as_ptr());
        }
    }
    // SAFETY: the live label; the text is copied at once by `read`.
    let shown = read(unsafe { (api.gtk_label_get_text)(label) });
    probe(&format!("button\t{}\t{shown}", view.buddy));
    if super::probing() {
        // Where the button is in its window, so a test can click it. As laid out before
        // this update: the right edge stays put (the button is packed at the end).
        let (mut x, mut y, mut size) = (0, 0, [0; 4]);
        // SAFETY: the live button and its toplevel window; out-parameters on our stack.
        unsafe {
            let top = (api.gtk_widget_get_toplevel)(button);
            (api.gtk_widget_translate_coordinates)(button, top, 0, 0, &mut x, &mut y);
            (api.gtk_widget_get_allocation)(button, &mut size);
        }
        probe(&format!(
            "where\t{}\t{x}\t{y}\t{}\t{}",
            view.buddy, size[2], size[3]
        ));
    }
}

/// Takes the button out of the conversation's toolbar (unload).
pub(super) fn remove(api: &Api, gtkconv: *mut PidginConversationPrefix) {
    let toolbar = toolbar_of(gtkconv);
    if toolbar.is_null() {
        return;
    }
    let button = data(api, toolbar, BUTTON_KEY);
    if button.is_null() {
        return;
    }
    // SAFETY: our button inside the live toolbar; the toolbar forgets it first.
    unsafe {
        (api.g_object_set_data)(toolbar, BUTTON_KEY.as_ptr(), ptr::null_mut());
        (api.gtk_widget_destroy)(button);
    }
    if let Some(key) = im_of(gtkconv).and_then(super::super::runtime::key_of) {
        probe(&format!("removed\t{}\t", key.buddy));
    }
}

unsafe extern "C" fn clicked(button: W, _data: *mut c_void) {
    guard("OTR button", None, (), || {
        let Some(api) = api() else { return };
        // The conversation whose toolbar holds this button (found again on every click:
        // nothing about it is kept that could go stale).
        let owner = windows(api)
            .into_iter()
            .flat_map(|w| gtkconvs(api, w))
            .find(|&g| {
                let toolbar = toolbar_of(g);
                !toolbar.is_null() && data(api, toolbar, BUTTON_KEY) == button
            });
        if let Some((key, view)) = owner.and_then(im_of).and_then(view_for) {
            menu::popup(api, button, &key, &view);
        }
    });
}
