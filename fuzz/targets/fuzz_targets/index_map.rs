#![no_main]
//! See `notarium_fuzz::index_map` (fuzz/src) for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| notarium_fuzz::index_map(data));
