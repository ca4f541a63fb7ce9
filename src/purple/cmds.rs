//! The `/otr` command typed in an IM conversation (Finch users have no conversation
//! menu, so every action is also reachable here).

use std::ffi::{c_char, c_void};
use std::ptr;

use super::actions;
use super::debug;
use super::ffi;
use super::guard::guard;
use super::host::CommandRegistration;
use super::i18n::tr_c;
use super::objects::Conversation;
use super::runtime;
use super::text::lossy;
use crate::client::i18n::{fill, n_, tr};
use crate::client::{transfer, wording};

struct Subcommand {
    name: &'static str,
    usage: &'static str,
    about: &'static str,
    run: fn(Conversation, &str),
}

/// Every subcommand, in the order `/otr help` lists them.
const SUBCOMMANDS: [Subcommand; 17] = [
    Subcommand {
        name: "help",
        usage: "",
        about: n_("show this list"),
        run: |c, _| help(c),
    },
    Subcommand {
        name: "start",
        usage: "",
        about: n_("start a private conversation"),
        run: |c, _| actions::start_private(c),
    },
    Subcommand {
        name: "refresh",
        usage: "",
        about: n_("renew the private conversation's keys"),
        run: |c, _| actions::refresh_private(c),
    },
    Subcommand {
        name: "end",
        usage: "",
        about: n_("end the private conversation"),
        run: |c, _| actions::end_private(c),
    },
    Subcommand {
        name: "status",
        usage: "",
        about: n_("say whether this conversation is private and verified"),
        run: |c, _| actions::show_status(c),
    },
    Subcommand {
        name: "fingerprint",
        usage: "",
        about: n_("show your fingerprint and your buddy's"),
        run: |c, _| actions::show_fingerprint(c),
    },
    Subcommand {
        name: "verify",
        usage: " [yes|no]",
        about: n_("compare fingerprints and mark your buddy's key verified (or not)"),
        run: actions::verify_command,
    },
    Subcommand {
        name: "smp",
        usage: " [question? answer | secret | abort]",
        about: n_(
            "authenticate your buddy with a question or a shared secret, or answer their request",
        ),
        run: actions::smp_command,
    },
    Subcommand {
        name: "policy",
        usage: " [default|never|manual|opportunistic|always]",
        about: n_("when to talk privately with this buddy"),
        run: actions::set_policy,
    },
    Subcommand {
        name: "fingerprints",
        usage: "",
        about: n_("list this buddy's known keys"),
        run: |c, _| actions::list_fingerprints(c),
    },
    Subcommand {
        name: "forget",
        usage: " <fingerprint>",
        about: n_("forget one of this buddy's keys"),
        run: actions::forget_command,
    },
    Subcommand {
        name: "send-held",
        usage: "",
        about: n_("send messages that wait for verification or a new key"),
        run: |c, _| actions::send_held(c),
    },
    Subcommand {
        name: "drop-held",
        usage: "",
        about: n_("drop messages that wait to be sent"),
        run: |c, _| actions::drop_held(c),
    },
    Subcommand {
        name: "settings",
        usage: "",
        about: n_("the same as policy without an argument"),
        run: |c, _| actions::set_policy(c, ""),
    },
    Subcommand {
        name: "import",
        usage: " PATH [NAME-IN-FILE] [yes|replace]",
        about: n_("bring this account's key (and buddy keys) from Adium, irssi or another Pidgin: shows the key, then yes imports it"),
        run: import_command,
    },
    Subcommand {
        name: "export",
        usage: " FOLDER [pidgin|adium|irssi|generic] [NAME-THERE]",
        about: n_("write this account's key and buddy keys for another program"),
        run: export_command,
    },
    Subcommand {
        name: "key",
        usage: " move OLD-ACCOUNT-NAME [yes|replace]",
        about: n_("after renaming this account, take over the key of its old name"),
        run: key_command,
    },
];

fn help(conv: Conversation) {
    let mut text = tr("Off-the-Record commands (type /otr <command>):").into_owned();
    for sub in &SUBCOMMANDS {
        text.push_str(&format!(
            "\n  {}{} \u{2014} {}",
            sub.name,
            sub.usage,
            tr(sub.about)
        ));
    }
    conv.write_system(&text);
}

/// Registers `/otr` for IM conversations.
pub(crate) fn register() -> Option<CommandRegistration> {
    type CmdFunc = unsafe extern "C" fn(
        *mut ffi::PurpleConversation,
        *const c_char,
        *mut *mut c_char,
        *mut *mut c_char,
        *mut c_void,
    ) -> ffi::PurpleCmdRet;
    let func: CmdFunc = otr_command;
    // SAFETY: static NUL-terminated strings; "s": one optional argument taking the rest of
    // the line (ALLOW_WRONG_ARGS lets a bare "/otr" through); `func` has PurpleCmdFunc's
    // exact signature; no prpl restriction, no user data.
    let id = unsafe {
        ffi::purple_cmd_register(
            c"otr".as_ptr(),
            c"s".as_ptr(),
            ffi::PURPLE_CMD_P_PLUGIN,
            ffi::PURPLE_CMD_FLAG_IM | ffi::PURPLE_CMD_FLAG_ALLOW_WRONG_ARGS,
            ptr::null(),
            Some(func),
            tr_c(c"otr &lt;command&gt;: Off-the-Record private conversations. Type /otr help for the commands.").as_ptr(),
            ptr::null_mut(),
        )
    };
    let registration = CommandRegistration::from_id(id);
    if registration.is_none() {
        debug::error("could not register the /otr command");
    }
    registration
}

unsafe extern "C" fn otr_command(
    conv: *mut ffi::PurpleConversation,
    _cmd: *const c_char,
    args: *mut *mut c_char,
    _error: *mut *mut c_char,
    _data: *mut c_void,
) -> ffi::PurpleCmdRet {
    // SAFETY: libpurple passes the live conversation the command was typed in.
    let conv = unsafe { Conversation::from_ptr(conv) };
    let line = if args.is_null() {
        String::new()
    } else {
        // SAFETY: `args` is a NULL-terminated array with one slot per format character
        // ("s"), so args[0] exists (NULL when nothing followed "/otr").
        unsafe { lossy(*args) }
    };
    // The command is handled (OK) even after a panic: the text must never go out as a
    // message.
    guard("/otr", conv, ffi::PURPLE_CMD_RET_OK, || {
        if let Some(conv) = conv {
            run(conv, &line);
        }
        ffi::PURPLE_CMD_RET_OK
    })
}

fn run(conv: Conversation, line: &str) {
    let line = line.trim();
    let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let name = if name.is_empty() { "help" } else { name };
    if name == "__panic" && runtime::with(|r| r.test_panic).unwrap_or(false) {
        panic!("test-only panic requested with /otr __panic");
    }
    match SUBCOMMANDS
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
    {
        Some(sub) => (sub.run)(conv, rest.trim()),
        None => conv.write_system(&fill(
            &tr("Unknown command \"/otr {command}\". Type /otr help for the list."),
            &[("command", name)],
        )),
    }
}

// ---- moving keys between clients (the logic is in crate::client::transfer) ---------------

fn home() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(std::path::PathBuf::from)
}

/// Shows what importing would do, or does it when the user confirmed with the word the
/// plan needs ("replace" when it replaces a key).
fn import_from(
    conv: Conversation,
    source: &transfer::ImportSource,
    wanted: Option<&str>,
    confirm: Option<transfer::Confirm>,
    again: &str,
) {
    let Some(key) = runtime::key_of(conv) else {
        conv.write_error(&wording::no_account());
        return;
    };
    let account = key.account;
    let stamp = transfer::backup_stamp(runtime::now());
    let result = runtime::with_client(|c| {
        let plan = transfer::plan_import(source, c.store(), &account, wanted, true)?;
        // The confirmation stands for the key that was shown: a "yes" for a key not shown
        // (the file changed, or nothing was shown yet) shows it first.
        let was_shown = shown(
            &account,
            again,
            Some((plan.from.fingerprint, plan.identity)),
        );
        match confirm {
            Some(given)
                if was_shown && (given == plan.needs() || given == transfer::Confirm::Replace) =>
            {
                shown(&account, again, None);
                let done = transfer::apply_import(source, &plan, c.store_mut(), given, &stamp)?;
                Ok(wording::import_done(&plan, &done))
            }
            _ => {
                let word = match plan.needs() {
                    transfer::Confirm::Yes => "yes",
                    transfer::Confirm::Replace => "replace",
                };
                let hint = fill(
                    &tr("To import it, type: {command}"),
                    &[("command", &format!("{again} {word}"))],
                );
                Ok(wording::import_preview(&plan, &hint))
            }
        }
    });
    match result {
        Some(Ok(text)) => conv.write_system(&text),
        Some(Err(e)) => conv.write_error(&wording::transfer_error(&e)),
        None => conv.write_error(&wording::no_account()),
    }
}

/// The fingerprints of what an import shows: the OTR key and, from a purple-otr profile, the
/// post-quantum identity key.
type ShownKeys = (
    crate::otr::crypto::fingerprint::Fingerprint,
    Option<crate::otr::modern::identity::IdentityFingerprint>,
);

/// Keys shown by `/otr import` or `/otr key move` and not imported yet: (account, the
/// command without its confirmation, fingerprints). A few at most.
static SHOWN: std::sync::Mutex<Vec<(crate::client::AccountId, String, ShownKeys)>> =
    std::sync::Mutex::new(Vec::new());

/// With `Some(fp)`: whether `fp` was shown for this command, and remembers it as shown now.
/// With `None`: forgets what was shown for it. Returns whether it had been shown.
fn shown(account: &crate::client::AccountId, command: &str, fp: Option<ShownKeys>) -> bool {
    let Ok(mut list) = SHOWN.lock() else {
        return false;
    };
    let at = list
        .iter()
        .position(|(a, c, _)| a == account && c == command);
    let before = at.map(|i| list.remove(i).2);
    let was = before.is_some() && before == fp;
    if let Some(fp) = fp {
        if list.len() >= 8 {
            list.remove(0);
        }
        list.push((account.clone(), command.to_owned(), fp));
    }
    was
}

/// `/otr import PATH [NAME-IN-FILE] [yes|replace]`.
fn import_command(conv: Conversation, args: &str) {
    let Some(a) = transfer::parse_import_args(args) else {
        conv.write_error(&wording::import_usage());
        return;
    };
    let path = transfer::expand_home(&a.path, home().as_deref());
    let source = match transfer::ImportSource::read(&path) {
        Ok(s) => s,
        Err(e) => return conv.write_error(&wording::transfer_error(&e)),
    };
    let mut again = format!("/otr import {}", quote(&a.path));
    if let Some(n) = &a.name_in_file {
        again.push(' ');
        again.push_str(&quote(n));
    }
    import_from(conv, &source, a.name_in_file.as_deref(), a.confirm, &again);
}

/// `/otr export FOLDER [pidgin|adium|irssi|generic] [NAME-THERE]`.
fn export_command(conv: Conversation, args: &str) {
    let Some(a) = transfer::parse_export_args(args) else {
        conv.write_error(&wording::export_usage());
        return;
    };
    let Some(key) = runtime::key_of(conv) else {
        conv.write_error(&wording::no_account());
        return;
    };
    let dir = transfer::expand_home(&a.path, home().as_deref());
    let result = runtime::with_client(|c| {
        let export = transfer::export(c.store(), &key.account, a.format, a.name.as_deref())?;
        let files = transfer::write_export(&dir, &export)?;
        Ok::<_, transfer::TransferError>(wording::export_done(&export, &files))
    });
    match result {
        Some(Ok(text)) => conv.write_system(&text),
        Some(Err(e)) => conv.write_error(&wording::transfer_error(&e)),
        None => conv.write_error(&wording::no_account()),
    }
}

/// `/otr key move OLD-ACCOUNT-NAME [yes|replace]`: libpurple says nothing when an
/// account's username changes, so the user names the old one.
fn key_command(conv: Conversation, args: &str) {
    let w = transfer::words(args);
    let (confirm, rest) = match w.split_last() {
        Some((last, rest)) if last == "yes" && rest.len() == 2 => {
            (Some(transfer::Confirm::Yes), rest)
        }
        Some((last, rest)) if last == "replace" && rest.len() == 2 => {
            (Some(transfer::Confirm::Replace), rest)
        }
        _ => (None, w.as_slice()),
    };
    let [verb, old] = rest else {
        conv.write_error(&wording::key_move_usage());
        return;
    };
    if verb != "move" {
        conv.write_error(&wording::key_move_usage());
        return;
    }
    let Some(source) = runtime::with_client(|c| transfer::ImportSource::from_store(c.store()))
    else {
        conv.write_error(&wording::no_account());
        return;
    };
    let again = format!("/otr key move {}", quote(old));
    import_from(conv, &source, Some(old), confirm, &again);
}

/// A word as the user would type it again (quoted when it has spaces).
fn quote(word: &str) -> String {
    if word
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word.to_owned()
    }
}
