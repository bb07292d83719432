//! Rows ↔ records: the column lists, the bound values of a record, and the statements that
//! several store methods share (compare-and-set update, version insert, tag upsert).

use kms_types::{AliasName, KeyId, KeyVersionId, ResourceType, Tag};
use rusqlite::{Connection, Row, params, params_from_iter};

use crate::{AliasRecord, KeyRecord, StoreError, StoreResult, VersionRecord, VersionUsage};

pub(super) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(super) fn parse<T: std::str::FromStr>(s: String, what: &str) -> StoreResult<T> {
    s.parse().map_err(|_| corrupt(what))
}

pub(super) const KEY_COLUMNS: &str = "key_id, spec, usage, origin, protection_level, state, description, creator, created_at, primary_version, deletion_protection, deletion_protection_description, delete_at, rotation_interval, last_rotation_at, next_rotation_at, material_expire_at, material_fingerprint, dkms_instance_id, revision";

/// How many columns [`KEY_COLUMNS`] names; `revision` is the last.
pub(super) const KEY_COLUMN_COUNT: usize = 20;

/// The bound values of [`KEY_COLUMNS`] for one record, in order.
pub(super) fn key_values(k: &KeyRecord) -> [rusqlite::types::Value; KEY_COLUMN_COUNT] {
    use rusqlite::types::Value::{Integer, Null, Text};
    let opt = |v: Option<i64>| v.map_or(Null, Integer);
    [
        Text(k.id.to_string()),
        Text(k.spec.as_str().into()),
        Text(k.usage.as_str().into()),
        Text(k.origin.as_str().into()),
        Text(k.protection_level.as_str().into()),
        Text(k.state.as_str().into()),
        Text(k.description.clone()),
        Text(k.creator.clone()),
        Integer(k.created_at),
        Text(k.primary_version.to_string()),
        Integer(k.deletion_protection.into()),
        Text(k.deletion_protection_description.clone()),
        opt(k.delete_at),
        opt(k.rotation_interval),
        Integer(k.last_rotation_at),
        opt(k.next_rotation_at),
        opt(k.material_expire_at),
        k.material_fingerprint.clone().map_or(Null, Text),
        k.dkms_instance_id.clone().map_or(Null, Text),
        Integer(k.revision),
    ]
}

pub(super) fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

/// A `keys` row as SQLite returns it, before the text columns are checked.
pub(super) struct KeyRow {
    id: String,
    spec: String,
    usage: String,
    origin: String,
    level: String,
    state: String,
    description: String,
    creator: String,
    created_at: i64,
    primary: String,
    protection: bool,
    protection_description: String,
    delete_at: Option<i64>,
    rotation_interval: Option<i64>,
    last_rotation_at: i64,
    next_rotation_at: Option<i64>,
    material_expire_at: Option<i64>,
    material_fingerprint: Option<String>,
    dkms_instance_id: Option<String>,
    revision: i64,
}

pub(super) fn key_from_row(r: &Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        id: r.get(0)?,
        spec: r.get(1)?,
        usage: r.get(2)?,
        origin: r.get(3)?,
        level: r.get(4)?,
        state: r.get(5)?,
        description: r.get(6)?,
        creator: r.get(7)?,
        created_at: r.get(8)?,
        primary: r.get(9)?,
        protection: r.get(10)?,
        protection_description: r.get(11)?,
        delete_at: r.get(12)?,
        rotation_interval: r.get(13)?,
        last_rotation_at: r.get(14)?,
        next_rotation_at: r.get(15)?,
        material_expire_at: r.get(16)?,
        material_fingerprint: r.get(17)?,
        dkms_instance_id: r.get(18)?,
        revision: r.get(19)?,
    })
}

pub(super) fn key_record(row: KeyRow) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        id: KeyId::parse(&row.id).map_err(|_| corrupt("key id"))?,
        spec: parse(row.spec, "spec")?,
        usage: parse(row.usage, "usage")?,
        origin: parse(row.origin, "origin")?,
        protection_level: parse(row.level, "protection level")?,
        state: parse(row.state, "state")?,
        description: row.description,
        creator: row.creator,
        created_at: row.created_at,
        primary_version: KeyVersionId::parse(&row.primary).map_err(|_| corrupt("primary version"))?,
        deletion_protection: row.protection,
        deletion_protection_description: row.protection_description,
        delete_at: row.delete_at,
        rotation_interval: row.rotation_interval,
        last_rotation_at: row.last_rotation_at,
        next_rotation_at: row.next_rotation_at,
        material_expire_at: row.material_expire_at,
        material_fingerprint: row.material_fingerprint,
        dkms_instance_id: row.dkms_instance_id,
        revision: row.revision,
    })
}

/// Compare-and-set update of one key row inside a transaction.
pub(super) fn update_key_in(tx: &Connection, k: &KeyRecord) -> StoreResult<KeyRecord> {
    let columns: Vec<&str> = KEY_COLUMNS.split(", ").collect();
    let last = KEY_COLUMN_COUNT - 1;
    let sets: Vec<String> = columns[1..last].iter().enumerate().map(|(i, c)| format!("{c} = ?{}", i + 2)).collect();
    let n = KEY_COLUMN_COUNT;
    let sql = format!("UPDATE keys SET {}, revision = ?{n} + 1 WHERE key_id = ?1 AND revision = ?{n}", sets.join(", "));
    let n = tx
        .prepare_cached(&sql)
        .and_then(|mut stmt| stmt.execute(params_from_iter(key_values(k))))
        .map_err(unavailable)?;
    if n == 0 {
        let exists: bool = tx
            .query_row("SELECT EXISTS(SELECT 1 FROM keys WHERE key_id = ?1)", [k.id.as_str()], |r| r.get(0))
            .map_err(unavailable)?;
        return Err(if exists { StoreError::Conflict } else { StoreError::NotFound });
    }
    Ok(KeyRecord { revision: k.revision + 1, ..k.clone() })
}

pub(super) fn put_tags_in(
    tx: &Connection,
    resource: ResourceType,
    id: &str,
    tags: &[Tag],
    max: usize,
) -> StoreResult<()> {
    if tags.is_empty() {
        return Ok(());
    }
    for t in tags {
        tx.prepare_cached(
            "INSERT INTO tags (resource_type, resource_id, tag_key, tag_value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (resource_type, resource_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
        )
        .and_then(|mut stmt| stmt.execute(params![resource.as_str(), id, t.key, t.value]))
        .map_err(unavailable)?;
    }
    let count: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM tags WHERE resource_type = ?1 AND resource_id = ?2",
            params![resource.as_str(), id],
            |r| r.get(0),
        )
        .map_err(unavailable)?;
    if count as usize > max { Err(StoreError::LimitExceeded) } else { Ok(()) }
}

pub(super) const VERSION_COLUMNS: &str =
    "version_id, key_id, created_at, material, encrypt_count, decrypt_count, last_used_at";

/// A `key_versions` row as SQLite returns it.
pub(super) type VersionRow = (String, String, i64, Vec<u8>, i64, i64, Option<i64>);

pub(super) fn version_record(r: &Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

pub(super) fn to_version(
    (id, key_id, created_at, material, encrypts, decrypts, last_used_at): VersionRow,
) -> StoreResult<VersionRecord> {
    Ok(VersionRecord {
        id: KeyVersionId::parse(&id).map_err(|_| corrupt("version id"))?,
        key_id: KeyId::parse(&key_id).map_err(|_| corrupt("version key id"))?,
        created_at,
        material,
        usage: VersionUsage { encrypts: encrypts as u64, decrypts: decrypts as u64, last_used_at },
    })
}

pub(super) fn insert_version(tx: &Connection, v: &VersionRecord) -> StoreResult<()> {
    tx.prepare_cached("INSERT INTO key_versions (version_id, key_id, created_at, material) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut stmt| stmt.execute(params![v.id.as_str(), v.key_id.as_str(), v.created_at, v.material]))
        .map(|_| ())
        .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) })
}

/// The jobs' scans for due keys. `ORDER BY +key_id`: ordering by the bare primary key makes
/// SQLite walk the whole table in key order instead of using the partial index of the clause,
/// a full scan every job tick (~90 ms of CPU per tick at a million keys); the `+` leaves it the
/// index and a sort of the few due rows.
pub(super) fn keys_where(c: &Connection, clause: &str, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
    let sql = keys_where_sql(clause, limit);
    let mut stmt = c.prepare(&sql).map_err(unavailable)?;
    let rows = stmt.query_map([now], key_from_row).map_err(unavailable)?;
    rows.map(|r| r.map_err(unavailable).and_then(key_record)).collect()
}

pub(super) fn keys_where_sql(clause: &str, limit: u32) -> String {
    format!("SELECT {KEY_COLUMNS} FROM keys WHERE {clause} ORDER BY +key_id LIMIT {limit}")
}

pub(super) fn alias_record(r: &Row<'_>) -> rusqlite::Result<(String, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

pub(super) fn to_alias((name, key, created_at): (String, String, i64)) -> StoreResult<AliasRecord> {
    Ok(AliasRecord {
        name: AliasName::parse(&name).map_err(|_| corrupt("alias name"))?,
        key_id: KeyId::parse(&key).map_err(|_| corrupt("alias key id"))?,
        created_at,
    })
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Adds `AND <condition>` for a filter field: `condition` receives the placeholder list
/// `?, ?, …` for the allowed values. An empty list matches nothing; `None` adds nothing.
pub(super) fn in_clause<T: std::fmt::Display>(
    allowed: &Option<Vec<T>>,
    condition: impl Fn(&str) -> String,
    sql: &mut String,
    args: &mut Vec<String>,
) {
    if let Some(values) = allowed {
        if values.is_empty() {
            sql.push_str(" AND 0");
            return;
        }
        sql.push_str(&format!(" AND {}", condition(&vec!["?"; values.len()].join(","))));
        args.extend(values.iter().map(|v| v.to_string()));
    }
}
