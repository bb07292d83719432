//! Query and form body (split at the first NUL) through request decoding and every action's
//! parameter parser; the form decoder must read every body as the WHATWG parser does, and the
//! base64 decoder every value as the scalar `base64` crate does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (query, body) = kmsd_fuzz::split_query_body(data);
    kms_wire::fuzzing::decode_request(query, body);
    kmsd_fuzz::decode_every_action(query, body);
    let want: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    for (_, value) in &want {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
        let reference = STANDARD.decode(value).ok().or_else(|| STANDARD_NO_PAD.decode(value).ok());
        assert_eq!(kms_wire::params::decode_base64(value), reference);
    }
    assert_eq!(kms_wire::raw::decode_pairs(body), want);
});
