//! EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion, SetDeletionProtection
//! (spec §7.2, §5.4).

use kms_wire::ApiError;
use kms_wire::model::*;

use super::{Ctx, Handle};

/// Spec: §7.2 EnableKey.
impl Handle for EnableKeyRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.enable_key(&self.key).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.2 DisableKey.
impl Handle for DisableKeyRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.disable_key(&self.key).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.2 ScheduleKeyDeletion. A protected key answers `Rejected.UnsupportedOperation`
/// (the cloud documents the refusal, not its code).
impl Handle for ScheduleKeyDeletionRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.schedule_key_deletion(&self.key, self.pending_window_in_days).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.2 CancelKeyDeletion.
impl Handle for CancelKeyDeletionRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.cancel_key_deletion(&self.key).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.2 SetDeletionProtection; for an instance, docs/design/instances.md §2.9.
impl Handle for SetDeletionProtectionRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        match &self.target {
            Protected::Key(key) => {
                ctx.kms.set_deletion_protection(key, self.enable, &self.description).await.map_err(|e| ctx.fail(e))?;
            }
            Protected::Instance(id) => {
                let description = Some(self.description).filter(|d| !d.is_empty());
                ctx.kms.protect_instance(id, self.enable, description).await.map_err(|e| ctx.fail(e))?;
            }
        }
        Ok(EmptyResponse {})
    }
}
