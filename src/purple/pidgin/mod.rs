//! Pidgin's part: the OTR button in every IM conversation's toolbar and the "OTR" menu in
//! every conversation window's menu bar (docs/architecture-ui.md says why it looks like this).
//!
//! It runs only inside Pidgin (`purple_core_get_ui()` is "gtk-gaim"). The GTK 2 and Pidgin
//! functions are not linked: they are looked up at run time with `dlsym(RTLD_DEFAULT, …)`
//! into the typed table [`Api`] (Pidgin's binary already has them loaded), so the .so has no
//! GTK dependency and Finch or a headless host never map GTK. The signatures are written by
//! hand from the GTK 2 / Pidgin 2.14 headers; `tests::layout_matches_pidgin_headers` checks
//! the two struct prefixes we read against the real headers with a C compiler.

mod button;
mod menu;
mod smp_progress;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};
use std::path::PathBuf;
use std::sync::OnceLock;

use super::debug;
use super::ffi;
use super::guard::guard;
use super::objects::{Conversation, Plugin};
use super::runtime;
use crate::client::view::ConvView;
use crate::client::ConvKey;

/// A GTK object (GtkWidget *, GObject *): never dereferenced in Rust.
pub(super) type W = *mut c_void;
/// GCallback: the real signature is erased as in C (`G_CALLBACK`).
type GCallback = Option<unsafe extern "C" fn()>;
type GDestroy = Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>;

/// glib's list node (public, stable ABI since glib 2.0; bindgen keeps `GList` opaque).
#[repr(C)]
struct GListNode {
    data: *mut c_void,
    next: *mut GListNode,
    prev: *mut GListNode,
}

/// The leading fields of Pidgin 2.x's `struct _PidginConversation` (gtkconv.h), up to the
/// formatting toolbar the button goes in. Only read, never written or allocated by us.
#[repr(C)]
pub(super) struct PidginConversationPrefix {
    active_conv: *mut ffi::PurpleConversation,
    convs: *mut c_void,
    send_history: *mut c_void,
    win: *mut c_void,
    make_sound: c_int,
    tooltips: *mut c_void,
    tab_cont: W,
    tabby: W,
    menu_tabby: W,
    imhtml: W,
    entry_buffer: *mut c_void,
    entry: W,
    auto_resize: c_int,
    entry_growing: c_int,
    close: W,
    icon: W,
    tab_label: W,
    menu_icon: W,
    menu_label: W,
    sg: *mut c_void,
    lower_hbox: W,
    toolbar: W,
}

/// The leading fields of `struct _PidginWindow` (gtkconvwin.h): the window and its menu bar.
#[repr(C)]
pub(super) struct PidginWindowPrefix {
    window: W,
    notebook: W,
    gtkconvs: *mut c_void,
    menubar: W,
}

macro_rules! api {
    ($($name:ident : fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// GTK 2 and Pidgin functions, resolved once in Pidgin's process.
        #[allow(missing_debug_implementations)]
        pub(super) struct Api {
            $(pub(super) $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
        }

        impl Api {
            /// Every symbol, or the name of the first one missing.
            fn resolve() -> Result<Api, &'static str> {
                Ok(Api {
                    $($name: {
                        let name = concat!(stringify!($name), "\0");
                        // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches
                        // the objects already loaded into the process.
                        let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr().cast()) };
                        if p.is_null() {
                            return Err(stringify!($name));
                        }
                        // SAFETY: `p` is the address of the C function of that name, whose
                        // prototype in the GTK 2 / Pidgin headers is the one spelled here.
                        unsafe {
                            std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($arg),*) $(-> $ret)?>(p)
                        }
                    },)*
                })
            }
        }
    };
}

api! {
    // GObject
    g_signal_connect_data: fn(*mut c_void, *const c_char, GCallback, *mut c_void, GDestroy, c_int) -> c_ulong;
    g_object_set_data: fn(*mut c_void, *const c_char, *mut c_void);
    g_object_get_data: fn(*mut c_void, *const c_char) -> *mut c_void;
    // GTK 2 widgets
    gtk_widget_show: fn(W);
    gtk_widget_show_all: fn(W);
    gtk_widget_destroy: fn(W);
    gtk_widget_set_sensitive: fn(W, c_int);
    gtk_widget_set_tooltip_text: fn(W, *const c_char);
    gtk_container_add: fn(W, W);
    gtk_box_pack_start: fn(W, W, c_int, c_int, c_uint);
    gtk_box_pack_end: fn(W, W, c_int, c_int, c_uint);
    gtk_hbox_new: fn(c_int, c_int) -> W;
    gtk_button_new: fn() -> W;
    gtk_button_set_relief: fn(W, c_int);
    gtk_button_set_focus_on_click: fn(W, c_int);
    gtk_label_new: fn(*const c_char) -> W;
    gtk_label_set_text: fn(W, *const c_char);
    gtk_label_get_text: fn(W) -> *const c_char;
    gtk_image_new: fn() -> W;
    gtk_image_set_from_file: fn(W, *const c_char);
    gtk_bin_get_child: fn(W) -> W;
    gtk_widget_get_toplevel: fn(W) -> W;
    gtk_widget_translate_coordinates: fn(W, W, c_int, c_int, *mut c_int, *mut c_int) -> c_int;
    gtk_widget_get_allocation: fn(W, *mut [c_int; 4]);
    gtk_menu_new: fn() -> W;
    gtk_menu_item_new_with_mnemonic: fn(*const c_char) -> W;
    gtk_separator_menu_item_new: fn() -> W;
    gtk_menu_item_set_submenu: fn(W, W);
    gtk_menu_shell_append: fn(W, W);
    gtk_menu_shell_insert: fn(W, W, c_int);
    gtk_menu_attach_to_widget: fn(W, W, *mut c_void);
    gtk_menu_popup: fn(W, W, W, *mut c_void, *mut c_void, c_uint, u32);
    gtk_get_current_event_time: fn() -> u32;
    gtk_dialog_new: fn() -> W;
    gtk_dialog_add_button: fn(W, *const c_char, c_int) -> W;
    gtk_dialog_get_content_area: fn(W) -> W;
    gtk_window_set_title: fn(W, *const c_char);
    gtk_container_set_border_width: fn(W, c_uint);
    gtk_label_set_line_wrap: fn(W, c_int);
    gtk_progress_bar_new: fn() -> W;
    gtk_progress_bar_set_fraction: fn(W, f64);
    gtk_progress_bar_set_text: fn(W, *const c_char);
    gtk_button_set_label: fn(W, *const c_char);
    // glib and libpurple's image store (notice icons)
    g_malloc: fn(usize) -> *mut c_void;
    purple_imgstore_add_with_id: fn(*mut c_void, usize, *const c_char) -> c_int;
    purple_imgstore_unref_by_id: fn(c_int);
    // Pidgin 2.x
    pidgin_conversations_get_handle: fn() -> *mut c_void;
    pidgin_conv_windows_get_list: fn() -> *mut c_void;
    pidgin_conv_window_get_gtkconvs: fn(*mut PidginWindowPrefix) -> *mut c_void;
    pidgin_conv_window_get_active_gtkconv: fn(*const PidginWindowPrefix) -> *mut PidginConversationPrefix;
}

static API: OnceLock<Option<Api>> = OnceLock::new();

/// The table, once `init` resolved it inside Pidgin.
pub(super) fn api() -> Option<&'static Api> {
    API.get().and_then(Option::as_ref)
}

struct Loaded {
    icons: Option<PathBuf>,
    /// The 16 px state icons in libpurple's image store, by name (for `<img id>` in
    /// notices); released on unload.
    images: HashMap<&'static str, c_int>,
    /// What each button (by widget address) shows now, so unchanged views cost nothing.
    buttons: HashMap<usize, ConvView>,
    /// What each window's OTR menu (by menu bar address) was built for.
    menus: HashMap<usize, (ConvKey, ConvView)>,
}

thread_local! {
    static LOADED: RefCell<Option<Loaded>> = const { RefCell::new(None) };
}

/// Object-data keys on Pidgin's widgets.
pub(super) const BUTTON_KEY: &CStr = c"purple-otr-button";
pub(super) const MENU_KEY: &CStr = c"purple-otr-menu";

/// Starts Pidgin's part: resolves the functions, adds the button and menu to every open
/// window and listens for new ones. Returns false (and logs) if a symbol is missing.
pub(crate) fn init(plugin: Plugin) -> bool {
    let Some(api) = API.get_or_init(|| match Api::resolve() {
        Ok(api) => Some(api),
        Err(missing) => {
            debug::error(&format!(
                "Pidgin's {missing} was not found: no OTR button or menu"
            ));
            None
        }
    }) else {
        return false;
    };
    LOADED.with(|l| {
        let icons = icon_dir(plugin);
        let images = store_images(api, icons.as_deref());
        *l.borrow_mut() = Some(Loaded {
            icons,
            images,
            buttons: HashMap::new(),
            menus: HashMap::new(),
        })
    });
    type Displayed = unsafe extern "C" fn(*mut PidginConversationPrefix, *mut c_void);
    type Switched = unsafe extern "C" fn(*mut ffi::PurpleConversation, *mut c_void);
    // SAFETY: Pidgin's conversation handle is live while Pidgin runs; the handlers'
    // signatures are those of the signals (gtkconv.c: "conversation-displayed" passes the
    // PidginConversation, "conversation-switched" the PurpleConversation), erased as
    // PURPLE_CALLBACK does. They are disconnected by handle on unload.
    unsafe {
        let handle = (api.pidgin_conversations_get_handle)();
        ffi::purple_signal_connect(
            handle,
            c"conversation-displayed".as_ptr(),
            plugin.handle(),
            Some(std::mem::transmute::<Displayed, unsafe extern "C" fn()>(
                displayed,
            )),
            std::ptr::null_mut(),
        );
        ffi::purple_signal_connect(
            handle,
            c"conversation-switched".as_ptr(),
            plugin.handle(),
            Some(std::mem::transmute::<Switched, unsafe extern "C" fn()>(
                switched,
            )),
            std::ptr::null_mut(),
        );
    }
    refresh_all();
    true
}

/// Takes every button and menu out of Pidgin's windows (unload): nothing of ours may stay
/// reachable from GTK once the plugin is gone.
pub(crate) fn uninit() {
    let Some(api) = api() else { return };
    // The signal handlers stay connected until the state drops them by handle; with
    // nothing loaded they do nothing.
    smp_progress::close_all();
    for win in windows(api) {
        menu::remove(api, win);
        for gtkconv in gtkconvs(api, win) {
            button::remove(api, gtkconv);
        }
    }
    if let Some(loaded) = LOADED.with(|l| l.borrow_mut().take()) {
        for id in loaded.images.into_values() {
            // SAFETY: the reference `store_images` took; messages already shown keep theirs.
            unsafe { (api.purple_imgstore_unref_by_id)(id) };
        }
    }
}

/// Puts the state icons into libpurple's image store, so notices can show them.
fn store_images(api: &Api, dir: Option<&std::path::Path>) -> HashMap<&'static str, c_int> {
    let mut images = HashMap::new();
    let Some(dir) = dir else { return images };
    for name in [
        "not-private",
        "private-unverified",
        "private-verified",
        "finished",
    ] {
        let path = dir.join(format!("{name}-16.png"));
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let file = super::text::c_string(&format!("{name}.png"));
        // SAFETY: a g_malloc'd copy of the file handed to the store, which owns and frees
        // it; the file name is copied.
        let id = unsafe {
            let data = (api.g_malloc)(bytes.len());
            if data.is_null() {
                continue;
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), data.cast::<u8>(), bytes.len());
            (api.purple_imgstore_add_with_id)(data, bytes.len(), file.as_ptr())
        };
        if id > 0 {
            images.insert(name, id);
        }
    }
    images
}

/// A notice's markup with the conversation's state icon in front (Pidgin only).
pub(crate) fn decorate(key: &ConvKey, markup: &str) -> String {
    let id = LOADED.with(|l| {
        let l = l.borrow();
        let l = l.as_ref()?;
        let view = runtime::with_client(|b| b.view(key))?;
        l.images.get(view.state.icon()).copied()
    });
    match id {
        Some(id) => format!("<img id=\"{id}\"> {markup}"),
        None => markup.to_string(),
    }
}

/// The icons' directory: `purple-otr/icons/` next to the plugin's .so (a per-user
/// install), else the system's (`make install PREFIX=/usr`, the Debian package).
fn icon_dir(plugin: Plugin) -> Option<PathBuf> {
    // SAFETY: our live PurplePlugin; `path` is libpurple's NUL-terminated string (or NULL).
    let path = unsafe {
        let p = (*plugin.handle().cast::<ffi::PurplePlugin>()).path;
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    let beside = path.and_then(|p| {
        PathBuf::from(p)
            .parent()
            .map(|d| d.join("purple-otr").join("icons"))
    });
    beside
        .into_iter()
        .chain(
            [
                "/usr/share/pixmaps/purple-otr",
                "/usr/local/share/pixmaps/purple-otr",
            ]
            .map(PathBuf::from),
        )
        .find(|d| d.join("not-private-16.png").is_file())
}

/// The icon file for a state at 16 px, if installed.
pub(super) fn icon_path(name: &str) -> Option<PathBuf> {
    LOADED.with(|l| {
        l.borrow()
            .as_ref()
            .and_then(|l| l.icons.as_ref())
            .map(|d| d.join(format!("{name}-16.png")))
            .filter(|p| p.is_file())
    })
}

fn list(head: *mut c_void) -> Vec<*mut c_void> {
    let mut out = Vec::new();
    let mut node = head.cast::<GListNode>();
    while !node.is_null() {
        // SAFETY: a live GList owned by Pidgin, walked without keeping it.
        unsafe {
            out.push((*node).data);
            node = (*node).next;
        }
    }
    out
}

pub(super) fn windows(api: &Api) -> Vec<*mut PidginWindowPrefix> {
    // SAFETY: Pidgin's own list of conversation windows (not ours to free).
    list(unsafe { (api.pidgin_conv_windows_get_list)() })
        .into_iter()
        .map(|p| p.cast())
        .collect()
}

pub(super) fn gtkconvs(
    api: &Api,
    win: *mut PidginWindowPrefix,
) -> Vec<*mut PidginConversationPrefix> {
    // SAFETY: a window from Pidgin's list; its list of conversations (not ours to free).
    list(unsafe { (api.pidgin_conv_window_get_gtkconvs)(win) })
        .into_iter()
        .map(|p| p.cast())
        .collect()
}

/// The IM conversation a Pidgin conversation shows, if it is one.
pub(super) fn im_of(gtkconv: *mut PidginConversationPrefix) -> Option<Conversation> {
    if gtkconv.is_null() {
        return None;
    }
    // SAFETY: a live PidginConversation; its first field is the PurpleConversation.
    unsafe { Conversation::from_ptr((*gtkconv).active_conv) }.filter(|c| c.is_im())
}

pub(super) fn toolbar_of(gtkconv: *mut PidginConversationPrefix) -> W {
    // SAFETY: a live PidginConversation (layout checked against gtkconv.h by a test).
    unsafe { (*gtkconv).toolbar }
}

pub(super) fn menubar_of(win: *mut PidginWindowPrefix) -> W {
    // SAFETY: a live PidginWindow (layout checked against gtkconvwin.h by a test).
    unsafe { (*win).menubar }
}

pub(super) fn view_for(conv: Conversation) -> Option<(ConvKey, ConvView)> {
    let key = runtime::key_of(conv)?;
    let view = runtime::with_client(|b| b.view(&key))?;
    Some((key, view))
}

/// Brings every button and menu up to date (cheap when nothing changed).
pub(crate) fn refresh_all() {
    let Some(api) = api() else { return };
    if !loaded() {
        return;
    }
    for win in windows(api) {
        for gtkconv in gtkconvs(api, win) {
            refresh_conv(api, gtkconv, false);
        }
        refresh_window(api, win, false);
    }
}

/// A conversation's state changed: redraw wherever it is shown, even if it looks alike.
pub(crate) fn state_changed(key: &ConvKey) {
    let Some(api) = api() else { return };
    for win in windows(api) {
        let mut shown = false;
        for gtkconv in gtkconvs(api, win) {
            if im_of(gtkconv).and_then(runtime::key_of).as_ref() == Some(key) {
                refresh_conv(api, gtkconv, true);
                shown = true;
            }
        }
        if shown {
            refresh_window(api, win, true);
        }
    }
}

fn loaded() -> bool {
    LOADED.with(|l| l.borrow().is_some())
}

fn refresh_conv(api: &Api, gtkconv: *mut PidginConversationPrefix, force: bool) {
    if !loaded() {
        return;
    }
    let Some((_, view)) = im_of(gtkconv).and_then(view_for) else {
        return;
    };
    let Some(button) = button::ensure(api, gtkconv) else {
        return;
    };
    let changed = LOADED.with(|l| {
        let mut l = l.borrow_mut();
        let Some(l) = l.as_mut() else { return false };
        let old = l.buttons.insert(button as usize, view.clone());
        force || old.as_ref() != Some(&view)
    });
    if changed {
        button::show(api, button, &view);
    }
}

fn refresh_window(api: &Api, win: *mut PidginWindowPrefix, force: bool) {
    if !loaded() {
        return;
    }
    // SAFETY: a window from Pidgin's list.
    let active = unsafe { (api.pidgin_conv_window_get_active_gtkconv)(win) };
    let target = im_of(active).and_then(view_for);
    let bar = menubar_of(win);
    let present = menu::exists(api, bar);
    let changed = LOADED.with(|l| {
        let mut l = l.borrow_mut();
        let Some(l) = l.as_mut() else { return false };
        let old = match &target {
            Some(t) => l.menus.insert(bar as usize, t.clone()),
            None => l.menus.remove(&(bar as usize)),
        };
        force || !present || old != target
    });
    if changed {
        menu::rebuild(api, bar, target.as_ref());
    }
}

unsafe extern "C" fn displayed(gtkconv: *mut PidginConversationPrefix, _data: *mut c_void) {
    guard("conversation-displayed", None, (), || {
        let Some(api) = api() else { return };
        if gtkconv.is_null() {
            return;
        }
        refresh_conv(api, gtkconv, true);
        refresh_all();
    });
}

/// A tab became the active one (also after a tab was dragged into another window): that
/// window's OTR menu now speaks for it.
unsafe extern "C" fn switched(_conv: *mut ffi::PurpleConversation, _data: *mut c_void) {
    guard("conversation-switched", None, (), refresh_all);
}

pub(crate) use smp_progress::update as smp_progress;

/// Debug builds only: PURPLE_OTR_TEST_UI_PROBE=<file> makes the button and menu append
/// what GTK reads back from the live widgets, one line each, so tests see what is shown.
pub(super) fn probe(line: &str) {
    if let Some(path) = probe_file() {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

fn probe_file() -> Option<std::ffi::OsString> {
    if cfg!(debug_assertions) {
        std::env::var_os("PURPLE_OTR_TEST_UI_PROBE")
    } else {
        None
    }
}

pub(super) fn probing() -> bool {
    probe_file().is_some()
}

/// A Rust string for a C string GTK owns.
pub(super) fn read(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated string owned by the widget, copied at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use std::mem::offset_of;
    use std::process::Command;

    use super::{PidginConversationPrefix, PidginWindowPrefix};

    /// The hand-written struct prefixes match Pidgin's headers: a C program built against
    /// pidgin-dev prints `offsetof` for every field we read.
    #[test]
    fn layout_matches_pidgin_headers() {
        let flags = Command::new("pkg-config")
            .args(["--cflags", "pidgin"])
            .output()
            .expect("pkg-config");
        assert!(
            flags.status.success(),
            "pidgin's headers are needed for this check: apt-get install pidgin-dev libgtk2.0-dev"
        );
        let dir = std::env::temp_dir().join(format!("purple-otr-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let src = dir.join("layout.c");
        std::fs::write(
            &src,
            "#include <stddef.h>\n#include <stdio.h>\n#include <gtkconv.h>\n#include <gtkconvwin.h>\n\
             int main(void) { printf(\"%zu %zu %zu %zu %zu\\n\", \
             offsetof(PidginConversation, active_conv), offsetof(PidginConversation, toolbar), \
             sizeof(void *), offsetof(PidginWindow, window), offsetof(PidginWindow, menu.menubar)); \
             return 0; }\n",
        )
        .expect("write layout.c");
        let exe = dir.join("layout");
        let cflags = String::from_utf8_lossy(&flags.stdout).into_owned();
        let cc = Command::new("cc")
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .args(cflags.split_whitespace())
            .output()
            .expect("cc");
        assert!(
            cc.status.success(),
            "{}",
            String::from_utf8_lossy(&cc.stderr)
        );
        let out = Command::new(&exe).output().expect("run layout");
        let _ = std::fs::remove_dir_all(&dir);
        let c: Vec<usize> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|n| n.parse().expect("number"))
            .collect();
        let rust = vec![
            offset_of!(PidginConversationPrefix, active_conv),
            offset_of!(PidginConversationPrefix, toolbar),
            std::mem::size_of::<*const u8>(),
            offset_of!(PidginWindowPrefix, window),
            offset_of!(PidginWindowPrefix, menubar),
        ];
        assert_eq!(c, rust);
    }
}
