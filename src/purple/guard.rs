//! The one panic guard every `extern "C"` entry point runs its body through.
//!
//! A panic unwinding out of an `extern "C"` function aborts the process (Rust >= 1.81):
//! it would take Pidgin down with every open conversation. The guard catches it, logs it
//! through purple_debug, tells the user in the conversation concerned (if any) and gives
//! libpurple a neutral return value.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::debug;
use super::objects::Conversation;

/// Runs `body`; on panic logs `site`, writes a notice into `conv` (when given) and returns
/// `neutral`.
pub(crate) fn guard<R>(
    site: &'static str,
    conv: Option<Conversation>,
    neutral: R,
    body: impl FnOnce() -> R,
) -> R {
    // AssertUnwindSafe: after a panic we only return `neutral`; no state the body may have
    // left half-updated is read by the guard itself.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            report(site, conv, payload.as_ref());
            neutral
        }
    }
}

fn report(site: &'static str, conv: Option<Conversation>, payload: &(dyn Any + Send)) {
    // Reporting must not panic either; if it somehow does, give up silently rather than
    // unwind into C.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        debug::error(&format!("internal error in {site}: {what}"));
        if let Some(conv) = conv {
            conv.write_error(&format!(
                "Off-the-Record: an internal error happened ({site}). \
                 The plugin is still running; details are in the debug log."
            ));
        }
    }));
}
