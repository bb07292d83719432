//! Root-key rotation on PostgreSQL: the statements behind [`crate::RewrapStore`]. Each
//! replacement is one statement that compares the old bytes, so concurrent nodes and a
//! resumed rotation can never overwrite each other's writes.

use async_trait::async_trait;
use kms_types::{KeyId, KeyVersionId};
use tokio_postgres::Row;

use super::PostgresStore;
use super::rows::{corrupt, parse, unavailable};
use crate::{RewrapStore, StoreResult, WrappedRow, WrappedTable};

fn typed(table: WrappedTable, r: &Row) -> StoreResult<WrappedRow> {
    Ok(match table {
        WrappedTable::KeyVersions => WrappedRow::KeyVersion {
            key_id: KeyId::parse(r.get(0)).map_err(|_| corrupt("key id"))?,
            version_id: KeyVersionId::parse(r.get(1)).map_err(|_| corrupt("version id"))?,
            spec: parse(r.get(2), "spec")?,
            protection_level: parse(r.get(3), "protection level")?,
            material: r.get(4),
        },
        WrappedTable::AccessKeys => WrappedRow::AccessKey { id: r.get(0), secret: r.get(4) },
        WrappedTable::DataKeyVersions => {
            WrappedRow::DataKeyVersion { seq: r.get(5), name: r.get(0), version_id: r.get(1), material: r.get(4) }
        }
    })
}

#[async_trait]
impl RewrapStore for PostgresStore {
    async fn wrapped_rows(&self, table: WrappedTable, after: Option<&str>, limit: u32) -> StoreResult<Vec<WrappedRow>> {
        let c = self.client().await?;
        let limit = i64::from(limit);
        let rows = match table {
            WrappedTable::KeyVersions => {
                c.query(
                    "SELECT v.key_id, v.version_id, k.spec, k.protection_level, v.material, 0::BIGINT
                     FROM key_versions v JOIN keys k ON k.key_id = v.key_id
                     WHERE v.version_id > $1 ORDER BY v.version_id LIMIT $2",
                    &[&after.unwrap_or(""), &limit],
                )
                .await
            }
            WrappedTable::AccessKeys => {
                c.query(
                    "SELECT access_key_id, '', '', '', wrapped_secret, 0::BIGINT FROM access_keys
                     WHERE access_key_id > $1 ORDER BY access_key_id LIMIT $2",
                    &[&after.unwrap_or(""), &limit],
                )
                .await
            }
            WrappedTable::DataKeyVersions => {
                let after: i64 = after.and_then(|a| a.parse().ok()).unwrap_or(0);
                c.query(
                    "SELECT name, version_id, '', '', material, seq FROM data_key_versions
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &limit],
                )
                .await
            }
        }
        .map_err(unavailable)?;
        rows.iter().map(|r| typed(table, r)).collect()
    }

    async fn replace_wrapped(&self, row: &WrappedRow, new: &[u8]) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = match row {
            WrappedRow::KeyVersion { version_id, material, .. } => {
                c.execute(
                    "UPDATE key_versions SET material = $1 WHERE version_id = $2 AND material = $3",
                    &[&new, &version_id.to_string(), material],
                )
                .await
            }
            WrappedRow::AccessKey { id, secret } => {
                c.execute(
                    "UPDATE access_keys SET wrapped_secret = $1 WHERE access_key_id = $2 AND wrapped_secret = $3",
                    &[&new, id, secret],
                )
                .await
            }
            WrappedRow::DataKeyVersion { seq, material, .. } => {
                c.execute(
                    "UPDATE data_key_versions SET material = $1 WHERE seq = $2 AND material = $3",
                    &[&new, seq, material],
                )
                .await
            }
        }
        .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn replace_meta(&self, name: &str, old: Option<&str>, new: Option<&str>) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = match (old, new) {
            (Some(old), Some(new)) => {
                c.execute("UPDATE meta SET value = $3 WHERE name = $1 AND value = $2", &[&name, &old, &new]).await
            }
            (Some(old), None) => c.execute("DELETE FROM meta WHERE name = $1 AND value = $2", &[&name, &old]).await,
            (None, Some(new)) => {
                c.execute("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&name, &new]).await
            }
            (None, None) => {
                let row =
                    c.query_one("SELECT COUNT(*) FROM meta WHERE name = $1", &[&name]).await.map_err(unavailable)?;
                return Ok(row.get::<_, i64>(0) == 0);
            }
        }
        .map_err(unavailable)?;
        Ok(n == 1)
    }
}
