//! Access keys on SQLite.

use super::*;
use crate::AccessKeyStore;

#[async_trait]
impl AccessKeyStore for SqliteStore {
    async fn insert_access_key(&self, key: &AccessKeyRecord) -> StoreResult<()> {
        let k = key.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO access_keys (access_key_id, wrapped_secret, enabled, created_at, principal, policy)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![k.id, k.wrapped_secret, k.enabled, k.created_at, k.principal, k.policy],
            )
            .map(|_| ())
            .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) })
        })
        .await
    }

    async fn list_access_keys(&self) -> StoreResult<Vec<AccessKeyRecord>> {
        self.with(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT access_key_id, wrapped_secret, enabled, created_at, principal, policy FROM access_keys ORDER BY access_key_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(AccessKeyRecord {
                        id: r.get(0)?,
                        wrapped_secret: r.get(1)?,
                        enabled: r.get(2)?,
                        created_at: r.get(3)?,
                        principal: r.get(4)?,
                        policy: r.get(5)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(unavailable)
        })
        .await
    }

    async fn set_access_key_enabled(&self, id: &str, enabled: bool) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c| {
            one_row(c.execute("UPDATE access_keys SET enabled = ?2 WHERE access_key_id = ?1", params![id, enabled]))
        })
        .await
    }

    async fn set_access_key_policy(&self, id: &str, policy: Option<&str>) -> StoreResult<()> {
        let (id, policy) = (id.to_owned(), policy.map(str::to_owned));
        self.write(move |c| {
            one_row(c.execute("UPDATE access_keys SET policy = ?2 WHERE access_key_id = ?1", params![id, policy]))
        })
        .await
    }

    async fn delete_access_key(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c| one_row(c.execute("DELETE FROM access_keys WHERE access_key_id = ?1", params![id]))).await
    }
}
