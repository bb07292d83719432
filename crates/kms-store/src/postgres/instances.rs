//! KMS instances on PostgreSQL: the statements behind the instance methods of `InstanceStore`.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PostgresStore;
use super::rows::{conflict_or_unavailable, unavailable};
use crate::InstanceStore;
use crate::{InstanceRecord, Listing, StoreError, StoreResult, Window};

const COLUMNS: &str = "instance_id, name, status, spec, key_num, secret_num, vpc_num, vpc_id, zone_ids, \
     vswitch_ids, bind_vpcs, created_at, started_at, released, revision, deletion_protection, \
     deletion_protection_description";

fn to_instance(r: &Row) -> InstanceRecord {
    InstanceRecord {
        id: r.get(0),
        name: r.get(1),
        status: r.get(2),
        spec: r.get(3),
        key_num: r.get(4),
        secret_num: r.get(5),
        vpc_num: r.get(6),
        vpc_id: r.get(7),
        zone_ids: r.get(8),
        vswitch_ids: r.get(9),
        bind_vpcs: r.get(10),
        created_at: r.get(11),
        started_at: r.get(12),
        released: r.get(13),
        revision: r.get(14),
        deletion_protection: r.get(15),
        deletion_protection_description: r.get(16),
    }
}

/// An instance's values in [`COLUMNS`] order: `$1`…`$17` of the insert and the update.
fn values(i: &InstanceRecord) -> [&(dyn tokio_postgres::types::ToSql + Sync); 17] {
    [
        &i.id,
        &i.name,
        &i.status,
        &i.spec,
        &i.key_num,
        &i.secret_num,
        &i.vpc_num,
        &i.vpc_id,
        &i.zone_ids,
        &i.vswitch_ids,
        &i.bind_vpcs,
        &i.created_at,
        &i.started_at,
        &i.released,
        &i.revision,
        &i.deletion_protection,
        &i.deletion_protection_description,
    ]
}

pub(super) async fn insert(c: &impl GenericClient, i: &InstanceRecord) -> StoreResult<()> {
    c.execute(
        &format!(
            "INSERT INTO instances ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ),
        &values(i),
    )
    .await
    .map(|_| ())
    .map_err(conflict_or_unavailable)
}

pub(super) async fn get(c: &impl GenericClient, id: &str) -> StoreResult<Option<InstanceRecord>> {
    let row = c
        .query_opt(&format!("SELECT {COLUMNS} FROM instances WHERE instance_id = $1"), &[&id])
        .await
        .map_err(unavailable)?;
    Ok(row.as_ref().map(to_instance))
}

pub(super) async fn update(c: &impl GenericClient, i: &InstanceRecord) -> StoreResult<InstanceRecord> {
    let n = c
        .execute(
            "UPDATE instances SET name = $2, status = $3, spec = $4, key_num = $5, secret_num = $6, vpc_num = $7,
                 vpc_id = $8, zone_ids = $9, vswitch_ids = $10, bind_vpcs = $11, created_at = $12, started_at = $13,
                 released = $14, revision = $15 + 1, deletion_protection = $16,
                 deletion_protection_description = $17
             WHERE instance_id = $1 AND revision = $15",
            &values(i),
        )
        .await
        .map_err(unavailable)?;
    if n == 0 {
        return Err(if get(c, &i.id).await?.is_some() { StoreError::Conflict } else { StoreError::NotFound });
    }
    Ok(InstanceRecord { revision: i.revision + 1, ..i.clone() })
}

pub(super) async fn list(c: &impl GenericClient, window: Window) -> StoreResult<Listing<InstanceRecord>> {
    let total: i64 =
        c.query_one("SELECT COUNT(*) FROM instances WHERE NOT released", &[]).await.map_err(unavailable)?.get(0);
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM instances WHERE NOT released ORDER BY created_at, instance_id COLLATE \"C\" LIMIT $1 OFFSET $2"
            ),
            &[&i64::from(window.limit), &(window.offset as i64)],
        )
        .await
        .map_err(unavailable)?;
    Ok(Listing { items: rows.iter().map(to_instance).collect(), total: total as u64 })
}

pub(super) async fn count_resources(c: &impl GenericClient, id: &str) -> StoreResult<(u64, u64)> {
    let row = c
        .query_one(
            "SELECT (SELECT COUNT(*) FROM keys WHERE dkms_instance_id = $1),
                    (SELECT COUNT(*) FROM secrets WHERE dkms_instance_id = $1)",
            &[&id],
        )
        .await
        .map_err(unavailable)?;
    Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
}

/// Inside the transaction that inserts a key or secret into instance `id`: locks the instance
/// row (so inserts into one instance take turns), then [`StoreError::LimitExceeded`] when it
/// already holds its quota of them.
pub(super) async fn check_room(c: &impl GenericClient, id: &str, what: crate::InstanceQuota) -> StoreResult<()> {
    let (column, table) = what.column_and_table();
    let quota: Option<i64> = c
        .query_opt(
            &format!("SELECT {column} FROM instances WHERE instance_id = $1 AND NOT released FOR UPDATE"),
            &[&id],
        )
        .await
        .map_err(unavailable)?
        .map(|r| r.get(0));
    let Some(quota) = quota else { return Err(StoreError::NotFound) };
    let used: i64 = c
        .query_one(&format!("SELECT COUNT(*) FROM {table} WHERE dkms_instance_id = $1"), &[&id])
        .await
        .map_err(unavailable)?
        .get(0);
    if used >= quota { Err(StoreError::LimitExceeded) } else { Ok(()) }
}

#[async_trait]
impl InstanceStore for PostgresStore {
    async fn insert_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        let c = self.client().await?;
        insert(&*c, instance).await
    }

    async fn get_instance(&self, id: &str) -> StoreResult<Option<InstanceRecord>> {
        let c = self.client().await?;
        get(&*c, id).await
    }

    async fn update_instance(&self, instance: &InstanceRecord) -> StoreResult<InstanceRecord> {
        let c = self.client().await?;
        update(&*c, instance).await
    }

    async fn list_instances(&self, window: Window) -> StoreResult<Listing<InstanceRecord>> {
        let c = self.client().await?;
        list(&*c, window).await
    }

    async fn count_instance_resources(&self, id: &str) -> StoreResult<(u64, u64)> {
        let c = self.client().await?;
        count_resources(&*c, id).await
    }
}
