//! The storage seam: plain records, the domain-level role traits every engine implements —
//! [`KeyStore`], [`SecretStore`], [`InstanceStore`], [`AccessKeyStore`], [`AccessStore`],
//! [`DataKeyStore`], [`RewrapStore`], gathered with what they share (settings, tags, resource
//! policies, the shared nonce record) in [`Store`] — and the engines themselves, SQLite and
//! PostgreSQL, each keeping one file per role.
//!
//! Records hold key material only as opaque wrapped bytes, so no engine can leak plaintext.
//! Every write method returns only after the write is durable (fsync'd): the server
//! acknowledges a request once its store call returns.
//!
//! [`conformance`] is the one suite every engine must pass.
#![forbid(unsafe_code)]

mod access;
pub mod cache;
pub mod conformance;
mod data_keys;
#[cfg(feature = "postgres")]
pub mod postgres;
mod records;
mod rewrap;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod timed;

pub use access::{AccessKind, AccessObjectRecord, AccessStore, ClientKeyRecord};
pub use data_keys::{DataKeyStore, DataKeyVersionRecord};
pub use records::{
    AccessKeyRecord, AliasRecord, InstanceRecord, KeyRecord, SecretRecord, SecretVersionRecord, VersionChange,
    VersionRecord, VersionUsage,
};
pub use rewrap::{RewrapStore, WrappedRow, WrappedTable};

use async_trait::async_trait;
use kms_types::{AliasName, KeyFilter, KeyId, KeyState, KeyVersionId, ResourceType, SecretName, SecretVersionId, Tag};

/// What can go wrong in a store. Carries no record content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
    /// A unique name (alias, access key id, key id) is taken.
    #[error("already exists")]
    Conflict,
    /// The write would take a resource past a limit (tags per resource).
    #[error("limit exceeded")]
    LimitExceeded,
    /// The record cannot go while others depend on it (an AAP holding ClientKeys).
    #[error("in use")]
    InUse,
    /// The engine could not be reached or failed; the write may not have happened.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data does not decode into a record.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which quota of a KMS instance an insert uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceQuota {
    Keys,
    Secrets,
}

impl InstanceQuota {
    /// The `instances` column holding the quota and the table counted against it.
    #[allow(dead_code)]
    pub(crate) fn column_and_table(self) -> (&'static str, &'static str) {
        match self {
            InstanceQuota::Keys => ("key_num", "keys"),
            InstanceQuota::Secrets => ("secret_num", "secrets"),
        }
    }
}

/// One page of a listing plus the total number of matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Which rows of a listing to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: u64,
    pub limit: u32,
}

/// A whole store: every role, and what the roles share. Callers hold a `dyn Store`; an
/// engine, or a wrapper such as [`cache::Cached`], implements each role in its own block.
#[async_trait]
pub trait Store:
    KeyStore
    + SecretStore
    + InstanceStore
    + AccessKeyStore
    + AccessStore
    + DataKeyStore
    + RewrapStore
    + Send
    + Sync
    + 'static
{
    /// Whether the engine answers at all: the cheapest round trip it has (readiness checks).
    async fn ping(&self) -> StoreResult<()>;

    /// A deployment-wide setting, such as the account id or the root-key check value.
    async fn get_meta(&self, name: &str) -> StoreResult<Option<String>>;
    /// Sets `name` unless it is set; returns the value now stored (first writer wins).
    async fn init_meta(&self, name: &str, value: &str) -> StoreResult<String>;

    /// Sets (or replaces) a key's or secret's resource policy document.
    async fn put_resource_policy(&self, resource: ResourceType, id: &str, policy: &str) -> StoreResult<()>;
    async fn get_resource_policy(&self, resource: ResourceType, id: &str) -> StoreResult<Option<String>>;
    /// How many resource policies exist (nodes skip resource-policy checks while there are none).
    async fn count_resource_policies(&self) -> StoreResult<u64>;

    /// Adds or overwrites tags on a resource, atomically; [`StoreError::LimitExceeded`] (and
    /// nothing written) when the resource would carry more than `max` tags.
    async fn put_tags(&self, resource: ResourceType, id: &str, tags: &[Tag], max: usize) -> StoreResult<()>;
    /// Removes the tags with these keys (unknown keys are ignored), or every tag for `None`.
    async fn remove_tags(&self, resource: ResourceType, id: &str, keys: Option<&[String]>) -> StoreResult<()>;
    /// A resource's tags in key order.
    async fn list_tags(&self, resource: ResourceType, id: &str) -> StoreResult<Vec<Tag>>;
    /// `(resource id, tag)` rows ordered by resource id then tag key, strictly after `after`:
    /// of the given resources (all when `None`), and matching one of `filter` (a key, and the
    /// value when given) when it is not empty.
    async fn list_tag_rows(
        &self,
        resource: ResourceType,
        ids: Option<&[String]>,
        filter: &[(String, Option<String>)],
        after: Option<&(String, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(String, Tag)>>;

    /// Records a request nonce of an access key until `forget_after` (Unix seconds); `false`
    /// when it is already recorded and not yet forgotten — a replay, possibly to another node.
    async fn record_nonce(&self, access_key_id: &str, nonce: &str, now: i64, forget_after: i64) -> StoreResult<bool>;
    /// Drops nonces forgotten before `now`.
    async fn purge_nonces(&self, now: i64) -> StoreResult<u64>;
    /// Whether several kmsd processes can share this store (and so must share replay
    /// protection through it).
    fn is_shared(&self) -> bool;
    /// On a shared store: the newest generation of its lookup tables (keys, aliases, secrets
    /// and secret versions) this process has seen — moved by every change to them, through any
    /// node, and learnt from the replay-guard round trip every request makes, from the
    /// database's change notifications, and from a poll. A cache in front of the store forgets
    /// everything whenever it moves. `None`: no other process writes this store.
    fn lookups_generation(&self) -> Option<i64> {
        None
    }
}

/// Keys, their versions and aliases: the tables every cryptographic request reads.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Inserts a key together with its first version and tags, atomically. A key in a KMS
    /// instance (`dkms_instance_id`) is counted against the instance's `key_num` in the same
    /// write: [`StoreError::LimitExceeded`] (nothing written) when the instance is full,
    /// [`StoreError::NotFound`] when there is no such instance or it is released (so nothing
    /// lands in an instance after its release, whose purge follows it).
    async fn insert_key(&self, key: &KeyRecord, first_version: &VersionRecord, tags: &[Tag]) -> StoreResult<()>;

    async fn get_key(&self, id: &KeyId) -> StoreResult<Option<KeyRecord>>;

    async fn get_version(&self, id: &KeyVersionId) -> StoreResult<Option<VersionRecord>>;

    /// Compare-and-set: stores `key` if the stored revision is still `key.revision`, and
    /// returns it as stored (revision + 1). [`StoreError::Conflict`] when another change won,
    /// [`StoreError::NotFound`] when the key is gone.
    async fn update_key(&self, key: &KeyRecord) -> StoreResult<KeyRecord>;

    /// [`KeyStore::update_key`] and a new version, atomically (rotation: the key names the new
    /// version as primary).
    async fn add_version(&self, key: &KeyRecord, version: &VersionRecord) -> StoreResult<KeyRecord>;

    /// [`KeyStore::update_key`] and a version's material, atomically: imported material arriving
    /// (`EXTERNAL` keys) or leaving (`material` empty). The engine must not leave removed
    /// material readable in its files.
    async fn set_key_material(
        &self,
        key: &KeyRecord,
        version: &KeyVersionId,
        material: &[u8],
    ) -> StoreResult<KeyRecord>;

    /// Keys whose imported material expired at or before `now`.
    async fn keys_with_expired_material(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>>;

    /// Adds counted uses to versions, in one durable write; versions that no longer exist
    /// are skipped.
    async fn add_version_usage(&self, usage: &[(KeyVersionId, VersionUsage)]) -> StoreResult<()>;

    /// A key's versions, newest first.
    async fn list_versions(&self, key: &KeyId, window: Window) -> StoreResult<Listing<VersionRecord>>;

    /// `PendingDeletion` keys whose window ended at or before `now`.
    async fn keys_due_for_deletion(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>>;

    /// `Enabled` keys whose next automatic rotation is at or before `now` (rotation pauses
    /// while a key is disabled or pending deletion).
    async fn keys_due_for_rotation(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>>;

    /// Compare-and-set removal of a key with its versions and aliases. The engine must not
    /// leave the destroyed material readable in its files.
    async fn destroy_key(&self, key: &KeyRecord) -> StoreResult<()>;

    /// Keys matching `filter`, oldest first.
    async fn list_keys(&self, filter: &KeyFilter, window: Window) -> StoreResult<Listing<KeyRecord>>;

    /// How many keys are in each state, one entry per [`KeyState::ALL`] in that order (0 when
    /// none). The engine keeps these counts in the same transaction as every insert, state
    /// change and removal of a key, whoever makes it, so that this is one small read however
    /// many keys there are: the metrics ask on every scrape, and a count over the keys table
    /// would be a full scan each time.
    async fn count_keys_by_state(&self) -> StoreResult<Vec<(KeyState, u64)>>;

    /// Fails with [`StoreError::Conflict`] when the name is taken.
    async fn insert_alias(&self, alias: &AliasRecord) -> StoreResult<()>;

    async fn get_alias(&self, name: &AliasName) -> StoreResult<Option<AliasRecord>>;

    /// Re-points an existing alias; [`StoreError::NotFound`] when there is none.
    async fn update_alias(&self, name: &AliasName, key: &KeyId) -> StoreResult<()>;

    async fn delete_alias(&self, name: &AliasName) -> StoreResult<()>;

    /// Aliases in name order, all of them or those of one key.
    async fn list_aliases(&self, key: Option<&KeyId>, window: Window) -> StoreResult<Listing<AliasRecord>>;
}

/// Secrets with their versions and stages (Secrets Manager).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Inserts a secret with its first version (and that version's stages) and tags,
    /// atomically; [`StoreError::Conflict`] when the name is taken. A secret in a KMS instance is
    /// counted against its `secret_num` in the same write, as [`KeyStore::insert_key`] does.
    async fn insert_secret(&self, secret: &SecretRecord, first: &SecretVersionRecord, tags: &[Tag]) -> StoreResult<()>;

    async fn get_secret(&self, name: &SecretName) -> StoreResult<Option<SecretRecord>>;

    /// One version with its stages.
    async fn get_secret_version(
        &self,
        name: &SecretName,
        version: &SecretVersionId,
    ) -> StoreResult<Option<SecretVersionRecord>>;

    /// Every version of a secret with its stages, newest first.
    async fn list_secret_versions(&self, name: &SecretName) -> StoreResult<Vec<SecretVersionRecord>>;

    /// Applies `change` if the stored revision is still `secret.revision`, storing `secret`'s
    /// fields with it; returns the secret as stored (revision + 1). [`StoreError::Conflict`] when
    /// another change won or the added version id exists, [`StoreError::NotFound`] when the
    /// secret is gone.
    async fn change_secret(&self, secret: &SecretRecord, change: VersionChange<'_>) -> StoreResult<SecretRecord>;

    /// Compare-and-set removal of a secret with its versions, stages and tags; sealed values are
    /// overwritten before they are deleted.
    async fn purge_secret(&self, secret: &SecretRecord) -> StoreResult<()>;

    /// Secrets in name order.
    async fn list_secrets(&self, window: Window) -> StoreResult<Listing<SecretRecord>>;

    /// Secrets whose recovery window ended at or before `now`.
    async fn secrets_due_for_purge(&self, now: i64, limit: u32) -> StoreResult<Vec<SecretRecord>>;
}

/// KMS instances, and what of their quota their keys and secrets use.
#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// Inserts a KMS instance; [`StoreError::Conflict`] when the id exists.
    async fn insert_instance(&self, instance: &InstanceRecord) -> StoreResult<()>;

    /// An instance by id, released ones included (callers decide what released means).
    async fn get_instance(&self, id: &str) -> StoreResult<Option<InstanceRecord>>;

    /// Compare-and-set: stores `instance` if the stored revision is still `instance.revision`
    /// and returns it as stored (revision + 1); [`StoreError::Conflict`] when another change
    /// won, [`StoreError::NotFound`] when there is no such instance.
    async fn update_instance(&self, instance: &InstanceRecord) -> StoreResult<InstanceRecord>;

    /// Instances not released, oldest first (then by id).
    async fn list_instances(&self, window: Window) -> StoreResult<Listing<InstanceRecord>>;

    /// How many keys and secrets of an instance the store holds (all states, until purged):
    /// its used key and secret quota.
    async fn count_instance_resources(&self, id: &str) -> StoreResult<(u64, u64)>;
}

/// The access keys requests are signed with, and their identity policies.
#[async_trait]
pub trait AccessKeyStore: Send + Sync {
    /// Inserts an access key; [`StoreError::Conflict`] when the id exists.
    async fn insert_access_key(&self, key: &AccessKeyRecord) -> StoreResult<()>;

    async fn list_access_keys(&self) -> StoreResult<Vec<AccessKeyRecord>>;

    /// Enables or disables an access key; [`StoreError::NotFound`] when there is none.
    async fn set_access_key_enabled(&self, id: &str, enabled: bool) -> StoreResult<()>;

    /// Replaces an access key's policy (`None`: unrestricted); [`StoreError::NotFound`] when
    /// there is no such key.
    async fn set_access_key_policy(&self, id: &str, policy: Option<&str>) -> StoreResult<()>;

    /// Deletes an access key; [`StoreError::NotFound`] when there is none.
    async fn delete_access_key(&self, id: &str) -> StoreResult<()>;
}

/// Stored `(state, count)` rows as one entry per [`KeyState::ALL`], in that order; states
/// without a row have none.
pub(crate) fn counts_by_state(rows: impl IntoIterator<Item = (String, i64)>) -> StoreResult<Vec<(KeyState, u64)>> {
    let mut counts: Vec<(KeyState, u64)> = KeyState::ALL.iter().map(|s| (*s, 0)).collect();
    for (state, n) in rows {
        let state: KeyState =
            state.parse().map_err(|_| StoreError::Corrupt(format!("key count of state {state:?}")))?;
        let n = u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} keys {state}")))?;
        if let Some(entry) = counts.iter_mut().find(|(s, _)| *s == state) {
            entry.1 += n;
        }
    }
    Ok(counts)
}
