//! Lifecycle sequences through two clients with the first-rule oracle
//! (`purple_otr::client::lifecycle_check`): each input is a config byte, then byte pairs
//! decoded into user, host and peer steps.
//!
//! `PURPLE_OTR_FUZZ_REGRESSION=1` puts the old sign-off downgrade back (test only) and
//! reports only first-rule violations, to show the target finds that downgrade (the old
//! code also lost held messages silently, which is found first otherwise).
#![no_main]

use std::sync::OnceLock;

use purple_otr::client::conversations::Regression;
use purple_otr::client::lifecycle_check::{decode, fuzz, run};

fn regression() -> Regression {
    static R: OnceLock<Regression> = OnceLock::new();
    *R.get_or_init(
        || match std::env::var("PURPLE_OTR_FUZZ_REGRESSION").as_deref() {
            Ok("1") => Regression::InsecureSignOffDropsSession,
            _ => Regression::None,
        },
    )
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let regression = regression();
    if regression == Regression::None {
        fuzz(data, regression);
        return;
    }
    let (config, steps) = decode(data);
    if let Err(v) = run(config, &steps, regression) {
        if v.what.starts_with("FIRST RULE") {
            panic!("lifecycle oracle: {v}\nconfig: {config:?}\nsteps: {steps:?}");
        }
    }
});
