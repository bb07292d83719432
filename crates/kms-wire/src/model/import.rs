//! Bring your own key: GetParametersForImport, ImportKeyMaterial, DeleteKeyMaterial (spec
//! §6.4, §7.2).

use kms_types::{ImportWrappingAlgorithm, KeyRef, KeySpec};
use serde::Serialize;

use super::{EmptyResponse, FromParams, key_ref};
use crate::error::ApiError;
use crate::params::Params;

#[derive(Debug)]
pub struct GetParametersForImportRequest {
    pub key: KeyRef,
    pub algorithm: ImportWrappingAlgorithm,
    /// `RSA_2048` or `EC_SM2`.
    pub spec: KeySpec,
}

impl FromParams for GetParametersForImportRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let key = key_ref(p, "KeyId")?;
        let algorithm: ImportWrappingAlgorithm =
            p.required("WrappingAlgorithm")?.parse().map_err(|_| ApiError::invalid_parameter("WrappingAlgorithm"))?;
        let spec = match p.required("WrappingKeySpec")?.parse::<KeySpec>() {
            Ok(s @ (KeySpec::Rsa2048 | KeySpec::EcSm2)) => s,
            _ => return Err(ApiError::invalid_parameter("WrappingKeySpec")),
        };
        if !algorithm.fits(spec) {
            return Err(ApiError::invalid_parameter("WrappingAlgorithm"));
        }
        Ok(Self { key, algorithm, spec })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportResponse {
    pub import_token: String,
    pub key_id: String,
    /// Base64 DER SubjectPublicKeyInfo (no PEM armour).
    pub public_key: String,
    pub token_expire_time: String,
}

#[derive(Debug)]
pub struct ImportKeyMaterialRequest {
    pub key: KeyRef,
    pub encrypted_key_material: Vec<u8>,
    pub import_token: String,
    /// Unix seconds; 0: never expires.
    pub expire_unix: i64,
}

impl FromParams for ImportKeyMaterialRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let key = key_ref(p, "KeyId")?;
        let encrypted_key_material = p.required_base64("EncryptedKeyMaterial")?;
        let import_token = p.required("ImportToken")?;
        // Required (spec §7.3); 0 means "never expires".
        let expire_unix = p
            .required("KeyMaterialExpireUnix")?
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::invalid_parameter("KeyMaterialExpireUnix"))?;
        Ok(Self { key, encrypted_key_material, import_token, expire_unix })
    }
}

pub type ImportKeyMaterialResponse = EmptyResponse;

#[derive(Debug)]
pub struct DeleteKeyMaterialRequest {
    pub key: KeyRef,
}

impl FromParams for DeleteKeyMaterialRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { key: key_ref(p, "KeyId")? })
    }
}

pub type DeleteKeyMaterialResponse = EmptyResponse;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    fn parse<T: FromParams>(pairs: &[(&str, &str)]) -> Result<T, ApiError> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        T::from_params(&mut Params::from_pairs(&owned).unwrap())
    }

    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn wrapping_spec_and_algorithm_must_fit() {
        let ok = |alg, spec| {
            parse::<GetParametersForImportRequest>(&[
                ("KeyId", KEY),
                ("WrappingAlgorithm", alg),
                ("WrappingKeySpec", spec),
            ])
        };
        for alg in ["RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
            assert!(ok(alg, "RSA_2048").is_ok());
            assert_eq!(ok(alg, "EC_SM2").unwrap_err(), ApiError::invalid_parameter("WrappingAlgorithm"));
        }
        assert!(ok("SM2PKE", "EC_SM2").is_ok());
        assert_eq!(ok("SM2PKE", "RSA_3072").unwrap_err(), ApiError::invalid_parameter("WrappingKeySpec"));
        assert_eq!(ok("RSAES_OAEP_SHA_512", "RSA_2048").unwrap_err(), ApiError::invalid_parameter("WrappingAlgorithm"));
    }

    #[test]
    fn material_expiry_is_a_non_negative_unix_time() {
        let p = |exp: &str| {
            parse::<ImportKeyMaterialRequest>(&[
                ("KeyId", KEY),
                ("EncryptedKeyMaterial", "AAAA"),
                ("ImportToken", "t"),
                ("KeyMaterialExpireUnix", exp),
            ])
        };
        assert_eq!(p("0").unwrap().expire_unix, 0);
        assert_eq!(p("").unwrap_err(), ApiError::missing_parameter("KeyMaterialExpireUnix"));
        assert_eq!(p("1900000000").unwrap().expire_unix, 1_900_000_000);
        assert_eq!(p("-1").unwrap_err().code, Code::InvalidParameter);
        assert_eq!(p("soon").unwrap_err().code, Code::InvalidParameter);
        let missing = parse::<ImportKeyMaterialRequest>(&[("KeyId", KEY), ("EncryptedKeyMaterial", "AAAA")]);
        assert_eq!(missing.unwrap_err(), ApiError::missing_parameter("ImportToken"));
        let no_expiry = parse::<ImportKeyMaterialRequest>(&[
            ("KeyId", KEY),
            ("EncryptedKeyMaterial", "AAAA"),
            ("ImportToken", "t"),
        ]);
        assert_eq!(no_expiry.unwrap_err(), ApiError::missing_parameter("KeyMaterialExpireUnix"));
    }
}
