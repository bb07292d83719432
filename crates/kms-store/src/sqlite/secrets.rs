//! Secrets on SQLite: the statements behind the secret methods of `SecretStore`.

use std::collections::HashMap;

use async_trait::async_trait;
use kms_types::{ResourceType, SecretName, SecretVersionId, Tag, VersionStage};
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::rows::{corrupt, is_unique_violation, put_tags_in, unavailable};
use crate::SecretStore;
use crate::{Listing, SecretRecord, SecretVersionRecord, StoreError, StoreResult, VersionChange, Window};

const SECRET_COLUMNS: &str = "secret_name, description, encryption_key_id, created_at, updated_at, planned_delete_at, revision, dkms_instance_id";

type SecretRow = (String, String, String, i64, i64, Option<i64>, i64, Option<String>);

fn secret_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecretRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

fn to_secret(
    (name, description, key, created_at, updated_at, planned_delete_at, revision, dkms_instance_id): SecretRow,
) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        name: SecretName::parse(&name).map_err(|_| corrupt("secret name"))?,
        description,
        encryption_key_id: kms_types::KeyId::parse(&key).map_err(|_| corrupt("secret key id"))?,
        created_at,
        updated_at,
        planned_delete_at,
        dkms_instance_id,
        revision,
    })
}

fn conflict_or(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) }
}

fn insert_version(c: &Connection, name: &str, v: &SecretVersionRecord) -> StoreResult<()> {
    let ordinal: i64 = c
        .query_row("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM secret_versions WHERE secret_name = ?1", [name], |r| {
            r.get(0)
        })
        .map_err(unavailable)?;
    c.execute(
        "INSERT INTO secret_versions (secret_name, version_id, ordinal, created_at, data_type, sealed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![name, v.version_id.as_str(), ordinal, v.created_at, v.data_type, v.sealed],
    )
    .map(|_| ())
    .map_err(conflict_or)
}

fn place_stage(c: &Connection, name: &str, stage: &VersionStage, on: Option<&SecretVersionId>) -> StoreResult<()> {
    c.execute("DELETE FROM secret_stages WHERE secret_name = ?1 AND stage = ?2", params![name, stage.as_str()])
        .map_err(unavailable)?;
    if let Some(v) = on {
        c.execute(
            "INSERT INTO secret_stages (secret_name, stage, version_id) VALUES (?1, ?2, ?3)",
            params![name, stage.as_str(), v.as_str()],
        )
        .map_err(|_| StoreError::NotFound)?;
    }
    Ok(())
}

pub(super) fn insert(c: &Connection, s: &SecretRecord, first: &SecretVersionRecord, tags: &[Tag]) -> StoreResult<()> {
    c.execute(
        &format!("INSERT INTO secrets ({SECRET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            s.name.as_str(),
            s.description,
            s.encryption_key_id.as_str(),
            s.created_at,
            s.updated_at,
            s.planned_delete_at,
            s.revision,
            s.dkms_instance_id
        ],
    )
    .map_err(conflict_or)?;
    insert_version(c, s.name.as_str(), first)?;
    for stage in &first.stages {
        place_stage(c, s.name.as_str(), stage, Some(&first.version_id))?;
    }
    put_tags_in(c, ResourceType::Secret, s.name.as_str(), tags, usize::MAX)
}

pub(super) fn get(c: &Connection, name: &SecretName) -> StoreResult<Option<SecretRecord>> {
    c.query_row(&format!("SELECT {SECRET_COLUMNS} FROM secrets WHERE secret_name = ?1"), [name.as_str()], secret_row)
        .optional()
        .map_err(unavailable)?
        .map(to_secret)
        .transpose()
}

/// The versions of a secret (one, or all newest first), each with its stages.
pub(super) fn versions(
    c: &Connection,
    name: &SecretName,
    only: Option<&SecretVersionId>,
) -> StoreResult<Vec<SecretVersionRecord>> {
    let mut stages: HashMap<String, Vec<VersionStage>> = HashMap::new();
    {
        let mut stmt = c
            .prepare("SELECT version_id, stage FROM secret_stages WHERE secret_name = ?1 ORDER BY stage")
            .map_err(unavailable)?;
        let rows = stmt
            .query_map([name.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(unavailable)?;
        for row in rows {
            let (version, stage) = row.map_err(unavailable)?;
            stages.entry(version).or_default().push(VersionStage::parse(&stage).map_err(|_| corrupt("stage"))?);
        }
    }
    let mut stmt = c
        .prepare(
            "SELECT version_id, created_at, data_type, sealed FROM secret_versions
             WHERE secret_name = ?1 AND (?2 IS NULL OR version_id = ?2) ORDER BY ordinal DESC",
        )
        .map_err(unavailable)?;
    let rows = stmt
        .query_map(params![name.as_str(), only.map(|v| v.as_str())], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, Vec<u8>>(3)?))
        })
        .map_err(unavailable)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, created_at, data_type, sealed) = row.map_err(unavailable)?;
        let stages = stages.remove(&id).unwrap_or_default();
        let version_id = SecretVersionId::parse(&id).map_err(|_| corrupt("secret version id"))?;
        out.push(SecretVersionRecord { version_id, created_at, data_type, sealed, stages });
    }
    Ok(out)
}

/// Compare-and-set on the secret's revision; `NotFound` when it is gone.
fn check_revision(c: &Connection, name: &str, revision: i64) -> StoreResult<()> {
    let current: Option<i64> = c
        .query_row("SELECT revision FROM secrets WHERE secret_name = ?1", [name], |r| r.get(0))
        .optional()
        .map_err(unavailable)?;
    match current {
        None => Err(StoreError::NotFound),
        Some(r) if r != revision => Err(StoreError::Conflict),
        Some(_) => Ok(()),
    }
}

fn drop_version(c: &Connection, name: &str, version: &str) -> StoreResult<()> {
    c.execute("DELETE FROM secret_stages WHERE secret_name = ?1 AND version_id = ?2", params![name, version])
        .map_err(unavailable)?;
    // Overwritten in place first: deleting alone can leave the sealed bytes in a free page.
    c.execute(
        "UPDATE secret_versions SET sealed = zeroblob(length(sealed)) WHERE secret_name = ?1 AND version_id = ?2",
        params![name, version],
    )
    .map_err(unavailable)?;
    c.execute("DELETE FROM secret_versions WHERE secret_name = ?1 AND version_id = ?2", params![name, version])
        .map_err(unavailable)?;
    Ok(())
}

pub(super) fn change(c: &Connection, s: &SecretRecord, change: VersionChange<'_>) -> StoreResult<SecretRecord> {
    let name = s.name.as_str();
    check_revision(c, name, s.revision)?;
    c.execute(
        "UPDATE secrets SET description = ?2, encryption_key_id = ?3, updated_at = ?4, planned_delete_at = ?5,
         revision = revision + 1 WHERE secret_name = ?1",
        params![name, s.description, s.encryption_key_id.as_str(), s.updated_at, s.planned_delete_at],
    )
    .map_err(unavailable)?;
    if let Some(v) = change.add {
        insert_version(c, name, v)?;
    }
    for (stage, on) in change.stages {
        place_stage(c, name, stage, on.as_ref())?;
    }
    for v in change.drop {
        drop_version(c, name, v.as_str())?;
    }
    Ok(SecretRecord { revision: s.revision + 1, ..s.clone() })
}

pub(super) fn purge(c: &Connection, s: &SecretRecord) -> StoreResult<()> {
    let name = s.name.as_str();
    check_revision(c, name, s.revision)?;
    c.execute("DELETE FROM secret_stages WHERE secret_name = ?1", [name]).map_err(unavailable)?;
    c.execute("UPDATE secret_versions SET sealed = zeroblob(length(sealed)) WHERE secret_name = ?1", [name])
        .map_err(unavailable)?;
    c.execute("DELETE FROM secret_versions WHERE secret_name = ?1", [name]).map_err(unavailable)?;
    c.execute("DELETE FROM tags WHERE resource_type = 'secret' AND resource_id = ?1", [name]).map_err(unavailable)?;
    c.execute("DELETE FROM resource_policies WHERE resource_type = 'secret' AND resource_id = ?1", [name])
        .map_err(unavailable)?;
    c.execute("DELETE FROM secrets WHERE secret_name = ?1", [name]).map_err(unavailable)?;
    Ok(())
}

pub(super) fn list(c: &Connection, window: Window) -> StoreResult<Listing<SecretRecord>> {
    let total: i64 = c.query_row("SELECT COUNT(*) FROM secrets", [], |r| r.get(0)).map_err(unavailable)?;
    let mut stmt = c
        .prepare(&format!("SELECT {SECRET_COLUMNS} FROM secrets ORDER BY secret_name LIMIT ?1 OFFSET ?2"))
        .map_err(unavailable)?;
    let items = stmt
        .query_map(params![window.limit, window.offset as i64], secret_row)
        .map_err(unavailable)?
        .map(|r| r.map_err(unavailable).and_then(to_secret))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Listing { items, total: total as u64 })
}

pub(super) fn due_for_purge(c: &Connection, now: i64, limit: u32) -> StoreResult<Vec<SecretRecord>> {
    let mut stmt = c
        .prepare(&format!(
            "SELECT {SECRET_COLUMNS} FROM secrets WHERE planned_delete_at <= ?1 ORDER BY secret_name LIMIT ?2"
        ))
        .map_err(unavailable)?;
    stmt.query_map(params![now, limit], secret_row)
        .map_err(unavailable)?
        .map(|r| r.map_err(unavailable).and_then(to_secret))
        .collect()
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn insert_secret(&self, secret: &SecretRecord, first: &SecretVersionRecord, tags: &[Tag]) -> StoreResult<()> {
        let (s, v, tags) = (secret.clone(), first.clone(), tags.to_vec());
        self.write(move |c| {
            if let Some(instance) = &s.dkms_instance_id {
                super::instances::check_room(c, instance, crate::InstanceQuota::Secrets)?;
            }
            insert(c, &s, &v, &tags)
        })
        .await
    }

    async fn get_secret(&self, name: &SecretName) -> StoreResult<Option<SecretRecord>> {
        let name = name.clone();
        self.with(move |c| get(c, &name)).await
    }

    async fn get_secret_version(
        &self,
        name: &SecretName,
        version: &SecretVersionId,
    ) -> StoreResult<Option<SecretVersionRecord>> {
        let (name, version) = (name.clone(), version.clone());
        self.with(move |c| Ok(versions(c, &name, Some(&version))?.pop())).await
    }

    async fn list_secret_versions(&self, name: &SecretName) -> StoreResult<Vec<SecretVersionRecord>> {
        let name = name.clone();
        self.with(move |c| versions(c, &name, None)).await
    }

    async fn change_secret(&self, secret: &SecretRecord, change: VersionChange<'_>) -> StoreResult<SecretRecord> {
        let s = secret.clone();
        let add = change.add.cloned();
        let (stages, drop) = (change.stages.to_vec(), change.drop.to_vec());
        self.write(move |c| self::change(c, &s, VersionChange { add: add.as_ref(), stages: &stages, drop: &drop }))
            .await
    }

    async fn purge_secret(&self, secret: &SecretRecord) -> StoreResult<()> {
        let s = secret.clone();
        self.write_then_checkpoint(move |c| purge(c, &s)).await
    }

    async fn list_secrets(&self, window: Window) -> StoreResult<Listing<SecretRecord>> {
        self.with(move |c| list(c, window)).await
    }

    async fn secrets_due_for_purge(&self, now: i64, limit: u32) -> StoreResult<Vec<SecretRecord>> {
        self.with(move |c| due_for_purge(c, now, limit)).await
    }
}
