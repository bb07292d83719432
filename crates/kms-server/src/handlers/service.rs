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

/// Spec: §7.1 DescribeService. The specs CreateKey takes here and their usages, from the key
/// service (so it cannot disagree with CreateKey); software protection only.
impl Handle for DescribeServiceRequest {
    type Response = DescribeServiceResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let software = kms_types::ProtectionLevel::Software.as_str();
        let key_spec = ctx
            .kms
            .served_key_specs()
            .into_iter()
            .map(|(spec, usages)| KeySpecEntry {
                name: spec.as_str(),
                supported_protection_levels: SupportedProtectionLevels { supported_protection_level: vec![software] },
                usages: Usages { usage: usages.iter().map(|u| u.as_str()).collect() },
            })
            .collect();
        Ok(DescribeServiceResponse {
            protection_levels: ProtectionLevels { protection_level: vec![ProtectionLevelEntry { r#type: software }] },
            key_specs: KeySpecs { key_spec },
        })
    }
}

/// Spec: Appendix A.3 GetChallenge. Half of an attestation that needs a trusted execution
/// environment; kmsd has none to attest, so it says so instead of handing out a challenge
/// nothing could redeem.
impl Handle for GetChallengeRequest {
    type Response = GetChallengeResponse;
    async fn handle(self, _: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        Err(ApiError::with_message(
            kms_wire::Code::UnsupportedOperation,
            format!("This action is not supported. {NO_ATTESTATION}"),
        ))
    }
}
