//! Managed data keys: GetManagedDataKey and ListManagedDataKeyVersions (spec Appendix A.3).
//! Every parameter travels in the query.

use serde::Serialize;
use zeroize::Zeroizing;

use super::{FromParams, Page, PageEcho};
use crate::error::ApiError;
use crate::params::Params;

#[derive(Debug)]
pub struct GetManagedDataKeyRequest {
    pub name: String,
    pub version_id: Option<String>,
    /// Without a version id: the latest version (`true`) or the first (`false`, the default).
    pub use_latest: bool,
}

impl FromParams for GetManagedDataKeyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self {
            name: p.required("DataKeyName")?,
            version_id: p.optional("DataKeyVersionId"),
            use_latest: p.optional_bool("UseLatest")?.unwrap_or(false),
        })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetManagedDataKeyResponse {
    pub data_key_name: String,
    pub data_key_version_id: String,
    pub data_key_version_name: String,
    /// Base64 of the data key; wiped when the response goes.
    pub plaintext: Zeroizing<String>,
}

#[derive(Debug)]
pub struct ListManagedDataKeyVersionsRequest {
    pub name: String,
    pub page: Page,
}

impl FromParams for ListManagedDataKeyVersionsRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { name: p.required("DataKeyName")?, page: Page::from_params(p)? })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListManagedDataKeyVersionsResponse {
    pub data_key_name: String,
    pub managed_data_key_versions: ManagedDataKeyVersions,
    #[serde(flatten)]
    pub page: PageEcho,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedDataKeyVersions {
    pub managed_data_key_version: Vec<ManagedDataKeyVersion>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedDataKeyVersion {
    pub data_key_version_id: String,
    pub data_key_version_name: String,
}
