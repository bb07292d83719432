//! Service information: DescribeRegions, DescribeAccountKmsStatus, OpenKmsService (spec §7.1).

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

no_params!(DescribeRegionsRequest, DescribeAccountKmsStatusRequest, OpenKmsServiceRequest);

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
