//! [`Cached`]: a store in front of another that answers key, alias and secret lookups from
//! memory.
//!
//! Every Encrypt, Decrypt and GenerateDataKey looks up a key (and often an alias) first, every
//! GetSecretValue a secret and its versions; served from the engine, those lookups are most of a
//! request's cost. Every change made through this process passes through the wrapper and
//! forgets its entry before the change is acknowledged.
//!
//! On a store other processes write too (nodes sharing PostgreSQL), their changes move the
//! store's lookup generation ([`Store::lookups_generation`]), and the whole cache is forgotten
//! whenever it moves. Each request's first round trip (the replay guard's nonce, or the instance
//! gateway's access generation) reads the generation as of that request's start, so a change
//! acknowledged by any node before a request was sent is seen by it; change notifications and a
//! poll keep the rest (background jobs) within a second.
//!
//! A lookup that raced a change must not put the old record back: every change bumps a
//! generation under the lock, and a lookup caches what it read only if no change happened
//! since it started.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use kms_types::{AliasName, KeyFilter, KeyId, KeyState, KeyVersionId, ResourceType, SecretName, SecretVersionId, Tag};

use crate::{
    AccessKeyRecord, AccessKind, AccessObjectRecord, AccessStore, AliasRecord, ClientKeyRecord, InstanceRecord,
    KeyRecord, Listing, SecretRecord, SecretVersionRecord, Store, StoreResult, VersionChange, VersionRecord,
    VersionUsage, Window,
};
use crate::{AccessKeyStore, InstanceStore, KeyStore, SecretStore};

/// Entries kept per kind; past this the table starts over (a bound on memory, not an LRU:
/// hot keys come back on their next lookup).
const MAX_ENTRIES: usize = 100_000;
/// Secrets carry their (sealed) versions, up to 10 × 30 KB each: a smaller bound.
const MAX_SECRET_ENTRIES: usize = 1_000;

#[derive(Default)]
struct Tables {
    generation: u64,
    /// The store's lookup generation the entries were read under (shared stores).
    store_generation: Option<i64>,
    keys: HashMap<KeyId, KeyRecord>,
    aliases: HashMap<AliasName, AliasRecord>,
    /// Secrets and their versions (values sealed, as stored): GetSecretValue reads both.
    secrets: HashMap<SecretName, SecretRecord>,
    secret_versions: HashMap<SecretName, Vec<SecretVersionRecord>>,
}

/// `inner` with key and alias lookups served from memory. See the module doc for when this
/// is correct.
pub struct Cached<S> {
    inner: S,
    tables: Mutex<Tables>,
}

impl<S: Store> Cached<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, tables: Mutex::new(Tables::default()) }
    }

    fn generation(&self) -> u64 {
        self.tables.lock().map(|t| t.generation).unwrap_or(u64::MAX)
    }

    /// A lookup served from the table `pick` chooses, else by `fetch` (which runs only on a
    /// miss) and remembered unless a change happened meanwhile.
    async fn read_through<K, V>(
        &self,
        pick: fn(&mut Tables) -> &mut HashMap<K, V>,
        max: usize,
        key: &K,
        fetch: impl Future<Output = StoreResult<Option<V>>>,
    ) -> StoreResult<Option<V>>
    where
        K: std::hash::Hash + Eq + Clone,
        V: Clone,
    {
        let store_generation = self.inner.lookups_generation();
        let hit = self.tables.lock().ok().and_then(|mut t| {
            if t.store_generation != store_generation {
                // Another node changed something: nothing held may be served any more.
                t.generation = t.generation.wrapping_add(1);
                t.store_generation = store_generation;
                t.keys.clear();
                t.aliases.clear();
                t.secrets.clear();
                t.secret_versions.clear();
                return None;
            }
            pick(&mut t).get(key).cloned()
        });
        if let Some(hit) = hit {
            return Ok(Some(hit));
        }
        let started = self.generation();
        let found = fetch.await?;
        if let (Some(record), Ok(mut t)) = (&found, self.tables.lock())
            && t.generation == started
        {
            let table = pick(&mut t);
            if table.len() >= max {
                table.clear();
            }
            table.insert(key.clone(), record.clone());
        }
        Ok(found)
    }

    fn forget_secret(&self, name: &SecretName) {
        self.changed(|t| {
            t.secrets.remove(name);
            t.secret_versions.remove(name);
        });
    }

    /// Forgets what `change` names; every change goes through here after it is stored.
    fn changed(&self, change: impl FnOnce(&mut Tables)) {
        // A poisoned lock is never served from again (lookups fall through to the store), so
        // there is nothing to forget in it.
        if let Ok(mut t) = self.tables.lock() {
            t.generation = t.generation.wrapping_add(1);
            change(&mut t);
        }
    }
}

#[async_trait]
impl<S: Store> Store for Cached<S> {
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn get_meta(&self, name: &str) -> StoreResult<Option<String>> {
        self.inner.get_meta(name).await
    }
    async fn init_meta(&self, name: &str, value: &str) -> StoreResult<String> {
        self.inner.init_meta(name, value).await
    }

    async fn put_resource_policy(&self, resource: ResourceType, id: &str, policy: &str) -> StoreResult<()> {
        self.inner.put_resource_policy(resource, id, policy).await
    }
    async fn get_resource_policy(&self, resource: ResourceType, id: &str) -> StoreResult<Option<String>> {
        self.inner.get_resource_policy(resource, id).await
    }
    async fn count_resource_policies(&self) -> StoreResult<u64> {
        self.inner.count_resource_policies().await
    }

    async fn put_tags(&self, resource: ResourceType, id: &str, tags: &[Tag], max: usize) -> StoreResult<()> {
        self.inner.put_tags(resource, id, tags, max).await
    }
    async fn remove_tags(&self, resource: ResourceType, id: &str, keys: Option<&[String]>) -> StoreResult<()> {
        self.inner.remove_tags(resource, id, keys).await
    }
    async fn list_tags(&self, resource: ResourceType, id: &str) -> StoreResult<Vec<Tag>> {
        self.inner.list_tags(resource, id).await
    }
    async fn list_tag_rows(
        &self,
        resource: ResourceType,
        ids: Option<&[String]>,
        filter: &[(String, Option<String>)],
        after: Option<&(String, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(String, Tag)>> {
        self.inner.list_tag_rows(resource, ids, filter, after, limit).await
    }
    async fn record_nonce(&self, access_key_id: &str, nonce: &str, now: i64, forget_after: i64) -> StoreResult<bool> {
        self.inner.record_nonce(access_key_id, nonce, now, forget_after).await
    }
    async fn purge_nonces(&self, now: i64) -> StoreResult<u64> {
        self.inner.purge_nonces(now).await
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
    fn lookups_generation(&self) -> Option<i64> {
        self.inner.lookups_generation()
    }
}

#[async_trait]
impl<S: Store> KeyStore for Cached<S> {
    async fn insert_key(&self, key: &KeyRecord, first_version: &VersionRecord, tags: &[Tag]) -> StoreResult<()> {
        let result = self.inner.insert_key(key, first_version, tags).await;
        self.changed(|t| {
            t.keys.remove(&key.id);
        });
        result
    }

    async fn get_key(&self, id: &KeyId) -> StoreResult<Option<KeyRecord>> {
        self.read_through(|t| &mut t.keys, MAX_ENTRIES, id, self.inner.get_key(id)).await
    }

    async fn get_version(&self, id: &KeyVersionId) -> StoreResult<Option<VersionRecord>> {
        self.inner.get_version(id).await
    }

    async fn update_key(&self, key: &KeyRecord) -> StoreResult<KeyRecord> {
        let result = self.inner.update_key(key).await;
        self.changed(|t| {
            t.keys.remove(&key.id);
        });
        result
    }

    async fn add_version(&self, key: &KeyRecord, version: &VersionRecord) -> StoreResult<KeyRecord> {
        let result = self.inner.add_version(key, version).await;
        self.changed(|t| {
            t.keys.remove(&key.id);
        });
        result
    }

    async fn set_key_material(
        &self,
        key: &KeyRecord,
        version: &KeyVersionId,
        material: &[u8],
    ) -> StoreResult<KeyRecord> {
        let result = self.inner.set_key_material(key, version, material).await;
        self.changed(|t| {
            t.keys.remove(&key.id);
        });
        result
    }

    async fn keys_with_expired_material(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        self.inner.keys_with_expired_material(now, limit).await
    }

    async fn add_version_usage(&self, usage: &[(KeyVersionId, VersionUsage)]) -> StoreResult<()> {
        self.inner.add_version_usage(usage).await
    }

    async fn list_versions(&self, key: &KeyId, window: Window) -> StoreResult<Listing<VersionRecord>> {
        self.inner.list_versions(key, window).await
    }

    async fn keys_due_for_deletion(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        self.inner.keys_due_for_deletion(now, limit).await
    }

    async fn keys_due_for_rotation(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        self.inner.keys_due_for_rotation(now, limit).await
    }

    async fn destroy_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let result = self.inner.destroy_key(key).await;
        // Its aliases go with it.
        self.changed(|t| {
            t.keys.remove(&key.id);
            t.aliases.retain(|_, a| a.key_id != key.id);
        });
        result
    }

    async fn count_keys_by_state(&self) -> StoreResult<Vec<(KeyState, u64)>> {
        self.inner.count_keys_by_state().await
    }

    async fn list_keys(&self, filter: &KeyFilter, window: Window) -> StoreResult<Listing<KeyRecord>> {
        self.inner.list_keys(filter, window).await
    }

    async fn insert_alias(&self, alias: &AliasRecord) -> StoreResult<()> {
        let result = self.inner.insert_alias(alias).await;
        self.changed(|t| {
            t.aliases.remove(&alias.name);
        });
        result
    }

    async fn get_alias(&self, name: &AliasName) -> StoreResult<Option<AliasRecord>> {
        self.read_through(|t| &mut t.aliases, MAX_ENTRIES, name, self.inner.get_alias(name)).await
    }

    async fn update_alias(&self, name: &AliasName, key: &KeyId) -> StoreResult<()> {
        let result = self.inner.update_alias(name, key).await;
        self.changed(|t| {
            t.aliases.remove(name);
        });
        result
    }

    async fn delete_alias(&self, name: &AliasName) -> StoreResult<()> {
        let result = self.inner.delete_alias(name).await;
        self.changed(|t| {
            t.aliases.remove(name);
        });
        result
    }

    async fn list_aliases(&self, key: Option<&KeyId>, window: Window) -> StoreResult<Listing<AliasRecord>> {
        self.inner.list_aliases(key, window).await
    }
}

#[async_trait]
impl<S: Store> SecretStore for Cached<S> {
    async fn insert_secret(&self, secret: &SecretRecord, first: &SecretVersionRecord, tags: &[Tag]) -> StoreResult<()> {
        let result = self.inner.insert_secret(secret, first, tags).await;
        self.forget_secret(&secret.name);
        result
    }

    async fn get_secret(&self, name: &SecretName) -> StoreResult<Option<SecretRecord>> {
        self.read_through(|t| &mut t.secrets, MAX_SECRET_ENTRIES, name, self.inner.get_secret(name)).await
    }

    async fn get_secret_version(
        &self,
        name: &SecretName,
        version: &SecretVersionId,
    ) -> StoreResult<Option<SecretVersionRecord>> {
        self.inner.get_secret_version(name, version).await
    }

    async fn list_secret_versions(&self, name: &SecretName) -> StoreResult<Vec<SecretVersionRecord>> {
        let fetch = async { self.inner.list_secret_versions(name).await.map(Some) };
        Ok(self.read_through(|t| &mut t.secret_versions, MAX_SECRET_ENTRIES, name, fetch).await?.unwrap_or_default())
    }

    async fn change_secret(&self, secret: &SecretRecord, change: VersionChange<'_>) -> StoreResult<SecretRecord> {
        let result = self.inner.change_secret(secret, change).await;
        self.forget_secret(&secret.name);
        result
    }

    async fn purge_secret(&self, secret: &SecretRecord) -> StoreResult<()> {
        let result = self.inner.purge_secret(secret).await;
        self.forget_secret(&secret.name);
        result
    }

    async fn list_secrets(&self, window: Window) -> StoreResult<Listing<SecretRecord>> {
        self.inner.list_secrets(window).await
    }

    async fn secrets_due_for_purge(&self, now: i64, limit: u32) -> StoreResult<Vec<SecretRecord>> {
        self.inner.secrets_due_for_purge(now, limit).await
    }
}

#[async_trait]
impl<S: Store> InstanceStore for Cached<S> {
    async fn insert_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        self.inner.insert_instance(instance).await
    }

    async fn get_instance(&self, id: &str) -> StoreResult<Option<InstanceRecord>> {
        self.inner.get_instance(id).await
    }

    async fn update_instance(&self, instance: &InstanceRecord) -> StoreResult<InstanceRecord> {
        self.inner.update_instance(instance).await
    }

    async fn list_instances(&self, window: Window) -> StoreResult<Listing<InstanceRecord>> {
        self.inner.list_instances(window).await
    }

    async fn count_instance_resources(&self, id: &str) -> StoreResult<(u64, u64)> {
        self.inner.count_instance_resources(id).await
    }
}

#[async_trait]
impl<S: Store> AccessKeyStore for Cached<S> {
    async fn insert_access_key(&self, key: &AccessKeyRecord) -> StoreResult<()> {
        self.inner.insert_access_key(key).await
    }

    async fn list_access_keys(&self) -> StoreResult<Vec<AccessKeyRecord>> {
        self.inner.list_access_keys().await
    }

    async fn set_access_key_enabled(&self, id: &str, enabled: bool) -> StoreResult<()> {
        self.inner.set_access_key_enabled(id, enabled).await
    }

    async fn set_access_key_policy(&self, id: &str, policy: Option<&str>) -> StoreResult<()> {
        self.inner.set_access_key_policy(id, policy).await
    }

    async fn delete_access_key(&self, id: &str) -> StoreResult<()> {
        self.inner.delete_access_key(id).await
    }
}

/// What a root-key rotation reads and replaces is never cached (versions and access keys
/// are read through, meta is not cached).
#[async_trait]
impl<S: Store> crate::RewrapStore for Cached<S> {
    async fn wrapped_rows(
        &self,
        table: crate::WrappedTable,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<crate::WrappedRow>> {
        self.inner.wrapped_rows(table, after, limit).await
    }

    async fn replace_wrapped(&self, row: &crate::WrappedRow, new: &[u8]) -> StoreResult<bool> {
        self.inner.replace_wrapped(row, new).await
    }

    async fn replace_meta(&self, name: &str, old: Option<&str>, new: Option<&str>) -> StoreResult<bool> {
        self.inner.replace_meta(name, old, new).await
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use kms_types::KeyState;

    use super::*;
    use crate::conformance::key;
    use crate::sqlite::SqliteStore;

    /// The whole storage conformance suite holds through the cache: every read after a change
    /// (keys, aliases, secrets and their versions) sees the change.
    #[tokio::test]
    async fn the_conformance_suite_holds_through_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = Cached::new(SqliteStore::open(&dir.path().join("kms.db")).unwrap());
        crate::conformance::run(&store).await;
    }

    /// Each change made through the cache is seen by the next lookup, even when the old record
    /// was cached just before.
    #[tokio::test]
    async fn lookups_after_a_change_see_the_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Cached::new(SqliteStore::open(&dir.path().join("kms.db")).unwrap());
        let (k, v) = key(1, KeyState::Enabled);
        store.insert_key(&k, &v, &[]).await.unwrap();
        assert_eq!(store.get_key(&k.id).await.unwrap().unwrap().state, KeyState::Enabled);

        let disabled = store.update_key(&KeyRecord { state: KeyState::Disabled, ..k.clone() }).await.unwrap();
        assert_eq!(store.get_key(&k.id).await.unwrap(), Some(disabled.clone()));

        let (_, v2) = key(2, KeyState::Enabled);
        let v2 = VersionRecord { key_id: k.id.clone(), ..v2 };
        let rotated = store.add_version(&KeyRecord { primary_version: v2.id.clone(), ..disabled }, &v2).await.unwrap();
        assert_eq!(store.get_key(&k.id).await.unwrap().unwrap().primary_version, v2.id);

        let name = AliasName::parse("alias/cached").unwrap();
        let (other, ov) = key(3, KeyState::Enabled);
        store.insert_key(&other, &ov, &[]).await.unwrap();
        store.insert_alias(&AliasRecord { name: name.clone(), key_id: k.id.clone(), created_at: 1 }).await.unwrap();
        assert_eq!(store.get_alias(&name).await.unwrap().unwrap().key_id, k.id);
        store.update_alias(&name, &other.id).await.unwrap();
        assert_eq!(store.get_alias(&name).await.unwrap().unwrap().key_id, other.id);
        store.delete_alias(&name).await.unwrap();
        assert_eq!(store.get_alias(&name).await.unwrap(), None);

        // Destroying a key forgets it and its aliases.
        store.insert_alias(&AliasRecord { name: name.clone(), key_id: k.id.clone(), created_at: 1 }).await.unwrap();
        assert!(store.get_alias(&name).await.unwrap().is_some());
        store.destroy_key(&rotated).await.unwrap();
        assert_eq!(store.get_key(&k.id).await.unwrap(), None);
        assert_eq!(store.get_alias(&name).await.unwrap(), None);
    }
}

/// Application access is read per request, uncached: a change made through one node holds on
/// every node at once.
#[async_trait]
impl<S: Store> AccessStore for Cached<S> {
    async fn insert_access_object(&self, o: &AccessObjectRecord) -> StoreResult<()> {
        self.inner.insert_access_object(o).await
    }

    async fn get_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<Option<AccessObjectRecord>> {
        self.inner.get_access_object(kind, name).await
    }

    async fn update_access_object(&self, o: &AccessObjectRecord) -> StoreResult<AccessObjectRecord> {
        self.inner.update_access_object(o).await
    }

    async fn delete_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<()> {
        self.inner.delete_access_object(kind, name).await
    }

    async fn list_access_objects(&self, kind: AccessKind, window: Window) -> StoreResult<Listing<AccessObjectRecord>> {
        self.inner.list_access_objects(kind, window).await
    }

    async fn insert_client_key(&self, k: &ClientKeyRecord) -> StoreResult<()> {
        self.inner.insert_client_key(k).await
    }

    async fn get_client_key(&self, id: &str) -> StoreResult<Option<ClientKeyRecord>> {
        self.inner.get_client_key(id).await
    }

    async fn list_client_keys(&self, aap_name: Option<&str>) -> StoreResult<Vec<ClientKeyRecord>> {
        self.inner.list_client_keys(aap_name).await
    }

    async fn delete_client_key(&self, id: &str) -> StoreResult<()> {
        self.inner.delete_client_key(id).await
    }

    async fn access_generation(&self) -> StoreResult<i64> {
        self.inner.access_generation().await
    }
}

/// Managed data keys are read uncached: a version added through one node is there on every node.
#[async_trait]
impl<S: Store> crate::DataKeyStore for Cached<S> {
    async fn insert_data_key_version(&self, v: &crate::DataKeyVersionRecord) -> StoreResult<()> {
        self.inner.insert_data_key_version(v).await
    }

    async fn get_data_key_version(
        &self,
        name: &str,
        version_id: &str,
    ) -> StoreResult<Option<crate::DataKeyVersionRecord>> {
        self.inner.get_data_key_version(name, version_id).await
    }

    async fn list_data_key_versions(
        &self,
        name: &str,
        window: Window,
    ) -> StoreResult<Listing<crate::DataKeyVersionRecord>> {
        self.inner.list_data_key_versions(name, window).await
    }
}
