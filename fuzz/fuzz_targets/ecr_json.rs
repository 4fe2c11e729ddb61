//! Fuzz target: see `berth_fuzz::ecr_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| berth_fuzz::ecr_json(data));
