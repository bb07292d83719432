//! ACS3-HMAC-SHA256 and ACS4-HMAC-SHA256: a canonical request over the query, the headers the
//! client lists in `SignedHeaders` and the SHA-256 of the body (spec §3.2, §3.3).
//!
//! The signed-header list comes from the request because SDKs differ (Python signs every
//! header it sets, Node only `host`, `content-type` and `x-acs-*`), but a minimum set must be
//! in it, or a replayed body could be re-targeted to another action or time. A request with a
//! body must also sign `content-type`, which decides whether the body is read as parameters
//! (every recorded SDK request with a body does).
//!
//! ACS4's credential scope names a region and a product, and the signing key is derived from
//! both; a signature scoped to another region or product is a request meant for another
//! endpoint, so it is refused even when its MAC is right.

use aws_lc_rs::{digest, hmac};

use super::canonical::acs_canonical_request;
use super::{Claim, Proof, Scheme};
use crate::error::{ApiError, Code};
use crate::raw::RawRequest;

/// The product an ACS4 credential scope must name (compared without regard to case).
const PRODUCT: &str = "kms";

/// Headers that every ACS3/ACS4 signature must cover.
const REQUIRED_SIGNED: &[&str] =
    &["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"];

pub(crate) struct AcsAuthorization {
    algorithm: &'static str,
    /// ACS4 only: `(yyyymmdd, region, product)` of the credential scope.
    scope: Option<(String, String, String)>,
    signed_headers: Vec<String>,
    signature: String,
}

fn incomplete(detail: &str) -> ApiError {
    ApiError::with_message(
        Code::IncompleteSignature,
        format!("The request signature does not conform to Aliyun standards. {detail}"),
    )
}

pub(super) fn claim(raw: &RawRequest, auth: &str) -> Result<Claim, ApiError> {
    let (algorithm, rest) = auth.split_once(' ').ok_or_else(|| incomplete("Malformed Authorization."))?;
    let (algorithm, scheme) = match algorithm {
        "ACS3-HMAC-SHA256" => ("ACS3-HMAC-SHA256", Scheme::Acs3),
        "ACS4-HMAC-SHA256" => ("ACS4-HMAC-SHA256", Scheme::Acs4),
        _ => return Err(incomplete("Unsupported signature algorithm.")),
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(|| incomplete("Malformed Authorization."))?;
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => return Err(incomplete("Malformed Authorization.")),
        }
    }
    let (credential, signed, signature) = match (credential, signed, signature) {
        (Some(c), Some(h), Some(s)) if !c.is_empty() && !s.is_empty() => (c, h, s),
        _ => return Err(incomplete("Malformed Authorization.")),
    };
    let (access_key_id, scope) = match scheme {
        Scheme::Acs4 => {
            let parts: Vec<&str> = credential.split('/').collect();
            match parts.as_slice() {
                [ak, date, region, product, "aliyun_v4_request"] if !ak.is_empty() => {
                    // The SDKs send `Kms`; product codes are case-insensitive in Alibaba's APIs.
                    if !product.eq_ignore_ascii_case(PRODUCT) {
                        return Err(incomplete("Credential scope product must be Kms."));
                    }
                    (ak.to_string(), Some((date.to_string(), region.to_string(), product.to_string())))
                }
                _ => return Err(incomplete("Malformed Credential.")),
            }
        }
        _ => (credential.to_owned(), None),
    };
    let signed_headers: Vec<String> = signed.split(';').map(|h| h.trim().to_ascii_lowercase()).collect();
    for required in REQUIRED_SIGNED {
        if !signed_headers.iter().any(|h| h == required) {
            return Err(incomplete(&format!("Header {required} must be signed.")));
        }
    }
    // Unsigned, the content type could be changed in flight to turn a signed body into
    // parameters, or to make its parameters disappear; the body hash alone does not say how
    // the body is read.
    if !raw.body.is_empty() && !signed_headers.iter().any(|h| h == "content-type") {
        return Err(incomplete("Header content-type must be signed when the request has a body."));
    }
    let timestamp = raw.header("x-acs-date").ok_or_else(|| incomplete("x-acs-date is missing."))?;
    let nonce = raw
        .header("x-acs-signature-nonce")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| incomplete("x-acs-signature-nonce is missing."))?;
    if let Some((date, _, _)) = &scope {
        // The scope's day must be the day of x-acs-date, or the derived key is for another day.
        if timestamp.get(..10).map(|d| d.replace('-', "")) != Some(date.clone()) {
            return Err(incomplete("Credential scope date does not match x-acs-date."));
        }
    }
    Ok(Claim {
        scheme,
        access_key_id,
        timestamp,
        nonce,
        proof: Proof::Acs(AcsAuthorization { algorithm, scope, signed_headers, signature: signature.to_owned() }),
    })
}

/// An ACS4 scope must name the region this server serves. The spec gives no code for a
/// scope that names another one; `IncompleteSignature` is what a malformed scope (and one
/// whose date is not the request's) already answers, so a wrong region answers the same, and
/// `SignatureDoesNotMatch` stays reserved for a MAC that does not verify.
pub(super) fn check_region(auth: &AcsAuthorization, region: &str) -> Result<(), ApiError> {
    match &auth.scope {
        Some((_, scoped, _)) if scoped != region => {
            Err(incomplete(&format!("Credential scope region must be {region}, the region of this endpoint.")))
        }
        _ => Ok(()),
    }
}

/// Lower-case hex SHA-256, as `x-acs-content-sha256` carries it.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn string_to_sign(raw: &RawRequest, auth: &AcsAuthorization) -> Result<String, ApiError> {
    let mut headers = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let value = raw.header(name).ok_or_else(|| incomplete(&format!("Signed header {name} is missing.")))?;
        headers.push((name.as_str(), value));
    }
    let claimed_hash = raw.header("x-acs-content-sha256").unwrap_or_default();
    let canonical = acs_canonical_request(
        raw.method.as_str(),
        raw.query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &headers,
        claimed_hash.trim(),
    );
    Ok(format!("{}\n{}", auth.algorithm, sha256_hex(canonical.as_bytes())))
}

fn signing_key(auth: &AcsAuthorization, secret: &str) -> hmac::Key {
    match &auth.scope {
        None => hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        Some((date, region, product)) => {
            let mut seed = zeroize::Zeroizing::new(format!("aliyun_v4{secret}"));
            let mut key = hmac::Key::new(hmac::HMAC_SHA256, seed.as_bytes());
            for step in [date.as_str(), region, product, "aliyun_v4_request"] {
                let tag = hmac::sign(&key, step.as_bytes());
                key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
            }
            zeroize::Zeroize::zeroize(&mut *seed);
            key
        }
    }
}

pub(super) fn check(raw: &RawRequest, auth: &AcsAuthorization, secret: &str) -> Result<(), ApiError> {
    let sts = string_to_sign(raw, auth)?;
    let tag = hex::decode(&auth.signature).unwrap_or_default();
    hmac::verify(&signing_key(auth, secret), sts.as_bytes(), &tag).map_err(|_| ApiError::signature_mismatch(&sts))?;
    // The MAC covers the claimed hash; the body must be the one that hash names.
    let claimed = raw.header("x-acs-content-sha256").unwrap_or_default();
    if claimed.trim() != sha256_hex(&raw.body) {
        return Err(ApiError::signature_mismatch(&sts));
    }
    Ok(())
}

/// The `Authorization` header value ACS3 clients send for these signed headers (names lower
/// case, sorted) and query.
pub fn acs3_authorization(
    method: &str,
    query: &[(String, String)],
    signed_headers: &[(String, String)],
    access_key_id: &str,
    secret: &str,
) -> String {
    let headers: Vec<(&str, String)> = signed_headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let hash =
        signed_headers.iter().find(|(k, _)| k == "x-acs-content-sha256").map(|(_, v)| v.as_str()).unwrap_or_default();
    let canonical = acs_canonical_request(method, query.iter().map(|(k, v)| (k.as_str(), v.as_str())), &headers, hash);
    let sts = format!("ACS3-HMAC-SHA256\n{}", sha256_hex(canonical.as_bytes()));
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let sig = hex::encode(hmac::sign(&key, sts.as_bytes()));
    let names: Vec<&str> = signed_headers.iter().map(|(k, _)| k.as_str()).collect();
    format!("ACS3-HMAC-SHA256 Credential={access_key_id},SignedHeaders={},Signature={sig}", names.join(";"))
}
