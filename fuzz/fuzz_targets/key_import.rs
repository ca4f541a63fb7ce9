#![no_main] libfuzzer_sys::fuzz_target!(|data: &[u8]| purple_otr::client::fuzz::key_import(data));
