//! Access keys on PostgreSQL.

use super::*;
use crate::AccessKeyStore;

#[async_trait]
impl AccessKeyStore for PostgresStore {
    async fn insert_access_key(&self, key: &AccessKeyRecord) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO access_keys (access_key_id, wrapped_secret, enabled, created_at, principal, policy)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&key.id, &key.wrapped_secret, &key.enabled, &key.created_at, &key.principal, &key.policy],
        )
        .await
        .map(|_| ())
        .map_err(conflict_or_unavailable)
    }

    async fn list_access_keys(&self) -> StoreResult<Vec<AccessKeyRecord>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT access_key_id, wrapped_secret, enabled, created_at, principal, policy FROM access_keys ORDER BY access_key_id",
                &[],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows
            .iter()
            .map(|r| AccessKeyRecord {
                id: r.get(0),
                wrapped_secret: r.get(1),
                enabled: r.get(2),
                created_at: r.get(3),
                principal: r.get(4),
                policy: r.get(5),
            })
            .collect())
    }

    async fn set_access_key_enabled(&self, id: &str, enabled: bool) -> StoreResult<()> {
        let c = self.client().await?;
        one_row(c.execute("UPDATE access_keys SET enabled = $2 WHERE access_key_id = $1", &[&id, &enabled]).await)
    }

    async fn set_access_key_policy(&self, id: &str, policy: Option<&str>) -> StoreResult<()> {
        let c = self.client().await?;
        one_row(c.execute("UPDATE access_keys SET policy = $2 WHERE access_key_id = $1", &[&id, &policy]).await)
    }

    async fn delete_access_key(&self, id: &str) -> StoreResult<()> {
        let c = self.client().await?;
        one_row(c.execute("DELETE FROM access_keys WHERE access_key_id = $1", &[&id]).await)
    }
}
