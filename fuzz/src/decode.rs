//! The `raw_request` target: every request parser an untrusted request reaches.

#[allow(unused_imports)]
use super::*;

/// Splits `data` at its first NUL into query and form body (no NUL: all query).
pub fn split_query_body(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

macro_rules! parse_every_request {
    ($($name:ident: $family:ident, $effect:ident => $req:ident,)+) => {
        /// Runs the request parser of every action in the table over the same parameters.
        fn parse_every_request(p: &kms_wire::params::Params) {
            use kms_wire::model::FromParams as _;
            $(
                let _ = kms_wire::model::$req::from_params(&mut p.clone());
            )+
        }
    };
}
kms_wire::for_each_action!(parse_every_request);

/// `decode_request` only runs three request parsers; this runs all of them, the `Action`
/// parameter's own parser, and the string parsers the key service applies to parameter values
/// after the wire layer passed them through as strings (`RotationInterval`).
pub fn decode_every_action(query: &[u8], body: &[u8]) {
    let q = String::from_utf8_lossy(query);
    let form = [("content-type", b"application/x-www-form-urlencoded".as_slice())];
    let Ok(raw) = RawRequest::from_parts("POST", Some(&q), form, body.to_vec()) else {
        return;
    };
    if let Some(a) = raw.param("Action") {
        let _ = a.parse::<kms_wire::Action>();
    }
    // CreateKey and UpdateRotationPolicy hand `RotationInterval` to kms-core unparsed. Every
    // value, so the fuzzer need not find the parameter's name first.
    for (_, v) in raw.query.iter().chain(&raw.form) {
        let _ = kms_types::limits::parse_interval(v);
    }
    if let Ok(p) = kms_wire::params::Params::from_pairs(raw.query.iter().chain(&raw.form)) {
        parse_every_request(&p);
    }
}
