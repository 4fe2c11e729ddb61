//! Fuzz target: see `berth_fuzz::ranges`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_fuzz::ranges(data));
