//! ClientKey authentication of the instance API (docs/design/gateway.md §4), in two pure
//! steps around the one lookup the server makes:
//!
//! 1. [`check`]: everything decidable from the request alone — API version and name, the
//!    `date` window, the signature method, the ClientKey id, the `authorization` form, the
//!    body's `content-sha256` — giving the ClientKey id and the exact string-to-sign;
//! 2. [`verify`]: the RSA PKCS#1 v1.5 SHA-256 signature over that string, against the
//!    ClientKey's certificate as kmsd stored it.
//!
//! The string-to-sign is rebuilt from the headers received (every `x-kms-*` header, names
//! lower-cased and sorted), so a header an SDK adds and signs (the transfer client's
//! `x-kms-migrationkeyversionid`) needs nothing here.

use aws_lc_rs::digest::{SHA256, digest};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use time::OffsetDateTime;

use super::{API_VERSION, Operation};
use crate::error::{ApiError, Code};

/// How far a request's `date` may be from the server's clock.
pub const MAX_SKEW: time::Duration = time::Duration::minutes(15);
/// The only `x-kms-signaturemethod`.
pub const SIGNATURE_METHOD: &str = "RSA_PKCS1_SHA_256";
/// Longest ClientKey id worth looking up (`KAAP.` and a UUID is 41).
const MAX_CLIENT_KEY_ID: usize = 128;

/// A request whose form is right, waiting for its ClientKey's signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub operation: Operation,
    /// `x-kms-acccesskeyid` (sic): the ClientKey id.
    pub client_key_id: String,
    pub string_to_sign: String,
    pub signature: Vec<u8>,
    /// The transfer client's `x-kms-migrationkeyversionid`, when sent.
    pub migration_version: Option<String>,
}

fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| std::str::from_utf8(v).ok())
}

fn invalid_param(what: &str) -> ApiError {
    ApiError::with_message(Code::InvalidParam, format!("The Param {what} is invalid."))
}

/// `Thu, 03 Dec 2026 08:30:36 GMT` (RFC 1123, as every SDK sends it).
const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

pub fn parse_date(text: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(text.trim(), DATE_FORMAT).ok().map(time::PrimitiveDateTime::assume_utc)
}

/// A time as the `date` header carries it (what a client signs).
pub fn format_date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(DATE_FORMAT).unwrap_or_default()
}

/// The string the ClientKey signed: method, `content-sha256`, `content-type`, `date`, every
/// `x-kms-*` header sorted by lower-case name as `name:trimmed value`, and `/`.
pub fn string_to_sign(headers: &[(String, Vec<u8>)]) -> String {
    let value = |name| header(headers, name).unwrap_or("");
    let mut kms: Vec<(String, &str)> = headers
        .iter()
        .filter_map(|(k, v)| {
            let name = k.to_ascii_lowercase();
            let value = std::str::from_utf8(v).ok()?;
            name.starts_with("x-kms-").then_some((name, value.trim()))
        })
        .collect();
    kms.sort();
    let mut s = format!("POST\n{}\n{}\n{}\n", value("content-sha256"), value("content-type"), value("date"));
    for (name, v) in kms {
        s.push_str(&name);
        s.push(':');
        s.push_str(v);
        s.push('\n');
    }
    s.push('/');
    s
}

/// Step 1: the request's form, in the order the cloud checks it (§4).
pub fn check(headers: &[(String, Vec<u8>)], body: &[u8], now: OffsetDateTime) -> Result<Checked, ApiError> {
    let version = header(headers, "x-kms-apiversion").unwrap_or("");
    if version != API_VERSION {
        return Err(ApiError::with_message(Code::InvalidApiVersion, "The ApiVersion is invalid."));
    }
    let operation = header(headers, "x-kms-apiname")
        .and_then(Operation::parse)
        .ok_or_else(|| ApiError::with_message(Code::InvalidApiName, "The ApiName is invalid."))?;
    let date = header(headers, "date").and_then(parse_date).ok_or_else(|| invalid_param("Date"))?;
    if (now - date).abs() > MAX_SKEW {
        return Err(Code::RequestTimeTooSkewed.into());
    }
    if header(headers, "x-kms-signaturemethod") != Some(SIGNATURE_METHOD) {
        return Err(invalid_param("x-kms-signaturemethod"));
    }
    let client_key_id = match header(headers, "x-kms-acccesskeyid").map(str::trim) {
        Some(id) if !id.is_empty() && id.len() <= MAX_CLIENT_KEY_ID => id.to_owned(),
        Some(id) if !id.is_empty() => return Err(Code::Unauthorized.into()),
        _ => {
            return Err(ApiError::with_message(
                Code::MissingParameter,
                "Parameter x-kms-acccesskeyid does not exist in http header or body.",
            ));
        }
    };
    let signature = header(headers, "authorization")
        .and_then(|a| a.trim().strip_prefix("Bearer "))
        .and_then(|b| crate::params::decode_base64(b.trim()))
        .filter(|s| !s.is_empty() && s.len() <= 1024)
        .ok_or_else(|| invalid_param("Authorization"))?;
    let sent = header(headers, "content-sha256").unwrap_or("");
    let body_hash = hex::encode_upper(digest(&SHA256, body));
    // Not secret: a digest of what the client sent; compared without regard to case.
    if !sent.trim().eq_ignore_ascii_case(&body_hash) {
        return Err(invalid_param("Content-SHA256"));
    }
    let migration_version = header(headers, "x-kms-migrationkeyversionid").map(|v| v.trim().to_owned());
    Ok(Checked { operation, client_key_id, string_to_sign: string_to_sign(headers), signature, migration_version })
}

/// Step 2: whether `signature` is the ClientKey's RSA PKCS#1 v1.5 SHA-256 signature of
/// `string_to_sign`, checked with the public key of its certificate (PEM, as stored).
pub fn verify(certificate_pem: &str, string_to_sign: &str, signature: &[u8]) -> bool {
    let Ok(der) = CertificateDer::from_pem_slice(certificate_pem.as_bytes()) else { return false };
    let Ok(cert) = webpki::EndEntityCert::try_from(&der) else { return false };
    cert.verify_signature(webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256, string_to_sign.as_bytes(), signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::KeyPair;
    use aws_lc_rs::signature::RSA_PKCS1_SHA256;

    const DATE: &str = "Thu, 03 Dec 2026 08:30:36 GMT";
    const BODY_HEX: &str = "0a196b65792d687a7a363266316362363666613432716f30303030120568656c6c6f2203637478";

    fn now() -> OffsetDateTime {
        parse_date(DATE).unwrap()
    }

    fn headers(body: &[u8], signature: &str) -> Vec<(String, Vec<u8>)> {
        [
            ("Accept", "application/x-protobuf".to_owned()),
            ("date", DATE.to_owned()),
            ("x-kms-apiversion", "dkms-gcs-0.2".to_owned()),
            ("x-kms-apiname", "Encrypt".to_owned()),
            ("x-kms-signaturemethod", "RSA_PKCS1_SHA_256".to_owned()),
            ("X-Kms-Acccesskeyid", "KAAP.11111111-2222-3333-4444-555555555555".to_owned()),
            ("content-type", "application/x-protobuf".to_owned()),
            ("content-sha256", hex::encode_upper(digest(&SHA256, body))),
            ("authorization", format!("Bearer {signature}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_bytes()))
        .collect()
    }

    /// The worked example of gateway.md §4, as the SDK's own `get_string_to_sign` makes it.
    #[test]
    fn string_to_sign_matches_the_sdk() {
        let body = hex::decode(BODY_HEX).unwrap();
        assert_eq!(
            hex::encode_upper(digest(&SHA256, &body)),
            "1C7B103D49F2FE485350CE07BF43D3C3FB4D1D9A959E6F4F2D8BB82217FECA05"
        );
        let checked = check(&headers(&body, "AAAA"), &body, now()).unwrap();
        assert_eq!(
            checked.string_to_sign,
            "POST\n1C7B103D49F2FE485350CE07BF43D3C3FB4D1D9A959E6F4F2D8BB82217FECA05\napplication/x-protobuf\n\
             Thu, 03 Dec 2026 08:30:36 GMT\nx-kms-acccesskeyid:KAAP.11111111-2222-3333-4444-555555555555\n\
             x-kms-apiname:Encrypt\nx-kms-apiversion:dkms-gcs-0.2\nx-kms-signaturemethod:RSA_PKCS1_SHA_256\n/"
        );
        assert_eq!(checked.operation, Operation::Encrypt);
        assert_eq!(checked.client_key_id, "KAAP.11111111-2222-3333-4444-555555555555");
    }

    fn code(hs: &[(String, Vec<u8>)], body: &[u8], at: OffsetDateTime) -> (&'static str, String) {
        let e = check(hs, body, at).unwrap_err();
        (e.code.as_str(), e.message.to_string())
    }

    type Headers = Vec<(String, Vec<u8>)>;

    fn with(mut hs: Headers, name: &str, value: Option<&str>) -> Headers {
        hs.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            hs.push((name.to_owned(), v.as_bytes().to_vec()));
        }
        hs
    }

    #[test]
    fn each_form_fault_has_its_code() {
        let body = hex::decode(BODY_HEX).unwrap();
        let good = headers(&body, "AAAA");
        let cases: Vec<(Headers, &str, &str)> = vec![
            (with(good.clone(), "x-kms-apiversion", Some("dkms-gcs-0.1")), "InvalidApiVersion", ""),
            (with(good.clone(), "x-kms-apiname", Some("Nope")), "InvalidApiName", ""),
            (with(good.clone(), "date", Some("yesterday")), "InvalidParam", "The Param Date is invalid."),
            (with(good.clone(), "date", None), "InvalidParam", "The Param Date is invalid."),
            (
                with(good.clone(), "x-kms-signaturemethod", Some("HMAC")),
                "InvalidParam",
                "The Param x-kms-signaturemethod is invalid.",
            ),
            (
                with(good.clone(), "x-kms-acccesskeyid", None),
                "MissingParameter",
                "Parameter x-kms-acccesskeyid does not exist in http header or body.",
            ),
            (
                with(good.clone(), "authorization", Some("Basic AAAA")),
                "InvalidParam",
                "The Param Authorization is invalid.",
            ),
            (
                with(good.clone(), "authorization", Some("Bearer !!")),
                "InvalidParam",
                "The Param Authorization is invalid.",
            ),
            (with(good.clone(), "content-sha256", Some("00")), "InvalidParam", "The Param Content-SHA256 is invalid."),
        ];
        for (hs, want, message) in cases {
            let (got, msg) = code(&hs, &body, now());
            assert_eq!(got, want, "{msg}");
            if !message.is_empty() {
                assert_eq!(msg, message);
            }
        }
        // Sixteen minutes either way is too far; fifteen is not.
        for minutes in [-16, 16] {
            let (got, _) = code(&good, &body, now() + time::Duration::minutes(minutes));
            assert_eq!(got, "RequestTimeTooSkewed");
        }
        assert!(check(&good, &body, now() + time::Duration::minutes(15)).is_ok());
        assert_eq!(format_date(now()), DATE);
        // A tampered body under the original hash.
        let (got, msg) = code(&good, b"other", now());
        assert_eq!((got, msg.as_str()), ("InvalidParam", "The Param Content-SHA256 is invalid."));
        // Lower-case hex is the same digest.
        let lower = with(good.clone(), "content-sha256", Some(&hex::encode(digest(&SHA256, &body))));
        assert!(check(&lower, &body, now()).is_ok());
    }

    /// A signature made with the ClientKey verifies against its certificate, and nothing else
    /// does: another key, another string, a flipped bit, a certificate that is not one.
    #[test]
    fn signatures_verify_against_the_certificate_only() {
        let make = || {
            let pair = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
            let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
            let signer = self_signed(der.as_ref());
            (pair, signer)
        };
        let (key, cert_pem) = make();
        let (_, other_cert) = make();
        let sts = "POST\nAB\napplication/x-protobuf\nThu, 03 Dec 2026 08:30:36 GMT\n/";
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; key.public_modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, &rng, sts.as_bytes(), &mut sig).unwrap();
        assert!(verify(&cert_pem, sts, &sig));
        assert!(!verify(&other_cert, sts, &sig));
        assert!(!verify(&cert_pem, &sts.replace("AB", "AC"), &sig));
        let mut flipped = sig.clone();
        flipped[10] ^= 1;
        assert!(!verify(&cert_pem, sts, &flipped));
        assert!(!verify("not a certificate", sts, &sig));
    }

    /// A self-signed certificate for a PKCS#8 RSA key, PEM (the shape CreateClientKey stores).
    fn self_signed(pkcs8: &[u8]) -> String {
        let key = rcgen::KeyPair::try_from(pkcs8).unwrap();
        rcgen::CertificateParams::new(vec!["client".to_owned()]).unwrap().self_signed(&key).unwrap().pem()
    }
}
