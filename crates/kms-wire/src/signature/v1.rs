//! V1: HMAC-SHA1 over every query and form parameter except `Signature`, keyed with
//! `secret + "&"`, base64 in the `Signature` parameter (spec §3.1).

use aws_lc_rs::hmac;
use base64::Engine as _;

use super::canonical::v1_string_to_sign;
use super::{Claim, Proof, Scheme};
use crate::error::{ApiError, Code};
use crate::raw::RawRequest;

/// The protocol parameters a V1 request may carry once. Everything the verifier and the
/// dispatcher read about who signed what, when, and which action it asks for is here: two
/// copies, both signed, would let two readers see two different requests.
pub const SINGLE: &[&str] = &[
    "Action",
    "AccessKeyId",
    "SignatureNonce",
    "Signature",
    "Timestamp",
    "Version",
    "SignatureMethod",
    "SignatureVersion",
    "SecurityToken",
    "Format",
];

fn required<'a>(raw: &'a RawRequest, name: &str) -> Result<&'a str, ApiError> {
    match raw.param(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::missing_parameter(name)),
    }
}

pub(super) fn claim(raw: &RawRequest) -> Result<Claim, ApiError> {
    for name in SINGLE {
        raw.single_param(name)?;
    }
    let access_key_id = required(raw, "AccessKeyId")?.to_owned();
    let signature = required(raw, "Signature")?.to_owned();
    let method = required(raw, "SignatureMethod")?;
    if method != "HMAC-SHA1" {
        return Err(ApiError::with_message(
            Code::IncompleteSignature,
            "The request signature does not conform to Aliyun standards. SignatureMethod must be HMAC-SHA1.",
        ));
    }
    if required(raw, "SignatureVersion")? != "1.0" {
        return Err(ApiError::invalid_parameter("SignatureVersion"));
    }
    let timestamp = required(raw, "Timestamp")?.to_owned();
    let nonce = required(raw, "SignatureNonce")?.to_owned();
    Ok(Claim { scheme: Scheme::V1, access_key_id, timestamp, nonce, proof: Proof::V1 { signature } })
}

fn string_to_sign(raw: &RawRequest) -> String {
    let pairs = raw.query.iter().chain(&raw.form).map(|(k, v)| (k.as_str(), v.as_str()));
    v1_string_to_sign(raw.method.as_str(), pairs)
}

fn key(secret: &str) -> hmac::Key {
    let mut k = zeroize::Zeroizing::new(String::with_capacity(secret.len() + 1));
    k.push_str(secret);
    k.push('&');
    hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, k.as_bytes())
}

pub(super) fn check(raw: &RawRequest, signature: &str, secret: &str) -> Result<(), ApiError> {
    let sts = string_to_sign(raw);
    let tag = base64::engine::general_purpose::STANDARD.decode(signature).unwrap_or_default();
    hmac::verify(&key(secret), sts.as_bytes(), &tag).map_err(|_| ApiError::signature_mismatch(&sts))
}

/// The `Signature` value for `method` and `params` (every parameter but `Signature`).
pub fn v1_signature(method: &str, params: &[(String, String)], secret: &str) -> String {
    let sts = v1_string_to_sign(method, params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let tag = hmac::sign(&key(secret), sts.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}
