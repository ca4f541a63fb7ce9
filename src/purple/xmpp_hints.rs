//! XEP-0364 §4.3: every OTR message we send over XMPP asks the server not to copy it to our
//! other devices (XEP-0280 carbons: they cannot read it and would show garbage) and not to
//! archive it (XEP-0334 hints: the server would keep ciphertext forever). Plain messages and
//! other protocols are left alone. libpurple's XMPP plugin hands every stanza to
//! `jabber-sending-xmlnode` before it goes out.

use std::ffi::{c_char, c_void, CStr};

use super::ffi;
use super::guard::guard;
use super::host::SignalConnection;
use super::objects::Plugin;
use super::text::lossy;

/// (element, namespace) of each hint, in the order they are added.
const HINTS: [(&CStr, &CStr); 3] = [
    (c"private", c"urn:xmpp:carbons:2"),
    (c"no-copy", c"urn:xmpp:hints"),
    (c"no-permanent-store", c"urn:xmpp:hints"),
];

/// Whether a message body is an OTR protocol message (query, AKE, data, fragment, error);
/// a plain message carrying a whitespace tag is not.
pub(crate) fn is_otr_body(body: &str) -> bool {
    body.starts_with("?OTR")
}

/// Connects to the XMPP plugin's stanza signal, if that plugin is loaded.
pub(crate) fn connect(plugin: Plugin) -> Option<SignalConnection> {
    type Sending =
        unsafe extern "C" fn(*mut ffi::PurpleConnection, *mut *mut ffi::xmlnode, *mut c_void);
    // SAFETY: static id; the returned plugin is owned by libpurple (or NULL).
    let jabber = unsafe { ffi::purple_plugins_find_with_id(c"prpl-jabber".as_ptr()) };
    if jabber.is_null() {
        return None;
    }
    let f: Sending = sending_xmlnode;
    // SAFETY: only the pointer type is erased; libpurple calls it with the signal's
    // arguments (PurpleConnection *, xmlnode **, user data), which `Sending` spells out.
    let func = Some(unsafe { std::mem::transmute::<Sending, unsafe extern "C" fn()>(f) });
    // SAFETY: the XMPP plugin is the signal's instance and lives as long as libpurple.
    unsafe { SignalConnection::connect(jabber.cast(), c"jabber-sending-xmlnode", plugin, func) }
}

unsafe extern "C" fn sending_xmlnode(
    _gc: *mut ffi::PurpleConnection,
    packet: *mut *mut ffi::xmlnode,
    _data: *mut c_void,
) {
    guard("jabber-sending-xmlnode", None, (), || {
        if packet.is_null() {
            return;
        }
        // SAFETY: the signal passes a valid `xmlnode **` for the stanza about to go out.
        let node = unsafe { *packet };
        if node.is_null() {
            return;
        }
        // SAFETY: a live xmlnode; its name is a NUL-terminated string it owns.
        let name = unsafe { lossy((*node).name) };
        if name != "message" {
            return;
        }
        // SAFETY: live node, static child name; the child (or NULL) belongs to the node.
        let body = unsafe { ffi::xmlnode_get_child(node, c"body".as_ptr()) };
        if body.is_null() {
            return;
        }
        // SAFETY: live body node; xmlnode_get_data returns a g_malloc'd copy (or NULL),
        // which is read and freed here.
        let text = unsafe {
            let data: *mut c_char = ffi::xmlnode_get_data(body);
            let text = lossy(data);
            ffi::g_free(data.cast());
            text
        };
        if !is_otr_body(&text) {
            return;
        }
        for (element, xmlns) in HINTS {
            // SAFETY: live node, static NUL-terminated names; new children belong to the
            // stanza, which libpurple frees after sending.
            unsafe {
                if ffi::xmlnode_get_child_with_namespace(node, element.as_ptr(), xmlns.as_ptr())
                    .is_null()
                {
                    let hint = ffi::xmlnode_new_child(node, element.as_ptr());
                    ffi::xmlnode_set_namespace(hint, xmlns.as_ptr());
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::is_otr_body;

    #[test]
    fn only_otr_protocol_messages_are_hinted() {
        for otr in [
            "?OTRv23? alice has requested a private conversation",
            "?OTR:AAMDAAAB",
            "?OTR|5c1d3536|00000100,00001,00002,AAMD,",
            "?OTR,1,2,?OTR:AAIC,",
            "?OTR Error: You sent an encrypted message that could not be read.",
        ] {
            assert!(is_otr_body(otr), "{otr}");
        }
        for plain in [
            "hello",
            "hi \t  \t\t\t\t \t \t \t    \t\t  \t",
            " ?OTR later",
        ] {
            assert!(!is_otr_body(plain), "{plain:?}");
        }
    }
}
