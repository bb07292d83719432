//! Shared pieces of the signature targets: encodings, timestamps, signatures, tampering.

#[allow(unused_imports)]
use super::*;

/// How a client percent-encodes a query or form component.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Encoding {
    /// `application/x-www-form-urlencoded`: space is `+` (Tea Python).
    Form,
    /// RFC 3986, upper-case hex, space is `%20` (the old SDK, pop-core).
    Rfc3986,
    /// As above with lower-case hex.
    LowerHex,
    /// Also encodes unreserved characters (`%7E` for `~`, `%41` for `A`).
    OverEncoded,
    /// Leaves sub-delimiters such as `*`, `/`, `:` raw (openapi-client).
    Lenient,
}

pub(crate) fn encode_component(s: &str, e: Encoding, out: &mut String) {
    for &b in s.as_bytes() {
        let unreserved = b.is_ascii_alphanumeric() || b"-_.~".contains(&b);
        let lenient_raw = b.is_ascii_graphic() && !b"&=+%#".contains(&b);
        match e {
            Encoding::OverEncoded => write!(out, "%{b:02X}").unwrap(),
            _ if unreserved => out.push(char::from(b)),
            Encoding::Form if b == b' ' => out.push('+'),
            Encoding::Lenient if lenient_raw => out.push(char::from(b)),
            Encoding::LowerHex => write!(out, "%{b:02x}").unwrap(),
            _ => write!(out, "%{b:02X}").unwrap(),
        }
    }
}

/// `k=v&k=v` with each side encoded.
pub(crate) fn encode_pairs(pairs: &[(String, String)], e: Encoding) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(k, e, &mut out);
        out.push('=');
        encode_component(v, e, &mut out);
    }
    out
}

/// A timestamp: one that is valid RFC 3339 by construction, or anything.
#[derive(Arbitrary, Debug)]
pub enum Timestamp {
    Valid {
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        fraction: Option<u32>,
        offset_minutes: Option<u16>,
        negative_offset: bool,
    },
    Raw(String),
}

impl Timestamp {
    /// The text, and whether it is valid by construction.
    pub(crate) fn render(&self) -> (String, bool) {
        match self {
            Timestamp::Raw(s) => (s.clone(), false),
            Timestamp::Valid { year, month, day, hour, minute, second, fraction, offset_minutes, negative_offset } => {
                let mut s = format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                    1970 + year % 130,
                    1 + month % 12,
                    1 + day % 28,
                    hour % 24,
                    minute % 60,
                    second % 60
                );
                if let Some(f) = fraction {
                    write!(s, ".{}", f % 1_000_000_000).unwrap();
                }
                match offset_minutes.map(|m| m % (24 * 60)) {
                    None => s.push('Z'),
                    Some(m) => {
                        let sign = if *negative_offset && m != 0 { '-' } else { '+' };
                        write!(s, "{sign}{:02}:{:02}", m / 60, m % 60).unwrap();
                    }
                }
                (s, true)
            }
        }
    }
}

/// What the signature value is.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigChoice {
    /// The correct signature.
    Valid,
    /// The correct signature, then one signed thing changed.
    Tampered(Tamper),
    /// Hex/base64 of arbitrary bytes.
    Garbage,
}

/// One change to a correctly signed request that must make it fail.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Append to the value of signed parameter `n % len` (V1) or query pair (ACS).
    ParamValue(u8),
    /// Remove signed parameter `n % len` (V1) or query pair (ACS).
    DropParam(u8),
    /// Add a parameter that was not signed.
    AddParam,
    /// Flip GET and POST.
    Method,
    /// Verify with another secret.
    Secret,
    /// ACS: append to the value of signed header `n % len`.
    HeaderValue(u8),
    /// ACS: append a byte to the body.
    Body,
}

/// Deterministic Fisher-Yates from a seed.
pub(crate) fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

pub(crate) fn method(post: bool) -> &'static str {
    if post { "POST" } else { "GET" }
}

pub(crate) fn check_outcome(
    label: &str,
    result: &Result<Scheme, kms_wire::ApiError>,
    expected: Scheme,
    expect_ok: bool,
    tampered: bool,
    raw: &RawRequest,
) {
    if expect_ok {
        assert!(
            matches!(result, Ok(s) if *s == expected),
            "{label}: a correctly signed request was refused: {result:?}\n{raw:#?}"
        );
    }
    if tampered {
        assert!(result.is_err(), "{label}: a request changed after signing verified\n{raw:#?}");
    }
}
