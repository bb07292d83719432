//! GetKeyPolicy, SetKeyPolicy, GetSecretPolicy, SetSecretPolicy (spec §7.9).

use kms_wire::ApiError;
use kms_wire::model::*;

use super::secrets::name_of;
use super::{Ctx, Handle};

/// Spec: §7.9 GetKeyPolicy. The stored policy, or the default one.
impl Handle for GetKeyPolicyRequest {
    type Response = GetKeyPolicyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let policy = ctx.kms.get_key_policy(&self.key).await.map_err(|e| ctx.fail(e))?;
        Ok(GetPolicyResponse { policy })
    }
}

/// Spec: §7.9 SetKeyPolicy.
impl Handle for SetKeyPolicyRequest {
    type Response = SetKeyPolicyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.set_key_policy(&self.key, &self.policy).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.9 GetSecretPolicy.
impl Handle for GetSecretPolicyRequest {
    type Response = GetSecretPolicyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        let policy = ctx.kms.get_secret_policy(&name).await.map_err(|e| ctx.fail(e))?;
        Ok(GetPolicyResponse { policy })
    }
}

/// Spec: §7.9 SetSecretPolicy.
impl Handle for SetSecretPolicyRequest {
    type Response = SetSecretPolicyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        ctx.kms.set_secret_policy(&name, &self.policy).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}
