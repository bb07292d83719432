//! GenerateMac and VerifyMac (spec §7.6).

use kms_wire::ApiError;
use kms_wire::model::*;
use kms_wire::params::encode_base64;

use super::{Ctx, Handle, dry_run_outcome};

/// Spec: §7.6 GenerateMac. The full MAC of the key's algorithm.
impl Handle for GenerateMacRequest {
    type Response = GenerateMacResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let mac = ctx.kms.generate_mac(&self.key, self.algorithm, &self.message).await.map_err(|e| ctx.fail(e))?;
        dry_run_outcome(
            self.dry_run,
            GenerateMacResponse {
                algorithm: mac.algorithm.to_string(),
                key_id: mac.key_id.to_string(),
                mac: encode_base64(&mac.value),
            },
        )
    }
}

/// Spec: §7.6 VerifyMac. `Value` is a boolean; a wrong MAC is `false`.
impl Handle for VerifyMacRequest {
    type Response = VerifyMacResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let checked =
            ctx.kms.verify_mac(&self.key, self.algorithm, &self.message, &self.mac).await.map_err(|e| ctx.fail(e))?;
        dry_run_outcome(
            self.dry_run,
            VerifyMacResponse {
                algorithm: checked.algorithm.to_string(),
                key_id: checked.key_id.to_string(),
                value: checked.value,
            },
        )
    }
}
