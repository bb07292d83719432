//! TagResource, UntagResource, ListResourceTags, TagResources, UntagResources,
//! ListTagResources (spec §7.7).

use kms_wire::model::*;
use kms_wire::{ApiError, Code};

use super::{Ctx, Handle};

/// The secret a `SecretName` (name or this deployment's ARN) names.
fn secret(ctx: &Ctx<'_>, raw: &str) -> Result<kms_types::SecretName, ApiError> {
    ctx.kms.secret_named(raw).ok_or_else(|| Code::ResourceNotFound.into())
}

/// Spec: §7.7 TagResource.
impl Handle for TagResourceRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        match self.target {
            TagTarget::Key(key) => ctx.kms.tag_key(&key, &self.tags).await.map_err(|e| ctx.fail(e))?,
            TagTarget::Secret(name) => {
                let name = secret(ctx, &name)?;
                ctx.kms.tag_secret(&name, &self.tags).await.map_err(|e| ctx.fail(e))?
            }
        }
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.7 UntagResource.
impl Handle for UntagResourceRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        match self.target {
            TagTarget::Key(key) => ctx.kms.untag_key(&key, &self.tag_keys).await.map_err(|e| ctx.fail(e))?,
            TagTarget::Secret(name) => {
                let name = secret(ctx, &name)?;
                ctx.kms.untag_secret(&name, &self.tag_keys).await.map_err(|e| ctx.fail(e))?
            }
        }
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.7 ListResourceTags.
impl Handle for ListResourceTagsRequest {
    type Response = ListResourceTagsResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let (key, tags) = ctx.kms.key_tags(&self.key).await.map_err(|e| ctx.fail(e))?;
        let tag = tags
            .into_iter()
            .map(|t| ResourceTag { key_id: key.to_string(), tag_key: t.key, tag_value: t.value })
            .collect();
        Ok(ListResourceTagsResponse { tags: ResourceTags { tag } })
    }
}

/// Spec: §7.7 TagResources.
impl Handle for TagResourcesRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.tag_resources(self.resource_type, &self.resource_ids, &self.tags).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.7 UntagResources.
impl Handle for UntagResourcesRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms
            .untag_resources(self.resource_type, &self.resource_ids, self.tag_keys.as_deref())
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: §7.7 ListTagResources, paged by an opaque `NextToken`.
impl Handle for ListTagResourcesRequest {
    type Response = ListTagResourcesResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        // One row more than a page tells whether another page follows.
        let mut rows = ctx
            .kms
            .list_tag_resources(
                self.resource_type,
                self.resource_ids.as_deref(),
                &self.filter,
                self.after.as_ref(),
                TAG_ROWS_PER_PAGE + 1,
            )
            .await
            .map_err(|e| ctx.fail(e))?;
        let more = rows.len() > TAG_ROWS_PER_PAGE as usize;
        rows.truncate(TAG_ROWS_PER_PAGE as usize);
        let next_token = match (more, rows.last()) {
            (true, Some((id, tag))) => next_token(id, &tag.key),
            _ => String::new(),
        };
        let tag_resource = rows
            .into_iter()
            .map(|(id, t)| TagResourceRow {
                resource_id: id,
                resource_type: self.resource_type.as_str(),
                tag_key: t.key,
                tag_value: t.value,
            })
            .collect();
        Ok(ListTagResourcesResponse { next_token, tag_resources: TagResources { tag_resource } })
    }
}
