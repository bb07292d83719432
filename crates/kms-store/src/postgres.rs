//! The scale-out engine: PostgreSQL through tokio-postgres and a deadpool connection pool.
//! Commits are durable when they return (PostgreSQL's default `synchronous_commit = on`).
//!
//! Schema changes are numbered migrations recorded in `kmsd_schema`, applied at start-up under
//! a transaction-scoped advisory lock so several nodes starting at once migrate exactly once.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use kms_types::{AliasName, KeyFilter, KeyId, KeyVersionId, ResourceType, Tag};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::{
    AccessKeyRecord, AliasRecord, KeyRecord, Listing, Store, StoreError, StoreResult, VersionRecord, VersionUsage,
    Window,
};

/// Numbered schema migrations; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE keys (
    key_id              TEXT PRIMARY KEY,
    spec                TEXT NOT NULL,
    usage               TEXT NOT NULL,
    origin              TEXT NOT NULL,
    protection_level    TEXT NOT NULL,
    state               TEXT NOT NULL,
    description         TEXT NOT NULL,
    creator             TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    primary_version     TEXT NOT NULL,
    deletion_protection BOOLEAN NOT NULL,
    deletion_protection_description TEXT NOT NULL,
    delete_at           BIGINT,
    rotation_interval   BIGINT,
    last_rotation_at    BIGINT NOT NULL,
    next_rotation_at    BIGINT,
    revision            BIGINT NOT NULL
);
CREATE INDEX keys_by_created ON keys(created_at, key_id);
CREATE INDEX keys_by_delete_at ON keys(delete_at) WHERE delete_at IS NOT NULL;
CREATE INDEX keys_by_next_rotation ON keys(next_rotation_at) WHERE next_rotation_at IS NOT NULL;
CREATE TABLE key_versions (
    version_id    TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL REFERENCES keys(key_id),
    created_at    BIGINT NOT NULL,
    material      BYTEA NOT NULL,
    encrypt_count BIGINT NOT NULL DEFAULT 0,
    decrypt_count BIGINT NOT NULL DEFAULT 0,
    last_used_at  BIGINT
);
CREATE INDEX key_versions_by_key ON key_versions(key_id, created_at);
CREATE TABLE aliases (
    alias_name TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES keys(key_id),
    created_at BIGINT NOT NULL
);
CREATE INDEX aliases_by_key ON aliases(key_id, alias_name);
CREATE TABLE tags (
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    tag_key       TEXT NOT NULL,
    tag_value     TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, tag_key)
);
CREATE INDEX tags_by_key ON tags(resource_type, tag_key, tag_value);
CREATE TABLE access_keys (
    access_key_id  TEXT PRIMARY KEY,
    wrapped_secret BYTEA NOT NULL,
    enabled        BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL
);
"#];

/// Any fixed number: the advisory lock that serialises migrations across nodes.
const MIGRATION_LOCK: i64 = 0x6b6d_7364;

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

fn conflict_or_unavailable(e: tokio_postgres::Error) -> StoreError {
    if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) }
}

/// PostgreSQL engine handle; cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects with a `postgres://` URL and applies pending migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let config: tokio_postgres::Config = url.parse().map_err(unavailable)?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(16).build().map_err(unavailable)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(unavailable)
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

const KEY_COLUMNS: &str = "key_id, spec, usage, origin, protection_level, state, description, creator, created_at, primary_version, deletion_protection, deletion_protection_description, delete_at, rotation_interval, last_rotation_at, next_rotation_at, revision";

fn parse<T: std::str::FromStr>(s: &str, what: &str) -> StoreResult<T> {
    s.parse().map_err(|_| corrupt(what))
}

fn key_record(r: &Row) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        id: KeyId::parse(r.get(0)).map_err(|_| corrupt("key id"))?,
        spec: parse(r.get(1), "spec")?,
        usage: parse(r.get(2), "usage")?,
        origin: parse(r.get(3), "origin")?,
        protection_level: parse(r.get(4), "protection level")?,
        state: parse(r.get(5), "state")?,
        description: r.get(6),
        creator: r.get(7),
        created_at: r.get(8),
        primary_version: KeyVersionId::parse(r.get(9)).map_err(|_| corrupt("primary version"))?,
        deletion_protection: r.get(10),
        deletion_protection_description: r.get(11),
        delete_at: r.get(12),
        rotation_interval: r.get(13),
        last_rotation_at: r.get(14),
        next_rotation_at: r.get(15),
        revision: r.get(16),
    })
}

/// The values of [`KEY_COLUMNS`] for one record, as owned parameters.
struct KeyValues {
    id: String,
    spec: &'static str,
    usage: &'static str,
    origin: &'static str,
    level: &'static str,
    state: &'static str,
    k: KeyRecord,
    primary: String,
}

impl KeyValues {
    fn new(k: &KeyRecord) -> Self {
        Self {
            id: k.id.to_string(),
            spec: k.spec.as_str(),
            usage: k.usage.as_str(),
            origin: k.origin.as_str(),
            level: k.protection_level.as_str(),
            state: k.state.as_str(),
            primary: k.primary_version.to_string(),
            k: k.clone(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 17] {
        [
            &self.id,
            &self.spec,
            &self.usage,
            &self.origin,
            &self.level,
            &self.state,
            &self.k.description,
            &self.k.creator,
            &self.k.created_at,
            &self.primary,
            &self.k.deletion_protection,
            &self.k.deletion_protection_description,
            &self.k.delete_at,
            &self.k.rotation_interval,
            &self.k.last_rotation_at,
            &self.k.next_rotation_at,
            &self.k.revision,
        ]
    }
}

fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

const VERSION_COLUMNS: &str = "version_id, key_id, created_at, material, encrypt_count, decrypt_count, last_used_at";

fn version_record(r: &Row) -> StoreResult<VersionRecord> {
    let encrypts: i64 = r.get(4);
    let decrypts: i64 = r.get(5);
    Ok(VersionRecord {
        id: KeyVersionId::parse(r.get(0)).map_err(|_| corrupt("version id"))?,
        key_id: KeyId::parse(r.get(1)).map_err(|_| corrupt("version key id"))?,
        created_at: r.get(2),
        material: r.get(3),
        usage: VersionUsage { encrypts: encrypts as u64, decrypts: decrypts as u64, last_used_at: r.get(6) },
    })
}

fn alias_record(r: &Row) -> StoreResult<AliasRecord> {
    Ok(AliasRecord {
        name: AliasName::parse(r.get(0)).map_err(|_| corrupt("alias name"))?,
        key_id: KeyId::parse(r.get(1)).map_err(|_| corrupt("alias key id"))?,
        created_at: r.get(2),
    })
}

async fn update_key_in(tx: &deadpool_postgres::Transaction<'_>, k: &KeyRecord) -> StoreResult<KeyRecord> {
    let columns: Vec<&str> = KEY_COLUMNS.split(", ").collect();
    let sets: Vec<String> = columns[1..16].iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 2)).collect();
    let sql = format!("UPDATE keys SET {}, revision = $17 + 1 WHERE key_id = $1 AND revision = $17", sets.join(", "));
    let values = KeyValues::new(k);
    let n = tx.execute(&sql, &values.params()).await.map_err(unavailable)?;
    if n == 0 {
        let exists = tx.query_opt("SELECT 1 FROM keys WHERE key_id = $1", &[&values.id]).await.map_err(unavailable)?;
        return Err(if exists.is_some() { StoreError::Conflict } else { StoreError::NotFound });
    }
    Ok(KeyRecord { revision: k.revision + 1, ..k.clone() })
}

async fn insert_version(tx: &deadpool_postgres::Transaction<'_>, v: &VersionRecord) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO key_versions (version_id, key_id, created_at, material) VALUES ($1, $2, $3, $4)",
        &[&v.id.as_str(), &v.key_id.as_str(), &v.created_at, &v.material],
    )
    .await
    .map(|_| ())
    .map_err(conflict_or_unavailable)
}

async fn put_tags_in(
    tx: &deadpool_postgres::Transaction<'_>,
    resource: ResourceType,
    id: &str,
    tags: &[Tag],
    max: usize,
) -> StoreResult<()> {
    for t in tags {
        tx.execute(
            "INSERT INTO tags (resource_type, resource_id, tag_key, tag_value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (resource_type, resource_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            &[&resource.as_str(), &id, &t.key, &t.value],
        )
        .await
        .map_err(unavailable)?;
    }
    let count: i64 = tx
        .query_one(
            "SELECT COUNT(*) FROM tags WHERE resource_type = $1 AND resource_id = $2",
            &[&resource.as_str(), &id],
        )
        .await
        .map_err(unavailable)?
        .get(0);
    if count as usize > max { Err(StoreError::LimitExceeded) } else { Ok(()) }
}

async fn keys_where(c: &deadpool_postgres::Object, clause: &str, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE {clause} ORDER BY key_id LIMIT {limit}");
    let rows = c.query(&sql, &[&now]).await.map_err(unavailable)?;
    rows.iter().map(key_record).collect()
}

#[async_trait]
impl Store for PostgresStore {
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
        let values = KeyValues::new(key);
        tx.execute(&format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES ({})", placeholders(17)), &values.params())
            .await
            .map_err(conflict_or_unavailable)?;
        insert_version(&tx, first_version).await?;
        put_tags_in(&tx, ResourceType::Key, &values.id, tags, usize::MAX).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn get_key(&self, id: &KeyId) -> StoreResult<Option<KeyRecord>> {
        let c = self.client().await?;
        let row = c
            .query_opt(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = $1"), &[&id.as_str()])
            .await
            .map_err(unavailable)?;
        row.as_ref().map(key_record).transpose()
    }

    async fn get_version(&self, id: &KeyVersionId) -> StoreResult<Option<VersionRecord>> {
        let c = self.client().await?;
        let row = c
            .query_opt(&format!("SELECT {VERSION_COLUMNS} FROM key_versions WHERE version_id = $1"), &[&id.as_str()])
            .await
            .map_err(unavailable)?;
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
        keys_where(&self.client().await?, "state = 'PendingDeletion' AND delete_at <= $1", now, limit).await
    }

    async fn keys_due_for_rotation(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        keys_where(&self.client().await?, "state = 'Enabled' AND next_rotation_at <= $1", now, limit).await
    }

    async fn destroy_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let id = key.id.as_str();
        let current = tx
            .query_opt("SELECT revision FROM keys WHERE key_id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(unavailable)?;
        match current.map(|r| r.get::<_, i64>(0)) {
            None => return Err(StoreError::NotFound),
            Some(r) if r != key.revision => return Err(StoreError::Conflict),
            Some(_) => {}
        }
        tx.execute("DELETE FROM aliases WHERE key_id = $1", &[&id]).await.map_err(unavailable)?;
        tx.execute("DELETE FROM tags WHERE resource_type = 'key' AND resource_id = $1", &[&id])
            .await
            .map_err(unavailable)?;
        tx.execute("DELETE FROM key_versions WHERE key_id = $1", &[&id]).await.map_err(unavailable)?;
        tx.execute("DELETE FROM keys WHERE key_id = $1", &[&id]).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn list_keys(&self, filter: &KeyFilter, window: Window) -> StoreResult<Listing<KeyRecord>> {
        let strings = |v: &Option<Vec<String>>| v.clone();
        let states = filter.states.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let specs = filter.specs.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let usages = filter.usages.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let levels =
            filter.protection_levels.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let (tag_keys, tag_values) = (strings(&filter.tag_keys), strings(&filter.tag_values));
        // NULL means "any": one fixed statement, no SQL assembled from input.
        let clause = "WHERE ($1::text[] IS NULL OR state = ANY($1)) AND ($2::text[] IS NULL OR spec = ANY($2))
            AND ($3::text[] IS NULL OR usage = ANY($3)) AND ($4::text[] IS NULL OR protection_level = ANY($4))
            AND ($5::text[] IS NULL OR EXISTS (SELECT 1 FROM tags t WHERE t.resource_type = 'key' AND t.resource_id = keys.key_id AND t.tag_key = ANY($5)))
            AND ($6::text[] IS NULL OR EXISTS (SELECT 1 FROM tags t WHERE t.resource_type = 'key' AND t.resource_id = keys.key_id AND t.tag_value = ANY($6)))";
        let c = self.client().await?;
        let params: [&(dyn ToSql + Sync); 6] = [&states, &specs, &usages, &levels, &tag_keys, &tag_values];
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
        let row = c
            .query_opt("SELECT alias_name, key_id, created_at FROM aliases WHERE alias_name = $1", &[&name.as_str()])
            .await
            .map_err(unavailable)?;
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

    async fn insert_access_key(&self, key: &AccessKeyRecord) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO access_keys (access_key_id, wrapped_secret, enabled, created_at) VALUES ($1, $2, $3, $4)",
            &[&key.id, &key.wrapped_secret, &key.enabled, &key.created_at],
        )
        .await
        .map(|_| ())
        .map_err(conflict_or_unavailable)
    }

    async fn list_access_keys(&self) -> StoreResult<Vec<AccessKeyRecord>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT access_key_id, wrapped_secret, enabled, created_at FROM access_keys ORDER BY access_key_id",
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
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty database on the server `KMSD_TEST_POSTGRES_URL` names (scripts/test.sh
    /// starts one); dropped when the guard goes. Without the variable the PostgreSQL tests are
    /// skipped locally, and fail under CI, where the engine must be tested.
    pub(crate) async fn fresh_database() -> Option<(String, impl Drop)> {
        let Ok(admin) = std::env::var("KMSD_TEST_POSTGRES_URL") else {
            assert!(std::env::var_os("CI").is_none(), "KMSD_TEST_POSTGRES_URL must be set under CI");
            eprintln!("KMSD_TEST_POSTGRES_URL is not set: skipping the PostgreSQL engine tests");
            return None;
        };
        let name = format!("kmsd_test_{}", uuid::Uuid::new_v4().simple());
        let (client, conn) = tokio_postgres::connect(&admin, NoTls).await.expect("connect to the test server");
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
        // The admin URL names a database (`…/postgres`); the test's URL names the new one.
        let (base, _) =
            admin.split_once('?').unwrap_or((&admin, "")).0.rsplit_once('/').expect("a URL ending in /dbname");
        let url = format!("{base}/{name}");
        struct DropDatabase(String, String);
        impl Drop for DropDatabase {
            fn drop(&mut self) {
                let (admin, name) = (self.0.clone(), self.1.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    rt.block_on(async {
                        if let Ok((c, conn)) = tokio_postgres::connect(&admin, NoTls).await {
                            tokio::spawn(conn);
                            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                        }
                    })
                })
                .join();
            }
        }
        Some((url, DropDatabase(admin, name)))
    }

    #[tokio::test]
    async fn postgres_passes_the_conformance_suite() {
        let Some((url, _guard)) = fresh_database().await else { return };
        let store = PostgresStore::open(&url).await.unwrap();
        crate::conformance::run(&store).await;
        // Opening again (a second node, or a restart) finds the schema current.
        PostgresStore::open(&url).await.unwrap();
    }
}
