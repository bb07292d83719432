//! Application access on PostgreSQL: the statements behind [`crate::AccessStore`].
//!
//! A ClientKey insert holds its AAP's row `FOR SHARE` and an AAP delete holds it `FOR UPDATE`
//! before counting the AAP's ClientKeys, so on any number of nodes a ClientKey never outlives
//! its AAP: whichever commits first, the other sees it (each statement of READ COMMITTED reads
//! what committed before it began).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PostgresStore;
use super::rows::{conflict_or_unavailable, unavailable};
use crate::{AccessKind, AccessObjectRecord, AccessStore, ClientKeyRecord, Listing, StoreError, StoreResult, Window};

fn object(kind: AccessKind, r: &Row) -> AccessObjectRecord {
    AccessObjectRecord { kind, name: r.get(0), body: r.get(1), created_at: r.get(2), revision: r.get(3) }
}

const CLIENT_KEY_COLUMNS: &str =
    "client_key_id, aap_name, key_algorithm, not_before, not_after, certificate_pem, created_at";

fn client_key(r: &Row) -> ClientKeyRecord {
    ClientKeyRecord {
        id: r.get(0),
        aap_name: r.get(1),
        key_algorithm: r.get(2),
        not_before: r.get(3),
        not_after: r.get(4),
        certificate_pem: r.get(5),
        created_at: r.get(6),
    }
}

async fn get_object(c: &impl GenericClient, kind: AccessKind, name: &str) -> StoreResult<Option<AccessObjectRecord>> {
    let row = c
        .query_opt(
            "SELECT name, body, created_at, revision FROM access_objects WHERE kind = $1 AND name = $2",
            &[&kind.as_str(), &name],
        )
        .await
        .map_err(unavailable)?;
    Ok(row.map(|r| object(kind, &r)))
}

#[async_trait]
impl AccessStore for PostgresStore {
    async fn insert_access_object(&self, o: &AccessObjectRecord) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO access_objects (kind, name, body, created_at, revision) VALUES ($1, $2, $3, $4, $5)",
            &[&o.kind.as_str(), &o.name, &o.body, &o.created_at, &o.revision],
        )
        .await
        .map(|_| ())
        .map_err(conflict_or_unavailable)
    }

    async fn get_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<Option<AccessObjectRecord>> {
        let c = self.client().await?;
        get_object(&*c, kind, name).await
    }

    async fn update_access_object(&self, o: &AccessObjectRecord) -> StoreResult<AccessObjectRecord> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE access_objects SET body = $3, revision = revision + 1
                 WHERE kind = $1 AND name = $2 AND revision = $4",
                &[&o.kind.as_str(), &o.name, &o.body, &o.revision],
            )
            .await
            .map_err(unavailable)?;
        if n == 0 {
            return Err(if get_object(&*c, o.kind, &o.name).await?.is_some() {
                StoreError::Conflict
            } else {
                StoreError::NotFound
            });
        }
        Ok(AccessObjectRecord { revision: o.revision + 1, ..o.clone() })
    }

    async fn delete_access_object(&self, kind: AccessKind, name: &str) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let found = tx
            .query_opt(
                "SELECT 1 FROM access_objects WHERE kind = $1 AND name = $2 FOR UPDATE",
                &[&kind.as_str(), &name],
            )
            .await
            .map_err(unavailable)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        if kind == AccessKind::AccessPoint {
            let keys: i64 = tx
                .query_one("SELECT COUNT(*) FROM client_keys WHERE aap_name = $1", &[&name])
                .await
                .map_err(unavailable)?
                .get(0);
            if keys > 0 {
                return Err(StoreError::InUse);
            }
        }
        tx.execute("DELETE FROM access_objects WHERE kind = $1 AND name = $2", &[&kind.as_str(), &name])
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn list_access_objects(&self, kind: AccessKind, window: Window) -> StoreResult<Listing<AccessObjectRecord>> {
        let c = self.client().await?;
        let total: i64 = c
            .query_one("SELECT COUNT(*) FROM access_objects WHERE kind = $1", &[&kind.as_str()])
            .await
            .map_err(unavailable)?
            .get(0);
        let rows = c
            .query(
                "SELECT name, body, created_at, revision FROM access_objects WHERE kind = $1
                 ORDER BY created_at, name LIMIT $2 OFFSET $3",
                &[&kind.as_str(), &i64::from(window.limit), &(window.offset as i64)],
            )
            .await
            .map_err(unavailable)?;
        Ok(Listing { items: rows.iter().map(|r| object(kind, r)).collect(), total: total as u64 })
    }

    async fn insert_client_key(&self, k: &ClientKeyRecord) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let aap = tx
            .query_opt(
                "SELECT 1 FROM access_objects WHERE kind = $1 AND name = $2 FOR SHARE",
                &[&AccessKind::AccessPoint.as_str(), &k.aap_name],
            )
            .await
            .map_err(unavailable)?;
        if aap.is_none() {
            return Err(StoreError::NotFound);
        }
        tx.execute(
            &format!("INSERT INTO client_keys ({CLIENT_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[&k.id, &k.aap_name, &k.key_algorithm, &k.not_before, &k.not_after, &k.certificate_pem, &k.created_at],
        )
        .await
        .map_err(conflict_or_unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn get_client_key(&self, id: &str) -> StoreResult<Option<ClientKeyRecord>> {
        let c = self.client().await?;
        let row = c
            .query_opt(&format!("SELECT {CLIENT_KEY_COLUMNS} FROM client_keys WHERE client_key_id = $1"), &[&id])
            .await
            .map_err(unavailable)?;
        Ok(row.as_ref().map(client_key))
    }

    async fn list_client_keys(&self, aap_name: Option<&str>) -> StoreResult<Vec<ClientKeyRecord>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {CLIENT_KEY_COLUMNS} FROM client_keys WHERE $1::text IS NULL OR aap_name = $1
                     ORDER BY created_at, client_key_id"
                ),
                &[&aap_name],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(client_key).collect())
    }

    async fn delete_client_key(&self, id: &str) -> StoreResult<()> {
        let c = self.client().await?;
        match c.execute("DELETE FROM client_keys WHERE client_key_id = $1", &[&id]).await.map_err(unavailable)? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// Every instance-gateway request reads this first; the same round trip reads the lookup
    /// generation, so the gateway, too, sees every change acknowledged before its request.
    async fn access_generation(&self) -> StoreResult<i64> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT n, (SELECT SUM(n)::BIGINT FROM lookup_generation) FROM access_generation")
            .await
            .map_err(unavailable)?;
        let row = c.query_one(&stmt, &[]).await.map_err(unavailable)?;
        self.generation.seen(row.get(1));
        Ok(row.get(0))
    }
}
