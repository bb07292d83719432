//! Query and form body (split at the first NUL) through request decoding and every action's
//! parameter parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (query, body) = kmsd_fuzz::split_query_body(data);
    kms_wire::fuzzing::decode_request(query, body);
    kmsd_fuzz::decode_every_action(query, body);
});
