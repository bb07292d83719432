//! The `verify_v1` target.

#[allow(unused_imports)]
use super::*;

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
pub(crate) const V1_PROTOCOL: &[&str] =
    &["AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"];

impl ParamName {
    pub(crate) fn as_string(&self) -> String {
        match self {
            ParamName::Protocol(p) => format!("{p:?}"),
            ParamName::Other(s) => s.clone(),
            other => format!("{other:?}"),
        }
    }
}

#[derive(Arbitrary, Debug)]
pub struct V1Input {
    pub(crate) post: bool,
    pub(crate) encoding: Encoding,
    /// `None`: a valid default.
    pub(crate) access_key_id: Option<String>,
    pub(crate) signature_method: Option<String>,
    pub(crate) signature_version: Option<String>,
    pub(crate) timestamp: Timestamp,
    pub(crate) nonce: Option<String>,
    pub(crate) params: Vec<(ParamName, String)>,
    /// Bit `i` set: pair `i` travels in the form body rather than the query.
    pub(crate) in_body: u64,
    pub(crate) order: u64,
    /// Send the form body's content type in upper case with a charset.
    pub(crate) odd_content_type: bool,
    pub(crate) signature: SigChoice,
    /// Appended to the query as is (not signed, so no outcome is asserted).
    pub(crate) junk_query: Option<String>,
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
    // A repeated protocol parameter is refused, whatever its values.
    collision |= kms_wire::signature::V1_SINGLE.iter().any(|n| pairs.iter().filter(|(k, _)| k == n).count() > 1);
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
