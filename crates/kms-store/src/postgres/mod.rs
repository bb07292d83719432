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
mod access_keys;
mod connect;
mod data_keys;
#[cfg(test)]
mod fault_tests;
mod instances;
mod keys;
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
use kms_types::{AliasName, KeyFilter, KeyId, KeyState, KeyVersionId, ResourceType, Tag};
use tokio_postgres::types::ToSql;

use self::connect::Tls;
pub use self::connect::{DEFAULT_TIMEOUT, PostgresOptions, redact_url};

use self::rows::*;
use self::schema::{MIGRATION_LOCK, MIGRATIONS};
use crate::{
    AccessKeyRecord, AliasRecord, KeyRecord, Listing, Store, StoreError, StoreResult, VersionRecord, VersionUsage,
    Window,
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
}
