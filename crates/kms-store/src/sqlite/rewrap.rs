//! Root-key rotation on SQLite: the statements behind [`crate::RewrapStore`].

use async_trait::async_trait;
use kms_types::{KeyId, KeyVersionId};
use rusqlite::{OptionalExtension as _, params};

use super::SqliteStore;
use super::rows::{corrupt, parse, unavailable};
use crate::{RewrapStore, StoreResult, WrappedRow, WrappedTable};

/// The rows as raw columns; typed outside the connection thread.
type Raw = (String, String, String, String, Vec<u8>, i64);

fn typed(table: WrappedTable, (a, b, spec, level, wrapped, seq): Raw) -> StoreResult<WrappedRow> {
    Ok(match table {
        WrappedTable::KeyVersions => WrappedRow::KeyVersion {
            key_id: KeyId::parse(&a).map_err(|_| corrupt("key id"))?,
            version_id: KeyVersionId::parse(&b).map_err(|_| corrupt("version id"))?,
            spec: parse(spec, "spec")?,
            protection_level: parse(level, "protection level")?,
            material: wrapped,
        },
        WrappedTable::AccessKeys => WrappedRow::AccessKey { id: a, secret: wrapped },
        WrappedTable::DataKeyVersions => WrappedRow::DataKeyVersion { seq, name: a, version_id: b, material: wrapped },
    })
}

#[async_trait]
impl RewrapStore for SqliteStore {
    async fn wrapped_rows(&self, table: WrappedTable, after: Option<&str>, limit: u32) -> StoreResult<Vec<WrappedRow>> {
        let after = after.map(str::to_owned);
        let raw: Vec<Raw> = self
            .with(move |c| {
                let (sql, cursor): (&str, rusqlite::types::Value) = match table {
                    WrappedTable::KeyVersions => (
                        "SELECT v.key_id, v.version_id, k.spec, k.protection_level, v.material, 0
                         FROM key_versions v JOIN keys k ON k.key_id = v.key_id
                         WHERE v.version_id > ?1 ORDER BY v.version_id LIMIT ?2",
                        after.unwrap_or_default().into(),
                    ),
                    WrappedTable::AccessKeys => (
                        "SELECT access_key_id, '', '', '', wrapped_secret, 0 FROM access_keys
                         WHERE access_key_id > ?1 ORDER BY access_key_id LIMIT ?2",
                        after.unwrap_or_default().into(),
                    ),
                    WrappedTable::DataKeyVersions => (
                        "SELECT name, version_id, '', '', material, seq FROM data_key_versions
                         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                        after.and_then(|a| a.parse::<i64>().ok()).unwrap_or(0).into(),
                    ),
                };
                let mut stmt = c.prepare(sql).map_err(unavailable)?;
                stmt.query_map(params![cursor, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                })
                .map_err(unavailable)?
                .collect::<rusqlite::Result<Vec<Raw>>>()
                .map_err(unavailable)
            })
            .await?;
        raw.into_iter().map(|r| typed(table, r)).collect()
    }

    async fn replace_wrapped(&self, row: &WrappedRow, new: &[u8]) -> StoreResult<bool> {
        let (sql, id, old): (&str, rusqlite::types::Value, Vec<u8>) = match row {
            WrappedRow::KeyVersion { version_id, material, .. } => (
                "UPDATE key_versions SET material = ?1 WHERE version_id = ?2 AND material = ?3",
                version_id.to_string().into(),
                material.clone(),
            ),
            WrappedRow::AccessKey { id, secret } => (
                "UPDATE access_keys SET wrapped_secret = ?1 WHERE access_key_id = ?2 AND wrapped_secret = ?3",
                id.clone().into(),
                secret.clone(),
            ),
            WrappedRow::DataKeyVersion { seq, material, .. } => (
                "UPDATE data_key_versions SET material = ?1 WHERE seq = ?2 AND material = ?3",
                (*seq).into(),
                material.clone(),
            ),
        };
        let new = new.to_vec();
        self.write(move |c| c.execute(sql, params![new, id, old]).map(|n| n == 1).map_err(unavailable)).await
    }

    async fn replace_meta(&self, name: &str, old: Option<&str>, new: Option<&str>) -> StoreResult<bool> {
        let (name, old, new) = (name.to_owned(), old.map(str::to_owned), new.map(str::to_owned));
        self.write(move |c| {
            let now: Option<String> = c
                .query_row("SELECT value FROM meta WHERE name = ?1", [&name], |r| r.get(0))
                .optional()
                .map_err(unavailable)?;
            if now != old {
                return Ok(false);
            }
            match &new {
                Some(v) => c.execute(
                    "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2",
                    params![name, v],
                ),
                None => c.execute("DELETE FROM meta WHERE name = ?1", [&name]),
            }
            .map_err(unavailable)?;
            Ok(true)
        })
        .await
    }
}
