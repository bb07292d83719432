//! Query and form body (split at the first NUL) through request decoding and every action's
//! parameter parser; the form decoder must read every body as the WHATWG parser does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (query, body) = kmsd_fuzz::split_query_body(data);
    kms_wire::fuzzing::decode_request(query, body);
    kmsd_fuzz::decode_every_action(query, body);
    let want: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(kms_wire::raw::decode_pairs(body), want);
});
