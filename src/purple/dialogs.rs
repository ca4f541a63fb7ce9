//! Dialogs through libpurple's request API (Pidgin and Finch both implement it):
//! authenticating a buddy (SMP, question or shared secret), answering their request,
//! verifying a fingerprint by hand with an explicit confirm step, per-buddy settings and the
//! list of known fingerprints.
//!
//! A dialog's callbacks get an integer token, never a pointer: the token names an entry in
//! a table we own, so a dialog answered after its conversation closed (or twice, or after
//! unload) finds nothing and does nothing — pidgin-otr's SMP dialog once used freed memory.

use std::ffi::{c_void, CStr};
use std::ptr;

use crate::otr::crypto::fingerprint::Fingerprint;
use crate::otr::policy::Policy;

use super::ffi;
use super::guard::guard;
use super::objects::{Account, BlistNode};
use super::prefs;
use super::runtime;
use super::text::{c_string, lossy};
use crate::client::commands::KnownKey;
use crate::client::i18n::{fill, tr};
use crate::client::{AccountId, ConvKey};

enum Pending {
    SmpAnswer(ConvKey),
    SmpStart(ConvKey),
    Verify(ConvKey, Fingerprint),
    BuddyPolicy(AccountId, String),
    Forget(Vec<(AccountId, String, Fingerprint)>),
}

fn remember(p: Pending) -> usize {
    runtime::with(|r| r.requests.remember(Box::new(p))).unwrap_or(0)
}

fn take(token: *mut c_void) -> Option<Pending> {
    runtime::with(|r| r.requests.take(token as usize))
        .flatten()
        .and_then(|b| b.downcast::<Pending>().ok())
        .map(|b| *b)
}

/// Closes the "Authenticate to your buddy" dialog of `key`, if open: the question was
/// answered (or refused) another way, e.g. `/otr smp`.
pub(crate) fn close_smp_answer(key: &ConvKey) {
    let handles = runtime::with(|r| {
        r.requests.take_matching(|what| {
            matches!(what.downcast_ref::<Pending>(), Some(Pending::SmpAnswer(k)) if k == key)
        })
    })
    .unwrap_or_default();
    for ui in handles.into_iter().filter(|u| *u != 0) {
        // SAFETY: the handle the UI returned for this open fields dialog; forgotten above
        // first, so its callbacks (if the UI calls them on close) find nothing.
        unsafe { ffi::purple_request_close(ffi::PURPLE_REQUEST_FIELDS, ui as *mut c_void) };
    }
}

/// Closes our open dialogs and forgets them (unload).
pub(crate) fn close_all() {
    let handle = runtime::plugin_handle();
    if !handle.is_null() {
        // SAFETY: our plugin handle, under which every dialog was opened.
        unsafe { ffi::purple_request_close_with_handle(handle) };
    }
    runtime::with(|r| r.requests.clear());
}

/// The fields being built for one dialog.
struct Form {
    fields: *mut ffi::PurpleRequestFields,
    group: *mut ffi::PurpleRequestFieldGroup,
}

impl Form {
    fn new() -> Form {
        // SAFETY: fresh objects; the group is handed to the fields, the fields to the
        // request call (which frees them).
        unsafe {
            let fields = ffi::purple_request_fields_new();
            let group = ffi::purple_request_field_group_new(ptr::null());
            ffi::purple_request_fields_add_group(fields, group);
            Form { fields, group }
        }
    }

    fn label(&self, id: &CStr, text: &str) {
        let t = c_string(text);
        // SAFETY: live group; libpurple copies id and text.
        unsafe {
            ffi::purple_request_field_group_add_field(
                self.group,
                ffi::purple_request_field_label_new(id.as_ptr(), t.as_ptr()),
            )
        };
    }

    /// Text to read and copy, not to edit (Pidgin adds a colon after a field's label, so
    /// values never go into labels).
    fn read_only(&self, id: &CStr, text: &str, value: &str) {
        let (t, v) = (c_string(text), c_string(value));
        // SAFETY: live group; libpurple copies id, text and value.
        unsafe {
            let f = ffi::purple_request_field_string_new(id.as_ptr(), t.as_ptr(), v.as_ptr(), 0);
            ffi::purple_request_field_string_set_editable(f, 0);
            ffi::purple_request_field_group_add_field(self.group, f);
        }
    }

    fn string(&self, id: &CStr, text: &str, masked: bool, required: bool) {
        let t = c_string(text);
        // SAFETY: live group; libpurple copies id and text.
        unsafe {
            let f = ffi::purple_request_field_string_new(id.as_ptr(), t.as_ptr(), ptr::null(), 0);
            ffi::purple_request_field_string_set_masked(f, ffi::gboolean::from(masked));
            ffi::purple_request_field_set_required(f, ffi::gboolean::from(required));
            ffi::purple_request_field_group_add_field(self.group, f);
        }
    }

    fn choice(&self, id: &CStr, text: &str, options: &[&str], default: usize) {
        let t = c_string(text);
        // SAFETY: live group; libpurple copies id, text and option labels.
        unsafe {
            let f = ffi::purple_request_field_choice_new(
                id.as_ptr(),
                t.as_ptr(),
                i32::try_from(default).unwrap_or(0),
            );
            for o in options {
                let o = c_string(o);
                ffi::purple_request_field_choice_add(f, o.as_ptr());
            }
            ffi::purple_request_field_group_add_field(self.group, f);
        }
    }

    /// Shows the dialog; `ok`/`cancel` texts label the buttons. (The arguments are
    /// `purple_request_fields`' own.)
    #[allow(clippy::too_many_arguments)]
    fn show(
        self,
        title: &str,
        primary: &str,
        secondary: &str,
        ok: &str,
        cancel: &str,
        account: Option<Account>,
        who: Option<&str>,
        token: usize,
    ) {
        unsafe extern "C" fn on_ok(data: *mut c_void, fields: *mut ffi::PurpleRequestFields) {
            guard("dialog", None, (), || answered(data, fields, true));
        }
        unsafe extern "C" fn on_cancel(data: *mut c_void, fields: *mut ffi::PurpleRequestFields) {
            guard("dialog", None, (), || answered(data, fields, false));
        }
        type Cb = unsafe extern "C" fn(*mut c_void, *mut ffi::PurpleRequestFields);
        let handle = runtime::plugin_handle();
        let (t, p, s, o, c) = (
            c_string(title),
            c_string(primary),
            c_string(secondary),
            c_string(ok),
            c_string(cancel),
        );
        let w = who.map(c_string);
        // SAFETY: strings outlive the call (libpurple copies them); `fields` is handed over;
        // the callbacks have PurpleRequestFieldsCb's signature (G_CALLBACK erases it);
        // user data is an integer token, never dereferenced.
        let ui = unsafe {
            let ok_cb = std::mem::transmute::<Cb, unsafe extern "C" fn()>(on_ok);
            let cancel_cb = std::mem::transmute::<Cb, unsafe extern "C" fn()>(on_cancel);
            ffi::purple_request_fields(
                handle,
                t.as_ptr(),
                p.as_ptr(),
                s.as_ptr(),
                self.fields,
                o.as_ptr(),
                Some(ok_cb),
                c.as_ptr(),
                Some(cancel_cb),
                account.map_or(ptr::null_mut(), Account::as_ptr),
                w.as_ref().map_or(ptr::null(), |w| w.as_ptr()),
                ptr::null_mut(),
                token as *mut c_void,
            )
        };
        // Still pending (a UI may answer synchronously): remember how to close it.
        runtime::with(|r| r.requests.set_ui_handle(token, ui as usize));
    }
}

fn field_string(fields: *mut ffi::PurpleRequestFields, id: &CStr) -> String {
    // SAFETY: the live fields of the dialog being answered; value copied at once.
    unsafe { lossy(ffi::purple_request_fields_get_string(fields, id.as_ptr())) }
}

fn field_choice(fields: *mut ffi::PurpleRequestFields, id: &CStr) -> usize {
    // SAFETY: the live fields of the dialog being answered.
    usize::try_from(unsafe { ffi::purple_request_fields_get_choice(fields, id.as_ptr()) })
        .unwrap_or(0)
}

fn answered(token: *mut c_void, fields: *mut ffi::PurpleRequestFields, ok: bool) {
    let Some(pending) = take(token) else { return };
    let now = runtime::now();
    let effects = match pending {
        Pending::SmpAnswer(key) => {
            let settings = prefs::settings_of(&key);
            if ok {
                let secret = field_string(fields, c"secret");
                runtime::with_client(|b| b.smp_respond(&key, &settings, &secret, now))
            } else {
                runtime::with_client(|b| b.smp_abort(&key, &settings, now))
            }
        }
        Pending::SmpStart(key) if ok => {
            let settings = prefs::settings_of(&key);
            let secret = field_string(fields, c"secret");
            let question =
                (field_choice(fields, c"method") == 0).then(|| field_string(fields, c"question"));
            let question = question.filter(|q| !q.trim().is_empty());
            if field_choice(fields, c"method") == 0 && question.is_none() {
                runtime::notice(
                    &key,
                    &tr("Authentication needs a question when you choose “question and answer”."),
                    true,
                );
                return;
            }
            runtime::with_client(|b| {
                b.smp_start(&key, &settings, question.as_deref(), &secret, now)
            })
        }
        Pending::Verify(key, fp) if ok => {
            let settings = prefs::settings_of(&key);
            let verified = field_choice(fields, c"verdict") == 1;
            runtime::with_client(|b| b.set_verified(&key, &settings, &fp, verified, now))
        }
        Pending::BuddyPolicy(account, buddy) if ok => {
            let choice = field_choice(fields, c"policy");
            let policy = POLICY_CHOICES.get(choice).copied().flatten();
            if let Some(node) = Account::find(&account.name, &account.protocol)
                .and_then(|a| a.buddy(&buddy))
                .map(|b| b.node())
            {
                prefs::set_buddy_policy(node, policy);
                let key = ConvKey {
                    account: account.clone(),
                    buddy: buddy.clone(),
                };
                let settings = prefs::settings_of(&key);
                return runtime::dispatch(|c, now| c.settings_changed(&key, &settings, now));
            }
            None
        }
        Pending::Forget(entries) if ok => {
            let choice = field_choice(fields, c"fingerprint");
            if let Some((account, buddy, fp)) = entries.get(choice) {
                return runtime::dispatch(|c, _| c.forget_fingerprint(account, buddy, fp));
            }
            None
        }
        _ => None,
    };
    runtime::apply(effects.unwrap_or_default());
}

/// The buddy asked to authenticate: ask for the answer (or the shared secret).
pub(crate) fn ask_smp_secret(key: &ConvKey, question: Option<&str>) {
    let form = Form::new();
    // The question is the buddy's text: shown as plain text, never as markup.
    let (primary, what) = match question {
        Some(q) => (
            fill(
                &tr("{buddy} asks: {question}"),
                &[("buddy", &key.buddy), ("question", q)],
            ),
            tr("Your answer (case sensitive)"),
        ),
        None => (
            fill(
                &tr("{buddy} wants to check that you are you"),
                &[("buddy", &key.buddy)],
            ),
            tr("The secret you share with them"),
        ),
    };
    form.string(c"secret", &what, false, true);
    let token = remember(Pending::SmpAnswer(key.clone()));
    form.show(
        &tr("Authenticate to your buddy"),
        &primary,
        &tr("Answer only if you know this comes from your buddy; the answer is never sent, only compared."),
        &tr("Answer"),
        &tr("Refuse"),
        Account::find(&key.account.name, &key.account.protocol),
        Some(&key.buddy),
        token,
    );
}

/// "Authenticate buddy": a question and answer, or a shared secret.
pub(crate) fn start_smp(key: &ConvKey) {
    let form = Form::new();
    form.choice(
        c"method",
        &tr("How"),
        &[
            &tr("Ask a question only they can answer"),
            &tr("Use a secret you both know"),
        ],
        0,
    );
    form.string(
        c"question",
        &tr("Question (for the first way)"),
        false,
        false,
    );
    form.string(
        c"secret",
        &tr("Answer or secret (case sensitive)"),
        false,
        true,
    );
    let token = remember(Pending::SmpStart(key.clone()));
    form.show(
        &tr("Authenticate buddy"),
        &fill(
            &tr("Check that you are really talking to {buddy}"),
            &[("buddy", &key.buddy)],
        ),
        &tr("Pick something an impostor could not know or guess. Your buddy must type the same answer; \
             it is never sent, only compared."),
        &tr("Authenticate"),
        &tr("Cancel"),
        Account::find(&key.account.name, &key.account.protocol),
        Some(&key.buddy),
        token,
    );
}

/// "Verify fingerprint": compare by hand, then confirm explicitly (nothing changes until
/// the user presses the button).
pub(crate) fn verify(
    key: &ConvKey,
    ours: Option<Fingerprint>,
    theirs: Fingerprint,
    verified: bool,
) {
    let form = Form::new();
    let ours = ours.map_or_else(|| tr("(no key yet)").into_owned(), |f| f.human());
    form.read_only(
        c"ours",
        &fill(
            &tr("Your fingerprint ({account})"),
            &[("account", &key.account.name)],
        ),
        &ours,
    );
    form.read_only(
        c"theirs",
        &fill(
            &tr("{buddy}'s fingerprint, as received"),
            &[("buddy", &key.buddy)],
        ),
        &theirs.human(),
    );
    form.choice(
        c"verdict",
        &tr("This key"),
        &[
            &tr("is not verified"),
            &tr("is verified: it matches what my buddy told me"),
        ],
        usize::from(verified),
    );
    let token = remember(Pending::Verify(key.clone(), theirs));
    form.show(
        &tr("Verify fingerprint"),
        &fill(&tr("Is this really {buddy}'s key?"), &[("buddy", &key.buddy)]),
        &tr("Compare the fingerprint with your buddy over another channel you trust (in person, a phone call). \
             Mark it verified only if every character matches."),
        &tr("Save"),
        &tr("Cancel"),
        Account::find(&key.account.name, &key.account.protocol),
        Some(&key.buddy),
        token,
    );
}

const POLICY_CHOICES: [Option<Policy>; 5] = [
    None,
    Some(Policy::NEVER),
    Some(Policy::MANUAL),
    Some(Policy::OPPORTUNISTIC),
    Some(Policy::ALWAYS),
];

/// "OTR settings for this buddy".
pub(crate) fn buddy_settings(account: Account, buddy: &str, node: BlistNode) {
    let form = Form::new();
    let current = node
        .get_string(prefs::BUDDY_POLICY)
        .and_then(|n| Policy::from_name(&n));
    let labels: Vec<String> = POLICY_CHOICES
        .iter()
        .map(|p| prefs::policy_label(*p))
        .collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let default = POLICY_CHOICES
        .iter()
        .position(|p| *p == current)
        .unwrap_or(0);
    form.choice(c"policy", &tr("Private conversations"), &labels, default);
    let id = AccountId {
        name: account.username(),
        protocol: account.protocol_id(),
    };
    let token = remember(Pending::BuddyPolicy(id, buddy.to_string()));
    form.show(
        &tr("OTR settings"),
        &fill(
            &tr("When to talk privately with {buddy}"),
            &[("buddy", buddy)],
        ),
        &fill(
            &tr("The default for everyone is set in the plugin's configuration ({setting})."),
            &[(
                "setting",
                &prefs::policy_label(Some(prefs::default_policy())),
            )],
        ),
        &tr("Save"),
        &tr("Cancel"),
        Some(account),
        Some(buddy),
        token,
    );
}

/// Known fingerprints, with the choice of one to forget.
pub(crate) fn known_fingerprints(entries: Vec<KnownKey>) {
    let form = Form::new();
    if entries.is_empty() {
        form.label(c"none", &tr("No buddy's key is known yet."));
    }
    let labels: Vec<String> = entries
        .iter()
        .map(|k| {
            let template = if k.trusted {
                tr("{buddy} — {fingerprint} — verified ({account})")
            } else {
                tr("{buddy} — {fingerprint} — not verified ({account})")
            };
            fill(
                &template,
                &[
                    ("buddy", &k.buddy),
                    ("fingerprint", &k.fingerprint.human()),
                    ("account", &k.account.name),
                ],
            )
        })
        .collect();
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    if !refs.is_empty() {
        form.choice(c"fingerprint", &tr("Key"), &refs, 0);
    }
    let token = remember(Pending::Forget(
        entries
            .into_iter()
            .map(|k| (k.account, k.buddy, k.fingerprint))
            .collect(),
    ));
    form.show(
        &tr("Known fingerprints"),
        &tr("Buddies' keys you have seen"),
        &tr("Forgetting a key means the next private conversation with it counts as a new, unverified key."),
        &tr("Forget selected key"),
        &tr("Close"),
        None,
        None,
        token,
    );
}
