#![no_main]
//! See `notarium_fuzz::state_file` (fuzz/src) for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| notarium_fuzz::state_file(data));
