//! Alibaba's canonicalisation: RFC 3986 percent-encoding and the sorted query strings that
//! the V1 and ACS3/ACS4 string-to-sign are built from (spec §3.1, §3.2).
//!
//! Always applied to *decoded* values re-encoded here, never to the raw URL: clients differ in
//! how they write the same value (`+` or `%20`, `%7E` or `~`, hex case).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything except the RFC 3986 unreserved characters `A-Z a-z 0-9 - _ . ~`.
const ALIYUN_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes UTF-8 with upper-case hex: space is `%20`, `*` is `%2A`, `~` stays.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, ALIYUN_ENCODE_SET).to_string()
}

/// `k=v` pairs, each side percent-encoded, sorted by name (then value), joined with `&`.
pub fn canonical_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut encoded: Vec<(String, String)> =
        pairs.into_iter().map(|(k, v)| (percent_encode(k), percent_encode(v))).collect();
    encoded.sort();
    let mut out = String::new();
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// V1: `METHOD&%2F&percent_encode(canonical query of every parameter but Signature)`.
pub fn v1_string_to_sign<'a>(method: &str, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let canonical = canonical_query(params.into_iter().filter(|(k, _)| *k != "Signature"));
    format!("{method}&%2F&{}", percent_encode(&canonical))
}

/// ACS3/ACS4 canonical request. `headers` are the signed headers in the order of the
/// `SignedHeaders` list, already lower-cased, with their values.
pub fn acs_canonical_request<'a>(
    method: &str,
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
    headers: &[(&str, String)],
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(method);
    out.push_str("\n/\n");
    out.push_str(&canonical_query(query));
    out.push('\n');
    for (name, value) in headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
    }
    out.push('\n');
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encoding_follows_rfc3986_with_upper_hex() {
        assert_eq!(percent_encode("a b*c~d+e/f"), "a%20b%2Ac~d%2Be%2Ff");
        assert_eq!(percent_encode("ü"), "%C3%BC");
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
    }

    #[test]
    fn v1_doc_example_1_string_to_sign() {
        let params = [
            ("Action", "CreateKey"),
            ("SignatureVersion", "1.0"),
            ("Format", "json"),
            ("Version", "2016-01-20"),
            ("AccessKeyId", "testid"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("Timestamp", "2016-03-28T03:13:08Z"),
        ];
        assert_eq!(
            v1_string_to_sign("GET", params),
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DCreateKey%26Format%3Djson%26SignatureMethod%3DHMAC-SHA1%26SignatureVersion%3D1.0%26Timestamp%3D2016-03-28T03%253A13%253A08Z%26Version%3D2016-01-20"
        );
    }

    #[test]
    fn empty_values_render_as_name_equals() {
        assert_eq!(canonical_query([("b", ""), ("a", "1")]), "a=1&b=");
    }

    proptest! {
        /// Encoding is injective and decodes back to the input.
        #[test]
        fn percent_encoding_round_trips(s in "\\PC*") {
            let enc = percent_encode(&s);
            prop_assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
            let dec = percent_encoding::percent_decode_str(&enc).decode_utf8().unwrap();
            prop_assert_eq!(dec, s);
        }

        /// The canonical query does not depend on the order pairs arrived in.
        #[test]
        fn canonical_query_ignores_arrival_order(mut pairs in proptest::collection::vec(("[a-zA-Z.]{1,6}", "\\PC{0,6}"), 0..8)) {
            let a = canonical_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            pairs.reverse();
            let b = canonical_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            prop_assert_eq!(a, b);
        }
    }
}
