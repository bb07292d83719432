//! Asymmetric cryptography: GetPublicKey, AsymmetricSign/Verify, AsymmetricEncrypt/Decrypt
//! (spec §7.5). Every action names the key version; `Algorithm` is one of spec §6.3.

use kms_types::{AsymmetricAlgorithm, KeyRef, KeyUsage, KeyVersionId};
use serde::Serialize;
use zeroize::Zeroizing;

use super::{FromParams, dry_run, key_ref, refuse_recipient};
use crate::error::{ApiError, Code};
use crate::params::Params;

/// The key and version every asymmetric action names.
#[derive(Debug, Clone)]
pub struct KeyVersionRef {
    pub key: KeyRef,
    pub version: KeyVersionId,
}

impl KeyVersionRef {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Self::named(p, "KeyId", "KeyVersionId")
    }

    /// The pair under other parameter names (ReEncrypt's `SourceKeyId`/`SourceKeyVersionId`).
    pub(crate) fn named(p: &mut Params, key: &str, version: &str) -> Result<Self, ApiError> {
        let key = key_ref(p, key)?;
        // A version id of no valid shape names no version.
        let version =
            KeyVersionId::parse(&p.required(version)?).map_err(|_| ApiError::new(Code::KeyVersionNotFound))?;
        Ok(Self { key, version })
    }
}

/// A signature algorithm (spec §7.5): an encryption algorithm here is an invalid parameter,
/// as is a signature algorithm to AsymmetricEncrypt/Decrypt.
fn signing_algorithm(p: &mut Params) -> Result<AsymmetricAlgorithm, ApiError> {
    match p.required("Algorithm")?.parse::<AsymmetricAlgorithm>() {
        Ok(a) if a.usage() == KeyUsage::SignVerify => Ok(a),
        _ => Err(ApiError::invalid_parameter("Algorithm")),
    }
}

/// A public-key encryption algorithm (spec §6.3) under the parameter `name`.
pub(crate) fn encryption_algorithm(p: &mut Params, name: &str) -> Result<AsymmetricAlgorithm, ApiError> {
    match p.required(name)?.parse::<AsymmetricAlgorithm>() {
        Ok(a) if a.usage() == KeyUsage::EncryptDecrypt => Ok(a),
        _ => Err(ApiError::invalid_parameter(name)),
    }
}

#[derive(Debug)]
pub struct GetPublicKeyRequest {
    pub target: KeyVersionRef,
    pub dry_run: bool,
}

impl FromParams for GetPublicKeyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { target: KeyVersionRef::from_params(p)?, dry_run: dry_run(p)? })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPublicKeyResponse {
    pub key_id: String,
    pub key_version_id: String,
    /// PEM SubjectPublicKeyInfo.
    pub public_key: String,
}

#[derive(Debug)]
pub struct AsymmetricSignRequest {
    pub target: KeyVersionRef,
    pub algorithm: AsymmetricAlgorithm,
    /// The caller's digest; its length is checked against the algorithm by the key service.
    pub digest: Vec<u8>,
    pub dry_run: bool,
}

impl FromParams for AsymmetricSignRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self {
            target: KeyVersionRef::from_params(p)?,
            algorithm: signing_algorithm(p)?,
            digest: p.required_base64("Digest")?,
            dry_run: dry_run(p)?,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsymmetricSignResponse {
    pub key_id: String,
    pub key_version_id: String,
    /// Base64 signature (DER for ECDSA and SM2DSA).
    pub value: String,
}

#[derive(Debug)]
pub struct AsymmetricVerifyRequest {
    pub target: KeyVersionRef,
    pub algorithm: AsymmetricAlgorithm,
    pub digest: Vec<u8>,
    pub signature: Vec<u8>,
    pub dry_run: bool,
}

impl FromParams for AsymmetricVerifyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self {
            target: KeyVersionRef::from_params(p)?,
            algorithm: signing_algorithm(p)?,
            digest: p.required_base64("Digest")?,
            signature: p.required_base64("Value")?,
            dry_run: dry_run(p)?,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsymmetricVerifyResponse {
    pub key_id: String,
    pub key_version_id: String,
    /// A JSON boolean: a signature that does not verify is `false`, not an error.
    pub value: bool,
}

#[derive(Debug)]
pub struct AsymmetricEncryptRequest {
    pub target: KeyVersionRef,
    pub algorithm: AsymmetricAlgorithm,
    pub plaintext: Zeroizing<Vec<u8>>,
    pub dry_run: bool,
}

impl FromParams for AsymmetricEncryptRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self {
            target: KeyVersionRef::from_params(p)?,
            algorithm: encryption_algorithm(p, "Algorithm")?,
            plaintext: Zeroizing::new(p.required_base64("Plaintext")?),
            dry_run: dry_run(p)?,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsymmetricEncryptResponse {
    /// The raw public-key ciphertext, base64 (not a KMS blob).
    pub ciphertext_blob: String,
    pub key_id: String,
    pub key_version_id: String,
}

#[derive(Debug)]
pub struct AsymmetricDecryptRequest {
    pub target: KeyVersionRef,
    pub algorithm: AsymmetricAlgorithm,
    pub ciphertext: Vec<u8>,
    pub dry_run: bool,
}

impl FromParams for AsymmetricDecryptRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        refuse_recipient(p)?;
        Ok(Self {
            target: KeyVersionRef::from_params(p)?,
            algorithm: encryption_algorithm(p, "Algorithm")?,
            ciphertext: p.required_base64("CiphertextBlob")?,
            dry_run: dry_run(p)?,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsymmetricDecryptResponse {
    pub key_id: String,
    pub key_version_id: String,
    pub plaintext: Zeroizing<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: FromParams>(pairs: &[(&str, &str)]) -> Result<T, ApiError> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        T::from_params(&mut Params::from_pairs(&owned).unwrap())
    }

    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const VERSION: &str = "2234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn every_parameter_is_checked_with_its_own_code() {
        let base = [("KeyId", KEY), ("KeyVersionId", VERSION), ("Algorithm", "ECDSA_SHA_256"), ("Digest", "AAAA")];
        let ok = parse::<AsymmetricSignRequest>(&base).unwrap();
        assert_eq!((ok.algorithm, ok.digest.len()), (AsymmetricAlgorithm::EcdsaSha256, 3));
        let with = |name: &'static str, value: &'static str| {
            let mut v: Vec<(&str, &str)> = base.iter().copied().filter(|(k, _)| *k != name).collect();
            v.push((name, value));
            v
        };
        let code = |pairs: Vec<(&str, &str)>| parse::<AsymmetricSignRequest>(&pairs).unwrap_err().code;
        assert_eq!(code(with("Algorithm", "ecdsa_sha_256")), Code::InvalidParameter);
        assert_eq!(code(with("Algorithm", "")), Code::MissingParameter);
        assert_eq!(code(with("KeyVersionId", "v1")), Code::KeyVersionNotFound);
        assert_eq!(code(with("Digest", "not base64!")), Code::InvalidParameter);
        assert_eq!(code(with("KeyId", "nope")), Code::KeyNotFound);
        let v = parse::<AsymmetricVerifyRequest>(&base).unwrap_err();
        assert_eq!(v, ApiError::missing_parameter("Value"));
        let d = [("KeyId", KEY), ("KeyVersionId", VERSION), ("Algorithm", "SM2PKE"), ("CiphertextBlob", "AAAA")];
        assert!(parse::<AsymmetricDecryptRequest>(&d).is_ok());
        let mut with_recipient = d.to_vec();
        with_recipient.push(("Recipient", "x"));
        assert_eq!(parse::<AsymmetricDecryptRequest>(&with_recipient).unwrap_err().code, Code::InvalidParameter);
    }
}
