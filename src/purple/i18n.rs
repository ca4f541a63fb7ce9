//! Translations through gettext, as libpurple plugins do: our own text domain
//! ("purple-otr"), bound at load to the catalogues that belong to this copy of the plugin,
//! looked up with `dgettext`/`dngettext` (glibc's libintl). The client layer gets the lookup
//! as an injected [`Translator`]; the adapter's own labels use [`tr_c`].
//!
//! Where the catalogues are: next to the .so for a per-user install
//! (`~/.purple/plugins/purple-otr/locale/<lang>/LC_MESSAGES/purple-otr.mo`, what
//! `make install` puts there), else the system's locale directory (`PREFIX/share/locale`,
//! fixed at build time by `PURPLE_OTR_LOCALEDIR`, `/usr/share/locale` by default).

use std::borrow::Cow;
use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};

use super::debug;
use super::ffi;
use super::objects::Plugin;
use super::text::lossy;
use crate::client::i18n::{set_translator, Translator};

const DOMAIN: &CStr = c"purple-otr";

/// The system-wide catalogues (the .deb and `make install PREFIX=/usr`).
const SYSTEM_LOCALEDIR: &str = match option_env!("PURPLE_OTR_LOCALEDIR") {
    Some(dir) => dir,
    None => "/usr/share/locale",
};

/// Binds the text domain and hands the lookup to the client layer; called first at load, so
/// every message after it (including load errors) is translated.
pub(crate) fn init(plugin: Plugin) {
    let dir = locale_dir(plugin);
    let Ok(c_dir) = CString::new(dir.to_string_lossy().into_owned()) else {
        debug::warning("the locale directory's path has a NUL byte: messages stay English");
        return;
    };
    // SAFETY: both strings are NUL-terminated and outlive the calls; libintl copies them.
    let bound = unsafe {
        let bound = ffi::bindtextdomain(DOMAIN.as_ptr(), c_dir.as_ptr());
        // Catalogues are UTF-8, and so is everything libpurple shows, whatever the locale's
        // own charset.
        ffi::bind_textdomain_codeset(DOMAIN.as_ptr(), c"UTF-8".as_ptr());
        !bound.is_null()
    };
    if !bound {
        debug::warning("bindtextdomain failed: messages stay English");
        return;
    }
    debug::misc(&format!("translations from {}", dir.display()));
    set_translator(Translator {
        one: translate,
        plural: translate_plural,
    });
}

/// `<directory of the .so>/purple-otr/locale` when it exists, else the system's.
fn locale_dir(plugin: Plugin) -> PathBuf {
    let raw = plugin.handle().cast::<ffi::PurplePlugin>();
    // SAFETY: the handle is our live PurplePlugin (libpurple keeps it while we are loaded);
    // `path` is its NUL-terminated file name (or NULL), copied at once.
    let so = unsafe { lossy((*raw).path) };
    Path::new(&so)
        .parent()
        .map(|d| d.join("purple-otr").join("locale"))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from(SYSTEM_LOCALEDIR))
}

/// The text libintl returned (the translation, or the msgid itself), or `None` for NULL.
///
/// # Safety
/// `out` is what `dgettext`/`dngettext` returned: NULL or a NUL-terminated string that
/// stays valid (the msgid, or text in a catalogue glibc never unmaps).
unsafe fn found(out: *const c_char) -> Option<String> {
    if out.is_null() {
        return None;
    }
    // SAFETY: per this function's contract, `out` is a live NUL-terminated string.
    let text = unsafe { CStr::from_ptr(out) };
    Some(text.to_string_lossy().into_owned())
}

fn translate(msgid: &str) -> Cow<'static, str> {
    let Ok(id) = CString::new(msgid) else {
        return Cow::Owned(msgid.to_owned());
    };
    // SAFETY: both NUL-terminated and alive for the call; the result is read at once.
    let text = unsafe { found(ffi::dgettext(DOMAIN.as_ptr(), id.as_ptr())) };
    Cow::Owned(text.unwrap_or_else(|| msgid.to_owned()))
}

fn translate_plural(singular: &str, plural: &str, n: u64) -> Cow<'static, str> {
    let english = || (if n == 1 { singular } else { plural }).to_owned();
    let (Ok(one), Ok(many)) = (CString::new(singular), CString::new(plural)) else {
        return Cow::Owned(english());
    };
    let n = std::ffi::c_ulong::try_from(n).unwrap_or(std::ffi::c_ulong::MAX);
    // SAFETY: all NUL-terminated and alive for the call; the result is read at once.
    let text = unsafe {
        found(ffi::dngettext(
            DOMAIN.as_ptr(),
            one.as_ptr(),
            many.as_ptr(),
            n,
        ))
    };
    Cow::Owned(text.unwrap_or_else(english))
}

/// A static label for libpurple, translated. The result lives as long as the process:
/// either `msgid` itself or text inside a catalogue, which glibc never unloads; so it may be
/// handed to calls that keep the pointer (preference choices).
pub(crate) fn tr_c(msgid: &'static CStr) -> &'static CStr {
    // SAFETY: NUL-terminated static msgid; dgettext returns it or catalogue text (see above).
    unsafe {
        let out = ffi::dgettext(DOMAIN.as_ptr(), msgid.as_ptr());
        if out.is_null() {
            msgid
        } else {
            CStr::from_ptr(out)
        }
    }
}

/// Marks a static label for extraction; [`tr_c`] translates it where it is shown.
pub(crate) const fn n_c(msgid: &'static CStr) -> &'static CStr {
    msgid
}
