//! Managed data keys on SQLite: the statements behind [`crate::DataKeyStore`]. The table's
//! rowid orders a name's versions as they were added.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::{is_unique_violation, unavailable};
use crate::{DataKeyStore, DataKeyVersionRecord, Listing, StoreError, StoreResult, Window};

fn version(r: &rusqlite::Row<'_>) -> rusqlite::Result<DataKeyVersionRecord> {
    Ok(DataKeyVersionRecord { name: r.get(0)?, version_id: r.get(1)?, material: r.get(2)?, created_at: r.get(3)? })
}

#[async_trait]
impl DataKeyStore for SqliteStore {
    async fn insert_data_key_version(&self, v: &DataKeyVersionRecord) -> StoreResult<()> {
        let v = v.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO data_key_versions (name, version_id, material, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![v.name, v.version_id, v.material, v.created_at],
            )
            .map(|_| ())
            .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) })
        })
        .await
    }

    async fn get_data_key_version(&self, name: &str, version_id: &str) -> StoreResult<Option<DataKeyVersionRecord>> {
        let (name, version_id) = (name.to_owned(), version_id.to_owned());
        self.with(move |c| {
            c.query_row(
                "SELECT name, version_id, material, created_at FROM data_key_versions
                 WHERE name = ?1 AND version_id = ?2",
                params![name, version_id],
                version,
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn list_data_key_versions(&self, name: &str, window: Window) -> StoreResult<Listing<DataKeyVersionRecord>> {
        let name = name.to_owned();
        self.with(move |c| {
            let total: i64 = c
                .query_row("SELECT COUNT(*) FROM data_key_versions WHERE name = ?1", [&name], |r| r.get(0))
                .map_err(unavailable)?;
            let mut stmt = c
                .prepare(
                    "SELECT name, version_id, material, created_at FROM data_key_versions WHERE name = ?1
                     ORDER BY seq LIMIT ?2 OFFSET ?3",
                )
                .map_err(unavailable)?;
            let items = stmt
                .query_map(params![name, window.limit, window.offset as i64], version)
                .map_err(unavailable)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unavailable)?;
            Ok(Listing { items, total: total as u64 })
        })
        .await
    }
}
