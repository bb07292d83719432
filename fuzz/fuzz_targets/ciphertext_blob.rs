//! `CiphertextBlob::parse` on the raw bytes (if it parses, it encodes back to the same bytes),
//! and on a blob shaped from the same bytes with a real version id up front (it parses exactly
//! when long enough and spelled canonically).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kmsd_fuzz::check_blob_bytes(data);
    if let Ok(shaped) = kmsd_fuzz::ShapedBlob::arbitrary_take_rest(Unstructured::new(data)) {
        kmsd_fuzz::check_shaped_blob(&shaped);
    }
});
