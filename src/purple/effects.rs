//! Carries out what the client asked for, in libpurple. Runs with nothing borrowed:
//! libpurple may call back into the plugin while an effect runs.

use crate::client::{Effect, Level};

use super::debug;
use super::dialogs;
use super::prefs;
use super::runtime;
use super::ui;

/// The runtime's [`runtime::Apply`].
pub(crate) fn apply(effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Transmit { conv, text } => {
                let sent =
                    runtime::account(&conv.account).is_some_and(|a| a.send_im(&conv.buddy, &text));
                if !sent {
                    debug::warning("could not send an OTR protocol message (account offline?)");
                }
            }
            Effect::Notice { conv, text, level } => {
                if let Some(c) = runtime::conversation(&conv) {
                    let text = ui::decorate_notice(&conv, &text);
                    c.write_notice_markup(&text, level == Level::Warning);
                }
            }
            Effect::ShowTyped { conv, text } => {
                if let Some(c) = runtime::conversation(&conv) {
                    c.write_typed(&text);
                }
            }
            Effect::Logging { conv, private } => {
                if let Some(c) = runtime::conversation(&conv) {
                    c.set_logging(!private && prefs::logs_ims());
                }
            }
            Effect::AskSecret { conv, question } => {
                dialogs::ask_smp_secret(&conv, question.as_deref())
            }
            Effect::OpenVerify {
                conv,
                ours,
                theirs,
                verified,
            } => dialogs::verify(&conv, ours, theirs, verified),
            Effect::OpenAuthenticate { conv } => dialogs::start_smp(&conv),
            // Taken care of by the runtime before the rest.
            Effect::GenerateKey { .. } => {}
            Effect::StateChanged { conv } => ui::state_changed(&conv),
            Effect::SmpProgress { conv, progress } => ui::smp_progress(&conv, progress),
            Effect::Debug { text } => debug::misc(&text),
        }
    }
    ui::refresh_all();
}
