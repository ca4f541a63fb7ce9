//! pidgin-otr and purple-otr must not run together: both would process every message.

use super::debug;
use super::objects::notify_error;
use super::runtime;
use crate::client::i18n::tr;

/// pidgin-otr's plugin id.
pub(crate) const PIDGIN_OTR_ID: &str = "otr";

/// pidgin-otr got loaded while we are running: we cannot refuse on its behalf, so warn.
pub(crate) fn warn_conflict_after_load() {
    debug::warning("pidgin-otr was loaded while purple-otr is running");
    let handle = runtime::plugin_handle();
    notify_error(
        handle,
        &tr("Off-the-Record Messaging"),
        &tr("Two OTR plugins are running"),
        &tr(
            "pidgin-otr (plugin id \"otr\") was just enabled while purple-otr is running. Both \
             would process every message. Disable one of them in the plugin list.",
        ),
    );
}
