//! Tags on keys and secrets (spec §6.11, §7.7). A key's tags are stored under its id, a
//! secret's under its name.

use kms_store::StoreError;
use kms_types::tags::MAX_TAGS;
use kms_types::{KeyId, KeyRef, ResourceType, SecretName, Tag};

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
    /// The resource a batch tag action names by `ResourceId`: a key id or key ARN, or a secret
    /// name or secret ARN. Checked for a tag change when `changing`.
    async fn tagged_resource(&self, resource: ResourceType, id: &str, changing: bool) -> CoreResult<String> {
        match resource {
            ResourceType::Key => {
                let found = match KeyRef::parse(id) {
                    Ok(r @ KeyRef::Id { .. }) => self.resolve(&r).await.ok(),
                    _ => None,
                };
                let key = found.ok_or(CoreError::ResourceNotFound)?;
                if changing {
                    check(key.state, Operation::UpdateMetadata)?;
                }
                Ok(key.id.to_string())
            }
            ResourceType::Secret => {
                let name = self.secret_named(id).ok_or(CoreError::ResourceNotFound)?;
                self.store.get_secret(&name).await?.ok_or(CoreError::ResourceNotFound)?;
                Ok(name.to_string())
            }
            // Terraform reads an instance's tags and tolerates DKMSInstanceNotFound (§5.1).
            ResourceType::Instance => {
                let id = id.rsplit_once(":keystore/").map_or(id, |(_, i)| i);
                Ok(self.instance(id).await?.id)
            }
        }
    }

    /// A secret name, or the name in this deployment's secret ARN.
    pub fn secret_named(&self, id: &str) -> Option<SecretName> {
        let name = match id.strip_prefix("acs:kms:") {
            Some(rest) => {
                let (scope, name) = rest.split_once(":secret/")?;
                if scope != format!("{}:{}", self.region(), self.account()) {
                    return None;
                }
                name
            }
            None => id,
        };
        SecretName::parse(name).ok()
    }

    /// TagResource on a secret.
    pub async fn tag_secret(&self, name: &SecretName, tags: &[Tag]) -> CoreResult<()> {
        self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?;
        self.store.put_tags(ResourceType::Secret, name.as_str(), tags, MAX_TAGS).await.map_err(limit)
    }

    /// UntagResource on a secret.
    pub async fn untag_secret(&self, name: &SecretName, keys: &[String]) -> CoreResult<()> {
        self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?;
        Ok(self.store.remove_tags(ResourceType::Secret, name.as_str(), Some(keys)).await?)
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

    /// A resource's tags, whatever its state: what `kms:tag/…` policy conditions compare.
    pub async fn resource_tags(&self, resource: ResourceType, id: &str) -> CoreResult<Vec<Tag>> {
        Ok(self.store.list_tags(resource, id).await?)
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

    async fn batch_targets(&self, resource: ResourceType, ids: &[String]) -> CoreResult<Vec<String>> {
        let mut targets = Vec::with_capacity(ids.len());
        for id in ids {
            targets.push(self.tagged_resource(resource, id, true).await?);
        }
        Ok(targets)
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
                    resolved.push(self.tagged_resource(resource, id, false).await?);
                }
                Some(resolved)
            }
            None => None,
        };
        Ok(self.store.list_tag_rows(resource, ids.as_deref(), filter, after, limit).await?)
    }
}
