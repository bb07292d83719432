//! GetParametersForImport, ImportKeyMaterial, DeleteKeyMaterial (spec §6.4, §7.2).

use kms_core::format_time;
use kms_wire::ApiError;
use kms_wire::model::*;
use kms_wire::params::encode_base64;

use super::{Ctx, Handle};

/// Spec: §7.2 GetParametersForImport. A fresh wrapping public key and a 24-hour token.
impl Handle for GetParametersForImportRequest {
    type Response = GetParametersForImportResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let got =
            ctx.kms.get_parameters_for_import(&self.key, self.spec, self.algorithm).await.map_err(|e| ctx.fail(e))?;
        Ok(GetParametersForImportResponse {
            import_token: got.token,
            key_id: got.key_id.to_string(),
            public_key: encode_base64(&got.public_key),
            token_expire_time: format_time(got.expires_at),
        })
    }
}

/// Spec: §7.2 ImportKeyMaterial. `PendingImport` → `Enabled`.
impl Handle for ImportKeyMaterialRequest {
    type Response = ImportKeyMaterialResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms
            .import_key_material(&self.key, &self.import_token, self.encrypted_key_material, self.expire_unix)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.2 DeleteKeyMaterial. Back to `PendingImport` (unless pending deletion).
impl Handle for DeleteKeyMaterialRequest {
    type Response = DeleteKeyMaterialResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.delete_key_material(&self.key).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}
