//! Secrets on PostgreSQL: the statements behind the secret methods of `SecretStore`.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use kms_types::{ResourceType, SecretName, SecretVersionId, Tag, VersionStage};
use tokio_postgres::Row;

use super::PostgresStore;
use super::rows::{conflict_or_unavailable, corrupt, put_tags_in, unavailable};
use crate::SecretStore;
use crate::{Listing, SecretRecord, SecretVersionRecord, StoreError, StoreResult, VersionChange, Window};

pub(super) const SECRET_COLUMNS: &str = "secret_name, description, encryption_key_id, created_at, updated_at, planned_delete_at, revision, dkms_instance_id";

pub(super) fn to_secret(r: &Row) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        name: SecretName::parse(r.get(0)).map_err(|_| corrupt("secret name"))?,
        description: r.get(1),
        encryption_key_id: kms_types::KeyId::parse(r.get(2)).map_err(|_| corrupt("secret key id"))?,
        created_at: r.get(3),
        updated_at: r.get(4),
        planned_delete_at: r.get(5),
        revision: r.get(6),
        dkms_instance_id: r.get(7),
    })
}

async fn insert_version(tx: &Transaction<'_>, name: &str, v: &SecretVersionRecord) -> StoreResult<()> {
    let ordinal: i64 = tx
        .query_one("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM secret_versions WHERE secret_name = $1", &[&name])
        .await
        .map_err(unavailable)?
        .get(0);
    tx.execute(
        "INSERT INTO secret_versions (secret_name, version_id, ordinal, created_at, data_type, sealed)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&name, &v.version_id.as_str(), &ordinal, &v.created_at, &v.data_type, &v.sealed],
    )
    .await
    .map(|_| ())
    .map_err(conflict_or_unavailable)
}

async fn place_stage(
    tx: &Transaction<'_>,
    name: &str,
    stage: &VersionStage,
    on: Option<&SecretVersionId>,
) -> StoreResult<()> {
    tx.execute("DELETE FROM secret_stages WHERE secret_name = $1 AND stage = $2", &[&name, &stage.as_str()])
        .await
        .map_err(unavailable)?;
    if let Some(v) = on {
        tx.execute(
            "INSERT INTO secret_stages (secret_name, stage, version_id) VALUES ($1, $2, $3)",
            &[&name, &stage.as_str(), &v.as_str()],
        )
        .await
        .map_err(|_| StoreError::NotFound)?;
    }
    Ok(())
}

pub(super) async fn insert(
    tx: &Transaction<'_>,
    s: &SecretRecord,
    first: &SecretVersionRecord,
    tags: &[Tag],
) -> StoreResult<()> {
    tx.execute(
        &format!("INSERT INTO secrets ({SECRET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
        &[
            &s.name.as_str(),
            &s.description,
            &s.encryption_key_id.as_str(),
            &s.created_at,
            &s.updated_at,
            &s.planned_delete_at,
            &s.revision,
            &s.dkms_instance_id,
        ],
    )
    .await
    .map_err(conflict_or_unavailable)?;
    insert_version(tx, s.name.as_str(), first).await?;
    for stage in &first.stages {
        place_stage(tx, s.name.as_str(), stage, Some(&first.version_id)).await?;
    }
    put_tags_in(tx, ResourceType::Secret, s.name.as_str(), tags, usize::MAX).await
}

/// The versions of a secret (one, or all newest first), each with its stages.
pub(super) async fn versions(
    c: &impl GenericClient,
    name: &SecretName,
    only: Option<&SecretVersionId>,
) -> StoreResult<Vec<SecretVersionRecord>> {
    let mut stages: HashMap<String, Vec<VersionStage>> = HashMap::new();
    for r in c
        .query("SELECT version_id, stage FROM secret_stages WHERE secret_name = $1 ORDER BY stage", &[&name.as_str()])
        .await
        .map_err(unavailable)?
    {
        let stage = VersionStage::parse(r.get(1)).map_err(|_| corrupt("stage"))?;
        stages.entry(r.get(0)).or_default().push(stage);
    }
    let only = only.map(|v| v.as_str());
    let rows = c
        .query(
            "SELECT version_id, created_at, data_type, sealed FROM secret_versions
             WHERE secret_name = $1 AND ($2::TEXT IS NULL OR version_id = $2) ORDER BY ordinal DESC",
            &[&name.as_str(), &only],
        )
        .await
        .map_err(unavailable)?;
    rows.iter()
        .map(|r| {
            let id: String = r.get(0);
            Ok(SecretVersionRecord {
                version_id: SecretVersionId::parse(&id).map_err(|_| corrupt("secret version id"))?,
                created_at: r.get(1),
                data_type: r.get(2),
                sealed: r.get(3),
                stages: stages.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
}

async fn check_revision(tx: &Transaction<'_>, name: &str, revision: i64) -> StoreResult<()> {
    let current = tx
        .query_opt("SELECT revision FROM secrets WHERE secret_name = $1 FOR UPDATE", &[&name])
        .await
        .map_err(unavailable)?
        .map(|r| r.get::<_, i64>(0));
    match current {
        None => Err(StoreError::NotFound),
        Some(r) if r != revision => Err(StoreError::Conflict),
        Some(_) => Ok(()),
    }
}

pub(super) async fn change(
    tx: &Transaction<'_>,
    s: &SecretRecord,
    change: VersionChange<'_>,
) -> StoreResult<SecretRecord> {
    let name = s.name.as_str();
    check_revision(tx, name, s.revision).await?;
    tx.execute(
        "UPDATE secrets SET description = $2, encryption_key_id = $3, updated_at = $4, planned_delete_at = $5,
         revision = revision + 1 WHERE secret_name = $1",
        &[&name, &s.description, &s.encryption_key_id.as_str(), &s.updated_at, &s.planned_delete_at],
    )
    .await
    .map_err(unavailable)?;
    if let Some(v) = change.add {
        insert_version(tx, name, v).await?;
    }
    for (stage, on) in change.stages {
        place_stage(tx, name, stage, on.as_ref()).await?;
    }
    for v in change.drop {
        tx.execute("DELETE FROM secret_stages WHERE secret_name = $1 AND version_id = $2", &[&name, &v.as_str()])
            .await
            .map_err(unavailable)?;
        tx.execute("DELETE FROM secret_versions WHERE secret_name = $1 AND version_id = $2", &[&name, &v.as_str()])
            .await
            .map_err(unavailable)?;
    }
    Ok(SecretRecord { revision: s.revision + 1, ..s.clone() })
}

pub(super) async fn purge(tx: &Transaction<'_>, s: &SecretRecord) -> StoreResult<()> {
    let name = s.name.as_str();
    check_revision(tx, name, s.revision).await?;
    for sql in [
        "DELETE FROM secret_stages WHERE secret_name = $1",
        "DELETE FROM secret_versions WHERE secret_name = $1",
        "DELETE FROM tags WHERE resource_type = 'secret' AND resource_id = $1",
        "DELETE FROM resource_policies WHERE resource_type = 'secret' AND resource_id = $1",
        "DELETE FROM secrets WHERE secret_name = $1",
    ] {
        tx.execute(sql, &[&name]).await.map_err(unavailable)?;
    }
    Ok(())
}

pub(super) async fn list(c: &impl GenericClient, window: Window) -> StoreResult<Listing<SecretRecord>> {
    let total: i64 = c.query_one("SELECT COUNT(*) FROM secrets", &[]).await.map_err(unavailable)?.get(0);
    let rows = c
        .query(
            &format!("SELECT {SECRET_COLUMNS} FROM secrets ORDER BY secret_name LIMIT $1 OFFSET $2"),
            &[&i64::from(window.limit), &(window.offset as i64)],
        )
        .await
        .map_err(unavailable)?;
    Ok(Listing { items: rows.iter().map(to_secret).collect::<StoreResult<_>>()?, total: total as u64 })
}

#[async_trait]
impl SecretStore for PostgresStore {
    async fn insert_secret(&self, secret: &SecretRecord, first: &SecretVersionRecord, tags: &[Tag]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        if let Some(instance) = &secret.dkms_instance_id {
            super::instances::check_room(&tx, instance, crate::InstanceQuota::Secrets).await?;
        }
        insert(&tx, secret, first, tags).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn get_secret(&self, name: &SecretName) -> StoreResult<Option<SecretRecord>> {
        let c = self.client().await?;
        let sql = format!("SELECT {} FROM secrets WHERE secret_name = $1", SECRET_COLUMNS);
        let row = c.query_opt(&sql, &[&name.as_str()]).await.map_err(unavailable)?;
        row.as_ref().map(to_secret).transpose()
    }

    async fn get_secret_version(
        &self,
        name: &SecretName,
        version: &SecretVersionId,
    ) -> StoreResult<Option<SecretVersionRecord>> {
        let c = self.client().await?;
        Ok(versions(&*c, name, Some(version)).await?.pop())
    }

    async fn list_secret_versions(&self, name: &SecretName) -> StoreResult<Vec<SecretVersionRecord>> {
        let c = self.client().await?;
        versions(&*c, name, None).await
    }

    async fn change_secret(&self, secret: &SecretRecord, change: VersionChange<'_>) -> StoreResult<SecretRecord> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stored = self::change(&tx, secret, change).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn purge_secret(&self, secret: &SecretRecord) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        purge(&tx, secret).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn list_secrets(&self, window: Window) -> StoreResult<Listing<SecretRecord>> {
        let c = self.client().await?;
        list(&*c, window).await
    }

    async fn secrets_due_for_purge(&self, now: i64, limit: u32) -> StoreResult<Vec<SecretRecord>> {
        let c = self.client().await?;
        let sql = format!(
            "SELECT {} FROM secrets WHERE planned_delete_at <= $1 ORDER BY secret_name LIMIT $2",
            SECRET_COLUMNS
        );
        let rows = c.query(&sql, &[&now, &i64::from(limit)]).await.map_err(unavailable)?;
        rows.iter().map(to_secret).collect()
    }
}
