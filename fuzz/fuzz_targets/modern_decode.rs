#![no_main] libfuzzer_sys::fuzz_target!(|data: &[u8]| purple_otr::otr::modern::fuzz::modern_decode(data));
