//! The `verify_acs3` and `verify_acs4` targets.

#[allow(unused_imports)]
use super::*;

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
    pub(crate) fn as_string(&self) -> String {
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
    pub(crate) order: u8,
    pub(crate) space_after_comma: bool,
    /// `Credential = x` rather than `Credential=x`.
    pub(crate) spaces_around_equals: bool,
    /// Header names in SignedHeaders in upper case (the verifier lower-cases them).
    pub(crate) upper_signed_names: bool,
    /// SignedHeaders sorted (as the SDKs do) rather than in arrival order.
    pub(crate) sorted: bool,
    /// Header names sent capitalised (`X-Acs-Date`); HTTP names are case-insensitive.
    pub(crate) capitalised_names: bool,
}

/// The ACS4 credential scope.
#[derive(Arbitrary, Debug)]
pub struct Acs4Scope {
    pub(crate) region: Option<String>,
    pub(crate) product: Option<String>,
    /// `None`: the day of `x-acs-date`, as it must be.
    pub(crate) date: Option<String>,
}

#[derive(Arbitrary, Debug)]
pub struct AcsInput {
    pub(crate) post: bool,
    pub(crate) encoding: Encoding,
    pub(crate) access_key_id: Option<String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) host: Option<String>,
    pub(crate) action: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) date: Timestamp,
    pub(crate) nonce: Option<String>,
    pub(crate) body: Vec<u8>,
    pub(crate) form_content_type: bool,
    /// `None`: the SHA-256 of the body, as it must be.
    pub(crate) content_hash: Option<String>,
    /// `(name, value, signed)`.
    pub(crate) extra_headers: Vec<(HeaderName, String, bool)>,
    /// Leave required header `n % 6` out of SignedHeaders.
    pub(crate) unsigned_required: Option<u8>,
    pub(crate) order: u64,
    pub(crate) layout: AuthLayout,
    pub(crate) scope: Acs4Scope,
    pub(crate) signature: SigChoice,
}

/// Capitalises each `-`-separated word: `x-acs-date` → `X-Acs-Date`.
pub(crate) fn capitalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut start = true;
    for c in name.chars() {
        out.push(if start { c.to_ascii_uppercase() } else { c });
        start = c == '-';
    }
    out
}

/// The value a server sees for a header: repeated headers joined with `,`.
pub(crate) fn header_value(headers: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> =
        headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect();
    (!values.is_empty()).then(|| values.join(","))
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
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
        // Signed, as every SDK that sends a body signs it.
        headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
        signed.push("content-type".into());
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
    let scope_ok = !acs4
        || (input.scope.date.is_none()
            && !region.contains([',', '/'])
            && !product.contains([',', '/'])
            && product.eq_ignore_ascii_case("kms"));
    // A body is read according to its content type, so that must be signed.
    let body_ok = input.body.is_empty() || signed.iter().any(|n| n == "content-type");
    let expect_ok = input.signature == SigChoice::Valid
        && input.content_hash.is_none()
        && input.unsigned_required.is_none()
        && !awkward
        && date_ok
        && !nonce.is_empty()
        && ak_ok
        && scope_ok
        && body_ok;
    check_outcome(algorithm, &result, scheme, expect_ok, tampered, &raw);
    (expect_ok, tampered)
}
