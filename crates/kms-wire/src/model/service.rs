//! Service information: DescribeRegions, DescribeAccountKmsStatus, OpenKmsService,
//! DescribeService (spec §7.1), and GetChallenge (Appendix A.3), which kmsd refuses.

use serde::Serialize;

use super::FromParams;
use crate::error::ApiError;
use crate::params::Params;

macro_rules! no_params {
    ($($req:ident),+) => {$(
        #[derive(Debug, Clone)]
        pub struct $req;
        impl FromParams for $req {
            fn from_params(_: &mut Params) -> Result<Self, ApiError> { Ok(Self) }
        }
    )+};
}

no_params!(
    DescribeRegionsRequest,
    DescribeAccountKmsStatusRequest,
    OpenKmsServiceRequest,
    DescribeServiceRequest,
    GetChallengeRequest
);

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRegionsResponse {
    pub regions: Regions,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Regions {
    pub region: Vec<Region>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Region {
    pub region_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAccountKmsStatusResponse {
    pub account_status: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenKmsServiceResponse {}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeServiceResponse {
    pub protection_levels: ProtectionLevels,
    pub key_specs: KeySpecs,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProtectionLevels {
    pub protection_level: Vec<ProtectionLevelEntry>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProtectionLevelEntry {
    pub r#type: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySpecs {
    pub key_spec: Vec<KeySpecEntry>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySpecEntry {
    pub name: &'static str,
    pub supported_protection_levels: SupportedProtectionLevels,
    pub usages: Usages,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SupportedProtectionLevels {
    pub supported_protection_level: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Usages {
    pub usage: Vec<&'static str>,
}

/// Never built: GetChallenge is refused (the handler says why).
#[derive(Debug, Clone, Serialize)]
pub struct GetChallengeResponse {}
