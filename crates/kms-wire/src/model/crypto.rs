//! Symmetric cryptography: Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext
//! (spec §7.4). Plaintext travels in [`Zeroizing`] buffers, wiped when the response is sent.

use kms_types::limits::{DATA_KEY_BYTES, MAX_PLAINTEXT_BYTES};
use kms_types::{AsymmetricAlgorithm, EncryptionContext, KeyRef, KeySpec};
use serde::Serialize;
use zeroize::Zeroizing;

use super::{FromParams, dry_run, encryption_context, key_ref, refuse_recipient};
use crate::error::ApiError;
use crate::params::Params;

#[derive(Debug)]
pub struct EncryptRequest {
    pub key: KeyRef,
    pub plaintext: Zeroizing<Vec<u8>>,
    pub context: EncryptionContext,
    pub dry_run: bool,
}

impl FromParams for EncryptRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let key = key_ref(p, "KeyId")?;
        let plaintext = Zeroizing::new(p.required_base64("Plaintext")?);
        if plaintext.len() > MAX_PLAINTEXT_BYTES {
            return Err(ApiError::invalid_parameter("Plaintext"));
        }
        Ok(Self { key, plaintext, context: encryption_context(p, "EncryptionContext")?, dry_run: dry_run(p)? })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptResponse {
    pub ciphertext_blob: String,
    pub key_id: String,
    pub key_version_id: String,
}

#[derive(Debug)]
pub struct DecryptRequest {
    pub ciphertext_blob: Vec<u8>,
    pub context: EncryptionContext,
    pub dry_run: bool,
}

impl FromParams for DecryptRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        refuse_recipient(p)?;
        Ok(Self {
            ciphertext_blob: p.required_base64("CiphertextBlob")?,
            context: encryption_context(p, "EncryptionContext")?,
            dry_run: dry_run(p)?,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptResponse {
    pub key_id: String,
    pub key_version_id: String,
    pub plaintext: Zeroizing<String>,
}

/// Shared parameters of the two data-key actions.
#[derive(Debug)]
pub struct DataKeyParams {
    pub key: KeyRef,
    pub context: EncryptionContext,
    /// Resolved length: `NumberOfBytes`, else `KeySpec` (AES_256 → 32, AES_128 → 16), else 32.
    pub number_of_bytes: u32,
    pub dry_run: bool,
}

impl DataKeyParams {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let key = key_ref(p, "KeyId")?;
        let spec_bytes = match p.optional("KeySpec").as_deref() {
            None => None,
            Some("AES_256") => Some(32),
            Some("AES_128") => Some(16),
            Some(_) => return Err(ApiError::invalid_parameter("KeySpec")),
        };
        let explicit = p.optional_u32_in("NumberOfBytes", DATA_KEY_BYTES)?;
        Ok(Self {
            key,
            context: encryption_context(p, "EncryptionContext")?,
            number_of_bytes: explicit.or(spec_bytes).unwrap_or(32),
            dry_run: dry_run(p)?,
        })
    }
}

#[derive(Debug)]
pub struct GenerateDataKeyRequest(pub DataKeyParams);

impl FromParams for GenerateDataKeyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        refuse_recipient(p)?;
        DataKeyParams::from_params(p).map(Self)
    }
}

#[derive(Debug)]
pub struct GenerateDataKeyWithoutPlaintextRequest(pub DataKeyParams);

impl FromParams for GenerateDataKeyWithoutPlaintextRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        DataKeyParams::from_params(p).map(Self)
    }
}

/// A fresh data key: the ciphertext fields of Encrypt plus the key in the clear.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyResponse {
    #[serde(flatten)]
    pub wrapped: EncryptResponse,
    pub plaintext: Zeroizing<String>,
}

/// The same three fields as Encrypt.
pub type GenerateDataKeyWithoutPlaintextResponse = EncryptResponse;

/// Where ReEncrypt's ciphertext comes from.
#[derive(Debug)]
pub enum ReEncryptSource {
    /// A KMS blob: it names its own key version; opened with this context.
    Blob { context: EncryptionContext },
    /// A raw public-key ciphertext of an asymmetric key version (`SourceKeyId`,
    /// `SourceKeyVersionId`, `SourceEncryptionAlgorithm`: all three or none).
    PublicKey { target: super::KeyVersionRef, algorithm: AsymmetricAlgorithm },
}

/// ReEncrypt: opens the ciphertext (a KMS blob, or a public-key ciphertext of the source key
/// version named) and seals the plaintext under the destination key's primary version.
#[derive(Debug)]
pub struct ReEncryptRequest {
    pub ciphertext_blob: Vec<u8>,
    pub source: ReEncryptSource,
    pub destination: KeyRef,
    pub destination_context: EncryptionContext,
    pub dry_run: bool,
}

impl FromParams for ReEncryptRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let named = ["SourceKeyId", "SourceKeyVersionId", "SourceEncryptionAlgorithm"];
        let public_key_source = named.iter().any(|n| p.has(n));
        let source = if public_key_source {
            let target = super::KeyVersionRef::named(p, "SourceKeyId", "SourceKeyVersionId")?;
            let algorithm = super::encryption_algorithm(p, "SourceEncryptionAlgorithm")?;
            // A context belongs to symmetric ciphertexts; a public-key one has none to check.
            let _ = p.take_prefixed("SourceEncryptionContext");
            let _ = p.optional("SourceEncryptionContext");
            ReEncryptSource::PublicKey { target, algorithm }
        } else {
            ReEncryptSource::Blob { context: encryption_context(p, "SourceEncryptionContext")? }
        };
        Ok(Self {
            ciphertext_blob: p.required_base64("CiphertextBlob")?,
            destination: key_ref(p, "DestinationKeyId")?,
            source,
            destination_context: encryption_context(p, "DestinationEncryptionContext")?,
            dry_run: dry_run(p)?,
        })
    }
}

/// The new ciphertext and the destination key version that made it (spec §12).
pub type ReEncryptResponse = EncryptResponse;

/// The caller's public key a data key is exported to (ExportDataKey,
/// GenerateAndExportDataKey): `RSA_2048` with an OAEP algorithm, or `EC_SM2` with SM2PKE.
#[derive(Debug, Clone)]
pub struct ExportWrapping {
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    pub algorithm: AsymmetricAlgorithm,
    pub spec: KeySpec,
}

impl ExportWrapping {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let public_key = p.required_base64("PublicKeyBlob")?;
        let algorithm = super::encryption_algorithm(p, "WrappingAlgorithm")?;
        let spec = match p.required("WrappingKeySpec")?.parse::<KeySpec>() {
            Ok(s @ (KeySpec::Rsa2048 | KeySpec::EcSm2)) => s,
            _ => return Err(ApiError::invalid_parameter("WrappingKeySpec")),
        };
        if !algorithm.fits(spec) {
            return Err(ApiError::invalid_parameter("WrappingAlgorithm"));
        }
        Ok(Self { public_key, algorithm, spec })
    }
}

/// ExportDataKey: the data key inside a KMS blob, re-encrypted to the caller's public key.
#[derive(Debug)]
pub struct ExportDataKeyRequest {
    pub ciphertext_blob: Vec<u8>,
    pub context: EncryptionContext,
    pub wrapping: ExportWrapping,
    pub dry_run: bool,
}

impl FromParams for ExportDataKeyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self {
            ciphertext_blob: p.required_base64("CiphertextBlob")?,
            context: encryption_context(p, "EncryptionContext")?,
            wrapping: ExportWrapping::from_params(p)?,
            dry_run: dry_run(p)?,
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportDataKeyResponse {
    /// Base64 of the public-key ciphertext of the data key.
    pub exported_data_key: String,
    pub key_id: String,
    pub key_version_id: String,
}

/// GenerateAndExportDataKey: a new data key, wrapped by the key and exported to the caller's
/// public key; never in the clear.
#[derive(Debug)]
pub struct GenerateAndExportDataKeyRequest {
    pub data_key: DataKeyParams,
    pub wrapping: ExportWrapping,
}

impl FromParams for GenerateAndExportDataKeyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { data_key: DataKeyParams::from_params(p)?, wrapping: ExportWrapping::from_params(p)? })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateAndExportDataKeyResponse {
    pub ciphertext_blob: String,
    pub exported_data_key: String,
    pub key_id: String,
    pub key_version_id: String,
}

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
    fn plaintext_limit_is_6144_decoded_bytes() {
        use base64::Engine as _;
        let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
        let ok = parse::<EncryptRequest>(&[("KeyId", KEY), ("Plaintext", &b64(6144))]).unwrap();
        assert_eq!(ok.plaintext.len(), 6144);
        let e = parse::<EncryptRequest>(&[("KeyId", KEY), ("Plaintext", &b64(6145))]).unwrap_err();
        assert_eq!(e, ApiError::invalid_parameter("Plaintext"));
    }

    #[test]
    fn malformed_key_ids_are_not_found() {
        let e = parse::<EncryptRequest>(&[("KeyId", "nope"), ("Plaintext", "aGk=")]).unwrap_err();
        assert_eq!(e.code, Code::KeyNotFound);
        let e = parse::<EncryptRequest>(&[("KeyId", "alias/no pe"), ("Plaintext", "aGk=")]).unwrap_err();
        assert_eq!(e.code, Code::AliasNotFound);
    }

    #[test]
    fn flattened_and_json_contexts_are_the_same_and_both_at_once_is_invalid() {
        let a = parse::<EncryptRequest>(&[
            ("KeyId", KEY),
            ("Plaintext", "aGk="),
            ("EncryptionContext", r#"{"b":"2","a":"1"}"#),
        ])
        .unwrap();
        let b = parse::<EncryptRequest>(&[
            ("KeyId", KEY),
            ("Plaintext", "aGk="),
            ("EncryptionContext.a", "1"),
            ("EncryptionContext.b", "2"),
        ])
        .unwrap();
        assert_eq!(a.context, b.context);
        let e = parse::<EncryptRequest>(&[
            ("KeyId", KEY),
            ("Plaintext", "aGk="),
            ("EncryptionContext", "{}"),
            ("EncryptionContext.a", "1"),
        ])
        .unwrap_err();
        assert_eq!(e.code, Code::InvalidParameter);
    }

    #[test]
    fn data_key_length_rules() {
        let n = |pairs: &[(&str, &str)]| parse::<GenerateDataKeyRequest>(pairs).map(|r| r.0.number_of_bytes);
        assert_eq!(n(&[("KeyId", KEY)]).unwrap(), 32);
        assert_eq!(n(&[("KeyId", KEY), ("KeySpec", "AES_128")]).unwrap(), 16);
        assert_eq!(n(&[("KeyId", KEY), ("KeySpec", "AES_128"), ("NumberOfBytes", "7")]).unwrap(), 7);
        assert_eq!(n(&[("KeyId", KEY), ("NumberOfBytes", "1025")]).unwrap_err().code, Code::InvalidParameter);
        assert_eq!(n(&[("KeyId", KEY), ("NumberOfBytes", "0")]).unwrap_err().code, Code::InvalidParameter);
        assert_eq!(n(&[("KeyId", KEY), ("KeySpec", "AES_512")]).unwrap_err().code, Code::InvalidParameter);
        assert_eq!(n(&[("KeyId", KEY), ("Recipient", "x")]).unwrap_err().code, Code::InvalidParameter);
    }
}
