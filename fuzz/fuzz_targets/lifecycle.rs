//! Lifecycle sequences through two clients with the first-rule oracle
//! (`purple_otr::client::lifecycle_check`): each input is a config byte, then byte pairs
//! decoded into user, host and peer steps. `PURPLE_OTR_FUZZ_REGRESSION=1` puts the old
//! sign-off downgrade back (test only) to show the target finds it.
#![no_main]

use std::sync::OnceLock;

use purple_otr::client::conversations::Regression;
use purple_otr::client::lifecycle_check::fuzz;

fn regression() -> Regression {
    static R: OnceLock<Regression> = OnceLock::new();
    *R.get_or_init(|| match std::env::var("PURPLE_OTR_FUZZ_REGRESSION").as_deref() {
        Ok("1") => Regression::InsecureSignOffDropsSession,
        _ => Regression::None,
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz(data, regression()));
