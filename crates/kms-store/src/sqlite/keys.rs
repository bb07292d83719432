//! Keys, versions and aliases on SQLite: the key side of the store, written through the
//! group-commit writer and read on the read connections like every other table group.

use rusqlite::Row;

use super::*;
use crate::{KeyStore, VersionUsage};

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(&self, key: &KeyRecord, first_version: &VersionRecord, tags: &[Tag]) -> StoreResult<()> {
        let (k, v, tags) = (key.clone(), first_version.clone(), tags.to_vec());
        self.write(move |c| {
            let tx = c;
            if let Some(instance) = &k.dkms_instance_id {
                instances::check_room(tx, instance, crate::InstanceQuota::Keys)?;
            }
            tx.prepare_cached(&format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES ({})", placeholders(KEY_COLUMN_COUNT)))
                .and_then(|mut stmt| stmt.execute(params_from_iter(key_values(&k))))
                .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) })?;
            insert_version(tx, &v)?;
            put_tags_in(tx, ResourceType::Key, k.id.as_str(), &tags, usize::MAX)?;
            Ok(())
        })
        .await
    }

    async fn get_key(&self, id: &KeyId) -> StoreResult<Option<KeyRecord>> {
        let id = id.clone();
        self.with(move |c| {
            let row = c
                .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = ?1"))
                .and_then(|mut stmt| stmt.query_row([id.as_str()], key_from_row))
                .optional()
                .map_err(unavailable)?;
            row.map(key_record).transpose()
        })
        .await
    }

    async fn get_version(&self, id: &KeyVersionId) -> StoreResult<Option<VersionRecord>> {
        let id = id.clone();
        self.with(move |c| {
            c.prepare_cached(&format!("SELECT {VERSION_COLUMNS} FROM key_versions WHERE version_id = ?1"))
                .and_then(|mut stmt| stmt.query_row([id.as_str()], version_record))
                .optional()
                .map_err(unavailable)?
                .map(to_version)
                .transpose()
        })
        .await
    }

    async fn add_version_usage(&self, usage: &[(KeyVersionId, VersionUsage)]) -> StoreResult<()> {
        let usage = usage.to_vec();
        self.write(move |c| {
            let tx = c;
            {
                let mut stmt = tx
                    .prepare(
                        "UPDATE key_versions SET encrypt_count = encrypt_count + ?2, decrypt_count = decrypt_count + ?3,
                         last_used_at = MAX(COALESCE(last_used_at, 0), COALESCE(?4, 0)) WHERE version_id = ?1",
                    )
                    .map_err(unavailable)?;
                for (id, u) in &usage {
                    stmt.execute(params![id.as_str(), u.encrypts as i64, u.decrypts as i64, u.last_used_at])
                        .map_err(unavailable)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn update_key(&self, key: &KeyRecord) -> StoreResult<KeyRecord> {
        let k = key.clone();
        self.write(move |c| {
            let tx = c;
            let stored = update_key_in(tx, &k)?;
            Ok(stored)
        })
        .await
    }

    async fn add_version(&self, key: &KeyRecord, version: &VersionRecord) -> StoreResult<KeyRecord> {
        let (k, v) = (key.clone(), version.clone());
        self.write(move |c| {
            let tx = c;
            let stored = update_key_in(tx, &k)?;
            insert_version(tx, &v)?;
            Ok(stored)
        })
        .await
    }

    async fn set_key_material(
        &self,
        key: &KeyRecord,
        version: &KeyVersionId,
        material: &[u8],
    ) -> StoreResult<KeyRecord> {
        let (k, v, m) = (key.clone(), version.as_str().to_owned(), material.to_vec());
        self.write(move |c| {
            let tx = c;
            let stored = update_key_in(tx, &k)?;
            // Overwrite what was there in place first (see destroy_key), then store the new bytes.
            tx.execute(
                "UPDATE key_versions SET material = zeroblob(length(material)) WHERE version_id = ?1 AND key_id = ?2",
                [v.as_str(), k.id.as_str()],
            )
            .map_err(unavailable)?;
            let n = tx
                .execute(
                    "UPDATE key_versions SET material = ?2 WHERE version_id = ?1 AND key_id = ?3",
                    params![v, m, k.id.as_str()],
                )
                .map_err(unavailable)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(stored)
        })
        .await
    }

    async fn keys_with_expired_material(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        self.with(move |c| keys_where(c, "material_expire_at <= ?1", now, limit)).await
    }

    async fn list_versions(&self, key: &KeyId, window: Window) -> StoreResult<Listing<VersionRecord>> {
        let key = key.as_str().to_owned();
        self.with(move |c| {
            let total: i64 = c
                .query_row("SELECT COUNT(*) FROM key_versions WHERE key_id = ?1", [&key], |r| r.get(0))
                .map_err(unavailable)?;
            let sql = format!(
                "SELECT {VERSION_COLUMNS} FROM key_versions WHERE key_id = ?1 ORDER BY created_at DESC, version_id DESC LIMIT {} OFFSET {}",
                window.limit, window.offset
            );
            let mut stmt = c.prepare(&sql).map_err(unavailable)?;
            let items = stmt
                .query_map([&key], version_record)
                .map_err(unavailable)?
                .map(|r| r.map_err(unavailable).and_then(to_version))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Listing { items, total: total as u64 })
        })
        .await
    }

    async fn keys_due_for_deletion(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        self.with(move |c| keys_where(c, "state = 'PendingDeletion' AND delete_at <= ?1", now, limit)).await
    }

    async fn keys_due_for_rotation(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        self.with(move |c| keys_where(c, "state = 'Enabled' AND next_rotation_at <= ?1", now, limit)).await
    }

    async fn destroy_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let (id, revision) = (key.id.as_str().to_owned(), key.revision);
        self.write_then_checkpoint(move |c| {
            let tx = c;
            let current: Option<i64> = tx
                .query_row("SELECT revision FROM keys WHERE key_id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(unavailable)?;
            match current {
                None => return Err(StoreError::NotFound),
                Some(r) if r != revision => return Err(StoreError::Conflict),
                Some(_) => {}
            }
            tx.execute("DELETE FROM aliases WHERE key_id = ?1", [&id]).map_err(unavailable)?;
            tx.execute("DELETE FROM tags WHERE resource_type = 'key' AND resource_id = ?1", [&id])
                .map_err(unavailable)?;
            tx.execute("DELETE FROM resource_policies WHERE resource_type = 'key' AND resource_id = ?1", [&id])
                .map_err(unavailable)?;
            // Overwrite the material in place before deleting: SQLite's secure_delete does not
            // zero a page's last cell when the page empties, so deletion alone can leave it.
            tx.execute("UPDATE key_versions SET material = zeroblob(length(material)) WHERE key_id = ?1", [&id])
                .map_err(unavailable)?;
            tx.execute("DELETE FROM key_versions WHERE key_id = ?1", [&id]).map_err(unavailable)?;
            tx.execute("DELETE FROM keys WHERE key_id = ?1", [&id]).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn list_keys(&self, filter: &KeyFilter, window: Window) -> StoreResult<Listing<KeyRecord>> {
        let filter = filter.clone();
        self.with(move |c| {
            let mut clause = String::from("WHERE 1");
            let mut args = Vec::new();
            in_clause(&filter.states, |l| format!("state IN ({l})"), &mut clause, &mut args);
            in_clause(&filter.specs, |l| format!("spec IN ({l})"), &mut clause, &mut args);
            in_clause(&filter.usages, |l| format!("usage IN ({l})"), &mut clause, &mut args);
            in_clause(&filter.protection_levels, |l| format!("protection_level IN ({l})"), &mut clause, &mut args);
            in_clause(&filter.key_ids, |l| format!("key_id IN ({l})"), &mut clause, &mut args);
            in_clause(&filter.instance_ids, |l| format!("dkms_instance_id IN ({l})"), &mut clause, &mut args);
            for (column, allowed) in [("tag_key", &filter.tag_keys), ("tag_value", &filter.tag_values)] {
                let tagged = |l: &str| {
                    format!(
                        "EXISTS (SELECT 1 FROM tags WHERE resource_type = 'key' AND resource_id = keys.key_id AND {column} IN ({l}))"
                    )
                };
                in_clause(allowed, tagged, &mut clause, &mut args);
            }
            let total: i64 = c
                .query_row(&format!("SELECT COUNT(*) FROM keys {clause}"), params_from_iter(&args), |r| r.get(0))
                .map_err(unavailable)?;
            let total = total as u64;
            let sql = format!(
                "SELECT {KEY_COLUMNS} FROM keys {clause} ORDER BY created_at, key_id LIMIT {} OFFSET {}",
                window.limit, window.offset
            );
            let mut stmt = c.prepare(&sql).map_err(unavailable)?;
            let rows = stmt.query_map(params_from_iter(&args), key_from_row).map_err(unavailable)?;
            let items = rows.map(|r| r.map_err(unavailable).and_then(key_record)).collect::<StoreResult<Vec<_>>>()?;
            Ok(Listing { items, total })
        })
        .await
    }

    async fn count_keys_by_state(&self) -> StoreResult<Vec<(KeyState, u64)>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT state, n FROM key_counts").map_err(unavailable)?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(unavailable)?;
            crate::counts_by_state(rows.collect::<rusqlite::Result<Vec<_>>>().map_err(unavailable)?)
        })
        .await
    }

    async fn insert_alias(&self, alias: &AliasRecord) -> StoreResult<()> {
        let a = alias.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO aliases (alias_name, key_id, created_at) VALUES (?1, ?2, ?3)",
                params![a.name.as_str(), a.key_id.as_str(), a.created_at],
            )
            .map(|_| ())
            .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) })
        })
        .await
    }

    async fn get_alias(&self, name: &AliasName) -> StoreResult<Option<AliasRecord>> {
        let name = name.clone();
        self.with(move |c| {
            c.prepare_cached("SELECT alias_name, key_id, created_at FROM aliases WHERE alias_name = ?1")
                .and_then(|mut stmt| stmt.query_row([name.as_str()], alias_record))
                .optional()
                .map_err(unavailable)?
                .map(to_alias)
                .transpose()
        })
        .await
    }

    async fn update_alias(&self, name: &AliasName, key: &KeyId) -> StoreResult<()> {
        let (name, key) = (name.clone(), key.clone());
        self.write(move |c| {
            let n = c
                .execute("UPDATE aliases SET key_id = ?2 WHERE alias_name = ?1", params![name.as_str(), key.as_str()])
                .map_err(unavailable)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn delete_alias(&self, name: &AliasName) -> StoreResult<()> {
        let name = name.clone();
        self.write(move |c| {
            let n = c.execute("DELETE FROM aliases WHERE alias_name = ?1", [name.as_str()]).map_err(unavailable)?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn list_aliases(&self, key: Option<&KeyId>, window: Window) -> StoreResult<Listing<AliasRecord>> {
        let key = key.map(|k| k.as_str().to_owned());
        self.with(move |c| {
            let (clause, args): (&str, Vec<String>) = match key {
                Some(k) => ("WHERE key_id = ?1", vec![k]),
                None => ("", vec![]),
            };
            let total: i64 = c
                .query_row(&format!("SELECT COUNT(*) FROM aliases {clause}"), params_from_iter(&args), |r| r.get(0))
                .map_err(unavailable)?;
            let total = total as u64;
            let sql = format!(
                "SELECT alias_name, key_id, created_at FROM aliases {clause} ORDER BY alias_name LIMIT {} OFFSET {}",
                window.limit, window.offset
            );
            let mut stmt = c.prepare(&sql).map_err(unavailable)?;
            let items = stmt
                .query_map(params_from_iter(&args), alias_record)
                .map_err(unavailable)?
                .map(|r| r.map_err(unavailable).and_then(to_alias))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Listing { items, total })
        })
        .await
    }
}

// Rows ↔ records for keys, versions and aliases: the column lists, the bound values of a
// record, and the statements several key methods share (compare-and-set update, version insert).

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
