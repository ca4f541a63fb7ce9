//! Build script of purple-otr.
//!
//! Without the `plugin` feature it does nothing: the pure engine needs no C toolchain, no
//! libpurple and no libclang (`cargo test --no-default-features`).
//!
//! With it (the default) it
//! 1. turns `plugin-manifest/plugin.toml` into `$OUT_DIR/manifest.rs` (C string constants
//!    for the `PurplePluginInfo`; the version is Cargo's),
//! 2. asks the `pkg-config` binary for `purple` and `glib-2.0`,
//! 3. runs bindgen over `include/purple_otr.h` with an allowlist of exactly what
//!    `src/purple` uses, into `$OUT_DIR/purple_bindings.rs` (never committed),
//! 4. compiles the small C shim `src/purple/shim.c` with `cc`.

// Without the feature, bindgen and cc are not even compiled in: only `main`'s early return runs.
#![cfg_attr(not(feature = "plugin"), allow(dead_code, unused_imports))]

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{self, Command};

const MANIFEST: &str = "plugin-manifest/plugin.toml";
const HEADER: &str = "include/purple_otr.h";
const SHIM: &str = "src/purple/shim.c";

/// The Debian/Ubuntu packages a plugin build needs, named in every build error.
const APT_LINE: &str = "apt-get install libpurple-dev libglib2.0-dev libclang-dev pkg-config";

/// libpurple/glib functions the plugin calls (plus the shim and our exported entry point).
const ALLOWED_FUNCTIONS: &[&str] = &[
    "purple_init_plugin",
    "purple_otr_debug",
    "purple_plugin_register",
    "purple_plugins_find_with_id",
    "purple_plugin_is_loaded",
    "purple_plugins_get_handle",
    "purple_signal_connect",
    "purple_signal_disconnect",
    "purple_signals_disconnect_by_handle",
    "purple_conversations_get_handle",
    "purple_blist_get_handle",
    "purple_cmd_register",
    "purple_cmd_unregister",
    "purple_menu_action_new",
    "purple_conversation_get_type",
    "purple_conversation_get_account",
    "purple_conversation_write",
    "purple_conversation_new",
    "purple_find_conversation_with_account",
    "purple_blist_node_get_type",
    "purple_contact_get_priority_buddy",
    "purple_buddy_get_account",
    "purple_buddy_get_name",
    "purple_plugin_get_id",
    "purple_notify_message",
    "g_list_append",
    "g_strdup",
    "g_free",
    // OTR wiring: accounts, names, sending protocol messages, logging.
    "purple_accounts_find",
    "purple_account_get_username",
    "purple_account_get_protocol_id",
    "purple_account_get_connection",
    "purple_account_is_connected",
    "purple_connection_get_account",
    "purple_normalize",
    "purple_conversation_get_name",
    "purple_conversation_set_logging",
    "purple_conversation_is_logging",
    "purple_conversation_get_im_data",
    "purple_conv_im_write",
    "serv_send_im",
    "purple_find_buddy",
    "purple_buddy_get_presence",
    "purple_presence_is_online",
    "purple_connections_get_handle",
    "purple_get_core",
    "purple_user_dir",
    "purple_timeout_add",
    "purple_timeout_add_seconds",
    "purple_timeout_remove",
    // Preferences (global under /plugins/core/purple-otr, per buddy on blist nodes).
    "purple_prefs_add_none",
    "purple_prefs_add_bool",
    "purple_prefs_add_string",
    "purple_prefs_get_bool",
    "purple_prefs_get_string",
    "purple_prefs_set_bool",
    "purple_prefs_set_string",
    "purple_prefs_exists",
    "purple_blist_node_get_string",
    "purple_blist_node_set_string",
    "purple_blist_node_remove_setting",
    "purple_blist_node_get_bool",
    // The plugin's configuration frame (Pidgin and Finch both render it).
    "purple_plugin_pref_frame_new",
    "purple_plugin_pref_frame_add",
    "purple_plugin_pref_new_with_label",
    "purple_plugin_pref_new_with_name_and_label",
    "purple_plugin_pref_set_type",
    "purple_plugin_pref_add_choice",
    "purple_plugin_action_new",
    // Dialogs.
    "purple_request_fields",
    "purple_request_fields_new",
    "purple_request_fields_add_group",
    "purple_request_field_group_new",
    "purple_request_field_group_add_field",
    "purple_request_field_string_new",
    "purple_request_field_string_set_masked",
    "purple_request_field_label_new",
    "purple_request_field_choice_new",
    "purple_request_field_choice_add",
    "purple_request_field_set_required",
    "purple_request_fields_get_string",
    "purple_request_fields_get_choice",
    "purple_request_close_with_handle",
    // Key import and export (src/purple/dialogs.rs).
    "purple_request_file",
    "purple_request_folder",
    "purple_request_field_account_new",
    "purple_request_field_account_set_show_all",
    "purple_request_fields_get_account",
    "purple_request_field_bool_new",
    "purple_request_fields_get_bool",
    "purple_notify_formatted",
    // XEP-0364 hints on OTR stanzas (jabber-sending-xmlnode).
    "xmlnode_get_child",
    "xmlnode_get_child_with_namespace",
    "xmlnode_get_data",
    "xmlnode_new_child",
    "xmlnode_set_namespace",
    // Which UI runs us, and Finch's window title (src/purple/ui.rs, finch_title.rs).
    "purple_core_get_ui",
    "purple_get_ims",
    "purple_conversation_get_title",
    "purple_conversation_set_title",
    "purple_conversation_autoset_title",
    "purple_signal_emit",
    // Closing one dialog; read-only text fields (selectable fingerprints).
    "purple_request_close",
    "purple_request_field_string_set_editable",
    // Translations: glibc's libintl, our own text domain (src/purple/i18n.rs).
    "bindtextdomain",
    "bind_textdomain_codeset",
    "dgettext",
    "dngettext",
];

/// Types whose fields the plugin reads or writes.
const ALLOWED_TYPES: &[&str] = &[
    "xmlnode",
    "PurplePlugin",
    "PurplePluginInfo",
    "PurplePluginType",
    "PurpleMessageFlags",
    "PurpleConversationType",
    "PurpleBlistNodeType",
    "PurpleCmdRet",
    "PurpleCmdFlag",
    "PurpleCmdPriority",
    "PurpleDebugLevel",
    "PurpleNotifyMsgType",
    "PurplePluginUiInfo",
    "PurplePluginPrefType",
    "PurpleRequestFields",
    "PurpleRequestFieldGroup",
    "PurpleRequestField",
    "PurpleRequestFieldsCb",
    "GSourceFunc",
    "PurpleConvUpdateType",
];

/// Header macros the plugin uses.
const ALLOWED_VARS: &[&str] = &[
    "PURPLE_PLUGIN_MAGIC",
    "PURPLE_MAJOR_VERSION",
    "PURPLE_MINOR_VERSION",
    "PURPLE_PRIORITY_DEFAULT",
];

/// Host objects the plugin only ever holds by pointer: bindgen emits them opaque, so no
/// Rust code can depend on (or corrupt) their private fields.
const OPAQUE_TYPES: &[&str] = &[
    "_PurpleConversation",
    "_PurpleAccount",
    "_PurpleBlistNode",
    "_PurpleBuddy",
    "_PurpleContact",
    "_PurpleMenuAction",
    "_GList",
    "_GModule",
    "_PurplePluginIpc",
    "_PurplePluginAction",
    "_PurpleConnection",
    "_PurpleConvIm",
    "_PurplePresence",
    "_PurplePluginPrefFrame",
    "_PurplePluginPref",
    "_PurpleRequestFields",
    "_PurpleRequestFieldGroup",
    "_PurpleRequestField",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CARGO_FEATURE_PLUGIN");
    if env::var_os("CARGO_FEATURE_PLUGIN").is_none() {
        return;
    }
    println!("cargo:rerun-if-changed={MANIFEST}");
    println!("cargo:rerun-if-changed={HEADER}");
    println!("cargo:rerun-if-changed={SHIM}");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    println!("cargo:rerun-if-env-changed=LIBCLANG_PATH");

    let out_dir =
        PathBuf::from(env::var_os("OUT_DIR").unwrap_or_else(|| fail("OUT_DIR is not set")));
    write_manifest(&out_dir.join("manifest.rs"));

    let flags = pkg_config(&["purple", "glib-2.0"]);
    for dir in &flags.link_dirs {
        println!("cargo:rustc-link-search=native={dir}");
    }
    for lib in &flags.link_libs {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }

    #[cfg(feature = "plugin")]
    {
        generate_bindings(&flags, &out_dir.join("purple_bindings.rs"));
        compile_shim(&flags);
    }
}

/// Prints a build error (with the package line when it is about missing pieces) and stops.
fn fail(msg: &str) -> ! {
    eprintln!("\nerror: {msg}\n");
    process::exit(1);
}

fn fail_missing(what: &str, detail: &str) -> ! {
    fail(&format!(
        "{what}.\n{detail}\nOn Debian/Ubuntu install the build dependencies with:\n    sudo {APT_LINE}\n\
         (or build the engine alone with `cargo build --no-default-features`)"
    ))
}

// --- plugin-manifest ------------------------------------------------------------------

/// Parses the `key = "value"` lines of the manifest.
fn parse_manifest(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut entries = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected `key = \"value\"`", n + 1))?;
        let value = value.trim();
        let inner = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| format!("line {}: the value must be a double-quoted string", n + 1))?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('n') => out.push('\n'),
                    other => return Err(format!("line {}: unsupported escape \\{other:?}", n + 1)),
                },
                '"' => return Err(format!("line {}: unescaped quote", n + 1)),
                '\0' => return Err(format!("line {}: NUL in value", n + 1)),
                c => out.push(c),
            }
        }
        entries.push((key.trim().to_owned(), out));
    }
    Ok(entries)
}

/// A Rust `c"..."` literal for `s` (which holds no NUL).
fn c_literal(s: &str) -> String {
    let mut lit = String::from("c\"");
    for c in s.chars() {
        match c {
            '"' => lit.push_str("\\\""),
            '\\' => lit.push_str("\\\\"),
            '\n' => lit.push_str("\\n"),
            c if c.is_ascii_control() => {
                let _ = write!(lit, "\\x{:02x}", c as u32);
            }
            c => lit.push(c),
        }
    }
    lit.push('"');
    lit
}

fn write_manifest(dest: &Path) {
    let text = fs::read_to_string(MANIFEST)
        .unwrap_or_else(|e| fail(&format!("cannot read {MANIFEST}: {e}")));
    let entries = parse_manifest(&text).unwrap_or_else(|e| fail(&format!("{MANIFEST}: {e}")));
    let version =
        env::var("CARGO_PKG_VERSION").unwrap_or_else(|_| fail("CARGO_PKG_VERSION is not set"));
    let mut src = format!("// Generated by build.rs from {MANIFEST}; do not edit.\n\n");
    for key in ["id", "name", "summary", "description", "author", "homepage"] {
        let matches: Vec<&String> = entries
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect();
        let value = match matches.as_slice() {
            [one] => *one,
            [] => fail(&format!("{MANIFEST}: `{key}` is missing")),
            _ => fail(&format!("{MANIFEST}: `{key}` is given more than once")),
        };
        let _ = writeln!(
            src,
            "pub(crate) const {}: &::std::ffi::CStr = {};",
            key.to_ascii_uppercase(),
            c_literal(value)
        );
    }
    if let Some((k, _)) = entries.iter().find(|(k, _)| {
        !["id", "name", "summary", "description", "author", "homepage"].contains(&k.as_str())
    }) {
        fail(&format!(
            "{MANIFEST}: unknown key `{k}` (the version comes from Cargo.toml)"
        ));
    }
    let _ = writeln!(
        src,
        "pub(crate) const VERSION: &::std::ffi::CStr = {};",
        c_literal(&version)
    );
    fs::write(dest, src).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", dest.display())));
}

// --- pkg-config -----------------------------------------------------------------------

#[derive(Default)]
struct PkgFlags {
    include_dirs: Vec<String>,
    /// Other compiler flags (-D..., -pthread).
    cflags: Vec<String>,
    link_dirs: Vec<String>,
    link_libs: Vec<String>,
}

fn pkg_config(packages: &[&str]) -> PkgFlags {
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_owned());
    let run = |what: &str| -> String {
        let out = Command::new(&pkg_config).arg(what).args(packages).output();
        match out {
            Err(e) => fail_missing(
                &format!("could not run `{pkg_config}` ({e})"),
                "pkg-config is needed to find libpurple.",
            ),
            Ok(out) if !out.status.success() => fail_missing(
                &format!("pkg-config could not find {}", packages.join(" and ")),
                String::from_utf8_lossy(&out.stderr).trim(),
            ),
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        }
    };
    let mut flags = PkgFlags::default();
    for tok in run("--cflags").split_whitespace() {
        match tok.strip_prefix("-I") {
            Some(dir) => flags.include_dirs.push(dir.to_owned()),
            None => flags.cflags.push(tok.to_owned()),
        }
    }
    for tok in run("--libs").split_whitespace() {
        if let Some(dir) = tok.strip_prefix("-L") {
            flags.link_dirs.push(dir.to_owned());
        } else if let Some(lib) = tok.strip_prefix("-l") {
            flags.link_libs.push(lib.to_owned());
        }
    }
    flags
}

// --- bindgen --------------------------------------------------------------------------

#[cfg(feature = "plugin")]
fn generate_bindings(flags: &PkgFlags, dest: &Path) {
    let mut builder = bindgen::Builder::default()
        .header(HEADER)
        .clang_args(flags.include_dirs.iter().map(|d| format!("-I{d}")))
        .clang_args(flags.cflags.iter().filter(|f| f.starts_with("-D")))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .prepend_enum_name(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .generate_comments(false)
        .layout_tests(true);
    for f in ALLOWED_FUNCTIONS {
        builder = builder.allowlist_function(f);
    }
    for t in ALLOWED_TYPES {
        builder = builder.allowlist_type(t);
    }
    for v in ALLOWED_VARS {
        builder = builder.allowlist_var(v);
    }
    for t in OPAQUE_TYPES {
        builder = builder.opaque_type(t);
    }

    // bindgen panics when it cannot load libclang; turn that into an actionable error
    // (with the default panic message silenced, so ours is the one the user reads).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || builder.generate()));
    std::panic::set_hook(default_hook);
    let bindings = match result {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => fail_missing(
            &format!("bindgen could not read {HEADER}: {e}"),
            "The libpurple or glib development headers are probably missing.",
        ),
        Err(_) => fail_missing(
            "bindgen could not load libclang",
            "libclang is needed to generate the libpurple bindings (set LIBCLANG_PATH if it is installed elsewhere).",
        ),
    };
    bindings
        .write_to_file(dest)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", dest.display())));
}

// --- the C shim -----------------------------------------------------------------------

#[cfg(feature = "plugin")]
fn compile_shim(flags: &PkgFlags) {
    let mut build = cc::Build::new();
    build
        .file(SHIM)
        .include("include")
        .warnings(true)
        .extra_warnings(true);
    for dir in &flags.include_dirs {
        build.include(dir);
    }
    for f in &flags.cflags {
        build.flag(f);
    }
    build.compile("purple_otr_shim");
}
