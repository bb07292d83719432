//! Versions and rotation: CreateKeyVersion, DescribeKeyVersion, ListKeyVersions,
//! UpdateRotationPolicy (spec §7.2).

use kms_types::{KeyRef, KeyVersionId};
use serde::Serialize;

use super::{FromParams, Page, PageEcho, key_ref};
use crate::error::{ApiError, Code};
use crate::params::Params;

#[derive(Debug, Clone)]
pub struct CreateKeyVersionRequest {
    pub key: KeyRef,
}

impl FromParams for CreateKeyVersionRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { key: key_ref(p, "KeyId")? })
    }
}

#[derive(Debug, Clone)]
pub struct DescribeKeyVersionRequest {
    pub key: KeyRef,
    pub version: KeyVersionId,
}

impl FromParams for DescribeKeyVersionRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let key = key_ref(p, "KeyId")?;
        let version =
            KeyVersionId::parse(&p.required("KeyVersionId")?).map_err(|_| ApiError::new(Code::KeyVersionNotFound))?;
        Ok(Self { key, version })
    }
}

#[derive(Debug, Clone)]
pub struct ListKeyVersionsRequest {
    pub key: KeyRef,
    pub page: Page,
}

impl FromParams for ListKeyVersionsRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { key: key_ref(p, "KeyId")?, page: Page::from_params_from_zero(p, true)? })
    }
}

#[derive(Debug, Clone)]
pub struct UpdateRotationPolicyRequest {
    pub key: KeyRef,
    pub enable: bool,
    pub interval: Option<String>,
}

impl FromParams for UpdateRotationPolicyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let key = key_ref(p, "KeyId")?;
        let enable = p
            .optional_bool("EnableAutomaticRotation")?
            .ok_or_else(|| ApiError::missing_parameter("EnableAutomaticRotation"))?;
        Ok(Self { key, enable, interval: p.optional("RotationInterval") })
    }
}

/// One version as the version actions report it. The usage fields are kmsd's own addition
/// (typed SDK models ignore unknown fields): Encrypt-side and Decrypt-side calls the version
/// served, and when it last served one.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyVersion {
    pub creation_date: String,
    pub key_id: String,
    pub key_version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypt_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypt_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_date: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyVersionResponse {
    pub key_version: KeyVersion,
}

pub type CreateKeyVersionResponse = KeyVersionResponse;
pub type DescribeKeyVersionResponse = KeyVersionResponse;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyVersionsResponse {
    pub key_versions: KeyVersions,
    #[serde(flatten)]
    pub page: PageEcho,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyVersions {
    pub key_version: Vec<KeyVersion>,
}
