//! HMAC: GenerateMac and VerifyMac (spec §7.6). Every parameter travels in the query.

use kms_types::{KeyRef, MacAlgorithm};
use serde::Serialize;
use zeroize::Zeroizing;

use super::{FromParams, dry_run, key_ref};
use crate::error::ApiError;
use crate::params::Params;

/// The message may be a secret (a token, a password being checked): wiped like a plaintext.
/// Its length is the key service's to judge (one rule for both APIs).
fn message(p: &mut Params) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    Ok(Zeroizing::new(p.required_base64("Message")?))
}

/// One of the five MAC algorithms; whether it is the key's own is the key service's question.
fn algorithm(p: &mut Params) -> Result<MacAlgorithm, ApiError> {
    p.required("Algorithm")?.parse().map_err(|_| ApiError::invalid_parameter("Algorithm"))
}

#[derive(Debug)]
pub struct GenerateMacRequest {
    pub key: KeyRef,
    pub algorithm: MacAlgorithm,
    pub message: Zeroizing<Vec<u8>>,
    pub dry_run: bool,
}

impl FromParams for GenerateMacRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { key: key_ref(p, "KeyId")?, algorithm: algorithm(p)?, message: message(p)?, dry_run: dry_run(p)? })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateMacResponse {
    pub algorithm: String,
    pub key_id: String,
    /// Base64 of the full MAC.
    pub mac: String,
}

#[derive(Debug)]
pub struct VerifyMacRequest {
    pub key: KeyRef,
    pub algorithm: MacAlgorithm,
    pub message: Zeroizing<Vec<u8>>,
    pub mac: Vec<u8>,
    pub dry_run: bool,
}

impl FromParams for VerifyMacRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self {
            key: key_ref(p, "KeyId")?,
            algorithm: algorithm(p)?,
            message: message(p)?,
            mac: p.required_base64("Mac")?,
            dry_run: dry_run(p)?,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyMacResponse {
    pub algorithm: String,
    pub key_id: String,
    pub value: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    fn parse<T: FromParams>(pairs: &[(&str, &str)]) -> Result<T, ApiError> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        T::from_params(&mut Params::from_pairs(&owned).unwrap())
    }

    #[test]
    fn every_parameter_is_checked_before_the_key_is_touched() {
        let ok = [("KeyId", "alias/mac"), ("Algorithm", "HMAC_SHA_256"), ("Message", "aGk=")];
        let r: GenerateMacRequest = parse(&ok).unwrap();
        assert_eq!((r.algorithm, r.message.as_slice(), r.dry_run), (MacAlgorithm::HmacSha256, &b"hi"[..], false));
        let code = |pairs: &[(&str, &str)]| parse::<GenerateMacRequest>(pairs).unwrap_err().code;
        assert_eq!(code(&ok[1..]), Code::MissingParameter);
        assert_eq!(code(&[ok[0], ok[2]]), Code::MissingParameter);
        assert_eq!(code(&ok[..2]), Code::MissingParameter);
        assert_eq!(code(&[ok[0], ("Algorithm", "HMAC_MD5"), ok[2]]), Code::InvalidParameter);
        assert_eq!(code(&[ok[0], ("Algorithm", "hmac_sha_256"), ok[2]]), Code::InvalidParameter);
        assert_eq!(code(&[ok[0], ok[1], ("Message", "not base64!")]), Code::InvalidParameter);
        let v: VerifyMacRequest = parse(&[ok[0], ok[1], ok[2], ("Mac", "AAEC"), ("DryRun", "true")]).unwrap();
        assert_eq!((v.mac, v.dry_run), (vec![0, 1, 2], true));
        assert_eq!(parse::<VerifyMacRequest>(&ok).unwrap_err().code, Code::MissingParameter);
    }
}
