//! Tags on keys (spec §6.11, §7.7). Secrets join when they exist; until then a secret named by
//! a tag action is simply not found.

use kms_store::StoreError;
use kms_types::tags::MAX_TAGS;
use kms_types::{KeyId, KeyRef, ResourceType, Tag};

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;
use crate::state::{Operation, check};

/// One row of ListTagResources.
pub type TagRow = (String, Tag);

fn limit(e: StoreError) -> CoreError {
    match e {
        StoreError::LimitExceeded => CoreError::LimitExceeded,
        other => other.into(),
    }
}

impl Kms {
    /// The key a batch tag action names by `ResourceId` (a key id or key ARN).
    async fn tagged_key(&self, resource: ResourceType, id: &str) -> CoreResult<KeyId> {
        let found = match (resource, KeyRef::parse(id)) {
            (ResourceType::Key, Ok(r @ KeyRef::Id { .. })) => self.resolve(&r).await.ok(),
            _ => None,
        };
        found.map(|k| k.id).ok_or(CoreError::ResourceNotFound)
    }

    /// TagResource: adds or overwrites tags; a key carries at most 20.
    pub async fn tag_key(&self, r: &KeyRef, tags: &[Tag]) -> CoreResult<()> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::UpdateMetadata)?;
        self.store.put_tags(ResourceType::Key, key.id.as_str(), tags, MAX_TAGS).await.map_err(limit)
    }

    /// UntagResource: removes tags by key; unknown keys are ignored.
    pub async fn untag_key(&self, r: &KeyRef, keys: &[String]) -> CoreResult<()> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::UpdateMetadata)?;
        Ok(self.store.remove_tags(ResourceType::Key, key.id.as_str(), Some(keys)).await?)
    }

    /// ListResourceTags.
    pub async fn key_tags(&self, r: &KeyRef) -> CoreResult<(KeyId, Vec<Tag>)> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::Read)?;
        let tags = self.store.list_tags(ResourceType::Key, key.id.as_str()).await?;
        Ok((key.id, tags))
    }

    /// TagResources: every resource must exist and accept the change before any is tagged.
    pub async fn tag_resources(&self, resource: ResourceType, ids: &[String], tags: &[Tag]) -> CoreResult<()> {
        let keys = self.batch_targets(resource, ids).await?;
        for key in keys {
            self.store.put_tags(resource, key.as_str(), tags, MAX_TAGS).await.map_err(limit)?;
        }
        Ok(())
    }

    /// UntagResources: `None` removes every tag.
    pub async fn untag_resources(
        &self,
        resource: ResourceType,
        ids: &[String],
        keys: Option<&[String]>,
    ) -> CoreResult<()> {
        for key in self.batch_targets(resource, ids).await? {
            self.store.remove_tags(resource, key.as_str(), keys).await?;
        }
        Ok(())
    }

    async fn batch_targets(&self, resource: ResourceType, ids: &[String]) -> CoreResult<Vec<KeyId>> {
        let mut keys = Vec::with_capacity(ids.len());
        for id in ids {
            let key = self.tagged_key(resource, id).await?;
            let record = self.store.get_key(&key).await?.ok_or(CoreError::ResourceNotFound)?;
            check(record.state, Operation::UpdateMetadata)?;
            keys.push(key);
        }
        Ok(keys)
    }

    /// ListTagResources: rows after the cursor; resource ids given must exist.
    pub async fn list_tag_resources(
        &self,
        resource: ResourceType,
        ids: Option<&[String]>,
        filter: &[(String, Option<String>)],
        after: Option<&(String, String)>,
        limit: u32,
    ) -> CoreResult<Vec<TagRow>> {
        let ids = match ids {
            Some(ids) => {
                let mut resolved = Vec::with_capacity(ids.len());
                for id in ids {
                    resolved.push(self.tagged_key(resource, id).await?.to_string());
                }
                Some(resolved)
            }
            None => None,
        };
        Ok(self.store.list_tag_rows(resource, ids.as_deref(), filter, after, limit).await?)
    }
}
