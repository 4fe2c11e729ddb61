//! Fuzz target: see `berth_fuzz::names`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_fuzz::names(data));
