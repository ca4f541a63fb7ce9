//! The asker's side of an authentication (SMP): a small window with the progress and a
//! Cancel button (which sends the SMP abort), ending in success or failure. The answerer
//! has the request dialog already.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_int, c_void};

use super::super::actions;
use super::super::guard::guard;
use super::super::objects::Account;
use super::super::text::c_string;
use super::{api, probe, read, Api, W};
use crate::client::i18n::{fill, tr};
use crate::client::{ConvKey, SmpProgress};

/// The one button's response id (GTK_RESPONSE_CANCEL); the window's close box gives
/// GTK_RESPONSE_DELETE_EVENT, treated alike.
const RESPONSE_CANCEL: c_int = -6;

struct Dialog {
    window: W,
    label: W,
    bar: W,
    button: W,
    /// The run ended: the button closes the window instead of cancelling.
    done: bool,
}

thread_local! {
    static OPEN: RefCell<HashMap<ConvKey, Dialog>> = RefCell::new(HashMap::new());
}

fn words(buddy: &str, progress: SmpProgress) -> (String, f64, Cow<'static, str>) {
    let (text, fraction, short) = match progress {
        SmpProgress::Asked => (tr("Waiting for {buddy} to answer…"), 0.25, tr("Asked")),
        SmpProgress::Answered => (
            tr("{buddy} answered; checking the answers…"),
            0.6,
            tr("Answered"),
        ),
        SmpProgress::Succeeded => (
            tr("Done: {buddy} gave the same answer. {buddy} is verified."),
            1.0,
            tr("Verified"),
        ),
        SmpProgress::Failed => (
            tr(
                "Failed: the answers did not match (or the exchange broke). {buddy} is not \
                verified; you may be talking to someone else.",
            ),
            1.0,
            tr("Failed"),
        ),
        SmpProgress::Cancelled => (
            tr("Cancelled. Nothing was learned about either answer."),
            1.0,
            tr("Cancelled"),
        ),
    };
    (fill(&text, &[("buddy", buddy)]), fraction, short)
}

/// Shows (or moves on) the progress window of the authentication with `key`.
pub(crate) fn update(key: &ConvKey, progress: SmpProgress) {
    let Some(api) = api() else { return };
    let exists = OPEN.with(|o| o.borrow().contains_key(key));
    if !exists {
        if progress != SmpProgress::Asked {
            return; // a window the user already closed stays closed
        }
        let dialog = create(api, key);
        OPEN.with(|o| o.borrow_mut().insert(key.clone(), dialog));
    }
    let finished = progress != SmpProgress::Asked && progress != SmpProgress::Answered;
    let (text, fraction, short) = words(&key.buddy, progress);
    let shown = OPEN.with(|o| {
        let mut o = o.borrow_mut();
        let d = o.get_mut(key)?;
        d.done = finished;
        let (t, s) = (c_string(&text), c_string(&short));
        // SAFETY: our live dialog's widgets; GTK copies the strings.
        unsafe {
            (api.gtk_label_set_text)(d.label, t.as_ptr());
            (api.gtk_progress_bar_set_fraction)(d.bar, fraction);
            (api.gtk_progress_bar_set_text)(d.bar, s.as_ptr());
            let button = if finished { c"_Close" } else { c"_Cancel" };
            (api.gtk_button_set_label)(d.button, button.as_ptr());
            Some(read((api.gtk_label_get_text)(d.label)))
        }
    });
    if let Some(shown) = shown {
        probe(&format!("smp\t{}\t{shown}", key.buddy));
    }
}

fn create(api: &Api, key: &ConvKey) -> Dialog {
    let title = c_string(&fill(
        &tr("Authenticating {buddy}"),
        &[("buddy", &key.buddy)],
    ));
    type Response = unsafe extern "C" fn(W, c_int, *mut c_void);
    let data = Box::into_raw(Box::new(key.clone()));
    // SAFETY: fresh widgets in a fresh toplevel we own (destroyed on close or unload);
    // `response` has GtkDialog::response's signature (erased as G_CALLBACK does); the boxed
    // key is freed with the handler.
    unsafe {
        let window = (api.gtk_dialog_new)();
        (api.gtk_window_set_title)(window, title.as_ptr());
        (api.gtk_container_set_border_width)(window, 8);
        let area = (api.gtk_dialog_get_content_area)(window);
        let label = (api.gtk_label_new)(c"".as_ptr());
        (api.gtk_label_set_line_wrap)(label, 1);
        let bar = (api.gtk_progress_bar_new)();
        (api.gtk_box_pack_start)(area, label, 0, 0, 6);
        (api.gtk_box_pack_start)(area, bar, 0, 0, 6);
        let button = (api.gtk_dialog_add_button)(window, c"_Cancel".as_ptr(), RESPONSE_CANCEL);
        (api.g_signal_connect_data)(
            window,
            c"response".as_ptr(),
            Some(std::mem::transmute::<Response, unsafe extern "C" fn()>(
                response,
            )),
            data.cast(),
            Some(free_key),
            0,
        );
        (api.gtk_widget_show_all)(window);
        Dialog {
            window,
            label,
            bar,
            button,
            done: false,
        }
    }
}

/// Closes every progress window (unload).
pub(crate) fn close_all() {
    let Some(api) = api() else { return };
    let open: Vec<Dialog> = OPEN.with(|o| o.borrow_mut().drain().map(|(_, d)| d).collect());
    for d in open {
        // SAFETY: our own live toplevel.
        unsafe { (api.gtk_widget_destroy)(d.window) };
    }
}

unsafe extern "C" fn free_key(data: *mut c_void, _closure: *mut c_void) {
    if !data.is_null() {
        // SAFETY: the Box made in `create`, freed once with the handler.
        drop(unsafe { Box::from_raw(data.cast::<ConvKey>()) });
    }
}

/// Cancel (or Close, once done), or the window's close box.
unsafe extern "C" fn response(_window: W, _id: c_int, data: *mut c_void) {
    guard("SMP progress", None, (), || {
        let Some(api) = api() else { return };
        if data.is_null() {
            return;
        }
        // SAFETY: the boxed key from `create`, alive while the handler is connected.
        let key = unsafe { &*data.cast::<ConvKey>() }.clone();
        let Some(dialog) = OPEN.with(|o| o.borrow_mut().remove(&key)) else {
            return;
        };
        if !dialog.done {
            // The same as `/otr smp abort`: the buddy is told, the run ends.
            if let Some(conv) = Account::find(&key.account.name, &key.account.protocol)
                .and_then(|a| a.conversation(&key.buddy))
            {
                actions::smp_command(conv, "abort");
            }
        }
        probe(&format!("smp\t{}\t(closed)", key.buddy));
        // SAFETY: our own live toplevel; the handler (and its key) go with it.
        unsafe { (api.gtk_widget_destroy)(dialog.window) };
    });
}
