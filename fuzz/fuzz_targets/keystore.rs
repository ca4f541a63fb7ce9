#![no_main] libfuzzer_sys::fuzz_target!(|data: &[u8]| purple_otr::otr::fuzz::keystore(data));
