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

struct Subcommand {
    name: &'static str,
    usage: &'static str,
    about: &'static str,
    run: fn(Conversation, &str),
}

/// Every subcommand, in the order `/otr help` lists them.
const SUBCOMMANDS: [Subcommand; 14] = [
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
