//! The plugin's lines in libpurple's debug log (category "purple-otr"). Never log message
//! text or secrets here: debug logs end up in bug reports.

use super::ffi;
use super::text::c_string;

fn log(level: ffi::PurpleDebugLevel, line: &str) {
    let line = c_string(line);
    // SAFETY: the shim only reads the NUL-terminated `line`, which outlives the call, and
    // passes it to purple_debug as a "%s" argument (never as a format).
    unsafe { ffi::purple_otr_debug(level, line.as_ptr()) }
}

pub(crate) fn misc(line: &str) {
    log(ffi::PURPLE_DEBUG_MISC, line);
}

pub(crate) fn info(line: &str) {
    log(ffi::PURPLE_DEBUG_INFO, line);
}

pub(crate) fn warning(line: &str) {
    log(ffi::PURPLE_DEBUG_WARNING, line);
}

pub(crate) fn error(line: &str) {
    log(ffi::PURPLE_DEBUG_ERROR, line);
}
