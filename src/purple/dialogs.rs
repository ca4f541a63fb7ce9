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
use crate::client::i18n::{fill, n_, tr};
use crate::client::{transfer, wording, AccountId, ConvKey};

enum Pending {
    SmpAnswer(ConvKey),
    SmpStart(ConvKey),
    Verify(ConvKey, Fingerprint),
    BuddyPolicy(AccountId, String),
    Forget(Vec<(AccountId, String, Fingerprint)>),
    /// Moving keys between clients (see the end of this file).
    Keys(KeysStep),
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
        Pending::Keys(step) => return keys_answered(step, fields, ok),
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

// ---- moving keys between clients (Tools → Off-the-Record Messaging) ----------------------
// Import: a file dialog (the other program's otr.private_key or otr.key), then which key
// for which account, then a confirmation showing the fingerprint (and the key it would
// replace). Export: which account for which program, then a folder. The logic and the
// sentences are in crate::client::transfer and crate::client::wording.

pub(crate) enum KeysStep {
    ImportFile,
    ImportChoose(Box<transfer::ImportSource>),
    ImportConfirm(Box<transfer::ImportSource>, Box<transfer::ImportPlan>),
    Export,
    ExportFolder(AccountId, transfer::Format, Option<String>),
}

const IMPORT_TITLE: &str = n_("Import OTR keys");
const EXPORT_TITLE: &str = n_("Export OTR keys");

impl Form {
    /// A choice among the user's accounts (all of them, signed on or not).
    fn account_choice(&self, id: &CStr, text: &str) {
        let t = c_string(text);
        // SAFETY: live group; libpurple copies id and text; no default account.
        unsafe {
            let f = ffi::purple_request_field_account_new(id.as_ptr(), t.as_ptr(), ptr::null_mut());
            ffi::purple_request_field_account_set_show_all(f, 1);
            ffi::purple_request_field_set_required(f, 1);
            ffi::purple_request_field_group_add_field(self.group, f);
        }
    }

    fn toggle(&self, id: &CStr, text: &str, on: bool) {
        let t = c_string(text);
        // SAFETY: live group; libpurple copies id and text.
        unsafe {
            let f = ffi::purple_request_field_bool_new(
                id.as_ptr(),
                t.as_ptr(),
                ffi::gboolean::from(on),
            );
            ffi::purple_request_field_group_add_field(self.group, f);
        }
    }
}

fn field_account(fields: *mut ffi::PurpleRequestFields, id: &CStr) -> Option<AccountId> {
    // SAFETY: the live fields of the dialog being answered; the account is live now and
    // only read here.
    let account =
        unsafe { Account::from_ptr(ffi::purple_request_fields_get_account(fields, id.as_ptr())) };
    account.map(runtime::account_id)
}

fn field_bool(fields: *mut ffi::PurpleRequestFields, id: &CStr) -> bool {
    // SAFETY: the live fields of the dialog being answered.
    unsafe { ffi::purple_request_fields_get_bool(fields, id.as_ptr()) != 0 }
}

fn keys_error(title: &'static str, e: &transfer::TransferError) {
    super::objects::notify_error(
        runtime::plugin_handle(),
        &tr(title),
        &tr("Nothing was changed"),
        &wording::transfer_error(e),
    );
}

type PathCb = unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char);

/// The path a file or folder dialog answered with, for the step it was opened for.
fn path_answer(token: *mut c_void, path: *const std::ffi::c_char) -> Option<(KeysStep, String)> {
    let step = match take(token) {
        Some(Pending::Keys(step)) => step,
        _ => return None,
    };
    // SAFETY: libpurple passes the chosen path (or NULL), valid during the callback.
    let path = unsafe { lossy(path) };
    (!path.is_empty()).then_some((step, path))
}

unsafe extern "C" fn path_cancelled(data: *mut c_void, _path: *const std::ffi::c_char) {
    guard("key transfer", None, (), || {
        let _ = take(data);
    });
}

/// Tools → Off-the-Record Messaging → Import keys…
pub(crate) fn import_keys() {
    unsafe extern "C" fn chosen(data: *mut c_void, path: *const std::ffi::c_char) {
        guard("import keys", None, (), || {
            if let Some((KeysStep::ImportFile, path)) = path_answer(data, path) {
                match transfer::ImportSource::read(std::path::Path::new(&path)) {
                    Ok(source) => choose_import(source),
                    Err(e) => keys_error(IMPORT_TITLE, &e),
                }
            }
        });
    }
    let token = remember(Pending::Keys(KeysStep::ImportFile));
    let title = c_string(&tr("Import OTR keys: choose the other program's key file (otr.private_key, or otr.key for irssi)"));
    // SAFETY: our handle; the title outlives the call (copied); the callbacks have
    // PurpleRequestFileCb's signature (G_CALLBACK erases it); the user data is a token.
    unsafe {
        let ok = std::mem::transmute::<PathCb, unsafe extern "C" fn()>(chosen);
        let cancel = std::mem::transmute::<PathCb, unsafe extern "C" fn()>(path_cancelled);
        ffi::purple_request_file(
            runtime::plugin_handle(),
            title.as_ptr(),
            ptr::null(),
            0,
            Some(ok),
            Some(cancel),
            ptr::null_mut(),
            ptr::null(),
            ptr::null_mut(),
            token as *mut c_void,
        );
    }
}

fn choose_import(source: transfer::ImportSource) {
    let candidates = source.candidates();
    if candidates.is_empty() {
        return keys_error(IMPORT_TITLE, &transfer::TransferError::NoMatch(candidates));
    }
    let form = Form::new();
    let labels: Vec<String> = candidates.iter().map(wording::transfer_candidate).collect();
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    form.choice(c"entry", &tr("Key in the file"), &refs, 0);
    form.account_choice(c"account", &tr("For your account"));
    form.toggle(
        c"trust",
        &tr("With the buddies' keys it knows, and which are verified"),
        true,
    );
    let secondary = fill(
        &tr("Read as {format} files: {path}"),
        &[
            ("format", source.format.name()),
            ("path", &source.key_path.display().to_string()),
        ],
    );
    let token = remember(Pending::Keys(KeysStep::ImportChoose(Box::new(source))));
    form.show(
        &tr(IMPORT_TITLE),
        &tr("Which key, for which of your accounts?"),
        &secondary,
        &tr("Next"),
        &tr("Cancel"),
        None,
        None,
        token,
    );
}

fn keys_answered(step: KeysStep, fields: *mut ffi::PurpleRequestFields, ok: bool) {
    if !ok {
        return;
    }
    match step {
        KeysStep::ImportChoose(source) => {
            let Some(target) = field_account(fields, c"account") else {
                return;
            };
            let Some(entry) = source
                .candidates()
                .into_iter()
                .nth(field_choice(fields, c"entry"))
            else {
                return;
            };
            let with_trust = field_bool(fields, c"trust");
            let plan = runtime::with_client(|c| {
                transfer::plan_import(
                    &source,
                    c.store(),
                    &target,
                    Some(&entry.name_in_file),
                    with_trust,
                )
            });
            match plan {
                Some(Ok(plan)) => confirm_import(source, plan),
                Some(Err(e)) => keys_error(IMPORT_TITLE, &e),
                None => {}
            }
        }
        KeysStep::ImportConfirm(source, plan) => {
            let stamp = transfer::backup_stamp(runtime::now());
            // The button the user pressed named what it does ("Replace my key" when the
            // plan replaces one): that is the confirmation the plan needs.
            let done = runtime::with_client(|c| {
                transfer::apply_import(&source, &plan, c.store_mut(), plan.needs(), &stamp)
            });
            match done {
                Some(Ok(done)) => super::objects::notify_info(
                    runtime::plugin_handle(),
                    &tr(IMPORT_TITLE),
                    &tr("Import finished"),
                    &wording::import_done(&plan, &done),
                ),
                Some(Err(e)) => keys_error(IMPORT_TITLE, &e),
                None => {}
            }
        }
        KeysStep::Export => {
            let Some(account) = field_account(fields, c"account") else {
                return;
            };
            let format = transfer::Format::ALL
                .get(field_choice(fields, c"format"))
                .copied()
                .unwrap_or(transfer::Format::Generic);
            let name = field_string(fields, c"name").trim().to_owned();
            let name = (!name.is_empty()).then_some(name);
            choose_export_folder(account, format, name);
        }
        KeysStep::ImportFile | KeysStep::ExportFolder(..) => {}
    }
}

fn confirm_import(source: Box<transfer::ImportSource>, plan: transfer::ImportPlan) {
    // The text goes in the dialog's secondary text, which wraps and shows no mnemonics
    // (a label field would turn the "_" of otr.private_key into one).
    let form = Form::new();
    let text = wording::import_preview(&plan, "");
    let (primary, ok) = if plan.replaces() {
        (tr("This replaces your account's key"), tr("Replace my key"))
    } else {
        (tr("Check the fingerprint before importing"), tr("Import"))
    };
    let token = remember(Pending::Keys(KeysStep::ImportConfirm(
        source,
        Box::new(plan),
    )));
    form.show(
        &tr(IMPORT_TITLE),
        &primary,
        &text,
        &ok,
        &tr("Cancel"),
        None,
        None,
        token,
    );
}

/// Tools → Off-the-Record Messaging → Export keys…
pub(crate) fn export_keys() {
    let form = Form::new();
    form.account_choice(c"account", &tr("Your account"));
    let labels: Vec<_> = transfer::Format::ALL
        .iter()
        .map(|&f| wording::format_label(f))
        .collect();
    let formats: Vec<&str> = labels.iter().map(|l| l.as_ref()).collect();
    form.choice(c"format", &tr("For"), &formats, 0);
    form.string(
        c"name",
        &tr("Account name there (Adium: the account's number; empty: as here)"),
        false,
        false,
    );
    let token = remember(Pending::Keys(KeysStep::Export));
    form.show(
        &tr(EXPORT_TITLE),
        &tr("Which account's key, for which program?"),
        &tr("The key file is secret: copy it only to your own devices, then delete it."),
        &tr("Next"),
        &tr("Cancel"),
        None,
        None,
        token,
    );
}

fn choose_export_folder(account: AccountId, format: transfer::Format, name: Option<String>) {
    unsafe extern "C" fn chosen(data: *mut c_void, path: *const std::ffi::c_char) {
        guard("export keys", None, (), || {
            if let Some((KeysStep::ExportFolder(account, format, name), path)) =
                path_answer(data, path)
            {
                let dir = std::path::PathBuf::from(path);
                let result = runtime::with_client(|c| {
                    let export = transfer::export(c.store(), &account, format, name.as_deref())?;
                    let files = transfer::write_export(&dir, &export)?;
                    Ok::<_, transfer::TransferError>(wording::export_done(&export, &files))
                });
                match result {
                    Some(Ok(text)) => super::objects::notify_info(
                        runtime::plugin_handle(),
                        &tr(EXPORT_TITLE),
                        &tr("Export finished"),
                        &text,
                    ),
                    Some(Err(e)) => keys_error(EXPORT_TITLE, &e),
                    None => {}
                }
            }
        });
    }
    let token = remember(Pending::Keys(KeysStep::ExportFolder(account, format, name)));
    let title = c_string(&tr("Export OTR keys: choose an empty folder"));
    // SAFETY: as in `import_keys`; PurpleRequestFileCb's signature for both callbacks.
    unsafe {
        let ok = std::mem::transmute::<PathCb, unsafe extern "C" fn()>(chosen);
        let cancel = std::mem::transmute::<PathCb, unsafe extern "C" fn()>(path_cancelled);
        ffi::purple_request_folder(
            runtime::plugin_handle(),
            title.as_ptr(),
            ptr::null(),
            Some(ok),
            Some(cancel),
            ptr::null_mut(),
            ptr::null(),
            ptr::null_mut(),
            token as *mut c_void,
        );
    }
}
