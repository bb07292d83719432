//! DescribeRegions, DescribeAccountKmsStatus, OpenKmsService (spec §7.1).

use kms_wire::ApiError;
use kms_wire::model::*;

use super::{Ctx, Handle};

/// Spec: §7.1 DescribeRegions. One kmsd serves one region.
impl Handle for DescribeRegionsRequest {
    type Response = DescribeRegionsResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let region = Region { region_id: ctx.kms.region().to_string() };
        Ok(DescribeRegionsResponse { regions: Regions { region: vec![region] } })
    }
}

/// Spec: §7.1 DescribeAccountKmsStatus. Always enabled: there is no billing to fall behind on.
impl Handle for DescribeAccountKmsStatusRequest {
    type Response = DescribeAccountKmsStatusResponse;
    async fn handle(self, _: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        Ok(DescribeAccountKmsStatusResponse { account_status: "Enabled" })
    }
}

/// Spec: §7.1 OpenKmsService. A no-op success, so set-up scripts that open the service first
/// run unchanged.
impl Handle for OpenKmsServiceRequest {
    type Response = OpenKmsServiceResponse;
    async fn handle(self, _: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        Ok(OpenKmsServiceResponse {})
    }
}
