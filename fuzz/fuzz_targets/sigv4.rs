//! Fuzz target: see `berth_fuzz::sigv4`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_fuzz::sigv4(data));
