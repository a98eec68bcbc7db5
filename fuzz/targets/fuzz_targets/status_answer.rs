#![no_main]
//! See `notarium_fuzz::status_answer` (fuzz/src) for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| notarium_fuzz::status_answer(data));
