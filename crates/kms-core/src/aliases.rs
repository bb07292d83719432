//! Aliases: names that point at keys (spec §6.7, §7.3).

use kms_store::{AliasRecord, Listing, StoreError, Window};
use kms_types::{AliasName, KeyRef};

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;
use crate::state::{Operation, check};

impl Kms {
    /// CreateAlias: a new name for a key; a taken name is refused, never re-pointed.
    pub async fn create_alias(&self, name: &AliasName, target: &KeyRef) -> CoreResult<()> {
        let key = self.resolve(target).await?;
        check(key.state, Operation::CreateAlias)?;
        let record = AliasRecord { name: name.clone(), key_id: key.id, created_at: self.now() };
        self.store.insert_alias(&record).await.map_err(|e| match e {
            StoreError::Conflict => CoreError::AliasExists,
            other => other.into(),
        })
    }

    /// UpdateAlias: re-points an existing alias; only the new target's state matters.
    pub async fn update_alias(&self, name: &AliasName, target: &KeyRef) -> CoreResult<()> {
        self.store.get_alias(name).await?.ok_or(CoreError::AliasNotFound)?;
        let key = self.resolve(target).await?;
        check(key.state, Operation::UpdateAliasTarget)?;
        self.store.update_alias(name, &key.id).await.map_err(|e| match e {
            StoreError::NotFound => CoreError::AliasNotFound,
            other => other.into(),
        })
    }

    /// DeleteAlias: the key is unaffected.
    pub async fn delete_alias(&self, name: &AliasName) -> CoreResult<()> {
        self.store.delete_alias(name).await.map_err(|e| match e {
            StoreError::NotFound => CoreError::AliasNotFound,
            other => other.into(),
        })
    }

    /// ListAliases, or ListAliasesByKeyId when `key` is given.
    pub async fn list_aliases(&self, key: Option<&KeyRef>, window: Window) -> CoreResult<Listing<AliasRecord>> {
        let key = match key {
            Some(r) => Some(self.resolve(r).await?.id),
            None => None,
        };
        Ok(self.store.list_aliases(key.as_ref(), window).await?)
    }
}
