//! [`Timed`]: a store in front of another whose every call answers within a time limit.
//!
//! A networked engine can stop answering without closing its connections: a frozen database
//! server, a half-open TCP connection, a lock held forever. Without a limit every request would
//! wait with it while the process looks alive. With one, a call that has no answer in time is
//! [`StoreError::Unavailable`] — the same as a refused connection, and like it, the write may or
//! may not have happened — so clients get `ServiceUnavailableTemporary` in seconds and retry.
//!
//! The limit is on the client side (a timer around the call's future): a frozen server never
//! answers a server-side `statement_timeout` either.
//!
//! A call given up on is dropped mid-way, maybe mid-statement. Engines learn that through
//! [`abandoned`] while the call's future is being dropped, and must not hand the connection to
//! the next call (PostgreSQL: [`crate::postgres`] takes it out of its pool).
//!
//! A cache in front of it must not rely on its own invalidation alone: a write that times out
//! may still land later, after the cache has forgotten the old record and read it again. The
//! PostgreSQL lookup cache is safe for that reason only: a write that lands late still moves the
//! database's lookup generation, and the cache forgets everything when it sees that move.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use kms_types::{AliasName, KeyFilter, KeyId, KeyState, KeyVersionId, ResourceType, SecretName, SecretVersionId, Tag};

use crate::{
    AccessKeyRecord, AccessKind, AccessObjectRecord, AccessStore, AliasRecord, ClientKeyRecord, InstanceRecord,
    KeyRecord, Listing, SecretRecord, SecretVersionRecord, Store, StoreError, StoreResult, VersionChange,
    VersionRecord, VersionUsage, Window,
};
use crate::{AccessKeyStore, InstanceStore, KeyStore, SecretStore};

tokio::task_local! {
    /// Set for the duration of a [`Timed`] call: whether the call has been given up on.
    static ABANDONED: Arc<AtomicBool>;
}

/// Whether the store call running on this task was given up on (its time ran out, or whoever
/// awaited it went away) — true only while its future is being dropped unfinished. Engines
/// ask this when they release a connection.
pub fn abandoned() -> bool {
    ABANDONED.try_with(|a| a.load(Ordering::Acquire)).unwrap_or(false)
}

/// Marks the call abandoned if it is dropped before it finished.
struct Unfinished(Option<Arc<AtomicBool>>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            flag.store(true, Ordering::Release);
        }
    }
}

/// `inner`, with every call limited to `limit`.
pub struct Timed<S> {
    inner: S,
    limit: Duration,
}

impl<S: Store> Timed<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Runs one call of the inner store within the limit.
    async fn run<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        limited(self.limit, call).await
    }
}

/// `call` limited to `limit`, marked [`abandoned`] when given up on (what [`Timed`] does to each
/// call; also for work an engine runs on its own task, such as a batch of many callers).
pub(crate) async fn limited<T>(limit: Duration, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let flag = Arc::new(AtomicBool::new(false));
    // Declared before the guard, so dropped after it: an unfinished call's future is
    // dropped with the flag already set (and, through the task-local, visible to it).
    let call = std::pin::pin!(ABANDONED.scope(flag.clone(), call));
    let mut unfinished = Unfinished(Some(flag));
    match tokio::time::timeout(limit, call).await {
        Ok(result) => {
            unfinished.0 = None;
            result
        }
        Err(_) => Err(StoreError::Unavailable(format!("no answer from the store within {limit:?}"))),
    }
}

#[async_trait]
impl<S: Store> Store for Timed<S> {
    async fn ping(&self) -> StoreResult<()> {
        self.run(self.inner.ping()).await
    }
    async fn get_meta(&self, name: &str) -> StoreResult<Option<String>> {
        self.run(self.inner.get_meta(name)).await
    }
    async fn init_meta(&self, name: &str, value: &str) -> StoreResult<String> {
        self.run(self.inner.init_meta(name, value)).await
    }
    async fn put_resource_policy(&self, resource: ResourceType, id: &str, policy: &str) -> StoreResult<()> {
        self.run(self.inner.put_resource_policy(resource, id, policy)).await
    }
    async fn get_resource_policy(&self, resource: ResourceType, id: &str) -> StoreResult<Option<String>> {
        self.run(self.inner.get_resource_policy(resource, id)).await
    }
    async fn count_resource_policies(&self) -> StoreResult<u64> {
        self.run(self.inner.count_resource_policies()).await
    }
    async fn put_tags(&self, resource: ResourceType, id: &str, tags: &[Tag], max: usize) -> StoreResult<()> {
        self.run(self.inner.put_tags(resource, id, tags, max)).await
    }
    async fn remove_tags(&self, resource: ResourceType, id: &str, keys: Option<&[String]>) -> StoreResult<()> {
        self.run(self.inner.remove_tags(resource, id, keys)).await
    }
    async fn list_tags(&self, resource: ResourceType, id: &str) -> StoreResult<Vec<Tag>> {
        self.run(self.inner.list_tags(resource, id)).await
    }
    async fn list_tag_rows(
        &self,
        resource: ResourceType,
        ids: Option<&[String]>,
        filter: &[(String, Option<String>)],
        after: Option<&(String, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(String, Tag)>> {
        self.run(self.inner.list_tag_rows(resource, ids, filter, after, limit)).await
    }
    async fn record_nonce(&self, access_key_id: &str, nonce: &str, now: i64, forget_after: i64) -> StoreResult<bool> {
        self.run(self.inner.record_nonce(access_key_id, nonce, now, forget_after)).await
    }
    async fn purge_nonces(&self, now: i64) -> StoreResult<u64> {
        self.run(self.inner.purge_nonces(now)).await
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
    fn lookups_generation(&self) -> Option<i64> {
        self.inner.lookups_generation()
    }
}

#[async_trait]
impl<S: Store> KeyStore for Timed<S> {
    async fn insert_key(&self, key: &KeyRecord, first_version: &VersionRecord, tags: &[Tag]) -> StoreResult<()> {
        self.run(self.inner.insert_key(key, first_version, tags)).await
    }

    async fn get_key(&self, id: &KeyId) -> StoreResult<Option<KeyRecord>> {
        self.run(self.inner.get_key(id)).await
    }

    async fn get_version(&self, id: &KeyVersionId) -> StoreResult<Option<VersionRecord>> {
        self.run(self.inner.get_version(id)).await
    }

    async fn update_key(&self, key: &KeyRecord) -> StoreResult<KeyRecord> {
        self.run(self.inner.update_key(key)).await
    }

    async fn add_version(&self, key: &KeyRecord, version: &VersionRecord) -> StoreResult<KeyRecord> {
        self.run(self.inner.add_version(key, version)).await
    }

    async fn set_key_material(
        &self,
        key: &KeyRecord,
        version: &KeyVersionId,
        material: &[u8],
    ) -> StoreResult<KeyRecord> {
        self.run(self.inner.set_key_material(key, version, material)).await
    }

    async fn keys_with_expired_material(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        self.run(self.inner.keys_with_expired_material(now, limit)).await
    }

    async fn count_keys_by_state(&self) -> StoreResult<Vec<(KeyState, u64)>> {
        self.run(self.inner.count_keys_by_state()).await
    }

    async fn add_version_usage(&self, usage: &[(KeyVersionId, VersionUsage)]) -> StoreResult<()> {
        self.run(self.inner.add_version_usage(usage)).await
    }

    async fn list_versions(&self, key: &KeyId, window: Window) -> StoreResult<Listing<VersionRecord>> {
        self.run(self.inner.list_versions(key, window)).await
    }

    async fn keys_due_for_deletion(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        self.run(self.inner.keys_due_for_deletion(now, limit)).await
    }

    async fn keys_due_for_rotation(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        self.run(self.inner.keys_due_for_rotation(now, limit)).await
    }

    async fn destroy_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.run(self.inner.destroy_key(key)).await
    }

    async fn list_keys(&self, filter: &KeyFilter, window: Window) -> StoreResult<Listing<KeyRecord>> {
        self.run(self.inner.list_keys(filter, window)).await
    }

    async fn insert_alias(&self, alias: &AliasRecord) -> StoreResult<()> {
        self.run(self.inner.insert_alias(alias)).await
    }

    async fn get_alias(&self, name: &AliasName) -> StoreResult<Option<AliasRecord>> {
        self.run(self.inner.get_alias(name)).await
    }

    async fn update_alias(&self, name: &AliasName, key: &KeyId) -> StoreResult<()> {
        self.run(self.inner.update_alias(name, key)).await
    }

    async fn delete_alias(&self, name: &AliasName) -> StoreResult<()> {
        self.run(self.inner.delete_alias(name)).await
    }

    async fn list_aliases(&self, key: Option<&KeyId>, window: Window) -> StoreResult<Listing<AliasRecord>> {
        self.run(self.inner.list_aliases(key, window)).await
    }
}

#[async_trait]
impl<S: Store> SecretStore for Timed<S> {
    async fn insert_secret(&self, secret: &SecretRecord, first: &SecretVersionRecord, tags: &[Tag]) -> StoreResult<()> {
        self.run(self.inner.insert_secret(secret, first, tags)).await
    }

    async fn get_secret(&self, name: &SecretName) -> StoreResult<Option<SecretRecord>> {
        self.run(self.inner.get_secret(name)).await
    }

    async fn get_secret_version(
        &self,
        name: &SecretName,
        version: &SecretVersionId,
    ) -> StoreResult<Option<SecretVersionRecord>> {
        self.run(self.inner.get_secret_version(name, version)).await
    }

    async fn list_secret_versions(&self, name: &SecretName) -> StoreResult<Vec<SecretVersionRecord>> {
        self.run(self.inner.list_secret_versions(name)).await
    }

    async fn change_secret(&self, secret: &SecretRecord, change: VersionChange<'_>) -> StoreResult<SecretRecord> {
        self.run(self.inner.change_secret(secret, change)).await
    }

    async fn purge_secret(&self, secret: &SecretRecord) -> StoreResult<()> {
        self.run(self.inner.purge_secret(secret)).await
    }

    async fn list_secrets(&self, window: Window) -> StoreResult<Listing<SecretRecord>> {
        self.run(self.inner.list_secrets(window)).await
    }

    async fn secrets_due_for_purge(&self, now: i64, limit: u32) -> StoreResult<Vec<SecretRecord>> {
        self.run(self.inner.secrets_due_for_purge(now, limit)).await
    }
}

#[async_trait]
impl<S: Store> InstanceStore for Timed<S> {
    async fn insert_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        self.run(self.inner.insert_instance(instance)).await
    }

    async fn get_instance(&self, id: &str) -> StoreResult<Option<InstanceRecord>> {
        self.run(self.inner.get_instance(id)).await
    }

    async fn update_instance(&self, instance: &InstanceRecord) -> StoreResult<InstanceRecord> {
        self.run(self.inner.update_instance(instance)).await
    }

    async fn list_instances(&self, window: Window) -> StoreResult<Listing<InstanceRecord>> {
        self.run(self.inner.list_instances(window)).await
    }

    async fn count_instance_resources(&self, id: &str) -> StoreResult<(u64, u64)> {
        self.run(self.inner.count_instance_resources(id)).await
    }
}

#[async_trait]
impl<S: Store> AccessKeyStore for Timed<S> {
    async fn insert_access_key(&self, key: &AccessKeyRecord) -> StoreResult<()> {
        self.run(self.inner.insert_access_key(key)).await
    }

    async fn list_access_keys(&self) -> StoreResult<Vec<AccessKeyRecord>> {
        self.run(self.inner.list_access_keys()).await
    }

    async fn set_access_key_enabled(&self, id: &str, enabled: bool) -> StoreResult<()> {
        self.run(self.inner.set_access_key_enabled(id, enabled)).await
    }

    async fn set_access_key_policy(&self, id: &str, policy: Option<&str>) -> StoreResult<()> {
        self.run(self.inner.set_access_key_policy(id, policy)).await
    }

    async fn delete_access_key(&self, id: &str) -> StoreResult<()> {
        self.run(self.inner.delete_access_key(id)).await
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    /// Every call reaches the inner store unchanged: the conformance suite through the wrapper.
    #[tokio::test]
    async fn timed_sqlite_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Timed::new(crate::sqlite::SqliteStore::open(&dir.path().join("kms.db")).unwrap(), Duration::from_secs(30));
        crate::conformance::run(&store).await;
    }

    /// A call past the limit is Unavailable, promptly, and its future learns it was abandoned
    /// while it is dropped; a call that finishes is not marked.
    #[tokio::test]
    async fn a_late_call_is_unavailable_and_marked_abandoned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Timed::new(
            crate::sqlite::SqliteStore::open(&dir.path().join("kms.db")).unwrap(),
            Duration::from_millis(200),
        );
        struct Probe(Arc<AtomicBool>);
        impl Drop for Probe {
            fn drop(&mut self) {
                self.0.store(abandoned(), Ordering::SeqCst);
            }
        }
        let seen = Arc::new(AtomicBool::new(false));
        let started = std::time::Instant::now();
        let probe = Probe(seen.clone());
        let result: StoreResult<()> = store
            .run(async move {
                let _probe = probe;
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            })
            .await;
        assert!(matches!(result, Err(StoreError::Unavailable(ref m)) if m.contains("within")), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(seen.load(Ordering::SeqCst), "the dropped call saw abandoned()");

        let seen = Arc::new(AtomicBool::new(true));
        let probe = Probe(seen.clone());
        store
            .run(async move {
                let _probe = probe;
                Ok(())
            })
            .await
            .unwrap();
        assert!(!seen.load(Ordering::SeqCst), "a finished call is not abandoned");
        assert!(!abandoned(), "outside a call");
        store.ping().await.unwrap();
    }
}

/// Every application-access call under the same limit.
#[async_trait]
impl<S: Store> AccessStore for Timed<S> {
    async fn insert_access_object(&self, o: &AccessObjectRecord) -> StoreResult<()> {
        self.run(self.inner.insert_access_object(o)).await
    }

    async fn get_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<Option<AccessObjectRecord>> {
        self.run(self.inner.get_access_object(kind, name)).await
    }

    async fn update_access_object(&self, o: &AccessObjectRecord) -> StoreResult<AccessObjectRecord> {
        self.run(self.inner.update_access_object(o)).await
    }

    async fn delete_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<()> {
        self.run(self.inner.delete_access_object(kind, name)).await
    }

    async fn list_access_objects(&self, kind: AccessKind, window: Window) -> StoreResult<Listing<AccessObjectRecord>> {
        self.run(self.inner.list_access_objects(kind, window)).await
    }

    async fn insert_client_key(&self, k: &ClientKeyRecord) -> StoreResult<()> {
        self.run(self.inner.insert_client_key(k)).await
    }

    async fn get_client_key(&self, id: &str) -> StoreResult<Option<ClientKeyRecord>> {
        self.run(self.inner.get_client_key(id)).await
    }

    async fn list_client_keys(&self, aap_name: Option<&str>) -> StoreResult<Vec<ClientKeyRecord>> {
        self.run(self.inner.list_client_keys(aap_name)).await
    }

    async fn delete_client_key(&self, id: &str) -> StoreResult<()> {
        self.run(self.inner.delete_client_key(id)).await
    }

    async fn access_generation(&self) -> StoreResult<i64> {
        self.run(self.inner.access_generation()).await
    }
}

/// Every managed-data-key call under the same limit.
#[async_trait]
impl<S: Store> crate::DataKeyStore for Timed<S> {
    async fn insert_data_key_version(&self, v: &crate::DataKeyVersionRecord) -> StoreResult<()> {
        self.run(self.inner.insert_data_key_version(v)).await
    }

    async fn get_data_key_version(
        &self,
        name: &str,
        version_id: &str,
    ) -> StoreResult<Option<crate::DataKeyVersionRecord>> {
        self.run(self.inner.get_data_key_version(name, version_id)).await
    }

    async fn list_data_key_versions(
        &self,
        name: &str,
        window: Window,
    ) -> StoreResult<Listing<crate::DataKeyVersionRecord>> {
        self.run(self.inner.list_data_key_versions(name, window)).await
    }
}

/// A rotation's reads and replacements under the same limit.
#[async_trait]
impl<S: Store> crate::RewrapStore for Timed<S> {
    async fn wrapped_rows(
        &self,
        table: crate::WrappedTable,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<crate::WrappedRow>> {
        self.run(self.inner.wrapped_rows(table, after, limit)).await
    }

    async fn replace_wrapped(&self, row: &crate::WrappedRow, new: &[u8]) -> StoreResult<bool> {
        self.run(self.inner.replace_wrapped(row, new)).await
    }

    async fn replace_meta(&self, name: &str, old: Option<&str>, new: Option<&str>) -> StoreResult<bool> {
        self.run(self.inner.replace_meta(name, old, new)).await
    }
}
