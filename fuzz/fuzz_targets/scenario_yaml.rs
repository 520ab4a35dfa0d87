//! The scenario loader: any text gives a scenario or a located error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| msrp::scenario::fuzz_parse(data));
