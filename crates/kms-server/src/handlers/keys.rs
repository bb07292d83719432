//! CreateKey, DescribeKey, ListKeys (spec §7.2).

use kms_core::{Kms, NewKey, format_time};
use kms_store::{KeyRecord, Window};
use kms_wire::ApiError;
use kms_wire::model::*;

use super::{Ctx, Handle};

/// `KeyMetadata` of a key record.
pub(super) fn metadata(kms: &Kms, k: KeyRecord) -> KeyMetadata {
    KeyMetadata {
        arn: kms.key_arn(&k.id),
        automatic_rotation: Kms::automatic_rotation(&k),
        creation_date: format_time(k.created_at),
        creator: k.creator,
        delete_date: k.delete_at.map(format_time),
        dkms_instance_id: k.dkms_instance_id.clone(),
        deletion_protection: if k.deletion_protection { "Enabled" } else { "Disabled" },
        deletion_protection_description: k.deletion_protection.then(|| k.deletion_protection_description.clone()),
        description: k.description,
        key_id: k.id.to_string(),
        key_spec: k.spec.as_str(),
        key_state: k.state.as_str(),
        key_usage: k.usage.as_str(),
        last_rotation_date: Some(format_time(k.last_rotation_at)),
        material_expire_time: k.material_expire_at.map(format_time).unwrap_or_default(),
        next_rotation_date: k.next_rotation_at.map(format_time),
        origin: k.origin.as_str(),
        primary_key_version: k.primary_version.to_string(),
        protection_level: k.protection_level.as_str(),
        rotation_interval: k.rotation_interval.map(|i| format!("{i}s")),
    }
}

/// Spec: §7.2 CreateKey. Software keys of the symmetric and asymmetric specs; symmetric ones
/// may rotate, or start `PendingImport` with `Origin=EXTERNAL`.
impl Handle for CreateKeyRequest {
    type Response = CreateKeyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let new = NewKey {
            description: self.description,
            spec: self.key_spec,
            usage: self.key_usage,
            origin: self.origin,
            protection_level: self.protection_level,
            automatic_rotation: self.enable_automatic_rotation,
            rotation_interval: self.rotation_interval,
            dkms_instance_id: self.dkms_instance_id,
            tags: self.tags,
            policy: self.policy,
        };
        let key = ctx.kms.create_key(new).await.map_err(|e| ctx.fail(e))?;
        Ok(CreateKeyResponse { key_metadata: metadata(ctx.kms, key) })
    }
}

/// Spec: §7.2 UpdateKeyDescription.
impl Handle for UpdateKeyDescriptionRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.update_key_description(&self.key, &self.description).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.2 DescribeKey.
impl Handle for DescribeKeyRequest {
    type Response = DescribeKeyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let key = ctx.kms.describe_key(&self.key).await.map_err(|e| ctx.fail(e))?;
        Ok(DescribeKeyResponse { key_metadata: metadata(ctx.kms, key) })
    }
}

/// Spec: §7.2 ListKeys.
impl Handle for ListKeysRequest {
    type Response = ListKeysResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let window = Window { offset: self.page.offset(), limit: self.page.size };
        let listing = ctx.kms.list_keys(&self.filter, window).await.map_err(|e| ctx.fail(e))?;
        let key = listing
            .items
            .iter()
            .map(|k| KeyEntry { key_arn: ctx.kms.key_arn(&k.id), key_id: k.id.to_string() })
            .collect();
        Ok(ListKeysResponse { keys: Keys { key }, page: PageEcho::new(self.page, listing.total) })
    }
}
