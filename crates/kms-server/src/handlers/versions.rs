//! CreateKeyVersion, DescribeKeyVersion, ListKeyVersions, UpdateRotationPolicy (spec §7.2).

use kms_core::format_time;
use kms_store::{VersionRecord, Window};
use kms_wire::ApiError;
use kms_wire::model::*;

use super::{Ctx, Handle};

fn version(v: VersionRecord) -> KeyVersion {
    KeyVersion {
        creation_date: format_time(v.created_at),
        key_id: v.key_id.to_string(),
        key_version_id: v.id.to_string(),
        encrypt_count: Some(v.usage.encrypts),
        decrypt_count: Some(v.usage.decrypts),
        last_used_date: v.usage.last_used_at.map(format_time),
    }
}

/// Spec: §7.2 CreateKeyVersion. The new version becomes primary.
impl Handle for CreateKeyVersionRequest {
    type Response = CreateKeyVersionResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let v = ctx.kms.create_key_version(&self.key).await.map_err(|e| ctx.fail(e))?;
        Ok(KeyVersionResponse { key_version: version(v) })
    }
}

/// Spec: §7.2 DescribeKeyVersion.
impl Handle for DescribeKeyVersionRequest {
    type Response = DescribeKeyVersionResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let v = ctx.kms.describe_key_version(&self.key, &self.version).await.map_err(|e| ctx.fail(e))?;
        Ok(KeyVersionResponse { key_version: version(v) })
    }
}

/// Spec: §7.2 ListKeyVersions, newest first.
impl Handle for ListKeyVersionsRequest {
    type Response = ListKeyVersionsResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let window = Window { offset: self.page.offset(), limit: self.page.size };
        let l = ctx.kms.list_key_versions(&self.key, window).await.map_err(|e| ctx.fail(e))?;
        Ok(ListKeyVersionsResponse {
            key_versions: KeyVersions { key_version: l.items.into_iter().map(version).collect() },
            page: PageEcho::new(self.page, l.total),
        })
    }
}

/// Spec: §7.2 UpdateRotationPolicy.
impl Handle for UpdateRotationPolicyRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms
            .update_rotation_policy(&self.key, self.enable, self.interval.as_deref())
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}
