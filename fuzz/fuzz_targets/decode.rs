//! The frame decoder, both directions, arbitrary splits: no panic, items consume input, and
//! every decoded frame re-encodes to exactly its source bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = msrp_reference::fuzzing::check_decoder(data);
});
