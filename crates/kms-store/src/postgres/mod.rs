//! The scale-out engine: PostgreSQL through tokio-postgres and a deadpool connection pool.
//! Commits are durable when they return (PostgreSQL's default `synchronous_commit = on`).
//!
//! Schema changes are numbered migrations recorded in `kmsd_schema`, applied at start-up under
//! a transaction-scoped advisory lock so several nodes starting at once migrate exactly once.
//!
//! Connecting ([`connect`]): TLS per the URL's `sslmode`, TCP keepalive, and time limits on
//! connecting and on waiting for a pooled connection. The limit on a whole call is
//! [`crate::timed::Timed`]'s; a connection whose call was given up on mid-way leaves the pool
//! (see [`Conn`]).

mod access;
mod connect;
mod data_keys;
#[cfg(test)]
mod fault_tests;
mod instances;
mod nonces;
mod rewrap;
mod rows;
mod schema;
mod secrets;
#[cfg(test)]
mod tests;
mod watch;

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType, Timeouts};
use kms_types::{AliasName, KeyFilter, KeyId, KeyState, KeyVersionId, ResourceType, SecretName, SecretVersionId, Tag};
use tokio_postgres::types::ToSql;

use self::connect::Tls;
pub use self::connect::{DEFAULT_TIMEOUT, PostgresOptions, redact_url};

use self::rows::*;
use self::schema::{MIGRATION_LOCK, MIGRATIONS};
use crate::{
    AccessKeyRecord, AliasRecord, InstanceRecord, KeyRecord, Listing, SecretRecord, SecretVersionRecord, Store,
    StoreError, StoreResult, VersionChange, VersionRecord, VersionUsage, Window,
};

/// Connections per node (PostgreSQL allows 100 in all by default, shared by every node).
const POOL_SIZE: usize = 16;

/// PostgreSQL engine handle; cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// The lookup generation this process has seen ([`Store::lookups_generation`]).
    generation: std::sync::Arc<watch::Generation>,
    /// Nonces on their way to the `nonces` table, batched (see `nonces`).
    nonces: std::sync::Arc<nonces::NonceBatch>,
    /// For the connection that watches it.
    config: std::sync::Arc<tokio_postgres::Config>,
    /// For cancelling the statement of a connection given up on.
    tls: Tls,
    timeout: Duration,
    /// The server, user and database (no password), for messages.
    target: String,
}

/// A pooled connection lent to one store call. When the call is given up on before it
/// finished ([`crate::timed::abandoned`]: its time ran out, or its caller went away), the
/// connection may be mid-statement or waiting on a server that does not answer: it is taken
/// out of the pool and closed instead of being lent to the next call, and its statement is
/// cancelled (best effort, in the background) so the server lets go of what it holds.
struct Conn {
    object: Option<deadpool_postgres::Object>,
    tls: Tls,
    timeout: Duration,
}

impl std::ops::Deref for Conn {
    type Target = deadpool_postgres::Object;
    fn deref(&self) -> &Self::Target {
        self.object.as_ref().expect("a lent connection")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.object.as_mut().expect("a lent connection")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !crate::timed::abandoned() {
            return;
        }
        let Some(object) = self.object.take() else { return };
        let client = deadpool_postgres::Object::take(object);
        let token = client.cancel_token();
        drop(client);
        let (tls, timeout) = (self.tls.clone(), self.timeout);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let cancel = async {
                    match tls {
                        Tls::Plain(t) => token.cancel_query(t).await,
                        Tls::Rustls(t) => token.cancel_query(t).await,
                    }
                };
                let _ = tokio::time::timeout(timeout, cancel).await;
            });
        }
    }
}

/// An UPDATE or DELETE of one row by its key: no row is [`StoreError::NotFound`].
fn one_row(changed: Result<u64, tokio_postgres::Error>) -> StoreResult<()> {
    match changed {
        Ok(0) => Err(StoreError::NotFound),
        Ok(_) => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

impl PostgresStore {
    /// Connects with a `postgres://` URL and applies pending migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with(url, &PostgresOptions::default()).await
    }

    /// [`PostgresStore::open`] with the settings the URL does not carry. A server that cannot
    /// be reached fails within `opts.timeout`, naming the server and the cause (never the
    /// password).
    pub async fn open_with(url: &str, opts: &PostgresOptions) -> StoreResult<Self> {
        let target = connect::target(url, opts)?;
        let manager = match &target.tls {
            Tls::Plain(t) => Manager::from_config(target.config.clone(), *t, manager_config()),
            Tls::Rustls(t) => Manager::from_config(target.config.clone(), t.clone(), manager_config()),
        };
        let timeouts = Timeouts { wait: Some(opts.timeout), create: Some(opts.timeout), recycle: Some(opts.timeout) };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .timeouts(timeouts)
            .build()
            .map_err(unavailable)?;
        let store = Self {
            pool,
            generation: Default::default(),
            nonces: Default::default(),
            config: std::sync::Arc::new(target.config),
            tls: target.tls,
            timeout: opts.timeout,
            target: target.describe,
        };
        // The first connection says whether the server is there at all, and if not, why.
        drop(store.client().await.map_err(|e| store.cannot_connect(e))?);
        store.migrate().await?;
        Ok(store)
    }

    /// Keeps [`Store::lookups_generation`] current without requests: a connection listening
    /// for changes and polling the counter (see `watch`), until the last handle is dropped.
    /// A node that caches lookups calls this once.
    pub fn watch_lookups(&self) {
        watch::start((*self.config).clone(), self.tls.clone(), &self.generation);
    }

    /// Why no connection could be had, for a start-up message.
    fn cannot_connect(&self, e: StoreError) -> StoreError {
        let StoreError::Unavailable(why) = e else { return e };
        StoreError::Unavailable(format!("cannot connect to {}: {why}", self.target))
    }

    async fn client(&self) -> StoreResult<Conn> {
        let object = self.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(TimeoutType::Wait) => StoreError::Unavailable(format!(
                "no pooled connection came free within {:?} (all {POOL_SIZE} busy)",
                self.timeout
            )),
            PoolError::Timeout(_) => {
                StoreError::Unavailable(format!("no connection within {:?}: the server does not answer", self.timeout))
            }
            PoolError::Backend(e) => unavailable(error_chain(&e)),
            other => unavailable(other),
        })?;
        Ok(Conn { object: Some(object), tls: self.tls.clone(), timeout: self.timeout })
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(unavailable)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS kmsd_schema (version INTEGER NOT NULL)")
            .await
            .map_err(unavailable)?;
        let current: i32 = tx
            .query_opt("SELECT version FROM kmsd_schema", &[])
            .await
            .map_err(unavailable)?
            .map(|r| r.get(0))
            .unwrap_or(0);
        let current = usize::try_from(current).map_err(|_| corrupt("schema version"))?;
        if current > MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "database schema version {current} is newer than this kmsd understands ({})",
                MIGRATIONS.len()
            )));
        }
        for sql in &MIGRATIONS[current..] {
            tx.batch_execute(sql).await.map_err(unavailable)?;
        }
        tx.execute("DELETE FROM kmsd_schema", &[]).await.map_err(unavailable)?;
        tx.execute("INSERT INTO kmsd_schema (version) VALUES ($1)", &[&(MIGRATIONS.len() as i32)])
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }
}

fn manager_config() -> ManagerConfig {
    // Fast: no query on checkout. A closed connection is noticed and replaced; one left
    // mid-statement by an abandoned call never comes back (see `Conn`).
    ManagerConfig { recycling_method: RecyclingMethod::Fast }
}

/// An error and its causes, `: `-joined (tokio-postgres keeps the OS error in the source).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        let c = self.client().await?;
        c.simple_query("SELECT 1").await.map(|_| ()).map_err(unavailable)
    }

    async fn get_meta(&self, name: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        let row = c.query_opt("SELECT value FROM meta WHERE name = $1", &[&name]).await.map_err(unavailable)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn init_meta(&self, name: &str, value: &str) -> StoreResult<String> {
        let c = self.client().await?;
        c.execute("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", &[&name, &value])
            .await
            .map_err(unavailable)?;
        let row = c.query_one("SELECT value FROM meta WHERE name = $1", &[&name]).await.map_err(unavailable)?;
        Ok(row.get(0))
    }

    async fn insert_key(&self, key: &KeyRecord, first_version: &VersionRecord, tags: &[Tag]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        if let Some(instance) = &key.dkms_instance_id {
            instances::check_room(&tx, instance, crate::InstanceQuota::Keys).await?;
        }
        let values = KeyValues::new(key);
        tx.execute(
            &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES ({})", placeholders(KEY_COLUMN_COUNT)),
            &values.params(),
        )
        .await
        .map_err(conflict_or_unavailable)?;
        insert_version(&tx, first_version).await?;
        put_tags_in(&tx, ResourceType::Key, &values.id, tags, usize::MAX).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn get_key(&self, id: &KeyId) -> StoreResult<Option<KeyRecord>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = $1"))
            .await
            .map_err(unavailable)?;
        let row = c.query_opt(&stmt, &[&id.as_str()]).await.map_err(unavailable)?;
        row.as_ref().map(key_record).transpose()
    }

    async fn get_version(&self, id: &KeyVersionId) -> StoreResult<Option<VersionRecord>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!("SELECT {VERSION_COLUMNS} FROM key_versions WHERE version_id = $1"))
            .await
            .map_err(unavailable)?;
        let row = c.query_opt(&stmt, &[&id.as_str()]).await.map_err(unavailable)?;
        row.as_ref().map(version_record).transpose()
    }

    async fn add_version_usage(&self, usage: &[(KeyVersionId, VersionUsage)]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stmt = tx
            .prepare(
                "UPDATE key_versions SET encrypt_count = encrypt_count + $2, decrypt_count = decrypt_count + $3,
                 last_used_at = GREATEST(COALESCE(last_used_at, 0), COALESCE($4::bigint, 0)) WHERE version_id = $1",
            )
            .await
            .map_err(unavailable)?;
        for (id, u) in usage {
            tx.execute(&stmt, &[&id.as_str(), &(u.encrypts as i64), &(u.decrypts as i64), &u.last_used_at])
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn update_key(&self, key: &KeyRecord) -> StoreResult<KeyRecord> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stored = update_key_in(&tx, key).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn add_version(&self, key: &KeyRecord, version: &VersionRecord) -> StoreResult<KeyRecord> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stored = update_key_in(&tx, key).await?;
        insert_version(&tx, version).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn set_key_material(
        &self,
        key: &KeyRecord,
        version: &KeyVersionId,
        material: &[u8],
    ) -> StoreResult<KeyRecord> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stored = update_key_in(&tx, key).await?;
        let n = tx
            .execute(
                "UPDATE key_versions SET material = $2 WHERE version_id = $1 AND key_id = $3",
                &[&version.as_str(), &material, &key.id.as_str()],
            )
            .await
            .map_err(unavailable)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn keys_with_expired_material(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        keys_where(&*self.client().await?, "material_expire_at <= $1", now, limit).await
    }

    async fn put_resource_policy(&self, resource: ResourceType, id: &str, policy: &str) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO resource_policies (resource_type, resource_id, policy) VALUES ($1, $2, $3)
             ON CONFLICT (resource_type, resource_id) DO UPDATE SET policy = excluded.policy",
            &[&resource.as_str(), &id, &policy],
        )
        .await
        .map(|_| ())
        .map_err(unavailable)
    }

    async fn get_resource_policy(&self, resource: ResourceType, id: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT policy FROM resource_policies WHERE resource_type = $1 AND resource_id = $2")
            .await
            .map_err(unavailable)?;
        let row = c.query_opt(&stmt, &[&resource.as_str(), &id]).await.map_err(unavailable)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn count_resource_policies(&self) -> StoreResult<u64> {
        let c = self.client().await?;
        let n: i64 = c.query_one("SELECT COUNT(*) FROM resource_policies", &[]).await.map_err(unavailable)?.get(0);
        Ok(n as u64)
    }

    async fn list_versions(&self, key: &KeyId, window: Window) -> StoreResult<Listing<VersionRecord>> {
        let c = self.client().await?;
        let total: i64 = c
            .query_one("SELECT COUNT(*) FROM key_versions WHERE key_id = $1", &[&key.as_str()])
            .await
            .map_err(unavailable)?
            .get(0);
        let rows = c
            .query(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM key_versions WHERE key_id = $1 ORDER BY created_at DESC, version_id DESC LIMIT $2 OFFSET $3"
                ),
                &[&key.as_str(), &i64::from(window.limit), &(window.offset as i64)],
            )
            .await
            .map_err(unavailable)?;
        Ok(Listing { items: rows.iter().map(version_record).collect::<StoreResult<_>>()?, total: total as u64 })
    }

    async fn keys_due_for_deletion(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        keys_where(&*self.client().await?, "state = 'PendingDeletion' AND delete_at <= $1", now, limit).await
    }

    async fn keys_due_for_rotation(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        keys_where(&*self.client().await?, "state = 'Enabled' AND next_rotation_at <= $1", now, limit).await
    }

    async fn destroy_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let id = key.id.as_str();
        let current = tx
            .query_opt("SELECT revision, state FROM keys WHERE key_id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(unavailable)?;
        let state: String = match current.map(|r| (r.get::<_, i64>(0), r.get(1))) {
            None => return Err(StoreError::NotFound),
            Some((r, _)) if r != key.revision => return Err(StoreError::Conflict),
            Some((_, state)) => state,
        };
        // Every other write takes a key's count row (the `key_counts` trigger) in the statement
        // that locks the key's row, before any other row. Here the key's row goes last (its
        // versions and aliases refer to it), so its count row is taken now instead: waiting for
        // it while holding the versions' rows could close a cycle with a write that holds the
        // count row and waits for a version row.
        tx.execute("SELECT 1 FROM key_counts WHERE state = $1 AND slot = kmsd_key_slot($2) FOR UPDATE", &[&state, &id])
            .await
            .map_err(unavailable)?;
        tx.execute("DELETE FROM aliases WHERE key_id = $1", &[&id]).await.map_err(unavailable)?;
        tx.execute("DELETE FROM tags WHERE resource_type = 'key' AND resource_id = $1", &[&id])
            .await
            .map_err(unavailable)?;
        tx.execute("DELETE FROM resource_policies WHERE resource_type = 'key' AND resource_id = $1", &[&id])
            .await
            .map_err(unavailable)?;
        tx.execute("DELETE FROM key_versions WHERE key_id = $1", &[&id]).await.map_err(unavailable)?;
        tx.execute("DELETE FROM keys WHERE key_id = $1", &[&id]).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn count_keys_by_state(&self) -> StoreResult<Vec<(KeyState, u64)>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT state, SUM(n)::BIGINT FROM key_counts GROUP BY state")
            .await
            .map_err(unavailable)?;
        let rows = c.query(&stmt, &[]).await.map_err(unavailable)?;
        crate::counts_by_state(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))))
    }

    async fn list_keys(&self, filter: &KeyFilter, window: Window) -> StoreResult<Listing<KeyRecord>> {
        let strings = |v: &Option<Vec<String>>| v.clone();
        let states = filter.states.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let specs = filter.specs.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let usages = filter.usages.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let levels =
            filter.protection_levels.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let (tag_keys, tag_values) = (strings(&filter.tag_keys), strings(&filter.tag_values));
        let key_ids = strings(&filter.key_ids);
        // NULL means "any": one fixed statement, no SQL assembled from input.
        let clause = "WHERE ($1::text[] IS NULL OR state = ANY($1)) AND ($2::text[] IS NULL OR spec = ANY($2))
            AND ($3::text[] IS NULL OR usage = ANY($3)) AND ($4::text[] IS NULL OR protection_level = ANY($4))
            AND ($5::text[] IS NULL OR EXISTS (SELECT 1 FROM tags t WHERE t.resource_type = 'key' AND t.resource_id = keys.key_id AND t.tag_key = ANY($5)))
            AND ($6::text[] IS NULL OR EXISTS (SELECT 1 FROM tags t WHERE t.resource_type = 'key' AND t.resource_id = keys.key_id AND t.tag_value = ANY($6)))
            AND ($7::text[] IS NULL OR key_id = ANY($7))
            AND ($8::text[] IS NULL OR dkms_instance_id = ANY($8))";
        let c = self.client().await?;
        let instance_ids = strings(&filter.instance_ids);
        let params: [&(dyn ToSql + Sync); 8] =
            [&states, &specs, &usages, &levels, &tag_keys, &tag_values, &key_ids, &instance_ids];
        let total: i64 =
            c.query_one(&format!("SELECT COUNT(*) FROM keys {clause}"), &params).await.map_err(unavailable)?.get(0);
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM keys {clause} ORDER BY created_at, key_id LIMIT {} OFFSET {}",
            window.limit, window.offset
        );
        let rows = c.query(&sql, &params).await.map_err(unavailable)?;
        Ok(Listing { items: rows.iter().map(key_record).collect::<StoreResult<_>>()?, total: total as u64 })
    }

    async fn insert_alias(&self, alias: &AliasRecord) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO aliases (alias_name, key_id, created_at) VALUES ($1, $2, $3)",
            &[&alias.name.as_str(), &alias.key_id.as_str(), &alias.created_at],
        )
        .await
        .map(|_| ())
        .map_err(conflict_or_unavailable)
    }

    async fn get_alias(&self, name: &AliasName) -> StoreResult<Option<AliasRecord>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT alias_name, key_id, created_at FROM aliases WHERE alias_name = $1")
            .await
            .map_err(unavailable)?;
        let row = c.query_opt(&stmt, &[&name.as_str()]).await.map_err(unavailable)?;
        row.as_ref().map(alias_record).transpose()
    }

    async fn update_alias(&self, name: &AliasName, key: &KeyId) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c
            .execute("UPDATE aliases SET key_id = $2 WHERE alias_name = $1", &[&name.as_str(), &key.as_str()])
            .await
            .map_err(unavailable)?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn delete_alias(&self, name: &AliasName) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c.execute("DELETE FROM aliases WHERE alias_name = $1", &[&name.as_str()]).await.map_err(unavailable)?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn list_aliases(&self, key: Option<&KeyId>, window: Window) -> StoreResult<Listing<AliasRecord>> {
        let c = self.client().await?;
        let key = key.map(|k| k.as_str().to_owned());
        let clause = "WHERE ($1::text IS NULL OR key_id = $1)";
        let total: i64 =
            c.query_one(&format!("SELECT COUNT(*) FROM aliases {clause}"), &[&key]).await.map_err(unavailable)?.get(0);
        let sql = format!(
            "SELECT alias_name, key_id, created_at FROM aliases {clause} ORDER BY alias_name LIMIT {} OFFSET {}",
            window.limit, window.offset
        );
        let rows = c.query(&sql, &[&key]).await.map_err(unavailable)?;
        Ok(Listing { items: rows.iter().map(alias_record).collect::<StoreResult<_>>()?, total: total as u64 })
    }

    async fn put_tags(&self, resource: ResourceType, id: &str, tags: &[Tag], max: usize) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        put_tags_in(&tx, resource, id, tags, max).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn remove_tags(&self, resource: ResourceType, id: &str, keys: Option<&[String]>) -> StoreResult<()> {
        let c = self.client().await?;
        let keys = keys.map(<[String]>::to_vec);
        c.execute(
            "DELETE FROM tags WHERE resource_type = $1 AND resource_id = $2 AND ($3::text[] IS NULL OR tag_key = ANY($3))",
            &[&resource.as_str(), &id, &keys],
        )
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn list_tags(&self, resource: ResourceType, id: &str) -> StoreResult<Vec<Tag>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT tag_key, tag_value FROM tags WHERE resource_type = $1 AND resource_id = $2 ORDER BY tag_key",
                &[&resource.as_str(), &id],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(|r| Tag { key: r.get(0), value: r.get(1) }).collect())
    }

    async fn list_tag_rows(
        &self,
        resource: ResourceType,
        ids: Option<&[String]>,
        filter: &[(String, Option<String>)],
        after: Option<&(String, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(String, Tag)>> {
        let c = self.client().await?;
        let ids = ids.map(<[String]>::to_vec);
        // The filter as two parallel arrays; an empty value array element means "any value".
        let filter_keys: Option<Vec<String>> =
            (!filter.is_empty()).then(|| filter.iter().map(|(k, _)| k.clone()).collect());
        let filter_values: Vec<Option<String>> = filter.iter().map(|(_, v)| v.clone()).collect();
        let (after_id, after_key) = match after {
            Some((i, k)) => (Some(i.clone()), Some(k.clone())),
            None => (None, None),
        };
        let sql = format!(
            "SELECT resource_id, tag_key, tag_value FROM tags WHERE resource_type = $1
             AND ($2::text[] IS NULL OR resource_id = ANY($2))
             AND ($3::text[] IS NULL OR EXISTS (
                 SELECT 1 FROM unnest($3::text[], $4::text[]) AS f(k, v) WHERE f.k = tag_key AND (f.v IS NULL OR f.v = tag_value)))
             AND ($5::text IS NULL OR resource_id > $5 OR (resource_id = $5 AND tag_key > $6))
             ORDER BY resource_id, tag_key LIMIT {limit}"
        );
        let rows = c
            .query(&sql, &[&resource.as_str(), &ids, &filter_keys, &filter_values, &after_id, &after_key])
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(|r| (r.get(0), Tag { key: r.get(1), value: r.get(2) })).collect())
    }

    /// One round trip for all the requests recording nonces at once (see `nonces`), which also
    /// reads the lookup generation.
    async fn record_nonce(&self, access_key_id: &str, nonce: &str, now: i64, forget_after: i64) -> StoreResult<bool> {
        self.record_nonce_batched(access_key_id, nonce, now, forget_after).await
    }

    async fn purge_nonces(&self, now: i64) -> StoreResult<u64> {
        let c = self.client().await?;
        c.execute("DELETE FROM nonces WHERE forget_after <= $1", &[&now]).await.map_err(unavailable)
    }

    /// Several nodes share one database: replay protection must go through it.
    fn is_shared(&self) -> bool {
        true
    }

    fn lookups_generation(&self) -> Option<i64> {
        Some(self.generation.get())
    }

    async fn insert_access_key(&self, key: &AccessKeyRecord) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO access_keys (access_key_id, wrapped_secret, enabled, created_at, principal, policy)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&key.id, &key.wrapped_secret, &key.enabled, &key.created_at, &key.principal, &key.policy],
        )
        .await
        .map(|_| ())
        .map_err(conflict_or_unavailable)
    }

    async fn list_access_keys(&self) -> StoreResult<Vec<AccessKeyRecord>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT access_key_id, wrapped_secret, enabled, created_at, principal, policy FROM access_keys ORDER BY access_key_id",
                &[],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows
            .iter()
            .map(|r| AccessKeyRecord {
                id: r.get(0),
                wrapped_secret: r.get(1),
                enabled: r.get(2),
                created_at: r.get(3),
                principal: r.get(4),
                policy: r.get(5),
            })
            .collect())
    }

    async fn set_access_key_enabled(&self, id: &str, enabled: bool) -> StoreResult<()> {
        let c = self.client().await?;
        one_row(c.execute("UPDATE access_keys SET enabled = $2 WHERE access_key_id = $1", &[&id, &enabled]).await)
    }

    async fn set_access_key_policy(&self, id: &str, policy: Option<&str>) -> StoreResult<()> {
        let c = self.client().await?;
        one_row(c.execute("UPDATE access_keys SET policy = $2 WHERE access_key_id = $1", &[&id, &policy]).await)
    }

    async fn delete_access_key(&self, id: &str) -> StoreResult<()> {
        let c = self.client().await?;
        one_row(c.execute("DELETE FROM access_keys WHERE access_key_id = $1", &[&id]).await)
    }

    async fn insert_secret(&self, secret: &SecretRecord, first: &SecretVersionRecord, tags: &[Tag]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        if let Some(instance) = &secret.dkms_instance_id {
            instances::check_room(&tx, instance, crate::InstanceQuota::Secrets).await?;
        }
        secrets::insert(&tx, secret, first, tags).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn get_secret(&self, name: &SecretName) -> StoreResult<Option<SecretRecord>> {
        let c = self.client().await?;
        let sql = format!("SELECT {} FROM secrets WHERE secret_name = $1", secrets::SECRET_COLUMNS);
        let row = c.query_opt(&sql, &[&name.as_str()]).await.map_err(unavailable)?;
        row.as_ref().map(secrets::to_secret).transpose()
    }

    async fn get_secret_version(
        &self,
        name: &SecretName,
        version: &SecretVersionId,
    ) -> StoreResult<Option<SecretVersionRecord>> {
        let c = self.client().await?;
        Ok(secrets::versions(&*c, name, Some(version)).await?.pop())
    }

    async fn list_secret_versions(&self, name: &SecretName) -> StoreResult<Vec<SecretVersionRecord>> {
        let c = self.client().await?;
        secrets::versions(&*c, name, None).await
    }

    async fn change_secret(&self, secret: &SecretRecord, change: VersionChange<'_>) -> StoreResult<SecretRecord> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stored = secrets::change(&tx, secret, change).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn purge_secret(&self, secret: &SecretRecord) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        secrets::purge(&tx, secret).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn list_secrets(&self, window: Window) -> StoreResult<Listing<SecretRecord>> {
        let c = self.client().await?;
        secrets::list(&*c, window).await
    }

    async fn secrets_due_for_purge(&self, now: i64, limit: u32) -> StoreResult<Vec<SecretRecord>> {
        let c = self.client().await?;
        let sql = format!(
            "SELECT {} FROM secrets WHERE planned_delete_at <= $1 ORDER BY secret_name LIMIT $2",
            secrets::SECRET_COLUMNS
        );
        let rows = c.query(&sql, &[&now, &i64::from(limit)]).await.map_err(unavailable)?;
        rows.iter().map(secrets::to_secret).collect()
    }

    async fn insert_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        let c = self.client().await?;
        instances::insert(&*c, instance).await
    }

    async fn get_instance(&self, id: &str) -> StoreResult<Option<InstanceRecord>> {
        let c = self.client().await?;
        instances::get(&*c, id).await
    }

    async fn update_instance(&self, instance: &InstanceRecord) -> StoreResult<InstanceRecord> {
        let c = self.client().await?;
        instances::update(&*c, instance).await
    }

    async fn list_instances(&self, window: Window) -> StoreResult<Listing<InstanceRecord>> {
        let c = self.client().await?;
        instances::list(&*c, window).await
    }

    async fn count_instance_resources(&self, id: &str) -> StoreResult<(u64, u64)> {
        let c = self.client().await?;
        instances::count_resources(&*c, id).await
    }
}
