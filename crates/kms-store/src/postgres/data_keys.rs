//! Managed data keys on PostgreSQL: the statements behind [`crate::DataKeyStore`]. An identity
//! column orders a name's versions as they were added, whichever node added them.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::PostgresStore;
use super::rows::{conflict_or_unavailable, unavailable};
use crate::{DataKeyStore, DataKeyVersionRecord, Listing, StoreResult, Window};

fn version(r: &Row) -> DataKeyVersionRecord {
    DataKeyVersionRecord { name: r.get(0), version_id: r.get(1), material: r.get(2), created_at: r.get(3) }
}

#[async_trait]
impl DataKeyStore for PostgresStore {
    async fn insert_data_key_version(&self, v: &DataKeyVersionRecord) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO data_key_versions (name, version_id, material, created_at) VALUES ($1, $2, $3, $4)",
            &[&v.name, &v.version_id, &v.material, &v.created_at],
        )
        .await
        .map(|_| ())
        .map_err(conflict_or_unavailable)
    }

    async fn get_data_key_version(&self, name: &str, version_id: &str) -> StoreResult<Option<DataKeyVersionRecord>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT name, version_id, material, created_at FROM data_key_versions
                 WHERE name = $1 AND version_id = $2",
                &[&name, &version_id],
            )
            .await
            .map_err(unavailable)?;
        Ok(row.as_ref().map(version))
    }

    async fn list_data_key_versions(&self, name: &str, window: Window) -> StoreResult<Listing<DataKeyVersionRecord>> {
        let c = self.client().await?;
        let total: i64 = c
            .query_one("SELECT COUNT(*) FROM data_key_versions WHERE name = $1", &[&name])
            .await
            .map_err(unavailable)?
            .get(0);
        let rows = c
            .query(
                "SELECT name, version_id, material, created_at FROM data_key_versions WHERE name = $1
                 ORDER BY seq LIMIT $2 OFFSET $3",
                &[&name, &i64::from(window.limit), &(window.offset as i64)],
            )
            .await
            .map_err(unavailable)?;
        Ok(Listing { items: rows.iter().map(version).collect(), total: total as u64 })
    }
}
