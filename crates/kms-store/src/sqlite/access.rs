//! Application access on SQLite: the statements behind [`crate::AccessStore`].

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::rows::{is_unique_violation, unavailable};
use crate::{AccessKind, AccessObjectRecord, AccessStore, ClientKeyRecord, Listing, StoreError, StoreResult, Window};

fn object(kind: AccessKind) -> impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<AccessObjectRecord> {
    move |r| {
        Ok(AccessObjectRecord { kind, name: r.get(0)?, body: r.get(1)?, created_at: r.get(2)?, revision: r.get(3)? })
    }
}

const CLIENT_KEY_COLUMNS: &str =
    "client_key_id, aap_name, key_algorithm, not_before, not_after, certificate_pem, created_at";

fn client_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientKeyRecord> {
    Ok(ClientKeyRecord {
        id: r.get(0)?,
        aap_name: r.get(1)?,
        key_algorithm: r.get(2)?,
        not_before: r.get(3)?,
        not_after: r.get(4)?,
        certificate_pem: r.get(5)?,
        created_at: r.get(6)?,
    })
}

fn get_object(c: &Connection, kind: AccessKind, name: &str) -> StoreResult<Option<AccessObjectRecord>> {
    c.query_row(
        "SELECT name, body, created_at, revision FROM access_objects WHERE kind = ?1 AND name = ?2",
        params![kind.as_str(), name],
        object(kind),
    )
    .optional()
    .map_err(unavailable)
}

#[async_trait]
impl AccessStore for SqliteStore {
    async fn insert_access_object(&self, o: &AccessObjectRecord) -> StoreResult<()> {
        let o = o.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO access_objects (kind, name, body, created_at, revision) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![o.kind.as_str(), o.name, o.body, o.created_at, o.revision],
            )
            .map(|_| ())
            .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) })
        })
        .await
    }

    async fn get_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<Option<AccessObjectRecord>> {
        let name = name.to_owned();
        self.with(move |c| get_object(c, kind, &name)).await
    }

    async fn update_access_object(&self, o: &AccessObjectRecord) -> StoreResult<AccessObjectRecord> {
        let o = o.clone();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE access_objects SET body = ?3, revision = revision + 1
                     WHERE kind = ?1 AND name = ?2 AND revision = ?4",
                    params![o.kind.as_str(), o.name, o.body, o.revision],
                )
                .map_err(unavailable)?;
            if n == 0 {
                return Err(if get_object(c, o.kind, &o.name)?.is_some() {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound
                });
            }
            Ok(AccessObjectRecord { revision: o.revision + 1, ..o })
        })
        .await
    }

    async fn delete_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        // One writer: the ClientKey count and the delete are one step.
        self.write(move |c| {
            if kind == AccessKind::AccessPoint {
                let keys: i64 = c
                    .query_row("SELECT COUNT(*) FROM client_keys WHERE aap_name = ?1", [&name], |r| r.get(0))
                    .map_err(unavailable)?;
                if keys > 0 && get_object(c, kind, &name)?.is_some() {
                    return Err(StoreError::InUse);
                }
            }
            match c.execute("DELETE FROM access_objects WHERE kind = ?1 AND name = ?2", params![kind.as_str(), name]) {
                Ok(0) => Err(StoreError::NotFound),
                Ok(_) => Ok(()),
                Err(e) => Err(unavailable(e)),
            }
        })
        .await
    }

    async fn list_access_objects(&self, kind: AccessKind, window: Window) -> StoreResult<Listing<AccessObjectRecord>> {
        self.with(move |c| {
            let total: i64 = c
                .query_row("SELECT COUNT(*) FROM access_objects WHERE kind = ?1", [kind.as_str()], |r| r.get(0))
                .map_err(unavailable)?;
            let mut stmt = c
                .prepare(
                    "SELECT name, body, created_at, revision FROM access_objects WHERE kind = ?1
                     ORDER BY created_at, name LIMIT ?2 OFFSET ?3",
                )
                .map_err(unavailable)?;
            let items = stmt
                .query_map(params![kind.as_str(), window.limit, window.offset as i64], object(kind))
                .map_err(unavailable)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unavailable)?;
            Ok(Listing { items, total: total as u64 })
        })
        .await
    }

    async fn insert_client_key(&self, k: &ClientKeyRecord) -> StoreResult<()> {
        let k = k.clone();
        self.write(move |c| {
            if get_object(c, AccessKind::AccessPoint, &k.aap_name)?.is_none() {
                return Err(StoreError::NotFound);
            }
            c.execute(
                &format!("INSERT INTO client_keys ({CLIENT_KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![k.id, k.aap_name, k.key_algorithm, k.not_before, k.not_after, k.certificate_pem, k.created_at],
            )
            .map(|_| ())
            .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) })
        })
        .await
    }

    async fn get_client_key(&self, id: &str) -> StoreResult<Option<ClientKeyRecord>> {
        let id = id.to_owned();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {CLIENT_KEY_COLUMNS} FROM client_keys WHERE client_key_id = ?1"),
                [&id],
                client_key,
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn list_client_keys(&self, aap_name: Option<&str>) -> StoreResult<Vec<ClientKeyRecord>> {
        let aap = aap_name.map(str::to_owned);
        self.with(move |c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {CLIENT_KEY_COLUMNS} FROM client_keys WHERE ?1 IS NULL OR aap_name = ?1
                     ORDER BY created_at, client_key_id"
                ))
                .map_err(unavailable)?;
            stmt.query_map([&aap], client_key)
                .map_err(unavailable)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unavailable)
        })
        .await
    }

    async fn delete_client_key(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c| match c.execute("DELETE FROM client_keys WHERE client_key_id = ?1", [&id]) {
            Ok(0) => Err(StoreError::NotFound),
            Ok(_) => Ok(()),
            Err(e) => Err(unavailable(e)),
        })
        .await
    }

    async fn access_generation(&self) -> StoreResult<i64> {
        self.with(|c| c.query_row("SELECT n FROM access_generation", [], |r| r.get(0)).map_err(unavailable)).await
    }
}
