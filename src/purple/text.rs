//! Strings across the boundary: C strings are read lossily, Rust strings become C strings
//! without ever panicking on an interior NUL. (Escaping text for libpurple's markup is
//! [`crate::client::markup`]: it is not FFI.)

use std::borrow::Cow;
use std::ffi::{c_char, CStr, CString};

/// Reads a C string lossily (invalid UTF-8 becomes U+FFFD); NULL reads as "".
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid during the call.
pub(crate) unsafe fn lossy(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-NULL and NUL-terminated per this function's contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A C string for `s`; interior NULs (possible in peer-supplied text) become U+FFFD
/// instead of failing.
pub(crate) fn c_string(s: &str) -> CString {
    let cleaned: Cow<'_, str> = if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    };
    // After the replacement there is no NUL left, so this cannot fail; fall back to an
    // empty string rather than unwrap anyway.
    CString::new(cleaned.into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_string_replaces_interior_nul() {
        let c = c_string("a\0b");
        assert_eq!(c.to_str().ok(), Some("a\u{FFFD}b"));
        assert_eq!(c_string("plain").as_bytes(), b"plain");
    }

    #[test]
    fn lossy_reads_invalid_utf8_and_null() {
        let bytes = b"ok\xffok\0";
        // SAFETY: a NUL-terminated static byte string.
        let s = unsafe { lossy(bytes.as_ptr().cast()) };
        assert_eq!(s, "ok\u{FFFD}ok");
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { lossy(std::ptr::null()) }, "");
    }
}
