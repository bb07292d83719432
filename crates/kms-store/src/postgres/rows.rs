//! Rows ↔ records: column lists, a record's bound values, and the statements several store
//! methods share (compare-and-set update, version insert, tag upsert).

use kms_types::{AliasName, KeyId, KeyVersionId, ResourceType, Tag};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::{AliasRecord, KeyRecord, StoreError, StoreResult, VersionRecord, VersionUsage};

pub(super) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(super) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

pub(super) fn conflict_or_unavailable(e: tokio_postgres::Error) -> StoreError {
    if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) }
}

pub(super) const KEY_COLUMNS: &str = "key_id, spec, usage, origin, protection_level, state, description, creator, created_at, primary_version, deletion_protection, deletion_protection_description, delete_at, rotation_interval, last_rotation_at, next_rotation_at, material_expire_at, material_fingerprint, dkms_instance_id, revision";

/// How many columns [`KEY_COLUMNS`] names; `revision` is the last.
pub(super) const KEY_COLUMN_COUNT: usize = 20;

pub(super) fn parse<T: std::str::FromStr>(s: &str, what: &str) -> StoreResult<T> {
    s.parse().map_err(|_| corrupt(what))
}

pub(super) fn key_record(r: &Row) -> StoreResult<KeyRecord> {
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
        material_expire_at: r.get(16),
        material_fingerprint: r.get(17),
        dkms_instance_id: r.get(18),
        revision: r.get(19),
    })
}

/// The values of [`KEY_COLUMNS`] for one record, as owned parameters.
pub(super) struct KeyValues {
    pub(super) id: String,
    spec: &'static str,
    usage: &'static str,
    origin: &'static str,
    level: &'static str,
    state: &'static str,
    k: KeyRecord,
    primary: String,
}

impl KeyValues {
    pub(super) fn new(k: &KeyRecord) -> Self {
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

    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); KEY_COLUMN_COUNT] {
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
            &self.k.material_expire_at,
            &self.k.material_fingerprint,
            &self.k.dkms_instance_id,
            &self.k.revision,
        ]
    }
}

pub(super) fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(super) const VERSION_COLUMNS: &str =
    "version_id, key_id, created_at, material, encrypt_count, decrypt_count, last_used_at";

pub(super) fn version_record(r: &Row) -> StoreResult<VersionRecord> {
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

pub(super) fn alias_record(r: &Row) -> StoreResult<AliasRecord> {
    Ok(AliasRecord {
        name: AliasName::parse(r.get(0)).map_err(|_| corrupt("alias name"))?,
        key_id: KeyId::parse(r.get(1)).map_err(|_| corrupt("alias key id"))?,
        created_at: r.get(2),
    })
}

pub(super) async fn update_key_in(tx: &deadpool_postgres::Transaction<'_>, k: &KeyRecord) -> StoreResult<KeyRecord> {
    let columns: Vec<&str> = KEY_COLUMNS.split(", ").collect();
    let last = KEY_COLUMN_COUNT - 1;
    let sets: Vec<String> = columns[1..last].iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 2)).collect();
    let n = KEY_COLUMN_COUNT;
    let sql = format!("UPDATE keys SET {}, revision = ${n} + 1 WHERE key_id = $1 AND revision = ${n}", sets.join(", "));
    let values = KeyValues::new(k);
    let n = tx.execute(&sql, &values.params()).await.map_err(unavailable)?;
    if n == 0 {
        let exists = tx.query_opt("SELECT 1 FROM keys WHERE key_id = $1", &[&values.id]).await.map_err(unavailable)?;
        return Err(if exists.is_some() { StoreError::Conflict } else { StoreError::NotFound });
    }
    Ok(KeyRecord { revision: k.revision + 1, ..k.clone() })
}

pub(super) async fn insert_version(tx: &deadpool_postgres::Transaction<'_>, v: &VersionRecord) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO key_versions (version_id, key_id, created_at, material) VALUES ($1, $2, $3, $4)",
        &[&v.id.as_str(), &v.key_id.as_str(), &v.created_at, &v.material],
    )
    .await
    .map(|_| ())
    .map_err(conflict_or_unavailable)
}

pub(super) async fn put_tags_in(
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

pub(super) async fn keys_where(
    c: &deadpool_postgres::Object,
    clause: &str,
    now: i64,
    limit: u32,
) -> StoreResult<Vec<KeyRecord>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE {clause} ORDER BY key_id LIMIT {limit}");
    let rows = c.query(&sql, &[&now]).await.map_err(unavailable)?;
    rows.iter().map(key_record).collect()
}
