//! GetManagedDataKey and ListManagedDataKeyVersions (spec Appendix A.3).

use kms_store::Window;
use kms_wire::ApiError;
use kms_wire::model::*;
use kms_wire::params::encode_base64;
use zeroize::Zeroizing;

use super::{Ctx, Handle};

/// Spec: A.3 GetManagedDataKey. The version named, else the first (or with `UseLatest` the
/// latest); the plaintext data key in base64.
impl Handle for GetManagedDataKeyRequest {
    type Response = GetManagedDataKeyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let key = ctx
            .kms
            .get_managed_data_key(&self.name, self.version_id.as_deref(), self.use_latest)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(GetManagedDataKeyResponse {
            data_key_name: key.name,
            data_key_version_id: key.version.version_id,
            data_key_version_name: key.version.version_name,
            plaintext: Zeroizing::new(encode_base64(&key.plaintext)),
        })
    }
}

/// Spec: A.3 ListManagedDataKeyVersions. Oldest first, paged like the other lists.
impl Handle for ListManagedDataKeyVersionsRequest {
    type Response = ListManagedDataKeyVersionsResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let window = Window { offset: self.page.offset(), limit: self.page.size };
        let listed = ctx.kms.list_managed_data_key_versions(&self.name, window).await.map_err(|e| ctx.fail(e))?;
        Ok(ListManagedDataKeyVersionsResponse {
            data_key_name: self.name,
            managed_data_key_versions: ManagedDataKeyVersions {
                managed_data_key_version: listed
                    .items
                    .into_iter()
                    .map(|v| ManagedDataKeyVersion {
                        data_key_version_id: v.version_id,
                        data_key_version_name: v.version_name,
                    })
                    .collect(),
            },
            page: PageEcho::new(self.page, listed.total),
        })
    }
}
