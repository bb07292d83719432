//! Instance-API requests built as an SDK builds them, signed with a ClientKey or not, tampered
//! with or not, through `kms_wire::instance::signature` and the protobuf decoders: never
//! panics, accepts every correct request, refuses every tampered one.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = kmsd_fuzz::InstanceInput::arbitrary_take_rest(Unstructured::new(data)) {
        kmsd_fuzz::check_instance_request(&input);
    }
});
