//! HTTP parts → [`RawRequest`]: the decoded query and form pairs, the headers and the body,
//! kept apart because the signature schemes cover them differently (V1 signs query and form
//! pairs, ACS3/ACS4 sign the query, some headers and a hash of the body).
//!
//! Decoding uses form semantics for both the query and the body (`+` is a space): Tea Python
//! writes spaces as `+` in the query, the old SDK as `%20` (spec §1.1).

use crate::error::{ApiError, Code};

/// A request as the wire delivered it, before anything is trusted.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: Method,
    /// Query pairs, decoded, in the order sent.
    pub query: Vec<(String, String)>,
    /// Pairs of an `application/x-www-form-urlencoded` body, decoded, in the order sent.
    pub form: Vec<(String, String)>,
    /// Header names in lower case, values as sent (repeated headers stay separate).
    pub headers: Vec<(String, String)>,
    /// The exact body bytes (ACS3/ACS4 hash them).
    pub body: Vec<u8>,
}

/// The two methods the API accepts for every action (spec §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn parse(m: &str) -> Result<Self, ApiError> {
        match m {
            "GET" => Ok(Self::Get),
            "POST" => Ok(Self::Post),
            _ => Err(Code::UnsupportedHttpMethod.into()),
        }
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// The rendering the caller asked for (spec §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

/// `application/x-www-form-urlencoded` pairs, exactly as the WHATWG parser (the
/// `form_urlencoded` crate) reads them — empty pieces skipped, a name without `=` has an empty
/// value, `+` is a space, a `%` without two hex digits after it is itself, invalid UTF-8 becomes
/// U+FFFD — but copying runs between escapes whole. The crate decodes a byte at a time and
/// checks UTF-8 with the lossy decoder, which made decoding a 4 KB Encrypt body the largest
/// cost of the request; the property test below holds this to the crate's output.
pub fn decode_pairs(s: &[u8]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut start = 0;
    // `memchr`, not `split`: the slice iterator looks for `&` a byte at a time.
    for end in memchr::memchr_iter(b'&', s).chain(std::iter::once(s.len())) {
        let piece = &s[start..end];
        start = end + 1;
        if piece.is_empty() {
            continue;
        }
        let (name, value) = match memchr::memchr(b'=', piece) {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &[][..]),
        };
        pairs.push((decode_component(name), decode_component(value)));
    }
    pairs
}

fn decode_component(mut rest: &[u8]) -> String {
    let mut out = Vec::with_capacity(rest.len());
    while let Some(i) = memchr::memchr2(b'%', b'+', rest) {
        out.extend_from_slice(&rest[..i]);
        if rest[i] == b'+' {
            out.push(b' ');
            rest = &rest[i + 1..];
            continue;
        }
        let hex = |at: usize| rest.get(at).and_then(|b| (*b as char).to_digit(16));
        match (hex(i + 1), hex(i + 2)) {
            (Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                rest = &rest[i + 3..];
            }
            _ => {
                out.push(b'%');
                rest = &rest[i + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl RawRequest {
    /// Builds a request from what the HTTP layer parsed. `headers` yields names in any case.
    pub fn from_parts<'a>(
        method: &str,
        raw_query: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        body: Vec<u8>,
    ) -> Result<Self, ApiError> {
        let method = Method::parse(method)?;
        let mut hs = Vec::new();
        for (name, value) in headers {
            // A header value that is not UTF-8 cannot be part of any signature we verify.
            let value = std::str::from_utf8(value).map_err(|_| ApiError::new(Code::ParseRequestParameterException))?;
            hs.push((name.to_ascii_lowercase(), value.to_owned()));
        }
        let query = raw_query.map(|q| decode_pairs(q.as_bytes())).unwrap_or_default();
        let is_form = hs.iter().any(|(n, v)| {
            n == "content-type" && v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
        });
        let form = if is_form { decode_pairs(&body) } else { Vec::new() };
        Ok(Self { method, query, form, headers: hs, body })
    }

    /// A header's value; repeated headers are joined with `,` as HTTP allows.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = values.next()?;
        Some(values.fold(first.to_owned(), |mut acc, v| {
            acc.push(',');
            acc.push_str(v);
            acc
        }))
    }

    /// The first value of a parameter, from the query or the form body. The V1 verifier
    /// refuses a request that repeats a protocol parameter (see [`RawRequest::single_param`]),
    /// so for those, on a verified request, the first value is the only one.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().chain(&self.form).find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value of a parameter that may appear at most once across the query and the form
    /// body. A second copy is `InvalidParameter` rather than first-wins: both copies are
    /// signed, so a request carrying `Action=Decrypt` in the query and `Action=Encrypt` in the
    /// body verifies, and any reader (a proxy, the audit trail, a later code path) that picks
    /// the other copy would act on a request the verifier never looked at.
    pub fn single_param(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.query.iter().chain(&self.form).filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::invalid_parameter(name));
        }
        Ok(first)
    }

    /// `Format=XML` (any case) asks for XML; everything else, including the literal
    /// `Format=None` of the old Python SDK's deprecated path, gets JSON.
    pub fn format(&self) -> Format {
        match self.param("Format") {
            Some(f) if f.eq_ignore_ascii_case("xml") => Format::Xml,
            _ => Format::Json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The decoder reads every input as the WHATWG form parser does.
        #[test]
        fn pairs_decode_as_the_form_parser_does(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'&'), Just(b'='), Just(b'%'), Just(b'+'), Just(b'a'), Just(b'F'), Just(b'2'), Just(0xC3), Just(0xBC), any::<u8>()],
                0..64,
            )
        ) {
            let want: Vec<(String, String)> =
                form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            prop_assert_eq!(decode_pairs(&bytes), want);
        }
    }

    #[test]
    fn escapes_at_the_end_and_bad_escapes_stay_literal() {
        let got = decode_pairs(b"a=%&b=%4&c=%zz&d=%41%&e&&=f&g=%C3%BC%C3");
        let want: Vec<(String, String)> = form_urlencoded::parse(b"a=%&b=%4&c=%zz&d=%41%&e&&=f&g=%C3%BC%C3")
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(got[3], ("d".into(), "A%".into()));
        assert_eq!(got[6], ("g".into(), "ü\u{FFFD}".into()));
    }

    #[test]
    fn query_and_form_decode_with_form_semantics() {
        let r = RawRequest::from_parts(
            "POST",
            Some("a=v+w&b=v%20w&c=%2B"),
            [("Content-Type", b"application/x-www-form-urlencoded; charset=utf-8".as_slice())],
            b"d=x+y%7E".to_vec(),
        )
        .unwrap();
        assert_eq!(r.param("a"), Some("v w"));
        assert_eq!(r.param("b"), Some("v w"));
        assert_eq!(r.param("c"), Some("+"));
        assert_eq!(r.param("d"), Some("x y~"));
    }

    #[test]
    fn body_is_not_parameters_without_form_content_type() {
        let r = RawRequest::from_parts("POST", None, [], b"d=1".to_vec()).unwrap();
        assert!(r.form.is_empty());
    }

    #[test]
    fn only_get_and_post_are_accepted() {
        let e = RawRequest::from_parts("PUT", None, [], vec![]).unwrap_err();
        assert_eq!(e.code, Code::UnsupportedHttpMethod);
    }

    #[test]
    fn single_param_refuses_a_second_copy_in_query_or_form() {
        let form = [("content-type", b"application/x-www-form-urlencoded".as_slice())];
        let r = RawRequest::from_parts("POST", Some("Action=A&Other=1"), form, b"Other=2".to_vec()).unwrap();
        assert_eq!(r.single_param("Action").unwrap(), Some("A"));
        assert_eq!(r.single_param("Missing").unwrap(), None);
        let e = r.single_param("Other").unwrap_err();
        assert_eq!((e.code, e.message.contains("\"Other\"")), (Code::InvalidParameter, true));
        let r = RawRequest::from_parts("GET", Some("Action=A&Action=A"), [], vec![]).unwrap();
        assert_eq!(r.single_param("Action").unwrap_err().code, Code::InvalidParameter);
    }

    #[test]
    fn format_is_case_insensitive_and_defaults_to_json() {
        let x = RawRequest::from_parts("GET", Some("Format=xml"), [], vec![]).unwrap();
        assert_eq!(x.format(), Format::Xml);
        let n = RawRequest::from_parts("GET", Some("Format=None"), [], vec![]).unwrap();
        assert_eq!(n.format(), Format::Json);
    }
}
