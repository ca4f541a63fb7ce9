//! The plugin's entry points: `purple_init_plugin` (what `PURPLE_INIT_PLUGIN` expands to
//! for a dynamically loaded plugin) and the load/unload callbacks in `PurplePluginInfo`.

use std::cell::UnsafeCell;
use std::ffi::c_char;
use std::ptr;

use super::cmds;
use super::conflict;
use super::debug;
use super::dialogs;
use super::effects;
use super::ffi;
use super::guard::guard;
use super::manifest;
use super::menus;
use super::objects::{notify_error, Plugin};
use super::prefs;
use super::runtime::{self, Runtime};
use super::settings_frame;
use super::signals;
use crate::client::store::Store;
use crate::client::Client;

/// The `PurplePluginInfo` libpurple keeps a pointer to for as long as the .so is mapped.
///
/// `UnsafeCell` because libpurple holds a `*mut` to it; `Sync` is sound because libpurple
/// calls plugins from its main-loop thread only and never writes to a standard plugin's
/// info.
struct PluginInfo(UnsafeCell<ffi::PurplePluginInfo>);

// SAFETY: see the type's comment: only ever touched from libpurple's single thread.
unsafe impl Sync for PluginInfo {}

const fn c(s: &'static std::ffi::CStr) -> *mut c_char {
    s.as_ptr().cast_mut()
}

/// Tools → Plugins → Configure Plugin (both Pidgin and Finch build it from the frame).
struct UiInfo(UnsafeCell<ffi::PurplePluginUiInfo>);

// SAFETY: as `PluginInfo`: libpurple's single thread only reads it.
unsafe impl Sync for UiInfo {}

static PREFS_INFO: UiInfo = UiInfo(UnsafeCell::new(ffi::PurplePluginUiInfo {
    get_plugin_pref_frame: Some(settings_frame::pref_frame),
    page_num: 0,
    frame: ptr::null_mut(),
    _purple_reserved1: None,
    _purple_reserved2: None,
    _purple_reserved3: None,
    _purple_reserved4: None,
}));

static INFO: PluginInfo = PluginInfo(UnsafeCell::new(ffi::PurplePluginInfo {
    magic: ffi::PURPLE_PLUGIN_MAGIC,
    major_version: ffi::PURPLE_MAJOR_VERSION,
    minor_version: ffi::PURPLE_MINOR_VERSION,
    type_: ffi::PURPLE_PLUGIN_STANDARD,
    // No UI requirement: the same plugin works in Pidgin, Finch and any libpurple 2.x UI.
    ui_requirement: ptr::null_mut(),
    flags: 0,
    dependencies: ptr::null_mut(),
    priority: ffi::PURPLE_PRIORITY_DEFAULT as ffi::PurplePluginPriority,
    id: c(manifest::ID),
    name: c(manifest::NAME),
    version: c(manifest::VERSION),
    summary: c(manifest::SUMMARY),
    description: c(manifest::DESCRIPTION),
    author: c(manifest::AUTHOR),
    homepage: c(manifest::HOMEPAGE),
    load: Some(plugin_load),
    unload: Some(plugin_unload),
    destroy: None,
    ui_info: ptr::null_mut(),
    extra_info: ptr::null_mut(),
    prefs_info: PREFS_INFO.0.get(),
    actions: Some(menus::plugin_actions),
    _purple_reserved1: None,
    _purple_reserved2: None,
    _purple_reserved3: None,
    _purple_reserved4: None,
}));

/// Called by libpurple when it probes the .so: hand over the plugin info and register.
#[no_mangle]
#[allow(unreachable_pub)] // exported from the .so, looked up by name
pub unsafe extern "C" fn purple_init_plugin(plugin: *mut ffi::PurplePlugin) -> ffi::gboolean {
    guard("purple_init_plugin", None, 0, || {
        if plugin.is_null() {
            return 0;
        }
        // SAFETY: libpurple passes the live PurplePlugin it is probing; `INFO` is a static
        // that outlives it, and libpurple only reads through the pointer.
        unsafe {
            (*plugin).info = INFO.0.get();
            ffi::purple_plugin_register(plugin)
        }
    })
}

unsafe extern "C" fn plugin_load(plugin: *mut ffi::PurplePlugin) -> ffi::gboolean {
    // SAFETY: libpurple passes our live PurplePlugin; it stays alive while loaded.
    let plugin = unsafe { Plugin::from_ptr(plugin) };
    guard("load", None, 0, || match plugin {
        Some(plugin) if load(plugin) => 1,
        _ => 0,
    })
}

unsafe extern "C" fn plugin_unload(_plugin: *mut ffi::PurplePlugin) -> ffi::gboolean {
    guard("unload", None, 1, || {
        // Tell buddies we were private with, report what was never sent, close our
        // dialogs, wipe every session.
        signals::end_everything();
        dialogs::close_all();
        super::ui::uninit();
        // Dropping the runtime disconnects every signal and unregisters /otr (outside the
        // runtime's borrow, as that calls into libpurple).
        if let Some(runtime) = runtime::take() {
            let mut client = runtime.into_client();
            // A write that failed earlier (full disk, say) gets one more chance.
            if client.store().has_unsaved_changes() {
                if let Err(e) = client.store_mut().flush() {
                    debug::error(&format!("unsaved OTR changes could not be written: {e}"));
                }
            }
        }
        debug::info("unloaded");
        1
    })
}

fn load(plugin: Plugin) -> bool {
    super::i18n::init(plugin);
    if Plugin::is_loaded_with_id(conflict::PIDGIN_OTR_ID) {
        let why =
            "The pidgin-otr plugin (also called \"Off-the-Record Messaging\", plugin id \"otr\") \
                   is loaded. Two OTR plugins would both process every message. Disable pidgin-otr \
                   in the plugin list, then enable this one again.";
        debug::warning("refusing to load: pidgin-otr is loaded");
        // A dialog, not the plugin's `error` field: libpurple never loads a plugin whose
        // error is set, so the user could not enable us after disabling pidgin-otr
        // without restarting the client.
        notify_error(
            plugin.handle(),
            "Off-the-Record Messaging",
            "purple-otr was not enabled",
            why,
        );
        return false;
    }
    let Some(signals) = signals::connect_all(plugin) else {
        plugin.set_error(Some(
            "Could not connect to libpurple's conversation signals.",
        ));
        return false;
    };
    let Some(command) = cmds::register() else {
        plugin.set_error(Some("Could not register the /otr command."));
        return false; // `signals` drops here and disconnects.
    };
    prefs::init();
    // SAFETY: libpurple's user directory string (static while it runs), copied at once.
    let dir = unsafe { super::text::lossy(ffi::purple_user_dir()) };
    let store = Store::open(
        std::path::Path::new(&dir),
        super::fslock::try_lock_exclusive,
    );
    let problems: Vec<String> = store.problems().iter().map(|p| p.to_string()).collect();
    let bridge = match Client::new(store) {
        Ok(b) => b,
        Err(_) => {
            plugin.set_error(Some(
                "The system gave no randomness: private conversations are impossible.",
            ));
            return false;
        }
    };
    let mut runtime = Runtime::new(plugin, bridge, effects::apply, test_panic_requested());
    runtime.registrations.signals = signals;
    // XMPP only: no XMPP plugin, no hints to add.
    runtime
        .registrations
        .signals
        .extend(super::xmpp_hints::connect(plugin));
    runtime.registrations.command = Some(command);
    let previous = runtime::install(runtime);
    for problem in problems {
        // The file is left as it is and never overwritten; the user must know why keys or
        // trust seem to be missing.
        notify_error(
            plugin.handle(),
            "Off-the-Record Messaging",
            "A key or trust file could not be used",
            &problem,
        );
    }
    drop(previous);
    super::ui::init(plugin);
    debug::info(&format!(
        "loaded, version {}",
        manifest::VERSION.to_string_lossy()
    ));
    true
}

/// PURPLE_OTR_TEST_PANIC=1 at load time arms `/otr __panic`, in debug builds only: a
/// release build ignores it.
fn test_panic_requested() -> bool {
    cfg!(debug_assertions) && std::env::var_os("PURPLE_OTR_TEST_PANIC").is_some_and(|v| v == "1")
}
