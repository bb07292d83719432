//! Input shapes and request builders shared by the kmsd fuzz targets.
//!
//! The signature targets do not feed bytes straight to the verifier: almost every such input
//! dies at the first missing parameter. They build a request the way an SDK would, from a
//! structured [`arbitrary`] input, sign it (or not) with [`SECRET`], encode it in one of the
//! spellings clients use, and then check two properties besides "never panics":
//!
//! - a request that is well formed and correctly signed verifies, whatever the parameter
//!   order, query/body split, percent-encoding style or `Authorization` layout;
//! - a correctly signed request with one signed thing changed afterwards never verifies.
//!
//! Inputs that start with `RAW ` are instead parsed as a plain-text request (see
//! [`parse_raw_text`]) and verified with the secret of the recorded SDK vectors, so that
//! `run.sh` can seed the targets with the requests in `shared/vectors/`.

use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use aws_lc_rs::hmac;
use kms_crypto::blob::{CiphertextBlob, IV_LEN, MIN_LEN};
use kms_wire::raw::RawRequest;
use kms_wire::signature::canonical::acs_canonical_request;
use kms_wire::signature::sign::{sha256_hex, v1_signature};
use kms_wire::signature::{Scheme, verify_mac_only};

/// The secret structured inputs are signed and verified with.
pub const SECRET: &str = "fuzz-secret";
/// The secret of the recorded SDK vectors (`shared/vectors/README.md`).
pub const CAPTURE_SECRET: &str = "CaptureSecret+/=*~0123456789ab";
const ACCESS_KEY_ID: &str = "LTAIfuzzAccessKeyId";

// ---------------------------------------------------------------------------------------------
// raw_request

/// Splits `data` at its first NUL into query and form body (no NUL: all query).
pub fn split_query_body(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

macro_rules! parse_every_request {
    ($($name:ident: $family:ident => $req:ident,)+) => {
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

// ---------------------------------------------------------------------------------------------
// ciphertext_blob

/// A blob that starts with a real version id (in some letter case), so the fuzzer does not
/// have to discover UUID syntax to get past the first check.
#[derive(Arbitrary, Debug)]
pub struct ShapedBlob {
    id: u128,
    /// Bit `i % 32` set: hex letter at position `i` of the id is upper case.
    upper: u32,
    iv: [u8; IV_LEN],
    rest: Vec<u8>,
    /// Truncates the blob to `cut % (len + 1)` bytes.
    cut: Option<u16>,
}

/// Whatever the bytes: a blob that parses encodes back to exactly those bytes, and parses
/// again to the same value.
pub fn check_blob_bytes(data: &[u8]) {
    if let Ok(blob) = CiphertextBlob::parse(data) {
        let encoded = blob.encode();
        assert_eq!(encoded, data, "encode(parse(x)) != x");
        assert_eq!(CiphertextBlob::parse(&encoded).as_ref(), Ok(&blob));
    }
}

/// A blob parses exactly when it is long enough and its id is the canonical lower-case one.
pub fn check_shaped_blob(s: &ShapedBlob) {
    let hex = format!("{:032x}", s.id);
    let lower = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    let mut has_upper = false;
    let id: String = lower
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if c.is_ascii_alphabetic() && s.upper & (1 << (i % 32)) != 0 {
                has_upper = true;
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let mut bytes = id.into_bytes();
    bytes.extend_from_slice(&s.iv);
    bytes.extend_from_slice(&s.rest);
    if let Some(cut) = s.cut {
        bytes.truncate(usize::from(cut) % (bytes.len() + 1));
    }
    check_blob_bytes(&bytes);
    let parsed = CiphertextBlob::parse(&bytes);
    let expect_ok = !has_upper && bytes.len() >= MIN_LEN;
    assert_eq!(parsed.is_ok(), expect_ok, "blob {bytes:?} parsed as {parsed:?}");
    if let Ok(b) = parsed {
        assert_eq!(b.version_id.as_str(), lower);
        assert_eq!(b.iv, s.iv);
        assert_eq!(b.ciphertext_and_tag, &bytes[36 + IV_LEN..]);
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces of the signature targets

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

fn encode_component(s: &str, e: Encoding, out: &mut String) {
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
fn encode_pairs(pairs: &[(String, String)], e: Encoding) -> String {
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
    fn render(&self) -> (String, bool) {
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
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

fn method(post: bool) -> &'static str {
    if post { "POST" } else { "GET" }
}

fn check_outcome(
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

// ---------------------------------------------------------------------------------------------
// verify_v1

/// A parameter name: the ones the SDKs send, the protocol's own (to collide with), or any.
#[derive(Arbitrary, Debug)]
pub enum ParamName {
    Action,
    Version,
    Format,
    RegionId,
    KeyId,
    Plaintext,
    EncryptionContext,
    CiphertextBlob,
    SignatureType,
    Protocol(ProtocolParam),
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ProtocolParam {
    AccessKeyId,
    Signature,
    SignatureMethod,
    SignatureVersion,
    SignatureNonce,
    Timestamp,
}

/// The parameters the V1 verifier reads itself; an extra parameter with one of these names
/// makes the outcome depend on which copy comes first.
const V1_PROTOCOL: &[&str] =
    &["AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"];

impl ParamName {
    fn as_string(&self) -> String {
        match self {
            ParamName::Protocol(p) => format!("{p:?}"),
            ParamName::Other(s) => s.clone(),
            other => format!("{other:?}"),
        }
    }
}

#[derive(Arbitrary, Debug)]
pub struct V1Input {
    post: bool,
    encoding: Encoding,
    /// `None`: a valid default.
    access_key_id: Option<String>,
    signature_method: Option<String>,
    signature_version: Option<String>,
    timestamp: Timestamp,
    nonce: Option<String>,
    params: Vec<(ParamName, String)>,
    /// Bit `i` set: pair `i` travels in the form body rather than the query.
    in_body: u64,
    order: u64,
    /// Send the form body's content type in upper case with a charset.
    odd_content_type: bool,
    signature: SigChoice,
    /// Appended to the query as is (not signed, so no outcome is asserted).
    junk_query: Option<String>,
}

/// Builds, signs and verifies one V1 request. Returns what was asserted: (accepted, refused).
pub fn run_v1(input: &V1Input) -> (bool, bool) {
    let (timestamp, timestamp_ok) = input.timestamp.render();
    let ak = input.access_key_id.as_deref().unwrap_or(ACCESS_KEY_ID);
    let sig_method = input.signature_method.as_deref().unwrap_or("HMAC-SHA1");
    let sig_version = input.signature_version.as_deref().unwrap_or("1.0");
    let nonce = input.nonce.as_deref().unwrap_or("3156853299f313e23d1673dc12e1703d");

    let mut pairs: Vec<(String, String)> = vec![
        ("AccessKeyId".into(), ak.into()),
        ("SignatureMethod".into(), sig_method.into()),
        ("SignatureVersion".into(), sig_version.into()),
        ("Timestamp".into(), timestamp),
        ("SignatureNonce".into(), nonce.into()),
    ];
    let mut collision = false;
    for (name, value) in &input.params {
        let name = name.as_string();
        collision |= V1_PROTOCOL.contains(&name.as_str());
        pairs.push((name, value.clone()));
    }
    shuffle(&mut pairs, input.order);

    let mut post = input.post;
    let signature = match input.signature {
        SigChoice::Garbage => format!("{:016x}AAAAAAAAAAAAA=", input.order),
        _ => v1_signature(method(post), &pairs, SECRET),
    };
    let at = (input.order % (pairs.len() as u64 + 1)) as usize;
    pairs.insert(at, ("Signature".into(), signature));

    let mut secret = SECRET;
    let tampered = match input.signature {
        SigChoice::Tampered(t) => {
            // Indices of the signed pairs: every pair but those named Signature (the one we
            // inserted, and any extra one, which V1 does not sign either).
            let signed: Vec<usize> = (0..pairs.len()).filter(|&i| pairs[i].0 != "Signature").collect();
            match t {
                Tamper::ParamValue(n) | Tamper::HeaderValue(n) => {
                    let i = signed[usize::from(n) % signed.len()];
                    pairs[i].1.push('x');
                }
                Tamper::DropParam(n) => {
                    let i = signed[usize::from(n) % signed.len()];
                    pairs.remove(i);
                }
                Tamper::AddParam | Tamper::Body => {
                    pairs.push(("Tampered".into(), "1".into()));
                }
                Tamper::Method => post = !post,
                Tamper::Secret => secret = "another-secret",
            }
            true
        }
        _ => false,
    };

    let (mut query, mut form) = (Vec::new(), Vec::new());
    for (i, pair) in pairs.into_iter().enumerate() {
        if i < 64 && input.in_body & (1 << i) != 0 {
            form.push(pair);
        } else {
            query.push(pair);
        }
    }
    let mut query_string = encode_pairs(&query, input.encoding);
    if let Some(junk) = &input.junk_query {
        query_string.push('&');
        query_string.push_str(junk);
    }
    let content_type: &[u8] = if input.odd_content_type {
        b"Application/X-WWW-Form-URLEncoded; charset=UTF-8"
    } else {
        b"application/x-www-form-urlencoded"
    };
    let headers: Vec<(&str, &[u8])> = if form.is_empty() { vec![] } else { vec![("Content-Type", content_type)] };
    let body = encode_pairs(&form, input.encoding).into_bytes();
    let raw = RawRequest::from_parts(method(post), Some(&query_string), headers, body)
        .expect("GET/POST with UTF-8 headers always decodes");

    let result = verify_mac_only(&raw, secret);
    let expect_ok = input.signature == SigChoice::Valid
        && input.junk_query.is_none()
        && !collision
        && !ak.is_empty()
        && !nonce.is_empty()
        && sig_method == "HMAC-SHA1"
        && sig_version == "1.0"
        && timestamp_ok;
    check_outcome("V1", &result, Scheme::V1, expect_ok, tampered, &raw);
    (expect_ok, tampered)
}

// ---------------------------------------------------------------------------------------------
// verify_acs3 / verify_acs4

/// An extra header: the ones SDKs add, another `x-acs-*`, or any name.
#[derive(Arbitrary, Debug)]
pub enum HeaderName {
    Accept,
    UserAgent,
    ContentType,
    CredentialsProvider,
    XAcs(String),
    Other(String),
}

impl HeaderName {
    fn as_string(&self) -> String {
        match self {
            HeaderName::Accept => "accept".into(),
            HeaderName::UserAgent => "user-agent".into(),
            HeaderName::ContentType => "content-type".into(),
            HeaderName::CredentialsProvider => "x-acs-credentials-provider".into(),
            HeaderName::XAcs(s) => format!("x-acs-{s}"),
            HeaderName::Other(s) => s.clone(),
        }
    }
}

/// How the `Authorization` value is laid out.
#[derive(Arbitrary, Debug)]
pub struct AuthLayout {
    /// Permutation of Credential, SignedHeaders, Signature.
    order: u8,
    space_after_comma: bool,
    /// `Credential = x` rather than `Credential=x`.
    spaces_around_equals: bool,
    /// Header names in SignedHeaders in upper case (the verifier lower-cases them).
    upper_signed_names: bool,
    /// SignedHeaders sorted (as the SDKs do) rather than in arrival order.
    sorted: bool,
    /// Header names sent capitalised (`X-Acs-Date`); HTTP names are case-insensitive.
    capitalised_names: bool,
}

/// The ACS4 credential scope.
#[derive(Arbitrary, Debug)]
pub struct Acs4Scope {
    region: Option<String>,
    product: Option<String>,
    /// `None`: the day of `x-acs-date`, as it must be.
    date: Option<String>,
}

#[derive(Arbitrary, Debug)]
pub struct AcsInput {
    post: bool,
    encoding: Encoding,
    access_key_id: Option<String>,
    query: Vec<(String, String)>,
    host: Option<String>,
    action: Option<String>,
    version: Option<String>,
    date: Timestamp,
    nonce: Option<String>,
    body: Vec<u8>,
    form_content_type: bool,
    /// `None`: the SHA-256 of the body, as it must be.
    content_hash: Option<String>,
    /// `(name, value, signed)`.
    extra_headers: Vec<(HeaderName, String, bool)>,
    /// Leave required header `n % 6` out of SignedHeaders.
    unsigned_required: Option<u8>,
    order: u64,
    layout: AuthLayout,
    scope: Acs4Scope,
    signature: SigChoice,
}

/// Capitalises each `-`-separated word: `x-acs-date` → `X-Acs-Date`.
fn capitalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut start = true;
    for c in name.chars() {
        out.push(if start { c.to_ascii_uppercase() } else { c });
        start = c == '-';
    }
    out
}

/// The value a server sees for a header: repeated headers joined with `,`.
fn header_value(headers: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> =
        headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect();
    (!values.is_empty()).then(|| values.join(","))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data).as_ref().to_vec()
}

/// Builds, signs and verifies one ACS3 (`acs4 == false`) or ACS4 request. Returns what was
/// asserted: (accepted, refused).
pub fn run_acs(input: &AcsInput, acs4: bool) -> (bool, bool) {
    let algorithm = if acs4 { "ACS4-HMAC-SHA256" } else { "ACS3-HMAC-SHA256" };
    let scheme = if acs4 { Scheme::Acs4 } else { Scheme::Acs3 };
    let mut post = input.post;
    let (date, date_ok) = input.date.render();
    let ak = input.access_key_id.as_deref().unwrap_or(ACCESS_KEY_ID);
    let nonce = input.nonce.as_deref().unwrap_or("9264190ec74a8e76cdebf9113bbecdba");
    let mut body = input.body.clone();
    let body_hash = sha256_hex(&body);
    let claimed_hash = input.content_hash.as_deref().unwrap_or(&body_hash);

    // Headers in arrival order, names lower case for now.
    let required: [(&str, String); 6] = [
        ("host", input.host.clone().unwrap_or_else(|| "kms.cn-hangzhou.aliyuncs.com".into())),
        ("x-acs-action", input.action.clone().unwrap_or_else(|| "Encrypt".into())),
        ("x-acs-version", input.version.clone().unwrap_or_else(|| "2016-01-20".into())),
        ("x-acs-date", date.clone()),
        ("x-acs-signature-nonce", nonce.into()),
        ("x-acs-content-sha256", claimed_hash.into()),
    ];
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut signed: Vec<String> = Vec::new();
    for (i, (name, value)) in required.iter().enumerate() {
        headers.push((name.to_string(), value.clone()));
        if input.unsigned_required.map(|n| usize::from(n) % 6) != Some(i) {
            signed.push(name.to_string());
        }
    }
    if input.form_content_type {
        headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
    }
    // Extra headers that would change what the verifier reads, or that cannot be listed in
    // SignedHeaders as they are, make the outcome the verifier's business: no assertion.
    let mut awkward = false;
    for (name, value, is_signed) in &input.extra_headers {
        let name = name.as_string().to_ascii_lowercase();
        let special = required.iter().any(|(n, _)| *n == name)
            || name == "authorization"
            || (input.form_content_type && name == "content-type");
        let listable = !name.is_empty() && name.trim() == name && !name.contains([';', ',', '\n', '\r']);
        awkward |= special || !listable;
        headers.push((name.clone(), value.clone()));
        if *is_signed && !signed.contains(&name) {
            signed.push(name);
        }
    }
    shuffle(&mut headers, input.order);
    if input.layout.sorted {
        signed.sort();
    } else {
        // Arrival order of the first occurrence.
        signed.sort_by_key(|n| headers.iter().position(|(h, _)| h == n));
    }

    // ACS4 scope.
    let scope_date = input.scope.date.clone().unwrap_or_else(|| date.get(..10).unwrap_or("").replace('-', ""));
    let region = input.scope.region.as_deref().unwrap_or("cn-hangzhou");
    let product = input.scope.product.as_deref().unwrap_or("Kms");

    // Sign.
    let canonical_headers: Vec<(&str, String)> =
        signed.iter().map(|n| (n.as_str(), header_value(&headers, n).unwrap_or_default())).collect();
    let canonical = acs_canonical_request(
        method(post),
        input.query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &canonical_headers,
        claimed_hash.trim(),
    );
    let string_to_sign = format!("{algorithm}\n{}", sha256_hex(canonical.as_bytes()));
    let key = if acs4 {
        let mut k = format!("aliyun_v4{SECRET}").into_bytes();
        for step in [scope_date.as_str(), region, product, "aliyun_v4_request"] {
            k = hmac_sha256(&k, step.as_bytes());
        }
        k
    } else {
        SECRET.as_bytes().to_vec()
    };
    let signature = match input.signature {
        SigChoice::Garbage => hex::encode(sha256_hex(canonical.as_bytes())),
        _ => hex::encode(hmac_sha256(&key, string_to_sign.as_bytes())),
    };

    // Authorization.
    let credential =
        if acs4 { format!("{ak}/{scope_date}/{region}/{product}/aliyun_v4_request") } else { ak.to_owned() };
    let signed_list = signed
        .iter()
        .map(|n| if input.layout.upper_signed_names { n.to_ascii_uppercase() } else { n.clone() })
        .collect::<Vec<_>>()
        .join(";");
    let eq = if input.layout.spaces_around_equals { " = " } else { "=" };
    let mut fields = [
        format!("Credential{eq}{credential}"),
        format!("SignedHeaders{eq}{signed_list}"),
        format!("Signature{eq}{signature}"),
    ];
    let o = usize::from(input.layout.order % 6);
    fields.swap(0, o % 3);
    if o >= 3 {
        fields.swap(1, 2);
    }
    let sep = if input.layout.space_after_comma { ", " } else { "," };
    headers.push(("authorization".into(), format!("{algorithm} {}", fields.join(sep))));

    // Tamper.
    let mut query = input.query.clone();
    let mut secret = SECRET;
    let tampered = match input.signature {
        SigChoice::Tampered(t) => {
            let t = match t {
                Tamper::ParamValue(_) | Tamper::DropParam(_) if query.is_empty() => Tamper::Body,
                other => other,
            };
            match t {
                Tamper::ParamValue(n) => {
                    let i = usize::from(n) % query.len();
                    query[i].1.push('x');
                }
                Tamper::DropParam(n) => {
                    query.remove(usize::from(n) % query.len());
                }
                Tamper::AddParam => query.push(("Tampered".into(), "1".into())),
                Tamper::Method => post = !post,
                Tamper::Secret => secret = "another-secret",
                Tamper::HeaderValue(n) => {
                    let name = &signed[usize::from(n) % signed.len()];
                    let h = headers.iter_mut().find(|(h, _)| h == name).expect("signed");
                    h.1.push('x');
                }
                Tamper::Body => body.push(b'x'),
            }
            true
        }
        _ => false,
    };

    let sent: Vec<(String, Vec<u8>)> = headers
        .into_iter()
        .map(|(n, v)| {
            let n = if input.layout.capitalised_names { capitalise(&n) } else { n };
            (n, v.into_bytes())
        })
        .collect();
    let query_string = encode_pairs(&query, input.encoding);
    let raw = RawRequest::from_parts(
        method(post),
        Some(&query_string),
        sent.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
        body,
    )
    .expect("GET/POST with UTF-8 headers always decodes");

    let result = verify_mac_only(&raw, secret);
    let ak_ok = !ak.is_empty() && ak.trim() == ak && !ak.contains(',') && (!acs4 || !ak.contains('/'));
    let scope_ok =
        !acs4 || (input.scope.date.is_none() && !region.contains([',', '/']) && !product.contains([',', '/']));
    let expect_ok = input.signature == SigChoice::Valid
        && input.content_hash.is_none()
        && input.unsigned_required.is_none()
        && !awkward
        && date_ok
        && !nonce.is_empty()
        && ak_ok
        && scope_ok;
    check_outcome(algorithm, &result, scheme, expect_ok, tampered, &raw);
    (expect_ok, tampered)
}

// ---------------------------------------------------------------------------------------------
// Raw text requests (seeds from the recorded SDK vectors)

/// `(is POST, raw query, headers, body)` of a raw text request.
pub type RawText = (bool, Vec<u8>, Vec<(String, Vec<u8>)>, Vec<u8>);

/// `RAW <METHOD>\n?<raw query>\n<name>: <value>\n...\n\n<body>` (the `?` keeps an empty
/// query line from ending the head).
pub fn parse_raw_text(data: &[u8]) -> Option<RawText> {
    let rest = data.strip_prefix(b"RAW ")?;
    let split = rest.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&rest[..i], rest[i + 2..].to_vec()),
        None => (rest, Vec::new()),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let post = lines.next()? == b"POST";
    let query = lines.next().unwrap_or_default();
    let query = query.strip_prefix(b"?").unwrap_or(query).to_vec();
    let headers = lines
        .map(|line| {
            let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
            let name = String::from_utf8_lossy(&line[..colon]).into_owned();
            let value = line.get(colon + 1..).unwrap_or_default();
            let value = value.strip_prefix(b" ").unwrap_or(value);
            (name, value.to_vec())
        })
        .collect();
    Some((post, query, headers, body))
}

/// Verifies a raw text request with the vectors' secret, and through the crate's own
/// `fuzzing::verify` entry point. Returns `false` if `data` is not a raw text request.
pub fn run_raw_text(data: &[u8]) -> bool {
    let Some((post, query, headers, body)) = parse_raw_text(data) else {
        return false;
    };
    kms_wire::fuzzing::verify(post, &query, &headers, &body);
    let q = String::from_utf8_lossy(&query);
    let hs = headers.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
    if let Ok(raw) = RawRequest::from_parts(method(post), Some(&q), hs, body) {
        let _ = verify_mac_only(&raw, CAPTURE_SECRET);
    }
    true
}

/// Entry point of the three signature targets.
pub fn verify_target(data: &[u8], scheme: Scheme) {
    if run_raw_text(data) {
        return;
    }
    let u = Unstructured::new(data);
    match scheme {
        Scheme::V1 => {
            if let Ok(input) = V1Input::arbitrary_take_rest(u) {
                let _ = run_v1(&input);
            }
        }
        Scheme::Acs3 | Scheme::Acs4 => {
            if let Ok(input) = AcsInput::arbitrary_take_rest(u) {
                let _ = run_acs(&input, scheme == Scheme::Acs4);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The harness must reach the paths it asserts on: `cargo test` in fuzz/.
    use super::*;

    fn v1(signature: SigChoice, encoding: Encoding, in_body: u64) -> V1Input {
        V1Input {
            post: true,
            encoding,
            access_key_id: None,
            signature_method: None,
            signature_version: None,
            timestamp: Timestamp::Valid {
                year: 56,
                month: 10,
                day: 27,
                hour: 13,
                minute: 44,
                second: 30,
                fraction: Some(5),
                offset_minutes: Some(480),
                negative_offset: false,
            },
            nonce: None,
            params: vec![
                (ParamName::Action, "Encrypt".into()),
                (ParamName::EncryptionContext, r#"{"k":"a*b~c+d/e ü"}"#.into()),
                (ParamName::Other(String::new()), " &=+%#".into()),
            ],
            in_body,
            order: 0x9e37_79b9_7f4a_7c15,
            odd_content_type: in_body != 0,
            signature,
            junk_query: None,
        }
    }

    fn capture(raw: &RawRequest) -> Result<Scheme, kms_wire::ApiError> {
        verify_mac_only(raw, SECRET)
    }

    #[test]
    fn v1_valid_verifies_and_tampered_fails() {
        let tampers = [Tamper::ParamValue(3), Tamper::DropParam(1), Tamper::AddParam, Tamper::Method, Tamper::Secret];
        for e in [Encoding::Form, Encoding::Rfc3986, Encoding::LowerHex, Encoding::OverEncoded, Encoding::Lenient] {
            for in_body in [0, 0b1010_1010, u64::MAX] {
                // run_v1 panics if the outcome is not the expected one.
                run_v1(&v1(SigChoice::Valid, e, in_body));
                for t in tampers {
                    run_v1(&v1(SigChoice::Tampered(t), e, in_body));
                }
                run_v1(&v1(SigChoice::Garbage, e, in_body));
            }
        }
    }

    fn acs(signature: SigChoice, order: u8, sorted: bool) -> AcsInput {
        AcsInput {
            post: true,
            encoding: Encoding::Form,
            access_key_id: None,
            query: vec![
                ("KeyId".into(), "alias/x".into()),
                ("EncryptionContext".into(), r#"{"k":"a*b~c+d/e ü"}"#.into()),
            ],
            host: None,
            action: None,
            version: None,
            date: Timestamp::Valid {
                year: 56,
                month: 10,
                day: 27,
                hour: 23,
                minute: 44,
                second: 30,
                fraction: None,
                offset_minutes: None,
                negative_offset: false,
            },
            nonce: None,
            body: b"Plaintext=aGk%3D".to_vec(),
            form_content_type: true,
            content_hash: None,
            extra_headers: vec![
                (HeaderName::Accept, "application/json".into(), true),
                (HeaderName::UserAgent, " padded ".into(), false),
                (HeaderName::XAcs("credentials-provider".into()), "ak".into(), true),
            ],
            unsigned_required: None,
            order: 7,
            layout: AuthLayout {
                order,
                space_after_comma: order.is_multiple_of(2),
                spaces_around_equals: order.is_multiple_of(3),
                upper_signed_names: order % 2 == 1,
                sorted,
                capitalised_names: sorted,
            },
            scope: Acs4Scope { region: None, product: None, date: None },
            signature,
        }
    }

    #[test]
    fn acs_valid_verifies_and_tampered_fails() {
        let tampers = [
            Tamper::ParamValue(1),
            Tamper::DropParam(0),
            Tamper::AddParam,
            Tamper::Method,
            Tamper::Secret,
            Tamper::HeaderValue(0),
            Tamper::HeaderValue(3),
            Tamper::Body,
        ];
        for acs4 in [false, true] {
            for order in 0..6 {
                for sorted in [false, true] {
                    run_acs(&acs(SigChoice::Valid, order, sorted), acs4);
                    run_acs(&acs(SigChoice::Garbage, order, sorted), acs4);
                    for t in tampers {
                        run_acs(&acs(SigChoice::Tampered(t), order, sorted), acs4);
                    }
                }
            }
        }
    }

    #[test]
    fn shaped_blobs_check() {
        for upper in [0, 1 << 1, u32::MAX] {
            for len in [0, 15, 16, 100] {
                for cut in [None, Some(0), Some(47), Some(64)] {
                    check_shaped_blob(&ShapedBlob {
                        id: 0xABCD_EF01_2345_6789_ABCD_EF01_2345_6789,
                        upper,
                        iv: [7; IV_LEN],
                        rest: vec![1; len],
                        cut,
                    });
                }
            }
        }
    }

    /// The seeds run.sh writes verify with the vectors' secret, so the raw text format
    /// carries a request faithfully.
    #[test]
    fn raw_text_seeds_verify() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
        let mut verified = 0;
        for t in ["verify_v1", "verify_acs3", "verify_acs4"] {
            let Ok(entries) = std::fs::read_dir(format!("{dir}/{t}")) else {
                continue;
            };
            for e in entries.flatten() {
                if !e.file_name().to_string_lossy().starts_with("seed-") {
                    continue;
                }
                let data = std::fs::read(e.path()).unwrap();
                let (post, query, headers, body) = parse_raw_text(&data).unwrap();
                let q = String::from_utf8_lossy(&query);
                let hs = headers.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
                let raw = RawRequest::from_parts(method(post), Some(&q), hs, body).unwrap();
                assert!(verify_mac_only(&raw, CAPTURE_SECRET).is_ok(), "{}", e.path().display());
                assert!(capture(&raw).is_err());
                verified += 1;
            }
        }
        eprintln!("{verified} raw seeds verified");
    }

    /// Share of the fuzzer's own corpus that reaches the two asserted outcomes; a harness
    /// change that makes them unreachable shows here (run after run.sh).
    #[test]
    fn corpus_reaches_the_assertions() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
        for t in ["verify_v1", "verify_acs3", "verify_acs4"] {
            let Ok(entries) = std::fs::read_dir(format!("{dir}/{t}")) else {
                continue;
            };
            let (mut total, mut accepted, mut refused) = (0, 0, 0);
            for e in entries.flatten() {
                let data = std::fs::read(e.path()).unwrap();
                if data.starts_with(b"RAW ") {
                    continue;
                }
                let u = Unstructured::new(&data);
                let (a, r) = if t == "verify_v1" {
                    match V1Input::arbitrary_take_rest(u) {
                        Ok(i) => run_v1(&i),
                        Err(_) => continue,
                    }
                } else {
                    match AcsInput::arbitrary_take_rest(u) {
                        Ok(i) => run_acs(&i, t == "verify_acs4"),
                        Err(_) => continue,
                    }
                };
                total += 1;
                accepted += usize::from(a);
                refused += usize::from(r);
            }
            eprintln!("{t}: {total} structured inputs, {accepted} must-accept, {refused} must-refuse");
        }
    }
}
